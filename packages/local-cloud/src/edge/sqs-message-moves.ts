/**
 * SQS dead-letter APIs fauxqs 2.4.1 lacks (it answers InvalidAction): `ListDeadLetterSourceQueues` and the message
 * move tasks (`StartMessageMoveTask`, `ListMessageMoveTasks`, `CancelMessageMoveTask`), the console's and
 * `aws sqs start-message-move-task`'s redrive. Served at the edge over fauxqs' own SQS JSON API, so what a task moves
 * is persisted by fauxqs as any receive, send and delete is.
 *
 * AWS rules followed (SQS API reference, StartMessageMoveTask / ListMessageMoveTasks / CancelMessageMoveTask /
 * ListDeadLetterSourceQueues):
 * - the source must be a dead-letter queue of some SQS queue (named in another queue's RedrivePolicy);
 * - without a DestinationArn each message goes back to the queue it was dead-lettered from;
 * - MaxNumberOfMessagesPerSecond from 1 to 500, else as fast as it can;
 * - one active task per source queue; the task moves the messages there when it starts
 *   (ApproximateNumberOfMessagesToMove, "obtained at the time of starting the message movement task");
 * - Status RUNNING, COMPLETED, CANCELLING, CANCELLED or FAILED; only a RUNNING task can be cancelled;
 * - ListMessageMoveTasks: the most recent tasks of the source, up to 10 (MaxResults default 1), newest first;
 *   the TaskHandle is listed only while the task is RUNNING.
 * Local differences: tasks live in memory (a restart forgets them; what they moved stays moved), and the source of a
 * message dead-lettered before the last restart is only known when the DLQ has one source queue.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { AwsApiError } from '../util/errors.ts';
import { postJson } from './proxy.ts';
import type { Upstream } from './proxy.ts';

/** Calls fauxqs' SQS JSON API; throws AwsApiError with fauxqs' error code. */
type SqsCall = (operation: string, input: Record<string, unknown>) => Promise<Record<string, unknown>>;

type MoveTaskStatus = 'RUNNING' | 'COMPLETED' | 'CANCELLING' | 'CANCELLED' | 'FAILED';

interface MoveTask {
  handle: string;
  status: MoveTaskStatus;
  sourceArn: string;
  destinationArn?: string;
  maxPerSecond?: number;
  moved: number;
  toMove: number;
  failureReason?: string;
  startedAt: number;
  done: Promise<void>;
}

interface ReceivedMessage {
  MessageId: string;
  ReceiptHandle: string;
  Body: string;
  MessageAttributes?: Record<string, unknown>;
  Attributes?: Record<string, string>;
}

interface SqsMessageMovesOptions {
  sqs: SqsCall;
  /** Source queue ARN of each in-flight message of a queue that was dead-lettered, by receipt handle. */
  deadLetterSources?: (queueName: string) => Map<string, string> | Promise<Map<string, string>>;
  now?: () => number;
}

interface SqsMessageMoves {
  /** True for the operations this module answers. */
  handles(operation: string): boolean;
  handle(operation: string, input: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** Stops running tasks after their current batch. */
  close(): Promise<void>;
}

/** "The maximum value for messages per second is 500" (SQS API reference, StartMessageMoveTask). */
const MAX_MESSAGES_PER_SECOND = 500;
/** ListMessageMoveTasks MaxResults: "Default value: 1. Maximum value: 10." (SQS API reference). */
const MAX_LISTED_TASKS = 10;
/** ListDeadLetterSourceQueues without MaxResults: "a maximum of 1,000 results" (SQS API reference). */
const MAX_SOURCE_QUEUES = 1000;
/** How long a task holds the batch it is moving; a crash mid-batch leaves the messages visible again after it. */
const MOVE_VISIBILITY_SECONDS = 60;

const OPERATIONS = new Set(['ListDeadLetterSourceQueues', 'StartMessageMoveTask', 'ListMessageMoveTasks', 'CancelMessageMoveTask']);

function invalid(field: string, reason: string): AwsApiError {
  return new AwsApiError('InvalidParameterValue', `Value for parameter ${field} is invalid. Reason: ${reason}`);
}

function requiredString(input: Record<string, unknown>, field: string): string {
  const value = input[field];
  if (typeof value !== 'string' || value === '') throw new AwsApiError('MissingParameter', `The request must contain the parameter ${field}.`);
  return value;
}

function optionalInteger(input: Record<string, unknown>, field: string, min: number, max: number): number | undefined {
  const value = input[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw invalid(field, `must be an integer from ${min} to ${max}`);
  return value;
}

/** `arn:aws:sqs:us-east-1:000000000000:name` -> `name`. */
function queueNameOf(arn: string, field: string): string {
  const parts = arn.split(':');
  if (parts.length !== 6 || parts[0] !== 'arn' || parts[2] !== 'sqs' || parts[5] === '') throw invalid(field, `${arn} is not an SQS queue ARN`);
  return parts[5] as string;
}

/** AWS's handles are base64 of a small JSON naming the task and its source. */
function encodeHandle(taskId: string, sourceArn: string): string {
  return Buffer.from(JSON.stringify({ taskId, sourceArn })).toString('base64');
}

/** fauxqs' SQS JSON API, called in-process through its upstream. */
function fauxqsSqsCall(upstream: Upstream): SqsCall {
  return async (operation, input) => {
    const response = await postJson(upstream, `AmazonSQS.${operation}`, input);
    const output = response.body;
    if (response.statusCode === 200) return output;
    const code = String(output.__type ?? 'InternalFailure').split('#').pop() ?? 'InternalFailure';
    throw new AwsApiError(code, String(output.message ?? output.Message ?? `${operation} failed`), response.statusCode);
  };
}

function createSqsMessageMoves(options: SqsMessageMovesOptions): SqsMessageMoves {
  const { sqs } = options;
  const now = options.now ?? Date.now;
  /** Per source ARN, newest first. */
  const tasks = new Map<string, MoveTask[]>();
  const byHandle = new Map<string, MoveTask>();
  let closed = false;
  let taskCount = 0;

  const queueUrl = async (arn: string, field: string, missing: () => AwsApiError): Promise<string> => {
    try {
      return String((await sqs('GetQueueUrl', { QueueName: queueNameOf(arn, field) })).QueueUrl);
    } catch (error) {
      if (error instanceof AwsApiError && error.code.endsWith('QueueDoesNotExist')) throw missing();
      throw error;
    }
  };

  const attributes = async (url: string, names: string[]): Promise<Record<string, string>> =>
    ((await sqs('GetQueueAttributes', { QueueUrl: url, AttributeNames: names })).Attributes ?? {}) as Record<string, string>;

  /** Every queue whose RedrivePolicy names `dlqArn`, as [url, arn]. */
  const sourceQueuesOf = async (dlqArn: string): Promise<Array<{ url: string; arn: string }>> => {
    const urls: string[] = [];
    let token: string | undefined;
    do {
      const page = await sqs('ListQueues', { MaxResults: 1000, ...(token === undefined ? {} : { NextToken: token }) });
      urls.push(...((page.QueueUrls ?? []) as string[]));
      token = typeof page.NextToken === 'string' ? page.NextToken : undefined;
    } while (token !== undefined);
    const sources: Array<{ url: string; arn: string }> = [];
    for (const url of urls) {
      const found = await attributes(url, ['RedrivePolicy', 'QueueArn']).catch(() => ({}) as Record<string, string>);
      let target: unknown;
      try {
        target = (JSON.parse(found.RedrivePolicy ?? '{}') as { deadLetterTargetArn?: unknown }).deadLetterTargetArn;
      } catch {
        target = undefined;
      }
      if (target === dlqArn && found.QueueArn !== undefined) sources.push({ url, arn: found.QueueArn });
    }
    return sources;
  };

  async function listDeadLetterSourceQueues(input: Record<string, unknown>): Promise<Record<string, unknown>> {
    const url = requiredString(input, 'QueueUrl');
    const maxResults = optionalInteger(input, 'MaxResults', 1, 1000);
    const { QueueArn } = await attributes(url, ['QueueArn']);
    const all = (await sourceQueuesOf(QueueArn ?? '')).map((source) => source.url).sort();
    const start = typeof input.NextToken === 'string' ? Number.parseInt(Buffer.from(input.NextToken, 'base64').toString('utf8'), 10) : 0;
    if (!Number.isInteger(start) || start < 0) throw invalid('NextToken', 'not a token this API gave');
    const size = maxResults ?? MAX_SOURCE_QUEUES;
    const page = all.slice(start, start + size);
    const next = start + size < all.length && maxResults !== undefined ? Buffer.from(String(start + size)).toString('base64') : undefined;
    return { queueUrls: page, ...(next === undefined ? {} : { NextToken: next }) };
  }

  async function startMessageMoveTask(input: Record<string, unknown>): Promise<Record<string, unknown>> {
    const sourceArn = requiredString(input, 'SourceArn');
    const destinationArn = input.DestinationArn === undefined || input.DestinationArn === null ? undefined : requiredString(input, 'DestinationArn');
    const maxPerSecond = optionalInteger(input, 'MaxNumberOfMessagesPerSecond', 1, MAX_MESSAGES_PER_SECOND);
    const notFound = (field: string, arn: string) => (): AwsApiError => new AwsApiError('ResourceNotFoundException', `The resource that you specified for the ${field} parameter doesn't exist: ${arn}`);
    const sourceUrl = await queueUrl(sourceArn, 'SourceArn', notFound('SourceArn', sourceArn));
    const destinationUrl = destinationArn === undefined ? undefined : await queueUrl(destinationArn, 'DestinationArn', notFound('DestinationArn', destinationArn));
    const sources = await sourceQueuesOf(sourceArn);
    if (sources.length === 0) throw invalid('SourceArn', 'Source queue must be configured as a Dead Letter Queue.');
    if ((tasks.get(sourceArn) ?? []).some((task) => task.status === 'RUNNING' || task.status === 'CANCELLING')) {
      throw invalid('SourceArn', 'There is already a task running. Only one active task is allowed for a source queue arn at a given time.');
    }
    const toMove = Number((await attributes(sourceUrl, ['ApproximateNumberOfMessages'])).ApproximateNumberOfMessages ?? 0);
    taskCount += 1;
    const task: MoveTask = {
      handle: encodeHandle(`local-${taskCount}-${now()}`, sourceArn),
      status: 'RUNNING',
      sourceArn,
      ...(destinationArn === undefined ? {} : { destinationArn }),
      ...(maxPerSecond === undefined ? {} : { maxPerSecond }),
      moved: 0,
      toMove,
      startedAt: now(),
      done: Promise.resolve(),
    };
    const listed = [task, ...(tasks.get(sourceArn) ?? [])];
    for (const old of listed.splice(MAX_LISTED_TASKS)) byHandle.delete(old.handle);
    tasks.set(sourceArn, listed);
    byHandle.set(task.handle, task);
    task.done = runTask(task, sourceUrl, destinationUrl, sources).catch((error: unknown) => {
      task.status = 'FAILED';
      task.failureReason = error instanceof Error ? error.message : String(error);
    });
    return { TaskHandle: task.handle };
  }

  /** Moves batches of up to 10 until the messages there at the start are moved, the source is empty, or a cancel. */
  async function runTask(task: MoveTask, sourceUrl: string, destinationUrl: string | undefined, sources: Array<{ url: string; arn: string }>): Promise<void> {
    const urlOf = new Map(sources.map((source) => [source.arn, source.url]));
    const sourceName = queueNameOf(task.sourceArn, 'SourceArn');
    while (task.status === 'RUNNING' && !closed && task.moved < task.toMove) {
      let want = Math.min(10, task.toMove - task.moved);
      if (task.maxPerSecond !== undefined) {
        // At most maxPerSecond per elapsed second, counting the current one.
        const allowed = Math.floor(((now() - task.startedAt) / 1000 + 1) * task.maxPerSecond) - task.moved;
        if (allowed <= 0) {
          await delay(Math.max(10, Math.ceil(((task.moved + 1) / task.maxPerSecond - 1) * 1000 - (now() - task.startedAt))));
          continue;
        }
        want = Math.min(want, allowed);
      }
      const received = ((
        await sqs('ReceiveMessage', {
          QueueUrl: sourceUrl,
          MaxNumberOfMessages: want,
          VisibilityTimeout: MOVE_VISIBILITY_SECONDS,
          WaitTimeSeconds: 0,
          MessageSystemAttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        })
      ).Messages ?? []) as ReceivedMessage[];
      if (received.length === 0) break;
      const origins = (await options.deadLetterSources?.(sourceName)) ?? new Map<string, string>();
      const byDestination = new Map<string, ReceivedMessage[]>();
      for (const message of received) {
        const origin = origins.get(message.ReceiptHandle);
        const url = destinationUrl ?? (origin !== undefined ? urlOf.get(origin) : sources.length === 1 ? sources[0]?.url : undefined);
        if (url === undefined) {
          await release(sourceUrl, received);
          throw new Error(`cannot tell which source queue message ${message.MessageId} was dead-lettered from; give a DestinationArn`);
        }
        byDestination.set(url, [...(byDestination.get(url) ?? []), message]);
      }
      for (const [url, messages] of byDestination) await moveBatch(sourceUrl, url, messages, task);
    }
    if (task.status === 'CANCELLING') task.status = 'CANCELLED';
    else if (task.status === 'RUNNING') task.status = 'COMPLETED';
  }

  async function release(sourceUrl: string, messages: ReceivedMessage[]): Promise<void> {
    if (messages.length === 0) return;
    await sqs('ChangeMessageVisibilityBatch', {
      QueueUrl: sourceUrl,
      Entries: messages.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle, VisibilityTimeout: 0 })),
    });
  }

  /** Sends, then deletes what was sent; what could not be sent is made visible again and fails the task. */
  async function moveBatch(sourceUrl: string, destinationUrl: string, messages: ReceivedMessage[], task: MoveTask): Promise<void> {
    const fifo = destinationUrl.endsWith('.fifo');
    const ungrouped = fifo ? messages.find((message) => message.Attributes?.MessageGroupId === undefined) : undefined;
    if (ungrouped !== undefined) {
      await release(sourceUrl, messages);
      throw new Error(`message ${ungrouped.MessageId} has no MessageGroupId for the FIFO destination ${destinationUrl}`);
    }
    const entries = messages.map((message, index) => {
      const group = message.Attributes?.MessageGroupId;
      return {
        Id: String(index),
        MessageBody: message.Body,
        ...(message.MessageAttributes === undefined ? {} : { MessageAttributes: message.MessageAttributes }),
        // The message's own id deduplicates a retried send of this move, and never the original send's id
        // (still remembered for 5 minutes: a redrive back to the source would be dropped as a duplicate).
        ...(fifo ? { MessageGroupId: group, MessageDeduplicationId: message.MessageId } : {}),
      };
    });
    const out = await sqs('SendMessageBatch', { QueueUrl: destinationUrl, Entries: entries });
    const failed = (out.Failed ?? []) as Array<{ Id: string; Message?: string; Code?: string }>;
    const sent = messages.filter((_, index) => !failed.some((failure) => failure.Id === String(index)));
    if (sent.length > 0) {
      await sqs('DeleteMessageBatch', { QueueUrl: sourceUrl, Entries: sent.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle })) });
    }
    task.moved += sent.length;
    if (failed.length > 0) {
      await release(sourceUrl, messages.filter((message) => !sent.includes(message)));
      throw new Error(`${failed.length} message(s) could not be sent to ${destinationUrl}: ${failed[0]?.Code ?? ''} ${failed[0]?.Message ?? ''}`.trim());
    }
  }

  function listMessageMoveTasks(input: Record<string, unknown>): Record<string, unknown> {
    const sourceArn = requiredString(input, 'SourceArn');
    queueNameOf(sourceArn, 'SourceArn');
    const maxResults = optionalInteger(input, 'MaxResults', 1, MAX_LISTED_TASKS) ?? 1;
    const results = (tasks.get(sourceArn) ?? []).slice(0, maxResults).map((task) => ({
      ...(task.status === 'RUNNING' ? { TaskHandle: task.handle } : {}),
      Status: task.status,
      SourceArn: task.sourceArn,
      ...(task.destinationArn === undefined ? {} : { DestinationArn: task.destinationArn }),
      ...(task.maxPerSecond === undefined ? {} : { MaxNumberOfMessagesPerSecond: task.maxPerSecond }),
      ApproximateNumberOfMessagesMoved: task.moved,
      ApproximateNumberOfMessagesToMove: task.toMove,
      ...(task.failureReason === undefined ? {} : { FailureReason: task.failureReason }),
      StartedTimestamp: task.startedAt,
    }));
    return { Results: results };
  }

  function cancelMessageMoveTask(input: Record<string, unknown>): Record<string, unknown> {
    const handle = requiredString(input, 'TaskHandle');
    const task = byHandle.get(handle);
    if (task === undefined) throw new AwsApiError('ResourceNotFoundException', `Value for parameter TaskHandle is invalid: no message move task ${handle}`);
    if (task.status !== 'RUNNING') throw new AwsApiError('UnsupportedOperation', `Only a RUNNING message move task can be cancelled; this one is ${task.status}`);
    task.status = 'CANCELLING';
    return { ApproximateNumberOfMessagesMoved: task.moved };
  }

  return {
    handles: (operation) => OPERATIONS.has(operation),
    async handle(operation, input) {
      switch (operation) {
        case 'ListDeadLetterSourceQueues':
          return listDeadLetterSourceQueues(input);
        case 'StartMessageMoveTask':
          return startMessageMoveTask(input);
        case 'ListMessageMoveTasks':
          return listMessageMoveTasks(input);
        case 'CancelMessageMoveTask':
          return cancelMessageMoveTask(input);
        default:
          throw new AwsApiError('InvalidAction', `${operation} is not a dead-letter operation`);
      }
    },
    async close() {
      closed = true;
      await Promise.all([...byHandle.values()].map((task) => task.done));
    },
  };
}

export { createSqsMessageMoves, fauxqsSqsCall };
export type { SqsMessageMoves };
