/**
 * The load report: what a run measured, as one JSON document (`reports/<scenario>-<timestamp>.json`),
 * with the aims it was held to and its verdict. html.ts renders the same document as a page.
 */
import { availableParallelism } from 'node:os';
import type { Accounting } from './accounting.ts';
import type { PhaseWindow } from './arrivals.ts';
import type { ChaosReport } from './chaos.ts';
import { newHistogram, record, spectrum, summarize, summarizeValues, type LatencySummary } from './histogram.ts';
import type { EventLoopSample, MemorySample, QueueSample } from './observe.ts';
import type { RequestRecord } from './open-loop.ts';
import type { SenderSummary } from './sender.ts';
import type { AwsPrediction } from './prediction.ts';
import type { Scenario } from './scenario.ts';
import type { QueueInfo, TargetKind } from './target.ts';

const REPORT_SCHEMA = 'orderflow-load-report/1';
const NOT_ON_AWS = 'n/a on AWS';

interface Aim {
  name: string;
  aim: string;
  /** The measured value, as shown. */
  value: string;
  /** undefined: not measured (n/a). */
  pass: boolean | undefined;
}

interface FunctionReport {
  invocations: number;
  errors: number;
  timeouts: number;
  throttles: number;
  memoryMb: number;
  meanDurationMs: number;
  invocationsPerOrder: number;
}

/**
 * How busy one of the local cloud's event loops was (0 to 1: Δactive / (Δactive + Δidle) between the samples that
 * bound the window): over the whole run, during the spike phase(s), and from the drain's origin to the drain (or the
 * last sample). null where fewer than two samples fall in the window.
 */
interface EventLoopBusy {
  run: number | null;
  spike: number | null;
  drain: number | null;
}

interface LoadReport {
  schema: typeof REPORT_SCHEMA;
  scenario: Pick<Scenario, 'name' | 'description' | 'kind' | 'phases' | 'orders' | 'fileOrders' | 'limits' | 'drain'> & { file: string };
  run: {
    id: string;
    command: string;
    startedAt: string;
    endedAt: string;
    durationMs: number;
    target: { kind: TargetKind; description: string; apiUrl: string; region: string; stage: string; stackName: string };
    host: { node: string; platform: string; cpus: number; loadAverageAtStart: number[]; loadAverageAtEnd: number[] };
  };
  phases: PhaseWindow[];
  counts: {
    offered: number;
    sent: number;
    notSent: number;
    accepted: number;
    /** 4xx answers (429 included). */
    rejected: number;
    throttled429: number;
    http5xx: number;
    /** No answer: connection errors and timeouts. */
    networkErrors: number;
    completed: number;
    lost: number;
    /** Orders with more than one invoice or label write; null when the table does not carry the counters. */
    duplicated: number | null;
    lostIds: string[];
    duplicates: { orderId: string; invoiceWrites: number; labelWrites: number }[];
    /** Orders of the run whose request got a 5xx or no answer, found in the Orders table all the same. */
    placedDespiteError: number;
    /** Why requests got no answer, most frequent first (at most 10). */
    networkErrorMessages: { message: string; count: number }[];
    /** HTTP status codes answered, with their counts. */
    statusCodes: Record<string, number>;
  };
  latency: {
    /** Intended send time → answer (open loop: includes any wait to be sent). */
    api: LatencySummary | null;
    /** Actual send → answer. */
    apiService: LatencySummary | null;
    /** 202 received → completedAt. */
    orderToCompleted: LatencySummary | null;
    apiSpectrum: [number, number][];
    completionTimeSource: Accounting['completionTimeSource'];
    /** Estimated offset of the completedAt clock against this machine's (placedAt vs the request's midpoint). */
    clockOffsetMs: number | null;
    clockOffsetApplied: boolean;
    /** Largest lateness of a send against its schedule: the load generator's own precision. */
    maxSendLagMs: number;
  };
  queues: {
    sampleIntervalMs: number;
    list: (QueueInfo & { peakVisible: number; peakInFlight: number; peakDelayed: number; peakTotal: number })[];
    peakBacklog: number;
    peakBacklogAtMs: number | null;
    /** Largest total of all DLQs (visible + in flight + delayed) seen. */
    peakDlq: number;
    samplesFailed: number;
  };
  drain: {
    /** From the end of the last spike phase (or the last arrival without a spike). */
    fromMs: number;
    fromWhat: 'spike end' | 'last arrival' | 'upload';
    /** First sample at which no work queue had a message waiting (2 samples in a row). */
    queuesDrainedAtMs: number | null;
    /** The last completion among the orders accepted before `fromMs`. */
    lastCompletionMs: number | null;
    /** max(queuesDrainedAtMs, lastCompletionMs) − fromMs; null if not drained before the deadline. */
    drainTimeMs: number | null;
    deadlineMs: number;
  };
  throughput: {
    offeredPerSecond: number;
    acceptedPerSecond: number;
    /** Completions per second over the whole run: completed / (last completion − first acceptance). */
    completedPerSecond: number;
    peakCompletionsPerSecond: number;
    /** (completed − 1) / (last completion − first completion): the pipeline's own completion rate. */
    completionRatePerSecond: number;
    /** The same over every order of the run that completed, those placed despite a 5xx included. */
    pipelineCompletionRatePerSecond: number;
    /** Accepted per second during the spike phase(s). */
    spikeAcceptedPerSecond: number | null;
  };
  aws: {
    source: 'local edge counters (/_local/stats)' | typeof NOT_ON_AWS;
    /** Requests per accepted order, by service; the load runner's own requests excluded. */
    requestsPerOrder: Record<string, number> | typeof NOT_ON_AWS;
    requestsByOperation: Record<string, Record<string, number>> | typeof NOT_ON_AWS;
    totalRequests: number | typeof NOT_ON_AWS;
  };
  functions: Record<string, FunctionReport> | typeof NOT_ON_AWS;
  /** The local cloud's peak RSS; the load generator's apart when it ran in a process of its own (else null). */
  memory: { peakRssBytes: number; senderPeakRssBytes: number | null; samples: MemorySample[] } | typeof NOT_ON_AWS;
  /** CPU the local cloud's process used during the run (user + system, all threads; in-process it includes the load generator). */
  cpu: { ms: number; msPerOrder: number } | typeof NOT_ON_AWS;
  /** The local cloud's event loops (LocalStatsSnapshot.eventLoops: `main`, `emulators`), how busy each was. */
  eventLoops: Record<string, EventLoopBusy> | typeof NOT_ON_AWS;
  import?: { key: string; bytes: number; uploadMs: number; orders: number };
  scan: { pages: number; itemsScanned: number; ms: number };
  timeseries: {
    /** Second i covers [i, i+1) s from the run's start. */
    second: number[];
    offered: number[];
    sent: number[];
    notSent: number[];
    accepted: number[];
    errors: number[];
    completions: number[];
    /** Completions of orders placed although their request got a 5xx or no answer. */
    completionsPlacedDespiteError: number[];
    apiP50: (number | null)[];
    apiP95: (number | null)[];
    apiP99: (number | null)[];
    queueT: number[];
    backlog: number[];
    dlq: number[];
    queueDepth: Record<string, number[]>;
  };
  aims: Aim[];
  verdict: { pass: boolean; failures: string[] };
  notes: string[];
  /** The chaos scenario's DLQ phase (scripts/load/chaos.ts); absent for other scenarios. */
  chaos?: ChaosReport;
  /** What AWS would do with the same arrivals (scripts/load/prediction.ts); absent without a compiled template. */
  prediction?: AwsPrediction;
}

interface ReportInput {
  scenario: Scenario;
  runId: string;
  command: string;
  startEpochMs: number;
  endEpochMs: number;
  target: LoadReport['run']['target'];
  records: RequestRecord[];
  phases: PhaseWindow[];
  sender: SenderSummary | undefined;
  accounting: Accounting;
  clockOffsetMs: number | undefined;
  clockOffsetApplied: boolean;
  /** Orders accepted before the drain origin (for lastCompletionMs). */
  acceptedBeforeDrainFrom: Set<string> | undefined;
  completionByOrder: Map<string, number>;
  queues: QueueInfo[];
  queueSamples: QueueSample[];
  samplesFailed: number;
  sampleIntervalMs: number;
  memorySamples: MemorySample[];
  eventLoopSamples: EventLoopSample[];
  peakRssBytes: number | undefined;
  /** CPU ms (user + system) the local cloud's process used during the run. */
  cpuMs: number | undefined;
  /** The run's orders found in the table although their request got a 5xx or no answer. */
  placedDespiteError?: { count: number; completed: number; completionEpochMs: number[] };
  loadAverage: { start: number[]; end: number[] };
  statsDelta: { aws: Record<string, Record<string, number>>; functions: Record<string, { invocations: number; errors: number; timeouts: number; throttles: number; memoryMb: number; totalMs: number }> } | undefined;
  importInfo?: LoadReport['import'];
  scan: LoadReport['scan'];
  drainDeadlineMs: number;
  notes: string[];
}

const round = (value: number, digits = 2): number => Math.round(value * 10 ** digits) / 10 ** digits;

/** The aims the spike question was asked with (ARCHITECTURE: 2-core machine). */
const AIMS = { apiP99Ms: 50, drainMs: 60_000, rssBytes: 1024 ** 3 } as const;

function drainOrigin(input: ReportInput): { fromMs: number; fromWhat: LoadReport['drain']['fromWhat'] } {
  if (input.scenario.kind === 'bulk-import') return { fromMs: input.importInfo?.uploadMs ?? 0, fromWhat: 'upload' };
  const spikes = input.phases.filter((window) => window.type === 'spike');
  if (spikes.length > 0) return { fromMs: Math.max(...spikes.map((window) => window.endMs)), fromWhat: 'spike end' };
  return { fromMs: Math.max(0, ...input.phases.map((window) => window.endMs)), fromWhat: 'last arrival' };
}

/**
 * How busy the event loop `name` was within the windows [fromMs, toMs] (0 to 1), from the first sample at or after
 * each window's start to the last at or before its end; null when no window holds two samples.
 */
function eventLoopBusy(samples: EventLoopSample[], name: string, windows: { fromMs: number; toMs: number }[]): number | null {
  let active = 0;
  let idle = 0;
  for (const { fromMs, toMs } of windows) {
    const inside = samples.filter((sample) => sample.t >= fromMs && sample.t <= toMs && sample.eventLoops[name] !== undefined);
    const first = inside[0]?.eventLoops[name];
    const last = inside.at(-1)?.eventLoops[name];
    if (inside.length < 2 || first === undefined || last === undefined) continue;
    active += last.activeMs - first.activeMs;
    idle += last.idleMs - first.idleMs;
  }
  return active + idle > 0 ? round(active / (active + idle), 3) : null;
}

/** `main 82 % / 95 % / 88 %; emulators 40 % / ...`: each event loop's busy share, "n/a" where a window had no two samples. */
const formatEventLoops = (loops: Record<string, EventLoopBusy>): string =>
  Object.entries(loops)
    .map(([name, busy]) => `${name} ${[busy.run, busy.spike, busy.drain].map((share) => (share === null ? 'n/a' : `${Math.round(share * 100)} %`)).join(' / ')}`)
    .join('; ') || 'not sampled';

/** First t ≥ from where `waiting` was 0 in two consecutive samples. */
function queuesDrainedAt(samples: QueueSample[], fromMs: number): number | null {
  for (let i = 0; i + 1 < samples.length; i += 1) {
    const a = samples[i] as QueueSample;
    const b = samples[i + 1] as QueueSample;
    if (a.t >= fromMs && a.waiting === 0 && b.waiting === 0) return a.t;
  }
  return null;
}

/** The most frequent messages with their counts (digits folded, so "after 30012 ms" and "after 30004 ms" count together). */
function topMessages(messages: string[], limit = 10): { message: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const message of messages) {
    const key = message.replace(/\d+/g, 'N').slice(0, 200);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1]).slice(0, limit).map(([message, count]) => ({ message, count }));
}

/** (n − 1) / span of the completion times, per second; 0 with fewer than 2 completions. */
function completionRate(epochMs: number[]): number {
  if (epochMs.length < 2) return 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const t of epochMs) {
    min = Math.min(min, t);
    max = Math.max(max, t);
  }
  return max > min ? round((epochMs.length - 1) / ((max - min) / 1000)) : 0;
}

/** Builds the report document from a run's raw data (pure). */
function buildReport(input: ReportInput): LoadReport {
  const { scenario, records, accounting } = input;
  const sent = records.filter((r) => !r.notSent);
  const answered = sent.filter((r) => r.status !== undefined && r.status > 0);
  const status = (predicate: (code: number) => boolean): number => sent.filter((r) => r.status !== undefined && predicate(r.status)).length;
  const api = newHistogram();
  const service = newHistogram();
  for (const r of answered) {
    record(api, (r.respondedMs as number) - r.intendedMs);
    record(service, (r.respondedMs as number) - (r.sentMs as number));
  }

  // Per-second series.
  const durationS = Math.max(1, Math.ceil((input.endEpochMs - input.startEpochMs) / 1000));
  const zeros = (): number[] => Array.from({ length: durationS }, () => 0);
  const bucket = (ms: number): number => Math.min(durationS - 1, Math.max(0, Math.floor(ms / 1000)));
  const add = (series: number[], ms: number): void => {
    const i = bucket(ms);
    series[i] = (series[i] ?? 0) + 1;
  };
  const offered = zeros();
  const sentSeries = zeros();
  const notSent = zeros();
  const accepted = zeros();
  const errors = zeros();
  const completions = zeros();
  const perSecond = Array.from({ length: durationS }, (): number[] => []);
  for (const r of records) {
    add(offered, r.intendedMs);
    if (r.notSent) {
      add(notSent, r.intendedMs);
      continue;
    }
    add(sentSeries, r.sentMs ?? r.intendedMs);
    if (r.status === 202) add(accepted, r.respondedMs ?? r.intendedMs);
    else if (r.status === 0 || (r.status ?? 0) >= 500) add(errors, r.respondedMs ?? r.intendedMs);
    if (r.status && r.respondedMs !== undefined) perSecond[bucket(r.intendedMs)]?.push(r.respondedMs - r.intendedMs);
  }
  if (input.importInfo) offered[0] = (offered[0] ?? 0) + input.importInfo.orders;
  for (const at of accounting.completionEpochMs) add(completions, at - input.startEpochMs);
  const ghostCompletions = zeros();
  for (const at of input.placedDespiteError?.completionEpochMs ?? []) add(ghostCompletions, at - input.startEpochMs);
  const percentileSeries = (p: number): (number | null)[] =>
    perSecond.map((values) => {
      if (values.length === 0) return null;
      const sorted = values.sort((a, b) => a - b);
      return round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number);
    });

  // Queues.
  const peaks = new Map<string, { visible: number; inFlight: number; delayed: number; total: number }>();
  let peakBacklog = 0;
  let peakBacklogAtMs: number | null = null;
  let peakDlq = 0;
  for (const sample of input.queueSamples) {
    if (sample.backlog > peakBacklog) {
      peakBacklog = sample.backlog;
      peakBacklogAtMs = sample.t;
    }
    peakDlq = Math.max(peakDlq, sample.dlq);
    for (const [name, depth] of Object.entries(sample.depths)) {
      const peak = peaks.get(name) ?? { visible: 0, inFlight: 0, delayed: 0, total: 0 };
      peak.visible = Math.max(peak.visible, depth.visible);
      peak.inFlight = Math.max(peak.inFlight, depth.inFlight);
      peak.delayed = Math.max(peak.delayed, depth.delayed);
      peak.total = Math.max(peak.total, depth.visible + depth.inFlight + depth.delayed);
      peaks.set(name, peak);
    }
  }
  const queueDepth: Record<string, number[]> = {};
  for (const queue of input.queues) {
    queueDepth[queue.name] = input.queueSamples.map((sample) => {
      const depth = sample.depths[queue.name];
      return depth ? depth.visible + depth.inFlight + depth.delayed : 0;
    });
  }

  // Drain.
  const origin = drainOrigin(input);
  const drainedAt = queuesDrainedAt(input.queueSamples, origin.fromMs);
  let lastCompletionMs: number | null = null;
  for (const [orderId, at] of input.completionByOrder) {
    if (input.acceptedBeforeDrainFrom && !input.acceptedBeforeDrainFrom.has(orderId)) continue;
    const t = at - input.startEpochMs;
    lastCompletionMs = lastCompletionMs === null ? t : Math.max(lastCompletionMs, t);
  }
  const everyOneCompleted = input.acceptedBeforeDrainFrom
    ? [...input.acceptedBeforeDrainFrom].every((id) => input.completionByOrder.has(id))
    : accounting.lost === 0;
  const drainTimeMs =
    drainedAt !== null && everyOneCompleted ? Math.max(0, Math.max(drainedAt, lastCompletionMs ?? drainedAt) - origin.fromMs) : null;

  // Throughput.
  const arrivalsEnd = Math.max(1, ...input.phases.map((window) => window.endMs));
  const acceptedTimes = sent.filter((r) => r.status === 202).map((r) => r.respondedMs as number);
  const firstAccept = input.importInfo ? input.importInfo.uploadMs : Math.min(...acceptedTimes, Number.POSITIVE_INFINITY);
  const lastCompletion = Math.max(...accounting.completionEpochMs.map((at) => at - input.startEpochMs), Number.NEGATIVE_INFINITY);
  const spikeWindows = input.phases.filter((window) => window.type === 'spike');
  const spikeAccepted = sent.filter((r) => r.status === 202 && spikeWindows.some((window) => window.phase === r.phase)).length;
  const spikeSeconds = spikeWindows.reduce((sum, window) => sum + (window.endMs - window.startMs) / 1000, 0);

  // Event loops.
  const loopNames = [...new Set(input.eventLoopSamples.flatMap((sample) => Object.keys(sample.eventLoops)))];
  const runEndMs = input.endEpochMs - input.startEpochMs;
  const eventLoops = Object.fromEntries(
    loopNames.map((name): [string, EventLoopBusy] => [
      name,
      {
        run: eventLoopBusy(input.eventLoopSamples, name, [{ fromMs: 0, toMs: runEndMs }]),
        spike: spikeWindows.length === 0 ? null : eventLoopBusy(input.eventLoopSamples, name, spikeWindows.map((window) => ({ fromMs: window.startMs, toMs: window.endMs }))),
        drain: eventLoopBusy(input.eventLoopSamples, name, [{ fromMs: origin.fromMs, toMs: drainedAt ?? runEndMs }]),
      },
    ]),
  );

  // AWS requests and functions.
  // Per order: every order that entered the pipeline, including those placed despite a 5xx.
  const orders = Math.max(1, accounting.accepted + (input.placedDespiteError?.count ?? 0));
  const delta = input.statsDelta;
  const requestsPerOrder: Record<string, number> = {};
  let totalRequests = 0;
  if (delta) {
    for (const [svc, operations] of Object.entries(delta.aws)) {
      const count = Object.values(operations).reduce((a, b) => a + b, 0);
      totalRequests += count;
      requestsPerOrder[svc] = round(count / orders, 3);
    }
  }
  const functions: Record<string, FunctionReport> = {};
  if (delta) {
    for (const [name, fn] of Object.entries(delta.functions)) {
      functions[name] = {
        invocations: fn.invocations,
        errors: fn.errors,
        timeouts: fn.timeouts,
        throttles: fn.throttles,
        memoryMb: fn.memoryMb,
        meanDurationMs: fn.invocations > 0 ? round(fn.totalMs / fn.invocations) : 0,
        invocationsPerOrder: round(fn.invocations / orders, 3),
      };
    }
  }
  const local = input.target.kind !== 'aws';

  const counts: LoadReport['counts'] = {
    offered: input.importInfo ? input.importInfo.orders : records.length,
    sent: input.importInfo ? input.importInfo.orders : sent.length,
    notSent: records.filter((r) => r.notSent).length,
    accepted: accounting.accepted,
    rejected: status((code) => code >= 400 && code < 500),
    throttled429: status((code) => code === 429),
    http5xx: status((code) => code >= 500),
    networkErrors: status((code) => code === 0),
    completed: accounting.completed,
    lost: accounting.lost,
    duplicated: accounting.duplicated ?? null,
    lostIds: accounting.lostIds,
    duplicates: accounting.duplicates,
    placedDespiteError: input.placedDespiteError?.count ?? 0,
    networkErrorMessages: topMessages(sent.filter((r) => r.status === 0).map((r) => r.error ?? '(no message)')),
    statusCodes: Object.fromEntries(
      [...sent.reduce((map, r) => map.set(String(r.status), (map.get(String(r.status)) ?? 0) + 1), new Map<string, number>())].sort((a, b) => a[0].localeCompare(b[0])),
    ),
  };
  const apiSummary = summarize(api) ?? null;
  const completionSummary = summarizeValues(accounting.completionLatenciesMs) ?? null;
  const peakRss = input.peakRssBytes;

  const aims: Aim[] = [
    { name: 'lost orders', aim: '0', value: String(counts.lost), pass: counts.lost === 0 },
    {
      name: 'duplicated side effects',
      aim: '0',
      value: counts.duplicated === null ? 'not measured (no invoiceWrites/labelWrites on the items)' : String(counts.duplicated),
      pass: counts.duplicated === null ? undefined : counts.duplicated === 0,
    },
    { name: 'HTTP 5xx', aim: '0', value: String(counts.http5xx), pass: counts.http5xx === 0 },
  ];
  if (scenario.kind === 'api') {
    aims.push({ name: 'API latency p99', aim: `<= ${AIMS.apiP99Ms} ms`, value: apiSummary ? `${apiSummary.p99} ms` : 'n/a', pass: apiSummary ? apiSummary.p99 <= AIMS.apiP99Ms : undefined });
  }
  aims.push({
    name: `backlog drained after ${origin.fromWhat}`,
    aim: `<= ${AIMS.drainMs / 1000} s`,
    value: drainTimeMs === null ? 'not drained before the deadline' : `${round(drainTimeMs / 1000, 1)} s`,
    pass: drainTimeMs === null ? false : drainTimeMs <= AIMS.drainMs,
  });
  aims.push({
    name: 'local cloud peak memory (RSS)',
    aim: '<= 1 GiB',
    value: !local ? NOT_ON_AWS : peakRss === undefined ? 'n/a' : `${round(peakRss / 1024 ** 2, 0)} MiB`,
    pass: !local || peakRss === undefined ? undefined : peakRss <= AIMS.rssBytes,
  });

  const failures: string[] = [];
  if (counts.lost > 0) failures.push(`${counts.lost} accepted order(s) lost (not COMPLETED within the drain deadline)`);
  if ((counts.duplicated ?? 0) > 0) failures.push(`${counts.duplicated} order(s) with duplicated side effects (invoice or label written more than once)`);
  if (counts.http5xx > 0) failures.push(`${counts.http5xx} HTTP 5xx answer(s)`);

  return {
    schema: REPORT_SCHEMA,
    scenario: {
      name: scenario.name,
      description: scenario.description,
      file: scenario.file,
      kind: scenario.kind,
      phases: scenario.phases,
      orders: scenario.orders,
      fileOrders: scenario.fileOrders,
      limits: scenario.limits,
      drain: scenario.drain,
    },
    run: {
      id: input.runId,
      command: input.command,
      startedAt: new Date(input.startEpochMs).toISOString(),
      endedAt: new Date(input.endEpochMs).toISOString(),
      durationMs: input.endEpochMs - input.startEpochMs,
      target: input.target,
      host: {
        node: process.version,
        platform: `${process.platform}-${process.arch}`,
        cpus: availableParallelism(),
        loadAverageAtStart: input.loadAverage.start.map((v) => round(v)),
        loadAverageAtEnd: input.loadAverage.end.map((v) => round(v)),
      },
    },
    phases: input.phases,
    counts,
    latency: {
      api: apiSummary,
      apiService: summarize(service) ?? null,
      orderToCompleted: completionSummary,
      apiSpectrum: spectrum(api),
      completionTimeSource: accounting.completionTimeSource,
      clockOffsetMs: input.clockOffsetMs === undefined ? null : round(input.clockOffsetMs),
      clockOffsetApplied: input.clockOffsetApplied,
      maxSendLagMs: round(input.sender?.maxSendLagMs ?? 0),
    },
    queues: {
      sampleIntervalMs: input.sampleIntervalMs,
      list: input.queues.map((queue) => {
        const peak = peaks.get(queue.name) ?? { visible: 0, inFlight: 0, delayed: 0, total: 0 };
        return { ...queue, peakVisible: peak.visible, peakInFlight: peak.inFlight, peakDelayed: peak.delayed, peakTotal: peak.total };
      }),
      peakBacklog,
      peakBacklogAtMs,
      peakDlq,
      samplesFailed: input.samplesFailed,
    },
    drain: { fromMs: round(origin.fromMs), fromWhat: origin.fromWhat, queuesDrainedAtMs: drainedAt, lastCompletionMs: lastCompletionMs === null ? null : round(lastCompletionMs), drainTimeMs: drainTimeMs === null ? null : round(drainTimeMs), deadlineMs: input.drainDeadlineMs },
    throughput: {
      offeredPerSecond: round(counts.offered / (input.importInfo ? 1 : arrivalsEnd / 1000)),
      acceptedPerSecond: round(counts.accepted / (input.importInfo ? 1 : arrivalsEnd / 1000)),
      completedPerSecond: Number.isFinite(lastCompletion - firstAccept) && lastCompletion > firstAccept ? round(accounting.completed / ((lastCompletion - firstAccept) / 1000)) : 0,
      peakCompletionsPerSecond: Math.max(0, ...completions),
      completionRatePerSecond: completionRate(accounting.completionEpochMs),
      pipelineCompletionRatePerSecond: completionRate([...accounting.completionEpochMs, ...(input.placedDespiteError?.completionEpochMs ?? [])]),
      spikeAcceptedPerSecond: scenario.kind === 'api' && spikeSeconds > 0 ? round(spikeAccepted / spikeSeconds) : null,
    },
    aws: local && delta
      ? { source: 'local edge counters (/_local/stats)', requestsPerOrder, requestsByOperation: delta.aws, totalRequests }
      : { source: NOT_ON_AWS, requestsPerOrder: NOT_ON_AWS, requestsByOperation: NOT_ON_AWS, totalRequests: NOT_ON_AWS },
    functions: local && delta ? functions : NOT_ON_AWS,
    memory: local ? { peakRssBytes: peakRss ?? 0, senderPeakRssBytes: input.sender?.peakRssBytes ?? null, samples: input.memorySamples } : NOT_ON_AWS,
    cpu: local && input.cpuMs !== undefined ? { ms: input.cpuMs, msPerOrder: round(input.cpuMs / orders, 1) } : NOT_ON_AWS,
    eventLoops: local ? eventLoops : NOT_ON_AWS,
    ...(input.importInfo ? { import: input.importInfo } : {}),
    scan: input.scan,
    timeseries: {
      second: Array.from({ length: durationS }, (_, i) => i),
      offered,
      sent: sentSeries,
      notSent,
      accepted,
      errors,
      completions,
      completionsPlacedDespiteError: ghostCompletions,
      apiP50: percentileSeries(50),
      apiP95: percentileSeries(95),
      apiP99: percentileSeries(99),
      queueT: input.queueSamples.map((sample) => round(sample.t / 1000, 3)),
      backlog: input.queueSamples.map((sample) => sample.backlog),
      dlq: input.queueSamples.map((sample) => sample.dlq),
      queueDepth,
    },
    aims,
    verdict: { pass: failures.length === 0, failures },
    notes: input.notes,
  };
}

export { NOT_ON_AWS, REPORT_SCHEMA, buildReport, formatEventLoops, queuesDrainedAt };
export type { LoadReport, ReportInput };
