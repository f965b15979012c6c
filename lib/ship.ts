import { createHash } from 'node:crypto';
import { SendMessageCommand } from '@aws-sdk/client-sqs'; // slice-line:reviews
import { sqs } from './aws/clients/sqs.ts'; // slice-line:reviews
import { publishOrderEvent } from './aws/publish.ts';
import { putObjectIfAbsent } from './aws/s3.ts';
import { publishShipmentNotice } from './shipment-notices.ts';
import { InvalidEventError } from './domain/errors.ts';
import { eventIdFor, type OrderPlacedEvent, type OrderShippedEvent } from './events/order-events.ts';
import type { ReviewRequest } from './events/order-events.ts'; // slice-line:reviews
import { reviewDelayFor, type ReviewDelays } from './review-delay.ts'; // slice-line:reviews

const labelKeyFor = (orderId: string): string => `documents/labels/${orderId}.json`;

/** Same order, same tracking number: a retried shipment never prints a second, different label. */
const trackingNumberFor = (orderId: string): string =>
  `OF${createHash('sha256').update(orderId).digest('hex').slice(0, 16).toUpperCase()}`;

interface ShipOptions {
  bucket: string;
  topicArn: string;
  reviewQueueUrl: string; // slice-line:reviews
  // slice-begin:reviews
  /** Review delay per shipping country, overriding the queue's DelaySeconds (lib/review-delay.ts); none by default. */
  reviewDelays?: ReviewDelays;
  // slice-end:reviews
  /** The standard topic the partner webhook and announceShipment subscribe to (lib/shipment-notices.ts). */
  shipmentNoticesTopicArn: string;
  now?: Date;
}

/**
 * Ships a physical order: prints its label (written once: S3 If-None-Match), publishes OrderShipped
 * (deduplicated by its deterministic id) and tells the shipment-notices topic's subscribers (a partner webhook, a
 * Lambda function); with the reviews slice, it also leaves a review request in the delay queue.
 *
 * @example
 * await shipOrder(event, { bucket, topicArn });
 */
const shipOrder = async (placed: OrderPlacedEvent, options: ShipOptions): Promise<OrderShippedEvent> => {
  const { bucket, topicArn, shipmentNoticesTopicArn, now = new Date() } = options;
  const { orderId, order } = placed;
  if (placed.fulfillment !== 'physical' || !order.shippingAddress) {
    // The shipping subscription's filter policy only lets physical orders through: this is a misconfiguration.
    throw new InvalidEventError('OrderPlaced event', [{ field: 'fulfillment', message: 'must be physical with a shippingAddress to ship' }]);
  }
  // slice-begin:reviews
  // Checked before any side effect: a delay SQS would refuse fails here, naming it, not after the label is printed.
  const delaySeconds = reviewDelayFor(order.shippingAddress.country, options.reviewDelays ?? {});
  // slice-end:reviews
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
  // slice-begin:reviews
  const review: ReviewRequest = { orderId, customerId: order.customerId, correlationId: placed.correlationId };
  // The queue's DelaySeconds holds the request back, or the country's (a message's own DelaySeconds overrides the
  // queue's); a duplicate request is harmless (requestReview marks once).
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: options.reviewQueueUrl,
      ...(delaySeconds === undefined ? {} : { DelaySeconds: delaySeconds }),
      MessageBody: JSON.stringify(review),
      MessageAttributes: {
        orderId: { DataType: 'String', StringValue: orderId },
        correlationId: { DataType: 'String', StringValue: placed.correlationId },
      },
    }),
  );
  // slice-end:reviews
  return shipped;
};


export { labelKeyFor, trackingNumberFor, shipOrder };
