/**
 * `npm run load -- <scenario> [--stage NAME] [--region R] [--stack NAME] [--in-process] [--inline-sender] [--out DIR]`
 *
 * Runs a load scenario (scripts/load/scenarios/<scenario>.yml) against the local cloud (a running
 * `npm start`, else one started in this process) or a deployed stage, then writes
 * `reports/<scenario>-<timestamp>.json` and `.html`. Exits 1 when an accepted order was lost, a side
 * effect was duplicated or the API answered 5xx; 2 when the run itself failed.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { account, estimateClockOffsetMs, type AcceptedOrder, type Accounting, type TableItem } from './accounting.ts';
import { generateOrder, isPoisonArrival, type PhaseWindow } from './arrivals.ts';
import { applyLocalQueues, POISON_DLQ, runChaosPhase, setFaults, type ChaosOrder, type ChaosReport } from './chaos.ts';
import { renderHtml } from './html.ts';
import { Sampler, scanOrders, statsDelta } from './observe.ts';
import type { OpenLoopSummary, RequestRecord } from './open-loop.ts';
import { createProgress, type Progress } from './progress.ts';
import { buildReport, type LoadReport } from './report.ts';
import { loadScenario, ScenarioError, type Scenario } from './scenario.ts';
import { startSender } from './sender.ts';
import { resolveTarget, TargetError, type LoadTarget } from './target.ts';

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
  /** Run the sender on this thread instead of a worker thread. */
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
}

interface RunResult {
  report: LoadReport;
  jsonPath: string;
  htmlPath: string;
  exitCode: number;
}

class UsageError extends Error {
  constructor(message: string) {
    super(`${message}\nusage: npm run load -- <scenario|file.yml> [--stage NAME] [--region R] [--stack NAME] [--in-process] [--inline-sender] [--out DIR]`);
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
  for (let seq = 0; seq < scenario.importOrders; seq += 1) lines.push(JSON.stringify(generateOrder(scenario.orders, seq).body));
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

/**
 * Runs one scenario and writes its report.
 *
 * @example
 * const { report, exitCode } = await runLoad({ scenario: 'steady', inProcess: true });
 */
async function runLoad(options: RunOptions): Promise<RunResult> {
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
  const notes: string[] = [];
  /** Run at the end whatever happens (chaos: faults off, queue settings back). */
  const cleanups: (() => Promise<void>)[] = [];
  try {
    log(`scenario ${scenario.name}: ${scenario.description || scenario.file} -> ${target.description}`);
    let chaosReport: ChaosReport | undefined;
    if (scenario.chaos) {
      const edge = target.edge;
      if (edge === undefined) throw new TargetError(`scenario ${scenario.name} switches faults with POST /_local/faults: it runs on the local cloud only (leave --stage out)`);
      chaosReport = { faults: scenario.chaos.faults, dlqDepths: {}, redriven: {}, redriveCommands: [], completedAfterRedriveMs: null, lost: 0, duplicated: 0, failures: [] };
      if (scenario.chaos.localQueues) {
        const applied = await applyLocalQueues(target, scenario.chaos.localQueues);
        cleanups.push(applied.restore);
        chaosReport.localQueues = { ...scenario.chaos.localQueues, queues: applied.queues };
        log(`chaos: local-only queue settings on ${applied.queues.length} work queues: VisibilityTimeout ${scenario.chaos.localQueues.visibilityTimeoutSeconds} s, maxReceiveCount ${scenario.chaos.localQueues.maxReceiveCount} (put back at the end)`);
      }
      cleanups.unshift(() => setFaults(edge, {}));
      await setFaults(edge, scenario.chaos.faults);
      log(`chaos: faults on: ${JSON.stringify(scenario.chaos.faults)}`);
    }
    const loadAverageAtStart = loadavg();
    const statsBefore = await target.stats();
    const startEpochMs = Date.now() + 300;
    const sampler = new Sampler(target, startEpochMs, SAMPLE_INTERVAL_MS);
    sampler.start();

    const records: RequestRecord[] = [];
    const accepted = new Map<string, AcceptedOrder>();
    const acceptedPhase = new Map<string, number>();
    /** Accepted poison orders (orders.poisonShare): left out of the drain; the chaos phase accounts for them. */
    const poisonIds = new Set<string>();
    const poisonShare = scenario.orders.poisonShare ?? 0;
    const phases: PhaseWindow[] = [];
    let notSent = 0;
    let errors = 0;
    let completedSeen: number | undefined;
    let senderSummary: OpenLoopSummary | undefined;
    let importInfo: LoadReport['import'];
    let keep: (item: TableItem) => boolean;
    let expectedOrders: () => AcceptedOrder[];
    const itemsById = new Map<string, TableItem>();
    const progressPhase = (): string => {
      const current = phases.length;
      const phase = scenario.phases[current];
      return phase ? `${phase.type} ${current + 1}/${scenario.phases.length}${phase.untilDrained ? ' (until drained)' : ''}` : 'draining';
    };

    if (scenario.kind === 'api') {
      let drainRequested = -1;
      let scanning = false;
      let lastDrainScan = 0;
      const sender = startSender(
        {
          apiUrl: target.apiUrl,
          phases: scenario.phases,
          mix: scenario.orders,
          maxInFlight: scenario.limits.maxInFlight,
          requestTimeoutMs: scenario.limits.requestTimeoutMs,
          runId,
          startEpochMs,
        },
        {
          onRecords: (batch) => {
            for (const r of batch) {
              records.push(r);
              if (r.notSent) {
                notSent += 1;
                continue;
              }
              if (r.status === 202 && r.orderId) {
                accepted.set(r.orderId, { orderId: r.orderId, sentEpochMs: startEpochMs + (r.sentMs as number), acceptedEpochMs: startEpochMs + (r.respondedMs as number) });
                acceptedPhase.set(r.orderId, r.phase);
                if (isPoisonArrival(r.seq, poisonShare)) poisonIds.add(r.orderId);
              } else if (r.status === 0 || (r.status ?? 0) >= 500) errors += 1;
            }
          },
          onPhaseEnd: (window) => {
            phases.push(window);
            progress.log(`phase ${window.phase + 1} (${window.type}) ended at ${(window.endMs / 1000).toFixed(1)} s: ${window.arrivals} arrivals${window.endedByDrain ? ', backlog drained' : ''}`);
          },
        },
        { inline: options.inlineSender ?? false },
      );
      options.signal?.addEventListener('abort', () => sender.abort(), { once: true });
      // An until-drained phase ends once no work queue has a message waiting (2 samples in a row) and every
      // order accepted up to the end of the last spike has COMPLETED (table scan).
      sampler.onSample((sample) => {
        const current = phases.length;
        const phase = scenario.phases[current];
        if (!phase?.untilDrained || drainRequested === current || scanning) return;
        const previous = sampler.queues.at(-2);
        if (sample.waiting !== 0 || previous?.waiting !== 0 || Date.now() - lastDrainScan < SCAN_GAP_MS) return;
        const lastSpike = phases.filter((window) => window.type === 'spike').at(-1)?.phase ?? current - 1;
        const mustComplete = [...accepted.keys()].filter((id) => (acceptedPhase.get(id) ?? 0) <= lastSpike);
        scanning = true;
        lastDrainScan = Date.now();
        scanOrders(target, (item) => accepted.has(item.orderId))
          .then(({ items }) => {
            for (const item of items) itemsById.set(item.orderId, item);
            completedSeen = items.filter((item) => item.status === 'COMPLETED').length;
            if (mustComplete.every((id) => itemsById.get(id)?.status === 'COMPLETED')) {
              drainRequested = current;
              sender.drained(current);
            }
          })
          .catch((error: unknown) => progress.log(`scan failed: ${(error as Error).message}`))
          .finally(() => (scanning = false));
      });
      const ticker = setInterval(() => {
        const total = scenario.phases.reduce((sum, phase) => sum + phase.durationMs, 0);
        progress.update({
          elapsedMs: Date.now() - startEpochMs,
          phase: progressPhase(),
          fraction: Math.min(1, (Date.now() - startEpochMs) / total),
          offered: records.length,
          accepted: accepted.size,
          notSent,
          errors,
          ...(sampler.latest ? { backlog: sampler.latest.backlog, dlq: sampler.latest.dlq } : {}),
          ...(completedSeen === undefined ? {} : { completed: completedSeen }),
        });
      }, 250);
      try {
        senderSummary = await sender.done;
      } finally {
        clearInterval(ticker);
      }
      // The run's orders, including those placed although their request got a 5xx or no answer (placeOrder timed
      // out after publishing): every request carries X-Correlation-Id load-<runId>-<seq>, stored on the item.
      const runPrefix = `load-${runId}-`;
      keep = (item) => accepted.has(item.orderId) || (typeof item.correlationId === 'string' && item.correlationId.startsWith(runPrefix));
      expectedOrders = () => [...accepted.values()].filter((order) => !poisonIds.has(order.orderId));
      log(`arrivals done: ${senderSummary.offered} offered, ${senderSummary.sent} sent, ${senderSummary.notSent} not sent, ${accepted.size} accepted`);
    } else {
      const body = importFile(scenario);
      const key = `load/${scenario.name}-${runId}.ndjson`;
      const uploadStarted = Date.now();
      await target.s3.send(new PutObjectCommand({ Bucket: target.importsBucket, Key: key, Body: body, ContentType: 'application/x-ndjson' }));
      const uploadedAt = Date.now();
      importInfo = { key, bytes: Buffer.byteLength(body), uploadMs: uploadedAt - startEpochMs, orders: scenario.importOrders };
      phases.push({ phase: 0, type: 'spike', startMs: uploadStarted - startEpochMs, endMs: uploadedAt - startEpochMs, arrivals: scenario.importOrders, endedByDrain: false });
      log(`uploaded s3://${target.importsBucket}/${key} (${scenario.importOrders} orders, ${(importInfo.bytes / 1024 / 1024).toFixed(1)} MiB) in ${uploadedAt - uploadStarted} ms`);
      const prefix = `import:${key}:`;
      keep = (item) => typeof item.correlationId === 'string' && item.correlationId.startsWith(prefix);
      // One expected order per line; a line the table never heard of keeps a placeholder id (it is lost).
      expectedOrders = () => {
        const byLine = new Map<number, TableItem>();
        for (const item of itemsById.values()) byLine.set(Number((item.correlationId ?? '').slice(prefix.length)), item);
        return Array.from({ length: scenario.importOrders }, (_, index) => ({
          orderId: byLine.get(index + 1)?.orderId ?? `missing-line-${index + 1}`,
          sentEpochMs: uploadStarted,
          acceptedEpochMs: uploadedAt,
        }));
      };
    }

    // Drain: wait until every accepted order has completed and the work queues are empty, or the deadline.
    const lastArrivalEpochMs = startEpochMs + Math.max(0, ...phases.map((window) => window.endMs));
    const deadlineEpochMs = lastArrivalEpochMs + scenario.drain.deadlineMs;
    progress.log(`waiting for completion (at most ${Math.round((deadlineEpochMs - Date.now()) / 1000)} s)...`);
    const drainTicker = setInterval(() => {
      progress.update({
        elapsedMs: Date.now() - startEpochMs,
        phase: 'draining',
        offered: scenario.kind === 'api' ? records.length : scenario.importOrders,
        accepted: scenario.kind === 'api' ? accepted.size : scenario.importOrders,
        notSent,
        errors,
        ...(sampler.latest ? { backlog: sampler.latest.backlog, dlq: sampler.latest.dlq } : {}),
        ...(completedSeen === undefined ? {} : { completed: completedSeen }),
      });
    }, 250);
    let scan: { pages: number; scanned: number; ms: number; items: TableItem[] };
    try {
      scan = await waitForCompletion({
        target,
        sampler,
        deadlineEpochMs,
        keep,
        complete: (items) => {
          const byId = new Map(items.map((item) => [item.orderId, item]));
          return expectedOrders().every((order) => byId.get(order.orderId)?.status === 'COMPLETED');
        },
        onScan: (items) => {
          for (const item of items) itemsById.set(item.orderId, item);
          completedSeen = expectedOrders().filter((order) => itemsById.get(order.orderId)?.status === 'COMPLETED').length;
        },
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } finally {
      clearInterval(drainTicker);
    }
    // Two more samples so the queue chart shows the end.
    await sleep(SAMPLE_INTERVAL_MS * 1.2);
    sampler.stop();
    progress.done();
    const endEpochMs = Date.now();

    if (options.signal?.aborted) notes.push('Interrupted (Ctrl-C): arrivals stopped early and the drain was cut short; orders still in the pipeline count as lost.');
    const orders = expectedOrders();
    const isAws = target.kind === 'aws';
    const clockOffsetMs = scenario.kind === 'api' ? estimateClockOffsetMs(orders, itemsById) : undefined;
    // Orders of this run the API did not answer 202 for, that the pipeline placed anyway.
    const placedDespiteError = { count: 0, completed: 0, completionEpochMs: [] as number[] };
    if (scenario.kind === 'api') {
      for (const item of itemsById.values()) {
        if (accepted.has(item.orderId)) continue;
        placedDespiteError.count += 1;
        if (item.status !== 'COMPLETED') continue;
        placedDespiteError.completed += 1;
        const at = Date.parse(item.completedAt ?? '');
        if (Number.isFinite(at)) placedDespiteError.completionEpochMs.push(at - (target.kind === 'aws' ? (clockOffsetMs ?? 0) : 0));
      }
      if (placedDespiteError.count > 0) {
        notes.push(
          `${placedDespiteError.count} order(s) got a 5xx or no answer and were placed anyway (placeOrder published OrderPlaced, then timed out); ${placedDespiteError.completed} of them completed. A client that retries without an Idempotency-Key would place them twice. Requests and CPU per order count them as orders.`,
        );
      }
    }
    const accounting: Accounting = account(orders, itemsById.values(), { deadlineEpochMs, clockOffsetMs: isAws ? (clockOffsetMs ?? 0) : 0 });
    const completionByOrder = new Map<string, number>();
    {
      // The same completion times the accounting used, per order (for the drain measure).
      for (const order of orders) {
        const item = itemsById.get(order.orderId);
        if (item?.status !== 'COMPLETED') continue;
        const at = Date.parse(item.completedAt ?? '') || Math.max(Date.parse(item.chargedAt ?? '') || 0, Date.parse(item.shippedAt ?? '') || 0);
        if (at > 0) completionByOrder.set(order.orderId, at - (isAws ? (clockOffsetMs ?? 0) : 0));
      }
    }
    const lastSpike = phases.filter((window) => window.type === 'spike').at(-1);
    const acceptedBeforeDrainFrom =
      scenario.kind === 'api' && lastSpike ? new Set([...accepted.keys()].filter((id) => (acceptedPhase.get(id) ?? 0) <= lastSpike.phase)) : scenario.kind === 'api' ? new Set(accepted.keys()) : new Set(orders.map((o) => o.orderId));

    const statsAfter = await target.stats();
    const delta = statsBefore && statsAfter ? statsDelta(statsBefore, statsAfter) : undefined;
    if (target.kind === 'local-in-process') {
      notes.push(
        `The local cloud ran in this process; the load generator ran in a worker thread of the same process, so the peak RSS includes it (RSS was ${Math.round((statsBefore?.memory.rssBytes ?? 0) / 1024 ** 2)} MiB when the run started, cloud ready and idle).`,
      );
    }
    const busiest = Math.max(...loadAverageAtStart.slice(0, 1), ...loadavg().slice(0, 1));
    if (target.kind !== 'aws' && busiest > availableParallelism()) {
      notes.push(`The machine was busy with other work: 1-minute load average ${busiest.toFixed(1)} on ${availableParallelism()} CPUs; local figures are pessimistic.`);
    }
    if (target.kind === 'local-npm-start') notes.push('Target: a running npm start; its counters are shared with anything else that used it during the run.');
    if (isAws) notes.push('AWS requests per order, function counters and memory are local-only figures (n/a on AWS): read them from CloudWatch for a deployed stage.');
    if (accounting.completionTimeSource === 'steps' || accounting.completionTimeSource === 'mixed') {
      notes.push('Some Orders items carry no completedAt: their completion time is the later of chargedAt and shippedAt (the events\' times).');
    }
    if (accounting.duplicated === undefined) notes.push('Duplicated side effects were not measured: no Orders item carries invoiceWrites / labelWrites (notifyCustomer counts them once that change lands).');
    if (sampler.failures > 0) notes.push(`${sampler.failures} queue sample(s) failed (last: ${sampler.lastError}).`);
    if ((senderSummary?.notSent ?? 0) > 0) notes.push(`${senderSummary?.notSent} arrival(s) were not sent: ${scenario.limits.maxInFlight} requests were already waiting for an answer (limits.maxInFlight).`);
    if (scenario.kind === 'bulk-import') notes.push('Bulk import: "accepted" is every line of the file; API latency does not apply; order-to-COMPLETED is measured from the end of the upload.');

    const report = buildReport({
      scenario,
      runId,
      command,
      startEpochMs,
      endEpochMs,
      target: { kind: target.kind, description: target.description, apiUrl: target.apiUrl, region: target.region, stage: target.stage, stackName: target.stackName },
      records,
      phases,
      sender: senderSummary,
      accounting,
      clockOffsetMs,
      clockOffsetApplied: isAws,
      acceptedBeforeDrainFrom,
      completionByOrder,
      queues: target.queues,
      queueSamples: sampler.queues,
      samplesFailed: sampler.failures,
      sampleIntervalMs: SAMPLE_INTERVAL_MS,
      memorySamples: sampler.memory,
      placedDespiteError,
      peakRssBytes: statsAfter?.memory.peakRssBytes,
      cpuMs: statsBefore?.cpu && statsAfter?.cpu ? statsAfter.cpu.userMs + statsAfter.cpu.systemMs - statsBefore.cpu.userMs - statsBefore.cpu.systemMs : undefined,
      loadAverage: { start: loadAverageAtStart, end: loadavg() },
      statsDelta: delta,
      ...(importInfo ? { importInfo } : {}),
      scan: { pages: scan.pages, itemsScanned: scan.scanned, ms: scan.ms },
      drainDeadlineMs: scenario.drain.deadlineMs,
      notes,
    });
    if (scenario.chaos && chaosReport) {
      if (poisonIds.size > 0) notes.push(`${poisonIds.size} poison order(s) are left out of accepted/completed/lost above: the chaos section accounts for them (${POISON_DLQ}, redrive).`);
      const runPrefix = `load-${runId}-`;
      const chaosOrders = (): ChaosOrder[] => {
        const out = new Map<string, ChaosOrder>();
        for (const id of accepted.keys()) out.set(id, { orderId: id, poison: poisonIds.has(id) });
        // Orders placed although their request got a 5xx or no answer: poison or not from the seq in their correlation id.
        for (const item of itemsById.values()) {
          if (out.has(item.orderId) || !item.correlationId?.startsWith(runPrefix)) continue;
          out.set(item.orderId, { orderId: item.orderId, poison: isPoisonArrival(Number(item.correlationId.slice(runPrefix.length)), poisonShare) });
        }
        return [...out.values()];
      };
      const scanRun = async (): Promise<TableItem[]> => {
        const { items } = await scanOrders(target, keep);
        for (const item of items) itemsById.set(item.orderId, item);
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
    const jsonPath = join(reportsDir, `${baseName}.json`);
    const htmlPath = join(reportsDir, `${baseName}.html`);
    await writeFile(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
    await writeFile(htmlPath, renderHtml(report));
    return { report, jsonPath, htmlPath, exitCode: report.verdict.pass ? 0 : 1 };
  } finally {
    progress.done();
    for (const cleanup of cleanups) await cleanup().catch((error: unknown) => log(`cleanup failed: ${(error as Error).message}`));
    if (!options.target) await target.stop();
    await new Promise<void>((resolve) => (cloudLog ? cloudLog.end(() => resolve()) : resolve()));
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
    ['local cloud peak RSS', typeof report.memory === 'string' ? report.memory : `${n(report.memory.peakRssBytes / 1024 ** 2, 0)} MiB`],
    ['local cloud CPU per order', typeof report.cpu === 'string' ? report.cpu : `${n(report.cpu.msPerOrder, 1)} ms (${n(report.cpu.ms / 1000, 1)} s in all; load average ${report.run.host.loadAverageAtStart[0]} at start on ${report.run.host.cpus} CPUs)`],
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
  if (paths) lines.push(`  report: ${relative(process.cwd(), paths.htmlPath)} (and .json)`);
  return `${lines.join('\n')}\n`;
}

function parseArguments(argv: string[]): Omit<RunOptions, 'scenario'> & { scenario?: string; help: boolean } {
  const out: Omit<RunOptions, 'scenario'> & { scenario?: string; help: boolean } = { help: false };
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
    else if (arg.startsWith('--')) throw new UsageError(`unknown option ${arg}`);
    else if (out.scenario === undefined) out.scenario = arg;
    else throw new UsageError(`one scenario at a time (got ${out.scenario} and ${arg})`);
  }
  if (out.stage !== undefined && !/^[a-zA-Z0-9-]+$/.test(out.stage)) throw new UsageError(`--stage must be letters, digits and dashes, got "${out.stage}"`);
  if (out.stage === 'local') throw new UsageError('--stage local is the local cloud: leave --stage out');
  return out;
}

async function main(): Promise<void> {
  const args = parseArguments(process.argv.slice(2));
  if (args.help || args.scenario === undefined) {
    process.stdout.write(`${new UsageError('').message.trim()}\nscenarios: ${(await import('./scenario.ts').then((m) => m.listScenarios())).join(', ')}\n`);
    if (!args.help) process.exitCode = 2;
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
    const known = error instanceof ScenarioError || error instanceof TargetError || error instanceof UsageError;
    process.stderr.write(`load failed: ${known ? (error as Error).message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 2;
  });
}

export { UsageError, formatSummary, parseArguments, runLoad };
export type { RunOptions, RunResult };
