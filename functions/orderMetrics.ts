import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, KinesisStreamBatchItemFailure, KinesisStreamTumblingWindowEvent } from 'aws-lambda';
import { addBatchMetrics } from '#lib/batch.ts';
import { parseOrderEvent, type OrderEvent } from '#lib/events/order-events.ts';
import { injectFaults } from '#lib/faults.ts';
import { EVENT_TYPES, addToWindow, type WindowState } from '#lib/metrics-window.ts';
import { withPowertools } from '#lib/middleware/handler.ts';
import { logger, metrics } from '#lib/powertools.ts';

interface WindowResponse {
  state: WindowState;
  batchItemFailures: KinesisStreamBatchItemFailure[];
}

/**
 * Kinesis order stream → per-window totals, published as CloudWatch metrics when the window closes.
 * Lambda passes `state` between the invocations of one tumbling window per shard (Lambda developer guide,
 * "Tumbling windows"). A record that does not parse is reported by sequence number: Lambda retries from it,
 * bisects, and after maximumRetryAttempts sends its pointer to the on-failure queue.
 */
const orderMetricsHandler = async (event: KinesisStreamTumblingWindowEvent, context: Context): Promise<WindowResponse> => {
  const events: OrderEvent[] = [];
  for (const record of event.Records) {
    try {
      const body = Buffer.from(record.kinesis.data, 'base64').toString('utf8');
      // This function's FAULTS (lib/faults.ts; off unless set): a failure here is retried, bisected, then discarded.
      await injectFaults({ body }, { onInvalidConfig: (error) => logger.error('FAULTS ignored', { error }) });
      events.push(parseOrderEvent(body));
    } catch (error) {
      const { name, message } = error as Error;
      logger.error('record failed', { sequenceNumber: record.kinesis.sequenceNumber, partitionKey: record.kinesis.partitionKey, errorName: name, errorMessage: message });
      // Lambda resumes from the lowest failed sequence number: report the first failure, keep what came before.
      addBatchMetrics(context.functionName, event.Records.length, event.Records.length - events.length);
      return { state: addToWindow(event.state as Partial<WindowState>, events), batchItemFailures: [{ itemIdentifier: record.kinesis.sequenceNumber }] };
    }
  }
  const state = addToWindow(event.state as Partial<WindowState>, events);
  addBatchMetrics(context.functionName, event.Records.length, 0);
  if (event.isFinalInvokeForWindow) {
    for (const type of EVENT_TYPES) metrics.addMetric(`${type}PerWindow`, MetricUnit.Count, state[type]);
    metrics.addMetric('RevenueCentsPerWindow', MetricUnit.Count, state.revenueCents);
    logger.info('window closed', { window: event.window, ...state });
  }
  return { state, batchItemFailures: [] };
};

const handler = withPowertools(orderMetricsHandler);

export { handler, orderMetricsHandler };
