/**
 * What of a request can change a role's IAM decision, as a cache key (IamGuard.decide).
 *
 * Keyed on the whole request, the decision cache missed on every write the order path makes: a DynamoDB item write
 * carries its partition key as `dynamodb:LeadingKeys`, and an S3 object's ARN names the object, both new with every
 * order. Each miss ran the evaluator (1.4 ms of CPU, iam.ts), about 10 of them per order. Two facts make most of
 * those requests share a decision without losing any:
 *
 * - A condition key that no policy of the role names cannot change the outcome: a condition, `...IfExists` or `Null`
 *   operator, or `${key}` policy variable on it would name it. Such keys are left out of the key.
 * - An S3 object ARN is matched only against the role's Resource and NotResource patterns. Where every pattern is
 *   literal or a literal followed by one trailing `*`, what the evaluator can see of the object is which of those
 *   prefixes it starts with (and which literals it equals): the key holds those answers and the bucket, not the
 *   object. A pattern with any other wildcard (`?`, `*` inside) or a policy variable keeps the object in the key.
 */
import type { Authorization } from './iam-requests.ts';
import type { RoleModel } from './iam-roles.ts';

interface RoleShape {
  /** Every policy document of the role as lower-case JSON, to tell whether a condition key is named at all. */
  text: string;
  /** Every Resource and NotResource pattern, or undefined where one is not literal-or-trailing-`*` (see above). */
  patterns?: string[];
}

const shapes = new WeakMap<RoleModel, RoleShape>();

function resourcePatterns(value: unknown, into: string[]): void {
  if (typeof value === 'string') into.push(value);
  else if (Array.isArray(value)) for (const item of value) resourcePatterns(item, into);
  else if (value !== null && typeof value === 'object') for (const item of Object.values(value)) resourcePatterns(item, into);
}

/** Resource and NotResource values of every statement (a statement may be one object or a list). */
function statementResources(document: Record<string, unknown>): string[] {
  const statements = Array.isArray(document.Statement) ? document.Statement : [document.Statement];
  const patterns: string[] = [];
  for (const statement of statements) {
    if (statement === null || typeof statement !== 'object') continue;
    const { Resource, NotResource } = statement as Record<string, unknown>;
    resourcePatterns(Resource, patterns);
    resourcePatterns(NotResource, patterns);
  }
  return patterns;
}

/** A pattern whose match against an ARN is `startsWith` (trailing `*`) or `===` (no wildcard). */
const isPrefixPattern = (pattern: string): boolean => !pattern.includes('${') && !pattern.includes('?') && !pattern.slice(0, -1).includes('*');

function shapeOf(role: RoleModel): RoleShape {
  let shape = shapes.get(role);
  if (shape === undefined) {
    const patterns = role.policies.flatMap((policy) => statementResources(policy.document));
    shape = { text: JSON.stringify(role.policies.map((policy) => policy.document)).toLowerCase(), ...(patterns.every(isPrefixPattern) ? { patterns } : {}) };
    shapes.set(role, shape);
  }
  return shape;
}

const matches = (pattern: string, resource: string): boolean => (pattern.endsWith('*') ? resource.startsWith(pattern.slice(0, -1)) : resource === pattern);

/** `arn:aws:s3:::bucket/key` → `arn:aws:s3:::bucket/`; undefined for anything else. */
function s3ObjectBucket(resource: string): string | undefined {
  if (!resource.startsWith('arn:') || resource.split(':')[2] !== 's3') return undefined;
  const slash = resource.indexOf('/');
  return slash < 0 ? undefined : resource.slice(0, slash + 1);
}

/**
 * The cache key of one authorization for one role: equal keys get equal decisions.
 *
 * @example
 * decisionKey(role, { action: 'dynamodb:UpdateItem', resource: tableArn, context: { 'dynamodb:LeadingKeys': [orderId] } });
 * // the same for every order while no policy of the role names dynamodb:LeadingKeys
 */
function decisionKey(role: RoleModel, authorization: Authorization): string {
  const shape = shapeOf(role);
  const context = Object.entries(authorization.context ?? {}).filter(([name]) => shape.text.includes(name.toLowerCase()));
  let resource = authorization.resource;
  const bucket = shape.patterns === undefined ? undefined : s3ObjectBucket(resource);
  if (bucket !== undefined && shape.patterns !== undefined) {
    // Answered with and without case: the key stays exact whichever way the evaluator compares.
    const lower = resource.toLowerCase();
    const answers = shape.patterns.map((pattern) => `${matches(pattern, resource) ? 1 : 0}${matches(pattern.toLowerCase(), lower) ? 1 : 0}`);
    resource = `${bucket}* matching ${answers.join(' ')}`;
  }
  return `${role.roleArn}\n${authorization.action}\n${resource}\n${JSON.stringify(context)}`;
}

export { decisionKey };
