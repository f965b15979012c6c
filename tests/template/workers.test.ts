import { beforeAll, describe, expect, it } from 'vitest';
import { STAGES, actionsOf, asArray, functionRoleId, loadTemplate, refId, resolveValue, resource, roleStatements, type Cfn, type Template } from './helpers.ts';

/** The actions a statement allows on one resource (by logical id). */
const actionsOn = (statements: Cfn[], logicalId: string): string[] =>
  statements.filter((statement) => asArray(statement.Resource).some((target: Cfn) => refId(target) === logicalId)).flatMap((statement) => actionsOf(statement)).sort();

describe.each(STAGES)('Worker consumers, not Lambda (%s stage)', (stage) => {
  let t: Template;
  beforeAll(async () => {
    t = await loadTemplate(stage);
  });

  it('the review worker policy allows what the requestReview function may do on the queue and table, plus the heartbeat', () => {
    // Prepare
    const worker = resource(t, 'ReviewWorkerPolicy');
    const workerStatements = asArray(worker.Properties.PolicyDocument.Statement);
    const lambdaStatements = roleStatements(t, functionRoleId(t, 'RequestReviewLambdaFunction')).statements.map((source) => source.statement);

    // Assess
    expect(worker.Type).toBe('AWS::IAM::ManagedPolicy');
    expect(workerStatements.every((statement: Cfn) => statement.Effect === 'Allow')).toBe(true);
    expect(actionsOn(workerStatements, 'ReviewRequestsQueue')).toEqual(
      ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ReceiveMessage'],
    );
    expect(actionsOn(workerStatements, 'ReviewRequestsQueue')).toEqual(actionsOn(lambdaStatements, 'ReviewRequestsQueue'));
    expect(actionsOn(workerStatements, 'OrdersTable')).toEqual(actionsOn(lambdaStatements, 'OrdersTable'));
  });

  it('the worker may read only this stack (its outputs name the queue and table)', () => {
    // Prepare
    const statements = asArray(resource(t, 'ReviewWorkerPolicy').Properties.PolicyDocument.Statement);
    const describe = statements.find((statement: Cfn) => actionsOf(statement).includes('cloudformation:DescribeStacks'));

    // Assess
    expect(actionsOf(describe)).toEqual(['cloudformation:DescribeStacks']);
    expect(resolveValue(t, describe.Resource)).toBe(`arn:aws:cloudformation:us-east-1:123456789012:stack/${t.stackName}/*`);
    expect(refId(t.outputs.ReviewRequestsQueueUrl.Value)).toBe('ReviewRequestsQueue');
    expect(refId(t.outputs.OrdersTableName.Value)).toBe('OrdersTable');
    expect(refId(t.outputs.ReviewWorkerPolicyArn.Value)).toBe('ReviewWorkerPolicy');
  });
});
