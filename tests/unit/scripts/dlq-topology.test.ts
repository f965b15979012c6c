import type { CfnTemplate } from 'local-cloud';
import { describe, expect, it } from 'vitest';
import { dlqsOf } from '../../../scripts/dlq/topology.ts';

/** A queue with a DLQ, both created only when `condition` holds, beside an unconditional pair. */
const template = (condition: unknown): CfnTemplate =>
  ({
    Conditions: { HasPartner: condition },
    Resources: {
      WorkQueue: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'work', RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': ['WorkDLQ', 'Arn'] }, maxReceiveCount: 5 } } },
      WorkDLQ: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'work-dlq' } },
      PartnerQueue: { Type: 'AWS::SQS::Queue', Condition: 'HasPartner', Properties: { QueueName: 'partner', RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': ['PartnerDLQ', 'Arn'] }, maxReceiveCount: 5 } } },
      PartnerDLQ: { Type: 'AWS::SQS::Queue', Condition: 'HasPartner', Properties: { QueueName: 'partner-dlq' } },
    },
  }) as unknown as CfnTemplate;

describe('Script: dlq topology', () => {
  it('leaves out a DLQ whose Condition is false on literal values (an opt-in param left empty), as CloudFormation creates none', () => {
    // Act
    const names = (condition: unknown): string[] => dlqsOf(template(condition)).map((dlq) => dlq.logicalId);

    // Assess
    expect(names({ 'Fn::Not': [{ 'Fn::Equals': ['', ''] }] })).toEqual(['WorkDLQ']);
    expect(names({ 'Fn::Not': [{ 'Fn::Equals': ['210987654321', ''] }] })).toEqual(['WorkDLQ', 'PartnerDLQ']);
    // Unknown from the template alone (a stack parameter): kept.
    expect(names({ 'Fn::Equals': [{ Ref: 'Partner' }, ''] })).toEqual(['WorkDLQ', 'PartnerDLQ']);
  });
});
