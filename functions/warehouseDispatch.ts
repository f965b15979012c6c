import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { requireEnv } from '#lib/aws/env.ts';
import { publishOrderEvent } from '#lib/aws/publish.ts';
import { withPowertools } from '#lib/middleware/handler.ts';
import { logger, metrics } from '#lib/powertools.ts';
import { parseWarehouseMessage, type WarehouseProperties } from '#lib/warehouse.ts';

/** One message of an Amazon MQ for RabbitMQ event (Lambda developer guide, "Using Lambda with Amazon MQ"). */
interface RabbitMqMessage {
  basicProperties: WarehouseProperties & Record<string, unknown>;
  redelivered: boolean;
  /** The body, base64. */
  data: string;
}

interface RabbitMqEvent {
  eventSource: 'aws:rmq';
  eventSourceArn: string;
  /** Keyed `<queue>::<virtual host>`. */
  rmqMessagesByQueue: Record<string, RabbitMqMessage[]>;
}

/**
 * The legacy warehouse's queue on Amazon MQ (RabbitMQ) → order events: a dispatch message publishes the order's
 * OrderShipped to the order topic, a stock message is logged and counted (lib/warehouse.ts). Messages are handled in
 * order; a message that does not parse fails the invocation, naming its fields: Lambda has no partial batch response
 * for Amazon MQ, so the batch is not acknowledged and comes again (the event ids make the replays harmless).
 */
const warehouseDispatchHandler = async (event: RabbitMqEvent): Promise<{ shipped: number; stock: number }> => {
  const topicArn = requireEnv('TOPIC_ARN');
  let shipped = 0;
  let stock = 0;
  for (const [queue, messages] of Object.entries(event.rmqMessagesByQueue)) {
    for (const message of messages) {
      const body = Buffer.from(message.data, 'base64').toString('utf8');
      let parsed: ReturnType<typeof parseWarehouseMessage>;
      try {
        parsed = parseWarehouseMessage(body, message.basicProperties);
      } catch (error) {
        const { name, message: reason } = error as Error;
        logger.error('record failed', { queue, messageId: message.basicProperties.messageId, redelivered: message.redelivered, errorName: name, errorMessage: reason });
        throw error;
      }
      if (parsed.kind === 'stock') {
        logger.info('stock level', { queue, sku: parsed.sku, available: parsed.available });
        stock += 1;
        continue;
      }
      await publishOrderEvent(topicArn, parsed.event);
      logger.info('dispatch published as OrderShipped', { queue, orderId: parsed.event.orderId, correlationId: parsed.event.correlationId, trackingNumber: parsed.event.trackingNumber });
      shipped += 1;
    }
  }
  metrics.addMetric('WarehouseDispatches', MetricUnit.Count, shipped);
  metrics.addMetric('WarehouseStockLevels', MetricUnit.Count, stock);
  return { shipped, stock };
};

const handler = withPowertools(warehouseDispatchHandler);

export type { RabbitMqEvent };
export { handler, warehouseDispatchHandler };
