import type { Context, SNSEvent } from 'aws-lambda';
import { requireEnv } from '#lib/aws/env.ts';
import { markOnce } from '#lib/aws/orders-table.ts';
import { withPowertools } from '#lib/middleware/handler.ts';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logger, metrics } from '#lib/powertools.ts';
import { shipmentNoticesOf } from '#lib/shipment-notices.ts';

/**
 * shipment-notices topic (an SNS Lambda subscription, not a queue) → tells the customer the order shipped, once.
 * SNS invokes asynchronously: a throw makes Lambda retry the event (twice by default) and then drop it, so the work
 * is idempotent (marked once) and a malformed notice is thrown, not swallowed.
 */
const announceShipmentHandler = async (event: SNSEvent, _context: Context): Promise<void> => {
  const notices = shipmentNoticesOf(event);
  for (const notice of notices) {
    // Send the message here (SES, push...); the first announcement time wins.
    await markOnce(requireEnv('ORDERS_TABLE'), notice.orderId, 'shipmentAnnouncedAt', new Date().toISOString());
    logger.info('shipment announced', { orderId: notice.orderId, correlationId: notice.correlationId, trackingNumber: notice.trackingNumber });
  }
  metrics.addMetric('ShipmentsAnnounced', MetricUnit.Count, notices.length);
};

const handler = withPowertools(announceShipmentHandler);

export { handler, announceShipmentHandler };
