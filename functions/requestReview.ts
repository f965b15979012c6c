import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { requireEnv } from '#lib/aws/env.ts';
import { processSqsBatch } from '#lib/batch.ts';
import { withPowertools } from '#lib/middleware/handler.ts';
import { requestReview } from '#lib/review.ts';

const requestReviewRecord = (record: SQSRecord, log: Logger): Promise<void> =>
  requestReview(requireEnv('ORDERS_TABLE'), record.body, log, record.attributes.SentTimestamp);

/** review-requests delay queue → review request, DelaySeconds after the order shipped. */
const requestReviewHandler = (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => processSqsBatch(event, context, requestReviewRecord);

const handler = withPowertools(requestReviewHandler);

export { handler, requestReviewHandler };
