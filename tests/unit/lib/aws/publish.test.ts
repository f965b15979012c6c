import '../../helpers/env.ts';
import { PublishBatchCommand, PublishCommand, SNSClient, ThrottledException, type PublishBatchCommandInput } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { SNS_MAX_MESSAGE_BYTES, attributesOf, messageSize, publishOrderEvent, publishOrderEvents } from '#lib/aws/publish.ts';
import { PublishError } from '#lib/domain/errors.ts';
import { parseOrderEvent, type OrderEvent } from '#lib/events/order-events.ts';
import { DEPLOYED } from '../../helpers/env.ts';
import { firstRecord, sqsRecords } from '../../helpers/fixtures.ts';

const TOPIC = DEPLOYED.TOPIC_ARN;
const snsMock = mockClient(SNSClient);

const placedEvents = (count: number): OrderEvent[] => {
  const template = parseOrderEvent(firstRecord('order-placed-digital').body);
  return Array.from({ length: count }, (_, index) => {
    const orderId = `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`;
    return { ...template, orderId, eventId: `${orderId}:OrderPlaced`, order: { ...(template as Extract<OrderEvent, { type: 'OrderPlaced' }>).order, orderId } } as OrderEvent;
  });
};

const batchInputs = (): PublishBatchCommandInput[] => snsMock.commandCalls(PublishBatchCommand).map((call) => call.args[0].input as PublishBatchCommandInput);

describe('Lib: aws/publish', () => {
  afterEach(() => {
    snsMock.reset();
  });

  describe('publishOrderEvent', () => {
    it('publishes to the FIFO topic: group = orderId, deduplication id = eventId, filterable attributes', async () => {
      // Prepare
      const event = parseOrderEvent(firstRecord('order-charged').body);

      // Act
      await publishOrderEvent(TOPIC, event);

      // Assess
      expect(snsMock).toHaveReceivedCommandExactlyOnceWith(PublishCommand, {
        TopicArn: TOPIC,
        Message: JSON.stringify(event),
        MessageGroupId: event.orderId,
        MessageDeduplicationId: `${event.orderId}:OrderCharged`,
        MessageAttributes: {
          type: { DataType: 'String', StringValue: 'OrderCharged' },
          fulfillment: { DataType: 'String', StringValue: 'physical' },
          orderId: { DataType: 'String', StringValue: event.orderId },
          correlationId: { DataType: 'String', StringValue: event.correlationId },
        },
      });
    });

    it('sets the same attributes SNS raw delivery hands to the queues (as in events/sqs)', () => {
      // Prepare
      const record = firstRecord('order-placed-physical');

      // Act
      const attributes = attributesOf(parseOrderEvent(record.body));

      // Assess
      expect(Object.fromEntries(Object.entries(attributes).map(([name, value]) => [name, value.StringValue]))).toEqual(
        Object.fromEntries(Object.entries(record.messageAttributes).map(([name, value]) => [name, value.stringValue])),
      );
    });

    it('rejects with the SDK error when SNS throttles', async () => {
      // Prepare
      snsMock.on(PublishCommand).rejects(new ThrottledException({ message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } }));

      // Act + Assess
      await expect(publishOrderEvent(TOPIC, parseOrderEvent(firstRecord('order-shipped').body))).rejects.toBeInstanceOf(ThrottledException);
    });
  });

  describe('publishOrderEvents', () => {
    it('publishes in batches of at most 10 entries, each FIFO-keyed like a single publish', async () => {
      // Prepare
      snsMock.on(PublishBatchCommand).callsFake(async (input: PublishBatchCommandInput) => ({
        Successful: input.PublishBatchRequestEntries?.map((entry) => ({ Id: entry.Id, MessageId: `m-${entry.Id}`, SequenceNumber: '1' })),
        Failed: [],
      }));
      const events = placedEvents(23);

      // Act
      await publishOrderEvents(TOPIC, events);

      // Assess
      expect(batchInputs().map((input) => input.PublishBatchRequestEntries?.length)).toEqual([10, 10, 3]);
      const entries = batchInputs().flatMap((input) => input.PublishBatchRequestEntries ?? []);
      expect(entries.map((entry) => entry.MessageDeduplicationId)).toEqual(events.map((event) => event.eventId));
      expect(entries.every((entry, index) => entry.MessageGroupId === events[index]?.orderId)).toBe(true);
      expect(batchInputs().every((input) => input.TopicArn === TOPIC)).toBe(true);
      for (const input of batchInputs()) {
        const ids = input.PublishBatchRequestEntries?.map((entry) => entry.Id);
        expect(new Set(ids).size).toBe(ids?.length);
      }
    });

    it('retries only the entries SNS reported as failed', async () => {
      // Prepare
      let call = 0;
      snsMock.on(PublishBatchCommand).callsFake(async (input: PublishBatchCommandInput) => {
        call += 1;
        const failed = call === 1 ? ['3', '7'] : [];
        return {
          Successful: input.PublishBatchRequestEntries?.filter((entry) => !failed.includes(entry.Id as string)).map((entry) => ({ Id: entry.Id, MessageId: 'm' })),
          Failed: failed.map((Id) => ({ Id, Code: 'InternalError', SenderFault: false, Message: 'Internal error' })),
        };
      });
      const events = placedEvents(10);

      // Act
      await publishOrderEvents(TOPIC, events);

      // Assess
      expect(batchInputs()[1]?.PublishBatchRequestEntries?.map((entry) => entry.MessageDeduplicationId)).toEqual([events[3]?.eventId, events[7]?.eventId]);
      expect(snsMock).toHaveReceivedCommandTimes(PublishBatchCommand, 2);
    });

    it('throws PublishError naming the events still failing after every attempt', async () => {
      // Prepare
      snsMock.on(PublishBatchCommand).resolves({ Successful: [], Failed: [{ Id: '0', Code: 'KMSThrottling', SenderFault: false }] });
      const events = placedEvents(1);

      // Act
      const publishing = publishOrderEvents(TOPIC, events, 3);

      // Assess
      await expect(publishing).rejects.toThrow(PublishError);
      await expect(publishing).rejects.toThrow(events[0]?.eventId as string);
      expect(snsMock).toHaveReceivedCommandTimes(PublishBatchCommand, 3);
    });

    it('rejects with the SDK error when a whole batch call fails', async () => {
      // Prepare
      snsMock.on(PublishBatchCommand).rejects(new ThrottledException({ message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } }));

      // Act + Assess
      await expect(publishOrderEvents(TOPIC, placedEvents(2))).rejects.toBeInstanceOf(ThrottledException);
    });

    it('publishes nothing for no events', async () => {
      await publishOrderEvents(TOPIC, []);
      expect(snsMock).not.toHaveReceivedAnyCommand();
    });
  });

  // slice-begin:analytics
  describe('the order archive (ORDER_ARCHIVE_TOPIC_ARN)', () => {
    const ARCHIVE = 'arn:aws:sns:us-east-1:123456789012:orderflow-dev-order-archive';
    afterEach(() => {
      delete process.env.ORDER_ARCHIVE_TOPIC_ARN;
    });

    it('publishes each event to the standard archive topic after the FIFO topic, without group or deduplication id', async () => {
      // Prepare
      process.env.ORDER_ARCHIVE_TOPIC_ARN = ARCHIVE;
      snsMock.on(PublishBatchCommand).callsFake(async (input: PublishBatchCommandInput) => ({ Successful: input.PublishBatchRequestEntries?.map((entry) => ({ Id: entry.Id, MessageId: 'm' })), Failed: [] }));
      const charged = parseOrderEvent(firstRecord('order-charged').body);
      const placed = placedEvents(12);

      // Act
      await publishOrderEvent(TOPIC, charged);
      await publishOrderEvents(TOPIC, placed);

      // Assess
      expect(snsMock.calls().map((call) => (call.args[0].input as { TopicArn: string }).TopicArn)).toEqual([TOPIC, ARCHIVE, TOPIC, TOPIC, ARCHIVE, ARCHIVE]);
      const archived = batchInputs().filter((input) => input.TopicArn === ARCHIVE).flatMap((input) => input.PublishBatchRequestEntries ?? []);
      expect(archived.map((entry) => entry.Message)).toEqual([charged, ...placed].map((event) => JSON.stringify(event)));
      expect(archived.every((entry) => entry.MessageGroupId === undefined && entry.MessageDeduplicationId === undefined)).toBe(true);
      expect(archived[0]?.MessageAttributes).toEqual(attributesOf(charged));
    });

    it('does not archive what the FIFO topic refused, and fails the caller when the archive refuses (its retry is deduplicated on the FIFO topic)', async () => {
      // Prepare
      process.env.ORDER_ARCHIVE_TOPIC_ARN = ARCHIVE;
      const event = parseOrderEvent(firstRecord('order-shipped').body);
      snsMock.on(PublishCommand).rejects(new ThrottledException({ message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } }));

      // Act + Assess: the FIFO publish fails, nothing is archived
      await expect(publishOrderEvent(TOPIC, event)).rejects.toBeInstanceOf(ThrottledException);
      expect(snsMock).not.toHaveReceivedCommand(PublishBatchCommand);

      // Prepare: the FIFO publish succeeds, the archive keeps failing one entry
      snsMock.reset();
      snsMock.on(PublishBatchCommand).resolves({ Successful: [], Failed: [{ Id: '0', Code: 'InternalError', SenderFault: false }] });

      // Act + Assess
      await expect(publishOrderEvent(TOPIC, event)).rejects.toThrow(new PublishError(ARCHIVE, [event.eventId]));
      expect(snsMock).toHaveReceivedCommandTimes(PublishCommand, 1);
      expect(snsMock).toHaveReceivedCommandTimes(PublishBatchCommand, 3);
    });
  });
  // slice-end:analytics

  describe('messageSize', () => {
    it('counts the UTF-8 body plus every attribute name, type and value', () => {
      // Prepare
      const event = parseOrderEvent(sqsRecords('order-placed-physical')[0]?.body as string);

      // Act
      const size = messageSize(event);

      // Assess
      const attributeBytes = Object.entries(attributesOf(event)).reduce(
        (sum, [name, value]) => sum + Buffer.byteLength(name) + Buffer.byteLength(value.DataType ?? '') + Buffer.byteLength(value.StringValue ?? ''),
        0,
      );
      expect(size).toBe(Buffer.byteLength(JSON.stringify(event)) + attributeBytes);
      expect(size).toBeLessThan(SNS_MAX_MESSAGE_BYTES);
    });
  });
});
