import { InvalidEventError } from './domain/errors.ts';
import { checkInteger, checkKnownKeys, checkOneOf, checkString, isRecord, parseJsonText, type Issues } from './domain/validate.ts';
import { eventIdFor, isOrderId, type OrderShippedEvent } from './events/order-events.ts';

/**
 * The legacy warehouse's AMQP messages (its AMQP `type` property names the kind):
 *
 * - `dispatch` `{ orderId, trackingNumber, carrier, dispatchedAt }`: the warehouse shipped an order itself. It
 *   becomes the order's OrderShipped event (deterministic eventId `<orderId>:OrderShipped`, so the topic's
 *   deduplication and recordOrderEvent's conditional writes make a redelivered message harmless).
 * - `stock` `{ sku, available }`: a stock level; no order event, it is logged and counted.
 */
const KINDS = ['dispatch', 'stock'] as const;
type WarehouseKind = (typeof KINDS)[number];

interface StockLevel {
  kind: 'stock';
  sku: string;
  available: number;
}

interface Dispatch {
  kind: 'dispatch';
  event: OrderShippedEvent;
}

/** What the AMQP message carried besides its body (Amazon MQ's basicProperties). */
interface WarehouseProperties {
  type?: string | null;
  correlationId?: string | null;
  messageId?: string | null;
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z$/;

/**
 * Reads one warehouse message; throws InvalidEventError naming every field at fault.
 *
 * @example
 * const message = parseWarehouseMessage('{"orderId":"o-1","trackingNumber":"T1","carrier":"dpd","dispatchedAt":"2026-12-03T10:00:00Z"}', { type: 'dispatch' });
 * // { kind: 'dispatch', event: { type: 'OrderShipped', eventId: 'o-1:OrderShipped', ... } }
 */
const parseWarehouseMessage = (body: string, properties: WarehouseProperties): Dispatch | StockLevel => {
  const issues: Issues = [];
  if (!checkOneOf(properties.type ?? undefined, 'basicProperties.type', KINDS, issues)) throw new InvalidEventError('warehouse message', issues);
  const kind: WarehouseKind = properties.type as WarehouseKind;
  let value: unknown;
  try {
    value = parseJsonText(body);
  } catch (error) {
    throw new InvalidEventError(`warehouse ${kind} message`, [{ field: '(body)', message: `is not JSON: ${(error as Error).message}` }]);
  }
  if (!isRecord(value)) throw new InvalidEventError(`warehouse ${kind} message`, [{ field: '(body)', message: 'must be a JSON object' }]);
  if (kind === 'stock') {
    checkKnownKeys(value, ['sku', 'available'], '', issues);
    checkString(value.sku, 'sku', { max: 64 }, issues);
    checkInteger(value.available, 'available', 0, 1_000_000_000, issues);
    if (issues.length > 0) throw new InvalidEventError('warehouse stock message', issues);
    return { kind, sku: value.sku as string, available: value.available as number };
  }
  checkKnownKeys(value, ['orderId', 'trackingNumber', 'carrier', 'dispatchedAt'], '', issues);
  if (checkString(value.orderId, 'orderId', { max: 64 }, issues) && !isOrderId(value.orderId)) issues.push({ field: 'orderId', message: 'must be letters, digits, _ and - (64 at most)' });
  checkString(value.trackingNumber, 'trackingNumber', { max: 100 }, issues);
  checkString(value.carrier, 'carrier', { max: 50, pattern: /^[A-Za-z0-9_-]+$/, patternHint: 'letters, digits, _ and -' }, issues);
  if (typeof value.dispatchedAt !== 'string' || !ISO_TIME.test(value.dispatchedAt) || Number.isNaN(Date.parse(value.dispatchedAt))) {
    issues.push({ field: 'dispatchedAt', message: 'must be a UTC ISO 8601 time such as 2026-12-03T10:00:00Z' });
  }
  if (issues.length > 0) throw new InvalidEventError('warehouse dispatch message', issues);
  const orderId = value.orderId as string;
  const trackingNumber = value.trackingNumber as string;
  return {
    kind,
    event: {
      type: 'OrderShipped',
      eventId: eventIdFor(orderId, 'OrderShipped'),
      orderId,
      occurredAt: new Date(value.dispatchedAt as string).toISOString(),
      // The warehouse's AMQP correlation id when it sets one, so its logs and ours can be joined.
      correlationId: properties.correlationId ?? properties.messageId ?? `warehouse-${orderId}`,
      fulfillment: 'physical',
      // The warehouse printed its own label: the key names it at the carrier instead of an object of ours.
      labelKey: `warehouse/${value.carrier as string}/${trackingNumber}`,
      trackingNumber,
    },
  };
};

export type { WarehouseProperties };
export { parseWarehouseMessage };
