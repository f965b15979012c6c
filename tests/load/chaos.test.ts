import { describe, expect, it } from 'vitest';
import type { TableItem } from '../../scripts/load/accounting.ts';
import { generateOrder, isPoisonArrival } from '../../scripts/load/arrivals.ts';
import { checkChaos, type ChaosOrder } from '../../scripts/load/chaos.ts';
import { acceptedBeforeDrain } from '../../scripts/load/run.ts';
import { loadScenario, parseScenario } from '../../scripts/load/scenario.ts';

const BILLING_DLQ = 'orderflow-local-billing-dlq';
const done = (orderId: string, extra: Partial<TableItem> = {}): TableItem => ({ orderId, status: 'COMPLETED', chargedAt: '2026-11-22T10:00:01Z', invoiceWrites: new Set(['s1']), labelWrites: new Set(['s2']), ...extra });
const placed = (orderId: string): TableItem => ({ orderId, status: 'PLACED' });
const orders: ChaosOrder[] = [
  { orderId: 'a', poison: false },
  { orderId: 'b', poison: false },
  { orderId: 'p', poison: true },
];

describe('Chaos scenario: poison orders, DLQ and exactly-once accounting', () => {
  it('passes before the redrive when the good orders completed once and the poison one is only in billing-dlq, uncharged', () => {
    // Act
    const check = checkChaos('before-redrive', orders, [done('a'), done('b', { labelWrites: undefined }), placed('p')], new Map([[BILLING_DLQ, new Set(['p'])]]));

    // Assess
    expect(check).toMatchObject({ orders: 3, poison: 1, completedOnce: 2, poisonInDlq: 1, notCompletedCount: 0, misplaced: [], duplicated: [], failures: [] });
  });

  it('fails before the redrive on a poison order charged or elsewhere, a good order in a DLQ, and a double invoice', () => {
    // Act
    const check = checkChaos(
      'before-redrive',
      orders,
      [done('a', { invoiceWrites: new Set(['s1', 's3']) }), done('b'), { ...placed('p'), chargedAt: '2026-11-22T10:00:01Z' }],
      new Map([
        [BILLING_DLQ, new Set(['p'])],
        ['orderflow-local-shipping-dlq', new Set(['p', 'b'])],
      ]),
    );

    // Assess
    expect(check.duplicated).toEqual([{ orderId: 'a', invoiceWrites: 2, labelWrites: 1 }]);
    expect(check.misplaced).toEqual(['b (still in orderflow-local-shipping-dlq)', 'p (poison: in billing-dlq, also in orderflow-local-shipping-dlq, charged)']);
    expect(check.failures).toHaveLength(3);
  });

  it('after the redrive, wants every order (poison included) COMPLETED with exactly one invoice and no DLQ left', () => {
    // Act
    const ok = checkChaos('after-redrive', orders, [done('a'), done('b'), done('p')], new Map());
    const bad = checkChaos('after-redrive', orders, [done('a'), done('b', { invoiceWrites: undefined }), placed('p')], new Map([[BILLING_DLQ, new Set(['p'])]]));

    // Assess
    expect(ok).toMatchObject({ completedOnce: 3, notCompletedCount: 0, failures: [] });
    expect(bad).toMatchObject({ completedOnce: 1, notCompletedCount: 1, invoiceNotOnce: ['b (invoiceWrites 0)'] });
    expect(bad.misplaced).toEqual(['p (poison, redriven, still in orderflow-local-billing-dlq)']);
    expect(bad.failures).toHaveLength(3);
  });

  it('fails when no poison order was accepted at all', () => {
    expect(checkChaos('before-redrive', orders.slice(0, 2), [done('a'), done('b')], new Map()).failures).toEqual([expect.stringMatching(/no poison order/)]);
  });

  it('makes exactly floor(N x share) poison arrivals, evenly spread, with poison- customer ids', () => {
    // Act
    const poison = Array.from({ length: 240 }, (_, seq) => seq).filter((seq) => isPoisonArrival(seq, 0.01));
    const mix = { physicalShare: 0.7, itemsPerOrder: { min: 1, max: 5 }, seed: 42, poisonShare: 0.01 };

    // Assess
    expect(poison).toEqual([99, 199]);
    expect(Array.from({ length: 1000 }, (_, seq) => seq).filter((seq) => isPoisonArrival(seq, 0.1))).toHaveLength(100);
    expect(isPoisonArrival(5, 0)).toBe(false);
    expect(generateOrder(mix, 99).body.customerId).toBe('poison-c-99');
    expect(generateOrder(mix, 98).body.customerId).toBe('load-c-98');
    // The rest of the order does not depend on the poison share (the same seed sends the same items).
    expect(generateOrder(mix, 99).body.items).toEqual(generateOrder({ ...mix, poisonShare: 0 }, 99).body.items);
  });

  it('ships chaos.yml with the fault mix, and validates faults with the path at fault', async () => {
    // Act
    const chaos = await loadScenario('chaos');

    // Assess
    expect(chaos.orders.poisonShare).toBe(0.01);
    expect(chaos.chaos?.faults).toMatchObject({ chargeOrder: { failureRate: 0.1, poison: true }, duplicateDelivery: true });
    const transient = [
      'shipOrder',
      'recordOrderEvent',
      'notifyCustomer',
      'streamOrderEvents', // slice-line:analytics
    ];
    for (const fn of transient) expect(chaos.chaos?.faults[fn]).toEqual({ failureRate: 0.1 });
    expect(chaos.chaos?.localQueues).toEqual({ visibilityTimeoutSeconds: 10, maxReceiveCount: 5 });
    expect(() => parseScenario({ phases: [{ type: 'steady', rate: 1, duration: 1 }], faults: { chargeOrder: { failureRate: 2 } } }, 'x.yml')).toThrow('x.yml: faults.chargeOrder.failureRate: must be a number from 0 to 1');
    expect(() => parseScenario({ phases: [{ type: 'steady', rate: 1, duration: 1 }], orders: { poisonShare: 0.1 } }, 'x.yml')).toThrow(/poisonShare: poison orders need a faults: block/);
  });

  it('leaves the poison orders out of the drain, as from the counts: they complete only after the redrive', async () => {
    // Prepare: three accepted orders, p poison
    const scenario = await loadScenario('chaos');
    const accepted = new Map(['a', 'b', 'p'].map((orderId) => [orderId, { orderId, sentEpochMs: 0, acceptedEpochMs: 1 }]));
    const state = { accepted, acceptedPhase: new Map([...accepted.keys()].map((id) => [id, 0])), poisonIds: new Set(['p']), phases: [] };

    // Act
    const waitedFor = acceptedBeforeDrain(scenario, state, [...accepted.values()]);

    // Assess
    expect([...waitedFor]).toEqual(['a', 'b']);
  });
});
