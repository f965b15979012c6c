import '../../helpers/env.ts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidEventError } from '#lib/domain/errors.ts';
import { eventIdFor, isOrderId, parseOrderEvent, parseOrderPlaced, type OrderEvent } from '#lib/events/order-events.ts';
import { parseReviewRequest } from '#lib/events/order-events.ts'; // slice-line:reviews
import { orderEvent, text, withValueAt } from '../../helpers/arbitraries.ts';
import { bodyOf, firstRecord, sqsRecords } from '../../helpers/fixtures.ts';

/** Fields of an event and values each must be rejected for. */
const badMetaValues: [string, fc.Arbitrary<unknown>][] = [
  ['orderId', fc.oneof(fc.constant(''), fc.constant('../etc/passwd'), fc.constant('a'.repeat(65)), fc.integer(), fc.constant(null))],
  ['eventId', fc.oneof(fc.constant(''), fc.constant('e'.repeat(101)), fc.integer())],
  ['occurredAt', fc.oneof(fc.constant('yesterday'), fc.constant(''), fc.integer())],
  ['correlationId', fc.oneof(fc.constant(''), fc.constant('c'.repeat(129)), fc.constant('a\nb'), fc.boolean())],
  ['fulfillment', fc.oneof(fc.constant('teleport'), fc.integer(), fc.constant(null))],
];
const badValuesByType: Record<OrderEvent['type'], [string, fc.Arbitrary<unknown>][]> = {
  OrderPlaced: [
    ['order', fc.oneof(fc.constant(null), fc.constant([]), fc.string())],
    ['order.orderId', fc.constant('another-order')],
    ['order.totalCents', fc.oneof(fc.constant(-1), fc.constant(1.5), fc.constant('10'))],
    ['order.placedAt', fc.oneof(fc.constant(''), fc.integer())],
    ['order.customerId', fc.oneof(fc.constant(''), fc.integer())],
    ['order.items', fc.oneof(fc.constant([]), fc.constant('BOOK-1'))],
    ['order.items[0].quantity', fc.oneof(fc.constant(0), fc.constant(1001), fc.constant(2.5))],
  ],
  OrderCharged: [
    ['chargeId', fc.oneof(fc.constant(''), fc.integer())],
    ['amountCents', fc.oneof(fc.constant(-1), fc.constant(0.5), fc.constant('3448'))],
    ['invoiceKey', fc.oneof(fc.constant(''), fc.constant('k'.repeat(1025)))],
  ],
  OrderShipped: [
    ['labelKey', fc.oneof(fc.constant(''), fc.constant(null))],
    ['trackingNumber', fc.oneof(fc.constant(''), fc.constant('t'.repeat(101)))],
  ],
};

describe('Lib: events/order-events', () => {
  describe('parseOrderEvent', () => {
    it('round-trips every valid event through JSON (what SNS, SQS and Kinesis carry)', () => {
      fc.assert(
        fc.property(orderEvent, (event) => {
          // Act
          const parsed = parseOrderEvent(JSON.stringify(event));

          // Assess
          expect(parsed).toEqual(event);
        }),
      );
    });

    it('parses every order event stored in events/ (SQS bodies and Kinesis data, with its trailing newline)', () => {
      // Prepare
      const bodies = ['order-placed-physical', 'order-placed-digital', 'order-placed-shipping', 'order-charged', 'order-shipped', 'order-store-fifo']
        .flatMap((variant) => sqsRecords(variant))
        .map((record) => record.body);

      // Act
      const events = bodies.map((body) => parseOrderEvent(body));

      // Assess
      expect(events.map((event) => event.eventId)).toEqual(events.map((event) => eventIdFor(event.orderId, event.type)));
      expect(parseOrderEvent(`${bodies[0]}\n`)).toEqual(events[0]);
    });

    it('rejects a wrong value in any field, naming that field', () => {
      const mutated = orderEvent.chain((event) =>
        fc.constantFrom(...badMetaValues, ...badValuesByType[event.type]).chain(([path, bad]) => bad.map((value) => ({ event, path, value }))),
      );
      fc.assert(
        fc.property(mutated, ({ event, path, value }) => {
          // Act
          const parse = (): OrderEvent => parseOrderEvent(JSON.stringify(withValueAt(event, path, value)));

          // Assess
          expect(parse).toThrow(InvalidEventError);
          try {
            parse();
          } catch (error) {
            expect((error as InvalidEventError).fields.map((field) => field.field)).toContain(path);
          }
        }),
      );
    });

    it('throws only InvalidEventError on any string, never a TypeError', () => {
      fc.assert(
        fc.property(fc.oneof(fc.string(), fc.json(), orderEvent.map((event) => JSON.stringify(event).slice(0, -3))), (body) => {
          // Act
          let thrown: unknown;
          try {
            parseOrderEvent(body);
          } catch (error) {
            thrown = error;
          }

          // Assess
          expect(thrown === undefined || thrown instanceof InvalidEventError, String(thrown)).toBe(true);
        }),
      );
    });

    it('names the body when it is not JSON or not an object, and the type when it is unknown', () => {
      expect(() => parseOrderEvent('{"type":"OrderPlaced",')).toThrow(/^Invalid order event: \(body\) is not JSON/);
      expect(() => parseOrderEvent('[1]')).toThrow('Invalid order event: (body) must be a JSON object');
      expect(() => parseOrderEvent('{"type":"OrderRefunded"}')).toThrow('Invalid order event: type must be one of OrderPlaced, OrderCharged, OrderShipped');
    });
  });

  describe('parseOrderPlaced', () => {
    it('accepts an OrderPlaced and rejects the other types (what the billing and shipping filter policies promise)', () => {
      // Prepare
      const placed = firstRecord('order-placed-physical').body;
      const charged = firstRecord('order-charged').body;

      // Act + Assess
      expect(parseOrderPlaced(placed).type).toBe('OrderPlaced');
      expect(() => parseOrderPlaced(charged)).toThrow('Invalid order event: type must be OrderPlaced here, got OrderCharged');
    });
  });

  it('accepts an OrderPlaced placed before the edge refused blank and format-character (Cf) address text, so a redrive of it is no poison', () => {
    // Prepare
    const placed = bodyOf<{ order: { shippingAddress: Record<string, string> } }>(firstRecord('order-placed-physical'));
    placed.order.shippingAddress.name = 'Ada\u202Eevil';
    placed.order.shippingAddress.city = '   ';

    // Act + Assess
    expect(parseOrderPlaced(JSON.stringify(placed)).type).toBe('OrderPlaced');
  });

  it("carries the order's owner (the caller's sub) when it has one, and accepts an OrderPlaced without one (imported, or placed before owners)", () => {
    // Prepare
    const placed = bodyOf<{ order: Record<string, unknown> }>(firstRecord('order-placed-physical'));
    const owned = structuredClone(placed);
    owned.order.ownerId = '5f0d7a1c-2b9e-4c8d-a3f6-1e2b3c4d5e6f';
    const bad = structuredClone(placed);
    bad.order.ownerId = 42;

    // Act + Assess
    expect(parseOrderPlaced(JSON.stringify(owned)).order.ownerId).toBe('5f0d7a1c-2b9e-4c8d-a3f6-1e2b3c4d5e6f');
    expect(parseOrderPlaced(JSON.stringify(placed)).order.ownerId).toBeUndefined();
    expect(() => parseOrderPlaced(JSON.stringify(bad))).toThrow(InvalidEventError);
  });

  // slice-begin:reviews
  describe('parseReviewRequest', () => {
    it('parses the stored review request and keeps only its three fields', () => {
      // Prepare
      const body = { ...bodyOf(firstRecord('review-request')), extra: true };

      // Act
      const request = parseReviewRequest(JSON.stringify(body));

      // Assess
      expect(request).toEqual({ orderId: '7c9e6679-7425-40de-944b-e07fc1f90ae7', customerId: 'c-42', correlationId: 'CxW2NhQ9IAMEJbw=' });
    });

    it('names every missing or wrong field', () => {
      expect(() => parseReviewRequest('{"orderId":"bad id"}')).toThrow(InvalidEventError);
      try {
        parseReviewRequest('{"orderId":"bad id"}');
      } catch (error) {
        expect((error as InvalidEventError).fields.map((field) => field.field)).toEqual(['orderId', 'customerId', 'correlationId']);
      }
    });
  });
  // slice-end:reviews

  describe('eventIdFor / isOrderId', () => {
    it('derives one deduplication id per order and type', () => {
      fc.assert(
        fc.property(fc.uuid(), (orderId) => {
          const ids = (['OrderPlaced', 'OrderCharged', 'OrderShipped'] as const).map((type) => eventIdFor(orderId, type));
          expect(new Set(ids).size).toBe(3);
          expect(ids[0]).toBe(`${orderId}:OrderPlaced`);
        }),
      );
    });

    it('accepts uuids and 1 to 64 letters, digits, "_" or "-" starting with a letter or digit', () => {
      fc.assert(
        fc.property(fc.uuid(), (id) => {
          expect(isOrderId(id)).toBe(true);
        }),
      );
      fc.assert(
        fc.property(text(80), (id) => {
          expect(isOrderId(id)).toBe(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(id));
        }),
      );
      for (const id of ['', '-a', 'a/b', 'a'.repeat(65), '../x', 'a b']) expect(isOrderId(id)).toBe(false);
    });
  });
});
