/**
 * Loads the compiled CloudFormation template (`osls package` output) and resolves its intrinsic
 * functions the way CloudFormation does, so the local cloud runs the artifact that `serverless deploy`
 * ships. Physical identities (queue URLs, ARNs, generated names) are predicted deterministically here;
 * the provisioner overrides them with what the emulators actually answer (e.g. the queue URL).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';

interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  DependsOn?: string | string[];
  Condition?: string;
  DeletionPolicy?: string;
  Metadata?: unknown;
}

interface CfnOutput {
  Value: unknown;
  Description?: string;
  Condition?: string;
  Export?: { Name: unknown };
}

interface CfnParameter {
  Type: string;
  Default?: unknown;
}

interface CfnTemplate {
  AWSTemplateFormatVersion?: string;
  Description?: string;
  Parameters?: Record<string, CfnParameter>;
  Mappings?: Record<string, Record<string, Record<string, unknown>>>;
  Conditions?: Record<string, unknown>;
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, CfnOutput>;
}

/** Where the stack "runs": the values behind the pseudo parameters. */
interface StackContext {
  stackName: string;
  region: string;
  accountId: string;
  partition?: string;
  urlSuffix?: string;
  /** Values for template Parameters (else their Default). */
  parameters?: Record<string, string>;
  /** Base of predicted SQS queue URLs, e.g. http://127.0.0.1:4566 (the provisioner records the real URL). */
  queueUrlBase?: string;
}

/** What `Ref` and `Fn::GetAtt` answer for one resource. */
interface ResourceIdentity {
  ref: string;
  attributes: Record<string, string>;
}

class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

class TemplateLoadError extends TemplateError {
  constructor(path: string, cause: unknown) {
    super(`cannot load the compiled template ${path}: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'TemplateLoadError';
  }
}

class IntrinsicError extends TemplateError {
  constructor(path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = 'IntrinsicError';
  }
}

/** `Ref: AWS::NoValue` removes the property or list element that holds it. */
const NO_VALUE: unique symbol = Symbol('AWS::NoValue');

/** The property that names each resource type explicitly (else CloudFormation generates a name). */
const NAME_PROPERTY: Record<string, string[]> = {
  'AWS::SQS::Queue': ['QueueName'],
  'AWS::SNS::Topic': ['TopicName'],
  'AWS::S3::Bucket': ['BucketName'],
  'AWS::Kinesis::Stream': ['Name', 'StreamName'],
  'AWS::DynamoDB::Table': ['TableName'],
  'AWS::KinesisFirehose::DeliveryStream': ['DeliveryStreamName'],
  'AWS::Lambda::Function': ['FunctionName'],
  'AWS::Logs::LogGroup': ['LogGroupName'],
  'AWS::IAM::Role': ['RoleName'],
  'AWS::IAM::ManagedPolicy': ['ManagedPolicyName'],
  'AWS::CloudWatch::Alarm': ['AlarmName'],
  'AWS::ApiGatewayV2::Api': [],
  'AWS::SecretsManager::Secret': ['Name'],
};

/** Name length limits CloudFormation respects when it generates a name (service quotas pages). */
const NAME_MAX_LENGTH: Record<string, number> = {
  'AWS::SQS::Queue': 80,
  'AWS::SNS::Topic': 256,
  'AWS::S3::Bucket': 63,
  'AWS::Kinesis::Stream': 128,
  'AWS::DynamoDB::Table': 255,
  'AWS::KinesisFirehose::DeliveryStream': 64,
  'AWS::Lambda::Function': 64,
  'AWS::IAM::Role': 64,
};

const PSEUDO_PARAMETERS = [
  'AWS::Region',
  'AWS::AccountId',
  'AWS::Partition',
  'AWS::StackName',
  'AWS::StackId',
  'AWS::URLSuffix',
  'AWS::NoValue',
  'AWS::NotificationARNs',
] as const;

async function loadTemplate(path: string): Promise<CfnTemplate> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new TemplateLoadError(path, error);
  }
  if (!isRecord(parsed) || !isRecord(parsed.Resources)) {
    throw new TemplateLoadError(path, new Error('no Resources section'));
  }
  return parsed as unknown as CfnTemplate;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** 12 upper-case alphanumerics, stable for a stack and logical id, like CloudFormation's suffixes. */
function stableSuffix(seed: string, length = 12): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  const digest = createHash('sha256').update(seed).digest();
  let out = '';
  for (let i = 0; i < length; i += 1) out += alphabet[(digest[i] ?? 0) % alphabet.length];
  return out;
}

/**
 * A secret's ARN: Secrets Manager appends `-` and six random characters to the name (Secrets Manager user guide,
 * "Find secrets": "Secrets Manager adds a hyphen and six random characters"); locally they derive from the name,
 * so the ARN is the same in every run and the template's `Ref` can predict it.
 */
function secretArn(scope: { partition: string; region: string; accountId: string }, name: string): string {
  return `arn:${scope.partition}:secretsmanager:${scope.region}:${scope.accountId}:secret:${name}-${stableSuffix(`secret/${name}`, 6)}`;
}

/** A UUID derived from a seed, so ids stay the same across restarts. */
function stableUuid(seed: string): string {
  const hex = createHash('sha256').update(seed).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * CloudFormation's generated physical name: `<stack>-<LogicalId>-<SUFFIX>`, stack and logical id
 * truncated to fit the type's limit; FIFO queues and topics keep their mandatory `.fifo` suffix;
 * bucket names are lower-cased (S3 naming rules).
 */
function generatedName(stackName: string, logicalId: string, type: string, fifo: boolean): string {
  const suffix = stableSuffix(`${stackName}/${logicalId}`);
  const max = (NAME_MAX_LENGTH[type] ?? 128) - (fifo ? 5 : 0);
  let stack = stackName;
  let id = logicalId;
  const room = max - suffix.length - 2;
  while (stack.length + id.length > room) {
    if (stack.length >= id.length) stack = stack.slice(0, -1);
    else id = id.slice(0, -1);
  }
  let name = `${stack}-${id}-${suffix}`;
  if (type === 'AWS::S3::Bucket') name = name.toLowerCase();
  return fifo ? `${name}.fifo` : name;
}

/**
 * Resolves intrinsic functions against one template and stack context. Identities of resources are
 * predicted on first use and can be replaced by `setIdentity` once a resource is really created.
 */
class TemplateResolver {
  readonly template: CfnTemplate;
  readonly context: Required<Omit<StackContext, 'queueUrlBase'>> & { queueUrlBase: string };
  private readonly identities = new Map<string, ResourceIdentity>();
  private readonly conditionCache = new Map<string, boolean>();
  private readonly warn: (message: string) => void;
  private readonly warned = new Set<string>();

  constructor(template: CfnTemplate, context: StackContext, warn: (message: string) => void = () => {}) {
    this.template = template;
    this.context = {
      partition: 'aws',
      urlSuffix: 'amazonaws.com',
      parameters: {},
      queueUrlBase: `https://sqs.${context.region}.amazonaws.com`,
      ...context,
    };
    this.warn = warn;
  }

  /** Warns once per distinct message (a template resolves the same value many times). */
  private warnOnce(message: string): void {
    if (this.warned.has(message)) return;
    this.warned.add(message);
    this.warn(message);
  }

  resource(logicalId: string): CfnResource {
    const resource = this.template.Resources[logicalId];
    if (!resource) throw new TemplateError(`no resource ${logicalId} in the template`);
    return resource;
  }

  /** False when the resource's `Condition` evaluates to false: CloudFormation does not create it. */
  isActive(logicalId: string): boolean {
    const condition = this.resource(logicalId).Condition;
    return condition === undefined ? true : this.condition(condition);
  }

  condition(name: string): boolean {
    const cached = this.conditionCache.get(name);
    if (cached !== undefined) return cached;
    const definition = this.template.Conditions?.[name];
    if (definition === undefined) throw new TemplateError(`Conditions.${name} is not defined`);
    const value = this.evaluateCondition(definition, `Conditions.${name}`);
    this.conditionCache.set(name, value);
    return value;
  }

  private evaluateCondition(value: unknown, path: string): boolean {
    if (typeof value === 'boolean') return value;
    if (!isRecord(value)) throw new IntrinsicError(path, 'a condition must be a condition function');
    const [fn, args] = Object.entries(value)[0] ?? [];
    switch (fn) {
      case 'Condition':
        return this.condition(String(args));
      case 'Fn::Equals': {
        const [a, b] = asArray(args, path, 2).map((v) => this.resolveValue(v, path));
        return JSON.stringify(a) === JSON.stringify(b) || String(a) === String(b);
      }
      case 'Fn::Not':
        return !this.evaluateCondition(asArray(args, path, 1)[0], path);
      case 'Fn::And':
        return asArray(args, path).every((c) => this.evaluateCondition(c, path));
      case 'Fn::Or':
        return asArray(args, path).some((c) => this.evaluateCondition(c, path));
      default:
        throw new IntrinsicError(path, `unsupported condition function ${String(fn)}`);
    }
  }

  /** The physical name of a resource: its explicit name property, else CloudFormation's generated name. */
  physicalName(logicalId: string): string {
    const resource = this.resource(logicalId);
    const props = resource.Properties ?? {};
    for (const key of NAME_PROPERTY[resource.Type] ?? []) {
      const explicit = props[key];
      if (explicit !== undefined) return String(this.resolveValue(explicit, `${logicalId}.Properties.${key}`));
    }
    const fifo =
      (resource.Type === 'AWS::SQS::Queue' && truthy(this.resolveValue(props.FifoQueue, logicalId))) ||
      (resource.Type === 'AWS::SNS::Topic' && truthy(this.resolveValue(props.FifoTopic, logicalId)));
    return generatedName(this.context.stackName, logicalId, resource.Type, fifo);
  }

  /** Records the identity a resource really got (called by the provisioner). */
  setIdentity(logicalId: string, identity: ResourceIdentity): void {
    this.identities.set(logicalId, identity);
  }

  identity(logicalId: string): ResourceIdentity {
    let identity = this.identities.get(logicalId);
    if (!identity) {
      identity = this.predictIdentity(logicalId);
      this.identities.set(logicalId, identity);
    }
    return identity;
  }

  /** ARN formats from each service's "Actions, resources and condition keys" page. */
  private predictIdentity(logicalId: string): ResourceIdentity {
    const { partition, region, accountId, urlSuffix } = this.context;
    const resource = this.resource(logicalId);
    const props = resource.Properties ?? {};
    const seed = `${this.context.stackName}/${logicalId}`;
    const name = (): string => this.physicalName(logicalId);
    switch (resource.Type) {
      case 'AWS::SQS::Queue': {
        const queueName = name();
        const url = `${this.context.queueUrlBase}/${accountId}/${queueName}`;
        const arn = `arn:${partition}:sqs:${region}:${accountId}:${queueName}`;
        return { ref: url, attributes: { Arn: arn, QueueName: queueName, QueueUrl: url } };
      }
      case 'AWS::SNS::Topic': {
        const topicName = name();
        const arn = `arn:${partition}:sns:${region}:${accountId}:${topicName}`;
        return { ref: arn, attributes: { TopicArn: arn, TopicName: topicName } };
      }
      case 'AWS::SNS::Subscription': {
        const topicArn = String(this.resolveValue(props.TopicArn, `${logicalId}.Properties.TopicArn`));
        const arn = `${topicArn}:${stableUuid(seed)}`;
        return { ref: arn, attributes: { Arn: arn } };
      }
      case 'AWS::S3::Bucket': {
        const bucket = name();
        return {
          ref: bucket,
          attributes: {
            Arn: `arn:${partition}:s3:::${bucket}`,
            DomainName: `${bucket}.s3.${urlSuffix}`,
            RegionalDomainName: `${bucket}.s3.${region}.${urlSuffix}`,
            DualStackDomainName: `${bucket}.s3.dualstack.${region}.${urlSuffix}`,
            WebsiteURL: `http://${bucket}.s3-website-${region}.${urlSuffix}`,
          },
        };
      }
      case 'AWS::Kinesis::Stream': {
        const stream = name();
        return { ref: stream, attributes: { Arn: `arn:${partition}:kinesis:${region}:${accountId}:stream/${stream}` } };
      }
      case 'AWS::DynamoDB::Table': {
        const table = name();
        const arn = `arn:${partition}:dynamodb:${region}:${accountId}:table/${table}`;
        return { ref: table, attributes: { Arn: arn } };
      }
      case 'AWS::KinesisFirehose::DeliveryStream': {
        const stream = name();
        return {
          ref: stream,
          attributes: { Arn: `arn:${partition}:firehose:${region}:${accountId}:deliverystream/${stream}` },
        };
      }
      case 'AWS::Lambda::Function': {
        const fn = name();
        return { ref: fn, attributes: { Arn: `arn:${partition}:lambda:${region}:${accountId}:function:${fn}` } };
      }
      case 'AWS::Lambda::Version': {
        const fnArn = this.functionArnOf(props.FunctionName, `${logicalId}.Properties.FunctionName`);
        return { ref: `${fnArn}:1`, attributes: { Version: '1', FunctionArn: fnArn } };
      }
      case 'AWS::Lambda::Alias': {
        const fnArn = this.functionArnOf(props.FunctionName, `${logicalId}.Properties.FunctionName`);
        const aliasArn = `${fnArn}:${String(this.resolveValue(props.Name, logicalId))}`;
        return { ref: aliasArn, attributes: { AliasArn: aliasArn } };
      }
      case 'AWS::Lambda::EventSourceMapping': {
        const id = stableUuid(seed);
        return {
          ref: id,
          attributes: { Id: id, EventSourceMappingArn: `arn:${partition}:lambda:${region}:${accountId}:event-source-mapping:${id}` },
        };
      }
      case 'AWS::IAM::Role': {
        const role = name();
        const rolePath = typeof props.Path === 'string' ? props.Path : '/';
        return {
          ref: role,
          attributes: { Arn: `arn:${partition}:iam::${accountId}:role${rolePath}${role}`, RoleId: `AROA${stableSuffix(seed, 17)}` },
        };
      }
      case 'AWS::Logs::LogGroup': {
        const group = name();
        return { ref: group, attributes: { Arn: `arn:${partition}:logs:${region}:${accountId}:log-group:${group}:*` } };
      }
      case 'AWS::ApiGatewayV2::Api': {
        const apiId = stableSuffix(seed, 10).toLowerCase();
        return { ref: apiId, attributes: { ApiId: apiId, ApiEndpoint: `https://${apiId}.execute-api.${region}.${urlSuffix}` } };
      }
      case 'AWS::Glue::Database': {
        // Ref is the database name (DatabaseInput.Name), as Glue stores it: lower case.
        const input = isRecord(props.DatabaseInput) ? props.DatabaseInput : {};
        return { ref: String(this.resolveValue(input.Name, `${logicalId}.Properties.DatabaseInput.Name`)).toLowerCase(), attributes: {} };
      }
      case 'AWS::Glue::Table': {
        const input = isRecord(props.TableInput) ? props.TableInput : {};
        return { ref: String(this.resolveValue(input.Name, `${logicalId}.Properties.TableInput.Name`)).toLowerCase(), attributes: {} };
      }
      case 'AWS::AmazonMQ::Broker': {
        // Ref is the broker id; the ARN ends with the name and the id (Amazon MQ "Broker" attributes).
        const brokerName = typeof props.BrokerName === 'string' ? props.BrokerName : name();
        const brokerId = `b-${stableUuid(seed)}`;
        return { ref: brokerId, attributes: { Arn: `arn:${partition}:mq:${region}:${accountId}:broker:${brokerName}:${brokerId}` } };
      }
      case 'AWS::SecretsManager::Secret': {
        // Ref and Id are the ARN (CloudFormation reference, AWS::SecretsManager::Secret return values).
        const arn = secretArn({ partition, region, accountId }, name());
        return { ref: arn, attributes: { Id: arn } };
      }
      case 'AWS::CloudWatch::Alarm': {
        const alarm = name();
        return { ref: alarm, attributes: { Arn: `arn:${partition}:cloudwatch:${region}:${accountId}:alarm:${alarm}` } };
      }
      default: {
        const id = name();
        return { ref: id, attributes: { Arn: `arn:${partition}:cloudformation:${region}:${accountId}:${resource.Type}/${id}` } };
      }
    }
  }

  private functionArnOf(value: unknown, path: string): string {
    const resolved = String(this.resolveValue(value, path));
    if (resolved.startsWith('arn:')) return resolved;
    const { partition, region, accountId } = this.context;
    return `arn:${partition}:lambda:${region}:${accountId}:function:${resolved}`;
  }

  /** `Ref` to a resource, parameter or pseudo parameter. */
  ref(name: string, path = 'Ref'): string | typeof NO_VALUE | string[] {
    switch (name) {
      case 'AWS::Region':
        return this.context.region;
      case 'AWS::AccountId':
        return this.context.accountId;
      case 'AWS::Partition':
        return this.context.partition;
      case 'AWS::StackName':
        return this.context.stackName;
      case 'AWS::StackId':
        return `arn:${this.context.partition}:cloudformation:${this.context.region}:${this.context.accountId}:stack/${this.context.stackName}/${stableUuid(this.context.stackName)}`;
      case 'AWS::URLSuffix':
        return this.context.urlSuffix;
      case 'AWS::NoValue':
        return NO_VALUE;
      case 'AWS::NotificationARNs':
        return [];
      default:
        break;
    }
    const parameter = this.template.Parameters?.[name];
    if (parameter) {
      const value = this.context.parameters[name] ?? parameter.Default;
      if (value === undefined) throw new IntrinsicError(path, `parameter ${name} has no value and no Default`);
      if (Array.isArray(value)) return value.map(String);
      // List parameters (CommaDelimitedList, List<...>) resolve to lists.
      if (parameter.Type === 'CommaDelimitedList' || parameter.Type.startsWith('List<')) return String(value).split(',').map((item) => item.trim());
      return String(value);
    }
    if (!this.template.Resources[name]) throw new IntrinsicError(path, `Ref to unknown resource or parameter ${name}`);
    if (!this.isActive(name)) this.warnOnce(`${path}: Ref to ${name}, which its Condition leaves out`);
    return this.identity(name).ref;
  }

  getAtt(logicalId: string, attribute: string, path = 'Fn::GetAtt'): string {
    if (!this.template.Resources[logicalId]) throw new IntrinsicError(path, `Fn::GetAtt on unknown resource ${logicalId}`);
    const identity = this.identity(logicalId);
    const value = identity.attributes[attribute];
    if (value !== undefined) return value;
    const type = this.resource(logicalId).Type;
    this.warnOnce(`${path}: Fn::GetAtt ${logicalId}.${attribute} is not emulated for ${type}; using a placeholder`);
    return `${identity.ref}.${attribute}`;
  }

  /** Resolves every intrinsic function in a value; `AWS::NoValue` removes keys and list elements. */
  resolve(value: unknown, path = 'template'): unknown {
    const resolved = this.resolveValue(value, path);
    return resolved === NO_VALUE ? undefined : resolved;
  }

  private resolveValue(value: unknown, path: string): unknown {
    if (Array.isArray(value)) {
      return value.map((item, i) => this.resolveValue(item, `${path}[${i}]`)).filter((item) => item !== NO_VALUE);
    }
    if (!isRecord(value)) return value;
    const keys = Object.keys(value);
    if (keys.length === 1) {
      const key = keys[0] as string;
      if (key === 'Ref' || key.startsWith('Fn::') || (key === 'Condition' && typeof value[key] === 'string')) {
        return this.intrinsic(key, value[key], `${path}.${key}`);
      }
    } else if (keys.some((key) => key === 'Ref' || key.startsWith('Fn::'))) {
      // CloudFormation rejects such an object: an intrinsic function is an object with exactly one key.
      throw new IntrinsicError(path, `an intrinsic function must be the only key of its object, got keys ${keys.join(', ')}`);
    }
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      const resolved = this.resolveValue(item, `${path}.${key}`);
      if (resolved !== NO_VALUE) out[key] = resolved;
    }
    return out;
  }

  private intrinsic(fn: string, args: unknown, path: string): unknown {
    switch (fn) {
      case 'Ref':
        return this.ref(String(args), path);
      case 'Condition':
        return this.condition(String(args));
      case 'Fn::GetAtt': {
        const [logicalId, ...rest] = typeof args === 'string' ? args.split('.') : asArray(args, path, 2).map((a) => String(this.resolveValue(a, path)));
        return this.getAtt(String(logicalId), rest.join('.'), path);
      }
      case 'Fn::Join': {
        const [delimiter, list] = asArray(args, path, 2);
        const items = this.resolveValue(list, path);
        if (!Array.isArray(items)) throw new IntrinsicError(path, 'Fn::Join needs a list');
        return items.map((item) => stringify(item, path)).join(String(delimiter));
      }
      case 'Fn::Sub':
        return this.sub(args, path);
      case 'Fn::Select': {
        const [index, list] = asArray(args, path, 2);
        const items = this.resolveValue(list, path);
        const i = Number(this.resolveValue(index, path));
        if (!Array.isArray(items) || !(i in items)) throw new IntrinsicError(path, `Fn::Select index ${i} out of range`);
        return items[i];
      }
      case 'Fn::Split': {
        const [delimiter, source] = asArray(args, path, 2);
        return stringify(this.resolveValue(source, path), path).split(String(delimiter));
      }
      case 'Fn::If': {
        const [condition, whenTrue, whenFalse] = asArray(args, path, 3);
        return this.resolveValue(this.condition(String(condition)) ? whenTrue : whenFalse, path);
      }
      case 'Fn::Equals':
      case 'Fn::Not':
      case 'Fn::And':
      case 'Fn::Or':
        return this.evaluateCondition({ [fn]: args }, path);
      case 'Fn::FindInMap': {
        const [map, top, second] = asArray(args, path, 3).map((a) => String(this.resolveValue(a, path)));
        const found = this.template.Mappings?.[map as string]?.[top as string]?.[second as string];
        if (found === undefined) throw new IntrinsicError(path, `Fn::FindInMap ${map}.${top}.${second} not found`);
        return found;
      }
      case 'Fn::Base64':
        return Buffer.from(stringify(this.resolveValue(args, path), path)).toString('base64');
      case 'Fn::GetAZs':
        return ['a', 'b', 'c'].map((zone) => `${this.context.region}${zone}`);
      case 'Fn::ImportValue': {
        const name = stringify(this.resolveValue(args, path), path);
        this.warnOnce(`${path}: Fn::ImportValue ${name} reads another stack's export, which the local cloud does not have; using a placeholder`);
        return `imported:${name}`;
      }
      case 'Fn::ToJsonString':
        return JSON.stringify(this.resolveValue(args, path));
      case 'Fn::Length': {
        const items = this.resolveValue(args, path);
        return Array.isArray(items) ? items.length : 0;
      }
      default:
        throw new IntrinsicError(path, `unsupported intrinsic function ${fn}`);
    }
  }

  /** `Fn::Sub`: `${Name}`, `${Logical.Attr}`, `${!Literal}`, and the `[string, variables]` form. */
  private sub(args: unknown, path: string): string {
    let source: string;
    let variables: Record<string, unknown> = {};
    if (typeof args === 'string') source = args;
    else {
      const [text, vars] = asArray(args, path, 2);
      source = String(text);
      variables = isRecord(vars) ? vars : {};
    }
    return source.replace(/\$\{([^}]*)\}/g, (match, inner: string) => {
      if (inner.startsWith('!')) return `\${${inner.slice(1)}}`;
      const name = inner.trim();
      if (name in variables) return stringify(this.resolveValue(variables[name], `${path}.${name}`), path);
      if ((PSEUDO_PARAMETERS as readonly string[]).includes(name) || this.template.Parameters?.[name]) {
        return stringify(this.ref(name, path), path);
      }
      const dot = name.indexOf('.');
      if (dot > 0) return this.getAtt(name.slice(0, dot), name.slice(dot + 1), path);
      if (this.template.Resources[name]) return stringify(this.ref(name, path), path);
      throw new IntrinsicError(path, `Fn::Sub variable ${match} names nothing in the template`);
    });
  }

  /** Resolves the template's Outputs (those whose Condition holds); one that cannot be resolved is warned about and left out. */
  outputs(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, output] of Object.entries(this.template.Outputs ?? {})) {
      try {
        if (output.Condition && !this.condition(output.Condition)) continue;
        out[name] = stringify(this.resolve(output.Value, `Outputs.${name}.Value`), `Outputs.${name}.Value`);
      } catch (error) {
        if (!(error instanceof TemplateError)) throw error;
        this.warnOnce(`output ${name} left out: ${error.message}`);
      }
    }
    return out;
  }
}

function asArray(value: unknown, path: string, length?: number): unknown[] {
  if (!Array.isArray(value) || (length !== undefined && value.length < length)) {
    throw new IntrinsicError(path, `expected a list${length ? ` of ${length}` : ''}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function stringify(value: unknown, path: string): string {
  if (value === NO_VALUE || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return value.map((v) => stringify(v, path)).join(',');
  throw new IntrinsicError(path, `expected a string, got ${JSON.stringify(value)}`);
}

function truthy(value: unknown): boolean {
  return value === true || value === 'true';
}

/** Logical ids a value references through Ref, Fn::GetAtt, Fn::Sub (Ref/GetAtt to parameters and pseudo parameters excluded). */
function referencedResources(value: unknown, resources: Record<string, CfnResource>, into = new Set<string>()): Set<string> {
  if (Array.isArray(value)) {
    for (const item of value) referencedResources(item, resources, into);
    return into;
  }
  if (!isRecord(value)) return into;
  for (const [key, item] of Object.entries(value)) {
    if (key === 'Ref' && typeof item === 'string' && resources[item]) into.add(item);
    else if (key === 'Fn::GetAtt') {
      const target = typeof item === 'string' ? item.split('.')[0] : Array.isArray(item) ? item[0] : undefined;
      if (typeof target === 'string' && resources[target]) into.add(target);
    } else if (key === 'Fn::Sub') {
      const text = typeof item === 'string' ? item : Array.isArray(item) ? item[0] : undefined;
      if (typeof text === 'string') {
        for (const match of text.matchAll(/\$\{([^!}][^}]*)\}/g)) {
          const target = (match[1] ?? '').split('.')[0] ?? '';
          if (resources[target]) into.add(target);
        }
      }
      if (Array.isArray(item)) referencedResources(item[1], resources, into);
    } else referencedResources(item, resources, into);
  }
  return into;
}

/** Resources in creation order: every resource after what it references (Ref, GetAtt, Sub) and its DependsOn. */
function dependencyOrder(template: CfnTemplate): string[] {
  const resources = template.Resources;
  const edges = new Map<string, Set<string>>();
  for (const [logicalId, resource] of Object.entries(resources)) {
    const deps = referencedResources(resource.Properties ?? {}, resources);
    const dependsOn = resource.DependsOn === undefined ? [] : Array.isArray(resource.DependsOn) ? resource.DependsOn : [resource.DependsOn];
    for (const dep of dependsOn) {
      if (!resources[dep]) throw new TemplateError(`${logicalId}.DependsOn names unknown resource ${dep}`);
      deps.add(dep);
    }
    deps.delete(logicalId);
    edges.set(logicalId, deps);
  }
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string, trail: string[]): void => {
    const seen = state.get(id);
    if (seen === 'done') return;
    if (seen === 'visiting') throw new TemplateError(`circular dependency: ${[...trail, id].join(' -> ')}`);
    state.set(id, 'visiting');
    for (const dep of [...(edges.get(id) ?? [])].sort()) visit(dep, [...trail, id]);
    state.set(id, 'done');
    order.push(id);
  };
  for (const id of Object.keys(resources).sort()) visit(id, []);
  return order;
}

export {
  TemplateResolver,
  dependencyOrder,
  generatedName,
  isRecord,
  loadTemplate,
  referencedResources,
  secretArn,
  stableUuid,
};
export type { CfnResource, CfnTemplate };
