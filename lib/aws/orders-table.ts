import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { OrderItem, ShippingAddress, Fulfillment } from '../domain/order.ts';
import { deriveStatus, statusesBelow, timeline, type OrderStatus, type TimelineEntry } from '../domain/status.ts';
import type { OrderEvent } from '../events/order-events.ts';
import { documents } from './clients/dynamodb.ts';

/** The Orders table item: one per order, written only by recordOrderEvent, notifyCustomer and requestReview. */
interface OrderItemRecord {
  orderId: string;
  status?: OrderStatus;
  customerId?: string;
  fulfillment?: Fulfillment;
  items?: OrderItem[];
  shippingAddress?: ShippingAddress;
  totalCents?: number;
  correlationId?: string;
  placedAt?: string;
  chargedAt?: string;
  shippedAt?: string;
  invoiceKey?: string;
  labelKey?: string;
  trackingNumber?: string;
  invoiceNotifiedAt?: string;
  labelNotifiedAt?: string;
  reviewRequestedAt?: string;
  /** When the stored status first became COMPLETED. */
  completedAt?: string;
  /** S3 event sequencers of the invoice's and the label's writes: more than one means the document was written twice. */
  invoiceWrites?: Set<string>;
  labelWrites?: Set<string>;
}

/** What GET /orders/{id} answers: write sets become counts. */
interface OrderView extends Omit<OrderItemRecord, 'status' | 'invoiceWrites' | 'labelWrites'> {
  status: OrderStatus;
  timeline: TimelineEntry[];
  invoiceWrites: number;
  labelWrites: number;
}

const STEP_ATTRIBUTE = { OrderPlaced: 'placedAt', OrderCharged: 'chargedAt', OrderShipped: 'shippedAt' } as const;

/** The attributes an event contributes; each is written with if_not_exists, so a duplicate changes nothing. */
const attributesFrom = (event: OrderEvent): Record<string, unknown> => {
  const common = { fulfillment: event.fulfillment, correlationId: event.correlationId, [STEP_ATTRIBUTE[event.type]]: event.occurredAt };
  switch (event.type) {
    case 'OrderPlaced': {
      const { customerId, items, shippingAddress, totalCents } = event.order;
      return { ...common, customerId, items, shippingAddress, totalCents };
    }
    case 'OrderCharged':
      return { ...common, invoiceKey: event.invoiceKey };
    case 'OrderShipped':
      return { ...common, labelKey: event.labelKey, trackingNumber: event.trackingNumber };
  }
};

/**
 * The status write that can ride on the event's own attribute write, with no condition and no read:
 * - when the event alone completes the order (a digital order's OrderCharged), COMPLETED is set: it is the top
 *   status, so setting it never moves an order back;
 * - else the status the event gives with no other step recorded (OrderPlaced: PLACED), only if no status is set yet
 *   (`if_not_exists`): never above the derived one (steps only add up), so the monotonic write can still follow.
 */
const statusWithEvent = (event: OrderEvent): { status: OrderStatus; completes: boolean } => {
  const status = deriveStatus({ fulfillment: event.fulfillment, [STEP_ATTRIBUTE[event.type]]: event.occurredAt });
  return { status, completes: status === 'COMPLETED' };
};

/**
 * Records an order event: first write wins for every attribute (`if_not_exists`), so duplicates and redeliveries
 * are harmless; then moves the stored status forward only (a condition rejects any step back).
 * Returns the order's status after the event.
 *
 * One write per event when the event alone tells the status (OrderPlaced sets PLACED if no status is set yet; a
 * digital order's OrderCharged sets COMPLETED): the status rides on the attribute write (statusWithEvent). A second,
 * conditional write is made only when the stored status is behind the derived one (a physical order's OrderCharged
 * or OrderShipped, whose status depends on the other step).
 *
 * @example
 * const status = await recordEvent(tableName, parseOrderEvent(record.body));
 */
const recordEvent = async (tableName: string, event: OrderEvent): Promise<OrderStatus> => {
  const attributes = Object.entries(attributesFrom(event)).filter(([, value]) => value !== undefined);
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const sets = attributes.map(([name, value], index) => {
    names[`#a${index}`] = name;
    values[`:v${index}`] = value;
    return `#a${index} = if_not_exists(#a${index}, :v${index})`;
  });
  const withEvent = statusWithEvent(event);
  names['#status'] = 'status';
  values[':status'] = withEvent.status;
  if (withEvent.completes) {
    // completedAt: set once, when the order first reaches COMPLETED (order-to-completion latency).
    names['#completedAt'] = 'completedAt';
    values[':now'] = new Date().toISOString();
    sets.push('#status = :status', '#completedAt = if_not_exists(#completedAt, :now)');
  } else {
    sets.push('#status = if_not_exists(#status, :status)');
  }
  const updated = await documents.send(
    new UpdateCommand({
      TableName: tableName,
      Key: { orderId: event.orderId },
      UpdateExpression: `SET ${sets.join(', ')}`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
      ReturnValues: 'ALL_NEW',
    }),
  );
  const item = updated.Attributes as OrderItemRecord;
  const status = deriveStatus({ ...item, fulfillment: item.fulfillment ?? event.fulfillment });
  if (item.status !== status) await advanceStatus(tableName, event.orderId, status);
  return status;
};

const advanceStatus = async (tableName: string, orderId: string, status: OrderStatus): Promise<void> => {
  const below = statusesBelow(status);
  // DynamoDB's IN needs at least one operand: PLACED has no status below it, so only "not set yet" applies.
  const stepsBack = below.length > 0 ? ` OR #status IN (${below.map((_, i) => `:below${i}`).join(', ')})` : '';
  try {
    await documents.send(
      new UpdateCommand({
        TableName: tableName,
        Key: { orderId },
        // completedAt: set once, when the order first reaches COMPLETED (order-to-completion latency).
        UpdateExpression: status === 'COMPLETED' ? 'SET #status = :status, #completedAt = if_not_exists(#completedAt, :now)' : 'SET #status = :status',
        ConditionExpression: `attribute_not_exists(#status)${stepsBack}`,
        ExpressionAttributeNames: { '#status': 'status', ...(status === 'COMPLETED' ? { '#completedAt': 'completedAt' } : {}) },
        ExpressionAttributeValues: {
          ':status': status,
          ...(status === 'COMPLETED' ? { ':now': new Date().toISOString() } : {}),
          ...Object.fromEntries(below.map((s, i) => [`:below${i}`, s])),
        },
      }),
    );
  } catch (error) {
    // A concurrent writer already stored this status or a later one: monotonic, nothing to do.
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
};

/**
 * Stamps a time attribute once (first write wins): notifications sent, review requested.
 *
 * @example
 * await markOnce(tableName, orderId, 'invoiceNotifiedAt', new Date().toISOString());
 */
const markOnce = async (
  tableName: string,
  orderId: string,
  attribute: 'reviewRequestedAt',
  at: string,
): Promise<void> => {
  await documents.send(
    new UpdateCommand({
      TableName: tableName,
      Key: { orderId },
      UpdateExpression: 'SET #a = if_not_exists(#a, :at)',
      ExpressionAttributeNames: { '#a': attribute },
      ExpressionAttributeValues: { ':at': at },
    }),
  );
};

/**
 * Records that the customer was told about a document: the first notice time wins, and the S3 event's sequencer
 * joins the document's set of writes, so a redelivered event changes nothing while a second write of the document
 * (a duplicated side effect) shows as a second sequencer.
 *
 * @example
 * await recordDocumentNotice(tableName, orderId, 'invoice', { at: new Date().toISOString(), sequencer: object.sequencer });
 */
const recordDocumentNotice = async (
  tableName: string,
  orderId: string,
  document: 'invoice' | 'label',
  { at, sequencer }: { at: string; sequencer: string },
): Promise<void> => {
  await documents.send(
    new UpdateCommand({
      TableName: tableName,
      Key: { orderId },
      UpdateExpression: sequencer ? 'SET #at = if_not_exists(#at, :at) ADD #writes :sequencer' : 'SET #at = if_not_exists(#at, :at)',
      ExpressionAttributeNames: { '#at': `${document}NotifiedAt`, ...(sequencer ? { '#writes': `${document}Writes` } : {}) },
      ExpressionAttributeValues: { ':at': at, ...(sequencer ? { ':sequencer': new Set([sequencer]) } : {}) },
    }),
  );
};

/**
 * Reads an order with its derived status and timeline; undefined until its OrderPlaced has been recorded.
 *
 * @example
 * const order = await getOrderView(tableName, orderId);
 */
const getOrderView = async (tableName: string, orderId: string): Promise<OrderView | undefined> => {
  const result = await documents.send(new GetCommand({ TableName: tableName, Key: { orderId } }));
  const item = result.Item as OrderItemRecord | undefined;
  if (!item?.placedAt || !item.fulfillment) return undefined;
  const steps = { ...item, fulfillment: item.fulfillment };
  const { invoiceWrites, labelWrites, ...rest } = item;
  return { ...rest, status: deriveStatus(steps), timeline: timeline(steps), invoiceWrites: invoiceWrites?.size ?? 0, labelWrites: labelWrites?.size ?? 0 };
};


export { recordEvent, markOnce, recordDocumentNotice, getOrderView };
