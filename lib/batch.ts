import { BatchProcessor, EventType, SqsFifoPartialProcessorAsync, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { injectFaults } from './faults.ts';
import { logger } from './powertools.ts';

/** Handles one record; `log` is a logger whose every line carries that record's messageId, orderId and correlationId. */
type RecordHandler = (record: SQSRecord, log: Logger) => Promise<void>;

/** Runs around a record's whole processing, injected faults included (a visibility heartbeat, for example). */
type AroundRecord = (record: SQSRecord, log: Logger, work: () => Promise<void>) => Promise<void>;

/**
 * Wraps a record handler so that every record logs with its messageId, orderId and correlationId, and a failure
 * is logged with the error's name and message (what `npm run dlq -- peek` shows) and then rethrown: the batch
 * processor reports it as a batch item failure, so the message returns to the queue and, after maxReceiveCount,
 * to its DLQ. Never swallowed. Every record first passes the function's FAULTS (lib/faults.ts; off unless set).
 */
const loggedRecordHandler = (handleRecord: RecordHandler, aroundRecord?: AroundRecord): ((record: SQSRecord) => Promise<void>) =>
  async function handleLoggedRecord(record: SQSRecord): Promise<void> {
    const keys = {
      messageId: record.messageId,
      orderId: record.messageAttributes?.orderId?.stringValue,
      correlationId: record.messageAttributes?.correlationId?.stringValue,
      receiveCount: Number(record.attributes.ApproximateReceiveCount),
    };
    // A child logger per record rather than logger.appendKeys: BatchProcessor runs a batch's records concurrently,
    // and keys appended to the shared logger would show on (and be removed from) the other records' lines.
    const log = logger.createChild({ persistentKeys: keys });
    const work = async (): Promise<void> => {
      await injectFaults({ body: record.body }, { onInvalidConfig: (error) => log.error('FAULTS ignored', { error }) });
      await handleRecord(record, log);
    };
    try {
      await (aroundRecord ? aroundRecord(record, log, work) : work());
    } catch (error) {
      const { name, message } = error as Error;
      log.error('record failed', { errorName: name, errorMessage: message, error: error as Error });
      throw error;
    }
  };

/**
 * Processes an SQS batch record by record and answers Lambda's partial batch response, so only the failed records
 * return to the queue (the mapping must set `ReportBatchItemFailures`, Lambda developer guide).
 * For FIFO queues, records of a message group after a failure are returned unprocessed, keeping order per group.
 *
 * @example
 * export const handler = withPowertools((event: SQSEvent, context) => processSqsBatch(event, context, chargeRecord));
 * // where chargeRecord = async (record, log) => { ...; log.info('order charged'); }
 */
const processSqsBatch = async (
  event: SQSEvent,
  context: Context,
  handleRecord: RecordHandler,
  { fifo = false, aroundRecord }: { fifo?: boolean; aroundRecord?: AroundRecord } = {},
): Promise<SQSBatchResponse> => {
  const recordHandler = loggedRecordHandler(handleRecord, aroundRecord);
  // A processor per invocation: it holds the batch's records and failures, and one module instance may serve
  // several invocations at once (the local cloud runs a function's concurrent invocations in one process).
  // skipGroupOnError: a failure in one order's group stops that group only; other orders in the batch go on.
  if (fifo) return processPartialResponse(event, recordHandler, new SqsFifoPartialProcessorAsync(), { context, skipGroupOnError: true });
  return processPartialResponse(event, recordHandler, new BatchProcessor(EventType.SQS), { context });
};

export type { AroundRecord, RecordHandler };
export { processSqsBatch, loggedRecordHandler };
