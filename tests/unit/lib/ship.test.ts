import '../helpers/env.ts';
import { PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { QueueDoesNotExist, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs'; // slice-line:reviews
import fc from 'fast-check';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidEventError } from '#lib/domain/errors.ts';
import { parseOrderPlaced, type OrderPlacedEvent } from '#lib/events/order-events.ts';
import { DelayOutOfRangeError } from '#lib/review-delay.ts'; // slice-line:reviews
import { labelKeyFor, shipOrder, trackingNumberFor } from '#lib/ship.ts';
import { DEPLOYED } from '../helpers/env.ts';
import { firstRecord } from '../helpers/fixtures.ts';

const s3Mock = mockClient(S3Client);
const snsMock = mockClient(SNSClient);
const sqsMock = mockClient(SQSClient); // slice-line:reviews
const now = new Date('2026-11-22T10:15:31.544Z');
const options = {
  bucket: DEPLOYED.DOCUMENTS_BUCKET,
  topicArn: DEPLOYED.TOPIC_ARN,
  reviewQueueUrl: DEPLOYED.REVIEW_QUEUE_URL, // slice-line:reviews
  shipmentNoticesTopicArn: DEPLOYED.SHIPMENT_NOTICES_TOPIC_ARN,
  now,
};
const placed = (): OrderPlacedEvent => parseOrderPlaced(firstRecord('order-placed-shipping').body);

describe('Lib: ship', () => {
  afterEach(() => {
    s3Mock.reset();
    snsMock.reset();
    sqsMock.reset(); // slice-line:reviews
  });

  it('prints the label once and publishes OrderShipped', async () => {
    // Prepare
    const event = placed();

    // Act
    const shipped = await shipOrder(event, options);

    // Assess
    expect(shipped).toEqual({
      type: 'OrderShipped',
      eventId: `${event.orderId}:OrderShipped`,
      orderId: event.orderId,
      occurredAt: now.toISOString(),
      correlationId: event.correlationId,
      fulfillment: 'physical',
      labelKey: `documents/labels/${event.orderId}.json`,
      trackingNumber: trackingNumberFor(event.orderId),
    });
    expect(s3Mock).toHaveReceivedCommandExactlyOnceWith(PutObjectCommand, { Bucket: options.bucket, Key: labelKeyFor(event.orderId), IfNoneMatch: '*' });
    expect(JSON.parse(s3Mock.commandCalls(PutObjectCommand)[0]?.args[0].input.Body as string)).toEqual({
      orderId: event.orderId,
      trackingNumber: shipped.trackingNumber,
      carrier: 'orderflow-post',
      shipTo: event.order.shippingAddress,
      items: event.order.items,
      printedAt: now.toISOString(),
    });
    expect(snsMock).toHaveReceivedCommandWith(PublishCommand, { TopicArn: options.topicArn, Message: JSON.stringify(shipped), MessageGroupId: event.orderId, MessageDeduplicationId: shipped.eventId });
    expect(snsMock).toHaveReceivedCommandWith(PublishCommand, {
      TopicArn: options.shipmentNoticesTopicArn,
      Subject: 'OrderShipped',
      Message: JSON.stringify({ orderId: event.orderId, trackingNumber: shipped.trackingNumber, shippedAt: now.toISOString(), correlationId: event.correlationId }),
      MessageAttributes: {
        type: { DataType: 'String', StringValue: 'OrderShipped' },
        orderId: { DataType: 'String', StringValue: event.orderId },
        correlationId: { DataType: 'String', StringValue: event.correlationId },
      },
    });
    expect(snsMock).toHaveReceivedCommandTimes(PublishCommand, 2);
    // slice-begin:reviews
    expect(sqsMock).toHaveReceivedCommandExactlyOnceWith(SendMessageCommand, {
      QueueUrl: options.reviewQueueUrl,
      MessageBody: JSON.stringify({ orderId: event.orderId, customerId: 'c-42', correlationId: event.correlationId }),
      MessageAttributes: {
        orderId: { DataType: 'String', StringValue: event.orderId },
        correlationId: { DataType: 'String', StringValue: event.correlationId },
      },
    });
    // slice-end:reviews
  });

  it('still publishes when the label already exists (a retried shipment)', async () => {
    // Prepare
    s3Mock.on(PutObjectCommand).rejects(new S3ServiceException({ name: 'PreconditionFailed', $fault: 'client', message: 'At least one of the pre-conditions you specified did not hold', $metadata: { httpStatusCode: 412 } }));

    // Act
    await shipOrder(placed(), options);

    // Assess
    expect(snsMock).toHaveReceivedCommandTimes(PublishCommand, 2); // OrderShipped and its shipment notice
    expect(sqsMock).toHaveReceivedCommandTimes(SendMessageCommand, 1); // slice-line:reviews
  });

  it('refuses a digital order (the shipping filter policy lets physical orders only) and writes nothing', async () => {
    // Prepare
    const digital = parseOrderPlaced(firstRecord('order-placed-digital').body);

    // Act + Assess
    await expect(shipOrder(digital, options)).rejects.toThrow(InvalidEventError);
    await expect(shipOrder(digital, options)).rejects.toThrow('fulfillment must be physical with a shippingAddress to ship');
    expect(s3Mock).not.toHaveReceivedAnyCommand();
    expect(snsMock).not.toHaveReceivedAnyCommand();
  });

  // slice-begin:reviews
  it('rejects with the SQS error when the review queue is gone (after OrderShipped was published: a retry republishes the same id)', async () => {
    // Prepare
    sqsMock.on(SendMessageCommand).rejects(new QueueDoesNotExist({ message: 'The specified queue does not exist.', $metadata: { httpStatusCode: 400 } }));

    // Act + Assess
    await expect(shipOrder(placed(), options)).rejects.toBeInstanceOf(QueueDoesNotExist);
    expect(snsMock).toHaveReceivedCommandTimes(PublishCommand, 2); // OrderShipped and its shipment notice
  });
  // slice-end:reviews

  it('trackingNumberFor: one tracking number per order, OF + 16 upper-case hex digits', () => {
    fc.assert(
      fc.property(fc.uuid(), fc.uuid(), (a, b) => {
        expect(trackingNumberFor(a)).toMatch(/^OF[0-9A-F]{16}$/);
        expect(trackingNumberFor(a)).toBe(trackingNumberFor(a));
        if (a !== b) expect(trackingNumberFor(a)).not.toBe(trackingNumberFor(b));
      }),
    );
  });

  // slice-begin:reviews
  it("overrides the queue's delay with the shipping country's (a GB order waits 300 s) and leaves it to the queue for other countries", async () => {
    // Prepare
    const gb = placed();
    const fr = structuredClone(gb);
    fr.orderId = `${gb.orderId}-fr`;
    (fr.order.shippingAddress as { country: string }).country = 'FR';
    const reviewDelays = { GB: 300 };

    // Act
    await shipOrder(gb, { ...options, reviewDelays });
    await shipOrder(fr, { ...options, reviewDelays });

    // Assess
    const sent = sqsMock.commandCalls(SendMessageCommand).map((call) => call.args[0].input);
    expect(sent).toHaveLength(2);
    expect(sent[0]?.DelaySeconds).toBe(300);
    expect(sent[1]).not.toHaveProperty('DelaySeconds');
  });

  it('refuses a delay over 900 s (the SQS maximum) before printing, publishing or sending anything, naming DelaySeconds', async () => {
    // Prepare
    const event = placed();

    // Act
    const shipping = shipOrder(event, { ...options, reviewDelays: { GB: 901 } });

    // Assess
    await expect(shipping).rejects.toThrow(DelayOutOfRangeError);
    await expect(shipping).rejects.toThrow('DelaySeconds is 901: SQS accepts a DelaySeconds from 0 to 900');
    expect(s3Mock.calls()).toHaveLength(0);
    expect(snsMock.calls()).toHaveLength(0);
    expect(sqsMock.calls()).toHaveLength(0);
  });
  // slice-end:reviews
});
