/**
 * Idempotency of POST /orders under hostile retries, through the local cloud's HTTP API on the REAL compiled template.
 *
 * The rules (README, "The order API"): the same `Idempotency-Key` with the same body answers the first request's
 * `orderId` and publishes nothing more (one order, one OrderPlaced, so one invoice written); the same key with another
 * body is a 422 that changes nothing; requests racing on one key create one order (the losers get 409 while the
 * winner is in progress); a key that is not 1-128 visible ASCII characters is a 400 naming `Idempotency-Key`.
 * "The same body" is the same order: Powertools hashes the parsed order with its keys sorted, so key order and
 * whitespace do not make a retry different.
 *
 * Seeded: `FC_SEED=<n>` replays a run (default in helpers/api.ts).
 */
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from 'local-cloud';
import {
  FC_SEED,
  badHeaderValue,
  customerIdArb,
  expectProblem,
  itemArb,
  startApiCloud,
  validOrderArb,
  type ApiCloud,
  type HttpAnswer,
  type Order,
  type SideEffects,
} from './helpers/api.ts';

const RUNS = { differentBody: 60, badKeys: 200, rounds: 3 } as const;
const CONCURRENT = 20;

interface PlacedEvent {
  type: string;
  orderId: string;
  order?: { customerId?: string };
}

const ADDRESS = { name: 'Ada', line1: '1 Main St', city: 'Leeds', postalCode: 'LS1 1AA', country: 'GB' };

/** A physical order of a customer no other test uses, so table scans can count its orders. */
const physicalOrder = (customerId: string): Order => ({
  customerId,
  items: [
    { sku: 'BOOK-1', quantity: 2, unitPriceCents: 1299 },
    { sku: 'PEN-7', quantity: 1, unitPriceCents: 250 },
  ],
  fulfillment: 'physical',
  shippingAddress: { ...ADDRESS },
});

/** The same value with every object's keys in reverse order: another serialisation of the same order. */
const reversedKeys = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(reversedKeys);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).reverse().map(([key, inner]) => [key, reversedKeys(inner)]));
};

/** Key order does not make two orders different (what Powertools' payload hash sees: deep-sorted JSON). */
const canonical = (value: unknown): string => JSON.stringify(value, (_key, inner: unknown) =>
  typeof inner === 'object' && inner !== null && !Array.isArray(inner) ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => a.localeCompare(b))) : inner,
);

describe('Order API: idempotency under hostile retries (local cloud, compiled template)', () => {
  let t: ApiCloud;
  let baseline: SideEffects;
  let keySequence = 0;
  const counts: Record<string, number> = {};
  const count = (name: string): void => {
    counts[name] = (counts[name] ?? 0) + 1;
  };
  /** A key no other request of this run uses. */
  const freshKey = (label: string): string => `${label}-${FC_SEED}-${process.pid}-${(keySequence += 1)}`;
  const freshCustomer = (label: string): string => `${label}-${process.pid}-${(keySequence += 1)}`;

  /** Idempotency records of POST /orders keys (chargeOrder keeps its own records, one per order, in the same table). */
  const keyRecords = async (): Promise<number> => (await t.scanIdempotencyRecords()).filter((record) => /placeOrder/.test(String(record.id))).length;
  const ordersOf = async (customerId: string): Promise<Record<string, unknown>[]> => (await t.scanOrders()).filter((item) => item.customerId === customerId);
  const publishedEvents = async (): Promise<PlacedEvent[]> => (await t.drainPublished()).map((message) => JSON.parse(message.Body ?? '{}') as PlacedEvent);
  const accepted = (answer: HttpAnswer, what: string): string => {
    expect(answer.status, `${what} → ${answer.status} ${answer.text}`).toBe(202);
    const { orderId } = answer.json as { orderId: string };
    expect(answer.headers.location, what).toBe(`/orders/${orderId}`);
    return orderId;
  };

  beforeAll(async () => {
    console.log(`api-idempotency: fast-check seed ${FC_SEED} (set FC_SEED to replay another)`);
    t = await startApiCloud('api-idempotency');
  });

  beforeEach(async () => {
    // Start every test idle and with an empty tap: what the tap holds afterwards was published by this test.
    await t.waitIdle();
    await t.drainPublished();
    baseline = await t.sideEffects();
  });

  afterEach((context) => {
    if (context.task.result?.state === 'fail') console.log(`last local cloud log lines:\n${t?.tail(40)}`);
  });

  afterAll(async () => {
    console.log(`api-idempotency: generated cases with seed ${FC_SEED}: ${Object.entries(counts).map(([k, n]) => `${k} ${n}`).join(', ')}`);
    await t?.dispose();
  });

  it('the same key and body, retried (keys reordered, reformatted, another correlation id and charset), answers the same orderId; one order, one OrderPlaced, one invoice and one label written', async () => {
    const key = freshKey('retry');
    const customerId = freshCustomer('c-retry');
    const keyRecordsBefore = await keyRecords();
    const order = physicalOrder(customerId);
    const orderId = accepted(await t.http.postOrder(order, { 'idempotency-key': key }), 'first request');

    const retries: [string, string, Record<string, string>][] = [
      ['identical', JSON.stringify(order), {}],
      ['keys in reverse order', JSON.stringify(reversedKeys(order)), {}],
      ['reformatted', JSON.stringify(order, null, 2), {}],
      ['another X-Correlation-Id', JSON.stringify(order), { 'x-correlation-id': 'a-retry-from-another-client' }],
      ['charset parameter', JSON.stringify(order), { 'content-type': 'application/json; charset=utf-8' }],
    ];
    for (const [label, body, headers] of retries) {
      expect(accepted(await t.http.postOrder(body, { 'idempotency-key': key, ...headers }), label), label).toBe(orderId);
    }

    // The order runs to COMPLETED once; a retry after that still answers the first orderId.
    await waitFor(async () => {
      const item = await t.orderItem(orderId);
      return item?.status === 'COMPLETED' && item.invoiceWrites instanceof Set && item.labelWrites instanceof Set;
    }, { what: `order ${orderId} COMPLETED with its invoice and label recorded`, timeoutMs: 30_000, intervalMs: 100 });
    expect(accepted(await t.http.postOrder(order, { 'idempotency-key': key }), 'retry after completion')).toBe(orderId);

    const after = await t.settledSideEffects();
    expect(await keyRecords()).toBe(keyRecordsBefore + 1);
    const orders = await ordersOf(customerId);
    expect(orders.map((item) => item.orderId)).toEqual([orderId]);
    const item = orders[0] as { invoiceWrites: Set<string>; labelWrites: Set<string> };
    expect(item.invoiceWrites.size, `invoice writes (S3 sequencers): ${[...item.invoiceWrites].join(', ')}`).toBe(1);
    expect(item.labelWrites.size, `label writes (S3 sequencers): ${[...item.labelWrites].join(', ')}`).toBe(1);
    const events = (await publishedEvents()).filter((event) => event.orderId === orderId);
    expect(events.filter((event) => event.type === 'OrderPlaced')).toHaveLength(1);
    expect(events.filter((event) => event.type === 'OrderCharged')).toHaveLength(1);
    expect(events.filter((event) => event.type === 'OrderShipped')).toHaveLength(1);
    expect(after.orders - baseline.orders).toBe(1);
    const view = await t.http.send({ path: `/orders/${orderId}` });
    expect(view.json).toMatchObject({ orderId, status: 'COMPLETED' });
  }, 60_000);

  it(`the same key with a different body answers 422 naming Idempotency-Key and changes nothing (${RUNS.differentBody} cases)`, async () => {
    // Prepare: a few keys, each used once with its order, run to idle.
    const firsts: { key: string; order: Order; orderId: string }[] = [];
    for (let i = 0; i < 3; i += 1) {
      const key = freshKey('taken');
      const order = physicalOrder(freshCustomer('c-taken'));
      firsts.push({ key, order, orderId: accepted(await t.http.postOrder(order, { 'idempotency-key': key }), `first use of ${key}`) });
    }
    await t.waitIdle();
    await t.drainPublished();
    const before = await t.sideEffects();

    // Another order: a valid change to the first one (quantity, price, customer, an item more or less, the other
    // fulfillment, an address line), or any other valid order.
    const otherBody = fc.tuple(fc.constantFrom(...firsts), fc.nat()).chain(([first, pick]) => {
      const order = first.order;
      const variants: fc.Arbitrary<Order>[] = [
        fc.integer({ min: 1, max: 1_000 }).map((quantity) => ({ ...order, items: [{ ...order.items[0], quantity }, ...order.items.slice(1)] })),
        fc.integer({ min: 0, max: 10_000_000 }).map((unitPriceCents) => ({ ...order, items: [{ ...order.items[0], unitPriceCents }, ...order.items.slice(1)] })),
        customerIdArb.map((customerId) => ({ ...order, customerId })),
        itemArb.map((item) => ({ ...order, items: [...order.items, item] })),
        fc.constant({ ...order, items: order.items.slice(0, 1) }),
        fc.constant({ customerId: order.customerId, items: order.items, fulfillment: 'digital' as const }),
        fc.constantFrom('Flat 2', 'c/o Bob').map((line2) => ({ ...order, shippingAddress: { ...order.shippingAddress, line2 } })),
        validOrderArb,
      ];
      return fc.record({ first: fc.constant(first), body: variants[pick % variants.length] as fc.Arbitrary<Order> });
    });
    await fc.assert(
      fc.asyncProperty(
        otherBody.filter(({ first, body }) => canonical(body) !== canonical(first.order)),
        async ({ first, body }) => {
          count('differentBody');
          const answer = await t.http.postOrder(body, { 'idempotency-key': first.key });
          expectProblem(answer, { status: 422, fields: ['Idempotency-Key'] }, `key ${first.key}, body ${JSON.stringify(body).slice(0, 200)}`);
        },
      ),
      { seed: FC_SEED, numRuns: RUNS.differentBody },
    );

    // Nothing changed, and each key still answers its first order.
    expect(await t.settledSideEffects()).toEqual(before);
    for (const first of firsts) {
      expect(accepted(await t.http.postOrder(first.order, { 'idempotency-key': first.key }), `retry of ${first.key}`)).toBe(first.orderId);
    }
    expect(await publishedEvents()).toEqual([]);
  }, 120_000);

  it('a rejected request does not reserve its key: 400 first, then the key serves the first valid order, then 422 for another', async () => {
    const key = freshKey('rejected-first');
    const order = physicalOrder(freshCustomer('c-rejected'));
    expectProblem(await t.http.postOrder({ ...order, customerId: '' }, { 'idempotency-key': key }), { status: 400, fields: ['customerId'] }, 'invalid body with a key');
    expectProblem(await t.http.postOrder('{"customerId":', { 'idempotency-key': key }), { status: 400, fields: ['(body)'] }, 'malformed body with a key');
    expect(await t.settledSideEffects()).toEqual(baseline);

    const orderId = accepted(await t.http.postOrder(order, { 'idempotency-key': key }), 'valid body with the key');
    // Validation comes before idempotency: an invalid retry is a 400 naming its field, not a 422.
    expectProblem(await t.http.postOrder({ ...order, items: [] }, { 'idempotency-key': key }), { status: 400, fields: ['items'] }, 'invalid retry');
    expectProblem(await t.http.postOrder({ ...order, customerId: 'someone-else' }, { 'idempotency-key': key }), { status: 422, fields: ['Idempotency-Key'] }, 'other body');
    expect(accepted(await t.http.postOrder(order, { 'idempotency-key': key }), 'retry')).toBe(orderId);
    const after = await t.settledSideEffects();
    expect(after.orders - baseline.orders).toBe(1);
    expect((await publishedEvents()).filter((event) => event.type === 'OrderPlaced').map((event) => event.orderId)).toEqual([orderId]);
  }, 60_000);

  it(`${CONCURRENT} concurrent requests with one key and one body create exactly one order: every answer is 202 with the same orderId or 409 while in progress (${RUNS.rounds} rounds)`, async () => {
    const keyRecordsBefore = await keyRecords();
    for (let round = 1; round <= RUNS.rounds; round += 1) {
      const key = freshKey(`race-${round}`);
      const customerId = freshCustomer(`c-race-${round}`);
      const order = round % 2 === 0 ? { customerId, items: [{ sku: 'EBOOK-1', quantity: 1, unitPriceCents: 999 }], fulfillment: 'digital' as const } : physicalOrder(customerId);
      const body = JSON.stringify(order);

      const answers = await Promise.all(Array.from({ length: CONCURRENT }, () => t.http.postOrder(body, { 'idempotency-key': key })));

      const statuses = [...new Set(answers.map((answer) => answer.status))].sort();
      const summary = `round ${round}: ${answers.map((answer) => answer.status).join(' ')}`;
      expect(statuses.every((status) => status === 202 || status === 409), summary).toBe(true);
      const orderIds = new Set(answers.filter((answer) => answer.status === 202).map((answer) => (answer.json as { orderId: string }).orderId));
      expect(orderIds.size, summary).toBe(1);
      for (const conflict of answers.filter((answer) => answer.status === 409)) expectProblem(conflict, { status: 409, fields: ['Idempotency-Key'] }, summary);
      const [orderId] = [...orderIds] as [string];

      // Those that got 409 retry once the first is done: the same orderId.
      expect(accepted(await t.http.postOrder(body, { 'idempotency-key': key }), `${summary}, retry`)).toBe(orderId);
      await t.waitIdle();
      expect((await ordersOf(customerId)).map((item) => item.orderId), summary).toEqual([orderId]);
      const placed = (await publishedEvents()).filter((event) => event.type === 'OrderPlaced');
      expect(placed.map((event) => event.orderId), summary).toEqual([orderId]);
      console.log(`api-idempotency: ${summary}`);
    }
    const after = await t.settledSideEffects();
    expect(after.orders - baseline.orders).toBe(RUNS.rounds);
    expect(await keyRecords()).toBe(keyRecordsBefore + RUNS.rounds);
  }, 120_000);

  it(`a key that is not 1-128 visible ASCII characters (over-long, non-ASCII, spaces, empty) answers 400 naming Idempotency-Key; nothing is published (${RUNS.badKeys} cases)`, async () => {
    const order = physicalOrder(freshCustomer('c-bad-key'));
    await fc.assert(
      fc.asyncProperty(badHeaderValue, async (key) => {
        count('badKeys');
        const answer = await t.http.postOrder(order, { 'idempotency-key': key });
        expectProblem(answer, { status: 400, fields: ['Idempotency-Key'] }, `key ${JSON.stringify(key.slice(0, 60))} (${key.length} chars)`);
      }),
      { seed: FC_SEED, numRuns: RUNS.badKeys },
    );
    expectProblem(await t.http.postOrder(order, { 'idempotency-key': `k${'x'.repeat(128)}` }), { status: 400, fields: ['Idempotency-Key'] }, '129 characters');
    expect(await t.settledSideEffects()).toEqual(baseline);
    expect(await publishedEvents()).toEqual([]);

    // The boundary: 128 visible ASCII characters is a key.
    const longest = `${freshKey('max')}-`.padEnd(128, '~');
    expect(longest).toHaveLength(128);
    const orderId = accepted(await t.http.postOrder(order, { 'idempotency-key': longest }), '128 characters');
    expect(accepted(await t.http.postOrder(order, { 'idempotency-key': longest }), '128 characters, retried')).toBe(orderId);
  }, 120_000);
});
