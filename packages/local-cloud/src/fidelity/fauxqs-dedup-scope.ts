/**
 * SQS FIFO `DeduplicationScope: messageGroup`, which fauxqs 2.4.1 stores and ignores: its
 * deduplication cache is keyed by MessageDeduplicationId alone, so a message whose id was used in
 * ANOTHER message group within 5 minutes is accepted and silently dropped. SQS: "When
 * DeduplicationScope is messageGroup, deduplication occurs at the message group level" (SQS developer
 * guide, "High throughput for FIFO queues"); the app's order-store.fifo queue uses it.
 *
 * Patched in-process rather than at the edge: fauxqs deduplicates every delivery (SendMessage,
 * SendMessageBatch and the fan-out of an SNS FIFO topic) inside the queue, so an edge could only get
 * a second group's message past it by rewriting its MessageDeduplicationId, which consumers read
 * back. Instead `SqsQueue.checkDeduplication`/`recordDeduplication` key the cache by
 * (MessageGroupId, MessageDeduplicationId) on messageGroup-scoped queues. They receive only the id:
 * the group comes from the request being handled, noted when fauxqs' SQS and SNS routers start
 * it (their handlers run synchronously up to the enqueue, so nothing else runs in between).
 *
 * Applied only while the bug is present (fauxqs' checkDeduplication does not read DeduplicationScope).
 */
import { createHash } from 'node:crypto';

/** One message of the request being handled, as fauxqs will deduplicate it. */
interface PendingMessage {
  groupId: string;
  deduplicationId?: string;
  body: string;
}

interface QueueLike {
  attributes: Record<string, string | undefined>;
}

interface RouterLike {
  handle(request: { headers: Record<string, unknown>; body: unknown }, reply: unknown): Promise<unknown>;
}

type RouterClass = { prototype: RouterLike };
type QueueClass = {
  prototype: QueueLike & {
    checkDeduplication(this: QueueLike, id: string): unknown;
    recordDeduplication(this: QueueLike, id: string, ...rest: unknown[]): unknown;
  };
};

const PATCHED = Symbol.for('orderflow.fauxqs-dedup-scope');

let pending: { messages: PendingMessage[]; used: WeakMap<object, Set<number>> } | undefined;
let lastChecked: { queue: object; id: string; key: string } | undefined;

function contentId(body: string): string {
  return createHash('sha256').update(body).digest('hex');
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** SQS JSON protocol: SendMessage / SendMessageBatch bodies. */
function sqsMessages(action: string, body: unknown): PendingMessage[] | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const input = body as Record<string, unknown>;
  const message = (entry: Record<string, unknown>): PendingMessage => {
    const deduplicationId = text(entry.MessageDeduplicationId);
    return { groupId: text(entry.MessageGroupId) ?? '', body: text(entry.MessageBody) ?? '', ...(deduplicationId === undefined ? {} : { deduplicationId }) };
  };
  if (action === 'SendMessage') return [message(input)];
  if (action === 'SendMessageBatch' && Array.isArray(input.Entries)) {
    return input.Entries.filter((entry): entry is Record<string, unknown> => typeof entry === 'object' && entry !== null).map(message);
  }
  return undefined;
}

/** SNS query protocol (form fields, parsed by fauxqs): Publish / PublishBatch, fanned out to subscribed queues. */
function snsMessages(body: unknown): PendingMessage[] | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const params = body as Record<string, unknown>;
  const message = (prefix: string): PendingMessage => {
    const deduplicationId = text(params[`${prefix}MessageDeduplicationId`]);
    return { groupId: text(params[`${prefix}MessageGroupId`]) ?? '', body: text(params[`${prefix}Message`]) ?? '', ...(deduplicationId === undefined ? {} : { deduplicationId }) };
  };
  if (params.Action === 'Publish') return [message('')];
  if (params.Action !== 'PublishBatch') return undefined;
  const indexes = new Set<number>();
  for (const key of Object.keys(params)) {
    const match = /^PublishBatchRequestEntries\.member\.(\d+)\./.exec(key);
    if (match !== null) indexes.add(Number(match[1]));
  }
  return [...indexes].sort((a, b) => a - b).map((index) => message(`PublishBatchRequestEntries.member.${index}.`));
}

/** The cache key of `id` on `queue`: scoped by the message group of the message being sent on a messageGroup queue. */
function scopedKey(queue: QueueLike, id: string): string {
  if (queue.attributes.DeduplicationScope !== 'messageGroup' || pending === undefined) return id;
  let used = pending.used.get(queue);
  if (used === undefined) {
    used = new Set();
    pending.used.set(queue, used);
  }
  const messages = pending.messages;
  const index = messages.findIndex((message, position) => !used.has(position) && (message.deduplicationId ?? contentId(message.body)) === id);
  if (index < 0) return id;
  used.add(index);
  return JSON.stringify([messages[index]?.groupId ?? '', id]);
}

/** Runs a router's `handle` with the messages of its request noted, for as long as it runs synchronously. */
function noting(router: RouterClass, messagesOf: (request: { headers: Record<string, unknown>; body: unknown }) => PendingMessage[] | undefined): void {
  const original = router.prototype.handle;
  router.prototype.handle = function handleNotingMessages(this: RouterLike, request, reply): Promise<unknown> {
    const messages = messagesOf(request);
    pending = messages === undefined ? undefined : { messages, used: new WeakMap() };
    try {
      return original.call(this, request, reply);
    } finally {
      pending = undefined;
      lastChecked = undefined;
    }
  };
}

async function applyFauxqsDedupScopePatch(): Promise<string[]> {
  const base = import.meta.resolve('fauxqs');
  const { SqsQueue } = (await import(new URL('./sqs/sqsStore.js', base).href)) as { SqsQueue: QueueClass };
  const { SqsRouter } = (await import(new URL('./sqs/sqsRouter.js', base).href)) as { SqsRouter: RouterClass };
  const { SnsRouter } = (await import(new URL('./sns/snsRouter.js', base).href)) as { SnsRouter: RouterClass };
  const prototype = SqsQueue.prototype as QueueClass['prototype'] & { [PATCHED]?: true };
  if (prototype[PATCHED] === true || String(prototype.checkDeduplication).includes('DeduplicationScope')) return [];

  const check = prototype.checkDeduplication;
  const record = prototype.recordDeduplication;
  prototype.checkDeduplication = function checkDeduplicationInScope(this: QueueLike, id: string): unknown {
    const key = scopedKey(this, id);
    lastChecked = { queue: this, id, key };
    return check.call(this, key);
  };
  prototype.recordDeduplication = function recordDeduplicationInScope(this: QueueLike, id: string, ...rest: unknown[]): unknown {
    const key = lastChecked !== undefined && lastChecked.queue === this && lastChecked.id === id ? lastChecked.key : id;
    lastChecked = undefined;
    return record.call(this, key, ...rest);
  };
  noting(SqsRouter, (request) => sqsMessages(String(request.headers['x-amz-target'] ?? '').replace('AmazonSQS.', ''), request.body));
  noting(SnsRouter, (request) => snsMessages(request.body));
  prototype[PATCHED] = true;
  return ['fauxqs: SQS FIFO DeduplicationScope messageGroup deduplicates per message group (was per queue)'];
}

export { applyFauxqsDedupScopePatch };
