import { beforeAll, describe, expect, it } from 'vitest';
import { STAGES, loadTemplate, refId, resolveValue, resource, resourcesOfType, type Cfn, type Template } from './helpers.ts';

/** SNS's hard limit on an HTTP/S delivery policy's total retry time (SNS developer guide, "Amazon SNS message delivery retries"). */
const HTTP_POLICY_MAX_SECONDS = 3_600;

describe.each(STAGES)('SNS subscribers that are not queues (%s stage)', (stage) => {
  let t: Template;
  beforeAll(async () => {
    t = await loadTemplate(stage);
  });

  // A FIFO topic delivers to SQS only: https://docs.aws.amazon.com/sns/latest/dg/sns-fifo-topics.html
  it('shipment notices go to a standard, KMS-encrypted topic, published by shipOrder only', () => {
    // Prepare
    const topic = resource(t, 'ShipmentNoticesTopic');
    const ship = resource(t, 'ShipOrderLambdaFunction');

    // Assess
    expect(topic.Type).toBe('AWS::SNS::Topic');
    expect(topic.Properties.FifoTopic).toBeUndefined();
    expect(topic.Properties.KmsMasterKeyId).toBe('alias/aws/sns');
    expect(refId(ship.Properties.Environment.Variables.SHIPMENT_NOTICES_TOPIC_ARN)).toBe('ShipmentNoticesTopic');
    expect(refId(t.outputs.ShipmentNoticesTopicArn.Value)).toBe('ShipmentNoticesTopic');
  });

  it('the partner webhook is off unless partnerWebhookUrl is set; with it: the filter, a delivery policy within SNS limits, a DLQ with its policy and alarm', () => {
    // Prepare
    const subscription = resource(t, 'PartnerWebhookSubscription') as { Condition?: string; Properties: Cfn };
    const retry = subscription.Properties.DeliveryPolicy.healthyRetryPolicy;
    const backoffRetries = retry.numRetries - retry.numNoDelayRetries - retry.numMinDelayRetries - retry.numMaxDelayRetries;
    const worstCaseSeconds = retry.numMinDelayRetries * retry.minDelayTarget + (backoffRetries + retry.numMaxDelayRetries) * retry.maxDelayTarget;
    const conditioned = ['PartnerWebhookSubscription', 'PartnerWebhookDLQ', 'PartnerWebhookDLQPolicy', 'PartnerWebhookDLQAlarm'];

    // Assess
    expect(t.params.partnerWebhookUrl).toBe('');
    expect(conditioned.map((id) => (resource(t, id) as { Condition?: string }).Condition)).toEqual(conditioned.map(() => 'HasPartnerWebhook'));
    expect(refId(subscription.Properties.TopicArn)).toBe('ShipmentNoticesTopic');
    expect(subscription.Properties.FilterPolicy).toEqual({ type: ['OrderShipped'] });
    expect(subscription.Properties.FilterPolicyScope).toBe('MessageAttributes');
    expect(refId(subscription.Properties.RedrivePolicy.deadLetterTargetArn)).toBe('PartnerWebhookDLQ');
    expect(retry.numRetries).toBeGreaterThan(3); // more than SNS's default: a partner redeploying loses nothing
    expect(retry.minDelayTarget).toBeGreaterThanOrEqual(1);
    expect(worstCaseSeconds).toBeLessThanOrEqual(HTTP_POLICY_MAX_SECONDS);
    expect(subscription.Properties.DeliveryPolicy.requestPolicy.headerContentType).toBe('application/json');
    expect(resource(t, 'PartnerWebhookDLQ').Properties.MessageRetentionPeriod).toBe(t.params.dlqRetentionSeconds);
  });

  // https://docs.aws.amazon.com/lambda/latest/dg/with-sns.html: SNS needs lambda:InvokeFunction through the function's resource policy.
  it('announceShipment is a Lambda subscription of the topic, and the topic (only) may invoke it', () => {
    // Prepare
    const lambdaSubscriptions = resourcesOfType(t, 'AWS::SNS::Subscription').filter(([, subscription]) => subscription.Properties.Protocol === 'lambda');
    const permissions = resourcesOfType(t, 'AWS::Lambda::Permission').filter(([, permission]) => permission.Properties.Principal === 'sns.amazonaws.com');

    // Assess
    expect(lambdaSubscriptions).toHaveLength(1);
    const [, subscription] = lambdaSubscriptions[0] as [string, { Properties: Cfn }];
    expect(refId(subscription.Properties.TopicArn)).toBe('ShipmentNoticesTopic');
    expect(refId(subscription.Properties.Endpoint)).toBe('AnnounceShipmentLambdaFunction');
    expect(permissions).toHaveLength(1);
    const [, permission] = permissions[0] as [string, { Properties: Cfn }];
    expect(permission.Properties.Action).toBe('lambda:InvokeFunction');
    expect(refId(permission.Properties.FunctionName)).toBe('AnnounceShipmentLambdaFunction');
    expect(resolveValue(t, permission.Properties.SourceArn)).toBe(resolveValue(t, { Ref: 'ShipmentNoticesTopic' }));
  });
});
