/**
 * An Amazon MQ for RabbitMQ event source mapping, locally: consumes the mapping's queue on the local RabbitMQ node
 * (amazonmq/rabbitmq-broker.ts) with amqplib and invokes the function with the event Lambda builds for RabbitMQ
 * (Lambda developer guide, "Using Lambda with Amazon MQ", example RabbitMQ event): `eventSource` `aws:rmq`,
 * `eventSourceArn` the broker's ARN, `rmqMessagesByQueue` keyed `<queue>::<virtual host>`, each message with its
 * `basicProperties`, `redelivered` and base64 `data`.
 *
 * Batches: up to BatchSize messages (default 100) or MaximumBatchingWindowInSeconds (default 0.5 s), whichever
 * comes first (Lambda API reference, CreateEventSourceMapping); one batch at a time, as Lambda runs one
 * execution environment per RabbitMQ mapping by default ("Using Lambda with Amazon MQ", Concurrency). A batch the
 * function completes is acknowledged; a failed one is rejected back onto the queue (nack, requeue), so it comes
 * again with `redelivered: true`: nothing is lost.
 */
import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import type { LambdaRuntime } from '../runtime/runtime.ts';
import type { LocalBroker } from '../amazonmq/rabbitmq-broker.ts';

interface RabbitMqMapping {
  logicalId: string;
  functionName: string;
  brokerArn: string;
  queue: string;
  virtualHost: string;
  batchSize: number;
  maximumBatchingWindowInSeconds: number;
  enabled: boolean;
}

/** The mapping's properties as CloudFormation takes them (AWS::Lambda::EventSourceMapping). */
function readRabbitMqMapping(logicalId: string, props: Record<string, unknown>): RabbitMqMapping {
  const access = Array.isArray(props.SourceAccessConfigurations) ? (props.SourceAccessConfigurations as { Type?: unknown; URI?: unknown }[]) : [];
  const virtualHost = access.find((entry) => entry.Type === 'VIRTUAL_HOST')?.URI;
  return {
    logicalId,
    functionName: String(props.FunctionName),
    brokerArn: String(props.EventSourceArn),
    queue: String((props.Queues as unknown[] | undefined)?.[0] ?? ''),
    virtualHost: typeof virtualHost === 'string' ? virtualHost : '/',
    batchSize: props.BatchSize === undefined ? 100 : Number(props.BatchSize),
    maximumBatchingWindowInSeconds: props.MaximumBatchingWindowInSeconds === undefined ? 0.5 : Number(props.MaximumBatchingWindowInSeconds),
    enabled: props.Enabled === undefined || props.Enabled === true || props.Enabled === 'true',
  };
}

/** `Jan 1, 1970, 12:33:41 AM`: how Lambda's RabbitMQ event writes basicProperties.timestamp (UTC). */
function lambdaTimestamp(seconds: number | undefined): string | null {
  if (seconds === undefined) return null;
  const text = new Intl.DateTimeFormat('en-US', { timeZone: 'UTC', month: 'short', day: 'numeric', year: 'numeric', hour: 'numeric', minute: '2-digit', second: '2-digit', hour12: true }).format(new Date(seconds * 1000));
  return text.replace(/\u202f/g, ' ');
}

/** Header values as Lambda passes them: strings and buffers as `{ bytes: [...] }`, numbers and booleans as they are. */
function lambdaHeaders(headers: Record<string, unknown> | undefined): Record<string, unknown> | null {
  if (!headers) return null;
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(headers)) {
    out[name] = typeof value === 'string' ? { bytes: [...Buffer.from(value)] } : Buffer.isBuffer(value) ? { bytes: [...value] } : value;
  }
  return out;
}

/** One message of `rmqMessagesByQueue`, from what amqplib delivered. */
function toRmqMessage(message: ConsumeMessage): Record<string, unknown> {
  const p = message.properties;
  const str = (value: unknown): string | null => (value === undefined || value === null ? null : String(value));
  return {
    basicProperties: {
      contentType: str(p.contentType),
      contentEncoding: str(p.contentEncoding),
      headers: lambdaHeaders(p.headers as Record<string, unknown> | undefined),
      deliveryMode: p.deliveryMode ?? null,
      priority: p.priority ?? null,
      correlationId: str(p.correlationId),
      replyTo: str(p.replyTo),
      expiration: str(p.expiration),
      messageId: str(p.messageId),
      timestamp: lambdaTimestamp(p.timestamp as number | undefined),
      type: str(p.type),
      userId: str(p.userId),
      appId: str(p.appId),
      clusterId: str(p.clusterId),
      bodySize: message.content.length,
    },
    redelivered: message.fields.redelivered,
    data: message.content.toString('base64'),
  };
}

class RabbitMqPoller {
  readonly mapping: RabbitMqMapping;
  private readonly runtime: LambdaRuntime;
  private readonly broker: LocalBroker;
  private readonly log: (line: string) => void;
  private connection?: ChannelModel;
  private channel?: Channel;
  private pending: ConsumeMessage[] = [];
  private timer?: NodeJS.Timeout;
  /** The batch being handled: batches run one after the other. */
  private running: Promise<void> = Promise.resolve();
  private stopped = false;
  /** Counters for tests: batches invoked, messages acknowledged, batches rejected back onto the queue. */
  readonly stats = { invocations: 0, acked: 0, failedBatches: 0 };

  constructor(options: { mapping: RabbitMqMapping; runtime: LambdaRuntime; broker: LocalBroker; log?: (line: string) => void }) {
    this.mapping = options.mapping;
    this.runtime = options.runtime;
    this.broker = options.broker;
    this.log = options.log ?? (() => {});
  }

  /** Amazon MQ mappings' roles are not checked (IamGuard.checkMappings): nothing to check. */
  get access(): undefined {
    return undefined;
  }

  get functionName(): string {
    return this.runtime.get(this.mapping.functionName).config.name;
  }

  async start(): Promise<void> {
    if (!this.mapping.enabled) return;
    const vhost = this.mapping.virtualHost === '/' ? '' : `/${encodeURIComponent(this.mapping.virtualHost)}`;
    this.connection = await amqp.connect(`${this.broker.connection.url}${vhost}`);
    this.channel = await this.connection.createChannel();
    // Lambda reads an existing queue; locally the mapping declares it (durable, as the producer does), so the
    // consumer can start before the first publisher.
    await this.channel.assertQueue(this.mapping.queue, { durable: true });
    await this.channel.prefetch(this.mapping.batchSize);
    await this.channel.consume(this.mapping.queue, (message) => {
      if (message) this.receive(message);
    });
  }

  private receive(message: ConsumeMessage): void {
    this.pending.push(message);
    if (this.pending.length >= this.mapping.batchSize) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.mapping.maximumBatchingWindowInSeconds * 1000);
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending.splice(0, this.mapping.batchSize);
    if (batch.length === 0) return;
    this.running = this.running
      .then(() => this.handle(batch))
      .catch((error: unknown) => this.log(`${this.mapping.logicalId}: ${error instanceof Error ? error.message : String(error)}`));
  }

  private async handle(batch: ConsumeMessage[]): Promise<void> {
    if (this.stopped || !this.channel) return;
    const event = {
      eventSource: 'aws:rmq',
      eventSourceArn: this.mapping.brokerArn,
      rmqMessagesByQueue: { [`${this.mapping.queue}::${this.mapping.virtualHost}`]: batch.map(toRmqMessage) },
    };
    this.stats.invocations += 1;
    const result = await this.runtime.invoke(this.mapping.functionName, event);
    if (this.stopped) return; // closing the channel has put the batch back on the queue
    if (result.ok) {
      for (const message of batch) this.channel.ack(message);
      this.stats.acked += batch.length;
      return;
    }
    this.stats.failedBatches += 1;
    this.log(`${this.mapping.logicalId}: ${this.functionName} failed a batch of ${batch.length} (${result.reason}: ${result.error.errorMessage}); rejected back onto ${this.mapping.queue}`);
    for (const message of batch) this.channel.nack(message, false, true);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    // Unacknowledged messages go back to the queue when the channel closes (AMQP 0-9-1).
    await this.connection?.close().catch(() => {});
  }
}

export { RabbitMqPoller, readRabbitMqMapping };
