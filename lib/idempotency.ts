import { IdempotencyConfig } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { dynamodb } from './aws/clients/dynamodb.ts';
import { requireEnv } from './aws/env.ts';

let store: DynamoDBPersistenceLayer | undefined;

/**
 * The Powertools idempotency store (table IDEMPOTENCY_TABLE), created on first use and then reused.
 *
 * @example
 * const charge = makeIdempotent(chargeCard, { persistenceStore: idempotencyStore(), config: chargeConfig });
 */
const idempotencyStore = (): DynamoDBPersistenceLayer => {
  store ??= new DynamoDBPersistenceLayer({ tableName: requireEnv('IDEMPOTENCY_TABLE'), awsSdkV3Client: dynamodb });
  return store;
};

/**
 * POST /orders: the `Idempotency-Key` header is the key; the order body must match the first request's
 * (Powertools raises IdempotencyValidationError otherwise, answered as 422). Records live 24 hours.
 */
const placeOrderIdempotency = new IdempotencyConfig({
  eventKeyJmesPath: 'idempotencyKey',
  payloadValidationJmesPath: 'order',
  expiresAfterSeconds: 24 * 60 * 60,
  throwOnNoIdempotencyKey: true,
});

/** chargeOrder: one charge per order, whatever the number of deliveries. Records live 7 days. */
const chargeIdempotency = new IdempotencyConfig({
  eventKeyJmesPath: 'orderId',
  expiresAfterSeconds: 7 * 24 * 60 * 60,
  throwOnNoIdempotencyKey: true,
});

export { idempotencyStore, placeOrderIdempotency, chargeIdempotency };
