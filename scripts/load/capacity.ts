/**
 * An AWS capacity model: what AWS would do with a scenario's arrivals, predicted from the compiled template
 * (`.serverless/cloudformation-template-update-stack.json`, `npm run package`) and the per-function durations a
 * run measured. A fluid, time-stepped simulation (1 s steps): per queue, depth over time and drain time; per
 * function, concurrency over time; where an AWS limit would throttle. Pure functions; no I/O.
 *
 * Figures, each with the page that states it (read 2026-12-03 with the docs search):
 * - Lambda SQS scaling, standard mode (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html):
 *   "Lambda starts processing five batches at a time with five concurrent invocations", "increases the number of
 *   processes that are reading batches by up to 300 more concurrent invokes per minute", "The maximum number of
 *   invokes that an event source mapping can process simultaneously is 1,250" (the page's current text, the one with
 *   the provisioned-mode section; an earlier version said "The maximum number of batches ... is 1,000"), scales back
 *   to five when traffic is low. MaximumConcurrency (2..1,000, AWS::Lambda::EventSourceMapping ScalingConfig page)
 *   caps it.
 * - Provisioned mode (same page): "You can control the scaling behavior ... either through maximum concurrency
 *   settings or by enabling provisioned mode. These are mutually exclusive options"; "3 times faster scaling and up
 *   to 16 times higher processing capacity". Event pollers "can auto scale up to 1000 per concurrent executions per
 *   minute" and "provide up to 20,000 concurrency" (AWS News Blog, "AWS Lambda enhances event processing with
 *   provisioned mode for SQS event-source mapping",
 *   https://aws.amazon.com/blogs/aws/aws-lambda-enhances-sqs-processing-with-new-provisioned-mode-3x-faster-scaling-16x-higher-capacity).
 *   ProvisionedPollerConfig for SQS: MinimumPollers "default is 2, and minimum 2 required", at most 200; MaximumPollers
 *   "the accepted range is between 2 and 10,000, with a default of 200"
 *   (https://docs.aws.amazon.com/lambda/latest/api/API_ProvisionedPollerConfig.html; the CloudFormation page,
 *   .../TemplateReference/aws-properties-lambda-eventsourcemapping-provisionedpollerconfig.html, still says at most
 *   2,000). Each poller handles up to 10 concurrent invokes (and 1 MB/s): stated by a secondary page
 *   (https://remktr.com/blog/lambda-sqs-provisioned-mode) and consistent with 20,000 concurrency from 2,000 pollers;
 *   the AWS page's own sentence was not in the text read.
 * - Reserved concurrency is not seen by the mapping, which then gets throttled
 *   (https://repost.aws/knowledge-center/lambda-sqs-scaling).
 * - FIFO queues: "300 transactions per second, per API action for SendMessage, ReceiveMessage, and DeleteMessage",
 *   "up to 3,000 messages per second per API action" with batches
 *   (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/troubleshooting-fifo-throttling-issues.html).
 *   High-throughput FIFO (DeduplicationScope messageGroup + FifoThroughputLimit perMessageGroupId): the per-region
 *   figures on https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html were
 *   cut from the text read, so no limit is applied and the assumptions say so.
 * - SNS FIFO topics: FifoThroughputScope Topic "3000 messages per second and a bandwidth of 20MB per second"
 *   (https://docs.aws.amazon.com/cdk/api/v2/docs/aws-cdk-lib.aws_sns.FifoThroughputScope.html); MessageGroup scope:
 *   30,000 messages/s per account in US East (N. Virginia), 300 messages/s per message group before high throughput
 *   (secondary page https://zircon.tech/?p=3781 quoting the 2025-01-21 announcement; the SNS quotas page was not
 *   found in the corpus).
 * - Kinesis: "A shard supports 1 MB/s and 1000 records per second for writes ... in both on-demand and provisioned
 *   capacity modes"; a new on-demand stream has "4 MB/s of write" throughput
 *   (https://docs.aws.amazon.com/streams/latest/dev/working-with-streams.html and .../service-sizes-and-limits.html).
 * - Lambda account concurrency 1,000 (the default, Lambda quotas page; spike.yml uses the same figure).
 * - API Gateway: the stage's DefaultRouteSettings ThrottlingRateLimit / ThrottlingBurstLimit from the template,
 *   applied as a token bucket (rate = refill per second, burst = bucket size).
 */

/** Read 2026-12-03 from the pages named in the module comment. */
const AWS_FIGURES = {
  sqsInitialBatches: 5,
  sqsScaleUpPerMinute: 300,
  sqsMaxBatchesPerMapping: 1250,
  provisionedDefaultMinimumPollers: 2,
  provisionedDefaultMaximumPollers: 200,
  provisionedMinimumPollersRange: [2, 200] as const,
  provisionedMaximumPollersRange: [2, 10_000] as const,
  provisionedConcurrencyPerPoller: 10,
  provisionedScaleUpPerMinute: 1000,
  provisionedMaxConcurrency: 20_000,
  fifoTpsPerAction: 300,
  fifoBatchedMessagesPerSecond: 3000,
  snsFifoTopicScopePerSecond: 3000,
  snsFifoMessageGroupScopeAccountPerSecond: 30_000,
  snsFifoPerGroupPerSecond: 300,
  kinesisShardRecordsPerSecond: 1000,
  kinesisShardBytesPerSecond: 1024 * 1024,
  kinesisOnDemandInitialBytesPerSecond: 4 * 1024 * 1024,
  accountConcurrency: 1000,
} as const;

type Template = { Resources?: Record<string, { Type: string; Properties?: Record<string, unknown> }> };

interface MappingSpec {
  /** Short function name (`chargeOrder`). */
  fn: string;
  /** Queue name without the service-stage prefix and `.fifo` (`billing`, `order-store`). */
  queue: string;
  queueLogicalId: string;
  fifo: boolean;
  highThroughputFifo: boolean;
  batchSize: number;
  batchingWindowS: number;
  maximumConcurrency: number | undefined;
  delayS: number;
  /** ProvisionedPollerConfig (provisioned mode), when the mapping sets it; undefined bounds take AWS's defaults (2 and 200). */
  provisionedPollers?: { minimum: number | undefined; maximum: number | undefined };
}

interface CapacityConfig {
  mappings: MappingSpec[];
  /** `topics`: the SNS topics (logical ids) the function's environment refers to, i.e. the ones it can publish to. */
  functions: Record<string, { timeoutS: number; reservedConcurrency: number | undefined; memoryMb: number; topics?: string[] }>;
  /**
   * SNS -> SQS subscriptions: queue, the topic (logical id; undefined: taken to be the order events topic) and the
   * filter policy on message attributes (undefined: every message).
   */
  subscriptions: { queue: string; topic?: string; filter: Record<string, string[]> | undefined }[];
  /**
   * The topic order events are published to: the one the order-taking function (ORDER_ENTRY_FUNCTION) refers to.
   * Only its subscriptions receive orders; other topics (the imports topic S3 uploads publish to) never see them.
   * Undefined: every SQS subscription is taken to be on the order events topic.
   */
  orderEventsTopic?: string;
  topic: { fifo: boolean; scope: 'Topic' | 'MessageGroup' } | undefined;
  api: { rateLimit: number; burstLimit: number } | undefined;
  kinesis: { onDemand: boolean; shards: number } | undefined;
}

class CapacityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CapacityError';
  }
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const refOf = (value: unknown): string | undefined => {
  if (!isObject(value)) return undefined;
  const getAtt = value['Fn::GetAtt'];
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') return getAtt[0];
  return typeof value.Ref === 'string' ? value.Ref : undefined;
};
const shortFunctionName = (logicalId: string): string => {
  const base = logicalId.replace(/LambdaFunction$/, '');
  return base.charAt(0).toLowerCase() + base.slice(1);
};
const shortQueueName = (queueName: string): string => queueName.replace(/\.fifo$/, '').replace(/^[a-z0-9]+-[a-zA-Z0-9]+-/, '');
/** The function whose topic carries order events: it publishes OrderPlaced for every order the API accepts. */
const ORDER_ENTRY_FUNCTION = 'placeOrder';

/**
 * The logical ids of the SNS topics a function's environment variables refer to (`TOPIC_ARN: { Ref: OrderEventsTopic }`):
 * a function publishes only to topics it is told the ARN of.
 */
function environmentTopics(properties: Record<string, unknown>): string[] {
  const variables = isObject(properties.Environment) && isObject(properties.Environment.Variables) ? properties.Environment.Variables : {};
  return Object.values(variables).map(refOf).filter((id): id is string => id !== undefined);
}
const num = (value: unknown, fallback: number): number => (typeof value === 'number' ? value : typeof value === 'string' && value !== '' && Number.isFinite(Number(value)) ? Number(value) : fallback);

/**
 * The limits the model needs, read from a compiled CloudFormation template.
 *
 * @example
 * const config = capacityConfigFromTemplate(JSON.parse(await readFile('.serverless/cloudformation-template-update-stack.json', 'utf8')));
 */
function capacityConfigFromTemplate(template: Template): CapacityConfig {
  const resources = template.Resources;
  if (!isObject(resources)) throw new CapacityError('template: Resources is missing (run `npm run package` first)');
  const entries = Object.entries(resources);
  const queues = new Map<string, Record<string, unknown>>();
  for (const [id, r] of entries) if (r.Type === 'AWS::SQS::Queue') queues.set(id, r.Properties ?? {});
  // A QueueName built with Fn::Sub or Fn::Join is not resolved here: the logical id names the queue instead.
  const queueName = (id: string): string => {
    const name = queues.get(id)?.QueueName;
    return typeof name === 'string' ? shortQueueName(name) : id;
  };

  const functions: CapacityConfig['functions'] = {};
  for (const [id, r] of entries) {
    if (r.Type !== 'AWS::Lambda::Function') continue;
    const p = r.Properties ?? {};
    functions[shortFunctionName(id)] = {
      timeoutS: num(p.Timeout, 3),
      reservedConcurrency: p.ReservedConcurrentExecutions === undefined ? undefined : num(p.ReservedConcurrentExecutions, 0),
      memoryMb: num(p.MemorySize, 128),
      topics: environmentTopics(p),
    };
  }

  const mappings: MappingSpec[] = [];
  for (const [id, r] of entries) {
    if (r.Type !== 'AWS::Lambda::EventSourceMapping') continue;
    const p = r.Properties ?? {};
    const source = refOf(p.EventSourceArn);
    const fnId = refOf(p.FunctionName);
    if (!source || !fnId || !queues.has(source)) continue; // Kinesis mappings: the stream is checked on the write side.
    const q = queues.get(source) ?? {};
    const scaling = isObject(p.ScalingConfig) ? p.ScalingConfig : {};
    const fifo = q.FifoQueue === true || q.FifoQueue === 'true';
    const batchSize = num(p.BatchSize, 10);
    if (batchSize < 1) throw new CapacityError(`template: Resources.${id}.Properties.BatchSize must be >= 1, got ${String(p.BatchSize)}`);
    if (isObject(p.ProvisionedPollerConfig)) {
      const poller = p.ProvisionedPollerConfig;
      if (scaling.MaximumConcurrency !== undefined) {
        throw new CapacityError(`template: Resources.${id}.Properties sets both ScalingConfig.MaximumConcurrency and ProvisionedPollerConfig, which AWS takes as mutually exclusive`);
      }
      const check = (field: 'MinimumPollers' | 'MaximumPollers', [low, high]: readonly [number, number]): void => {
        const value = poller[field];
        if (value !== undefined && !(Number.isInteger(num(value, Number.NaN)) && num(value, 0) >= low && num(value, 0) <= high)) {
          throw new CapacityError(`template: Resources.${id}.Properties.ProvisionedPollerConfig.${field} must be an integer from ${low} to ${high} for an SQS mapping, got ${String(value)}`);
        }
      };
      check('MinimumPollers', AWS_FIGURES.provisionedMinimumPollersRange);
      check('MaximumPollers', AWS_FIGURES.provisionedMaximumPollersRange);
    }
    mappings.push({
      fn: shortFunctionName(fnId),
      queue: queueName(source),
      queueLogicalId: source,
      fifo,
      highThroughputFifo: fifo && q.DeduplicationScope === 'messageGroup' && q.FifoThroughputLimit === 'perMessageGroupId',
      batchSize,
      batchingWindowS: num(p.MaximumBatchingWindowInSeconds, 0),
      maximumConcurrency: scaling.MaximumConcurrency === undefined ? undefined : num(scaling.MaximumConcurrency, 1000),
      delayS: num(q.DelaySeconds, 0),
      ...(isObject(p.ProvisionedPollerConfig)
        ? {
            provisionedPollers: {
              minimum: p.ProvisionedPollerConfig.MinimumPollers === undefined ? undefined : num(p.ProvisionedPollerConfig.MinimumPollers, 1),
              maximum: p.ProvisionedPollerConfig.MaximumPollers === undefined ? undefined : num(p.ProvisionedPollerConfig.MaximumPollers, 1),
            },
          }
        : {}),
    });
  }

  const topicIds = new Set(entries.filter(([, r]) => r.Type === 'AWS::SNS::Topic').map(([id]) => id));
  const orderEventsTopic = (functions[ORDER_ENTRY_FUNCTION]?.topics ?? []).find((id) => topicIds.has(id));
  const subscriptions: CapacityConfig['subscriptions'] = [];
  let topic: CapacityConfig['topic'];
  for (const [id, r] of entries) {
    const p = r.Properties ?? {};
    if (r.Type === 'AWS::SNS::Subscription' && p.Protocol === 'sqs') {
      const target = refOf(p.Endpoint);
      if (!target) continue;
      const filter = isObject(p.FilterPolicy)
        ? Object.fromEntries(Object.entries(p.FilterPolicy).map(([key, values]) => [key, Array.isArray(values) ? values.filter((v): v is string => typeof v === 'string') : []]))
        : undefined;
      const source = refOf(p.TopicArn);
      subscriptions.push({ queue: queueName(target), ...(source ? { topic: source } : {}), filter });
    }
    // The order events topic's FIFO settings (any FIFO topic when the order events topic is not known).
    if (r.Type === 'AWS::SNS::Topic' && (orderEventsTopic === undefined || id === orderEventsTopic) && (p.FifoTopic === true || p.FifoTopic === 'true')) {
      topic = { fifo: true, scope: p.FifoThroughputScope === 'MessageGroup' ? 'MessageGroup' : 'Topic' };
    }
  }

  let api: CapacityConfig['api'];
  let kinesis: CapacityConfig['kinesis'];
  for (const [, r] of entries) {
    const p = r.Properties ?? {};
    if (r.Type === 'AWS::ApiGatewayV2::Stage' && isObject(p.DefaultRouteSettings)) {
      const s = p.DefaultRouteSettings;
      if (s.ThrottlingRateLimit !== undefined) api = { rateLimit: num(s.ThrottlingRateLimit, 10_000), burstLimit: num(s.ThrottlingBurstLimit, 5000) };
    }
    if (r.Type === 'AWS::Kinesis::Stream') {
      const mode = isObject(p.StreamModeDetails) ? p.StreamModeDetails.StreamMode : undefined;
      // ShardCount is `Fn::If [<on-demand condition>, AWS::NoValue, <shards>]` (the stream's resource): the
      // provisioned branch is the count; an ON_DEMAND stream has none.
      const count = isObject(p.ShardCount) && Array.isArray(p.ShardCount['Fn::If']) ? (p.ShardCount['Fn::If'] as unknown[])[2] : p.ShardCount;
      kinesis = { onDemand: mode === 'ON_DEMAND', shards: num(count, 1) };
    }
  }
  return { mappings, functions, subscriptions, ...(orderEventsTopic ? { orderEventsTopic } : {}), topic, api, kinesis };
}

/** The subscriptions order events reach: those on the order events topic (see CapacityConfig.orderEventsTopic). */
const orderSubscriptions = (config: CapacityConfig): CapacityConfig['subscriptions'] =>
  config.orderEventsTopic === undefined ? config.subscriptions : config.subscriptions.filter((s) => s.topic === undefined || s.topic === config.orderEventsTopic);

/** Message attributes of an order event (lib/aws/publish.ts sets `type` and `fulfillment`). */
type Attributes = Record<string, string>;

/** SNS filter policy on attributes, exact-string matching only (the only operator this template uses). */
function matchesFilter(filter: Record<string, string[]> | undefined, attributes: Attributes): boolean {
  if (!filter) return true;
  return Object.entries(filter).every(([key, values]) => attributes[key] !== undefined && values.includes(attributes[key] as string));
}

/**
 * What each consumer sends on, per message it processes (the application's own behaviour, not in the template):
 * lib/charge.ts publishes OrderCharged and writes an invoice (S3 -> document-events); lib/ship.ts publishes
 * OrderShipped, writes a label (S3 -> document-events) and, with the reviews slice, sends a review request; with the
 * analytics slice, its stream producer puts one Kinesis record per message.
 */
interface Emission {
  event?: string;
  queue?: string;
  kinesisRecord?: boolean;
}
const ORDERFLOW_EMISSIONS: Record<string, Emission[]> = {
  chargeOrder: [{ event: 'OrderCharged' }, { queue: 'document-events' }],
  shipOrder: [
    { event: 'OrderShipped' },
    { queue: 'document-events' },
    { queue: 'review-requests' }, // slice-line:reviews
  ],
  streamOrderEvents: [{ kinesisRecord: true }], // slice-line:analytics
};

interface FunctionDuration {
  /** Mean duration of one invocation, as measured (report.functions[name].meanDurationMs). */
  meanDurationMs: number;
  /** Invocations per order in the run (to turn an invocation's duration into a message's). */
  invocationsPerOrder?: number;
}

/**
 * How a FIFO queue's messages spread over message groups. "Messages within the same message group are always
 * processed one at a time" (SQS developer guide, "Using the message group ID with Amazon SQS FIFO Queues",
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/using-messagegroupid-property.html), and
 * a FIFO mapping's "functions can scale in concurrency to the number of active message groups"
 * (https://repost.aws/knowledge-center/lambda-sqs-scaling); the services-sqs-scaling page caps a FIFO mapping's
 * concurrent invocations at the lower of the message group count and MaximumConcurrency (its note, read 2026-12-03 in
 * the Chinese edition, docs.amazonaws.cn/zh_cn/lambda/latest/dg/services-sqs-scaling.html). Not modelled: a FIFO
 * queue "scan[s] the first 120,000 messages to determine available message groups" (SQS developer guide, "Avoid large
 * message backlogs with the same message group ID"), so groups behind a deeper backlog wait.
 * - `per-order`: orderflow's. lib/aws/publish.ts sets MessageGroupId to the orderId, and the FIFO topic delivers it
 *   unchanged to the FIFO queues, so every order is its own group. An order's events reach a queue at least one
 *   consumer hop apart (a second in this model), so the waiting messages are taken to belong to distinct orders: the
 *   groups never bind more than the backlog itself does.
 * - `weighted`: a fixed set of groups (a group id per customer, per SKU...), each receiving `weights[i]` of the
 *   messages (normalised): each group's backlog is kept apart and drains at most one batch at a time, so a hot group
 *   drains at one invocation's pace however high the mapping's concurrency.
 */
type MessageGroups = { kind: 'per-order' } | { kind: 'weighted'; weights: number[] };

/**
 * Slots (concurrent invocations) for groups needing `needs[i]` slots each (at most 1: one batch per group), sharing
 * `slots` evenly, the groups that need less giving the rest to the others (water-filling).
 */
function shareSlots(needs: number[], slots: number): number[] {
  const order = needs.map((need, i) => ({ need: Math.min(1, need), i })).filter((g) => g.need > 1e-12).sort((a, b) => a.need - b.need);
  const shares = needs.map(() => 0);
  let remaining = slots;
  order.forEach((g, k) => {
    const give = Math.min(g.need, remaining / (order.length - k));
    shares[g.i] = give;
    remaining -= give;
  });
  return shares;
}

interface CapacityInput {
  config: CapacityConfig;
  /** Orders arriving in second i (the scenario's arrival profile). */
  arrivals: number[];
  /** Share of orders with fulfillment "physical". */
  physicalShare: number;
  /** Measured durations by short function name. */
  durations: Record<string, FunctionDuration>;
  /** Drain time is counted from this second (the spike's end). */
  drainFromS: number;
  /** Bytes per Kinesis record (an order event as JSON). */
  kinesisRecordBytes?: number;
  /** Simulation bound after the last arrival, s. */
  maxDrainS?: number;
  /** Emissions per consumer; ORDERFLOW_EMISSIONS by default. */
  emissions?: Record<string, Emission[]>;
  /** Message groups of the FIFO queues' messages; per order (orderflow's) by default. */
  messageGroups?: MessageGroups;
}

interface QueuePrediction {
  queue: string;
  fn: string;
  fifo: boolean;
  batchSize: number;
  /** The mapping's cap: min(1,250, MaximumConcurrency, reserved concurrency); provisioned mode: min(MaximumPollers x 10, 20,000, reserved). */
  maxConcurrency: number;
  messagesPerOrder: number;
  /** ms of function time per message: measured invocation duration / messages per invocation. */
  perMessageMs: number;
  depth: number[];
  peakDepth: number;
  peakAtS: number;
  /** First second from which the queue stays empty (depth < 0.5 message). */
  drainedAtS: number;
  /** drainedAtS − drainFromS (>= 0). */
  drainTimeS: number;
  /** When the last message's processing ends: t + processed / capacity of the last second with work (fluid, not whole seconds). */
  workEndsAtS: number;
  /** FIFO: seconds in which the message groups with messages waiting, not the mapping, held the processing back. */
  groupBoundS: number;
}

interface Throttle {
  where: string;
  limit: string;
  /** Peak demand in the limit's unit. */
  peak: number;
  /** Seconds in which the demand exceeded the limit. */
  seconds: number;
  firstAtS: number;
  consequence: string;
}

interface CapacityPrediction {
  stepS: 1;
  horizonS: number;
  drainFromS: number;
  api: { accepted: number[]; throttled: number } | undefined;
  queues: QueuePrediction[];
  functions: { fn: string; concurrency: number[]; peak: number }[];
  totalConcurrency: number[];
  throttles: Throttle[];
  assumptions: string[];
}

const EMPTY = 0.5;

/**
 * A mapping's scaling, in concurrent invokes: where it starts (and returns to when its queue is empty), how much it
 * adds per second while messages remain, and its ceiling before reserved concurrency. Standard mode: 5, +300/min, up
 * to min(1,250, MaximumConcurrency). Provisioned mode: MinimumPollers x 10, +1,000/min, up to
 * min(MaximumPollers x 10, 20,000). Figures and pages in the module comment.
 */
function mappingScaling(m: MappingSpec): { initial: number; stepUpPerSecond: number; max: number } {
  if (m.provisionedPollers) {
    const minimum = m.provisionedPollers.minimum ?? AWS_FIGURES.provisionedDefaultMinimumPollers;
    const maximum = m.provisionedPollers.maximum ?? AWS_FIGURES.provisionedDefaultMaximumPollers;
    const max = Math.min(AWS_FIGURES.provisionedMaxConcurrency, maximum * AWS_FIGURES.provisionedConcurrencyPerPoller);
    return { initial: Math.min(max, minimum * AWS_FIGURES.provisionedConcurrencyPerPoller), stepUpPerSecond: AWS_FIGURES.provisionedScaleUpPerMinute / 60, max };
  }
  const max = Math.min(AWS_FIGURES.sqsMaxBatchesPerMapping, m.maximumConcurrency ?? Number.POSITIVE_INFINITY);
  return { initial: Math.min(max, AWS_FIGURES.sqsInitialBatches), stepUpPerSecond: AWS_FIGURES.sqsScaleUpPerMinute / 60, max };
}

/** Expected messages per order on each queue, and Kinesis records per order (steady state, no limits). */
function messagesPerOrder(
  config: CapacityConfig,
  physicalShare: number,
  emissions: Record<string, Emission[]>,
): { queues: Record<string, number>; physical: Record<string, number>; kinesisRecords: number } {
  const queues: Record<string, number> = {};
  const physical: Record<string, number> = {};
  let kinesisRecords = 0;
  const mappingOf = new Map(config.mappings.map((m) => [m.queue, m]));
  const shares: [string, number][] = [['physical', physicalShare], ['digital', 1 - physicalShare]];
  // Work items: (queue, amount, fulfillment); depth-bounded (the flow is a DAG).
  let work: { queue: string; amount: number; fulfillment: string }[] = [];
  const subscriptions = orderSubscriptions(config);
  const publish = (type: string, fulfillment: string, amount: number): void => {
    for (const s of subscriptions) if (matchesFilter(s.filter, { type, fulfillment })) work.push({ queue: s.queue, amount, fulfillment });
  };
  for (const [fulfillment, share] of shares) if (share > 0) publish('OrderPlaced', fulfillment, share);
  for (let depth = 0; depth < 10 && work.length > 0; depth += 1) {
    const next = work;
    work = [];
    for (const item of next) {
      queues[item.queue] = (queues[item.queue] ?? 0) + item.amount;
      if (item.fulfillment === 'physical') physical[item.queue] = (physical[item.queue] ?? 0) + item.amount;
      const mapping = mappingOf.get(item.queue);
      for (const e of mapping ? (emissions[mapping.fn] ?? []) : []) {
        if (e.event) publish(e.event, item.fulfillment, item.amount);
        if (e.queue) work.push({ queue: e.queue, amount: item.amount, fulfillment: item.fulfillment });
        if (e.kinesisRecord) kinesisRecords += item.amount;
      }
    }
  }
  return { queues, physical, kinesisRecords };
}

interface Counter {
  peak: number;
  seconds: number;
  firstAtS: number;
}
const newCounter = (): Counter => ({ peak: 0, seconds: 0, firstAtS: -1 });
const exceed = (counter: Counter, demand: number, limit: number, t: number): void => {
  counter.peak = Math.max(counter.peak, demand);
  if (demand > limit + 1e-9) {
    counter.seconds += 1;
    if (counter.firstAtS < 0) counter.firstAtS = t;
  }
};

/**
 * Runs the model (pure): 1 s steps until the last arrival and then until every queue is empty (or maxDrainS).
 *
 * Per second: API Gateway's token bucket admits arrivals; each accepted order publishes OrderPlaced; the topic
 * delivers to the subscriptions whose filter matches; each mapping processes min(available, concurrency x 1,000 /
 * perMessageMs) messages; what a consumer sends on arrives the next second (SQS DelaySeconds later for delay
 * queues); a mapping with messages left grows by 300/min (+5 per step) up to its cap and falls back to 5 once its
 * queue is empty. Concurrency in a second is the function time used in it (messages x perMessageMs / 1,000).
 *
 * @example
 * const prediction = predictCapacity({ config, arrivals: [10, 10, 1000, 10], physicalShare: 0.7, durations: { chargeOrder: { meanDurationMs: 120, invocationsPerOrder: 0.5 } }, drainFromS: 3 });
 */
function predictCapacity(input: CapacityInput): CapacityPrediction {
  const { config, physicalShare } = input;
  const emissions = input.emissions ?? ORDERFLOW_EMISSIONS;
  const perOrder = messagesPerOrder(config, physicalShare, emissions);
  const subscriptions = orderSubscriptions(config);
  const groups = input.messageGroups ?? { kind: 'per-order' };
  let groupWeights: number[] | undefined;
  if (groups.kind === 'weighted') {
    const total = groups.weights.reduce((sum, w) => sum + w, 0);
    if (groups.weights.length === 0 || groups.weights.some((w) => !Number.isFinite(w) || w < 0) || !(total > 0)) {
      throw new CapacityError(`messageGroups.weights must be non-negative numbers with a positive sum, got ${JSON.stringify(groups.weights)}`);
    }
    groupWeights = groups.weights.map((w) => w / total);
  }
  const recordBytes = input.kinesisRecordBytes ?? 1024;
  const maxDrainS = input.maxDrainS ?? 3600;
  const assumptions: string[] = [];

  const states = config.mappings.map((m) => {
    const fn = config.functions[m.fn];
    const reserved = fn?.reservedConcurrency;
    const scaling = mappingScaling(m);
    const cap = Math.min(scaling.max, reserved ?? Number.POSITIVE_INFINITY);
    const initial = Math.min(scaling.initial, cap);
    if (m.provisionedPollers) {
      const { minimum, maximum } = { minimum: m.provisionedPollers.minimum ?? AWS_FIGURES.provisionedDefaultMinimumPollers, maximum: m.provisionedPollers.maximum ?? AWS_FIGURES.provisionedDefaultMaximumPollers };
      assumptions.push(
        `${m.fn}: provisioned mode, ${minimum} to ${maximum} event pollers x ${AWS_FIGURES.provisionedConcurrencyPerPoller} concurrent invokes each: starts at ${initial}, grows by ${AWS_FIGURES.provisionedScaleUpPerMinute}/min while messages remain, up to ${cap} (at most ${AWS_FIGURES.provisionedMaxConcurrency.toLocaleString('en-US')}), back to ${initial} when empty (services-sqs-scaling page, the AWS News Blog announcement and API_ProvisionedPollerConfig, read 2026-12-03); the pollers' own charge (extra, the minimum ones always) is not priced here`,
      );
    }
    const duration = input.durations[m.fn];
    const msgsPerOrder = perOrder.queues[m.queue] ?? 0;
    let perMessageMs: number;
    if (!duration) {
      perMessageMs = 100;
      // A queue order events never reach (the imports fan-out in an order spike) gets no messages: nothing to assume.
      if (msgsPerOrder > 0) assumptions.push(`${m.fn}: no duration measured; 100 ms per message assumed`);
    } else {
      const msgsPerInvocation = duration.invocationsPerOrder && duration.invocationsPerOrder > 0 && msgsPerOrder > 0 ? Math.max(1, msgsPerOrder / duration.invocationsPerOrder) : 1;
      perMessageMs = Math.max(1, duration.meanDurationMs / msgsPerInvocation);
    }
    return {
      m,
      cap,
      reservedBelowMapping: reserved !== undefined && reserved < scaling.max,
      concurrency: initial,
      initial,
      stepUp: scaling.stepUpPerSecond,
      perMessageMs,
      msgsPerOrder,
      depth: 0,
      pending: new Map<number, number>(),
      series: [] as number[],
      busy: [] as number[],
      receive: newCounter(),
      send: newCounter(),
      workEndsAtS: 0,
      /** Weighted message groups on a FIFO queue: each group's backlog. */
      groupDepths: m.fifo && groupWeights ? groupWeights.map(() => 0) : undefined,
      groupBoundS: 0,
      groupBoundFromS: 0,
    };
  });
  const byQueue = new Map(states.map((s) => [s.m.queue, s]));
  const arriveAt = (queue: string, t: number, amount: number): void => {
    const s = byQueue.get(queue);
    if (!s || amount <= 0) return;
    const at = t + s.m.delayS;
    s.pending.set(at, (s.pending.get(at) ?? 0) + amount);
  };

  const apiAccepted: number[] = [];
  let apiThrottled = 0;
  let tokens = config.api?.burstLimit ?? Number.POSITIVE_INFINITY;
  const apiCounter = newCounter();
  const topicCounter = newCounter();
  const kinesisRecords = newCounter();
  const kinesisBytes = newCounter();
  const accountCounter = newCounter();
  const placeOrderConcurrency: number[] = [];
  const totalConcurrency: number[] = [];
  /** Topic publishes carried to the next second (excess over the topic rate, retried by the SDK). */
  let topicBacklog: { type: string; fulfillment: string; amount: number }[] = [];
  const placeMs = input.durations.placeOrder?.meanDurationMs;
  if (placeMs === undefined) assumptions.push('placeOrder: no duration measured; its concurrency is left out');

  const topicLimit = config.topic ? (config.topic.scope === 'MessageGroup' ? AWS_FIGURES.snsFifoMessageGroupScopeAccountPerSecond : AWS_FIGURES.snsFifoTopicScopePerSecond) : Number.POSITIVE_INFINITY;
  const kinesisRecordLimit = config.kinesis ? (config.kinesis.onDemand ? (AWS_FIGURES.kinesisOnDemandInitialBytesPerSecond / AWS_FIGURES.kinesisShardBytesPerSecond) * AWS_FIGURES.kinesisShardRecordsPerSecond : config.kinesis.shards * AWS_FIGURES.kinesisShardRecordsPerSecond) : Number.POSITIVE_INFINITY;
  const kinesisByteLimit = config.kinesis ? (config.kinesis.onDemand ? AWS_FIGURES.kinesisOnDemandInitialBytesPerSecond : config.kinesis.shards * AWS_FIGURES.kinesisShardBytesPerSecond) : Number.POSITIVE_INFINITY;

  let t = 0;
  for (; ; t += 1) {
    const busyQueues = states.some((s) => s.depth >= 1e-6 || [...s.pending.values()].some((v) => v > 1e-6)) || topicBacklog.length > 0;
    if (t >= input.arrivals.length && !busyQueues) break;
    if (t >= input.arrivals.length + maxDrainS) {
      assumptions.push(`the model stopped ${maxDrainS} s after the last arrival with messages still queued`);
      break;
    }
    // API Gateway token bucket.
    const offered = input.arrivals[t] ?? 0;
    let accepted = offered;
    if (config.api) {
      tokens = Math.min(config.api.burstLimit, tokens + (t === 0 ? 0 : config.api.rateLimit));
      accepted = Math.min(offered, tokens);
      tokens -= accepted;
      apiThrottled += offered - accepted;
      exceed(apiCounter, offered, accepted, t);
    }
    apiAccepted.push(accepted);
    placeOrderConcurrency.push(placeMs === undefined ? 0 : (accepted * placeMs) / 1000);

    // Topic: this second's publishes (new orders plus what consumers sent last second), capped by the topic rate.
    const publishes = [...topicBacklog, { type: 'OrderPlaced', fulfillment: 'physical', amount: accepted * physicalShare }, { type: 'OrderPlaced', fulfillment: 'digital', amount: accepted * (1 - physicalShare) }];
    const totalPublishes = publishes.reduce((sum, p) => sum + p.amount, 0);
    exceed(topicCounter, totalPublishes, topicLimit, t);
    const admitted = totalPublishes > topicLimit ? topicLimit / totalPublishes : 1;
    topicBacklog = admitted < 1 ? publishes.map((p) => ({ ...p, amount: p.amount * (1 - admitted) })).filter((p) => p.amount > 1e-9) : [];
    for (const p of publishes) for (const sub of subscriptions) if (matchesFilter(sub.filter, { type: p.type, fulfillment: p.fulfillment })) arriveAt(sub.queue, t, p.amount * admitted);

    // Queues and their mappings.
    const nextPublishes: { type: string; fulfillment: string; amount: number }[] = [];
    let records = 0;
    let lambdaTotal = placeOrderConcurrency[t] ?? 0;
    for (const s of states) {
      const inflow = s.pending.get(t) ?? 0;
      s.pending.delete(t);
      if (s.m.fifo) {
        exceed(s.send, inflow, s.m.highThroughputFifo ? Number.POSITIVE_INFINITY : AWS_FIGURES.fifoTpsPerAction, t);
      }
      const available = s.depth + inflow;
      const perSlot = 1000 / s.perMessageMs;
      let capacity = s.concurrency * perSlot;
      let processed: number;
      if (s.groupDepths && groupWeights) {
        // Weighted groups: each group's backlog gets at most one slot (one batch in flight).
        const depths = s.groupDepths.map((d, i) => d + inflow * (groupWeights[i] ?? 0));
        const slots = shareSlots(depths.map((d) => d / perSlot), s.concurrency);
        const done = depths.map((d, i) => Math.min(d, (slots[i] ?? 0) * perSlot));
        s.groupDepths = depths.map((d, i) => Math.max(0, d - (done[i] ?? 0)));
        processed = done.reduce((sum, v) => sum + v, 0);
        capacity = Math.max(processed, slots.reduce((sum, v) => sum + v, 0) * perSlot);
      } else {
        // Standard queues; FIFO per order: every waiting message is its own group, so the backlog bounds the slots.
        if (s.m.fifo && available < s.concurrency) capacity = available * perSlot;
        processed = Math.min(available, capacity);
      }
      if (processed < Math.min(available, s.concurrency * perSlot) - 1e-9) {
        if (s.groupBoundS === 0) s.groupBoundFromS = t;
        s.groupBoundS += 1;
      }
      s.depth = s.groupDepths ? s.groupDepths.reduce((sum, d) => sum + d, 0) : available - processed;
      if (processed > 1e-9) s.workEndsAtS = t + processed / capacity;
      if (s.m.fifo) exceed(s.receive, processed / s.m.batchSize, s.m.highThroughputFifo ? Number.POSITIVE_INFINITY : AWS_FIGURES.fifoTpsPerAction, t);
      const busy = (processed * s.perMessageMs) / 1000;
      s.busy.push(busy);
      s.series.push(s.depth);
      lambdaTotal += busy;
      s.concurrency = s.depth >= EMPTY ? Math.min(s.cap, s.concurrency + s.stepUp) : s.initial;
      // The share of this queue's messages that belong to physical orders, for the attributes of what it sends on.
      const physical = s.msgsPerOrder > 0 ? (perOrder.physical[s.m.queue] ?? 0) / s.msgsPerOrder : physicalShare;
      for (const e of emissions[s.m.fn] ?? []) {
        if (e.event) nextPublishes.push({ type: e.event, fulfillment: 'physical', amount: processed * physical }, { type: e.event, fulfillment: 'digital', amount: processed * (1 - physical) });
        if (e.queue) arriveAt(e.queue, t + 1, processed);
        if (e.kinesisRecord) records += processed;
      }
    }
    topicBacklog = [...topicBacklog, ...nextPublishes.filter((p) => p.amount > 1e-9)];
    exceed(kinesisRecords, records, kinesisRecordLimit, t);
    exceed(kinesisBytes, records * recordBytes, kinesisByteLimit, t);
    exceed(accountCounter, lambdaTotal, AWS_FIGURES.accountConcurrency, t);
    totalConcurrency.push(lambdaTotal);
  }
  const horizonS = t;

  const round = (v: number): number => Math.round(v * 100) / 100;
  const throttles: Throttle[] = [];
  const add = (where: string, limit: string, c: Counter, consequence: string): void => {
    if (c.seconds > 0) throttles.push({ where, limit, peak: Math.round(c.peak * 10) / 10, seconds: c.seconds, firstAtS: c.firstAtS, consequence });
  };
  if (config.api) add('API Gateway stage', `${config.api.rateLimit} requests/s, burst ${config.api.burstLimit}`, apiCounter, `${Math.round(apiThrottled)} request(s) answered 429`);
  if (config.topic) add(`SNS FIFO topic (${config.topic.scope} scope)`, `${topicLimit} messages/s`, topicCounter, 'Publish throttled; the SDK retries, so publishes slip to later seconds');
  for (const s of states) {
    add(`SQS FIFO ${s.m.queue} SendMessage`, `${AWS_FIGURES.fifoTpsPerAction} transactions/s`, s.send, 'SNS deliveries to the queue throttled and retried');
    add(`SQS FIFO ${s.m.queue} ReceiveMessage`, `${AWS_FIGURES.fifoTpsPerAction} transactions/s`, s.receive, 'the pollers are throttled: the queue drains more slowly than predicted');
    if (s.groupBoundS > 0) {
      throttles.push({ where: `SQS FIFO ${s.m.queue} message groups`, limit: 'one batch per message group at a time', peak: round(Math.max(0, ...s.busy)), seconds: s.groupBoundS, firstAtS: s.groupBoundFromS, consequence: `fewer groups had messages waiting than ${s.m.fn}'s mapping could run: the queue drains at its busiest groups' pace` });
    }
    if (s.reservedBelowMapping) throttles.push({ where: `Lambda ${s.m.fn}`, limit: `reserved concurrency ${config.functions[s.m.fn]?.reservedConcurrency}`, peak: Math.max(0, ...s.busy), seconds: 0, firstAtS: 0, consequence: 'the mapping can poll more batches than the function may run: throttled batches return to the queue (set MaximumConcurrency below reserved concurrency)' });
  }
  if (config.kinesis) {
    const limitText = config.kinesis.onDemand ? 'on-demand, 4 MB/s at creation' : `${config.kinesis.shards} shard(s) x (1,000 records/s, 1 MB/s)`;
    add('Kinesis records/s', limitText, kinesisRecords, 'ProvisionedThroughputExceeded: the producer retries the rejected records');
    add('Kinesis bytes/s', limitText, kinesisBytes, 'ProvisionedThroughputExceeded: the producer retries the rejected records');
  }
  add('Lambda account concurrency', `${AWS_FIGURES.accountConcurrency}`, accountCounter, 'invocations throttled across the account');

  const functions = new Map<string, number[]>();
  if (placeMs !== undefined) functions.set('placeOrder', placeOrderConcurrency);
  for (const s of states) {
    const series = functions.get(s.m.fn) ?? Array.from({ length: horizonS }, () => 0);
    functions.set(s.m.fn, series.map((v, i) => v + (s.busy[i] ?? 0)));
  }

  assumptions.push(
    'fluid model in 1 s steps: messages are fractions, a second\'s arrivals can be processed in the same second, consumers\' output arrives the next second',
    'function time per message = measured mean invocation duration / messages per invocation in the run; an invocation of n messages takes n times as long (no fixed overhead), so batch size changes request counts, not drain time',
    `SQS mappings in standard mode start at ${AWS_FIGURES.sqsInitialBatches} concurrent batches, grow by ${AWS_FIGURES.sqsScaleUpPerMinute}/min (+5 per step) while messages remain, up to min(${AWS_FIGURES.sqsMaxBatchesPerMapping.toLocaleString('en-US')}, MaximumConcurrency, reserved concurrency), and fall back to ${AWS_FIGURES.sqsInitialBatches} when the queue is empty (Lambda services-sqs-scaling page, read 2026-12-03); FIFO mappings are modelled the same way, their concurrency further bounded by the message groups with messages waiting (one batch per group at a time): ${groups.kind === 'per-order' ? 'one group per order (MessageGroupId = orderId, lib/aws/publish.ts), each waiting message taken to be a different order\'s' : `${groups.weights.length} weighted groups, each drained at most one invocation at a time`}`,
    'batching windows add up to MaximumBatchingWindowInSeconds of latency at low load and are not modelled (they do not slow a backlog\'s drain)',
    'no failures, retries or visibility timeouts: every message succeeds the first time',
    'SNS delivers one SendMessage per message to a subscribed queue; consumers delete in batches (DeleteMessageBatch)',
    `Kinesis records assumed ${recordBytes} bytes each (not measured)`,
    'high-throughput FIFO queues: no per-action limit applied (the per-region figures were not in the text read)',
    `SNS FIFO per-group rate (${AWS_FIGURES.snsFifoPerGroupPerSecond}/s): the group is the orderId and an order publishes at most 3 events, so it cannot bind`,
    'API Gateway: the stage\'s rate and burst as a token bucket refilled once a second; throttled requests are not retried',
  );
  return {
    stepS: 1,
    horizonS,
    drainFromS: input.drainFromS,
    api: config.api ? { accepted: apiAccepted.map(round), throttled: round(apiThrottled) } : undefined,
    queues: states.map((s) => {
      let peakDepth = 0;
      let peakAtS = 0;
      let drainedAtS = 0;
      s.series.forEach((d, i) => {
        if (d > peakDepth) {
          peakDepth = d;
          peakAtS = i;
        }
        if (d >= EMPTY) drainedAtS = i + 1;
      });
      return {
        queue: s.m.queue,
        fn: s.m.fn,
        fifo: s.m.fifo,
        batchSize: s.m.batchSize,
        maxConcurrency: s.cap,
        messagesPerOrder: round(s.msgsPerOrder),
        perMessageMs: round(s.perMessageMs),
        depth: s.series.map(round),
        peakDepth: round(peakDepth),
        peakAtS,
        drainedAtS,
        drainTimeS: Math.max(0, drainedAtS - input.drainFromS),
        workEndsAtS: Math.round(s.workEndsAtS * 1000) / 1000,
        groupBoundS: s.groupBoundS,
      };
    }),
    functions: [...functions].map(([fn, series]) => ({ fn, concurrency: series.map(round), peak: round(Math.max(0, ...series)) })),
    totalConcurrency: totalConcurrency.map(round),
    throttles,
    assumptions,
  };
}

export { ORDERFLOW_EMISSIONS, capacityConfigFromTemplate, messagesPerOrder, predictCapacity, shortQueueName };
export type { CapacityConfig, CapacityPrediction, FunctionDuration, MappingSpec, Throttle };
