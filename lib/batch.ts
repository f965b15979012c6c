import { BatchProcessor, EventType, SqsFifoPartialProcessorAsync, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { logger } from './powertools.ts';

type RecordHandler = (record: SQSRecord) => Promise<void>;

/**
 * Wraps a record handler so that every record logs with its messageId, orderId and correlationId, and a failure
 * is logged with the error's name and message (what `npm run dlq -- peek` shows) and then rethrown: the batch
 * processor reports it as a batch item failure, so the message returns to the queue and, after maxReceiveCount,
 * to its DLQ. Never swallowed.
 */
const loggedRecordHandler = (handleRecord: RecordHandler): RecordHandler =>
  async function handleLoggedRecord(record: SQSRecord): Promise<void> {
    const keys = {
      messageId: record.messageId,
      orderId: record.messageAttributes?.orderId?.stringValue,
      correlationId: record.messageAttributes?.correlationId?.stringValue,
      receiveCount: Number(record.attributes.ApproximateReceiveCount),
    };
    logger.appendKeys(keys);
    try {
      await handleRecord(record);
    } catch (error) {
      const { name, message } = error as Error;
      logger.error('record failed', { ...keys, errorName: name, errorMessage: message, error: error as Error });
      throw error;
    } finally {
      logger.removeKeys(Object.keys(keys));
    }
  };

const standardProcessor = new BatchProcessor(EventType.SQS);
// skipGroupOnError: a failure in one order's group stops that group only; other orders in the batch go on.
const fifoProcessor = new SqsFifoPartialProcessorAsync();

/**
 * Processes an SQS batch record by record and answers Lambda's partial batch response, so only the failed records
 * return to the queue (the mapping must set `ReportBatchItemFailures`, Lambda developer guide).
 * For FIFO queues, records of a message group after a failure are returned unprocessed, keeping order per group.
 *
 * @example
 * export const handler = withPowertools((event: SQSEvent, context) => processSqsBatch(event, context, chargeRecord));
 */
const processSqsBatch = async (
  event: SQSEvent,
  context: Context,
  handleRecord: RecordHandler,
  { fifo = false }: { fifo?: boolean } = {},
): Promise<SQSBatchResponse> => {
  const recordHandler = loggedRecordHandler(handleRecord);
  if (fifo) return processPartialResponse(event, recordHandler, fifoProcessor, { context, skipGroupOnError: true });
  return processPartialResponse(event, recordHandler, standardProcessor, { context });
};

export type { RecordHandler };
export { processSqsBatch, loggedRecordHandler };
