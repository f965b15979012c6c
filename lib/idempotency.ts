import { IdempotencyAlreadyInProgressError, IdempotencyConfig } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { BasePersistenceLayer } from '@aws-lambda-powertools/idempotency/persistence';
import { dynamodb } from './aws/clients/dynamodb.ts';
import { requireEnv, requirePositiveIntegerEnv } from './aws/env.ts';

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
 * POST /orders: the caller's `sub` and the `Idempotency-Key` header are the key (a JMESPath multi-select list:
 * the same key from two callers is two records, so callers neither collide nor learn that another's key is in
 * use); the order body must match the first request's (Powertools raises IdempotencyValidationError otherwise,
 * answered as 422). Records live 24 hours.
 */
const placeOrderIdempotency = new IdempotencyConfig({
  eventKeyJmesPath: '[ownerId, idempotencyKey]',
  payloadValidationJmesPath: 'order',
  expiresAfterSeconds: 24 * 60 * 60,
  throwOnNoIdempotencyKey: true,
});

let chargeConfig: IdempotencyConfig | undefined;

/**
 * chargeOrder: one charge per order, whatever the number of deliveries. Records live CHARGE_IDEMPOTENCY_SECONDS
 * (stage param `chargeIdempotencySeconds`, 21 days), longer than an OrderPlaced can wait in the billing DLQ and,
 * after a redrive, in the billing queue again: a late redrive meets the record and charges nothing twice.
 * Created on first use (the variable is read then), then reused.
 *
 * @example
 * chargeIdempotency().registerLambdaContext(context);
 */
const chargeIdempotency = (): IdempotencyConfig => {
  chargeConfig ??= new IdempotencyConfig({
    eventKeyJmesPath: 'orderId',
    expiresAfterSeconds: requirePositiveIntegerEnv('CHARGE_IDEMPOTENCY_SECONDS'),
    throwOnNoIdempotencyKey: true,
  });
  return chargeConfig;
};

/**
 * Wraps a function made idempotent (`makeIdempotent`, first argument hashed) so that its
 * IdempotencyAlreadyInProgressError carries the record it met: Powertools 2.35 declares `existingRecord` on that
 * error but throws it without one (IdempotencyHandler.determineResultFromIdempotencyRecord). On that error only,
 * the record is read back (one consistent GetItem through the same store) and attached, so callers can tell when
 * it stops being in progress (`inProgressExpiryTimestamp`; see retryInProgressSooner, lib/aws/visibility.ts).
 * Any other error passes through untouched; if the read fails (the record was deleted meanwhile), the error is
 * rethrown without a record.
 *
 * @example
 * const charge = withInProgressRecord(makeIdempotent(chargeCard, { persistenceStore: idempotencyStore(), config }), idempotencyStore());
 */
const withInProgressRecord =
  <A, R>(idempotentFn: (data: A) => Promise<R>, store: BasePersistenceLayer): ((data: A) => Promise<R>) =>
  async (data) => {
    try {
      return await idempotentFn(data);
    } catch (error) {
      if (error instanceof IdempotencyAlreadyInProgressError && error.existingRecord === undefined) {
        error.existingRecord = await store.getRecord(data as Parameters<BasePersistenceLayer['getRecord']>[0]).catch(() => undefined);
      }
      throw error;
    }
  };

export { idempotencyStore, placeOrderIdempotency, chargeIdempotency, withInProgressRecord };
