import { PublishBatchCommand, PublishCommand, type MessageAttributeValue, type PublishBatchRequestEntry } from '@aws-sdk/client-sns';
import { PublishError } from '../domain/errors.ts';
import type { OrderEvent } from '../events/order-events.ts';
import { sns } from './clients/sns.ts';

/** SNS's message size limit: 262,144 bytes, body and attributes together (SNS quotas page). */
const SNS_MAX_MESSAGE_BYTES = 262_144;
/** PublishBatch takes at most 10 entries (SNS API reference, PublishBatch). */
const SNS_MAX_BATCH = 10;

/**
 * The attributes subscription filter policies match on (`type`, `fulfillment`) and the ids every log line needs.
 */
const attributesOf = (event: OrderEvent): Record<string, MessageAttributeValue> => ({
  type: { DataType: 'String', StringValue: event.type },
  fulfillment: { DataType: 'String', StringValue: event.fulfillment },
  orderId: { DataType: 'String', StringValue: event.orderId },
  correlationId: { DataType: 'String', StringValue: event.correlationId },
});

/**
 * Size SNS counts for a message: the UTF-8 body plus each attribute's name, type and value.
 *
 * @example
 * if (messageSize(event) > SNS_MAX_MESSAGE_BYTES) return tooLarge();
 */
const messageSize = (event: OrderEvent): number => {
  let size = Buffer.byteLength(JSON.stringify(event));
  for (const [name, value] of Object.entries(attributesOf(event))) {
    size += Buffer.byteLength(name) + Buffer.byteLength(value.DataType ?? '') + Buffer.byteLength(value.StringValue ?? '');
  }
  return size;
};

/**
 * Publishes one order event to the FIFO topic: ordered per order (MessageGroupId = orderId) and deduplicated by
 * its deterministic eventId, so a retried publish within SNS's 5-minute deduplication window is dropped.
 *
 * @example
 * await publishOrderEvent(topicArn, { type: 'OrderCharged', eventId: eventIdFor(orderId, 'OrderCharged'), ... });
 */
const publishOrderEvent = async (topicArn: string, event: OrderEvent): Promise<void> => {
  await sns.send(
    new PublishCommand({
      TopicArn: topicArn,
      Message: JSON.stringify(event),
      MessageAttributes: attributesOf(event),
      MessageGroupId: event.orderId,
      MessageDeduplicationId: event.eventId,
    }),
  );
  await archiveOrderEvents([event]); // slice-line:analytics
};

/**
 * Publishes many order events with PublishBatch (10 a call), retrying the entries SNS reports as failed.
 * Throws PublishError naming the events still failed after `attempts` tries, so the caller's message is retried.
 *
 * @example
 * await publishOrderEvents(topicArn, placedEvents);
 */
const publishOrderEvents = async (topicArn: string, events: readonly OrderEvent[], attempts = 3): Promise<void> => {
  await publishInBatches(topicArn, events, true, attempts);
  await archiveOrderEvents(events, attempts); // slice-line:analytics
};

/** PublishBatch of `events`, 10 a call, retrying failed entries; FIFO entries carry the group and deduplication ids. */
const publishInBatches = async (topicArn: string, events: readonly OrderEvent[], fifo: boolean, attempts: number): Promise<void> => {
  for (let start = 0; start < events.length; start += SNS_MAX_BATCH) {
    const chunk = events.slice(start, start + SNS_MAX_BATCH);
    let pending: PublishBatchRequestEntry[] = chunk.map((event, index) => ({
      Id: String(index),
      Message: JSON.stringify(event),
      MessageAttributes: attributesOf(event),
      ...(fifo ? { MessageGroupId: event.orderId, MessageDeduplicationId: event.eventId } : {}),
    }));
    for (let attempt = 1; pending.length > 0; attempt++) {
      const result = await sns.send(new PublishBatchCommand({ TopicArn: topicArn, PublishBatchRequestEntries: pending }));
      const failedIds = new Set((result.Failed ?? []).map((failure) => failure.Id));
      pending = pending.filter((entry) => failedIds.has(entry.Id));
      if (pending.length > 0 && attempt >= attempts) {
        throw new PublishError(topicArn, pending.map((entry) => chunk[Number(entry.Id)]?.eventId ?? entry.Id ?? '?'));
      }
    }
  }
};

// slice-begin:analytics
/**
 * Publishes order events, unordered, to the standard order-archive topic (ORDER_ARCHIVE_TOPIC_ARN), whose firehose
 * subscription archives each one raw in the lake (resources/order-archive.yml). The FIFO topic cannot: a FIFO topic
 * delivers to SQS queues only (SNS developer guide, "Prerequisites for subscribing Firehose delivery streams to Amazon
 * SNS topics": "A standard SNS topic"). Called after the FIFO publish succeeded, so a failure here fails the caller,
 * whose retry is deduplicated on the FIFO topic (eventId, 5 minutes) and archives again: the archive is
 * at-least-once, each line keyed by its eventId. Without the variable (a function the template gives none), nothing
 * is archived; tests/template/order-archive.test.ts holds every publisher of the FIFO topic to having it.
 *
 * @example
 * await archiveOrderEvents([charged]); // after publishOrderEvent(TOPIC_ARN, charged) on the FIFO topic
 */
const archiveOrderEvents = async (events: readonly OrderEvent[], attempts = 3): Promise<void> => {
  const archiveTopicArn = process.env.ORDER_ARCHIVE_TOPIC_ARN;
  if (archiveTopicArn === undefined || archiveTopicArn === '') return;
  await publishInBatches(archiveTopicArn, events, false, attempts);
};
// slice-end:analytics

export { SNS_MAX_MESSAGE_BYTES, attributesOf, messageSize, publishOrderEvent, publishOrderEvents };
