/**
 * Execution environments in worker threads, as Lambda keeps them: one pool per function, an environment created on
 * demand (a cold start, whose init phase — the thread's start and the bundle's import — is timed for the REPORT line's Init Duration) and
 * reused warm, one invocation at a time. An environment whose handler ran past its timeout, ran out of memory or
 * exited is terminated, and the next invocation starts a new one, as Lambda reinitialises the environment.
 *
 * Each environment has the function's environment variables as its own `process.env` (so module scope and
 * invocations read them directly) and a heap bounded by the function's MemorySize (`resourceLimits`). Its SDK
 * requests to the edge arrive here as messages (function-worker.ts) and are sent by this thread's NodeHttpHandler,
 * which hands requests for a registered edge to it in memory (edge/in-process-clients.ts).
 *
 * The pools' sizes follow the invocations admitted at once (the function's concurrency, then the execution slots):
 * an environment is only created for an invocation that has both and finds no idle one. Across functions, idle
 * environments beyond `maxEnvironments` are ended, the least recently used first.
 */
import { Worker } from 'node:worker_threads';
import { HttpRequest } from '@smithy/core/protocols';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { readBody } from '../edge/bodies.ts';
import type { LambdaErrorPayload } from './handler-call.ts';

/** What function-worker.ts is started with (its `workerData`). */
interface WorkerSettings {
  name: string;
  arn: string;
  handler: string;
  /** The bundle to import. */
  file: string;
  memorySize: number;
  /** `host:port` of the local edge, whose requests cross to this thread. */
  edgeHosts: string[];
  /** False: the environment's SDK requests take their own socket to the edge. */
  bridge: boolean;
}

/** An SDK request in a message (the fields of smithy's HttpRequest). */
interface BridgedRequest {
  method: string;
  protocol: string;
  hostname: string;
  port?: number;
  path: string;
  query: Record<string, string | string[] | null>;
  headers: Record<string, string>;
  body?: Uint8Array;
}

type WorkerMessage =
  | { kind: 'log'; line: string }
  | { kind: 'ready' }
  | { kind: 'init-error'; error: LambdaErrorPayload }
  | { kind: 'result'; requestId: string; ok: true; json: string; heapMb: number }
  | { kind: 'result'; requestId: string; ok: false; error: LambdaErrorPayload; heapMb: number }
  | { kind: 'http'; id: number; request: BridgedRequest };

type ParentMessage =
  | { kind: 'invoke'; requestId: string; event: unknown; deadline: number }
  | { kind: 'http-response'; id: number; statusCode: number; reason?: string; headers: Record<string, string>; body: Uint8Array }
  | { kind: 'http-error'; id: number; message: string };

/** How one invocation in an environment ended. `fatal`: the environment is gone and must be replaced. */
type Outcome =
  | { ok: true; json: string; heapMb: number }
  | { ok: false; error: LambdaErrorPayload; heapMb?: number; fatal?: 'out-of-memory' | 'exited' | 'crashed' };

/** The edge's own thread sends the environments' SDK requests (in memory while the edge is registered). */
const edgeHandler = new NodeHttpHandler();

async function sendForWorker(worker: Worker, id: number, request: BridgedRequest): Promise<void> {
  try {
    const { response } = await edgeHandler.handle(new HttpRequest({ ...request, ...(request.body === undefined ? {} : { body: Buffer.from(request.body) }) }));
    const body = response.body === undefined || response.body === null ? Buffer.alloc(0) : await readBody(response.body as NodeJS.ReadableStream);
    worker.postMessage({
      kind: 'http-response',
      id,
      statusCode: response.statusCode,
      ...(response.reason === undefined ? {} : { reason: response.reason }),
      headers: response.headers,
      body,
    } satisfies ParentMessage);
  } catch (error) {
    worker.postMessage({ kind: 'http-error', id, message: error instanceof Error ? error.message : String(error) } satisfies ParentMessage);
  }
}

/** One execution environment: a worker thread running function-worker.ts. */
class ExecutionEnvironment {
  private readonly worker: Worker;
  private current?: { requestId: string; settle: (outcome: Outcome) => void };
  private fatal?: Outcome & { ok: false };
  /** Settles once the init phase is over: its duration, or the error Lambda's runtime reports for it. */
  readonly ready: Promise<{ initMs: number } | { error: LambdaErrorPayload }>;
  readonly generation: number;
  lastUsed = Date.now();
  gone = false;
  /** The heap's high-water mark reported by the last invocation, in MB. */
  heapMb?: number;

  constructor(settings: WorkerSettings, env: Record<string, string>, generation: number, log: (line: string) => void) {
    this.generation = generation;
    const created = performance.now();
    this.worker = new Worker(new URL('./function-worker.ts', import.meta.url), {
      workerData: settings,
      env,
      resourceLimits: { maxOldGenerationSizeMb: settings.memorySize },
    });
    let initDone: (value: { initMs: number } | { error: LambdaErrorPayload }) => void = () => undefined;
    this.ready = new Promise((resolve) => {
      initDone = resolve;
    });
    this.worker.on('message', (message: WorkerMessage) => {
      if (message.kind === 'log') return log(message.line);
      if (message.kind === 'http') return void sendForWorker(this.worker, message.id, message.request);
      // Init Duration: from the thread's creation (the runtime's own start, as on Lambda) to the handler found.
      if (message.kind === 'ready') return initDone({ initMs: performance.now() - created });
      if (message.kind === 'init-error') return initDone({ error: message.error });
      if (message.requestId !== this.current?.requestId) return;
      const { settle } = this.current;
      this.current = undefined;
      this.heapMb = message.heapMb;
      settle(message.ok ? { ok: true, json: message.json, heapMb: message.heapMb } : { ok: false, error: message.error, heapMb: message.heapMb });
    });
    this.worker.on('error', (error: Error & { code?: string }) => {
      this.fatal =
        error.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? { ok: false, fatal: 'out-of-memory', error: { errorType: 'Runtime.OutOfMemory', errorMessage: 'Runtime exited with error: signal: killed' } }
          : { ok: false, fatal: 'crashed', error: { errorType: error.name || 'Error', errorMessage: error.message, ...(error.stack ? { stackTrace: error.stack.split('\n').slice(1).map((l) => l.trim()) } : {}) } };
    });
    this.worker.on('exit', (code) => {
      this.gone = true;
      const outcome = this.fatal ?? { ok: false, fatal: 'exited', error: { errorType: 'Runtime.ExitError', errorMessage: `Runtime exited with error: exit status ${code}` } };
      initDone({ error: outcome.error });
      const current = this.current;
      this.current = undefined;
      current?.settle(outcome);
    });
  }

  /** Runs one invocation; the environment must be idle. */
  invoke(requestId: string, event: unknown, deadline: number): Promise<Outcome> {
    this.lastUsed = Date.now();
    if (this.gone) return Promise.resolve(this.fatal ?? { ok: false, fatal: 'exited', error: { errorType: 'Runtime.ExitError', errorMessage: 'Runtime exited' } });
    return new Promise((settle) => {
      this.current = { requestId, settle };
      this.worker.postMessage({ kind: 'invoke', requestId, event, deadline } satisfies ParentMessage);
    });
  }

  /** Ends the thread at once: a handler still running stops there (a timeout, a stop). */
  terminate(): Promise<void> {
    this.gone = true;
    return this.worker.terminate().then(() => undefined);
  }
}

/** Counts of one function's environments (`coldStarts`: created so far; `waiting`: invocations waiting for one). */
interface PoolSnapshot {
  environments: number;
  idle: number;
  coldStarts: number;
  waiting: number;
}

/** The environments of one function. */
class FunctionPool {
  private readonly idle: ExecutionEnvironment[] = [];
  private readonly all = new Set<ExecutionEnvironment>();
  private readonly waiting: Array<(taken: { environment: ExecutionEnvironment; cold: boolean }) => void> = [];
  private coldStarts = 0;
  generation = 0;
  private readonly settings: WorkerSettings;
  private readonly env: () => Record<string, string>;
  private readonly log: (line: string) => void;
  /** Environments at most; an invocation finding them all busy waits for one. */
  readonly limit: number;

  /** `env`: the function's variables as they are now (a new environment copies them). */
  constructor(settings: WorkerSettings, env: () => Record<string, string>, log: (line: string) => void, limit: number) {
    this.settings = settings;
    this.env = env;
    this.log = log;
    this.limit = Math.max(1, limit);
  }

  /**
   * A warm idle environment, else a new one (`cold`) below the limit, else the next one given back. An aborted wait
   * rejects with the signal's reason (the HTTP API gave up: the invocation must not run after its 503).
   */
  take(signal?: AbortSignal): Promise<{ environment: ExecutionEnvironment; cold: boolean }> {
    signal?.throwIfAborted();
    for (let environment = this.idle.pop(); environment !== undefined; environment = this.idle.pop()) {
      if (!environment.gone && environment.generation === this.generation) return Promise.resolve({ environment, cold: false });
      this.end(environment);
    }
    if (this.all.size < this.limit) return Promise.resolve(this.create());
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        const index = this.waiting.indexOf(waiter);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(signal?.reason);
      };
      const waiter = (taken: { environment: ExecutionEnvironment; cold: boolean }): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve(taken);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  private create(): { environment: ExecutionEnvironment; cold: boolean } {
    const environment = new ExecutionEnvironment(this.settings, { ...this.env() }, this.generation, this.log);
    this.all.add(environment);
    this.coldStarts += 1;
    return { environment, cold: true };
  }

  /** Back to the idle ones after an invocation, unless it is gone or its configuration changed since. */
  give(environment: ExecutionEnvironment): void {
    if (environment.gone || environment.generation !== this.generation) return this.end(environment);
    const waiter = this.waiting.shift();
    if (waiter) waiter({ environment, cold: false });
    else this.idle.push(environment);
  }

  /** Terminates an environment (its handler's code stops there) and forgets it. */
  end(environment: ExecutionEnvironment): void {
    this.all.delete(environment);
    const index = this.idle.indexOf(environment);
    if (index >= 0) this.idle.splice(index, 1);
    void environment.terminate();
    // Its place goes to an invocation waiting for one.
    if (this.waiting.length > 0 && this.all.size < this.limit) this.waiting.shift()?.(this.create());
  }

  /** The configuration changed: idle environments end now, busy ones after their invocation. */
  retire(): void {
    this.generation += 1;
    for (const environment of this.idle.splice(0)) this.end(environment);
  }

  /** The least recently used idle environment, to end when there are too many. */
  oldestIdle(): ExecutionEnvironment | undefined {
    return this.idle.reduce<ExecutionEnvironment | undefined>((oldest, environment) => (oldest === undefined || environment.lastUsed < oldest.lastUsed ? environment : oldest), undefined);
  }

  get size(): number {
    return this.all.size;
  }

  snapshot(): PoolSnapshot {
    return { environments: this.all.size, idle: this.idle.length, coldStarts: this.coldStarts, waiting: this.waiting.length };
  }

  async stop(): Promise<void> {
    this.idle.length = 0;
    const all = [...this.all];
    this.all.clear();
    await Promise.all(all.map((environment) => environment.terminate()));
  }
}

export { FunctionPool };
export type { BridgedRequest, Outcome, ParentMessage, PoolSnapshot, WorkerMessage, WorkerSettings };
