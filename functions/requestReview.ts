import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { requireEnv } from '#lib/aws/env.ts';
import { markOnce } from '#lib/aws/orders-table.ts';
import { processSqsBatch } from '#lib/batch.ts';
import { parseReviewRequest } from '#lib/events/order-events.ts';
import { withPowertools } from '#lib/middleware/handler.ts';

const requestReviewRecord = async (record: SQSRecord, log: Logger): Promise<void> => {
  const request = parseReviewRequest(record.body);
  // Ask for the review here (e-mail, push...). Marking once keeps a duplicate request from asking twice.
  await markOnce(requireEnv('ORDERS_TABLE'), request.orderId, 'reviewRequestedAt', new Date().toISOString());
  log.info('review requested', { orderId: request.orderId, customerId: request.customerId, sentAt: record.attributes.SentTimestamp });
};

/** review-requests delay queue → review request, DelaySeconds after the order shipped. */
const requestReviewHandler = (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => processSqsBatch(event, context, requestReviewRecord);

const handler = withPowertools(requestReviewHandler);

export { handler, requestReviewHandler };
