import { beforeAll, describe, expect, it } from 'vitest';
import {
  FAKE,
  STAGES,
  actionsOf,
  asArray,
  conditionValues,
  isTlsOnlyDeny,
  loadTemplate,
  refId,
  resolveValue,
  resourcesOf,
  resourcesOfType,
  servicePrincipals,
  targetId,
  type Cfn,
  type Statement,
  type Template,
} from './helpers.ts';

interface QueuePolicy {
  id: string;
  queues: string[];
  statements: Statement[];
}

const queuePolicies = (t: Template): QueuePolicy[] =>
  resourcesOfType(t, 'AWS::SQS::QueuePolicy').map(([id, policy]) => ({
    id,
    queues: asArray<Cfn>(policy.Properties.Queues).map((queue) => targetId(queue, `${id}.Queues`)),
    statements: asArray<Statement>(policy.Properties.PolicyDocument.Statement),
  }));

/** Queue ARNs a statement covers; `*` in a queue policy means "the queues this policy is attached to". */
const coveredQueueArns = (t: Template, policy: QueuePolicy, statement: Statement): string[] => {
  const resources = resourcesOf(t, statement);
  return resources.includes('*') ? policy.queues.map((id) => resolveValue(t, { 'Fn::GetAtt': [id, 'Arn'] })) : resources;
};

const queueArn = (t: Template, id: string): string => resolveValue(t, { 'Fn::GetAtt': [id, 'Arn'] });
const bucketArn = (t: Template, id: string): string => resolveValue(t, { 'Fn::GetAtt': [id, 'Arn'] });

/** Bucket → queue notification targets, from every bucket's NotificationConfiguration.QueueConfigurations. */
const queueNotifications = (t: Template): Array<{ bucketId: string; queueId: string; event: string; rules: Cfn[] }> =>
  resourcesOfType(t, 'AWS::S3::Bucket').flatMap(([bucketId, bucket]) =>
    asArray<Cfn>(bucket.Properties?.NotificationConfiguration?.QueueConfigurations).map((config) => ({
      bucketId,
      queueId: targetId(config.Queue, `${bucketId}.NotificationConfiguration`),
      event: config.Event,
      rules: asArray<Cfn>(config.Filter?.S3Key?.Rules),
    })),
  );

describe.each(STAGES)('Access policies (%s stage)', (stage) => {
  let t: Template;
  beforeAll(async () => {
    t = await loadTemplate(stage);
  });

  // https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html
  it('every bucket blocks public access (all four PublicAccessBlockConfiguration settings true)', () => {
    const buckets = resourcesOfType(t, 'AWS::S3::Bucket');
    expect(buckets.length).toBeGreaterThan(0);
    const four = { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true };
    for (const [id, bucket] of buckets) expect(bucket.Properties?.PublicAccessBlockConfiguration, id).toEqual(four);
  });

  // https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html ("Enforce encryption of data
  // in transit": deny requests where aws:SecureTransport is false)
  it('every bucket has a bucket policy denying aws:SecureTransport false on the bucket and its objects', () => {
    const buckets = resourcesOfType(t, 'AWS::S3::Bucket');
    const policies = resourcesOfType(t, 'AWS::S3::BucketPolicy');
    const violations: string[] = [];
    for (const [id] of buckets) {
      const arn = bucketArn(t, id);
      const denies = policies
        .filter(([, policy]) => refId(policy.Properties.Bucket) === id)
        .flatMap(([, policy]) => asArray<Statement>(policy.Properties.PolicyDocument.Statement))
        .filter((statement) => isTlsOnlyDeny(statement, 's3'));
      const covered = denies.flatMap((statement) => resourcesOf(t, statement));
      if (!(covered.includes(arn) && covered.includes(`${arn}/*`))) violations.push(`${id}: no TLS-only deny covering ${arn} and ${arn}/*`);
    }
    expect(violations).toEqual([]);
  });

  // https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-security-best-practices.html
  // ("Enforce encryption of data in transit"). A queue takes ONE policy: two AWS::SQS::QueuePolicy resources on
  // the same queue overwrite each other (SetQueueAttributes Policy replaces the whole document).
  it('every queue is covered by exactly one queue policy, and it has a TLS-only deny for that queue', () => {
    const policies = queuePolicies(t);
    const violations: string[] = [];
    for (const [id] of resourcesOfType(t, 'AWS::SQS::Queue')) {
      const attached = policies.filter((policy) => policy.queues.includes(id));
      if (attached.length !== 1) {
        violations.push(`${id}: in ${attached.length} queue policies (${attached.map((p) => p.id).join(', ')})`);
        continue;
      }
      const policy = attached[0] as QueuePolicy;
      const guarded = policy.statements.some((s) => isTlsOnlyDeny(s, 'sqs') && coveredQueueArns(t, policy, s).includes(queueArn(t, id)));
      if (!guarded) violations.push(`${id}: ${policy.id} has no TLS-only deny covering it`);
    }
    expect(violations).toEqual([]);
  });

  // https://docs.aws.amazon.com/sns/latest/dg/subscribe-sqs-queue-to-sns-topic.html (queue policy with
  // aws:SourceArn = the topic) and https://docs.aws.amazon.com/sns/latest/dg/sns-dead-letter-queues.html
  it('queue-policy statements that allow sns.amazonaws.com are scoped by aws:SourceArn to the topic, and cover every subscription queue and subscription DLQ', () => {
    const violations: string[] = [];
    const allowedBy = new Map<string, Set<string>>(); // queue ARN → topic ARNs that may send to it
    for (const policy of queuePolicies(t)) {
      for (const statement of policy.statements) {
        if (statement.Effect !== 'Allow' || !servicePrincipals(statement).includes('sns.amazonaws.com')) continue;
        const sources = conditionValues(t, statement, 'aws:SourceArn');
        const topicArns = resourcesOfType(t, 'AWS::SNS::Topic').map(([id]) => resolveValue(t, { Ref: id }));
        if (sources.length === 0 || !sources.every((arn) => topicArns.includes(arn))) {
          violations.push(`${policy.id}/${statement.Sid ?? '?'}: aws:SourceArn ${JSON.stringify(sources)} is not a topic of this stack`);
        }
        for (const queue of coveredQueueArns(t, policy, statement)) {
          for (const source of sources) allowedBy.set(queue, new Set([...(allowedBy.get(queue) ?? []), source]));
        }
      }
    }
    for (const [id, subscription] of resourcesOfType(t, 'AWS::SNS::Subscription')) {
      const topic = resolveValue(t, subscription.Properties.TopicArn);
      // The endpoint is a queue only for protocol sqs (not for a webhook URL or a function); every DLQ is one.
      const endpoint = subscription.Properties.Protocol === 'sqs' ? subscription.Properties.Endpoint : undefined;
      const targets = [endpoint, subscription.Properties.RedrivePolicy?.deadLetterTargetArn].filter(Boolean);
      for (const target of targets) {
        const arn = resolveValue(t, target);
        if (!allowedBy.get(arn)?.has(topic)) violations.push(`${id}: no queue policy lets ${topic} send to ${arn}`);
      }
    }
    expect(violations).toEqual([]);
  });

  // https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html (queue policy
  // with aws:SourceArn and aws:SourceAccount) and https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html
  it('queue-policy statements that allow s3.amazonaws.com have aws:SourceArn and aws:SourceAccount, the SourceArn being exactly the bucket(s) whose notifications target that queue', () => {
    const notifications = queueNotifications(t);
    expect(notifications.length).toBeGreaterThan(0);
    const violations: string[] = [];
    const allowed = new Set<string>(); // "<bucket ARN> → <queue ARN>"
    for (const policy of queuePolicies(t)) {
      for (const statement of policy.statements) {
        if (statement.Effect !== 'Allow' || !servicePrincipals(statement).includes('s3.amazonaws.com')) continue;
        const where = `${policy.id}/${statement.Sid ?? '?'}`;
        const sources = conditionValues(t, statement, 'aws:SourceArn');
        const accounts = conditionValues(t, statement, 'aws:SourceAccount');
        if (!accounts.length || !accounts.every((account) => account === FAKE.AccountId)) violations.push(`${where}: aws:SourceAccount ${JSON.stringify(accounts)} is not the stack's account`);
        if (!actionsOf(statement).every((action) => action === 'sqs:SendMessage')) violations.push(`${where}: allows ${JSON.stringify(statement.Action)}, S3 needs only sqs:SendMessage`);
        for (const queue of coveredQueueArns(t, policy, statement)) {
          const notifying = [...new Set(notifications.filter((n) => queueArn(t, n.queueId) === queue).map((n) => bucketArn(t, n.bucketId)))].sort();
          if (JSON.stringify([...sources].sort()) !== JSON.stringify(notifying)) violations.push(`${where}: aws:SourceArn ${JSON.stringify(sources)} for ${queue}, but the buckets notifying it are ${JSON.stringify(notifying)}`);
          for (const source of sources) allowed.add(`${source} → ${queue}`);
        }
      }
    }
    for (const n of notifications) {
      const pair = `${bucketArn(t, n.bucketId)} → ${queueArn(t, n.queueId)}`;
      if (!allowed.has(pair)) violations.push(`${n.bucketId}: no queue policy lets the bucket notify ${n.queueId} (${pair})`);
    }
    expect(violations).toEqual([]);
  });

  // https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-filtering.html
  it('S3 notifications to queues: documents bucket → document-events queue for documents/invoices/ and documents/labels/ (the imports bucket notifies a topic: imports-fanout.test.ts)', () => {
    const named = (id: string, property: string): string => {
      const value = resolveValue(t, t.resources[id]?.Properties?.[property]);
      return value.replace(`${t.stackName}-`, '').replace(`-${FAKE.AccountId}`, '').replace(`${t.service}-${t.stage}-`, '');
    };
    const actual = queueNotifications(t)
      .map((n) => ({
        bucket: named(n.bucketId, 'BucketName'),
        queue: named(n.queueId, 'QueueName'),
        event: n.event,
        filter: n.rules.map((rule: Cfn) => `${String(rule.Name).toLowerCase()}=${rule.Value}`).join(','),
      }))
      .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    expect(actual).toEqual([
      { bucket: 'documents', queue: 'document-events', event: 's3:ObjectCreated:*', filter: 'prefix=documents/invoices/' },
      { bucket: 'documents', queue: 'document-events', event: 's3:ObjectCreated:*', filter: 'prefix=documents/labels/' },
    ]);
  });
});
