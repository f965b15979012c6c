import type { OrderView } from './aws/orders-table.ts';

/**
 * What a customer sees of an order (GET /orders/{id}): these fields and no other, copied one by one. Whatever the
 * Orders table gains later (an internal key, a counter, a correlation id) stays out of the API until it is added
 * here. Left out on purpose: `ownerId` (the caller's own `sub`), `correlationId` (tracing), `invoiceKey` and
 * `labelKey` (S3 keys of the documents bucket), the notification and review timestamps, and the duplicate-write
 * counters (operators read those from the table: scripts/load/observe.ts).
 */
const ORDER_VIEW_FIELDS = [
  'orderId',
  'status',
  'customerId',
  'fulfillment',
  'items',
  'shippingAddress',
  'totalCents',
  'placedAt',
  'chargedAt',
  'shippedAt',
  'completedAt',
  'trackingNumber',
  'timeline',
] as const satisfies readonly (keyof OrderView)[];

type CustomerOrderView = Pick<OrderView, (typeof ORDER_VIEW_FIELDS)[number]>;

/**
 * The customer's view of an order: the allow-listed fields that are set.
 *
 * @example
 * return json(200, customerOrderView(await getOrderView(table, orderId)));
 */
const customerOrderView = (order: OrderView): CustomerOrderView => {
  const view: Record<string, unknown> = {};
  for (const field of ORDER_VIEW_FIELDS) if (order[field] !== undefined) view[field] = order[field];
  return view as CustomerOrderView;
};

export { ORDER_VIEW_FIELDS, customerOrderView };
