/**
 * The open-loop driver: each arrival is sent at its intended time whatever happened to the earlier
 * ones (no coordinated omission: a slow answer never delays the next request, and latency is
 * measured from the intended time, so time spent waiting to be sent counts too). At most
 * `maxInFlight` requests wait for an answer at once; an arrival beyond that is not sent and is
 * counted as such, with its intended time.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Arrival } from './arrivals.ts';

interface Clock {
  /** Milliseconds, monotonic; any origin. */
  now(): number;
  /** Resolves after about `ms` (may be late, never early by design of the loop: it re-reads now()). */
  sleep(ms: number): Promise<void>;
}

interface SendOutcome {
  /** HTTP status; 0 for a network error or a timeout. */
  status: number;
  orderId?: string;
  error?: string;
}

interface RequestRecord {
  seq: number;
  phase: number;
  /** ms from the run's start (the clock's origin + startAt). */
  intendedMs: number;
  /** ms from the run's start; undefined when not sent. */
  sentMs?: number;
  respondedMs?: number;
  /** HTTP status, 0 for a network error or timeout; undefined when not sent. */
  status?: number;
  notSent?: boolean;
  orderId?: string;
  error?: string;
}

interface OpenLoopOptions {
  arrivals: Iterable<Arrival>;
  clock: Clock;
  /** Clock time of the run's start: arrival `at` is relative to it. */
  startAt: number;
  maxInFlight: number;
  send(arrival: Arrival): Promise<SendOutcome>;
  onRecord(record: RequestRecord): void;
  /** Checked before each arrival: true stops the run (no more sends; in-flight ones are awaited). */
  aborted?(): boolean;
}

interface OpenLoopSummary {
  offered: number;
  sent: number;
  notSent: number;
  /** Largest lateness of a send against its intended time (ms): the driver's own precision. */
  maxSendLagMs: number;
}

/** The real clock: performance.now() and setTimeout. */
const realClock: Clock = {
  now: () => performance.now(),
  sleep: (ms) => sleep(Math.max(0, ms)),
};

/**
 * Runs the arrivals open-loop. Resolves once every arrival is sent (or counted as not sent) and every
 * sent request has an outcome.
 *
 * @example
 * await runOpenLoop({ arrivals: fixedSchedule(phases), clock: realClock, startAt: realClock.now(), maxInFlight: 100, send, onRecord });
 */
async function runOpenLoop(options: OpenLoopOptions): Promise<OpenLoopSummary> {
  const { clock, startAt } = options;
  const pending = new Set<Promise<void>>();
  let offered = 0;
  let sent = 0;
  let notSent = 0;
  let maxSendLagMs = 0;
  for (const arrival of options.arrivals) {
    if (options.aborted?.()) break;
    const due = startAt + arrival.at;
    // Sleep until due; a timer that fires early is slept again, one that fires late just sends late
    // (the record keeps the intended time, so the latency includes the lateness).
    for (let wait = due - clock.now(); wait > 0; wait = due - clock.now()) await clock.sleep(wait);
    offered += 1;
    if (pending.size >= options.maxInFlight) {
      notSent += 1;
      options.onRecord({ seq: arrival.seq, phase: arrival.phase, intendedMs: arrival.at, notSent: true });
      continue;
    }
    const sentAt = clock.now();
    maxSendLagMs = Math.max(maxSendLagMs, sentAt - due);
    sent += 1;
    const request = options
      .send(arrival)
      .catch((error: unknown): SendOutcome => ({ status: 0, error: error instanceof Error ? error.message : String(error) }))
      .then((outcome) => {
        options.onRecord({
          seq: arrival.seq,
          phase: arrival.phase,
          intendedMs: arrival.at,
          sentMs: sentAt - startAt,
          respondedMs: clock.now() - startAt,
          status: outcome.status,
          ...(outcome.orderId === undefined ? {} : { orderId: outcome.orderId }),
          ...(outcome.error === undefined ? {} : { error: outcome.error }),
        });
      })
      .finally(() => pending.delete(request));
    pending.add(request);
  }
  await Promise.all([...pending]);
  return { offered, sent, notSent, maxSendLagMs };
}

export { realClock, runOpenLoop };
export type { Clock, OpenLoopSummary, RequestRecord, SendOutcome };
