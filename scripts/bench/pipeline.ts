// npm run bench (part 2) / npm run bench:pipeline: the local pipeline's maximum sustained orders/s, end to end
// (POST /orders to COMPLETED in the Orders table), and in the same run the emulator's own ceiling on the same fauxqs
// (raw SendMessageBatch, and ReceiveMessage + DeleteMessageBatch, messages/s through the edge), printed as a ratio.
//
// Steps: the rate goes up step by step (BENCH_PIPELINE_RATES, default 5, 10, 15, 20, 30, 40, 60, 80, 120, 160, 240, 320 orders/s); each step is
// BENCH_PIPELINE_RUNS short steady runs (default 3) of BENCH_PIPELINE_SECONDS (default 8 s) on one in-process local
// cloud. A run's end-to-end rate is (completed − 1) / (last completedAt − first completedAt); a step keeps up when
// the median of its runs is at least 90 % of the offered rate with nothing lost. The first step that does not keep
// up ends the climb; the maximum sustained rate is the best step that kept up. CPU/order is the local cloud process's CPU
// time (every thread, the in-process load generator's too) over a run and its drain, per accepted order, median of the runs.
// "busy main / emulators": how much of a run and its drain each of the local cloud's two event loops spent running code
// (the load report's eventLoops, Node's eventLoopUtilization), median of the runs: the one near 100 % is what binds.
import { CreateQueueCommand, DeleteMessageBatchCommand, DeleteQueueCommand, ReceiveMessageCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { join } from 'node:path';
import { runLoad } from '../load/run.ts';
import type { Scenario } from '../load/scenario.ts';
import { resolveTarget, type LoadTarget } from '../load/target.ts';

const root = join(import.meta.dirname, '..', '..');
const RATES = (process.env.BENCH_PIPELINE_RATES ?? '5,10,15,20,30,40,60,80,120,160,240,320').split(',').map(Number).filter((n) => n > 0);
const RUNS = Number(process.env.BENCH_PIPELINE_RUNS ?? 3);
const SECONDS = Number(process.env.BENCH_PIPELINE_SECONDS ?? 8);
const KEEP_UP = 0.9;
const CEILING_MESSAGES = Number(process.env.BENCH_CEILING_MESSAGES ?? 20_000);
const CEILING_CONCURRENCY = 8;

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

const scenarioAt = (rate: number): Scenario => ({
  name: `bench-${rate}`,
  description: `pipeline bench: ${rate} orders/s for ${SECONDS} s`,
  file: 'scripts/bench/pipeline.ts',
  kind: 'api',
  orders: { physicalShare: 0.7, itemsPerOrder: { min: 1, max: 5 }, seed: rate },
  phases: [{ type: 'steady', from: rate, to: rate, durationMs: SECONDS * 1000, untilDrained: false }],
  fileOrders: 0,
  limits: { maxInFlight: 1000, requestTimeoutMs: 35_000 },
  drain: { deadlineMs: 30_000 },
});

interface RunFigures {
  offered: number;
  completed: number;
  lost: number;
  /** End-to-end completions per second. */
  rate: number;
  p95CompletionS: number;
  messagesPerOrder: number;
  /** The local cloud's CPU (all its threads, the load generator's included) per accepted order over the run and its drain. */
  cpuMsPerOrder: number;
  /** How busy the main and the emulators' event loops were over the run and its drain (0 to 1; NaN: not measured). */
  mainBusy: number;
  emulatorsBusy: number;
}

/** SQS messages the pollers deleted so far (every message that went through a queue to a function). */
const deletedMessages = (target: LoadTarget): number =>
  (target.cloud?.pollers ?? []).reduce((sum, poller) => sum + ('deleted' in poller.stats ? (poller.stats as { deleted: number }).deleted : 0), 0);

async function runStep(target: LoadTarget, rate: number): Promise<RunFigures> {
  const before = deletedMessages(target);
  const { report } = await runLoad({
    scenario: scenarioAt(rate),
    target,
    reportsDir: join(root, 'reports', 'bench-pipeline'),
    progress: null,
    log: () => {},
    command: 'npm run bench:pipeline',
  });
  const busyOf = (loop: string): number => (typeof report.eventLoops === 'string' ? undefined : report.eventLoops[loop]?.run) ?? Number.NaN;
  return {
    offered: report.counts.offered,
    completed: report.counts.completed,
    lost: report.counts.lost,
    rate: report.throughput.completionRatePerSecond,
    p95CompletionS: (report.latency.orderToCompleted?.p95 ?? 0) / 1000,
    messagesPerOrder: report.counts.completed > 0 ? (deletedMessages(target) - before) / report.counts.completed : 0,
    cpuMsPerOrder: typeof report.cpu === 'string' ? Number.NaN : report.cpu.msPerOrder,
    mainBusy: busyOf('main'),
    emulatorsBusy: busyOf('emulators'),
  };
}

/** Raw SQS messages/s through the edge on a scratch queue: SendMessageBatch, then ReceiveMessage + DeleteMessageBatch. */
async function emulatorCeiling(target: LoadTarget): Promise<{ sendPerS: number; receiveDeletePerS: number }> {
  const sqs = target.sqs;
  const name = `bench-ceiling-${Date.now().toString(36)}`;
  const { QueueUrl: url } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
  if (!url) throw new Error('CreateQueue answered no QueueUrl');
  try {
    const body = JSON.stringify({ type: 'OrderPlaced', orderId: '00000000-0000-0000-0000-000000000000', padding: 'x'.repeat(600) });
    let next = 0;
    const sendStarted = performance.now();
    await Promise.all(
      Array.from({ length: CEILING_CONCURRENCY }, async () => {
        while (next < CEILING_MESSAGES) {
          const start = next;
          next += 10;
          await sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: Array.from({ length: Math.min(10, CEILING_MESSAGES - start) }, (_, i) => ({ Id: String(i), MessageBody: body })) }));
        }
      }),
    );
    const sendPerS = CEILING_MESSAGES / ((performance.now() - sendStarted) / 1000);
    let received = 0;
    let emptyPolls = 0;
    const receiveStarted = performance.now();
    await Promise.all(
      Array.from({ length: CEILING_CONCURRENCY }, async () => {
        // Bounded: stops when everything was received, or after 20 empty polls in a row across workers.
        while (received < CEILING_MESSAGES && emptyPolls < 20) {
          const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
          const messages = out.Messages ?? [];
          if (messages.length === 0) {
            emptyPolls += 1;
            continue;
          }
          emptyPolls = 0;
          received += messages.length;
          await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }));
        }
      }),
    );
    const receiveDeletePerS = received / ((performance.now() - receiveStarted) / 1000);
    return { sendPerS, receiveDeletePerS };
  } finally {
    await sqs.send(new DeleteQueueCommand({ QueueUrl: url })).catch(() => undefined);
  }
}

const fmt = (n: number, digits = 1): string => n.toLocaleString('en-US', { maximumFractionDigits: digits });
const percent = (share: number): string => (Number.isNaN(share) ? 'n/a' : `${Math.round(share * 100)} %`);

async function main(): Promise<void> {
  const out = (line: string): void => void process.stdout.write(`${line}\n`);
  out(`Pipeline bench: steps ${RATES.join(', ')} orders/s, ${RUNS} runs of ${SECONDS} s each, median; keeps up at >= ${KEEP_UP * 100} % of the offered rate, nothing lost.`);
  const target = await resolveTarget({ inProcess: true, log: out });
  try {
    let best: { rate: number; e2e: number; messagesPerOrder: number; cpuMsPerOrder: number } | undefined;
    out(`\n${'offered/s'.padStart(10)}${'e2e/s (runs)'.padStart(30)}${'median'.padStart(9)}${'p95 to COMPLETED'.padStart(18)}${'CPU/order'.padStart(11)}${'busy main / emulators'.padStart(23)}${'lost'.padStart(6)}  verdict`);
    for (const rate of RATES) {
      const runs: RunFigures[] = [];
      for (let i = 0; i < RUNS; i += 1) runs.push(await runStep(target, rate));
      const e2e = median(runs.map((r) => r.rate));
      const lost = runs.reduce((sum, r) => sum + r.lost, 0);
      const keeps = e2e >= KEEP_UP * rate && lost === 0;
      const cpuMsPerOrder = median(runs.map((r) => r.cpuMsPerOrder));
      out(
        `${fmt(rate, 0).padStart(10)}${runs.map((r) => fmt(r.rate)).join(' / ').padStart(30)}${fmt(e2e).padStart(9)}${`${fmt(median(runs.map((r) => r.p95CompletionS)), 2)} s`.padStart(18)}${`${fmt(cpuMsPerOrder)} ms`.padStart(11)}${`${percent(median(runs.map((r) => r.mainBusy)))} / ${percent(median(runs.map((r) => r.emulatorsBusy)))}`.padStart(23)}${String(lost).padStart(6)}  ${keeps ? 'keeps up' : 'falls behind'}`,
      );
      if (keeps) best = { rate, e2e, messagesPerOrder: median(runs.map((r) => r.messagesPerOrder)), cpuMsPerOrder };
      else break;
    }
    out('\nEmulator ceiling (same fauxqs, through the edge, one client, 8 requests in flight)...');
    const ceiling = await emulatorCeiling(target);
    // One message through a queue costs a send and a receive + delete, on the same CPU: the carried rate combines both.
    const carried = 1 / (1 / ceiling.sendPerS + 1 / ceiling.receiveDeletePerS);
    out(`  SendMessageBatch ${fmt(ceiling.sendPerS, 0)} msg/s; ReceiveMessage + DeleteMessageBatch ${fmt(ceiling.receiveDeletePerS, 0)} msg/s; carried (send + receive + delete) ${fmt(carried, 0)} msg/s`);
    if (!best) {
      out(`\nMaximum sustained: below ${RATES[0]} orders/s (the first step fell behind).`);
      return;
    }
    const pipelineMessages = best.e2e * best.messagesPerOrder;
    out(`\nMaximum sustained end to end: ${fmt(best.e2e)} orders/s (step ${best.rate}/s), ${fmt(best.messagesPerOrder, 2)} SQS messages per order, ${fmt(best.cpuMsPerOrder)} ms of CPU per order (aim <= 20 ms).`);
    out(`Ratio: ${fmt(best.e2e)} orders/s / ${fmt(carried, 0)} msg/s carried = ${fmt(best.e2e / carried, 4)} orders per message of ceiling;`);
    out(`       in messages, ${fmt(pipelineMessages, 0)} msg/s = ${fmt((100 * pipelineMessages) / carried, 1)} % of the emulator ceiling (aim >= 50 %); aim >= 300 orders/s: ${best.e2e >= 300 ? 'met' : 'missed'}.`);
  } finally {
    await target.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:pipeline failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
