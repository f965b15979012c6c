/**
 * SQS FIFO receives of several messages of one message group, which fauxqs 2.4.1 does not give: its `dequeueFifo`
 * takes ONE message per group and moves on to the next group (a `break` after the first), so a batch never holds
 * two messages of a group. SQS: "When you specify a MaxNumberOfMessages parameter in the ReceiveMessage API call,
 * SQS returns as many messages with the same message group ID as possible. The ReceiveMessage API call can also
 * return messages from other available message groups", and "Inflight messages block delivery of available
 * messages within the same message group" (AWS Knowledge Center, "Why doesn't my Amazon SQS FIFO queue return all
 * messages or messages in other message groups?"). Lambda's FIFO partial-batch rule (skip the rest of a failed
 * group) needs such batches to be exercised at all.
 *
 * Taking several messages of a group in flight brings out a second fauxqs bug: a message back from flight (its
 * visibility timeout expired, or ChangeMessageVisibility 0) is put at the FRONT of its group one by one, so a batch
 * of m1, m2, m3 coming back is queued m3, m2, m1. Here a group a message came back to is put back in sequence-number
 * order (SQS FIFO: "the order in which messages are sent and received is strictly preserved", SQS developer guide,
 * "Amazon SQS FIFO queues").
 *
 * Applied only while fauxqs' dequeueFifo still stops after one message per group.
 */
import { randomUUID } from 'node:crypto';

interface FifoMessage {
  messageId: string;
  body: string;
  md5OfBody: string;
  md5OfMessageAttributes?: string;
  messageAttributes: Record<string, unknown>;
  approximateReceiveCount: number;
  approximateFirstReceiveTimestamp?: number;
  messageGroupId?: string;
  sequenceNumber?: string;
  delayUntil?: number;
}

interface InflightEntry {
  message: FifoMessage;
  receiptHandle: string;
  visibilityDeadline: number;
}

interface ReceivedMessage {
  MessageId: string;
  ReceiptHandle: string;
  MD5OfBody: string;
  Body: string;
  MD5OfMessageAttributes?: string;
  MessageAttributes?: Record<string, unknown>;
}

interface FifoQueueLike {
  name: string;
  attributes: Record<string, string | undefined>;
  inflightMessages: Map<string, InflightEntry>;
  fifoMessages: Map<string, FifoMessage[]>;
  fifoDelayed: Map<string, FifoMessage[]>;
  fifoLockedGroups: Map<string, number>;
  spy?: { addMessage(event: Record<string, unknown>): void };
  persistence?: {
    deleteMessage(messageId: string): void;
    updateMessageInflight(messageId: string, receiptHandle: string, deadline: number, receiveCount: number, firstReceive: number | undefined): void;
  };
  isFifo(): boolean;
  hasAvailableFifoMessages(): boolean;
  notifyWaiters(): void;
  processTimers(): void;
  changeVisibility(receiptHandle: string, timeoutSeconds: number): void;
  enqueue(message: FifoMessage): void;
  dequeueFifo(maxCount: number, visibilityTimeoutOverride?: number, dlqResolver?: (arn: string) => FifoQueueLike | undefined): ReceivedMessage[];
}

/** fauxqs files a FIFO message sent without a group (never accepted by its SendMessage) under this id. */
const DEFAULT_GROUP_ID = '__default';

/** SQS: "MaxNumberOfMessages ... Valid values: 1 to 10" (SQS API reference, ReceiveMessage). */
const MAX_MESSAGES_PER_RECEIVE = 10;

/** The fauxqs implementation being replaced: it leaves a group after its first message. */
const ONE_PER_GROUP = /fifoLockedGroups\.set\(groupId,[^;]*;\s*break;/;

function redriveOf(queue: FifoQueueLike): { maxReceiveCount: number; dlqArn?: string } {
  try {
    const policy = JSON.parse(queue.attributes.RedrivePolicy ?? '') as { maxReceiveCount?: number | string; deadLetterTargetArn?: string };
    return { maxReceiveCount: Number(policy.maxReceiveCount ?? Infinity), ...(policy.deadLetterTargetArn === undefined ? {} : { dlqArn: policy.deadLetterTargetArn }) };
  } catch {
    return { maxReceiveCount: Infinity };
  }
}

/** Sequence numbers are 20-digit zero-padded strings: text order is their order. */
function bySequence(a: FifoMessage, b: FifoMessage): number {
  const left = a.sequenceNumber ?? '';
  const right = b.sequenceNumber ?? '';
  return left < right ? -1 : left > right ? 1 : 0;
}

function lockGroup(queue: FifoQueueLike, groupId: string): void {
  queue.fifoLockedGroups.set(groupId, (queue.fifoLockedGroups.get(groupId) ?? 0) + 1);
}

function unlockGroup(queue: FifoQueueLike, groupId: string): void {
  const count = (queue.fifoLockedGroups.get(groupId) ?? 1) - 1;
  if (count <= 0) queue.fifoLockedGroups.delete(groupId);
  else queue.fifoLockedGroups.set(groupId, count);
}

/** Puts `message` back in its group at its sequence position (the group is short: a sort is simplest). */
function requeueInOrder(queue: FifoQueueLike, groupId: string, message: FifoMessage): void {
  const group = queue.fifoMessages.get(groupId) ?? [];
  group.push(message);
  group.sort(bySequence);
  queue.fifoMessages.set(groupId, group);
}

function received(message: FifoMessage, receiptHandle: string): ReceivedMessage {
  return {
    MessageId: message.messageId,
    ReceiptHandle: receiptHandle,
    MD5OfBody: message.md5OfBody,
    Body: message.body,
    ...(message.md5OfMessageAttributes ? { MD5OfMessageAttributes: message.md5OfMessageAttributes } : {}),
    ...(Object.keys(message.messageAttributes).length > 0 ? { MessageAttributes: message.messageAttributes } : {}),
  };
}

/**
 * Up to `maxCount` (at most 10) messages: as many of the first available group as it has, in order, then of the
 * next available groups. Every message taken locks its group once; the group opens again when the last is deleted
 * or visible again (fauxqs' deleteMessage / changeVisibility / processTimers count the locks down). A message
 * received more than the redrive policy's maxReceiveCount goes to the DLQ instead, as fauxqs does.
 */
function dequeueFifoBatch(
  this: FifoQueueLike,
  maxCount: number,
  visibilityTimeoutOverride?: number,
  dlqResolver?: (arn: string) => FifoQueueLike | undefined,
): ReceivedMessage[] {
  this.processTimers();
  const visibilityTimeout = visibilityTimeoutOverride ?? Number.parseInt(this.attributes.VisibilityTimeout ?? '30', 10);
  const { maxReceiveCount, dlqArn } = redriveOf(this);
  const count = Math.min(maxCount, MAX_MESSAGES_PER_RECEIVE);
  const result: ReceivedMessage[] = [];
  for (const [groupId, group] of this.fifoMessages) {
    if (result.length >= count) break;
    if (this.fifoLockedGroups.has(groupId)) continue;
    while (result.length < count && group.length > 0) {
      const message = group.shift() as FifoMessage;
      message.approximateReceiveCount += 1;
      message.approximateFirstReceiveTimestamp ??= Date.now();
      const dlq = dlqArn !== undefined && message.approximateReceiveCount > maxReceiveCount ? dlqResolver?.(dlqArn) : undefined;
      if (dlq !== undefined) {
        this.spy?.addMessage({ service: 'sqs', queueName: this.name, messageId: message.messageId, body: message.body, messageAttributes: message.messageAttributes, status: 'dlq', timestamp: Date.now() });
        this.persistence?.deleteMessage(message.messageId);
        dlq.enqueue(message);
        continue;
      }
      const receiptHandle = randomUUID();
      const visibilityDeadline = Date.now() + visibilityTimeout * 1000;
      this.inflightMessages.set(receiptHandle, { message, receiptHandle, visibilityDeadline });
      this.persistence?.updateMessageInflight(message.messageId, receiptHandle, visibilityDeadline, message.approximateReceiveCount, message.approximateFirstReceiveTimestamp);
      result.push(received(message, receiptHandle));
      lockGroup(this, groupId);
    }
    if (group.length === 0) this.fifoMessages.delete(groupId);
  }
  return result;
}

/** fauxqs' processTimers for FIFO queues, with expired messages put back in sequence order (non-FIFO: unchanged). */
function processTimersInOrder(this: FifoQueueLike, original: () => void): void {
  if (!this.isFifo()) return original.call(this);
  const now = Date.now();
  for (const [handle, entry] of this.inflightMessages) {
    if (entry.visibilityDeadline > now) continue;
    this.inflightMessages.delete(handle);
    const groupId = entry.message.messageGroupId ?? DEFAULT_GROUP_ID;
    unlockGroup(this, groupId);
    requeueInOrder(this, groupId, entry.message);
  }
  for (const [groupId, delayed] of this.fifoDelayed) {
    const still: FifoMessage[] = [];
    for (const message of delayed) {
      if (message.delayUntil !== undefined && message.delayUntil > now) still.push(message);
      else requeueInOrder(this, groupId, message);
    }
    if (still.length === 0) this.fifoDelayed.delete(groupId);
    else this.fifoDelayed.set(groupId, still);
  }
  if (this.hasAvailableFifoMessages()) this.notifyWaiters();
}

async function applyFauxqsFifoBatchPatch(): Promise<string[]> {
  const { SqsQueue } = (await import(new URL('./sqs/sqsStore.js', import.meta.resolve('fauxqs')).href)) as { SqsQueue: { prototype: FifoQueueLike } };
  const prototype = SqsQueue.prototype;
  if (!ONE_PER_GROUP.test(String(prototype.dequeueFifo))) return [];
  prototype.dequeueFifo = dequeueFifoBatch;
  const processTimers = prototype.processTimers;
  prototype.processTimers = function processTimersKeepingOrder(this: FifoQueueLike): void {
    processTimersInOrder.call(this, processTimers);
  };
  const changeVisibility = prototype.changeVisibility;
  prototype.changeVisibility = function changeVisibilityKeepingOrder(this: FifoQueueLike, receiptHandle: string, timeoutSeconds: number): void {
    const groupId = timeoutSeconds === 0 && this.isFifo() ? this.inflightMessages.get(receiptHandle)?.message.messageGroupId : undefined;
    changeVisibility.call(this, receiptHandle, timeoutSeconds);
    if (groupId !== undefined) this.fifoMessages.get(groupId)?.sort(bySequence);
  };
  return ['fauxqs: a FIFO receive takes up to 10 messages of one message group, in order (was one per group)'];
}

export { applyFauxqsFifoBatchPatch };
