import '../helpers/env.ts';
import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler, notifyCustomerHandler } from '../../../functions/notifyCustomer.ts';
import { fakeContext } from '../helpers/context.ts';
import { fakeOrdersTable, type FakeOrdersTable } from '../helpers/dynamodb.ts';
import { DEPLOYED, stubDeployedEnv } from '../helpers/env.ts';
import { asNewMessage, batchOf, bodyOf, firstRecord, redelivery } from '../helpers/fixtures.ts';
import { captureLogs } from '../helpers/logs.ts';

const ORDER_A = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const documentsMock = mockClient(DynamoDBDocumentClient);
const context = fakeContext('notifyCustomer');
const ids = (...records: SQSRecord[]): SQSBatchResponse => ({ batchItemFailures: records.map((record) => ({ itemIdentifier: record.messageId })) });

/** A document-events record whose S3 notification names this (already URL-encoded) key. */
const withKey = (encodedKey: string): SQSRecord => {
  const record = asNewMessage(firstRecord('s3-invoice-created'));
  const notification = bodyOf<{ Records: { s3: { object: { key: string } } }[] }>(record);
  (notification.Records[0] as { s3: { object: { key: string } } }).s3.object.key = encodedKey;
  record.body = JSON.stringify(notification);
  return record;
};

describe('Function: notifyCustomer', () => {
  let table: FakeOrdersTable;

  beforeAll(() => {
    stubDeployedEnv('notifyCustomer');
  });

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-11-22T10:15:32.000Z'));
    table = fakeOrdersTable(documentsMock);
  });

  afterEach(() => {
    vi.useRealTimers();
    documentsMock.reset();
  });

  afterAll(() => {
    vi.unstubAllEnvs();
  });

  it('notifies the customer of a new invoice and a new label, marking each once on the order', async () => {
    // Act
    const response = await notifyCustomerHandler(batchOf(firstRecord('s3-invoice-created'), firstRecord('s3-label-created')), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(documentsMock).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: DEPLOYED.ORDERS_TABLE,
      Key: { orderId: ORDER_A },
      UpdateExpression: 'SET #a = if_not_exists(#a, :at)',
      ExpressionAttributeNames: { '#a': 'invoiceNotifiedAt' },
    });
    expect(table.items.get(ORDER_A)).toEqual({ orderId: ORDER_A, invoiceNotifiedAt: '2026-11-22T10:15:32.000Z', labelNotifiedAt: '2026-11-22T10:15:32.000Z' });
  });

  it('treats the s3:TestEvent as a no-op success', async () => {
    // Act
    const response = await notifyCustomerHandler(batchOf(firstRecord('s3-test-event'), firstRecord('s3-invoice-created')), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(documentsMock).toHaveReceivedCommandTimes(UpdateCommand, 1);
  });

  it('decodes URL-encoded keys before reading the order id from them', async () => {
    // Prepare: S3 URL-encodes keys in events; decoded, this is documents/labels/order_7.json
    const encoded = withKey('documents%2Flabels%2Forder%5F7.json');

    // Act
    const response = await notifyCustomerHandler(batchOf(encoded, firstRecord('s3-test-event')), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(table.items.get('order_7')).toEqual({ orderId: 'order_7', labelNotifiedAt: '2026-11-22T10:15:32.000Z' });
  });

  it('is idempotent on duplicate delivery: the first notification time stays', async () => {
    // Prepare
    await notifyCustomerHandler(batchOf(firstRecord('s3-invoice-created'), firstRecord('s3-test-event')), context);
    vi.setSystemTime(new Date('2026-11-22T10:20:00.000Z'));

    // Act
    const response = await notifyCustomerHandler(batchOf(redelivery(firstRecord('s3-invoice-created')), firstRecord('s3-test-event')), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(table.items.get(ORDER_A)?.invoiceNotifiedAt).toBe('2026-11-22T10:15:32.000Z');
  });

  it('fails an unparseable body and a key that is neither an invoice nor a label (named decoded in the log), never their neighbours', async () => {
    // Prepare
    const invalid = asNewMessage(firstRecord('invalid-body'));
    const stray = withKey('documents/invoices/draft+copy.json');
    const invoice = firstRecord('s3-invoice-created');

    // Act
    let response: SQSBatchResponse | undefined;
    const logs = await captureLogs(async () => {
      response = await notifyCustomerHandler(batchOf(invalid, stray, invoice), context);
    });

    // Assess
    expect(response).toEqual(ids(invalid, stray));
    expect(table.items.get(ORDER_A)?.invoiceNotifiedAt).toBeDefined();
    expect(logs.find((line) => line.messageId === stray.messageId && line.message === 'record failed')?.errorMessage).toBe(
      'Invalid S3 notification: s3.object.key is not an invoice or label key: documents/invoices/draft copy.json',
    );
  });

  it('fails the record whose write DynamoDB throttles; the others are done', async () => {
    // Prepare
    table.failWhen(
      (input) => input.ExpressionAttributeNames?.['#a'] === 'labelNotifiedAt',
      new ProvisionedThroughputExceededException({ message: 'Throughput exceeds the current capacity of your table', $metadata: { httpStatusCode: 400 } }),
    );
    const label = firstRecord('s3-label-created');

    // Act
    const response = await notifyCustomerHandler(batchOf(firstRecord('s3-invoice-created'), label), context);

    // Assess
    expect(response).toEqual(ids(label));
  });

  it('works wrapped in its middleware (the deployed handler)', async () => {
    // Act
    const response = await handler(batchOf(firstRecord('s3-label-created')), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(table.items.get(ORDER_A)?.labelNotifiedAt).toBe('2026-11-22T10:15:32.000Z');
  });
});
