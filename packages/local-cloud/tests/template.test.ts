import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeStreamSummaryCommand, KinesisClient } from '@aws-sdk/client-kinesis';
import { ListSubscriptionsByTopicCommand, GetSubscriptionAttributesCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetBucketNotificationConfigurationCommand, S3Client } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulators, type Emulators } from '../src/emulators/emulators.ts';
import { provision, type ProvisionResult } from '../src/provision/provision.ts';
import { TemplateResolver, dependencyOrder, generatedName, loadTemplate, type CfnTemplate } from '../src/template/template.ts';
import { clientConfig } from './helpers/emulators.ts';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'service', 'template.json');
const context = { stackName: 'fixture-local', region: 'us-east-1', accountId: '000000000000', queueUrlBase: 'http://127.0.0.1:4566' };

describe('Local cloud: template intrinsics', () => {
  let template: CfnTemplate;

  beforeAll(async () => {
    template = await loadTemplate(FIXTURE);
  });

  const resolverFor = (overrides: Partial<typeof context> & { parameters?: Record<string, string> } = {}): { resolver: TemplateResolver; warnings: string[] } => {
    const warnings: string[] = [];
    return { resolver: new TemplateResolver(structuredClone(template), { ...context, ...overrides }, (m) => warnings.push(m)), warnings };
  };

  it('resolves Ref per resource type to its physical id', () => {
    // Prepare
    const { resolver } = resolverFor();

    // Act
    const refs = Object.fromEntries(['WorkQueue', 'EventsTopic', 'DocumentsBucket', 'EventStream', 'OrdersTable', 'LakeDelivery', 'PartialLambdaFunction'].map((id) => [id, resolver.resolve({ Ref: id })]));

    // Assess
    expect(refs).toEqual({
      WorkQueue: 'http://127.0.0.1:4566/000000000000/fixture-local-work',
      EventsTopic: 'arn:aws:sns:us-east-1:000000000000:fixture-local-events.fifo',
      DocumentsBucket: 'fixture-local-documents-000000000000',
      EventStream: 'fixture-local-stream',
      OrdersTable: 'fixture-local-orders',
      LakeDelivery: 'fixture-local-lake',
      PartialLambdaFunction: 'fixture-local-partial',
    });
  });

  it('resolves pseudo parameters, parameters and their defaults', () => {
    const { resolver } = resolverFor({ parameters: { Stage: 'prod' } });

    expect(resolver.resolve({ 'Fn::Join': ['|', [{ Ref: 'AWS::Region' }, { Ref: 'AWS::AccountId' }, { Ref: 'AWS::Partition' }, { Ref: 'AWS::StackName' }, { Ref: 'AWS::URLSuffix' }, { Ref: 'Stage' }]] })).toBe(
      'us-east-1|000000000000|aws|fixture-local|amazonaws.com|prod',
    );
    expect(resolverFor().resolver.resolve({ Ref: 'Stage' })).toBe('local');
  });

  it('resolves Fn::GetAtt in both forms', () => {
    const { resolver } = resolverFor();

    expect(resolver.resolve({ 'Fn::GetAtt': ['WorkQueue', 'Arn'] })).toBe('arn:aws:sqs:us-east-1:000000000000:fixture-local-work');
    expect(resolver.resolve({ 'Fn::GetAtt': 'WorkQueue.QueueName' })).toBe('fixture-local-work');
    expect(resolver.resolve({ 'Fn::GetAtt': ['WorkQueue', 'QueueUrl'] })).toBe('http://127.0.0.1:4566/000000000000/fixture-local-work');
    expect(resolver.resolve({ 'Fn::GetAtt': ['EventsTopic', 'TopicName'] })).toBe('fixture-local-events.fifo');
    expect(resolver.resolve({ 'Fn::GetAtt': ['EventStream', 'Arn'] })).toBe('arn:aws:kinesis:us-east-1:000000000000:stream/fixture-local-stream');
    expect(resolver.resolve({ 'Fn::GetAtt': ['OrdersTable', 'Arn'] })).toBe('arn:aws:dynamodb:us-east-1:000000000000:table/fixture-local-orders');
    expect(resolver.resolve({ 'Fn::GetAtt': ['LakeDelivery', 'Arn'] })).toBe('arn:aws:firehose:us-east-1:000000000000:deliverystream/fixture-local-lake');
    expect(resolver.resolve({ 'Fn::GetAtt': ['PartialLambdaFunction', 'Arn'] })).toBe('arn:aws:lambda:us-east-1:000000000000:function:fixture-local-partial');
    expect(resolver.resolve({ 'Fn::GetAtt': ['IamRoleLambdaExecution', 'Arn'] })).toBe('arn:aws:iam::000000000000:role/fixture-local-us-east-1-lambdaRole');
    expect(resolver.resolve({ 'Fn::GetAtt': ['DocumentsBucket', 'Arn'] })).toBe('arn:aws:s3:::fixture-local-documents-000000000000');
  });

  it('resolves Fn::Sub (string and variable-map forms, ${!Literal}), Fn::Select, Fn::Split, Fn::FindInMap, Fn::If and Outputs', () => {
    const { resolver } = resolverFor();

    const outputs = resolver.outputs();

    expect(outputs.SubWithVariables).toBe('fixture-local-work-us-east-1-${Literal}');
    expect(outputs.SelectSplit).toBe('b');
    expect(outputs.Shards).toBe('2');
    expect(outputs.IfLocal).toBe('yes');
    expect(outputs.HttpApiUrl).toMatch(/^https:\/\/[a-z0-9]{10}\.execute-api\.us-east-1\.amazonaws\.com$/);
    expect(outputs).not.toHaveProperty('ProdOnly');
    expect(resolver.resolve({ 'Fn::Sub': 'arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${WorkQueue.QueueName}' })).toBe(
      'arn:aws:sqs:us-east-1:000000000000:fixture-local-work',
    );
  });

  it('drops AWS::NoValue from objects and lists, evaluates Conditions, and skips resources whose Condition is false', () => {
    const { resolver } = resolverFor();

    expect(resolver.resolve({ a: 1, b: { Ref: 'AWS::NoValue' }, c: [1, { Ref: 'AWS::NoValue' }, 2] })).toEqual({ a: 1, c: [1, 2] });
    expect(resolver.resolve({ 'Fn::If': ['IsProd', 'p', { Ref: 'AWS::NoValue' }] })).toBeUndefined();
    expect(resolver.isActive('ProdOnlyQueue')).toBe(false);
    expect(resolverFor({ parameters: { Stage: 'prod' } }).resolver.isActive('ProdOnlyQueue')).toBe(true);
  });

  it('warns on Fn::ImportValue instead of failing', () => {
    const { resolver, warnings } = resolverFor();

    expect(resolver.resolve({ 'Fn::ImportValue': 'shared-vpc-id' })).toBe('imported:shared-vpc-id');
    expect(warnings.join('\n')).toContain('Fn::ImportValue shared-vpc-id');
  });

  it("generates CloudFormation-style names when the template names nothing, stable across runs, FIFO suffix kept", () => {
    const { resolver } = resolverFor();

    const plain = resolver.physicalName('GeneratedNameQueue');
    const fifo = resolver.physicalName('GeneratedFifoQueue');

    expect(plain).toMatch(/^fixture-local-GeneratedNameQueue-[A-Z0-9]{12}$/);
    expect(fifo).toMatch(/^fixture-local-GeneratedFifoQueue-[A-Z0-9]{12}\.fifo$/);
    expect(resolverFor().resolver.physicalName('GeneratedNameQueue')).toBe(plain);
    expect(generatedName('a'.repeat(100), 'B'.repeat(100), 'AWS::SQS::Queue', false)).toHaveLength(80);
    expect(generatedName('Stack', 'Bucket', 'AWS::S3::Bucket', false)).toMatch(/^stack-bucket-[a-z0-9]{12}$/);
  });

  it('orders resources after everything they reference (Ref, GetAtt, Sub, DependsOn)', () => {
    const order = dependencyOrder(template);
    const before = (a: string, b: string): boolean => order.indexOf(a) < order.indexOf(b);

    expect(before('WorkDLQ', 'WorkQueue')).toBe(true);
    expect(before('WorkQueuePolicy', 'DocumentsBucket')).toBe(true);
    expect(before('OrderedQueue', 'EventsToOrdered')).toBe(true);
    expect(before('HttpApiIntegrationHttp', 'HttpApiRoutePostOrders')).toBe(true);
    expect(before('PartialLogGroup', 'PartialLambdaFunction')).toBe(true);
    expect(before('EventStream', 'LakeDelivery')).toBe(true);
  });

  it('reports a dependency cycle with its path', () => {
    const cyclic: CfnTemplate = {
      Resources: {
        A: { Type: 'AWS::SQS::Queue', Properties: { RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': ['B', 'Arn'] } } } },
        B: { Type: 'AWS::SQS::Queue', DependsOn: 'A' },
      },
    };

    expect(() => dependencyOrder(cyclic)).toThrow(/circular dependency: A -> B -> A/);
  });
});

describe('Local cloud: provisioning the fixture template', () => {
  let dataDir: string;
  let emulators: Emulators;
  let first: ProvisionResult;
  let second: ProvisionResult;
  let resolver: TemplateResolver;
  const messages: string[] = [];
  const secondRunMessages: string[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'local-template-'));
    emulators = await startEmulators({ dataDir, edgePort: 0, log: () => {} });
    const target = { endpoint: emulators.endpoint, region: emulators.region, accountId: emulators.accountId };
    const template = await loadTemplate(FIXTURE);
    resolver = new TemplateResolver(template, { ...context, queueUrlBase: target.endpoint });
    first = await provision(resolver, target, (m) => messages.push(m));
    // A restart provisions again on the same state: everything is found.
    second = await provision(new TemplateResolver(template, { ...context, queueUrlBase: target.endpoint }), target, (m) => secondRunMessages.push(m));
  });

  afterAll(async () => {
    await emulators?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('creates every supported resource, then finds them all on a second run', () => {
    const created = Object.values(first.resources).filter((r) => r.status === 'created').map((r) => r.logicalId).sort();
    const found = Object.values(second.resources).filter((r) => r.status === 'exists').map((r) => r.logicalId).sort();

    expect(created).toEqual(
      [
        'DocumentsBucket', 'EventStream', 'EventsToOrdered', 'EventsTopic', 'GeneratedFifoQueue', 'GeneratedNameQueue', 'LakeDelivery',
        'OnDemandStream', 'OrderedQueue', 'OrdersTable', 'ResultsQueue', 'ServerlessDeploymentBucket', 'StreamFailures', 'WindowStream', 'WorkDLQ', 'WorkQueue',
        'NoticesTopic', 'NoticesQueue', 'NoticesToNoticesQueue', 'StrangerQueue', 'NoticesToStrangerQueue', 'DropsBucket',
        'UploadsTopic', 'UploadsQueue', 'UploadsToUploadsQueue', 'UploadsBucket', 'StraysBucket', 'SigningSecret', 'NamedSecret',
        'NoticesToEnvA', 'NoticesToEnvB', 'NoticesDLQ', 'NoticesToWindow', 'UnwelcomingDLQ',
      ].sort(),
    );
    expect(found).toEqual(created);
    expect(first.resources.ProdOnlyQueue?.status).toBe('skipped');
    // Nothing changed between the runs: no attribute had to be updated.
    expect(secondRunMessages.filter((m) => m.includes('not updated'))).toEqual([]);
  });

  it('lists what is not emulated once, and warns on unknown types and ON_DEMAND streams', () => {
    const notEmulated = messages.filter((m) => m.startsWith('not emulated:'));

    expect(notEmulated).toHaveLength(1);
    expect(notEmulated[0]).toContain('WorkQueuePolicy (AWS::SQS::QueuePolicy)');
    expect(notEmulated[0]).toContain('IamRoleLambdaExecution (AWS::IAM::Role)');
    expect(notEmulated[0]).toContain('WorkDLQAlarm (AWS::CloudWatch::Alarm)');
    expect(messages.join('\n')).toContain('unknown resource type AWS::Pipes::Pipe for SomethingNew');
    expect(messages.join('\n')).toContain('OnDemandStream: kinesalite has no ON_DEMAND streams');
  });

  it('creates queues with their CloudFormation attributes (redrive policy, FIFO settings)', async () => {
    const sqs = new SQSClient({ ...clientConfig(emulators), useQueueUrlAsEndpoint: false });

    const work = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: first.resources.WorkQueue?.url, AttributeNames: ['All'] }));
    const ordered = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: first.resources.OrderedQueue?.url, AttributeNames: ['All'] }));
    sqs.destroy();

    expect(work.Attributes?.VisibilityTimeout).toBe('1');
    expect(work.Attributes?.ReceiveMessageWaitTimeSeconds).toBe('20');
    expect(JSON.parse(work.Attributes?.RedrivePolicy ?? '{}')).toEqual({ deadLetterTargetArn: 'arn:aws:sqs:us-east-1:000000000000:fixture-local-work-dlq', maxReceiveCount: 2 });
    expect(ordered.Attributes).toMatchObject({ FifoQueue: 'true', ContentBasedDeduplication: 'true', DeduplicationScope: 'messageGroup', FifoThroughputLimit: 'perMessageGroupId' });
    expect(resolver.resolve({ Ref: 'WorkQueue' })).toBe(first.resources.WorkQueue?.url);
  });

  it('subscribes with raw delivery, filter policy and redrive policy', async () => {
    const sns = new SNSClient(clientConfig(emulators));

    const list = await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: first.resources.EventsTopic?.physicalId }));
    const attributes = await sns.send(new GetSubscriptionAttributesCommand({ SubscriptionArn: list.Subscriptions?.[0]?.SubscriptionArn }));
    sns.destroy();

    expect(list.Subscriptions).toHaveLength(1);
    expect(attributes.Attributes?.RawMessageDelivery).toBe('true');
    expect(JSON.parse(attributes.Attributes?.FilterPolicy ?? '{}')).toEqual({ type: ['OrderPlaced', 'OrderShipped'] });
    expect(attributes.Attributes?.FilterPolicyScope).toBe('MessageAttributes');
  });

  it('configures bucket notifications through the edge, in the S3 API shape', async () => {
    const s3 = new S3Client({ ...clientConfig(emulators), forcePathStyle: true });

    const config = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: 'fixture-local-documents-000000000000' }));
    s3.destroy();

    expect(config.QueueConfigurations).toEqual([
      expect.objectContaining({
        QueueArn: 'arn:aws:sqs:us-east-1:000000000000:fixture-local-work',
        Events: ['s3:ObjectCreated:*'],
        Filter: { Key: { FilterRules: expect.arrayContaining([{ Name: expect.stringMatching(/^prefix$/i), Value: 'invoices/' }, { Name: expect.stringMatching(/^suffix$/i), Value: '.json' }]) } },
      }),
    ]);
  });

  it('creates streams with their shard count and tables with their indexes', async () => {
    const kinesis = new KinesisClient(clientConfig(emulators));
    const dynamodb = new DynamoDBClient(clientConfig(emulators));

    const stream = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: 'fixture-local-stream' }));
    const onDemand = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: first.resources.OnDemandStream?.physicalId }));
    const table = await dynamodb.send(new DescribeTableCommand({ TableName: 'fixture-local-orders' }));
    kinesis.destroy();
    dynamodb.destroy();

    expect(stream.StreamDescriptionSummary?.OpenShardCount).toBe(2);
    expect(onDemand.StreamDescriptionSummary?.OpenShardCount).toBe(4);
    expect(table.Table?.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    expect(table.Table?.GlobalSecondaryIndexes?.map((index) => index.IndexName)).toEqual(['byCustomer']);
  });
});
