/**
 * The dashboard's one sampler: once a second it builds one snapshot that the server pushes to every connected page.
 * The snapshot is built from what is at hand in this process (the runtime's counters, the observer's order
 * counts) and from the latest results of background reads, each in its own loop that never overlaps itself:
 * queue attributes and the recent orders (every second), DLQ messages (when a DLQ's depth changes), object
 * counts of buckets and item counts of tables (every few seconds). Under load the reads slow down with
 * everything else in the process, but the snapshots still come once a second, so the charts keep moving.
 *
 * Its AWS requests carry the user agent `orderflow-load` (stats.ts OBSERVER_AGENT), so `GET /_local/stats`
 * counts them apart from the application's and they do not inflate "requests per order".
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { BatchGetCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { IamReport, LocalCloud } from 'local-cloud';
import { OBSERVER_AGENT, type LocalStatsSnapshot } from 'local-cloud';
import { localClients } from '../local/clients.ts';
import type { InvocationObserver } from './observer.ts';
import type { Topology } from './topology.ts';

/** [visible, in flight, delayed]: GetQueueAttributes' ApproximateNumberOfMessages(NotVisible|Delayed). */
type QueueDepth = [number, number, number];

interface FunctionSample {
  invocations: number;
  errors: number;
  timeouts: number;
  throttles: number;
  /** Invocations in the last tick. */
  perSecond: number;
  /** Mean duration of the last tick's invocations (ms), else the mean since start. */
  durationMs: number;
  maxMs: number;
  /** Invocations running now. */
  running: number;
}

interface OrderRow {
  orderId: string;
  customerId?: string;
  fulfillment?: string;
  status: string;
  totalCents?: number;
  placedAt?: string;
  chargedAt?: string;
  shippedAt?: string;
  completedAt?: string;
  /** Placed from this dashboard's form. */
  mine?: boolean;
}

interface DlqMessageRow {
  /** Logical id of the DLQ. */
  queue: string;
  queueName: string;
  /** The queue it protects (logical id). */
  source: string;
  messageId: string;
  orderId?: string;
  customerId?: string;
  type?: string;
  sentAt?: string;
  receiveCount?: number;
  /** The last failure, as `npm run dlq -- peek` tells it (`PoisonOrderError: ... (function, time, order)`). */
  reason?: string;
}

interface Snapshot {
  t: number;
  /** How old the queue attributes are (ms; they are read in the background, -1: not yet). */
  queuesAgeMs: number;
  queues: Record<string, QueueDepth>;
  functions: Record<string, FunctionSample>;
  buckets: Record<string, { objects: number; bytes: number; capped: boolean; byPrefix?: Record<string, number> }>;
  /** Items counted while the cloud was idle; `stale` while it is busy (the count is from before). */
  tables: Record<string, { items?: number; stale?: boolean }>;
  stream: { put: number; read: number; putRecordsCalls: number };
  /** SNS Publish and PublishBatch calls that reached the edge. */
  published: number;
  orders: { accepted: number; completed: number; acceptedPerSecond: number; completedPerSecond: number; recent: OrderRow[] };
  dlq: { total: number; messages: DlqMessageRow[]; error?: string };
  aws: { total: number; perSecond: number };
  memory: { rssBytes: number; peakRssBytes: number };
  /** What IAM refused (or, under `--iam warn`, would have): GET /_local/iam's report, its newest rows first. */
  iam: IamPanel;
}

/** The IAM panel: the mode, and the newest denials and refused deliveries of `cloud.iam.report()`. */
interface IamPanel {
  mode: IamReport['mode'];
  evaluated: number;
  /** How many of each the report holds (the panel lists the newest IAM_ROWS). */
  deniedTotal: number;
  deliveriesTotal: number;
  denials: IamReport['denials'];
  deliveryDenials: IamReport['deliveryDenials'];
  mappingRefusals: string[];
}

interface HistoryPoint {
  t: number;
  accepted: number;
  completed: number;
  /** Depth (visible + in flight + delayed) of each main queue, in topology order of `queueIds`. */
  depths: number[];
  dlq: number;
}

/** What the DLQ panel needs from the DLQ tool (scripts/dlq), injected so the server stays testable. */
interface DlqSource {
  /** Up to `limit` messages of each DLQ with something in it, with their failure reasons. */
  peek(queues: { logicalId: string; name: string; url: string; source: string }[], limit: number): Promise<DlqMessageRow[]>;
}

interface SamplerOptions {
  cloud: LocalCloud;
  topology: Topology;
  observer: InvocationObserver;
  dlq?: DlqSource;
  intervalMs?: number;
  /** Points kept for the charts (default 600: ten minutes at one a second). */
  historySize?: number;
  /** Rows in the recent orders table. */
  recentOrders?: number;
  log?: (line: string) => void;
}

const SLOW_EVERY_MS = 5_000;
/** A peek hides messages for a moment: peek when a DLQ's depth changes, else this seldom. */
const DLQ_PEEK_EVERY_MS = 30_000;
/** Pages of 1,000 keys listed per bucket per count: past that, the count says "at least". */
const MAX_LIST_PAGES = 20;
const DLQ_PEEK_LIMIT = 10;
/** Rows of each kind the IAM panel lists (newest first). */
const IAM_ROWS = 12;

class Sampler {
  readonly history: HistoryPoint[] = [];
  /** Logical ids of the queues charted, in topology order. */
  readonly queueIds: string[];
  latest?: Snapshot;
  private readonly options: SamplerOptions;
  private readonly sqs: SQSClient;
  private readonly s3: S3Client;
  private readonly dynamodb: DynamoDBClient;
  private readonly documents: DynamoDBDocumentClient;
  private readonly listeners = new Set<(snapshot: Snapshot) => void>();
  private timer?: NodeJS.Timeout;
  private readonly loops: Promise<void>[] = [];
  private stopped = false;
  private previous?: { t: number; stats: LocalStatsSnapshot; accepted: number; completed: number };
  private queues: Snapshot['queues'] = {};
  /** When the queue attributes were last read (ms). */
  private queuesAt = 0;
  private recent: OrderRow[] = [];
  private slow: { buckets: Snapshot['buckets']; tables: Snapshot['tables'] } = { buckets: {}, tables: {} };
  private idle = true;
  private dlq: Snapshot['dlq'] = { total: 0, messages: [] };
  private dlqRead = { at: 0, signature: '' };
  private readonly mine = new Set<string>();

  constructor(options: SamplerOptions) {
    this.options = options;
    const { cloud } = options;
    const clients = localClients({ endpoint: cloud.edgeUrl, region: cloud.region }, { customUserAgent: `${OBSERVER_AGENT}-dashboard` });
    this.sqs = clients.sqs;
    this.s3 = clients.s3;
    this.dynamodb = clients.dynamodb;
    this.documents = clients.documents;
    this.queueIds = options.topology.nodes.filter((node) => node.kind === 'queue' && node.url && !node.failureDestination).map((node) => node.id);
  }

  onSnapshot(listener: (snapshot: Snapshot) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Orders placed from the dashboard stay listed (marked) even when a load run scrolls the others away. */
  pin(orderId: string): void {
    this.mine.add(orderId);
    if (this.mine.size > 5) this.mine.delete(this.mine.values().next().value as string);
  }

  /** Reads the DLQs again at the next tick (after a redrive or a purge). */
  refreshDlq(): void {
    this.dlqRead = { at: 0, signature: '' };
  }

  start(): void {
    const interval = this.options.intervalMs ?? 1000;
    let next = Date.now();
    const emit = (): void => {
      if (this.stopped) return;
      try {
        this.sample();
      } catch (error) {
        this.options.log?.(`[dashboard] sample failed: ${(error as Error).message}`);
      }
      next = Math.max(next + interval, Date.now() + interval / 2);
      this.timer = setTimeout(emit, next - Date.now());
      this.timer.unref();
    };
    this.loop(interval, () => this.readQueues());
    this.loop(interval, async () => {
      this.recent = await this.recentOrders();
    });
    this.loop(interval, () => this.readDlq());
    this.loop(SLOW_EVERY_MS, () => this.readSlow());
    emit();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await Promise.all(this.loops);
    this.sqs.destroy();
    this.s3.destroy();
    this.dynamodb.destroy();
  }

  /** Runs `read` now and then every `intervalMs` after the start of the previous run, never two at once. */
  private loop(intervalMs: number, read: () => Promise<void>): void {
    const run = async (): Promise<void> => {
      while (!this.stopped) {
        const started = Date.now();
        await read().catch((error: unknown) => this.options.log?.(`[dashboard] read failed: ${(error as Error).message}`));
        const wait = intervalMs - (Date.now() - started);
        if (wait > 0 && !this.stopped) await sleep(wait, undefined, { ref: false });
      }
    };
    this.loops.push(run());
  }

  private queueUrls(): { id: string; url: string }[] {
    const out: { id: string; url: string }[] = [];
    for (const node of this.options.topology.nodes) {
      if (node.kind === 'queue' && node.url) out.push({ id: node.id, url: node.url });
      for (const dlq of node.dlqs) if (dlq.url) out.push({ id: dlq.logicalId, url: dlq.url });
    }
    return out;
  }

  private async readQueues(): Promise<void> {
    const queues: Snapshot['queues'] = {};
    await Promise.all(
      this.queueUrls().map(async ({ id, url }) => {
        try {
          const out = await this.sqs.send(
            new GetQueueAttributesCommand({
              QueueUrl: url,
              AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
            }),
          );
          const a = out.Attributes ?? {};
          queues[id] = [Number(a.ApproximateNumberOfMessages ?? 0), Number(a.ApproximateNumberOfMessagesNotVisible ?? 0), Number(a.ApproximateNumberOfMessagesDelayed ?? 0)];
        } catch {
          // Not readable this time: keep the last reading.
          if (this.queues[id]) queues[id] = this.queues[id] as QueueDepth;
        }
      }),
    );
    this.queues = queues;
    this.queuesAt = Date.now();
  }

  /** Builds (and pushes to the listeners) the snapshot of now, from the counters and the latest reads. */
  sample(): Snapshot {
    const { cloud, observer } = this.options;
    const queues = this.queues;
    const stats = cloud.stats();
    const now = Date.now();
    const previous = this.previous;
    const seconds = previous ? Math.max(0.001, (now - previous.t) / 1000) : 1;
    const functions: Snapshot['functions'] = {};
    for (const fn of cloud.runtime.list()) {
      const current = stats.functions[fn.config.name];
      const before = previous?.stats.functions[fn.config.name];
      const invocations = current?.invocations ?? 0;
      const delta = invocations - (before?.invocations ?? 0);
      const deltaMs = (current?.durationMs.total ?? 0) - (before?.durationMs.total ?? 0);
      functions[fn.config.logicalId] = {
        invocations,
        errors: current?.errors ?? 0,
        timeouts: current?.timeouts ?? 0,
        throttles: current?.throttles ?? 0,
        perSecond: previous ? round(delta / seconds) : 0,
        durationMs: delta > 0 ? round(deltaMs / delta) : (current?.durationMs.mean ?? 0),
        maxMs: current?.durationMs.max ?? 0,
        running: fn.concurrency.inUse,
      };
    }
    const { accepted, completed, streamPut, streamRead } = observer.counters;
    this.idle = Object.values(functions).every((fn) => fn.running === 0 && fn.perSecond === 0);
    const recent = this.recent;

    const snapshot: Snapshot = {
      t: now,
      queuesAgeMs: this.queuesAt > 0 ? now - this.queuesAt : -1,
      queues,
      functions,
      buckets: this.slow.buckets,
      tables: this.slow.tables,
      stream: { put: streamPut, read: streamRead, putRecordsCalls: stats.aws.kinesis?.PutRecords ?? 0 },
      published: (stats.aws.sns?.Publish ?? 0) + (stats.aws.sns?.PublishBatch ?? 0),
      orders: {
        accepted,
        completed,
        acceptedPerSecond: previous ? round((accepted - previous.accepted) / seconds) : 0,
        completedPerSecond: previous ? round((completed - previous.completed) / seconds) : 0,
        recent,
      },
      dlq: this.dlq,
      aws: { total: stats.awsTotal, perSecond: previous ? round((stats.awsTotal - previous.stats.awsTotal) / seconds) : 0 },
      memory: { rssBytes: stats.memory.rssBytes, peakRssBytes: stats.memory.peakRssBytes },
      iam: iamPanel(cloud.iam.report()),
    };
    this.previous = { t: now, stats, accepted, completed };
    this.latest = snapshot;
    this.history.push({
      t: now,
      accepted: snapshot.orders.acceptedPerSecond,
      completed: snapshot.orders.completedPerSecond,
      depths: this.queueIds.map((id) => (queues[id] ?? [0, 0, 0]).reduce((a, b) => a + b, 0)),
      dlq: this.dlq.total,
    });
    if (this.history.length > (this.options.historySize ?? 600)) this.history.shift();
    for (const listener of this.listeners) listener(snapshot);
    return snapshot;
  }

  /** The recent orders as the Orders table has them (one BatchGetItem), those placed here first. */
  private async recentOrders(): Promise<OrderRow[]> {
    const { cloud, observer } = this.options;
    const limit = this.options.recentOrders ?? 12;
    const tableName = cloud.outputs.OrdersTableName ?? cloud.resources.OrdersTable?.physicalId;
    const placed = observer.recentOrders(limit);
    const mine = [...this.mine].reverse().filter((id) => !placed.slice(0, 3).some((order) => order.orderId === id));
    const ids = [...new Set([...mine.slice(0, 5), ...placed.map((order) => order.orderId)])].slice(0, limit);
    const items = new Map<string, Record<string, unknown>>();
    if (tableName && ids.length > 0) {
      try {
        const out = await this.documents.send(
          new BatchGetCommand({
            RequestItems: {
              [tableName]: {
                Keys: ids.map((orderId) => ({ orderId })),
                ConsistentRead: true,
                ProjectionExpression: 'orderId, #s, customerId, fulfillment, totalCents, placedAt, chargedAt, shippedAt, completedAt',
                ExpressionAttributeNames: { '#s': 'status' },
              },
            },
          }),
        );
        for (const item of out.Responses?.[tableName] ?? []) items.set(String(item.orderId), item);
      } catch {
        // The table is busy or gone: the rows show what the API answered.
      }
    }
    const known = new Map(observer.recentOrders(50).map((order) => [order.orderId, order]));
    return ids.map((orderId) => {
      const item = items.get(orderId) ?? {};
      const order = known.get(orderId);
      const text = (key: string): string | undefined => (typeof item[key] === 'string' ? (item[key] as string) : undefined);
      const customerId = text('customerId') ?? order?.customerId;
      const fulfillment = text('fulfillment') ?? order?.fulfillment;
      return {
        orderId,
        status: text('status') ?? 'ACCEPTED',
        ...(customerId ? { customerId } : {}),
        ...(fulfillment ? { fulfillment } : {}),
        ...(typeof item.totalCents === 'number' ? { totalCents: item.totalCents } : {}),
        ...Object.fromEntries(['placedAt', 'chargedAt', 'shippedAt', 'completedAt'].filter((key) => text(key)).map((key) => [key, text(key)])),
        ...(this.mine.has(orderId) ? { mine: true } : {}),
      };
    });
  }

  /** DLQ messages: read again when a DLQ's depth changes, else every few seconds while any holds messages. */
  private async readDlq(): Promise<void> {
    const queues = this.queues;
    const dlqs = this.options.topology.nodes.flatMap((node) =>
      node.dlqs.filter((dlq) => dlq.url).map((dlq) => ({ logicalId: dlq.logicalId, name: dlq.name, url: dlq.url as string, source: node.id })),
    );
    const failureQueues = this.options.topology.nodes
      .filter((node) => node.failureDestination && node.url)
      .map((node) => ({ logicalId: node.id, name: node.name, url: node.url as string, source: node.id }));
    const all = [...dlqs, ...failureQueues];
    const depth = (id: string): number => (queues[id] ?? [0, 0, 0]).reduce((a, b) => a + b, 0);
    const total = all.reduce((sum, queue) => sum + depth(queue.logicalId), 0);
    const signature = all.map((queue) => `${queue.logicalId}:${depth(queue.logicalId)}`).join(',');
    const now = Date.now();
    if (!this.options.dlq || (signature === this.dlqRead.signature && (total === 0 || now - this.dlqRead.at < DLQ_PEEK_EVERY_MS))) {
      this.dlq = { ...this.dlq, total };
      return;
    }
    this.dlqRead = { at: now, signature };
    try {
      const messages = total === 0 ? [] : await this.options.dlq.peek(all.filter((queue) => depth(queue.logicalId) > 0), DLQ_PEEK_LIMIT);
      this.dlq = { total, messages };
    } catch (error) {
      this.dlq = { total, messages: this.dlq.messages, error: (error as Error).message };
    }
  }

  /** Object counts of the buckets and item counts of the tables. */
  private async readSlow(): Promise<void> {
    const idle = this.idle;
    const buckets: Snapshot['buckets'] = {};
    const tables: Snapshot['tables'] = {};
    const { topology } = this.options;
    await Promise.all([
      ...topology.nodes
        .filter((node) => node.kind === 'bucket')
        .map(async (node) => {
          let objects = 0;
          let bytes = 0;
          let token: string | undefined;
          let pages = 0;
          const byPrefix: Record<string, number> = {};
          try {
            do {
              const page = await this.s3.send(new ListObjectsV2Command({ Bucket: node.name, ContinuationToken: token }));
              for (const object of page.Contents ?? []) {
                objects += 1;
                bytes += object.Size ?? 0;
                const prefix = (object.Key ?? '').split('/')[0] ?? '';
                byPrefix[prefix] = (byPrefix[prefix] ?? 0) + 1;
              }
              token = page.IsTruncated ? page.NextContinuationToken : undefined;
              pages += 1;
            } while (token && pages < MAX_LIST_PAGES);
            buckets[node.id] = { objects, bytes, capped: token !== undefined, byPrefix };
          } catch {
            // Not readable now: keep the previous count.
            if (this.slow.buckets[node.id]) buckets[node.id] = this.slow.buckets[node.id] as Snapshot['buckets'][string];
          }
        }),
      ...topology.nodes
        .filter((node) => node.kind === 'table')
        .map(async (node) => {
          const before = this.slow.tables[node.id];
          // dynalite never updates DescribeTable's ItemCount, and a COUNT scan reads every item: count only
          // while the cloud is idle (nothing ran in the last tick), else keep the last count.
          if (!idle) {
            tables[node.id] = before?.items === undefined ? {} : { ...before, stale: true };
            return;
          }
          try {
            let items = 0;
            let start: Record<string, AttributeValue> | undefined;
            do {
              const page = await this.dynamodb.send(new ScanCommand({ TableName: node.name, Select: 'COUNT', ExclusiveStartKey: start }));
              items += page.Count ?? 0;
              start = page.LastEvaluatedKey;
            } while (start);
            tables[node.id] = { items };
          } catch {
            tables[node.id] = before ?? {};
          }
        }),
    ]);
    this.slow = { buckets, tables };
  }
}

/** The newest rows of GET /_local/iam's report (the same object the control endpoint answers). */
function iamPanel(report: IamReport): IamPanel {
  return {
    mode: report.mode,
    evaluated: report.evaluated,
    deniedTotal: report.denials.length,
    deliveriesTotal: report.deliveryDenials.length,
    denials: report.denials.slice(-IAM_ROWS).reverse(),
    deliveryDenials: report.deliveryDenials.slice(-IAM_ROWS).reverse(),
    mappingRefusals: report.mappingRefusals,
  };
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

export { Sampler };
export type { DlqMessageRow, DlqSource };
