/**
 * Which queues are dead-letter queues, and for what, read from the stack's CloudFormation template (the compiled
 * one locally, the deployed one from GetTemplate on AWS): both name resources by logical id, so one reading serves
 * both. Pure: no AWS call.
 *
 * Three kinds of DLQ (docs/architecture.md):
 * - `queue`: the target of an SQS queue's RedrivePolicy; SQS moves a message there after maxReceiveCount receives.
 *   Redrive target: that source queue.
 * - `subscription`: the target of an SNS subscription's RedrivePolicy; SNS puts there what it could not deliver to
 *   the subscribed queue. Redrive target: the subscription's endpoint queue.
 * - `stream`: a Kinesis event source mapping's DestinationConfig.OnFailure; Lambda puts there a pointer (shard,
 *   sequence numbers) to the records it gave up on. Redrive: re-read the records and re-invoke the consumer.
 */
import type { CfnTemplate } from 'local-cloud';
import { isRecord } from '#lib/domain/validate.ts';

type DlqKind = 'queue' | 'subscription' | 'stream';

interface DlqSource {
  kind: DlqKind;
  /** The queue (queue DLQ), subscription (subscription DLQ) or event source mapping (stream DLQ) it catches for. */
  logicalId: string;
  /** The function that consumed the source (queue: its mapping; stream: the mapping), when there is one. */
  consumerLogicalId?: string;
  /** Queue DLQ: the source queue. Subscription DLQ: the endpoint queue. Stream DLQ: none (re-invoke). */
  redriveTargetLogicalId?: string;
  /** Subscription DLQ: the topic. Stream DLQ: the stream. */
  originLogicalId?: string;
  maxReceiveCount?: number;
}

interface DlqInfo {
  logicalId: string;
  /** QueueName from the template when it is a literal (the compiled template has them). */
  queueName?: string;
  fifo: boolean;
  sources: DlqSource[];
}


/**
 * The logical id a reference points at: `{ Ref: X }`, `{ 'Fn::GetAtt': [X, 'Arn'] }` or `'X.Arn'`, or a literal ARN
 * or URL whose last segment is the QueueName of a resource of the template.
 */
function referencedId(template: CfnTemplate, value: unknown): string | undefined {
  if (isRecord(value)) {
    if (typeof value.Ref === 'string') return value.Ref;
    const getAtt = value['Fn::GetAtt'];
    if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') return getAtt[0];
    if (typeof getAtt === 'string') return getAtt.split('.')[0];
    return undefined;
  }
  if (typeof value !== 'string') return undefined;
  const name = value.split(/[:/]/).pop();
  return Object.entries(template.Resources).find(([, resource]) => resource.Properties?.QueueName === name)?.[0];
}

function queueNameOf(template: CfnTemplate, logicalId: string): string | undefined {
  const name = template.Resources[logicalId]?.Properties?.QueueName;
  return typeof name === 'string' ? name : undefined;
}

function isFifo(template: CfnTemplate, logicalId: string): boolean {
  const props = template.Resources[logicalId]?.Properties ?? {};
  return props.FifoQueue === true || props.FifoQueue === 'true' || (queueNameOf(template, logicalId)?.endsWith('.fifo') ?? false);
}

/** The function behind each event source: source logical id → function logical id. */
function consumers(template: CfnTemplate): Map<string, string> {
  const out = new Map<string, string>();
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::EventSourceMapping') continue;
    const source = referencedId(template, resource.Properties?.EventSourceArn);
    const fn = referencedId(template, resource.Properties?.FunctionName);
    if (source && fn) out.set(source, fn);
  }
  return out;
}

/**
 * Every DLQ of the template with what it catches for, in template order.
 *
 * @example
 * dlqsOf(template).find((dlq) => dlq.logicalId === 'BillingDLQ');
 * // { logicalId: 'BillingDLQ', queueName: 'orderflow-local-billing-dlq', fifo: false,
 * //   sources: [{ kind: 'queue', logicalId: 'BillingQueue', consumerLogicalId: 'ChargeOrderLambdaFunction', redriveTargetLogicalId: 'BillingQueue', maxReceiveCount: 5 }] }
 */
function dlqsOf(template: CfnTemplate): DlqInfo[] {
  const byId = new Map<string, DlqInfo>();
  const add = (dlqId: string | undefined, source: DlqSource): void => {
    if (!dlqId || template.Resources[dlqId]?.Type !== 'AWS::SQS::Queue' || !created(template, dlqId)) return;
    let dlq = byId.get(dlqId);
    if (!dlq) {
      const queueName = queueNameOf(template, dlqId);
      dlq = { logicalId: dlqId, ...(queueName ? { queueName } : {}), fifo: isFifo(template, dlqId), sources: [] };
      byId.set(dlqId, dlq);
    }
    dlq.sources.push(source);
  };
  const consumerOf = consumers(template);
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (!created(template, logicalId)) continue;
    const props = resource.Properties ?? {};
    const redrive = typeof props.RedrivePolicy === 'string' ? (JSON.parse(props.RedrivePolicy) as unknown) : props.RedrivePolicy;
    if (resource.Type === 'AWS::SQS::Queue' && isRecord(redrive)) {
      const consumer = consumerOf.get(logicalId);
      add(referencedId(template, redrive.deadLetterTargetArn), {
        kind: 'queue',
        logicalId,
        redriveTargetLogicalId: logicalId,
        ...(consumer ? { consumerLogicalId: consumer } : {}),
        ...(redrive.maxReceiveCount === undefined ? {} : { maxReceiveCount: Number(redrive.maxReceiveCount) }),
      });
    } else if (resource.Type === 'AWS::SNS::Subscription' && isRecord(redrive)) {
      const endpoint = props.Protocol === 'sqs' ? referencedId(template, props.Endpoint) : undefined;
      const topic = referencedId(template, props.TopicArn);
      add(referencedId(template, redrive.deadLetterTargetArn), {
        kind: 'subscription',
        logicalId,
        ...(endpoint ? { redriveTargetLogicalId: endpoint } : {}),
        ...(topic ? { originLogicalId: topic } : {}),
      });
    } else if (resource.Type === 'AWS::Lambda::EventSourceMapping' && isRecord(props.DestinationConfig) && isRecord(props.DestinationConfig.OnFailure)) {
      const stream = referencedId(template, props.EventSourceArn);
      const fn = referencedId(template, props.FunctionName);
      add(referencedId(template, props.DestinationConfig.OnFailure.Destination), {
        kind: 'stream',
        logicalId,
        ...(fn ? { consumerLogicalId: fn } : {}),
        ...(stream ? { originLogicalId: stream } : {}),
      });
    }
  }
  return [...byId.values()];
}

/**
 * Whether CloudFormation creates the resource: false when its Condition evaluates to false on literal values (an
 * opt-in stage param left '', e.g. resources/partner-access.yml). A condition that depends on anything else (a
 * stack parameter) counts as true.
 */
function created(template: CfnTemplate, logicalId: string): boolean {
  const name = (template.Resources[logicalId] as { Condition?: unknown } | undefined)?.Condition;
  return typeof name !== 'string' || holds(template, { Condition: name }, 0) !== false;
}

/** A condition's value, or undefined when it cannot be known from the template alone. */
function holds(template: CfnTemplate, value: unknown, depth: number): boolean | undefined {
  if (depth > 20 || !isRecord(value)) return typeof value === 'boolean' ? value : undefined;
  const conditions = (template as { Conditions?: Record<string, unknown> }).Conditions ?? {};
  const args = (key: string): unknown[] => (Array.isArray(value[key]) ? (value[key] as unknown[]) : []);
  if (typeof value.Condition === 'string') return holds(template, conditions[value.Condition], depth + 1);
  if ('Fn::Not' in value) {
    const inner = holds(template, args('Fn::Not')[0], depth + 1);
    return inner === undefined ? undefined : !inner;
  }
  if ('Fn::And' in value || 'Fn::Or' in value) {
    const all = args('Fn::And' in value ? 'Fn::And' : 'Fn::Or').map((each) => holds(template, each, depth + 1));
    if (all.includes(undefined)) return undefined;
    return 'Fn::And' in value ? all.every(Boolean) : all.some(Boolean);
  }
  if ('Fn::Equals' in value) {
    const [left, right] = args('Fn::Equals');
    const literal = (side: unknown): boolean => ['string', 'number', 'boolean'].includes(typeof side);
    return literal(left) && literal(right) ? String(left) === String(right) : undefined;
  }
  return undefined;
}

/** Every queue of the template: logical id → QueueName (when literal). */
function queuesOf(template: CfnTemplate): { logicalId: string; queueName?: string; fifo: boolean }[] {
  return Object.entries(template.Resources)
    .filter(([logicalId, resource]) => resource.Type === 'AWS::SQS::Queue' && created(template, logicalId))
    .map(([logicalId]) => {
      const queueName = queueNameOf(template, logicalId);
      return { logicalId, ...(queueName ? { queueName } : {}), fifo: isFifo(template, logicalId) };
    });
}

/**
 * Finds a queue of the template by a name as an operator types it: the full name (`orderflow-dev-billing-dlq`),
 * the name without the stack prefix (`billing-dlq`), with or without `.fifo`, or the logical id (`BillingDLQ`).
 * `physicalName` gives a queue's name where the template has none (AWS: from the stack's resources).
 */
function findQueue<T extends { logicalId: string; queueName?: string }>(queues: T[], wanted: string, physicalName: (q: T) => string | undefined = (q) => q.queueName): T | undefined {
  const bare = wanted.replace(/\.fifo$/, '');
  const matches = (queue: T): boolean => {
    if (queue.logicalId === wanted) return true;
    const name = physicalName(queue);
    if (!name) return false;
    const base = name.replace(/\.fifo$/, '');
    return name === wanted || base === bare || base.endsWith(`-${bare}`);
  };
  const found = queues.filter(matches);
  // An exact name wins; otherwise the short name must be unambiguous (the caller lists the candidates).
  return found.find((q) => physicalName(q) === wanted || q.logicalId === wanted) ?? (found.length === 1 ? found[0] : undefined);
}

export { dlqsOf, findQueue, queuesOf };
export type { DlqInfo, DlqSource };
