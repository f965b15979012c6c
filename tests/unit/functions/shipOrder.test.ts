import '../helpers/env.ts';
import { PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { InternalErrorException, PublishCommand, SNSClient, type PublishCommandInput } from '@aws-sdk/client-sns';
import { ChangeMessageVisibilityCommand, ReceiptHandleIsInvalid, SQSClient } from '@aws-sdk/client-sqs';
import { QueueDoesNotExist, SendMessageCommand, type SendMessageCommandInput } from '@aws-sdk/client-sqs'; // slice-line:reviews
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler, shipOrderHandler } from '../../../functions/shipOrder.ts';
import { fakeContext } from '../helpers/context.ts';
import { DEPLOYED, stubDeployedEnv } from '../helpers/env.ts';
import { asNewMessage, batchOf, bodyOf, firstRecord, redelivery, sqsRecords } from '../helpers/fixtures.ts';
import { captureLogs } from '../helpers/logs.ts';

const s3Mock = mockClient(S3Client);
const snsMock = mockClient(SNSClient);
const sqsMock = mockClient(SQSClient);
const context = fakeContext('shipOrder', { remainingMs: 19_000 });

/** Orders A and C (physical), as the shipping queue delivers them. */
const shippingRecords = (): [SQSRecord, SQSRecord] => sqsRecords('order-placed-shipping') as [SQSRecord, SQSRecord];
const orderIdOf = (record: SQSRecord): string => bodyOf<{ orderId: string }>(record).orderId;
const ids = (...records: SQSRecord[]): SQSBatchResponse => ({ batchItemFailures: records.map((record) => ({ itemIdentifier: record.messageId })) });
const labelKey = (orderId: string): string => `documents/labels/${orderId}.json`;
const publishedFor = (orderId: string): PublishCommandInput[] =>
  snsMock
    .commandCalls(PublishCommand)
    .map((call) => call.args[0].input as PublishCommandInput)
    .filter((input) => input.MessageGroupId === orderId);
// slice-begin:reviews
const reviewRequests = (): Record<string, string>[] =>
  sqsMock.commandCalls(SendMessageCommand).map((call) => JSON.parse((call.args[0].input as SendMessageCommandInput).MessageBody as string));
// slice-end:reviews

describe('Function: shipOrder', () => {
  beforeAll(() => {
    stubDeployedEnv('shipOrder');
  });

  beforeEach(() => {
    sqsMock.on(ChangeMessageVisibilityCommand).resolves({});
  });

  afterEach(() => {
    vi.useRealTimers();
    s3Mock.reset();
    snsMock.reset();
    sqsMock.reset();
  });

  afterAll(() => {
    vi.unstubAllEnvs();
  });

  it('prints each label once and publishes OrderShipped', async () => {
    // Prepare
    const records = shippingRecords();

    // Act
    const response = await shipOrderHandler(batchOf(...records), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    for (const record of records) {
      const orderId = orderIdOf(record);
      expect(s3Mock).toHaveReceivedCommandWith(PutObjectCommand, { Bucket: DEPLOYED.DOCUMENTS_BUCKET, Key: labelKey(orderId), IfNoneMatch: '*' });
      expect(snsMock).toHaveReceivedCommandWith(PublishCommand, {
        TopicArn: DEPLOYED.TOPIC_ARN,
        MessageGroupId: orderId,
        MessageDeduplicationId: `${orderId}:OrderShipped`,
        MessageAttributes: expect.objectContaining({ type: { DataType: 'String', StringValue: 'OrderShipped' } }),
      });
      // slice-begin:reviews
      expect(sqsMock).toHaveReceivedCommandWith(SendMessageCommand, {
        QueueUrl: DEPLOYED.REVIEW_QUEUE_URL,
        MessageAttributes: { orderId: { DataType: 'String', StringValue: orderId }, correlationId: { DataType: 'String', StringValue: bodyOf<{ correlationId: string }>(record).correlationId } },
      });
      // slice-end:reviews
    }
    expect(reviewRequests()).toContainEqual({ orderId: orderIdOf(records[0]), customerId: 'c-42', correlationId: 'CxW2NhQ9IAMEJbw=' }); // slice-line:reviews
    expect(JSON.parse(publishedFor(orderIdOf(records[0]))[0]?.Message as string)).toMatchObject({ trackingNumber: expect.stringMatching(/^OF[0-9A-F]{16}$/), labelKey: labelKey(orderIdOf(records[0])) });
    expect(sqsMock).not.toHaveReceivedCommand(ChangeMessageVisibilityCommand);
  });

  it('keeps a slow message invisible with a heartbeat every 30 s, and stops once the label is done', async () => {
    // Prepare: the carrier takes 65 s to print A's label
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const [a] = shippingRecords();
    const printing = Promise.withResolvers<Record<string, never>>();
    s3Mock.on(PutObjectCommand).callsFake(() => printing.promise);

    // Act
    const shipping = shipOrderHandler(batchOf(a), context);
    await vi.advanceTimersByTimeAsync(65_000);
    printing.resolve({});
    const response = await shipping;
    await vi.advanceTimersByTimeAsync(120_000);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(sqsMock).toHaveReceivedCommandTimes(ChangeMessageVisibilityCommand, 2);
    expect(sqsMock).toHaveReceivedCommandWith(ChangeMessageVisibilityCommand, { QueueUrl: DEPLOYED.SHIPPING_QUEUE_URL, ReceiptHandle: a.receiptHandle, VisibilityTimeout: 121 });
  });

  it('logs a failed heartbeat and still ships the order', async () => {
    // Prepare
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    sqsMock.on(ChangeMessageVisibilityCommand).rejects(new ReceiptHandleIsInvalid({ message: 'The input receipt handle is invalid.', $metadata: { httpStatusCode: 400 } }));
    const [a] = shippingRecords();
    const printing = Promise.withResolvers<Record<string, never>>();
    s3Mock.on(PutObjectCommand).callsFake(() => printing.promise);

    // Act
    const logs = await captureLogs(async () => {
      const shipping = shipOrderHandler(batchOf(a), context);
      await vi.advanceTimersByTimeAsync(30_000);
      printing.resolve({});
      return expect(await shipping).toEqual({ batchItemFailures: [] });
    });

    // Assess
    expect(logs.find((line) => line.message === 'visibility heartbeat failed')).toMatchObject({ level: 'WARN', messageId: a.messageId, orderId: orderIdOf(a) });
    expect(publishedFor(orderIdOf(a))).toHaveLength(1);
  });

  it('is idempotent on duplicate delivery: the label exists (412), the same OrderShipped is published again', async () => {
    // Prepare
    const [a] = shippingRecords();
    await shipOrderHandler(batchOf(a), context);
    s3Mock.on(PutObjectCommand).rejects(
      new S3ServiceException({ name: 'PreconditionFailed', $fault: 'client', message: 'At least one of the pre-conditions you specified did not hold', $metadata: { httpStatusCode: 412 } }),
    );

    // Act
    const response = await shipOrderHandler(batchOf(redelivery(a)), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    const [first, second] = publishedFor(orderIdOf(a));
    expect(second?.MessageDeduplicationId).toBe(first?.MessageDeduplicationId);
    expect(JSON.parse(second?.Message as string).trackingNumber).toBe(JSON.parse(first?.Message as string).trackingNumber);
    // slice-begin:reviews
    expect(reviewRequests()).toHaveLength(2);
    expect(reviewRequests()[1]).toEqual(reviewRequests()[0]);
    // slice-end:reviews
  });

  it('fails only the record SNS could not take (InternalErrorException)', async () => {
    // Prepare
    const [a, c] = shippingRecords();
    snsMock.on(PublishCommand, { MessageGroupId: orderIdOf(c) }).rejects(new InternalErrorException({ message: 'Internal error', $metadata: { httpStatusCode: 500 } }));

    // Act
    const response = await shipOrderHandler(batchOf(a, c), context);

    // Assess
    expect(response).toEqual(ids(c));
    expect(reviewRequests().map((request) => request.orderId)).toEqual([orderIdOf(a)]); // slice-line:reviews
  });

  // slice-begin:reviews
  it('fails only the record whose review request cannot be sent (QueueDoesNotExist)', async () => {
    // Prepare
    const [a, c] = shippingRecords();
    sqsMock.on(SendMessageCommand).callsFake(async (input: SendMessageCommandInput) => {
      if (input.MessageBody?.includes(orderIdOf(a))) throw new QueueDoesNotExist({ message: 'The specified queue does not exist.', $metadata: { httpStatusCode: 400 } });
      return { MessageId: 'm-1' };
    });

    // Act
    const response = await shipOrderHandler(batchOf(a, c), context);

    // Assess
    expect(response).toEqual(ids(a));
  });
  // slice-end:reviews

  it('fails an unparseable record and a digital order (misrouted by the filter policy), never their neighbours', async () => {
    // Prepare
    const [a, c] = shippingRecords();
    const invalid = asNewMessage(firstRecord('invalid-body'));
    const digital = asNewMessage(firstRecord('order-placed-digital'));

    // Act
    const response = await shipOrderHandler(batchOf(a, invalid, digital, c), context);

    // Assess
    expect(response).toEqual(ids(invalid, digital));
    expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 2);
    expect(snsMock).toHaveReceivedCommandTimes(PublishCommand, 4); // OrderShipped and a shipment notice for each
  });

  it('works wrapped in its middleware (the deployed handler)', async () => {
    // Act
    const response = await handler(batchOf(...shippingRecords()), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(snsMock).toHaveReceivedCommandTimes(PublishCommand, 4); // OrderShipped and a shipment notice for each
    expect(sqsMock).toHaveReceivedCommandTimes(SendMessageCommand, 2); // slice-line:reviews
  });
});
