/**
 * Per-message delay through the edge with the real SDK: a message's DelaySeconds overrides its queue's (SQS
 * developer guide, "Amazon SQS message timers"), and a delay outside 0-900 is refused as SQS refuses it
 * (InvalidParameterValue; in a batch, that entry alone: SQS API reference, SendMessage, SendMessageBatch).
 */
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageBatchCommand, SendMessageCommand, SQSClient, SQSServiceException } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../src/util/wait.ts';
import { clientConfig, startTestCloud } from './helpers/emulators.ts';
import type { TestCloud } from './helpers/emulators.ts';

describe('SQS per-message delay', () => {
  let cloud: TestCloud;
  let sqs: SQSClient;
  let queues = 0;

  beforeAll(async () => {
    cloud = await startTestCloud('sqs-delay');
    sqs = new SQSClient(clientConfig(cloud.emulators));
  });

  afterAll(async () => {
    sqs.destroy();
    await cloud.dispose();
  });

  /** A new standard queue that delays every message 900 s (the most SQS allows) unless the message says otherwise. */
  const delayQueue = async (): Promise<string> => {
    queues += 1;
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `delay-${queues}`, Attributes: { DelaySeconds: '900' } }));
    return QueueUrl ?? '';
  };

  const counts = async (QueueUrl: string): Promise<{ visible: number; delayed: number }> => {
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesDelayed'] }));
    return { visible: Number(Attributes?.ApproximateNumberOfMessages), delayed: Number(Attributes?.ApproximateNumberOfMessagesDelayed) };
  };

  it("a message's DelaySeconds 0 overrides the queue's 900: it is received at once, while one without its own delay waits", async () => {
    // Prepare
    const QueueUrl = await delayQueue();

    // Act
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'queue-delay' }));
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'own-delay', DelaySeconds: 0 }));

    // Assess
    const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    expect(received.Messages?.map((message) => message.Body)).toEqual(['own-delay']);
    expect(await counts(QueueUrl)).toEqual({ visible: 0, delayed: 1 });
  });

  it('refuses SendMessage with DelaySeconds 901 (InvalidParameterValue, AWS message) and enqueues nothing', async () => {
    // Prepare
    const QueueUrl = await delayQueue();

    // Act
    const sending = sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'too-late', DelaySeconds: 901 }));

    // Assess
    const error = await sending.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(SQSServiceException);
    expect((error as SQSServiceException).name).toBe('InvalidParameterValue');
    expect((error as SQSServiceException).message).toBe('Value 901 for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900.');
    expect(await counts(QueueUrl)).toEqual({ visible: 0, delayed: 0 });
  });

  it('in SendMessageBatch, fails only the entry over 900 s (SenderFault) and sends the others', async () => {
    // Prepare
    const QueueUrl = await delayQueue();

    // Act
    const answer = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl,
        Entries: [
          { Id: 'now', MessageBody: 'now', DelaySeconds: 0 },
          { Id: 'hour', MessageBody: 'hour', DelaySeconds: 3600 },
          { Id: 'max', MessageBody: 'max', DelaySeconds: 900 },
        ],
      }),
    );

    // Assess
    expect(answer.Successful?.map((entry) => entry.Id).sort()).toEqual(['max', 'now']);
    expect(answer.Failed).toEqual([
      { Id: 'hour', SenderFault: true, Code: 'InvalidParameterValue', Message: 'Value 3600 for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900.' },
    ]);
    await waitFor(async () => (await counts(QueueUrl)).visible === 1, { what: 'the undelayed entry to be visible', timeoutMs: 10_000 });
    expect(await counts(QueueUrl)).toEqual({ visible: 1, delayed: 1 });
  });
});
