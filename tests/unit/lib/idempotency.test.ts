import '../helpers/env.ts';
import { IdempotencyAlreadyInProgressError, IdempotencyItemNotFoundError, IdempotencyPersistenceLayerError } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { IdempotencyRecord, type BasePersistenceLayer } from '@aws-lambda-powertools/idempotency/persistence';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { InvalidEnvError, MissingEnvError, requirePositiveIntegerEnv } from '#lib/aws/env.ts';
import { chargeIdempotency, idempotencyStore, placeOrderIdempotency, withInProgressRecord } from '#lib/idempotency.ts';
import { DEPLOYED } from '../helpers/env.ts';

describe('Lib: idempotency', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('needs IDEMPOTENCY_TABLE, then creates the DynamoDB store once and reuses it', () => {
    // Prepare
    vi.stubEnv('IDEMPOTENCY_TABLE', undefined);

    // Act + Assess
    expect(() => idempotencyStore()).toThrow(MissingEnvError);
    vi.stubEnv('IDEMPOTENCY_TABLE', DEPLOYED.IDEMPOTENCY_TABLE);
    const store = idempotencyStore();
    expect(store).toBeInstanceOf(DynamoDBPersistenceLayer);
    expect(idempotencyStore()).toBe(store);
  });

  it("keys POST /orders by the caller's sub and the Idempotency-Key, validates the order body, keeps records 24 hours", () => {
    expect(placeOrderIdempotency.eventKeyJmesPath).toBe('[ownerId, idempotencyKey]');
    expect(placeOrderIdempotency.payloadValidationJmesPath).toBe('order');
    expect(placeOrderIdempotency.expiresAfterSeconds).toBe(86_400);
    expect(placeOrderIdempotency.throwOnNoIdempotencyKey).toBe(true);
  });

  it('keys a charge by the order id and keeps it CHARGE_IDEMPOTENCY_SECONDS (the stage param), read once', () => {
    // Prepare
    vi.stubEnv('CHARGE_IDEMPOTENCY_SECONDS', DEPLOYED.CHARGE_IDEMPOTENCY_SECONDS);

    // Act
    const config = chargeIdempotency();

    // Assess
    expect(config.eventKeyJmesPath).toBe('orderId');
    expect(config.expiresAfterSeconds).toBe(1_814_400);
    expect(config.throwOnNoIdempotencyKey).toBe(true);
    expect(chargeIdempotency()).toBe(config);
  });

  it('requirePositiveIntegerEnv: a whole number of seconds, else an error naming the variable', () => {
    for (const bad of ['0', '-5', '1.5', '1e6', ' 60', 'abc', '99999999999999999999']) {
      vi.stubEnv('SOME_SECONDS', bad);
      expect(() => requirePositiveIntegerEnv('SOME_SECONDS'), bad).toThrow(InvalidEnvError);
      expect(() => requirePositiveIntegerEnv('SOME_SECONDS'), bad).toThrow(/SOME_SECONDS/);
    }
    vi.stubEnv('SOME_SECONDS', undefined);
    expect(() => requirePositiveIntegerEnv('SOME_SECONDS')).toThrow(MissingEnvError);
    vi.stubEnv('SOME_SECONDS', '60');
    expect(requirePositiveIntegerEnv('SOME_SECONDS')).toBe(60);
  });
});

describe('Lib: idempotency withInProgressRecord', () => {
  const request = { orderId: '01JD3X2ZK8M4Q7R9T1V5W6Y8A0', customerId: 'cus_42', amountCents: 2598 };
  const stored = new IdempotencyRecord({ idempotencyKey: 'orderflow-dev-chargeOrder#9a0f', status: 'INPROGRESS', inProgressExpiryTimestamp: 1_795_000_007_000 });
  const storeAnswering = (getRecord: () => Promise<IdempotencyRecord>): { store: BasePersistenceLayer; getRecord: ReturnType<typeof vi.fn> } => {
    const spy = vi.fn(getRecord);
    return { store: { getRecord: spy } as unknown as BasePersistenceLayer, getRecord: spy };
  };
  const inProgress = (): IdempotencyAlreadyInProgressError => new IdempotencyAlreadyInProgressError('There is already an execution in progress with idempotency key: orderflow-dev-chargeOrder#9a0f');

  it('attaches the record it reads back (by the same payload) to an IdempotencyAlreadyInProgressError thrown without one', async () => {
    // Prepare
    const { store, getRecord } = storeAnswering(async () => stored);
    const error = inProgress();

    // Act
    const running = withInProgressRecord(() => Promise.reject(error), store)(request);

    // Assess
    await expect(running).rejects.toBe(error);
    expect(error.existingRecord).toBe(stored);
    expect(getRecord).toHaveBeenCalledExactlyOnceWith(request);
  });

  it('rethrows the error without a record when reading it back fails (deleted meanwhile)', async () => {
    // Prepare
    const { store } = storeAnswering(() => Promise.reject(new IdempotencyItemNotFoundError()));
    const error = inProgress();

    // Act + Assess
    await expect(withInProgressRecord(() => Promise.reject(error), store)(request)).rejects.toBe(error);
    expect(error.existingRecord).toBeUndefined();
  });

  it('reads nothing for an error that already carries its record, another error, or a success', async () => {
    // Prepare
    const { store, getRecord } = storeAnswering(async () => stored);
    const withRecord = new IdempotencyAlreadyInProgressError('in progress', stored);
    const persistence = new IdempotencyPersistenceLayerError('Failed to save in progress record to idempotency store');

    // Act + Assess
    await expect(withInProgressRecord(() => Promise.reject(withRecord), store)(request)).rejects.toBe(withRecord);
    await expect(withInProgressRecord(() => Promise.reject(persistence), store)(request)).rejects.toBe(persistence);
    expect(await withInProgressRecord(async () => 'ch_1', store)(request)).toBe('ch_1');
    expect(getRecord).not.toHaveBeenCalled();
  });
});
