/**
 * `npm run load -- <scenario> [--stage NAME] [--region R] [--stack NAME] [--in-process] [--inline-sender] [--out DIR]`
 *
 * Runs a load scenario (scripts/load/scenarios/<scenario>.yml) against the local cloud (a running
 * `npm start`, else one started in this process) or a deployed stage, then writes
 * `reports/<scenario>-<timestamp>.json` and `.html`. Exits 1 when an accepted order was lost, a side
 * effect was duplicated or the API answered 5xx; 2 when the run itself failed.
 */
import { createWriteStream, existsSync, type WriteStream } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { LocalStatsSnapshot } from 'local-cloud';
import { account, estimateClockOffsetMs, type AcceptedOrder, type Accounting, type TableItem } from './accounting.ts';
import { generateOrder, isPoisonArrival, type PhaseWindow } from './arrivals.ts';
import { applyLocalQueues, POISON_DLQ, runChaosPhase, setFaults, type ChaosOrder, type ChaosReport } from './chaos.ts';
import { renderHtml } from './html.ts';
import { Sampler, scanOrders, statsDelta } from './observe.ts';
import type { RequestRecord } from './open-loop.ts';
import { ArtilleryError, artilleryCommands, writeArtilleryFiles } from './artillery.ts';
import { ARTILLERY_RUNNERS, accountByCorrelation, artilleryInvocation, artilleryOutcome, formatRunAccounting, runArtillery, type ArtilleryRunner } from './artillery-run.ts';
import { formatPrediction, predictForReport } from './prediction.ts';
import { createProgress, type Progress } from './progress.ts';
import { buildReport, formatEventLoops, type LoadReport } from './report.ts';
import { loadScenario, ScenarioError, type Scenario } from './scenario.ts';
import { startSender, type SenderSummary } from './sender.ts';
import { resolveTarget, TargetError, TEMPLATE_PATH, type LoadTarget } from './target.ts';

const PROJECT_DIR = join(import.meta.dirname, '..', '..');
const SAMPLE_INTERVAL_MS = 1000;
/** Minimum gap between two table scans while waiting for completion (each reads the whole table). */
const SCAN_GAP_MS = 3000;

interface RunOptions {
  scenario: Scenario | string;
  stage?: string;
  region?: string;
  stack?: string;
  inProcess?: boolean;
  /** Run the sender on this thread instead of a child process. */
  inlineSender?: boolean;
  /** Default `<project>/reports`. */
  reportsDir?: string;
  /** Reuse a target (the bench runs several scenarios on one local cloud); it is not stopped. */
  target?: LoadTarget;
  /** Console lines (default stderr). */
  log?: (line: string) => void;
  /** Progress output (default stderr); null for none. */
  progress?: NodeJS.WriteStream | null;
  command?: string;
  /** Keep the in-process cloud's log in `<report>.cloud.log` (default true). */
  cloudLog?: boolean;
  /** Aborting stops sending, skips the rest of the drain, and still writes the report (Ctrl-C). */
  signal?: AbortSignal;
  /** The compiled template the AWS prediction reads (default `.serverless/cloudformation-template-update-stack.json`). */
  templatePath?: string;
}

interface RunResult {
  report: LoadReport;
  jsonPath: string;
  htmlPath: string;
  exitCode: number;
}

class UsageError extends Error {
  constructor(message: string) {
    super(`${message}\nusage: npm run load -- <scenario|file.yml> [--stage NAME] [--region R] [--stack NAME] [--in-process] [--inline-sender] [--out DIR] [--engine artillery [--workers N] [--runner local|lambda|fargate] [--target-url URL]]`);
    this.name = 'UsageError';
  }
}

function timestamp(epochMs: number): string {
  return new Date(epochMs).toISOString().replace(/[:]/g, '-').replace(/\.\d+Z$/, 'Z');
}

/** Function log lines worth keeping from the in-process cloud (errors, warnings, timeouts); the rest is dropped. */
function keepCloudLine(line: string): boolean {
  if (!line.startsWith('[')) return true;
  return /"level":"(ERROR|WARN|CRITICAL)"|Invoke Error|timed out|failed|ERROR|WARN/.test(line);
}

/** The NDJSON of a bulk import: one order per line, from the scenario's seed. */
function importFile(scenario: Scenario): string {
  const lines: string[] = [];
  for (let seq = 0; seq < scenario.fileOrders; seq += 1) lines.push(JSON.stringify(generateOrder(scenario.orders, seq).body));
  return `${lines.join('\n')}\n`;
}

/** Reads the table until every expected order has completed (or the deadline), scanning at most every SCAN_GAP_MS. */
async function waitForCompletion(args: {
  target: LoadTarget;
  sampler: Sampler;
  deadlineEpochMs: number;
  keep: (item: TableItem) => boolean;
  complete: (items: TableItem[]) => boolean;
  onScan: (items: TableItem[]) => void;
  signal?: AbortSignal;
}): Promise<{ items: TableItem[]; pages: number; scanned: number; ms: number }> {
  let last = await scanOrders(args.target, args.keep);
  args.onScan(last.items);
  let lastScanAt = Date.now();
  while (Date.now() < args.deadlineEpochMs && !args.signal?.aborted && !(args.complete(last.items) && (args.sampler.latest?.backlog ?? 0) === 0)) {
    await sleep(Math.min(1000, Math.max(0, args.deadlineEpochMs - Date.now())));
    const quiet = (args.sampler.latest?.backlog ?? 1) === 0;
    // Scan when the queues look empty (the end is near), and every 30 s regardless (progress).
    if ((quiet && Date.now() - lastScanAt >= SCAN_GAP_MS) || Date.now() - lastScanAt >= 30_000) {
      last = await scanOrders(args.target, args.keep);
      args.onScan(last.items);
      lastScanAt = Date.now();
    }
  }
  if (Date.now() - lastScanAt > 0) {
    last = await scanOrders(args.target, args.keep);
    args.onScan(last.items);
  }
  return last;
}

/** What the setup phase gives the others: the scenario, where the report goes, and the target. */
interface RunContext {
  options: RunOptions;
  log: (line: string) => void;
  scenario: Scenario;
  reportsDir: string;
  baseName: string;
  runId: string;
  command: string;
  target: LoadTarget;
  progress: Progress;
  /** The in-process cloud's log file, when there is one. */
  cloudLog?: WriteStream;
}

/** What the drive phase records and the drain and report phases read. */
interface RunState {
  records: RequestRecord[];
  accepted: Map<string, AcceptedOrder>;
  /** The phase each accepted order was answered in. */
  acceptedPhase: Map<string, number>;
  /** Accepted poison orders (orders.poisonShare): left out of the drain; the chaos phase accounts for them. */
  poisonIds: Set<string>;
  phases: PhaseWindow[];
  /** The run's Orders items, as last scanned. */
  itemsById: Map<string, TableItem>;
  notSent: number;
  errors: number;
  completedSeen?: number;
  senderSummary?: SenderSummary;
  importInfo?: LoadReport['import'];
}

/** Which Orders items belong to the run, and the orders it expects to complete. */
interface Workload {
  keep: (item: TableItem) => boolean;
  expectedOrders: () => AcceptedOrder[];
}

/** What is read when the arrivals start, to be compared with the end. */
interface RunStart {
  startEpochMs: number;
  sampler: Sampler;
  statsBefore: LocalStatsSnapshot | undefined;
  loadAverageAtStart: number[];
}

interface PlacedDespiteError {
  count: number;
  completed: number;
  completionEpochMs: number[];
}

interface Drained {
  scan: { pages: number; scanned: number; ms: number; items: TableItem[] };
  deadlineEpochMs: number;
  endEpochMs: number;
}

/** Setup: the scenario, the report's name, the target (resolved or started) and the progress line. */
async function setupRun(options: RunOptions): Promise<RunContext> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const scenario = typeof options.scenario === 'string' ? await loadScenario(options.scenario) : options.scenario;
  const reportsDir = options.reportsDir ?? join(PROJECT_DIR, 'reports');
  await mkdir(reportsDir, { recursive: true });
  const createdAt = Date.now();
  const baseName = `${scenario.name}-${timestamp(createdAt)}`;
  const runId = createdAt.toString(36);
  const command = options.command ?? `npm run load -- ${scenario.name}${options.stage ? ` --stage ${options.stage}` : ''}`;

  let cloudLog: WriteStream | undefined;
  if (!options.target && !options.stage && options.cloudLog !== false) cloudLog = createWriteStream(join(reportsDir, `${baseName}.cloud.log`));
  const target =
    options.target ??
    (await resolveTarget({
      ...(options.stage === undefined ? {} : { stage: options.stage }),
      ...(options.region === undefined ? {} : { region: options.region }),
      ...(options.stack === undefined ? {} : { stack: options.stack }),
      inProcess: options.inProcess ?? false,
      edgePort: Number(process.env.EDGE_PORT ?? 4566),
      apiPort: Number(process.env.PORT ?? 3000),
      log,
      ...(cloudLog ? { cloudLog: (line: string) => void (keepCloudLine(line) && cloudLog?.write(`${line}\n`)) } : {}),
    }));
  const progress: Progress = options.progress === null ? { update: () => {}, log, done: () => {} } : createProgress(options.progress ?? process.stderr);
  return { options, log, scenario, reportsDir, baseName, runId, command, target, progress, ...(cloudLog ? { cloudLog } : {}) };
}

/** Setup, chaos scenarios: local-only queue settings and the faults on; `cleanups` puts both back. */
async function startChaos(ctx: RunContext, cleanups: (() => Promise<void>)[]): Promise<ChaosReport | undefined> {
  const { scenario, target, log } = ctx;
  if (!scenario.chaos) return undefined;
  const edge = target.edge;
  if (edge === undefined) throw new TargetError(`scenario ${scenario.name} switches faults with POST /_local/faults: it runs on the local cloud only (leave --stage out)`);
  const chaosReport: ChaosReport = { faults: scenario.chaos.faults, dlqDepths: {}, redriven: {}, redriveCommands: [], completedAfterRedriveMs: null, lost: 0, duplicated: 0, failures: [] };
  if (scenario.chaos.localQueues) {
    const applied = await applyLocalQueues(target, scenario.chaos.localQueues);
    cleanups.push(applied.restore);
    chaosReport.localQueues = { ...scenario.chaos.localQueues, queues: applied.queues };
    log(`chaos: local-only queue settings on ${applied.queues.length} work queues: VisibilityTimeout ${scenario.chaos.localQueues.visibilityTimeoutSeconds} s, maxReceiveCount ${scenario.chaos.localQueues.maxReceiveCount} (put back at the end)`);
  }
  cleanups.unshift(() => setFaults(edge, {}));
  await setFaults(edge, scenario.chaos.faults);
  log(`chaos: faults on: ${JSON.stringify(scenario.chaos.faults)}`);
  return chaosReport;
}

/** Setup: the counters before, and the sampler started just ahead of the first arrival. */
async function startMeasuring(target: LoadTarget): Promise<RunStart> {
  const loadAverageAtStart = loadavg();
  const statsBefore = await target.stats();
  const startEpochMs = Date.now() + 300;
  const sampler = new Sampler(target, startEpochMs, SAMPLE_INTERVAL_MS);
  sampler.start();
  return { startEpochMs, sampler, statsBefore, loadAverageAtStart };
}

function emptyState(): RunState {
  return { records: [], accepted: new Map(), acceptedPhase: new Map(), poisonIds: new Set(), phases: [], itemsById: new Map(), notSent: 0, errors: 0 };
}

/** The progress line's counters common to the drive and drain phases. */
function progressCounters(state: RunState, sampler: Sampler): Pick<Parameters<Progress['update']>[0], 'notSent' | 'errors' | 'backlog' | 'dlq' | 'completed'> {
  return {
    notSent: state.notSent,
    errors: state.errors,
    ...(sampler.latest ? { backlog: sampler.latest.backlog, dlq: sampler.latest.dlq } : {}),
    ...(state.completedSeen === undefined ? {} : { completed: state.completedSeen }),
  };
}

/** Drive, API scenarios: one sender's answers into the run's state. */
function recordAnswers(state: RunState, batch: RequestRecord[], startEpochMs: number, poisonShare: number): void {
  for (const r of batch) {
    state.records.push(r);
    if (r.notSent) {
      state.notSent += 1;
      continue;
    }
    if (r.status === 202 && r.orderId) {
      state.accepted.set(r.orderId, { orderId: r.orderId, sentEpochMs: startEpochMs + (r.sentMs as number), acceptedEpochMs: startEpochMs + (r.respondedMs as number) });
      state.acceptedPhase.set(r.orderId, r.phase);
      if (isPoisonArrival(r.seq, poisonShare)) state.poisonIds.add(r.orderId);
    } else if (r.status === 0 || (r.status ?? 0) >= 500) state.errors += 1;
  }
}

/**
 * Drive, API scenarios: an until-drained phase ends once no work queue has a message waiting (2 samples in a row)
 * and every order accepted up to the end of the last spike has COMPLETED (table scan).
 */
function endPhasesWhenDrained(ctx: RunContext, state: RunState, sampler: Sampler, drained: (phase: number) => void): void {
  const { scenario, target, progress } = ctx;
  let drainRequested = -1;
  let scanning = false;
  let lastDrainScan = 0;
  sampler.onSample((sample) => {
    const current = state.phases.length;
    const phase = scenario.phases[current];
    if (!phase?.untilDrained || drainRequested === current || scanning) return;
    const previous = sampler.queues.at(-2);
    if (sample.waiting !== 0 || previous?.waiting !== 0 || Date.now() - lastDrainScan < SCAN_GAP_MS) return;
    const lastSpike = state.phases.filter((window) => window.type === 'spike').at(-1)?.phase ?? current - 1;
    const mustComplete = [...state.accepted.keys()].filter((id) => (state.acceptedPhase.get(id) ?? 0) <= lastSpike);
    scanning = true;
    lastDrainScan = Date.now();
    scanOrders(target, (item) => state.accepted.has(item.orderId))
      .then(({ items }) => {
        for (const item of items) state.itemsById.set(item.orderId, item);
        state.completedSeen = items.filter((item) => item.status === 'COMPLETED').length;
        if (mustComplete.every((id) => state.itemsById.get(id)?.status === 'COMPLETED')) {
          drainRequested = current;
          drained(current);
        }
      })
      .catch((error: unknown) => progress.log(`scan failed: ${(error as Error).message}`))
      .finally(() => (scanning = false));
  });
}

/** Drive, API scenarios: the open-loop sender through every phase. */
async function driveApi(ctx: RunContext, state: RunState, start: RunStart): Promise<Workload> {
  const { scenario, target, progress, options, runId, log } = ctx;
  const { startEpochMs, sampler } = start;
  const poisonShare = scenario.orders.poisonShare ?? 0;
  const sender = startSender(
    {
      apiUrl: target.apiUrl,
      authorization: target.authorization,
      phases: scenario.phases,
      mix: scenario.orders,
      maxInFlight: scenario.limits.maxInFlight,
      requestTimeoutMs: scenario.limits.requestTimeoutMs,
      runId,
      startEpochMs,
    },
    {
      onRecords: (batch) => recordAnswers(state, batch, startEpochMs, poisonShare),
      onPhaseEnd: (window) => {
        state.phases.push(window);
        progress.log(`phase ${window.phase + 1} (${window.type}) ended at ${(window.endMs / 1000).toFixed(1)} s: ${window.arrivals} arrivals${window.endedByDrain ? ', backlog drained' : ''}`);
      },
    },
    { inline: options.inlineSender ?? false },
  );
  options.signal?.addEventListener('abort', () => sender.abort(), { once: true });
  endPhasesWhenDrained(ctx, state, sampler, (phase) => sender.drained(phase));
  const progressPhase = (): string => {
    const current = state.phases.length;
    const phase = scenario.phases[current];
    return phase ? `${phase.type} ${current + 1}/${scenario.phases.length}${phase.untilDrained ? ' (until drained)' : ''}` : 'draining';
  };
  const total = scenario.phases.reduce((sum, phase) => sum + phase.durationMs, 0);
  const ticker = setInterval(() => {
    progress.update({
      elapsedMs: Date.now() - startEpochMs,
      phase: progressPhase(),
      fraction: Math.min(1, (Date.now() - startEpochMs) / total),
      offered: state.records.length,
      accepted: state.accepted.size,
      ...progressCounters(state, sampler),
    });
  }, 250);
  let summary: SenderSummary;
  try {
    summary = await sender.done;
  } finally {
    clearInterval(ticker);
  }
  state.senderSummary = summary;
  log(`arrivals done: ${summary.offered} offered, ${summary.sent} sent, ${summary.notSent} not sent, ${state.accepted.size} accepted`);
  // The run's orders, including those placed although their request got a 5xx or no answer (placeOrder timed
  // out after publishing): every request carries X-Correlation-Id load-<runId>-<seq>, stored on the item.
  const runPrefix = `load-${runId}-`;
  return {
    keep: (item) => state.accepted.has(item.orderId) || (typeof item.correlationId === 'string' && item.correlationId.startsWith(runPrefix)),
    expectedOrders: () => [...state.accepted.values()].filter((order) => !state.poisonIds.has(order.orderId)),
  };
}

/** Drive, bulk-import scenarios: one NDJSON upload to the imports bucket. */
async function driveImport(ctx: RunContext, state: RunState, start: RunStart): Promise<Workload> {
  const { scenario, target, runId, log } = ctx;
  const { startEpochMs } = start;
  const body = importFile(scenario);
  const key = `load/${scenario.name}-${runId}.ndjson`;
  const bucket = target.importsBucket;
  if (!bucket) throw new TargetError(`scenario ${scenario.name} uploads a file to the imports bucket, and ${target.stackName} has none`);
  const uploadStarted = Date.now();
  await target.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/x-ndjson' }));
  const uploadedAt = Date.now();
  state.importInfo = { key, bytes: Buffer.byteLength(body), uploadMs: uploadedAt - startEpochMs, orders: scenario.fileOrders };
  state.phases.push({ phase: 0, type: 'spike', startMs: uploadStarted - startEpochMs, endMs: uploadedAt - startEpochMs, arrivals: scenario.fileOrders, endedByDrain: false });
  log(`uploaded s3://${bucket}/${key} (${scenario.fileOrders} orders, ${(state.importInfo.bytes / 1024 / 1024).toFixed(1)} MiB) in ${uploadedAt - uploadStarted} ms`);
  const prefix = `import:${key}:`;
  return {
    keep: (item) => typeof item.correlationId === 'string' && item.correlationId.startsWith(prefix),
    // One expected order per line; a line the table never heard of keeps a placeholder id (it is lost).
    expectedOrders: () => {
      const byLine = new Map<number, TableItem>();
      for (const item of state.itemsById.values()) byLine.set(Number((item.correlationId ?? '').slice(prefix.length)), item);
      return Array.from({ length: scenario.fileOrders }, (_, index) => ({
        orderId: byLine.get(index + 1)?.orderId ?? `missing-line-${index + 1}`,
        sentEpochMs: uploadStarted,
        acceptedEpochMs: uploadedAt,
      }));
    },
  };
}

/** Drain: wait until every expected order has completed and the work queues are empty, or the deadline. */
async function drain(ctx: RunContext, state: RunState, workload: Workload, start: RunStart): Promise<Drained> {
  const { scenario, target, progress, options } = ctx;
  const { startEpochMs, sampler } = start;
  const lastArrivalEpochMs = startEpochMs + Math.max(0, ...state.phases.map((window) => window.endMs));
  const deadlineEpochMs = lastArrivalEpochMs + scenario.drain.deadlineMs;
  progress.log(`waiting for completion (at most ${Math.round((deadlineEpochMs - Date.now()) / 1000)} s)...`);
  const drainTicker = setInterval(() => {
    progress.update({
      elapsedMs: Date.now() - startEpochMs,
      phase: 'draining',
      offered: scenario.kind === 'api' ? state.records.length : scenario.fileOrders,
      accepted: scenario.kind === 'api' ? state.accepted.size : scenario.fileOrders,
      ...progressCounters(state, sampler),
    });
  }, 250);
  let scan: Drained['scan'];
  try {
    scan = await waitForCompletion({
      target,
      sampler,
      deadlineEpochMs,
      keep: workload.keep,
      complete: (items) => {
        const byId = new Map(items.map((item) => [item.orderId, item]));
        return workload.expectedOrders().every((order) => byId.get(order.orderId)?.status === 'COMPLETED');
      },
      onScan: (items) => {
        for (const item of items) state.itemsById.set(item.orderId, item);
        state.completedSeen = workload.expectedOrders().filter((order) => state.itemsById.get(order.orderId)?.status === 'COMPLETED').length;
      },
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } finally {
    clearInterval(drainTicker);
  }
  // Until the queues have drained since the last arrival (two empty samples, the report's measure), then one more
  // sample so the chart shows the end.
  await sampler.untilDrained(lastArrivalEpochMs - startEpochMs, deadlineEpochMs, options.signal);
  await sleep(SAMPLE_INTERVAL_MS * 1.2);
  sampler.stop();
  progress.done();
  return { scan, deadlineEpochMs, endEpochMs: Date.now() };
}

/** Report: orders of this run the API did not answer 202 for, that the pipeline placed anyway. */
function placedDespiteErrors(state: RunState, clockOffsetMs: number): PlacedDespiteError {
  const placed: PlacedDespiteError = { count: 0, completed: 0, completionEpochMs: [] };
  for (const item of state.itemsById.values()) {
    if (state.accepted.has(item.orderId)) continue;
    placed.count += 1;
    if (item.status !== 'COMPLETED') continue;
    placed.completed += 1;
    const at = Date.parse(item.completedAt ?? '');
    if (Number.isFinite(at)) placed.completionEpochMs.push(at - clockOffsetMs);
  }
  return placed;
}

/** Report: the same completion times the accounting used, per order (for the drain measure). */
function completionTimes(orders: AcceptedOrder[], itemsById: Map<string, TableItem>, clockOffsetMs: number): Map<string, number> {
  const completionByOrder = new Map<string, number>();
  for (const order of orders) {
    const item = itemsById.get(order.orderId);
    if (item?.status !== 'COMPLETED') continue;
    const at = Date.parse(item.completedAt ?? '') || Math.max(Date.parse(item.chargedAt ?? '') || 0, Date.parse(item.shippedAt ?? '') || 0);
    if (at > 0) completionByOrder.set(order.orderId, at - clockOffsetMs);
  }
  return completionByOrder;
}

/** Report: the orders whose completion the drain waits for: accepted up to the last spike's end (all, without a spike), poison ones left out. */
function acceptedBeforeDrain(scenario: Scenario, state: Pick<RunState, 'accepted' | 'acceptedPhase' | 'poisonIds' | 'phases'>, orders: AcceptedOrder[]): Set<string> {
  if (scenario.kind !== 'api') return new Set(orders.map((o) => o.orderId));
  // Poison orders complete only after the chaos phase's redrive: the drain leaves them out, as the counts do.
  const counted = [...state.accepted.keys()].filter((id) => !state.poisonIds.has(id));
  const lastSpike = state.phases.filter((window) => window.type === 'spike').at(-1);
  if (!lastSpike) return new Set(counted);
  return new Set(counted.filter((id) => (state.acceptedPhase.get(id) ?? 0) <= lastSpike.phase));
}

/** Bytes as whole MiB, for the report's notes. */
function mib(bytes: number | undefined): number {
  return Math.round((bytes ?? 0) / 1024 ** 2);
}

/** Report: what a reader of the figures should know about how they were taken. */
function contextNotes(ctx: RunContext, state: RunState, start: RunStart, accounting: Accounting): string[] {
  const { target, scenario } = ctx;
  const { sampler, statsBefore, loadAverageAtStart } = start;
  const notes: string[] = [];
  if (target.kind === 'local-in-process') {
    const senderRss = state.senderSummary?.peakRssBytes;
    notes.push(
      senderRss === undefined
        ? `The local cloud ran in this process, and so did the load generator (--inline-sender): the peak RSS includes it (RSS was ${mib(statsBefore?.memory.rssBytes)} MiB when the run started, cloud ready and idle).`
        : `The local cloud ran in this process and the load generator in a child process of its own (peak RSS ${mib(senderRss)} MiB), which the cloud's peak RSS does not include; this process also holds the run's own bookkeeping (RSS was ${mib(statsBefore?.memory.rssBytes)} MiB when the run started, cloud ready and idle).`,
    );
  }
  const busiest = Math.max(...loadAverageAtStart.slice(0, 1), ...loadavg().slice(0, 1));
  if (target.kind !== 'aws' && busiest > availableParallelism()) {
    notes.push(`The machine was busy with other work: 1-minute load average ${busiest.toFixed(1)} on ${availableParallelism()} CPUs; local figures are pessimistic.`);
  }
  if (target.kind === 'local-npm-start') notes.push('Target: a running npm start; its counters are shared with anything else that used it during the run.');
  if (target.kind === 'aws') notes.push('AWS requests per order, function counters and memory are local-only figures (n/a on AWS): read them from CloudWatch for a deployed stage.');
  if (accounting.completionTimeSource === 'steps' || accounting.completionTimeSource === 'mixed') {
    notes.push('Some Orders items carry no completedAt: their completion time is the later of chargedAt and shippedAt (the events\' times).');
  }
  if (accounting.duplicated === undefined) notes.push('Duplicated side effects were not measured: no Orders item carries invoiceWrites / labelWrites (notifyCustomer counts them once that change lands).');
  if (sampler.failures > 0) notes.push(`${sampler.failures} queue sample(s) failed (last: ${sampler.lastError}).`);
  if ((state.senderSummary?.notSent ?? 0) > 0) notes.push(`${state.senderSummary?.notSent} arrival(s) were not sent: ${scenario.limits.maxInFlight} requests were already waiting for an answer (limits.maxInFlight).`);
  if (scenario.kind === 'bulk-import') notes.push('Bulk import: "accepted" is every line of the file; API latency does not apply; order-to-COMPLETED is measured from the end of the upload.');
  return notes;
}

/** Report: the accounting of every expected order and the figures of the run. */
async function buildRunReport(ctx: RunContext, state: RunState, workload: Workload, start: RunStart, drained: Drained): Promise<LoadReport> {
  const { scenario, target, options, runId, command } = ctx;
  const { startEpochMs, sampler, statsBefore, loadAverageAtStart } = start;
  const notes: string[] = [];
  if (options.signal?.aborted) notes.push('Interrupted (Ctrl-C): arrivals stopped early and the drain was cut short; orders still in the pipeline count as lost.');
  const orders = workload.expectedOrders();
  const isAws = target.kind === 'aws';
  const clockOffsetMs = scenario.kind === 'api' ? estimateClockOffsetMs(orders, state.itemsById) : undefined;
  const appliedOffsetMs = isAws ? (clockOffsetMs ?? 0) : 0;
  const placedDespiteError = scenario.kind === 'api' ? placedDespiteErrors(state, appliedOffsetMs) : { count: 0, completed: 0, completionEpochMs: [] };
  if (placedDespiteError.count > 0) {
    notes.push(
      `${placedDespiteError.count} order(s) got a 5xx or no answer and were placed anyway (placeOrder published OrderPlaced, then timed out); ${placedDespiteError.completed} of them completed. A client that retries without an Idempotency-Key would place them twice. Requests and CPU per order count them as orders.`,
    );
  }
  const accounting: Accounting = account(orders, state.itemsById.values(), { deadlineEpochMs: drained.deadlineEpochMs, clockOffsetMs: appliedOffsetMs });
  const statsAfter = await target.stats();
  notes.push(...contextNotes(ctx, state, start, accounting));
  return buildReport({
    scenario,
    runId,
    command,
    startEpochMs,
    endEpochMs: drained.endEpochMs,
    target: { kind: target.kind, description: target.description, apiUrl: target.apiUrl, region: target.region, stage: target.stage, stackName: target.stackName },
    records: state.records,
    phases: state.phases,
    sender: state.senderSummary,
    accounting,
    clockOffsetMs,
    clockOffsetApplied: isAws,
    acceptedBeforeDrainFrom: acceptedBeforeDrain(scenario, state, orders),
    completionByOrder: completionTimes(orders, state.itemsById, appliedOffsetMs),
    queues: target.queues,
    queueSamples: sampler.queues,
    samplesFailed: sampler.failures,
    sampleIntervalMs: SAMPLE_INTERVAL_MS,
    memorySamples: sampler.memory,
    eventLoopSamples: sampler.eventLoops,
    placedDespiteError,
    peakRssBytes: statsAfter?.memory.peakRssBytes,
    cpuMs: statsBefore?.cpu && statsAfter?.cpu ? statsAfter.cpu.userMs + statsAfter.cpu.systemMs - statsBefore.cpu.userMs - statsBefore.cpu.systemMs : undefined,
    loadAverage: { start: loadAverageAtStart, end: loadavg() },
    statsDelta: statsBefore && statsAfter ? statsDelta(statsBefore, statsAfter) : undefined,
    ...(state.importInfo ? { importInfo: state.importInfo } : {}),
    scan: { pages: drained.scan.pages, itemsScanned: drained.scan.scanned, ms: drained.scan.ms },
    drainDeadlineMs: scenario.drain.deadlineMs,
    notes,
  });
}

/** Report, chaos scenarios: the DLQ phase (poison orders dead-lettered, faults off, redrive) into the report. */
async function reportChaos(ctx: RunContext, state: RunState, workload: Workload, report: LoadReport, chaosReport: ChaosReport): Promise<void> {
  const { scenario, target, runId, log } = ctx;
  if (!scenario.chaos) return;
  if (state.poisonIds.size > 0) report.notes.push(`${state.poisonIds.size} poison order(s) are left out of accepted/completed/lost above: the chaos section accounts for them (${POISON_DLQ}, redrive).`);
  const poisonShare = scenario.orders.poisonShare ?? 0;
  const runPrefix = `load-${runId}-`;
  const chaosOrders = (): ChaosOrder[] => {
    const out = new Map<string, ChaosOrder>();
    for (const id of state.accepted.keys()) out.set(id, { orderId: id, poison: state.poisonIds.has(id) });
    // Orders placed although their request got a 5xx or no answer: poison or not from the seq in their correlation id.
    for (const item of state.itemsById.values()) {
      if (out.has(item.orderId) || !item.correlationId?.startsWith(runPrefix)) continue;
      out.set(item.orderId, { orderId: item.orderId, poison: isPoisonArrival(Number(item.correlationId.slice(runPrefix.length)), poisonShare) });
    }
    return [...out.values()];
  };
  const scanRun = async (): Promise<TableItem[]> => {
    const { items } = await scanOrders(target, workload.keep);
    for (const item of items) state.itemsById.set(item.orderId, item);
    return items;
  };
  try {
    report.chaos = await runChaosPhase({ target, settings: scenario.chaos, orders: chaosOrders, scan: scanRun, log, report: chaosReport });
  } catch (error) {
    chaosReport.failures.push(`the DLQ phase failed: ${(error as Error).message}`);
    report.chaos = chaosReport;
  }
  if (report.chaos.failures.length > 0) report.verdict = { pass: false, failures: [...report.verdict.failures, ...report.chaos.failures.map((f) => `chaos ${f}`)] };
}

/** Report: `<scenario>-<timestamp>.json` and `.html` in the reports directory. */
async function writeRunReport(ctx: RunContext, report: LoadReport): Promise<RunResult> {
  const jsonPath = join(ctx.reportsDir, `${ctx.baseName}.json`);
  const htmlPath = join(ctx.reportsDir, `${ctx.baseName}.html`);
  await writeFile(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(htmlPath, renderHtml(report));
  return { report, jsonPath, htmlPath, exitCode: report.verdict.pass ? 0 : 1 };
}

/**
 * Runs one scenario and writes its report, in four phases: setup (target, chaos switches, counters), drive (the
 * arrivals), drain (until every expected order completed or the deadline), report.
 *
 * @example
 * const { report, exitCode } = await runLoad({ scenario: 'steady', inProcess: true });
 */
async function runLoad(options: RunOptions): Promise<RunResult> {
  const ctx = await setupRun(options);
  const { scenario, target, log, progress, cloudLog } = ctx;
  /** Run at the end whatever happens (chaos: faults off, queue settings back). */
  const cleanups: (() => Promise<void>)[] = [];
  try {
    log(`scenario ${scenario.name}: ${scenario.description || scenario.file} -> ${target.description}`);
    const chaosReport = await startChaos(ctx, cleanups);
    const start = await startMeasuring(target);
    const state = emptyState();
    const workload = scenario.kind === 'api' ? await driveApi(ctx, state, start) : await driveImport(ctx, state, start);
    const drained = await drain(ctx, state, workload, start);
    const report = await buildRunReport(ctx, state, workload, start, drained);
    if (chaosReport) await reportChaos(ctx, state, workload, report, chaosReport);
    await addPrediction(report, options.templatePath ?? TEMPLATE_PATH);
    return await writeRunReport(ctx, report);
  } finally {
    progress.done();
    for (const cleanup of cleanups) await cleanup().catch((error: unknown) => log(`cleanup failed: ${(error as Error).message}`));
    if (!options.target) await target.stop();
    await new Promise<void>((resolve) => (cloudLog ? cloudLog.end(() => resolve()) : resolve()));
  }
}

/** The AWS prediction (capacity model) beside the run; a note instead when the template cannot be read. */
async function addPrediction(report: LoadReport, templatePath: string): Promise<void> {
  if (!existsSync(templatePath)) {
    report.notes.push(`No AWS prediction: ${templatePath} not found (run \`npm run package\`).`);
    return;
  }
  try {
    report.prediction = predictForReport(report, JSON.parse(await readFile(templatePath, 'utf8')) as Parameters<typeof predictForReport>[1]);
  } catch (error) {
    report.notes.push(`No AWS prediction: ${(error as Error).message}`);
  }
}

const n = (value: number | null | undefined, digits = 1): string =>
  value === null || value === undefined || !Number.isFinite(value) ? 'n/a' : value.toLocaleString('en-US', { maximumFractionDigits: digits });

/** The figures as a plain-text table (console, CI logs). */
function formatSummary(report: LoadReport, paths?: { jsonPath: string; htmlPath: string }): string {
  const c = report.counts;
  const l = report.latency;
  const rows: [string, string][] = [
    ['target', report.run.target.description],
    ['orders offered / sent / not sent', `${n(c.offered, 0)} / ${n(c.sent, 0)} / ${n(c.notSent, 0)}`],
    ['accepted (202) / rejected (4xx) / 5xx / no answer', `${n(c.accepted, 0)} / ${n(c.rejected, 0)} / ${n(c.http5xx, 0)} / ${n(c.networkErrors, 0)}`],
    [
      'HTTP answers',
      report.scenario.kind === 'bulk-import'
        ? 'n/a (bulk import: one upload)'
        : Object.entries(c.statusCodes).map(([code, count]) => `${code === '0' ? 'none' : code} x${count}`).join(', ') + (c.networkErrorMessages[0] ? ` (no answer: ${c.networkErrorMessages[0].message})` : ''),
    ],
    ['placed despite a 5xx / no answer', `${n(c.placedDespiteError, 0)}`],
    ['completed / lost / duplicated', `${n(c.completed, 0)} / ${n(c.lost, 0)} / ${c.duplicated === null ? 'not measured' : n(c.duplicated, 0)}`],
    ['API latency p50 / p95 / p99 / max (ms)', l.api ? `${n(l.api.p50, 1)} / ${n(l.api.p95, 1)} / ${n(l.api.p99, 1)} / ${n(l.api.max, 1)}` : 'n/a'],
    ['order -> COMPLETED p50 / p95 / p99 (s)', l.orderToCompleted ? `${n(l.orderToCompleted.p50 / 1000, 2)} / ${n(l.orderToCompleted.p95 / 1000, 2)} / ${n(l.orderToCompleted.p99 / 1000, 2)}` : 'n/a'],
    ['peak backlog (messages, work queues)', `${n(report.queues.peakBacklog, 0)} at ${n((report.queues.peakBacklogAtMs ?? 0) / 1000, 0)} s; DLQ peak ${n(report.queues.peakDlq, 0)}`],
    [`drain time after ${report.drain.fromWhat}`, report.drain.drainTimeMs === null ? 'not drained before the deadline' : `${n(report.drain.drainTimeMs / 1000, 1)} s`],
    ['throughput: accepted during spike / completed (orders/s)', `${n(report.throughput.spikeAcceptedPerSecond)} / ${n(report.throughput.completedPerSecond)} (peak ${n(report.throughput.peakCompletionsPerSecond, 0)}/s)`],
    [
      'AWS requests per order',
      typeof report.aws.requestsPerOrder === 'string'
        ? report.aws.requestsPerOrder
        : Object.entries(report.aws.requestsPerOrder)
            .sort((a, b) => b[1] - a[1])
            .map(([svc, count]) => `${svc} ${n(count, 2)}`)
            .join(', '),
    ],
    [
      'local cloud peak RSS',
      typeof report.memory === 'string'
        ? report.memory
        : `${n(report.memory.peakRssBytes / 1024 ** 2, 0)} MiB${report.memory.senderPeakRssBytes === null ? ' (the load generator included)' : ` (the load generator's, apart: ${n(report.memory.senderPeakRssBytes / 1024 ** 2, 0)} MiB)`}`,
    ],
    ['local cloud CPU per order', typeof report.cpu === 'string' ? report.cpu : `${n(report.cpu.msPerOrder, 1)} ms (${n(report.cpu.ms / 1000, 1)} s in all; load average ${report.run.host.loadAverageAtStart[0]} at start on ${report.run.host.cpus} CPUs)`],
    ['event loops busy: run / spike / drain', typeof report.eventLoops === 'string' ? report.eventLoops : formatEventLoops(report.eventLoops)],
  ];
  const chaos = report.chaos;
  if (chaos) {
    const b = chaos.beforeRedrive;
    const a = chaos.afterRedrive;
    rows.push(
      ['chaos faults', JSON.stringify(chaos.faults)],
      ['chaos local-only queue settings', chaos.localQueues ? `VisibilityTimeout ${chaos.localQueues.visibilityTimeoutSeconds} s, maxReceiveCount ${chaos.localQueues.maxReceiveCount} on ${chaos.localQueues.queues.length} work queues` : 'none'],
      ['before redrive: non-poison completed once', b ? `${b.completedOnce} / ${b.orders - b.poison}` : 'n/a'],
      [`before redrive: poison in ${POISON_DLQ} / misplaced`, b ? `${b.poisonInDlq} / ${b.poison} poison; ${b.misplaced.length} misplaced` : 'n/a'],
      ['DLQ depths before redrive', Object.entries(chaos.dlqDepths).map(([q, d]) => `${q} ${d}`).join(', ') || 'all empty'],
      ['redriven', Object.entries(chaos.redriven).map(([q, d]) => `${q} ${d}`).join(', ') || 'nothing'],
      ['after redrive: completed exactly once', a ? `${a.completedOnce} / ${a.orders}${chaos.completedAfterRedriveMs === null ? ' (not all before the deadline)' : ` (${n(chaos.completedAfterRedriveMs / 1000, 1)} s after the redrive)`}` : 'n/a'],
      ['chaos lost / duplicated', `${chaos.lost} / ${chaos.duplicated}`],
    );
  }
  const width = Math.max(...rows.map(([label]) => label.length));
  const lines = [`\n${report.scenario.name}: ${report.verdict.pass ? 'PASS' : `FAIL (${report.verdict.failures.join('; ')})`}`, ...rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`)];
  lines.push('  aims:');
  for (const aim of report.aims) lines.push(`    ${aim.pass === undefined ? 'n/a ' : aim.pass ? 'met ' : 'MISS'}  ${aim.name} ${aim.aim}: ${aim.value}`);
  if (report.prediction) lines.push(...formatPrediction(report.prediction));
  if (paths) lines.push(`  report: ${relative(process.cwd(), paths.htmlPath)} (and .json)`);
  return `${lines.join('\n')}\n`;
}

type CliArguments = Omit<RunOptions, 'scenario'> & { scenario?: string; help: boolean; engine?: 'artillery'; workers?: number; targetUrl?: string; runner?: ArtilleryRunner };

function parseArguments(argv: string[]): CliArguments {
  const out: CliArguments = { help: false };
  const value = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new UsageError(`${flag} needs a value`);
    return v;
  };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h') out.help = true;
    else if (arg === '--stage') out.stage = value(i++, arg);
    else if (arg === '--region') out.region = value(i++, arg);
    else if (arg === '--stack') out.stack = value(i++, arg);
    else if (arg === '--out') out.reportsDir = value(i++, arg);
    else if (arg === '--in-process') out.inProcess = true;
    else if (arg === '--inline-sender') out.inlineSender = true;
    else if (arg === '--engine') {
      const engine = value(i++, arg);
      if (engine !== 'artillery') throw new UsageError(`--engine: only artillery is supported, got "${engine}"`);
      out.engine = engine;
    } else if (arg === '--workers') {
      const workers = Number(value(i++, arg));
      if (!Number.isInteger(workers) || workers < 1) throw new UsageError(`--workers must be a whole number >= 1, got "${argv[i]}"`);
      out.workers = workers;
    } else if (arg === '--runner') {
      const runner = value(i++, arg);
      if (!(ARTILLERY_RUNNERS as readonly string[]).includes(runner)) throw new UsageError(`--runner must be one of ${ARTILLERY_RUNNERS.join(', ')}, got "${runner}"`);
      out.runner = runner as ArtilleryRunner;
    } else if (arg === '--target-url') out.targetUrl = value(i++, arg);
    else if (arg.startsWith('--')) throw new UsageError(`unknown option ${arg}`);
    else if (out.scenario === undefined) out.scenario = arg;
    else throw new UsageError(`one scenario at a time (got ${out.scenario} and ${arg})`);
  }
  if (out.stage !== undefined && !/^[a-zA-Z0-9-]+$/.test(out.stage)) throw new UsageError(`--stage must be letters, digits and dashes, got "${out.stage}"`);
  if (out.stage === 'local') throw new UsageError('--stage local is the local cloud: leave --stage out');
  if (out.workers !== undefined && out.engine === undefined) throw new UsageError('--workers needs --engine artillery');
  if (out.runner !== undefined && out.engine === undefined) throw new UsageError('--runner needs --engine artillery');
  return out;
}

/**
 * `--engine artillery`: writes the Artillery script for the target's API, runs it with the installed Artillery CLI
 * (artillery-run.ts) and accounts for the run's orders in the Orders table; without a CLI, says how to get one and
 * how to run the script. `--target-url` runs without accounting (the run has no table to read).
 */
async function runWithArtillery(args: CliArguments & { scenario: string }): Promise<number> {
  const scenario = await loadScenario(args.scenario);
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const target =
    args.targetUrl === undefined
      ? await resolveTarget({ stage: args.stage, region: args.region, stack: args.stack, inProcess: args.inProcess ?? false, edgePort: Number(process.env.EDGE_PORT ?? 4566), apiPort: Number(process.env.PORT ?? 3000), log })
      : undefined;
  try {
    const dir = args.reportsDir ?? join(import.meta.dirname, '..', '..', 'reports');
    await mkdir(dir, { recursive: true });
    const workers = args.workers ?? 1;
    const runner = args.runner ?? (args.stage === undefined ? 'local' : 'lambda');
    const stamp = timestamp(Date.now());
    const runId = `${stamp}-${Math.random().toString(36).slice(2, 8)}`;
    const { scriptPath, processorPath } = await writeArtilleryFiles(scenario, { target: args.targetUrl ?? (target as LoadTarget).apiUrl, workers, runId }, dir);
    const region = args.region ?? process.env.AWS_REGION ?? 'us-east-1';
    const outputPath = join(dir, `${scenario.name}-artillery-${stamp}.artillery.json`);
    const invocation = artilleryInvocation({ scriptPath, outputPath, runner, workers, region });
    const binary = process.env.ARTILLERY_BIN ?? 'artillery';
    process.stdout.write(`wrote ${relative(process.cwd(), scriptPath)} and ${relative(process.cwd(), processorPath)} (run id ${runId}; orders carry x-correlation-id load-${runId}-<uuid>)\n`);
    process.stdout.write(`running: ${binary} ${invocation.join(' ')}\n`);
    const started = Date.now();
    if (!(await runArtillery(binary, invocation))) {
      process.stdout.write(
        [
          `no Artillery CLI (${binary}) on PATH: it is not a dependency of this project. \`npm install -g artillery\` (or prefix the commands with \`npx artillery@latest\`; ARTILLERY_BIN names another binary), then:`,
          ...artilleryCommands(relative(process.cwd(), scriptPath), workers, region).map((line) => `  ${line}`),
          '',
        ].join('\n'),
      );
      return 0;
    }
    const outcome = artilleryOutcome(JSON.parse(await readFile(outputPath, 'utf8')));
    if (target === undefined) {
      process.stdout.write(`${JSON.stringify(outcome)}\n--target-url: no Orders table to account from (give --stage NAME, or run against the local cloud, for the zero-loss accounting)\n`);
      return 0;
    }
    // The run's orders, by correlation id, until every accepted one is COMPLETED or the scenario's drain deadline passes.
    const prefix = `load-${runId}-`;
    const deadline = Date.now() + scenario.drain.deadlineMs;
    let items: TableItem[] = [];
    for (;;) {
      items = (await scanOrders(target, (item) => item.correlationId?.startsWith(prefix) === true)).items;
      const completed = items.filter((item) => item.status === 'COMPLETED').length;
      if (completed >= outcome.accepted || Date.now() >= deadline) break;
      await sleep(2_000);
    }
    const accounting = accountByCorrelation(items, outcome.accepted);
    const reportPath = join(dir, `${scenario.name}-artillery-${stamp}.json`);
    const report = { scenario: scenario.name, runId, engine: 'artillery', runner, workers, target: target.description, command: `${binary} ${invocation.join(' ')}`, startedAt: new Date(started).toISOString(), artillery: outcome, accounting };
    await writeFile(reportPath, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`${formatRunAccounting(outcome, accounting, Math.round(scenario.drain.deadlineMs / 1000)).join('\n')}\nreport: ${relative(process.cwd(), reportPath)}\n`);
    return accounting.lost > 0 || accounting.duplicated > 0 ? 1 : 0;
  } finally {
    await target?.stop();
  }
}

async function main(): Promise<void> {
  const args = parseArguments(process.argv.slice(2));
  if (args.help || args.scenario === undefined) {
    process.stdout.write(`${new UsageError('').message.trim()}\nscenarios: ${(await import('./scenario.ts').then((m) => m.listScenarios())).join(', ')}\n`);
    if (!args.help) process.exitCode = 2;
    return;
  }
  if (args.engine === 'artillery') {
    process.exitCode = await runWithArtillery(args as CliArguments & { scenario: string });
    return;
  }
  const argv = process.argv.slice(2).join(' ');
  const interrupt = new AbortController();
  process.once('SIGINT', () => {
    process.stderr.write('\nSIGINT: stopping the arrivals, writing the report and stopping the local cloud (Ctrl-C again exits at once)...\n');
    interrupt.abort();
    process.once('SIGINT', () => process.exit(130));
  });
  const result = await runLoad({ ...args, scenario: args.scenario, command: `npm run load -- ${argv}`, signal: interrupt.signal });
  process.stdout.write(formatSummary(result.report, result));
  process.exitCode = result.exitCode;
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    const known = error instanceof ScenarioError || error instanceof TargetError || error instanceof UsageError || error instanceof ArtilleryError;
    process.stderr.write(`load failed: ${known ? (error as Error).message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 2;
  });
}

export { UsageError, acceptedBeforeDrain, formatSummary, parseArguments, runLoad };
export type { RunOptions, RunResult };
