import '../helpers/env.ts';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MissingEnvError } from '#lib/aws/env.ts';
import { chargeIdempotency, idempotencyStore, placeOrderIdempotency } from '#lib/idempotency.ts';
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

  it('keys POST /orders by the Idempotency-Key, validates the order body, keeps records 24 hours', () => {
    expect(placeOrderIdempotency.eventKeyJmesPath).toBe('idempotencyKey');
    expect(placeOrderIdempotency.payloadValidationJmesPath).toBe('order');
    expect(placeOrderIdempotency.expiresAfterSeconds).toBe(86_400);
    expect(placeOrderIdempotency.throwOnNoIdempotencyKey).toBe(true);
  });

  it('keys a charge by the order id and keeps it 7 days', () => {
    expect(chargeIdempotency.eventKeyJmesPath).toBe('orderId');
    expect(chargeIdempotency.expiresAfterSeconds).toBe(604_800);
    expect(chargeIdempotency.throwOnNoIdempotencyKey).toBe(true);
  });
});
