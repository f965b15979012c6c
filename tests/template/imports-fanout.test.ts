/**
 * S3 events to several queues through SNS (resources/imports-fanout.yml): the imports bucket notifies one standard
 * topic, which fans out to its queues (import-jobs and any other subscribed to it); the topic policy lets
 * only the imports bucket of this account publish, each queue policy lets only the topic send.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  FAKE,
  STAGES,
  actionsOf,
  asArray,
  conditionValues,
  loadTemplate,
  resolveValue,
  resource,
  resourcesOfType,
  servicePrincipals,
  sqsMappings,
  type Cfn,
  type Statement,
  type Template,
} from './helpers.ts';

const arnOf = (t: Template, id: string): string => resolveValue(t, { 'Fn::GetAtt': [id, 'Arn'] });

/** The imports topic's queues and the function each one feeds. */
const CONSUMERS: [queue: string, fn: string][] = [
  ['ImportJobsQueue', 'ImportOrdersLambdaFunction'],
  ['ImportAuditQueue', 'AuditImportLambdaFunction'], // slice-line:analytics
];
const QUEUES = CONSUMERS.map(([queue]) => queue);

describe.each(STAGES)('Imports fan-out: S3 → SNS → queues (%s stage)', (stage) => {
  let t: Template;
  beforeAll(async () => {
    t = await loadTemplate(stage);
  });

  // https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-filtering.html (one rule per event
  // type and overlapping filter) and https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-event-types-and-destinations.html
  it('the imports bucket has one rule, ObjectCreated *.ndjson, to the imports topic (standard: S3 cannot notify a FIFO topic), and no queue rule', () => {
    // Act
    const notification = resource(t, 'ImportsBucket').Properties.NotificationConfiguration;

    // Assess
    expect(notification.QueueConfigurations).toBeUndefined();
    expect(notification.TopicConfigurations).toEqual([{ Event: 's3:ObjectCreated:*', Topic: { Ref: 'ImportsTopic' }, Filter: { S3Key: { Rules: [{ Name: 'suffix', Value: '.ndjson' }] } } }]);
    expect(resource(t, 'ImportsTopic').Properties.FifoTopic).toBeUndefined();
    expect(asArray(resource(t, 'ImportsBucket').DependsOn)).toContain('ImportsTopicPolicy');
  });

  it('the topic fans out, raw, to each of its queues, each through a subscription with a DLQ, each queue to its function', () => {
    // Act
    const fanOut = resourcesOfType(t, 'AWS::SNS::Subscription')
      .filter(([, subscription]) => subscription.Properties.TopicArn?.Ref === 'ImportsTopic')
      .map(([, subscription]) => subscription.Properties);
    const consumers = sqsMappings(t)
      .filter((mapping) => QUEUES.includes(mapping.sourceId))
      .map((mapping) => `${mapping.sourceId} → ${mapping.functionId}`)
      .sort();

    // Assess
    expect(fanOut.map((s: Cfn) => s.Endpoint['Fn::GetAtt'][0]).sort()).toEqual([...QUEUES].sort());
    for (const subscription of fanOut) {
      expect(subscription.Protocol).toBe('sqs');
      expect(subscription.RawMessageDelivery).toBe(true);
      expect(subscription.RedrivePolicy.deadLetterTargetArn).toEqual({ 'Fn::GetAtt': ['ImportsSubscriptionDLQ', 'Arn'] });
    }
    expect(consumers).toEqual(CONSUMERS.map(([queue, fn]) => `${queue} → ${fn}`).sort());
  });

  // https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html and
  // https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html
  it('the topic policy lets s3.amazonaws.com sns:Publish only with the imports bucket as aws:SourceArn and this account as aws:SourceAccount', () => {
    // Arrange
    const policy = resource(t, 'ImportsTopicPolicy').Properties;
    const statements = asArray<Statement>(policy.PolicyDocument.Statement);

    // Act
    const allows = statements.filter((statement) => statement.Effect === 'Allow');

    // Assess
    expect(policy.Topics).toEqual([{ Ref: 'ImportsTopic' }]);
    expect(allows).toHaveLength(1);
    const [allow] = allows as [Statement];
    expect(servicePrincipals(allow)).toEqual(['s3.amazonaws.com']);
    expect(actionsOf(allow)).toEqual(['sns:Publish']);
    expect(conditionValues(t, allow, 'aws:SourceArn')).toEqual([arnOf(t, 'ImportsBucket')]);
    expect(conditionValues(t, allow, 'aws:SourceAccount')).toEqual([FAKE.AccountId]);
  });

  it("the topic's key lets S3 encrypt what it publishes (the AWS managed alias/aws/sns would not)", () => {
    // Act
    const key = resource(t, 'ImportsTopicKey').Properties;
    const forS3 = asArray<Statement>(key.KeyPolicy.Statement).filter((statement) => servicePrincipals(statement).includes('s3.amazonaws.com'));

    // Assess
    expect(resource(t, 'ImportsTopic').Properties.KmsMasterKeyId).toEqual({ Ref: 'ImportsTopicKey' });
    expect(forS3).toHaveLength(1);
    expect(actionsOf(forS3[0] as Statement).sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey*']);
  });

  it("the queue policy lets only the imports topic send to its queues and the subscription DLQ; S3 may no longer send to import-jobs", () => {
    // Arrange
    const queuePolicies = resourcesOfType(t, 'AWS::SQS::QueuePolicy').map(([, policy]) => asArray<Statement>(policy.Properties.PolicyDocument.Statement));

    // Act
    const senders = queuePolicies.flat().filter((statement) => statement.Effect === 'Allow' && resolvedResources(t, statement).includes(arnOf(t, 'ImportJobsQueue')));

    // Assess
    expect(senders).toHaveLength(1);
    const [sender] = senders as [Statement];
    expect(servicePrincipals(sender)).toEqual(['sns.amazonaws.com']);
    expect(conditionValues(t, sender, 'aws:SourceArn')).toEqual([resolveValue(t, { Ref: 'ImportsTopic' })]);
    expect(resolvedResources(t, sender).sort()).toEqual([...QUEUES, 'ImportsSubscriptionDLQ'].map((id) => arnOf(t, id)).sort());
  });
});

/** A statement's resources, resolved (a single value or a list). */
const resolvedResources = (t: Template, statement: Statement): string[] => asArray<Cfn>(statement.Resource).map((value) => resolveValue(t, value));
