/**
 * The DLQ commands (list, peek, redrive, purge) on a StackView: the local cloud or a deployed stage.
 * cli.ts parses the command line and prints; tests call these through `runDlq`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Message, MessageAttributeValue } from '@aws-sdk/client-sqs';
import { DeleteMessageCommand, GetQueueUrlCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { DlqError, RedriveError, UsageError } from './errors.ts';
import { keepAsIs, peekMessages, purgeQueue, queueArn, queueDepth, redriveByCopy, redriveByMoveTask, release, type QueueRef, type Transform } from './sqs-ops.ts';
import type { FailureInfo, StackView } from './stack.ts';
import { functionNameFromArn } from './stack.ts';
import { beyondRetention, kinesisEventFor, parseFailurePointer, readPointedRecords, reportedFailures, streamNameOf, retentionHoursOf } from './stream.ts';
import { dlqsOf, findQueue, queuesOf, type DlqInfo, type DlqSource } from './topology.ts';

interface Output {
  out(line: string): void;
}

interface ListedSource {
  kind: DlqSource['kind'];
  /** What it catches for: the source queue, the subscription (topic → queue), the stream. */
  source: string;
  consumer?: string;
  redriveTarget?: string;
  maxReceiveCount?: number;
}

interface ListedDlq {
  name: string;
  logicalId: string;
  fifo: boolean;
  visible: number;
  inFlight: number;
  oldestAgeSeconds?: number;
  sources: ListedSource[];
}

interface PeekedMessage {
  messageId: string;
  receiveCount: number;
  sentAt?: string;
  groupId?: string;
  attributes: Record<string, string>;
  messageAttributes: Record<string, string>;
  body: unknown;
  /** Last failure: the consumer's `record failed` log line, or why SNS or the stream consumer gave up. */
  reason?: string;
}

const MAX_BODY_CHARS = 2000;

/** A template queue by the name an operator typed (short, full, logical id). */
function resolveQueue(stack: StackView, wanted: string): { logicalId: string; name: string; fifo: boolean } {
  const queues = queuesOf(stack.template).map((q) => ({ ...q, name: stack.physicalName(q.logicalId) ?? q.queueName ?? q.logicalId }));
  const found = findQueue(queues, wanted, (q) => q.name);
  if (!found) {
    const candidates = queues.filter((q) => q.name.includes(wanted.replace(/\.fifo$/, ''))).map((q) => q.name);
    throw new UsageError(`no queue "${wanted}" in stack ${stack.stackName}${candidates.length > 0 ? ` (did you mean ${candidates.join(', ')}?)` : ''}`);
  }
  return { logicalId: found.logicalId, name: found.name, fifo: found.fifo || found.name.endsWith('.fifo') };
}

/** `--to`: a queue of the stack, a queue URL, or any other queue name (GetQueueUrl). */
async function resolveTarget(stack: StackView, wanted: string): Promise<QueueRef> {
  if (/^https?:\/\//.test(wanted)) {
    const name = wanted.split('/').pop() ?? wanted;
    return { url: wanted, name, fifo: name.endsWith('.fifo') };
  }
  try {
    const queue = resolveQueue(stack, wanted);
    return { url: await stack.queueUrl(queue.logicalId), name: queue.name, fifo: queue.fifo };
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
  }
  try {
    const url = (await stack.sqs.send(new GetQueueUrlCommand({ QueueName: wanted }))).QueueUrl ?? '';
    return { url, name: wanted, fifo: wanted.endsWith('.fifo') };
  } catch (error) {
    throw new UsageError(`--to ${wanted}: no such queue (${(error as Error).name})`);
  }
}

function describeSource(stack: StackView, source: DlqSource): ListedSource {
  const name = (id: string | undefined): string | undefined => (id ? (stack.physicalName(id) ?? id) : undefined);
  const consumer = name(source.consumerLogicalId);
  const target = name(source.redriveTargetLogicalId);
  const described =
    source.kind === 'queue'
      ? `queue ${name(source.logicalId)}${consumer ? ` (${consumer})` : ''}`
      : source.kind === 'subscription'
        ? `subscription ${source.logicalId} (${name(source.originLogicalId)} -> ${target})`
        : `stream ${name(source.originLogicalId)} (${consumer ?? source.logicalId}, on failure)`;
  return {
    kind: source.kind,
    source: described,
    ...(consumer ? { consumer } : {}),
    redriveTarget: source.kind === 'stream' ? `re-invoke ${consumer ?? 'the consumer'} with the re-read records` : (target ?? '?'),
    ...(source.maxReceiveCount === undefined ? {} : { maxReceiveCount: source.maxReceiveCount }),
  };
}

function dlqOf(stack: StackView, logicalId: string): DlqInfo | undefined {
  return dlqsOf(stack.template).find((dlq) => dlq.logicalId === logicalId);
}

/** Every DLQ of the stack with its depth, the age of its oldest message and what it catches for. */
async function listDlqs(stack: StackView): Promise<ListedDlq[]> {
  return Promise.all(
    dlqsOf(stack.template).map(async (dlq) => {
      const depth = await queueDepth(stack.sqs, await stack.queueUrl(dlq.logicalId));
      return {
        name: stack.physicalName(dlq.logicalId) ?? dlq.queueName ?? dlq.logicalId,
        logicalId: dlq.logicalId,
        fifo: dlq.fifo,
        visible: depth.visible,
        inFlight: depth.inFlight,
        ...(depth.oldestAgeSeconds === undefined ? {} : { oldestAgeSeconds: depth.oldestAgeSeconds }),
        sources: dlq.sources.map((source) => describeSource(stack, source)),
      };
    }),
  );
}

const age = (seconds: number | undefined): string => {
  if (seconds === undefined) return '-';
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86_400)}d`;
};

function printList(dlqs: ListedDlq[], output: Output): void {
  const rows = dlqs.map((dlq) => [dlq.name, String(dlq.visible), String(dlq.inFlight), age(dlq.oldestAgeSeconds), dlq.sources.map((s) => s.source).join('; '), dlq.sources.map((s) => s.redriveTarget).join('; ')]);
  const header = ['DLQ', 'messages', 'in flight', 'oldest', 'catches for', 'redrive to'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((cell, i) => (i === 1 || i === 2 ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  output.out(line(header));
  for (const row of rows) output.out(line(row));
  const total = dlqs.reduce((sum, dlq) => sum + dlq.visible + dlq.inFlight, 0);
  output.out(total === 0 ? 'every DLQ is empty' : `${total} message(s) in DLQs: npm run dlq -- peek <dlq> to see why`);
}

const parseBody = (body: string): unknown => {
  try {
    return JSON.parse(body);
  } catch {
    return body;
  }
};

function attributeText(value: MessageAttributeValue): string {
  if (value.StringValue !== undefined) return value.StringValue;
  if (value.BinaryValue !== undefined) return `<${value.BinaryValue.length} bytes>`;
  return JSON.stringify(value.StringListValues ?? []);
}

const describeFailure = (failure: FailureInfo): string =>
  `${failure.errorName}: ${failure.errorMessage} (${failure.functionName}, ${failure.at}${failure.orderId ? `, order ${failure.orderId}` : ''})`;

/** Messages of a queue, not consumed, with the last failure of each. */
async function peekQueue(stack: StackView, wanted: string, count: number): Promise<{ queue: string; messages: PeekedMessage[]; note?: string }> {
  const queue = resolveQueue(stack, wanted);
  const url = await stack.queueUrl(queue.logicalId);
  const messages = await peekMessages(stack.sqs, url, count);
  const dlq = dlqOf(stack, queue.logicalId);
  const source = dlq?.sources[0];
  const reasons = new Map<string, string>();
  let note: string | undefined;
  if (source?.kind === 'subscription') {
    const target = stack.physicalName(source.redriveTargetLogicalId ?? '') ?? 'the subscribed queue';
    for (const message of messages) reasons.set(message.MessageId ?? '', `SNS could not deliver it to ${target} (check that queue's policy and KMS key; the subscription's NumberOfNotificationsFailed metric)`);
  } else if (source?.kind === 'stream') {
    for (const message of messages) {
      const pointer = parseFailurePointer(message.Body ?? '');
      if (!pointer) continue;
      let detail = '';
      try {
        const records = await readPointedRecords(stack.kinesis, pointer);
        const failures = await stack.lastFailures(records.map((r) => r.sequenceNumber), functionNameFromArn(pointer.functionArn), 'sequenceNumber');
        if (typeof failures === 'string') note = failures;
        else detail = [...failures.values()].map(describeFailure).slice(0, 1).join('');
        detail = `${records.length} record(s) still in the stream${detail ? `; ${detail}` : ''}`;
      } catch (error) {
        detail = (error as Error).message;
      }
      reasons.set(message.MessageId ?? '', `${pointer.condition} after ${pointer.approximateInvokeCount ?? '?'} invocation(s) of ${functionNameFromArn(pointer.functionArn)}: ${detail}`);
    }
  } else if (messages.length > 0) {
    const consumer = source?.consumerLogicalId ? stack.physicalName(source.consumerLogicalId) : undefined;
    const failures = await stack.lastFailures(messages.map((m) => m.MessageId ?? ''), consumer, 'messageId');
    if (typeof failures === 'string') note = failures;
    else for (const [id, failure] of failures) reasons.set(id, describeFailure(failure));
  }
  return {
    queue: queue.name,
    messages: messages.map((message) => {
      const attributes = { ...(message.Attributes ?? {}) };
      const sent = Number(attributes.SentTimestamp);
      const reason = reasons.get(message.MessageId ?? '');
      return {
        messageId: message.MessageId ?? '',
        receiveCount: Number(attributes.ApproximateReceiveCount ?? 0),
        ...(Number.isFinite(sent) ? { sentAt: new Date(sent).toISOString() } : {}),
        ...(attributes.MessageGroupId ? { groupId: attributes.MessageGroupId } : {}),
        attributes,
        messageAttributes: Object.fromEntries(Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [name, attributeText(value)])),
        body: parseBody(message.Body ?? ''),
        ...(reason ? { reason } : {}),
      };
    }),
    ...(note ? { note } : {}),
  };
}

function printPeek(result: Awaited<ReturnType<typeof peekQueue>>, output: Output): void {
  if (result.messages.length === 0) output.out(`${result.queue}: no visible message`);
  result.messages.forEach((message, index) => {
    output.out(`--- ${index + 1}/${result.messages.length}  ${result.queue}  message ${message.messageId}`);
    output.out(`  received ${message.receiveCount} time(s) (ApproximateReceiveCount, this peek included)${message.sentAt ? `, first sent ${message.sentAt}` : ''}${message.groupId ? `, group ${message.groupId}` : ''}`);
    output.out(`  last failure: ${message.reason ?? 'none recorded'}`);
    const attrs = Object.entries(message.messageAttributes).map(([k, v]) => `${k}=${v}`).join(' ');
    if (attrs) output.out(`  message attributes: ${attrs}`);
    const system = Object.entries(message.attributes).filter(([k]) => !['ApproximateReceiveCount', 'SentTimestamp', 'MessageGroupId'].includes(k)).map(([k, v]) => `${k}=${v}`).join(' ');
    if (system) output.out(`  attributes: ${system}`);
    let body = typeof message.body === 'string' ? message.body : JSON.stringify(message.body, null, 2);
    if (body.length > MAX_BODY_CHARS) body = `${body.slice(0, MAX_BODY_CHARS)}\n... (${body.length - MAX_BODY_CHARS} more characters)`;
    output.out(body.split('\n').map((l) => `  | ${l}`).join('\n'));
  });
  if (result.note) output.out(`failure reasons: ${result.note}`);
}

/** An SNS envelope (Type Notification) in a subscription DLQ becomes the raw message the queue would have got. */
const unwrapSnsEnvelope: Transform = (message: Message) => {
  const envelope = parseBody(message.Body ?? '') as Record<string, unknown> | string;
  if (typeof envelope !== 'object' || envelope === null || envelope.Type !== 'Notification' || typeof envelope.Message !== 'string') return keepAsIs(message);
  const attributes: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of Object.entries((envelope.MessageAttributes ?? {}) as Record<string, { Type: string; Value: string }>)) {
    attributes[name] = value.Type === 'Binary' ? { DataType: 'Binary', BinaryValue: Buffer.from(value.Value, 'base64') } : { DataType: value.Type, StringValue: value.Value };
  }
  return { body: envelope.Message, attributes };
};

interface RedriveRequest {
  to?: string;
  maxPerSecond?: number;
  /** Asked before anything is deleted; false stops the command. */
  confirm: (question: string) => Promise<boolean>;
}

/** Redrives a DLQ (see the README's "Redrive"); answers how many messages were moved or re-invoked. */
async function redrive(stack: StackView, wanted: string, request: RedriveRequest, output: Output): Promise<number> {
  const queue = resolveQueue(stack, wanted);
  const from: QueueRef = { url: await stack.queueUrl(queue.logicalId), name: queue.name, fifo: queue.fifo };
  const dlq = dlqOf(stack, queue.logicalId);
  if (dlq?.sources[0]?.kind === 'stream' && request.to === undefined) return redriveStreamFailures(stack, from, request, output);
  if (!dlq && request.to === undefined) throw new UsageError(`${queue.name} is not a DLQ of stack ${stack.stackName}: give --to <queue>`);
  const sources = dlq?.sources ?? [];
  if (request.to === undefined && sources.length !== 1) throw new UsageError(`${queue.name} catches for ${sources.length} sources: give --to <queue>`);
  const source = sources[0];
  if (request.to === undefined && !source?.redriveTargetLogicalId) throw new UsageError(`no redrive target known for ${queue.name}: give --to <queue>`);
  const to = request.to !== undefined ? await resolveTarget(stack, request.to) : await resolveTarget(stack, source?.redriveTargetLogicalId ?? '');
  const depth = await queueDepth(stack.sqs, from.url);
  output.out(`${from.name}: ${depth.visible} message(s) to redrive to ${to.name}${request.maxPerSecond ? ` at most ${request.maxPerSecond}/s` : ''}`);
  if (depth.visible === 0) return 0;
  if (!(await request.confirm(`Move ${depth.visible} message(s) from ${from.name} to ${to.name} (each is deleted from the DLQ once sent)?`))) throw new DlqError('not confirmed: nothing moved');
  const progress = (moved: number): void => output.out(`  moved ${moved}`);
  // SQS's own message move task, on AWS and on the local cloud alike (its edge serves StartMessageMoveTask): a
  // standard DLQ of SQS queues (not SNS subscriptions, which SQS does not redrive; FIFO DLQs are copied here).
  if (!from.fifo && source?.kind === 'queue') {
    let moved: number | undefined;
    try {
      moved = await redriveByMoveTask(stack.sqs, {
        sourceArn: await queueArn(stack.sqs, from.url),
        ...(request.to !== undefined ? { destinationArn: await queueArn(stack.sqs, to.url) } : {}),
        ...(request.maxPerSecond ? { maxPerSecond: request.maxPerSecond } : {}),
        onProgress: (n, total) => output.out(`  moved ${n} of ${total} (message move task)`),
      });
    } catch (error) {
      // Refused before it started (a missing queue, a task already running): nothing moved.
      if (error instanceof RedriveError) throw error;
      throw new RedriveError(`${(error as Error).name}: ${(error as Error).message}`, 0, { cause: error });
    }
    if (moved !== undefined) {
      output.out(`redrove ${moved} message(s) from ${from.name} to ${to.name} (SQS message move task)`);
      return moved;
    }
  }
  const moved = await redriveByCopy(stack.sqs, {
    from,
    to,
    ...(request.maxPerSecond ? { maxPerSecond: request.maxPerSecond } : {}),
    ...(source?.kind === 'subscription' ? { transform: unwrapSnsEnvelope } : {}),
    onProgress: progress,
  });
  output.out(`redrove ${moved} message(s) from ${from.name} to ${to.name}`);
  return moved;
}

/**
 * Stream failures: for each pointer, re-read its records and invoke the consumer that failed them; the pointer is
 * deleted only when that invocation succeeded with no item failure. See stream.ts for why not re-put.
 */
async function redriveStreamFailures(stack: StackView, from: QueueRef, request: RedriveRequest, output: Output): Promise<number> {
  const depth = await queueDepth(stack.sqs, from.url);
  output.out(`${from.name}: ${depth.visible} failed batch pointer(s); each batch is re-read from the stream and its consumer invoked again`);
  if (depth.visible === 0) return 0;
  if (!(await request.confirm(`Re-invoke the consumer for ${depth.visible} batch(es) from ${from.name} (each pointer is deleted once its batch succeeds)?`))) {
    throw new DlqError('not confirmed: nothing redriven');
  }
  let done = 0;
  const failed: string[] = [];
  // Pointers that failed again stay hidden until this run ends (so the loop moves on), then visible again at once.
  const heldBack: Message[] = [];
  const retentions = new Map<string, Promise<number | undefined>>();
  for (;;) {
    const messages = (await stack.sqs.send(new ReceiveMessageCommand({ QueueUrl: from.url, MaxNumberOfMessages: 1, VisibilityTimeout: 300, WaitTimeSeconds: 1 }))).Messages ?? [];
    const message = messages[0];
    if (!message) break;
    const pointer = parseFailurePointer(message.Body ?? '');
    try {
      if (!pointer) throw new DlqError('not a Kinesis on-failure record');
      if (!retentions.has(pointer.streamArn)) retentions.set(pointer.streamArn, retentionHoursOf(stack.kinesis, pointer.streamArn));
      const retention = await retentions.get(pointer.streamArn);
      const gone = retention === undefined ? undefined : beyondRetention(pointer, retention, new Date());
      if (gone !== undefined) throw new DlqError(gone);
      const records = await readPointedRecords(stack.kinesis, pointer);
      if (records.length === 0) throw new DlqError(`records ${pointer.startSequenceNumber}..${pointer.endSequenceNumber} are no longer in ${streamNameOf(pointer.streamArn)}: replay them from the lake`);
      const fnName = functionNameFromArn(pointer.functionArn);
      const result = await stack.invoke(fnName, kinesisEventFor(pointer, records, stack.region));
      if (!result.ok) throw new DlqError(`${fnName} failed again: ${result.error}`);
      const itemFailures = reportedFailures(result.payload);
      if (itemFailures.length > 0) throw new DlqError(`${fnName} failed record(s) ${itemFailures.join(', ')} again`);
      await stack.sqs.send(new DeleteMessageCommand({ QueueUrl: from.url, ReceiptHandle: message.ReceiptHandle }));
      done += 1;
      output.out(`  re-invoked ${fnName} with ${records.length} record(s) of ${pointer.shardId} (${pointer.startSequenceNumber}..${pointer.endSequenceNumber})`);
      const perSecond = request.maxPerSecond ?? 0;
      if (perSecond > 0) await sleep(1000 / perSecond);
    } catch (error) {
      failed.push(`${message.MessageId}: ${(error as Error).message}`);
      heldBack.push(message);
    }
  }
  await release(stack.sqs, from.url, heldBack);
  output.out(`redrove ${done} batch(es) from ${from.name}${failed.length > 0 ? `; ${failed.length} stay in it:` : ''}`);
  for (const line of failed) output.out(`  ${line}`);
  if (failed.length > 0) throw new RedriveError(`${failed.length} batch(es) could not be redriven`, done);
  return done;
}

async function purge(stack: StackView, wanted: string, confirm: (question: string) => Promise<boolean>, output: Output): Promise<number> {
  const queue = resolveQueue(stack, wanted);
  if (!dlqOf(stack, queue.logicalId)) throw new UsageError(`${queue.name} is not a DLQ of stack ${stack.stackName}: purge only empties DLQs`);
  const url = await stack.queueUrl(queue.logicalId);
  const depth = await queueDepth(stack.sqs, url);
  if (depth.visible + depth.inFlight === 0) {
    output.out(`${queue.name} is already empty`);
    return 0;
  }
  if (!(await confirm(`Delete all ${depth.visible + depth.inFlight} message(s) of ${queue.name}? They cannot be recovered.`))) throw new DlqError('not confirmed: nothing deleted');
  const purged = await purgeQueue(stack.sqs, url);
  output.out(`purged ${queue.name} (${purged} message(s); SQS may take up to 60 s to finish a purge)`);
  return purged;
}

export { listDlqs, peekQueue, printList, printPeek, purge, redrive };
export type { ListedDlq, PeekedMessage };
