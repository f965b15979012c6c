/**
 * The package's one sleep and its one poll-until-deadline, exported from the index for applications' tools and
 * tests as well (polling the cloud for an outcome, never sleeping a fixed time and hoping).
 */
import { setTimeout as delay } from 'node:timers/promises';

interface WaitForOptions {
  /** What is awaited, in words that finish "timed out waiting for …": it names the wait in the error. */
  what: string;
  /** How long to keep polling (default 10 000 ms). */
  timeoutMs?: number;
  /** The pause between polls (default 50 ms); with `maxIntervalMs`, the first pause, doubled after every miss. */
  intervalMs?: number;
  /** Upper bound of a doubling pause; unset, the pause stays `intervalMs`. */
  maxIntervalMs?: number;
}

/** A wait that ran out: `what` it waited for, and the probe's last error (as `cause`) or last value. */
class WaitTimeoutError extends Error {
  public readonly what: string;

  public constructor(what: string, timeoutMs: number, last: unknown) {
    const detail = last instanceof Error ? `${last.name}: ${last.message}` : JSON.stringify(last);
    super(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${detail})`, last instanceof Error ? { cause: last } : undefined);
    this.name = 'WaitTimeoutError';
    this.what = what;
  }
}

/**
 * Resolves after `ms` (at once for 0 or less), or as soon as `signal` aborts: it never rejects, so a loop that
 * sleeps between polls simply finds its signal aborted and ends.
 */
async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await delay(Math.max(0, ms), undefined, signal ? { signal } : undefined);
  } catch (error) {
    if (!signal?.aborted) throw error;
  }
}

/**
 * Polls `probe` until it returns a value other than `undefined`, `null` or `false`, and returns that value. A probe
 * that throws counts as "not yet" (the resource may not exist yet); once `timeoutMs` has passed, throws a
 * {@link WaitTimeoutError} naming `what` and the probe's last error or value.
 *
 * @example
 * const dead = await waitFor(async () => (await queueDepth('orders-dlq')) >= 1, { what: 'a message in orders-dlq', timeoutMs: 15_000 });
 */
async function waitFor<T>(probe: () => T | Promise<T>, options: WaitForOptions): Promise<Exclude<T, undefined | null | false>> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  let pause = options.intervalMs ?? 50;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== null && value !== false) return value as Exclude<T, undefined | null | false>;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new WaitTimeoutError(options.what, timeoutMs, last);
    await sleep(pause);
    if (options.maxIntervalMs !== undefined) pause = Math.min(pause * 2, options.maxIntervalMs);
  }
}

export { WaitTimeoutError, sleep, waitFor };
export type { WaitForOptions };
