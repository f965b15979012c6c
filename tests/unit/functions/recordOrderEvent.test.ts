import '../helpers/env.ts';
import { FullBatchFailureError } from '@aws-lambda-powertools/batch';
import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import type { SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler, recordOrderEventHandler } from '../../../functions/recordOrderEvent.ts';
import { fakeContext } from '../helpers/context.ts';
import { fakeOrdersTable, type FakeOrdersTable } from '../helpers/dynamodb.ts';
import { DEPLOYED, stubDeployedEnv } from '../helpers/env.ts';
import { batchOf, redelivery, sqsRecords } from '../helpers/fixtures.ts';

const ORDER_A = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const ORDER_B = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
const documentsMock = mockClient(DynamoDBDocumentClient);
const context = fakeContext('recordOrderEvent');

/** events/sqs/order-store-fifo.json: A placed, B placed, A charged, B charged, A shipped (groups A and B). */
const fifoRecords = (): [SQSRecord, SQSRecord, SQSRecord, SQSRecord, SQSRecord] => sqsRecords('order-store-fifo') as [SQSRecord, SQSRecord, SQSRecord, SQSRecord, SQSRecord];
const ids = (...records: SQSRecord[]): { itemIdentifier: string }[] => records.map((record) => ({ itemIdentifier: record.messageId }));
const writesFor = (orderId: string): UpdateCommandInput[] =>
  documentsMock
    .commandCalls(UpdateCommand)
    .map((call) => call.args[0].input as UpdateCommandInput)
    .filter((input) => input.Key?.orderId === orderId);
const throttled = (): ProvisionedThroughputExceededException =>
  new ProvisionedThroughputExceededException({ message: 'Throughput exceeds the current capacity of your table', $metadata: { httpStatusCode: 400 } });

describe('Function: recordOrderEvent', () => {
  let table: FakeOrdersTable;

  beforeAll(() => {
    stubDeployedEnv('recordOrderEvent');
  });

  beforeEach(() => {
    table = fakeOrdersTable(documentsMock);
  });

  afterEach(() => {
    documentsMock.reset();
  });

  afterAll(() => {
    vi.unstubAllEnvs();
  });

  it('records every event of the batch in the Orders table, with the status each order reached', async () => {
    // Act
    const response = await recordOrderEventHandler(batchOf(...fifoRecords()), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(documentsMock).toHaveReceivedCommandWith(UpdateCommand, { TableName: DEPLOYED.ORDERS_TABLE, Key: { orderId: ORDER_A }, ReturnValues: 'ALL_NEW' });
    expect(table.items.get(ORDER_A)).toMatchObject({
      status: 'COMPLETED',
      placedAt: '2026-11-22T10:15:30.412Z',
      chargedAt: '2026-11-22T10:15:31.087Z',
      shippedAt: '2026-11-22T10:15:31.544Z',
      invoiceKey: `documents/invoices/${ORDER_A}.json`,
      labelKey: `documents/labels/${ORDER_A}.json`,
      totalCents: 3448,
    });
    expect(table.items.get(ORDER_B)).toMatchObject({ status: 'COMPLETED', fulfillment: 'digital', chargedAt: '2026-11-22T10:15:31.204Z' });
  });

  it('records the first event of an order (status PLACED, written only if no status is set yet)', async () => {
    // Act
    const response = await recordOrderEventHandler(batchOf(fifoRecords()[0]), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(documentsMock).toHaveReceivedCommandTimes(UpdateCommand, 1);
    expect(documentsMock).toHaveReceivedCommandWith(UpdateCommand, { UpdateExpression: expect.stringMatching(/, #status = if_not_exists\(#status, :status\)$/) });
    expect(table.items.get(ORDER_A)?.status).toBe('PLACED');
  });

  it('FIFO: a failure holds back the rest of its message group; the other group proceeds', async () => {
    // Prepare: A's OrderPlaced write is throttled
    const [placedA, placedB, chargedA, chargedB, shippedA] = fifoRecords();
    table.failWhen((input) => input.Key?.orderId === ORDER_A, throttled());

    // Act
    const response = await recordOrderEventHandler(batchOf(placedA, placedB, chargedA, chargedB, shippedA), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: ids(placedA, chargedA, shippedA) });
    expect(writesFor(ORDER_A)).toHaveLength(1);
    expect(table.items.get(ORDER_B)?.status).toBe('COMPLETED');
  });

  it('FIFO: an unparseable record fails with the rest of its group, never dropped, never failing the other group', async () => {
    // Prepare
    const [placedA, placedB, chargedA, chargedB, shippedA] = fifoRecords();
    placedB.body = '{"type":"OrderPlaced","orderId":';

    // Act
    const response = await recordOrderEventHandler(batchOf(placedA, placedB, chargedA, chargedB, shippedA), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: ids(placedB, chargedB) });
    expect(writesFor(ORDER_B)).toHaveLength(0);
    expect(table.items.get(ORDER_A)?.status).toBe('COMPLETED');
  });

  it('throws when every record failed, so Lambda returns the whole batch to the queue', async () => {
    // Prepare
    table.failWhen(() => true, throttled());

    // Act + Assess
    await expect(recordOrderEventHandler(batchOf(...fifoRecords()), context)).rejects.toBeInstanceOf(FullBatchFailureError);
  });

  it('is idempotent: a redelivered batch changes nothing', async () => {
    // Prepare
    await recordOrderEventHandler(batchOf(...fifoRecords()), context);
    const before = structuredClone([...table.items.entries()]);
    const writes = documentsMock.commandCalls(UpdateCommand).length;

    // Act
    const response = await recordOrderEventHandler(batchOf(...fifoRecords().map(redelivery)), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect([...table.items.entries()]).toEqual(before);
    // one if_not_exists write per event, plus one for each of A's OrderCharged and OrderShipped: their conditional
    // write fails (the other step is recorded) and the COMPLETED write changes nothing
    expect(documentsMock.commandCalls(UpdateCommand).length - writes).toBe(7);
  });

  it('keeps the status monotonic: a late OrderPlaced never moves a COMPLETED order back', async () => {
    // Prepare
    const [placedA, , chargedA, , shippedA] = fifoRecords();
    await recordOrderEventHandler(batchOf(placedA, chargedA, shippedA), context);

    // Act
    const response = await recordOrderEventHandler(batchOf(redelivery(placedA)), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(table.items.get(ORDER_A)?.status).toBe('COMPLETED');
  });

  it('completes a physical order whichever of its charge and shipment is recorded last', async () => {
    // Prepare
    const [placedA, , chargedA, , shippedA] = fifoRecords();

    // Act
    const response = await recordOrderEventHandler(batchOf(placedA, shippedA, chargedA), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(table.items.get(ORDER_A)).toMatchObject({ status: 'COMPLETED', chargedAt: '2026-11-22T10:15:31.087Z', shippedAt: expect.any(String) });
  });

  it('fails the record when the status write fails for another reason', async () => {
    // Prepare
    const [placedA, placedB, chargedA] = fifoRecords();
    table.failWhen((input) => input.ConditionExpression !== undefined && input.Key?.orderId === ORDER_A, throttled());

    // Act
    const response = await recordOrderEventHandler(batchOf(placedA, placedB, chargedA), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: ids(chargedA) });
  });

  it('works wrapped in its middleware (the deployed handler)', async () => {
    // Act
    const response = await handler(batchOf(...fifoRecords()), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(table.items.get(ORDER_A)?.status).toBe('COMPLETED');
  });
});
