/**
 * SQS FIFO receives through the edge with the real SDK: up to 10 messages of one message group per call, in order,
 * the group held while any of them is in flight, other groups still served (AWS Knowledge Center, "Why doesn't my
 * Amazon SQS FIFO queue return all messages or messages in other message groups?").
 */
import { ChangeMessageVisibilityBatchCommand, CreateQueueCommand, DeleteMessageBatchCommand, ReceiveMessageCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Message } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientConfig, startTestCloud } from './helpers/emulators.ts';
import type { TestCloud } from './helpers/emulators.ts';

describe('SQS FIFO receive: several messages of one group per call', () => {
  let cloud: TestCloud;
  let sqs: SQSClient;
  let queues = 0;

  beforeAll(async () => {
    cloud = await startTestCloud('fifo-batch');
    sqs = new SQSClient(clientConfig(cloud.emulators));
  });

  afterAll(async () => {
    sqs.destroy();
    await cloud.dispose();
  });

  /** A new FIFO queue holding `perGroup` messages `<group>-<n>` of each group, sent in that order. */
  async function queueWith(groups: string[], perGroup: number): Promise<string> {
    queues += 1;
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `batch-${queues}.fifo`, Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'true' } }));
    for (const group of groups) {
      for (let first = 0; first < perGroup; first += 10) {
        const entries = Array.from({ length: Math.min(10, perGroup - first) }, (_, i) => ({ Id: String(i), MessageBody: `${group}-${first + i}`, MessageGroupId: group }));
        await sqs.send(new SendMessageBatchCommand({ QueueUrl, Entries: entries }));
      }
    }
    return QueueUrl ?? '';
  }

  const receive = async (QueueUrl: string, max = 10): Promise<Message[]> =>
    (await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: max, WaitTimeSeconds: 0, MessageSystemAttributeNames: ['All'] }))).Messages ?? [];
  const bodies = (messages: Message[]): string[] => messages.map((message) => message.Body ?? '');
  const handles = (messages: Message[]): { Id: string; ReceiptHandle: string }[] => messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '' }));

  it('returns 10 messages of one group in sequence order in one receive', async () => {
    // Prepare
    const url = await queueWith(['a'], 12);
    // Act
    const batch = await receive(url);
    // Assess
    expect(bodies(batch)).toEqual(Array.from({ length: 10 }, (_, i) => `a-${i}`));
    const sequences = batch.map((message) => BigInt(message.Attributes?.SequenceNumber ?? '0'));
    expect(sequences).toEqual([...sequences].sort((x, y) => (x < y ? -1 : 1)));
  });

  it('holds the group while any of its batch is in flight, and serves other groups meanwhile', async () => {
    // Prepare
    const url = await queueWith(['a', 'b'], 12);
    const first = await receive(url);
    // Act
    const second = await receive(url);
    const third = await receive(url);
    // Assess: group a's 10 first; then b's 10; then nothing (a and b both in flight)
    expect(bodies(first)).toEqual(Array.from({ length: 10 }, (_, i) => `a-${i}`));
    expect(bodies(second)).toEqual(Array.from({ length: 10 }, (_, i) => `b-${i}`));
    expect(third).toEqual([]);
    // Act: deleting 9 of a's 10 still holds a; deleting the last opens it
    await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: handles(first.slice(0, 9)) }));
    const whileOneInFlight = await receive(url);
    await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: handles(first.slice(9)) }));
    const afterDelete = await receive(url);
    // Assess
    expect(whileOneInFlight).toEqual([]);
    expect(bodies(afterDelete)).toEqual(['a-10', 'a-11']);
  });

  it('gives a batch made visible again back in the same order, and fills a batch from the next group', async () => {
    // Prepare
    const url = await queueWith(['a', 'b'], 3);
    const first = await receive(url, 3);
    // Act: the batch returns (ChangeMessageVisibility 0, one entry at a time inside the batch call)
    await sqs.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: url, Entries: handles(first).map((entry) => ({ ...entry, VisibilityTimeout: 0 })) }));
    const again = await receive(url);
    // Assess: a's three in order and b's three in order, in one receive of 10 (SQS does not order groups)
    const ofGroup = (group: string): Message[] => again.filter((message) => message.Attributes?.MessageGroupId === group);
    expect(bodies(first)).toEqual(['a-0', 'a-1', 'a-2']);
    expect(again).toHaveLength(6);
    expect(bodies(ofGroup('a'))).toEqual(['a-0', 'a-1', 'a-2']);
    expect(bodies(ofGroup('b'))).toEqual(['b-0', 'b-1', 'b-2']);
    expect(ofGroup('a').map((message) => message.Attributes?.ApproximateReceiveCount)).toEqual(['2', '2', '2']);
  });

  it('gives a batch whose visibility timeout expired back in the same order', async () => {
    // Prepare
    const url = await queueWith(['a'], 4);
    const first = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 1 }));
    // Act: a long poll ends when the batch is visible again (after 1 s)
    const again = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 5 }))).Messages ?? [];
    // Assess
    expect(bodies(first.Messages ?? [])).toEqual(['a-0', 'a-1', 'a-2', 'a-3']);
    expect(bodies(again)).toEqual(['a-0', 'a-1', 'a-2', 'a-3']);
  });
});
