/**
 * SQS over the query protocol (form-encoded `Action=...`, XML answers) through the edge, with raw requests as the
 * AWS CLI before 2.13 and older SDKs send them (SQS API reference, "Making query API requests"); what they do is
 * read back with the current SDK (JSON protocol).
 */
import { createHash } from 'node:crypto';
import { GetQueueUrlCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unescapeXml, xmlElements, xmlText } from '../src/util/xml.ts';
import { waitFor } from '../src/util/wait.ts';
import { clientConfig, startTestCloud } from './helpers/emulators.ts';
import type { TestCloud } from './helpers/emulators.ts';

describe('SQS query protocol at the edge', () => {
  let cloud: TestCloud;
  let sqs: SQSClient;

  beforeAll(async () => {
    cloud = await startTestCloud('sqs-query');
    sqs = new SQSClient(clientConfig(cloud.emulators));
  });

  afterAll(async () => {
    sqs.destroy();
    await cloud.dispose();
  });

  /** A form POST as botocore sends it (SigV4 scope `sqs`; the edge checks no signature). */
  async function query(params: Record<string, string>, path = '/'): Promise<{ status: number; xml: string }> {
    const response = await fetch(`${cloud.emulators.endpoint}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
        authorization: 'AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host;x-amz-date, Signature=0',
        'x-amz-date': '20260101T000000Z',
      },
      body: new URLSearchParams({ Version: '2012-11-05', ...params }).toString(),
    });
    return { status: response.status, xml: await response.text() };
  }
  const md5 = (text: string): string => createHash('md5').update(text).digest('hex');

  it('CreateQueue with attributes and tags, GetQueueAttributes, ListQueueTags, ListQueues (GET, unsigned)', async () => {
    // Act
    const created = await query({ Action: 'CreateQueue', QueueName: 'query-a', 'Attribute.1.Name': 'VisibilityTimeout', 'Attribute.1.Value': '45', 'Tag.1.Key': 'team', 'Tag.1.Value': 'orders' });
    const queueUrl = xmlText(created.xml, 'QueueUrl') ?? '';
    const attributes = await query({ Action: 'GetQueueAttributes', QueueUrl: queueUrl, 'AttributeName.1': 'VisibilityTimeout', 'AttributeName.2': 'QueueArn' });
    const tags = await query({ Action: 'ListQueueTags', QueueUrl: queueUrl });
    const listed = await fetch(`${cloud.emulators.endpoint}/?Action=ListQueues&Version=2012-11-05&QueueNamePrefix=query-`);
    const listedXml = await listed.text();
    // Assess
    expect(created.status).toBe(200);
    expect(created.xml).toMatch(/^<\?xml version="1.0"\?><CreateQueueResponse xmlns="http:\/\/queue.amazonaws.com\/doc\/2012-11-05\/"><CreateQueueResult><QueueUrl>/);
    expect(queueUrl).toBe(`${cloud.emulators.endpoint}/000000000000/query-a`);
    expect(xmlText(created.xml, 'RequestId')).toMatch(/^[0-9a-f-]{36}$/);
    const pairs = xmlElements(attributes.xml, 'Attribute').map((pair) => [xmlText(pair, 'Name'), xmlText(pair, 'Value')]);
    expect(Object.fromEntries(pairs)).toEqual({ VisibilityTimeout: '45', QueueArn: 'arn:aws:sqs:us-east-1:000000000000:query-a' });
    expect(xmlElements(tags.xml, 'Tag').map((tag) => [xmlText(tag, 'Key'), xmlText(tag, 'Value')])).toEqual([['team', 'orders']]);
    expect(listed.status).toBe(200);
    expect(xmlElements(listedXml, 'QueueUrl').map(unescapeXml)).toContain(queueUrl);
  });

  it('SendMessage, SendMessageBatch, ReceiveMessage with attributes, DeleteMessage; the SDK sees the same messages', async () => {
    // Prepare
    const queueUrl = xmlText((await query({ Action: 'CreateQueue', QueueName: 'query-b' })).xml, 'QueueUrl') ?? '';
    const body = 'héllo <world> & "friends"';
    // Act
    const sent = await query({
      Action: 'SendMessage',
      QueueUrl: queueUrl,
      MessageBody: body,
      'MessageAttribute.1.Name': 'orderId',
      'MessageAttribute.1.Value.DataType': 'String',
      'MessageAttribute.1.Value.StringValue': 'o-1',
    });
    const batch = await query({
      Action: 'SendMessageBatch',
      QueueUrl: queueUrl,
      'SendMessageBatchRequestEntry.1.Id': 'first',
      'SendMessageBatchRequestEntry.1.MessageBody': 'one',
      'SendMessageBatchRequestEntry.2.Id': 'second',
      'SendMessageBatchRequestEntry.2.MessageBody': 'two',
      'SendMessageBatchRequestEntry.2.DelaySeconds': '0',
    });
    const received = await query({ Action: 'ReceiveMessage', QueueUrl: queueUrl, MaxNumberOfMessages: '10', 'AttributeName.1': 'All', 'MessageAttributeName.1': 'All', VisibilityTimeout: '0' });
    const messages = xmlElements(received.xml, 'Message');
    const first = messages.find((message) => xmlText(message, 'Body') === body) ?? '';
    const deleted = await query({ Action: 'DeleteMessage', QueueUrl: queueUrl, ReceiptHandle: xmlText(first, 'ReceiptHandle') ?? '' });
    const left = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }))).Messages ?? [];
    // Assess
    expect(sent.status).toBe(200);
    expect(xmlText(sent.xml, 'MD5OfMessageBody')).toBe(md5(body));
    expect(xmlText(sent.xml, 'MD5OfMessageAttributes')).toMatch(/^[0-9a-f]{32}$/);
    expect(xmlElements(batch.xml, 'SendMessageBatchResultEntry').map((entry) => xmlText(entry, 'Id'))).toEqual(['first', 'second']);
    expect(messages).toHaveLength(3);
    expect(xmlText(first, 'MD5OfBody')).toBe(md5(body));
    const systemAttributes = Object.fromEntries(xmlElements(first, 'Attribute').map((pair) => [xmlText(pair, 'Name'), xmlText(pair, 'Value')]));
    expect(systemAttributes.ApproximateReceiveCount).toBe('1');
    const [attribute] = xmlElements(first, 'MessageAttribute');
    expect([xmlText(attribute ?? '', 'Name'), xmlText(attribute ?? '', 'StringValue'), xmlText(attribute ?? '', 'DataType')]).toEqual(['orderId', 'o-1', 'String']);
    expect(deleted.xml).toMatch(/^<\?xml version="1.0"\?><DeleteMessageResponse [^>]*><ResponseMetadata>/);
    expect(left.map((message) => message.Body).sort()).toEqual(['one', 'two']);
  });

  it('takes the queue from the request path when QueueUrl is absent (older SDKs post to the queue URL)', async () => {
    // Prepare
    await query({ Action: 'CreateQueue', QueueName: 'query-c' });
    // Act
    const sent = await query({ Action: 'SendMessage', MessageBody: 'by path' }, '/000000000000/query-c');
    // Assess
    expect(sent.status).toBe(200);
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: 'query-c' }));
    expect(((await sqs.send(new ReceiveMessageCommand({ QueueUrl }))).Messages ?? []).map((message) => message.Body)).toEqual(['by path']);
  });

  it('gives back what a long-poll ReceiveMessage took for a client that went away', async () => {
    // Prepare: a long poll on an empty queue, abandoned by its client
    const queueUrl = xmlText((await query({ Action: 'CreateQueue', QueueName: 'query-d' })).xml, 'QueueUrl') ?? '';
    const receives = (): number => cloud.emulators.stats.snapshot().aws.sqs?.ReceiveMessage ?? 0;
    const before = receives();
    const abort = new AbortController();
    const abandoned = fetch(cloud.emulators.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ Action: 'ReceiveMessage', QueueUrl: queueUrl, WaitTimeSeconds: '5' }).toString(),
      signal: abort.signal,
    }).catch((error: unknown) => error);
    await waitFor(async () => (receives() > before ? true : undefined), { what: 'the long poll at the edge' });
    abort.abort();
    await abandoned;
    // Act: a message arrives; the abandoned poll takes it
    await query({ Action: 'SendMessage', QueueUrl: queueUrl, MessageBody: 'for somebody there' });
    // Assess: visible again at once (not after the 30 s visibility timeout)
    const got = await waitFor(async () => {
      const messages = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 1 }))).Messages ?? [];
      return messages.length > 0 ? messages : undefined;
    }, { timeoutMs: 8_000, what: 'the message given back' });
    expect(got.map((message) => message.Body)).toEqual(['for somebody there']);
  });

  it('answers errors as query XML: the SQS query error code, and the parameter at fault', async () => {
    // Act
    const missing = await query({ Action: 'GetQueueUrl', QueueName: 'query-missing' });
    const badNumber = await query({ Action: 'ReceiveMessage', QueueUrl: `${cloud.emulators.endpoint}/000000000000/query-a`, MaxNumberOfMessages: 'ten' });
    const notDlq = await query({ Action: 'StartMessageMoveTask', SourceArn: 'arn:aws:sqs:us-east-1:000000000000:query-a' });
    // Assess
    expect(missing.status).toBe(400);
    expect(missing.xml).toContain('<ErrorResponse');
    expect(xmlText(missing.xml, 'Type')).toBe('Sender');
    expect(xmlText(missing.xml, 'Code')).toBe('AWS.SimpleQueueService.NonExistentQueue');
    expect(badNumber.status).toBe(400);
    expect(xmlText(badNumber.xml, 'Code')).toBe('InvalidParameterValue');
    expect(xmlText(badNumber.xml, 'Message')).toContain('MaxNumberOfMessages');
    expect(xmlText(notDlq.xml, 'Code')).toBe('InvalidParameterValue');
  });
});
