import { InvalidEventError } from '../domain/errors.ts';
import { FULFILLMENTS, orderIssues, type Fulfillment, type PlacedOrder } from '../domain/order.ts';
import { checkInteger, checkOneOf, checkString, isRecord, type Issues } from '../domain/validate.ts';

const EVENT_TYPES = ['OrderPlaced', 'OrderCharged', 'OrderShipped'] as const;
type OrderEventType = (typeof EVENT_TYPES)[number];

/** What every order event carries; also sent as SNS message attributes (filter policies match on them). */
interface EventMeta {
  /** Deterministic (`<orderId>:<type>`), used as the SNS FIFO deduplication id. */
  eventId: string;
  orderId: string;
  occurredAt: string;
  correlationId: string;
  fulfillment: Fulfillment;
}

interface OrderPlacedEvent extends EventMeta {
  type: 'OrderPlaced';
  order: PlacedOrder;
}

interface OrderChargedEvent extends EventMeta {
  type: 'OrderCharged';
  chargeId: string;
  amountCents: number;
  invoiceKey: string;
}

interface OrderShippedEvent extends EventMeta {
  type: 'OrderShipped';
  labelKey: string;
  trackingNumber: string;
}

type OrderEvent = OrderPlacedEvent | OrderChargedEvent | OrderShippedEvent;

// slice-begin:reviews
/** The message shipOrder leaves in the review-requests delay queue. */
interface ReviewRequest {
  orderId: string;
  customerId: string;
  correlationId: string;
}
// slice-end:reviews

const ORDER_ID = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

/**
 * The deduplication id of an order's event of a given type: one OrderCharged per order, ever.
 *
 * @example
 * eventIdFor('0f8c...', 'OrderCharged'); // '0f8c...:OrderCharged'
 */
const eventIdFor = (orderId: string, type: OrderEventType): string => `${orderId}:${type}`;

const checkMeta = (value: Record<string, unknown>, issues: Issues): void => {
  checkString(value.orderId, 'orderId', { max: 64, pattern: ORDER_ID }, issues);
  checkString(value.eventId, 'eventId', { max: 100 }, issues);
  checkString(value.occurredAt, 'occurredAt', { max: 40 }, issues);
  if (typeof value.occurredAt === 'string' && Number.isNaN(Date.parse(value.occurredAt))) {
    issues.push({ field: 'occurredAt', message: 'must be an ISO 8601 date' });
  }
  checkString(value.correlationId, 'correlationId', { max: 128 }, issues);
  checkOneOf(value.fulfillment, 'fulfillment', FULFILLMENTS, issues);
};

const checkPlacedOrder = (value: unknown, orderId: unknown, issues: Issues): void => {
  if (!isRecord(value)) {
    issues.push({ field: 'order', message: 'must be an object' });
    return;
  }
  const { orderId: innerId, totalCents, placedAt, ownerId, ...input } = value;
  if (innerId !== orderId) issues.push({ field: 'order.orderId', message: 'must equal orderId' });
  if (ownerId !== undefined) checkString(ownerId, 'order.ownerId', { max: 128 }, issues);
  checkInteger(totalCents, 'order.totalCents', 0, Number.MAX_SAFE_INTEGER, issues);
  checkString(placedAt, 'order.placedAt', { max: 40 }, issues);
  // The order was accepted at the edge when it was placed; the edge's free-text rules may have grown since.
  issues.push(...orderIssues(input, { humanText: false }).map((issue) => ({ ...issue, field: `order.${issue.field}` })));
};

/**
 * Parses a queue or stream record body into a typed order event, or throws InvalidEventError naming the fields.
 *
 * @example
 * const event = parseOrderEvent(record.body); // in an SQS record handler: a throw marks the record failed
 */
const parseOrderEvent = (body: string): OrderEvent => {
  const value = parseJson(body, 'order event');
  const issues: Issues = [];
  if (!checkOneOf(value.type, 'type', EVENT_TYPES, issues)) throw new InvalidEventError('order event', issues);
  checkMeta(value, issues);
  switch (value.type) {
    case 'OrderPlaced':
      checkPlacedOrder(value.order, value.orderId, issues);
      break;
    case 'OrderCharged':
      checkString(value.chargeId, 'chargeId', { max: 100 }, issues);
      checkInteger(value.amountCents, 'amountCents', 0, Number.MAX_SAFE_INTEGER, issues);
      checkString(value.invoiceKey, 'invoiceKey', { max: 1024 }, issues);
      break;
    case 'OrderShipped':
      checkString(value.labelKey, 'labelKey', { max: 1024 }, issues);
      checkString(value.trackingNumber, 'trackingNumber', { max: 100 }, issues);
      break;
  }
  if (issues.length > 0) throw new InvalidEventError(`${value.type} event`, issues);
  return value as unknown as OrderEvent;
};

// slice-begin:reviews
/**
 * Parses the body of a review request, or throws InvalidEventError.
 *
 * @example
 * const request = parseReviewRequest(record.body);
 */
const parseReviewRequest = (body: string): ReviewRequest => {
  const value = parseJson(body, 'review request');
  const issues: Issues = [];
  checkString(value.orderId, 'orderId', { max: 64, pattern: ORDER_ID }, issues);
  checkString(value.customerId, 'customerId', { max: 64 }, issues);
  checkString(value.correlationId, 'correlationId', { max: 128 }, issues);
  if (issues.length > 0) throw new InvalidEventError('review request', issues);
  return { orderId: value.orderId as string, customerId: value.customerId as string, correlationId: value.correlationId as string };
};
// slice-end:reviews

const parseJson = (body: string, what: string): Record<string, unknown> => {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (error) {
    throw new InvalidEventError(what, [{ field: '(body)', message: `is not JSON: ${(error as Error).message}` }]);
  }
  if (!isRecord(value)) throw new InvalidEventError(what, [{ field: '(body)', message: 'must be a JSON object' }]);
  return value;
};

/**
 * Parses a body that must hold an OrderPlaced event (what the billing and shipping filter policies let through).
 *
 * @example
 * const placed = parseOrderPlaced(record.body);
 */
const parseOrderPlaced = (body: string): OrderPlacedEvent => {
  const event = parseOrderEvent(body);
  if (event.type !== 'OrderPlaced') {
    throw new InvalidEventError('order event', [{ field: 'type', message: `must be OrderPlaced here, got ${event.type}` }]);
  }
  return event;
};

const isOrderId = (value: string): boolean => value.length <= 64 && ORDER_ID.test(value);

export type { OrderPlacedEvent, OrderChargedEvent, OrderShippedEvent, OrderEvent };
export type { ReviewRequest }; // slice-line:reviews
export { eventIdFor, parseOrderEvent, parseOrderPlaced, isOrderId };
export { EVENT_TYPES }; // slice-line:analytics
export { parseReviewRequest }; // slice-line:reviews
