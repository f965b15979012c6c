/**
 * `npm run webhook`: the partner's webhook (receiver.ts) against the running local cloud (`npm start`), subscribed
 * to the shipment-notices topic as PartnerWebhookSubscription is on AWS: its filter, delivery and redrive policies
 * read from the compiled template, and a DLQ named as the template names it. Ctrl-C stops it.
 *
 *   npm run webhook -- [--edge http://127.0.0.1:4566] [--port 0] [--status 200]
 *
 * --status 500 answers every notification 500: watch the local cloud retry by the delivery policy and then move the
 * notice to the DLQ (`npm run dlq`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DescribeStacksCommand, CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { LOCAL_CREDENTIALS } from 'local-cloud';
import { localClients } from '../local/clients.ts';
import { startWebhookReceiver } from './receiver.ts';

const { values } = parseArgs({
  options: { edge: { type: 'string', default: process.env.AWS_ENDPOINT_URL ?? 'http://127.0.0.1:4566' }, port: { type: 'string', default: '0' }, status: { type: 'string', default: '200' } },
});
const edge = values.edge;
const status = Number(values.status);
if (!Number.isInteger(status) || status < 200 || status > 599) throw new Error(`--status must be an HTTP status (200-599), got '${values.status}'`);
const template = JSON.parse(readFileSync(join('.serverless', 'cloudformation-template-update-stack.json'), 'utf8')) as { Resources: Record<string, { Properties: Record<string, unknown> }> };
const subscription = template.Resources.PartnerWebhookSubscription?.Properties;
if (subscription === undefined) throw new Error('the compiled template has no PartnerWebhookSubscription: run `npm start` (it packages) first');

const clients = localClients({ endpoint: edge, region: 'us-east-1' });
const cloudformation = new CloudFormationClient({ endpoint: edge, region: 'us-east-1', credentials: { ...LOCAL_CREDENTIALS } });
const stack = (await cloudformation.send(new DescribeStacksCommand({ StackName: 'orderflow-local' }))).Stacks?.[0];
const topicArn = stack?.Outputs?.find((output) => output.OutputKey === 'ShipmentNoticesTopicArn')?.OutputValue;
if (!topicArn) throw new Error(`no ShipmentNoticesTopicArn output at ${edge}: is \`npm start\` running there?`);

const webhook = await startWebhookReceiver({ port: Number(values.port), trustedOrigins: [new URL(edge).origin], notificationStatus: () => status, log: (line) => console.log(line) });
const dlqUrl = (await clients.sqs.send(new CreateQueueCommand({ QueueName: 'orderflow-local-partner-webhook-dlq' }))).QueueUrl;
const dlqArn = (await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn ?? '';
const subscribed = await clients.sns.send(
  new SubscribeCommand({
    TopicArn: topicArn,
    Protocol: 'http',
    Endpoint: webhook.url,
    ReturnSubscriptionArn: true,
    Attributes: {
      FilterPolicyScope: String(subscription.FilterPolicyScope),
      FilterPolicy: JSON.stringify(subscription.FilterPolicy),
      DeliveryPolicy: JSON.stringify(subscription.DeliveryPolicy),
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn }),
    },
  }),
);
console.log(`[webhook] listening on ${webhook.url}, subscribed ${subscribed.SubscriptionArn ?? ''} (pending until the confirmation arrives); failed notices go to ${dlqUrl ?? ''}`);
process.once('SIGINT', () => {
  clients.destroy();
  cloudformation.destroy();
  void webhook.close().then(() => process.exit(0));
});
