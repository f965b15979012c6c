/**
 * The local cloud's Lambda runtime: finds each function's bundle, gives it the environment variables of its
 * `AWS::Lambda::Function` resource plus Lambda's own, a Lambda-like context, its timeout, its memory and its
 * concurrency limit.
 *
 * By default every function runs in execution environments of its own, worker threads like Lambda's sandboxes
 * (worker-pool.ts, function-worker.ts): created on demand (a cold start, with Init Duration in the REPORT line) and
 * reused warm, each with the function's environment as its own `process.env`, its heap bounded by MemorySize, and
 * terminated past the function's timeout, so a timed-out handler's code stops there. An invocation first takes one
 * of the function's concurrency (reserved concurrency) and an execution slot (execution-slots.ts).
 *
 * With `functionsThread: false` (for a debugger's breakpoints) every bundle is imported into this thread instead,
 * and several functions share it. `process.env` is then replaced by a proxy that answers from the environment of
 * the function whose code is running, tracked with AsyncLocalStorage: each bundle is imported inside its function's
 * context, under a unique URL (`?fn=<name>`) so every function gets its own module instance, and every invocation
 * runs inside that context. Trade-offs of that mode: code that escapes the async context sees the host environment;
 * modules outside the bundle (the AWS SDK, kept external by esbuild) are shared by all functions; a timed-out
 * handler cannot be stopped (its late result is discarded, but its code runs on); MemorySize is not enforced.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inflateRawSync } from 'node:zlib';
import { ExecutionSlots, type ExecutionSlotsOptions, type Priority } from './execution-slots.ts';
import type { LocalStats } from '../edge/stats.ts';
import { functionCredentialVariables } from '../edge/iam-roles.ts';
import { isRecord, type TemplateResolver } from '../template/template.ts';
import { callHandler, errorPayload, handlerExport, parseHandler, serializedResult, type Handler, type LambdaErrorPayload } from './handler-call.ts';
import { FunctionPool, type Outcome, type PoolSnapshot } from './worker-pool.ts';

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
  /**
   * true (or LOCAL_FUNCTIONS_THREAD=1 where the local cloud starts the runtime): each function's execution
   * environments in worker threads of their own (worker-pool.ts). Default false: every function in this thread, which
   * measured faster on 2 cores (the package README's "Functions in worker threads") and suits a debugger.
   */
  functionsThread?: boolean;
  /**
   * Execution environments of one function at most (default DEFAULT_ENVIRONMENTS_PER_FUNCTION, never more than its
   * reserved concurrency); an invocation finding them all busy waits for one, and its timeout starts once it has one.
   */
  environmentsPerFunction?: number;
  /** Idle environments beyond this many, across functions, end (least recently used first). Default DEFAULT_MAX_ENVIRONMENTS. */
  maxEnvironments?: number;
  /** False: an environment's SDK requests take a loopback socket to the edge instead of a message (to measure both). */
  bridgeSdkRequests?: boolean;
  /** Where the REPORT lines go (default `log`). */
  report?: (line: string) => void;
}

type InvokeResult =
  | { ok: true; payload: unknown; requestId: string; durationMs: number; initDurationMs?: number }
  | { ok: false; error: LambdaErrorPayload; reason: 'error' | 'timeout' | 'throttled'; requestId: string; durationMs: number; initDurationMs?: number };

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

/**
 * Execution environments kept across functions before idle ones end: a bound on memory, as each environment is a V8
 * isolate with the function's bundle and the SDK loaded.
 */
const DEFAULT_MAX_ENVIRONMENTS = 64;

/**
 * On AWS each concurrent invocation gets an environment and CPU of its own; here every environment shares this
 * machine's cores, and a cold start costs CPU (0.3 to 1.2 s per environment of this app's functions, measured on the
 * 2-core machine under load with `LambdaRuntime.invoke` on the bundles). More environments of one function than the
 * cores add cold starts and memory, not throughput (the 50-order burst of tests/integration/pipeline.test.ts ran past
 * its 30 s with twice the cores, one cold start per environment of each function): invocations beyond wait for a
 * warm one.
 */
const DEFAULT_ENVIRONMENTS_PER_FUNCTION = Math.max(2, availableParallelism());

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

class LambdaFunction {
  readonly config: FunctionConfig;
  readonly concurrency: Semaphore;
  readonly env: Record<string, string>;
  /** In process (`functionsThread: false`): the imported handler. */
  handler?: Handler;
  file?: string;
  /** In worker threads: the function's execution environments. */
  pool?: FunctionPool;

  constructor(config: FunctionConfig, env: Record<string, string>) {
    this.config = config;
    this.env = env;
    this.concurrency = new Semaphore(Math.max(0, config.reservedConcurrency ?? ACCOUNT_CONCURRENCY));
  }

  /**
   * Changes environment variables, as UpdateFunctionConfiguration does: later invocations see them. In worker
   * threads, like Lambda, in new execution environments (the idle ones end now, the busy ones after their invocation).
   */
  updateEnvironment(changes: Record<string, string>): void {
    Object.assign(this.env, changes);
    this.pool?.retire();
  }

  /** Its execution environments, when they run in worker threads. */
  environments(): PoolSnapshot | undefined {
    return this.pool?.snapshot();
  }
}

class LambdaRuntime {
  private readonly options: RuntimeOptions;
  private readonly functions = new Map<string, LambdaFunction>();
  private readonly log: (line: string) => void;
  private restoreEnv?: () => void;
  private restoreLogs?: () => void;
  private inFlight = new Set<Promise<unknown>>();
  /** Functions run in worker threads (functionsThread). */
  private readonly threads: boolean;
  /** Slots shared by every function of this runtime; pollers wait on them before they take messages. */
  readonly slots?: ExecutionSlots;

  constructor(options: RuntimeOptions) {
    this.options = options;
    this.threads = options.functionsThread === true;
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

  /**
   * In worker threads: finds every bundle (each function's environments import theirs on demand). In process:
   * installs the env proxy and log prefixes, then imports every bundle (each in its function's context).
   */
  async start(): Promise<void> {
    if (this.threads) {
      for (const fn of this.functions.values()) {
        fn.file = await this.locateBundle(fn);
        fn.pool = this.poolFor(fn, fn.file);
      }
      return;
    }
    this.restoreEnv = installEnvProxy();
    this.restoreLogs = installLogPrefix(this.log);
    for (const fn of this.functions.values()) await this.load(fn);
  }

  private poolFor(fn: LambdaFunction, file: string): FunctionPool {
    const { config } = fn;
    const endpoint = new URL(this.options.endpoint);
    const edgeHosts = endpoint.protocol === 'http:' ? [endpoint.host, `127.0.0.1:${endpoint.port || '80'}`, `localhost:${endpoint.port || '80'}`] : [];
    const settings = { name: config.name, arn: config.arn, handler: config.handler, file, memorySize: config.memorySize, edgeHosts, bridge: this.options.bridgeSdkRequests !== false };
    const limit = Math.min(config.reservedConcurrency ?? ACCOUNT_CONCURRENCY, this.options.environmentsPerFunction ?? DEFAULT_ENVIRONMENTS_PER_FUNCTION);
    return new FunctionPool(settings, () => fn.env, (line) => this.log(`[${config.name}] ${line}`), limit);
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
    const { exportPath } = parseHandler(fn.config.handler);
    const handler = handlerExport(module, exportPath);
    if (handler === undefined) throw new FunctionLoadError(fn.config, file, new Error(`export ${exportPath.join('.')} is not a function`));
    fn.handler = handler;
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
    const run = this.run(fn, event, requestId, Date.now(), options.signal).finally(() => {
      releaseSlot?.();
      fn.concurrency.release();
    });
    run.then((result) => this.options.stats?.recordInvocation(fn.config.name, fn.config.memorySize, result), () => {});
    this.inFlight.add(run);
    const forget = (): boolean => this.inFlight.delete(run);
    run.then(forget, forget);
    return run;
  }

  private run(fn: LambdaFunction, event: unknown, requestId: string, started: number, signal?: AbortSignal): Promise<InvokeResult> {
    return fn.pool ? this.runInEnvironment(fn, fn.pool, event, requestId, signal) : this.runInProcess(fn, event, requestId, started);
  }

  /**
   * One invocation in an execution environment of the function: a warm idle one, or a new one whose init phase
   * comes first (not counted in the timeout or the duration, as on Lambda). Past the timeout, the environment is
   * terminated, so the handler's code stops there.
   */
  private async runInEnvironment(fn: LambdaFunction, pool: FunctionPool, event: unknown, requestId: string, signal?: AbortSignal): Promise<InvokeResult> {
    const { config } = fn;
    this.endIdleBeyondLimit(pool);
    const { environment, cold } = await pool.take(signal);
    let initDurationMs: number | undefined;
    if (cold) {
      const init = await environment.ready;
      if ('error' in init) {
        pool.end(environment);
        return this.failed(fn, requestId, 0, init.error, 'error');
      }
      initDurationMs = init.initMs;
    }
    const started = performance.now();
    const deadline = Date.now() + config.timeout * 1000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), config.timeout * 1000);
    });
    const outcome: Outcome | 'timeout' = await Promise.race([environment.invoke(requestId, event, deadline), timedOut]);
    clearTimeout(timer);
    const durationMs = performance.now() - started;
    const initField = initDurationMs === undefined ? {} : { initDurationMs };
    if (outcome === 'timeout') {
      // Lambda stops the environment; the next invocation starts a new one.
      pool.end(environment);
      const result = this.timedOut(fn, requestId, durationMs);
      this.report(fn, requestId, durationMs, environment.heapMb, initDurationMs, 'timeout');
      return { ...result, ...initField };
    }
    if (!outcome.ok && outcome.fatal) pool.end(environment);
    else pool.give(environment);
    if (outcome.ok) {
      this.report(fn, requestId, durationMs, outcome.heapMb, initDurationMs);
      return { ok: true, payload: JSON.parse(outcome.json) as unknown, requestId, durationMs, ...initField };
    }
    // A runtime that exited reports it with the request id, as Lambda does ("RequestId: … Error: Runtime exited …").
    const exited = outcome.fatal === 'out-of-memory' || outcome.fatal === 'exited';
    const error = exited ? { ...outcome.error, errorMessage: `RequestId: ${requestId} Error: ${outcome.error.errorMessage}` } : outcome.error;
    const result = this.failed(fn, requestId, durationMs, error, 'error');
    this.report(fn, requestId, durationMs, outcome.fatal === 'out-of-memory' ? fn.config.memorySize : (outcome.heapMb ?? environment.heapMb), initDurationMs, exited ? `error\tError Type: ${error.errorType}` : undefined);
    return { ...result, ...initField };
  }

  /** Ends the least recently used idle environments of other functions while there are more than `maxEnvironments`. */
  private endIdleBeyondLimit(except: FunctionPool): void {
    const limit = this.options.maxEnvironments ?? DEFAULT_MAX_ENVIRONMENTS;
    const pools = [...this.functions.values()].flatMap((fn) => (fn.pool ? [fn.pool] : []));
    let total = pools.reduce((sum, pool) => sum + pool.size, 0);
    while (total >= limit) {
      let oldest: { pool: FunctionPool; environment: NonNullable<ReturnType<FunctionPool['oldestIdle']>> } | undefined;
      for (const pool of pools) {
        const environment = pool === except ? undefined : pool.oldestIdle();
        if (environment && (oldest === undefined || environment.lastUsed < oldest.environment.lastUsed)) oldest = { pool, environment };
      }
      if (oldest === undefined) return;
      oldest.pool.end(oldest.environment);
      total -= 1;
    }
  }

  /**
   * Lambda's REPORT line (to `report`, default the log): Init Duration on a cold start, Max Memory Used as the
   * environment's heap (a worker thread has no memory of its own to measure).
   */
  private report(fn: LambdaFunction, requestId: string, durationMs: number, heapMb: number | undefined, initDurationMs: number | undefined, status?: string): void {
    const fields = [
      `REPORT RequestId: ${requestId}`,
      `Duration: ${durationMs.toFixed(2)} ms`,
      `Billed Duration: ${Math.ceil(durationMs + (initDurationMs ?? 0))} ms`,
      `Memory Size: ${fn.config.memorySize} MB`,
      `Max Memory Used: ${heapMb ?? fn.config.memorySize} MB`,
      ...(initDurationMs === undefined ? [] : [`Init Duration: ${initDurationMs.toFixed(2)} ms`]),
      ...(status === undefined ? [] : [`Status: ${status}`]),
    ];
    (this.options.report ?? this.log)(`[${fn.config.name}] ${fields.join('\t')}`);
  }

  private timedOut(fn: LambdaFunction, requestId: string, durationMs: number): InvokeResult {
    // Lambda's message for a timeout.
    const message = `${new Date().toISOString()} ${requestId} Task timed out after ${fn.config.timeout.toFixed(2)} seconds`;
    this.log(`[${fn.config.name}] ${message}`);
    return { ok: false, reason: 'timeout', requestId, durationMs, error: { errorType: 'Sandbox.Timedout', errorMessage: message } };
  }

  private failed(fn: LambdaFunction, requestId: string, durationMs: number, error: LambdaErrorPayload, reason: 'error'): InvokeResult {
    this.log(`[${fn.config.name}] ${new Date().toISOString()} ${requestId} ERROR Invoke Error ${JSON.stringify(error)}`);
    return { ok: false, reason, requestId, durationMs, error };
  }

  /** In this thread (`functionsThread: false`): a timed-out handler cannot be stopped; its late result is discarded. */
  private async runInProcess(fn: LambdaFunction, event: unknown, requestId: string, started: number): Promise<InvokeResult> {
    const { config } = fn;
    const handler = fn.handler;
    if (!handler) throw new RuntimeError(`function ${config.name} is not loaded`);
    const deadline = started + config.timeout * 1000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), Math.max(0, deadline - Date.now()));
    });
    const facts = { functionName: config.name, functionArn: config.arn, memorySize: config.memorySize, requestId, logStreamName: fn.env.AWS_LAMBDA_LOG_STREAM_NAME ?? '', deadline };
    const execution = executionContext.run({ fn, env: fn.env }, () => callHandler(handler, event, facts));
    try {
      const outcome = await Promise.race([execution.then((payload) => ({ payload })), timedOut]);
      if (outcome === 'timeout') {
        execution.catch(() => {});
        return this.timedOut(fn, requestId, Date.now() - started);
      }
      return { ok: true, payload: JSON.parse(serializedResult(outcome.payload)) as unknown, requestId, durationMs: Date.now() - started };
    } catch (error) {
      return this.failed(fn, requestId, Date.now() - started, errorPayload(error), 'error');
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Waits for in-flight invocations up to `graceMs`, then abandons them; ends the execution environments (in
   * process: restores process.env and the streams).
   */
  async stop(graceMs = 2000): Promise<void> {
    if (this.inFlight.size > 0) {
      await Promise.race([Promise.allSettled([...this.inFlight]), new Promise((resolve) => setTimeout(resolve, graceMs).unref())]);
    }
    this.slots?.close();
    await Promise.all([...this.functions.values()].map((fn) => fn.pool?.stop()));
    this.restoreLogs?.();
    this.restoreEnv?.();
    this.restoreLogs = undefined;
    this.restoreEnv = undefined;
  }
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
