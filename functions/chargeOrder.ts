import { makeIdempotent } from '@aws-lambda-powertools/idempotency';
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { requireEnv } from '#lib/aws/env.ts';
import { processSqsBatch } from '#lib/batch.ts';
import { chargeOrder, simulatedPayment, type ChargePayment } from '#lib/charge.ts';
import { parseOrderPlaced } from '#lib/events/order-events.ts';
import { chargeIdempotency, idempotencyStore } from '#lib/idempotency.ts';
import { withPowertools } from '#lib/middleware/handler.ts';
import { metrics } from '#lib/powertools.ts';

let pay: ChargePayment | undefined;
const idempotentPayment = (): ChargePayment => {
  pay ??= makeIdempotent(simulatedPayment, { persistenceStore: idempotencyStore(), config: chargeIdempotency });
  return pay;
};

const chargeOrderRecord = async (record: SQSRecord, log: Logger): Promise<void> => {
  const placed = parseOrderPlaced(record.body);
  const charged = await chargeOrder(placed, {
    bucket: requireEnv('DOCUMENTS_BUCKET'),
    topicArn: requireEnv('TOPIC_ARN'),
    pay: idempotentPayment(),
  });
  log.info('order charged', { orderId: charged.orderId, amountCents: charged.amountCents, invoiceKey: charged.invoiceKey });
  metrics.addMetric('OrdersCharged', MetricUnit.Count, 1);
};

/** billing queue (OrderPlaced) → charge, invoice in S3, OrderCharged. */
const chargeOrderHandler = (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  chargeIdempotency.registerLambdaContext(context);
  return processSqsBatch(event, context, chargeOrderRecord);
};

const handler = withPowertools(chargeOrderHandler);

export { handler, chargeOrderHandler };
