import { beforeAll, describe, expect, it } from 'vitest';
import {
  STAGES,
  asArray,
  deadLetterQueueIds,
  loadTemplate,
  refId,
  resourcesOfType,
  workQueueIds,
  type Cfn,
  type Template,
} from './helpers.ts';

interface Alarm {
  id: string;
  props: Cfn;
  /** The resource its dimension names (QueueName → the queue, StreamName → the stream). */
  target: string | undefined;
}

const alarms = (t: Template, namespace: string, metric: string, dimension: string): Alarm[] =>
  resourcesOfType(t, 'AWS::CloudWatch::Alarm')
    .filter(([, alarm]) => alarm.Properties.Namespace === namespace && alarm.Properties.MetricName === metric)
    .map(([id, alarm]) => ({
      id,
      props: alarm.Properties,
      target: refId(asArray<Cfn>(alarm.Properties.Dimensions).find((d) => d.Name === dimension)?.Value),
    }));

describe.each(STAGES)('Alarms (%s stage)', (stage) => {
  let t: Template;
  beforeAll(async () => {
    t = await loadTemplate(stage);
  });

  // NumberOfMessagesSent does not count messages moved to a DLQ after failed receives, so the alarm watches
  // ApproximateNumberOfMessagesVisible:
  // https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html#sqs-dlq-number-of-messages
  // and https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/dead-letter-queues-alarms-cloudwatch.html
  it('one alarm per DLQ (every RedrivePolicy deadLetterTargetArn, subscription DLQ and Kinesis on-failure queue): ApproximateNumberOfMessagesVisible > 0, with an action', () => {
    const dlqs = deadLetterQueueIds(t);
    expect(dlqs.length).toBeGreaterThan(0);
    const visible = alarms(t, 'AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName');
    const violations: string[] = [];
    for (const dlq of dlqs) {
      const found = visible.filter((alarm) => alarm.target === dlq);
      if (found.length !== 1) {
        violations.push(`${dlq}: ${found.length} message alarms`);
        continue;
      }
      const { id, props } = found[0] as Alarm;
      if (Number(props.Threshold) !== 0 || props.ComparisonOperator !== 'GreaterThanThreshold') violations.push(`${id}: ${props.ComparisonOperator} ${props.Threshold}`);
      if (asArray(props.AlarmActions).length === 0) violations.push(`${id}: no AlarmActions`);
    }
    expect(violations).toEqual([]);
  });

  // https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Best_Practice_Recommended_Alarms_AWS_Services.html#SQS
  it('an ApproximateAgeOfOldestMessage alarm per work queue', () => {
    const queues = workQueueIds(t);
    expect(queues.length).toBeGreaterThan(0);
    const age = alarms(t, 'AWS/SQS', 'ApproximateAgeOfOldestMessage', 'QueueName');
    const violations = queues.filter((queue) => !age.some((alarm) => alarm.target === queue && asArray(alarm.props.AlarmActions).length > 0));
    expect(violations).toEqual([]);
  });

  // slice-begin:analytics
  // https://docs.aws.amazon.com/streams/latest/dev/monitoring-with-cloudwatch.html (GetRecords.IteratorAgeMilliseconds)
  it('an iterator-age alarm on every Kinesis stream', () => {
    const streams = resourcesOfType(t, 'AWS::Kinesis::Stream').map(([id]) => id);
    expect(streams.length).toBeGreaterThan(0);
    const iteratorAge = alarms(t, 'AWS/Kinesis', 'GetRecords.IteratorAgeMilliseconds', 'StreamName');
    const violations = streams.filter((stream) => !iteratorAge.some((alarm) => alarm.target === stream && asArray(alarm.props.AlarmActions).length > 0));
    expect(violations).toEqual([]);
  });
  // slice-end:analytics
});
