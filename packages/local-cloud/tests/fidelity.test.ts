/**
 * Where fauxqs alone is not faithful to AWS and the emulator layer makes it so: S3 conditional writes,
 * SNS FIFO topic deduplication, SQS FIFO deduplication per message group, and a read-only
 * CloudFormation for the stack the local cloud provisioned. Real AWS SDK v3 clients through the edge.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CloudFormationClient,
  CloudFormationServiceException,
  CreateStackCommand,
  DescribeStackResourceCommand,
  DescribeStackResourcesCommand,
  DescribeStacksCommand,
  ListExportsCommand,
  ListStackResourcesCommand,
  ListStacksCommand,
  paginateListStackResources,
} from '@aws-sdk/client-cloudformation';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutBucketNotificationConfigurationCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { CreateTopicCommand, PublishBatchCommand, PublishCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueUrlCommand, SendMessageBatchCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Message } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyFauxqsPatches } from '../src/fidelity/fauxqs-patches.ts';
import { createKeyLocks } from '../src/util/key-locks.ts';
import { sleep } from '../src/util/wait.ts';
import { evaluateWritePreconditions } from '../src/fidelity/s3-conditional.ts';
import { createSnsFifoDedup } from '../src/fidelity/sns-fifo-dedup.ts';
import type { BufferedResponse } from '../src/edge/proxy.ts';
import { clientConfig, drain, startTestCloud } from './helpers/emulators.ts';
import type { TestCloud } from './helpers/emulators.ts';

const ACCOUNT = '000000000000';
const REGION = 'us-east-1';

/** Everything that arrives within `windowMs`, expecting at least `atLeast` (then waits the rest of the window for extras). */
async function collect(sqs: SQSClient, queueUrl: string, atLeast: number, windowMs = 400): Promise<Message[]> {
  const first = await drain(sqs, queueUrl, atLeast);
  const extra = await drain(sqs, queueUrl, Number.POSITIVE_INFINITY, windowMs);
  return [...first, ...extra];
}

async function rejection(promise: Promise<unknown>): Promise<{ name: string; status: number | undefined; message: string }> {
  try {
    await promise;
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    return { name: (error as Error).name, status, message: (error as Error).message };
  }
  throw new Error('expected a rejection');
}

describe('emulator fidelity (pure parts)', () => {
  it('evaluates S3 write preconditions as S3 does', () => {
    const absent = { exists: false };
    const present = { exists: true, etag: '"abc"' };
    expect(evaluateWritePreconditions({ ifNoneMatch: '*' }, absent)).toBeUndefined();
    expect(evaluateWritePreconditions({ ifNoneMatch: '*' }, present)).toMatchObject({ statusCode: 412, code: 'PreconditionFailed', condition: 'If-None-Match' });
    expect(evaluateWritePreconditions({ ifNoneMatch: '"abc"' }, present)).toMatchObject({ statusCode: 501, code: 'NotImplemented' });
    expect(evaluateWritePreconditions({ ifMatch: 'abc' }, present)).toBeUndefined();
    expect(evaluateWritePreconditions({ ifMatch: '"abc"' }, present)).toBeUndefined();
    expect(evaluateWritePreconditions({ ifMatch: '"other"' }, present)).toMatchObject({ statusCode: 412, condition: 'If-Match' });
    expect(evaluateWritePreconditions({ ifMatch: '"abc"' }, absent)).toMatchObject({ statusCode: 404, code: 'NoSuchKey' });
  });

  it('wakes one waiting long poll per arriving message, the next one only if messages are left', async () => {
    // Prepare: the patched fauxqs queue class (the one fauxqs itself loads), two long polls waiting on an empty queue.
    await applyFauxqsPatches();
    const { SqsQueue, SqsStore } = (await import(new URL('./sqs/sqsStore.js', import.meta.resolve('fauxqs')).href)) as {
      SqsQueue: new (name: string, url: string, arn: string, attributes: Record<string, string>) => {
        waitForMessages(seconds: number): Promise<void>;
        enqueue(message: unknown): void;
        dequeue(max: number): unknown[];
        cancelWaiters(): void;
      };
      SqsStore: { createMessage(body: string): unknown };
    };
    const queue = new SqsQueue('wake', 'http://local/000000000000/wake', 'arn:aws:sqs:us-east-1:000000000000:wake', {});
    const woken: string[] = [];
    const receive = (name: string): Promise<unknown[]> => queue.waitForMessages(20).then(() => (woken.push(name), queue.dequeue(1)));
    const first = receive('a');
    const second = receive('b');
    try {
      // Act: one message arrives.
      queue.enqueue(SqsStore.createMessage('one'));
      const firstTook = await first;
      await Promise.resolve();
      // Assess: the oldest waiter got it, the other still waits (fauxqs woke both: b answered empty).
      expect(firstTook).toHaveLength(1);
      expect(woken).toEqual(['a']);
      // Act: two messages at once, one waiter left taking one each time.
      const third = receive('c');
      queue.enqueue(SqsStore.createMessage('two'));
      queue.enqueue(SqsStore.createMessage('three'));
      // Assess: b took one, and because one was left c was woken for it.
      expect(await second).toHaveLength(1);
      expect(await third).toHaveLength(1);
      expect(woken).toEqual(['a', 'b', 'c']);
    } finally {
      queue.cancelWaiters();
    }
  });

  it('runs tasks of one key one at a time, other keys freely', async () => {
    const locks = createKeyLocks();
    const order: string[] = [];
    const task = (name: string, ms: number) => async (): Promise<void> => {
      order.push(`start ${name}`);
      await sleep(ms);
      order.push(`end ${name}`);
    };
    await Promise.all([locks.run('k', task('a', 30)), locks.run('k', task('b', 1)), locks.run('other', task('c', 1))]);
    expect(order.indexOf('end a')).toBeLessThan(order.indexOf('start b'));
    expect(order.indexOf('start c')).toBeLessThan(order.indexOf('end a'));
    expect(locks.size()).toBe(0);
  });

  it('forgets SNS FIFO deduplication ids after the 5-minute interval, and keeps them in its file meanwhile', async () => {
    // Prepare: a fake fauxqs answering GetTopicAttributes and Publish
    const directory = await mkdtemp(join(tmpdir(), 'orderflow-sns-dedup-'));
    const file = join(directory, 'sns-fifo-dedup.jsonl');
    let clock = 1_000_000;
    let published = 0;
    const forward = async (body: Buffer): Promise<BufferedResponse> => {
      const action = new URLSearchParams(body.toString('utf8')).get('Action');
      const xml =
        action === 'GetTopicAttributes'
          ? '<GetTopicAttributesResponse><GetTopicAttributesResult><Attributes><entry><key>FifoTopic</key><value>true</value></entry></Attributes></GetTopicAttributesResult></GetTopicAttributesResponse>'
          : `<PublishResponse><PublishResult><MessageId>m-${(published += 1)}</MessageId></PublishResult></PublishResponse>`;
      return { statusCode: 200, headers: {}, body: Buffer.from(xml) };
    };
    const publish = Buffer.from(new URLSearchParams({ Action: 'Publish', TopicArn: 'arn:aws:sns:us-east-1:000000000000:t.fifo', Message: 'x', MessageGroupId: 'g', MessageDeduplicationId: 'd' }).toString());
    try {
      const first = createSnsFifoDedup({ file, now: () => clock });
      // Act
      await first.handle('Publish', publish, forward);
      clock += 4 * 60_000;
      const repeated = await first.handle('Publish', publish, forward);
      first.close();
      const reopened = createSnsFifoDedup({ file, now: () => clock });
      const afterRestart = await reopened.handle('Publish', publish, forward);
      clock += 61_000;
      const afterInterval = await reopened.handle('Publish', publish, forward);
      reopened.close();
      // Assess
      expect(repeated?.body.toString()).toContain('<MessageId>m-1</MessageId><SequenceNumber>00000000000000000001</SequenceNumber>');
      expect(afterRestart?.body.toString()).toContain('<MessageId>m-1</MessageId>');
      expect(published).toBe(2);
      expect(afterInterval?.body.toString()).toContain('<MessageId>m-2</MessageId><SequenceNumber>00000000000000000002</SequenceNumber>');
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});

describe('SNS FIFO deduplication state file', () => {
  it('stays bounded by the ids inside the interval (compaction) and reloads the sequence counter', async () => {
    // Prepare
    const directory = await mkdtemp(join(tmpdir(), 'orderflow-sns-compact-'));
    const file = join(directory, 'sns-fifo-dedup.jsonl');
    let clock = 0;
    let published = 0;
    const forward = async (body: Buffer): Promise<BufferedResponse> => {
      const isAttributes = new URLSearchParams(body.toString('utf8')).get('Action') === 'GetTopicAttributes';
      const xml = isAttributes ? '<entry><key>FifoTopic</key><value>true</value></entry>' : `<MessageId>m-${(published += 1)}</MessageId>`;
      return { statusCode: 200, headers: {}, body: Buffer.from(xml) };
    };
    const publish = (id: number): Buffer =>
      Buffer.from(new URLSearchParams({ Action: 'Publish', TopicArn: 'arn:aws:sns:us-east-1:000000000000:t.fifo', Message: 'x', MessageGroupId: 'g', MessageDeduplicationId: `d-${id}` }).toString());
    try {
      const dedup = createSnsFifoDedup({ file, now: () => clock });
      // Act: 5,000 messages, one a second: at most 300 inside the interval at any time
      for (let id = 0; id < 5_000; id += 1) {
        clock += 1_000;
        await dedup.handle('Publish', publish(id), forward);
      }
      const live = dedup.size();
      dedup.close();
      const lines = readFileSync(file, 'utf8').trim().split('\n').length;
      const reopened = createSnsFifoDedup({ file, now: () => clock });
      const next = await reopened.handle('Publish', publish(5_000), forward);
      const repeat = await reopened.handle('Publish', publish(4_999), forward);
      reopened.close();
      // Assess
      expect(live).toBeLessThanOrEqual(300);
      expect(lines).toBeLessThan(2_000);
      expect(next?.body.toString()).toContain('<SequenceNumber>00000000000000005001</SequenceNumber>');
      expect(repeat?.body.toString()).toContain('<MessageId>m-5000</MessageId>');
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});

describe('emulator fidelity through the AWS SDK', () => {
  let cloud: TestCloud;
  let sqs: SQSClient;
  let sns: SNSClient;
  let s3: S3Client;

  const connect = (): void => {
    const config = clientConfig(cloud.emulators);
    sqs = new SQSClient(config);
    sns = new SNSClient(config);
    s3 = new S3Client({ ...config, forcePathStyle: true });
  };

  beforeAll(async () => {
    // Over the edge's socket, as the AWS CLI and clients in other processes reach it (the other suites go in memory),
    // with the emulators on the edge's thread (the other suites run them in their own).
    cloud = await startTestCloud('fidelity', { inProcessClients: false, emulatorsThread: false });
    connect();
  });

  afterAll(async () => {
    await cloud?.dispose();
  });

  /** A bucket whose ObjectCreated events go to a new queue. */
  async function bucketWithEvents(): Promise<{ bucket: string; eventsUrl: string }> {
    const bucket = `fidelity-${randomUUID().slice(0, 8)}`;
    const queue = `${bucket}-events`;
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: queue }));
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket: bucket,
        NotificationConfiguration: { QueueConfigurations: [{ QueueArn: `arn:aws:sqs:${REGION}:${ACCOUNT}:${queue}`, Events: ['s3:ObjectCreated:*'] }] },
      }),
    );
    await drain(sqs, QueueUrl!, 1, 300); // the s3:TestEvent
    return { bucket, eventsUrl: QueueUrl! };
  }

  const eventNames = (messages: Message[]): string[] =>
    messages.flatMap((message) => (JSON.parse(message.Body ?? '{}') as { Records?: { eventName: string; s3: { object: { key: string } } }[] }).Records ?? []).map((record) => `${record.eventName} ${record.s3.object.key}`);

  describe('S3 conditional writes', () => {
    it('PutObject If-None-Match: * creates (with its event) and then answers 412 PreconditionFailed', async () => {
      // Prepare
      const { bucket, eventsUrl } = await bucketWithEvents();
      // Act
      const created = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'invoices/o-1.json', Body: 'first', IfNoneMatch: '*' }));
      const second = await rejection(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'invoices/o-1.json', Body: 'second', IfNoneMatch: '*' })));
      const raw = await fetch(`${cloud.emulators.endpoint}/${bucket}/invoices/o-1.json`, { method: 'PUT', headers: { 'if-none-match': '*' }, body: 'third' });
      const rawBody = await raw.text();
      const stored = await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'invoices/o-1.json' }))).Body?.transformToString();
      const events = await collect(sqs, eventsUrl, 1);
      // Assess
      expect(created.ETag).toMatch(/^".+"$/);
      expect(second).toMatchObject({ name: 'PreconditionFailed', status: 412 });
      expect(raw.status).toBe(412);
      expect(rawBody).toContain('<Code>PreconditionFailed</Code>');
      expect(rawBody).toContain('<Condition>If-None-Match</Condition>');
      expect(stored).toBe('first');
      expect(eventNames(events)).toEqual(['ObjectCreated:Put invoices/o-1.json']);
    });

    it('PutObject If-Match writes only over the ETag it names; 404 NoSuchKey when there is no object', async () => {
      // Prepare
      const { bucket } = await bucketWithEvents();
      const { ETag } = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'label.json', Body: 'v1' }));
      // Act
      const updated = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'label.json', Body: 'v2', IfMatch: ETag }));
      const stale = await rejection(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'label.json', Body: 'v3', IfMatch: ETag })));
      const missing = await rejection(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'nothing.json', Body: 'v1', IfMatch: ETag })));
      const stored = await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'label.json' }))).Body?.transformToString();
      // Assess
      expect(updated.ETag).not.toBe(ETag);
      expect(stale).toMatchObject({ name: 'PreconditionFailed', status: 412 });
      expect(missing).toMatchObject({ name: 'NoSuchKey', status: 404 });
      expect(stored).toBe('v2');
      await expect(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'nothing.json' }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });
    });

    it('CompleteMultipartUpload If-None-Match: * completes a new key (with its event) and answers 412 for an existing one', async () => {
      // Prepare
      const { bucket, eventsUrl } = await bucketWithEvents();
      const upload = async (key: string): Promise<{ UploadId: string; Parts: { ETag: string; PartNumber: number }[] }> => {
        const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
        const { ETag } = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: `parts of ${key}` }));
        return { UploadId: UploadId!, Parts: [{ ETag: ETag!, PartNumber: 1 }] };
      };
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'exists.bin', Body: 'already here' }));
      const fresh = await upload('fresh.bin');
      const clash = await upload('exists.bin');
      // Act
      const completed = await s3.send(
        new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'fresh.bin', UploadId: fresh.UploadId, MultipartUpload: { Parts: fresh.Parts }, IfNoneMatch: '*' }),
      );
      const refused = await rejection(
        s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'exists.bin', UploadId: clash.UploadId, MultipartUpload: { Parts: clash.Parts }, IfNoneMatch: '*' })),
      );
      const existing = await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'exists.bin' }))).Body?.transformToString();
      const events = await collect(sqs, eventsUrl, 2);
      // Assess
      expect(completed.Key).toBe('fresh.bin');
      expect(refused).toMatchObject({ name: 'PreconditionFailed', status: 412 });
      expect(existing).toBe('already here');
      expect(eventNames(events).sort()).toEqual(['ObjectCreated:CompleteMultipartUpload fresh.bin', 'ObjectCreated:Put exists.bin']);
    });

    it('lets exactly one of 20 concurrent If-None-Match: * PUTs of a key win, with one event', async () => {
      // Prepare
      const { bucket, eventsUrl } = await bucketWithEvents();
      // Act
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, index) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'race.json', Body: `writer ${index}`, IfNoneMatch: '*' }))),
      );
      const stored = await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'race.json' }))).Body?.transformToString();
      const events = await collect(sqs, eventsUrl, 1);
      // Assess
      const winners = results.flatMap((result, index) => (result.status === 'fulfilled' ? [index] : []));
      const losers = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
      expect(winners).toHaveLength(1);
      expect(losers.map((result) => (result.reason as S3ServiceException).$metadata.httpStatusCode)).toEqual(Array(19).fill(412));
      expect(stored).toBe(`writer ${winners[0]}`);
      expect(eventNames(events)).toEqual(['ObjectCreated:Put race.json']);
    });
  });

  describe('SNS FIFO deduplication', () => {
    /** A FIFO topic with a raw standard queue and a raw FIFO queue subscribed. */
    async function fifoTopic(attributes: Record<string, string> = {}): Promise<{ TopicArn: string; standardUrl: string; fifoUrl: string }> {
      const name = `events-${randomUUID().slice(0, 8)}`;
      const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: `${name}.fifo`, Attributes: { FifoTopic: 'true', ...attributes } }));
      const { QueueUrl: standardUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `${name}-standard` }));
      const { QueueUrl: fifoUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `${name}-store.fifo`, Attributes: { FifoQueue: 'true' } }));
      for (const queue of [`${name}-standard`, `${name}-store.fifo`]) {
        await sns.send(new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: `arn:aws:sqs:${REGION}:${ACCOUNT}:${queue}`, Attributes: { RawMessageDelivery: 'true' } }));
      }
      return { TopicArn: TopicArn!, standardUrl: standardUrl!, fifoUrl: fifoUrl! };
    }

    it('accepts a repeated MessageDeduplicationId with the first MessageId and SequenceNumber, and does not deliver it again', async () => {
      // Prepare
      const { TopicArn, standardUrl, fifoUrl } = await fifoTopic();
      const publish = (message: string, group = 'o-1', id = 'event-1') => sns.send(new PublishCommand({ TopicArn, Message: message, MessageGroupId: group, MessageDeduplicationId: id }));
      // Act
      const first = await publish('first');
      const repeated = await publish('repeated body, same id');
      const otherGroup = await publish('same id, other group', 'o-2');
      const next = await publish('next', 'o-1', 'event-2');
      const standard = await collect(sqs, standardUrl, 2);
      const fifo = await collect(sqs, fifoUrl, 2);
      // Assess
      expect(first.MessageId).toBeTruthy();
      expect(first.SequenceNumber).toMatch(/^\d+$/);
      expect(repeated).toMatchObject({ MessageId: first.MessageId, SequenceNumber: first.SequenceNumber });
      expect(otherGroup).toMatchObject({ MessageId: first.MessageId, SequenceNumber: first.SequenceNumber }); // topic scope (the default)
      expect(BigInt(next.SequenceNumber ?? '0')).toBeGreaterThan(BigInt(first.SequenceNumber ?? '0'));
      expect(standard.map((message) => message.Body).sort()).toEqual(['first', 'next']);
      expect(fifo.map((message) => message.Body).sort()).toEqual(['first', 'next']);
    });

    it('deduplicates per message group when FifoThroughputScope is MessageGroup', async () => {
      // Prepare
      const { TopicArn, standardUrl } = await fifoTopic({ FifoThroughputScope: 'MessageGroup' });
      const publish = (message: string, group: string) => sns.send(new PublishCommand({ TopicArn, Message: message, MessageGroupId: group, MessageDeduplicationId: 'event-1' }));
      // Act
      const a = await publish('o-1 first', 'o-1');
      const b = await publish('o-2 first', 'o-2');
      const again = await publish('o-1 again', 'o-1');
      const standard = await collect(sqs, standardUrl, 2);
      // Assess
      expect(b.MessageId).not.toBe(a.MessageId);
      expect(again.MessageId).toBe(a.MessageId);
      expect(standard.map((message) => message.Body).sort()).toEqual(['o-1 first', 'o-2 first']);
    });

    it('deduplicates by the SHA-256 of the body with ContentBasedDeduplication', async () => {
      // Prepare
      const { TopicArn, standardUrl } = await fifoTopic({ ContentBasedDeduplication: 'true' });
      const publish = (message: string, attribute: string) =>
        sns.send(new PublishCommand({ TopicArn, Message: message, MessageGroupId: 'g', MessageAttributes: { a: { DataType: 'String', StringValue: attribute } } }));
      // Act
      const first = await publish('same body', 'x');
      const sameBody = await publish('same body', 'other attributes are not part of the id');
      await publish('another body', 'x');
      const standard = await collect(sqs, standardUrl, 2);
      // Assess
      expect(sameBody.MessageId).toBe(first.MessageId);
      expect(standard.map((message) => message.Body).sort()).toEqual(['another body', 'same body']);
    });

    it('PublishBatch: repeats of earlier messages and within the batch succeed, are delivered once', async () => {
      // Prepare
      const { TopicArn, standardUrl } = await fifoTopic();
      const earlier = await sns.send(new PublishCommand({ TopicArn, Message: 'earlier', MessageGroupId: 'g', MessageDeduplicationId: 'e-0' }));
      // Act
      const batch = await sns.send(
        new PublishBatchCommand({
          TopicArn,
          PublishBatchRequestEntries: [
            { Id: 'repeat', Message: 'earlier again', MessageGroupId: 'g', MessageDeduplicationId: 'e-0' },
            { Id: 'new', Message: 'new', MessageGroupId: 'g', MessageDeduplicationId: 'e-1' },
            { Id: 'twin', Message: 'new twin', MessageGroupId: 'g', MessageDeduplicationId: 'e-1' },
            { Id: 'nogroup', Message: 'no group', MessageDeduplicationId: 'e-2' },
          ],
        }),
      );
      const standard = await collect(sqs, standardUrl, 2);
      // Assess
      const byId = new Map((batch.Successful ?? []).map((entry) => [entry.Id, entry]));
      expect([...byId.keys()].sort()).toEqual(['new', 'repeat', 'twin']);
      expect(byId.get('repeat')).toMatchObject({ MessageId: earlier.MessageId, SequenceNumber: earlier.SequenceNumber });
      expect(byId.get('twin')).toMatchObject({ MessageId: byId.get('new')?.MessageId, SequenceNumber: byId.get('new')?.SequenceNumber });
      expect(byId.get('new')?.SequenceNumber).toMatch(/^\d+$/);
      expect(batch.Failed?.map((entry) => [entry.Id, entry.Code])).toEqual([['nogroup', 'InvalidParameter']]);
      expect(standard.map((message) => message.Body).sort()).toEqual(['earlier', 'new']);
    });
  });

  describe('SQS FIFO DeduplicationScope', () => {
    it('messageGroup: the same id in two groups is delivered twice, in one group once (SendMessage and SendMessageBatch)', async () => {
      // Prepare
      const name = `scoped-${randomUUID().slice(0, 8)}`;
      const { QueueUrl } = await sqs.send(
        new CreateQueueCommand({ QueueName: `${name}.fifo`, Attributes: { FifoQueue: 'true', DeduplicationScope: 'messageGroup', FifoThroughputLimit: 'perMessageGroupId' } }),
      );
      // Act
      const a = await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'a', MessageGroupId: 'g-1', MessageDeduplicationId: 'same' }));
      const b = await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'b', MessageGroupId: 'g-2', MessageDeduplicationId: 'same' }));
      const again = await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'a again', MessageGroupId: 'g-1', MessageDeduplicationId: 'same' }));
      await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl,
          Entries: [
            { Id: '1', MessageBody: 'c', MessageGroupId: 'g-3', MessageDeduplicationId: 'same' },
            { Id: '2', MessageBody: 'd', MessageGroupId: 'g-4', MessageDeduplicationId: 'same' },
            { Id: '3', MessageBody: 'b again', MessageGroupId: 'g-2', MessageDeduplicationId: 'same' },
          ],
        }),
      );
      const received = await collect(sqs, QueueUrl!, 4);
      // Assess
      expect(b.MessageId).not.toBe(a.MessageId);
      expect(again.MessageId).toBe(a.MessageId);
      expect(received.map((message) => message.Body).sort()).toEqual(['a', 'b', 'c', 'd']);
      expect(received.map((message) => message.Attributes?.MessageDeduplicationId)).toEqual(['same', 'same', 'same', 'same']);
    });

    it('queue (the default): the same id is delivered once whatever the group', async () => {
      // Prepare
      const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `queue-scope-${randomUUID().slice(0, 8)}.fifo`, Attributes: { FifoQueue: 'true' } }));
      // Act
      await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'a', MessageGroupId: 'g-1', MessageDeduplicationId: 'same' }));
      await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'b', MessageGroupId: 'g-2', MessageDeduplicationId: 'same' }));
      const received = await collect(sqs, QueueUrl!, 1);
      // Assess
      expect(received.map((message) => message.Body)).toEqual(['a']);
    });

    it('messageGroup queue behind a MessageGroup-scoped FIFO topic: one id in two groups reaches the queue twice', async () => {
      // Prepare: the app's order-events.fifo -> order-store.fifo
      const name = `store-${randomUUID().slice(0, 8)}`;
      const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: `${name}-events.fifo`, Attributes: { FifoTopic: 'true', FifoThroughputScope: 'MessageGroup' } }));
      const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `${name}.fifo`, Attributes: { FifoQueue: 'true', DeduplicationScope: 'messageGroup' } }));
      await sns.send(new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: `arn:aws:sqs:${REGION}:${ACCOUNT}:${name}.fifo`, Attributes: { RawMessageDelivery: 'true' } }));
      // Act
      for (const group of ['o-1', 'o-2', 'o-1']) {
        await sns.send(new PublishCommand({ TopicArn, Message: `${group} placed`, MessageGroupId: group, MessageDeduplicationId: 'placed' }));
      }
      const received = await collect(sqs, QueueUrl!, 2);
      // Assess
      expect(received.map((message) => message.Body).sort()).toEqual(['o-1 placed', 'o-2 placed']);
    });
  });

  describe('CloudFormation (read-only, the registered stack)', () => {
    let cloudformation: CloudFormationClient;
    const stackName = 'orderflow-fidelity';
    const resources: Record<string, { type: string; physicalId: string }> = {
      OrdersTable: { type: 'AWS::DynamoDB::Table', physicalId: 'orderflow-fidelity-orders' },
      OrderEventsTopic: { type: 'AWS::SNS::Topic', physicalId: `arn:aws:sns:${REGION}:${ACCOUNT}:orderflow-fidelity-order-events.fifo` },
    };
    for (let index = 0; index < 148; index += 1) resources[`Alarm${String(index).padStart(3, '0')}`] = { type: 'AWS::CloudWatch::Alarm', physicalId: `alarm-${index}` };

    beforeAll(() => {
      cloudformation = new CloudFormationClient(clientConfig(cloud.emulators));
      cloud.emulators.stacks.register({
        stackName,
        resources,
        outputs: { HttpApiUrl: 'http://127.0.0.1:3000', OrdersTableName: 'orderflow-fidelity-orders' },
        exports: { 'orderflow-fidelity-OrdersTable': 'orderflow-fidelity-orders' },
      });
    });

    it('lists the stack resources 100 a page, with NextToken', async () => {
      // Act
      const first = await cloudformation.send(new ListStackResourcesCommand({ StackName: stackName }));
      const all = [];
      for await (const page of paginateListStackResources({ client: cloudformation }, { StackName: stackName })) all.push(...(page.StackResourceSummaries ?? []));
      // Assess
      expect(first.StackResourceSummaries).toHaveLength(100);
      expect(first.NextToken).toBeTruthy();
      expect(all).toHaveLength(150);
      expect(all.find((summary) => summary.LogicalResourceId === 'OrdersTable')).toMatchObject({
        PhysicalResourceId: 'orderflow-fidelity-orders',
        ResourceType: 'AWS::DynamoDB::Table',
        ResourceStatus: 'CREATE_COMPLETE',
      });
      expect(all[0]?.LastUpdatedTimestamp).toBeInstanceOf(Date);
    });

    it('describes the stack with its outputs, its resources, and lists it and its exports', async () => {
      // Act
      const { Stacks = [] } = await cloudformation.send(new DescribeStacksCommand({ StackName: stackName }));
      const byId = await cloudformation.send(new DescribeStacksCommand({ StackName: Stacks[0]?.StackId }));
      const one = await cloudformation.send(new DescribeStackResourceCommand({ StackName: stackName, LogicalResourceId: 'OrderEventsTopic' }));
      const byPhysical = await cloudformation.send(new DescribeStackResourcesCommand({ PhysicalResourceId: 'orderflow-fidelity-orders' }));
      const listed = await cloudformation.send(new ListStacksCommand({}));
      const exported = await cloudformation.send(new ListExportsCommand({}));
      // Assess
      expect(Stacks).toHaveLength(1);
      expect(Stacks[0]).toMatchObject({ StackName: stackName, StackStatus: 'CREATE_COMPLETE' });
      expect(Stacks[0]?.StackId).toMatch(new RegExp(`^arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/${stackName}/`));
      expect(Stacks[0]?.Outputs).toEqual([
        { OutputKey: 'HttpApiUrl', OutputValue: 'http://127.0.0.1:3000' },
        { OutputKey: 'OrdersTableName', OutputValue: 'orderflow-fidelity-orders' },
      ]);
      expect(byId.Stacks?.[0]?.StackName).toBe(stackName);
      expect(one.StackResourceDetail).toMatchObject({ StackName: stackName, LogicalResourceId: 'OrderEventsTopic', PhysicalResourceId: resources.OrderEventsTopic?.physicalId });
      expect(byPhysical.StackResources?.map((resource) => [resource.StackName, resource.LogicalResourceId])).toEqual([[stackName, 'OrdersTable']]);
      expect(listed.StackSummaries?.map((summary) => summary.StackName)).toContain(stackName);
      expect(exported.Exports).toEqual([{ ExportingStackId: Stacks[0]?.StackId, Name: 'orderflow-fidelity-OrdersTable', Value: 'orderflow-fidelity-orders' }]);
    });

    it('answers ValidationError for an unknown stack or resource, InvalidAction for writes', async () => {
      // Act
      const unknownStack = await rejection(cloudformation.send(new ListStackResourcesCommand({ StackName: 'nope' })));
      const unknownDescribe = await rejection(cloudformation.send(new DescribeStacksCommand({ StackName: 'nope' })));
      const unknownResource = await rejection(cloudformation.send(new DescribeStackResourceCommand({ StackName: stackName, LogicalResourceId: 'Nope' })));
      const create = await rejection(cloudformation.send(new CreateStackCommand({ StackName: 'new', TemplateBody: '{}' })));
      // Assess
      expect(unknownStack).toMatchObject({ name: 'ValidationError', status: 400, message: 'Stack with id nope does not exist' });
      expect(unknownDescribe).toMatchObject({ name: 'ValidationError', message: 'Stack with id nope does not exist' });
      expect(unknownResource).toMatchObject({ name: 'ValidationError', message: `Resource Nope does not exist for stack ${stackName}` });
      expect(create).toMatchObject({ name: 'InvalidAction', status: 400 });
      await expect(cloudformation.send(new ListStackResourcesCommand({ StackName: 'nope' }))).rejects.toBeInstanceOf(CloudFormationServiceException);
    });

    it('answers STS GetCallerIdentity with the local account (tools ask it for the account id)', async () => {
      // (@aws-sdk/client-sts is not a dependency of the project: the request as the SDK signs it)
      const response = await fetch(cloud.emulators.endpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
          authorization: `AWS4-HMAC-SHA256 Credential=test/20260101/${REGION}/sts/aws4_request, SignedHeaders=host, Signature=0`,
        },
        body: 'Action=GetCallerIdentity&Version=2011-06-15',
      });
      expect(response.status).toBe(200);
      expect(await response.text()).toContain(`<Account>${ACCOUNT}</Account>`);
    });
  });
});

describe('SNS FIFO deduplication across a restart', () => {
  let cloud: TestCloud;

  beforeAll(async () => {
    cloud = await startTestCloud('fidelity-restart');
  });

  afterAll(async () => {
    await cloud?.dispose();
  });

  it('still drops a repeated MessageDeduplicationId published after the emulators restarted', async () => {
    // Prepare
    let sns = new SNSClient(clientConfig(cloud.emulators));
    let sqs = new SQSClient(clientConfig(cloud.emulators));
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: 'restart-events.fifo', Attributes: { FifoTopic: 'true' } }));
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'restart-billing' }));
    await sns.send(new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: `arn:aws:sqs:${REGION}:${ACCOUNT}:restart-billing`, Attributes: { RawMessageDelivery: 'true' } }));
    const first = await sns.send(new PublishCommand({ TopicArn, Message: 'before', MessageGroupId: 'g', MessageDeduplicationId: 'event-1' }));
    expect((await drain(sqs, QueueUrl!, 1)).map((message) => message.Body)).toEqual(['before']);
    // Act
    await cloud.restart();
    sns = new SNSClient(clientConfig(cloud.emulators));
    sqs = new SQSClient(clientConfig(cloud.emulators));
    const repeated = await sns.send(new PublishCommand({ TopicArn, Message: 'after', MessageGroupId: 'g', MessageDeduplicationId: 'event-1' }));
    const next = await sns.send(new PublishCommand({ TopicArn, Message: 'next', MessageGroupId: 'g', MessageDeduplicationId: 'event-2' }));
    const { QueueUrl: movedUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: 'restart-billing' }));
    const delivered = await collect(sqs, movedUrl!, 1);
    // Assess
    expect(repeated).toMatchObject({ MessageId: first.MessageId, SequenceNumber: first.SequenceNumber });
    expect(BigInt(next.SequenceNumber ?? '0')).toBeGreaterThan(BigInt(first.SequenceNumber ?? '0'));
    expect(delivered.map((message) => message.Body)).toEqual(['next']);
  });
});
