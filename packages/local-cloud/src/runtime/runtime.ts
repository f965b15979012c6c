/**
 * An in-process Lambda runtime for the local cloud: loads each function's bundle, gives it the
 * environment variables of its `AWS::Lambda::Function` resource plus Lambda's own, a Lambda-like
 * context, its timeout and its concurrency limit.
 *
 * Environment isolation. Handlers read `process.env` at module scope and during invocations, and
 * several functions share this one process. `process.env` is therefore replaced by a proxy that
 * answers from the environment of the function whose code is running, tracked with
 * AsyncLocalStorage: each bundle is imported inside its function's context, under a unique URL
 * (`?fn=<name>`) so every function gets its own module instance (its own clients, logger, caches),
 * and every invocation runs inside that context. Outside any function, the proxy answers from the
 * real environment. Trade-offs: code that escapes the async context (a callback registered with a
 * native addon, a `setTimeout` scheduled before the bundle was imported) sees the host
 * environment; `TZ` set by a function does not change the process time zone; modules outside the
 * bundle (the AWS SDK, kept external by esbuild) are shared by all functions, as they are
 * stateless. A timed-out handler cannot be killed: its late result is discarded, but its code runs
 * on, where Lambda would freeze the sandbox.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inflateRawSync } from 'node:zlib';
import { ExecutionSlots, type ExecutionSlotsOptions, type Priority } from './execution-slots.ts';
import type { LocalStats } from '../edge/stats.ts';
import { functionCredentialVariables } from '../edge/iam-roles.ts';
import { isRecord, type TemplateResolver } from '../template/template.ts';

/** What the runtime needs to know about one `AWS::Lambda::Function`. */
interface FunctionConfig {
  logicalId: string;
  name: string;
  arn: string;
  handler: string;
  runtime: string;
  /** Seconds: Lambda's default is 3 s. */
  timeout: number;
  /** MB: Lambda's default is 128 MB. */
  memorySize: number;
  /** ReservedConcurrentExecutions, when set. */
  reservedConcurrency?: number;
  roleArn: string;
  environment: Record<string, string>;
  /** The `Code.S3Key` of the deployment package, to find `.serverless/<name>.zip`. */
  codeKey?: string;
}

interface RuntimeOptions {
  functions: FunctionConfig[];
  region: string;
  accountId: string;
  /** The emulators' edge endpoint, handed to functions as AWS_ENDPOINT_URL. */
  endpoint: string;
  /** Directories holding the bundles (`<dir>/<handler module>.mjs`), searched in order. */
  bundleDirs: string[];
  /** Directory holding `<function>.zip` packages, used when no bundle directory has the file. */
  zipDir?: string;
  /** Where zip packages are extracted (must sit inside the project so bare imports resolve). */
  extractDir?: string;
  log?: (line: string) => void;
  /** Where every invocation is counted (the edge's `/_local/stats`). */
  stats?: LocalStats;
  /** How many invocations run at once and which go first (execution-slots.ts); false: no limit but concurrency. */
  executionSlots?: ExecutionSlotsOptions | false;
}

interface LambdaErrorPayload {
  errorType: string;
  errorMessage: string;
  stackTrace?: string[];
}

type InvokeResult =
  | { ok: true; payload: unknown; requestId: string; durationMs: number }
  | { ok: false; error: LambdaErrorPayload; reason: 'error' | 'timeout' | 'throttled'; requestId: string; durationMs: number };

/** The context object of the Node.js runtime (aws-lambda's `Context`). */
interface LambdaContext {
  callbackWaitsForEmptyEventLoop: boolean;
  functionName: string;
  functionVersion: string;
  invokedFunctionArn: string;
  memoryLimitInMB: string;
  awsRequestId: string;
  logGroupName: string;
  logStreamName: string;
  getRemainingTimeInMillis(): number;
  done(error?: unknown, result?: unknown): void;
  fail(error: unknown): void;
  succeed(result: unknown): void;
}

type Handler = (event: unknown, context: LambdaContext, callback?: (error?: unknown, result?: unknown) => void) => unknown;

class RuntimeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RuntimeError';
  }
}

class FunctionLoadError extends RuntimeError {
  constructor(fn: FunctionConfig, file: string, cause: unknown) {
    super(`function ${fn.name} (${fn.logicalId}, handler ${fn.handler}): cannot load ${file}: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'FunctionLoadError';
  }
}

class FunctionNotFoundError extends RuntimeError {
  constructor(reference: string) {
    super(`no function ${reference} in the template`);
    this.name = 'FunctionNotFoundError';
  }
}

/** A counting semaphore; `acquire` waits in FIFO order and can be aborted. */
class Semaphore {
  private available: number;
  private readonly waiters: (() => void)[] = [];
  readonly limit: number;

  constructor(limit: number) {
    this.limit = limit;
    this.available = limit;
  }

  get inUse(): number {
    return this.limit - this.available;
  }

  tryAcquire(): boolean {
    if (this.available <= 0) return false;
    this.available -= 1;
    return true;
  }

  async acquire(signal?: AbortSignal): Promise<void> {
    if (this.tryAcquire()) return;
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const index = this.waiters.indexOf(grant);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(signal?.reason ?? new Error('aborted'));
      };
      const grant = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(grant);
    });
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.available += 1;
  }
}

/** Lambda's default account concurrency (Lambda quotas page): the cap for functions without a reservation. */
const ACCOUNT_CONCURRENCY = 1000;

/** Keys Lambda reserves: a function cannot set them (Lambda "Defined runtime environment variables"). */
const RESERVED_KEYS = new Set([
  '_HANDLER',
  '_X_AMZN_TRACE_ID',
  'AWS_DEFAULT_REGION',
  'AWS_REGION',
  'AWS_EXECUTION_ENV',
  'AWS_LAMBDA_FUNCTION_NAME',
  'AWS_LAMBDA_FUNCTION_MEMORY_SIZE',
  'AWS_LAMBDA_FUNCTION_VERSION',
  'AWS_LAMBDA_INITIALIZATION_TYPE',
  'AWS_LAMBDA_LOG_GROUP_NAME',
  'AWS_LAMBDA_LOG_STREAM_NAME',
  'AWS_ACCESS_KEY',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_LAMBDA_RUNTIME_API',
  'LAMBDA_TASK_ROOT',
  'LAMBDA_RUNTIME_DIR',
]);

interface ExecutionStore {
  fn: LambdaFunction;
  env: Record<string, string>;
}

const executionContext = new AsyncLocalStorage<ExecutionStore>();

/** Replaces process.env with a proxy answering from the running function's environment. */
function installEnvProxy(): () => void {
  const hostEnv = process.env;
  const current = (): Record<string, string> | undefined => executionContext.getStore()?.env;
  const proxy = new Proxy(hostEnv, {
    get: (target, key) => {
      const env = current();
      return env && typeof key === 'string' ? env[key] : Reflect.get(target, key);
    },
    has: (target, key) => {
      const env = current();
      return env ? key in env : Reflect.has(target, key);
    },
    ownKeys: (target) => {
      const env = current();
      return env ? Reflect.ownKeys(env) : Reflect.ownKeys(target);
    },
    getOwnPropertyDescriptor: (target, key) => {
      const env = current();
      if (!env) return Reflect.getOwnPropertyDescriptor(target, key);
      return typeof key === 'string' && key in env ? { value: env[key], writable: true, enumerable: true, configurable: true } : undefined;
    },
    set: (target, key, value) => {
      const env = current();
      if (env && typeof key === 'string') {
        env[key] = String(value);
        return true;
      }
      return Reflect.set(target, key, value);
    },
    deleteProperty: (target, key) => {
      const env = current();
      if (env && typeof key === 'string') {
        delete env[key];
        return true;
      }
      return Reflect.deleteProperty(target, key);
    },
  });
  process.env = proxy;
  return () => {
    if (process.env === proxy) process.env = hostEnv;
  };
}

/**
 * Prefixes everything a function writes to stdout/stderr (console.*, Powertools' logger) with its
 * name, line by line; output outside any function passes through untouched.
 */
function installLogPrefix(log: (line: string) => void): () => void {
  const patch = (stream: NodeJS.WriteStream): (() => void) => {
    const original = stream.write;
    const pending = new WeakMap<ExecutionStore, string>();
    stream.write = function write(this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]): boolean {
      const store = executionContext.getStore();
      if (!store) return (original as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
      const text = (pending.get(store) ?? '') + (typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString());
      const lines = text.split('\n');
      pending.set(store, lines.pop() ?? '');
      // Outside the function's context: a log sink that writes to stdout must not come back here.
      for (const line of lines) executionContext.exit(() => log(`[${store.fn.config.name}] ${line}`));
      const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      callback?.();
      return true;
    } as typeof stream.write;
    return () => {
      stream.write = original;
    };
  };
  const restoreOut = patch(process.stdout);
  const restoreErr = patch(process.stderr);
  return () => {
    restoreOut();
    restoreErr();
  };
}

/** Minimal zip reader (stored and deflated entries): extracts a deployment package without a dependency. */
async function extractZip(zipPath: string, into: string): Promise<void> {
  const data = await readFile(zipPath);
  let eocd = data.length - 22;
  while (eocd >= 0 && data.readUInt32LE(eocd) !== 0x06054b50) eocd -= 1;
  if (eocd < 0) throw new RuntimeError(`${zipPath} is not a zip file`);
  const entries = data.readUInt16LE(eocd + 10);
  let offset = data.readUInt32LE(eocd + 16);
  for (let i = 0; i < entries; i += 1) {
    const method = data.readUInt16LE(offset + 10);
    const compressedSize = data.readUInt32LE(offset + 20);
    const nameLength = data.readUInt16LE(offset + 28);
    const extraLength = data.readUInt16LE(offset + 30);
    const commentLength = data.readUInt16LE(offset + 32);
    const localHeader = data.readUInt32LE(offset + 42);
    const name = data.subarray(offset + 46, offset + 46 + nameLength).toString('utf8');
    offset += 46 + nameLength + extraLength + commentLength;
    if (name.endsWith('/')) continue;
    const target = resolvePath(into, name);
    if (!target.startsWith(resolvePath(into))) throw new RuntimeError(`${zipPath}: entry ${name} escapes the target directory`);
    const start = localHeader + 30 + data.readUInt16LE(localHeader + 26) + data.readUInt16LE(localHeader + 28);
    const raw = data.subarray(start, start + compressedSize);
    const content = method === 0 ? raw : method === 8 ? inflateRawSync(raw) : undefined;
    if (!content) throw new RuntimeError(`${zipPath}: entry ${name} uses unsupported compression method ${method}`);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, content);
  }
}

const BUNDLE_EXTENSIONS = ['.mjs', '.js', '.cjs'];

/** `functions/placeOrder.handler` → module path `functions/placeOrder`, export path `handler`. */
function parseHandler(handler: string): { modulePath: string; exportPath: string[] } {
  const slash = handler.lastIndexOf('/');
  const dot = handler.indexOf('.', slash + 1);
  if (dot < 0) throw new RuntimeError(`handler ${handler} must be <module>.<export>`);
  return { modulePath: handler.slice(0, dot), exportPath: handler.slice(dot + 1).split('.') };
}

class LambdaFunction {
  readonly config: FunctionConfig;
  readonly concurrency: Semaphore;
  env: Record<string, string>;
  handler?: Handler;
  file?: string;

  constructor(config: FunctionConfig, env: Record<string, string>) {
    this.config = config;
    this.env = env;
    this.concurrency = new Semaphore(Math.max(0, config.reservedConcurrency ?? ACCOUNT_CONCURRENCY));
  }
}

class LambdaRuntime {
  private readonly options: RuntimeOptions;
  private readonly functions = new Map<string, LambdaFunction>();
  private readonly log: (line: string) => void;
  private restoreEnv?: () => void;
  private restoreLogs?: () => void;
  private inFlight = new Set<Promise<unknown>>();
  /** Slots shared by every function of this runtime; pollers wait on them before they take messages. */
  readonly slots?: ExecutionSlots;

  constructor(options: RuntimeOptions) {
    this.options = options;
    if (options.executionSlots !== false) this.slots = new ExecutionSlots(options.executionSlots ?? {});
    this.log = options.log ?? ((line) => process.stdout.write(`${line}\n`));
    for (const config of options.functions) {
      this.functions.set(config.name, new LambdaFunction(config, this.environmentFor(config)));
    }
  }

  /** Lambda's defined variables, the function's own variables, and the local endpoint and credentials. */
  private environmentFor(config: FunctionConfig): Record<string, string> {
    const host: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env)) {
      // No host AWS profile or credentials leak into a function: it talks to the emulators only.
      if (value !== undefined && !key.startsWith('AWS_')) host[key] = value;
    }
    const logStream = `${new Date().toISOString().slice(0, 10).replaceAll('-', '/')}/[$LATEST]${randomUUID().replaceAll('-', '')}`;
    const own: Record<string, string> = {};
    for (const [key, value] of Object.entries(config.environment)) {
      if (RESERVED_KEYS.has(key)) this.log(`[${config.name}] WARN environment variable ${key} is reserved by Lambda (a deployment would fail); ignored`);
      else own[key] = value;
    }
    return {
      ...host,
      // No X-Ray daemon locally: Powertools' tracer stays off, the X-Ray SDK stays quiet.
      AWS_XRAY_CONTEXT_MISSING: 'IGNORE_ERROR',
      NODE_OPTIONS: host.NODE_OPTIONS ?? '',
      ...own,
      POWERTOOLS_TRACE_ENABLED: 'false',
      AWS_ENDPOINT_URL: this.options.endpoint,
      AWS_REGION: this.options.region,
      AWS_DEFAULT_REGION: this.options.region,
      // Credentials of its own, as Lambda hands each function its role's session: the edge evaluates its requests
      // against that role (edge/iam.ts).
      ...functionCredentialVariables(config.name),
      AWS_EXECUTION_ENV: `AWS_Lambda_${config.runtime}`,
      AWS_LAMBDA_FUNCTION_NAME: config.name,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(config.memorySize),
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${config.name}`,
      AWS_LAMBDA_LOG_STREAM_NAME: logStream,
      _HANDLER: config.handler,
    };
  }

  /** Installs the env proxy and log prefixes, then imports every bundle (each in its function's context). */
  async start(): Promise<void> {
    this.restoreEnv = installEnvProxy();
    this.restoreLogs = installLogPrefix(this.log);
    for (const fn of this.functions.values()) await this.load(fn);
  }

  private async locateBundle(fn: LambdaFunction): Promise<string> {
    const { modulePath } = parseHandler(fn.config.handler);
    const candidates: string[] = [];
    for (const dir of this.options.bundleDirs) {
      for (const ext of BUNDLE_EXTENSIONS) candidates.push(join(dir, `${modulePath}${ext}`));
    }
    const found = candidates.find((file) => existsSync(file));
    if (found) return found;
    // Fall back to the deployment package, `.serverless/<function>.zip`, extracted once per build.
    const zipName = fn.config.codeKey ? basename(fn.config.codeKey) : undefined;
    const zipPath = zipName && this.options.zipDir ? join(this.options.zipDir, zipName) : undefined;
    if (zipPath && existsSync(zipPath)) {
      const into = join(this.options.extractDir ?? join(this.options.zipDir ?? '.', '.local-bundles'), fn.config.name);
      const zipTime = (await stat(zipPath)).mtimeMs;
      const marker = join(into, '.extracted-from');
      const stamp = `${zipPath}@${zipTime}`;
      if (!existsSync(marker) || (await readFile(marker, 'utf8')) !== stamp) {
        await extractZip(zipPath, into);
        await writeFile(marker, stamp);
      }
      for (const ext of BUNDLE_EXTENSIONS) {
        const file = join(into, `${modulePath}${ext}`);
        if (existsSync(file)) return file;
      }
    }
    throw new FunctionLoadError(fn.config, candidates[0] ?? modulePath, new Error(`no bundle found (looked in ${candidates.join(', ')}${zipPath ? ` and ${zipPath}` : ''})`));
  }

  private async load(fn: LambdaFunction): Promise<void> {
    const file = await this.locateBundle(fn);
    fn.file = file;
    const url = `${pathToFileURL(file).href}?fn=${encodeURIComponent(fn.config.name)}`;
    let module: Record<string, unknown>;
    try {
      module = await executionContext.run({ fn, env: fn.env }, () => import(url) as Promise<Record<string, unknown>>);
    } catch (error) {
      throw new FunctionLoadError(fn.config, file, error);
    }
    let exported: unknown = module;
    for (const key of parseHandler(fn.config.handler).exportPath) exported = isRecord(exported) || typeof exported === 'function' ? (exported as Record<string, unknown>)[key] : undefined;
    if (typeof exported !== 'function') {
      throw new FunctionLoadError(fn.config, file, new Error(`export ${parseHandler(fn.config.handler).exportPath.join('.')} is not a function`));
    }
    fn.handler = exported as Handler;
  }

  /** Finds a function by name, ARN (also qualified, or an API Gateway integration URI) or logical id. */
  get(reference: string): LambdaFunction {
    const byName = this.functions.get(reference);
    if (byName) return byName;
    const match = /function:([^:/]+)/.exec(reference);
    const fromArn = match?.[1] ? this.functions.get(match[1]) : undefined;
    if (fromArn) return fromArn;
    for (const fn of this.functions.values()) if (fn.config.logicalId === reference) return fn;
    throw new FunctionNotFoundError(reference);
  }

  list(): LambdaFunction[] {
    return [...this.functions.values()];
  }

  /**
   * Invokes a function synchronously, like Lambda's RequestResponse invocation. Waits for a
   * concurrency slot unless `throttle` is set, in which case a full function answers like Lambda's
   * TooManyRequestsException. Then waits for an execution slot (`priority`: default interactive; event sources
   * pass background); the timeout counts from there. The result is JSON round-tripped as Lambda serializes it.
   */
  async invoke(reference: string, event: unknown, options: { throttle?: boolean; signal?: AbortSignal; priority?: Priority } = {}): Promise<InvokeResult> {
    const fn = this.get(reference);
    const requestId = randomUUID();
    if (options.throttle) {
      if (!fn.concurrency.tryAcquire()) {
        this.options.stats?.recordInvocation(fn.config.name, fn.config.memorySize, { ok: false, reason: 'throttled', durationMs: 0 });
        return {
          ok: false,
          reason: 'throttled',
          requestId,
          durationMs: 0,
          error: { errorType: 'TooManyRequestsException', errorMessage: 'Rate Exceeded.' },
        };
      }
    } else await fn.concurrency.acquire(options.signal);
    let releaseSlot: (() => void) | undefined;
    try {
      releaseSlot = await this.slots?.acquire(options.priority ?? 'interactive', options.signal);
    } catch (error) {
      fn.concurrency.release();
      throw error;
    }
    const run = this.run(fn, event, requestId, Date.now()).finally(() => {
      releaseSlot?.();
      fn.concurrency.release();
    });
    run.then((result) => this.options.stats?.recordInvocation(fn.config.name, fn.config.memorySize, result), () => {});
    this.inFlight.add(run);
    void run.finally(() => this.inFlight.delete(run));
    return run;
  }

  private async run(fn: LambdaFunction, event: unknown, requestId: string, started: number): Promise<InvokeResult> {
    const { config } = fn;
    const handler = fn.handler;
    if (!handler) throw new RuntimeError(`function ${config.name} is not loaded`);
    const deadline = started + config.timeout * 1000;
    const context: LambdaContext = {
      callbackWaitsForEmptyEventLoop: true,
      functionName: config.name,
      functionVersion: '$LATEST',
      invokedFunctionArn: config.arn,
      memoryLimitInMB: String(config.memorySize),
      awsRequestId: requestId,
      logGroupName: `/aws/lambda/${config.name}`,
      logStreamName: fn.env.AWS_LAMBDA_LOG_STREAM_NAME ?? '',
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      done: () => {},
      fail: () => {},
      succeed: () => {},
    };
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), Math.max(0, deadline - Date.now()));
    });
    const execution = executionContext.run({ fn, env: fn.env }, () =>
      new Promise<unknown>((resolve, reject) => {
        const callback = (error?: unknown, result?: unknown): void => (error ? reject(error) : resolve(result));
        context.done = callback;
        context.fail = (error) => reject(error);
        context.succeed = (result) => resolve(result);
        try {
          const returned = handler(structuredClone(event), context, callback);
          // An async handler settles through its promise; a callback handler (fewer than 3 params otherwise) through the callback.
          if (returned !== undefined || handler.length < 3) Promise.resolve(returned).then(resolve, reject);
        } catch (error) {
          reject(error);
        }
      }),
    );
    try {
      const outcome = await Promise.race([execution.then((payload) => ({ payload })), timedOut]);
      if (outcome === 'timeout') {
        // Lambda's message for a timeout; the late result, if any, is discarded.
        execution.catch(() => {});
        const seconds = config.timeout.toFixed(2);
        this.log(`[${config.name}] ${new Date().toISOString()} ${requestId} Task timed out after ${seconds} seconds`);
        return {
          ok: false,
          reason: 'timeout',
          requestId,
          durationMs: Date.now() - started,
          error: { errorType: 'Sandbox.Timedout', errorMessage: `${new Date().toISOString()} ${requestId} Task timed out after ${seconds} seconds` },
        };
      }
      // Lambda returns the JSON serialization of the result (undefined becomes null).
      const payload = outcome.payload === undefined ? null : JSON.parse(JSON.stringify(outcome.payload)) as unknown;
      return { ok: true, payload, requestId, durationMs: Date.now() - started };
    } catch (error) {
      const payload = errorPayload(error);
      this.log(`[${config.name}] ${new Date().toISOString()} ${requestId} ERROR Invoke Error ${JSON.stringify(payload)}`);
      return { ok: false, reason: 'error', requestId, durationMs: Date.now() - started, error: payload };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits for in-flight invocations up to `graceMs`, then abandons them; restores process.env and the streams. */
  async stop(graceMs = 2000): Promise<void> {
    if (this.inFlight.size > 0) {
      await Promise.race([Promise.allSettled([...this.inFlight]), new Promise((resolve) => setTimeout(resolve, graceMs).unref())]);
    }
    this.slots?.close();
    this.restoreLogs?.();
    this.restoreEnv?.();
    this.restoreLogs = undefined;
    this.restoreEnv = undefined;
  }
}

/** The Node.js runtime's error shape: errorType is the error's name, as in Lambda's "Invoke Error" log line. */
function errorPayload(error: unknown): LambdaErrorPayload {
  if (error instanceof Error) {
    return { errorType: error.name || 'Error', errorMessage: error.message, stackTrace: error.stack?.split('\n').slice(1).map((l) => l.trim()) };
  }
  return { errorType: typeof error === 'string' ? 'string' : 'Error', errorMessage: typeof error === 'string' ? error : JSON.stringify(error) };
}

function readNumber(value: unknown): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/** Reads every `AWS::Lambda::Function` of the template, intrinsics resolved (after provisioning). */
function functionsFromTemplate(resolver: TemplateResolver): FunctionConfig[] {
  const out: FunctionConfig[] = [];
  for (const [logicalId, resource] of Object.entries(resolver.template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function' || !resolver.isActive(logicalId)) continue;
    const props = (resolver.resolve(resource.Properties ?? {}, `Resources.${logicalId}.Properties`) ?? {}) as Record<string, unknown>;
    const identity = resolver.identity(logicalId);
    const environment = isRecord(props.Environment) && isRecord(props.Environment.Variables) ? props.Environment.Variables : {};
    const code = isRecord(props.Code) ? props.Code : {};
    const reserved = readNumber(props.ReservedConcurrentExecutions);
    out.push({
      logicalId,
      name: identity.ref,
      arn: identity.attributes.Arn ?? identity.ref,
      handler: String(props.Handler ?? 'index.handler'),
      runtime: String(props.Runtime ?? 'nodejs24.x'),
      timeout: readNumber(props.Timeout) ?? 3,
      memorySize: readNumber(props.MemorySize) ?? 128,
      ...(reserved === undefined ? {} : { reservedConcurrency: reserved }),
      roleArn: String(props.Role ?? ''),
      environment: Object.fromEntries(Object.entries(environment).map(([key, value]) => [key, String(value)])),
      ...(typeof code.S3Key === 'string' ? { codeKey: code.S3Key } : {}),
    });
  }
  return out;
}

export { FunctionLoadError, LambdaRuntime, Semaphore, functionsFromTemplate };
export type { FunctionConfig, InvokeResult, LambdaErrorPayload };
