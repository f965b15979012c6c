import '../helpers/env.ts';
import { DynamoDBClient, type AttributeValue, PutItemCommand, ProvisionedThroughputExceededException, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, S3Client, S3ServiceException, type PutObjectCommandInput } from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient, ThrottledException, type PublishCommandInput } from '@aws-sdk/client-sns';
import { ChangeMessageVisibilityCommand, ReceiptHandleIsInvalid, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { chargeOrderHandler, handler } from '../../../functions/chargeOrder.ts';
import { fakeContext } from '../helpers/context.ts';
import { fakeIdempotencyTable, type FakeIdempotencyTable } from '../helpers/dynamodb.ts';
import { DEPLOYED, stubDeployedEnv } from '../helpers/env.ts';
import { captureLogs } from '../helpers/logs.ts';
import { asNewMessage, batchOf, bodyOf, firstRecord, redelivery, sqsRecords } from '../helpers/fixtures.ts';

const dynamodbMock = mockClient(DynamoDBClient);
const s3Mock = mockClient(S3Client);
const snsMock = mockClient(SNSClient);
const sqsMock = mockClient(SQSClient);
const context = fakeContext('chargeOrder');

/** Orders A (physical), C (physical) and B (digital), as the billing queue delivers them. */
const billingRecords = (): [SQSRecord, SQSRecord, SQSRecord] => {
  const [a, c] = sqsRecords('order-placed-physical') as [SQSRecord, SQSRecord];
  return [a, c, firstRecord('order-placed-digital')];
};
const orderIdOf = (record: SQSRecord): string => bodyOf<{ orderId: string }>(record).orderId;
const ids = (...records: SQSRecord[]): SQSBatchResponse => ({ batchItemFailures: records.map((record) => ({ itemIdentifier: record.messageId })) });
const publishedFor = (orderId: string): PublishCommandInput[] =>
  snsMock
    .commandCalls(PublishCommand)
    .map((call) => call.args[0].input as PublishCommandInput)
    .filter((input) => input.MessageGroupId === orderId);
const invoiceKey = (orderId: string): string => `documents/invoices/${orderId}.json`;
/**
 * Turns the stored charge of the (only) order charged so far back into an unfinished one, as an invocation that died
 * between Powertools' INPROGRESS write and its COMPLETED write leaves it: in progress until `inProgressExpiresAt`
 * (ms; Powertools writes none when no Lambda context is registered).
 */
const leaveChargeInProgress = (idempotency: FakeIdempotencyTable, inProgressExpiresAt: number | undefined): void => {
  expect(idempotency.items.size).toBe(1);
  for (const item of idempotency.items.values()) {
    item.status = { S: 'INPROGRESS' } as AttributeValue;
    item.expiration = { N: String(Math.round(Date.now() / 1000) + 600) } as AttributeValue;
    if (inProgressExpiresAt === undefined) delete item.in_progress_expiration;
    else item.in_progress_expiration = { N: String(inProgressExpiresAt) } as AttributeValue;
    delete item.data;
  }
};
/** The next delivery of a message: SQS hands each receive a new receipt handle. */
const nextDelivery = (record: SQSRecord): SQSRecord => ({ ...redelivery(record), receiptHandle: `AQEBnext-delivery-of-${record.messageId}` });
const preconditionFailed = (): S3ServiceException =>
  new S3ServiceException({ name: 'PreconditionFailed', $fault: 'client', message: 'At least one of the pre-conditions you specified did not hold', $metadata: { httpStatusCode: 412 } });

describe('Function: chargeOrder', () => {
  let idempotency: FakeIdempotencyTable;

  beforeAll(() => {
    stubDeployedEnv('chargeOrder');
  });

  beforeEach(() => {
    idempotency = fakeIdempotencyTable(dynamodbMock);
    sqsMock.on(ChangeMessageVisibilityCommand).resolves({});
  });

  afterEach(() => {
    vi.useRealTimers();
    dynamodbMock.reset();
    s3Mock.reset();
    snsMock.reset();
    sqsMock.reset();
  });

  afterAll(() => {
    vi.unstubAllEnvs();
  });

  it('charges each order once, stores its invoice and publishes OrderCharged', async () => {
    // Prepare
    const records = billingRecords();

    // Act
    const response = await chargeOrderHandler(batchOf(...records), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    for (const record of records) {
      const orderId = orderIdOf(record);
      expect(s3Mock).toHaveReceivedCommandWith(PutObjectCommand, { Bucket: DEPLOYED.DOCUMENTS_BUCKET, Key: invoiceKey(orderId), IfNoneMatch: '*', ContentType: 'application/json' });
      expect(snsMock).toHaveReceivedCommandWith(PublishCommand, {
        TopicArn: DEPLOYED.TOPIC_ARN,
        MessageGroupId: orderId,
        MessageDeduplicationId: `${orderId}:OrderCharged`,
        MessageAttributes: expect.objectContaining({ type: { DataType: 'String', StringValue: 'OrderCharged' } }),
      });
    }
    const [a] = records;
    const message = JSON.parse(publishedFor(orderIdOf(a))[0]?.Message as string);
    expect(message).toMatchObject({ type: 'OrderCharged', amountCents: 3448, correlationId: 'CxW2NhQ9IAMEJbw=', fulfillment: 'physical', chargeId: expect.stringMatching(/^ch_[0-9a-f]{24}$/) });
    const invoice = JSON.parse(s3Mock.commandCalls(PutObjectCommand).map((call) => call.args[0].input as PutObjectCommandInput).find((input) => input.Key === invoiceKey(orderIdOf(a)))?.Body as string);
    expect(invoice).toMatchObject({ chargeId: message.chargeId, issuedAt: message.occurredAt, totalCents: 3448 });
    expect(idempotency.records()).toHaveLength(3);
    expect(idempotency.records().every((record) => record.status === 'COMPLETED' && String(record.id).startsWith('orderflow-dev-chargeOrder#'))).toBe(true);
  });

  it('reports only the record whose invoice write failed; its neighbours are charged and published', async () => {
    // Prepare
    const [a, c, b] = billingRecords();
    s3Mock.on(PutObjectCommand, { Key: invoiceKey(orderIdOf(c)) }).rejects(
      new S3ServiceException({ name: 'SlowDown', $fault: 'server', message: 'Please reduce your request rate.', $metadata: { httpStatusCode: 503 } }),
    );

    // Act
    const response = await chargeOrderHandler(batchOf(a, c, b), context);

    // Assess
    expect(response).toEqual(ids(c));
    expect(publishedFor(orderIdOf(a))).toHaveLength(1);
    expect(publishedFor(orderIdOf(b))).toHaveLength(1);
    expect(publishedFor(orderIdOf(c))).toHaveLength(0);
    expect(sqsMock).not.toHaveReceivedCommand(ChangeMessageVisibilityCommand);
  });

  it('never charges twice: a retry after a failed step reuses the stored charge', async () => {
    // Prepare: the first delivery charged C and stored its invoice, then publishing failed
    const [, c, b] = billingRecords();
    snsMock.on(PublishCommand, { MessageGroupId: orderIdOf(c) }).rejectsOnce(new ThrottledException({ message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } }));
    expect(await chargeOrderHandler(batchOf(c, b), context)).toEqual(ids(c));
    const [storedCharge] = idempotency.records().filter((record) => (record.data as { amountCents?: number } | undefined)?.amountCents === 4500);

    // Act
    const response = await chargeOrderHandler(batchOf(redelivery(c)), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    const charged = JSON.parse(publishedFor(orderIdOf(c)).at(-1)?.Message as string);
    expect(storedCharge?.data).toEqual({ chargeId: charged.chargeId, amountCents: 4500, chargedAt: charged.occurredAt });
    // one successful charge stored per order (C and B): the retry found C's charge instead of charging again
    expect(dynamodbMock).toHaveReceivedCommandTimes(UpdateItemCommand, 2);
    expect(idempotency.records()).toHaveLength(2);
  });

  it('is idempotent on duplicate delivery: the invoice exists (412), OrderCharged is published again, byte for byte', async () => {
    // Prepare
    const [a] = billingRecords();
    await chargeOrderHandler(batchOf(a, firstRecord('order-placed-digital')), context);
    s3Mock.on(PutObjectCommand).rejects(preconditionFailed());

    // Act
    const response = await chargeOrderHandler(batchOf(redelivery(a), firstRecord('order-placed-digital')), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    const [first, second] = publishedFor(orderIdOf(a));
    expect(second?.MessageDeduplicationId).toBe(`${orderIdOf(a)}:OrderCharged`);
    expect(second?.MessageDeduplicationId).toBe(first?.MessageDeduplicationId);
    expect(second?.Message).toBe(first?.Message);
  });

  it('fails an unparseable record and a record of another event type, never its neighbours', async () => {
    // Prepare
    const [a, c] = billingRecords();
    const invalid = asNewMessage(firstRecord('invalid-body'));
    const wrongType = asNewMessage(firstRecord('order-charged'));

    // Act
    const response = await chargeOrderHandler(batchOf(a, invalid, c, wrongType), context);

    // Assess
    expect(response).toEqual(ids(invalid, wrongType));
    expect(publishedFor(orderIdOf(a))).toHaveLength(1);
    expect(publishedFor(orderIdOf(c))).toHaveLength(1);
    expect(snsMock).toHaveReceivedCommandTimes(PublishCommand, 2);
    expect(sqsMock).not.toHaveReceivedCommand(ChangeMessageVisibilityCommand);
  });

  it('fails the record SNS throttles (ThrottledException); the others are done', async () => {
    // Prepare
    const [a, c, b] = billingRecords();
    snsMock.on(PublishCommand, { MessageGroupId: orderIdOf(a) }).rejects(new ThrottledException({ message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } }));

    // Act
    const response = await chargeOrderHandler(batchOf(a, c, b), context);

    // Assess
    expect(response).toEqual(ids(a));
    expect(sqsMock).not.toHaveReceivedCommand(ChangeMessageVisibilityCommand);
  });

  it('fails the record, writing no invoice, when its idempotency record cannot be stored', async () => {
    // Prepare
    const [a, c] = billingRecords();
    const throttled = new ProvisionedThroughputExceededException({ message: 'Throughput exceeds the current capacity of your table', $metadata: { httpStatusCode: 400 } });
    dynamodbMock.on(PutItemCommand).callsFakeOnce(async () => Promise.reject(throttled));

    // Act
    const response = await chargeOrderHandler(batchOf(a, c), context);

    // Assess
    expect(response.batchItemFailures).toHaveLength(1);
    const failedOrder = orderIdOf(response.batchItemFailures[0]?.itemIdentifier === a.messageId ? a : c);
    expect(s3Mock).not.toHaveReceivedCommandWith(PutObjectCommand, { Key: invoiceKey(failedOrder) });
    expect(publishedFor(failedOrder)).toHaveLength(0);
    expect(sqsMock).not.toHaveReceivedCommand(ChangeMessageVisibilityCommand);
  });

  it('fails the record while another delivery of the same order is being charged (in progress), writing nothing', async () => {
    // Prepare: an in-progress charge of order A by another invocation, not expired
    const [a, c] = billingRecords();
    await chargeOrderHandler(batchOf(a, c), context);
    for (const item of idempotency.items.values()) {
      item.status = { S: 'INPROGRESS' } as AttributeValue;
      item.expiration = { N: String(Math.round(Date.now() / 1000) + 600) } as AttributeValue;
      item.in_progress_expiration = { N: String(Date.now() + 60_000) } as AttributeValue;
      delete item.data;
    }
    snsMock.reset();
    s3Mock.reset();

    // Act
    const response = await chargeOrderHandler(batchOf(redelivery(a), firstRecord('order-placed-digital')), context);

    // Assess
    expect(response).toEqual(ids(a));
    expect(publishedFor(orderIdOf(a))).toHaveLength(0);
    expect(s3Mock).not.toHaveReceivedCommandWith(PutObjectCommand, { Key: invoiceKey(orderIdOf(a)) });
    // its record stays in progress for 60 s more: asked to come back then, at most 60 s (below the queue's 61 s)
    expect(sqsMock).toHaveReceivedCommandExactlyOnceWith(ChangeMessageVisibilityCommand, { QueueUrl: DEPLOYED.BILLING_QUEUE_URL, ReceiptHandle: a.receiptHandle, VisibilityTimeout: 60 });
  });

  it('retries an order whose charge was left in progress just after that record expires (7 s ahead: in 8 s), still failing it', async () => {
    // Prepare: an invocation charging A died before completing its idempotency record, which expires in 7 s
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-11-22T10:00:00.000Z'));
    const [a, , b] = billingRecords();
    await chargeOrderHandler(batchOf(a), context);
    leaveChargeInProgress(idempotency, Date.now() + 7_000);
    snsMock.reset();
    s3Mock.reset();
    const again = nextDelivery(a);

    // Act
    const response = await chargeOrderHandler(batchOf(again, b), context);

    // Assess: visible again 8 s from now, the first whole second after the expiry (Powertools takes the record over
    // only once in_progress_expiration < now); reported as failed, nothing written for A, B charged
    expect(response).toEqual(ids(again));
    expect(sqsMock).toHaveReceivedCommandExactlyOnceWith(ChangeMessageVisibilityCommand, { QueueUrl: DEPLOYED.BILLING_QUEUE_URL, ReceiptHandle: again.receiptHandle, VisibilityTimeout: 8 });
    expect(publishedFor(orderIdOf(a))).toHaveLength(0);
    expect(s3Mock).not.toHaveReceivedCommandWith(PutObjectCommand, { Key: invoiceKey(orderIdOf(a)) });
    expect(publishedFor(orderIdOf(b))).toHaveLength(1);
  });

  it('retries an in-progress order in 10 s when its record has no in-progress expiry', async () => {
    // Prepare: Powertools writes no in_progress_expiration when no Lambda context was registered
    const [a, , b] = billingRecords();
    await chargeOrderHandler(batchOf(a), context);
    leaveChargeInProgress(idempotency, undefined);
    const again = nextDelivery(a);

    // Act
    const response = await chargeOrderHandler(batchOf(again, b), context);

    // Assess
    expect(response).toEqual(ids(again));
    expect(sqsMock).toHaveReceivedCommandExactlyOnceWith(ChangeMessageVisibilityCommand, { QueueUrl: DEPLOYED.BILLING_QUEUE_URL, ReceiptHandle: again.receiptHandle, VisibilityTimeout: 10 });
  });

  it('still fails an in-progress order with its own error when ChangeMessageVisibility fails', async () => {
    // Prepare
    const [a, , b] = billingRecords();
    await chargeOrderHandler(batchOf(a), context);
    leaveChargeInProgress(idempotency, Date.now() + 7_000);
    const invalid = new ReceiptHandleIsInvalid({ message: 'The input receipt handle is invalid.', $metadata: { httpStatusCode: 400 } });
    sqsMock.on(ChangeMessageVisibilityCommand).rejects(invalid);
    const again = nextDelivery(a);
    let response: SQSBatchResponse | undefined;

    // Act
    const logs = await captureLogs(async () => {
      response = await chargeOrderHandler(batchOf(again, b), context);
    });

    // Assess
    expect(response).toEqual(ids(again));
    expect(sqsMock).toHaveReceivedCommandTimes(ChangeMessageVisibilityCommand, 1);
    expect(logs.find((line) => line.message === 'record failed')).toMatchObject({ errorName: 'IdempotencyAlreadyInProgressError', messageId: again.messageId });
    expect(logs.find((line) => line.level === 'WARN')).toMatchObject({ orderId: orderIdOf(a), error: expect.objectContaining({ name: 'ReceiptHandleIsInvalid' }) });
  });

  it('logs each record with its own orderId, correlationId and messageId, though records run concurrently', async () => {
    // Prepare
    const records = billingRecords();

    // Act
    const logs = await captureLogs(() => handler(batchOf(...records), context));

    // Assess
    const charged = logs.filter((line) => line.message === 'order charged');
    expect(charged).toHaveLength(3);
    for (const line of charged) {
      const record = records.find((candidate) => candidate.messageId === line.messageId) as SQSRecord;
      expect(line).toMatchObject({ orderId: orderIdOf(record), correlationId: bodyOf<{ correlationId: string }>(record).correlationId, function_name: 'orderflow-dev-chargeOrder' });
    }
  });

  it('works wrapped in its middleware (the deployed handler)', async () => {
    // Act
    const response = await handler(batchOf(...billingRecords()), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(snsMock).toHaveReceivedCommandTimes(PublishCommand, 3);
  });
});
