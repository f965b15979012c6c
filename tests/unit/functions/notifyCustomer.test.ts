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
/** The S3 event sequencers of events/sqs/s3-invoice-created.json and s3-label-created.json. */
const INVOICE_SEQUENCER = 'EDF4172E5E7EBBC0A7';
const LABEL_SEQUENCER = '5C59E1085EC2E45509';
const documentsMock = mockClient(DynamoDBDocumentClient);
const context = fakeContext('notifyCustomer');
const ids = (...records: SQSRecord[]): SQSBatchResponse => ({ batchItemFailures: records.map((record) => ({ itemIdentifier: record.messageId })) });

type S3Object = { key: string; sequencer?: string };

/** A new document-events message: the invoice notification with its object changed (a sequencer of undefined is left out). */
const withObject = (changes: Partial<Record<keyof S3Object, string | undefined>>): SQSRecord => {
  const record = asNewMessage(firstRecord('s3-invoice-created'));
  const notification = bodyOf<{ Records: { s3: { object: S3Object } }[] }>(record);
  const object = (notification.Records[0] as { s3: { object: S3Object } }).s3.object;
  for (const [name, value] of Object.entries(changes) as [keyof S3Object, string | undefined][]) {
    if (value === undefined) delete object[name];
    else object[name] = value;
  }
  record.body = JSON.stringify(notification);
  return record;
};

/** A document-events record whose S3 notification names this (already URL-encoded) key. */
const withKey = (encodedKey: string): SQSRecord => withObject({ key: encodedKey });

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

  it("notifies the customer of a new invoice and a new label, recording each notice with its S3 event's sequencer", async () => {
    // Act
    const response = await notifyCustomerHandler(batchOf(firstRecord('s3-invoice-created'), firstRecord('s3-label-created')), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(documentsMock).toHaveReceivedCommandTimes(UpdateCommand, 2);
    expect(documentsMock).toHaveReceivedNthCommandWith(UpdateCommand, 1, {
      TableName: DEPLOYED.ORDERS_TABLE,
      Key: { orderId: ORDER_A },
      UpdateExpression: 'SET #at = if_not_exists(#at, :at) ADD #writes :sequencer',
      ExpressionAttributeNames: { '#at': 'invoiceNotifiedAt', '#writes': 'invoiceWrites' },
      ExpressionAttributeValues: { ':at': '2026-11-22T10:15:32.000Z', ':sequencer': new Set([INVOICE_SEQUENCER]) },
    });
    expect(documentsMock).toHaveReceivedNthCommandWith(UpdateCommand, 2, {
      TableName: DEPLOYED.ORDERS_TABLE,
      Key: { orderId: ORDER_A },
      UpdateExpression: 'SET #at = if_not_exists(#at, :at) ADD #writes :sequencer',
      ExpressionAttributeNames: { '#at': 'labelNotifiedAt', '#writes': 'labelWrites' },
      ExpressionAttributeValues: { ':at': '2026-11-22T10:15:32.000Z', ':sequencer': new Set([LABEL_SEQUENCER]) },
    });
    expect(table.items.get(ORDER_A)).toEqual({
      orderId: ORDER_A,
      invoiceNotifiedAt: '2026-11-22T10:15:32.000Z',
      invoiceWrites: new Set([INVOICE_SEQUENCER]),
      labelNotifiedAt: '2026-11-22T10:15:32.000Z',
      labelWrites: new Set([LABEL_SEQUENCER]),
    });
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
    expect(table.items.get('order_7')).toEqual({ orderId: 'order_7', labelNotifiedAt: '2026-11-22T10:15:32.000Z', labelWrites: new Set([INVOICE_SEQUENCER]) });
  });

  it('is idempotent on duplicate delivery: the first notification time stays, and the write is counted once', async () => {
    // Prepare
    await notifyCustomerHandler(batchOf(firstRecord('s3-invoice-created'), firstRecord('s3-test-event')), context);
    vi.setSystemTime(new Date('2026-11-22T10:20:00.000Z'));

    // Act
    const response = await notifyCustomerHandler(batchOf(redelivery(firstRecord('s3-invoice-created')), firstRecord('s3-test-event')), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(table.items.get(ORDER_A)).toEqual({ orderId: ORDER_A, invoiceNotifiedAt: '2026-11-22T10:15:32.000Z', invoiceWrites: new Set([INVOICE_SEQUENCER]) });
  });

  it('is idempotent when S3 sends the same event twice (two messages, one sequencer)', async () => {
    // Prepare
    await notifyCustomerHandler(batchOf(firstRecord('s3-invoice-created')), context);
    vi.setSystemTime(new Date('2026-11-22T10:20:00.000Z'));

    // Act
    const response = await notifyCustomerHandler(batchOf(asNewMessage(firstRecord('s3-invoice-created'))), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(table.items.get(ORDER_A)).toEqual({ orderId: ORDER_A, invoiceNotifiedAt: '2026-11-22T10:15:32.000Z', invoiceWrites: new Set([INVOICE_SEQUENCER]) });
  });

  it('counts a second write of the invoice (a new S3 event, another sequencer) without changing the notice time', async () => {
    // Prepare
    const rewrite = withObject({ sequencer: 'EDF4172E5E93D1F2C4' });
    await notifyCustomerHandler(batchOf(firstRecord('s3-invoice-created')), context);
    vi.setSystemTime(new Date('2026-11-22T10:20:00.000Z'));

    // Act
    const response = await notifyCustomerHandler(batchOf(rewrite), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(documentsMock).toHaveReceivedLastCommandWith(UpdateCommand, {
      ExpressionAttributeValues: { ':at': '2026-11-22T10:20:00.000Z', ':sequencer': new Set(['EDF4172E5E93D1F2C4']) },
    });
    expect(table.items.get(ORDER_A)).toEqual({
      orderId: ORDER_A,
      invoiceNotifiedAt: '2026-11-22T10:15:32.000Z',
      invoiceWrites: new Set([INVOICE_SEQUENCER, 'EDF4172E5E93D1F2C4']),
    });
  });

  it('records only the notice time for a notification without a sequencer', async () => {
    // Prepare
    const unsequenced = withObject({ sequencer: undefined });

    // Act
    const response = await notifyCustomerHandler(batchOf(unsequenced), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(documentsMock).toHaveReceivedCommandExactlyOnceWith(UpdateCommand, {
      TableName: DEPLOYED.ORDERS_TABLE,
      Key: { orderId: ORDER_A },
      UpdateExpression: 'SET #at = if_not_exists(#at, :at)',
      ExpressionAttributeNames: { '#at': 'invoiceNotifiedAt' },
      ExpressionAttributeValues: { ':at': '2026-11-22T10:15:32.000Z' },
    });
    expect(table.items.get(ORDER_A)).toEqual({ orderId: ORDER_A, invoiceNotifiedAt: '2026-11-22T10:15:32.000Z' });
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
      (input) => input.ExpressionAttributeNames?.['#at'] === 'labelNotifiedAt',
      new ProvisionedThroughputExceededException({ message: 'Throughput exceeds the current capacity of your table', $metadata: { httpStatusCode: 400 } }),
    );
    const label = firstRecord('s3-label-created');

    // Act
    const response = await notifyCustomerHandler(batchOf(firstRecord('s3-invoice-created'), label), context);

    // Assess
    expect(response).toEqual(ids(label));
    expect(table.items.get(ORDER_A)).toEqual({ orderId: ORDER_A, invoiceNotifiedAt: '2026-11-22T10:15:32.000Z', invoiceWrites: new Set([INVOICE_SEQUENCER]) });
  });

  it('works wrapped in its middleware (the deployed handler)', async () => {
    // Act
    const response = await handler(batchOf(firstRecord('s3-label-created')), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(table.items.get(ORDER_A)?.labelNotifiedAt).toBe('2026-11-22T10:15:32.000Z');
  });
});
