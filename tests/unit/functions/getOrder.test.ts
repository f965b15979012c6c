import '../helpers/env.ts';
import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { getOrderHandler, handler } from '../../../functions/getOrder.ts';
import { fakeContext } from '../helpers/context.ts';
import { fakeOrdersTable, type FakeOrdersTable } from '../helpers/dynamodb.ts';
import { DEPLOYED, stubDeployedEnv } from '../helpers/env.ts';
import { httpEvent } from '../helpers/fixtures.ts';

const ORDER_A = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
/** The `sub` claim of the stored get-order event's caller (events/http/get-order.json). */
const CALLER = '5f0d7a1c-2b9e-4c8d-a3f6-1e2b3c4d5e6f';
const documentsMock = mockClient(DynamoDBDocumentClient);
const context = fakeContext('getOrder');

const get = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => (await getOrderHandler(event)) as APIGatewayProxyStructuredResultV2;
const bodyOf = (response: APIGatewayProxyStructuredResultV2): Record<string, unknown> => JSON.parse(response.body as string);
const asCaller = (sub: string | undefined): APIGatewayProxyEventV2 => {
  const event = httpEvent('get-order') as APIGatewayProxyEventV2 & { requestContext: { authorizer?: { jwt: { claims: Record<string, string> } } } };
  if (sub === undefined) delete event.requestContext.authorizer;
  else if (event.requestContext.authorizer) event.requestContext.authorizer.jwt.claims.sub = sub;
  return event;
};
const withId = (id: string | undefined): APIGatewayProxyEventV2 => {
  const event = httpEvent('get-order');
  event.pathParameters = id === undefined ? undefined : { id };
  return event;
};

/** Order A as recordOrderEvent leaves it: shipped before it was charged, stored status one step behind. */
const storedOrderA = {
  orderId: ORDER_A,
  ownerId: CALLER,
  status: 'SHIPPED',
  customerId: 'c-42',
  fulfillment: 'physical',
  items: [
    { sku: 'BOOK-1', quantity: 2, unitPriceCents: 1299 },
    { sku: 'MUG-3', quantity: 1, unitPriceCents: 850 },
  ],
  shippingAddress: { name: 'Ada Lovelace', line1: '1 Main St', city: 'Leeds', postalCode: 'LS1 1AA', country: 'GB' },
  totalCents: 3448,
  correlationId: 'CxW2NhQ9IAMEJbw=',
  placedAt: '2026-11-22T10:15:30.412Z',
  shippedAt: '2026-11-22T10:15:31.002Z',
  chargedAt: '2026-11-22T10:15:31.087Z',
  labelKey: `documents/labels/${ORDER_A}.json`,
  trackingNumber: 'OF8A2C1D9E7B3F4A60',
  invoiceKey: `documents/invoices/${ORDER_A}.json`,
};

/** What the caller sees of order A: the allow-listed fields only (lib/order-view.ts). */
const { ownerId: _owner, correlationId: _correlation, labelKey: _label, invoiceKey: _invoice, ...viewOfA } = storedOrderA;

describe('Function: getOrder', () => {
  let table: FakeOrdersTable;

  beforeAll(() => {
    stubDeployedEnv('getOrder');
  });

  beforeEach(() => {
    table = fakeOrdersTable(documentsMock);
  });

  afterEach(() => {
    documentsMock.reset();
  });

  afterAll(() => {
    vi.unstubAllEnvs();
  });

  it('answers 200 with the allow-listed fields of the order, its derived status and its timeline', async () => {
    // Prepare
    table.items.set(ORDER_A, structuredClone(storedOrderA));

    // Act
    const response = await get(httpEvent('get-order'));

    // Assess
    expect(response.statusCode).toBe(200);
    expect(documentsMock).toHaveReceivedCommandExactlyOnceWith(GetCommand, { TableName: DEPLOYED.ORDERS_TABLE, Key: { orderId: ORDER_A } });
    expect(bodyOf(response)).toEqual({
      ...viewOfA,
      status: 'COMPLETED',
      timeline: [
        { status: 'PLACED', at: '2026-11-22T10:15:30.412Z' },
        { status: 'SHIPPED', at: '2026-11-22T10:15:31.002Z' },
        { status: 'CHARGED', at: '2026-11-22T10:15:31.087Z' },
        { status: 'COMPLETED', at: '2026-11-22T10:15:31.087Z' },
      ],
    });
  });

  it('leaves out every field not on the allow-list: owner, correlation id, document keys, notices, write counts, anything new', async () => {
    // Prepare: notified of both documents, and the invoice was written a second time
    const notices = {
      completedAt: '2026-11-22T10:15:31.120Z',
      invoiceNotifiedAt: '2026-11-22T10:15:31.200Z',
      labelNotifiedAt: '2026-11-22T10:15:31.650Z',
    };
    table.items.set(ORDER_A, {
      ...structuredClone(storedOrderA),
      ...notices,
      status: 'COMPLETED',
      invoiceWrites: new Set(['EDF4172E5E7EBBC0A7', 'EDF4172E5E93D1F2C4']),
      labelWrites: new Set(['5C59E1085EC2E45509']),
      reviewRequestedAt: '2026-11-22T10:30:31.650Z',
      internalRiskScore: 87,
    });

    // Act
    const body = bodyOf(await get(httpEvent('get-order')));

    // Assess
    expect(Object.keys(body).sort()).toEqual(
      ['orderId', 'status', 'customerId', 'fulfillment', 'items', 'shippingAddress', 'totalCents', 'placedAt', 'chargedAt', 'shippedAt', 'completedAt', 'trackingNumber', 'timeline'].sort(),
    );
    expect(body.completedAt).toBe(notices.completedAt);
  });

  it("answers another caller's order exactly as a missing one: 404, the same body", async () => {
    // Prepare
    table.items.set(ORDER_A, structuredClone(storedOrderA));
    const missing = bodyOf(await get(withId('0d6f2a3b-0000-4000-8000-000000000000')));

    // Act
    const response = await get(asCaller('9a8b7c6d-0000-4000-8000-000000000001'));

    // Assess
    expect(response.statusCode).toBe(404);
    expect(bodyOf(response)).toEqual({ error: 'Order not found', fields: [{ field: 'orderId', message: `no order ${ORDER_A}` }] });
    expect(Object.keys(bodyOf(response))).toEqual(Object.keys(missing));
  });

  it('answers 404 for an order without an owner (imported from a file): no caller owns it', async () => {
    // Prepare
    const { ownerId: _unused, ...imported } = structuredClone(storedOrderA);
    table.items.set(ORDER_A, imported);

    // Act + Assess
    expect((await get(httpEvent('get-order'))).statusCode).toBe(404);
  });

  it('answers 401 without reading the table when no authorizer claims reach it (a route deployed without the authorizer)', async () => {
    // Act
    const response = await get(asCaller(undefined));

    // Assess
    expect(response.statusCode).toBe(401);
    expect(bodyOf(response).fields).toEqual([{ field: 'authorization', message: 'a token with a sub claim is required' }]);
    expect(documentsMock).not.toHaveReceivedAnyCommand();
  });

  it.each([
    ['a placed order', { fulfillment: 'physical' }, 'PLACED', ['PLACED']],
    ['a charged physical order', { fulfillment: 'physical', chargedAt: '2026-11-22T10:15:31.087Z' }, 'CHARGED', ['PLACED', 'CHARGED']],
    ['a shipped physical order not yet charged', { fulfillment: 'physical', shippedAt: '2026-11-22T10:15:31.002Z' }, 'SHIPPED', ['PLACED', 'SHIPPED']],
    ['a charged digital order', { fulfillment: 'digital', chargedAt: '2026-11-22T10:15:31.087Z' }, 'COMPLETED', ['PLACED', 'CHARGED', 'COMPLETED']],
  ])('derives the status of %s', async (_name, steps, status, timeline) => {
    // Prepare
    table.items.set(ORDER_A, { orderId: ORDER_A, ownerId: CALLER, placedAt: '2026-11-22T10:15:30.412Z', ...steps });

    // Act
    const body = bodyOf(await get(httpEvent('get-order')));

    // Assess
    expect(body.status).toBe(status);
    expect((body.timeline as { status: string }[]).map((entry) => entry.status)).toEqual(timeline);
  });

  it('answers 404 for an unknown order', async () => {
    // Act
    const response = await get(httpEvent('get-order'));

    // Assess
    expect(response.statusCode).toBe(404);
    expect(bodyOf(response)).toEqual({ error: 'Order not found', fields: [{ field: 'orderId', message: `no order ${ORDER_A}` }] });
  });

  it('answers 404 while only a notification stamp exists (its OrderPlaced is not recorded yet)', async () => {
    // Prepare
    table.items.set(ORDER_A, { orderId: ORDER_A, invoiceNotifiedAt: '2026-11-22T10:15:31.200Z' });

    // Act + Assess
    expect((await get(httpEvent('get-order'))).statusCode).toBe(404);
  });

  it.each([['../etc/passwd'], ['has space'], ['-leading-dash'], ['x'.repeat(65)], [''], [undefined]])('answers 400 for the order id %j without reading the table', async (id) => {
    // Act
    const response = await get(withId(id));

    // Assess
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response)).toEqual({ error: 'Invalid order id', fields: [{ field: 'orderId', message: 'must be 1 to 64 letters, digits, "_" or "-"' }] });
    expect(documentsMock).not.toHaveReceivedAnyCommand();
  });

  it('rejects with the DynamoDB error when the read fails (API Gateway answers 500)', async () => {
    // Prepare
    documentsMock.on(GetCommand).rejects(new ProvisionedThroughputExceededException({ message: 'Throughput exceeds the current capacity of your table', $metadata: { httpStatusCode: 400 } }));

    // Act + Assess
    await expect(get(httpEvent('get-order'))).rejects.toBeInstanceOf(ProvisionedThroughputExceededException);
  });

  it('works wrapped in its middleware (the deployed handler)', async () => {
    // Prepare
    table.items.set(ORDER_A, structuredClone(storedOrderA));

    // Act
    const response = (await handler(httpEvent('get-order'), context)) as APIGatewayProxyStructuredResultV2;

    // Assess
    expect(response.statusCode).toBe(200);
    expect(bodyOf(response).orderId).toBe(ORDER_A);
  });
});
