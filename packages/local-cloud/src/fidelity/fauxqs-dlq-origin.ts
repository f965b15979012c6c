/**
 * Which queue a dead-lettered message came from. SQS knows it: a message move task without a DestinationArn sends
 * each message "back to their respective original source queues" (SQS API reference, StartMessageMoveTask). fauxqs
 * 2.4.1 moves a message to its DLQ (`dlq.enqueue(msg)` inside the source queue's dequeue) without noting where from.
 *
 * The patch notes the queue being dequeued while its dequeue runs (synchronously, up to the DLQ's enqueue) and marks
 * a message another queue enqueues then with that queue's ARN. The mark lives on fauxqs' in-memory message: a restart
 * forgets it (the caller then falls back to the DLQ's only source queue, if it has one).
 */

interface MarkedMessage {
  messageId: string;
  [DLQ_SOURCE]?: string;
}

interface QueueLike {
  arn: string;
  enqueue(message: MarkedMessage, ...rest: unknown[]): unknown;
  dequeue(...args: unknown[]): unknown;
}

/** What fauxqs' `inspectQueue(name)` answers (the part read here). */
interface InspectedQueue {
  messages: { inflight: Array<{ message: MarkedMessage; receiptHandle: string }> };
}

const DLQ_SOURCE = Symbol.for('orderflow.fauxqs-dlq-source');
const PATCHED = Symbol.for('orderflow.fauxqs-dlq-origin');

/** The ARN of the queue whose dequeue is running (a DLQ move happens inside it). */
let dequeuing: string | undefined;

async function applyFauxqsDlqOriginPatch(): Promise<string[]> {
  const { SqsQueue } = (await import(new URL('./sqs/sqsStore.js', import.meta.resolve('fauxqs')).href)) as { SqsQueue: { prototype: QueueLike & { [PATCHED]?: true } } };
  const prototype = SqsQueue.prototype;
  if (prototype[PATCHED] === true) return [];
  const dequeue = prototype.dequeue;
  const enqueue = prototype.enqueue;
  prototype.dequeue = function dequeueNotingSource(this: QueueLike, ...args: unknown[]): unknown {
    const outer = dequeuing;
    dequeuing = this.arn;
    try {
      return dequeue.apply(this, args);
    } finally {
      dequeuing = outer;
    }
  };
  prototype.enqueue = function enqueueMarkingDlqSource(this: QueueLike, message: MarkedMessage, ...rest: unknown[]): unknown {
    if (dequeuing !== undefined && dequeuing !== this.arn) message[DLQ_SOURCE] = dequeuing;
    return enqueue.call(this, message, ...rest);
  };
  prototype[PATCHED] = true;
  return ['fauxqs: a message moved to a dead-letter queue remembers its source queue (for message move tasks)'];
}

/**
 * The source queue ARN of each in-flight message of `queueName` that fauxqs moved there as a dead letter since it
 * started, by receipt handle.
 */
function deadLetterSources(inspect: (queueName: string) => InspectedQueue | undefined, queueName: string): Map<string, string> {
  const sources = new Map<string, string>();
  for (const entry of inspect(queueName)?.messages.inflight ?? []) {
    const source = entry.message[DLQ_SOURCE];
    if (source !== undefined) sources.set(entry.receiptHandle, source);
  }
  return sources;
}

export { applyFauxqsDlqOriginPatch, deadLetterSources };
export type { InspectedQueue };
