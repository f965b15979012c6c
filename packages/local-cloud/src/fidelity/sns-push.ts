/**
 * SNS subscriptions that are not queues: `http`/`https` endpoints and `lambda` functions. fauxqs 2.4.1 stores them
 * (unconfirmed, Token = its ARN) but delivers to `sqs` only (its publish skips every other protocol); the edge hands
 * SNS requests here first, and this delivers the rest as SNS does:
 *
 * - Subscribe `http`/`https`: SNS POSTs a SubscriptionConfirmation (Token, SubscribeURL) to the endpoint; the
 *   subscription stays PendingConfirmation until ConfirmSubscription with that token, by the SDK or by a GET of the
 *   SubscribeURL (SNS developer guide, "Confirm your subscription" for HTTP/S). Answers "pending confirmation" for its
 *   ARN unless ReturnSubscriptionArn is true, as SNS does.
 * - Subscribe `lambda`: confirmed at once (same account).
 * - Publish/PublishBatch to a standard topic: each confirmed subscription whose filter policy matches (fauxqs' own
 *   matcher) gets the message. HTTP/S: a POST with SNS's JSON and headers (x-amz-sns-message-type, -message-id,
 *   -topic-arn, -subscription-arn), signed (sns-signing.ts) with SigningCertURL on the edge; raw delivery posts the
 *   body alone. Lambda: an asynchronous invoke with SNS's event (Records[].EventSource aws:sns, .Sns).
 * - Retries (HTTP/S): the subscription's DeliveryPolicy.healthyRetryPolicy, else the topic's
 *   `http.defaultHealthyRetryPolicy`, else SNS's default (3 retries 20 s apart: SNS developer guide, "Set the
 *   delivery policy"); its four phases as on "Amazon SNS message delivery retries". A 5xx, a 429, no answer, or no
 *   answer within 15 s (this emulator's bound) is retried; another 4xx is a client-side error, not retried. When a
 *   message is given up, it goes to the subscription's RedrivePolicy DLQ (SNS developer guide, "Amazon SNS
 *   dead-letter queues") with attributes ErrorCode and ErrorMessage, else it is dropped and logged.
 *
 * - Policies: a Lambda function is invoked only where its resource policy allows the topic, a given-up message moves
 *   to the DLQ only where the DLQ's queue policy allows it (`allowsDelivery`, edge/iam.ts under `--iam`).
 * - Subscribe `firehose` (Endpoint a delivery stream's ARN): needs the SubscriptionRoleArn attribute, the role SNS
 *   assumes to put records (SNS developer guide, "Prerequisites for subscribing Firehose delivery streams to Amazon
 *   SNS topics"); confirmed at once (same account). Each message becomes one PutRecord on the local Firehose: the
 *   body alone with raw delivery (message attributes are not sent), else SNS's JSON (Type, MessageId, TopicArn,
 *   Subject, Message, Timestamp, UnsubscribeURL, MessageAttributes: "Formatting Amazon SNS notifications for storage
 *   in Amazon S3 destinations"). Before each put the role is checked (`authorizeRole`, the IAM guard): its trust
 *   policy must let sns.amazonaws.com assume it and its policies allow firehose:PutRecord on the stream. A refusal
 *   or a missing stream is a client-side error: not retried, moved to the subscription's DLQ or dropped, logged and
 *   kept in `deliveries()` with the reason (SNS developer guide, "Amazon SNS dead-letter queues": permission
 *   changes and deleted endpoints are client-side errors, not retried).
 *
 * FIFO topics deliver to SQS only (SNS developer guide, "FIFO topics"): a non-SQS Subscribe to one is refused.
 * Differences from AWS, written down: the backoff curves are this emulator's (AWS documents the phases and bounds,
 * not the formulas; and SNS adds jitter); retries in progress live in memory and end with the local cloud; a Lambda
 * function's error is logged, Lambda's own asynchronous retries are not emulated.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { BufferedResponse } from '../edge/proxy.ts';
import { escapeXml, xmlElements, xmlText } from '../util/xml.ts';
import { snsSigner, type SnsSigner } from './sns-signing.ts';

const PUSH_PROTOCOLS = new Set(['http', 'https', 'lambda', 'firehose']);
/** Confirmed at once: the endpoint is the subscriber's own account's (a function, a delivery stream). */
const SAME_ACCOUNT_PROTOCOLS = new Set(['lambda', 'firehose']);
const DELIVERY_STREAM_ARN = /^arn:[a-z-]+:firehose:[a-z0-9-]+:\d{12}:deliverystream\/([a-zA-Z0-9_.-]{1,64})$/;
/** How long subscriptions and topic attributes read from fauxqs are trusted (changes through the edge forget them). */
const CACHE_TTL_MS = 5_000;
const ATTEMPT_TIMEOUT_MS = 15_000;
const SNS_XMLNS = 'http://sns.amazonaws.com/doc/2010-03-31/';
const CERT_PATH = '/_aws/sns/SimpleNotificationService-local.pem';

interface RetryPolicy {
  minDelayTarget: number;
  maxDelayTarget: number;
  numRetries: number;
  numNoDelayRetries: number;
  numMinDelayRetries: number;
  numMaxDelayRetries: number;
  backoffFunction: 'linear' | 'arithmetic' | 'geometric' | 'exponential';
}

/** SNS's default HTTP/S policy: 3 retries, 20 s apart (SNS developer guide, "Set the delivery policy"). */
const DEFAULT_RETRY_POLICY: RetryPolicy = {
  minDelayTarget: 20,
  maxDelayTarget: 20,
  numRetries: 3,
  numNoDelayRetries: 0,
  numMinDelayRetries: 0,
  numMaxDelayRetries: 0,
  backoffFunction: 'linear',
};

/** How far from min to max delay the backoff is at x in (0, 1]: this emulator's curves, increasing, all ending at 1. */
const BACKOFF: Record<RetryPolicy['backoffFunction'], (x: number) => number> = {
  linear: (x) => x,
  arithmetic: (x) => (x * (x + 1)) / 2,
  geometric: (x) => x ** 2,
  exponential: (x) => (2 ** (6 * x) - 1) / (2 ** 6 - 1),
};

/**
 * The seconds before each retry: immediate retries, then min-delay ones, the backoff from min to max, then
 * max-delay ones (SNS developer guide, "Amazon SNS message delivery retries", "Delivery policy stages").
 */
function retryDelays(policy: RetryPolicy): number[] {
  const { minDelayTarget: min, maxDelayTarget: max, numRetries, numNoDelayRetries, numMinDelayRetries, numMaxDelayRetries } = policy;
  const backoffRetries = Math.max(0, numRetries - numNoDelayRetries - numMinDelayRetries - numMaxDelayRetries);
  const curve = BACKOFF[policy.backoffFunction] ?? BACKOFF.linear;
  const delays = [
    ...Array.from({ length: numNoDelayRetries }, () => 0),
    ...Array.from({ length: numMinDelayRetries }, () => min),
    ...Array.from({ length: backoffRetries }, (_, index) => min + (max - min) * curve((index + 1) / backoffRetries)),
    ...Array.from({ length: numMaxDelayRetries }, () => max),
  ];
  return delays.slice(0, numRetries).map((seconds) => Math.round(seconds * 1000) / 1000);
}

/** A healthyRetryPolicy from a subscription's DeliveryPolicy or a topic's (`http.defaultHealthyRetryPolicy`). */
function retryPolicyOf(subscriptionPolicy: string | undefined, topicPolicy: string | undefined): RetryPolicy {
  const parse = (text: string | undefined): Record<string, unknown> | undefined => {
    try {
      return text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  };
  const own = parse(subscriptionPolicy)?.healthyRetryPolicy as Partial<RetryPolicy> | undefined;
  const topic = (parse(topicPolicy)?.http as { defaultHealthyRetryPolicy?: Partial<RetryPolicy> } | undefined)?.defaultHealthyRetryPolicy;
  return { ...DEFAULT_RETRY_POLICY, ...(own ?? topic ?? {}) };
}

interface PushSubscription {
  arn: string;
  topicArn: string;
  protocol: string;
  endpoint: string;
  attributes: Record<string, string>;
}

interface TopicState {
  at: number;
  subscriptions: PushSubscription[];
  /** The topic's DeliveryPolicy attribute (JSON), if set. */
  deliveryPolicy?: string;
  /** The topic's SignatureVersion attribute: '1' (SHA1withRSA, SNS's default) or '2' (SHA256withRSA). */
  signatureVersion: '1' | '2';
}

interface Published {
  topicArn: string;
  messageId: string;
  message: string;
  subject?: string;
  attributes: Record<string, { DataType: string; StringValue?: string; BinaryValue?: string }>;
}

/** One delivery's outcome, for tests and the log. */
interface PushDelivery {
  subscriptionArn: string;
  protocol: string;
  messageId: string;
  attempts: number;
  outcome: 'delivered' | 'dead-lettered' | 'dropped';
  error?: string;
}

interface SnsPushOptions {
  /** Where the signing key and certificate live (`<dataDir>/sns`). */
  dir: string;
  region: string;
  accountId: string;
  /** The edge's URL (known once it listens). */
  edgeUrl: () => string;
  /** Sends a query-protocol SNS request to fauxqs. */
  snsQuery: (params: URLSearchParams) => Promise<BufferedResponse>;
  /** Calls an SQS JSON-protocol operation on fauxqs. */
  sqsCall: (operation: string, input: Record<string, unknown>) => Promise<{ statusCode: number; body: Record<string, unknown> }>;
  log: (line: string) => void;
  now?: () => Date;
  /**
   * Whether the destination's policy lets SNS deliver from the topic (`aws:SourceArn`): a Lambda function's
   * (`AWS::Lambda::Permission`) before it is invoked, a DLQ's queue policy before a message moves there
   * (edge/iam.ts `allowsDelivery`, which reports a refusal). None: every delivery happens.
   */
  allowsDelivery?: (topicArn: string, targetArn: string) => boolean;
}

type LambdaInvoke = (functionArn: string, event: unknown) => Promise<{ ok: boolean; error?: unknown }>;

/** The local Firehose, for `firehose` subscriptions. */
interface FirehoseTarget {
  /** PutRecord of one record; throws the Firehose's error (ResourceNotFoundException for a missing stream). */
  putRecord: (deliveryStreamName: string, data: Buffer) => Promise<void>;
  /**
   * Why SNS may not put records to `streamArn` through `roleArn` for `topicArn` (the IAM guard), or undefined when
   * it may; absent, nothing is checked.
   */
  authorizeRole?: (topicArn: string, streamArn: string, roleArn: string) => Promise<string | undefined>;
}

interface FilterModule {
  matchesFilterPolicy: (policy: Record<string, unknown>, attributes: Published['attributes']) => boolean;
  matchesFilterPolicyOnBody: (policy: Record<string, unknown>, body: string) => boolean;
}

const answer = (statusCode: number, xml: string): BufferedResponse => {
  const body = Buffer.from(xml);
  return { statusCode, headers: { 'content-type': 'text/xml', 'content-length': String(body.length) }, body };
};

const snsError = (code: string, message: string): BufferedResponse =>
  answer(400, `<ErrorResponse xmlns="${SNS_XMLNS}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`);

/** `Attributes.entry.N.key/value` or `MessageAttributes.entry.N.Name/Value.*` of a query-protocol request. */
function entries(params: URLSearchParams, prefix: string): Map<string, Map<string, string>> {
  const found = new Map<string, Map<string, string>>();
  for (const [key, value] of params) {
    if (!key.startsWith(prefix)) continue;
    const [index = '', ...rest] = key.slice(prefix.length).split('.');
    const entry = found.get(index) ?? new Map<string, string>();
    entry.set(rest.join('.'), value);
    found.set(index, entry);
  }
  return found;
}

function messageAttributesOf(params: URLSearchParams, prefix: string): Published['attributes'] {
  const attributes: Published['attributes'] = {};
  for (const entry of entries(params, prefix).values()) {
    const name = entry.get('Name');
    const dataType = entry.get('Value.DataType');
    if (name === undefined || dataType === undefined) continue;
    const stringValue = entry.get('Value.StringValue');
    const binaryValue = entry.get('Value.BinaryValue');
    attributes[name] = { DataType: dataType, ...(stringValue === undefined ? {} : { StringValue: stringValue }), ...(binaryValue === undefined ? {} : { BinaryValue: binaryValue }) };
  }
  return attributes;
}

class SnsPush {
  private readonly options: SnsPushOptions;
  private readonly signer: SnsSigner;
  /** Per topic: its push subscriptions (with attributes) and its DeliveryPolicy, read from fauxqs. */
  private readonly cache = new Map<string, TopicState>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly log: PushDelivery[] = [];
  private invoke: LambdaInvoke | undefined;
  private firehose: FirehoseTarget | undefined;
  private filter: Promise<FilterModule> | undefined;
  private closed = false;

  constructor(options: SnsPushOptions) {
    this.options = options;
    this.signer = snsSigner(options.dir);
  }

  /** The function runtime, once it runs (Lambda subscriptions are delivered through it). */
  attach(invoke: LambdaInvoke): void {
    this.invoke = invoke;
  }

  /** The local Firehose (`firehose` subscriptions are delivered to it). */
  attachFirehose(firehose: FirehoseTarget): void {
    this.firehose = firehose;
  }

  /** The signing certificate, for `GET <SigningCertURL>`; undefined for any other path. */
  certificate(method: string, path: string): string | undefined {
    return method === 'GET' && path.split('?')[0] === CERT_PATH ? this.signer.certificatePem : undefined;
  }

  /** Every delivery finished so far (delivered, dead-lettered or dropped), oldest first. */
  deliveries(): PushDelivery[] {
    return [...this.log];
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  /**
   * An SNS request (query protocol; params from the URL and body) the edge read. Answers Subscribe to a push protocol,
   * ConfirmSubscription with one of its tokens, and Publish/PublishBatch to a standard topic (forwarded, then
   * delivered); undefined for anything else, which the edge forwards itself.
   */
  async handle(action: string, params: URLSearchParams): Promise<BufferedResponse | undefined> {
    const topicArn = params.get('TopicArn') ?? '';
    if (action === 'Unsubscribe' || action === 'SetSubscriptionAttributes' || action === 'SetTopicAttributes' || action === 'DeleteTopic') {
      this.cache.clear();
      return undefined;
    }
    if (action === 'Subscribe' && PUSH_PROTOCOLS.has(params.get('Protocol') ?? '')) return this.subscribe(params);
    if (action === 'ConfirmSubscription') return this.confirm(topicArn, params.get('Token') ?? '');
    if ((action === 'Publish' || action === 'PublishBatch') && topicArn !== '' && !topicArn.endsWith('.fifo')) return this.publish(action, params);
    return undefined;
  }

  private token(subscriptionArn: string): string {
    return createHmac('sha256', this.signer.certificatePem).update(subscriptionArn).digest('hex');
  }

  private async subscribe(params: URLSearchParams): Promise<BufferedResponse> {
    const topicArn = params.get('TopicArn') ?? '';
    const protocol = params.get('Protocol') ?? '';
    const endpoint = params.get('Endpoint') ?? '';
    if (topicArn.endsWith('.fifo')) return snsError('InvalidParameter', `Invalid parameter: Protocol: a FIFO topic delivers to SQS queues only, not ${protocol}`);
    if (protocol === 'firehose') {
      if (!DELIVERY_STREAM_ARN.test(endpoint)) return snsError('InvalidParameter', `Invalid parameter: Endpoint must be a Firehose delivery stream ARN (arn:aws:firehose:<region>:<account>:deliverystream/<name>), got '${endpoint}'`);
      if (![...entries(params, 'Attributes.entry.').values()].some((entry) => entry.get('key') === 'SubscriptionRoleArn' && (entry.get('value') ?? '') !== '')) {
        return snsError('InvalidParameter', 'Invalid parameter: Attributes Reason: SubscriptionRoleArn is required for a firehose subscription (the role SNS assumes to put records)');
      }
    } else if (protocol !== 'lambda' && !endpoint.startsWith(`${protocol}://`)) {
      return snsError('InvalidParameter', `Invalid parameter: Endpoint must be a ${protocol}:// URL, got '${endpoint}'`);
    }
    this.cache.delete(topicArn);
    const forwarded = await this.options.snsQuery(params);
    if (forwarded.statusCode !== 200) return forwarded;
    const arn = xmlText(forwarded.body.toString('utf8'), 'SubscriptionArn') ?? '';
    const pending = (await this.attributesOf(arn)).PendingConfirmation !== 'false';
    const sameAccount = SAME_ACCOUNT_PROTOCOLS.has(protocol);
    if (pending && sameAccount) await this.markConfirmed(topicArn, arn);
    if (pending && !sameAccount) this.sendConfirmation({ arn, topicArn, protocol, endpoint, attributes: {} });
    const shown = !sameAccount && pending && params.get('ReturnSubscriptionArn') !== 'true' ? 'pending confirmation' : arn;
    return answer(200, `<SubscribeResponse xmlns="${SNS_XMLNS}"><SubscribeResult><SubscriptionArn>${escapeXml(shown)}</SubscriptionArn></SubscribeResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></SubscribeResponse>`);
  }

  private async markConfirmed(topicArn: string, arn: string): Promise<BufferedResponse> {
    this.cache.delete(topicArn);
    return this.options.snsQuery(new URLSearchParams({ Action: 'ConfirmSubscription', TopicArn: topicArn, Token: arn }));
  }

  private async confirm(topicArn: string, token: string): Promise<BufferedResponse | undefined> {
    const subscriptions = await this.listSubscriptions(topicArn);
    const match = subscriptions.find((subscription) => PUSH_PROTOCOLS.has(subscription.protocol) && this.token(subscription.arn) === token);
    // fauxqs's own tokens are subscription ARNs (its SQS subscriptions); anything else is no token SNS sent.
    if (match === undefined) return token.startsWith('arn:') ? undefined : snsError('InvalidParameter', 'Invalid parameter: Token');
    return this.markConfirmed(topicArn, match.arn);
  }

  private async attributesOf(arn: string): Promise<Record<string, string>> {
    const response = await this.options.snsQuery(new URLSearchParams({ Action: 'GetSubscriptionAttributes', SubscriptionArn: arn }));
    const attributes: Record<string, string> = {};
    for (const entry of xmlElements(response.body.toString('utf8'), 'entry')) {
      const key = xmlText(entry, 'key');
      if (key !== undefined) attributes[key] = xmlText(entry, 'value') ?? '';
    }
    return attributes;
  }

  private async listSubscriptions(topicArn: string): Promise<PushSubscription[]> {
    const found: PushSubscription[] = [];
    let next: string | undefined;
    do {
      const params = new URLSearchParams({ Action: 'ListSubscriptionsByTopic', TopicArn: topicArn, ...(next ? { NextToken: next } : {}) });
      const xml = (await this.options.snsQuery(params)).body.toString('utf8');
      for (const member of xmlElements(xml, 'member')) {
        found.push({ arn: xmlText(member, 'SubscriptionArn') ?? '', topicArn, protocol: xmlText(member, 'Protocol') ?? '', endpoint: xmlText(member, 'Endpoint') ?? '', attributes: {} });
      }
      next = xmlText(xml, 'NextToken') || undefined;
    } while (next);
    return found;
  }

  private async topicState(topicArn: string): Promise<TopicState> {
    const cached = this.cache.get(topicArn);
    if (cached !== undefined && Date.now() - cached.at < CACHE_TTL_MS) return cached;
    const subscriptions = (await this.listSubscriptions(topicArn)).filter((subscription) => PUSH_PROTOCOLS.has(subscription.protocol));
    for (const subscription of subscriptions) subscription.attributes = await this.attributesOf(subscription.arn);
    const topic = new Map<string, string>();
    if (subscriptions.length > 0) {
      const xml = (await this.options.snsQuery(new URLSearchParams({ Action: 'GetTopicAttributes', TopicArn: topicArn }))).body.toString('utf8');
      for (const entry of xmlElements(xml, 'entry')) topic.set(xmlText(entry, 'key') ?? '', xmlText(entry, 'value') ?? '');
    }
    const deliveryPolicy = topic.get('DeliveryPolicy');
    const state: TopicState = { at: Date.now(), subscriptions, signatureVersion: topic.get('SignatureVersion') === '2' ? '2' : '1', ...(deliveryPolicy ? { deliveryPolicy } : {}) };
    this.cache.set(topicArn, state);
    return state;
  }

  private async publish(action: string, params: URLSearchParams): Promise<BufferedResponse> {
    const forwarded = await this.options.snsQuery(params);
    if (forwarded.statusCode !== 200) return forwarded;
    const topicArn = params.get('TopicArn') ?? '';
    const xml = forwarded.body.toString('utf8');
    const published: Published[] = [];
    if (action === 'Publish') {
      published.push({
        topicArn,
        messageId: xmlText(xml, 'MessageId') ?? randomUUID(),
        message: params.get('Message') ?? '',
        ...(params.get('Subject') ? { subject: params.get('Subject') ?? '' } : {}),
        attributes: messageAttributesOf(params, 'MessageAttributes.entry.'),
      });
    } else {
      const byId = new Map([...entries(params, 'PublishBatchRequestEntries.member.').entries()].map(([index, entry]) => [entry.get('Id') ?? '', index]));
      for (const success of xmlElements(xmlElements(xml, 'Successful')[0] ?? '', 'member')) {
        const index = byId.get(xmlText(success, 'Id') ?? '');
        if (index === undefined) continue;
        const prefix = `PublishBatchRequestEntries.member.${index}.`;
        const subject = params.get(`${prefix}Subject`);
        published.push({
          topicArn,
          messageId: xmlText(success, 'MessageId') ?? randomUUID(),
          message: params.get(`${prefix}Message`) ?? '',
          ...(subject ? { subject } : {}),
          attributes: messageAttributesOf(params, `${prefix}MessageAttributes.entry.`),
        });
      }
    }
    const topic = await this.topicState(topicArn);
    for (const subscription of topic.subscriptions) {
      if (subscription.attributes.PendingConfirmation !== 'false') continue;
      for (const message of published) {
        if (await this.matches(subscription, message)) this.deliver(subscription, message, topic);
      }
    }
    return forwarded;
  }

  private async matches(subscription: PushSubscription, message: Published): Promise<boolean> {
    const text = subscription.attributes.FilterPolicy;
    if (!text) return true;
    this.filter ??= import(new URL('./sns/filter.js', import.meta.resolve('fauxqs')).href) as Promise<FilterModule>;
    const { matchesFilterPolicy, matchesFilterPolicyOnBody } = await this.filter;
    const policy = JSON.parse(text) as Record<string, unknown>;
    return subscription.attributes.FilterPolicyScope === 'MessageBody' ? matchesFilterPolicyOnBody(policy, message.message) : matchesFilterPolicy(policy, message.attributes);
  }

  /**
   * The JSON SNS posts (and puts in a Lambda event's `Sns`, renamed there), signed; without `signatureVersion` the
   * archived form, which has no signature fields (SNS developer guide, "Formatting Amazon SNS notifications for storage
   * in Amazon S3 destinations"): a Firehose delivery is not signed at all, where signing it only to drop the signature
   * cost an RSA signature per archived event.
   */
  private envelope(subscription: PushSubscription, message: Published, signatureVersion?: '1' | '2'): Record<string, unknown> {
    const edge = this.options.edgeUrl();
    const attributes = Object.entries(message.attributes);
    const envelope: Record<string, unknown> = {
      Type: 'Notification',
      MessageId: message.messageId,
      TopicArn: message.topicArn,
      ...(message.subject === undefined ? {} : { Subject: message.subject }),
      Message: message.message,
      Timestamp: (this.options.now?.() ?? new Date()).toISOString(),
      ...(signatureVersion === undefined ? {} : { SignatureVersion: signatureVersion, SigningCertURL: `${edge}${CERT_PATH}` }),
      UnsubscribeURL: `${edge}/?Action=Unsubscribe&SubscriptionArn=${encodeURIComponent(subscription.arn)}`,
      ...(attributes.length === 0
        ? {}
        : { MessageAttributes: Object.fromEntries(attributes.map(([name, value]) => [name, { Type: value.DataType, Value: value.StringValue ?? value.BinaryValue ?? '' }])) }),
    };
    if (signatureVersion !== undefined) envelope.Signature = this.signer.sign(envelope);
    return envelope;
  }

  private deliver(subscription: PushSubscription, message: Published, topic: TopicState): void {
    if (subscription.protocol === 'firehose') {
      void this.deliverToFirehose(subscription, message, this.envelope(subscription, message)).catch((error: unknown) => this.options.log(`[sns] delivery to ${subscription.endpoint} failed: ${String(error)}`));
      return;
    }
    const envelope = this.envelope(subscription, message, topic.signatureVersion);
    if (subscription.protocol === 'lambda') {
      void this.deliverToLambda(subscription, message, envelope);
      return;
    }
    const delays = retryDelays(retryPolicyOf(subscription.attributes.DeliveryPolicy, topic.deliveryPolicy));
    const raw = subscription.attributes.RawMessageDelivery === 'true';
    const contentType =
      ((JSON.parse(subscription.attributes.DeliveryPolicy || '{}') as { requestPolicy?: { headerContentType?: string } }).requestPolicy?.headerContentType) ??
      'text/plain; charset=UTF-8';
    const headers: Record<string, string> = {
      'content-type': contentType,
      'user-agent': 'Amazon Simple Notification Service Agent',
      'x-amz-sns-message-type': 'Notification',
      'x-amz-sns-message-id': message.messageId,
      'x-amz-sns-topic-arn': message.topicArn,
      'x-amz-sns-subscription-arn': subscription.arn,
      ...(raw ? { 'x-amz-sns-rawdelivery': 'true' } : {}),
    };
    const body = raw ? message.message : JSON.stringify(envelope);
    const attempt = async (index: number): Promise<void> => {
      const result = await this.post(subscription.endpoint, headers, body);
      if (result.ok) return this.record({ subscriptionArn: subscription.arn, protocol: subscription.protocol, messageId: message.messageId, attempts: index + 1, outcome: 'delivered' });
      const delay = delays[index];
      if (result.retryable && delay !== undefined && !this.closed) {
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          void attempt(index + 1);
        }, delay * 1000);
        this.timers.add(timer);
        return;
      }
      await this.giveUp(subscription, message, body, index + 1, result.error);
    };
    void attempt(0).catch((error: unknown) => this.options.log(`[sns] delivery to ${subscription.endpoint} failed: ${String(error)}`));
  }

  /** One HTTP attempt: ok for a 2xx; retryable for 5xx, 429, no answer or a timeout; a client-side error otherwise. */
  private async post(url: string, headers: Record<string, string>, body: string): Promise<{ ok: boolean; retryable: boolean; error: string }> {
    try {
      const response = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS), redirect: 'manual' });
      await response.arrayBuffer().catch(() => undefined);
      if (response.status >= 200 && response.status < 300) return { ok: true, retryable: false, error: '' };
      return { ok: false, retryable: response.status >= 500 || response.status === 429, error: `HTTP ${response.status}` };
    } catch (error) {
      return { ok: false, retryable: true, error: (error as Error).message };
    }
  }

  private sendConfirmation(subscription: PushSubscription): void {
    const token = this.token(subscription.arn);
    const edge = this.options.edgeUrl();
    const confirmation: Record<string, unknown> = {
      Type: 'SubscriptionConfirmation',
      MessageId: randomUUID(),
      Token: token,
      TopicArn: subscription.topicArn,
      Message: `You have chosen to subscribe to the topic ${subscription.topicArn}.\nTo confirm the subscription, visit the SubscribeURL included in this message.`,
      SubscribeURL: `${edge}/?Action=ConfirmSubscription&TopicArn=${encodeURIComponent(subscription.topicArn)}&Token=${token}`,
      Timestamp: (this.options.now?.() ?? new Date()).toISOString(),
      SignatureVersion: '1',
      SigningCertURL: `${edge}${CERT_PATH}`,
    };
    confirmation.Signature = this.signer.sign(confirmation);
    const headers = {
      'content-type': 'text/plain; charset=UTF-8',
      'user-agent': 'Amazon Simple Notification Service Agent',
      'x-amz-sns-message-type': 'SubscriptionConfirmation',
      'x-amz-sns-message-id': String(confirmation.MessageId),
      'x-amz-sns-topic-arn': subscription.topicArn,
    };
    void this.post(subscription.endpoint, headers, JSON.stringify(confirmation)).then((result) => {
      if (!result.ok) this.options.log(`[sns] SubscriptionConfirmation to ${subscription.endpoint} failed (${result.error}): the subscription stays pending; subscribe again once the endpoint listens`);
    });
  }

  private async deliverToLambda(subscription: PushSubscription, message: Published, envelope: Record<string, unknown>): Promise<void> {
    const { SigningCertURL, UnsubscribeURL, ...rest } = envelope;
    const event = {
      Records: [
        {
          EventSource: 'aws:sns',
          EventVersion: '1.0',
          EventSubscriptionArn: subscription.arn,
          Sns: { ...rest, Subject: message.subject ?? null, SigningCertUrl: SigningCertURL, UnsubscribeUrl: UnsubscribeURL, MessageAttributes: rest.MessageAttributes ?? {} },
        },
      ],
    };
    const base = { subscriptionArn: subscription.arn, protocol: 'lambda', messageId: message.messageId, attempts: 1 };
    if (this.invoke === undefined) {
      await this.giveUp(subscription, message, JSON.stringify(envelope), 1, 'the function runtime is not running yet');
      return;
    }
    if (this.options.allowsDelivery?.(subscription.topicArn, subscription.endpoint) === false) {
      // A client-side error, not retried: the message goes to the subscription's DLQ if it has one (SNS developer
      // guide, "Amazon SNS dead-letter queues", "Why do message deliveries fail?").
      await this.giveUp(subscription, message, JSON.stringify(envelope), 1, "the function's resource policy does not allow sns.amazonaws.com to invoke it from this topic");
      return;
    }
    const result = await this.invoke(subscription.endpoint, event);
    if (result.ok) return this.record({ ...base, outcome: 'delivered' });
    // The invoke reached the function (SNS's delivery succeeded); the function's failure is Lambda's to retry.
    this.options.log(`[sns] ${subscription.endpoint} failed on message ${message.messageId}: ${JSON.stringify(result.error)}`);
    this.record({ ...base, outcome: 'delivered', error: JSON.stringify(result.error) });
  }

  /** One PutRecord on the local Firehose as the subscription's role; a refusal or a missing stream is given up at once. */
  private async deliverToFirehose(subscription: PushSubscription, message: Published, archived: Record<string, unknown>): Promise<void> {
    const raw = subscription.attributes.RawMessageDelivery === 'true';
    const body = raw ? message.message : JSON.stringify(archived);
    const firehose = this.firehose;
    if (firehose === undefined) return this.giveUp(subscription, message, body, 1, 'the local Firehose is not running');
    const streamName = DELIVERY_STREAM_ARN.exec(subscription.endpoint)?.[1] ?? '';
    const roleArn = subscription.attributes.SubscriptionRoleArn ?? '';
    const refusal = await firehose.authorizeRole?.(subscription.topicArn, subscription.endpoint, roleArn);
    if (refusal !== undefined) return this.giveUp(subscription, message, body, 1, `AccessDenied: ${refusal}`);
    try {
      await firehose.putRecord(streamName, Buffer.from(body, 'utf8'));
    } catch (error) {
      const name = (error as { code?: string; name?: string }).code ?? (error as Error).name;
      return this.giveUp(subscription, message, body, 1, `${name}: ${(error as Error).message}`);
    }
    this.record({ subscriptionArn: subscription.arn, protocol: 'firehose', messageId: message.messageId, attempts: 1, outcome: 'delivered' });
  }

  private async giveUp(subscription: PushSubscription, message: Published, body: string, attempts: number, error: string): Promise<void> {
    const base = { subscriptionArn: subscription.arn, protocol: subscription.protocol, messageId: message.messageId, attempts, error };
    let dlqArn: string | undefined;
    try {
      dlqArn = (JSON.parse(subscription.attributes.RedrivePolicy || '{}') as { deadLetterTargetArn?: string }).deadLetterTargetArn;
    } catch {
      dlqArn = undefined;
    }
    // The DLQ's queue policy must let sns.amazonaws.com send with the topic as aws:SourceArn (SNS developer guide,
    // "Configuring an Amazon SNS dead-letter queue for a subscription"); a refused move is dropped and reported.
    if (dlqArn !== undefined && this.options.allowsDelivery?.(subscription.topicArn, dlqArn) === false) {
      this.options.log(`[sns] ${subscription.endpoint} gave up on message ${message.messageId} after ${attempts} attempt(s) (${error}): dropped, the DLQ's policy refuses it`);
      return this.record({ ...base, outcome: 'dropped' });
    }
    if (dlqArn !== undefined) {
      const queueName = dlqArn.split(':').pop() ?? '';
      const url = await this.options.sqsCall('GetQueueUrl', { QueueName: queueName });
      const queueUrl = url.body.QueueUrl;
      if (typeof queueUrl === 'string') {
        const sent = await this.options.sqsCall('SendMessage', {
          QueueUrl: queueUrl,
          MessageBody: body,
          MessageAttributes: {
            ErrorCode: { DataType: 'String', StringValue: error.startsWith('HTTP ') ? error.slice(5) : subscription.protocol === 'firehose' ? (error.split(':')[0] ?? 'Error') : 'EndpointUnreachable' },
            ErrorMessage: { DataType: 'String', StringValue: error || 'unknown' },
          },
        });
        if (sent.statusCode === 200) {
          this.options.log(`[sns] ${subscription.endpoint} gave up on message ${message.messageId} after ${attempts} attempt(s) (${error}): moved to ${queueName}`);
          return this.record({ ...base, outcome: 'dead-lettered' });
        }
      }
    }
    this.options.log(`[sns] ${subscription.endpoint} gave up on message ${message.messageId} after ${attempts} attempt(s) (${error}): dropped, the subscription has no usable DLQ`);
    this.record({ ...base, outcome: 'dropped' });
  }

  private record(delivery: PushDelivery): void {
    this.log.push(delivery);
    if (this.log.length > 1000) this.log.shift();
  }
}

/** The SNS push deliveries of one local cloud, its signing material in `<dataDir>/sns`. */
function createSnsPush(options: Omit<SnsPushOptions, 'dir'> & { dataDir: string }): SnsPush {
  return new SnsPush({ ...options, dir: join(options.dataDir, 'sns') });
}

export { SnsPush, createSnsPush, retryDelays, retryPolicyOf };
