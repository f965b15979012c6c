import '../helpers/env.ts';
import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler, requestReviewHandler } from '../../../functions/requestReview.ts';
import { fakeContext } from '../helpers/context.ts';
import { fakeOrdersTable, type FakeOrdersTable } from '../helpers/dynamodb.ts';
import { DEPLOYED, stubDeployedEnv } from '../helpers/env.ts';
import { asNewMessage, batchOf, firstRecord, redelivery } from '../helpers/fixtures.ts';

const ORDER_A = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const ORDER_C = '9b2f4c1e-8d3a-4f6b-a1c2-5e7d9f0b3a46';
const documentsMock = mockClient(DynamoDBDocumentClient);
const context = fakeContext('requestReview');
const ids = (...records: SQSRecord[]): SQSBatchResponse => ({ batchItemFailures: records.map((record) => ({ itemIdentifier: record.messageId })) });

/** A review request for order C, as shipOrder sends it. */
const requestForC = (): SQSRecord =>
  asNewMessage(firstRecord('review-request'), {
    body: JSON.stringify({ orderId: ORDER_C, customerId: 'c-108', correlationId: 'Dk4tPhR2IAMEYpA=' }),
  });

describe('Function: requestReview', () => {
  let table: FakeOrdersTable;

  beforeAll(() => {
    stubDeployedEnv('requestReview');
  });

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-11-22T10:30:31.700Z'));
    table = fakeOrdersTable(documentsMock);
  });

  afterEach(() => {
    vi.useRealTimers();
    documentsMock.reset();
  });

  afterAll(() => {
    vi.unstubAllEnvs();
  });

  it('asks for the review and marks the order once', async () => {
    // Act
    const response = await requestReviewHandler(batchOf(firstRecord('review-request'), requestForC()), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(documentsMock).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: DEPLOYED.ORDERS_TABLE,
      Key: { orderId: ORDER_A },
      UpdateExpression: 'SET #a = if_not_exists(#a, :at)',
      ExpressionAttributeNames: { '#a': 'reviewRequestedAt' },
      ExpressionAttributeValues: { ':at': '2026-11-22T10:30:31.700Z' },
    });
    expect(table.items.get(ORDER_C)?.reviewRequestedAt).toBe('2026-11-22T10:30:31.700Z');
  });

  it('is idempotent on duplicate delivery: the first request time stays', async () => {
    // Prepare
    await requestReviewHandler(batchOf(firstRecord('review-request'), requestForC()), context);
    vi.setSystemTime(new Date('2026-11-22T10:45:00.000Z'));

    // Act
    const response = await requestReviewHandler(batchOf(redelivery(firstRecord('review-request')), requestForC()), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(table.items.get(ORDER_A)?.reviewRequestedAt).toBe('2026-11-22T10:30:31.700Z');
  });

  it('fails an unparseable request and one with a bad order id, never their neighbours', async () => {
    // Prepare
    const invalid = asNewMessage(firstRecord('invalid-body'));
    const badId = asNewMessage(firstRecord('review-request'), { body: JSON.stringify({ orderId: '../orders', customerId: 'c-1', correlationId: 'x' }) });

    // Act
    const response = await requestReviewHandler(batchOf(invalid, firstRecord('review-request'), badId), context);

    // Assess
    expect(response).toEqual(ids(invalid, badId));
    expect(documentsMock).toHaveReceivedCommandTimes(UpdateCommand, 1);
  });

  it('fails the record whose write DynamoDB throttles; the others are done', async () => {
    // Prepare
    const forC = requestForC();
    table.failWhen(
      (input) => input.Key?.orderId === ORDER_C,
      new ProvisionedThroughputExceededException({ message: 'Throughput exceeds the current capacity of your table', $metadata: { httpStatusCode: 400 } }),
    );

    // Act
    const response = await requestReviewHandler(batchOf(firstRecord('review-request'), forC), context);

    // Assess
    expect(response).toEqual(ids(forC));
    expect(table.items.get(ORDER_A)?.reviewRequestedAt).toBeDefined();
  });

  it('works wrapped in its middleware (the deployed handler)', async () => {
    // Act
    const response = await handler(batchOf(firstRecord('review-request')), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(table.items.get(ORDER_A)?.reviewRequestedAt).toBe('2026-11-22T10:30:31.700Z');
  });
});
