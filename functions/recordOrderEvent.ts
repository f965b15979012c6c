import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { requireEnv } from '#lib/aws/env.ts';
import { recordEvent } from '#lib/aws/orders-table.ts';
import { processSqsBatch } from '#lib/batch.ts';
import { parseOrderEvent } from '#lib/events/order-events.ts';
import { withPowertools } from '#lib/middleware/handler.ts';

const recordOrderEventRecord = async (record: SQSRecord, log: Logger): Promise<void> => {
  const event = parseOrderEvent(record.body);
  const status = await recordEvent(requireEnv('ORDERS_TABLE'), event);
  log.info('event recorded', { orderId: event.orderId, type: event.type, status });
};

/** order-store.fifo → Orders table, in order per order (FIFO: a failure holds back the rest of its group). */
const recordOrderEventHandler = (event: SQSEvent, context: Context): Promise<SQSBatchResponse> =>
  processSqsBatch(event, context, recordOrderEventRecord, { fifo: true });

const handler = withPowertools(recordOrderEventHandler);

export { handler, recordOrderEventHandler };
