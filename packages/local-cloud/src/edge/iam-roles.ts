/**
 * The functions' identities as the compiled template defines them: each `AWS::Lambda::Function`'s `Role`, the
 * role's inline `Policies`, the `AWS::IAM::Policy` and `AWS::IAM::ManagedPolicy` resources attached to it (`Roles`)
 * and the template's own managed policies it names in `ManagedPolicyArns`. A managed policy from outside the
 * template (`arn:aws:iam::aws:policy/...`) has no document here: it is noted as not evaluated, and what only it would
 * allow is denied locally.
 *
 * Each function gets credentials of its own (Lambda hands a function its role's session credentials in
 * `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`: Lambda developer guide, "Defined runtime
 * environment variables"), derived from its name so the edge can tell whose a request is. The local cloud does not
 * verify SigV4 signatures: the access key id names the caller, which is enough on a loopback-only endpoint.
 */
import { createHash } from 'node:crypto';
import { isRecord, type TemplateResolver } from '../template/template.ts';
import { queueNameOf } from './iam-requests.ts';

interface NamedPolicy {
  name: string;
  document: Record<string, unknown>;
}

interface RoleModel {
  roleArn: string;
  roleName: string;
  policies: NamedPolicy[];
  /** What this role has on AWS that is not evaluated here (managed policies from outside the template, an unknown role). */
  notEvaluated: string[];
  /** Its AssumeRolePolicyDocument (who may assume it), when the template gives one. */
  trust?: Record<string, unknown>;
}

interface FunctionIdentity {
  functionName: string;
  role: RoleModel;
  /** `arn:aws:sts::<account>:assumed-role/<role>/<function>`: what AWS names the caller in AccessDenied messages. */
  principalArn: string;
}

interface IamModel {
  partition: string;
  region: string;
  accountId: string;
  /** By access key id. */
  identities: Map<string, FunctionIdentity>;
  /** The partition key attribute of each table, for `dynamodb:LeadingKeys`. */
  hashKeys: Map<string, string>;
  /** Each queue's policy (`AWS::SQS::QueuePolicy`), by queue ARN; a queue of the template without one is here too, undefined. */
  queuePolicies: Map<string, Record<string, unknown> | undefined>;
  /** The template's topics' ARNs. */
  topics: string[];
  /**
   * Each topic's policy (`AWS::SNS::TopicPolicy`), by topic ARN; a topic without one is here too, undefined (its
   * default policy lets only its own account's principals publish: no service such as S3).
   */
  topicPolicies: Map<string, Record<string, unknown> | undefined>;
  /** The template's buckets' ARNs. */
  buckets: string[];
  /**
   * Each function's resource policy, as its `AWS::Lambda::Permission` resources make it, by unqualified function ARN;
   * a function without any is here too, undefined (nothing may invoke it but its own account's principals).
   */
  functionPolicies: Map<string, Record<string, unknown> | undefined>;
  /** The template's roles by ARN: the ones a service assumes (an SNS subscription's SubscriptionRoleArn) are looked up here. */
  roles?: Map<string, RoleModel>;
}

interface FunctionCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32(bytes: Buffer, length: number): string {
  let out = '';
  for (let i = 0; out.length < length; i++) out += BASE32[(bytes[i % bytes.length] ?? 0) % 32];
  return out;
}

/**
 * A function's local credentials: `ASIA` and 16 characters, the form of temporary (STS) access key ids (IAM user
 * guide, "Unique identifiers": `ASIA` prefixes temporary credentials), derived from the function's name.
 *
 * @example
 * functionCredentials('orderflow-local-placeOrder').accessKeyId; // 'ASIA' + 16 characters, the same every run
 */
function functionCredentials(functionName: string): FunctionCredentials {
  const digest = createHash('sha256').update(`local-cloud/${functionName}`).digest();
  return {
    accessKeyId: `ASIA${base32(digest, 16)}`,
    secretAccessKey: digest.toString('base64').slice(0, 40),
    sessionToken: `local-cloud/${functionName}`,
  };
}

/** The environment variables Lambda sets for a function's credentials. */
function functionCredentialVariables(functionName: string): Record<string, string> {
  const credentials = functionCredentials(functionName);
  return { AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey, AWS_SESSION_TOKEN: credentials.sessionToken };
}

const asArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : value === undefined ? [] : [value]);

/** Reads roles and policies from the template and gives each function its identity. */
function iamModelFromTemplate(resolver: TemplateResolver, functions: { name: string; roleArn: string }[]): IamModel {
  const { partition, region, accountId } = resolver.context;
  const resources = Object.entries(resolver.template.Resources).filter(([logicalId]) => resolver.isActive(logicalId));
  const propsOf = (logicalId: string, properties: unknown): Record<string, unknown> => {
    const resolved = resolver.resolve(properties ?? {}, `Resources.${logicalId}.Properties`);
    return isRecord(resolved) ? resolved : {};
  };
  const roles = new Map<string, RoleModel>();
  const roleByName = new Map<string, RoleModel>();
  const managed = new Map<string, { document: Record<string, unknown>; name: string }>();
  const attachments: { roles: unknown[]; policy: NamedPolicy }[] = [];
  const roleManaged: { role: RoleModel; arns: unknown[] }[] = [];
  const hashKeys = new Map<string, string>();
  const queuePolicies = new Map<string, Record<string, unknown> | undefined>();
  const topics: string[] = [];
  const topicPolicies = new Map<string, Record<string, unknown> | undefined>();
  const buckets: string[] = [];
  const functionArn = (name: string): string => `arn:${partition}:lambda:${region}:${accountId}:function:${name}`;
  const functionPolicies = new Map<string, Record<string, unknown> | undefined>(functions.map((fn) => [functionArn(fn.name), undefined]));

  for (const [logicalId, resource] of resources) {
    const props = propsOf(logicalId, resource.Properties);
    const identity = (): { ref: string; attributes: Record<string, string> } => resolver.identity(logicalId);
    switch (resource.Type) {
      case 'AWS::IAM::Role': {
        const { ref, attributes } = identity();
        const role: RoleModel = { roleArn: attributes.Arn ?? ref, roleName: ref, policies: [], notEvaluated: [], ...(isRecord(props.AssumeRolePolicyDocument) ? { trust: props.AssumeRolePolicyDocument } : {}) };
        for (const inline of asArray(props.Policies)) {
          if (isRecord(inline) && isRecord(inline.PolicyDocument)) role.policies.push({ name: String(inline.PolicyName ?? logicalId), document: inline.PolicyDocument });
        }
        roles.set(role.roleArn, role);
        roleByName.set(ref, role);
        roleManaged.push({ role, arns: asArray(props.ManagedPolicyArns) });
        break;
      }
      case 'AWS::IAM::ManagedPolicy': {
        if (!isRecord(props.PolicyDocument)) break;
        const { ref } = identity();
        const path = typeof props.Path === 'string' ? props.Path : '/';
        const entry = { document: props.PolicyDocument, name: ref };
        // On AWS `Ref` answers the policy's ARN; the template resolver answers its name: both are recognised.
        managed.set(ref, entry);
        managed.set(`arn:${partition}:iam::${accountId}:policy${path}${ref}`, entry);
        attachments.push({ roles: asArray(props.Roles), policy: { name: ref, document: props.PolicyDocument } });
        break;
      }
      case 'AWS::IAM::Policy':
        if (isRecord(props.PolicyDocument)) attachments.push({ roles: asArray(props.Roles), policy: { name: String(props.PolicyName ?? logicalId), document: props.PolicyDocument } });
        break;
      case 'AWS::SQS::Queue': {
        const arn = identity().attributes.Arn;
        if (arn !== undefined && !queuePolicies.has(arn)) queuePolicies.set(arn, undefined);
        break;
      }
      case 'AWS::SNS::Topic':
        topics.push(identity().ref);
        if (!topicPolicies.has(identity().ref)) topicPolicies.set(identity().ref, undefined);
        break;
      case 'AWS::SNS::TopicPolicy':
        // As for queues: a topic has one policy, the last one set wins.
        if (isRecord(props.PolicyDocument)) for (const arn of asArray(props.Topics)) topicPolicies.set(String(arn), props.PolicyDocument);
        break;
      case 'AWS::S3::Bucket':
        buckets.push(`arn:${partition}:s3:::${identity().ref}`);
        break;
      case 'AWS::SQS::QueuePolicy':
        // A queue has one policy: the last one set wins, as a second SetQueueAttributes Policy replaces the first.
        if (isRecord(props.PolicyDocument)) {
          for (const url of asArray(props.Queues)) queuePolicies.set(`arn:${partition}:sqs:${region}:${accountId}:${queueNameOf(String(url))}`, props.PolicyDocument);
        }
        break;
      case 'AWS::Lambda::Permission': {
        const arn = functionArn(functionNameOf(String(props.FunctionName ?? '')));
        const statement = permissionStatement(logicalId, props, arn, partition);
        const policy = functionPolicies.get(arn) ?? { Version: '2012-10-17', Statement: [] };
        (policy.Statement as unknown[]).push(statement);
        functionPolicies.set(arn, policy);
        break;
      }
      case 'AWS::DynamoDB::Table': {
        const hash = asArray(props.KeySchema).find((key) => isRecord(key) && key.KeyType === 'HASH');
        if (isRecord(hash)) hashKeys.set(identity().ref, String(hash.AttributeName));
        break;
      }
      default:
        break;
    }
  }
  for (const { role, arns } of roleManaged) {
    for (const arn of arns) {
      const policy = managed.get(String(arn));
      if (policy === undefined) role.notEvaluated.push(`managed policy ${String(arn)} (not in the template)`);
      else role.policies.push({ name: policy.name, document: policy.document });
    }
  }
  for (const { roles: names, policy } of attachments) {
    for (const name of names) roleByName.get(String(name))?.policies.push(policy);
  }

  const identities = new Map<string, FunctionIdentity>();
  for (const fn of functions) {
    const roleName = fn.roleArn.split('/').pop() ?? fn.roleArn;
    const role = roles.get(fn.roleArn) ??
      roleByName.get(fn.roleArn) ?? { roleArn: fn.roleArn, roleName, policies: [], notEvaluated: [`role ${fn.roleArn || '(none)'} (not in the template)`] };
    identities.set(functionCredentials(fn.name).accessKeyId, {
      functionName: fn.name,
      role,
      principalArn: `arn:${partition}:sts::${accountId}:assumed-role/${role.roleName}/${fn.name}`,
    });
  }
  return { partition, region, accountId, identities, hashKeys, queuePolicies, topics, topicPolicies, buckets, functionPolicies, roles };
}

/** A function's name from `FunctionName`: its name, its ARN or partial ARN (`123456789012:function:name`), qualified or not. */
function functionNameOf(reference: string): string {
  const match = /(?:^|:)function:([^:]+)/.exec(reference);
  return match?.[1] ?? reference;
}

/**
 * The statement an `AWS::Lambda::Permission` adds to its function's policy, as Lambda's AddPermission writes it
 * (Lambda developer guide, "Viewing resource-based IAM policies in Lambda"): a service principal, or an account as
 * its root, `AWS:SourceArn` as ArnLike and `AWS:SourceAccount` as StringEquals.
 */
function permissionStatement(logicalId: string, props: Record<string, unknown>, resource: string, partition: string): Record<string, unknown> {
  const principal = String(props.Principal ?? '');
  const condition: Record<string, Record<string, string>> = {};
  if (props.SourceArn !== undefined) condition.ArnLike = { 'AWS:SourceArn': String(props.SourceArn) };
  if (props.SourceAccount !== undefined) condition.StringEquals = { 'AWS:SourceAccount': String(props.SourceAccount) };
  return {
    Sid: logicalId,
    Effect: 'Allow',
    Principal: principal === '*' ? '*' : /^\d{12}$/.test(principal) ? { AWS: `arn:${partition}:iam::${principal}:root` } : principal.startsWith('arn:') ? { AWS: principal } : { Service: principal },
    Action: String(props.Action ?? 'lambda:InvokeFunction'),
    Resource: resource,
    ...(Object.keys(condition).length > 0 ? { Condition: condition } : {}),
  };
}

export { functionCredentialVariables, functionCredentials, iamModelFromTemplate };
export type { FunctionIdentity, IamModel, RoleModel };
