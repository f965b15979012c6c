/**
 * SNS subscribers that are not queues, end to end on the local cloud with the real template: a shipped order's
 * notice reaches the announceShipment function (a Lambda subscription, SNS's Records[].Sns event) and a partner
 * webhook (scripts/webhook/receiver.ts) that verifies SNS's signature and confirms its subscription through the
 * SubscribeURL handshake; a webhook that keeps failing gets the notice retried by its delivery policy, then in its DLQ.
 * PartnerWebhookSubscription is off on the local stage (no partnerWebhookUrl): the test subscribes its receivers
 * with that subscription's filter and, to keep the run short, a delivery policy of 1-s retries.
 */
import { SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { waitFor } from 'local-cloud';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebhookReceiver, type WebhookReceiver } from '../../scripts/webhook/receiver.ts';
import { physicalOrder, startCloudForTests, uniqueCustomer, type CloudUnderTest } from './helpers/cloud.ts';

const SHORT_RETRIES = JSON.stringify({ healthyRetryPolicy: { numRetries: 2, numNoDelayRetries: 0, minDelayTarget: 1, maxDelayTarget: 1 }, requestPolicy: { headerContentType: 'application/json' } });

describe('SNS subscribers that are not queues, on the local cloud', () => {
  let t: CloudUnderTest;
  let topicArn: string;
  const receivers: WebhookReceiver[] = [];

  beforeAll(async () => {
    t = await startCloudForTests('sns-subscribers');
    topicArn = t.cloud.outputs.ShipmentNoticesTopicArn ?? '';
  });

  afterAll(async () => {
    await Promise.all(receivers.map((receiver) => receiver.close()));
    await t?.dispose();
  });

  const partner = async (status: number, redrive?: string): Promise<WebhookReceiver> => {
    const receiver = await startWebhookReceiver({ port: 0, trustedOrigins: [new URL(t.cloud.edgeUrl).origin], notificationStatus: () => status });
    receivers.push(receiver);
    await t.clients.sns.send(
      new SubscribeCommand({
        TopicArn: topicArn,
        Protocol: 'http',
        Endpoint: receiver.url,
        Attributes: { FilterPolicy: JSON.stringify({ type: ['OrderShipped'] }), DeliveryPolicy: SHORT_RETRIES, ...(redrive ? { RedrivePolicy: redrive } : {}) },
      }),
    );
    await waitFor(() => receiver.received.some((message) => message.type === 'SubscriptionConfirmation' && message.status === 200), { what: 'the subscription confirmed', timeoutMs: 10_000 });
    return receiver;
  };

  const shipOne = async (): Promise<string> => {
    const placed = await t.api.postOrder(physicalOrder(uniqueCustomer('notice')));
    expect(placed.status).toBe(202);
    return String(placed.body.orderId);
  };

  it('a shipped order is announced by the Lambda subscriber and posted, signed, to the partner webhook', async () => {
    // Prepare
    const webhook = await partner(200);

    // Act
    const orderId = await shipOne();
    const item = await waitFor(async () => {
      const found = await t.orderItem(orderId);
      return typeof found?.shipmentAnnouncedAt === 'string' && found;
    }, { what: 'shipmentAnnouncedAt on the order', timeoutMs: 30_000 });
    const notice = await waitFor(() => webhook.received.find((message) => message.type === 'Notification' && String(message.message.Message).includes(orderId)), {
      what: 'the notice at the webhook',
      timeoutMs: 30_000,
    });

    // Assess
    expect(item.shipmentAnnouncedAt).toEqual(expect.any(String));
    expect(notice.status).toBe(200); // 403 had the signature not verified
    expect(notice.headers).toMatchObject({ 'x-amz-sns-topic-arn': topicArn, 'content-type': 'application/json' });
    expect(JSON.parse(String(notice.message.Message))).toMatchObject({ orderId, trackingNumber: expect.stringMatching(/^OF[0-9A-F]{16}$/) });
    const invocation = t.invocations.find((entry) => entry.functionName === t.functionName('announceShipment'));
    expect((invocation?.event as { Records: Array<{ EventSource: string; Sns: { TopicArn: string } }> }).Records[0]).toMatchObject({ EventSource: 'aws:sns', Sns: { TopicArn: topicArn } });
  });

  it('a webhook that keeps answering 500 gets each notice 3 times (numRetries 2), then the notice is in its DLQ', async () => {
    // Prepare
    const dlqUrl = (await t.clients.sqs.send(new CreateQueueCommand({ QueueName: `partner-webhook-dlq-${process.pid}` }))).QueueUrl ?? '';
    const dlqArn = (await t.clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn ?? '';
    const webhook = await partner(500, JSON.stringify({ deadLetterTargetArn: dlqArn }));

    // Act
    const orderId = await shipOne();
    const dead = await waitFor(async () => {
      const { Messages = [] } = await t.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'] }));
      return Messages.find((message) => (message.Body ?? '').includes(orderId));
    }, { what: 'the notice in the webhook DLQ', timeoutMs: 30_000 });

    // Assess
    const attempts = webhook.received.filter((message) => message.type === 'Notification' && String(message.message.Message).includes(orderId));
    expect(attempts.map((attempt) => attempt.status)).toEqual([500, 500, 500]);
    expect(dead.MessageAttributes?.ErrorCode?.StringValue).toBe('500');
    expect(JSON.parse(dead.Body ?? '{}')).toMatchObject({ Type: 'Notification', TopicArn: topicArn });
  });
});
