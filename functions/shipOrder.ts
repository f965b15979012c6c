import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { requireEnv } from '#lib/aws/env.ts';
import { withVisibilityHeartbeat } from '#lib/aws/visibility.ts';
import { processSqsBatch, type AroundRecord } from '#lib/batch.ts';
import { parseReviewDelays } from '#lib/review-delay.ts'; // slice-line:reviews
import { parseOrderPlaced } from '#lib/events/order-events.ts';
import { withPowertools } from '#lib/middleware/handler.ts';
import { metrics } from '#lib/powertools.ts';
import { shipOrder } from '#lib/ship.ts';

/** The shipping queue's visibility timeout (serverless.yml): each heartbeat asks for that much again. */
const VISIBILITY_SECONDS = 121;

/**
 * Seconds between heartbeats: HEARTBEAT_INTERVAL_SECONDS (stage param `shipHeartbeatSeconds`), default 30. It must
 * be below the function's timeout for a slow label (or injected latency, lib/faults.ts) to beat at all.
 */
const heartbeatIntervalMs = (): number => {
  const seconds = Number(process.env.HEARTBEAT_INTERVAL_SECONDS);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 30_000;
};

const shipOrderRecord = async (record: SQSRecord, log: Logger): Promise<void> => {
  const placed = parseOrderPlaced(record.body);
  const shipped = await shipOrder(placed, {
    bucket: requireEnv('DOCUMENTS_BUCKET'),
    topicArn: requireEnv('TOPIC_ARN'),
    reviewQueueUrl: requireEnv('REVIEW_QUEUE_URL'), // slice-line:reviews
    reviewDelays: parseReviewDelays(process.env.REVIEW_DELAY_BY_COUNTRY ?? ''), // slice-line:reviews
    shipmentNoticesTopicArn: requireEnv('SHIPMENT_NOTICES_TOPIC_ARN'),
  });
  log.info('order shipped', { orderId: shipped.orderId, trackingNumber: shipped.trackingNumber });
  metrics.addMetric('OrdersShipped', MetricUnit.Count, 1);
};

/** Printing a label can be slow (carrier APIs): keep the message invisible while we work on it, faults included. */
const withHeartbeat: AroundRecord = (record, log, work) =>
  withVisibilityHeartbeat(
    {
      queueUrl: requireEnv('SHIPPING_QUEUE_URL'),
      receiptHandle: record.receiptHandle,
      extendBySeconds: VISIBILITY_SECONDS,
      intervalMs: heartbeatIntervalMs(),
      onError: (error) => log.warn('visibility heartbeat failed', { error: error as Error }),
    },
    work,
  );

/** shipping queue (physical OrderPlaced) → label in S3, OrderShipped (and a review request, with the reviews slice). */
const shipOrderHandler = (event: SQSEvent, context: Context): Promise<SQSBatchResponse> =>
  processSqsBatch(event, context, shipOrderRecord, { aroundRecord: withHeartbeat });

const handler = withPowertools(shipOrderHandler);

export { handler, shipOrderHandler };
