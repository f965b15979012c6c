/**
 * SNS to HTTP/S endpoints and Lambda functions (src/fidelity/sns-push.ts), through the edge with the real SDK: a
 * receiver on 127.0.0.1 gets SNS's confirmation handshake, then signed notifications it verifies against the
 * certificate at SigningCertURL; failures are retried by the delivery policy and end in the subscription's DLQ.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { X509Certificate, createVerify } from 'node:crypto';
import { CreateTopicCommand, GetSubscriptionAttributesCommand, PublishBatchCommand, PublishCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { retryDelays, retryPolicyOf } from '../src/fidelity/sns-push.ts';
import { stringToSign } from '../src/fidelity/sns-signing.ts';
import { waitFor } from '../src/util/wait.ts';
import { clientConfig, drain, startTestCloud, type TestCloud } from './helpers/emulators.ts';

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A partner endpoint: records every POST and answers the status `answer` picks (200 by default). */
async function receiver(answer: (received: Received) => number = () => 200): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const entry = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      received.push(entry);
      res.writeHead(answer(entry)).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/sns`, received, server };
}

/** Verifies an SNS message as a receiver does: the certificate from SigningCertURL, the signed string, the version's hash. */
async function verify(message: Record<string, unknown>): Promise<boolean> {
  const pem = await (await fetch(String(message.SigningCertURL))).text();
  const certificate = new X509Certificate(pem);
  return createVerify(message.SignatureVersion === '2' ? 'sha256' : 'sha1').update(stringToSign(message)).verify(certificate.publicKey, String(message.Signature), 'base64');
}

const FAST_RETRIES = JSON.stringify({ healthyRetryPolicy: { numRetries: 2, minDelayTarget: 1, maxDelayTarget: 1, numNoDelayRetries: 1 } });

describe('SNS to HTTP/S and Lambda subscribers (sns-push)', () => {
  let cloud: TestCloud;
  let sns: SNSClient;
  let sqs: SQSClient;
  let topicArn: string;
  const servers: Server[] = [];

  beforeAll(async () => {
    cloud = await startTestCloud('sns-push');
    sns = new SNSClient(clientConfig(cloud.emulators));
    sqs = new SQSClient(clientConfig(cloud.emulators));
    topicArn = (await sns.send(new CreateTopicCommand({ Name: 'partner-events' }))).TopicArn ?? '';
  });

  afterAll(async () => {
    for (const server of servers) server.close();
    sns?.destroy();
    sqs?.destroy();
    await cloud?.dispose();
  });

  const subscribeConfirmed = async (url: string, received: Received[], attributes: Record<string, string> = {}): Promise<string> => {
    const arn = (await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'http', Endpoint: url, Attributes: attributes, ReturnSubscriptionArn: true }))).SubscriptionArn ?? '';
    const confirmation = await waitFor(() => received.find((entry) => entry.headers['x-amz-sns-message-type'] === 'SubscriptionConfirmation'), { what: 'a SubscriptionConfirmation', timeoutMs: 5_000 });
    const message = JSON.parse(confirmation.body) as Record<string, string>;
    expect((await fetch(message.SubscribeURL ?? '')).status).toBe(200);
    return arn;
  };

  const dlq = async (name: string): Promise<{ url: string; arn: string }> => {
    const url = (await sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl ?? '';
    const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn ?? '';
    return { url, arn };
  };

  it('confirms an HTTP subscription only through the token SNS sent, then delivers signed notifications with SNS headers', async () => {
    // Prepare
    const endpoint = await receiver();
    servers.push(endpoint.server);
    const pending = await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'http', Endpoint: endpoint.url }));
    const confirmation = await waitFor(() => endpoint.received[0], { what: 'a SubscriptionConfirmation', timeoutMs: 5_000 });
    const handshake = JSON.parse(confirmation.body) as Record<string, string>;
    const arn = (await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'http', Endpoint: endpoint.url, ReturnSubscriptionArn: true }))).SubscriptionArn ?? '';
    const before = (await sns.send(new GetSubscriptionAttributesCommand({ SubscriptionArn: arn }))).Attributes?.PendingConfirmation;

    // Act
    const confirmed = await fetch(handshake.SubscribeURL ?? '');
    const published = await sns.send(
      new PublishCommand({ TopicArn: topicArn, Message: '{"orderId":"o-1"}', Subject: 'OrderShipped', MessageAttributes: { type: { DataType: 'String', StringValue: 'OrderShipped' } } }),
    );
    const delivered = await waitFor(() => endpoint.received.find((entry) => entry.headers['x-amz-sns-message-type'] === 'Notification'), { what: 'the notification', timeoutMs: 5_000 });
    const notification = JSON.parse(delivered.body) as Record<string, unknown>;

    // Assess
    expect(pending.SubscriptionArn).toBe('pending confirmation');
    expect(confirmation.headers['x-amz-sns-message-type']).toBe('SubscriptionConfirmation');
    expect(handshake).toMatchObject({ Type: 'SubscriptionConfirmation', TopicArn: topicArn, SignatureVersion: '1' });
    expect(await verify(handshake)).toBe(true);
    expect(before).toBe('true');
    expect(confirmed.status).toBe(200);
    expect((await sns.send(new GetSubscriptionAttributesCommand({ SubscriptionArn: arn }))).Attributes?.PendingConfirmation).toBe('false');
    expect(delivered.headers).toMatchObject({
      'x-amz-sns-message-type': 'Notification',
      'x-amz-sns-message-id': published.MessageId,
      'x-amz-sns-topic-arn': topicArn,
      'x-amz-sns-subscription-arn': arn,
      'content-type': 'text/plain; charset=UTF-8',
    });
    expect(notification).toMatchObject({
      Type: 'Notification',
      MessageId: published.MessageId,
      TopicArn: topicArn,
      Subject: 'OrderShipped',
      Message: '{"orderId":"o-1"}',
      MessageAttributes: { type: { Type: 'String', Value: 'OrderShipped' } },
    });
    expect(await verify(notification)).toBe(true);
    expect(await verify({ ...notification, Message: '{"orderId":"o-2"}' })).toBe(false);
  });

  it('refuses a wrong token and a non-SQS subscription to a FIFO topic', async () => {
    // Prepare
    const fifo = (await sns.send(new CreateTopicCommand({ Name: 'orders.fifo', Attributes: { FifoTopic: 'true' } }))).TopicArn ?? '';

    // Act
    const wrongToken = await fetch(`${cloud.emulators.endpoint}/?Action=ConfirmSubscription&TopicArn=${encodeURIComponent(topicArn)}&Token=${'0'.repeat(64)}`);
    const toFifo = await sns.send(new SubscribeCommand({ TopicArn: fifo, Protocol: 'https', Endpoint: 'https://partner.example/sns' })).catch((error: unknown) => error);

    // Assess
    expect(wrongToken.status).toBe(400);
    expect(toFifo).toMatchObject({ name: 'InvalidParameterException' });
  });

  it('retries a failing endpoint by its delivery policy, and a message given up lands in the subscription DLQ', async () => {
    // Prepare
    const deadLetters = await dlq('partner-sub-dlq');
    let flakyNotifications = 0;
    const flaky = await receiver((entry) => (entry.headers['x-amz-sns-message-type'] === 'Notification' && ++flakyNotifications < 3 ? 503 : 200));
    const down = await receiver((entry) => (entry.headers['x-amz-sns-message-type'] === 'Notification' ? 500 : 200));
    const gone = await receiver((entry) => (entry.headers['x-amz-sns-message-type'] === 'Notification' ? 410 : 200));
    servers.push(flaky.server, down.server, gone.server);
    const redrive = JSON.stringify({ deadLetterTargetArn: deadLetters.arn });
    const arns = [
      await subscribeConfirmed(flaky.url, flaky.received, { DeliveryPolicy: FAST_RETRIES, RedrivePolicy: redrive }),
      await subscribeConfirmed(down.url, down.received, { DeliveryPolicy: FAST_RETRIES, RedrivePolicy: redrive }),
      await subscribeConfirmed(gone.url, gone.received, { DeliveryPolicy: FAST_RETRIES, RedrivePolicy: redrive }),
    ];

    // Act
    const published = await sns.send(new PublishCommand({ TopicArn: topicArn, Message: 'retry me' }));
    const dead = await drain(sqs, deadLetters.url, 2, 15_000);
    const notifications = (entries: Received[]): Received[] => entries.filter((entry) => entry.headers['x-amz-sns-message-type'] === 'Notification');
    await waitFor(() => notifications(flaky.received).length === 3, { what: 'the flaky endpoint answered 200 on the third attempt', timeoutMs: 10_000 });

    // Assess
    expect(notifications(down.received)).toHaveLength(3); // the first attempt and numRetries 2
    expect(notifications(gone.received)).toHaveLength(1); // 410: a client-side error, not retried
    expect(dead.map((message) => (JSON.parse(message.Body ?? '{}') as { MessageId?: string }).MessageId)).toEqual([published.MessageId, published.MessageId]);
    expect(dead.map((message) => message.MessageAttributes?.ErrorCode?.StringValue).sort()).toEqual(['410', '500']);
    const deliveries = cloud.emulators.snsPush?.deliveries().filter((delivery) => delivery.messageId === published.MessageId && arns.includes(delivery.subscriptionArn));
    expect(deliveries?.map((delivery) => [delivery.outcome, delivery.attempts]).sort()).toEqual([['dead-lettered', 1], ['dead-lettered', 3], ['delivered', 3]]);
  });

  it('applies filter policies, raw delivery, and invokes a Lambda subscription with the Records[].Sns event', async () => {
    // Prepare
    const events: unknown[] = [];
    cloud.emulators.snsPush?.attach(async (_arn, event) => {
      events.push(event);
      return { ok: true };
    });
    const topic = (await sns.send(new CreateTopicCommand({ Name: 'order-notices' }))).TopicArn ?? '';
    const raw = await receiver();
    servers.push(raw.server);
    const rawArn = (await sns.send(new SubscribeCommand({ TopicArn: topic, Protocol: 'http', Endpoint: raw.url, ReturnSubscriptionArn: true, Attributes: { RawMessageDelivery: 'true', FilterPolicy: '{"type":["OrderShipped"]}' } }))).SubscriptionArn ?? '';
    const handshake = JSON.parse((await waitFor(() => raw.received[0], { what: 'the handshake', timeoutMs: 5_000 })).body) as Record<string, string>;
    await fetch(handshake.SubscribeURL ?? '');
    const functionArn = 'arn:aws:lambda:us-east-1:000000000000:function:notices';
    const lambdaArn = (await sns.send(new SubscribeCommand({ TopicArn: topic, Protocol: 'lambda', Endpoint: functionArn, ReturnSubscriptionArn: true }))).SubscriptionArn ?? '';

    // Act
    await sns.send(
      new PublishBatchCommand({
        TopicArn: topic,
        PublishBatchRequestEntries: [
          { Id: 'placed', Message: 'placed', MessageAttributes: { type: { DataType: 'String', StringValue: 'OrderPlaced' } } },
          { Id: 'shipped', Message: 'shipped', MessageAttributes: { type: { DataType: 'String', StringValue: 'OrderShipped' } } },
        ],
      }),
    );
    await waitFor(() => events.length === 2 && raw.received.length === 2, { what: 'two Lambda events and one raw delivery', timeoutMs: 5_000 });

    // Assess
    expect((await sns.send(new GetSubscriptionAttributesCommand({ SubscriptionArn: lambdaArn }))).Attributes?.PendingConfirmation).toBe('false');
    expect(raw.received[1]?.body).toBe('shipped');
    expect(raw.received[1]?.headers).toMatchObject({ 'x-amz-sns-rawdelivery': 'true', 'x-amz-sns-subscription-arn': rawArn });
    const record = (events[1] as { Records: Array<Record<string, unknown>> }).Records[0];
    expect(record).toMatchObject({ EventSource: 'aws:sns', EventVersion: '1.0', EventSubscriptionArn: lambdaArn });
    expect(record?.Sns).toMatchObject({ Type: 'Notification', TopicArn: topic, Message: 'shipped', MessageAttributes: { type: { Type: 'String', Value: 'OrderShipped' } } });
    expect(Object.keys(record?.Sns as object)).toEqual(expect.arrayContaining(['SigningCertUrl', 'UnsubscribeUrl', 'Signature', 'Timestamp', 'MessageId']));
  });

  it('spaces retries by the four phases of the policy; SNS default is 3 retries 20 s apart', () => {
    expect(retryDelays(retryPolicyOf(undefined, undefined))).toEqual([20, 20, 20]);
    expect(retryDelays(retryPolicyOf(JSON.stringify({ healthyRetryPolicy: { numRetries: 6, numNoDelayRetries: 1, numMinDelayRetries: 1, numMaxDelayRetries: 1, minDelayTarget: 2, maxDelayTarget: 10, backoffFunction: 'linear' } }), undefined))).toEqual([0, 2, 14 / 3, 22 / 3, 10, 10].map((s) => Math.round(s * 1000) / 1000));
    expect(retryDelays(retryPolicyOf(undefined, JSON.stringify({ http: { defaultHealthyRetryPolicy: { numRetries: 1, minDelayTarget: 5, maxDelayTarget: 5 } } })))).toEqual([5]);
  });
});
