/**
 * S3 event notifications, as pure functions: the bucket notification configuration (parse,
 * validate, serialize), which destinations an event goes to, and the event documents S3 sends.
 *
 * fauxqs stores nothing for `PutBucketNotificationConfiguration`, so the edge keeps the
 * configuration and calls these functions after every successful write (see `edge.ts`).
 * Formats follow https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
 */
import { randomBytes } from 'node:crypto';
import { AwsApiError } from '../util/errors.ts';
import { escapeXml, unescapeXml, xmlElements, xmlText } from '../util/xml.ts';

interface S3FilterRule {
  Name: string;
  Value: string;
}

interface S3NotificationFilter {
  Key?: { FilterRules?: S3FilterRule[] };
}

interface QueueConfiguration {
  Id?: string;
  QueueArn: string;
  Events: string[];
  Filter?: S3NotificationFilter;
}

interface TopicConfiguration {
  Id?: string;
  TopicArn: string;
  Events: string[];
  Filter?: S3NotificationFilter;
}

interface LambdaFunctionConfiguration {
  Id?: string;
  LambdaFunctionArn: string;
  Events: string[];
  Filter?: S3NotificationFilter;
}

/** Same shape as the SDK's `NotificationConfiguration`. */
interface NotificationConfiguration {
  QueueConfigurations: QueueConfiguration[];
  TopicConfigurations: TopicConfiguration[];
  LambdaFunctionConfigurations: LambdaFunctionConfiguration[];
  EventBridgeConfiguration?: Record<string, never>;
}

/** One place an event goes to. */
interface NotificationTarget {
  kind: 'queue' | 'topic' | 'lambda';
  arn: string;
  configurationId: string;
}

/** The event names S3 emits (without the `s3:` prefix of the configuration). */
type S3EventName =
  | 'ObjectCreated:Put'
  | 'ObjectCreated:Post'
  | 'ObjectCreated:Copy'
  | 'ObjectCreated:CompleteMultipartUpload'
  | 'ObjectRemoved:Delete';

interface S3EventInput {
  region: string;
  eventName: S3EventName;
  eventTime: Date;
  bucket: string;
  /** The raw object key; it is URL-encoded in the record. */
  key: string;
  /** Absent for removal events, like AWS. */
  size?: number;
  /** With or without the surrounding quotes; the record carries it without. */
  eTag?: string;
  sequencer: string;
  configurationId: string;
  requestId: string;
  hostId: string;
  sourceIpAddress: string;
  principalId: string;
}

interface S3EventRecord {
  eventVersion: '2.1';
  eventSource: 'aws:s3';
  awsRegion: string;
  eventTime: string;
  eventName: S3EventName;
  userIdentity: { principalId: string };
  requestParameters: { sourceIPAddress: string };
  responseElements: { 'x-amz-request-id': string; 'x-amz-id-2': string };
  s3: {
    s3SchemaVersion: '1.0';
    configurationId: string;
    bucket: { name: string; ownerIdentity: { principalId: string }; arn: string };
    object: { key: string; size?: number; eTag?: string; sequencer: string };
  };
}

interface S3TestEvent {
  Service: 'Amazon S3';
  Event: 's3:TestEvent';
  Time: string;
  Bucket: string;
  RequestId: string;
  HostId: string;
}

/** Event types S3 accepts in a notification configuration (the SDK's `Event` enum). */
const SUPPORTED_EVENTS = new Set([
  's3:ReducedRedundancyLostObject',
  's3:ObjectCreated:*',
  's3:ObjectCreated:Put',
  's3:ObjectCreated:Post',
  's3:ObjectCreated:Copy',
  's3:ObjectCreated:CompleteMultipartUpload',
  's3:ObjectRemoved:*',
  's3:ObjectRemoved:Delete',
  's3:ObjectRemoved:DeleteMarkerCreated',
  's3:ObjectRestore:*',
  's3:ObjectRestore:Post',
  's3:ObjectRestore:Completed',
  's3:ObjectRestore:Delete',
  's3:Replication:*',
  's3:Replication:OperationFailedReplication',
  's3:Replication:OperationNotTracked',
  's3:Replication:OperationMissedThreshold',
  's3:Replication:OperationReplicatedAfterThreshold',
  's3:LifecycleExpiration:*',
  's3:LifecycleExpiration:Delete',
  's3:LifecycleExpiration:DeleteMarkerCreated',
  's3:LifecycleTransition',
  's3:IntelligentTiering',
  's3:ObjectTagging:*',
  's3:ObjectTagging:Put',
  's3:ObjectTagging:Delete',
  's3:ObjectAcl:Put',
]);

const S3_XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';

function emptyNotificationConfiguration(): NotificationConfiguration {
  return { QueueConfigurations: [], TopicConfigurations: [], LambdaFunctionConfigurations: [] };
}

function parseFilter(xml: string): S3NotificationFilter | undefined {
  const [filter] = xmlElements(xml, 'Filter');
  if (filter === undefined) return undefined;
  const FilterRules = xmlElements(filter, 'FilterRule').map((rule) => ({
    Name: xmlText(rule, 'Name') ?? '',
    Value: xmlText(rule, 'Value') ?? '',
  }));
  return { Key: { FilterRules } };
}

function parseCommon(xml: string): { Id?: string; Events: string[]; Filter?: S3NotificationFilter } {
  const id = xmlText(xml, 'Id');
  const filter = parseFilter(xml);
  return {
    ...(id === undefined ? {} : { Id: id }),
    Events: xmlElements(xml, 'Event').map((event) => unescapeXml(event.trim())),
    ...(filter === undefined ? {} : { Filter: filter }),
  };
}

/**
 * Parses the body of `PutBucketNotificationConfiguration` (element names as the SDK writes them:
 * `QueueConfiguration/Queue`, `TopicConfiguration/Topic`, `CloudFunctionConfiguration/CloudFunction`).
 */
function parseNotificationConfigurationXml(xml: string): NotificationConfiguration {
  const configuration = emptyNotificationConfiguration();
  for (const element of xmlElements(xml, 'QueueConfiguration')) {
    configuration.QueueConfigurations.push({ ...parseCommon(element), QueueArn: xmlText(element, 'Queue') ?? '' });
  }
  for (const element of xmlElements(xml, 'TopicConfiguration')) {
    configuration.TopicConfigurations.push({ ...parseCommon(element), TopicArn: xmlText(element, 'Topic') ?? '' });
  }
  for (const element of xmlElements(xml, 'CloudFunctionConfiguration')) {
    configuration.LambdaFunctionConfigurations.push({
      ...parseCommon(element),
      LambdaFunctionArn: xmlText(element, 'CloudFunction') ?? '',
    });
  }
  if (xmlElements(xml, 'EventBridgeConfiguration').length > 0) configuration.EventBridgeConfiguration = {};
  return configuration;
}

function serializeCommon(configuration: { Id?: string; Events: string[]; Filter?: S3NotificationFilter }): string {
  const rules = configuration.Filter?.Key?.FilterRules ?? [];
  const filter =
    rules.length === 0
      ? ''
      : `<Filter><S3Key>${rules
          .map((rule) => `<FilterRule><Name>${escapeXml(rule.Name)}</Name><Value>${escapeXml(rule.Value)}</Value></FilterRule>`)
          .join('')}</S3Key></Filter>`;
  return [
    configuration.Id === undefined ? '' : `<Id>${escapeXml(configuration.Id)}</Id>`,
    ...configuration.Events.map((event) => `<Event>${escapeXml(event)}</Event>`),
    filter,
  ].join('');
}

/** The body of `GetBucketNotificationConfiguration`. */
function serializeNotificationConfigurationXml(configuration: NotificationConfiguration): string {
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<NotificationConfiguration xmlns="${S3_XMLNS}">`,
    ...configuration.TopicConfigurations.map(
      (topic) => `<TopicConfiguration>${serializeCommon(topic)}<Topic>${escapeXml(topic.TopicArn)}</Topic></TopicConfiguration>`,
    ),
    ...configuration.QueueConfigurations.map(
      (queue) => `<QueueConfiguration>${serializeCommon(queue)}<Queue>${escapeXml(queue.QueueArn)}</Queue></QueueConfiguration>`,
    ),
    ...configuration.LambdaFunctionConfigurations.map(
      (lambda) =>
        `<CloudFunctionConfiguration>${serializeCommon(lambda)}<CloudFunction>${escapeXml(lambda.LambdaFunctionArn)}</CloudFunction></CloudFunctionConfiguration>`,
    ),
    configuration.EventBridgeConfiguration === undefined ? '' : '<EventBridgeConfiguration></EventBridgeConfiguration>',
    '</NotificationConfiguration>',
  ].join('');
}

function allEntries(
  configuration: NotificationConfiguration,
): Array<{ kind: NotificationTarget['kind']; arn: string; entry: QueueConfiguration | TopicConfiguration | LambdaFunctionConfiguration }> {
  return [
    ...configuration.QueueConfigurations.map((entry) => ({ kind: 'queue' as const, arn: entry.QueueArn, entry })),
    ...configuration.TopicConfigurations.map((entry) => ({ kind: 'topic' as const, arn: entry.TopicArn, entry })),
    ...configuration.LambdaFunctionConfigurations.map((entry) => ({
      kind: 'lambda' as const,
      arn: entry.LambdaFunctionArn,
      entry,
    })),
  ];
}

function filterValue(filter: S3NotificationFilter | undefined, name: 'prefix' | 'suffix'): string {
  const rule = filter?.Key?.FilterRules?.find((candidate) => candidate.Name.toLowerCase() === name);
  return rule?.Value ?? '';
}

/** Does configured event `pattern` (`s3:ObjectCreated:*`) cover `other` (or the reverse)? */
function eventsOverlap(left: string, right: string): boolean {
  const covers = (pattern: string, event: string): boolean =>
    pattern === event || (pattern.endsWith(':*') && event.startsWith(pattern.slice(0, -1)));
  return covers(left, right) || covers(right, left);
}

/**
 * Validates a configuration the way S3 does before storing it:
 * - every event is a supported type;
 * - filter rules are named `prefix` or `suffix`, at most one of each;
 * - "Configurations overlap. Configurations on the same bucket cannot share a common event type."
 *   when two entries share an event type and their prefix/suffix filters can match the same key
 *   (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-filtering.html).
 * @throws AwsApiError `InvalidArgument`
 */
function validateNotificationConfiguration(configuration: NotificationConfiguration): void {
  const entries = allEntries(configuration);
  for (const { kind, arn, entry } of entries) {
    if (!/^arn:[^:]+:(sqs|sns|lambda):[^:]*:[^:]*:.+$/.test(arn)) {
      throw new AwsApiError('InvalidArgument', `The ${kind} ARN is not valid: ${JSON.stringify(arn)}`);
    }
    if (entry.Events.length === 0) {
      throw new AwsApiError('InvalidArgument', `The notification configuration for ${arn} has no Event`);
    }
    for (const event of entry.Events) {
      if (!SUPPORTED_EVENTS.has(event)) {
        throw new AwsApiError('InvalidArgument', `The event is not supported for notifications: ${event}`);
      }
    }
    const names = (entry.Filter?.Key?.FilterRules ?? []).map((rule) => rule.Name.toLowerCase());
    for (const name of names) {
      if (name !== 'prefix' && name !== 'suffix') {
        throw new AwsApiError('InvalidArgument', `filter rule name must be either prefix or suffix, got ${JSON.stringify(name)}`);
      }
    }
    if (new Set(names).size !== names.length) {
      throw new AwsApiError('InvalidArgument', `Cannot specify more than one prefix or suffix rule in a filter (${arn})`);
    }
  }
  for (const [index, left] of entries.entries()) {
    for (const right of entries.slice(index + 1)) {
      const sharesEvent = left.entry.Events.some((a) => right.entry.Events.some((b) => eventsOverlap(a, b)));
      const [leftPrefix, rightPrefix] = [filterValue(left.entry.Filter, 'prefix'), filterValue(right.entry.Filter, 'prefix')];
      const [leftSuffix, rightSuffix] = [filterValue(left.entry.Filter, 'suffix'), filterValue(right.entry.Filter, 'suffix')];
      const prefixesOverlap = leftPrefix.startsWith(rightPrefix) || rightPrefix.startsWith(leftPrefix);
      const suffixesOverlap = leftSuffix.endsWith(rightSuffix) || rightSuffix.endsWith(leftSuffix);
      if (sharesEvent && prefixesOverlap && suffixesOverlap) {
        throw new AwsApiError(
          'InvalidArgument',
          'Configurations overlap. Configurations on the same bucket cannot share a common event type.',
        );
      }
    }
  }
}

/** S3 gives every entry without an `Id` a generated one, returned by Get and sent in events. */
function withConfigurationIds(
  configuration: NotificationConfiguration,
  newId: () => string = defaultConfigurationId,
): NotificationConfiguration {
  const assign = <T extends { Id?: string }>(entry: T): T => ({ ...entry, Id: entry.Id ?? newId() });
  return {
    ...configuration,
    QueueConfigurations: configuration.QueueConfigurations.map(assign),
    TopicConfigurations: configuration.TopicConfigurations.map(assign),
    LambdaFunctionConfigurations: configuration.LambdaFunctionConfigurations.map(assign),
  };
}

function defaultConfigurationId(): string {
  return randomBytes(36).toString('base64').replace(/[+/=]/g, '').slice(0, 48);
}

/** `s3:ObjectCreated:*` and `s3:ObjectCreated:Put` both match the event `ObjectCreated:Put`. */
function eventMatches(configuredEvents: readonly string[], eventName: S3EventName): boolean {
  const qualified = `s3:${eventName}`;
  return configuredEvents.some(
    (configured) => configured === qualified || (configured.endsWith(':*') && qualified.startsWith(configured.slice(0, -1))),
  );
}

/**
 * Prefix/suffix rules match the object key. AWS asks for special characters in rule values to be
 * URL-encoded, so a rule matches either the raw key or its event encoding.
 */
function keyMatchesFilter(filter: S3NotificationFilter | undefined, key: string): boolean {
  const prefix = filterValue(filter, 'prefix');
  const suffix = filterValue(filter, 'suffix');
  const matches = (candidate: string): boolean => candidate.startsWith(prefix) && candidate.endsWith(suffix);
  return matches(key) || matches(encodeS3EventKey(key));
}

/** The destinations of one event, in configuration order (topics, queues, functions). */
function matchingTargets(configuration: NotificationConfiguration, eventName: S3EventName, key: string): NotificationTarget[] {
  return allEntries(configuration)
    .filter(({ entry }) => eventMatches(entry.Events, eventName) && keyMatchesFilter(entry.Filter, key))
    .map(({ kind, arn, entry }) => ({ kind, arn, configurationId: entry.Id ?? '' }));
}

/**
 * Encodes a key like the `s3.object.key` of an event: `application/x-www-form-urlencoded`
 * (Java `URLEncoder`: letters, digits and `.-*_` kept, space as `+`, UTF-8 percent-encoding
 * elsewhere) except `/`, which stays. `red flower.jpg` → `red+flower.jpg`, `year=2024/` →
 * `year%3D2024/`.
 */
function encodeS3EventKey(key: string): string {
  let encoded = '';
  for (const byte of Buffer.from(key, 'utf8')) {
    const character = String.fromCharCode(byte);
    if (/[A-Za-z0-9.\-*_/]/.test(character)) encoded += character;
    else if (character === ' ') encoded += '+';
    else encoded += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return encoded;
}

/**
 * A sequencer source: upper-case hex strings that grow with every call, across restarts too
 * (time-based), padded to one length so string order is numeric order.
 */
function createSequencer(now: () => number = Date.now): () => string {
  let last = 0n;
  return () => {
    const candidate = BigInt(now()) * 1_000_000n;
    last = candidate > last ? candidate : last + 1n;
    return last.toString(16).toUpperCase().padStart(18, '0');
  };
}

function bucketArn(bucket: string): string {
  return `arn:aws:s3:::${bucket}`;
}

/** One record of an S3 event notification, event structure version 2.1. */
function buildS3EventRecord(input: S3EventInput): S3EventRecord {
  const object: S3EventRecord['s3']['object'] = { key: encodeS3EventKey(input.key), sequencer: input.sequencer };
  if (input.size !== undefined) object.size = input.size;
  if (input.eTag !== undefined) object.eTag = input.eTag.replace(/^"|"$/g, '');
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: input.region,
    eventTime: input.eventTime.toISOString(),
    eventName: input.eventName,
    userIdentity: { principalId: input.principalId },
    requestParameters: { sourceIPAddress: input.sourceIpAddress },
    responseElements: { 'x-amz-request-id': input.requestId, 'x-amz-id-2': input.hostId },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: input.configurationId,
      bucket: { name: input.bucket, ownerIdentity: { principalId: input.principalId }, arn: bucketArn(input.bucket) },
      object,
    },
  };
}

/** The message body S3 sends: one record per message. */
function buildS3Event(input: S3EventInput): { Records: S3EventRecord[] } {
  return { Records: [buildS3EventRecord(input)] };
}

/** The message S3 sends to every SQS/SNS destination when a configuration is stored. */
function buildS3TestEvent(input: { bucket: string; time: Date; requestId: string; hostId: string }): S3TestEvent {
  return {
    Service: 'Amazon S3',
    Event: 's3:TestEvent',
    Time: input.time.toISOString(),
    Bucket: input.bucket,
    RequestId: input.requestId,
    HostId: input.hostId,
  };
}

export {
  buildS3Event,
  buildS3TestEvent,
  createSequencer,
  emptyNotificationConfiguration,
  encodeS3EventKey,
  matchingTargets,
  parseNotificationConfigurationXml,
  serializeNotificationConfigurationXml,
  validateNotificationConfiguration,
  withConfigurationIds,
};
export type {
  NotificationConfiguration,
  NotificationTarget,
  S3EventName,
  S3EventRecord,
};
