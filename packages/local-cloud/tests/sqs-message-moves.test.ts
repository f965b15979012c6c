/**
 * SQS dead-letter APIs through the edge with the real SDK: ListDeadLetterSourceQueues and message move tasks
 * (SQS API reference: StartMessageMoveTask, ListMessageMoveTasks, CancelMessageMoveTask, ListDeadLetterSourceQueues).
 */
import {
  CancelMessageMoveTaskCommand,
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ListDeadLetterSourceQueuesCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import type { ListMessageMoveTasksResultEntry, Message } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../src/util/wait.ts';
import { clientConfig, startTestCloud } from './helpers/emulators.ts';
import type { TestCloud } from './helpers/emulators.ts';

const ARN = 'arn:aws:sqs:us-east-1:000000000000';

describe('SQS dead-letter APIs at the edge', () => {
  let cloud: TestCloud;
  let sqs: SQSClient;
  let n = 0;

  beforeAll(async () => {
    cloud = await startTestCloud('message-moves');
    sqs = new SQSClient(clientConfig(cloud.emulators));
  });

  afterAll(async () => {
    sqs.destroy();
    await cloud.dispose();
  });

  async function createQueue(name: string, attributes: Record<string, string> = {}): Promise<string> {
    return (await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }))).QueueUrl ?? '';
  }

  /** A DLQ with `sources` source queues (maxReceiveCount 1). */
  async function dlqWithSources(sources: number): Promise<{ dlqName: string; dlqUrl: string; sourceUrls: string[]; sourceNames: string[] }> {
    n += 1;
    const dlqName = `moves-dlq-${n}`;
    const dlqUrl = await createQueue(dlqName);
    const sourceNames = Array.from({ length: sources }, (_, i) => `moves-src-${n}-${i}`);
    const sourceUrls: string[] = [];
    for (const name of sourceNames) {
      sourceUrls.push(await createQueue(name, { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: `${ARN}:${dlqName}`, maxReceiveCount: 1 }) }));
    }
    return { dlqName, dlqUrl, sourceUrls, sourceNames };
  }

  /** Sends `bodies` to `url` and dead-letters them: one receive with visibility 0, then a receive moves them to the DLQ. */
  async function deadLetter(url: string, bodies: string[]): Promise<void> {
    for (let i = 0; i < bodies.length; i += 10) {
      await sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: bodies.slice(i, i + 10).map((body, index) => ({ Id: String(index), MessageBody: body, MessageAttributes: { origin: { DataType: 'String', StringValue: body } } })) }));
    }
    let received = 0;
    while (received < bodies.length) received += ((await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 0 }))).Messages ?? []).length;
    expect(((await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10 }))).Messages ?? []).length).toBe(0);
  }

  const depth = async (url: string): Promise<number> =>
    Number((await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages'] }))).Attributes?.ApproximateNumberOfMessages);

  async function drain(url: string, count: number): Promise<Message[]> {
    const got: Message[] = [];
    await waitFor(async () => {
      for (const message of (await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'] }))).Messages ?? []) {
        got.push(message);
        await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: message.ReceiptHandle }));
      }
      return got.length >= count ? got : undefined;
    }, { what: `${count} messages in ${url}` });
    return got;
  }

  const lastTask = async (sourceArn: string): Promise<ListMessageMoveTasksResultEntry | undefined> =>
    (await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: sourceArn }))).Results?.[0];
  const finished = (sourceArn: string): Promise<ListMessageMoveTasksResultEntry> =>
    waitFor(async () => {
      const task = await lastTask(sourceArn);
      return task !== undefined && task.Status !== 'RUNNING' && task.Status !== 'CANCELLING' ? task : undefined;
    }, { what: `the move task of ${sourceArn} to end` });

  it('ListDeadLetterSourceQueues names the queues whose RedrivePolicy targets the DLQ, with edge URLs', async () => {
    // Prepare
    const { dlqUrl, sourceUrls } = await dlqWithSources(2);
    await createQueue(`moves-unrelated-${n}`);
    // Act
    const listed = await sqs.send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: dlqUrl }));
    const paged = await sqs.send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: dlqUrl, MaxResults: 1 }));
    const next = await sqs.send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: dlqUrl, MaxResults: 1, NextToken: paged.NextToken }));
    // Assess
    expect(listed.queueUrls).toEqual([...sourceUrls].sort());
    expect(listed.queueUrls?.every((url) => url.startsWith(cloud.emulators.endpoint))).toBe(true);
    expect([...(paged.queueUrls ?? []), ...(next.queueUrls ?? [])]).toEqual([...sourceUrls].sort());
    expect(next.NextToken).toBeUndefined();
  });

  it('without a DestinationArn moves each message back to the queue it was dead-lettered from, and completes', async () => {
    // Prepare: two source queues feed one DLQ
    const { dlqName, dlqUrl, sourceUrls } = await dlqWithSources(2);
    await deadLetter(sourceUrls[0] ?? '', ['a1', 'a2', 'a3']);
    await deadLetter(sourceUrls[1] ?? '', ['b1', 'b2']);
    expect(await depth(dlqUrl)).toBe(5);
    // Act
    const { TaskHandle } = await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: `${ARN}:${dlqName}` }));
    const task = await finished(`${ARN}:${dlqName}`);
    // Assess
    expect(task.FailureReason).toBeUndefined();
    expect(TaskHandle).toMatch(/^[A-Za-z0-9+/=]+$/);
    expect(task).toMatchObject({ Status: 'COMPLETED', SourceArn: `${ARN}:${dlqName}`, ApproximateNumberOfMessagesMoved: 5, ApproximateNumberOfMessagesToMove: 5 });
    expect(task.TaskHandle).toBeUndefined();
    expect(task.DestinationArn).toBeUndefined();
    const bodies = async (url: string): Promise<string[]> => (await drain(url, url === sourceUrls[0] ? 3 : 2)).map((m) => m.Body ?? '').sort();
    expect(await bodies(sourceUrls[0] ?? '')).toEqual(['a1', 'a2', 'a3']);
    expect(await bodies(sourceUrls[1] ?? '')).toEqual(['b1', 'b2']);
    expect(await depth(dlqUrl)).toBe(0);
  });

  it('moves to a DestinationArn at MaxNumberOfMessagesPerSecond, keeping message attributes, and refuses a second active task', async () => {
    // Prepare
    const { dlqName, sourceUrls } = await dlqWithSources(1);
    await deadLetter(sourceUrls[0] ?? '', Array.from({ length: 12 }, (_, i) => `m${i}`));
    const destination = `moves-dest-${n}`;
    const destinationUrl = await createQueue(destination);
    const sourceArn = `${ARN}:${dlqName}`;
    // Act
    await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: sourceArn, DestinationArn: `${ARN}:${destination}`, MaxNumberOfMessagesPerSecond: 5 }));
    const running = await lastTask(sourceArn);
    const second = sqs.send(new StartMessageMoveTaskCommand({ SourceArn: sourceArn }));
    // Assess: 12 at 5/s take over a second, so the task is still running when listed at once
    await expect(second).rejects.toMatchObject({ name: 'InvalidParameterValue', $metadata: { httpStatusCode: 400 } });
    expect(running).toMatchObject({ Status: 'RUNNING', MaxNumberOfMessagesPerSecond: 5, DestinationArn: `${ARN}:${destination}`, ApproximateNumberOfMessagesToMove: 12 });
    expect(running?.TaskHandle).toBeTruthy();
    const done = await finished(sourceArn);
    expect(done).toMatchObject({ Status: 'COMPLETED', ApproximateNumberOfMessagesMoved: 12 });
    const moved = await drain(destinationUrl, 12);
    expect(moved.map((m) => m.Body).sort()).toEqual(Array.from({ length: 12 }, (_, i) => `m${i}`).sort());
    expect(moved.every((m) => m.MessageAttributes?.origin?.StringValue === m.Body)).toBe(true);
  });

  it('CancelMessageMoveTask stops a running task (CANCELLED once its current batch is done), leaving the rest in the DLQ', async () => {
    // Prepare
    const { dlqName, dlqUrl, sourceUrls } = await dlqWithSources(1);
    await deadLetter(sourceUrls[0] ?? '', Array.from({ length: 20 }, (_, i) => `c${i}`));
    const sourceArn = `${ARN}:${dlqName}`;
    const { TaskHandle } = await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: sourceArn, MaxNumberOfMessagesPerSecond: 1 }));
    // Act
    const cancelled = await sqs.send(new CancelMessageMoveTaskCommand({ TaskHandle }));
    const task = await finished(sourceArn);
    // Assess
    expect(cancelled.ApproximateNumberOfMessagesMoved).toBeLessThan(20);
    expect(task.Status).toBe('CANCELLED');
    expect(task.ApproximateNumberOfMessagesMoved).toBeLessThan(20);
    expect(await depth(dlqUrl)).toBe(20 - (task.ApproximateNumberOfMessagesMoved ?? 0));
    await expect(sqs.send(new CancelMessageMoveTaskCommand({ TaskHandle }))).rejects.toMatchObject({ name: 'UnsupportedOperation' });
  });

  it('answers AWS errors: a source that is no DLQ, missing queues, a rate out of range, an unknown task handle', async () => {
    // Prepare
    const plain = `moves-plain-${(n += 1)}`;
    await createQueue(plain);
    const { dlqName } = await dlqWithSources(1);
    // Act
    const attempts = await Promise.allSettled([
      sqs.send(new StartMessageMoveTaskCommand({ SourceArn: `${ARN}:${plain}` })),
      sqs.send(new StartMessageMoveTaskCommand({ SourceArn: `${ARN}:missing-${n}` })),
      sqs.send(new StartMessageMoveTaskCommand({ SourceArn: `${ARN}:${dlqName}`, DestinationArn: `${ARN}:missing-${n}` })),
      sqs.send(new StartMessageMoveTaskCommand({ SourceArn: `${ARN}:${dlqName}`, MaxNumberOfMessagesPerSecond: 501 })),
      sqs.send(new CancelMessageMoveTaskCommand({ TaskHandle: 'bm90LWEtdGFzaw==' })),
      sqs.send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: `${cloud.emulators.endpoint}/000000000000/missing-${n}` })),
    ]);
    // Assess
    const errors = attempts.map((attempt) => (attempt.status === 'rejected' ? { name: (attempt.reason as Error).name, message: (attempt.reason as Error).message } : undefined));
    expect(errors.map((error) => error?.name)).toEqual([
      'InvalidParameterValue',
      'ResourceNotFoundException',
      'ResourceNotFoundException',
      'InvalidParameterValue',
      'ResourceNotFoundException',
      'QueueDoesNotExist',
    ]);
    expect(errors[0]?.message).toContain('Dead Letter Queue');
    expect(errors[3]?.message).toContain('MaxNumberOfMessagesPerSecond');
  });
});
