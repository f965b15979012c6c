/**
 * Request-response over SQS with temporary reply queues (the pattern of AWS's "Amazon SQS Temporary Queue Client"):
 * the API asks a worker a question (a stock check) and waits for its answer.
 *
 * The choice: one reply queue per requester process (a Lambda execution environment), created on its first
 * question and reused for every later one, the replies told apart by correlation id: the client library's "virtual
 * queues on a host queue", with the host queue the only real one. Not a queue per request: CreateQueue per request
 * would add a control-plane call (and its latency) to every question, and a queue's name cannot be reused for
 * 60 s after it is deleted (SQS API reference, CreateQueue). A Lambda environment runs one request at a time, so its
 * replies never need to be handed to another waiter: anything not for the current question is a late answer to a
 * question that timed out, deleted on sight.
 *
 * Cleanup, since nothing tells a requester its environment is being shut down: each reply queue carries a
 * `last-active` tag (epoch seconds) its owner refreshes while it is used; every requester, on its first question and
 * then at most once per `idleSeconds / 5`, deletes the reply queues of its prefix idle for longer than
 * `idleSeconds` (the client library's idle-queue sweeper, done by the requesters themselves).
 *
 * @example
 * const requester = new SqsRequester({ sqs, requestQueueUrl, replyQueuePrefix: 'orderflow-dev-replies-' });
 * const answer = await requester.ask(JSON.stringify({ sku }), 3_000); // undefined: no answer in time
 */
import { randomUUID } from 'node:crypto';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteQueueCommand,
  ListQueueTagsCommand,
  ListQueuesCommand,
  QueueDoesNotExist,
  ReceiveMessageCommand,
  SendMessageCommand,
  TagQueueCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { InvalidEventError } from './domain/errors.ts';

const REPLY_TO = 'ReplyTo';
const CORRELATION_ID = 'CorrelationId';
const LAST_ACTIVE_TAG = 'last-active';

interface RequesterOptions {
  sqs: SQSClient;
  requestQueueUrl: string;
  /** Every reply queue's name starts with it (IAM scopes the requesters and responders to it). */
  replyQueuePrefix: string;
  /** A reply queue unused this long is deleted by the next sweep; default 600 s. */
  idleSeconds?: number;
  now?: () => number;
}

class SqsRequester {
  private readonly options: Required<RequesterOptions>;
  private replyQueueUrl: string | undefined;
  private lastTouch = 0;
  private lastSweep = 0;

  constructor(options: RequesterOptions) {
    this.options = { idleSeconds: 600, now: Date.now, ...options };
  }

  /** Sends the question and waits up to `timeoutMs` for the reply with its correlation id; undefined if none came. */
  async ask(body: string, timeoutMs: number): Promise<string | undefined> {
    const { sqs, requestQueueUrl, now } = this.options;
    const deadline = now() + timeoutMs;
    const replyQueueUrl = await this.replyQueue();
    const correlationId = randomUUID();
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: requestQueueUrl,
        MessageBody: body,
        MessageAttributes: {
          [REPLY_TO]: { DataType: 'String', StringValue: replyQueueUrl },
          [CORRELATION_ID]: { DataType: 'String', StringValue: correlationId },
        },
      }),
    );
    while (now() < deadline) {
      const waitSeconds = Math.min(20, Math.max(0, Math.floor((deadline - now()) / 1000)));
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: replyQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: waitSeconds, MessageAttributeNames: [CORRELATION_ID] }),
      );
      if (Messages.length === 0) continue;
      // Ours or a late answer to an abandoned question: either way nobody else will read it.
      await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: replyQueueUrl, Entries: Messages.map((m, index) => ({ Id: String(index), ReceiptHandle: m.ReceiptHandle })) }));
      const mine = Messages.find((m) => m.MessageAttributes?.[CORRELATION_ID]?.StringValue === correlationId);
      if (mine !== undefined) return mine.Body ?? '';
    }
    return undefined;
  }

  /** This process's reply queue (created once), its last-active tag kept fresh, and a sweep when one is due. */
  private async replyQueue(): Promise<string> {
    const { sqs, replyQueuePrefix, idleSeconds, now } = this.options;
    const seconds = Math.floor(now() / 1000);
    if (this.replyQueueUrl === undefined) {
      const created = await sqs.send(
        new CreateQueueCommand({
          QueueName: `${replyQueuePrefix}${randomUUID()}`,
          // A reply is useful for seconds; SQS keeps a message at least 60 s (CreateQueue MessageRetentionPeriod).
          Attributes: { MessageRetentionPeriod: '60', SqsManagedSseEnabled: 'true' },
          tags: { [LAST_ACTIVE_TAG]: String(seconds) },
        }),
      );
      this.replyQueueUrl = created.QueueUrl ?? '';
      this.lastTouch = seconds;
    } else if (seconds - this.lastTouch >= idleSeconds / 5) {
      await sqs.send(new TagQueueCommand({ QueueUrl: this.replyQueueUrl, Tags: { [LAST_ACTIVE_TAG]: String(seconds) } }));
      this.lastTouch = seconds;
    }
    if (this.lastSweep === 0 || seconds - this.lastSweep >= idleSeconds / 5) {
      this.lastSweep = seconds;
      await this.sweep(seconds);
    }
    return this.replyQueueUrl;
  }

  /** Deletes the reply queues of the prefix idle for longer than idleSeconds (never its own). Returns their URLs. */
  async sweep(seconds = Math.floor(this.options.now() / 1000)): Promise<string[]> {
    const { sqs, replyQueuePrefix, idleSeconds } = this.options;
    const deleted: string[] = [];
    let next: string | undefined;
    do {
      const page = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: replyQueuePrefix, MaxResults: 1000, NextToken: next }));
      for (const url of page.QueueUrls ?? []) {
        if (url === this.replyQueueUrl) continue;
        try {
          const { Tags = {} } = await sqs.send(new ListQueueTagsCommand({ QueueUrl: url }));
          const lastActive = Number(Tags[LAST_ACTIVE_TAG] ?? 0);
          if (seconds - lastActive <= idleSeconds) continue;
          await sqs.send(new DeleteQueueCommand({ QueueUrl: url }));
          deleted.push(url);
        } catch (error) {
          if (!(error instanceof QueueDoesNotExist)) throw error; // another requester swept it first
        }
      }
      next = page.NextToken;
    } while (next);
    return deleted;
  }
}

/**
 * The responder's side: sends `body` to the question's ReplyTo queue with its CorrelationId. Refuses a ReplyTo whose
 * queue name does not start with `replyQueuePrefix` (a forged question must not make the worker write elsewhere;
 * its role allows only that prefix anyway).
 *
 * @example
 * await reply(sqs, record, JSON.stringify({ sku, available }), 'orderflow-dev-replies-');
 */
const reply = async (sqs: SQSClient, question: Pick<Message, 'MessageAttributes'> & { messageAttributes?: Record<string, { stringValue?: string }> }, body: string, replyQueuePrefix: string): Promise<void> => {
  const attribute = (name: string): string | undefined => question.MessageAttributes?.[name]?.StringValue ?? question.messageAttributes?.[name]?.stringValue;
  const replyTo = attribute(REPLY_TO);
  const correlationId = attribute(CORRELATION_ID);
  const queueName = replyTo?.split('/').pop() ?? '';
  if (replyTo === undefined || correlationId === undefined || !queueName.startsWith(replyQueuePrefix)) {
    throw new InvalidEventError('question', [
      { field: `MessageAttributes.${REPLY_TO}`, message: `must name a queue starting with ${replyQueuePrefix}, got ${replyTo ?? 'none'}` },
      ...(correlationId === undefined ? [{ field: `MessageAttributes.${CORRELATION_ID}`, message: 'is missing' }] : []),
    ]);
  }
  await sqs.send(new SendMessageCommand({ QueueUrl: replyTo, MessageBody: body, MessageAttributes: { [CORRELATION_ID]: { DataType: 'String', StringValue: correlationId } } }));
};

export { SqsRequester, reply };
