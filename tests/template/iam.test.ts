import { beforeAll, describe, expect, it } from 'vitest';
import {
  STAGES,
  actionMatches,
  actionsOf,
  allIdentityStatements,
  allowedResources,
  functionRoleId,
  lambdaFunctions,
  loadTemplate,
  refId,
  resolveValue,
  resource,
  resourcesOf,
  resourcesOfType,
  roleStatements,
  sqsMappings,
  type Cfn,
  type Template,
} from './helpers.ts';

/**
 * The only actions allowed on Resource "*": actions that have no resource type, so IAM cannot scope them.
 * X-Ray PutTraceSegments and PutTelemetryRecords: Service Authorization Reference, "Actions defined by AWS X-Ray"
 * (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsx-ray.html), resource types column empty.
 */
const ACTIONS_WITHOUT_RESOURCE_TYPES: Record<string, string> = {
  'xray:PutTraceSegments': 'X-Ray has no resource type for it (tracing: Active on every function)',
  'xray:PutTelemetryRecords': 'X-Ray has no resource type for it (tracing: Active on every function)',
  // EC2's Describe actions: Service Authorization Reference, "Actions defined by Amazon EC2", resource types column
  // empty. warehouseDispatch's Amazon MQ event source needs them (Lambda developer guide, "Using Lambda with Amazon MQ").
  'ec2:DescribeNetworkInterfaces': 'EC2 has no resource type for it (the Amazon MQ event source)',
  'ec2:DescribeSecurityGroups': 'EC2 has no resource type for it (the Amazon MQ event source)',
  'ec2:DescribeSubnets': 'EC2 has no resource type for it (the Amazon MQ event source)',
  'ec2:DescribeVpcs': 'EC2 has no resource type for it (the Amazon MQ event source)',
  'sqs:ListQueues': 'SQS has no resource type for it (checkStock sweeps idle reply queues by name prefix: lib/request-reply.ts)',
};

/**
 * An ARN (or "*") that names every resource of a service, region or account rather than specific ones.
 * `<LogicalId.Attr>` (an attribute of a stack resource that `resolveValue` does not spell out) is one resource.
 */
const isWildcardResource = (arn: string): boolean => {
  if (arn.startsWith('<')) return false;
  if (!arn.startsWith('arn:')) return arn.includes('*');
  const [, , , region, account, ...rest] = arn.split(':');
  const name = rest.join(':');
  return region === '*' || account === '*' || name === '' || name.startsWith('*');
};

/** What an SQS event source mapping needs on its queue (Lambda developer guide, "Execution role permissions"). */
const SQS_CONSUMER_ACTIONS = ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'];

/** What the Powertools DynamoDB persistence layer calls (Powertools idempotency docs, "IAM Permissions"). */
const IDEMPOTENCY_ACTIONS = ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'];

const sameSet = (a: string[], b: string[]): boolean => JSON.stringify([...new Set(a)].sort()) === JSON.stringify([...new Set(b)].sort());

describe.each(STAGES)('IAM least privilege (%s stage)', (stage) => {
  let t: Template;
  beforeAll(async () => {
    t = await loadTemplate(stage);
  });

  // https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html and IAM best practices,
  // "Apply least-privilege permissions": https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html
  it('every Lambda function has its own role (a role of this stack, used by no other function)', () => {
    const functions = lambdaFunctions(t);
    expect(functions.length).toBeGreaterThan(0);
    const roles = functions.map((fn) => refId(fn.props.Role));
    const violations = functions.flatMap((fn, i) => {
      const role = roles[i];
      if (!role || t.resources[role]?.Type !== 'AWS::IAM::Role') return [`${fn.name}: Role ${JSON.stringify(fn.props.Role)} is not a role of this stack`];
      const sharers = functions.filter((_, j) => roles[j] === role).map((other) => other.name);
      return sharers.length > 1 ? [`${fn.name}: role ${role} shared with ${sharers.join(', ')}`] : [];
    });
    expect(violations).toEqual([]);
  });

  // https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege
  it('no statement in any role, managed policy or policy has a wildcard Action ("*", "service:*", "service:Get*") or NotAction', () => {
    const statements = allIdentityStatements(t);
    expect(statements.length).toBeGreaterThan(0);
    const violations = statements.flatMap(({ from, statement }) => [
      ...actionsOf(statement)
        .filter((action) => action.includes('*'))
        .map((action) => `${from}: Action ${action}`),
      ...(statement.NotAction ? [`${from}: NotAction ${JSON.stringify(statement.NotAction)}`] : []),
    ]);
    expect(violations).toEqual([]);
  });

  // https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege
  it(`no wildcard Resource except for actions without resource types (${Object.keys(ACTIONS_WITHOUT_RESOURCE_TYPES).join(', ')})`, () => {
    const violations: string[] = [];
    for (const { from, statement } of allIdentityStatements(t)) {
      if (statement.Effect !== 'Allow') continue;
      if (statement.NotResource) violations.push(`${from}: NotResource ${JSON.stringify(statement.NotResource)}`);
      const wildcards = resourcesOf(t, statement).filter(isWildcardResource);
      const unscopable = actionsOf(statement).every((action) => action in ACTIONS_WITHOUT_RESOURCE_TYPES);
      if (wildcards.length > 0 && !unscopable) violations.push(`${from}: ${JSON.stringify(statement.Action)} on ${wildcards.join(', ')}`);
    }
    // Managed policies from outside the stack cannot be inspected here (AWS managed ones use Resource "*").
    for (const [roleId] of resourcesOfType(t, 'AWS::IAM::Role')) {
      for (const arn of roleStatements(t, roleId).externalManagedPolicies) violations.push(`${roleId}: managed policy ${arn} is not in the stack`);
    }
    expect(violations).toEqual([]);
  });

  // "Execution role permissions": https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
  it("each SQS consumer's role allows ReceiveMessage/DeleteMessage/GetQueueAttributes on exactly its own queue(s)", () => {
    const mappings = sqsMappings(t);
    expect(mappings.length).toBeGreaterThan(0);
    const violations: string[] = [];
    for (const [roleId] of resourcesOfType(t, 'AWS::IAM::Role')) {
      const { statements } = roleStatements(t, roleId);
      const ownQueues = mappings
        .filter((m) => functionRoleId(t, m.functionId) === roleId)
        .map((m) => resolveValue(t, { 'Fn::GetAtt': [m.sourceId, 'Arn'] }));
      for (const action of SQS_CONSUMER_ACTIONS) {
        // The request-response reply queues (lib/request-reply.ts) are created at run time, not consumed by a mapping.
        const granted = allowedResources(t, statements, action).filter((arn) => !arn.endsWith(`:${t.service}-${stage}-replies-*`));
        if (!sameSet(granted, ownQueues)) violations.push(`${roleId}: ${action} on ${JSON.stringify(granted)}, its function consumes ${JSON.stringify(ownQueues)}`);
      }
    }
    expect(violations).toEqual([]);
  });

  // Topic access through identity policies: https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-use-cases.html
  // (PublishBatch is authorized by sns:Publish: https://docs.aws.amazon.com/sns/latest/api/API_PublishBatch.html)
  it('functions that publish (TOPIC_ARN, *_TOPIC_ARN in their environment) have sns:Publish on those topics only, and no other function can publish', () => {
    const functions = lambdaFunctions(t);
    expect(functions.some((fn) => fn.props.Environment?.Variables?.TOPIC_ARN !== undefined)).toBe(true);
    const violations: string[] = [];
    for (const fn of functions) {
      const roleId = functionRoleId(t, fn.id);
      const granted = allowedResources(t, roleStatements(t, roleId).statements, 'sns:Publish');
      const topics = Object.entries(fn.props.Environment?.Variables ?? {}).filter(([name]) => name === 'TOPIC_ARN' || name.endsWith('_TOPIC_ARN')).map(([, value]) => value as Cfn);
      const expected = topics.map((topic) => resolveValue(t, topic));
      for (const topic of topics) if (resource(t, refId(topic) ?? '').Type !== 'AWS::SNS::Topic') violations.push(`${fn.name}: ${JSON.stringify(topic)} is not a topic of this stack`);
      if (!sameSet(granted, expected)) violations.push(`${fn.name} (${roleId}): sns:Publish on ${JSON.stringify(granted)}, expected ${JSON.stringify(expected)}`);
    }
    expect(violations).toEqual([]);
  });

  // https://docs.powertools.aws.dev/lambda/typescript/latest/features/idempotency/#iam-permissions
  it('functions with the idempotency store (IDEMPOTENCY_TABLE) may GetItem/PutItem/UpdateItem/DeleteItem on that table', () => {
    const users = lambdaFunctions(t).filter((fn) => fn.props.Environment?.Variables?.IDEMPOTENCY_TABLE !== undefined);
    expect(users.length).toBeGreaterThan(0);
    const violations: string[] = [];
    for (const fn of users) {
      const table = resolveValue(t, { 'Fn::GetAtt': [refId(fn.props.Environment.Variables.IDEMPOTENCY_TABLE), 'Arn'] });
      const { statements } = roleStatements(t, functionRoleId(t, fn.id));
      for (const action of IDEMPOTENCY_ACTIONS) {
        if (!allowedResources(t, statements, action).includes(table)) violations.push(`${fn.name}: no ${action} on ${table}`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('the wildcard helpers recognise what they must (self-check)', () => {
    expect(isWildcardResource('*')).toBe(true);
    expect(isWildcardResource('arn:aws:sqs:*:123456789012:*')).toBe(true);
    expect(isWildcardResource('arn:aws:sqs:us-east-1:123456789012:*')).toBe(true);
    expect(isWildcardResource('arn:aws:s3:::bucket/*')).toBe(false);
    expect(isWildcardResource('<FirehoseDeliveryRole.Arn>')).toBe(false);
    expect(isWildcardResource('arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/f:*')).toBe(false);
    expect(actionMatches('sqs:*', 'sqs:ReceiveMessage')).toBe(true);
    expect(actionMatches('sqs:Receive*', 'sqs:ReceiveMessage')).toBe(true);
    expect(actionMatches('sqs:SendMessage', 'sqs:ReceiveMessage')).toBe(false);
  });
});
