/**
 * The partner-shipments queue (resources/partner-access.yml): another AWS account consumes it, allowed by the queue
 * policy, only when the stage param partnerAccountId is set. Checked on the compiled template, packaged once
 * without the param (dev) and once with it.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { actionsOf, asArray, conditionValues, isTlsOnlyDeny, loadTemplate, resolveValue, resource, resourcesOf, type Cfn, type Statement, type Template } from './helpers.ts';

const PARTNER = '210987654321';
const CONDITION = 'HasPartnerAccount';
/** What a consumer needs (SQS developer guide, "Amazon SQS API permissions: Actions and resource reference"). */
const CONSUMER_ACTIONS = ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ReceiveMessage'];

/** Evaluates the condition functions this file uses (Fn::Not, Fn::Equals, Fn::And, Fn::Or) on literal values. */
const holds = (t: Template, value: Cfn): boolean => {
  if (typeof value === 'boolean') return value;
  if (value?.Condition !== undefined) return holds(t, t.conditions[value.Condition]);
  if (value?.['Fn::Not'] !== undefined) return !holds(t, value['Fn::Not'][0]);
  if (value?.['Fn::And'] !== undefined) return (value['Fn::And'] as Cfn[]).every((each) => holds(t, each));
  if (value?.['Fn::Or'] !== undefined) return (value['Fn::Or'] as Cfn[]).some((each) => holds(t, each));
  if (value?.['Fn::Equals'] !== undefined) {
    const [left, right] = value['Fn::Equals'] as Cfn[];
    return resolveValue(t, left) === resolveValue(t, right);
  }
  throw new Error(`Cannot evaluate the condition ${JSON.stringify(value)}`);
};

const partnerResourceIds = (t: Template): string[] => Object.keys(t.resources).filter((id) => id.startsWith('PartnerShipments'));

const queuePolicyStatements = (t: Template): Statement[] => asArray<Statement>(resource(t, 'PartnerShipmentsQueuePolicy').Properties.PolicyDocument.Statement);

/** Account principals (`Principal.AWS`) of a statement, resolved. */
const accountPrincipals = (t: Template, statement: Statement): string[] => asArray<Cfn>(statement.Principal?.AWS).map((principal) => resolveValue(t, principal));

describe('Partner access: a queue another account consumes (opt-in stage param partnerAccountId)', () => {
  let without: Template;
  let withPartner: Template;
  beforeAll(async () => {
    [without, withPartner] = await Promise.all([loadTemplate('dev'), loadTemplate('dev', { partnerAccountId: PARTNER })]);
  }, 300_000);

  it('without the param, every partner resource and output is left out by a Condition that is false', () => {
    // Act
    const ids = partnerResourceIds(without);

    // Assess
    expect(ids.sort()).toEqual([
      'PartnerShipmentsDLQ',
      'PartnerShipmentsDLQAlarm',
      'PartnerShipmentsDLQPolicy',
      'PartnerShipmentsQueue',
      'PartnerShipmentsQueuePolicy',
      'PartnerShipmentsSubscription',
      'PartnerShipmentsSubscriptionDLQ',
      'PartnerShipmentsSubscriptionDLQAlarm',
    ]);
    for (const id of ids) expect(resource(without, id).Condition, id).toBe(CONDITION);
    expect(without.outputs.PartnerShipmentsQueueUrl?.Condition).toBe(CONDITION);
    expect(holds(without, { Condition: CONDITION })).toBe(false);
  });

  it('with the param, the Condition holds and the queue policy lets the partner account consume: receive, delete, extend visibility, read attributes; nothing else', () => {
    // Arrange
    const statements = queuePolicyStatements(withPartner);

    // Act
    const forPartner = statements.filter((statement) => accountPrincipals(withPartner, statement).length > 0);

    // Assess
    expect(holds(withPartner, { Condition: CONDITION })).toBe(true);
    expect(forPartner).toHaveLength(1);
    const [grant] = forPartner as [Statement];
    expect(grant.Effect).toBe('Allow');
    expect(accountPrincipals(withPartner, grant)).toEqual([`arn:aws:iam::${PARTNER}:root`]);
    expect(actionsOf(grant).sort()).toEqual(CONSUMER_ACTIONS);
    expect(resourcesOf(withPartner, grant)).toEqual([resolveValue(withPartner, { 'Fn::GetAtt': ['PartnerShipmentsQueue', 'Arn'] })]);
    expect(grant.Condition).toBeUndefined();
  });

  it('with the param, only the order events topic may send (aws:SourceArn), and only over TLS', () => {
    // Arrange
    const statements = queuePolicyStatements(withPartner);
    const topicArn = resolveValue(withPartner, { Ref: 'OrderEventsTopic' });

    // Act
    const senders = statements.filter((statement) => statement.Effect === 'Allow' && actionsOf(statement).some((action) => /^sqs:(SendMessage|\*)$/i.test(action)));

    // Assess
    expect(senders).toHaveLength(1);
    expect(senders[0]?.Principal).toEqual({ Service: 'sns.amazonaws.com' });
    expect(conditionValues(withPartner, senders[0] as Statement, 'aws:SourceArn')).toEqual([topicArn]);
    expect(statements.some((statement) => isTlsOnlyDeny(statement, 'sqs'))).toBe(true);
  });

  it('with the param, the partner gets the physical orders to ship, raw, through a subscription with a DLQ, and the queue URL as an output', () => {
    // Act
    const subscription = resource(withPartner, 'PartnerShipmentsSubscription').Properties;
    const queue = resource(withPartner, 'PartnerShipmentsQueue').Properties;

    // Assess
    expect(subscription.Protocol).toBe('sqs');
    expect(subscription.RawMessageDelivery).toBe(true);
    expect(subscription.FilterPolicy).toEqual({ type: ['OrderPlaced'], fulfillment: ['physical'] });
    expect(subscription.RedrivePolicy.deadLetterTargetArn).toEqual({ 'Fn::GetAtt': ['PartnerShipmentsSubscriptionDLQ', 'Arn'] });
    expect(queue.SqsManagedSseEnabled).toBe(true);
    expect(queue.RedrivePolicy.deadLetterTargetArn).toEqual({ 'Fn::GetAtt': ['PartnerShipmentsDLQ', 'Arn'] });
    expect(withPartner.outputs.PartnerShipmentsQueueUrl?.Value).toEqual({ Ref: 'PartnerShipmentsQueue' });
  });

  it('no other queue policy names the partner account', () => {
    // Act
    const elsewhere = Object.entries(withPartner.resources)
      .filter(([id, { Type }]) => Type === 'AWS::SQS::QueuePolicy' && id !== 'PartnerShipmentsQueuePolicy')
      .filter(([, policy]) => JSON.stringify(policy).includes(PARTNER))
      .map(([id]) => id);

    // Assess
    expect(elsewhere).toEqual([]);
  });
});
