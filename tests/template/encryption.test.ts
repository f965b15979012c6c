import { beforeAll, describe, expect, it } from 'vitest';
import { STAGES, asArray, lambdaFunctions, loadTemplate, refId, resource, resourcesOfType, type Cfn, type Template } from './helpers.ts';

/** The tables the code reaches through an environment variable (`ORDERS_TABLE`, `IDEMPOTENCY_TABLE`). */
const tableNamedBy = (t: Template, variable: string): string => {
  const ids = new Set(
    lambdaFunctions(t)
      .map((fn) => fn.props.Environment?.Variables?.[variable])
      .filter((value: Cfn) => value !== undefined)
      .map((value: Cfn) => refId(value)),
  );
  expect([...ids], `tables named by ${variable}`).toHaveLength(1);
  const id = [...ids][0] as string;
  expect(resource(t, id).Type).toBe('AWS::DynamoDB::Table');
  return id;
};

describe.each(STAGES)('Encryption at rest and data protection (%s stage)', (stage) => {
  let t: Template;
  beforeAll(async () => {
    t = await loadTemplate(stage);
  });

  // https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-server-side-encryption.html
  it('every queue is encrypted at rest (SqsManagedSseEnabled or KmsMasterKeyId)', () => {
    const queues = resourcesOfType(t, 'AWS::SQS::Queue');
    expect(queues.length).toBeGreaterThan(0);
    const violations = queues
      .filter(([, q]) => !(q.Properties?.SqsManagedSseEnabled === true || q.Properties?.KmsMasterKeyId))
      .map(([id]) => id);
    expect(violations).toEqual([]);
  });

  // https://docs.aws.amazon.com/sns/latest/dg/sns-server-side-encryption.html
  it('every topic is encrypted at rest (KmsMasterKeyId)', () => {
    const topics = resourcesOfType(t, 'AWS::SNS::Topic');
    expect(topics.length).toBeGreaterThan(0);
    expect(topics.filter(([, topic]) => !topic.Properties?.KmsMasterKeyId).map(([id]) => id)).toEqual([]);
  });

  // slice-begin:analytics
  // https://docs.aws.amazon.com/streams/latest/dev/server-side-encryption.html
  it('every Kinesis stream is encrypted at rest (StreamEncryption KMS with a key)', () => {
    const streams = resourcesOfType(t, 'AWS::Kinesis::Stream');
    expect(streams.length).toBeGreaterThan(0);
    const violations = streams
      .filter(([, s]) => !(s.Properties?.StreamEncryption?.EncryptionType === 'KMS' && s.Properties?.StreamEncryption?.KeyId))
      .map(([id]) => id);
    expect(violations).toEqual([]);
  });
  // slice-end:analytics

  // https://docs.aws.amazon.com/AmazonS3/latest/userguide/default-bucket-encryption.html
  it('every bucket has default encryption (BucketEncryption with an SSE algorithm)', () => {
    const buckets = resourcesOfType(t, 'AWS::S3::Bucket');
    expect(buckets.length).toBeGreaterThan(0);
    const violations = buckets
      .filter(([, b]) => {
        const rules = asArray<Cfn>(b.Properties?.BucketEncryption?.ServerSideEncryptionConfiguration);
        return !rules.some((rule) => ['AES256', 'aws:kms', 'aws:kms:dsse'].includes(rule.ServerSideEncryptionByDefault?.SSEAlgorithm));
      })
      .map(([id]) => id);
    expect(violations).toEqual([]);
  });

  // https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/EncryptionAtRest.html
  it('every table sets SSESpecification.SSEEnabled', () => {
    const tables = resourcesOfType(t, 'AWS::DynamoDB::Table');
    expect(tables.length).toBeGreaterThan(0);
    expect(tables.filter(([, table]) => table.Properties?.SSESpecification?.SSEEnabled !== true).map(([id]) => id)).toEqual([]);
  });

  // https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Point-in-time-recovery.html
  it('the Orders table (ORDERS_TABLE) has point-in-time recovery', () => {
    const orders = tableNamedBy(t, 'ORDERS_TABLE');
    expect(resource(t, orders).Properties?.PointInTimeRecoverySpecification?.PointInTimeRecoveryEnabled).toBe(true);
  });

  // TTL: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/TTL.html. Powertools writes the expiry in
  // the `expiration` attribute by default (DynamoDBPersistenceLayer `expiryAttr`):
  // https://docs.powertools.aws.dev/lambda/typescript/latest/features/idempotency/#dynamodbpersistencelayer
  it('the idempotency table (IDEMPOTENCY_TABLE) expires records by TTL on the attribute Powertools writes (expiration)', () => {
    const idempotency = tableNamedBy(t, 'IDEMPOTENCY_TABLE');
    expect(resource(t, idempotency).Properties?.TimeToLiveSpecification).toEqual({ AttributeName: 'expiration', Enabled: true });
  });
});
