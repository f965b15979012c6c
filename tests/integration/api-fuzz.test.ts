/**
 * Hostile input at the order API, through the local cloud's HTTP API on the REAL compiled template
 * (`osls package --stage local`): property-based and fuzz cases for POST /orders and GET /orders/{id}.
 *
 * The rules under test (README, "The order API"): every invalid request gets a 4xx with a JSON body
 * `{ error, fields: [{ field, message }] }` whose `fields` names exactly the fields at fault, never a 5xx, and nothing
 * is published or written for it. The last point is checked through the emulators after the pipeline went idle:
 * the Orders and idempotency tables (Scan, every page), a queue subscribed to the order topic with no consumer, the
 * analytics queue and its consumer's Kinesis records, the documents bucket, and every pipeline invocation.
 *
 * Seeded: `FC_SEED=<n>` replays a run (default in helpers/api.ts); the seed and the number of generated cases are
 * printed. fast-check reports a failing case with its seed and path.
 */
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from 'local-cloud';
import {
  ADDRESS_MAX,
  BODY_LIMIT_BYTES,
  FC_SEED,
  badHeaderValue,
  baseOrderArb,
  expectProblem,
  goodHeaderValue,
  itemArb,
  startApiCloud,
  validOrderArb,
  type ApiCloud,
  type Expected,
  type Order,
  type SideEffects,
} from './helpers/api.ts';

/** Generated cases per property; the invalid ones add up to more than 5,000 (the hardening issue's floor). */
const RUNS = { mutations: 2_600, malformed: 600, contentType: 300, oversize: 150, headers: 300, getIds: 900, getRaw: 300, valid: 50 } as const;
const MIN_GENERATED_CASES = 5_000;

// The order schema as the README states it (lib/domain/order.ts holds the string maxima).
const LIMITS = { maxItems: 100, quantity: [1, 1_000], unitPriceCents: [0, 10_000_000] } as const;
const CUSTOMER_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;
const SKU = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const COUNTRY = /^[A-Z]{2}$/;
const ORDER_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
// Random (v4) without an Idempotency-Key, keyed (v8 layout: an HMAC, lib/domain/ids.ts keyedId) with one.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[48][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const TOP_KEYS = ['customerId', 'items', 'fulfillment', 'shippingAddress'];
const ITEM_KEYS = ['sku', 'quantity', 'unitPriceCents'];
const ADDRESS_KEYS = ['name', 'line1', 'line2', 'city', 'postalCode', 'country'];

type Json = unknown;
type Segment = string | number;

// ---------------------------------------------------------------------------------------------------------------
// Mutations: each breaks one field and says which field the answer must name
// ---------------------------------------------------------------------------------------------------------------

interface Target {
  order: Order;
  headers: Record<string, string>;
  /** Returns a placeholder that the body text replaces with `literal`, a JSON number JSON.stringify cannot write. */
  raw(literal: string): string;
}

interface Mutation {
  /** What it touches, for conflicts: `items[0].sku`, `shippingAddress`, `+key` (an extra key), `header:...`. */
  slot: string;
  /** The field the 4xx must name. */
  field: string;
  label: string;
  apply(target: Target): void;
}

/**
 * A mutation before it knows which item it hits: `ITEM` in its path becomes an index of the order's items. The
 * arbitraries are built once and produce templates, so generating a case stays cheap.
 */
type Template = (item: number) => Mutation;

const DELETE = Symbol('delete');
const ITEM = Symbol('item');
type PathSegment = Segment | typeof ITEM;

const fieldName = (segments: readonly Segment[]): string =>
  segments.map((segment, index) => (typeof segment === 'number' ? `[${segment}]` : index === 0 ? segment : `.${segment}`)).join('');

const resolvePath = (segments: readonly PathSegment[], item: number): Segment[] => segments.map((segment) => (segment === ITEM ? item : segment));

/** Sets (or deletes) a value; defineProperty so that keys such as `__proto__` become own, serialised properties. */
const setAt = (root: Record<string, Json>, segments: readonly Segment[], value: Json | typeof DELETE): void => {
  let parent = root as Record<string | number, Json>;
  for (const segment of segments.slice(0, -1)) parent = parent[segment] as Record<string | number, Json>;
  const last = segments.at(-1) as Segment;
  if (value === DELETE) delete parent[last];
  else Object.defineProperty(parent, last, { value, enumerable: true, writable: true, configurable: true });
};

const mutation =
  (segments: readonly PathSegment[], label: string, value: Json | typeof DELETE): Template =>
  (item) => {
    const path = resolvePath(segments, item);
    return { slot: fieldName(path), field: fieldName(path), label: `${fieldName(path)}: ${label}`, apply: ({ order }) => setAt(order, path, value) };
  };

const rawMutation =
  (segments: readonly PathSegment[], literal: string): Template =>
  (item) => {
    const path = resolvePath(segments, item);
    return { slot: fieldName(path), field: fieldName(path), label: `${fieldName(path)}: raw ${literal}`, apply: ({ order, raw }) => setAt(order, path, raw(literal)) };
  };

const nonString = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
);
const nonNumber = fc.oneof(
  fc.integer({ min: -5, max: 2_000 }).map(String),
  fc.constantFrom('NaN', 'Infinity', '-Infinity', '1e3', '0x10', '', ' 1', '12.99'),
  fc.string({ maxLength: 8 }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 2 }),
);
const nonObject = fc.oneof(fc.integer(), fc.string({ maxLength: 10 }), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }));
const controlChar = fc.oneof(fc.integer({ min: 0, max: 0x1f }), fc.integer({ min: 0x7f, max: 0x9f })).map((code) => String.fromCharCode(code));
/** Text SNS, SQS and DynamoDB cannot carry as sent: lone surrogates (no UTF-8 encoding), U+FFFE and U+FFFF (outside SQS's character set). */
const unsafeUnicode = fc.oneof(fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code)), fc.constantFrom('\ufffe', '\uffff'));
/**
 * Format characters (Unicode category Cf) a name or address line must not hold: bidi controls, zero-width characters,
 * invisible operators, the soft hyphen, tag characters (a ZWJ inside an emoji sequence is the one kept: helpers/api.ts).
 */
const formatChar = fc.constantFrom('\u202A', '\u202B', '\u202C', '\u202D', '\u202E', '\u2066', '\u2067', '\u2068', '\u2069', '\u200E', '\u200F', '\u061C', '\u200B', '\u200C', '\u200D', '\u2060', '\u2063', '\uFEFF', '\u00AD', '\u180E', '\u{E0041}');
/** Whitespace only: spaces, no-break and ideographic spaces, line separators (no control character). */
const blank = fc.array(fc.constantFrom(' ', '\u00A0', '\u2003', '\u3000', '\u2028', '\u205F'), { minLength: 1, maxLength: 12 }).map((chars) => chars.join(''));
const insertInto = (base: fc.Arbitrary<string>, inserted: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  fc.tuple(base, inserted, fc.nat()).map(([value, char, at]) => {
    const index = at % (value.length + 1);
    return value.slice(0, index) + char + value.slice(index);
  });
const asciiText = (max: number): fc.Arbitrary<string> => fc.stringMatching(new RegExp(`^[A-Za-z0-9 .,'-]{0,${Math.max(0, max - 1)}}$`));

/** Extra keys: never one the object allows; prototype-shaped and look-alike names included. */
const extraKey = (allowed: readonly string[]): fc.Arbitrary<string> =>
  fc
    .oneof(
      fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '$where', '', ' ', 'a.b', 'items[0]', '\u0000'),
      fc.constantFrom(...allowed).chain((key) => fc.constantFrom(key.toUpperCase(), ` ${key}`, `${key} `, `${key}\u200b`, `${key}s`)),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }),
    )
    .filter((key) => !allowed.includes(key));

const extraKeyMutation = (parent: readonly PathSegment[], allowed: readonly string[]): fc.Arbitrary<Template> =>
  fc.tuple(extraKey(allowed), fc.jsonValue({ maxDepth: 2 })).map(([key, value]) => (item) => {
    const parentPath = resolvePath(parent, item);
    const m = mutation([...parentPath, key], `extra key ${JSON.stringify(key)}`, value)(item);
    return { ...m, slot: `${fieldName(parentPath)}${parentPath.length > 0 ? '.' : ''}+${key}` };
  });

interface StringRule {
  max: number;
  min?: number;
  pattern?: RegExp;
  required: boolean;
}

const stringMutations = (segments: readonly PathSegment[], rule: StringRule): fc.Arbitrary<Template> => {
  const at = (label: string, value: Json | typeof DELETE): Template => mutation(segments, label, value);
  const min = rule.min ?? 1;
  const options: fc.Arbitrary<Template>[] = [
    nonString.map((value) => at(`wrong type ${JSON.stringify(value)}`, value)),
    fc.constant(at('empty', '')),
    fc.integer({ min: rule.max + 1, max: rule.max + 300 }).chain((length) =>
      fc.constantFrom('x', '€', '😀').map((unit) => at(`too long (${length} code units of ${unit})`, unit.repeat(Math.ceil(length / unit.length)))),
    ),
    fc.integer({ min: 5_000, max: 60_000 }).map((length) => at(`very long (${length})`, 'y'.repeat(length))),
    insertInto(asciiText(rule.max), controlChar).map((value) => at(`control character ${JSON.stringify(value)}`, value)),
    insertInto(asciiText(rule.max), unsafeUnicode).map((value) => at(`unsafe unicode ${JSON.stringify(value)}`, value)),
    insertInto(asciiText(rule.max - 1), formatChar).map((value) => at(`format character ${JSON.stringify(value)}`, value)),
    blank.filter((value) => value.length <= rule.max && value.length >= min).map((value) => at(`whitespace only ${JSON.stringify(value)}`, value)),
  ];
  if (rule.required) options.push(fc.constant(at('missing', DELETE)));
  if (min > 1) options.push(fc.integer({ min: 1, max: min - 1 }).map((length) => at(`too short (${length})`, 'A'.repeat(length))));
  if (rule.pattern) {
    const pattern = rule.pattern;
    options.push(
      fc
        .oneof(
          fc.constantFrom("' OR 1=1 --", '<script>', '../x', 'a b', '.lead', '-lead', '_lead', 'ключ', 'é', '😀', 'e\u0301', 'a/b', 'a;b', 'a\\b', 'gb', 'GBR', 'G', '12'),
          fc.string({ unit: 'grapheme', minLength: 1, maxLength: Math.min(rule.max, 20) }),
        )
        .filter((value) => value.length >= min && value.length <= rule.max && !pattern.test(value))
        .map((value) => at(`breaks the pattern ${JSON.stringify(value)}`, value)),
    );
  }
  return fc.oneof(...options);
};

const integerMutations = (segments: readonly PathSegment[], [min, max]: readonly [number, number]): fc.Arbitrary<Template> => {
  const at = (label: string, value: Json | typeof DELETE): Template => mutation(segments, label, value);
  const raws = ['1e400', '-1e400', '1E999', 'NaN', 'Infinity', '-Infinity', '0x10', '01', '+1', '.5', '1.', '1e', '--1', "'1'"];
  // Numbers JSON.parse reads as an in-range integer, written another way than the canonical integer: refused too.
  raws.push('-0', '-0.0', '0.0', '0e0', '1e0', '1E1', '1e3', '10e-1', `${max}.0`, `${max}.0000000000000001`, `${min + 1}.00`, `${max / 10}e1`);
  return fc.oneof(
    fc.constant(at('missing', DELETE)),
    nonNumber.map((value) => at(`wrong type ${JSON.stringify(value)}`, value)),
    fc
      .oneof(
        fc.integer({ min: -(2 ** 31), max: min - 1 }),
        fc.integer({ min: max + 1, max: 2 ** 31 }),
        fc.constantFrom(min - 1, max + 1, -1, 1e15, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 1e300, -1e300, Number.MAX_VALUE, -Number.MAX_VALUE),
      )
      .map((value) => at(`out of range ${value}`, value)),
    fc
      .oneof(
        fc.double({ min: min - 10, max: max + 10, noNaN: true, noDefaultInfinity: true }).filter((value) => !Number.isInteger(value)),
        fc.constantFrom(12.99, 0.5, 1.5, 999.999, 5e-324, 1.0000001),
      )
      .map((value) => at(`fractional ${value}`, value)),
    fc.constantFrom(...raws).map((literal) => rawMutation(segments, literal)),
  );
};

const itemsMutations: fc.Arbitrary<Template>[] = [
  fc.oneof(
    fc.constant(mutation(['items'], 'missing', DELETE)),
    fc.constant(mutation(['items'], 'empty list', [])),
    fc.oneof(fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 2 }), fc.string({ maxLength: 5 }), fc.integer(), fc.boolean(), fc.constant(null)).map((value) =>
      mutation(['items'], `not a list ${JSON.stringify(value)}`, value),
    ),
    fc.array(itemArb, { minLength: LIMITS.maxItems + 1, maxLength: 300 }).map((items) => mutation(['items'], `${items.length} items`, items)),
    fc.integer({ min: 1_000, max: 5_000 }).map((count) => mutation(['items'], `${count} items`, Array.from({ length: count }, () => ({ sku: 'A', quantity: 1, unitPriceCents: 1 })))),
  ),
  nonObject.map((value) => mutation(['items', ITEM], `not an object ${JSON.stringify(value)}`, value)),
  extraKeyMutation(['items', ITEM], ITEM_KEYS),
  stringMutations(['items', ITEM, 'sku'], { max: 64, pattern: SKU, required: true }),
  integerMutations(['items', ITEM, 'quantity'], LIMITS.quantity),
  integerMutations(['items', ITEM, 'unitPriceCents'], LIMITS.unitPriceCents),
];

const addressMutations: fc.Arbitrary<Template>[] = [
  fc.oneof(
    fc.constant(mutation(['shippingAddress'], 'missing on a physical order', DELETE)),
    nonObject.map((value) => mutation(['shippingAddress'], `not an object ${JSON.stringify(value)}`, value)),
  ),
  extraKeyMutation(['shippingAddress'], ADDRESS_KEYS),
  stringMutations(['shippingAddress', 'name'], { max: ADDRESS_MAX.name, required: true }),
  stringMutations(['shippingAddress', 'line1'], { max: ADDRESS_MAX.line1, required: true }),
  stringMutations(['shippingAddress', 'line2'], { max: ADDRESS_MAX.line2, required: false }),
  stringMutations(['shippingAddress', 'city'], { max: ADDRESS_MAX.city, required: true }),
  stringMutations(['shippingAddress', 'postalCode'], { max: ADDRESS_MAX.postalCode, required: true }),
  stringMutations(['shippingAddress', 'country'], { min: 2, max: 2, pattern: COUNTRY, required: true }),
];

const fulfillmentMutations = (from: 'physical' | 'digital'): fc.Arbitrary<Template> =>
  fc.oneof(
    fc.constant(mutation(['fulfillment'], 'missing', DELETE)),
    fc
      .oneof(
        fc.constantFrom('PHYSICAL', 'Digital', 'physical ', ' digital', 'pickup', '', 'рhysical', 'physical\u0000', 'digital\u200b', 'physical,digital'),
        fc.string({ maxLength: 10 }),
        fc.integer(),
        fc.constant(null),
        fc.constant(['physical']),
      )
      .filter((value) => value !== 'physical' && value !== 'digital')
      .map((value) => mutation(['fulfillment'], `not a fulfillment ${JSON.stringify(value)}`, value)),
    // A valid fulfillment that no longer fits the address (physical needs one, digital must not have one).
    fc.constant<Template>(() => ({
      slot: 'fulfillment',
      field: 'shippingAddress',
      label: `fulfillment swapped from ${from}`,
      apply: ({ order }) => setAt(order, ['fulfillment'], from === 'physical' ? 'digital' : 'physical'),
    })),
  );

const headerMutation = (header: 'Idempotency-Key' | 'X-Correlation-Id'): fc.Arbitrary<Template> =>
  badHeaderValue.map((value) => () => ({
    slot: `header:${header}`,
    field: header,
    label: `${header}: ${JSON.stringify(value.slice(0, 40))} (${value.length} chars)`,
    apply: ({ headers }) => {
      headers[header.toLowerCase()] = value;
    },
  }));

const overlaps = (a: string, b: string): boolean => a === b || a.startsWith(`${b}.`) || a.startsWith(`${b}[`) || b.startsWith(`${a}.`) || b.startsWith(`${a}[`);
const conflict = (a: Mutation, b: Mutation): boolean =>
  overlaps(a.slot, b.slot) ||
  a.field === b.field ||
  (a.slot === 'fulfillment' && b.slot.startsWith('shippingAddress')) ||
  (b.slot === 'fulfillment' && a.slot.startsWith('shippingAddress'));
const compatible = (mutations: readonly Mutation[]): boolean => mutations.every((a, i) => mutations.slice(i + 1).every((b) => !conflict(a, b)));

const commonMutations: fc.Arbitrary<Template>[] = [
  stringMutations(['customerId'], { max: 64, pattern: CUSTOMER_ID, required: true }),
  ...itemsMutations,
  extraKeyMutation([], TOP_KEYS),
  headerMutation('Idempotency-Key'),
  headerMutation('X-Correlation-Id'),
];
const mutationsFor = {
  physical: fc.oneof(...commonMutations, fulfillmentMutations('physical'), ...addressMutations),
  digital: fc.oneof(
    ...commonMutations,
    fulfillmentMutations('digital'),
    fc.jsonValue({ maxDepth: 2 }).map((value) => mutation(['shippingAddress'], `on a digital order: ${JSON.stringify(value).slice(0, 40)}`, value)),
  ),
};

/** A valid order, 1-3 compatible mutations (each with the item it hits), and sometimes a valid key or correlation id. */
const mutationCaseArb = fc
  .tuple(baseOrderArb, fc.oneof({ weight: 3, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.integer({ min: 2, max: 3 }) }))
  .chain(([order, howMany]) =>
    fc.record({
      order: fc.constant(order),
      picks: fc.array(fc.tuple(mutationsFor[order.fulfillment], fc.nat()), { minLength: howMany, maxLength: howMany }),
      // A valid key or correlation id on some invalid requests: the key must not be reserved by a rejected request.
      goodHeaders: fc.record({ 'idempotency-key': goodHeaderValue, 'x-correlation-id': goodHeaderValue }, { requiredKeys: [] }),
    }),
  )
  .map(({ order, picks, goodHeaders }) => ({ order, goodHeaders, mutations: picks.map(([template, n]) => template(n % order.items.length)) }))
  .filter(({ mutations }) => compatible(mutations));

// ---------------------------------------------------------------------------------------------------------------
// Assertions
// ---------------------------------------------------------------------------------------------------------------

const parses = (text: string): boolean => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};

const isJsonObjectText = (text: string): boolean => {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
};

/** The media type the contract accepts: `application/json`, any case, any parameters. */
const isJsonMediaType = (contentType: string): boolean => (contentType.split(';')[0] ?? '').trim().toLowerCase() === 'application/json';

// ---------------------------------------------------------------------------------------------------------------

describe('Order API under hostile input (local cloud, compiled template)', () => {
  let t: ApiCloud;
  /** The side effects when the running test began (taken once the pipeline was idle). */
  let baseline: SideEffects;
  const counts: Record<string, number> = {};
  const count = (property: string): void => {
    counts[property] = (counts[property] ?? 0) + 1;
  };
  const generatedCases = (): number => Object.values(counts).reduce((sum, n) => sum + n, 0);
  const assertOptions = (numRuns: number): { seed: number; numRuns: number } => ({ seed: FC_SEED, numRuns });

  beforeAll(async () => {
    console.log(`api-fuzz: fast-check seed ${FC_SEED} (set FC_SEED to replay another)`);
    t = await startApiCloud('api-fuzz');
  });

  beforeEach(async () => {
    baseline = await t.settledSideEffects();
  });

  afterEach((context) => {
    if (context.task.result?.state === 'fail') console.log(`last local cloud log lines:\n${t?.tail(40)}`);
  });

  afterAll(async () => {
    console.log(`api-fuzz: ${generatedCases()} generated cases with seed ${FC_SEED}: ${Object.entries(counts).map(([k, n]) => `${k} ${n}`).join(', ')}`);
    await t?.dispose();
  });

  /** Nothing published or written: every side effect as it was before this test's requests, once the pipeline is idle. */
  const expectNothingChanged = async (): Promise<void> => {
    expect(await t.settledSideEffects()).toEqual(baseline);
  };

  describe('POST /orders', () => {
    it(`a body with 1-3 fields broken (missing, extra, wrong type, out of range, fractional, non-canonical numbers, unicode, control and format characters, whitespace only, too long, 0 or 101+ items) answers 400 naming exactly those fields; nothing is published (${RUNS.mutations} cases)`, async () => {
      await fc.assert(
        fc.asyncProperty(mutationCaseArb, async ({ order, mutations, goodHeaders }) => {
          count('mutations');
          const target: Target = { order: structuredClone(order), headers: { ...goodHeaders }, raw: () => '' };
          const raws: string[] = [];
          target.raw = (literal) => {
            raws.push(literal);
            return `@@raw-${raws.length - 1}@@`;
          };
          for (const m of mutations) m.apply(target);
          let body = JSON.stringify(target.order);
          raws.forEach((literal, i) => {
            body = body.replace(`"@@raw-${i}@@"`, literal);
          });
          const expected: Expected =
            Buffer.byteLength(body) > BODY_LIMIT_BYTES
              ? { status: 413, fields: ['(body)'] }
              : !parses(body)
                ? { status: 400, fields: ['(body)'] }
                : { status: 400, fields: mutations.map((m) => m.field) };
          const answer = await t.http.postOrder(body, target.headers);
          expectProblem(answer, expected, `mutations: ${mutations.map((m) => m.label).join(' | ')}`);
        }),
        assertOptions(RUNS.mutations),
      );
      await expectNothingChanged();
    }, 240_000);

    it(`a body that is not a JSON object (truncated, broken syntax, NaN/Infinity literals, arrays, scalars, random bytes) answers 400 naming (body) (${RUNS.malformed} cases)`, async () => {
      const breakers = [',', '}', '{', '"', ':', ']', '[', 'NaN', 'Infinity', '//c', '/*', "'", '\\', '\u0000', 'undefined', '\n,'];
      const malformed = fc.oneof(
        fc.tuple(baseOrderArb, fc.nat()).map(([order, cut]) => {
          const json = JSON.stringify(order);
          return { label: 'truncated', body: json.slice(0, cut % json.length) as string | Buffer };
        }),
        fc.tuple(baseOrderArb, fc.constantFrom(...breakers), fc.nat()).map(([order, breaker, at]) => {
          const json = JSON.stringify(order);
          const index = at % (json.length + 1);
          return { label: `${JSON.stringify(breaker)} spliced in`, body: json.slice(0, index) + breaker + json.slice(index) };
        }),
        fc.constantFrom('', ' ', 'NaN', 'Infinity', 'undefined', "{'customerId':'c'}", '{"customerId":"c",}', '{customerId:"c"}', '{}{}', '{"a":1}x', '[', '['.repeat(50_000)).map(
          (body) => ({ label: 'literal', body }),
        ),
        fc.jsonValue({ maxDepth: 3 }).map((value) => ({ label: 'JSON, not an object', body: JSON.stringify(value) ?? 'null' })),
        fc.string({ unit: 'binary', maxLength: 200 }).map((body) => ({ label: 'random text', body })),
        fc.uint8Array({ maxLength: 200 }).map((bytes) => ({ label: 'random bytes', body: Buffer.from(bytes) })),
      );
      await fc.assert(
        fc.asyncProperty(
          malformed.filter(({ body }) => !isJsonObjectText(Buffer.isBuffer(body) ? body.toString('utf8') : body)),
          async ({ label, body }) => {
            count('malformed');
            const answer = await t.http.postOrder(body);
            expectProblem(answer, { status: 400, fields: ['(body)'] }, `${label}: ${JSON.stringify(String(body).slice(0, 200))}`);
          },
        ),
        assertOptions(RUNS.malformed),
      );
      await expectNothingChanged();
    }, 120_000);

    it(`a content type other than application/json, or none, answers 415 naming content-type, even with a valid order (${RUNS.contentType} cases)`, async () => {
      const contentType = fc
        .oneof(
          fc.constantFrom(
            'text/plain',
            'text/json',
            'application/x-www-form-urlencoded',
            'multipart/form-data; boundary=x',
            'application/xml',
            'application/jsonp',
            'application/json-patch+json',
            'application/json5',
            'application/vnd.api+json',
            'application/x-json',
            'json',
            'application',
            '*/*',
            'application/*',
            'text/html; charset=utf-8',
            'application/octet-stream',
            '',
            'application/ json',
            'application/json\u00e9',
          ),
          fc.tuple(fc.constantFrom('text', 'application', 'multipart', 'image', 'x-foo'), fc.stringMatching(/^[a-z0-9.+-]{1,20}$/)).map(([type, sub]) => `${type}/${sub}`),
        )
        .filter((value) => !isJsonMediaType(value));
      await fc.assert(
        fc.asyncProperty(fc.tuple(contentType, validOrderArb), async ([type, order]) => {
          count('contentType');
          const answer = await t.http.postOrder(order, { 'content-type': type });
          expectProblem(answer, { status: 415, fields: ['content-type'] }, `content-type ${JSON.stringify(type)}`);
        }),
        assertOptions(RUNS.contentType),
      );
      // No content type at all (null leaves the header out): a 415 too.
      expectProblem(await t.http.postOrder(fc.sample(validOrderArb, { numRuns: 1, seed: FC_SEED })[0], { 'content-type': null }), { status: 415, fields: ['content-type'] }, 'no content-type');
      await expectNothingChanged();
    }, 120_000);

    it(`a body over 262,144 bytes answers 413 naming (body), whatever it holds (a valid order padded included) (${RUNS.oversize} cases)`, async () => {
      const oversized = fc.record({
        order: baseOrderArb,
        size: fc.oneof(fc.constant(BODY_LIMIT_BYTES + 1), fc.integer({ min: BODY_LIMIT_BYTES + 1, max: BODY_LIMIT_BYTES + 200_000 })),
        padding: fc.constantFrom('whitespace', 'ascii field', 'euro field', 'emoji field', 'items'),
      });
      await fc.assert(
        fc.asyncProperty(oversized, async ({ order, size, padding }) => {
          count('oversize');
          const json = JSON.stringify(order);
          const missing = size - Buffer.byteLength(json);
          let body: string;
          if (padding === 'whitespace') body = json + ' '.repeat(missing);
          else if (padding === 'items') {
            const item = { sku: 'A', quantity: 1, unitPriceCents: 1 };
            const perItem = Buffer.byteLength(JSON.stringify(item)) + 1;
            body = JSON.stringify({ ...order, items: [...order.items, ...Array.from({ length: Math.ceil(missing / perItem) + 1 }, () => item)] });
          }
          else {
            const unit = padding === 'ascii field' ? 'x' : padding === 'euro field' ? '€' : '😀';
            body = JSON.stringify({ ...order, note: unit.repeat(Math.ceil(missing / Buffer.byteLength(unit)) + 1) });
          }
          expect(Buffer.byteLength(body)).toBeGreaterThan(BODY_LIMIT_BYTES);
          const answer = await t.http.postOrder(body);
          expectProblem(answer, { status: 413, fields: ['(body)'] }, `${padding}, ${Buffer.byteLength(body)} bytes`);
        }),
        assertOptions(RUNS.oversize),
      );
      await expectNothingChanged();
    }, 180_000);

    it(`a valid order with an Idempotency-Key or X-Correlation-Id that is not 1-128 visible ASCII characters answers 400 naming the header; nothing is published (${RUNS.headers} cases)`, async () => {
      const headerCase = fc.record(
        { order: validOrderArb, key: badHeaderValue, correlation: badHeaderValue },
        { requiredKeys: ['order'] },
      ).filter(({ key, correlation }) => key !== undefined || correlation !== undefined);
      await fc.assert(
        fc.asyncProperty(headerCase, async ({ order, key, correlation }) => {
          count('headers');
          const headers: Record<string, string> = {};
          const fields: string[] = [];
          if (key !== undefined) {
            headers['idempotency-key'] = key;
            fields.push('Idempotency-Key');
          }
          if (correlation !== undefined) {
            headers['x-correlation-id'] = correlation;
            fields.push('X-Correlation-Id');
          }
          const answer = await t.http.postOrder(order, headers);
          expectProblem(answer, { status: 400, fields }, `headers ${JSON.stringify(headers).slice(0, 200)}`);
        }),
        assertOptions(RUNS.headers),
      );
      await expectNothingChanged();
    }, 120_000);

    it('judges a body of exactly 262,144 bytes on its fields and answers 413 one byte over', async () => {
      const invalid = { items: [{ sku: 'A', quantity: 1, unitPriceCents: 1 }], fulfillment: 'digital' }; // customerId missing
      const json = JSON.stringify(invalid);
      const atLimit = json + ' '.repeat(BODY_LIMIT_BYTES - Buffer.byteLength(json));
      expectProblem(await t.http.postOrder(atLimit), { status: 400, fields: ['customerId'] }, 'exactly 262,144 bytes');
      expectProblem(await t.http.postOrder(`${atLimit} `), { status: 413, fields: ['(body)'] }, '262,145 bytes');
      // Bytes, not characters: 87,382 three-byte characters are 262,146 bytes.
      const euros = JSON.stringify({ ...invalid, note: '€'.repeat(87_382) });
      expect(euros.length).toBeLessThan(BODY_LIMIT_BYTES);
      expectProblem(await t.http.postOrder(euros), { status: 413, fields: ['(body)'] }, 'multi-byte body over the limit');
      await expectNothingChanged();
    });

    it('answers a deeply nested body (50,000 levels) with a 4xx, never a 5xx', async () => {
      const deepArray = `${'['.repeat(50_000)}${']'.repeat(50_000)}`;
      expectProblem(await t.http.postOrder(deepArray), { status: 400, fields: ['(body)'] }, 'deep array');
      const deepObject = `{"customerId":${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)},"items":[{"sku":"A","quantity":1,"unitPriceCents":1}],"fulfillment":"digital"}`;
      expectProblem(await t.http.postOrder(deepObject), { status: 400, fields: ['customerId'] }, 'deep object in customerId');
      const deepItem = `{"customerId":"c","items":[${'['.repeat(20_000)}${']'.repeat(20_000)}],"fulfillment":"digital"}`;
      expectProblem(await t.http.postOrder(deepItem), { status: 400, fields: ['items[0]'] }, 'deep array as an item');
      await expectNothingChanged();
    });

    it("answers 413 for a body over the HTTP API's own 10 MB limit (API Gateway's answer) and keeps serving", async () => {
      const huge = await t.http.send({ method: 'POST', path: '/orders', headers: { 'content-type': 'application/json' }, body: Buffer.alloc(10 * 1024 * 1024 + 1, 0x20), fresh: true });
      expect(huge.status).toBe(413);
      expect(huge.json).toEqual({ message: 'Request Entity Too Large' });
      // A Content-Length that announces more than the limit is refused before the body is read.
      const announced = await t.http.send({ method: 'POST', path: '/orders', headers: { 'content-type': 'application/json', 'content-length': String(20 * 1024 * 1024) }, body: '{}', fresh: true }).catch((error: Error) => error);
      if (!(announced instanceof Error)) expect(announced.status).toBe(413);
      expectProblem(await t.http.postOrder('{}'), { status: 400, fields: ['customerId', 'items', 'fulfillment'] }, 'after the 413s');
      await expectNothingChanged();
    });
  });

  describe('GET /orders/{id}', () => {
    const HOSTILE_IDS = [
      '../',
      '../../etc/passwd',
      '..\\..\\windows',
      '%2e%2e%2f',
      "' OR 1=1 --",
      "1' OR '1'='1",
      '1; DROP TABLE orders',
      '<script>alert(1)</script>',
      '${jndi:ldap://x/a}',
      '{"$ne": null}',
      '\u0000',
      'a\u0000b',
      '\r\nSet-Cookie: x=y',
      '😀',
      'ключ',
      '\u202Eabc',
      'e\u0301',
      ' ',
      '-',
      '_',
      'a'.repeat(65),
      'a'.repeat(10_000),
    ];
    const idArb = fc.oneof(
      fc.uuid(),
      fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/),
      fc.constantFrom(...HOSTILE_IDS),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 80 }),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }).filter((id) => id.isWellFormed()),
      fc.stringMatching(/^[A-Za-z0-9_-]{65,300}$/),
      fc.integer({ min: 65, max: 4_000 }).map((length) => 'a'.repeat(length)),
    );

    it(`an id that is not 1-64 letters, digits, "_" or "-" answers 400 naming orderId, an unknown valid one 404 naming orderId (${RUNS.getIds} cases)`, async () => {
      await fc.assert(
        fc.asyncProperty(idArb, async (id) => {
          count('getIds');
          const answer = await t.http.send({ path: `/orders/${encodeURIComponent(id)}` });
          const what = `GET /orders/${JSON.stringify(id.slice(0, 100))}`;
          if (id === '.' || id === '..') {
            // A dot segment is removed from the path (URL standard): no route matches, API Gateway answers 404.
            expect(answer.status, what).toBe(404);
            return;
          }
          expectProblem(answer, { status: ORDER_ID.test(id) ? 404 : 400, fields: ['orderId'] }, what);
        }),
        assertOptions(RUNS.getIds),
      );
      await expectNothingChanged();
    }, 120_000);

    it(`a raw hostile path (traversal, double or broken percent-encoding, injection shapes) or another method answers 400 or 404, never 5xx (${RUNS.getRaw} cases)`, async () => {
      const piece = fc.constantFrom(
        '../',
        '..',
        '.',
        '%2e%2e%2f',
        '%2e%2e/',
        '..%2f',
        '%2e%2e%5c',
        '..;/',
        '%2f',
        '/',
        '//',
        '%00',
        '%',
        '%zz',
        '%E0%A4%A',
        '%C0%AE',
        '%C0%AF',
        '%ED%A0%80',
        '%252e%252e%252f',
        '%u2215',
        ';',
        "'",
        "'%20OR%201=1--",
        '<script>',
        '%3Cscript%3E',
        '${jndi:x}',
        '?',
        '?id=1',
        '#',
        '~',
        '*',
        '\\',
        '%5c',
        '|',
        '`',
        '"',
        '{',
        '}',
        'abc',
        'A-1',
        '\u00e9',
      );
      const rawCase = fc.record({
        method: fc.oneof({ weight: 6, arbitrary: fc.constant('GET') }, { weight: 1, arbitrary: fc.constantFrom('PUT', 'DELETE', 'PATCH', 'OPTIONS') }),
        path: fc.array(piece, { minLength: 1, maxLength: 5 }).map((pieces) => `/orders/${pieces.join('')}`),
      });
      await fc.assert(
        fc.asyncProperty(rawCase, async ({ method, path }) => {
          count('getRaw');
          const answer = await t.http.send({ method, path, ...(method === 'PUT' || method === 'PATCH' ? { headers: { 'content-type': 'application/json' }, body: '{}' } : {}) });
          const what = `${method} ${path}\n→ ${answer.status} ${answer.text.slice(0, 300)}`;
          expect([400, 404], what).toContain(answer.status);
          if (answer.headers['content-type'] === undefined && /[^\x21-\x7e]/.test(path)) {
            // Node's HTTP parser refuses a raw non-ASCII byte in the request line (400, no body) before any routing.
            expect(answer.status, what).toBe(400);
            return;
          }
          expect(answer.headers['content-type'], what).toMatch(/^application\/json/);
          expect(answer.json, what).toBeTypeOf('object');
          const body = answer.json as { message?: string; fields?: { field: string }[] };
          // Either the function's problem naming orderId, or API Gateway's own answer when no route matches.
          if (body.fields) expect(body.fields.map((f) => f.field), what).toEqual(['orderId']);
          else expect(body, what).toEqual({ message: 'Not Found' });
        }),
        assertOptions(RUNS.getRaw),
      );
      await expectNothingChanged();
    }, 120_000);

    it('answers 400, not 500, to request targets a URL parser rejects, and keeps serving', async () => {
      for (const path of ['http://[bad/orders/x', 'http://%zz/orders/abc', 'http://a:b@[::1]:99999/orders/x']) {
        const answer = await t.http.send({ path });
        expect(answer.status, `GET ${path} → ${answer.text}`).toBe(400);
      }
      for (const path of ['/orders/%', '/orders/%zz', '/orders/%E0%A4%A', '/orders/%ED%A0%80']) {
        expectProblem(await t.http.send({ path }), { status: 400, fields: ['orderId'] }, `GET ${path} (invalid percent-encoding)`);
      }
      // Node refuses a request line over its 16 KiB header limit with 431 before routing: a 4xx.
      const long = await t.http.send({ path: `/orders/${'a'.repeat(20_000)}`, fresh: true });
      expect(long.status).toBeGreaterThanOrEqual(400);
      expect(long.status).toBeLessThan(500);
      expectProblem(await t.http.send({ path: '/orders/not-there' }), { status: 404, fields: ['orderId'] }, 'after the hostile targets');
      await expectNothingChanged();
    });
  });

  describe('valid orders', () => {
    it(`any valid order (unicode, injection-shaped text, boundary values, up to 100 items) answers 202, is published once and stored verbatim (${RUNS.valid} cases)`, async () => {
      const before = baseline;
      await t.drainPublished();
      const accepted: { orderId: string; order: Order }[] = [];
      const acceptedTypes = fc.constantFrom('application/json', 'application/json; charset=utf-8', 'Application/JSON;charset=UTF-8');
      let run = 0;
      await fc.assert(
        fc.asyncProperty(fc.tuple(validOrderArb, acceptedTypes, fc.option(goodHeaderValue), fc.option(goodHeaderValue)), async ([order, type, key, correlation]) => {
          count('valid');
          run += 1;
          const headers: Record<string, string> = { 'content-type': type };
          // A fresh key per run: the same key with another body would rightly be a 422.
          if (key !== null) headers['idempotency-key'] = `${key.slice(0, 100)}-${FC_SEED}-${run}`;
          if (correlation !== null) headers['x-correlation-id'] = correlation;
          const answer = await t.http.postOrder(order, headers);
          const what = `${JSON.stringify(order).slice(0, 300)} ${JSON.stringify(headers)}\n→ ${answer.status} ${answer.text.slice(0, 300)}`;
          expect(answer.status, what).toBe(202);
          const { orderId, status } = answer.json as { orderId: string; status: string };
          expect(orderId, what).toMatch(UUID);
          expect(status, what).toBe('PLACED');
          expect(answer.headers.location, what).toBe(`/orders/${orderId}`);
          accepted.push({ orderId, order });
        }),
        assertOptions(RUNS.valid),
      );

      // Stored verbatim by recordOrderEvent, and served back by GET.
      for (const { orderId, order } of accepted) {
        let item: Record<string, unknown> | undefined;
        await waitFor(async () => (item = await t.orderItem(orderId)) !== undefined && item.placedAt !== undefined, { what: `order ${orderId} in the Orders table`, timeoutMs: 30_000, intervalMs: 100 });
        const stored = { customerId: item?.customerId, items: item?.items, fulfillment: item?.fulfillment, shippingAddress: item?.shippingAddress };
        expect(stored, orderId).toEqual({ customerId: order.customerId, items: order.items, fulfillment: order.fulfillment, shippingAddress: order.shippingAddress });
        const got = await t.http.send({ path: `/orders/${orderId}` });
        expect(got.status, orderId).toBe(200);
        expect((got.json as { shippingAddress?: unknown }).shippingAddress, orderId).toEqual(order.shippingAddress);
      }
      const after = await t.settledSideEffects();
      expect(after.orders - before.orders).toBe(accepted.length);
      const placed = (await t.drainPublished())
        .map((message) => JSON.parse(message.Body ?? '{}') as { type: string; orderId: string })
        .filter((event) => event.type === 'OrderPlaced')
        .map((event) => event.orderId);
      expect(placed.sort()).toEqual(accepted.map((a) => a.orderId).sort());
    }, 240_000);
  });

  it(`ran at least ${MIN_GENERATED_CASES.toLocaleString('en')} generated cases`, () => {
    const invalid = generatedCases() - (counts.valid ?? 0);
    console.log(`api-fuzz: ${invalid} invalid + ${counts.valid ?? 0} valid generated cases (seed ${FC_SEED})`);
    expect(invalid).toBeGreaterThanOrEqual(MIN_GENERATED_CASES);
  });
});
