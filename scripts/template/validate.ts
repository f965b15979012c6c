/**
 * Validates a compiled CloudFormation template (the `osls package` output) against the CloudFormation resource
 * specification (`@aws-cdk/aws-service-spec`), offline, before `serverless deploy` ships it:
 * - every resource Type exists (`Custom::*` and `AWS::CloudFormation::CustomResource` take any property but
 *   `ServiceToken`, which they require);
 * - every property name exists, at every depth (nested type definitions, lists of them, maps of them);
 * - every literal value has the right type. Like CloudFormation, a string property takes a number or a boolean, a
 *   number takes a numeric string, a boolean takes "true"/"false"; a JSON property (a policy document, a filter
 *   policy) takes an object, and a string too where the schema says so (`RedrivePolicy`: JSON object or string). Intrinsic functions are not type-checked, but their shape is, and the two branches
 *   of `Fn::If` are checked against the property's type;
 * - every required property is present;
 * - `Ref`, `Fn::GetAtt`, `Fn::Sub` placeholders, `DependsOn` and `Condition` point at something that exists
 *   (resources, parameters, pseudo parameters, conditions), and `Fn::GetAtt` names an attribute of the target's type.
 *
 * Each problem names the logical id and the path, e.g.
 * `DocumentsBucket.Properties.NotificationConfiguration.QueueConfigurations[0].Filter.S3Key.Rules[0].Nam: unknown
 * property (did you mean Name?)`.
 *
 * CLI: `node scripts/template/validate.ts [template.json]` (default `.serverless/cloudformation-template-update-stack.json`);
 * exit code 0 when the template is valid, 1 when it has errors, 2 when it cannot be read.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { PropertyType, RelationshipRef, ResourceProperties } from '@aws-cdk/service-spec-types';
import { type CfnSpec, loadSpec } from './spec.ts';

const DEFAULT_TEMPLATE = '.serverless/cloudformation-template-update-stack.json';

/** One problem in a template: `path` starts with the logical id (`Outputs.<id>` for an output). */
interface TemplateIssue {
  readonly logicalId: string;
  readonly path: string;
  readonly message: string;
}

interface ValidationStats {
  /** Resources in the template. */
  resources: number;
  /** Distinct resource types, each checked against the specification. */
  resourceTypes: number;
  /** Property values checked against a property definition, at every depth (top level, nested, list items). */
  properties: number;
  /** Intrinsic function calls whose shape (and targets) were checked. */
  intrinsics: number;
}

interface ValidationReport {
  readonly errors: readonly TemplateIssue[];
  /**
   * Likely mistakes the specification hints at but cannot prove: a `Ref`/`Fn::GetAtt` that returns another
   * identifier of the target than the property takes (e.g. `Ref` of a queue, its URL, where its ARN is expected).
   */
  readonly warnings: readonly TemplateIssue[];
  readonly stats: ValidationStats;
}

/** The template file is missing or is not JSON. */
class TemplateFileError extends Error {
  constructor(path: string, reason: string) {
    super(`${path}: ${reason}`);
    this.name = 'TemplateFileError';
  }
}

/** Thrown by `assertValidTemplate`; `issues` holds every problem found. */
class InvalidTemplateError extends Error {
  readonly issues: readonly TemplateIssue[];
  constructor(issues: readonly TemplateIssue[]) {
    super(`CloudFormation template has ${issues.length} error(s):\n${issues.map(formatIssue).join('\n')}`);
    this.name = 'InvalidTemplateError';
    this.issues = issues;
  }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

// CloudFormation User Guide, "Pseudo parameters reference".
const PSEUDO_PARAMETERS = new Set([
  'AWS::AccountId',
  'AWS::NotificationARNs',
  'AWS::NoValue',
  'AWS::Partition',
  'AWS::Region',
  'AWS::StackId',
  'AWS::StackName',
  'AWS::URLSuffix',
]);

// CloudFormation User Guide, "Intrinsic function reference" (Fn::Length, Fn::ToJsonString: AWS::LanguageExtensions).
const INTRINSICS = [
  'Ref',
  'Condition',
  'Fn::And',
  'Fn::Base64',
  'Fn::Cidr',
  'Fn::Equals',
  'Fn::FindInMap',
  'Fn::GetAZs',
  'Fn::GetAtt',
  'Fn::If',
  'Fn::ImportValue',
  'Fn::Join',
  'Fn::Length',
  'Fn::Not',
  'Fn::Or',
  'Fn::Select',
  'Fn::Split',
  'Fn::Sub',
  'Fn::ToJsonString',
  'Fn::Transform',
] as const;

// CloudFormation User Guide, "Template sections" and "Resource attribute reference".
const TEMPLATE_SECTIONS = [
  'AWSTemplateFormatVersion',
  'Description',
  'Metadata',
  'Parameters',
  'Rules',
  'Mappings',
  'Conditions',
  'Transform',
  'Resources',
  'Outputs',
  'Hooks',
];
const RESOURCE_KEYS = [
  'Type',
  'Properties',
  'DependsOn',
  'Condition',
  'DeletionPolicy',
  'UpdateReplacePolicy',
  'UpdatePolicy',
  'CreationPolicy',
  'Metadata',
];
const DELETION_POLICIES = ['Delete', 'Retain', 'RetainExceptOnCreate', 'Snapshot'];
const OUTPUT_KEYS = ['Description', 'Value', 'Export', 'Condition'];

const CUSTOM_RESOURCE = 'AWS::CloudFormation::CustomResource';

interface Context {
  readonly spec: CfnSpec;
  readonly resources: Record<string, Json>;
  readonly parameters: ReadonlySet<string>;
  readonly conditions: ReadonlySet<string>;
  readonly mappings: ReadonlySet<string>;
  /** Logical id every issue found in this context is filed under. */
  readonly logicalId: string;
  /** Whether `logicalId` is a resource (so referring to it is a circular dependency). */
  readonly inResource: boolean;
  errors: TemplateIssue[];
  warnings: TemplateIssue[];
  stats: ValidationStats;
}

const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const fail = (ctx: Context, path: string, message: string): void => {
  ctx.errors.push({ logicalId: ctx.logicalId, path, message });
};

const warn = (ctx: Context, path: string, message: string): void => {
  ctx.warnings.push({ logicalId: ctx.logicalId, path, message });
};

/** Levenshtein distance, for "did you mean". */
const distance = (a: string, b: string): number => {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
};

/** The candidate closest to `name` (same letters in another case first), if close enough to be a typo. */
const closest = (name: string, candidates: Iterable<string>): string | undefined => {
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 4)) + 1;
  for (const candidate of candidates) {
    if (candidate === name) continue;
    const d = candidate.toLowerCase() === lower ? 0 : distance(lower, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
};

const didYouMean = (name: string, candidates: Iterable<string>): string => {
  const suggestion = closest(name, candidates);
  return suggestion === undefined ? '' : ` (did you mean ${suggestion}?)`;
};

/**
 * `{ "Ref": ... }` or `{ "Fn::*": ... }`: a single-key object naming a function. `{ "Condition": "name" }` is one
 * only inside a condition function (`Fn::And`, `Fn::Or`, `Fn::Not`) or the Conditions section: elsewhere it is data
 * (an environment variable named Condition).
 */
const intrinsicOf = (value: Json, inCondition = false): [string, Json] | undefined => {
  if (!isObject(value)) return undefined;
  const keys = Object.keys(value);
  if (keys.length !== 1) return undefined;
  const key = keys[0] as string;
  const arg = value[key] as Json;
  if (key === 'Ref' || key.startsWith('Fn::') || (inCondition && key === 'Condition' && typeof arg === 'string')) return [key, arg];
  return undefined;
};

/**
 * A single-key object such as `{ "Fn:GetAtt": ... }`: a misspelled intrinsic function. `{ "ref": ... }` counts only
 * where free-form keys cannot be (`refLike`): in a map or a JSON document, `ref` may be a legitimate key.
 */
const misspelledIntrinsic = (value: Json, refLike: boolean): string | undefined => {
  if (!isObject(value)) return undefined;
  const keys = Object.keys(value);
  const key = keys[0];
  if (keys.length !== 1 || key === undefined || !(refLike ? /^(fn\b|fn:|ref$)/i : /^(fn\b|fn:)/i).test(key)) return undefined;
  if ((INTRINSICS as readonly string[]).includes(key)) return undefined;
  return closest(key, INTRINSICS) ?? 'an intrinsic function';
};

/** Whether a type takes objects with keys of the author's choosing (a map, a JSON document). */
const freeForm = (type: PropertyType): boolean =>
  type.type === 'map' || type.type === 'json' || (type.type === 'union' && type.types.some(freeForm));

const describeValue = (value: Json): string => {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (isObject(value)) return 'an object';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
  return `the ${typeof value} ${String(value)}`;
};

/** A value as short JSON, for messages about the shape of a function's arguments. */
const compact = (value: Json): string => {
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
};

const describeType = (spec: CfnSpec, type: PropertyType, plural = false): string => {
  const noun = (singular: string, many: string = `${singular}s`): string =>
    plural ? many : `${/^[aeiou]/i.test(singular) ? 'an' : 'a'} ${singular}`;
  switch (type.type) {
    case 'string':
    case 'integer':
    case 'number':
    case 'boolean':
      return noun(type.type);
    case 'json':
      return noun('JSON object');
    case 'date-time':
      return noun('date-time string');
    case 'null':
      return 'null';
    case 'tag':
      return noun('tag ({ Key, Value })', 'tags ({ Key, Value })');
    case 'ref':
      return noun(`${spec.typeDefinition(type.reference).name} object`);
    case 'array':
      return noun(`list of ${describeType(spec, type.element, true)}`);
    case 'map':
      return noun(`map of ${describeType(spec, type.element, true)}`);
    case 'union':
      return type.types.map((member) => describeType(spec, member, plural)).join(' or ');
  }
};

/** Whether a value of this JSON kind can satisfy the type (CloudFormation converts scalars to and from strings). */
const acceptsKind = (type: PropertyType, value: Json): boolean => {
  const kind = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  switch (type.type) {
    case 'string':
    case 'date-time':
      return kind === 'string' || kind === 'number' || kind === 'boolean';
    case 'integer':
    case 'number':
    case 'boolean':
      return kind === type.type || kind === 'string' || (type.type === 'integer' && kind === 'number');
    case 'json':
      // The registry schemas type these `object`; CloudFormation rejects a list there.
      return kind === 'object';
    case 'tag':
    case 'ref':
    case 'map':
      return kind === 'object';
    case 'array':
      return kind === 'array';
    case 'null':
      return kind === 'null';
    case 'union':
      return type.types.some((member) => acceptsKind(member, value));
  }
};

const allowed = (ctx: Context, path: string, value: string | number, values: readonly (string | number)[] | undefined): void => {
  if (values === undefined || values.length === 0 || values.some((v) => String(v) === String(value))) return;
  fail(ctx, path, `${JSON.stringify(value)} is not one of ${values.join(', ')}${didYouMean(String(value), values.map(String))}`);
};

const checkScalar = (ctx: Context, value: Json, type: PropertyType, path: string): void => {
  const mismatch = (): void => fail(ctx, path, `expected ${describeType(ctx.spec, type)}, got ${describeValue(value)}`);
  switch (type.type) {
    case 'string':
      if (typeof value === 'string') allowed(ctx, path, value, type.allowedValues);
      break;
    case 'integer':
      if (typeof value === 'number' ? !Number.isInteger(value) : !/^-?\d+$/.test(String(value).trim())) mismatch();
      else allowed(ctx, path, Number(value), type.allowedValues);
      break;
    case 'number':
      if (typeof value === 'string' ? value.trim() === '' || !Number.isFinite(Number(value)) : false) mismatch();
      break;
    case 'boolean':
      if (typeof value === 'string' && value !== 'true' && value !== 'false') mismatch();
      break;
    default:
      break;
  }
};

// The legacy `Tag` type of the old resource specification.
const TAG_PROPERTIES: ResourceProperties = {
  Key: { type: { type: 'string' }, required: true },
  Value: { type: { type: 'string' }, required: true },
};

/** Checks the keys of an object against a set of property definitions (a resource's or a type definition's). */
const checkProperties = (ctx: Context, value: JsonObject, properties: ResourceProperties, path: string, open = false): void => {
  const suggested = new Set<string>();
  for (const [name, item] of Object.entries(value)) {
    const property = Object.hasOwn(properties, name) ? properties[name] : undefined;
    if (property !== undefined) {
      checkValue(ctx, item, property.type, `${path}.${name}`, property.relationshipRefs);
    } else if (open) {
      scanIntrinsics(ctx, item, `${path}.${name}`);
    } else {
      const suggestion = closest(name, Object.keys(properties));
      if (suggestion !== undefined) suggested.add(suggestion);
      fail(ctx, `${path}.${name}`, `unknown property${suggestion === undefined ? '' : ` (did you mean ${suggestion}?)`}`);
    }
  }
  for (const [name, property] of Object.entries(properties)) {
    // A misspelled required property is one mistake: "unknown property (did you mean Name?)" already says it.
    if (property.required && !Object.hasOwn(value, name) && !suggested.has(name)) fail(ctx, `${path}.${name}`, 'required property is missing');
  }
};

/**
 * Checks a value against a property type, recursing into nested definitions, lists and maps. `relations`: the
 * resources (and which of their identifiers) the property takes, from the specification.
 */
const checkValue = (ctx: Context, value: Json, type: PropertyType, path: string, relations?: readonly RelationshipRef[]): void => {
  ctx.stats.properties++;
  if (value === null) {
    fail(ctx, path, 'null is not a value CloudFormation accepts (remove the property instead)');
    return;
  }
  const intrinsic = intrinsicOf(value);
  if (intrinsic !== undefined) {
    checkIntrinsic(ctx, intrinsic, path, type, relations);
    return;
  }
  const misspelled = misspelledIntrinsic(value, !freeForm(type));
  if (misspelled !== undefined) {
    fail(ctx, path, `unknown intrinsic function ${Object.keys(value as JsonObject)[0]} (did you mean ${misspelled}?)`);
    return;
  }
  if (type.type === 'union') {
    checkUnion(ctx, value, type.types, path, relations);
    return;
  }
  if (!acceptsKind(type, value)) {
    fail(ctx, path, `expected ${describeType(ctx.spec, type)}, got ${describeValue(value)}`);
    return;
  }
  switch (type.type) {
    case 'json':
      scanIntrinsics(ctx, value, path);
      return;
    case 'ref':
      checkProperties(ctx, value as JsonObject, ctx.spec.typeDefinition(type.reference).properties, path);
      return;
    case 'tag':
      checkProperties(ctx, value as JsonObject, TAG_PROPERTIES, path);
      return;
    case 'array':
      (value as Json[]).forEach((item, index) => checkValue(ctx, item, type.element, `${path}[${index}]`, relations));
      return;
    case 'map':
      for (const [key, item] of Object.entries(value as JsonObject)) checkValue(ctx, item, type.element, `${path}.${key}`, relations);
      return;
    default:
      checkScalar(ctx, value, type, path);
  }
};

/**
 * A union passes when one member accepts the value; otherwise it reports the errors of the member of the value's
 * kind. A `json` member (an untyped object, kept in many schemas for backward compatibility next to the structure
 * that replaced it, e.g. `AWS::DynamoDB::Table.KeySchema`) is only tried when no structured member fits the value,
 * so a misspelled key in a structure is still reported.
 */
const checkUnion = (ctx: Context, value: Json, members: readonly PropertyType[], path: string, relations?: readonly RelationshipRef[]): void => {
  const fitting = members.filter((member) => acceptsKind(member, value));
  const structured = fitting.filter((member) => member.type !== 'json');
  const candidates = structured.length > 0 ? structured : fitting;
  const attempts = candidates.map((member) => {
    const trial: Context = { ...ctx, errors: [], warnings: [], stats: { resources: 0, resourceTypes: 0, properties: 0, intrinsics: 0 } };
    checkValue(trial, value, member, path, relations);
    return trial;
  });
  const chosen = attempts.find((attempt) => attempt.errors.length === 0) ?? (attempts.length === 1 ? attempts[0] : undefined);
  if (chosen === undefined) {
    fail(ctx, path, `expected ${describeType(ctx.spec, { type: 'union', types: [...members] })}, got ${describeValue(value)}`);
    return;
  }
  ctx.errors.push(...chosen.errors);
  ctx.warnings.push(...chosen.warnings);
  ctx.stats.properties += chosen.stats.properties - 1; // the trial counted this value again
  ctx.stats.intrinsics += chosen.stats.intrinsics;
};

/** Walks any JSON (policy documents, outputs) for intrinsic functions and checks each. */
const scanIntrinsics = (ctx: Context, value: Json, path: string, inCondition = false): void => {
  const intrinsic = intrinsicOf(value, inCondition);
  if (intrinsic !== undefined) {
    checkIntrinsic(ctx, intrinsic, path);
    return;
  }
  const misspelled = misspelledIntrinsic(value, false);
  if (misspelled !== undefined) {
    fail(ctx, path, `unknown intrinsic function ${Object.keys(value as JsonObject)[0]} (did you mean ${misspelled}?)`);
    return;
  }
  if (Array.isArray(value)) value.forEach((item, index) => scanIntrinsics(ctx, item, `${path}[${index}]`, inCondition));
  else if (isObject(value)) for (const [key, item] of Object.entries(value)) scanIntrinsics(ctx, item, `${path}.${key}`);
};

const checkRef = (ctx: Context, name: string, path: string, via: string): void => {
  if (PSEUDO_PARAMETERS.has(name) || ctx.parameters.has(name)) return;
  if (Object.hasOwn(ctx.resources, name)) {
    if (ctx.inResource && name === ctx.logicalId) fail(ctx, path, `${via}: a resource cannot refer to itself`);
    return;
  }
  const candidates = [...Object.keys(ctx.resources), ...ctx.parameters, ...PSEUDO_PARAMETERS];
  fail(ctx, path, `${via}: no resource or parameter named ${name}${didYouMean(name, candidates)}`);
};

const checkGetAtt = (ctx: Context, target: string, attribute: string | undefined, path: string): void => {
  const via = `Fn::GetAtt ${target}${attribute === undefined ? '' : `.${attribute}`}`;
  const resource = Object.hasOwn(ctx.resources, target) ? ctx.resources[target] : undefined;
  if (!isObject(resource)) {
    const why = ctx.parameters.has(target) ? `${target} is a parameter, not a resource` : `no resource named ${target}`;
    fail(ctx, path, `${via}: ${why}${didYouMean(target, Object.keys(ctx.resources))}`);
    return;
  }
  if (ctx.inResource && target === ctx.logicalId) {
    fail(ctx, path, `${via}: a resource cannot refer to itself`);
    return;
  }
  const type = resource.Type;
  if (attribute === undefined || typeof type !== 'string' || type.startsWith('Custom::') || type === CUSTOM_RESOURCE) return;
  const definition = ctx.spec.resource(type);
  // Unknown types are reported on the resource itself; transforms (SAM) generate the attributes at deploy time.
  if (definition === undefined || definition.cloudFormationTransform !== undefined) return;
  if (Object.hasOwn(definition.attributes, attribute)) return;
  if (type === 'AWS::CloudFormation::Stack' && attribute.startsWith('Outputs.')) return;
  const names = Object.keys(definition.attributes);
  const suggestion = closest(attribute, names);
  const hint = suggestion !== undefined ? ` (did you mean ${suggestion}?)` : ` (it has ${names.join(', ') || 'no attributes'})`;
  fail(ctx, path, `${via}: ${type} has no attribute ${attribute}${hint}`);
};

/**
 * The specification lists, for some properties, which identifier of which resource type they take
 * (`AWS::SNS::Subscription.Endpoint`: an `AWS::SQS::Queue` Arn). A `Ref` returns one identifier (a queue's URL), an
 * `Fn::GetAtt` another: a mismatch is most likely a mistake, but the lists are not exhaustive, hence a warning.
 */
const checkRelation = (
  ctx: Context,
  target: string,
  attribute: string | undefined,
  relations: readonly RelationshipRef[],
  path: string,
): void => {
  const resource = Object.hasOwn(ctx.resources, target) ? ctx.resources[target] : undefined;
  if (!isObject(resource) || typeof resource.Type !== 'string') return;
  const type = resource.Type;
  const expected = relations.filter((relation) => relation.cloudFormationType === type).map((relation) => relation.propertyName);
  const definition = ctx.spec.resource(type);
  if (expected.length === 0 || definition === undefined) return;
  const identifier = definition.cfnRefIdentifier ?? definition.primaryIdentifier ?? [];
  // A composite identifier (`RestApiId|AuthorizerId`): what Ref returns is not spelled out.
  const refReturns = identifier.length === 1 ? identifier[0] : undefined;
  const returned = attribute ?? refReturns;
  if (returned === undefined || expected.includes(returned)) return;
  const via = attribute === undefined ? `Ref ${target}` : `Fn::GetAtt ${target}.${attribute}`;
  const fixes = expected.flatMap((name) =>
    name === refReturns ? [`Ref ${target}`] : Object.hasOwn(definition.attributes, name) ? [`Fn::GetAtt ${target}.${name}`] : [],
  );
  const fix = fixes.length > 0 ? ` (use ${fixes.join(' or ')})` : '';
  warn(ctx, path, `${via} gives the ${type} ${returned}, but this property takes its ${expected.join(' or ')}${fix}`);
};

const checkCondition = (ctx: Context, name: Json, path: string, via: string): void => {
  if (typeof name !== 'string') {
    fail(ctx, path, `${via} takes a condition name (a string), got ${describeValue(name)}`);
  } else if (!ctx.conditions.has(name)) {
    fail(ctx, path, `${via}: no condition named ${name}${didYouMean(name, ctx.conditions)}`);
  }
};

/** `${Name}`, `${Resource.Attribute}`; `${!Literal}` is text. */
const checkSubString = (ctx: Context, text: string, variables: ReadonlySet<string>, path: string): void => {
  for (const [, raw] of text.matchAll(/\$\{([^}]*)\}/g)) {
    const name = (raw ?? '').trim();
    if (name.startsWith('!') || variables.has(name)) continue;
    const dot = name.indexOf('.');
    if (dot === -1) checkRef(ctx, name, path, `Fn::Sub \${${name}}`);
    else checkGetAtt(ctx, name.slice(0, dot), name.slice(dot + 1), path);
  }
};

/** A list argument: a literal list or a function returning one. */
const isListLike = (value: Json): boolean => Array.isArray(value) || intrinsicOf(value) !== undefined;

/** Checks one intrinsic function call: its shape, its targets, then the functions nested in its arguments. */
const checkIntrinsic = (
  ctx: Context,
  [fn, arg]: [string, Json],
  path: string,
  type?: PropertyType,
  relations?: readonly RelationshipRef[],
): void => {
  ctx.stats.intrinsics++;
  const shape = (expected: string): void => fail(ctx, path, `${fn} takes ${expected}, got ${compact(arg)}`);
  const list = Array.isArray(arg) ? arg : undefined;
  switch (fn) {
    case 'Ref':
      if (typeof arg === 'string') {
        checkRef(ctx, arg, path, `Ref ${arg}`);
        if (relations !== undefined) checkRelation(ctx, arg, undefined, relations, path);
      } else shape('a logical id or parameter name');
      return;
    case 'Condition':
      checkCondition(ctx, arg, path, 'Condition');
      return;
    case 'Fn::GetAtt':
      if (typeof arg === 'string' && arg.includes('.')) {
        const [target, attribute] = [arg.slice(0, arg.indexOf('.')), arg.slice(arg.indexOf('.') + 1)];
        checkGetAtt(ctx, target, attribute, path);
        if (relations !== undefined) checkRelation(ctx, target, attribute, relations, path);
      } else if (list?.length === 2 && typeof list[0] === 'string' && typeof list[1] === 'string') {
        checkGetAtt(ctx, list[0], list[1], path);
        if (relations !== undefined) checkRelation(ctx, list[0], list[1], relations, path);
      } else if (list?.length === 2 && typeof list[0] === 'string' && intrinsicOf(list[1] as Json) !== undefined) {
        checkGetAtt(ctx, list[0], undefined, path);
        scanIntrinsics(ctx, list[1] as Json, `${path}.Fn::GetAtt[1]`);
      } else shape('[logicalId, attributeName] or "logicalId.attributeName"');
      return;
    case 'Fn::Sub':
      if (typeof arg === 'string') checkSubString(ctx, arg, new Set(), path);
      else if (list?.length === 2 && typeof list[0] === 'string' && isObject(list[1])) {
        checkSubString(ctx, list[0], new Set(Object.keys(list[1])), path);
        scanIntrinsics(ctx, list[1], `${path}.Fn::Sub[1]`);
      } else shape('a string or [string, { variables }]');
      return;
    case 'Fn::Join':
      if (list?.length === 2 && typeof list[0] === 'string' && isListLike(list[1] as Json)) scanIntrinsics(ctx, list[1] as Json, `${path}.Fn::Join[1]`);
      else shape('[delimiter, [values]]');
      return;
    case 'Fn::Select':
      if (list?.length === 2 && isListLike(list[1] as Json)) scanIntrinsics(ctx, list, `${path}.Fn::Select`);
      else shape('[index, [values]]');
      return;
    case 'Fn::Split':
      if (list?.length === 2 && typeof list[0] === 'string') scanIntrinsics(ctx, list[1] as Json, `${path}.Fn::Split[1]`);
      else shape('[delimiter, string]');
      return;
    case 'Fn::If':
      if (list?.length !== 3) {
        shape('[conditionName, valueIfTrue, valueIfFalse]');
        return;
      }
      checkCondition(ctx, list[0] as Json, path, 'Fn::If');
      for (const index of [1, 2]) {
        const branch = list[index] as Json;
        if (type !== undefined) checkValue(ctx, branch, type, `${path}.Fn::If[${index}]`, relations);
        else scanIntrinsics(ctx, branch, `${path}.Fn::If[${index}]`);
      }
      return;
    case 'Fn::Equals':
      if (list?.length === 2) scanIntrinsics(ctx, list, `${path}.Fn::Equals`);
      else shape('[value, value]');
      return;
    case 'Fn::And':
    case 'Fn::Or':
      if (list !== undefined && list.length >= 2 && list.length <= 10) scanIntrinsics(ctx, list, `${path}.${fn}`, true);
      else shape('a list of 2 to 10 conditions');
      return;
    case 'Fn::Not':
      if (list?.length === 1) scanIntrinsics(ctx, list, `${path}.Fn::Not`, true);
      else shape('a list of one condition');
      return;
    case 'Fn::FindInMap':
      if (list !== undefined && (list.length === 3 || list.length === 4)) {
        if (typeof list[0] === 'string' && !ctx.mappings.has(list[0])) {
          fail(ctx, path, `Fn::FindInMap: no mapping named ${list[0]}${didYouMean(list[0], ctx.mappings)}`);
        }
        scanIntrinsics(ctx, list, `${path}.Fn::FindInMap`);
      } else shape('[mapName, topLevelKey, secondLevelKey]');
      return;
    case 'Fn::Cidr':
      if (list?.length === 3) scanIntrinsics(ctx, list, `${path}.Fn::Cidr`);
      else shape('[ipBlock, count, cidrBits]');
      return;
    case 'Fn::GetAZs':
    case 'Fn::ImportValue':
      if (typeof arg === 'string' || intrinsicOf(arg) !== undefined) scanIntrinsics(ctx, arg, `${path}.${fn}`);
      else shape('a string');
      return;
    case 'Fn::Length':
      if (isListLike(arg)) scanIntrinsics(ctx, arg, `${path}.Fn::Length`);
      else shape('a list');
      return;
    case 'Fn::Base64':
    case 'Fn::ToJsonString':
    case 'Fn::Transform':
      scanIntrinsics(ctx, arg, `${path}.${fn}`);
      return;
    default:
      fail(ctx, path, `unknown intrinsic function ${fn}${didYouMean(fn, INTRINSICS)}`);
  }
};

const checkResource = (ctx: Context, resource: Json, path: string): void => {
  if (!isObject(resource)) {
    fail(ctx, path, `expected a resource object, got ${describeValue(resource)}`);
    return;
  }
  for (const key of Object.keys(resource)) {
    if (!RESOURCE_KEYS.includes(key)) fail(ctx, `${path}.${key}`, `unknown resource attribute${didYouMean(key, RESOURCE_KEYS)}`);
  }
  const dependsOn = resource.DependsOn;
  if (dependsOn !== undefined) {
    const targets = typeof dependsOn === 'string' ? [[dependsOn, `${path}.DependsOn`] as const] : Array.isArray(dependsOn) ? dependsOn.map((t, i) => [t, `${path}.DependsOn[${i}]`] as const) : undefined;
    if (targets === undefined) fail(ctx, `${path}.DependsOn`, `expected a logical id or a list of them, got ${describeValue(dependsOn)}`);
    for (const [target, at] of targets ?? []) {
      if (typeof target !== 'string') fail(ctx, at, `expected a logical id, got ${describeValue(target)}`);
      else if (target === ctx.logicalId) fail(ctx, at, 'a resource cannot depend on itself');
      else if (!Object.hasOwn(ctx.resources, target)) fail(ctx, at, `DependsOn: no resource named ${target}${didYouMean(target, Object.keys(ctx.resources))}`);
    }
  }
  if (resource.Condition !== undefined) checkCondition(ctx, resource.Condition, `${path}.Condition`, 'Condition');
  for (const key of ['DeletionPolicy', 'UpdateReplacePolicy'] as const) {
    const policy = resource[key];
    if (policy !== undefined && (typeof policy !== 'string' || !DELETION_POLICIES.includes(policy))) {
      const hint = typeof policy === 'string' ? didYouMean(policy, DELETION_POLICIES) : '';
      fail(ctx, `${path}.${key}`, `expected one of ${DELETION_POLICIES.join(', ')}, got ${describeValue(policy)}${hint}`);
    }
  }

  const type = resource.Type;
  if (typeof type !== 'string') {
    fail(ctx, `${path}.Type`, type === undefined ? 'required attribute is missing' : `expected a resource type name, got ${describeValue(type)}`);
    return;
  }
  const custom = type.startsWith('Custom::');
  const definition = ctx.spec.resource(custom ? CUSTOM_RESOURCE : type);
  if (definition === undefined) {
    fail(ctx, `${path}.Type`, `unknown resource type ${type}${didYouMean(type, ctx.spec.resourceTypeNames())}`);
    return;
  }
  const properties = resource.Properties ?? {};
  if (intrinsicOf(properties) !== undefined) {
    scanIntrinsics(ctx, properties, `${path}.Properties`);
  } else if (!isObject(properties)) {
    fail(ctx, `${path}.Properties`, `expected an object, got ${describeValue(properties)}`);
  } else {
    // A custom resource passes any property to its provider; only ServiceToken (required) is CloudFormation's.
    checkProperties(ctx, properties, definition.properties, `${path}.Properties`, custom || type === CUSTOM_RESOURCE);
  }
};

/**
 * Validates a parsed CloudFormation template against the specification.
 *
 * @example
 * const spec = await loadSpec();
 * const { errors } = validateTemplate(JSON.parse(readFileSync(file, 'utf8')), spec);
 * errors.map(formatIssue); // ['BillingQueue.Properties.VisibilityTimeout: expected an integer, got the string "a minute"']
 */
const validateTemplate = (template: unknown, spec: CfnSpec): ValidationReport => {
  const stats: ValidationStats = { resources: 0, resourceTypes: 0, properties: 0, intrinsics: 0 };
  const errors: TemplateIssue[] = [];
  if (!isObject(template)) {
    return { errors: [{ logicalId: '', path: '(template)', message: 'expected a JSON object' }], warnings: [], stats };
  }
  const section = (name: string): JsonObject => (isObject(template[name]) ? template[name] : {});
  const resources = section('Resources');
  const warnings: TemplateIssue[] = [];
  const base = {
    spec,
    resources,
    parameters: new Set(Object.keys(section('Parameters'))),
    conditions: new Set(Object.keys(section('Conditions'))),
    mappings: new Set(Object.keys(section('Mappings'))),
    errors,
    warnings,
    stats,
  };
  const top: Context = { ...base, logicalId: '', inResource: false };
  for (const key of Object.keys(template)) {
    if (!TEMPLATE_SECTIONS.includes(key)) fail(top, key, `unknown template section${didYouMean(key, TEMPLATE_SECTIONS)}`);
  }
  if (!isObject(template.Resources) || Object.keys(resources).length === 0) {
    fail(top, 'Resources', 'a template needs at least one resource');
  }

  const types = new Set<string>();
  for (const [logicalId, resource] of Object.entries(resources)) {
    stats.resources++;
    if (isObject(resource) && typeof resource.Type === 'string') types.add(resource.Type);
    checkResource({ ...base, logicalId, inResource: true }, resource, logicalId);
  }
  stats.resourceTypes = types.size;

  for (const [name, condition] of Object.entries(section('Conditions'))) {
    scanIntrinsics({ ...base, logicalId: name, inResource: false }, condition, `Conditions.${name}`, true);
  }
  for (const [name, output] of Object.entries(section('Outputs'))) {
    const ctx: Context = { ...base, logicalId: name, inResource: false };
    const path = `Outputs.${name}`;
    if (!isObject(output)) {
      fail(ctx, path, `expected an output object, got ${describeValue(output)}`);
      continue;
    }
    for (const key of Object.keys(output)) {
      if (!OUTPUT_KEYS.includes(key)) fail(ctx, `${path}.${key}`, `unknown output attribute${didYouMean(key, OUTPUT_KEYS)}`);
    }
    if (output.Value === undefined) fail(ctx, `${path}.Value`, 'required attribute is missing');
    if (output.Condition !== undefined) checkCondition(ctx, output.Condition, `${path}.Condition`, 'Condition');
    for (const key of ['Value', 'Export'] as const) {
      if (output[key] !== undefined) scanIntrinsics(ctx, output[key], `${path}.${key}`);
    }
  }
  return { errors, warnings, stats };
};

/** Throws `InvalidTemplateError` listing every problem, if there is any. */
const assertValidTemplate = (template: unknown, spec: CfnSpec): ValidationReport => {
  const report = validateTemplate(template, spec);
  if (report.errors.length > 0) throw new InvalidTemplateError(report.errors);
  return report;
};

const formatIssue = (issue: TemplateIssue): string => `${issue.path}: ${issue.message}`;

/** Reads and parses a template file. */
const readTemplate = async (file: string): Promise<unknown> => {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new TemplateFileError(file, `cannot read it (${(error as Error).message}); run \`osls package\` first`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new TemplateFileError(file, `not JSON (${(error as Error).message})`);
  }
};

const main = async (): Promise<number> => {
  const started = performance.now();
  const file = resolve(process.argv[2] ?? DEFAULT_TEMPLATE);
  let template: unknown;
  try {
    template = await readTemplate(file);
  } catch (error) {
    if (!(error instanceof TemplateFileError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return 2;
  }
  const spec = await loadSpec();
  const { errors, warnings, stats } = validateTemplate(template, spec);
  for (const issue of errors) process.stderr.write(`${formatIssue(issue)}\n`);
  for (const issue of warnings) process.stderr.write(`warning: ${formatIssue(issue)}\n`);
  process.stdout.write(
    `${file}: ${errors.length} error(s), ${warnings.length} warning(s). Checked ${stats.resources} resources of ${stats.resourceTypes} types, ` +
      `${stats.properties} property values at every depth and ${stats.intrinsics} intrinsic functions against ` +
      `@aws-cdk/aws-service-spec ${spec.version} (loaded in ${Math.round(spec.loadMs)} ms; ${Math.round(performance.now() - started)} ms in all).\n`,
  );
  return errors.length === 0 ? 0 : 1;
};

if (import.meta.main) process.exitCode = await main();

export { DEFAULT_TEMPLATE, InvalidTemplateError, TemplateFileError, assertValidTemplate, formatIssue, readTemplate, validateTemplate };
export type { TemplateIssue, ValidationReport, ValidationStats };
