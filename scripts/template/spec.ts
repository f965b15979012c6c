/**
 * The CloudFormation resource specification, as published in `@aws-cdk/aws-service-spec` (the database the AWS CDK
 * generates its L1 constructs from: every resource type, its properties with their types and `required` flags, the
 * nested type definitions, and the attributes `Fn::GetAtt` can read).
 *
 * Loading un-gzips and parses a ~2.6 MB `db.json.gz` and hydrates its indexes: about 0.7 s on a laptop (measured by
 * `loadMs` below; the CLI prints it). The database is loaded at most once per process and shared.
 */
import { createRequire } from 'node:module';
import { loadAwsServiceSpec } from '@aws-cdk/aws-service-spec';
import type { DefinitionReference, Resource, SpecDatabase, TypeDefinition } from '@aws-cdk/service-spec-types';

/** Read-only view of the specification, with the lookups the template validator needs. */
interface CfnSpec {
  /** The resource type (`AWS::SQS::Queue`), or `undefined` when the specification does not know it. */
  resource(cloudFormationType: string): Resource | undefined;
  /** The nested structure a `{ type: 'ref' }` property points at (`AWS::S3::Bucket.NotificationConfiguration`). */
  typeDefinition(reference: DefinitionReference['reference']): TypeDefinition;
  /** Every resource type name the specification knows, for "did you mean" suggestions. */
  resourceTypeNames(): readonly string[];
  /** Milliseconds the database took to load (read, gunzip, parse, index). */
  readonly loadMs: number;
  /** The `@aws-cdk/aws-service-spec` package version the database comes from. */
  readonly version: string;
}

const { version } = createRequire(import.meta.url)('@aws-cdk/aws-service-spec/package.json') as { version: string };

const wrap = (db: SpecDatabase, loadMs: number): CfnSpec => {
  let names: string[] | undefined;
  return {
    resource: (cloudFormationType) => db.lookup('resource', 'cloudFormationType', 'equals', cloudFormationType)[0],
    typeDefinition: (reference) => db.get('typeDefinition', reference),
    resourceTypeNames: () => (names ??= db.all('resource').map((resource) => resource.cloudFormationType)),
    loadMs,
    version,
  };
};

let loading: Promise<CfnSpec> | undefined;

/**
 * Loads the specification once per process; later calls return the same instance.
 *
 * @example
 * const spec = await loadSpec();
 * spec.resource('AWS::SQS::Queue')?.attributes; // { Arn, QueueName, QueueUrl }
 */
const loadSpec = (): Promise<CfnSpec> =>
  (loading ??= (async () => {
    const started = performance.now();
    const db = await loadAwsServiceSpec();
    return wrap(db, performance.now() - started);
  })().catch((error: unknown) => {
    loading = undefined; // let a later call retry instead of caching the failure
    throw error;
  }));

export { loadSpec };
export type { CfnSpec };
