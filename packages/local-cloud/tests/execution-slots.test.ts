import { afterEach, describe, expect, it } from 'vitest';
import { ExecutionSlots, type ExecutionSlotsOptions } from '../src/runtime/execution-slots.ts';
import { waitFor } from '../src/util/wait.ts';

describe('execution slots', () => {
  const opened: ExecutionSlots[] = [];
  const slotsOf = (options: ExecutionSlotsOptions): ExecutionSlots => {
    const slots = new ExecutionSlots({ intervalMs: 60_000, ...options });
    opened.push(slots);
    return slots;
  };
  /** Resolves to the order in which the given waits were admitted. */
  const admissions = (waits: Array<[string, Promise<() => void>]>): string[] => {
    const order: string[] = [];
    for (const [name, wait] of waits) void wait.then(() => order.push(name));
    return order;
  };

  afterEach(() => opened.splice(0).forEach((slots) => slots.close()));

  it('runs up to the limit at once and admits the next waiter as one ends', async () => {
    // Prepare
    const slots = slotsOf({ initial: 2, min: 1 });
    const first = await slots.acquire('interactive');
    await slots.acquire('interactive');
    const order = admissions([['third', slots.acquire('interactive')]]);
    await Promise.resolve();
    expect(slots.snapshot()).toMatchObject({ running: 2, waiting: { interactive: 1, background: 0 } });
    // Act
    first();
    first(); // a second release of the same slot changes nothing
    // Assess
    await waitFor(() => order.length === 1, { what: 'one admission' });
    expect(slots.snapshot()).toMatchObject({ running: 2, waiting: { interactive: 0, background: 0 } });
  });

  it('admits interactive invocations before background ones that waited less than promoteAfterMs', async () => {
    // Prepare
    const slots = slotsOf({ initial: 1, min: 1, promoteAfterMs: 60_000 });
    const running = await slots.acquire('background');
    const order = admissions([
      ['batch', slots.acquire('background')],
      ['request', slots.acquire('interactive')],
    ]);
    // Act
    running();
    await waitFor(() => order.length === 1, { what: 'one admission' });
    // Assess
    expect(order).toEqual(['request']);
  });

  it('admits a background invocation first once it has waited promoteAfterMs', async () => {
    // Prepare
    const slots = slotsOf({ initial: 1, min: 1, promoteAfterMs: 0 });
    const running = await slots.acquire('interactive');
    const order = admissions([
      ['batch', slots.acquire('background')],
      ['request', slots.acquire('interactive')],
    ]);
    // Act
    running();
    await waitFor(() => order.length === 1, { what: 'one admission' });
    // Assess
    expect(order).toEqual(['batch']);
  });

  it('holds pollers back while an interactive invocation waits', async () => {
    // Prepare
    const slots = slotsOf({ initial: 1, min: 1 });
    await expect(slots.whenNotBusy()).resolves.toBeUndefined();
    const running = await slots.acquire('background');
    const request = slots.acquire('interactive');
    let pollerWoken = false;
    void slots.whenNotBusy().then(() => (pollerWoken = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(pollerWoken).toBe(false);
    // Act
    running();
    await request;
    // Assess
    await waitFor(() => pollerWoken, { what: 'the poller to wake' });
    expect(slots.busy).toBe(false);
  });

  it('drops an aborted wait from the queue and rejects it with the reason', async () => {
    // Prepare
    const slots = slotsOf({ initial: 1, min: 1 });
    await slots.acquire('interactive');
    const abort = new AbortController();
    const waiting = slots.acquire('interactive', abort.signal);
    // Act
    abort.abort(new Error('integration timed out'));
    // Assess
    await expect(waiting).rejects.toThrow('integration timed out');
    expect(slots.snapshot().waiting.interactive).toBe(0);
    expect(slots.busy).toBe(false);
  });

  it('shrinks the slots while the event loop lags', async () => {
    // Prepare
    const slots = slotsOf({ initial: 16, min: 2, targetLagMs: 20, intervalMs: 50 });
    // Act: block the loop for 120 ms until an adjustment has seen it
    const shrunk = await waitFor(
      async () => {
        const until = Date.now() + 120;
        while (Date.now() < until);
        const { limit } = slots.snapshot();
        return limit < 16 ? limit : undefined;
      },
      { what: 'the slots to shrink' },
    );
    // Assess
    expect(shrunk).toBeGreaterThanOrEqual(2);
    expect(slots.snapshot().lagMs).toBeGreaterThan(20);
  });

  it('grows the slots while invocations wait and the event loop keeps up', async () => {
    // Prepare: a lag target no test machine misses, so only the waiting counts
    const slots = slotsOf({ initial: 2, min: 2, targetLagMs: 10_000, intervalMs: 20 });
    const holders = await Promise.all([slots.acquire('background'), slots.acquire('background')]);
    // Act
    const waiting = Array.from({ length: 4 }, () => slots.acquire('background'));
    // Assess
    const admitted = await Promise.all(waiting);
    expect(slots.snapshot()).toMatchObject({ running: 6, waiting: { interactive: 0, background: 0 } });
    expect(slots.snapshot().limit).toBeGreaterThanOrEqual(6);
    [...holders, ...admitted].forEach((release) => release());
    expect(slots.snapshot().running).toBe(0);
  });
});
