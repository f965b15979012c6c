import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { sqs } from '#lib/aws/clients/sqs.ts';
import { requireEnv } from '#lib/aws/env.ts';
import { processSqsBatch } from '#lib/batch.ts';
import { withPowertools } from '#lib/middleware/handler.ts';
import { InvalidEventError } from '#lib/domain/errors.ts';
import { reply } from '#lib/request-reply.ts';

/** What the warehouse holds (a stand-in for the warehouse system this worker would query). */
const STOCK: Record<string, number> = { 'BOOK-1': 12, 'EBOOK-1': 9_999 };

const answerStockRecord = async (record: SQSRecord, log: Logger): Promise<void> => {
  let question: { sku?: unknown };
  try {
    question = JSON.parse(record.body) as { sku?: unknown };
  } catch {
    throw new InvalidEventError('stock question', [{ field: 'body', message: 'is not JSON' }]);
  }
  if (typeof question.sku !== 'string') throw new InvalidEventError('stock question', [{ field: 'sku', message: 'must be a string' }]);
  const answer = { sku: question.sku, available: STOCK[question.sku] ?? 0, checkedAt: new Date().toISOString() };
  await reply(sqs, record, JSON.stringify(answer), requireEnv('REPLY_QUEUE_PREFIX'));
  log.info('stock answered', { sku: answer.sku, available: answer.available });
};

/** stock-requests queue → the answer, sent to the asker's reply queue with its correlation id (lib/request-reply.ts). */
const answerStockHandler = (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => processSqsBatch(event, context, answerStockRecord);


const handler = withPowertools(answerStockHandler);

export { handler, answerStockHandler };
