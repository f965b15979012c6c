/**
 * Creates the template's resources on the local emulators through the real AWS SDK, from their
 * CloudFormation properties, the way CloudFormation would. Idempotent: a restart re-runs it, finds
 * each resource there and updates what can be updated.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  UpdateTimeToLiveCommand,
  type CreateTableCommandInput,
} from '@aws-sdk/client-dynamodb';
import { CreateDeliveryStreamCommand, FirehoseClient, type CreateDeliveryStreamCommandInput } from '@aws-sdk/client-firehose';
import * as glue from '@aws-sdk/client-glue';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  IncreaseStreamRetentionPeriodCommand,
  KinesisClient,
} from '@aws-sdk/client-kinesis';
import {
  CreateBucketCommand,
  HeadBucketCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketNotificationConfigurationCommand,
  S3Client,
  type NotificationConfiguration,
} from '@aws-sdk/client-s3';
import {
  CreateTopicCommand,
  GetTopicAttributesCommand,
  ListSubscriptionsByTopicCommand,
  SetSubscriptionAttributesCommand,
  SetTopicAttributesCommand,
  SNSClient,
  SubscribeCommand,
} from '@aws-sdk/client-sns';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand, SetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { randomInt } from 'node:crypto';
import { dependencyOrder, isRecord, referencedResources, type TemplateResolver } from '../template/template.ts';
import { localClientConfig, type LocalClientConfig } from '../util/clients.ts';
import { waitFor } from '../util/wait.ts';

/** Where to create resources: the emulators' edge endpoint. */
interface AwsTarget {
  endpoint: string;
  region: string;
  accountId: string;
}

interface ProvisionedResource {
  logicalId: string;
  type: string;
  physicalId: string;
  arn?: string;
  url?: string;
  /** created / exists (found, updated) / runtime (run by the local cloud itself) / not-emulated / skipped (Condition false) */
  status: 'created' | 'exists' | 'runtime' | 'not-emulated' | 'skipped' | 'unknown-type';
}

interface ProvisionResult {
  resources: Record<string, ProvisionedResource>;
  notEmulated: string[];
  warnings: string[];
}

class ProvisionError extends Error {
  constructor(logicalId: string, type: string, cause: unknown) {
    super(`cannot create ${logicalId} (${type}): ${cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)}`);
    this.name = 'ProvisionError';
  }
}

/** Types the local cloud runs itself (functions, pollers, the HTTP API) rather than on an emulator. */
const RUNTIME_TYPES = new Set([
  // A RabbitMQ broker is a rabbitmq-server child process the cloud starts with its pollers (amazonmq/).
  'AWS::AmazonMQ::Broker',
  'AWS::Lambda::Function',
  'AWS::Lambda::EventSourceMapping',
  'AWS::ApiGatewayV2::Api',
  'AWS::ApiGatewayV2::Route',
  'AWS::ApiGatewayV2::Integration',
  'AWS::ApiGatewayV2::Stage',
]);

/** Types that only matter on AWS (permissions, observability, versions): listed once, never created. */
const NOT_EMULATED_TYPES = new Set([
  'AWS::SQS::QueuePolicy',
  'AWS::SNS::TopicPolicy',
  'AWS::S3::BucketPolicy',
  'AWS::IAM::Role',
  'AWS::IAM::Policy',
  'AWS::IAM::ManagedPolicy',
  'AWS::IAM::InstanceProfile',
  'AWS::Logs::LogGroup',
  'AWS::Logs::LogStream',
  'AWS::Logs::SubscriptionFilter',
  'AWS::Logs::MetricFilter',
  'AWS::CloudWatch::Alarm',
  'AWS::CloudWatch::CompositeAlarm',
  'AWS::CloudWatch::Dashboard',
  'AWS::Lambda::Permission',
  'AWS::Lambda::Version',
  'AWS::Lambda::Alias',
  'AWS::Lambda::EventInvokeConfig',
  'AWS::Lambda::LayerVersion',
  'AWS::KMS::Key',
  'AWS::KMS::Alias',
  'AWS::ApiGatewayV2::Deployment',
  'AWS::ApiGatewayV2::Authorizer',
  'AWS::ApiGatewayV2::ApiMapping',
  'AWS::ApiGatewayV2::DomainName',
  'AWS::SSM::Parameter',
  // The HTTP API's JWT authorizers trust the local issuer instead (auth/issuer.ts).
  'AWS::Cognito::UserPool',
  'AWS::Cognito::UserPoolClient',
  'AWS::Cognito::UserPoolDomain',
]);

/** SQS queue attributes CloudFormation accepts, mapped to the API's string attributes. */
const QUEUE_ATTRIBUTES = [
  'ContentBasedDeduplication',
  'DeduplicationScope',
  'DelaySeconds',
  'FifoQueue',
  'FifoThroughputLimit',
  'KmsDataKeyReusePeriodSeconds',
  'KmsMasterKeyId',
  'MaximumMessageSize',
  'MessageRetentionPeriod',
  'ReceiveMessageWaitTimeSeconds',
  'RedriveAllowPolicy',
  'RedrivePolicy',
  'SqsManagedSseEnabled',
  'VisibilityTimeout',
] as const;

const TOPIC_ATTRIBUTES = [
  'FifoTopic',
  'ContentBasedDeduplication',
  'DisplayName',
  'KmsMasterKeyId',
  'SignatureVersion',
  'TracingConfig',
  'ArchivePolicy',
  'FifoThroughputScope',
  'DeliveryStatusLogging',
] as const;

/** Attributes SetTopicAttributes can change after creation (FifoTopic is fixed at creation). */
const MUTABLE_TOPIC_ATTRIBUTES = new Set(['ContentBasedDeduplication', 'DisplayName', 'KmsMasterKeyId', 'SignatureVersion', 'TracingConfig']);

const SUBSCRIPTION_ATTRIBUTES = ['RawMessageDelivery', 'FilterPolicy', 'FilterPolicyScope', 'RedrivePolicy', 'DeliveryPolicy', 'ReplayPolicy', 'SubscriptionRoleArn'] as const;

interface Clients {
  sqs: SQSClient;
  sns: SNSClient;
  s3: S3Client;
  kinesis: KinesisClient;
  dynamodb: DynamoDBClient;
  firehose: FirehoseClient;
  glue: glue.GlueClient;
  secretsManager: SecretsManagerClient;
}

function createClients(target: AwsTarget): Clients {
  const config = (): LocalClientConfig => localClientConfig(target.endpoint, target.region, { maxAttempts: 2 });
  return {
    sqs: new SQSClient(config()),
    sns: new SNSClient(config()),
    s3: new S3Client(config()),
    kinesis: new KinesisClient(config()),
    dynamodb: new DynamoDBClient(config()),
    firehose: new FirehoseClient(config()),
    glue: new glue.GlueClient(config()),
    secretsManager: new SecretsManagerClient(config()),
  };
}

function destroyClients(clients: Clients): void {
  for (const client of Object.values(clients)) client.destroy();
}

/** CloudFormation takes JSON documents as objects; the APIs want them as strings; booleans as "true"/"false". */
function attributeString(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

function pickAttributes(props: Record<string, unknown>, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    if (props[name] !== undefined && props[name] !== null) out[name] = attributeString(props[name]);
  }
  return out;
}

function errorName(error: unknown): string {
  if (!(error instanceof Error)) return '';
  const code = (error as { Code?: string; code?: string }).Code ?? (error as { code?: string }).code ?? '';
  return `${error.name} ${code} ${error.message}`;
}

function tagList(props: Record<string, unknown>): { Key: string; Value: string }[] | undefined {
  const tags = props.Tags;
  if (!Array.isArray(tags)) return undefined;
  return tags.filter(isRecord).map((tag) => ({ Key: String(tag.Key), Value: String(tag.Value) }));
}

/** How a resource's status is polled until ACTIVE: 20 ms doubling to 500 ms, for at most 15 s. */
const UNTIL_ACTIVE = { timeoutMs: 15_000, intervalMs: 20, maxIntervalMs: 500 } as const;

interface Step {
  logicalId: string;
  type: string;
  props: Record<string, unknown>;
  resolver: TemplateResolver;
  clients: Clients;
  target: AwsTarget;
  warn: (message: string) => void;
  /** Runs `step` once every resource exists (provision's `beforeNotifications` first): bucket notifications. */
  afterResources: (step: () => Promise<void>) => void;
}

type Provisioner = (step: Step) => Promise<Omit<ProvisionedResource, 'logicalId' | 'type'>>;

/** Sets queue attributes; those the emulator refuses to change (fauxqs: DeduplicationScope...) are reported, one by one. */
async function setQueueAttributes(sqs: SQSClient, url: string, desired: Record<string, string>, warn: (message: string) => void): Promise<void> {
  if (Object.keys(desired).length === 0) return;
  const current: Record<string, string> = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }))).Attributes ?? {};
  const normalize = (value: string | undefined): string => {
    try {
      return JSON.stringify(JSON.parse(value ?? ''));
    } catch {
      return String(value);
    }
  };
  const attributes = Object.fromEntries(Object.entries(desired).filter(([key, value]) => normalize(current[key]) !== normalize(value)));
  if (Object.keys(attributes).length === 0) return;
  try {
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: attributes }));
  } catch (error) {
    if (!/InvalidAttributeName/.test(errorName(error))) throw error;
    for (const [key, value] of Object.entries(attributes)) {
      await sqs
        .send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { [key]: value } }))
        .catch((cause: unknown) => warn(`attribute ${key} not updated locally: ${errorName(cause)}`));
    }
  }
}

const provisionQueue: Provisioner = async ({ logicalId, props, resolver, clients, target, warn }) => {
  const name = resolver.physicalName(logicalId);
  const attributes = pickAttributes(props, QUEUE_ATTRIBUTES);
  const tags = Object.fromEntries((tagList(props) ?? []).map((t) => [t.Key, t.Value]));
  let url = await clients.sqs
    .send(new GetQueueUrlCommand({ QueueName: name }))
    .then((out) => out.QueueUrl ?? '')
    .catch((error: unknown) => {
      if (/NonExistentQueue|QueueDoesNotExist/.test(errorName(error))) return '';
      throw error;
    });
  let status: ProvisionedResource['status'] = 'exists';
  if (url) {
    // CloudFormation updates a queue in place: same name, new attributes (FifoQueue cannot change).
    const { FifoQueue: _fifo, ...mutable } = attributes;
    await setQueueAttributes(clients.sqs, url, mutable, (message) => warn(`${logicalId}: ${message}`));
  } else {
    const input = { QueueName: name, Attributes: attributes, ...(Object.keys(tags).length > 0 ? { tags } : {}) };
    url = (await clients.sqs.send(new CreateQueueCommand(input))).QueueUrl ?? '';
    status = 'created';
  }
  const arn = `arn:aws:sqs:${target.region}:${target.accountId}:${name}`;
  resolver.setIdentity(logicalId, { ref: url, attributes: { Arn: arn, QueueName: name, QueueUrl: url } });
  return { physicalId: url, arn, url, status };
};

const provisionTopic: Provisioner = async ({ logicalId, props, resolver, clients, warn }) => {
  const name = resolver.physicalName(logicalId);
  const attributes = pickAttributes(props, TOPIC_ATTRIBUTES);
  const predicted = resolver.identity(logicalId).ref;
  const exists = await clients.sns
    .send(new GetTopicAttributesCommand({ TopicArn: predicted }))
    .then(() => true)
    .catch((error: unknown) => {
      if (/NotFound/.test(errorName(error))) return false;
      throw error;
    });
  let arn = predicted;
  let status: ProvisionedResource['status'] = 'exists';
  if (exists) {
    // SNS refuses CreateTopic with other attributes for an existing name: update in place.
    for (const [key, value] of Object.entries(attributes)) {
      if (!MUTABLE_TOPIC_ATTRIBUTES.has(key)) continue;
      await clients.sns
        .send(new SetTopicAttributesCommand({ TopicArn: arn, AttributeName: key, AttributeValue: value }))
        .catch((cause: unknown) => warn(`${logicalId}: cannot update topic attribute ${key}: ${errorName(cause)}`));
    }
  } else {
    arn = (await clients.sns.send(new CreateTopicCommand({ Name: name, Attributes: attributes, Tags: tagList(props) }))).TopicArn ?? '';
    status = 'created';
  }
  resolver.setIdentity(logicalId, { ref: arn, attributes: { TopicArn: arn, TopicName: name } });
  // AWS::SNS::Topic.Subscription: inline subscriptions, created with the topic.
  const inline = Array.isArray(props.Subscription) ? props.Subscription.filter(isRecord) : [];
  for (const sub of inline) {
    await subscribe(clients, arn, String(sub.Protocol), String(sub.Endpoint), {}, `${logicalId}.Subscription`, warn);
  }
  return { physicalId: arn, arn, status };
};

/** fauxqs delivers to sqs; the edge delivers http, https, lambda and firehose (fidelity/sns-push.ts). */
const EMULATED_PROTOCOLS = new Set(['sqs', 'http', 'https', 'lambda', 'firehose']);

async function subscribe(
  clients: Clients,
  topicArn: string,
  protocol: string,
  endpoint: string,
  attributes: Record<string, string>,
  path: string,
  warn: (message: string) => void,
): Promise<{ arn: string; status: ProvisionedResource['status'] }> {
  if (!EMULATED_PROTOCOLS.has(protocol)) {
    warn(`${path}: protocol ${protocol} is not emulated (SQS, HTTP/S, Lambda and Firehose are: fidelity/sns-push.ts); subscription skipped`);
    return { arn: `${topicArn}:not-emulated`, status: 'not-emulated' };
  }
  // Subscribe is idempotent for the same (topic, protocol, endpoint) and attributes, but refuses
  // other attributes: look for the subscription first and update its attributes in place.
  let next: string | undefined;
  do {
    const page = await clients.sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn, NextToken: next }));
    const found = page.Subscriptions?.find((s) => s.Endpoint === endpoint && s.Protocol === protocol);
    if (found?.SubscriptionArn) {
      for (const [key, value] of Object.entries(attributes)) {
        await clients.sns.send(new SetSubscriptionAttributesCommand({ SubscriptionArn: found.SubscriptionArn, AttributeName: key, AttributeValue: value }));
      }
      return { arn: found.SubscriptionArn, status: 'exists' };
    }
    next = page.NextToken;
  } while (next);
  const out = await clients.sns.send(
    new SubscribeCommand({ TopicArn: topicArn, Protocol: protocol, Endpoint: endpoint, Attributes: attributes, ReturnSubscriptionArn: true }),
  );
  return { arn: out.SubscriptionArn ?? '', status: 'created' };
}

const provisionSubscription: Provisioner = async ({ logicalId, props, resolver, clients, warn }) => {
  const topicArn = String(props.TopicArn);
  const attributes = pickAttributes(props, SUBSCRIPTION_ATTRIBUTES);
  const { arn, status } = await subscribe(clients, topicArn, String(props.Protocol), String(props.Endpoint), attributes, logicalId, warn);
  resolver.setIdentity(logicalId, { ref: arn, attributes: { Arn: arn } });
  return { physicalId: arn, arn, status };
};

/** CloudFormation's NotificationConfiguration → the S3 API's (PutBucketNotificationConfiguration). */
function notificationConfiguration(config: Record<string, unknown>): NotificationConfiguration {
  const filter = (f: unknown): { Key: { FilterRules: { Name: 'prefix' | 'suffix'; Value: string }[] } } | undefined => {
    if (!isRecord(f) || !isRecord(f.S3Key) || !Array.isArray(f.S3Key.Rules)) return undefined;
    return {
      Key: {
        FilterRules: f.S3Key.Rules.filter(isRecord).map((rule) => ({
          Name: String(rule.Name).toLowerCase() as 'prefix' | 'suffix',
          Value: String(rule.Value),
        })),
      },
    };
  };
  const list = (key: string): Record<string, unknown>[] => (Array.isArray(config[key]) ? (config[key] as unknown[]).filter(isRecord) : []);
  const out: NotificationConfiguration = {};
  const queues = list('QueueConfigurations').map((c) => ({
    QueueArn: String(c.Queue),
    Events: [String(c.Event)] as NonNullable<NotificationConfiguration['QueueConfigurations']>[number]['Events'],
    Filter: filter(c.Filter),
  }));
  const topics = list('TopicConfigurations').map((c) => ({
    TopicArn: String(c.Topic),
    Events: [String(c.Event)] as NonNullable<NotificationConfiguration['TopicConfigurations']>[number]['Events'],
    Filter: filter(c.Filter),
  }));
  const lambdas = list('LambdaConfigurations').map((c) => ({
    LambdaFunctionArn: String(c.Function),
    Events: [String(c.Event)] as NonNullable<NotificationConfiguration['LambdaFunctionConfigurations']>[number]['Events'],
    Filter: filter(c.Filter),
  }));
  if (queues.length > 0) out.QueueConfigurations = queues;
  if (topics.length > 0) out.TopicConfigurations = topics;
  if (lambdas.length > 0) out.LambdaFunctionConfigurations = lambdas;
  if (isRecord(config.EventBridgeConfiguration)) out.EventBridgeConfiguration = {};
  return out;
}

const provisionBucket: Provisioner = async ({ logicalId, props, resolver, clients, warn, afterResources }) => {
  const name = resolver.physicalName(logicalId);
  const exists = await clients.s3
    .send(new HeadBucketCommand({ Bucket: name }))
    .then(() => true)
    .catch((error: unknown) => {
      if (/NotFound|NoSuchBucket|404/.test(errorName(error)) || (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
      throw error;
    });
  let status: ProvisionedResource['status'] = exists ? 'exists' : 'created';
  if (!exists) {
    try {
      await clients.s3.send(new CreateBucketCommand({ Bucket: name }));
    } catch (error) {
      if (!/BucketAlreadyOwnedByYou|BucketAlreadyExists/.test(errorName(error))) throw error;
      status = 'exists';
    }
  }
  if (isRecord(props.NotificationConfiguration)) {
    const config = notificationConfiguration(props.NotificationConfiguration);
    if (config.LambdaFunctionConfigurations) warn(`${logicalId}: S3 → Lambda notifications are not emulated (queue notifications are)`);
    // Its test event (s3:TestEvent) goes to the destinations through their policies' check: put once they all exist.
    afterResources(async () => {
      try {
        await clients.s3.send(new PutBucketNotificationConfigurationCommand({ Bucket: name, NotificationConfiguration: config }));
      } catch (error) {
        throw new ProvisionError(logicalId, 'AWS::S3::Bucket', error);
      }
    });
  }
  if (isRecord(props.LifecycleConfiguration) && Array.isArray(props.LifecycleConfiguration.Rules)) {
    const rules = props.LifecycleConfiguration.Rules.filter(isRecord).map((rule) => ({
      ID: rule.Id === undefined ? undefined : String(rule.Id),
      Status: String(rule.Status) as 'Enabled' | 'Disabled',
      Filter: { Prefix: rule.Prefix === undefined ? '' : String(rule.Prefix) },
      Expiration: rule.ExpirationInDays === undefined ? undefined : { Days: Number(rule.ExpirationInDays) },
    }));
    await clients.s3
      .send(new PutBucketLifecycleConfigurationCommand({ Bucket: name, LifecycleConfiguration: { Rules: rules } }))
      .catch((cause: unknown) => warn(`${logicalId}: lifecycle rules not applied locally: ${errorName(cause)}`));
  }
  return { physicalId: name, arn: `arn:aws:s3:::${name}`, status };
};

/** Shard count for ON_DEMAND streams: kinesalite has no on-demand mode (the package README, Known quirks). */
const ON_DEMAND_LOCAL_SHARDS = 4;

const provisionStream: Provisioner = async ({ logicalId, props, resolver, clients, target, warn }) => {
  const name = resolver.physicalName(logicalId);
  let shards = props.ShardCount === undefined ? 1 : Number(props.ShardCount);
  const mode = isRecord(props.StreamModeDetails) ? props.StreamModeDetails.StreamMode : undefined;
  if (mode === 'ON_DEMAND') {
    shards = ON_DEMAND_LOCAL_SHARDS;
    warn(`${logicalId}: kinesalite has no ON_DEMAND streams; created with ${ON_DEMAND_LOCAL_SHARDS} provisioned shards`);
  }
  let status: ProvisionedResource['status'] = 'created';
  try {
    await clients.kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  } catch (error) {
    if (!/ResourceInUse/.test(errorName(error))) throw error;
    status = 'exists';
  }
  await waitFor(async () => {
    const out = await clients.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    return out.StreamDescriptionSummary?.StreamStatus === 'ACTIVE';
  }, { what: `stream ${name} to be ACTIVE`, ...UNTIL_ACTIVE });
  const retention = props.RetentionPeriodHours === undefined ? undefined : Number(props.RetentionPeriodHours);
  if (retention !== undefined && retention > 24) {
    await clients.kinesis
      .send(new IncreaseStreamRetentionPeriodCommand({ StreamName: name, RetentionPeriodHours: retention }))
      .catch((cause: unknown) => {
        // Asking for the retention the stream already has is an error: only report other failures.
        if (!/InvalidArgument.*(same|less|greater)|already/i.test(errorName(cause))) warn(`${logicalId}: retention not applied: ${errorName(cause)}`);
      });
  }
  const arn = `arn:aws:kinesis:${target.region}:${target.accountId}:stream/${name}`;
  return { physicalId: name, arn, status };
};

const provisionTable: Provisioner = async ({ logicalId, props, resolver, clients, target, warn }) => {
  const name = resolver.physicalName(logicalId);
  const onDemand = props.BillingMode === 'PAY_PER_REQUEST';
  const throughput = (value: unknown): { ReadCapacityUnits: number; WriteCapacityUnits: number } | undefined =>
    onDemand ? undefined : isRecord(value) ? { ReadCapacityUnits: Number(value.ReadCapacityUnits), WriteCapacityUnits: Number(value.WriteCapacityUnits) } : { ReadCapacityUnits: 5, WriteCapacityUnits: 5 };
  const indexes = (value: unknown, global: boolean): Record<string, unknown>[] | undefined =>
    Array.isArray(value) && value.length > 0
      ? value.filter(isRecord).map((index) => ({
          IndexName: index.IndexName,
          KeySchema: index.KeySchema,
          Projection: index.Projection,
          ...(global ? { ProvisionedThroughput: throughput(index.ProvisionedThroughput) } : {}),
        }))
      : undefined;
  const input = {
    TableName: name,
    KeySchema: props.KeySchema,
    AttributeDefinitions: props.AttributeDefinitions,
    BillingMode: onDemand ? 'PAY_PER_REQUEST' : 'PROVISIONED',
    ProvisionedThroughput: throughput(props.ProvisionedThroughput),
    GlobalSecondaryIndexes: indexes(props.GlobalSecondaryIndexes, true),
    LocalSecondaryIndexes: indexes(props.LocalSecondaryIndexes, false),
  } as CreateTableCommandInput;
  if (props.StreamSpecification) warn(`${logicalId}: DynamoDB Streams are not emulated (dynalite has none)`);
  let status: ProvisionedResource['status'] = 'created';
  try {
    await clients.dynamodb.send(new CreateTableCommand(input));
  } catch (error) {
    if (!/ResourceInUse/.test(errorName(error))) throw error;
    status = 'exists';
  }
  await waitFor(async () => {
    const out = await clients.dynamodb.send(new DescribeTableCommand({ TableName: name }));
    return out.Table?.TableStatus === 'ACTIVE';
  }, { what: `table ${name} to be ACTIVE`, ...UNTIL_ACTIVE });
  const ttl = isRecord(props.TimeToLiveSpecification) ? props.TimeToLiveSpecification : undefined;
  if (ttl && (ttl.Enabled === true || ttl.Enabled === 'true')) {
    // The edge keeps TTL settings and expires items (edge/dynamodb-ttl.ts). A table that exists already may have it
    // (ValidationException "TimeToLive is already enabled"), or predate the edge's TTL: apply it either way.
    await clients.dynamodb
      .send(new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: { AttributeName: String(ttl.AttributeName), Enabled: true } }))
      .catch((cause: unknown) => {
        if (/already enabled/.test((cause as Error).message)) return;
        warn(`${logicalId}: TTL not applied locally: ${errorName(cause)}: ${(cause as Error).message}`);
      });
  }
  const arn = `arn:aws:dynamodb:${target.region}:${target.accountId}:table/${name}`;
  return { physicalId: name, arn, status };
};

const provisionDeliveryStream: Provisioner = async ({ logicalId, props, resolver, clients, target }) => {
  const name = resolver.physicalName(logicalId);
  // The CloudFormation properties are the CreateDeliveryStream input, name for name.
  const input = { ...props, DeliveryStreamName: name, Tags: tagList(props) } as CreateDeliveryStreamCommandInput;
  let status: ProvisionedResource['status'] = 'created';
  try {
    await clients.firehose.send(new CreateDeliveryStreamCommand(input));
  } catch (error) {
    if (!/ResourceInUse/.test(errorName(error))) throw error;
    status = 'exists';
  }
  const arn = `arn:aws:firehose:${target.region}:${target.accountId}:deliverystream/${name}`;
  return { physicalId: name, arn, status };
};

/** The CloudFormation properties are the CreateDatabase input (the local Glue Data Catalog, glue/catalog.ts). */
const provisionGlueDatabase: Provisioner = async ({ logicalId, props, resolver, clients, target }) => {
  const name = resolver.identity(logicalId).ref;
  let status: ProvisionedResource['status'] = 'created';
  try {
    await clients.glue.send(new glue.CreateDatabaseCommand(props as unknown as glue.CreateDatabaseCommandInput));
  } catch (error) {
    if (!(error instanceof glue.AlreadyExistsException)) throw error;
    status = 'exists';
  }
  return { physicalId: name, arn: `arn:aws:glue:${target.region}:${target.accountId}:database/${name}`, status };
};

/** CreateTable with the template's TableInput; a table from an earlier run takes the template's columns (UpdateTable). */
const provisionGlueTable: Provisioner = async ({ logicalId, props, resolver, clients, target }) => {
  const name = resolver.identity(logicalId).ref;
  const input = props as unknown as glue.UpdateTableCommandInput;
  let status: ProvisionedResource['status'] = 'created';
  try {
    await clients.glue.send(new glue.CreateTableCommand(input));
  } catch (error) {
    if (!(error instanceof glue.AlreadyExistsException)) throw error;
    await clients.glue.send(new glue.UpdateTableCommand(input));
    status = 'exists';
  }
  return { physicalId: name, arn: `arn:aws:glue:${target.region}:${target.accountId}:table/${String(input.DatabaseName)}/${name}`, status };
};

const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const UPPER = LOWER.toUpperCase();
const DIGITS = '0123456789';
const PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

/**
 * The value CloudFormation generates for `GenerateSecretString` (CloudFormation reference,
 * AWS::SecretsManager::Secret GenerateSecretString): PasswordLength characters (32 by default) from the included
 * types less ExcludeCharacters, one of each included type when RequireEachIncludedType (the default); with
 * SecretStringTemplate and GenerateStringKey, that JSON with the password under the key. Random: crypto.randomInt.
 */
function generateSecretString(options: Record<string, unknown>): string {
  const excluded = new Set(String(options.ExcludeCharacters ?? ''));
  const types = [
    options.ExcludeLowercase === true ? '' : LOWER,
    options.ExcludeUppercase === true ? '' : UPPER,
    options.ExcludeNumbers === true ? '' : DIGITS,
    options.ExcludePunctuation === true ? '' : PUNCTUATION,
    options.IncludeSpace === true ? ' ' : '',
  ]
    .map((chars) => [...chars].filter((char) => !excluded.has(char)).join(''))
    .filter((chars) => chars.length > 0);
  const length = Number(options.PasswordLength ?? 32);
  if (types.length === 0 || !Number.isInteger(length) || length < types.length || length > 4096) {
    throw new Error(`GenerateSecretString: cannot make ${length} characters from the included types`);
  }
  const pick = (chars: string): string => chars[randomInt(chars.length)] as string;
  const all = types.join('');
  const chars = options.RequireEachIncludedType === false ? [] : types.map(pick);
  while (chars.length < length) chars.push(pick(all));
  for (let i = chars.length - 1; i > 0; i -= 1) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j] as string, chars[i] as string];
  }
  const password = chars.join('');
  if (typeof options.GenerateStringKey === 'string' && typeof options.SecretStringTemplate === 'string') {
    return JSON.stringify({ ...(JSON.parse(options.SecretStringTemplate) as Record<string, unknown>), [options.GenerateStringKey]: password });
  }
  return password;
}

/** A secret keeps its first value: a restart finds it (ResourceExistsException) and generates nothing. */
const provisionSecret: Provisioner = async ({ logicalId, props, resolver, clients }) => {
  const name = resolver.physicalName(logicalId);
  let status: ProvisionedResource['status'] = 'created';
  try {
    const secretString = typeof props.SecretString === 'string' ? props.SecretString : generateSecretString(isRecord(props.GenerateSecretString) ? props.GenerateSecretString : {});
    await clients.secretsManager.send(new CreateSecretCommand({ Name: name, SecretString: secretString, ...(typeof props.Description === 'string' ? { Description: props.Description } : {}) }));
  } catch (error) {
    if (!/ResourceExists/.test(errorName(error))) throw error;
    status = 'exists';
  }
  const arn = resolver.identity(logicalId).ref;
  return { physicalId: arn, arn, status };
};

const PROVISIONERS: Record<string, Provisioner> = {
  'AWS::SQS::Queue': provisionQueue,
  'AWS::SNS::Topic': provisionTopic,
  'AWS::SNS::Subscription': provisionSubscription,
  'AWS::S3::Bucket': provisionBucket,
  'AWS::Kinesis::Stream': provisionStream,
  'AWS::DynamoDB::Table': provisionTable,
  'AWS::KinesisFirehose::DeliveryStream': provisionDeliveryStream,
  'AWS::Glue::Database': provisionGlueDatabase,
  'AWS::Glue::Table': provisionGlueTable,
  'AWS::SecretsManager::Secret': provisionSecret,
};

/** Groups resources into waves: each wave only references resources of earlier waves. */
function waves(resolver: TemplateResolver): string[][] {
  const resources = resolver.template.Resources;
  const depth = new Map<string, number>();
  for (const id of dependencyOrder(resolver.template)) {
    const resource = resources[id];
    const deps = referencedResources(resource?.Properties ?? {}, resources);
    const dependsOn = resource?.DependsOn === undefined ? [] : Array.isArray(resource.DependsOn) ? resource.DependsOn : [resource.DependsOn];
    for (const dep of dependsOn) deps.add(dep);
    deps.delete(id);
    depth.set(id, Math.max(0, ...[...deps].map((d) => (depth.get(d) ?? 0) + 1)));
  }
  const out: string[][] = [];
  for (const [id, d] of depth) (out[d] ??= []).push(id);
  return out.filter((wave) => wave !== undefined);
}

/**
 * Creates every supported resource in dependency order (independent resources in parallel),
 * recording each physical identity in the resolver so later Refs see the real values. Bucket notification
 * configurations are put last, after `beforeNotifications` (the local cloud loads IAM there, so the test event S3
 * sends to each new destination is checked against the destination's policy like every later notification).
 */
async function provision(
  resolver: TemplateResolver,
  target: AwsTarget,
  warn: (message: string) => void = () => {},
  options: { listNotEmulated?: boolean; beforeNotifications?: () => Promise<void> } = {},
): Promise<ProvisionResult> {
  const clients = createClients(target);
  const resources: Record<string, ProvisionedResource> = {};
  const afterResources: (() => Promise<void>)[] = [];
  const notEmulated: string[] = [];
  const warnings: string[] = [];
  const collect = (message: string): void => {
    warnings.push(message);
    warn(message);
  };
  try {
    for (const wave of waves(resolver)) {
      await Promise.all(
        wave.map(async (logicalId) => {
          const resource = resolver.resource(logicalId);
          const type = resource.Type;
          const identity = (): ProvisionedResource => {
            const id = resolver.identity(logicalId);
            return { logicalId, type, physicalId: id.ref, arn: id.attributes.Arn, status: 'runtime' };
          };
          if (!resolver.isActive(logicalId)) {
            resources[logicalId] = { ...identity(), status: 'skipped' };
            return;
          }
          const provisioner = PROVISIONERS[type];
          if (provisioner) {
            const props = (resolver.resolve(resource.Properties ?? {}, `Resources.${logicalId}.Properties`) ?? {}) as Record<string, unknown>;
            try {
              const done = await provisioner({ logicalId, type, props, resolver, clients, target, warn: collect, afterResources: (step) => afterResources.push(step) });
              resources[logicalId] = { logicalId, type, ...done };
            } catch (error) {
              throw new ProvisionError(logicalId, type, error);
            }
          } else if (RUNTIME_TYPES.has(type)) {
            resources[logicalId] = identity();
          } else if (NOT_EMULATED_TYPES.has(type)) {
            notEmulated.push(`${logicalId} (${type})`);
            resources[logicalId] = { ...identity(), status: 'not-emulated' };
          } else {
            collect(`unknown resource type ${type} for ${logicalId}: not created locally`);
            resources[logicalId] = { ...identity(), status: 'unknown-type' };
          }
        }),
      );
    }
    await options.beforeNotifications?.();
    await Promise.all(afterResources.map((step) => step()));
  } finally {
    destroyClients(clients);
  }
  // The local cloud prints its own summary (counts per type); callers of provision() alone get the list.
  if (notEmulated.length > 0 && options.listNotEmulated !== false) warn(`not emulated: ${notEmulated.sort().join(', ')}`);
  return { resources, notEmulated, warnings };
}

export { provision };
export type { AwsTarget, ProvisionResult };
