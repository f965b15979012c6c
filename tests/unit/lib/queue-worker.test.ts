import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { waitFor } from 'local-cloud';
import { afterEach, describe, expect, it } from 'vitest';
import { startQueueWorker, type WorkerEvent } from '#lib/queue-worker.ts';

const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/orderflow-dev-review-requests';
const sqsMock = mockClient(SQSClient);
const sqs = new SQSClient({ region: 'us-east-1' });

const message = (id: string): Message => ({ MessageId: id, ReceiptHandle: `rh-${id}`, Body: JSON.stringify({ orderId: id }) });

/** A deferred the test settles: the work of one message, held open until the test lets it go. */
const gate = (): { promise: Promise<void>; open: () => void } => {
  let open = (): void => undefined;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
};

/** The first receive answers `messages`; later ones answer nothing after a short long poll (as an empty queue does). */
const queueHolding = (...messages: Message[]): void => {
  let served = false;
  sqsMock.on(ReceiveMessageCommand).callsFake(async () => {
    if (!served) {
      served = true;
      return { Messages: messages };
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
    return {};
  });
};

describe('Lib: queue-worker startQueueWorker', () => {
  afterEach(() => {
    sqsMock.reset();
  });

  it('long-polls for a batch and deletes each message once its work succeeded, a failed one not', async () => {
    // Prepare
    queueHolding(message('m-1'), message('m-2'), message('m-3'));
    const events: WorkerEvent[] = [];
    const worker = startQueueWorker({
      sqs,
      queueUrl: QUEUE_URL,
      visibilitySeconds: 45,
      handle: async (m) => {
        if (m.MessageId === 'm-2') throw new Error('label printer offline');
      },
      onEvent: (event) => events.push(event),
    });

    // Act
    await waitFor(() => events.filter((event) => event.event === 'done' || event.event === 'failed').length === 3, { what: 'three messages worked on', timeoutMs: 5_000 });
    await worker.stop();

    // Assess
    expect(sqsMock).toHaveReceivedCommandWith(ReceiveMessageCommand, { QueueUrl: QUEUE_URL, MaxNumberOfMessages: 10, WaitTimeSeconds: 20, VisibilityTimeout: 45 });
    expect(sqsMock).toHaveReceivedCommandWith(DeleteMessageCommand, { QueueUrl: QUEUE_URL, ReceiptHandle: 'rh-m-1' });
    expect(sqsMock).toHaveReceivedCommandWith(DeleteMessageCommand, { QueueUrl: QUEUE_URL, ReceiptHandle: 'rh-m-3' });
    expect(sqsMock).not.toHaveReceivedCommandWith(DeleteMessageCommand, { ReceiptHandle: 'rh-m-2' });
    expect(events).toContainEqual({ event: 'failed', messageId: 'm-2', error: new Error('label printer offline') });
    expect(events.at(-1)).toEqual({ event: 'stopped', finished: 2, released: 0 });
  });

  it('keeps a slow message invisible while it is worked on (heartbeat), and stops beating when it is done', async () => {
    // Prepare
    queueHolding(message('slow'));
    sqsMock.on(ChangeMessageVisibilityCommand).resolves({});
    const work = gate();
    const worker = startQueueWorker({ sqs, queueUrl: QUEUE_URL, visibilitySeconds: 30, heartbeatMs: 10, handle: () => work.promise });

    // Act
    await waitFor(() => sqsMock.commandCalls(ChangeMessageVisibilityCommand).length >= 2, { what: 'two heartbeats', timeoutMs: 5_000 });
    work.open();
    await waitFor(() => sqsMock.commandCalls(DeleteMessageCommand).length === 1, { what: 'the slow message deleted', timeoutMs: 5_000 });
    const beats = sqsMock.commandCalls(ChangeMessageVisibilityCommand).length;
    await worker.stop();

    // Assess
    expect(sqsMock).toHaveReceivedCommandWith(ChangeMessageVisibilityCommand, { QueueUrl: QUEUE_URL, ReceiptHandle: 'rh-slow', VisibilityTimeout: 30 });
    expect(sqsMock.commandCalls(ChangeMessageVisibilityCommand)).toHaveLength(beats);
  });

  it('on stop, finishes what ends within the grace period and releases the rest at once (visibility 0), without deleting it', async () => {
    // Prepare
    queueHolding(message('quick'), message('stuck'));
    sqsMock.on(ChangeMessageVisibilityCommand).resolves({});
    const quick = gate();
    const stuck = gate();
    const started = new Set<string>();
    const events: WorkerEvent[] = [];
    const worker = startQueueWorker({
      sqs,
      queueUrl: QUEUE_URL,
      heartbeatMs: 60_000,
      shutdownGraceMs: 50,
      handle: async (m) => {
        started.add(m.MessageId ?? '');
        await (m.MessageId === 'quick' ? quick.promise : stuck.promise);
      },
      onEvent: (event) => events.push(event),
    });
    await waitFor(() => started.size === 2, { what: 'both messages in work', timeoutMs: 5_000 });

    // Act
    const stopping = worker.stop();
    quick.open();
    await stopping;
    stuck.open();
    await worker.done;

    // Assess
    expect(sqsMock).toHaveReceivedCommandWith(DeleteMessageCommand, { ReceiptHandle: 'rh-quick' });
    expect(sqsMock).toHaveReceivedCommandWith(ChangeMessageVisibilityCommand, { ReceiptHandle: 'rh-stuck', VisibilityTimeout: 0 });
    expect(sqsMock).not.toHaveReceivedCommandWith(DeleteMessageCommand, { ReceiptHandle: 'rh-stuck' });
    expect(events).toContainEqual({ event: 'released', messageId: 'stuck' });
    expect(events.at(-1)).toEqual({ event: 'stopped', finished: 1, released: 1 });
    expect(worker.inFlight()).toBe(0);
  });

  it('keeps polling after a failed receive (throttled), and a stop cancels the long poll', async () => {
    // Prepare
    let calls = 0;
    sqsMock.on(ReceiveMessageCommand).callsFake(async () => {
      calls += 1;
      if (calls === 1) throw new Error('Rate exceeded');
      return new Promise(() => undefined); // a long poll that only a stop ends
    });
    const events: WorkerEvent[] = [];
    const worker = startQueueWorker({ sqs, queueUrl: QUEUE_URL, receiveRetryMs: 5, handle: async () => undefined, onEvent: (event) => events.push(event) });

    // Act
    await waitFor(() => calls === 2, { what: 'a second receive', timeoutMs: 5_000 });
    await worker.stop();

    // Assess
    expect(events[0]).toEqual({ event: 'receive-failed', error: new Error('Rate exceeded') });
    expect(events.at(-1)).toEqual({ event: 'stopped', finished: 0, released: 0 });
  });
});
