import '../../helpers/env.ts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidOrderError } from '#lib/domain/errors.ts';
import { parseJsonText } from '#lib/domain/validate.ts';
import { LIMITS, orderIssues, orderTotalCents, parseOrderInput, placeOrder, type OrderInput } from '#lib/domain/order.ts';
import { orderInput, orderItem, text, withValueAt } from '../../helpers/arbitraries.ts';

const notAString = fc.oneof(
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 2 }),
  fc.dictionary(fc.string(), fc.string(), { maxKeys: 2 }),
);
const notANumber = fc.oneof(
  fc.string(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
  fc.array(fc.integer(), { maxLength: 2 }),
);
const notAnObject = fc.oneof(fc.integer(), fc.string(), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }));

/** Values a string field with this max length must reject: wrong type, empty, too long, control characters. */
const badString = (max: number, ...more: fc.Arbitrary<unknown>[]): fc.Arbitrary<unknown> =>
  fc.oneof(
    notAString,
    fc.constant(''),
    fc.string({ minLength: max + 1, maxLength: max + 40 }),
    text(max - 1).map((value) => `${value}\u0007`),
    ...more,
  );
/** Values an integer field in [min, max] must reject: wrong type, fractions, out of range. */
const badInteger = (min: number, max: number): fc.Arbitrary<unknown> =>
  fc.oneof(
    notANumber,
    fc.double({ min: min - 10, max: max + 10, noNaN: true }).filter((value) => !Number.isInteger(value)),
    fc.integer({ min: Number.MIN_SAFE_INTEGER, max: min - 1 }),
    fc.integer({ min: max + 1, max: Number.MAX_SAFE_INTEGER }),
  );

/** Every field path of a valid order, each with the wrong values it must be rejected for. */
const mutationsOf = (order: OrderInput): [string, fc.Arbitrary<unknown>][] => {
  const mutations: [string, fc.Arbitrary<unknown>][] = [
    ['customerId', badString(64, fc.constantFrom('-c-42', 'c 42', 'c/42', '.c'))],
    ['fulfillment', fc.oneof(notAString, fc.string().filter((value) => value !== 'physical' && value !== 'digital'))],
    ['items', fc.oneof(notAnObject.filter((value) => !Array.isArray(value)), fc.constant([]), fc.array(orderItem, { minLength: LIMITS.maxItems + 1, maxLength: LIMITS.maxItems + 5 }))],
  ];
  order.items.forEach((_, index) => {
    mutations.push(
      [`items[${index}]`, notAnObject],
      [`items[${index}].sku`, badString(64, fc.constantFrom('-SKU', 'SKU 1', 'SKU:1', '.SKU'))],
      [`items[${index}].quantity`, badInteger(1, LIMITS.maxQuantity)],
      [`items[${index}].unitPriceCents`, badInteger(0, LIMITS.maxUnitPriceCents)],
    );
  });
  if (order.fulfillment === 'physical') {
    mutations.push(
      ['shippingAddress', notAnObject],
      ['shippingAddress.name', badString(100)],
      ['shippingAddress.line1', badString(200)],
      ['shippingAddress.line2', fc.oneof(notAString, fc.constant(''), fc.string({ minLength: 201, maxLength: 230 }))],
      ['shippingAddress.city', badString(100)],
      ['shippingAddress.postalCode', badString(20)],
      ['shippingAddress.country', badString(2, fc.constantFrom('gb', 'G1', 'GBR', 'g'))],
    );
  } else {
    mutations.push(['shippingAddress', fc.constant({ name: 'Ada', line1: '1 Main St', city: 'Leeds', postalCode: 'LS1 1AA', country: 'GB' })]);
  }
  return mutations;
};

/** Required fields of a valid order (removing one must be reported as that field). */
const requiredPathsOf = (order: OrderInput): string[] => [
  'customerId',
  'items',
  'fulfillment',
  ...order.items.flatMap((_, index) => [`items[${index}].sku`, `items[${index}].quantity`, `items[${index}].unitPriceCents`]),
  ...(order.fulfillment === 'physical'
    ? ['shippingAddress', 'shippingAddress.name', 'shippingAddress.line1', 'shippingAddress.city', 'shippingAddress.postalCode', 'shippingAddress.country']
    : []),
];

const mutatedOrder = orderInput.chain((order) =>
  fc.constantFrom(...mutationsOf(order)).chain(([path, bad]) => bad.map((value) => ({ order, path, value }))),
);

describe('Lib: domain/order', () => {
  describe('orderIssues / parseOrderInput', () => {
    it('accepts the order of the API contract (docs/architecture.md)', () => {
      // Prepare
      const body = {
        customerId: 'c-42',
        items: [{ sku: 'BOOK-1', quantity: 2, unitPriceCents: 1299 }],
        fulfillment: 'physical',
        shippingAddress: { name: 'Ada', line1: '1 Main St', city: 'Leeds', postalCode: 'LS1 1AA', country: 'GB' },
      };

      // Act
      const issues = orderIssues(body);

      // Assess
      expect(issues).toEqual([]);
      expect(parseOrderInput(body)).toEqual(body);
    });

    it('accepts every generated valid order and returns it unchanged (JSON round trip)', () => {
      fc.assert(
        fc.property(orderInput, (order) => {
          // Act
          const parsed = parseOrderInput(JSON.parse(JSON.stringify(order)));

          // Assess
          expect(orderIssues(order)).toEqual([]);
          expect(parsed).toEqual(order);
        }),
      );
    });

    it('rejects any field set to a wrong type or an out-of-range value, naming that field', () => {
      fc.assert(
        fc.property(mutatedOrder, ({ order, path, value }) => {
          // Prepare
          const mutated = withValueAt(order, path, value);

          // Act
          const issues = orderIssues(mutated);

          // Assess
          expect(issues.map((issue) => issue.field)).toContain(path);
          expect(() => parseOrderInput(mutated)).toThrow(InvalidOrderError);
        }),
      );
    });

    it('reports a missing required field as "is required" under its own name', () => {
      fc.assert(
        fc.property(
          orderInput.chain((order) => fc.constantFrom(...requiredPathsOf(order)).map((path) => ({ order, path }))),
          ({ order, path }) => {
            // Act
            const issues = orderIssues(withValueAt(order, path, undefined));

            // Assess
            const messages = issues.filter((issue) => issue.field === path).map((issue) => issue.message);
            expect(messages).toEqual([path === 'shippingAddress' ? 'is required for physical orders' : 'is required']);
          },
        ),
      );
    });

    it('names an unknown field wherever it appears', () => {
      fc.assert(
        fc.property(orderInput, fc.constantFrom('', 'items[0].', 'shippingAddress.'), fc.jsonValue(), (order, where, value) => {
          fc.pre(where !== 'shippingAddress.' || order.fulfillment === 'physical');

          // Act
          const issues = orderIssues(withValueAt(order, `${where}discountCode`, value ?? 'X'));

          // Assess
          expect(issues).toContainEqual({ field: `${where}discountCode`, message: 'is not an allowed field' });
        }),
      );
    });

    it('never throws on arbitrary JSON, and parseOrderInput throws only InvalidOrderError', () => {
      const almostAnOrder = fc.record(
        { customerId: fc.jsonValue(), items: fc.oneof(fc.array(fc.jsonValue()), fc.jsonValue()), fulfillment: fc.jsonValue(), shippingAddress: fc.jsonValue() },
        { requiredKeys: [] },
      );
      fc.assert(
        fc.property(fc.oneof(fc.jsonValue(), almostAnOrder, fc.anything()), (value) => {
          // Act
          const issues = orderIssues(value);

          // Assess
          expect(Array.isArray(issues)).toBe(true);
          try {
            parseOrderInput(value);
            expect(issues).toEqual([]);
          } catch (error) {
            expect(error).toBeInstanceOf(InvalidOrderError);
            expect((error as InvalidOrderError).fields).toEqual(issues);
          }
        }),
      );
    });

    it('lists every field at fault at once, with a message a client can show', () => {
      // Prepare
      const body = {
        customerId: '',
        items: [{ sku: 'BOOK-1', quantity: 0, unitPriceCents: 12.5 }],
        fulfillment: 'physical',
        shippingAddress: { name: 'Ada', line1: '1 Main St', city: 'Leeds', postalCode: 'LS1 1AA', country: 'gb' },
      };

      // Act
      const issues = orderIssues(body);

      // Assess
      expect(issues).toEqual([
        { field: 'customerId', message: 'must not be empty' },
        { field: 'items[0].quantity', message: 'must be between 1 and 1000' },
        { field: 'items[0].unitPriceCents', message: 'must be a whole number' },
        { field: 'shippingAddress.country', message: 'must match an ISO 3166-1 alpha-2 code such as GB' },
      ]);
    });

    it('refuses a non-canonical number in quantity or unitPriceCents, a blank or Cf-holding address field, naming each field', () => {
      // Prepare: JSON text, as the API and an import line receive it.
      const body = `{"customerId":"c-1","items":[{"sku":"A","quantity":1e3,"unitPriceCents":-0},{"sku":"B","quantity":1,"unitPriceCents":1000.0000000000000001}],
        "fulfillment":"physical","shippingAddress":{"name":"Ada\u202Eevil","line1":"   ","line2":"\u200B","city":"\u3000","postalCode":"LS1 1AA","country":"GB"}}`;

      // Act
      const issues = orderIssues(parseJsonText(body));

      // Assess
      expect(issues.map((issue) => issue.field)).toEqual([
        'items[0].quantity',
        'items[0].unitPriceCents',
        'items[1].unitPriceCents',
        'shippingAddress.name',
        'shippingAddress.line1',
        'shippingAddress.line2',
        'shippingAddress.city',
      ]);
      expect(() => parseOrderInput(parseJsonText(body))).toThrow(InvalidOrderError);
      expect(orderIssues(parseJsonText('{"customerId":"c-1","items":[{"sku":"A","quantity":1000,"unitPriceCents":0}],"fulfillment":"digital"}'))).toEqual([]);
    });

    it('answers a body that is not an object with one (body) issue', () => {
      for (const body of [null, [], 'order', 42]) expect(orderIssues(body)).toEqual([{ field: '(body)', message: 'must be a JSON object' }]);
    });

    it('keeps nothing but the schema fields when it parses', () => {
      // Prepare
      const order = { customerId: 'c-1', items: [{ sku: 'A', quantity: 1, unitPriceCents: 1 }], fulfillment: 'digital' };

      // Act
      const parsed = parseOrderInput(order);
      order.items[0]!.quantity = 5;

      // Assess
      expect(parsed.items[0]?.quantity).toBe(1);
    });

    it('accepts the limits themselves and rejects one past them', () => {
      // Prepare
      const at = { sku: 'A', quantity: LIMITS.maxQuantity, unitPriceCents: LIMITS.maxUnitPriceCents };
      const order = (items: unknown[]): unknown => ({ customerId: 'c-1', items, fulfillment: 'digital' });

      // Act + Assess
      expect(orderIssues(order(Array.from({ length: LIMITS.maxItems }, () => at)))).toEqual([]);
      expect(orderIssues(order(Array.from({ length: LIMITS.maxItems + 1 }, () => at)))).toEqual([{ field: 'items', message: 'must hold at most 100 items' }]);
      expect(orderIssues(order([{ ...at, quantity: LIMITS.maxQuantity + 1 }])).map((issue) => issue.field)).toEqual(['items[0].quantity']);
      expect(orderIssues(order([{ ...at, unitPriceCents: LIMITS.maxUnitPriceCents + 1 }])).map((issue) => issue.field)).toEqual(['items[0].unitPriceCents']);
    });
  });

  describe('orderTotalCents', () => {
    it('is an exact integer equal to the sum of quantity x unit price, for any valid order', () => {
      fc.assert(
        fc.property(fc.array(orderItem, { minLength: 1, maxLength: LIMITS.maxItems }), (items) => {
          // Act
          const total = orderTotalCents(items);

          // Assess
          const exact = items.reduce((sum, item) => sum + BigInt(item.quantity) * BigInt(item.unitPriceCents), 0n);
          expect(Number.isSafeInteger(total)).toBe(true);
          expect(BigInt(total)).toBe(exact);
        }),
      );
    });

    it('stays exact at the largest order the limits allow (100 x 1,000 x 10,000,000 = 1e12)', () => {
      const items = Array.from({ length: LIMITS.maxItems }, () => ({ sku: 'A', quantity: LIMITS.maxQuantity, unitPriceCents: LIMITS.maxUnitPriceCents }));
      expect(orderTotalCents(items)).toBe(1e12);
    });
  });

  describe('placeOrder', () => {
    it('adds the order id, the total and the placement time to the input', () => {
      fc.assert(
        fc.property(orderInput, fc.uuid(), fc.date({ noInvalidDate: true, min: new Date('2000-01-01'), max: new Date('2100-01-01') }), (input, orderId, now) => {
          // Act
          const placed = placeOrder(input, { orderId, now });

          // Assess
          expect(placed).toEqual({ ...input, orderId, totalCents: orderTotalCents(input.items), placedAt: now.toISOString() });
        }),
      );
    });
  });
});
