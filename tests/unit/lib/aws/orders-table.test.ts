import '../../helpers/env.ts';
import { ConditionalCheckFailedException, ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getOrderView, markOnce, recordEvent } from '#lib/aws/orders-table.ts';
import { parseOrderEvent, type OrderEvent } from '#lib/events/order-events.ts';
import { fakeOrdersTable, type FakeOrdersTable } from '../../helpers/dynamodb.ts';
import { DEPLOYED } from '../../helpers/env.ts';
import { sqsRecords } from '../../helpers/fixtures.ts';

const TABLE = DEPLOYED.ORDERS_TABLE;
const ORDER_A = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const ORDER_B = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
const documentsMock = mockClient(DynamoDBDocumentClient);

/** The five events of events/sqs/order-store-fifo.json: A placed, B placed, A charged, B charged, A shipped. */
const storedEvents = (): OrderEvent[] => sqsRecords('order-store-fifo').map((record) => parseOrderEvent(record.body));
const statusWrites = (): UpdateCommandInput[] =>
  documentsMock
    .commandCalls(UpdateCommand)
    .map((call) => call.args[0].input as UpdateCommandInput)
    .filter((input) => input.UpdateExpression === 'SET #status = :status');

describe('Lib: aws/orders-table', () => {
  let table: FakeOrdersTable;

  beforeEach(() => {
    table = fakeOrdersTable(documentsMock);
  });

  afterEach(() => {
    documentsMock.reset();
  });

  describe('recordEvent', () => {
    it('writes every attribute of the event with if_not_exists, and answers the status', async () => {
      // Prepare
      const [placedA] = storedEvents();

      // Act
      const status = await recordEvent(TABLE, placedA as OrderEvent);

      // Assess
      expect(status).toBe('PLACED');
      expect(documentsMock).toHaveReceivedCommandWith(UpdateCommand, {
        TableName: TABLE,
        Key: { orderId: ORDER_A },
        UpdateExpression: expect.stringMatching(/^SET (#a\d+ = if_not_exists\(#a\d+, :v\d+\)(, )?)+$/),
        ReturnValues: 'ALL_NEW',
      });
      expect(table.items.get(ORDER_A)).toMatchObject({
        orderId: ORDER_A,
        status: 'PLACED',
        customerId: 'c-42',
        fulfillment: 'physical',
        placedAt: '2026-11-22T10:15:30.412Z',
        totalCents: 3448,
        correlationId: 'CxW2NhQ9IAMEJbw=',
      });
    });

    it('writes the first status with the condition "not set yet" only (DynamoDB rejects an empty IN list)', async () => {
      // Act
      await recordEvent(TABLE, storedEvents()[0] as OrderEvent);

      // Assess
      expect(statusWrites()).toEqual([
        expect.objectContaining({ ConditionExpression: 'attribute_not_exists(#status)', ExpressionAttributeValues: { ':status': 'PLACED' } }),
      ]);
    });

    it('moves the status forward with a condition naming the statuses below it', async () => {
      // Act
      for (const event of storedEvents()) await recordEvent(TABLE, event);

      // Assess
      expect(statusWrites().map((input) => [input.Key?.orderId, input.ExpressionAttributeValues?.[':status'], input.ConditionExpression])).toEqual([
        [ORDER_A, 'PLACED', 'attribute_not_exists(#status)'],
        [ORDER_B, 'PLACED', 'attribute_not_exists(#status)'],
        [ORDER_A, 'CHARGED', 'attribute_not_exists(#status) OR #status IN (:below0)'],
        [ORDER_B, 'COMPLETED', 'attribute_not_exists(#status) OR #status IN (:below0, :below1, :below2)'],
        [ORDER_A, 'COMPLETED', 'attribute_not_exists(#status) OR #status IN (:below0, :below1, :below2)'],
      ]);
      expect(table.items.get(ORDER_A)?.status).toBe('COMPLETED');
      expect(table.items.get(ORDER_B)?.status).toBe('COMPLETED');
    });

    it('leaves the item unchanged when an event is recorded twice (first write wins, no status write)', async () => {
      // Prepare
      for (const event of storedEvents()) await recordEvent(TABLE, event);
      const before = structuredClone(table.items.get(ORDER_A));
      const writes = statusWrites().length;
      const late = { ...(storedEvents()[0] as OrderEvent), occurredAt: '2026-11-22T11:00:00.000Z', correlationId: 'retry' };

      // Act
      const status = await recordEvent(TABLE, late);

      // Assess
      expect(status).toBe('COMPLETED');
      expect(table.items.get(ORDER_A)).toEqual(before);
      expect(statusWrites()).toHaveLength(writes);
    });

    it('drops attributes an event does not have (a digital order has no shipping address)', async () => {
      // Act
      await recordEvent(TABLE, storedEvents()[1] as OrderEvent);

      // Assess
      const input = documentsMock.commandCalls(UpdateCommand)[0]?.args[0].input as UpdateCommandInput;
      expect(Object.values(input.ExpressionAttributeNames ?? {})).not.toContain('shippingAddress');
      expect(Object.values(input.ExpressionAttributeValues ?? {})).not.toContain(undefined);
    });

    it('ignores a failed status condition: a concurrent writer stored this status or a later one', async () => {
      // Prepare
      table.failWhen(
        (input) => input.UpdateExpression === 'SET #status = :status',
        new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: { httpStatusCode: 400 } }),
      );

      // Act
      const status = await recordEvent(TABLE, storedEvents()[0] as OrderEvent);

      // Assess
      expect(status).toBe('PLACED');
    });

    it('rethrows any other error of the status write', async () => {
      // Prepare
      const throttled = new ProvisionedThroughputExceededException({ message: 'Throughput exceeds the current capacity of your table', $metadata: { httpStatusCode: 400 } });
      table.failWhen((input) => input.UpdateExpression === 'SET #status = :status', throttled);

      // Act + Assess
      await expect(recordEvent(TABLE, storedEvents()[0] as OrderEvent)).rejects.toBe(throttled);
    });

    it('never moves a COMPLETED order back, whatever arrives late', async () => {
      // Prepare
      const [placedA, , chargedA, , shippedA] = storedEvents() as OrderEvent[];
      await recordEvent(TABLE, shippedA as OrderEvent);
      await recordEvent(TABLE, chargedA as OrderEvent);

      // Act
      const status = await recordEvent(TABLE, placedA as OrderEvent);

      // Assess
      expect(status).toBe('COMPLETED');
      expect(table.items.get(ORDER_A)?.status).toBe('COMPLETED');
    });
  });

  describe('markOnce', () => {
    it('stamps the attribute the first time only', async () => {
      // Act
      await markOnce(TABLE, ORDER_A, 'invoiceNotifiedAt', '2026-11-22T10:15:32.000Z');
      await markOnce(TABLE, ORDER_A, 'invoiceNotifiedAt', '2026-11-22T10:20:00.000Z');

      // Assess
      expect(documentsMock).toHaveReceivedCommandWith(UpdateCommand, {
        TableName: TABLE,
        Key: { orderId: ORDER_A },
        UpdateExpression: 'SET #a = if_not_exists(#a, :at)',
        ExpressionAttributeNames: { '#a': 'invoiceNotifiedAt' },
      });
      expect(table.items.get(ORDER_A)?.invoiceNotifiedAt).toBe('2026-11-22T10:15:32.000Z');
    });
  });

  describe('getOrderView', () => {
    it('answers the order with its derived status and its timeline, oldest step first', async () => {
      // Prepare: shipping landed before charging, and the stored status lags behind
      table.items.set(ORDER_A, {
        orderId: ORDER_A,
        status: 'SHIPPED',
        fulfillment: 'physical',
        placedAt: '2026-11-22T10:15:30.412Z',
        shippedAt: '2026-11-22T10:15:31.000Z',
        chargedAt: '2026-11-22T10:15:31.544Z',
      });

      // Act
      const view = await getOrderView(TABLE, ORDER_A);

      // Assess
      expect(documentsMock).toHaveReceivedCommandWith(GetCommand, { TableName: TABLE, Key: { orderId: ORDER_A } });
      expect(view?.status).toBe('COMPLETED');
      expect(view?.timeline).toEqual([
        { status: 'PLACED', at: '2026-11-22T10:15:30.412Z' },
        { status: 'SHIPPED', at: '2026-11-22T10:15:31.000Z' },
        { status: 'CHARGED', at: '2026-11-22T10:15:31.544Z' },
      ]);
    });

    it('answers undefined for no item, and for an item its OrderPlaced has not reached yet', async () => {
      // Prepare: a notification can stamp an item before recordOrderEvent writes the order
      table.items.set(ORDER_B, { orderId: ORDER_B, invoiceNotifiedAt: '2026-11-22T10:15:32.000Z' });

      // Act + Assess
      expect(await getOrderView(TABLE, ORDER_A)).toBeUndefined();
      expect(await getOrderView(TABLE, ORDER_B)).toBeUndefined();
    });
  });
});
