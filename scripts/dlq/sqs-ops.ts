/**
 * SQS operations of the DLQ tool: depth and age, peek without consuming, redrive (SQS's own message move task
 * where it exists, else a receive → send → delete loop that never deletes what was not sent), purge.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  StartMessageMoveTaskCommand,
  type Message,
  type MessageAttributeValue,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { RedriveError } from './errors.ts';

interface QueueRef {
  url: string;
  fifo: boolean;
  name: string;
}

interface QueueDepth {
  visible: number;
  inFlight: number;
  delayed: number;
  /** Seconds since the oldest message seen was first sent (SentTimestamp of the peeked messages), if any. */
  oldestAgeSeconds?: number;
}

/** SQS batch calls take at most 10 entries (SQS quotas page). */
const BATCH = 10;

/**
 * Receives without consuming: each receive hides what it returns for `holdSeconds` (so the next receive returns
 * other messages), then everything is made visible again at once (ChangeMessageVisibility 0), so the queue's
 * counts are right at once (fauxqs counts a message received with VisibilityTimeout 0 as in flight until its next
 * timer sweep). A FIFO queue hands out one message group at a time, so only the oldest message of each group shows.
 */
async function peekMessages(sqs: SQSClient, queueUrl: string, max: number, holdSeconds = 30): Promise<Message[]> {
  const seen = new Map<string, Message>();
  try {
    while (seen.size < max) {
      const out = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: Math.min(BATCH, max - seen.size),
          VisibilityTimeout: holdSeconds,
          WaitTimeSeconds: 0,
          MessageSystemAttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        }),
      );
      const fresh = (out.Messages ?? []).filter((message) => message.MessageId && !seen.has(message.MessageId));
      for (const message of fresh) seen.set(message.MessageId as string, message);
      if (fresh.length === 0) break;
    }
  } finally {
    await release(sqs, queueUrl, [...seen.values()]);
  }
  return [...seen.values()].slice(0, max);
}

/** Makes received messages visible again at once. */
async function release(sqs: SQSClient, queueUrl: string, messages: Message[]): Promise<void> {
  for (let i = 0; i < messages.length; i += BATCH) {
    const chunk = messages.slice(i, i + BATCH);
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queueUrl,
        Entries: chunk.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle, VisibilityTimeout: 0 })),
      }),
    );
  }
}

async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<QueueDepth> {
  const out = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
    }),
  );
  const a = out.Attributes ?? {};
  const depth: QueueDepth = {
    visible: Number(a.ApproximateNumberOfMessages ?? 0),
    inFlight: Number(a.ApproximateNumberOfMessagesNotVisible ?? 0),
    delayed: Number(a.ApproximateNumberOfMessagesDelayed ?? 0),
  };
  // ApproximateAgeOfOldestMessage is a CloudWatch metric, not a queue attribute: peek and read SentTimestamp.
  if (depth.visible > 0) {
    const sent = (await peekMessages(sqs, queueUrl, BATCH)).map((message) => Number(message.Attributes?.SentTimestamp)).filter(Number.isFinite);
    if (sent.length > 0) depth.oldestAgeSeconds = Math.max(0, Math.round((Date.now() - Math.min(...sent)) / 1000));
  }
  return depth;
}

/**
 * A FIFO deduplication id for a redriven message: the same DLQ message always gets the same id, so a redrive
 * interrupted between send and delete and run again within SQS's 5-minute deduplication window does not deliver
 * it twice; and it differs from the original id (the producer's eventId), which SQS may still remember and would
 * silently drop.
 */
function redriveDeduplicationId(dlqName: string, messageId: string): string {
  return createHash('sha256').update(`redrive:${dlqName}:${messageId}`).digest('hex');
}

/** What to send for one DLQ message: its body and attributes, or (SNS envelope) the message inside. */
type Transform = (message: Message) => { body: string; attributes?: Record<string, MessageAttributeValue> };

const keepAsIs: Transform = (message) => ({ body: message.Body ?? '', ...(message.MessageAttributes ? { attributes: message.MessageAttributes } : {}) });

interface RedriveOptions {
  from: QueueRef;
  to: QueueRef;
  /** 0 or undefined: as fast as SQS answers. */
  maxPerSecond?: number;
  transform?: Transform;
  onProgress?: (moved: number) => void;
  /** Seconds each received message stays hidden while it is being moved. */
  holdSeconds?: number;
  /** Attempts per message for per-entry send failures (SendMessageBatch answers 200 with some entries failed). */
  attempts?: number;
}

/**
 * Moves every message of a DLQ to a queue: receive, send (SendMessageBatch), and only then delete what was sent.
 * A FIFO target gets each message's MessageGroupId and a deduplication id (getlift/lift#189: without them SQS
 * rejects the send); one message per group per send call, so the order within a group is kept. Per-entry send
 * failures are retried; what still fails is made visible again in the DLQ, never deleted, and the redrive stops.
 * Stops when a receive comes back empty.
 *
 * @example
 * const moved = await redriveByCopy(sqs, { from: { url: dlqUrl, fifo: false, name: 'billing-dlq' }, to: { url, fifo: false, name: 'billing' } });
 * @throws RedriveError when a send fails for good (nothing unsent was deleted)
 */
async function redriveByCopy(sqs: SQSClient, options: RedriveOptions): Promise<number> {
  const { from, to, maxPerSecond = 0, transform = keepAsIs, holdSeconds = 60, attempts = 5 } = options;
  const started = Date.now();
  let moved = 0;
  for (;;) {
    const out = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: from.url,
        MaxNumberOfMessages: BATCH,
        VisibilityTimeout: holdSeconds,
        WaitTimeSeconds: 1,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    const received = out.Messages ?? [];
    if (received.length === 0) break;
    let pending = received;
    try {
      while (pending.length > 0) {
        // A FIFO target: at most one message per group per call, in receive order; the rest wait for the next call.
        const batch: Message[] = [];
        const later: Message[] = [];
        const groups = new Set<string>();
        for (const message of pending) {
          const group = message.Attributes?.MessageGroupId ?? '';
          if (to.fifo && groups.has(group)) later.push(message);
          else {
            batch.push(message);
            groups.add(group);
          }
        }
        if (maxPerSecond > 0) {
          const due = started + ((moved + batch.length) * 1000) / maxPerSecond;
          if (due > Date.now()) await sleep(due - Date.now());
        }
        const { sent, lastError } = await sendWithRetries(sqs, from, to, batch, transform, attempts);
        await deleteSent(sqs, from.url, sent);
        moved += sent.length;
        options.onProgress?.(moved);
        const unsent = batch.filter((message) => !sent.includes(message));
        if (unsent.length > 0) {
          pending = [...unsent, ...later];
          throw new SendFailure(unsent.length, lastError);
        }
        pending = later;
      }
    } catch (error) {
      // Nothing unsent is deleted: give the DLQ its messages back now rather than after the visibility timeout.
      await release(sqs, from.url, pending).catch(() => undefined);
      const detail = error instanceof SendFailure ? error.message : `${(error as Error).name}: ${(error as Error).message}`;
      throw new RedriveError(`cannot send to ${to.name}: ${detail}`, moved, { cause: error });
    }
  }
  return moved;
}

class SendFailure extends Error {
  constructor(count: number, reason: string) {
    super(`${count} message(s) failed to send after retries (${reason})`);
    this.name = 'SendFailure';
  }
}

/** Sends a batch; retries the entries that failed; answers the messages that were sent. Throws if the call fails. */
async function sendWithRetries(
  sqs: SQSClient,
  from: QueueRef,
  to: QueueRef,
  batch: Message[],
  transform: Transform,
  attempts: number,
): Promise<{ sent: Message[]; lastError: string }> {
  const sent: Message[] = [];
  let lastError = '';
  let remaining = batch;
  for (let attempt = 1; attempt <= attempts && remaining.length > 0; attempt += 1) {
    const entries: SendMessageBatchRequestEntry[] = remaining.map((message, index) => {
      const { body, attributes } = transform(message);
      return {
        Id: String(index),
        MessageBody: body,
        ...(attributes && Object.keys(attributes).length > 0 ? { MessageAttributes: attributes } : {}),
        ...(to.fifo
          ? {
              MessageGroupId: message.Attributes?.MessageGroupId ?? message.MessageId ?? 'redrive',
              MessageDeduplicationId: redriveDeduplicationId(from.name, message.MessageId ?? ''),
            }
          : {}),
      };
    });
    const out = await sqs.send(new SendMessageBatchCommand({ QueueUrl: to.url, Entries: entries }));
    const failedIds = new Set((out.Failed ?? []).map((failure) => failure.Id));
    for (const failure of out.Failed ?? []) lastError = `${failure.Code}: ${failure.Message ?? ''}`;
    sent.push(...remaining.filter((_, index) => !failedIds.has(String(index))));
    remaining = remaining.filter((_, index) => failedIds.has(String(index)));
    // A sender fault (malformed entry) will not get better with retries.
    if ((out.Failed ?? []).every((failure) => failure.SenderFault)) break;
    if (remaining.length > 0) await sleep(Math.min(200 * 2 ** attempt, 3000));
  }
  return { sent, lastError };
}

async function deleteSent(sqs: SQSClient, queueUrl: string, messages: Message[]): Promise<void> {
  for (let i = 0; i < messages.length; i += BATCH) {
    const chunk = messages.slice(i, i + BATCH);
    const out = await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: chunk.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle })) }));
    // Sent but not deleted: it will be redriven again; the consumer is idempotent (and a FIFO target deduplicates).
    if ((out.Failed ?? []).length > 0) throw new Error(`sent, but cannot delete ${out.Failed?.length} message(s) from the DLQ: ${out.Failed?.[0]?.Code}`);
  }
}

/** What an endpoint without message move tasks answers (an SQS emulator without them: InvalidAction). */
const UNSUPPORTED = new Set(['InvalidAction', 'UnsupportedOperation', 'UnknownOperationException', 'AWS.SimpleQueueService.UnsupportedOperation']);

/**
 * SQS's own redrive (StartMessageMoveTask), progress from ListMessageMoveTasks; answers undefined when the endpoint
 * has no such API (the caller then copies). `destinationArn` undefined: back to the source queue(s).
 */
async function redriveByMoveTask(
  sqs: SQSClient,
  { sourceArn, destinationArn, maxPerSecond, onProgress }: { sourceArn: string; destinationArn?: string; maxPerSecond?: number; onProgress?: (moved: number, toMove: number) => void },
): Promise<number | undefined> {
  try {
    await sqs.send(
      new StartMessageMoveTaskCommand({
        SourceArn: sourceArn,
        ...(destinationArn ? { DestinationArn: destinationArn } : {}),
        ...(maxPerSecond ? { MaxNumberOfMessagesPerSecond: maxPerSecond } : {}),
      }),
    );
  } catch (error) {
    if (UNSUPPORTED.has((error as Error).name)) return undefined;
    throw error;
  }
  for (;;) {
    await sleep(2000);
    const task = (await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: sourceArn, MaxResults: 1 }))).Results?.[0];
    const moved = task?.ApproximateNumberOfMessagesMoved ?? 0;
    onProgress?.(moved, task?.ApproximateNumberOfMessagesToMove ?? moved);
    if (task?.Status === 'COMPLETED') return moved;
    if (task?.Status === 'FAILED' || task?.Status === 'CANCELLED') throw new RedriveError(`message move task ${task.Status}: ${task.FailureReason ?? 'no reason given'}`, moved);
  }
}

async function queueArn(sqs: SQSClient, queueUrl: string): Promise<string> {
  return (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn ?? '';
}

/** PurgeQueue, or a receive-and-delete loop where PurgeQueue is not available. Answers how many were visible. */
async function purgeQueue(sqs: SQSClient, queueUrl: string): Promise<number> {
  const before = (await queueDepth(sqs, queueUrl)).visible;
  try {
    await sqs.send(new PurgeQueueCommand({ QueueUrl: queueUrl }));
    return before;
  } catch (error) {
    if (!UNSUPPORTED.has((error as Error).name)) throw error;
  }
  let deleted = 0;
  for (;;) {
    const messages = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: BATCH, WaitTimeSeconds: 1, VisibilityTimeout: 60 }))).Messages ?? [];
    if (messages.length === 0) return deleted;
    await deleteSent(sqs, queueUrl, messages);
    deleted += messages.length;
  }
}

export { keepAsIs, peekMessages, purgeQueue, queueArn, queueDepth, redriveByCopy, redriveByMoveTask, release };
export type { QueueRef, Transform };
