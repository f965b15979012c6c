import { BatchProcessor, EventType, FullBatchFailureError, SqsFifoMessageGroupShortCircuitError, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { OrderflowError } from './domain/errors.ts';
import { injectFaults } from './faults.ts';
import { logger, metrics } from './powertools.ts';

/** Handles one record; `log` is a logger whose every line carries that record's messageId, orderId and correlationId. */
type RecordHandler = (record: SQSRecord, log: Logger) => Promise<void>;

/** Runs around a record's whole processing, injected faults included (a visibility heartbeat, for example). */
type AroundRecord = (record: SQSRecord, log: Logger, work: () => Promise<void>) => Promise<void>;

/**
 * Milliseconds of an invocation kept back from the records: no record starts with less than this left, and a record
 * still running when only this is left is reported as a failure. What runs after that is in memory (Powertools
 * builds the partial batch response, the metrics middleware prints one EMF line to stdout). 1 s is the granularity
 * of a function's timeout (whole seconds, 1-900: Lambda developer guide, "Configure Lambda function timeout").
 */
const DEADLINE_MARGIN_MS = 1_000;

/**
 * A record that did not finish before the invocation's deadline guard: `started` false when it was never begun.
 * It returns to its queue like any failure, and its neighbours that finished are deleted.
 */
class DeadlineReachedError extends OrderflowError {
  readonly started: boolean;
  constructor(messageId: string, started: boolean, marginMs: number) {
    super(`Record ${messageId} ${started ? 'was still running' : 'was not started'} with less than ${marginMs} ms of the invocation left (deadline guard, lib/batch.ts)`);
    this.name = 'DeadlineReachedError';
    this.started = started;
  }
}

/**
 * Runs `work` unless less than `marginMs` of the invocation is left, and gives up waiting for it when only
 * `marginMs` is left: Lambda counts a timed-out invocation as a failure of the whole batch, so without this one
 * slow record would send every neighbour back to the queue (one more receive towards maxReceiveCount, the DLQ).
 * A record given up on keeps running until Lambda freezes the environment; its side effects are idempotent.
 */
const withDeadline = async (work: () => Promise<void>, messageId: string, context: Context, marginMs: number): Promise<void> => {
  const leftMs = context.getRemainingTimeInMillis() - marginMs;
  if (leftMs <= 0) throw new DeadlineReachedError(messageId, false, marginMs);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new DeadlineReachedError(messageId, true, marginMs)), leftMs);
  });
  try {
    await Promise.race([work(), deadline]);
  } finally {
    clearTimeout(timer);
  }
};

/** The invocation a record handler runs in, for the deadline guard. */
interface Deadline {
  context: Context;
  marginMs: number;
}

/**
 * Wraps a record handler so that every record logs with its messageId, orderId and correlationId, and a failure
 * is logged with the error's name and message (what `npm run dlq -- peek` shows) and then rethrown: the batch
 * processor reports it as a batch item failure, so the message returns to the queue and, after maxReceiveCount,
 * to its DLQ. Never swallowed. Every record first passes the function's FAULTS (lib/faults.ts; off unless set).
 * With a `deadline`, a record runs under the deadline guard (withDeadline), heartbeat and faults included.
 */
const loggedRecordHandler = (handleRecord: RecordHandler, aroundRecord?: AroundRecord, deadline?: Deadline): ((record: SQSRecord) => Promise<void>) =>
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
    const run = (): Promise<void> => (aroundRecord ? aroundRecord(record, log, work) : work());
    try {
      await (deadline ? withDeadline(run, record.messageId, deadline.context, deadline.marginMs) : run());
    } catch (error) {
      const { name, message } = error as Error;
      log.error('record failed', { errorName: name, errorMessage: message, error: error as Error });
      throw error;
    }
  };

/**
 * A FIFO batch's records in order within their message group, the groups concurrently: a record starts once the
 * record before it in its group is done, and one whose group had a failure is not started but failed with
 * SqsFifoMessageGroupShortCircuitError, so it returns to the queue behind the failed one and the group keeps its order
 * (SQS FIFO keeps order per group only). A failure stops its own group, not the others (what Powertools'
 * `skipGroupOnError` does). Powertools' SqsFifoPartialProcessorAsync runs the whole batch one record at a time, and
 * orderflow's groups are orders (MessageGroupId is the order id), so a batch of ten orders' events waited for ten
 * DynamoDB round trips in a row: order-store.fifo, at 5 concurrent batches, was the pipeline's bottleneck.
 * Call once per batch: the groups' order is kept for the records of one batch.
 */
const inGroupOrder = (handle: (record: SQSRecord) => Promise<void>): ((record: SQSRecord) => Promise<void>) => {
  const lastOfGroup = new Map<string, Promise<void>>();
  return (record) => {
    const group = record.attributes.MessageGroupId ?? '';
    const before = lastOfGroup.get(group);
    const done =
      before === undefined
        ? handle(record)
        : before.then(
            () => handle(record),
            () => {
              throw new SqsFifoMessageGroupShortCircuitError();
            },
          );
    lastOfGroup.set(group, done);
    return done;
  };
};

/**
 * Processes an SQS batch record by record and answers Lambda's partial batch response, so only the failed records
 * return to the queue (the mapping must set `ReportBatchItemFailures`, Lambda developer guide).
 * For FIFO queues, records run in order within their message group and concurrently across groups (inGroupOrder);
 * records of a group after a failure are returned unprocessed, keeping order per group.
 * Deadline guard: no record starts with less than `deadlineMarginMs` (DEADLINE_MARGIN_MS) of the invocation left,
 * and a record still running then is given up on; both are reported as batch item failures, so a slow record
 * fails alone instead of timing the invocation out (which fails the whole batch). On a FIFO queue, the records
 * after a given-up one in its group are not started.
 *
 * @example
 * export const handler = withPowertools((event: SQSEvent, context) => processSqsBatch(event, context, chargeRecord));
 * // where chargeRecord = async (record, log) => { ...; log.info('order charged'); }
 */
const processSqsBatch = async (
  event: SQSEvent,
  context: Context,
  handleRecord: RecordHandler,
  { fifo = false, aroundRecord, deadlineMarginMs = DEADLINE_MARGIN_MS }: { fifo?: boolean; aroundRecord?: AroundRecord; deadlineMarginMs?: number } = {},
): Promise<SQSBatchResponse> => {
  const recordHandler = loggedRecordHandler(handleRecord, aroundRecord, { context, marginMs: deadlineMarginMs });
  // A processor per invocation: it holds the batch's records and failures, and one module instance may serve
  // several invocations at once (the local cloud runs a function's concurrent invocations in one process).
  let response: SQSBatchResponse;
  try {
    response = await processPartialResponse(event, fifo ? inGroupOrder(recordHandler) : recordHandler, new BatchProcessor(EventType.SQS), { context });
  } catch (error) {
    // Every record failed: Powertools throws so that Lambda retries the whole batch; counted all the same.
    if (error instanceof FullBatchFailureError) addBatchMetrics(context.functionName, event.Records.length, event.Records.length);
    throw error;
  }
  addBatchMetrics(context.functionName, event.Records.length, response.batchItemFailures.length);
  return response;
};

/** The function_name default dimension this module instance set (addBatchMetrics). */
let functionDimension: string | undefined;

/**
 * Every batch's outcome as metrics, whatever the records were (an S3 test event included), so a batch function
 * always has a metric to publish: `RecordsProcessed` (done, deleted from the queue) and `RecordsFailed` (returned to
 * the queue: failed, given up on by the deadline guard, or held back behind a failure of their FIFO group), both
 * with the dimension `function_name` (the name Powertools gives its own cold-start metric's dimension) so each
 * function's failure rate reads on its own. Set once, as a default dimension (one function per module instance):
 * Powertools 2.35.0 warns "Dimension ... has already been added" when addDimension or setDefaultDimensions is given
 * a name it already holds, so it is set only when it changes.
 *
 * @example
 * addBatchMetrics(context.functionName, event.Records.length, response.batchItemFailures.length);
 */
const addBatchMetrics = (functionName: string, records: number, failed: number): void => {
  if (functionDimension !== functionName) {
    metrics.setDefaultDimensions({ function_name: functionName });
    functionDimension = functionName;
  }
  metrics.addMetric('RecordsProcessed', MetricUnit.Count, records - failed);
  metrics.addMetric('RecordsFailed', MetricUnit.Count, failed);
};

export type { AroundRecord, RecordHandler };
export { DEADLINE_MARGIN_MS, DeadlineReachedError, processSqsBatch };
export { addBatchMetrics }; // slice-line:analytics
