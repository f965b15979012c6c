/**
 * Counters the local cloud keeps, for load runs and `npm run cost`: AWS requests by service and
 * operation as they pass the edge, invocations, errors and duration per function in the runtime,
 * the process's memory, and how busy its event loops were. One set of counters per edge endpoint (a
 * process may run several local clouds, as the tests do); `GET /_local/stats` on the edge answers
 * its snapshot as JSON.
 *
 * Requests whose user agent carries `orderflow-load` (the load runner's own queue sampling and
 * table scans) are counted apart, under `observer`, so they do not inflate "requests per order".
 *
 * @example
 * const before = cloud.stats();
 * // ... place orders ...
 * const after = cloud.stats();
 * const sqsPerOrder = (after.aws.sqs?.ReceiveMessage ?? 0) - (before.aws.sqs?.ReceiveMessage ?? 0);
 */
import type { IncomingHttpHeaders } from 'node:http';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

/** The user-agent token that marks the load runner's own requests. */
const OBSERVER_AGENT = 'orderflow-load';

/** The path of the stats endpoint on the edge (no S3 bucket name can start with `_`). */
const STATS_PATH = '/_local/stats';

type CountsByOperation = Record<string, Record<string, number>>;

interface FunctionStats {
  invocations: number;
  /** Handler errors (thrown or rejected). */
  errors: number;
  timeouts: number;
  /** Invocations refused for want of a concurrency slot (HTTP API only: it invokes with `throttle`). */
  throttles: number;
  /** The function's configured memory (MB), for GB-second estimates. */
  memoryMb: number;
  durationMs: { total: number; max: number; mean: number };
}

interface LocalStatsSnapshot {
  startedAt: string;
  takenAt: string;
  uptimeMs: number;
  /** AWS requests that reached the edge, by service and operation (S3 operations derived from method and path). */
  aws: CountsByOperation;
  awsTotal: number;
  /** The load runner's own requests (user agent `orderflow-load`), by service and operation. */
  observer: CountsByOperation;
  functions: Record<string, FunctionStats>;
  memory: {
    rssBytes: number;
    /** The process's peak resident set size so far (getrusage ru_maxrss). */
    peakRssBytes: number;
    heapUsedBytes: number;
  };
  /** CPU time the process has used so far (all its threads), ms. */
  cpu: { userMs: number; systemMs: number };
  /**
   * Each watched event loop's time so far, busy (`activeMs`) and waiting for work (`idleMs`), as Node's
   * `eventLoopUtilization` counts it: `main` (the edge, the pollers and, by default, the functions) and, when they
   * run in a thread of their own, `emulators`. Two snapshots give a window's busy share:
   * Δactive / (Δactive + Δidle). A loop busy near 100 % is what holds the local cloud back.
   */
  eventLoops: Record<string, EventLoopTime>;
}

/** An event loop's busy and idle time so far, ms. */
interface EventLoopTime {
  activeMs: number;
  idleMs: number;
}

/** The part of an invocation result the counters read (runtime.ts's InvokeResult fits). */
type InvocationOutcome = { ok: true; durationMs: number } | { ok: false; reason: 'error' | 'timeout' | 'throttled'; durationMs: number };

interface MutableFunctionStats {
  invocations: number;
  errors: number;
  timeouts: number;
  throttles: number;
  memoryMb: number;
  totalMs: number;
  maxMs: number;
}

class LocalStats {
  private readonly started = Date.now();
  private readonly aws = new Map<string, Map<string, number>>();
  private readonly observer = new Map<string, Map<string, number>>();
  private readonly functions = new Map<string, MutableFunctionStats>();
  private readonly eventLoops = new Map<string, () => EventLoopUtilization>([['main', () => performance.eventLoopUtilization()]]);

  /**
   * Reports the event loop `read` measures under `name` in every snapshot until the returned function is called
   * (the emulators' thread: its Worker's `performance.eventLoopUtilization`).
   */
  watchEventLoop(name: string, read: () => EventLoopUtilization): () => void {
    this.eventLoops.set(name, read);
    return () => {
      if (this.eventLoops.get(name) === read) this.eventLoops.delete(name);
    };
  }

  /** Counts one AWS request at the edge; `headers` tell the load runner's own requests apart. */
  recordRequest(service: string, operation: string | undefined, headers?: IncomingHttpHeaders): void {
    const into = headers !== undefined && isObserver(headers) ? this.observer : this.aws;
    let operations = into.get(service);
    if (!operations) {
      operations = new Map();
      into.set(service, operations);
    }
    const name = operation === undefined || operation === '' ? '(unknown)' : operation;
    operations.set(name, (operations.get(name) ?? 0) + 1);
  }

  /** Counts one invocation of `functionName` (throttled ones count as throttles, not invocations). */
  recordInvocation(functionName: string, memoryMb: number, outcome: InvocationOutcome): void {
    let fn = this.functions.get(functionName);
    if (!fn) {
      fn = { invocations: 0, errors: 0, timeouts: 0, throttles: 0, memoryMb, totalMs: 0, maxMs: 0 };
      this.functions.set(functionName, fn);
    }
    if (!outcome.ok && outcome.reason === 'throttled') {
      fn.throttles += 1;
      return;
    }
    fn.invocations += 1;
    if (!outcome.ok && outcome.reason === 'error') fn.errors += 1;
    if (!outcome.ok && outcome.reason === 'timeout') fn.timeouts += 1;
    fn.totalMs += outcome.durationMs;
    fn.maxMs = Math.max(fn.maxMs, outcome.durationMs);
  }

  snapshot(): LocalStatsSnapshot {
    const now = Date.now();
    const aws = toObject(this.aws);
    const memory = process.memoryUsage();
    const cpu = process.cpuUsage();
    return {
      startedAt: new Date(this.started).toISOString(),
      takenAt: new Date(now).toISOString(),
      uptimeMs: now - this.started,
      aws,
      awsTotal: Object.values(aws).reduce((sum, ops) => sum + Object.values(ops).reduce((a, b) => a + b, 0), 0),
      observer: toObject(this.observer),
      functions: Object.fromEntries(
        [...this.functions].map(([name, fn]) => [
          name,
          {
            invocations: fn.invocations,
            errors: fn.errors,
            timeouts: fn.timeouts,
            throttles: fn.throttles,
            memoryMb: fn.memoryMb,
            durationMs: { total: round(fn.totalMs), max: fn.maxMs, mean: fn.invocations > 0 ? round(fn.totalMs / fn.invocations) : 0 },
          },
        ]),
      ),
      // ru_maxrss is in kilobytes on Linux and macOS (Node's process.resourceUsage docs).
      memory: { rssBytes: memory.rss, peakRssBytes: Math.max(memory.rss, process.resourceUsage().maxRSS * 1024), heapUsedBytes: memory.heapUsed },
      cpu: { userMs: Math.round(cpu.user / 1000), systemMs: Math.round(cpu.system / 1000) },
      eventLoops: Object.fromEntries(
        [...this.eventLoops].map(([name, read]) => {
          const { active, idle } = read();
          return [name, { activeMs: round(active), idleMs: round(idle) }];
        }),
      ),
    };
  }
}

function isObserver(headers: IncomingHttpHeaders): boolean {
  const agent = `${String(headers['user-agent'] ?? '')} ${String(headers['x-amz-user-agent'] ?? '')}`;
  return agent.includes(OBSERVER_AGENT);
}

function isStatsRequest(method: string, url: string): boolean {
  return method === 'GET' && (url === STATS_PATH || url.startsWith(`${STATS_PATH}?`));
}

/**
 * The S3 operation of a request, from its method, key and query (S3 API reference names).
 * Enough for request accounting: the price classes are PUT/COPY/POST/LIST versus GET and others.
 */
function s3OperationOf(method: string, key: string, query: URLSearchParams, headers: IncomingHttpHeaders): string {
  const hasKey = key !== '';
  switch (method) {
    case 'PUT':
      if (!hasKey) return query.has('notification') ? 'PutBucketNotificationConfiguration' : query.has('policy') ? 'PutBucketPolicy' : 'CreateBucket';
      if (query.has('partNumber')) return headers['x-amz-copy-source'] ? 'UploadPartCopy' : 'UploadPart';
      return headers['x-amz-copy-source'] ? 'CopyObject' : 'PutObject';
    case 'POST':
      if (query.has('delete')) return 'DeleteObjects';
      if (query.has('uploads')) return 'CreateMultipartUpload';
      if (query.has('uploadId')) return 'CompleteMultipartUpload';
      return 'PostObject';
    case 'GET':
      if (!hasKey) return query.get('list-type') === '2' ? 'ListObjectsV2' : query.has('notification') ? 'GetBucketNotificationConfiguration' : 'ListObjects';
      return 'GetObject';
    case 'HEAD':
      return hasKey ? 'HeadObject' : 'HeadBucket';
    case 'DELETE':
      if (query.has('uploadId')) return 'AbortMultipartUpload';
      return hasKey ? 'DeleteObject' : 'DeleteBucket';
    default:
      return method;
  }
}

function toObject(counts: Map<string, Map<string, number>>): CountsByOperation {
  return Object.fromEntries([...counts].map(([service, ops]) => [service, Object.fromEntries(ops)]));
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

export { LocalStats, OBSERVER_AGENT, STATS_PATH, isStatsRequest, s3OperationOf };
export type { EventLoopTime, FunctionStats, LocalStatsSnapshot };
