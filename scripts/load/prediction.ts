/**
 * The AWS prediction section of a load report: the capacity model (capacity.ts) run on the run's own arrivals and
 * measured durations, set beside what the local run measured, with the run's cost at us-east-1 prices (cost.ts).
 */
import { capacityConfigFromTemplate, predictCapacity, shortQueueName, type CapacityPrediction, type FunctionDuration, type Throttle } from './capacity.ts';
import { CostError, DAYS_PER_MONTH, estimateMonthlyCost, perOrderFromReport } from './cost.ts';
import type { LoadReport } from './report.ts';

interface RunCost {
  orders: number;
  /** Sum of the priced lines for the run's orders (fixed monthly lines left out). */
  usd: number;
  lines: { service: string; item: string; usd: number }[];
  unpriced: string[];
  note: string;
}

interface AwsPrediction {
  model: 'scripts/load/capacity.ts';
  /** Where the model's inputs came from. */
  inputs: string[];
  horizonS: number;
  drainFromS: number;
  queues: {
    queue: string;
    fn: string;
    fifo: boolean;
    batchSize: number;
    maxConcurrency: number;
    perMessageMs: number;
    predicted: { peakDepth: number; peakAtS: number; drainTimeS: number };
    /** null: the queue was not sampled (no matching queue in the run). */
    local: { peakDepth: number; drainTimeS: number | null } | null;
  }[];
  functions: { fn: string; predictedPeakConcurrency: number; localMeanDurationMs: number | null; localInvocations: number | null }[];
  predictedPeakTotalConcurrency: number;
  api: { throttled: number } | null;
  throttles: Throttle[];
  series: { depth: Record<string, number[]>; concurrency: Record<string, number[]>; total: number[] };
  assumptions: string[];
  cost: RunCost | { unavailable: string };
}

/** `orderflow-dev-placeOrder` or `placeOrder` → `placeOrder`. */
const shortFunction = (name: string): string => name.split('-').pop() ?? name;

/** Seconds from `fromS` to the last sample with messages, null if the last sample still had some. */
function localDrainS(times: number[], depth: number[], fromS: number): number | null {
  if (depth.length === 0) return null;
  if ((depth[depth.length - 1] ?? 0) > 0) return null;
  let last = -1;
  depth.forEach((d, i) => {
    if (d > 0) last = i;
  });
  if (last < 0) return 0;
  // Drained at the next sample (the first with 0 after the last with messages).
  return Math.max(0, Math.round(((times[last + 1] ?? times[last] ?? 0) - fromS) * 10) / 10);
}

/**
 * The run's cost on AWS: the cost model's per-order figures (measured over the orders the local run placed) times
 * `orders`, the orders AWS would place (the scenario's arrivals less API Gateway's predicted 429s). Local runs only.
 */
function runCost(report: LoadReport, orders: number): RunCost | { unavailable: string } {
  try {
    const perOrder = perOrderFromReport(report);
    const estimate = estimateMonthlyCost(perOrder, orders / DAYS_PER_MONTH);
    // Shard-hours are a month's fixed charge, not this run's.
    const lines = estimate.lines.filter((l) => !l.item.startsWith('shard-hours') && l.monthlyUsd !== undefined).map((l) => ({ service: l.service, item: l.item, usd: l.monthlyUsd as number }));
    return {
      orders,
      usd: lines.reduce((sum, l) => sum + l.usd, 0),
      lines,
      unpriced: estimate.unpriced,
      note: 'the orders AWS would place (the scenario\'s arrivals less predicted 429s) at the requests and durations per order this run measured and the us-east-1 prices of scripts/load/cost.ts (npm run cost); no free tier; fixed monthly charges (Kinesis shard-hours) left out',
    };
  } catch (error) {
    if (error instanceof CostError) return { unavailable: error.message };
    throw error;
  }
}

/**
 * Runs the capacity model for a finished run.
 *
 * @example
 * report.prediction = predictForReport(report, JSON.parse(await readFile(TEMPLATE_PATH, 'utf8')));
 */
function predictForReport(report: LoadReport, template: Parameters<typeof capacityConfigFromTemplate>[0]): AwsPrediction {
  const config = capacityConfigFromTemplate(template);
  const bulk = report.scenario.kind === 'bulk-import';
  const durations: Record<string, FunctionDuration> = {};
  if (typeof report.functions === 'object') {
    for (const [name, fn] of Object.entries(report.functions)) {
      if (fn.invocations > 0) durations[shortFunction(name)] = { meanDurationMs: fn.meanDurationMs, invocationsPerOrder: fn.invocationsPerOrder };
    }
  }
  const drainFromS = Math.round(report.drain.fromMs / 1000);
  const prediction: CapacityPrediction = predictCapacity({
    // A bulk import's orders do not go through API Gateway.
    config: bulk ? { ...config, api: undefined } : config,
    arrivals: report.timeseries.offered,
    physicalShare: report.scenario.orders.physicalShare,
    durations,
    drainFromS,
  });
  const localQueues = new Map(report.queues.list.map((q) => [shortQueueName(q.name), q]));
  const fromS = report.drain.fromMs / 1000;
  return {
    model: 'scripts/load/capacity.ts',
    inputs: [
      `limits: the compiled template (${config.mappings.length} SQS event source mappings${config.api ? `, stage throttling ${config.api.rateLimit}/s burst ${config.api.burstLimit}` : ''}${config.kinesis ? `, Kinesis ${config.kinesis.onDemand ? 'on-demand' : `${config.kinesis.shards} shard(s)`}` : ''})`,
      `arrivals: this run's offered orders per second (${report.timeseries.offered.reduce((a, b) => a + b, 0)} in all)${bulk ? ', published at once (bulk import: no API Gateway)' : ''}`,
      `durations: this run's mean invocation durations per function (${Object.keys(durations).length} measured)${Object.keys(durations).length === 0 ? ': none, so 100 ms per message is assumed' : ''}`,
    ],
    horizonS: prediction.horizonS,
    drainFromS,
    queues: prediction.queues.map((q) => {
      const local = localQueues.get(q.queue);
      const depth = local ? (report.timeseries.queueDepth[local.name] ?? []) : [];
      return {
        queue: q.queue,
        fn: q.fn,
        fifo: q.fifo,
        batchSize: q.batchSize,
        maxConcurrency: q.maxConcurrency,
        perMessageMs: q.perMessageMs,
        predicted: { peakDepth: q.peakDepth, peakAtS: q.peakAtS, drainTimeS: q.drainTimeS },
        local: local ? { peakDepth: local.peakTotal, drainTimeS: localDrainS(report.timeseries.queueT, depth, fromS) } : null,
      };
    }),
    functions: prediction.functions.map((f) => {
      const measured = typeof report.functions === 'object' ? Object.entries(report.functions).find(([name]) => shortFunction(name) === f.fn)?.[1] : undefined;
      return { fn: f.fn, predictedPeakConcurrency: f.peak, localMeanDurationMs: measured?.meanDurationMs ?? null, localInvocations: measured?.invocations ?? null };
    }),
    predictedPeakTotalConcurrency: Math.max(0, ...prediction.totalConcurrency),
    api: prediction.api ? { throttled: prediction.api.throttled } : null,
    throttles: prediction.throttles,
    series: {
      depth: Object.fromEntries(prediction.queues.map((q) => [q.queue, q.depth])),
      concurrency: Object.fromEntries(prediction.functions.map((f) => [f.fn, f.concurrency])),
      total: prediction.totalConcurrency,
    },
    assumptions: prediction.assumptions,
    cost: runCost(report, Math.round(prediction.api ? prediction.api.accepted.reduce((a, b) => a + b, 0) : report.timeseries.offered.reduce((a, b) => a + b, 0))),
  };
}

const fmt = (value: number | null, digits = 1): string => (value === null ? 'n/a' : value.toLocaleString('en-US', { maximumFractionDigits: digits }));

/** The prediction as text lines for the console summary. */
function formatPrediction(p: AwsPrediction): string[] {
  const lines = ['  AWS prediction (capacity model; the run\'s arrivals and measured durations, the template\'s limits):'];
  const rows = p.queues
    .filter((q) => q.predicted.peakDepth > 0 || (q.local?.peakDepth ?? 0) > 0)
    .map((q) => [
      q.queue,
      `${q.fn} x${q.maxConcurrency}, batch ${q.batchSize}, ${fmt(q.perMessageMs)} ms/msg`,
      `${fmt(q.predicted.peakDepth, 0)} / ${q.local ? fmt(q.local.peakDepth, 0) : 'n/a'}`,
      `${fmt(q.predicted.drainTimeS, 0)} s / ${q.local ? (q.local.drainTimeS === null ? 'not drained' : `${fmt(q.local.drainTimeS)} s`) : 'n/a'}`,
    ]);
  const head = ['queue', 'mapping', 'peak depth AWS / local', `drain after ${p.drainFromS} s AWS / local`];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  for (const r of [head, ...rows]) lines.push(`    ${r.map((cell, i) => cell.padEnd(widths[i] as number)).join('  ')}`);
  lines.push(`    peak Lambda concurrency on AWS: ${fmt(p.predictedPeakTotalConcurrency)} (${p.functions.filter((f) => f.predictedPeakConcurrency > 0).map((f) => `${f.fn} ${fmt(f.predictedPeakConcurrency)}`).join(', ')})`);
  if (p.throttles.length === 0) lines.push('    AWS would throttle: nowhere');
  for (const t of p.throttles) lines.push(`    AWS would throttle: ${t.where} (${t.limit}): peak ${fmt(t.peak)} in ${t.seconds} s from ${t.firstAtS} s; ${t.consequence}`);
  lines.push('cost' in p && 'usd' in p.cost ? `    cost of the scenario's ${fmt(p.cost.orders, 0)} orders on AWS: $${p.cost.usd.toFixed(4)} (priced lines; not priced: ${p.cost.unpriced.join('; ') || 'none'})` : `    cost: ${(p.cost as { unavailable: string }).unavailable}`);
  lines.push(`    assumptions: ${p.assumptions.length} (listed in the report)`);
  return lines;
}

export { formatPrediction, predictForReport };
export type { AwsPrediction };
