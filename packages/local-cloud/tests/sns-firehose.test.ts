/**
 * SNS to Firehose (`firehose` subscriptions, src/fidelity/sns-push.ts) through the edge with the real SDK: each
 * message becomes a record of the local Firehose, which writes it to S3; the subscription's role is evaluated by the
 * IAM guard (src/edge/iam.ts), and a role that may not put records gets nothing delivered, reported.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { CreateDeliveryStreamCommand, FirehoseClient } from '@aws-sdk/client-firehose';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { CreateTopicCommand, PublishBatchCommand, PublishCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulators, type Emulators } from '../src/emulators/emulators.ts';
import { IamGuard } from '../src/edge/iam.ts';
import type { FunctionIdentity, IamModel } from '../src/edge/iam-roles.ts';
import { waitFor } from '../src/util/wait.ts';
import { clientConfig } from './helpers/emulators.ts';

const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const streamArn = (name: string): string => `arn:aws:firehose:${REGION}:${ACCOUNT}:deliverystream/${name}`;
const roleArn = (name: string): string => `arn:aws:iam::${ACCOUNT}:role/${name}`;

/** The subscription role of the SNS developer guide ("Prerequisites for subscribing Firehose delivery streams"). */
const role = (name: string, actions: string[], trusted = 'sns.amazonaws.com'): [string, FunctionIdentity['role']] => [
  roleArn(name),
  {
    roleArn: roleArn(name),
    roleName: name,
    notEvaluated: [],
    trust: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: trusted }, Action: 'sts:AssumeRole' }] },
    policies: [{ name: 'put', document: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: actions, Resource: streamArn('*') }] } }],
  },
];

const SUFFICIENT = ['firehose:DescribeDeliveryStream', 'firehose:ListDeliveryStreams', 'firehose:ListTagsForDeliveryStream', 'firehose:PutRecord', 'firehose:PutRecordBatch'];

describe('SNS to Firehose subscribers (sns-push, firehose protocol)', () => {
  let dataDir: string;
  let emulators: Emulators;
  let guard: IamGuard;
  let sns: SNSClient;
  let sqs: SQSClient;
  let s3: S3Client;
  let firehose: FirehoseClient;
  let topicArn: string;
  const logs: string[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'orderflow-sns-firehose-'));
    guard = new IamGuard({ mode: 'enforce', log: (line) => logs.push(line) });
    const model: IamModel = {
      partition: 'aws',
      region: REGION,
      accountId: ACCOUNT,
      identities: new Map(),
      hashKeys: new Map(),
      queuePolicies: new Map(),
      functionPolicies: new Map(),
      topics: [],
      topicPolicies: new Map(),
      buckets: [],
      roles: new Map([role('archive', SUFFICIENT), role('describe-only', ['firehose:DescribeDeliveryStream']), role('lambda-trusted', SUFFICIENT, 'lambda.amazonaws.com')]),
    };
    await guard.load(model);
    emulators = await startEmulators({ dataDir, edgePort: 0, iam: guard, log: (line) => logs.push(line) });
    sns = new SNSClient(clientConfig(emulators));
    sqs = new SQSClient(clientConfig(emulators));
    s3 = new S3Client({ ...clientConfig(emulators), forcePathStyle: true });
    firehose = new FirehoseClient(clientConfig(emulators));
    await s3.send(new CreateBucketCommand({ Bucket: 'lake' }));
    for (const [name, prefix] of [['raw-archive', 'raw/'], ['json-archive', 'json/'], ['denied-archive', 'denied/'], ['untrusted-archive', 'untrusted/']] as const) {
      await firehose.send(
        new CreateDeliveryStreamCommand({
          DeliveryStreamName: name,
          DeliveryStreamType: 'DirectPut',
          ExtendedS3DestinationConfiguration: {
            BucketARN: 'arn:aws:s3:::lake',
            RoleARN: roleArn('firehose'),
            Prefix: prefix,
            ErrorOutputPrefix: `${prefix}errors/!{firehose:error-output-type}/`,
            BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 0.3 },
            CompressionFormat: 'GZIP',
            ProcessingConfiguration: { Enabled: true, Processors: [{ Type: 'AppendDelimiterToRecord' }] },
          },
        }),
      );
    }
    topicArn = (await sns.send(new CreateTopicCommand({ Name: 'archive-events' }))).TopicArn ?? '';
  });

  afterAll(async () => {
    for (const client of [sns, sqs, s3, firehose]) client?.destroy();
    await emulators?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** Every line of the objects under `prefix`, once `count` arrived. */
  const linesUnder = (prefix: string, count: number): Promise<string[]> =>
    waitFor(
      async () => {
        const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'lake', Prefix: prefix }));
        const lines: string[] = [];
        for (const object of listed.Contents ?? []) {
          if (object.Key?.includes('/errors/')) continue;
          const body = await (await s3.send(new GetObjectCommand({ Bucket: 'lake', Key: object.Key }))).Body?.transformToByteArray();
          lines.push(...gunzipSync(Buffer.from(body ?? new Uint8Array())).toString('utf8').split('\n').filter((line) => line !== ''));
        }
        return lines.length >= count ? lines : undefined;
      },
      { what: `${count} record(s) under ${prefix}`, timeoutMs: 10_000 },
    );

  const subscribe = (stream: string, attributes: Record<string, string>): Promise<string> =>
    sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'firehose', Endpoint: streamArn(stream), Attributes: attributes, ReturnSubscriptionArn: true })).then((out) => out.SubscriptionArn ?? '');

  it('refuses a firehose subscription without SubscriptionRoleArn, or whose endpoint is not a delivery stream ARN', async () => {
    await expect(subscribe('raw-archive', {})).rejects.toThrow(/SubscriptionRoleArn is required/);
    await expect(
      sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'firehose', Endpoint: 'raw-archive', Attributes: { SubscriptionRoleArn: roleArn('archive') } })),
    ).rejects.toThrow(/Firehose delivery stream ARN/);
  });

  it('puts each message as a record (raw: the body alone; otherwise SNS JSON without signature), and refuses a role that may not put records', async () => {
    const raw = await subscribe('raw-archive', { SubscriptionRoleArn: roleArn('archive'), RawMessageDelivery: 'true' });
    const json = await subscribe('json-archive', { SubscriptionRoleArn: roleArn('archive') });
    const dlq = (await sqs.send(new CreateQueueCommand({ QueueName: 'archive-sub-dlq' }))).QueueUrl ?? '';
    const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn ?? '';
    const denied = await subscribe('denied-archive', { SubscriptionRoleArn: roleArn('describe-only'), RawMessageDelivery: 'true', RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn }) });
    const untrusted = await subscribe('untrusted-archive', { SubscriptionRoleArn: roleArn('lambda-trusted') });
    const attributes = { type: { DataType: 'String', StringValue: 'OrderPlaced' } };
    await sns.send(new PublishCommand({ TopicArn: topicArn, Message: '{"orderId":"o-1","type":"OrderPlaced"}', MessageAttributes: attributes }));
    await sns.send(new PublishBatchCommand({ TopicArn: topicArn, PublishBatchRequestEntries: [{ Id: 'a', Message: '{"orderId":"o-1","type":"OrderCharged"}' }] }));

    expect((await linesUnder('raw/', 2)).sort()).toEqual(['{"orderId":"o-1","type":"OrderCharged"}', '{"orderId":"o-1","type":"OrderPlaced"}']);
    const envelopes = (await linesUnder('json/', 2)).map((line) => JSON.parse(line) as Record<string, unknown>);
    const placed = envelopes.find((envelope) => envelope.Message === '{"orderId":"o-1","type":"OrderPlaced"}');
    expect(placed).toMatchObject({ Type: 'Notification', TopicArn: topicArn, MessageAttributes: { type: { Type: 'String', Value: 'OrderPlaced' } } });
    expect(Object.keys(placed ?? {}).filter((key) => ['Signature', 'SignatureVersion', 'SigningCertURL'].includes(key))).toEqual([]);

    // The role without firehose:PutRecord: nothing put, the message in the subscription's DLQ, the refusal reported.
    const deliveries = await waitFor(() => {
      const all = emulators.snsPush?.deliveries() ?? [];
      return all.filter((delivery) => delivery.subscriptionArn === denied).length === 2 && all.some((delivery) => delivery.subscriptionArn === untrusted) ? all : undefined;
    }, { what: 'the denied deliveries', timeoutMs: 5_000 });
    expect(deliveries.filter((delivery) => delivery.subscriptionArn === raw || delivery.subscriptionArn === json).every((delivery) => delivery.outcome === 'delivered')).toBe(true);
    const refused = deliveries.filter((delivery) => delivery.subscriptionArn === denied);
    expect(refused.map((delivery) => delivery.outcome)).toEqual(['dead-lettered', 'dead-lettered']);
    expect(refused[0]?.error).toMatch(/not authorized to perform: firehose:PutRecord on resource: arn:aws:firehose:us-east-1:000000000000:deliverystream\/denied-archive/);
    expect(deliveries.find((delivery) => delivery.subscriptionArn === untrusted)).toMatchObject({ outcome: 'dropped', error: expect.stringMatching(/trust policy of role lambda-trusted/) as unknown });
    const moved = await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlq, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'] }));
    expect(moved.Messages?.[0]?.MessageAttributes?.ErrorCode?.StringValue).toBe('AccessDenied');
    expect(guard.deliveryDenials().map((denial) => denial.queueArn)).toContain(streamArn('denied-archive'));
    expect(logs.some((line) => line.includes('[iam] sns.amazonaws.com delivery') && line.includes('refused'))).toBe(true);
  });
});
