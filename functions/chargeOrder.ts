import { makeIdempotent } from '@aws-lambda-powertools/idempotency';
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { requireEnv } from '#lib/aws/env.ts';
import { retryInProgressSooner } from '#lib/aws/visibility.ts';
import { processSqsBatch, type AroundRecord } from '#lib/batch.ts';
import { chargeOrder, simulatedPayment, type ChargePayment } from '#lib/charge.ts';
import { parseOrderPlaced } from '#lib/events/order-events.ts';
import { chargeIdempotency, idempotencyStore, withInProgressRecord } from '#lib/idempotency.ts';
import { withPowertools } from '#lib/middleware/handler.ts';
import { metrics } from '#lib/powertools.ts';

let pay: ChargePayment | undefined;
const idempotentPayment = (): ChargePayment => {
  pay ??= withInProgressRecord(makeIdempotent(simulatedPayment, { persistenceStore: idempotencyStore(), config: chargeIdempotency() }), idempotencyStore());
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

/**
 * An order whose charge is in progress elsewhere (or was, in an invocation that died before completing it) is
 * retried just after that charge's in-progress record expires, rather than after the billing queue's 61 s.
 */
const retryInProgressChargeSooner: AroundRecord = (record, log, work) =>
  retryInProgressSooner(
    {
      queueUrl: requireEnv('BILLING_QUEUE_URL'),
      receiptHandle: record.receiptHandle,
      onError: (error) => log.warn('in-progress charge: visibility unchanged, retried after the queue visibility timeout', { error: error as Error }),
    },
    work,
  );

/** billing queue (OrderPlaced) → charge, invoice in S3, OrderCharged. */
const chargeOrderHandler = (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  chargeIdempotency().registerLambdaContext(context);
  return processSqsBatch(event, context, chargeOrderRecord, { aroundRecord: retryInProgressChargeSooner });
};

const handler = withPowertools(chargeOrderHandler);

export { handler, chargeOrderHandler };
