import '../../helpers/env.ts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { completedAt, deriveStatus, timeline, type OrderStatus, type OrderSteps } from '#lib/domain/status.ts';
import { isoDate } from '../../helpers/arbitraries.ts';

const RANK: Record<OrderStatus, number> = { PLACED: 0, CHARGED: 1, SHIPPED: 1, COMPLETED: 2 };
type Step = 'placedAt' | 'chargedAt' | 'shippedAt';

/** The steps an order goes through, in any arrival order (charging and shipping run in parallel), with their times. */
const arrivals = fc.record({
  fulfillment: fc.constantFrom('physical' as const, 'digital' as const),
  order: fc.shuffledSubarray<Step>(['placedAt', 'chargedAt', 'shippedAt'], { minLength: 0, maxLength: 3 }),
  times: fc.tuple(isoDate, isoDate, isoDate),
});

describe('Lib: domain/status', () => {
  describe('deriveStatus', () => {
    it('never moves back, whatever order the steps arrive in (and duplicates change nothing)', () => {
      fc.assert(
        fc.property(arrivals, fc.array(fc.nat(2), { maxLength: 4 }), ({ fulfillment, order, times }, duplicates) => {
          // Prepare
          const steps: OrderSteps = { fulfillment };
          let previous = deriveStatus(steps);
          // a duplicate delivery re-applies a step already seen: first write wins, as in the Orders table
          const deliveries = [...order, ...duplicates.map((index) => order[index]).filter((step): step is Step => step !== undefined)];

          // Act + Assess
          for (const [index, step] of deliveries.entries()) {
            steps[step] ??= times[index % 3];
            const status = deriveStatus(steps);
            expect(RANK[status]).toBeGreaterThanOrEqual(RANK[previous]);
            previous = status;
          }
        }),
      );
    });

    it('is COMPLETED once every step the order needs has landed: physical charged and shipped, digital charged', () => {
      fc.assert(
        fc.property(arrivals, ({ fulfillment, order }) => {
          // Prepare
          const steps: OrderSteps = { fulfillment };
          for (const step of order) steps[step] = '2026-11-22T10:15:30.000Z';

          // Act
          const status = deriveStatus(steps);

          // Assess
          const done = fulfillment === 'digital' ? order.includes('chargedAt') : order.includes('chargedAt') && order.includes('shippedAt');
          expect(status === 'COMPLETED').toBe(done);
        }),
      );
    });

    it('answers each step as it lands, not the latest event', () => {
      const t = '2026-11-22T10:15:30.000Z';
      expect(deriveStatus({ fulfillment: 'physical', placedAt: t })).toBe('PLACED');
      expect(deriveStatus({ fulfillment: 'physical', placedAt: t, chargedAt: t })).toBe('CHARGED');
      expect(deriveStatus({ fulfillment: 'physical', placedAt: t, shippedAt: t })).toBe('SHIPPED');
      expect(deriveStatus({ fulfillment: 'physical', shippedAt: t, chargedAt: t })).toBe('COMPLETED');
      expect(deriveStatus({ fulfillment: 'digital', placedAt: t })).toBe('PLACED');
      expect(deriveStatus({ fulfillment: 'digital', chargedAt: t })).toBe('COMPLETED');
    });
  });

  describe('timeline', () => {
    it('holds one entry per step that happened, oldest first', () => {
      fc.assert(
        fc.property(arrivals, ({ fulfillment, order, times }) => {
          // Prepare
          const steps: OrderSteps = { fulfillment };
          order.forEach((step, index) => {
            steps[step] = times[index];
          });

          // Act
          const entries = timeline(steps);

          // Assess
          const completed = deriveStatus(steps) === 'COMPLETED';
          const stepEntries = completed ? entries.slice(0, -1) : entries;
          expect(stepEntries).toHaveLength(order.length);
          expect(stepEntries.map((entry) => entry.at)).toEqual([...stepEntries.map((entry) => entry.at)].sort());
          const statusOf: Record<Step, string> = { placedAt: 'PLACED', chargedAt: 'CHARGED', shippedAt: 'SHIPPED' };
          expect(new Set(stepEntries.map((entry) => entry.status))).toEqual(new Set(order.map((step) => statusOf[step])));
          // Ends with COMPLETED exactly when the order is complete, at the time of the last step it needed.
          expect(entries.filter((entry) => entry.status === 'COMPLETED')).toHaveLength(completed ? 1 : 0);
          if (completed) {
            const needed = fulfillment === 'digital' ? [steps.chargedAt] : [steps.chargedAt, steps.shippedAt];
            expect(entries.at(-1)).toEqual({ status: 'COMPLETED', at: needed.map(String).sort().at(-1) });
          }
        }),
      );
    });

    it('ends a physical order with COMPLETED at the later of charged and shipped, whichever landed last', () => {
      // Prepare
      const steps: OrderSteps = { fulfillment: 'physical', placedAt: '2026-11-22T10:00:00.000Z', chargedAt: '2026-11-22T10:00:02.000Z', shippedAt: '2026-11-22T10:00:01.000Z' };

      // Act
      const entries = timeline(steps);

      // Assess
      expect(entries).toEqual([
        { status: 'PLACED', at: '2026-11-22T10:00:00.000Z' },
        { status: 'SHIPPED', at: '2026-11-22T10:00:01.000Z' },
        { status: 'CHARGED', at: '2026-11-22T10:00:02.000Z' },
        { status: 'COMPLETED', at: '2026-11-22T10:00:02.000Z' },
      ]);
    });

    it('ends a digital order with COMPLETED at its charge, and has no COMPLETED entry before the order is complete', () => {
      const t0 = '2026-11-22T10:00:00.000Z';
      const t1 = '2026-11-22T10:00:01.000Z';
      expect(timeline({ fulfillment: 'digital', placedAt: t0, chargedAt: t1 })).toEqual([
        { status: 'PLACED', at: t0 },
        { status: 'CHARGED', at: t1 },
        { status: 'COMPLETED', at: t1 },
      ]);
      expect(timeline({ fulfillment: 'physical', placedAt: t0, chargedAt: t1 }).map((entry) => entry.status)).toEqual(['PLACED', 'CHARGED']);
      expect(completedAt({ fulfillment: 'physical', placedAt: t0, shippedAt: t1 })).toBeUndefined();
    });
  });
});
