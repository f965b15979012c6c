import { describe, expect, it } from 'vitest';
import { account, completionTime, estimateClockOffsetMs, type AcceptedOrder, type TableItem } from '../../scripts/load/accounting.ts';

const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const iso = (ms: number): string => new Date(T0 + ms).toISOString();
const accepted = (orderId: string, atMs = 0): AcceptedOrder => ({ orderId, sentEpochMs: T0 + atMs - 20, acceptedEpochMs: T0 + atMs });
const done = (orderId: string, completedMs: number, extra: Partial<TableItem> = {}): TableItem => ({
  orderId,
  status: 'COMPLETED',
  fulfillment: 'physical',
  placedAt: iso(-10),
  completedAt: iso(completedMs),
  invoiceWrites: 1,
  labelWrites: 1,
  ...extra,
});

describe('Load accounting: lost and duplicated orders from the Orders table', () => {
  it('counts completed orders and their order-to-COMPLETED latency', () => {
    // Act
    const result = account([accepted('a'), accepted('b', 100)], [done('a', 1500), done('b', 2100)], { deadlineEpochMs: T0 + 60_000, clockOffsetMs: 0 });

    // Assess
    expect(result).toMatchObject({ accepted: 2, completed: 2, lost: 0, missing: 0, duplicated: 0, completionTimeSource: 'completedAt' });
    expect(result.completionLatenciesMs).toEqual([1500, 2000]);
  });

  it('counts as lost an order the table never saw, one stuck before COMPLETED and one completed after the deadline', () => {
    const result = account(
      [accepted('missing'), accepted('stuck'), accepted('late'), accepted('ok')],
      [{ orderId: 'stuck', status: 'CHARGED', fulfillment: 'physical' }, done('late', 70_000), done('ok', 1000), done('not-ours', 5)],
      { deadlineEpochMs: T0 + 60_000, clockOffsetMs: 0 },
    );

    expect(result).toMatchObject({ accepted: 4, completed: 1, lost: 3, missing: 1, completedLate: 1 });
    expect(result.lostIds.sort()).toEqual(['late', 'missing', 'stuck']);
  });

  it('flags orders whose invoice or label was written more than once', () => {
    const result = account(
      [accepted('a'), accepted('b'), accepted('c'), accepted('d')],
      [done('a', 1), done('b', 1, { invoiceWrites: 2 }), done('c', 1, { labelWrites: 3 }), done('d', 1, { fulfillment: 'digital', labelWrites: undefined })],
      { deadlineEpochMs: T0 + 60_000, clockOffsetMs: 0 },
    );

    expect(result.duplicated).toBe(2);
    expect(result.duplicates).toEqual([
      { orderId: 'b', invoiceWrites: 2, labelWrites: 1 },
      { orderId: 'c', invoiceWrites: 1, labelWrites: 3 },
    ]);
  });

  it('reads the write counters as the table stores them: string sets of S3 event sequencers', () => {
    const result = account(
      [accepted('a'), accepted('b')],
      [done('a', 1, { invoiceWrites: new Set(['seq-1']), labelWrites: new Set(['seq-2']) }), done('b', 1, { invoiceWrites: new Set(['seq-3', 'seq-4']), labelWrites: ['seq-5'] })],
      { deadlineEpochMs: T0 + 60_000, clockOffsetMs: 0 },
    );

    expect(result.duplicated).toBe(1);
    expect(result.duplicates).toEqual([{ orderId: 'b', invoiceWrites: 2, labelWrites: 1 }]);
  });

  it('says duplication was not measured when no item carries the write counters', () => {
    const result = account([accepted('a')], [done('a', 1, { invoiceWrites: undefined, labelWrites: undefined })], { deadlineEpochMs: T0 + 60_000, clockOffsetMs: 0 });

    expect(result.duplicated).toBeUndefined();
    expect(result.itemsWithWriteCounters).toBe(0);
  });

  it('falls back to the later of chargedAt and shippedAt without completedAt', () => {
    expect(completionTime({ orderId: 'p', fulfillment: 'physical', chargedAt: iso(300), shippedAt: iso(200) })).toEqual({ ms: T0 + 300, source: 'steps' });
    expect(completionTime({ orderId: 'd', fulfillment: 'digital', chargedAt: iso(300) })).toEqual({ ms: T0 + 300, source: 'steps' });
    expect(completionTime({ orderId: 'p', fulfillment: 'physical', chargedAt: iso(300) }).ms).toBeUndefined();
  });

  it('estimates the clock offset from placedAt against the request midpoint, and takes it out of the latency', () => {
    // The items' clock runs 2 s ahead of this machine's.
    const orders = [accepted('a', 0), accepted('b', 1000), accepted('c', 2000)];
    const items = new Map(orders.map((o) => [o.orderId, done(o.orderId, o.acceptedEpochMs - T0 + 2000 + 500, { placedAt: new Date((o.sentEpochMs + o.acceptedEpochMs) / 2 + 2000).toISOString() })]));

    const offset = estimateClockOffsetMs(orders, items) as number;
    const result = account(orders, items.values(), { deadlineEpochMs: T0 + 60_000, clockOffsetMs: offset });

    expect(offset).toBeCloseTo(2000, 0);
    expect(result.completionLatenciesMs).toEqual([500, 500, 500]);
  });
});
