import { runSimulation } from '@cloud-copilot/iam-simulate';
import { describe, expect, it } from 'vitest';
import { decisionKey } from '../src/edge/iam-decision-key.ts';
import type { Authorization } from '../src/edge/iam-requests.ts';
import type { RoleModel } from '../src/edge/iam-roles.ts';

const ACCOUNT = '000000000000';
const TABLE = `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/orders`;
const DOCS = 'arn:aws:s3:::shop-docs';

const roleWith = (...statements: Record<string, unknown>[]): RoleModel => ({
  roleArn: `arn:aws:iam::${ACCOUNT}:role/worker`,
  roleName: 'worker',
  policies: [{ name: 'p', document: { Version: '2012-10-17', Statement: statements } }],
  notEvaluated: [],
});

const itemWrite = (orderId: string): Authorization => ({ action: 'dynamodb:UpdateItem', resource: TABLE, context: { 'dynamodb:LeadingKeys': [orderId] } });
const objectWrite = (key: string): Authorization => ({ action: 's3:PutObject', resource: `${DOCS}/${key}` });

/** The evaluator's own answer, uncached (what IamGuard.decide asks it). */
const evaluate = async (role: RoleModel, authorization: Authorization): Promise<string> => {
  const result = await runSimulation(
    {
      identityPolicies: role.policies.map((policy) => ({ name: policy.name, policy: policy.document })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      request: {
        action: authorization.action,
        principal: `arn:aws:sts::${ACCOUNT}:assumed-role/worker/fn`,
        resource: { resource: authorization.resource, accountId: ACCOUNT },
        contextVariables: { 'aws:PrincipalAccount': ACCOUNT, ...authorization.context },
      },
    },
    {},
  );
  return result.resultType === 'error' ? 'error' : result.overallResult;
};

describe('IAM decision cache key', () => {
  it('shares one key between item writes of different orders while no policy names dynamodb:LeadingKeys', () => {
    // Arrange
    const role = roleWith({ Effect: 'Allow', Action: 'dynamodb:UpdateItem', Resource: TABLE });
    // Act
    const keys = new Set(['o-1', 'o-2', 'o-3'].map((id) => decisionKey(role, itemWrite(id))));
    // Assess
    expect(keys.size).toBe(1);
  });

  it('keeps dynamodb:LeadingKeys in the key where a condition names it', () => {
    // Arrange
    const role = roleWith({ Effect: 'Allow', Action: 'dynamodb:UpdateItem', Resource: TABLE, Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['o-1*'] } } });
    // Act
    const keys = new Set(['o-1', 'o-2'].map((id) => decisionKey(role, itemWrite(id))));
    // Assess
    expect(keys.size).toBe(2);
  });

  it('shares one key between objects of the same prefixes, and keeps the object where a pattern has an inner wildcard', () => {
    // Arrange
    const prefixes = roleWith({ Effect: 'Allow', Action: 's3:PutObject', Resource: [`${DOCS}/invoices/*`, `${DOCS}/labels/*`] });
    const inner = roleWith({ Effect: 'Allow', Action: 's3:PutObject', Resource: `${DOCS}/*/invoice.pdf` });
    // Act
    const invoices = new Set(['invoices/o-1.pdf', 'invoices/o-2.pdf'].map((key) => decisionKey(prefixes, objectWrite(key))));
    const label = decisionKey(prefixes, objectWrite('labels/o-1.pdf'));
    const innerKeys = new Set(['o-1/invoice.pdf', 'o-2/invoice.pdf'].map((key) => decisionKey(inner, objectWrite(key))));
    // Assess
    expect(invoices.size).toBe(1);
    expect(invoices.has(label)).toBe(false);
    expect(innerKeys.size).toBe(2);
  });

  it('gives equal keys only to requests the evaluator decides alike', async () => {
    // Arrange: allows and denies on prefixes, a case that differs, a condition on the leading keys.
    const role = roleWith(
      { Effect: 'Allow', Action: 's3:PutObject', Resource: [`${DOCS}/invoices/*`, `${DOCS}/Labels/*`] },
      { Effect: 'Deny', Action: 's3:PutObject', Resource: `${DOCS}/invoices/draft-*` },
      { Effect: 'Allow', Action: 's3:GetObject', Resource: `${DOCS}/readme.txt` },
      { Effect: 'Allow', Action: 'dynamodb:UpdateItem', Resource: TABLE, Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['o-1*'] } } },
    );
    const requests: Authorization[] = [
      ...['invoices/o-1.pdf', 'invoices/o-2.pdf', 'invoices/draft-o-3.pdf', 'labels/o-1.pdf', 'Labels/o-2.pdf', 'LABELS/o-3.pdf', 'other/o-4.pdf'].map(objectWrite),
      { action: 's3:GetObject', resource: `${DOCS}/readme.txt` },
      { action: 's3:GetObject', resource: `${DOCS}/readme.txt.bak` },
      ...['o-1', 'o-10', 'o-2'].map(itemWrite),
    ];
    // Act
    const byKey = new Map<string, Set<string>>();
    for (const request of requests) {
      const key = decisionKey(role, request);
      byKey.set(key, (byKey.get(key) ?? new Set()).add(await evaluate(role, request)));
    }
    // Assess: one decision per key, and keys are shared (fewer keys than requests).
    expect([...byKey.values()].map((decisions) => decisions.size)).toEqual([...byKey.keys()].map(() => 1));
    expect(byKey.size).toBeLessThan(requests.length);
    expect(new Set([...byKey.values()].flatMap((decisions) => [...decisions]))).toEqual(new Set(['Allowed', 'ExplicitlyDenied', 'ImplicitlyDenied']));
  });
});
