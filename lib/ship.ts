import { createHash } from 'node:crypto';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { sqs } from './aws/clients/sqs.ts';
import { publishOrderEvent } from './aws/publish.ts';
import { putObjectIfAbsent } from './aws/s3.ts';
import { publishShipmentNotice } from './shipment-notices.ts';
import { InvalidEventError } from './domain/errors.ts';
import { eventIdFor, type OrderPlacedEvent, type OrderShippedEvent, type ReviewRequest } from './events/order-events.ts';
import { reviewDelayFor, type ReviewDelays } from './review-delay.ts';

const labelKeyFor = (orderId: string): string => `documents/labels/${orderId}.json`;

/** Same order, same tracking number: a retried shipment never prints a second, different label. */
const trackingNumberFor = (orderId: string): string =>
  `OF${createHash('sha256').update(orderId).digest('hex').slice(0, 16).toUpperCase()}`;

interface ShipOptions {
  bucket: string;
  topicArn: string;
  reviewQueueUrl: string;
  /** Review delay per shipping country, overriding the queue's DelaySeconds (lib/review-delay.ts); none by default. */
  reviewDelays?: ReviewDelays;
  /** The standard topic the partner webhook and announceShipment subscribe to (lib/shipment-notices.ts). */
  shipmentNoticesTopicArn: string;
  now?: Date;
}

/**
 * Ships a physical order: prints its label (written once: S3 If-None-Match), publishes OrderShipped
 * (deduplicated by its deterministic id), tells the shipment-notices topic's subscribers (a partner webhook, a
 * Lambda function) and leaves a review request in the delay queue.
 *
 * @example
 * await shipOrder(event, { bucket, topicArn, reviewQueueUrl });
 */
const shipOrder = async (placed: OrderPlacedEvent, { bucket, topicArn, reviewQueueUrl, shipmentNoticesTopicArn, reviewDelays = {}, now = new Date() }: ShipOptions): Promise<OrderShippedEvent> => {
  const { orderId, order } = placed;
  if (placed.fulfillment !== 'physical' || !order.shippingAddress) {
    // The shipping subscription's filter policy only lets physical orders through: this is a misconfiguration.
    throw new InvalidEventError('OrderPlaced event', [{ field: 'fulfillment', message: 'must be physical with a shippingAddress to ship' }]);
  }
  // Checked before any side effect: a delay SQS would refuse fails here, naming it, not after the label is printed.
  const delaySeconds = reviewDelayFor(order.shippingAddress.country, reviewDelays);
  const labelKey = labelKeyFor(orderId);
  const trackingNumber = trackingNumberFor(orderId);
  const label = { orderId, trackingNumber, carrier: 'orderflow-post', shipTo: order.shippingAddress, items: order.items, printedAt: now.toISOString() };
  await putObjectIfAbsent(bucket, labelKey, JSON.stringify(label, null, 2));
  const shipped: OrderShippedEvent = {
    type: 'OrderShipped',
    eventId: eventIdFor(orderId, 'OrderShipped'),
    orderId,
    occurredAt: now.toISOString(),
    correlationId: placed.correlationId,
    fulfillment: placed.fulfillment,
    labelKey,
    trackingNumber,
  };
  await publishOrderEvent(topicArn, shipped);
  await publishShipmentNotice(shipmentNoticesTopicArn, shipped);
  const review: ReviewRequest = { orderId, customerId: order.customerId, correlationId: placed.correlationId };
  // The queue's DelaySeconds holds the request back, or the country's (a message's own DelaySeconds overrides the
  // queue's); a duplicate request is harmless (requestReview marks once).
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: reviewQueueUrl,
      ...(delaySeconds === undefined ? {} : { DelaySeconds: delaySeconds }),
      MessageBody: JSON.stringify(review),
      MessageAttributes: {
        orderId: { DataType: 'String', StringValue: orderId },
        correlationId: { DataType: 'String', StringValue: placed.correlationId },
      },
    }),
  );
  return shipped;
};


export { labelKeyFor, trackingNumberFor, shipOrder };
