import fc from 'fast-check';
import { placeOrder, type OrderInput, type OrderItem, type ShippingAddress } from '#lib/domain/order.ts';
import { eventIdFor, type OrderEvent } from '#lib/events/order-events.ts';

/** Generators of valid orders and order events, within every limit the schemas set (lib/domain/order.ts). */

const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;

/** A string of 1..max UTF-16 code units (what the validators count) with no control character. */
const text = (max: number, min = 1): fc.Arbitrary<string> =>
  fc
    .string({ unit: 'grapheme', minLength: min, maxLength: max })
    .filter((value) => value.length >= min && value.length <= max && !CONTROL_CHARS.test(value));

/**
 * Free text a person reads, as the address fields accept it (checkString's `text` rule): not whitespace only, no
 * format character (Unicode category Cf) but the joiner of an emoji ZWJ sequence.
 */
const personText = (max: number): fc.Arbitrary<string> =>
  text(max).filter((value) => value.trim() !== '' && !/\p{Cf}/u.test(value.replace(/(?<=\p{Extended_Pictographic}[\p{M}\p{Emoji_Modifier}]*)\u200d(?=\p{Extended_Pictographic})/gu, '')));

const customerId = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/);
const sku = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);
const orderId = fc.oneof(fc.uuid(), fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/));

const orderItem: fc.Arbitrary<OrderItem> = fc.record({
  sku,
  quantity: fc.integer({ min: 1, max: 1_000 }),
  unitPriceCents: fc.integer({ min: 0, max: 10_000_000 }),
});

const shippingAddress: fc.Arbitrary<ShippingAddress> = fc.record(
  {
    name: personText(100),
    line1: personText(200),
    line2: personText(200),
    city: personText(100),
    postalCode: personText(20),
    country: fc.stringMatching(/^[A-Z]{2}$/),
  },
  { requiredKeys: ['name', 'line1', 'city', 'postalCode', 'country'] },
);

const orderInput: fc.Arbitrary<OrderInput> = fc.oneof(
  fc.record({ customerId, items: fc.array(orderItem, { minLength: 1, maxLength: 100 }), fulfillment: fc.constant('physical' as const), shippingAddress }),
  fc.record({ customerId, items: fc.array(orderItem, { minLength: 1, maxLength: 100 }), fulfillment: fc.constant('digital' as const) }),
);

const isoDate = fc
  .date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true })
  .map((date) => date.toISOString());

const orderEvent: fc.Arbitrary<OrderEvent> = fc
  .record({ orderId, occurredAt: isoDate, correlationId: text(128), input: orderInput })
  .chain(({ orderId: id, occurredAt, correlationId, input }) => {
    const meta = { orderId: id, occurredAt, correlationId, fulfillment: input.fulfillment };
    return fc.oneof(
      fc.constant<OrderEvent>({ type: 'OrderPlaced', eventId: eventIdFor(id, 'OrderPlaced'), ...meta, order: placeOrder(input, { orderId: id, now: new Date(occurredAt) }) }),
      fc
        .record({ chargeId: text(100), amountCents: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), invoiceKey: text(1024) })
        .map((charge): OrderEvent => ({ type: 'OrderCharged', eventId: eventIdFor(id, 'OrderCharged'), ...meta, ...charge })),
      fc
        .record({ labelKey: text(1024), trackingNumber: text(100) })
        .map((shipment): OrderEvent => ({ type: 'OrderShipped', eventId: eventIdFor(id, 'OrderShipped'), ...meta, ...shipment })),
    );
  });

/** Sets a value at a path such as `items[2].quantity` in a copy of the object. */
const withValueAt = (value: unknown, path: string, replacement: unknown): unknown => {
  const copy = structuredClone(value) as Record<string, unknown>;
  const segments = path.split(/\.|\[(\d+)\]/).filter((segment) => segment !== undefined && segment !== '');
  let target: Record<string, unknown> = copy;
  segments.slice(0, -1).forEach((segment) => {
    target = target[segment] as Record<string, unknown>;
  });
  const last = segments.at(-1) as string;
  if (replacement === undefined) delete target[last];
  else target[last] = replacement;
  return copy;
};

export { text, orderItem, orderInput, isoDate, orderEvent, withValueAt };
