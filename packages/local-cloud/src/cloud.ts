/**
 * The local cloud, programmatically: packages the service (`osls package`), starts the emulators,
 * creates the compiled template's resources on them, loads the functions, and starts the event
 * source pollers and the HTTP API. `npm start` (start.ts) and the integration tests both use it.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import { isAlive } from './emulators/data-lock.ts';
import { claimDataDir, type DataDirClaim } from './emulators/data-dir.ts';
import { startEmulators, type Emulators, type EmulatorsOptions } from './emulators/emulators.ts';
import { HttpApiServer, routesFromTemplate, type HttpRoute } from './event-sources/http-api.ts';
import { ISSUER_PATH, LocalIssuer, type IssuerInfo, type MintOptions } from './auth/issuer.ts';
import { JwtVerifier, jwtAuthorizersFromTemplate } from './auth/jwt-authorizer.ts';
import { KinesisPoller, readKinesisMapping } from './event-sources/kinesis.ts';
import { RabbitMqPoller, readRabbitMqMapping } from './event-sources/rabbitmq.ts';
import { startRabbitMqBrokers, type LocalBroker } from './amazonmq/rabbitmq-broker.ts';
import { SqsPoller, readSqsMapping } from './event-sources/sqs.ts';
import { provision, type AwsTarget } from './provision/provision.ts';
import { LambdaRuntime, functionsFromTemplate, type FunctionConfig } from './runtime/runtime.ts';
import { StackRegistry } from './edge/cloudformation.ts';
import { LocalControl, type FailureRecord, type FaultInjection } from './edge/control.ts';
import { LocalStats, type LocalStatsSnapshot } from './edge/stats.ts';
import { IamGuard, type IamMode } from './edge/iam.ts';
import { functionCredentials, iamModelFromTemplate } from './edge/iam-roles.ts';
import { TemplateResolver, isRecord, loadTemplate, type CfnTemplate } from './template/template.ts';
import { limitHeapGrowth } from './util/heap-growth.ts';
import { sleep } from './util/wait.ts';

type StartEmulators = (options: EmulatorsOptions) => Promise<Emulators>;

interface LocalCloudOptions {
  stage?: string;
  /**
   * Remove the local cloud's own subfolders of dataDir first, once it holds the directory's lock, and only in a
   * directory marked as the local cloud's (emulators/data-dir.ts).
   */
  fresh?: boolean;
  /** Emulator state and checkpoints (default `.local`, relative to projectDir). */
  dataDir?: string;
  /** 0 = a free port (default 4566). */
  edgePort?: number;
  /** 0 = a free port (default 3000). */
  apiPort?: number;
  /** Use the compiled template as it is, never run `osls package`. */
  skipPackage?: boolean;
  log?: (line: string) => void;
  /**
   * Where the lines go that repeat the banner or describe the local cloud itself rather than what the application
   * does (emulator patches, the edge's address, the resources not emulated), and the functions' EMF metrics lines.
   * Default `log`; the CLI sends them to `log` only with `--verbose`.
   */
  detail?: (line: string) => void;
  /** Project root (default the current directory). */
  projectDir?: string;
  /** Compiled template (default `<projectDir>/.serverless/cloudformation-template-update-stack.json`). */
  templatePath?: string;
  /** Bundle directories (default `<projectDir>/.esbuild/.build`). */
  bundleDirs?: string[];
  /** Stack name (default `<service>-<stage>`, read from the package). */
  stackName?: string;
  region?: string;
  accountId?: string;
  /** Emulators to use instead of emulators/emulators.ts. */
  startEmulators?: StartEmulators;
  /** Log every resource that is not emulated by logical id (default: one line of counts per type). */
  verbose?: boolean;
  /** Make messages a previous run left in flight visible again at start (default true): see releaseInFlightMessages. */
  releaseInFlight?: boolean;
  /** The fault variable (FAULTS) for every function, instead of the template's; also `POST /_local/faults` later. */
  faults?: string;
  /** Which environment variable carries faults and how the application validates it (default FAULTS, any JSON object). */
  faultInjection?: FaultInjection;
  /**
   * Reads one function log line (without the `[function]` prefix) and returns the record failure it reports, if
   * any: how the application's batch consumers say which record failed and why (`/_local/failures`). Default none.
   */
  recordFailureOf?: (functionName: string, line: string) => RecordFailure | undefined;
  /** SQS pollers hand every batch to the function twice (idempotency drill); also `POST /_local/faults`. */
  duplicateDelivery?: boolean;
  /**
   * fauxqs, kinesalite and dynalite in a worker thread of their own (emulators/emulator-thread.ts). Default true;
   * false (or the environment variable LOCAL_EMULATORS_THREAD=0): on the edge's thread.
   */
  emulatorsThread?: boolean;
  /**
   * true (or the environment variable LOCAL_FUNCTIONS_THREAD=1): each function's execution environments in worker
   * threads, like Lambda's (runtime/worker-pool.ts). Default false: every function on the edge's thread (measured
   * faster on 2 cores, see the package README).
   */
  functionsThread?: boolean;
  /**
   * V8's heap growing percent for this process (util/heap-growth.ts): a heap may grow to (1 + percent / 100) × what
   * survived its last full GC. Default `LOCAL_HEAP_GROWING_PERCENT`, else 100; 0 is V8's own heuristic (up to 4 ×).
   * A `--heap-growing-percent` on node's command line wins.
   */
  heapGrowingPercent?: number;
  /** The functions' requests against their roles (edge/iam.ts): refused, reported, or not evaluated (default DEFAULT_IAM_MODE). */
  iam?: IamMode;
  /**
   * Run the template's Amazon MQ for RabbitMQ brokers as rabbitmq-server nodes where it is installed (default true).
   * false leaves them out with one line: a node is an Erlang VM that takes ~20 s to boot, which a test that does
   * not use it need not pay.
   */
  rabbitMq?: boolean;
}

/** A record failure as the application reports it (the local cloud adds the function's name and the scope). */
type RecordFailure = Omit<FailureRecord, 'functionName' | 'scope'>;

interface LocalResource {
  type: string;
  physicalId: string;
  arn?: string;
  url?: string;
}

interface LocalCloud {
  edgeUrl: string;
  /** This run's token of the edge's `/_local/*` endpoints (header `x-local-token`), also in `tokenFile` (mode 0600). */
  token: string;
  tokenFile: string;
  apiUrl: string;
  region: string;
  accountId: string;
  stackName: string;
  resources: Record<string, LocalResource>;
  outputs: Record<string, string>;
  functions: string[];
  /** HTTP API routes and the function behind each. */
  routes: { routeKey: string; functionName: string }[];
  runtime: LambdaRuntime;
  pollers: (SqsPoller | KinesisPoller | RabbitMqPoller)[];
  /**
   * Amazon MQ for RabbitMQ brokers running locally (rabbitmq-server), by logical id: their AMQP connection. Filled
   * once they accept AMQP (`brokersReady`): the cloud is ready before them.
   */
  brokers: Record<string, LocalBroker['connection']>;
  /**
   * Resolves once every broker has started (or failed to: one line) and its mappings' pollers run (then in
   * `pollers`). A RabbitMQ node takes ~10 s to boot warm on 2 cores, against ~1.6 s for the rest of the cloud.
   */
  brokersReady: Promise<void>;
  /** `LogicalId (Type)` of every resource that only matters on AWS (IAM, policies, alarms...). */
  notEmulated: string[];
  /** The same, grouped: type → logical ids, the most frequent type first. */
  notEmulatedByType: [string, string[]][];
  warnings: string[];
  readyInMs: number;
  /** Counters kept by the edge and the runtime (edge/stats.ts); also `GET <edgeUrl>/_local/stats`. */
  stats(): LocalStatsSnapshot;
  /** IAM at the edge: its mode and the requests it denied (or, under `warn`, would have). */
  iam: IamGuard;
  /** The local token issuer the HTTP API's JWT authorizers trust (auth/issuer.ts): `iss`, audiences, JWKS. */
  issuer: IssuerInfo;
  /**
   * A token for a named customer, signed by the local issuer (valid one hour unless told otherwise).
   *
   * @example
   * const token = await cloud.mintToken({ customer: 'alice' });
   */
  mintToken(options: MintOptions): Promise<string>;
  stop(): Promise<void>;
}

class LocalCloudError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LocalCloudError';
  }
}

class PackageError extends LocalCloudError {
  constructor(command: string, code: number | null, output: string) {
    super(`${command} failed (exit ${code}):\n${output.trim().split('\n').slice(-30).join('\n')}`);
    this.name = 'PackageError';
  }
}

/** The IAM mode when none is given (see the README's "IAM" section for why). */
const DEFAULT_IAM_MODE: IamMode = 'enforce';

const TEMPLATE_FILE = join('.serverless', 'cloudformation-template-update-stack.json');
/** What `osls package` compiles: serverless.yml and the files it includes (resources/), the code, the dependencies. */
const PACKAGE_INPUTS = ['serverless.yml', 'package.json', 'resources', 'functions', 'lib'];

async function newestMtime(path: string): Promise<number> {
  let info;
  try {
    info = await stat(path);
  } catch {
    return 0;
  }
  if (!info.isDirectory()) return info.mtimeMs;
  let newest = info.mtimeMs;
  for (const entry of await readdir(path)) newest = Math.max(newest, await newestMtime(join(path, entry)));
  return newest;
}

/** `serverless/<service>/<stage>/<timestamp>/<fn>.zip`: the S3 key osls gives every function. */
function packagedServiceAndStage(template: CfnTemplate): { service?: string; stage?: string } {
  for (const resource of Object.values(template.Resources)) {
    const code = resource.Type === 'AWS::Lambda::Function' && isRecord(resource.Properties?.Code) ? resource.Properties.Code : undefined;
    const parts = typeof code?.S3Key === 'string' ? code.S3Key.split('/') : [];
    if (parts[0] === 'serverless' && parts.length >= 4) return { service: parts[1], stage: parts[2] };
  }
  return {};
}

/** How long to wait for another process's `osls package` of the same project (cold packaging is ~10-20 s). */
const PACKAGE_LOCK_TIMEOUT_MS = 5 * 60_000;

/**
 * One `osls package` at a time per project, and no bundle import while another process rewrites the
 * bundles: `.serverless/` and `.esbuild/` are shared by every local cloud of the checkout (`npm start`,
 * each integration test file, the bench). The lock is a PID file outside those directories (osls
 * wipes `.serverless/`); a file left by a dead process (`kill -9`) is taken over.
 */
async function lockPackaging(projectDir: string, log: (line: string) => void): Promise<() => Promise<void>> {
  const file = join(tmpdir(), `orderflow-package-${createHash('sha256').update(projectDir).digest('hex').slice(0, 16)}.lock`);
  const deadline = Date.now() + PACKAGE_LOCK_TIMEOUT_MS;
  let reported = false;
  for (;;) {
    try {
      await writeFile(file, String(process.pid), { flag: 'wx' });
      return () => rm(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = Number.parseInt(await readFile(file, 'utf8').catch(() => ''), 10);
    if (!Number.isInteger(owner) || !isAlive(owner)) {
      // Stale (its process is gone) or being written this instant: a second look tells them apart.
      await sleep(50);
      const again = Number.parseInt(await readFile(file, 'utf8').catch(() => ''), 10);
      if (again === owner || !Number.isInteger(again) || !isAlive(again)) await rm(file, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new LocalCloudError(`another process (${owner}) has been packaging ${projectDir} for ${PACKAGE_LOCK_TIMEOUT_MS / 1000} s (lock ${file})`);
    if (!reported) log(`waiting for process ${owner} to finish packaging or loading the bundles (lock ${file})`);
    reported = true;
    await sleep(100);
  }
}

/** fauxqs keeps SQS state in `<dataDir>/fauxqs/fauxqs.db` (emulators.ts STATE_FOLDERS; fauxqs persistence.js). */
const FAUXQS_DB = join('fauxqs', 'fauxqs.db');

/**
 * Makes every SQS message left in flight by a previous run of this data directory visible again, before
 * the emulators load it. The local cloud's pollers are the only consumers of its queues; when the process
 * dies (`kill -9`, a crash, a Ctrl-C that outlives the grace period) the messages they had received stay
 * invisible until their visibility timeout, up to 121 s here (shipping: 6 x 20 s + 1 s), though nobody can
 * delete them any more: their receipt handles died with the pollers. AWS has no counterpart (its pollers do
 * not restart with your laptop); this only shortens a wait. The receive count is kept (the message WAS
 * received: maxReceiveCount still applies). A message some other client (the AWS CLI...) had received is
 * released too. Returns the messages released per queue. The caller holds the directory's lock
 * (emulators/data-dir.ts claimDataDir): no other local cloud's pollers are running on it.
 */
async function releaseInFlightMessages(dataDir: string, warn: (message: string) => void): Promise<Record<string, number>> {
  const path = join(dataDir, FAUXQS_DB);
  if (!existsSync(path)) return {};
  const { DatabaseSync } = await import('node:sqlite');
  const db = new DatabaseSync(path);
  try {
    const rows = db
      .prepare('SELECT queue_name AS queue, COUNT(*) AS count FROM sqs_messages WHERE receipt_handle IS NOT NULL GROUP BY queue_name')
      .all() as unknown as { queue: string; count: number }[];
    if (rows.length === 0) return {};
    db.prepare('UPDATE sqs_messages SET receipt_handle = NULL, visibility_deadline = NULL WHERE receipt_handle IS NOT NULL').run();
    return Object.fromEntries(rows.map((row) => [row.queue, Number(row.count)]));
  } catch (error) {
    // Another fauxqs schema: the messages come back after their visibility timeout, as they would on AWS.
    warn(`messages the previous run left in flight were not released (${error instanceof Error ? error.message : String(error)}); they reappear after their visibility timeout`);
    return {};
  } finally {
    db.close();
  }
}

/** Resources not emulated, grouped by type, the most frequent first (ties by name). */
function groupNotEmulated(resources: Record<string, { type: string; status: string }>): [string, string[]][] {
  const byType = new Map<string, string[]>();
  for (const [logicalId, resource] of Object.entries(resources)) {
    if (resource.status !== 'not-emulated') continue;
    byType.set(resource.type, [...(byType.get(resource.type) ?? []), logicalId]);
  }
  return [...byType.entries()].map(([type, ids]): [string, string[]] => [type, ids.sort()]).sort((a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0]));
}

/** `20 AWS::CloudWatch::Alarm, 11 AWS::IAM::Role, ...` */
function notEmulatedSummary(groups: [string, string[]][]): string {
  return groups.map(([type, ids]) => `${ids.length} ${type}`).join(', ');
}

/**
 * Packages unless the compiled template is newer than serverless.yml, package.json and every file
 * under resources/, functions/ and lib/, and was compiled for the same stage.
 */
async function packageIfStale(projectDir: string, stage: string, log: (line: string) => void): Promise<boolean> {
  const templatePath = join(projectDir, TEMPLATE_FILE);
  const built = await newestMtime(templatePath);
  if (built > 0) {
    const sources = await Promise.all(PACKAGE_INPUTS.map((p) => newestMtime(join(projectDir, p))));
    const packagedStage = packagedServiceAndStage(await loadTemplate(templatePath)).stage;
    if (Math.max(...sources) < built && (packagedStage === undefined || packagedStage === stage)) return false;
  }
  const bin = join(projectDir, 'node_modules', '.bin', 'osls');
  if (!existsSync(bin)) throw new LocalCloudError(`${bin} not found: run npm install`);
  const command = `osls package --stage ${stage}`;
  log(`packaging: ${command}`);
  const started = Date.now();
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn(bin, ['package', '--stage', stage], { cwd: projectDir, env: { ...process.env, SLS_TELEMETRY_DISABLED: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(text) : reject(new PackageError(command, code, text))));
  });
  log(`packaged in ${Date.now() - started} ms${output.includes('Warning') ? ` (${output.trim().split('\n').filter((l) => /warn/i.test(l)).join('; ')})` : ''}`);
  return true;
}

/** Serves the local API URL where the template's outputs name the API's AWS endpoint. */
function localOutputs(resolver: TemplateResolver, apiUrl: string): Record<string, string> {
  const outputs = resolver.outputs();
  const endpoints: string[] = [];
  for (const [logicalId, resource] of Object.entries(resolver.template.Resources)) {
    if (resource.Type === 'AWS::ApiGatewayV2::Api') endpoints.push(resolver.identity(logicalId).attributes.ApiEndpoint ?? '');
  }
  for (const [key, value] of Object.entries(outputs)) {
    for (const endpoint of endpoints) if (endpoint && value.startsWith(endpoint)) outputs[key] = apiUrl + value.slice(endpoint.length);
  }
  return outputs;
}

/**
 * A function's metrics line: an Embedded Metric Format object (a top-level `_aws` key: CloudWatch User Guide,
 * "Specification: Embedded metric format"), which CloudWatch turns into metrics rather than showing as a log line.
 * It goes to `detail`, so the CLI prints it with --verbose only.
 */
const EMF_LINE = /^\[[^\]]+\] \{"_aws":\{/;
const isEmfLine = (line: string): boolean => EMF_LINE.test(line);

/**
 * Phase 1: packages the project when it changed (under the packaging lock, held until the bundles are imported:
 * no other process repackages under our feet meanwhile), claims the data directory (the lock first; with fresh,
 * only the local cloud's own subfolders of a directory marked as its own go), and loads the compiled template.
 */
async function prepareProject(
  options: LocalCloudOptions,
  where: { projectDir: string; stage: string; dataDir: string; templatePath: string; log: (line: string) => void },
): Promise<{ template: CfnTemplate; dataDirClaim: DataDirClaim; releasePackaging: () => Promise<void> }> {
  const { projectDir, stage, dataDir, templatePath, log } = where;
  let unlockPackaging: (() => Promise<void>) | undefined = options.skipPackage ? undefined : await lockPackaging(projectDir, log);
  const releasePackaging = async (): Promise<void> => {
    const unlock = unlockPackaging;
    unlockPackaging = undefined;
    await unlock?.();
  };
  let claim: DataDirClaim | undefined;
  try {
    if (!options.skipPackage) await packageIfStale(projectDir, stage, log);
    claim = claimDataDir(dataDir, { fresh: options.fresh === true });
    if (claim.wiped.length > 0) log(`--fresh: removed ${claim.wiped.join(', ')} from ${dataDir}`);
    return { template: await loadTemplate(templatePath), dataDirClaim: claim, releasePackaging };
  } catch (error) {
    claim?.release();
    await releasePackaging();
    throw error;
  }
}

/**
 * One poller per active `AWS::Lambda::EventSourceMapping` of the template: SQS and Kinesis ones (others are warned of)
 * without `brokers`; with the brokers that started, only the Amazon MQ ones (their nodes start in the background).
 */
function eventSourcePollers(
  template: CfnTemplate,
  resolver: TemplateResolver,
  context: {
    runtime: LambdaRuntime;
    target: AwsTarget;
    control: LocalControl;
    dataDir: string;
    log: (line: string) => void;
    warn: (message: string) => void;
    brokers: Map<string, LocalBroker> | undefined;
  },
): (SqsPoller | KinesisPoller | RabbitMqPoller)[] {
  const { runtime, target, control, dataDir, log, warn, brokers } = context;
  const pollers: (SqsPoller | KinesisPoller | RabbitMqPoller)[] = [];
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::EventSourceMapping' || !resolver.isActive(logicalId)) continue;
    const props = resolver.resolve(resource.Properties ?? {}, `Resources.${logicalId}.Properties`) as Record<string, unknown>;
    const uuid = resolver.identity(logicalId).ref;
    const source = String(props.EventSourceArn ?? '');
    const service = source.split(':')[2];
    // Lambda polls with the function's execution role: so do the pollers, and IAM evaluates their requests.
    const credentials = (): ReturnType<typeof functionCredentials> => functionCredentials(runtime.get(String(props.FunctionName)).config.name);
    if (brokers !== undefined) {
      // A broker that did not start (no rabbitmq-server) was named once already: its mappings stay idle.
      const broker = service === 'mq' ? brokers.get(source) : undefined;
      if (broker) pollers.push(new RabbitMqPoller({ mapping: readRabbitMqMapping(logicalId, props), runtime, broker, log }));
    } else if (service === 'sqs') pollers.push(new SqsPoller({ mapping: readSqsMapping(logicalId, uuid, props), runtime, target, control, log, credentials: credentials() }));
    else if (service === 'kinesis') pollers.push(new KinesisPoller({ mapping: readKinesisMapping(logicalId, uuid, props), runtime, target, dataDir, log, credentials: credentials() }));
    else if (service !== 'mq') warn(`${logicalId}: event source ${source || '(none)'} is not emulated (SQS and Kinesis are)`);
  }
  return pollers;
}

/** The resources the local cloud created (what it skipped left out), as `LocalCloud.resources`. */
function localResources(provisioned: Awaited<ReturnType<typeof provision>>['resources']): Record<string, LocalResource> {
  const resources: Record<string, LocalResource> = {};
  for (const [logicalId, resource] of Object.entries(provisioned)) {
    if (resource.status === 'skipped') continue;
    resources[logicalId] = {
      type: resource.type,
      physicalId: resource.physicalId,
      ...(resource.arn ? { arn: resource.arn } : {}),
      ...(resource.url ? { url: resource.url } : {}),
    };
  }
  return resources;
}

/**
 * Starts the local cloud in phases: prepareProject (package, claim, template), the emulators and the edge, the
 * template's resources (provision), IAM, the functions (runtime), their event sources (eventSourcePollers), the HTTP
 * API, and the stack registered for read-only CloudFormation. A failure stops what was started, in reverse.
 */
async function startLocalCloud(options: LocalCloudOptions = {}): Promise<LocalCloud> {
  const started = Date.now();
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const detail = options.detail ?? log;
  const growing = limitHeapGrowth({ option: options.heapGrowingPercent, env: process.env.LOCAL_HEAP_GROWING_PERCENT, execArgv: process.execArgv });
  if (growing !== undefined) {
    detail(`V8 heaps grow ${growing === 0 ? "by V8's own heuristic" : `to ${1 + growing / 100} x what survives a full GC`} (LOCAL_HEAP_GROWING_PERCENT=${growing})`);
  }
  const projectDir = resolvePath(options.projectDir ?? process.cwd());
  const stage = options.stage ?? 'local';
  const dataDir = resolvePath(projectDir, options.dataDir ?? '.local');
  const templatePath = options.templatePath ?? join(projectDir, TEMPLATE_FILE);
  const warnings: string[] = [];
  const warn = (message: string): void => {
    warnings.push(message);
    log(`warning: ${message}`);
  };

  const { template, dataDirClaim, releasePackaging } = await prepareProject(options, { projectDir, stage, dataDir, templatePath, log });
  const packaged = packagedServiceAndStage(template);
  const service = packaged.service ?? (await serviceName(projectDir));
  const stackName = options.stackName ?? (service ? `${service}-${packaged.stage ?? stage}` : `local-${stage}`);

  // Run in reverse: the data directory is released after everything that writes in it stopped.
  const stops: (() => Promise<void>)[] = [releasePackaging, async () => dataDirClaim.release()];
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.reverse()) {
      try {
        await stop();
      } catch (error) {
        log(`stop: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    stops.length = 0;
  };

  try {
    if (options.releaseInFlight !== false) {
      const released = await releaseInFlightMessages(dataDir, warn);
      const total = Object.values(released).reduce((sum, n) => sum + n, 0);
      if (total > 0) {
        const detail = Object.entries(released).map(([queue, n]) => `${n} ${queue}`).join(', ');
        log(`released ${total} message(s) the previous run left in flight (visible now, not after their visibility timeout): ${detail}`);
      }
    }
    // The composition root: this cloud's switches, counters and stacks, handed to the edge, runtime and pollers.
    const control = new LocalControl(options.faultInjection);
    const stats = new LocalStats();
    const stacks = new StackRegistry();
    const iam = new IamGuard({ mode: options.iam ?? DEFAULT_IAM_MODE, log });
    const emulators = await (options.startEmulators ?? startEmulators)({
      dataDir,
      claimed: dataDirClaim,
      edgePort: options.edgePort ?? 4566,
      region: options.region ?? 'us-east-1',
      accountId: options.accountId ?? '000000000000',
      log,
      detail,
      control,
      stats,
      stacks,
      emulatorsThread: options.emulatorsThread ?? process.env.LOCAL_EMULATORS_THREAD !== '0',
      iam,
    });
    stops.push(() => emulators.stop());
    const target: AwsTarget = { endpoint: emulators.endpoint, region: emulators.region, accountId: emulators.accountId };
    const resolver = new TemplateResolver(
      template,
      { stackName, region: target.region, accountId: target.accountId, queueUrlBase: target.endpoint },
      warn,
    );

    // The functions as the template defines them, once every resource exists (their environment names them).
    let functions: FunctionConfig[] = [];
    // IAM is loaded once every resource exists and before the buckets' notification configurations are put, so the
    // test events S3 sends then are checked against the queue and topic policies like every later delivery.
    const provisioned = await provision(resolver, target, warn, {
      listNotEmulated: false,
      beforeNotifications: async () => {
        functions = functionsFromTemplate(resolver);
        await iam.load(iamModelFromTemplate(resolver, functions));
        await emulators.syncDeliveryPolicy?.();
      },
    });
    const notEmulatedByType = groupNotEmulated(provisioned.resources);
    if (notEmulatedByType.length > 0) {
      if (options.verbose) for (const [type, ids] of notEmulatedByType) detail(`not emulated: ${ids.length} ${type}: ${ids.join(', ')}`);
      else detail(`not emulated: ${notEmulatedSummary(notEmulatedByType)} (AWS-only: permissions, observability, versions; --verbose lists them)`);
    }

    const runtime = new LambdaRuntime({
      functions,
      region: target.region,
      accountId: target.accountId,
      endpoint: target.endpoint,
      bundleDirs: options.bundleDirs ?? [join(projectDir, '.esbuild', '.build')],
      zipDir: join(projectDir, '.serverless'),
      // Inside the project, so the bundles' bare imports (the external AWS SDK) resolve from node_modules.
      extractDir: join(projectDir, '.serverless', '.local-bundles'),
      stats,
      functionsThread: options.functionsThread ?? process.env.LOCAL_FUNCTIONS_THREAD === '1',
      // Lambda's REPORT lines, one per invocation, are details (the CLI prints them with --verbose).
      report: detail,
      log: (line) => {
        const failure = recordFailureIn(line, options.recordFailureOf);
        if (failure) control.recordFailure(failure);
        (isEmfLine(line) ? detail : log)(line);
      },
    });
    stops.push(() => runtime.stop());
    await runtime.start();
    control.attach(runtime, iam);
    // Firehose's Lambda processors call the functions as Firehose does: synchronously, behind the event sources.
    // A function the template does not have fails the invocation, as Lambda's ResourceNotFoundException would.
    emulators.attachFunctions?.(async (functionArn, event) => {
      try {
        const result = await runtime.invoke(functionArn, event, { priority: 'background' });
        return result.ok ? { ok: true, payload: result.payload } : { ok: false, errorType: result.error.errorType, errorMessage: result.error.errorMessage };
      } catch (error) {
        return { ok: false, errorType: (error as Error).name, errorMessage: (error as Error).message };
      }
    });
    // SNS subscriptions of protocol lambda: an asynchronous invoke (Event), in the background like an event source.
    emulators.snsPush?.attach(async (functionArn, event) => runtime.invoke(functionArn, event, { priority: 'background' }));
    if (options.faults !== undefined) control.setFaults(options.faults === '' ? {} : (JSON.parse(options.faults) as Record<string, unknown>));
    if (options.duplicateDelivery !== undefined) control.duplicateDelivery = options.duplicateDelivery;
    await releasePackaging();

    // Amazon MQ for RabbitMQ brokers as rabbitmq-server children (amazonmq/rabbitmq-broker.ts), when installed. A node
    // boots in the background: `npm start` warm was ready in 11.2 s with it awaited here, 1.6 s without
    // (rabbitmq-server 3.10 on this 2-core machine); its mappings' pollers start once it accepts AMQP (brokersReady).
    const startingBrokers = startRabbitMqBrokers(resolver, { dataDir, log, enabled: options.rabbitMq !== false }).catch((error: unknown) => {
      log(`Amazon MQ brokers: not started, ${error instanceof Error ? error.message : String(error)}; their event source mappings get no messages, the rest runs`);
      return new Map<string, LocalBroker>();
    });
    const brokers: Record<string, LocalBroker['connection']> = {};
    const brokerPollers: RabbitMqPoller[] = [];
    let stopping = false;
    stops.push(async () => {
      stopping = true;
      // A node still booting is waited for, then stopped (the watchdog stops it anyway if this process exits).
      const started = await startingBrokers;
      await Promise.all(brokerPollers.map((poller) => poller.stop()));
      await Promise.all([...started.values()].map((broker) => broker.stop()));
    });
    const context = { runtime, target, control, dataDir, log, warn };
    const pollers: (SqsPoller | KinesisPoller | RabbitMqPoller)[] = eventSourcePollers(template, resolver, { ...context, brokers: undefined });
    // SQS and Kinesis mappings' roles, as CreateEventSourceMapping checks them (Amazon MQ's are not checked).
    await iam.checkMappings(pollers.flatMap((poller) => poller.access ?? []));
    stops.push(async () => {
      await Promise.all(pollers.map((poller) => poller.stop()));
    });
    await Promise.all(pollers.map((poller) => poller.start()));
    const brokersReady = startingBrokers.then(async (started) => {
      if (stopping) return;
      for (const broker of started.values()) brokers[broker.logicalId] = broker.connection;
      const mq = eventSourcePollers(template, resolver, { ...context, brokers: started }) as RabbitMqPoller[];
      brokerPollers.push(...mq);
      pollers.push(...mq);
      await Promise.all(
        mq.map((poller) => poller.start().catch((error: unknown) => log(`${poller.mapping.logicalId}: not polling, ${error instanceof Error ? error.message : String(error)}`))),
      );
    });

    // The local issuer the JWT authorizers trust, served by the edge (GET /_local/issuer/.well-known/...).
    const audiences = [...new Set([...jwtAuthorizersFromTemplate(resolver).values()].flatMap((authorizer) => authorizer.audiences))];
    const issuer = await LocalIssuer.open(dataDir, { issuer: `${target.endpoint}${ISSUER_PATH}`, audiences });
    control.issuer = issuer;
    const routes: HttpRoute[] = routesFromTemplate(resolver, warn);
    const http = new HttpApiServer({ routes, runtime, port: options.apiPort ?? 3000, accountId: target.accountId, region: target.region, verifier: new JwtVerifier(issuer), log });
    stops.push(() => http.stop());
    const apiUrl = routes.length > 0 ? await http.start() : '';

    const resources = localResources(provisioned.resources);
    // Read-only CloudFormation on the edge (emulators/cloudformation.ts), e.g. for `osls invoke local`'s !Ref lookups.
    stacks.register({ stackName, resources, outputs: localOutputs(resolver, apiUrl), region: target.region, accountId: target.accountId });

    return {
      edgeUrl: target.endpoint,
      token: emulators.token,
      tokenFile: emulators.tokenFile,
      apiUrl,
      region: target.region,
      accountId: target.accountId,
      stackName,
      resources,
      outputs: localOutputs(resolver, apiUrl),
      functions: runtime.list().map((fn) => fn.config.name),
      routes: routes.map((route) => ({ routeKey: route.routeKey, functionName: runtime.get(route.functionName).config.name })),
      runtime,
      pollers,
      brokers,
      brokersReady,
      notEmulated: provisioned.notEmulated,
      notEmulatedByType,
      warnings,
      readyInMs: Date.now() - started,
      stats: () => stats.snapshot(),
      iam,
      issuer: issuer.info,
      mintToken: (mint) => issuer.mint(mint),
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** A function log line (`[<function>] <text>`) handed to the application's `recordFailureOf`. */
function recordFailureIn(line: string, recordFailureOf: LocalCloudOptions['recordFailureOf']): FailureRecord | undefined {
  if (!recordFailureOf) return undefined;
  const match = /^\[([^\]]+)\] (.*)$/s.exec(line);
  if (!match) return undefined;
  const functionName = match[1] as string;
  const failure = recordFailureOf(functionName, match[2] as string);
  return failure ? { ...failure, functionName, scope: 'record' } : undefined;
}

/** Reads `.serverless/serverless-state.json` to name the service when no function carries an S3 key. */
async function serviceName(projectDir: string): Promise<string | undefined> {
  try {
    const state = JSON.parse(await readFile(join(projectDir, '.serverless', 'serverless-state.json'), 'utf8')) as { service?: { service?: string } };
    return state.service?.service;
  } catch {
    return undefined;
  }
}

export { LocalCloudError, PackageError, TEMPLATE_FILE, lockPackaging, notEmulatedSummary, packageIfStale, startLocalCloud };
export type { LocalCloud, LocalCloudOptions, LocalResource, RecordFailure };
