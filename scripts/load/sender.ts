/**
 * The load generator proper: the scenario's arrival schedule, driven open-loop, each arrival a
 * POST /orders. Runs in a child process (sender-process.ts) so that neither its timing nor its memory is
 * mixed with an in-process local cloud's, or inline (tests, `--inline-sender`).
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateOrder, schedule, type PhaseWindow } from './arrivals.ts';
import { createOrderSender } from './http-sender.ts';
import { runOpenLoop, type Clock, type OpenLoopSummary, type RequestRecord } from './open-loop.ts';
import type { OrderMix, Phase } from './scenario.ts';

interface SenderConfig {
  apiUrl: string;
  /** `Bearer <token>`: the API's JWT authorizer refuses a request without one (LoadTarget.authorization). */
  authorization: string;
  phases: Phase[];
  mix: OrderMix;
  maxInFlight: number;
  requestTimeoutMs: number;
  /** Tags every request: `X-Correlation-Id: load-<runId>-<seq>`. */
  runId: string;
  /** Epoch ms of the run's start; arrival times are relative to it. */
  startEpochMs: number;
}

interface SenderHooks {
  onRecords(records: RequestRecord[]): void;
  onPhaseEnd(window: PhaseWindow): void;
  /** Asked before each arrival of an until-drained phase. */
  isDrained(phase: number): boolean;
  isAborted(): boolean;
}

/** Epoch milliseconds with sub-millisecond precision, comparable across processes. */
const epochClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  sleep: (ms) => sleep(Math.max(0, ms)),
};

/** How often records are handed over (batched: one message per flush, not per request). */
const FLUSH_MS = 100;

async function runSender(config: SenderConfig, hooks: SenderHooks, clock: Clock = epochClock): Promise<OpenLoopSummary> {
  const http = createOrderSender(config.apiUrl, { maxSockets: config.maxInFlight, timeoutMs: config.requestTimeoutMs });
  let buffer: RequestRecord[] = [];
  const flush = (): void => {
    if (buffer.length === 0) return;
    hooks.onRecords(buffer);
    buffer = [];
  };
  const timer = setInterval(flush, FLUSH_MS);
  try {
    return await runOpenLoop({
      arrivals: schedule(config.phases, {
        now: () => clock.now() - config.startEpochMs,
        drained: (phase) => hooks.isDrained(phase),
        onPhaseEnd: (window) => {
          flush();
          hooks.onPhaseEnd(window);
        },
      }),
      clock,
      startAt: config.startEpochMs,
      maxInFlight: config.maxInFlight,
      aborted: () => hooks.isAborted(),
      send: (arrival) => {
        const order = generateOrder(config.mix, arrival.seq);
        return http.send(JSON.stringify(order.body), { authorization: config.authorization, 'x-correlation-id': `load-${config.runId}-${arrival.seq}` });
      },
      onRecord: (record) => buffer.push(record),
    });
  } finally {
    clearInterval(timer);
    flush();
    http.close();
  }
}

/** What the sender did; run apart, also its own peak RSS (bytes), which the local cloud's does not include. */
type SenderSummary = OpenLoopSummary & { peakRssBytes?: number };

type SenderMessage =
  | { type: 'records'; records: RequestRecord[] }
  | { type: 'phase'; window: PhaseWindow }
  | { type: 'done'; summary: SenderSummary }
  | { type: 'error'; message: string };

type ParentMessage = { type: 'drained'; phase: number } | { type: 'abort' };

interface SenderHandle {
  /** Ends the until-drained phase `phase` at its next arrival. */
  drained(phase: number): void;
  abort(): void;
  done: Promise<SenderSummary>;
}

/**
 * Starts the sender, in a child process unless `inline`. Records and phase ends arrive through `hooks`.
 *
 * @example
 * const sender = startSender(config, { onRecords, onPhaseEnd }, { inline: false });
 * sender.drained(2);
 * const summary = await sender.done;
 */
function startSender(config: SenderConfig, hooks: Pick<SenderHooks, 'onRecords' | 'onPhaseEnd'>, options: { inline?: boolean } = {}): SenderHandle {
  const drainedPhases = new Set<number>();
  let aborted = false;
  if (options.inline) {
    const done = runSender(config, { ...hooks, isDrained: (phase) => drainedPhases.has(phase), isAborted: () => aborted });
    return { drained: (phase) => drainedPhases.add(phase), abort: () => (aborted = true), done };
  }
  // Advanced serialization: records cross as structured clones, as they did between threads.
  const child = fork(fileURLToPath(new URL('./sender-process.ts', import.meta.url)), [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const done = new Promise<SenderSummary>((resolve, reject) => {
    let summary: SenderSummary | undefined;
    child.on('message', (message: SenderMessage) => {
      if (message.type === 'records') hooks.onRecords(message.records);
      else if (message.type === 'phase') hooks.onPhaseEnd(message.window);
      else if (message.type === 'done') summary = message.summary;
      else reject(new Error(`load sender failed: ${message.message}`));
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => (summary ? resolve(summary) : reject(new Error(`load sender exited with ${signal ?? `code ${code}`} before finishing`))));
  });
  const post = (message: ParentMessage | SenderConfig): void => {
    if (child.connected) child.send(message);
  };
  post(config);
  return {
    drained: (phase) => post({ type: 'drained', phase }),
    abort: () => post({ type: 'abort' }),
    done,
  };
}

export { runSender, startSender };
export type { ParentMessage, SenderConfig, SenderSummary, SenderMessage };
