/**
 * What the runner watches while a scenario runs: every queue's depth, in-flight and delayed counts
 * (GetQueueAttributes, once a second), the local cloud's counters, memory and event loops (once a second), and the
 * Orders table (a paginated Scan, every page read, projected to the attributes the accounting needs).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { paginateScan } from '@aws-sdk/lib-dynamodb';
import type { EventLoopTime, LocalStatsSnapshot } from 'local-cloud';
import type { TableItem } from './accounting.ts';
import { queuesDrainedAt } from './report.ts';
import type { LoadTarget, QueueInfo } from './target.ts';

interface QueueDepth {
  /** ApproximateNumberOfMessages: waiting to be received. */
  visible: number;
  /** ApproximateNumberOfMessagesNotVisible: received, not yet deleted (in flight). */
  inFlight: number;
  /** ApproximateNumberOfMessagesDelayed. */
  delayed: number;
}

interface QueueSample {
  /** ms from the run's start. */
  t: number;
  depths: Record<string, QueueDepth>;
  /** Work queues only: visible + in flight (delayed messages are not yet work). */
  backlog: number;
  /** Work queues only: visible. */
  waiting: number;
  /** Sum over DLQs of visible + in flight + delayed. */
  dlq: number;
}

interface MemorySample {
  t: number;
  rssBytes: number;
  peakRssBytes: number;
}

/** The local cloud's event loops' busy and idle time so far (LocalStatsSnapshot.eventLoops), at `t`. */
interface EventLoopSample {
  t: number;
  eventLoops: Record<string, EventLoopTime>;
}

const DEPTH_ATTRIBUTES = ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'] as const;

async function queueDepth(target: LoadTarget, queue: QueueInfo): Promise<QueueDepth> {
  const out = await target.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queue.url, AttributeNames: [...DEPTH_ATTRIBUTES] }));
  const attributes = out.Attributes ?? {};
  return {
    visible: Number(attributes.ApproximateNumberOfMessages ?? 0),
    inFlight: Number(attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
    delayed: Number(attributes.ApproximateNumberOfMessagesDelayed ?? 0),
  };
}

/** One sample of every queue, taken in parallel. */
async function sampleQueues(target: LoadTarget, t: number): Promise<QueueSample> {
  const depths: Record<string, QueueDepth> = {};
  await Promise.all(
    target.queues.map(async (queue) => {
      depths[queue.name] = await queueDepth(target, queue);
    }),
  );
  let backlog = 0;
  let waiting = 0;
  let dlq = 0;
  for (const queue of target.queues) {
    const depth = depths[queue.name] as QueueDepth;
    if (queue.role === 'work') {
      backlog += depth.visible + depth.inFlight;
      waiting += depth.visible;
    } else dlq += depth.visible + depth.inFlight + depth.delayed;
  }
  return { t, depths, backlog, waiting, dlq };
}

/**
 * Samples queues and the local cloud's memory every `intervalMs` until stopped. A sample that fails
 * (a throttled GetQueueAttributes on AWS) is skipped and counted, never retried in a loop.
 */
class Sampler {
  readonly queues: QueueSample[] = [];
  readonly memory: MemorySample[] = [];
  readonly eventLoops: EventLoopSample[] = [];
  failures = 0;
  lastError = '';
  private timer?: NodeJS.Timeout;
  private running = false;
  private listeners: ((sample: QueueSample) => void)[] = [];
  private readonly target: LoadTarget;
  private readonly startEpochMs: number;
  private readonly intervalMs: number;

  constructor(target: LoadTarget, startEpochMs: number, intervalMs = 1000) {
    this.target = target;
    this.startEpochMs = startEpochMs;
    this.intervalMs = intervalMs;
  }

  onSample(listener: (sample: QueueSample) => void): void {
    this.listeners.push(listener);
  }

  get latest(): QueueSample | undefined {
    return this.queues.at(-1);
  }

  start(): void {
    const tick = async (): Promise<void> => {
      if (this.running) return;
      this.running = true;
      const t = Date.now() - this.startEpochMs;
      try {
        const [sample, stats] = await Promise.all([sampleQueues(this.target, t), this.target.stats().catch(() => undefined)]);
        this.queues.push(sample);
        if (stats) {
          this.memory.push({ t, rssBytes: stats.memory.rssBytes, peakRssBytes: stats.memory.peakRssBytes });
          this.eventLoops.push({ t, eventLoops: stats.eventLoops });
        }
        for (const listener of this.listeners) listener(sample);
      } catch (error) {
        this.failures += 1;
        this.lastError = error instanceof Error ? error.message : String(error);
      } finally {
        this.running = false;
      }
    };
    void tick();
    this.timer = setInterval(() => void tick(), this.intervalMs);
  }

  /**
   * Resolves once the samples from `fromMs` on show the work queues drained as the report measures it
   * (queuesDrainedAt), or at `deadlineEpochMs`, or when `signal` aborts: every order can be COMPLETED while the
   * follow-up work its events started (documents, reviews) still waits in its queues.
   */
  async untilDrained(fromMs: number, deadlineEpochMs: number, signal?: AbortSignal): Promise<void> {
    while (queuesDrainedAt(this.queues, fromMs) === null && Date.now() < deadlineEpochMs && signal?.aborted !== true) {
      await sleep(Math.min(this.intervalMs / 4, Math.max(0, deadlineEpochMs - Date.now())));
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

const PROJECTED = ['orderId', 'status', 'fulfillment', 'placedAt', 'chargedAt', 'shippedAt', 'completedAt', 'invoiceWrites', 'labelWrites', 'correlationId'] as const;

/**
 * Reads the Orders table with a paginated Scan (every page), keeping the items `keep` selects.
 * Returns them with the number of pages and items read.
 */
async function scanOrders(target: LoadTarget, keep: (item: TableItem) => boolean): Promise<{ items: TableItem[]; pages: number; scanned: number; ms: number }> {
  const started = Date.now();
  const names = Object.fromEntries(PROJECTED.map((attribute, index) => [`#a${index}`, attribute]));
  const items: TableItem[] = [];
  let pages = 0;
  let scanned = 0;
  const paginator = paginateScan(
    { client: target.dynamodb },
    { TableName: target.ordersTable, ProjectionExpression: Object.keys(names).join(', '), ExpressionAttributeNames: names },
  );
  for await (const page of paginator) {
    pages += 1;
    for (const raw of page.Items ?? []) {
      scanned += 1;
      const item = raw as TableItem;
      if (keep(item)) items.push(item);
    }
  }
  return { items, pages, scanned, ms: Date.now() - started };
}

/** The counters' difference between two snapshots (what a run caused, observer requests excluded). */
function statsDelta(before: LocalStatsSnapshot, after: LocalStatsSnapshot): {
  aws: Record<string, Record<string, number>>;
  functions: Record<string, { invocations: number; errors: number; timeouts: number; throttles: number; memoryMb: number; totalMs: number }>;
} {
  const aws: Record<string, Record<string, number>> = {};
  for (const [service, operations] of Object.entries(after.aws)) {
    for (const [operation, count] of Object.entries(operations)) {
      const delta = count - (before.aws[service]?.[operation] ?? 0);
      if (delta > 0) (aws[service] ??= {})[operation] = delta;
    }
  }
  const functions: ReturnType<typeof statsDelta>['functions'] = {};
  for (const [name, fn] of Object.entries(after.functions)) {
    const was = before.functions[name];
    const invocations = fn.invocations - (was?.invocations ?? 0);
    const throttles = fn.throttles - (was?.throttles ?? 0);
    if (invocations <= 0 && throttles <= 0) continue;
    functions[name] = {
      invocations,
      errors: fn.errors - (was?.errors ?? 0),
      timeouts: fn.timeouts - (was?.timeouts ?? 0),
      throttles,
      memoryMb: fn.memoryMb,
      totalMs: fn.durationMs.total - (was?.durationMs.total ?? 0),
    };
  }
  return { aws, functions };
}

export { Sampler, scanOrders, statsDelta };
export type { EventLoopSample, MemorySample, QueueSample };
