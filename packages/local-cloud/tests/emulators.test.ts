import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketPolicyCommand,
  GetBucketEncryptionCommand,
  GetBucketNotificationConfigurationCommand,
  GetBucketPolicyCommand,
  GetObjectCommand,
  HeadBucketCommand,
  PutBucketNotificationConfigurationCommand,
  PutBucketPolicyCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { CreateTopicCommand, PublishCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyRequest, virtualHostBucket } from '../src/edge/edge.ts';
import {
  buildS3Event,
  createSequencer,
  encodeS3EventKey,
  matchingTargets,
  parseNotificationConfigurationXml,
  serializeNotificationConfigurationXml,
  validateNotificationConfiguration,
  withConfigurationIds,
} from '../src/fidelity/s3-notifications.ts';
import type { NotificationConfiguration, S3EventRecord } from '../src/fidelity/s3-notifications.ts';
import { sleep } from '../src/util/wait.ts';
import { clientConfig, drain, startTestCloud, untilActive } from './helpers/emulators.ts';
import type { TestCloud } from './helpers/emulators.ts';

const ACCOUNT = '000000000000';
const REGION = 'us-east-1';

/** Asserts the queue stays empty for `windowMs`. */
async function expectEmpty(sqs: SQSClient, queueUrl: string, windowMs = 300): Promise<void> {
  const extra = await drain(sqs, queueUrl, 1, windowMs);
  expect(extra.map((message) => message.Body)).toEqual([]);
}

describe('s3-notifications (pure functions)', () => {
  const configuration: NotificationConfiguration = {
    QueueConfigurations: [
      {
        Id: 'invoices',
        QueueArn: `arn:aws:sqs:${REGION}:${ACCOUNT}:document-events`,
        Events: ['s3:ObjectCreated:*'],
        Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'invoices/' }, { Name: 'Suffix', Value: '.json' }] } },
      },
    ],
    TopicConfigurations: [{ Id: 'deletes', TopicArn: `arn:aws:sns:${REGION}:${ACCOUNT}:deletes`, Events: ['s3:ObjectRemoved:Delete'] }],
    LambdaFunctionConfigurations: [],
  };

  it('encodes keys like S3 events do (form encoding, slashes kept)', () => {
    expect(encodeS3EventKey('red flower.jpg')).toBe('red+flower.jpg');
    expect(encodeS3EventKey('year=2024/a b+c(1).json')).toBe('year%3D2024/a+b%2Bc%281%29.json');
    expect(encodeS3EventKey('café/x_y-z.*~')).toBe('caf%C3%A9/x_y-z.*%7E');
  });

  it('round-trips the XML of PutBucketNotificationConfiguration', () => {
    const xml = serializeNotificationConfigurationXml(configuration);
    expect(xml).toContain('<Queue>arn:aws:sqs:us-east-1:000000000000:document-events</Queue>');
    expect(parseNotificationConfigurationXml(xml)).toEqual(configuration);
  });

  it('selects destinations by event type and prefix/suffix rules', () => {
    expect(matchingTargets(configuration, 'ObjectCreated:Put', 'invoices/o-1.json')).toEqual([
      { kind: 'queue', arn: `arn:aws:sqs:${REGION}:${ACCOUNT}:document-events`, configurationId: 'invoices' },
    ]);
    expect(matchingTargets(configuration, 'ObjectCreated:CompleteMultipartUpload', 'invoices/a b.json')).toHaveLength(1);
    expect(matchingTargets(configuration, 'ObjectCreated:Put', 'labels/o-1.json')).toEqual([]);
    expect(matchingTargets(configuration, 'ObjectCreated:Put', 'invoices/o-1.txt')).toEqual([]);
    expect(matchingTargets(configuration, 'ObjectRemoved:Delete', 'invoices/o-1.json').map((target) => target.kind)).toEqual(['topic']);
  });

  it('rejects what S3 rejects: unknown events, overlapping configurations', () => {
    const unknownEvent = structuredClone(configuration);
    unknownEvent.QueueConfigurations[0]!.Events = ['s3:ObjectCreated:Upload'];
    expect(() => validateNotificationConfiguration(unknownEvent)).toThrow(/not supported/);
    const overlapping = structuredClone(configuration);
    overlapping.TopicConfigurations.push({ TopicArn: `arn:aws:sns:${REGION}:${ACCOUNT}:all`, Events: ['s3:ObjectCreated:Put'] });
    expect(() => validateNotificationConfiguration(overlapping)).toThrow(/overlap/);
    expect(() => validateNotificationConfiguration(configuration)).not.toThrow();
    expect(withConfigurationIds({ ...configuration, TopicConfigurations: [{ TopicArn: 'arn:aws:sns:x:1:t', Events: [] }] }).TopicConfigurations[0]?.Id).toMatch(/^\w{20,}$/);
  });

  it('builds the S3 event structure (version 2.1)', () => {
    const event = buildS3Event({
      region: REGION,
      eventName: 'ObjectCreated:Put',
      eventTime: new Date('2026-01-02T03:04:05.678Z'),
      bucket: 'documents',
      key: 'invoices/o 1.json',
      size: 42,
      eTag: '"d41d8cd98f00b204e9800998ecf8427e"',
      sequencer: '0055AED6DCD90281E5',
      configurationId: 'invoices',
      requestId: 'REQ',
      hostId: 'HOST',
      sourceIpAddress: '127.0.0.1',
      principalId: 'AWS:000000000000',
    });
    expect(event.Records[0]).toMatchObject({
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: REGION,
      eventTime: '2026-01-02T03:04:05.678Z',
      eventName: 'ObjectCreated:Put',
      s3: {
        s3SchemaVersion: '1.0',
        configurationId: 'invoices',
        bucket: { name: 'documents', arn: 'arn:aws:s3:::documents', ownerIdentity: { principalId: 'AWS:000000000000' } },
        object: { key: 'invoices/o+1.json', size: 42, eTag: 'd41d8cd98f00b204e9800998ecf8427e', sequencer: '0055AED6DCD90281E5' },
      },
    });
  });

  it('issues increasing sequencers, even within one millisecond', () => {
    const next = createSequencer(() => 1_700_000_000_000);
    const [first, second] = [next(), next()];
    expect(first).toMatch(/^[0-9A-F]{18}$/);
    expect(second! > first!).toBe(true);
  });
});

describe('edge routing (pure functions)', () => {
  const signed = (service: string): Record<string, string> => ({
    authorization: `AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/${service}/aws4_request, SignedHeaders=host, Signature=abc`,
  });

  it('routes by X-Amz-Target, SigV4 scope, query Action, then S3', () => {
    expect(classifyRequest('POST', '/', { 'x-amz-target': 'Kinesis_20131202.PutRecords' })).toEqual({ service: 'kinesis', operation: 'PutRecords' });
    expect(classifyRequest('POST', '/', { 'x-amz-target': 'DynamoDB_20120810.GetItem' }).service).toBe('dynamodb');
    expect(classifyRequest('POST', '/', { 'x-amz-target': 'Firehose_20150804.PutRecord' }).service).toBe('firehose');
    expect(classifyRequest('POST', '/', { 'x-amz-target': 'AmazonSQS.SendMessage' }).service).toBe('sqs');
    expect(classifyRequest('POST', '/', signed('sns')).service).toBe('sns');
    expect(classifyRequest('GET', '/bucket/key', signed('s3')).service).toBe('s3');
    expect(classifyRequest('GET', '/bucket/key?X-Amz-Credential=test%2F20260101%2Fus-east-1%2Fs3%2Faws4_request', {}).service).toBe('s3');
    expect(classifyRequest('POST', '/', signed('lambda'))).toEqual({ service: 'unsupported', signingService: 'lambda' });
    expect(classifyRequest('GET', '/?Action=ListTopics', {}).service).toBe('sns');
    expect(classifyRequest('GET', '/health', {}).service).toBe('health');
    expect(classifyRequest('GET', '/health', signed('s3')).service).toBe('s3');
    expect(classifyRequest('PUT', '/bucket/key', {}).service).toBe('s3');
  });

  it('reads virtual-hosted-style buckets from the Host header', () => {
    expect(virtualHostBucket('documents.s3.localhost:4566')).toBe('documents');
    expect(virtualHostBucket('my.dotted.bucket.s3.us-east-1.localhost')).toBe('my.dotted.bucket');
    expect(virtualHostBucket('documents.localhost:4566')).toBe('documents');
    expect(virtualHostBucket('s3.localhost:4566')).toBeUndefined();
    expect(virtualHostBucket('127.0.0.1:4566')).toBeUndefined();
    expect(virtualHostBucket('localhost:4566')).toBeUndefined();
  });
});

describe('emulators through the AWS SDK', () => {
  let cloud: TestCloud;
  let sqs: SQSClient;
  let sns: SNSClient;
  let s3: S3Client;
  let kinesis: KinesisClient;
  let dynamodb: DynamoDBClient;

  const connect = (): void => {
    const config = clientConfig(cloud.emulators);
    sqs = new SQSClient(config);
    sns = new SNSClient(config);
    s3 = new S3Client(config);
    kinesis = new KinesisClient(config);
    dynamodb = new DynamoDBClient(config);
  };

  beforeAll(async () => {
    cloud = await startTestCloud('emulators');
    connect();
  });

  afterAll(async () => {
    await cloud?.dispose();
  });

  it('answers GET /health on the edge', async () => {
    const response = await fetch(`${cloud.emulators.endpoint}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'ok', endpoint: cloud.emulators.endpoint, region: REGION });
  });

  it('round-trips an SQS message through the queue URL CreateQueue returns', async () => {
    // Prepare
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'round-trip' }));
    // Act
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'hello' }));
    const [message] = await drain(sqs, QueueUrl!, 1);
    // Assess
    expect(QueueUrl).toBe(`${cloud.emulators.endpoint}/${ACCOUNT}/round-trip`);
    expect(message?.Body).toBe('hello');
    const { QueueUrl: lookedUp } = await sqs.send(new GetQueueUrlCommand({ QueueName: 'round-trip' }));
    expect(lookedUp).toBe(QueueUrl);
  });

  it('serves a client configured only through AWS_ENDPOINT_URL (as handlers are), queue URL as endpoint', async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'env-configured' }));
    process.env.AWS_ENDPOINT_URL = cloud.emulators.endpoint;
    try {
      const { endpoint: _endpoint, ...withoutEndpoint } = clientConfig(cloud.emulators);
      const envClient = new SQSClient(withoutEndpoint);
      await envClient.send(new SendMessageCommand({ QueueUrl, MessageBody: 'from env' }));
      const [message] = await drain(envClient, QueueUrl!, 1);
      expect(message?.Body).toBe('from env');
    } finally {
      delete process.env.AWS_ENDPOINT_URL;
    }
  });

  it('makes a message visible again at once with ChangeMessageVisibility 0, standard and FIFO (fauxqs persistence fix)', async () => {
    for (const [QueueName, fifo] of [['retry-now', false], ['retry-now.fifo', true]] as const) {
      // Prepare
      const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName, ...(fifo ? { Attributes: { FifoQueue: 'true' } } : {}) }));
      await sqs.send(
        new SendMessageCommand({ QueueUrl, MessageBody: 'retry me', ...(fifo ? { MessageGroupId: 'g', MessageDeduplicationId: 'd-1' } : {}) }),
      );
      const { Messages: [first] = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl, VisibilityTimeout: 60 }));
      // Act
      await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle: first?.ReceiptHandle, VisibilityTimeout: 0 }));
      const { Messages: [again] = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MessageSystemAttributeNames: ['ApproximateReceiveCount'] }));
      // Assess
      expect(again?.MessageId).toBe(first?.MessageId);
      expect(again?.Attributes?.ApproximateReceiveCount).toBe('2');
    }
  });

  it('does not let an aborted long poll swallow the next message', async () => {
    // Prepare
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'aborted-poll' }));
    const controller = new AbortController();
    const aborted = sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 20 }), { abortSignal: controller.signal }).catch((error: Error) => error.name);
    await sleep(100);
    controller.abort();
    expect(await aborted).toBe('AbortError');
    // Act
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'for the next poll' }));
    const started = Date.now();
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 5 }));
    // Assess
    expect(Messages.map((message) => message.Body)).toEqual(['for the next poll']);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('fans out a FIFO topic to a FIFO queue and a filtered standard queue, raw delivery', async () => {
    // Prepare
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: 'order-events.fifo', Attributes: { FifoTopic: 'true' } }));
    const { QueueUrl: storeUrl } = await sqs.send(
      new CreateQueueCommand({ QueueName: 'order-store.fifo', Attributes: { FifoQueue: 'true' } }),
    );
    const { QueueUrl: billingUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'billing' }));
    await sns.send(
      new SubscribeCommand({
        TopicArn,
        Protocol: 'sqs',
        Endpoint: `arn:aws:sqs:${REGION}:${ACCOUNT}:order-store.fifo`,
        Attributes: { RawMessageDelivery: 'true' },
      }),
    );
    await sns.send(
      new SubscribeCommand({
        TopicArn,
        Protocol: 'sqs',
        Endpoint: `arn:aws:sqs:${REGION}:${ACCOUNT}:billing`,
        Attributes: { RawMessageDelivery: 'true', FilterPolicy: JSON.stringify({ type: ['OrderPlaced'] }) },
      }),
    );
    const events = [
      { orderId: 'o-1', type: 'OrderPlaced' },
      { orderId: 'o-1', type: 'OrderCharged' },
      { orderId: 'o-2', type: 'OrderPlaced' },
      { orderId: 'o-1', type: 'OrderShipped' },
    ];
    // Act
    for (const event of events) {
      await sns.send(
        new PublishCommand({
          TopicArn,
          Message: JSON.stringify(event),
          MessageGroupId: event.orderId,
          MessageDeduplicationId: randomUUID(),
          MessageAttributes: { type: { DataType: 'String', StringValue: event.type } },
        }),
      );
    }
    const stored = await drain(sqs, storeUrl!, events.length);
    const billed = await drain(sqs, billingUrl!, 2);
    // Assess
    const bodies = stored.map((message) => JSON.parse(message.Body ?? '{}') as { orderId: string; type: string });
    expect(bodies.filter((event) => event.orderId === 'o-1').map((event) => event.type)).toEqual(['OrderPlaced', 'OrderCharged', 'OrderShipped']);
    expect(stored.map((message) => message.Attributes?.MessageGroupId).sort()).toEqual(['o-1', 'o-1', 'o-1', 'o-2']);
    expect(billed.map((message) => JSON.parse(message.Body ?? '{}')).sort((a, b) => a.orderId.localeCompare(b.orderId))).toEqual([
      { orderId: 'o-1', type: 'OrderPlaced' },
      { orderId: 'o-2', type: 'OrderPlaced' },
    ]);
    await expectEmpty(sqs, billingUrl!);
  });

  it('sends S3 ObjectCreated events to a queue, honouring prefix/suffix filters', async () => {
    // Prepare
    await s3.send(new CreateBucketCommand({ Bucket: 'documents' }));
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'document-events' }));
    await s3.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket: 'documents',
        NotificationConfiguration: {
          QueueConfigurations: [
            {
              QueueArn: `arn:aws:sqs:${REGION}:${ACCOUNT}:document-events`,
              Events: ['s3:ObjectCreated:*'],
              Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'invoices/' }, { Name: 'suffix', Value: '.json' }] } },
            },
          ],
        },
      }),
    );
    const [testEvent] = await drain(sqs, QueueUrl!, 1);
    expect(JSON.parse(testEvent?.Body ?? '{}')).toMatchObject({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: 'documents' });
    // Act
    await s3.send(new PutObjectCommand({ Bucket: 'documents', Key: 'invoices/order 1.json', Body: '{"total":1299}' }));
    await s3.send(new PutObjectCommand({ Bucket: 'documents', Key: 'labels/order-1.json', Body: '{}' }));
    await s3.send(new PutObjectCommand({ Bucket: 'documents', Key: 'invoices/order-1.txt', Body: 'x' }));
    await s3.send(new CopyObjectCommand({ Bucket: 'documents', Key: 'invoices/copy.json', CopySource: 'documents/invoices/order%201.json' }));
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'documents', Key: 'invoices/big.json' }));
    const { ETag } = await s3.send(new UploadPartCommand({ Bucket: 'documents', Key: 'invoices/big.json', UploadId, PartNumber: 1, Body: '{"big":true}' }));
    await s3.send(
      new CompleteMultipartUploadCommand({ Bucket: 'documents', Key: 'invoices/big.json', UploadId, MultipartUpload: { Parts: [{ ETag, PartNumber: 1 }] } }),
    );
    const messages = await drain(sqs, QueueUrl!, 3);
    // Assess
    const records = messages.map((message) => (JSON.parse(message.Body ?? '{}') as { Records: S3EventRecord[] }).Records[0]!);
    expect(records.map((record) => [record.eventName, record.s3.object.key])).toEqual([
      ['ObjectCreated:Put', 'invoices/order+1.json'],
      ['ObjectCreated:Copy', 'invoices/copy.json'],
      ['ObjectCreated:CompleteMultipartUpload', 'invoices/big.json'],
    ]);
    expect(records[0]).toMatchObject({
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: REGION,
      s3: { s3SchemaVersion: '1.0', bucket: { name: 'documents', arn: 'arn:aws:s3:::documents' }, object: { size: 14 } },
    });
    expect(records[0]?.s3.object.eTag).toMatch(/^[0-9a-f]{32}$/);
    expect(records[1]!.s3.object.sequencer > records[0]!.s3.object.sequencer).toBe(true);
    const { QueueConfigurations } = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: 'documents' }));
    expect(records[0]?.s3.configurationId).toBe(QueueConfigurations?.[0]?.Id);
    await expectEmpty(sqs, QueueUrl!);
  });

  it('publishes S3 events to an SNS topic and rejects destinations that do not exist', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'imports' }));
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: 'import-uploads' }));
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'import-jobs' }));
    await sns.send(new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: `arn:aws:sqs:${REGION}:${ACCOUNT}:import-jobs` }));
    await s3.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket: 'imports',
        NotificationConfiguration: { TopicConfigurations: [{ Id: 'ndjson', TopicArn, Events: ['s3:ObjectCreated:Put'], Filter: { Key: { FilterRules: [{ Name: 'suffix', Value: '.ndjson' }] } } }] },
      }),
    );
    await s3.send(new PutObjectCommand({ Bucket: 'imports', Key: 'batch-1.ndjson', Body: '{}\n' }));
    const envelopes = (await drain(sqs, QueueUrl!, 2)).map((message) => JSON.parse(message.Body ?? '{}') as { Subject: string; Message: string });
    expect(envelopes.map((envelope) => envelope.Subject)).toEqual(['Amazon S3 Notification', 'Amazon S3 Notification']);
    expect(JSON.parse(envelopes[1]!.Message).Records[0].s3).toMatchObject({ configurationId: 'ndjson', object: { key: 'batch-1.ndjson' } });
    await expect(
      s3.send(
        new PutBucketNotificationConfigurationCommand({
          Bucket: 'imports',
          NotificationConfiguration: { QueueConfigurations: [{ QueueArn: `arn:aws:sqs:${REGION}:${ACCOUNT}:missing`, Events: ['s3:ObjectCreated:*'] }] },
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidArgument' });
  });

  it('keeps bucket policies and default encryption without fauxqs mistaking them for bucket calls', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'policies' }));
    const policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: 'arn:aws:s3:::policies/*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }] });
    await s3.send(new PutBucketPolicyCommand({ Bucket: 'policies', Policy: policy }));
    expect((await s3.send(new GetBucketPolicyCommand({ Bucket: 'policies' }))).Policy).toBe(policy);
    const encryption = await s3.send(new GetBucketEncryptionCommand({ Bucket: 'policies' }));
    expect(encryption.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm).toBe('AES256');
    await s3.send(new DeleteBucketPolicyCommand({ Bucket: 'policies' }));
    await s3.send(new HeadBucketCommand({ Bucket: 'policies' }));
    await expect(s3.send(new GetBucketPolicyCommand({ Bucket: 'policies' }))).rejects.toMatchObject({ name: 'NoSuchBucketPolicy' });
  });

  it('accepts PutRecords of 500 records on Kinesis and reads every one back', async () => {
    // Prepare
    await kinesis.send(new CreateStreamCommand({ StreamName: 'order-stream', ShardCount: 2 }));
    await untilActive(kinesis, 'order-stream');
    const records = Array.from({ length: 500 }, (_, index) => ({
      PartitionKey: `o-${index % 37}`,
      Data: Buffer.from(JSON.stringify({ index })),
    }));
    // Act
    const output = await kinesis.send(new PutRecordsCommand({ StreamName: 'order-stream', Records: records }));
    // Assess
    expect(output.FailedRecordCount).toBe(0);
    const { Shards = [] } = await kinesis.send(new ListShardsCommand({ StreamName: 'order-stream' }));
    let read = 0;
    for (const shard of Shards) {
      const { ShardIterator } = await kinesis.send(
        new GetShardIteratorCommand({ StreamName: 'order-stream', ShardId: shard.ShardId, ShardIteratorType: 'TRIM_HORIZON' }),
      );
      const { Records = [] } = await kinesis.send(new GetRecordsCommand({ ShardIterator, Limit: 10_000 }));
      read += Records.length;
    }
    expect(read).toBe(500);
  });

  it('creates ON_DEMAND Kinesis streams and accepts StreamARN-only calls', async () => {
    await kinesis.send(new CreateStreamCommand({ StreamName: 'on-demand', StreamModeDetails: { StreamMode: 'ON_DEMAND' } }));
    await untilActive(kinesis, 'on-demand');
    const streamArn = `arn:aws:kinesis:${REGION}:${ACCOUNT}:stream/on-demand`;
    const { StreamDescriptionSummary } = await kinesis.send(new DescribeStreamSummaryCommand({ StreamARN: streamArn }));
    expect(StreamDescriptionSummary).toMatchObject({ StreamARN: streamArn, OpenShardCount: 4 });
  });

  it('puts and gets a DynamoDB item', async () => {
    await dynamodb.send(
      new CreateTableCommand({
        TableName: 'Orders',
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      }),
    );
    await untilActive(dynamodb, 'Orders');
    await dynamodb.send(new PutItemCommand({ TableName: 'Orders', Item: { pk: { S: 'ORDER#o-1' }, status: { S: 'PLACED' } } }));
    const { Item } = await dynamodb.send(new GetItemCommand({ TableName: 'Orders', Key: { pk: { S: 'ORDER#o-1' } } }));
    expect(Item).toEqual({ pk: { S: 'ORDER#o-1' }, status: { S: 'PLACED' } });
  });

  it('keeps queues, messages, subscriptions, buckets, objects, notifications, streams and tables across a restart', async () => {
    // Prepare
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'survivor' }));
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'still here' }));
    await s3.send(new PutObjectCommand({ Bucket: 'documents', Key: 'survivor.txt', Body: 'kept' }));
    // Act
    await cloud.emulators.stop();
    await cloud.emulators.stop(); // idempotent
    await cloud.restart();
    connect();
    // Assess
    const { QueueUrl: afterUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: 'survivor' }));
    expect(afterUrl).toBe(`${cloud.emulators.endpoint}/${ACCOUNT}/survivor`);
    expect((await drain(sqs, afterUrl!, 1)).map((message) => message.Body)).toEqual(['still here']);
    const object = await s3.send(new GetObjectCommand({ Bucket: 'documents', Key: 'survivor.txt' }));
    expect(await object.Body?.transformToString()).toBe('kept');
    const { Item } = await dynamodb.send(new GetItemCommand({ TableName: 'Orders', Key: { pk: { S: 'ORDER#o-1' } } }));
    expect(Item?.status).toEqual({ S: 'PLACED' });
    const { StreamDescriptionSummary } = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: 'order-stream' }));
    expect(StreamDescriptionSummary?.OpenShardCount).toBe(2);
    // Subscriptions and notification configuration still deliver.
    const { QueueUrl: documentEvents } = await sqs.send(new GetQueueUrlCommand({ QueueName: 'document-events' }));
    await s3.send(new PutObjectCommand({ Bucket: 'documents', Key: 'invoices/after-restart.json', Body: '{}' }));
    const [event] = await drain(sqs, documentEvents!, 1);
    expect(JSON.parse(event?.Body ?? '{}').Records[0].s3.object.key).toBe('invoices/after-restart.json');
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: afterUrl, AttributeNames: ['QueueArn'] }));
    expect(Attributes?.QueueArn).toBe(`arn:aws:sqs:${REGION}:${ACCOUNT}:survivor`);
  });
});
