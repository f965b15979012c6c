import { randomUUID } from 'node:crypto';
import { OrderflowError } from './domain/errors.ts';
import { keyedId } from './domain/ids.ts';
import { placeOrder, type OrderInput } from './domain/order.ts';
import { eventIdFor, type OrderPlacedEvent } from './events/order-events.ts';
import { SNS_MAX_MESSAGE_BYTES, messageSize, publishOrderEvent } from './aws/publish.ts';

/** The order is valid but its OrderPlaced event would exceed SNS's message size limit. */
class OrderTooLargeError extends OrderflowError {
  readonly size: number;
  constructor(size: number) {
    super(`The order's event is ${size} bytes; SNS accepts at most ${SNS_MAX_MESSAGE_BYTES}`);
    this.name = 'OrderTooLargeError';
    this.size = size;
  }
}

interface Accepted {
  orderId: string;
  status: 'PLACED';
}

interface AcceptOptions {
  topicArn: string;
  correlationId: string;
  /** The caller's `sub`: the order's owner, the only caller who may read it. */
  ownerId: string;
  orderId?: string;
  now?: Date;
}

/**
 * Builds the OrderPlaced event of a validated order.
 *
 * @example
 * const event = orderPlacedEvent(input, { orderId: randomUUID(), correlationId, now: new Date() });
 */
const orderPlacedEvent = (
  input: OrderInput,
  { orderId, correlationId, now, ownerId }: { orderId: string; correlationId: string; now: Date; ownerId?: string },
): OrderPlacedEvent => {
  const order = placeOrder(input, { orderId, now, ...(ownerId === undefined ? {} : { ownerId }) });
  return {
    type: 'OrderPlaced',
    eventId: eventIdFor(orderId, 'OrderPlaced'),
    orderId,
    occurredAt: order.placedAt,
    correlationId,
    fulfillment: order.fulfillment,
    order,
  };
};

/**
 * The order id of a request that carries an `Idempotency-Key`: derived from the caller, the key and the order, so
 * if a first attempt published OrderPlaced but died before Powertools saved its result, the retry publishes the
 * same orderId and eventId, and SNS FIFO deduplication (5 minutes) drops it: still one order. The order is part of
 * the input so that a key reused for another order after its idempotency record expired (24 h) gets a new id; the
 * caller so that two callers' same key gives two orders. An HMAC under a key kept in Secrets Manager
 * (lib/aws/secrets.ts): from a known key and body nobody can predict, or claim, another caller's order id.
 *
 * @example
 * const orderId = keyedOrderId(await orderIdKey(), { ownerId: caller.sub, idempotencyKey, order });
 */
const keyedOrderId = (key: string, { ownerId, idempotencyKey, order }: { ownerId: string; idempotencyKey: string; order: OrderInput }): string =>
  keyedId(key, JSON.stringify(['order-id', ownerId, idempotencyKey, order]));

/**
 * Accepts a validated order: publishes OrderPlaced to the FIFO topic and answers with the new order id.
 * Nothing is stored here: the order-store queue buffers the write to the Orders table.
 *
 * @example
 * const { orderId } = await acceptOrder(parseOrderInput(body), { topicArn, correlationId, ownerId: caller.sub });
 */
const acceptOrder = async (input: OrderInput, options: AcceptOptions): Promise<Accepted> => {
  const orderId = options.orderId ?? randomUUID();
  const event = orderPlacedEvent(input, { orderId, correlationId: options.correlationId, now: options.now ?? new Date(), ownerId: options.ownerId });
  const size = messageSize(event);
  if (size > SNS_MAX_MESSAGE_BYTES) throw new OrderTooLargeError(size);
  await publishOrderEvent(options.topicArn, event);
  return { orderId, status: 'PLACED' };
};

export type { Accepted };
export { OrderTooLargeError, orderPlacedEvent, keyedOrderId, acceptOrder };
