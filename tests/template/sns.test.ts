import { beforeAll, describe, expect, it } from 'vitest';
import {
  STAGES,
  isFifoQueue,
  loadTemplate,
  queueShortName,
  refId,
  resource,
  resourcesOfType,
  targetId,
  type Cfn,
  type Template,
} from './helpers.ts';

/**
 * Which events each subscriber receives: the business contract in docs/architecture.md, keyed by the endpoint queue's
 * name. Every subscription in the template must appear here, so a new subscriber forces a decision.
 */
const FILTER_POLICIES: Record<string, Cfn> = {
  'order-store.fifo': undefined,
  billing: { type: ['OrderPlaced'] },
  shipping: { type: ['OrderPlaced'], fulfillment: ['physical'] },
  analytics: undefined, // slice-line:analytics
  // resources/partner-access.yml, created only with the partnerAccountId param (tests/template/partner-access.test.ts).
  'partner-shipments': { type: ['OrderPlaced'], fulfillment: ['physical'] },
  // slice-begin:imports
  // The imports topic's two subscribers (resources/imports-fanout.yml): every upload event, unfiltered.
  'import-jobs': undefined,
  'import-audit': undefined, // slice-line:analytics
  // slice-end:imports
};

/**
 * Queue subscriptions: the fan-out. (The alarms topic's optional e-mail subscription is checked on its own, the
 * shipment-notices topic's webhook and Lambda subscriptions in notifications.test.ts.)
 */
const subscriptions = (t: Template): Array<{ id: string; props: Cfn; topicId: string; queueId: string }> =>
  resourcesOfType(t, 'AWS::SNS::Subscription')
    .filter(([, subscription]) => subscription.Properties.Protocol === 'sqs')
    .map(([id, subscription]) => ({
    id,
    props: subscription.Properties,
    topicId: targetId(subscription.Properties.TopicArn, `${id}.TopicArn`),
    queueId: targetId(subscription.Properties.Endpoint, `${id}.Endpoint`),
  }));

/** Topics checked on their own, not as order-event fan-outs. */
const OTHER_TOPICS: string[] = [
  'ImportsTopic', // slice-line:imports (resources/imports-fanout.yml: standard, as S3 notifies standard topics only)
];

/** Topics that fan out order events to queues (the alarms topic has at most an e-mail subscription). */
const fanOutTopics = (t: Template): string[] => [...new Set(subscriptions(t).map((s) => s.topicId))].filter((id) => !OTHER_TOPICS.includes(id));

describe.each(STAGES)('SNS fan-out (%s stage)', (stage) => {
  let t: Template;
  beforeAll(async () => {
    t = await loadTemplate(stage);
  });

  // FIFO topics: https://docs.aws.amazon.com/sns/latest/dg/sns-fifo-topics.html
  // FifoThroughputScope: https://docs.aws.amazon.com/sns/latest/dg/fifo-high-throughput.html
  // Deduplication: https://docs.aws.amazon.com/sns/latest/dg/fifo-message-dedup.html
  // SSE: https://docs.aws.amazon.com/sns/latest/dg/sns-server-side-encryption.html
  it('the fan-out topic is FIFO, FifoThroughputScope MessageGroup, ContentBasedDeduplication false, KMS-encrypted', () => {
    const topics = fanOutTopics(t);
    expect(topics).toHaveLength(1);
    const props = resource(t, topics[0] as string).Properties;
    expect(props.FifoTopic).toBe(true);
    expect(String(props.TopicName)).toMatch(/\.fifo$/);
    expect(props.FifoThroughputScope).toBe('MessageGroup');
    expect(props.ContentBasedDeduplication).toBe(false);
    expect(props.KmsMasterKeyId).toBeTruthy();
  });

  // Raw delivery: https://docs.aws.amazon.com/sns/latest/dg/sns-large-payload-raw-message-delivery.html
  // Subscription DLQs ("the DLQ of a FIFO topic's subscription must be an SQS FIFO queue"):
  // https://docs.aws.amazon.com/sns/latest/dg/sns-dead-letter-queues.html
  it("every subscription: Protocol sqs, RawMessageDelivery true, a RedrivePolicy to a queue of its topic's kind (FIFO for a FIFO topic)", () => {
    const all = subscriptions(t);
    expect(all.length).toBeGreaterThan(0);
    const violations: string[] = [];
    for (const s of all) {
      if (s.props.Protocol !== 'sqs') violations.push(`${s.id}: Protocol ${s.props.Protocol}`);
      if (s.props.RawMessageDelivery !== true && s.props.RawMessageDelivery !== 'true') violations.push(`${s.id}: RawMessageDelivery is not true`);
      if (t.resources[s.queueId]?.Type !== 'AWS::SQS::Queue') violations.push(`${s.id}: Endpoint is not a queue of this stack`);
      const dlq = refId(s.props.RedrivePolicy?.deadLetterTargetArn);
      if (!dlq || t.resources[dlq]?.Type !== 'AWS::SQS::Queue') violations.push(`${s.id}: no RedrivePolicy to a queue of this stack`);
      else if (isFifoQueue(t, dlq) !== (resource(t, s.topicId).Properties.FifoTopic === true)) violations.push(`${s.id}: subscription DLQ ${dlq} is not of its topic's kind`);
    }
    expect(violations).toEqual([]);
  });

  // https://docs.aws.amazon.com/sns/latest/dg/sns-message-filtering.html and, for the scope,
  // https://docs.aws.amazon.com/sns/latest/dg/sns-message-filtering-scope.html
  it('filter policies: billing {type: [OrderPlaced]}, shipping {type: [OrderPlaced], fulfillment: [physical]}, every other subscriber none; FilterPolicyScope MessageAttributes wherever a filter exists', () => {
    const all = subscriptions(t);
    const subscribers = all.map((s) => queueShortName(t, s.queueId)).sort();
    expect(subscribers).toEqual(Object.keys(FILTER_POLICIES).sort());
    for (const s of all) {
      const name = queueShortName(t, s.queueId);
      expect(s.props.FilterPolicy, `${s.id} (${name}) FilterPolicy`).toEqual(FILTER_POLICIES[name]);
      if (s.props.FilterPolicy !== undefined) expect(s.props.FilterPolicyScope, `${s.id} FilterPolicyScope`).toBe('MessageAttributes');
    }
  });

  // High-throughput FIFO queues: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/high-throughput-fifo.html
  it('the order-store queue (every FIFO subscriber) is FIFO with DeduplicationScope messageGroup and FifoThroughputLimit perMessageGroupId', () => {
    const fifoSubscribers = subscriptions(t)
      .map((s) => s.queueId)
      .filter((id) => isFifoQueue(t, id));
    expect(fifoSubscribers.map((id) => queueShortName(t, id))).toContain('order-store.fifo');
    for (const id of fifoSubscribers) {
      const props = resource(t, id).Properties;
      expect(props.DeduplicationScope, `${id}.DeduplicationScope`).toBe('messageGroup');
      expect(props.FifoThroughputLimit, `${id}.FifoThroughputLimit`).toBe('perMessageGroupId');
    }
  });

  // CloudWatch alarm actions can publish only to a topic whose KMS key policy admits cloudwatch.amazonaws.com,
  // which the AWS managed alias/aws/sns key never does: https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger
  it('alarms: the alarms topic uses a customer managed key CloudWatch may use, and an e-mail subscription only when alarmEmail is set', () => {
    const alarmTopicIds = new Set(
      resourcesOfType(t, 'AWS::CloudWatch::Alarm').flatMap(([, alarm]) => (alarm.Properties.AlarmActions as Cfn[]).map((action) => targetId(action, 'AlarmActions'))),
    );
    expect([...alarmTopicIds]).toEqual(['AlarmsTopic']);
    const keyId = targetId(resource(t, 'AlarmsTopic').Properties.KmsMasterKeyId, 'AlarmsTopic.KmsMasterKeyId');
    const key = resource(t, keyId);
    expect(key.Type).toBe('AWS::KMS::Key');
    const cloudwatch = (key.Properties.KeyPolicy.Statement as Cfn[]).find((statement) => statement.Principal?.Service === 'cloudwatch.amazonaws.com');
    expect(cloudwatch?.Action).toEqual(expect.arrayContaining(['kms:Decrypt', 'kms:GenerateDataKey*']));
    const email = resourcesOfType(t, 'AWS::SNS::Subscription').filter(([, subscription]) => subscription.Properties.Protocol === 'email');
    expect(email.map(([id, subscription]) => [id, (subscription as { Condition?: string }).Condition])).toEqual([['AlarmsEmailSubscription', 'HasAlarmEmail']]);
  });
});
