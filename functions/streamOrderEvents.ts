import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { SQSBatchItemFailure, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { requireEnv } from '#lib/aws/env.ts';
import { putRecordsWithRetry, type StreamRecord } from '#lib/aws/kinesis.ts';
import { parseOrderEvent, type OrderEvent } from '#lib/events/order-events.ts';
import { injectFaults } from '#lib/faults.ts';
import { withPowertools } from '#lib/middleware/handler.ts';
import { logger, metrics } from '#lib/powertools.ts';

/** One JSON document per line: Firehose concatenates records, so the lake's objects are NDJSON. */
const encode = (event: OrderEvent): Uint8Array => Buffer.from(`${JSON.stringify(event)}\n`);

/**
 * analytics queue → Kinesis, the whole batch in one PutRecords (partition key orderId keeps each order's events in
 * order on one shard). A record that does not parse, or that Kinesis still rejects after retries, is reported as a
 * batch item failure; the others are done.
 */
const streamOrderEventsHandler = async (event: SQSEvent): Promise<SQSBatchResponse> => {
  const failures: SQSBatchItemFailure[] = [];
  const parsed: { messageId: string; event: OrderEvent }[] = [];
  // Each record passes this function's FAULTS (lib/faults.ts; off unless set), all at once as BatchProcessor would.
  const faults = await Promise.allSettled(
    event.Records.map((record) => injectFaults({ body: record.body }, { onInvalidConfig: (error) => logger.error('FAULTS ignored', { error }) })),
  );
  for (const [index, record] of event.Records.entries()) {
    try {
      const fault = faults[index];
      if (fault?.status === 'rejected') throw fault.reason;
      parsed.push({ messageId: record.messageId, event: parseOrderEvent(record.body) });
    } catch (error) {
      const { name, message } = error as Error;
      logger.error('record failed', { messageId: record.messageId, orderId: record.messageAttributes?.orderId?.stringValue, errorName: name, errorMessage: message });
      failures.push({ itemIdentifier: record.messageId });
    }
  }
  const records: StreamRecord[] = parsed.map(({ event: orderEvent }) => ({ data: encode(orderEvent), partitionKey: orderEvent.orderId }));
  const { failed, lastErrorCode } = await putRecordsWithRetry(requireEnv('STREAM_NAME'), records);
  for (const index of failed) {
    const { messageId, event: orderEvent } = parsed[index] as (typeof parsed)[number];
    logger.error('record failed', { messageId, orderId: orderEvent.orderId, errorName: 'StreamWriteError', errorMessage: `Kinesis rejected the record: ${lastErrorCode}` });
    failures.push({ itemIdentifier: messageId });
  }
  metrics.addMetric('EventsStreamed', MetricUnit.Count, records.length - failed.length);
  return { batchItemFailures: failures };
};

const handler = withPowertools(streamOrderEventsHandler);

export { handler, streamOrderEventsHandler };
