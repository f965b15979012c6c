import { beforeAll, describe, expect, it } from 'vitest';
import { STAGES, actionsOf, allowedResources, asArray, functionRoleId, loadTemplate, resolveValue, resource, roleStatements, type Cfn, type Template } from './helpers.ts';

describe.each(STAGES)('Request-response over SQS (%s stage)', (stage) => {
  let t: Template;
  beforeAll(async () => {
    t = await loadTemplate(stage);
  });

  it('asker and worker agree on the reply-queue prefix, and their roles reach reply queues by that prefix only', () => {
    // Prepare
    const ask = resource(t, 'CheckStockLambdaFunction').Properties;
    const answer = resource(t, 'AnswerStockLambdaFunction').Properties;
    const prefix = `${t.service}-${stage}-replies-`;
    const replies = `arn:aws:sqs:us-east-1:123456789012:${prefix}*`;
    const asker = roleStatements(t, functionRoleId(t, 'CheckStockLambdaFunction')).statements;
    const worker = roleStatements(t, functionRoleId(t, 'AnswerStockLambdaFunction')).statements;

    // Assess
    expect(ask.Environment.Variables.REPLY_QUEUE_PREFIX).toBe(prefix);
    expect(answer.Environment.Variables.REPLY_QUEUE_PREFIX).toBe(prefix);
    for (const action of ['sqs:CreateQueue', 'sqs:TagQueue', 'sqs:ListQueueTags', 'sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:DeleteQueue']) {
      expect(allowedResources(t, asker, action)).toEqual([replies]);
    }
    expect(allowedResources(t, asker, 'sqs:SendMessage')).toEqual([resolveValue(t, { 'Fn::GetAtt': ['StockRequestsQueue', 'Arn'] })]);
    expect(allowedResources(t, worker, 'sqs:SendMessage')).toEqual([replies]);
    expect(allowedResources(t, worker, 'sqs:CreateQueue')).toEqual([]);
    const wildcard = asker.filter(({ statement }) => asArray<Cfn>(statement.Resource).includes('*'));
    expect(wildcard.flatMap(({ statement }) => actionsOf(statement)).filter((action) => !action.startsWith('xray:'))).toEqual(['sqs:ListQueues']);
  });

  it('a question outlives its asker by little: 60 s retention (the SQS minimum), an age alarm at 10 s', () => {
    // Assess
    expect(resource(t, 'StockRequestsQueue').Properties.MessageRetentionPeriod).toBe(60);
    expect(resource(t, 'StockRequestsQueueAgeAlarm').Properties.Threshold).toBe(10);
    expect(resource(t, 'CheckStockLambdaFunction').Properties.Timeout).toBeGreaterThan(3); // the 3 s wait (functions/checkStock.ts) and the 504
  });
});
