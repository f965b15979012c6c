/**
 * SNS to S3 through Firehose (resources/order-archive.yml): a standard topic, its firehose subscription (raw, with
 * the role SNS assumes and a DLQ) into a DirectPut delivery stream writing one event a line under sns-archive/ of
 * the lake; every publisher of the FIFO order-events topic also publishes to the archive topic.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  STAGES,
  actionsOf,
  allowedResources,
  conditionValues,
  functionRoleId,
  lambdaFunctions,
  loadTemplate,
  refId,
  resolveValue,
  resource,
  resourcesOfType,
  roleStatements,
  servicePrincipals,
  type Cfn,
  type Statement,
  type Template,
} from './helpers.ts';

const arnOf = (t: Template, id: string): string => resolveValue(t, { 'Fn::GetAtt': [id, 'Arn'] });

describe.each(STAGES)('Order archive: SNS → Firehose → S3 (%s stage)', (stage) => {
  let t: Template;
  beforeAll(async () => {
    t = await loadTemplate(stage);
  });

  // A Firehose subscription needs a standard topic: https://docs.aws.amazon.com/sns/latest/dg/prereqs-kinesis-data-firehose.html
  it('the archive topic is standard (not FIFO) and KMS-encrypted; its one subscription is firehose, raw, to the delivery stream, with a role and a DLQ', () => {
    const topic = resource(t, 'OrderArchiveTopic');
    expect(topic.Properties.FifoTopic).toBeUndefined();
    expect(topic.Properties.KmsMasterKeyId).toBeDefined();
    const subscriptions = resourcesOfType(t, 'AWS::SNS::Subscription').filter(([, s]) => refId(s.Properties.TopicArn) === 'OrderArchiveTopic');
    expect(subscriptions.map(([id]) => id)).toEqual(['OrderArchiveSubscription']);
    const props = resource(t, 'OrderArchiveSubscription').Properties;
    expect(props.Protocol).toBe('firehose');
    expect(refId(props.Endpoint)).toBe('OrderArchiveDeliveryStream');
    expect(refId(props.SubscriptionRoleArn)).toBe('OrderArchiveSubscriptionRole');
    expect(props.RawMessageDelivery).toBe(true);
    expect(resource(t, refId(props.RedrivePolicy.deadLetterTargetArn) ?? '').Type).toBe('AWS::SQS::Queue');
  });

  // The recommended permissions: https://docs.aws.amazon.com/sns/latest/dg/prereqs-kinesis-data-firehose.html;
  // the confused deputy: https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html
  it('the subscription role trusts sns.amazonaws.com for this topic only and may put records into this stream only', () => {
    const role = resource(t, 'OrderArchiveSubscriptionRole').Properties;
    const trust = role.AssumeRolePolicyDocument.Statement as Statement[];
    expect(trust.flatMap(servicePrincipals)).toEqual(['sns.amazonaws.com']);
    expect(conditionValues(t, trust[0] as Statement, 'aws:SourceArn')).toEqual([resolveValue(t, { Ref: 'OrderArchiveTopic' })]);
    const { statements } = roleStatements(t, 'OrderArchiveSubscriptionRole');
    for (const action of ['firehose:PutRecord', 'firehose:PutRecordBatch', 'firehose:DescribeDeliveryStream']) {
      expect(allowedResources(t, statements, action)).toEqual([arnOf(t, 'OrderArchiveDeliveryStream')]);
    }
    expect(statements.flatMap(({ statement }) => actionsOf(statement)).every((action) => action.startsWith('firehose:'))).toBe(true);
  });

  // Delimiters: https://docs.aws.amazon.com/firehose/latest/dev/basic-deliver.html; error prefix:
  // https://docs.aws.amazon.com/firehose/latest/dev/s3-prefixes.html
  it('the delivery stream is DirectPut into the lake bucket under sns-archive/, one record a line, GZIP, with an error prefix and logging', () => {
    const props = resource(t, 'OrderArchiveDeliveryStream').Properties;
    expect(props.DeliveryStreamType).toBe('DirectPut');
    const destination = props.ExtendedS3DestinationConfiguration;
    expect(refId(destination.BucketARN)).toBe('LakeBucket');
    expect(destination.Prefix).toMatch(/^sns-archive\/year=!\{timestamp:yyyy\}\//);
    expect(destination.ErrorOutputPrefix).toMatch(/^sns-archive-errors\/!\{firehose:error-output-type\}\//);
    expect(destination.CompressionFormat).toBe('GZIP');
    expect(destination.DataFormatConversionConfiguration).toBeUndefined();
    expect(destination.ProcessingConfiguration.Processors.map((processor: Cfn) => processor.Type)).toEqual(['AppendDelimiterToRecord']);
    expect(destination.CloudWatchLoggingOptions.Enabled).toBe(true);
    // The role that writes it may write the lake bucket.
    const writer = refId(destination.RoleARN) ?? '';
    expect(allowedResources(t, roleStatements(t, writer).statements, 's3:PutObject')).toContain(`${arnOf(t, 'LakeBucket')}/*`);
  });

  it('the lake expires the raw archive (names and addresses) after orderArchiveDays', () => {
    const rules = resource(t, 'LakeBucket').Properties.LifecycleConfiguration.Rules as Cfn[];
    const rule = rules.find((candidate) => candidate.Prefix === 'sns-archive/');
    expect(rule?.Status).toBe('Enabled');
    expect(Number(rule?.ExpirationInDays)).toBeGreaterThan(0);
  });

  it('every function that publishes to the FIFO topic has ORDER_ARCHIVE_TOPIC_ARN and may publish to the archive topic; no other function has either', () => {
    const archiveArn = resolveValue(t, { Ref: 'OrderArchiveTopic' });
    const functions = lambdaFunctions(t);
    const publishers = functions.filter((fn) => refId(fn.props.Environment?.Variables?.TOPIC_ARN) === 'OrderEventsTopic');
    expect(publishers.map((fn) => fn.name)).toEqual(expect.arrayContaining(['placeOrder', 'chargeOrder', 'shipOrder']));
    for (const fn of functions) {
      const publishes = publishers.includes(fn);
      expect([fn.name, refId(fn.props.Environment?.Variables?.ORDER_ARCHIVE_TOPIC_ARN)]).toEqual([fn.name, publishes ? 'OrderArchiveTopic' : undefined]);
      expect([fn.name, allowedResources(t, roleStatements(t, functionRoleId(t, fn.id)).statements, 'sns:Publish').includes(archiveArn)]).toEqual([fn.name, publishes]);
    }
  });
});
