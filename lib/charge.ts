import { createHash } from 'node:crypto';
import { putObjectIfAbsent } from './aws/s3.ts';
import { publishOrderEvent } from './aws/publish.ts';
import { eventIdFor, type OrderChargedEvent, type OrderPlacedEvent } from './events/order-events.ts';

interface ChargeRequest {
  orderId: string;
  customerId: string;
  amountCents: number;
}

interface Charge {
  chargeId: string;
  amountCents: number;
  chargedAt: string;
}

/** Calls the payment provider. Wrapped in Powertools idempotency by the handler: at most one charge per order. */
type ChargePayment = (request: ChargeRequest) => Promise<Charge>;

/**
 * The stand-in payment provider: a deterministic charge id per order. Replace it with your provider's client,
 * passing the order id as the provider's own idempotency key too.
 *
 * @example
 * const charge = await simulatedPayment({ orderId, customerId, amountCents: 2598 });
 */
const simulatedPayment: ChargePayment = async ({ orderId, amountCents }) => ({
  chargeId: `ch_${createHash('sha256').update(orderId).digest('hex').slice(0, 24)}`,
  amountCents,
  chargedAt: new Date().toISOString(),
});

const invoiceKeyFor = (orderId: string): string => `documents/invoices/${orderId}.json`;

interface ChargeOptions {
  bucket: string;
  topicArn: string;
  pay: ChargePayment;
}

/**
 * Charges a placed order, stores its invoice (written once: S3 If-None-Match) and publishes OrderCharged
 * (deduplicated by its deterministic id). Every step is safe to repeat, so a redelivered message does no harm.
 *
 * @example
 * const charged = await chargeOrder(event, { bucket, topicArn, pay: idempotentPayment });
 */
const chargeOrder = async (placed: OrderPlacedEvent, { bucket, topicArn, pay }: ChargeOptions): Promise<OrderChargedEvent> => {
  const { orderId, order } = placed;
  const charge = await pay({ orderId, customerId: order.customerId, amountCents: order.totalCents });
  const invoiceKey = invoiceKeyFor(orderId);
  const invoice = {
    invoiceNumber: `INV-${orderId}`,
    orderId,
    customerId: order.customerId,
    chargeId: charge.chargeId,
    issuedAt: charge.chargedAt,
    lines: order.items.map((item) => ({ ...item, lineTotalCents: item.quantity * item.unitPriceCents })),
    totalCents: charge.amountCents,
  };
  await putObjectIfAbsent(bucket, invoiceKey, JSON.stringify(invoice, null, 2));
  const charged: OrderChargedEvent = {
    type: 'OrderCharged',
    eventId: eventIdFor(orderId, 'OrderCharged'),
    orderId,
    occurredAt: charge.chargedAt,
    correlationId: placed.correlationId,
    fulfillment: placed.fulfillment,
    chargeId: charge.chargeId,
    amountCents: charge.amountCents,
    invoiceKey,
  };
  await publishOrderEvent(topicArn, charged);
  return charged;
};

export type { ChargePayment };
export { simulatedPayment, invoiceKeyFor, chargeOrder };
