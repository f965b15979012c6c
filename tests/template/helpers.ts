/**
 * Template tests: package the service with `osls package` and assert on the compiled CloudFormation.
 *
 * Packaging is the slow part (~3 s a stage), so each stage is packaged ONCE per vitest run and shared by every
 * test file through a small on-disk cache (test files run in separate workers, so a module variable is not enough):
 *
 *   <tmpdir>/orderflow-template-tests/run-<vitest pid>-<hash of the packaging inputs>/<stage>/
 *     service/   a shadow copy of the repository: top-level files copied, directories symlinked
 *     package/   what `osls package --stage <stage> --package <dir>` writes (template, state, zips)
 *     result.json
 *
 * Why a shadow service directory rather than only `--package`: `--package` does move the template and the zips
 * out of `.serverless/`, but serverless-esbuild still builds in `<service>/.esbuild/`, which the local cloud
 * (`osls package --stage local`, run by another process in the same checkout) uses at the same time. Building in
 * the shadow directory leaves the checkout untouched. osls refuses a symlinked `serverless.yml`, hence the copies.
 *
 * Packaging always runs WITHOUT AWS credentials (see `credentialFreeEnv`): every run proves that
 * `osls package` works offline with no account, as docs/architecture.md promises.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread } from 'node:worker_threads';

const REPO_ROOT = resolvePath(dirname(fileURLToPath(import.meta.url)), '../..');
const STAGES = ['dev', 'local'] as const;
type Stage = (typeof STAGES)[number];

/** Pseudo-parameter values used to resolve `Fn::Sub` strings (a fake account, the default region). */
const FAKE = { AccountId: '123456789012', Region: 'us-east-1', Partition: 'aws', URLSuffix: 'amazonaws.com' } as const;

// CloudFormation property values are free-form JSON; tests read them directly.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Cfn = any;

interface CfnResource {
  Type: string;
  /** The name of the Condition that decides whether CloudFormation creates it. */
  Condition?: string;
  Properties?: Cfn;
  DependsOn?: string | string[];
}

interface Template {
  stage: Stage;
  stackName: string;
  /** `osls` service name (`service:` in serverless.yml). */
  service: string;
  /** Stage params after merging `params.default` and `params.<stage>`. */
  params: Record<string, unknown>;
  resources: Record<string, CfnResource>;
  /** The template's Conditions (evaluated by CloudFormation at deploy time, not by osls). */
  conditions: Record<string, Cfn>;
  outputs: Record<string, Cfn>;
  /** Where serverless-esbuild wrote the bundles for this stage (`<name>.mjs`). */
  bundleDir: string;
}

interface PackagingResult {
  ok: boolean;
  stage: Stage;
  durationMs: number;
  packageDir: string;
  serviceDir: string;
  /** The AWS_* variables the osls process saw (values of the file paths kept, anything else redacted). */
  awsEnv: Record<string, string>;
  output: string;
}

interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Principal?: Cfn;
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: Cfn;
  NotResource?: Cfn;
  Condition?: Record<string, Record<string, Cfn>>;
}

interface PolicySource {
  /** Logical id of the role, managed policy or policy the statement comes from. */
  from: string;
  statement: Statement;
}

const asArray = <T>(value: T | T[] | undefined | null): T[] =>
  value === undefined || value === null ? [] : Array.isArray(value) ? value : [value];

// ---------------------------------------------------------------------------------------------------------------
// Packaging (once per stage per run)
// ---------------------------------------------------------------------------------------------------------------

const CACHE_ROOT = join(tmpdir(), 'orderflow-template-tests');
/** Build outputs and VCS data: never part of the shadow service directory. */
const NOT_SHADOWED = new Set(['.serverless', '.esbuild', '.git', '.local', 'reports', 'coverage']);
const PACKAGE_TIMEOUT_MS = 120_000;

/** Every file the template and the bundles depend on (the bundles are read by the environment-variable test). */
const packagingInputs = (): string[] => {
  const walk = (dir: string): string[] =>
    readdirSync(join(REPO_ROOT, dir), { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)],
    );
  const here = relative(REPO_ROOT, fileURLToPath(import.meta.url));
  return ['serverless.yml', 'package.json', 'package-lock.json', ...walk('resources'), ...walk('functions'), ...walk('lib'), here];
};

/**
 * One id per vitest run, shared by its workers: the vitest process is the parent of `forks` workers and the
 * owner of `threads` workers. The hash of the inputs makes watch-mode reruns package again after an edit, and
 * keeps a recycled pid from reusing a template built from other files.
 */
const runId = (): string => {
  const vitestPid = isMainThread ? process.ppid : process.pid;
  const hash = createHash('sha256');
  for (const file of packagingInputs()) {
    hash.update(file);
    if (existsSync(join(REPO_ROOT, file))) hash.update(readFileSync(join(REPO_ROOT, file))); // may vanish mid-edit
  }
  return `${vitestPid}-${hash.digest('hex').slice(0, 12)}`;
};

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0); // signal 0: only checks that the process exists
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Removes the caches of finished runs (their vitest process is gone). */
const removeFinishedRuns = (): void => {
  if (!existsSync(CACHE_ROOT)) return;
  for (const name of readdirSync(CACHE_ROOT)) {
    const pid = Number(/^run-(\d+)-/.exec(name)?.[1]);
    if (Number.isInteger(pid) && !isAlive(pid)) rmSync(join(CACHE_ROOT, name), { recursive: true, force: true });
  }
};

/**
 * The environment osls runs with: no AWS_* variable from the caller (keys, session tokens, profiles, container
 * and web-identity credentials), config and credentials files that do not exist, and no instance metadata.
 */
const credentialFreeEnv = (scratchDir: string): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('AWS_') && !name.startsWith('VITEST')) env[name] = value;
  }
  return {
    ...env,
    AWS_CONFIG_FILE: join(scratchDir, 'no-such-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(scratchDir, 'no-such-aws-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
  };
};

const shadowService = (serviceDir: string): void => {
  mkdirSync(serviceDir, { recursive: true });
  for (const entry of readdirSync(REPO_ROOT, { withFileTypes: true })) {
    if (NOT_SHADOWED.has(entry.name)) continue;
    const source = join(REPO_ROOT, entry.name);
    const target = join(serviceDir, entry.name);
    if (entry.isDirectory()) symlinkSync(source, target, 'dir');
    else if (entry.isFile()) copyFileSync(source, target);
  }
};

const runOsls = (args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ ok: boolean; output: string }> =>
  new Promise((done) => {
    const osls = join(REPO_ROOT, 'node_modules', 'osls', 'bin', 'serverless.js');
    execFile(process.execPath, [osls, ...args], { cwd, env, timeout: PACKAGE_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
      done({ ok: error === null, output: `${stdout}${stderr}${error ? `\n${error.message}` : ''}` }),
    );
  });

/** Stage params given on the command line (`--param=name=value`), e.g. an opt-in feature's account id. */
type ParamOverrides = Readonly<Record<string, string>>;

/** The cache folder of a stage packaged with `params`: the stage's name, plus a hash of the params if any. */
const variantName = (stage: Stage, params: ParamOverrides): string => {
  const entries = Object.entries(params).sort(([a], [b]) => a.localeCompare(b));
  return entries.length === 0 ? stage : `${stage}-${createHash('sha256').update(JSON.stringify(entries)).digest('hex').slice(0, 8)}`;
};

const packageStage = async (stage: Stage, stageDir: string, params: ParamOverrides): Promise<PackagingResult> => {
  const serviceDir = join(stageDir, 'service');
  const packageDir = join(stageDir, 'package');
  shadowService(serviceDir);
  const env = credentialFreeEnv(stageDir);
  const started = Date.now();
  const paramArgs = Object.entries(params).map(([name, value]) => `--param=${name}=${value}`);
  const { ok, output } = await runOsls(['package', '--stage', stage, ...paramArgs, '--package', packageDir], serviceDir, env);
  const awsEnv = Object.fromEntries(
    Object.entries(env)
      .filter(([name]) => name.startsWith('AWS_'))
      .map(([name, value]) => [name, name.endsWith('_FILE') || name === 'AWS_EC2_METADATA_DISABLED' ? String(value) : '<redacted>']),
  );
  return { ok, stage, durationMs: Date.now() - started, packageDir, serviceDir, awsEnv, output };
};

/** The first worker to ask packages the stage; the others wait for its result.json. */
const packagedStage = async (stage: Stage, params: ParamOverrides = {}): Promise<PackagingResult> => {
  mkdirSync(CACHE_ROOT, { recursive: true });
  removeFinishedRuns();
  const runDir = join(CACHE_ROOT, `run-${runId()}`);
  const stageDir = join(runDir, variantName(stage, params));
  const resultFile = join(stageDir, 'result.json');
  mkdirSync(runDir, { recursive: true });
  let owner = true;
  try {
    mkdirSync(stageDir); // atomic: exactly one worker creates it
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    owner = false;
  }
  if (owner) {
    // Whatever happens, write a result: the other workers are waiting for it.
    const result = await packageStage(stage, stageDir, params).catch(
      (error: unknown): PackagingResult => ({
        ok: false,
        stage,
        durationMs: 0,
        packageDir: join(stageDir, 'package'),
        serviceDir: join(stageDir, 'service'),
        awsEnv: {},
        output: error instanceof Error ? (error.stack ?? error.message) : String(error),
      }),
    );
    writeFileSync(`${resultFile}.tmp`, JSON.stringify(result));
    renameSync(`${resultFile}.tmp`, resultFile);
    return result;
  }
  // Loaded here, not at the top: the package's index loads the emulators too (imported at the top, the import time
  // `npx vitest run tests/template` reports went from 1.85 s to 10.9 s), and only a worker that waits needs it.
  const { waitFor } = await import('local-cloud');
  await waitFor(() => existsSync(resultFile), { what: `another worker to package stage ${stage} in ${stageDir}`, timeoutMs: PACKAGE_TIMEOUT_MS + 10_000, intervalMs: 100 });
  return JSON.parse(readFileSync(resultFile, 'utf8')) as PackagingResult;
};

const packagings = new Map<Stage, Promise<PackagingResult>>();

/**
 * Packages `stage` (once per run) and returns what osls reported, failed or not. The first call starts every
 * stage at once: each test file checks all of them, and two packagings in parallel take less than two in a row.
 */
const packaging = (stage: Stage): Promise<PackagingResult> => {
  for (const each of STAGES) if (!packagings.has(each)) packagings.set(each, packagedStage(each));
  return packagings.get(stage) as Promise<PackagingResult>;
};

const variants = new Map<string, Promise<PackagingResult>>();

/**
 * The compiled CloudFormation template of `stage`, plus the stage's params and names. With `params`, the stage is
 * packaged once more with them on the command line (`--param=name=value`), as an opt-in feature is deployed.
 *
 * @example
 * const withPartner = await loadTemplate('dev', { partnerAccountId: '210987654321' });
 */
const loadTemplate = async (stage: Stage, params: ParamOverrides = {}): Promise<Template> => {
  let result: PackagingResult;
  if (Object.keys(params).length === 0) result = await packaging(stage);
  else {
    const name = variantName(stage, params);
    if (!variants.has(name)) variants.set(name, packagedStage(stage, params));
    result = await (variants.get(name) as Promise<PackagingResult>);
  }
  const given = Object.entries(params).map(([name, value]) => ` --param=${name}=${value}`).join('');
  if (!result.ok) throw new Error(`osls package --stage ${stage}${given} failed:\n${result.output}`);
  const compiled = JSON.parse(readFileSync(join(result.packageDir, 'cloudformation-template-update-stack.json'), 'utf8')) as Cfn;
  const state = JSON.parse(readFileSync(join(result.packageDir, 'serverless-state.json'), 'utf8')) as Cfn;
  const config = state.service.initialServerlessConfig;
  const service = String(state.service.service);
  return {
    stage,
    service,
    stackName: String(state.service.provider.stackName ?? `${service}-${stage}`),
    params: { ...config.params?.default, ...config.params?.[stage], ...params },
    resources: compiled.Resources,
    conditions: compiled.Conditions ?? {},
    outputs: compiled.Outputs ?? {},
    bundleDir: join(result.serviceDir, '.esbuild', '.build', 'functions'),
  };
};

// ---------------------------------------------------------------------------------------------------------------
// Reading the template
// ---------------------------------------------------------------------------------------------------------------

const resourcesOfType = (t: Template, type: string): Array<[string, CfnResource]> =>
  Object.entries(t.resources).filter(([, resource]) => resource.Type === type);

const resource = (t: Template, id: string): CfnResource => {
  const found = t.resources[id];
  if (!found) throw new Error(`No resource ${id} in the ${t.stage} template`);
  return found;
};

/** `{Ref: X}` or `{Fn::GetAtt: [X, attr]}` (or `"X.attr"`) → `X`; anything else → undefined. */
const refId = (value: Cfn): string | undefined => {
  if (value === null || typeof value !== 'object') return undefined;
  if (typeof value.Ref === 'string') return value.Ref;
  const getAtt = value['Fn::GetAtt'];
  if (Array.isArray(getAtt)) return getAtt[0];
  if (typeof getAtt === 'string') return getAtt.split('.')[0];
  return undefined;
};

/** `refId` that fails loudly, naming the value it could not follow. */
const targetId = (value: Cfn, where: string): string => {
  const id = refId(value);
  if (id === undefined) throw new Error(`${where}: expected a Ref or Fn::GetAtt, got ${JSON.stringify(value)}`);
  return id;
};

const PSEUDO: Record<string, string> = {
  'AWS::AccountId': FAKE.AccountId,
  'AWS::Region': FAKE.Region,
  'AWS::Partition': FAKE.Partition,
  'AWS::URLSuffix': FAKE.URLSuffix,
};

/** Where each resource type keeps its name; a resource without one gets a generated name, shown as `<LogicalId>`. */
const NAME_PROPERTY: Record<string, string> = {
  'AWS::S3::Bucket': 'BucketName',
  'AWS::SQS::Queue': 'QueueName',
  'AWS::SNS::Topic': 'TopicName',
  'AWS::DynamoDB::Table': 'TableName',
  'AWS::Kinesis::Stream': 'Name',
  'AWS::Logs::LogGroup': 'LogGroupName',
};

/** What `Ref` / `Fn::GetAtt` of a resource evaluates to, for the resource types whose value the tests compare. */
const attribute = (t: Template, id: string, attr: 'Ref' | string): string => {
  if (id === 'AWS::StackName') return t.stackName;
  if (PSEUDO[id]) return PSEUDO[id];
  const found = t.resources[id];
  if (!found) throw new Error(`Reference to ${id}, which is not in the ${t.stage} template`);
  const nameProperty = NAME_PROPERTY[found.Type];
  const given = nameProperty === undefined ? undefined : found.Properties?.[nameProperty];
  const name = given === undefined ? `<${id}>` : resolveValue(t, given);
  const arn = (service: string, resourcePart: string): string =>
    `arn:${FAKE.Partition}:${service}:${FAKE.Region}:${FAKE.AccountId}:${resourcePart}`;
  switch (`${found.Type}#${attr}`) {
    case 'AWS::S3::Bucket#Ref':
    case 'AWS::SQS::Queue#QueueName':
    case 'AWS::DynamoDB::Table#Ref':
    case 'AWS::Kinesis::Stream#Ref':
    case 'AWS::Logs::LogGroup#Ref':
      return name;
    case 'AWS::S3::Bucket#Arn':
      return `arn:${FAKE.Partition}:s3:::${name}`;
    case 'AWS::SQS::Queue#Arn':
      return arn('sqs', name);
    case 'AWS::SQS::Queue#Ref':
      return `https://sqs.${FAKE.Region}.${FAKE.URLSuffix}/${FAKE.AccountId}/${name}`;
    case 'AWS::SNS::Topic#Ref':
    case 'AWS::SNS::Topic#TopicArn':
      return arn('sns', name);
    case 'AWS::DynamoDB::Table#Arn':
      return arn('dynamodb', `table/${name}`);
    case 'AWS::Kinesis::Stream#Arn':
      return arn('kinesis', `stream/${name}`);
    case 'AWS::Logs::LogGroup#Arn': // CloudFormation's LogGroup Arn ends with ":*" (it covers the group's streams)
      return arn('logs', `log-group:${name}:*`);
    default:
      return `<${id}${attr === 'Ref' ? '' : `.${attr}`}>`;
  }
};

/**
 * Evaluates a string-valued property the way CloudFormation would for a fake account (`FAKE`) and this stage's
 * stack: plain strings, `Ref`, `Fn::GetAtt`, `Fn::Sub` (with or without variables) and `Fn::Join`.
 * Values the tests never compare come out as `<LogicalId.Attr>` placeholders.
 */
const resolveValue = (t: Template, value: Cfn): string => {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null || typeof value !== 'object') throw new Error(`Cannot resolve ${JSON.stringify(value)}`);
  if (typeof value.Ref === 'string') return attribute(t, value.Ref, 'Ref');
  if (value['Fn::GetAtt'] !== undefined) {
    const getAtt = value['Fn::GetAtt'];
    const [id, attr] = Array.isArray(getAtt) ? getAtt : String(getAtt).split(/\.(.*)/);
    return attribute(t, id, attr);
  }
  if (value['Fn::Join'] !== undefined) {
    const [delimiter, parts] = value['Fn::Join'];
    return (parts as Cfn[]).map((part) => resolveValue(t, part)).join(delimiter);
  }
  if (value['Fn::Sub'] !== undefined) {
    const [text, variables] = Array.isArray(value['Fn::Sub']) ? value['Fn::Sub'] : [value['Fn::Sub'], {}];
    return String(text).replace(/\$\{(!?)([^}]+)\}/g, (_match: string, literal: string, name: string) => {
      if (literal) return `\${${name}}`;
      if (variables?.[name] !== undefined) return resolveValue(t, variables[name]);
      const [id, attr] = name.split(/\.(.*)/);
      return attribute(t, id ?? name, attr ?? 'Ref');
    });
  }
  throw new Error(`Cannot resolve ${JSON.stringify(value)}`);
};

// ---------------------------------------------------------------------------------------------------------------
// Domain views: mappings, queues, roles
// ---------------------------------------------------------------------------------------------------------------

interface Mapping {
  id: string;
  props: Cfn;
  sourceId: string;
  sourceType: string;
  functionId: string;
}

const eventSourceMappings = (t: Template): Mapping[] =>
  resourcesOfType(t, 'AWS::Lambda::EventSourceMapping').map(([id, mapping]) => {
    const sourceId = targetId(mapping.Properties.EventSourceArn, `${id}.EventSourceArn`);
    return {
      id,
      props: mapping.Properties,
      sourceId,
      sourceType: resource(t, sourceId).Type,
      functionId: targetId(mapping.Properties.FunctionName, `${id}.FunctionName`),
    };
  });

const sqsMappings = (t: Template): Mapping[] => eventSourceMappings(t).filter((m) => m.sourceType === 'AWS::SQS::Queue');
const kinesisMappings = (t: Template): Mapping[] => eventSourceMappings(t).filter((m) => m.sourceType === 'AWS::Kinesis::Stream'); // slice-line:analytics

/** Work queues: queues a Lambda function consumes through an event source mapping. */
const workQueueIds = (t: Template): string[] => [...new Set(sqsMappings(t).map((m) => m.sourceId))];

/** Where a DLQ comes from: a queue's or a subscription's RedrivePolicy, or a mapping's on-failure destination. */
interface DeadLetterQueue {
  id: string;
  of: string;
  via: 'queue RedrivePolicy' | 'subscription RedrivePolicy' | 'mapping OnFailure';
}

const deadLetterQueues = (t: Template): DeadLetterQueue[] => {
  const found: DeadLetterQueue[] = [];
  for (const [id, queue] of resourcesOfType(t, 'AWS::SQS::Queue')) {
    const target = queue.Properties?.RedrivePolicy?.deadLetterTargetArn;
    if (target !== undefined) found.push({ id: targetId(target, `${id}.RedrivePolicy`), of: id, via: 'queue RedrivePolicy' });
  }
  for (const [id, subscription] of resourcesOfType(t, 'AWS::SNS::Subscription')) {
    const target = subscription.Properties?.RedrivePolicy?.deadLetterTargetArn;
    if (target !== undefined) found.push({ id: targetId(target, `${id}.RedrivePolicy`), of: id, via: 'subscription RedrivePolicy' });
  }
  for (const mapping of eventSourceMappings(t)) {
    const target = mapping.props.DestinationConfig?.OnFailure?.Destination;
    if (target !== undefined) {
      const id = targetId(target, `${mapping.id}.DestinationConfig.OnFailure`);
      if (resource(t, id).Type === 'AWS::SQS::Queue') found.push({ id, of: mapping.id, via: 'mapping OnFailure' });
    }
  }
  return found;
};

const deadLetterQueueIds = (t: Template): string[] => [...new Set(deadLetterQueues(t).map((dlq) => dlq.id))];

/** `orderflow-dev-billing` → `billing`: a queue's name without the service-stage prefix. */
const shortName = (t: Template, name: string): string => name.replace(`${t.service}-${t.stage}-`, '');

const queueShortName = (t: Template, queueId: string): string =>
  shortName(t, resolveValue(t, resource(t, queueId).Properties.QueueName));

/** Lambda functions with their serverless.yml name (`FunctionName` without `<service>-<stage>-`). */
const lambdaFunctions = (t: Template): Array<{ id: string; name: string; props: Cfn }> =>
  resourcesOfType(t, 'AWS::Lambda::Function').map(([id, fn]) => ({
    id,
    name: shortName(t, resolveValue(t, fn.Properties.FunctionName)),
    props: fn.Properties,
  }));

const isFifoQueue = (t: Template, queueId: string): boolean => {
  const fifo = resource(t, queueId).Properties?.FifoQueue;
  return fifo === true || fifo === 'true';
};

/**
 * Every identity-based statement that applies to a role: its inline Policies, the template's managed policies in
 * its ManagedPolicyArns, and AWS::IAM::Policy resources attached to it. Managed policy ARNs that do not point into
 * the template are returned apart (their statements cannot be inspected here).
 */
const roleStatements = (t: Template, roleId: string): { statements: PolicySource[]; externalManagedPolicies: string[] } => {
  const role = resource(t, roleId);
  const statements: PolicySource[] = [];
  const externalManagedPolicies: string[] = [];
  for (const policy of asArray<Cfn>(role.Properties?.Policies)) {
    for (const statement of asArray<Statement>(policy.PolicyDocument?.Statement)) statements.push({ from: roleId, statement });
  }
  for (const arn of asArray<Cfn>(role.Properties?.ManagedPolicyArns)) {
    const id = refId(arn);
    const managed = id === undefined ? undefined : t.resources[id];
    if (id !== undefined && managed?.Type === 'AWS::IAM::ManagedPolicy') {
      for (const statement of asArray<Statement>(managed.Properties?.PolicyDocument?.Statement)) statements.push({ from: id, statement });
    } else {
      externalManagedPolicies.push(JSON.stringify(arn));
    }
  }
  for (const [id, policy] of resourcesOfType(t, 'AWS::IAM::Policy')) {
    if (asArray<Cfn>(policy.Properties?.Roles).some((r) => refId(r) === roleId)) {
      for (const statement of asArray<Statement>(policy.Properties?.PolicyDocument?.Statement)) statements.push({ from: id, statement });
    }
  }
  return { statements, externalManagedPolicies };
};

/** Every identity-based policy statement in the template (roles' inline policies, managed and inline policy resources). */
const allIdentityStatements = (t: Template): PolicySource[] => {
  const found: PolicySource[] = [];
  for (const [id, role] of resourcesOfType(t, 'AWS::IAM::Role')) {
    for (const policy of asArray<Cfn>(role.Properties?.Policies)) {
      for (const statement of asArray<Statement>(policy.PolicyDocument?.Statement)) found.push({ from: `${id}/${policy.PolicyName}`, statement });
    }
  }
  for (const type of ['AWS::IAM::ManagedPolicy', 'AWS::IAM::Policy']) {
    for (const [id, policy] of resourcesOfType(t, type)) {
      for (const statement of asArray<Statement>(policy.Properties?.PolicyDocument?.Statement)) found.push({ from: id, statement });
    }
  }
  return found;
};

const actionsOf = (statement: Statement): string[] => asArray(statement.Action);
const resourcesOf = (t: Template, statement: Statement): string[] => asArray<Cfn>(statement.Resource).map((r) => resolveValue(t, r));

/** Does an IAM action pattern (`sqs:*`, `sqs:Receive*`, `*`) grant `action`? (Case-insensitive, like IAM.) */
const actionMatches = (pattern: string, action: string): boolean =>
  new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`, 'i').test(action);

/** Resources on which a set of statements allows `action`. */
const allowedResources = (t: Template, statements: PolicySource[], action: string): string[] =>
  statements
    .filter(({ statement }) => statement.Effect === 'Allow' && actionsOf(statement).some((pattern) => actionMatches(pattern, action)))
    .flatMap(({ statement }) => resourcesOf(t, statement));

/** The role a function runs with (its `Role` must be a GetAtt of a role in the template). */
const functionRoleId = (t: Template, functionId: string): string =>
  targetId(resource(t, functionId).Properties.Role, `${functionId}.Role`);

/** Does a policy statement's Condition hold `key` (any operator), and with which values? */
const conditionValues = (t: Template, statement: Statement, key: string): string[] =>
  Object.values(statement.Condition ?? {}).flatMap((operator) =>
    Object.entries(operator)
      .filter(([name]) => name.toLowerCase() === key.toLowerCase())
      .flatMap(([, value]) => asArray<Cfn>(value).map((v) => resolveValue(t, v))),
  );

/** The TLS-only guard: Deny everyone everything on the resource when aws:SecureTransport is false. */
const isTlsOnlyDeny = (statement: Statement, service: 's3' | 'sqs'): boolean => {
  const bool = statement.Condition?.Bool?.['aws:SecureTransport'];
  const principal = statement.Principal;
  const everyone = principal === '*' || asArray<Cfn>(principal?.AWS).includes('*');
  return (
    statement.Effect === 'Deny' &&
    everyone &&
    actionsOf(statement).some((action) => action === '*' || action.toLowerCase() === `${service}:*`) &&
    (bool === false || bool === 'false')
  );
};

const servicePrincipals = (statement: Statement): string[] => asArray<string>(statement.Principal?.Service);

export {
  FAKE,
  REPO_ROOT,
  STAGES,
  actionMatches,
  actionsOf,
  allIdentityStatements,
  allowedResources,
  asArray,
  conditionValues,
  deadLetterQueueIds,
  deadLetterQueues,
  functionRoleId,
  isFifoQueue,
  isTlsOnlyDeny,
  kinesisMappings, // slice-line:analytics
  lambdaFunctions,
  loadTemplate,
  packaging,
  queueShortName,
  refId,
  resolveValue,
  resource,
  resourcesOf,
  resourcesOfType,
  roleStatements,
  servicePrincipals,
  sqsMappings,
  targetId,
  workQueueIds,
};
export type { Cfn, Statement, Template };
