/**
 * Who may use the order API, through the local cloud's HTTP API on the REAL compiled template (its JWT authorizer
 * `customer`, verified against the local issuer as API Gateway verifies the Cognito user pool's tokens):
 *
 * - no token, a token for another audience, an expired one: 401 `{"message":"Unauthorized"}`, nothing invoked,
 *   nothing published or written;
 * - GET /orders/{id} answers only the caller's orders: another customer's is a 404 with the body of a missing one;
 * - the Idempotency-Key is the caller's: the same key and body from two customers are two orders (and each
 *   customer's retry still answers their own).
 *
 * README, "Security", lists each rule with the test that holds it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from 'local-cloud';
import { startApiCloud, type ApiCloud, type HttpAnswer, type Order } from './helpers/api.ts';

const ORDER: Order = { customerId: 'c-auth', items: [{ sku: 'EBOOK-1', quantity: 1, unitPriceCents: 999 }], fulfillment: 'digital' };

describe('Order API: authentication and ownership (local cloud, compiled template)', () => {
  let t: ApiCloud;
  const as = async (customer: string, options: Parameters<ApiCloud['cloud']['mintToken']>[0] extends infer O ? Partial<O> : never = {}): Promise<Record<string, string>> => ({
    authorization: `Bearer ${await t.cloud.mintToken({ customer, ...options })}`,
  });
  const placed = (answer: HttpAnswer, what: string): string => {
    expect(answer.status, `${what}: ${answer.text}`).toBe(202);
    return (answer.json as { orderId: string }).orderId;
  };

  beforeAll(async () => {
    t = await startApiCloud('api-auth');
  }, 240_000);

  afterAll(async () => {
    await t?.dispose();
  });

  it('answers 401 {"message":"Unauthorized"} without a token, with a wrong audience or an expired token, and changes nothing', async () => {
    // Prepare
    const before = await t.settledSideEffects();
    const now = Math.floor(Date.now() / 1000);
    const refused: Record<string, Record<string, string | null>> = {
      'no token': { authorization: null },
      'not a JWT': { authorization: 'Bearer nonsense' },
      'wrong audience': await as('alice', { clientId: 'some-other-app-client' }),
      expired: await as('alice', { issuedAt: now - 7200, expiresInSeconds: 3600 }),
      'another issuer': await as('alice', { issuer: 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other' }),
    };

    // Act
    const answers: [string, HttpAnswer][] = [];
    for (const [name, headers] of Object.entries(refused)) {
      answers.push([`POST ${name}`, await t.http.postOrder(ORDER, headers)]);
      answers.push([`GET ${name}`, await t.http.send({ path: '/orders/7c9e6679-7425-40de-944b-e07fc1f90ae7', headers })]);
    }

    // Assess
    for (const [what, answer] of answers) expect({ what, status: answer.status, body: answer.json }).toEqual({ what, status: 401, body: { message: 'Unauthorized' } });
    expect(await t.settledSideEffects()).toEqual(before);
  });

  it("answers another customer's order as a missing one (404, the same body), and its owner sees only the allow-listed fields", async () => {
    // Prepare
    const alice = await as('alice');
    const orderId = placed(await t.http.postOrder({ ...ORDER, customerId: 'c-alice' }, alice), 'alice places an order');
    await waitFor(async () => (await t.http.send({ path: `/orders/${orderId}`, headers: alice })).status === 200, { what: `order ${orderId} recorded`, timeoutMs: 30_000, intervalMs: 100 });

    // Act
    const mallory = await t.http.send({ path: `/orders/${orderId}`, headers: await as('mallory') });
    const missing = await t.http.send({ path: '/orders/00000000-0000-4000-8000-000000000000', headers: await as('mallory') });
    const own = await t.http.send({ path: `/orders/${orderId}`, headers: alice });

    // Assess
    expect(mallory.status).toBe(404);
    expect(mallory.json).toEqual({ error: 'Order not found', fields: [{ field: 'orderId', message: `no order ${orderId}` }] });
    expect(missing.status).toBe(404);
    expect(Object.keys(mallory.json as object)).toEqual(Object.keys(missing.json as object));
    expect(own.json).toMatchObject({ orderId, customerId: 'c-alice', fulfillment: 'digital' });
    for (const hidden of ['ownerId', 'correlationId', 'invoiceKey', 'invoiceWrites', 'labelWrites']) expect(own.json, hidden).not.toHaveProperty(hidden);
  });

  it('scopes the Idempotency-Key to the caller: the same key and body from two customers are two orders', async () => {
    // Prepare
    const key = `shared-key-${process.pid}`;
    const [alice, bob] = [await as('alice'), await as('bob')];

    // Act
    const aliceOrder = placed(await t.http.postOrder(ORDER, { ...alice, 'idempotency-key': key }), 'alice with the key');
    const bobOrder = placed(await t.http.postOrder(ORDER, { ...bob, 'idempotency-key': key }), 'bob with the same key');
    const aliceRetry = placed(await t.http.postOrder(ORDER, { ...alice, 'idempotency-key': key }), "alice's retry");

    // Assess
    expect(bobOrder).not.toBe(aliceOrder);
    expect(aliceRetry).toBe(aliceOrder);
    await waitFor(async () => (await t.orderItem(aliceOrder)) !== undefined && (await t.orderItem(bobOrder)) !== undefined, { what: 'both orders recorded', timeoutMs: 30_000, intervalMs: 100 });
    expect((await t.http.send({ path: `/orders/${bobOrder}`, headers: bob })).status).toBe(200);
    expect((await t.http.send({ path: `/orders/${bobOrder}`, headers: alice })).status).toBe(404);
  });
});
