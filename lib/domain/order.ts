import { InvalidOrderError, type FieldError } from './errors.ts';
import { checkInteger, checkKnownKeys, checkOneOf, checkString, isRecord, type Issues } from './validate.ts';

const FULFILLMENTS = ['physical', 'digital'] as const;
type Fulfillment = (typeof FULFILLMENTS)[number];

interface OrderItem {
  sku: string;
  quantity: number;
  /** Price of one unit in integer cents: money is never a float. */
  unitPriceCents: number;
}

interface ShippingAddress {
  name: string;
  line1: string;
  line2?: string;
  city: string;
  postalCode: string;
  /** ISO 3166-1 alpha-2, upper case. */
  country: string;
}

/** The body of POST /orders (and one line of an NDJSON import). */
interface OrderInput {
  customerId: string;
  items: OrderItem[];
  fulfillment: Fulfillment;
  shippingAddress?: ShippingAddress;
}

/** An accepted order: the input plus what the system derived from it. */
interface PlacedOrder extends OrderInput {
  orderId: string;
  totalCents: number;
  placedAt: string;
  /** The `sub` of the caller who placed it through the API (none for imported orders, or ones placed before). */
  ownerId?: string;
}

/** Limits of one order; each one keeps the OrderPlaced event far below SNS's 256 KiB message limit. */
const LIMITS = {
  maxItems: 100,
  maxQuantity: 1_000,
  maxUnitPriceCents: 10_000_000,
} as const;

const ID = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;
const SKU = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const COUNTRY = /^[A-Z]{2}$/;

const checkItem = (value: unknown, path: string, issues: Issues): void => {
  if (!isRecord(value)) {
    issues.push({ field: path, message: 'must be an object' });
    return;
  }
  checkKnownKeys(value, ['sku', 'quantity', 'unitPriceCents'], path, issues);
  checkString(value.sku, `${path}.sku`, { max: 64, pattern: SKU, patternHint: 'letters, digits, ".", "_" or "-"' }, issues);
  checkInteger(value.quantity, `${path}.quantity`, 1, LIMITS.maxQuantity, issues);
  checkInteger(value.unitPriceCents, `${path}.unitPriceCents`, 0, LIMITS.maxUnitPriceCents, issues);
};

/** What an order check applies beyond the schema's shape. */
interface OrderRules {
  /**
   * The free-text rules of the edge (no whitespace-only or Cf-holding name or address: checkString's `text`).
   * Consumers turn them off for orders already accepted: an OrderPlaced published before these rules existed
   * (still in a queue, a DLQ or the stream) must not become a poison message when it is redriven.
   */
  humanText: boolean;
}

const checkAddress = (value: unknown, path: string, issues: Issues, { humanText }: OrderRules): void => {
  if (!isRecord(value)) {
    issues.push({ field: path, message: value === undefined ? 'is required for physical orders' : 'must be an object' });
    return;
  }
  checkKnownKeys(value, ['name', 'line1', 'line2', 'city', 'postalCode', 'country'], path, issues);
  checkString(value.name, `${path}.name`, { max: 100, text: humanText }, issues);
  checkString(value.line1, `${path}.line1`, { max: 200, text: humanText }, issues);
  if (value.line2 !== undefined) checkString(value.line2, `${path}.line2`, { max: 200, text: humanText }, issues);
  checkString(value.city, `${path}.city`, { max: 100, text: humanText }, issues);
  checkString(value.postalCode, `${path}.postalCode`, { max: 20, text: humanText }, issues);
  checkString(value.country, `${path}.country`, { min: 2, max: 2, pattern: COUNTRY, patternHint: 'an ISO 3166-1 alpha-2 code such as GB' }, issues);
};

/**
 * Checks an untrusted value against the order schema and lists every field at fault.
 *
 * @example
 * const issues = orderIssues(parseJsonText(body));
 * if (issues.length > 0) return { statusCode: 400, body: JSON.stringify({ error: 'Invalid order', fields: issues }) };
 */
const orderIssues = (value: unknown, rules: OrderRules = { humanText: true }): FieldError[] => {
  const issues: Issues = [];
  if (!isRecord(value)) return [{ field: '(body)', message: 'must be a JSON object' }];
  checkKnownKeys(value, ['customerId', 'items', 'fulfillment', 'shippingAddress'], '', issues);
  checkString(value.customerId, 'customerId', { max: 64, pattern: ID, patternHint: 'letters, digits, ".", "_", ":" or "-"' }, issues);
  if (!Array.isArray(value.items)) {
    issues.push({ field: 'items', message: value.items === undefined ? 'is required' : 'must be an array' });
  } else if (value.items.length === 0) {
    issues.push({ field: 'items', message: 'must hold at least one item' });
  } else if (value.items.length > LIMITS.maxItems) {
    issues.push({ field: 'items', message: `must hold at most ${LIMITS.maxItems} items` });
  } else {
    value.items.forEach((item, index) => checkItem(item, `items[${index}]`, issues));
  }
  if (checkOneOf(value.fulfillment, 'fulfillment', FULFILLMENTS, issues)) {
    if (value.fulfillment === 'physical') checkAddress(value.shippingAddress, 'shippingAddress', issues, rules);
    else if (value.shippingAddress !== undefined) issues.push({ field: 'shippingAddress', message: 'is only allowed for physical orders' });
  }
  return issues;
};

/**
 * Returns the value as a typed order, or throws InvalidOrderError naming every field at fault.
 *
 * @example
 * const order = parseOrderInput(parseJsonText(line)); // throws InvalidOrderError
 */
const parseOrderInput = (value: unknown): OrderInput => {
  const issues = orderIssues(value);
  if (issues.length > 0) throw new InvalidOrderError(issues);
  const input = value as OrderInput;
  // Rebuild so that nothing but the schema's fields travels further.
  return {
    customerId: input.customerId,
    items: input.items.map(({ sku, quantity, unitPriceCents }) => ({ sku, quantity, unitPriceCents })),
    fulfillment: input.fulfillment,
    ...(input.shippingAddress ? { shippingAddress: pickAddress(input.shippingAddress) } : {}),
  };
};

const pickAddress = ({ name, line1, line2, city, postalCode, country }: ShippingAddress): ShippingAddress => ({
  name,
  line1,
  ...(line2 === undefined ? {} : { line2 }),
  city,
  postalCode,
  country,
});

/**
 * Total of an order in integer cents (exact: at most 100 x 1,000 x 10,000,000 = 1e12, far below 2^53).
 *
 * @example
 * orderTotalCents([{ sku: 'BOOK-1', quantity: 2, unitPriceCents: 1299 }]); // 2598
 */
const orderTotalCents = (items: readonly OrderItem[]): number =>
  items.reduce((sum, item) => sum + item.quantity * item.unitPriceCents, 0);

/**
 * Builds the accepted order from validated input.
 *
 * @example
 * const order = placeOrder(parseOrderInput(body), { orderId: randomUUID(), now: new Date() });
 */
const placeOrder = (input: OrderInput, { orderId, now, ownerId }: { orderId: string; now: Date; ownerId?: string }): PlacedOrder => ({
  orderId,
  ...input,
  totalCents: orderTotalCents(input.items),
  placedAt: now.toISOString(),
  ...(ownerId === undefined ? {} : { ownerId }),
});

export type { Fulfillment, OrderItem, ShippingAddress, OrderInput, PlacedOrder };
export { FULFILLMENTS, LIMITS, orderIssues, parseOrderInput, orderTotalCents, placeOrder };
