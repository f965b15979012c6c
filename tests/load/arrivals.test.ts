import { describe, expect, it } from 'vitest';
import { orderIssues } from '#lib/domain/order.ts';
import { arrivalOffset, expectedArrivals, fixedSchedule, generateOrder, schedule, type PhaseWindow } from '../../scripts/load/arrivals.ts';
import type { Phase } from '../../scripts/load/scenario.ts';

const steady = (rate: number, seconds: number): Phase => ({ type: 'steady', from: rate, to: rate, durationMs: seconds * 1000, untilDrained: false });

describe('Load arrivals: the schedule and the orders', () => {
  it('spaces a steady phase evenly and chains phases', () => {
    // Act
    const arrivals = fixedSchedule([steady(10, 1), { ...steady(1000, 0.01), type: 'spike' }, steady(2, 1)]);

    // Assess
    expect(arrivals).toHaveLength(10 + 10 + 2);
    expect(arrivals.slice(0, 3).map((a) => a.at)).toEqual([0, 100, 200]);
    expect(arrivals[10]).toEqual({ seq: 10, at: 1000, phase: 1 });
    expect(arrivals[11]?.at).toBeCloseTo(1001, 6);
    expect(arrivals.slice(20).map((a) => a.at)).toEqual([1010, 1510]);
    expect(arrivals.map((a) => a.seq)).toEqual(arrivals.map((_, i) => i));
  });

  it('ramps the rate linearly: N(t) = from·t + (to − from)·t²/(2·duration)', () => {
    const ramp: Phase = { type: 'ramp', from: 0, to: 100, durationMs: 10_000, untilDrained: false };

    const arrivals = fixedSchedule([ramp]);

    expect(expectedArrivals(ramp)).toBe(500);
    expect(arrivals).toHaveLength(500);
    // Half the arrivals of a 0 → 100 ramp come in its last 30 % (N(t) = 5·t²).
    expect(arrivals.filter((a) => a.at < 5000)).toHaveLength(125);
    expect(arrivalOffset(ramp, 125)).toBeCloseTo(5000, 6);
    expect(arrivals.every((a, i) => i === 0 || a.at > (arrivals[i - 1]?.at ?? 0))).toBe(true);
    expect(Math.max(...arrivals.map((a) => a.at))).toBeLessThan(10_000);
  });

  it('ends an until-drained phase when told, at the control time, and starts the next phase there', () => {
    const windows: PhaseWindow[] = [];
    let now = 0;
    const phases: Phase[] = [steady(10, 1), { ...steady(10, 60), untilDrained: true }, steady(1, 2)];

    const drained = (phase: number): boolean => {
      if (phase !== 1) return false;
      now = 2500; // the runner saw the backlog drain at 2.5 s
      return true;
    };

    const arrivals = [...schedule(phases, { now: () => now, drained, onPhaseEnd: (w) => windows.push(w) })];

    expect(windows.map((w) => [w.phase, w.startMs, w.endMs, w.arrivals, w.endedByDrain])).toEqual([
      [0, 0, 1000, 10, false],
      [1, 1000, 2500, 0, true],
      [2, 2500, 4500, 2, false],
    ]);
    expect(arrivals.slice(10).map((a) => a.at)).toEqual([2500, 3500]);
  });

  it('bounds an until-drained phase by its maxDuration when the backlog never drains', () => {
    const windows: PhaseWindow[] = [];

    const arrivals = [...schedule([{ ...steady(5, 3), untilDrained: true }], { now: () => 0, drained: () => false, onPhaseEnd: (w) => windows.push(w) })];

    expect(arrivals).toHaveLength(15);
    expect(windows[0]).toMatchObject({ endMs: 3000, endedByDrain: false });
  });

  it('generates valid, reproducible orders with the scenario mix', () => {
    const mix = { physicalShare: 0.7, itemsPerOrder: { min: 1, max: 5 }, seed: 42 };

    const orders = Array.from({ length: 2000 }, (_, seq) => generateOrder(mix, seq));

    expect(orders.every((order) => orderIssues(order.body).length === 0)).toBe(true);
    expect(generateOrder(mix, 17)).toEqual(generateOrder(mix, 17));
    const physical = orders.filter((order) => order.fulfillment === 'physical').length / orders.length;
    expect(physical).toBeGreaterThan(0.65);
    expect(physical).toBeLessThan(0.75);
    const counts = new Set(orders.map((order) => (order.body.items as unknown[]).length));
    expect([...counts].sort()).toEqual([1, 2, 3, 4, 5]);
  });
});
