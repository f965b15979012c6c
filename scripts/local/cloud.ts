/**
 * The local cloud, programmatically: packages the service (`osls package`), starts the emulators,
 * creates the compiled template's resources on them, loads the functions, and starts the event
 * source pollers and the HTTP API. `npm start` (start.ts) and the integration tests both use it.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import { startEmulators, type Emulators, type EmulatorsOptions } from './emulators.ts';
import { HttpApiServer, routesFromTemplate, type HttpRoute } from './http-api.ts';
import { KinesisPoller, readKinesisMapping } from './pollers/kinesis.ts';
import { SqsPoller, readSqsMapping } from './pollers/sqs.ts';
import { provision, type AwsTarget } from './provision.ts';
import { LambdaRuntime, functionsFromTemplate } from './runtime.ts';
import { TemplateResolver, isRecord, loadTemplate, type CfnTemplate } from './template.ts';

type StartEmulators = (options: EmulatorsOptions) => Promise<Emulators>;

interface LocalCloudOptions {
  stage?: string;
  /** Wipe dataDir first. */
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
  /** Emulators to use instead of scripts/local/emulators.ts. */
  startEmulators?: StartEmulators;
}

interface LocalResource {
  type: string;
  physicalId: string;
  arn?: string;
  url?: string;
}

interface LocalCloud {
  edgeUrl: string;
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
  pollers: (SqsPoller | KinesisPoller)[];
  notEmulated: string[];
  warnings: string[];
  readyInMs: number;
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

async function startLocalCloud(options: LocalCloudOptions = {}): Promise<LocalCloud> {
  const started = Date.now();
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const projectDir = resolvePath(options.projectDir ?? process.cwd());
  const stage = options.stage ?? 'local';
  const dataDir = resolvePath(projectDir, options.dataDir ?? '.local');
  const templatePath = options.templatePath ?? join(projectDir, TEMPLATE_FILE);
  const warnings: string[] = [];
  const warn = (message: string): void => {
    warnings.push(message);
    log(`warning: ${message}`);
  };

  if (!options.skipPackage) await packageIfStale(projectDir, stage, log);
  if (options.fresh) await rm(dataDir, { recursive: true, force: true });
  await mkdir(dataDir, { recursive: true });
  const template = await loadTemplate(templatePath);
  const packaged = packagedServiceAndStage(template);
  const service = packaged.service ?? (await serviceName(projectDir));
  const stackName = options.stackName ?? (service ? `${service}-${packaged.stage ?? stage}` : `local-${stage}`);

  const stops: (() => Promise<void>)[] = [];
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
    const emulators = await (options.startEmulators ?? startEmulators)({
      dataDir,
      edgePort: options.edgePort ?? 4566,
      region: options.region ?? 'us-east-1',
      accountId: options.accountId ?? '000000000000',
      log,
    });
    stops.push(() => emulators.stop());
    const target: AwsTarget = { endpoint: emulators.endpoint, region: emulators.region, accountId: emulators.accountId };
    const resolver = new TemplateResolver(
      template,
      { stackName, region: target.region, accountId: target.accountId, queueUrlBase: target.endpoint },
      warn,
    );

    const provisioned = await provision(resolver, target, warn);

    const runtime = new LambdaRuntime({
      functions: functionsFromTemplate(resolver),
      region: target.region,
      accountId: target.accountId,
      endpoint: target.endpoint,
      bundleDirs: options.bundleDirs ?? [join(projectDir, '.esbuild', '.build')],
      zipDir: join(projectDir, '.serverless'),
      // Inside the project, so the bundles' bare imports (the external AWS SDK) resolve from node_modules.
      extractDir: join(projectDir, '.serverless', '.local-bundles'),
      log,
    });
    stops.push(() => runtime.stop());
    await runtime.start();

    const pollers: (SqsPoller | KinesisPoller)[] = [];
    stops.push(async () => {
      await Promise.all(pollers.map((poller) => poller.stop()));
    });
    for (const [logicalId, resource] of Object.entries(template.Resources)) {
      if (resource.Type !== 'AWS::Lambda::EventSourceMapping' || !resolver.isActive(logicalId)) continue;
      const props = resolver.resolve(resource.Properties ?? {}, `Resources.${logicalId}.Properties`) as Record<string, unknown>;
      const uuid = resolver.identity(logicalId).ref;
      const source = String(props.EventSourceArn ?? '');
      const service = source.split(':')[2];
      if (service === 'sqs') pollers.push(new SqsPoller({ mapping: readSqsMapping(logicalId, uuid, props), runtime, target, log }));
      else if (service === 'kinesis') pollers.push(new KinesisPoller({ mapping: readKinesisMapping(logicalId, uuid, props), runtime, target, dataDir, log }));
      else warn(`${logicalId}: event source ${source || '(none)'} is not emulated (SQS and Kinesis are)`);
    }
    await Promise.all(pollers.map((poller) => poller.start()));

    const routes: HttpRoute[] = routesFromTemplate(resolver, warn);
    const http = new HttpApiServer({ routes, runtime, port: options.apiPort ?? 3000, accountId: target.accountId, region: target.region, log });
    stops.push(() => http.stop());
    const apiUrl = routes.length > 0 ? await http.start() : '';

    const resources: Record<string, LocalResource> = {};
    for (const [logicalId, resource] of Object.entries(provisioned.resources)) {
      if (resource.status === 'skipped') continue;
      resources[logicalId] = {
        type: resource.type,
        physicalId: resource.physicalId,
        ...(resource.arn ? { arn: resource.arn } : {}),
        ...(resource.url ? { url: resource.url } : {}),
      };
    }

    return {
      edgeUrl: target.endpoint,
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
      notEmulated: provisioned.notEmulated,
      warnings,
      readyInMs: Date.now() - started,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
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

export { LocalCloudError, PackageError, TEMPLATE_FILE, packageIfStale, packagedServiceAndStage, serviceName, startLocalCloud };
export type { Emulators, EmulatorsOptions, LocalCloud, LocalCloudOptions, LocalResource, StartEmulators };
