import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { OrderItem, ShippingAddress, Fulfillment } from '../domain/order.ts';
import { deriveStatus, timeline, type OrderStatus, type TimelineEntry } from '../domain/status.ts';
import type { OrderEvent } from '../events/order-events.ts';
import { documents } from './clients/dynamodb.ts';

/** The Orders table item: one per order, written only by the consumers (recordOrderEvent and the ones that stamp a time). */
interface OrderItemRecord {
  orderId: string;
  status?: OrderStatus;
  /** The `sub` of the caller who placed it (lib/auth.ts ownedBy); none for imported orders. */
  ownerId?: string;
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
  reviewRequestedAt?: string; // slice-line:reviews
  shipmentAnnouncedAt?: string;
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
      const { customerId, items, shippingAddress, totalCents, ownerId } = event.order;
      return { ...common, customerId, items, shippingAddress, totalCents, ownerId };
    }
    case 'OrderCharged':
      return { ...common, invoiceKey: event.invoiceKey };
    case 'OrderShipped':
      return { ...common, labelKey: event.labelKey, trackingNumber: event.trackingNumber };
  }
};

/** The step that, with this event's, completes a physical order. */
const OTHER_STEP = { OrderCharged: 'shippedAt', OrderShipped: 'chargedAt' } as const;

/**
 * How an event's write sets the status, in the same request as its attributes (no read, no second write):
 * - `top`: the event alone completes the order (a digital order's OrderCharged): COMPLETED is the top status, so
 *   setting it never moves an order back;
 * - `first`: OrderPlaced's PLACED, only if no status is set yet (`if_not_exists`);
 * - `unless`: a physical order's OrderCharged or OrderShipped sets CHARGED or SHIPPED on condition that the other
 *   step is not recorded yet. If it is, the condition fails and the event completes the order (`top`). Without the
 *   other step the stored status can only be none, PLACED or this one, so the write never moves the order back.
 */
type StatusWrite = { kind: 'top' } | { kind: 'first'; status: OrderStatus } | { kind: 'unless'; status: OrderStatus; otherStep: string };

const statusWrite = (event: OrderEvent): StatusWrite => {
  const status = deriveStatus({ fulfillment: event.fulfillment, [STEP_ATTRIBUTE[event.type]]: event.occurredAt });
  if (status === 'COMPLETED') return { kind: 'top' };
  if (status === 'PLACED' || event.type === 'OrderPlaced') return { kind: 'first', status };
  return { kind: 'unless', status, otherStep: OTHER_STEP[event.type] };
};

/** One UpdateItem: the event's attributes, each with if_not_exists (first write wins), and the status as `write` says. */
const writeEvent = async (tableName: string, event: OrderEvent, write: StatusWrite): Promise<OrderItemRecord | undefined> => {
  const attributes = Object.entries(attributesFrom(event)).filter(([, value]) => value !== undefined);
  const names: Record<string, string> = { '#status': 'status' };
  const values: Record<string, unknown> = { ':status': write.kind === 'top' ? 'COMPLETED' : write.status };
  const sets = attributes.map(([name, value], index) => {
    names[`#a${index}`] = name;
    values[`:v${index}`] = value;
    return `#a${index} = if_not_exists(#a${index}, :v${index})`;
  });
  if (write.kind === 'top') {
    // completedAt: set once, when the order first reaches COMPLETED (order-to-completion latency).
    names['#completedAt'] = 'completedAt';
    values[':now'] = new Date().toISOString();
    sets.push('#status = :status', '#completedAt = if_not_exists(#completedAt, :now)');
  } else if (write.kind === 'first') {
    sets.push('#status = if_not_exists(#status, :status)');
  } else {
    names['#other'] = write.otherStep;
    sets.push('#status = :status');
  }
  const updated = await documents.send(
    new UpdateCommand({
      TableName: tableName,
      Key: { orderId: event.orderId },
      UpdateExpression: `SET ${sets.join(', ')}`,
      ...(write.kind === 'unless' ? { ConditionExpression: 'attribute_not_exists(#other)' } : {}),
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
      ...(write.kind === 'first' ? { ReturnValues: 'ALL_NEW' as const } : {}),
    }),
  );
  return updated.Attributes as OrderItemRecord | undefined;
};

/**
 * Records an order event: first write wins for every attribute (`if_not_exists`), so duplicates and redeliveries
 * are harmless, and the status moves forward only, in the same write (statusWrite). Returns the order's status
 * after the event.
 *
 * One UpdateItem per event, except the second of a physical order's OrderCharged and OrderShipped: its conditional
 * write fails (the other step is there) and a second write completes the order. A physical order costs 4 writes
 * (placed, charged, shipped + 1), a digital one 2.
 *
 * @example
 * const status = await recordEvent(tableName, parseOrderEvent(record.body));
 */
const recordEvent = async (tableName: string, event: OrderEvent): Promise<OrderStatus> => {
  const write = statusWrite(event);
  if (write.kind === 'top') {
    await writeEvent(tableName, event, write);
    return 'COMPLETED';
  }
  if (write.kind === 'first') {
    const item = (await writeEvent(tableName, event, write)) as OrderItemRecord;
    // A late OrderPlaced (a redelivery) answers the status the recorded steps give.
    return deriveStatus({ ...item, fulfillment: item.fulfillment ?? event.fulfillment });
  }
  try {
    await writeEvent(tableName, event, write);
    return write.status;
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    // The other step is recorded: with this one, the order is complete.
    await writeEvent(tableName, event, { kind: 'top' });
    return 'COMPLETED';
  }
};

/** The time attributes markOnce stamps. */
type StampedAttribute =
  | 'reviewRequestedAt' // slice-line:reviews
  | 'shipmentAnnouncedAt';

/**
 * Stamps a time attribute once (first write wins): shipment announced, review requested.
 *
 * @example
 * await markOnce(tableName, orderId, 'shipmentAnnouncedAt', new Date().toISOString());
 */
const markOnce = async (
  tableName: string,
  orderId: string,
  attribute: StampedAttribute,
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
export type { OrderView };
