/**
 * How many invocations run at once in the local cloud, and which go first.
 *
 * On AWS every concurrent invocation has an execution environment and CPU of its own, so 1,000 concurrent
 * `placeOrder`s each take as long as one. Here every function, poller, emulator and the edge share one event loop:
 * 1,000 invocations started together each take ~1,000 times as long, and all of them run past their timeouts at
 * once (a spike then answers HTTP 500 for orders it did place). So invocations wait for a slot before they start
 * (their timeout clock starts with the slot), and the number of slots follows the event loop's delay, the way a
 * congestion window follows packet loss: fewer when the loop lags, more when it keeps up while invocations wait.
 *
 * Priority: an `interactive` invocation (the HTTP API, a direct invoke: somebody is waiting for the answer) gets
 * a free slot before a `background` one (an event source mapping's batch), and pollers do not take new messages
 * while interactive invocations wait (`whenNotBusy`), so under saturation a spike turns into queue depth, not
 * into errors at the front door. A background invocation that has waited `promoteAfterMs` goes first anyway, so a
 * batch already received never waits towards its visibility timeout for long.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

type Priority = 'interactive' | 'background';

interface ExecutionSlotsOptions {
  /** Slots at start (default 32). */
  initial?: number;
  /** Never fewer (default 4), never more (default 1,000, Lambda's default account concurrency). */
  min?: number;
  max?: number;
  /** The event loop delay (p99 over one interval) above which slots shrink (default 50 ms). */
  targetLagMs?: number;
  /** How often the slots are adjusted (default 250 ms). */
  intervalMs?: number;
  /** A background invocation waiting this long goes before interactive ones (default 2 s). */
  promoteAfterMs?: number;
}

interface Waiter {
  since: number;
  admit: () => void;
}

interface ExecutionSlotsSnapshot {
  limit: number;
  running: number;
  waiting: Record<Priority, number>;
  /** The event loop delay p99 of the last interval, in ms. */
  lagMs: number;
}

class ExecutionSlots {
  private limit: number;
  private running = 0;
  private lagMs = 0;
  private readonly min: number;
  private readonly max: number;
  private readonly targetLagMs: number;
  private readonly promoteAfterMs: number;
  private readonly waiting: Record<Priority, Waiter[]> = { interactive: [], background: [] };
  private readonly notBusy: Array<() => void> = [];
  private readonly delay: ReturnType<typeof monitorEventLoopDelay>;
  private readonly timer: NodeJS.Timeout;
  private readonly intervalMs: number;
  private lastAdjust = Date.now();

  constructor(options: ExecutionSlotsOptions = {}) {
    this.min = options.min ?? 4;
    this.max = options.max ?? 1000;
    this.limit = Math.min(this.max, Math.max(this.min, options.initial ?? 32));
    this.targetLagMs = options.targetLagMs ?? 50;
    this.promoteAfterMs = options.promoteAfterMs ?? 2000;
    this.delay = monitorEventLoopDelay({ resolution: 10 });
    this.delay.enable();
    this.intervalMs = options.intervalMs ?? 250;
    this.timer = setInterval(() => this.adjust(), this.intervalMs);
    this.timer.unref();
  }

  /** True while an interactive invocation waits for a slot: pollers hold back. */
  get busy(): boolean {
    return this.waiting.interactive.length > 0;
  }

  snapshot(): ExecutionSlotsSnapshot {
    return {
      limit: this.limit,
      running: this.running,
      waiting: { interactive: this.waiting.interactive.length, background: this.waiting.background.length },
      lagMs: this.lagMs,
    };
  }

  /**
   * Waits for a slot; the returned function gives it back (once). An aborted wait rejects with the signal's reason.
   *
   * @example
   * const release = await slots.acquire('interactive');
   * try { await run(); } finally { release(); }
   */
  acquire(priority: Priority, signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    if (this.running < this.limit && this.waiting.interactive.length === 0 && (priority === 'interactive' || this.waiting.background.length === 0)) {
      this.running += 1;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve, reject) => {
      const queue = this.waiting[priority];
      const waiter: Waiter = {
        since: Date.now(),
        admit: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(this.releaser());
        },
      };
      const onAbort = (): void => {
        const index = queue.indexOf(waiter);
        if (index >= 0) queue.splice(index, 1);
        this.wakeIfNotBusy();
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      queue.push(waiter);
    });
  }

  /** Resolves once no interactive invocation waits (at once if none does). */
  whenNotBusy(signal?: AbortSignal): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = (): void => reject(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.notBusy.push(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }

  /** Stops measuring; waiting invocations still get their slots as running ones end. */
  close(): void {
    clearInterval(this.timer);
    this.delay.disable();
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running -= 1;
      this.admit();
    };
  }

  /** The next waiter: a background one that waited too long, else interactive first. */
  private next(): Waiter | undefined {
    const background = this.waiting.background[0];
    if (background !== undefined && Date.now() - background.since >= this.promoteAfterMs) return this.waiting.background.shift();
    return this.waiting.interactive.shift() ?? this.waiting.background.shift();
  }

  private admit(): void {
    while (this.running < this.limit) {
      const waiter = this.next();
      if (waiter === undefined) break;
      this.running += 1;
      waiter.admit();
    }
    this.wakeIfNotBusy();
  }

  private wakeIfNotBusy(): void {
    if (this.busy) return;
    for (const wake of this.notBusy.splice(0)) wake();
  }

  /** Multiplicative decrease when the loop lags, additive increase when invocations wait and it keeps up. */
  private adjust(): void {
    // The delay histogram's p99, or this timer's own lateness, whichever is larger: a loop blocked since the last
    // adjustment shows in both, but the histogram may not have recorded it yet when this timer runs first.
    const now = Date.now();
    const late = now - this.lastAdjust - this.intervalMs;
    this.lastAdjust = now;
    this.lagMs = Math.max(late, this.delay.count > 0 ? this.delay.percentile(99) / 1e6 : 0);
    this.delay.reset();
    const waiting = this.waiting.interactive.length + this.waiting.background.length;
    if (this.lagMs > this.targetLagMs) this.limit = Math.max(this.min, Math.floor(this.limit * 0.75));
    else if (waiting > 0 && this.running >= this.limit) this.limit = Math.min(this.max, this.limit + Math.max(1, Math.floor(this.limit / 8)));
    this.admit();
  }
}

export { ExecutionSlots };
export type { ExecutionSlotsOptions, Priority };
