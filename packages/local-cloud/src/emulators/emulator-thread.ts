/**
 * fauxqs, kinesalite and dynalite in a worker thread of their own (emulator-worker.ts), so their CPU — SQLite,
 * SNS fan-out, LevelDB, DynamoDB expressions — runs beside the edge, the functions and the pollers instead of on
 * their event loop. The edge reaches them with messages: a request in memory (method, path, headers, body) and its
 * answer, with no socket and no HTTP parser. Their ports still listen on 127.0.0.1 for the parts that speak HTTP to
 * them.
 *
 * @example
 * const thread = await startEmulatorThread({ paths, region: 'us-east-1', accountId: '000000000000' }, console.log);
 * const answer = await thread.call('dynalite')({ method: 'POST', path: '/', headers, body });
 * await thread.stop();
 */
import type { RequestListener } from 'node:http';
import type { EventLoopUtilization } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { BufferedResponse } from '../edge/proxy.ts';
import { dispatchInProcess, sendBuffered } from '../edge/proxy.ts';
import { EmulatorsStartError } from '../util/errors.ts';

/** How long a stopped emulators' thread may take to end by itself before it is terminated. */
const THREAD_EXIT_GRACE_MS = 5_000;

type EmulatorName = 'fauxqs' | 'kinesalite' | 'dynalite';

interface WorkerSettings {
  /** State folder of each emulator. */
  paths: Record<EmulatorName, string>;
  region: string;
  accountId: string;
  /** Check SNS → SQS deliveries against refusals sent later (setDeliveryRefusals; fidelity/sns-delivery-policy.ts). */
  checkDeliveries?: boolean;
}

type ThreadRequest =
  | { kind: 'request'; id: number; target: EmulatorName; method: string; path: string; headers: Record<string, string>; body?: Uint8Array }
  | { kind: 'dead-letter-sources'; id: number; queueName: string }
  | { kind: 'delivery-refusals'; id: number; refused: Array<[string, string]>; drop: boolean }
  | { kind: 'stop'; id: number };

type ThreadReply =
  | { kind: 'log'; line: string }
  | { kind: 'ready'; ports: Record<EmulatorName, number> }
  | { kind: 'failed'; message: string }
  | { kind: 'response'; id: number; statusCode: number; headers: Record<string, string>; body: Uint8Array }
  | { kind: 'dead-letter-sources'; id: number; sources: Array<[string, string]> }
  | { kind: 'delivery-refused'; topicArn: string; queueArn: string }
  | { kind: 'done'; id: number }
  | { kind: 'stopped'; id: number; message?: string }
  | { kind: 'error'; id: number; message: string };

type Exchange = (request: { method: string; path: string; headers: Record<string, string>; body?: Buffer }) => Promise<BufferedResponse>;

interface EmulatorThread {
  ports: Record<EmulatorName, number>;
  /** The buffered exchange with one emulator (an upstream's `call`, edge/proxy.ts). */
  call(target: EmulatorName): Exchange;
  /** The same as a request listener, for clients that address the emulator's port (edge/in-process-clients.ts). */
  listener(target: EmulatorName): RequestListener;
  /** The thread's event loop so far: busy and idle time (the Worker's `performance.eventLoopUtilization`). */
  eventLoopUtilization(): EventLoopUtilization;
  /** fauxqs-dlq-origin.ts's deadLetterSources, read in the emulators' thread. */
  deadLetterSources(queueName: string): Promise<Map<string, string>>;
  /**
   * The SNS → SQS deliveries fauxqs must refuse ([topic ARN, queue ARN]); `drop`: refuse them (enforce), else only
   * report them (warn). Each refused delivery comes back through `onDeliveryRefused`.
   */
  setDeliveryRefusals(refused: Array<[string, string]>, drop: boolean): Promise<void>;
  /** Stops the emulators (closing their databases), then the thread. */
  stop(): Promise<void>;
}

type Pending = { resolve: (reply: ThreadReply) => void; reject: (error: Error) => void };

async function startEmulatorThread(
  settings: WorkerSettings,
  log: (line: string) => void,
  onDeliveryRefused: (topicArn: string, queueArn: string) => void = () => undefined,
): Promise<EmulatorThread> {
  const worker = new Worker(new URL('./emulator-worker.ts', import.meta.url), { workerData: settings });
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let gone: Error | undefined;

  const ports = await new Promise<Record<EmulatorName, number>>((resolve, reject) => {
    const onExit = (code: number): void => reject(new EmulatorsStartError(`the emulators' thread exited with code ${code} before it was ready`));
    worker.once('error', reject);
    worker.once('exit', onExit);
    worker.on('message', (reply: ThreadReply) => {
      if (reply.kind === 'log') return log(reply.line);
      if (reply.kind === 'delivery-refused') return onDeliveryRefused(reply.topicArn, reply.queueArn);
      if (reply.kind === 'ready') {
        worker.off('error', reject);
        worker.off('exit', onExit);
        return resolve(reply.ports);
      }
      if (reply.kind === 'failed') {
        void worker.terminate();
        return reject(new EmulatorsStartError(`the emulators did not start: ${reply.message}`));
      }
      const waiter = pending.get(reply.id);
      if (waiter === undefined) return;
      pending.delete(reply.id);
      if (reply.kind === 'error') waiter.reject(new Error(reply.message));
      else waiter.resolve(reply);
    });
  });
  const fail = (error: Error): void => {
    gone = error;
    for (const waiter of pending.values()) waiter.reject(error);
    pending.clear();
  };
  worker.on('error', (error) => fail(error instanceof Error ? error : new Error(String(error))));
  const ended = new Promise<void>((resolve) => {
    worker.on('exit', (code) => {
      fail(new Error(`the emulators' thread exited (code ${code})`));
      resolve();
    });
  });

  type Unnumbered<T> = T extends unknown ? Omit<T, 'id'> : never;
  const ask = (request: Unnumbered<ThreadRequest>): Promise<ThreadReply> => {
    if (gone !== undefined) return Promise.reject(gone);
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.postMessage({ ...request, id } as ThreadRequest);
    });
  };

  const call = (target: EmulatorName): Exchange => async (request) => {
    const reply = await ask({ kind: 'request', target, ...request, ...(request.body === undefined ? {} : { body: request.body }) });
    if (reply.kind !== 'response') throw new Error(`unexpected answer ${reply.kind} from the emulators' thread`);
    return { statusCode: reply.statusCode, headers: reply.headers, body: Buffer.from(reply.body.buffer, reply.body.byteOffset, reply.body.byteLength) };
  };

  let stopping: Promise<void> | undefined;
  return {
    ports,
    call,
    listener: (target) => (req, res) => {
      const method = req.method ?? 'GET';
      dispatchInProcess(call(target), { method, path: req.url ?? '/', headers: req.headers, body: req })
        .then((answer) => sendBuffered(res, answer, method))
        .catch((error: unknown) => {
          if (res.headersSent) return void res.destroy();
          res.writeHead(502, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ message: `local emulators: ${(error as Error).message}` }));
        });
    },
    eventLoopUtilization: () => worker.performance.eventLoopUtilization(),
    deadLetterSources: async (queueName) => {
      const reply = await ask({ kind: 'dead-letter-sources', queueName });
      return new Map(reply.kind === 'dead-letter-sources' ? reply.sources : []);
    },
    setDeliveryRefusals: async (refused, drop) => {
      await ask({ kind: 'delivery-refusals', refused, drop });
    },
    stop: () => {
      stopping ??= (async () => {
        const reply = await ask({ kind: 'stop' }).catch((error: unknown) => ({ kind: 'stopped', id: 0, message: (error as Error).message }) as const);
        // The thread ends by itself once its emulators are closed (8 ms after a stop with long polls waiting, on this
        // machine); terminate() only if it has not within the grace period, since terminating cuts short whatever
        // native work of its emulators (LevelDB, SQLite) is still queued.
        const timer = setTimeout(() => void worker.terminate(), THREAD_EXIT_GRACE_MS);
        await ended;
        clearTimeout(timer);
        if (reply.kind === 'stopped' && reply.message !== undefined) throw new EmulatorsStartError(`an emulator failed to stop cleanly: ${reply.message}`);
      })();
      return stopping;
    },
  };
}

export { startEmulatorThread };
export type { EmulatorName, EmulatorThread, ThreadReply, ThreadRequest, WorkerSettings };
