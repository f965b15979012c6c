/**
 * An SQS consumer that is not Lambda: a long-running poller, for EC2 instances or containers (ECS, Kubernetes),
 * doing the work a Lambda event source mapping would otherwise hand to a function.
 *
 * - Long polling: ReceiveMessage with WaitTimeSeconds 20 (the maximum: SQS API reference, ReceiveMessage), so an
 *   idle worker makes about 3 requests a minute and a message is taken as soon as it arrives.
 * - Batch receive: up to 10 messages a call (MaxNumberOfMessages allows 1-10), worked on concurrently.
 * - Heartbeat: while a message is worked on, ChangeMessageVisibility keeps it invisible to the other workers
 *   (each call restarts the timeout from the call: SQS developer guide, "Visibility timeout"), so a slow message is
 *   not handed out twice; a worker that dies stops beating and its messages come back after one timeout.
 * - Deleted only once its work succeeded. A failed message is left alone: it comes back when its visibility timeout
 *   ends and reaches the queue's DLQ after maxReceiveCount receives, as with Lambda.
 * - Graceful shutdown: `stop()` (wire it to SIGTERM, which ECS and Kubernetes send before SIGKILL) cancels the long
 *   poll, lets the in-flight messages finish within `shutdownGraceMs`, and releases those still running by then
 *   (ChangeMessageVisibility 0) so another worker takes them at once instead of after the timeout.
 * - Horizontal scaling: run N of them; nothing is shared but the queue, which hands each message to one receiver.
 *   Scale N on the queue's ApproximateNumberOfMessagesVisible (the seeds' "ASG on queue length").
 *
 * @example
 * const worker = startQueueWorker({ sqs: new SQSClient({}), queueUrl, handle: (message) => work(message.Body ?? '') });
 * process.once('SIGTERM', () => void worker.stop());
 * await worker.done;
 */
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';

/** What the worker says about itself (one JSON line each in the entry script). */
type WorkerEvent =
  | { event: 'done'; messageId: string }
  | { event: 'failed'; messageId: string; error: unknown }
  | { event: 'released'; messageId: string }
  | { event: 'heartbeat-failed'; messageId: string; error: unknown }
  | { event: 'receive-failed'; error: unknown }
  | { event: 'stopped'; finished: number; released: number };

interface QueueWorkerOptions {
  sqs: SQSClient;
  queueUrl: string;
  /** The work on one message; a throw leaves the message for a later receive (and, in the end, the DLQ). */
  handle: (message: Message) => Promise<void>;
  /** Messages per receive, 1-10 (SQS maximum); default 10. */
  batchSize?: number;
  /** Long poll, 0-20 s; default 20 (SQS maximum). */
  waitTimeSeconds?: number;
  /** Invisibility asked at receive and at each heartbeat, counted from the call; default 30. */
  visibilitySeconds?: number;
  /** How often a message in work is made invisible again; default a third of visibilitySeconds (two beats may fail). */
  heartbeatMs?: number;
  /** How long `stop()` lets in-flight messages finish before releasing them; default 10,000 ms. */
  shutdownGraceMs?: number;
  /** Wait after a failed receive (throttling, network) before the next; default 1,000 ms. */
  receiveRetryMs?: number;
  onEvent?: (event: WorkerEvent) => void;
}

interface QueueWorker {
  /** Stops polling, finishes or releases the in-flight messages; resolves with `done`. */
  stop(): Promise<void>;
  /** Settles when the worker has stopped. */
  done: Promise<void>;
  /** Messages being worked on now. */
  inFlight(): number;
}

interface InFlight {
  message: Message;
  work: Promise<void>;
  beat: NodeJS.Timeout;
}

const wait = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });

/**
 * Starts polling `queueUrl` at once; see the module comment for what it guarantees.
 *
 * @example
 * const worker = startQueueWorker({ sqs, queueUrl, handle, batchSize: 10, visibilitySeconds: 30 });
 * process.once('SIGTERM', () => void worker.stop());
 */
const startQueueWorker = (options: QueueWorkerOptions): QueueWorker => {
  const { sqs, queueUrl, handle, batchSize = 10, waitTimeSeconds = 20, visibilitySeconds = 30, shutdownGraceMs = 10_000, receiveRetryMs = 1_000 } = options;
  const heartbeatMs = options.heartbeatMs ?? Math.max(1, Math.floor((visibilitySeconds * 1000) / 3));
  const emit = options.onEvent ?? ((): void => undefined);
  const stopping = new AbortController();
  const stopSignalled = new Promise<void>((resolve) => stopping.signal.addEventListener('abort', () => resolve(), { once: true }));
  const inFlight = new Map<string, InFlight>();
  let finished = 0;

  const visibility = (message: Message, seconds: number): Promise<unknown> =>
    sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle, VisibilityTimeout: seconds }));

  const workOn = (message: Message): void => {
    const messageId = message.MessageId ?? '';
    const beat = setInterval(() => {
      visibility(message, visibilitySeconds).catch((error: unknown) => emit({ event: 'heartbeat-failed', messageId, error }));
    }, heartbeatMs);
    const work = (async (): Promise<void> => {
      try {
        await handle(message);
      } catch (error) {
        emit({ event: 'failed', messageId, error });
        return;
      } finally {
        clearInterval(beat);
      }
      // Released while it ran (shutdown): the receipt handle may already be another worker's; do not delete.
      if (!inFlight.has(messageId)) return;
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
      finished += 1;
      emit({ event: 'done', messageId });
    })()
      .catch((error: unknown) => emit({ event: 'failed', messageId, error }))
      .finally(() => inFlight.delete(messageId));
    inFlight.set(messageId, { message, work, beat });
  };

  const poll = async (): Promise<void> => {
    while (!stopping.signal.aborted) {
      let messages: Message[];
      try {
        // The abort cancels the HTTP request; the race also ends a transport that ignores it.
        const receive = sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: batchSize,
            WaitTimeSeconds: waitTimeSeconds,
            VisibilityTimeout: visibilitySeconds,
            MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
            MessageAttributeNames: ['All'],
          }),
          { abortSignal: stopping.signal },
        );
        receive.catch(() => undefined); // a receive that loses the race to a stop rejects later, unobserved
        const answer = await Promise.race([receive, stopSignalled.then(() => ({ Messages: [] }))]);
        messages = answer.Messages ?? [];
      } catch (error) {
        if (stopping.signal.aborted) break;
        emit({ event: 'receive-failed', error });
        await wait(receiveRetryMs, stopping.signal);
        continue;
      }
      for (const message of messages) workOn(message);
      // Batch receive, batch work: the next receive waits for this batch, so a worker holds at most batchSize.
      // A stop ends the wait: stop() then decides what becomes of the batch.
      await Promise.race([Promise.all([...inFlight.values()].map((entry) => entry.work)), stopSignalled]);
    }
  };

  const polling = poll();
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async (): Promise<void> => {
      stopping.abort();
      const grace = new AbortController();
      const allDone = Promise.all([...inFlight.values()].map((entry) => entry.work));
      await Promise.race([allDone, wait(shutdownGraceMs, grace.signal)]);
      grace.abort();
      let released = 0;
      for (const [messageId, entry] of [...inFlight]) {
        clearInterval(entry.beat);
        inFlight.delete(messageId);
        await visibility(entry.message, 0).catch((error: unknown) => emit({ event: 'heartbeat-failed', messageId, error }));
        released += 1;
        emit({ event: 'released', messageId });
      }
      await polling;
      emit({ event: 'stopped', finished, released });
    })();
    return stopped;
  };

  return { stop, done: polling.then(async () => stopped), inFlight: () => inFlight.size };
};

export { startQueueWorker };
export type { WorkerEvent };
