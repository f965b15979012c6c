import type { Logger } from '@aws-lambda-powertools/logger';
import { markOnce } from './aws/orders-table.ts';
import { parseReviewRequest } from './events/order-events.ts';

/**
 * The review request's work, whoever consumes the review-requests queue: the requestReview Lambda
 * (functions/requestReview.ts) or the long-running worker (scripts/worker/review-requests.ts, lib/queue-worker.ts).
 * Ask for the review here (e-mail, push...); marking once keeps a duplicate request from asking twice.
 *
 * @example
 * await requestReview(ordersTable, record.body, log);
 */
const requestReview = async (ordersTable: string, body: string, log: Logger, sentAt?: string): Promise<void> => {
  const request = parseReviewRequest(body);
  await markOnce(ordersTable, request.orderId, 'reviewRequestedAt', new Date().toISOString());
  log.info('review requested', { orderId: request.orderId, customerId: request.customerId, correlationId: request.correlationId, sentAt });
};

export { requestReview };
