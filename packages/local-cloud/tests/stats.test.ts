import type { EventLoopUtilization } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { LocalStats } from '../src/edge/stats.ts';

/** An event loop reading that says `active` ms busy and `idle` ms idle so far. */
const reading = (active: number, idle: number): (() => EventLoopUtilization) => () => ({ active, idle, utilization: active / (active + idle) });

describe('Local cloud stats: event loops', () => {
  it("reports this thread's event loop as main, its busy time growing while code runs", () => {
    // Prepare
    const stats = new LocalStats();
    const before = stats.snapshot().eventLoops.main;

    // Act: keep this loop busy for 20 ms
    const until = Date.now() + 20;
    while (Date.now() < until);
    const after = stats.snapshot().eventLoops.main;

    // Assess
    expect(Object.keys(stats.snapshot().eventLoops)).toEqual(['main']);
    expect((after?.activeMs ?? 0) - (before?.activeMs ?? 0)).toBeGreaterThanOrEqual(19);
  });

  it('reports a watched loop until it is unwatched, and a stale unwatch leaves a newer watch alone', () => {
    // Prepare
    const stats = new LocalStats();

    // Act
    const unwatchFirst = stats.watchEventLoop('emulators', reading(300, 700));
    const first = stats.snapshot().eventLoops.emulators;
    stats.watchEventLoop('emulators', reading(400, 1600));
    unwatchFirst();
    const second = stats.snapshot().eventLoops.emulators;

    // Assess
    expect(first).toEqual({ activeMs: 300, idleMs: 700 });
    expect(second).toEqual({ activeMs: 400, idleMs: 1600 });
  });

  it('drops a loop once it is unwatched', () => {
    const stats = new LocalStats();
    const unwatch = stats.watchEventLoop('emulators', reading(1, 1));

    unwatch();

    expect(Object.keys(stats.snapshot().eventLoops)).toEqual(['main']);
  });
});
