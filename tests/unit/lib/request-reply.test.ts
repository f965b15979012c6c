import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteQueueCommand,
  ListQueueTagsCommand,
  ListQueuesCommand,
  QueueDoesNotExist,
  ReceiveMessageCommand,
  SQSClient,
  SendMessageCommand,
  TagQueueCommand,
  type SendMessageCommandInput,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidEventError } from '#lib/domain/errors.ts';
import { SqsRequester, reply } from '#lib/request-reply.ts';

const BASE = 'https://sqs.us-east-1.amazonaws.com/123456789012';
const REQUESTS = `${BASE}/orderflow-dev-stock-requests`;
const PREFIX = 'orderflow-dev-replies-';
const sqsMock = mockClient(SQSClient);
const sqs = new SQSClient({ region: 'us-east-1' });

/** The correlation id of the n-th question sent. */
const correlationOf = (n = 0): string =>
  (sqsMock.commandCalls(SendMessageCommand)[n]?.args[0].input as SendMessageCommandInput).MessageAttributes?.CorrelationId?.StringValue ?? '';

describe('Lib: request-reply', () => {
  afterEach(() => {
    sqsMock.reset();
  });

  it('asks with ReplyTo and CorrelationId, deletes a late answer to another question, returns its own', async () => {
    // Prepare
    let clock = 1_000_000_000_000;
    const requester = new SqsRequester({ sqs, requestQueueUrl: REQUESTS, replyQueuePrefix: PREFIX, now: () => clock });
    sqsMock.on(CreateQueueCommand).callsFake((input: { QueueName: string }) => ({ QueueUrl: `${BASE}/${input.QueueName}` }));
    sqsMock.on(ListQueuesCommand).resolves({ QueueUrls: [] });
    sqsMock
      .on(ReceiveMessageCommand)
      .callsFakeOnce(() => ({ Messages: [{ ReceiptHandle: 'late', Body: '{"sku":"OLD"}', MessageAttributes: { CorrelationId: { DataType: 'String', StringValue: 'an-abandoned-question' } } }] }))
      .callsFake(() => {
        clock += 500;
        return { Messages: [{ ReceiptHandle: 'mine', Body: '{"sku":"BOOK-1","available":12}', MessageAttributes: { CorrelationId: { DataType: 'String', StringValue: correlationOf() } } }] };
      });

    // Act
    const answer = await requester.ask('{"sku":"BOOK-1"}', 3_000);

    // Assess
    expect(answer).toBe('{"sku":"BOOK-1","available":12}');
    const created = sqsMock.commandCalls(CreateQueueCommand)[0]?.args[0].input;
    expect(created?.QueueName).toMatch(/^orderflow-dev-replies-[0-9a-f-]{36}$/);
    expect(created?.Attributes).toEqual({ MessageRetentionPeriod: '60', SqsManagedSseEnabled: 'true' });
    expect(created?.tags).toEqual({ 'last-active': '1000000000' });
    expect(sqsMock).toHaveReceivedCommandWith(SendMessageCommand, {
      QueueUrl: REQUESTS,
      MessageBody: '{"sku":"BOOK-1"}',
      MessageAttributes: { ReplyTo: { DataType: 'String', StringValue: `${BASE}/${created?.QueueName}` }, CorrelationId: { DataType: 'String', StringValue: correlationOf() } },
    });
    expect(sqsMock.commandCalls(DeleteMessageBatchCommand).flatMap((call) => call.args[0].input.Entries?.map((entry) => entry.ReceiptHandle))).toEqual(['late', 'mine']);
  });

  it('answers undefined when no reply comes in time, and reuses its reply queue (refreshing its tag) for the next question', async () => {
    // Prepare
    let clock = 1_000_000_000_000;
    const requester = new SqsRequester({ sqs, requestQueueUrl: REQUESTS, replyQueuePrefix: PREFIX, idleSeconds: 600, now: () => clock });
    sqsMock.on(CreateQueueCommand).resolves({ QueueUrl: `${BASE}/${PREFIX}a` });
    sqsMock.on(ListQueuesCommand).resolves({});
    sqsMock.on(ReceiveMessageCommand).callsFake(() => {
      clock += 1_000;
      return {};
    });

    // Act
    const first = await requester.ask('{"sku":"BOOK-1"}', 2_000);
    clock += 130_000; // past idleSeconds / 5
    await requester.ask('{"sku":"BOOK-1"}', 1_000);

    // Assess
    expect(first).toBeUndefined();
    expect(sqsMock).toHaveReceivedCommandTimes(CreateQueueCommand, 1);
    expect(sqsMock).toHaveReceivedCommandWith(TagQueueCommand, { QueueUrl: `${BASE}/${PREFIX}a`, Tags: { 'last-active': String(Math.floor(clock / 1000) - 1) } });
  });

  it('sweep deletes only the reply queues idle past idleSeconds, never its own, and tolerates one deleted meanwhile', async () => {
    // Prepare
    const now = 1_000_000_000_000;
    const requester = new SqsRequester({ sqs, requestQueueUrl: REQUESTS, replyQueuePrefix: PREFIX, idleSeconds: 600, now: () => now });
    const seconds = now / 1000;
    sqsMock.on(ListQueuesCommand).resolvesOnce({ QueueUrls: [`${BASE}/${PREFIX}idle`, `${BASE}/${PREFIX}busy`], NextToken: 'p2' }).resolves({ QueueUrls: [`${BASE}/${PREFIX}gone`] });
    sqsMock.on(ListQueueTagsCommand, { QueueUrl: `${BASE}/${PREFIX}idle` }).resolves({ Tags: { 'last-active': String(seconds - 601) } });
    sqsMock.on(ListQueueTagsCommand, { QueueUrl: `${BASE}/${PREFIX}busy` }).resolves({ Tags: { 'last-active': String(seconds - 30) } });
    sqsMock.on(ListQueueTagsCommand, { QueueUrl: `${BASE}/${PREFIX}gone` }).rejects(new QueueDoesNotExist({ message: 'The specified queue does not exist.', $metadata: {} }));

    // Act
    const deleted = await requester.sweep();

    // Assess
    expect(deleted).toEqual([`${BASE}/${PREFIX}idle`]);
    expect(sqsMock).toHaveReceivedCommandExactlyOnceWith(DeleteQueueCommand, { QueueUrl: `${BASE}/${PREFIX}idle` });
    expect(sqsMock).toHaveReceivedCommandWith(ListQueuesCommand, { QueueNamePrefix: PREFIX, NextToken: 'p2' });
  });

  it('reply: answers on the ReplyTo queue with the CorrelationId, and refuses a ReplyTo outside the prefix', async () => {
    // Prepare
    const question = { messageAttributes: { ReplyTo: { stringValue: `${BASE}/${PREFIX}a` }, CorrelationId: { stringValue: 'c-1' } } };
    const forged = { messageAttributes: { ReplyTo: { stringValue: `${BASE}/orderflow-dev-billing` }, CorrelationId: { stringValue: 'c-2' } } };

    // Act
    await reply(sqs, question, '{"available":12}', PREFIX);

    // Assess
    expect(sqsMock).toHaveReceivedCommandExactlyOnceWith(SendMessageCommand, { QueueUrl: `${BASE}/${PREFIX}a`, MessageBody: '{"available":12}', MessageAttributes: { CorrelationId: { DataType: 'String', StringValue: 'c-1' } } });
    await expect(reply(sqs, forged, '{}', PREFIX)).rejects.toBeInstanceOf(InvalidEventError);
    await expect(reply(sqs, forged, '{}', PREFIX)).rejects.toThrow(/MessageAttributes\.ReplyTo must name a queue starting with orderflow-dev-replies-/);
  });
});
