import '../../helpers/env.ts';
import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { getOrderView, recordDocumentNotice, recordEvent } from '#lib/aws/orders-table.ts';
import { markOnce } from '#lib/aws/orders-table.ts'; // slice-line:reviews
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
/** The conditional status writes (a physical order's CHARGED or SHIPPED, unless the other step is recorded). */
const statusWrites = (): UpdateCommandInput[] =>
  documentsMock
    .commandCalls(UpdateCommand)
    .map((call) => call.args[0].input as UpdateCommandInput)
    .filter((input) => input.ConditionExpression !== undefined);
const updateInputs = (): UpdateCommandInput[] => documentsMock.commandCalls(UpdateCommand).map((call) => call.args[0].input as UpdateCommandInput);

/** S3 event sequencers (hex strings): the invoice's as in events/sqs/s3-invoice-created.json, then a later write of it. */
const INVOICE_SEQUENCER = 'EDF4172E5E7EBBC0A7';
const INVOICE_REWRITE_SEQUENCER = 'EDF4172E5E93D1F2C4';
const LABEL_SEQUENCER = '5C59E1085EC2E45509';

describe('Lib: aws/orders-table', () => {
  let table: FakeOrdersTable;

  beforeEach(() => {
    table = fakeOrdersTable(documentsMock);
  });

  afterEach(() => {
    vi.useRealTimers();
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
        UpdateExpression: expect.stringMatching(/^SET (#a\d+ = if_not_exists\(#a\d+, :v\d+\), )+#status = if_not_exists\(#status, :status\)$/),
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

    it('writes the first status with the attributes, only if no status is set yet: one write for OrderPlaced', async () => {
      // Act
      await recordEvent(TABLE, storedEvents()[0] as OrderEvent);

      // Assess
      expect(updateInputs()).toEqual([
        expect.objectContaining({
          UpdateExpression: expect.stringMatching(/, #status = if_not_exists\(#status, :status\)$/),
          ExpressionAttributeValues: expect.objectContaining({ ':status': 'PLACED' }),
        }),
      ]);
      expect(statusWrites()).toEqual([]);
    });

    it("completes a digital order with its OrderCharged write alone (COMPLETED is the top status)", async () => {
      // Prepare
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(new Date('2026-11-22T10:15:32.000Z'));
      const [, placedB, , chargedB] = storedEvents() as OrderEvent[];
      await recordEvent(TABLE, placedB as OrderEvent);

      // Act
      const status = await recordEvent(TABLE, chargedB as OrderEvent);

      // Assess
      expect(status).toBe('COMPLETED');
      expect(updateInputs()).toHaveLength(2);
      expect(updateInputs()[1]).toMatchObject({
        UpdateExpression: expect.stringMatching(/, #status = :status, #completedAt = if_not_exists\(#completedAt, :now\)$/),
        ExpressionAttributeValues: expect.objectContaining({ ':status': 'COMPLETED', ':now': '2026-11-22T10:15:32.000Z' }),
      });
      expect(table.items.get(ORDER_B)).toMatchObject({ status: 'COMPLETED', completedAt: '2026-11-22T10:15:32.000Z' });
    });

    it("sets CHARGED or SHIPPED with the event's attributes unless the other step is recorded; the second step completes the order", async () => {
      // Prepare
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(new Date('2026-11-22T10:15:32.000Z'));

      // Act: A placed, B placed, A charged, B charged (digital), A shipped
      for (const event of storedEvents()) await recordEvent(TABLE, event);

      // Assess
      expect(
        updateInputs().map((input) => [input.Key?.orderId, input.UpdateExpression?.replace(/^SET (#a\d+ = if_not_exists\(#a\d+, :v\d+\), )+/, ''), input.ConditionExpression, input.ExpressionAttributeNames?.['#other'], input.ExpressionAttributeValues?.[':status']]),
      ).toEqual([
        [ORDER_A, '#status = if_not_exists(#status, :status)', undefined, undefined, 'PLACED'],
        [ORDER_B, '#status = if_not_exists(#status, :status)', undefined, undefined, 'PLACED'],
        [ORDER_A, '#status = :status', 'attribute_not_exists(#other)', 'shippedAt', 'CHARGED'],
        [ORDER_B, '#status = :status, #completedAt = if_not_exists(#completedAt, :now)', undefined, undefined, 'COMPLETED'],
        // A's OrderShipped: its condition fails (A is charged), so a second write completes the order.
        [ORDER_A, '#status = :status', 'attribute_not_exists(#other)', 'chargedAt', 'SHIPPED'],
        [ORDER_A, '#status = :status, #completedAt = if_not_exists(#completedAt, :now)', undefined, undefined, 'COMPLETED'],
      ]);
      expect(table.items.get(ORDER_A)).toMatchObject({ status: 'COMPLETED', completedAt: '2026-11-22T10:15:32.000Z', shippedAt: expect.any(String), trackingNumber: expect.any(String) });
      expect(table.items.get(ORDER_B)?.status).toBe('COMPLETED');
    });

    it('sets completedAt once, when the order first reaches COMPLETED; a later duplicate event leaves it', async () => {
      // Prepare: order A is placed and charged (not complete yet), then shipped at 10:15:33
      const [placedA, , chargedA, , shippedA] = storedEvents() as OrderEvent[];
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(new Date('2026-11-22T10:15:32.000Z'));
      await recordEvent(TABLE, placedA as OrderEvent);
      await recordEvent(TABLE, chargedA as OrderEvent);
      const chargedItem = structuredClone(table.items.get(ORDER_A));
      vi.setSystemTime(new Date('2026-11-22T10:15:33.000Z'));
      await recordEvent(TABLE, shippedA as OrderEvent);
      const completedItem = structuredClone(table.items.get(ORDER_A));
      const writes = updateInputs().length;
      vi.setSystemTime(new Date('2026-11-22T10:20:00.000Z'));

      // Act: the shipping event is delivered again, later
      const status = await recordEvent(TABLE, structuredClone(shippedA as OrderEvent));

      // Assess
      expect(chargedItem).not.toHaveProperty('completedAt');
      expect(completedItem).toMatchObject({ status: 'COMPLETED', completedAt: '2026-11-22T10:15:33.000Z' });
      expect(status).toBe('COMPLETED');
      expect(table.items.get(ORDER_A)).toEqual(completedItem);
      // The conditional SHIPPED write fails (A is charged) and the COMPLETED write keeps the first completedAt.
      expect(updateInputs()).toHaveLength(writes + 2);
    });

    it('keeps the first completedAt when a concurrent writer completes the order again (if_not_exists)', async () => {
      // Prepare: completed at 10:15:33, but the stored status lags (a concurrent writer's step, recorded late)
      const [placedA, , chargedA, , shippedA] = storedEvents() as OrderEvent[];
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(new Date('2026-11-22T10:15:33.000Z'));
      for (const event of [placedA, chargedA, shippedA] as OrderEvent[]) await recordEvent(TABLE, event);
      table.items.set(ORDER_A, { ...table.items.get(ORDER_A), status: 'SHIPPED' });
      vi.setSystemTime(new Date('2026-11-22T10:20:00.000Z'));

      // Act
      const status = await recordEvent(TABLE, structuredClone(shippedA as OrderEvent));

      // Assess
      expect(status).toBe('COMPLETED');
      expect(documentsMock).toHaveReceivedLastCommandWith(UpdateCommand, {
        UpdateExpression: expect.stringMatching(/, #status = :status, #completedAt = if_not_exists\(#completedAt, :now\)$/),
        ExpressionAttributeValues: expect.objectContaining({ ':status': 'COMPLETED', ':now': '2026-11-22T10:20:00.000Z' }),
      });
      expect(table.items.get(ORDER_A)).toMatchObject({ status: 'COMPLETED', completedAt: '2026-11-22T10:15:33.000Z' });
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

    it('completes the order when the conditional write finds the other step recorded (shipped before charged)', async () => {
      // Prepare
      const [placedA, , chargedA, , shippedA] = storedEvents() as OrderEvent[];
      await recordEvent(TABLE, placedA as OrderEvent);
      await recordEvent(TABLE, shippedA as OrderEvent);
      const writes = updateInputs().length;

      // Act
      const status = await recordEvent(TABLE, chargedA as OrderEvent);

      // Assess
      expect(status).toBe('COMPLETED');
      expect(updateInputs().slice(writes).map((input) => input.ExpressionAttributeValues?.[':status'])).toEqual(['CHARGED', 'COMPLETED']);
      expect(table.items.get(ORDER_A)).toMatchObject({ status: 'COMPLETED', chargedAt: chargedA?.occurredAt, invoiceKey: expect.any(String) });
    });

    it('rethrows any other error of the status write', async () => {
      // Prepare
      const throttled = new ProvisionedThroughputExceededException({ message: 'Throughput exceeds the current capacity of your table', $metadata: { httpStatusCode: 400 } });
      const [placedA, , chargedA] = storedEvents() as OrderEvent[];
      await recordEvent(TABLE, placedA as OrderEvent);
      table.failWhen((input) => input.ConditionExpression !== undefined, throttled);

      // Act + Assess
      await expect(recordEvent(TABLE, chargedA as OrderEvent)).rejects.toBe(throttled);
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

  // slice-begin:reviews
  describe('markOnce', () => {
    it('stamps the attribute the first time only', async () => {
      // Act
      await markOnce(TABLE, ORDER_A, 'reviewRequestedAt', '2026-11-22T10:15:32.000Z');
      await markOnce(TABLE, ORDER_A, 'reviewRequestedAt', '2026-11-22T10:20:00.000Z');

      // Assess
      expect(documentsMock).toHaveReceivedCommandWith(UpdateCommand, {
        TableName: TABLE,
        Key: { orderId: ORDER_A },
        UpdateExpression: 'SET #a = if_not_exists(#a, :at)',
        ExpressionAttributeNames: { '#a': 'reviewRequestedAt' },
      });
      expect(table.items.get(ORDER_A)).toEqual({ orderId: ORDER_A, reviewRequestedAt: '2026-11-22T10:15:32.000Z' });
    });
  });
  // slice-end:reviews

  describe('recordDocumentNotice', () => {
    it("stamps the notice time and adds the S3 event's sequencer to the document's writes", async () => {
      // Act
      await recordDocumentNotice(TABLE, ORDER_A, 'invoice', { at: '2026-11-22T10:15:32.000Z', sequencer: INVOICE_SEQUENCER });

      // Assess
      expect(updateInputs()).toEqual([
        {
          TableName: TABLE,
          Key: { orderId: ORDER_A },
          UpdateExpression: 'SET #at = if_not_exists(#at, :at) ADD #writes :sequencer',
          ExpressionAttributeNames: { '#at': 'invoiceNotifiedAt', '#writes': 'invoiceWrites' },
          ExpressionAttributeValues: { ':at': '2026-11-22T10:15:32.000Z', ':sequencer': new Set([INVOICE_SEQUENCER]) },
        },
      ]);
      expect(table.items.get(ORDER_A)).toEqual({ orderId: ORDER_A, invoiceNotifiedAt: '2026-11-22T10:15:32.000Z', invoiceWrites: new Set([INVOICE_SEQUENCER]) });
    });

    it('changes nothing for a redelivered S3 event (same sequencer): one write, the first notice time', async () => {
      // Prepare
      await recordDocumentNotice(TABLE, ORDER_A, 'invoice', { at: '2026-11-22T10:15:32.000Z', sequencer: INVOICE_SEQUENCER });
      const before = structuredClone(table.items.get(ORDER_A));

      // Act
      await recordDocumentNotice(TABLE, ORDER_A, 'invoice', { at: '2026-11-22T10:20:00.000Z', sequencer: INVOICE_SEQUENCER });

      // Assess
      expect(table.items.get(ORDER_A)).toEqual(before);
      expect(table.items.get(ORDER_A)).toEqual({ orderId: ORDER_A, invoiceNotifiedAt: '2026-11-22T10:15:32.000Z', invoiceWrites: new Set([INVOICE_SEQUENCER]) });
    });

    it('shows a second write of the document (another sequencer) as two writes, keeping the first notice time', async () => {
      // Prepare
      await recordDocumentNotice(TABLE, ORDER_A, 'invoice', { at: '2026-11-22T10:15:32.000Z', sequencer: INVOICE_SEQUENCER });

      // Act
      await recordDocumentNotice(TABLE, ORDER_A, 'invoice', { at: '2026-11-22T10:20:00.000Z', sequencer: INVOICE_REWRITE_SEQUENCER });

      // Assess
      expect(documentsMock).toHaveReceivedLastCommandWith(UpdateCommand, {
        ExpressionAttributeValues: { ':at': '2026-11-22T10:20:00.000Z', ':sequencer': new Set([INVOICE_REWRITE_SEQUENCER]) },
      });
      expect(table.items.get(ORDER_A)).toEqual({
        orderId: ORDER_A,
        invoiceNotifiedAt: '2026-11-22T10:15:32.000Z',
        invoiceWrites: new Set([INVOICE_SEQUENCER, INVOICE_REWRITE_SEQUENCER]),
      });
    });

    it("keeps each document's writes apart: the label's go to labelWrites", async () => {
      // Act
      await recordDocumentNotice(TABLE, ORDER_A, 'invoice', { at: '2026-11-22T10:15:32.000Z', sequencer: INVOICE_SEQUENCER });
      await recordDocumentNotice(TABLE, ORDER_A, 'label', { at: '2026-11-22T10:15:33.000Z', sequencer: LABEL_SEQUENCER });

      // Assess
      expect(documentsMock).toHaveReceivedLastCommandWith(UpdateCommand, {
        UpdateExpression: 'SET #at = if_not_exists(#at, :at) ADD #writes :sequencer',
        ExpressionAttributeNames: { '#at': 'labelNotifiedAt', '#writes': 'labelWrites' },
        ExpressionAttributeValues: { ':at': '2026-11-22T10:15:33.000Z', ':sequencer': new Set([LABEL_SEQUENCER]) },
      });
      expect(table.items.get(ORDER_A)).toEqual({
        orderId: ORDER_A,
        invoiceNotifiedAt: '2026-11-22T10:15:32.000Z',
        invoiceWrites: new Set([INVOICE_SEQUENCER]),
        labelNotifiedAt: '2026-11-22T10:15:33.000Z',
        labelWrites: new Set([LABEL_SEQUENCER]),
      });
    });

    it('writes only the notice time when the event has no sequencer (no empty set: DynamoDB rejects one)', async () => {
      // Act
      await recordDocumentNotice(TABLE, ORDER_A, 'label', { at: '2026-11-22T10:15:32.000Z', sequencer: '' });
      await recordDocumentNotice(TABLE, ORDER_A, 'label', { at: '2026-11-22T10:20:00.000Z', sequencer: '' });

      // Assess
      expect(updateInputs()[0]).toEqual({
        TableName: TABLE,
        Key: { orderId: ORDER_A },
        UpdateExpression: 'SET #at = if_not_exists(#at, :at)',
        ExpressionAttributeNames: { '#at': 'labelNotifiedAt' },
        ExpressionAttributeValues: { ':at': '2026-11-22T10:15:32.000Z' },
      });
      expect(table.items.get(ORDER_A)).toEqual({ orderId: ORDER_A, labelNotifiedAt: '2026-11-22T10:15:32.000Z' });
    });
  });

  describe('getOrderView', () => {
    it('answers the order with its derived status and its timeline, oldest step first, ending with COMPLETED', async () => {
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
        { status: 'COMPLETED', at: '2026-11-22T10:15:31.544Z' },
      ]);
    });

    it('answers the write sets as counts, 0 for a document not written yet', async () => {
      // Prepare: the invoice was written twice, the label not yet
      const stored = {
        orderId: ORDER_A,
        status: 'CHARGED',
        fulfillment: 'physical',
        placedAt: '2026-11-22T10:15:30.412Z',
        chargedAt: '2026-11-22T10:15:31.087Z',
        invoiceKey: `documents/invoices/${ORDER_A}.json`,
        invoiceNotifiedAt: '2026-11-22T10:15:32.000Z',
      };
      table.items.set(ORDER_A, { ...structuredClone(stored), invoiceWrites: new Set([INVOICE_SEQUENCER, INVOICE_REWRITE_SEQUENCER]) });

      // Act
      const view = await getOrderView(TABLE, ORDER_A);

      // Assess
      expect(view).toEqual({
        ...stored,
        status: 'CHARGED',
        timeline: [
          { status: 'PLACED', at: '2026-11-22T10:15:30.412Z' },
          { status: 'CHARGED', at: '2026-11-22T10:15:31.087Z' },
        ],
        invoiceWrites: 2,
        labelWrites: 0,
      });
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
