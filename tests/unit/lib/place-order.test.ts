import '../helpers/env.ts';
import { createHmac } from 'node:crypto';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { SNS_MAX_MESSAGE_BYTES } from '#lib/aws/publish.ts';
import { parseOrderInput, type OrderInput } from '#lib/domain/order.ts';
import { parseOrderEvent } from '#lib/events/order-events.ts';
import { OrderTooLargeError, acceptOrder, keyedOrderId, orderPlacedEvent } from '#lib/place-order.ts';
import { deterministicId } from '#lib/domain/ids.ts';
import { DEPLOYED } from '../helpers/env.ts';
import { httpEvent } from '../helpers/fixtures.ts';

const snsMock = mockClient(SNSClient);
const input = (): OrderInput => parseOrderInput(JSON.parse(httpEvent('place-order-physical').body as string));
const now = new Date('2026-11-22T10:15:30.412Z');

describe('Lib: place-order', () => {
  afterEach(() => {
    snsMock.reset();
  });

  it('orderPlacedEvent: builds the event every consumer parses', () => {
    // Act
    const event = orderPlacedEvent(input(), { orderId: '7c9e6679-7425-40de-944b-e07fc1f90ae7', correlationId: 'CxW2NhQ9IAMEJbw=', now });

    // Assess
    expect(event).toMatchObject({
      type: 'OrderPlaced',
      eventId: '7c9e6679-7425-40de-944b-e07fc1f90ae7:OrderPlaced',
      occurredAt: now.toISOString(),
      fulfillment: 'physical',
      order: { orderId: '7c9e6679-7425-40de-944b-e07fc1f90ae7', totalCents: 3448, placedAt: now.toISOString() },
    });
    expect(parseOrderEvent(JSON.stringify(event))).toEqual(event);
  });

  it('acceptOrder: publishes OrderPlaced under a new uuid and answers it', async () => {
    // Act
    const accepted = await acceptOrder(input(), { topicArn: DEPLOYED.TOPIC_ARN, correlationId: 'c-1', ownerId: 'sub-1' });

    // Assess
    expect(accepted).toEqual({ orderId: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/), status: 'PLACED' });
    expect(snsMock).toHaveReceivedCommandExactlyOnceWith(PublishCommand, { TopicArn: DEPLOYED.TOPIC_ARN, MessageGroupId: accepted.orderId, MessageDeduplicationId: `${accepted.orderId}:OrderPlaced` });
  });

  it('acceptOrder: uses the order id and time it is given', async () => {
    // Act
    const accepted = await acceptOrder(input(), { topicArn: DEPLOYED.TOPIC_ARN, correlationId: 'c-1', ownerId: 'sub-1', orderId: 'import-1', now });

    // Assess
    expect(accepted.orderId).toBe('import-1');
    const message = JSON.parse(snsMock.commandCalls(PublishCommand)[0]?.args[0].input.Message as string);
    expect(message.occurredAt).toBe(now.toISOString());
  });

  it('acceptOrder: refuses an event SNS would reject as too large, and publishes nothing', async () => {
    // Prepare: more items than the schema allows, to reach SNS's limit (the API's own limits stay far below it)
    const huge: OrderInput = { ...input(), items: Array.from({ length: 3_000 }, (_, index) => ({ sku: `SKU-${'X'.repeat(80)}-${index}`, quantity: 1, unitPriceCents: 1 })) };

    // Act
    const accepting = acceptOrder(huge, { topicArn: DEPLOYED.TOPIC_ARN, correlationId: 'c-1', ownerId: 'sub-1' });

    // Assess
    await expect(accepting).rejects.toBeInstanceOf(OrderTooLargeError);
    await expect(accepting).rejects.toThrow(`SNS accepts at most ${SNS_MAX_MESSAGE_BYTES}`);
    expect(snsMock).not.toHaveReceivedAnyCommand();
  });
});

describe('Lib: place-order keyedOrderId', () => {
  const KEY = 'q8VfR2xLm4TzN7cWb1YgK5hJp3sDa9UeQ6oXi0ErTy2uLk8M';
  const request = { ownerId: 'sub-1', idempotencyKey: 'checkout-1', order: input() };

  it('is stable for the same key, caller, Idempotency-Key and order: a retry gets the same id', () => {
    // Assess
    expect(keyedOrderId(KEY, request)).toBe(keyedOrderId(KEY, structuredClone(request)));
  });

  it('changes with each of its inputs: the secret key, the caller, the Idempotency-Key, the order', () => {
    // Act
    const ids = [
      keyedOrderId(KEY, request),
      keyedOrderId(`${KEY}.`, request),
      keyedOrderId(KEY, { ...request, ownerId: 'sub-2' }),
      keyedOrderId(KEY, { ...request, idempotencyKey: 'checkout-2' }),
      keyedOrderId(KEY, { ...request, order: { ...request.order, customerId: 'c-43' } }),
    ];

    // Assess
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('is an HMAC-SHA256 of the inputs, not a plain hash: without the key, the id is not the SHA-256 one', () => {
    // Prepare
    const text = JSON.stringify(['order-id', request.ownerId, request.idempotencyKey, request.order]);
    const hmac = createHmac('sha256', KEY).update(text).digest('hex');

    // Act
    const id = keyedOrderId(KEY, request).replaceAll('-', '');

    // Assess: the id is the HMAC's first 16 bytes, version 8 and RFC variant bits set
    expect(id.slice(0, 12)).toBe(hmac.slice(0, 12));
    expect(id[12]).toBe('8');
    expect(id.slice(20)).toBe(hmac.slice(20, 32));
    expect(id).not.toBe(deterministicId(text).replaceAll('-', ''));
  });
});
