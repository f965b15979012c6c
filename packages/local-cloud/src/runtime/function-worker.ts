/**
 * One execution environment of one function (worker-pool.ts starts it): a worker thread with the function's
 * environment as its own `process.env`, its heap bounded by the function's MemorySize, its bundle imported once
 * (the init phase, timed for the REPORT line's Init Duration), then one invocation at a time.
 *
 * What the function writes to stdout and stderr (console, Powertools' logger) goes to the parent line by line as
 * messages, in order with the invocation's result. Its SDK requests to the local edge go to the parent as messages
 * too (the parent hands them to the edge in memory, edge/in-process-clients.ts): no loopback socket, no HTTP parser.
 */
import { pathToFileURL } from 'node:url';
import { getHeapStatistics } from 'node:v8';
import { Readable } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import { HttpResponse } from '@smithy/core/protocols';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { bodyOf } from '../edge/bodies.ts';
import { callHandler, errorPayload, handlerExport, parseHandler, serializedResult, type Handler } from './handler-call.ts';
import type { BridgedRequest, ParentMessage, WorkerMessage, WorkerSettings } from './worker-pool.ts';

if (parentPort === null) throw new Error('function-worker.ts runs as a worker thread (worker-pool.ts)');
const port = parentPort;
const settings = workerData as WorkerSettings;
const send = (message: WorkerMessage): void => port.postMessage(message);

/** stdout and stderr, line by line, to the parent (which prefixes each line with the function's name). */
function forwardOutput(stream: NodeJS.WriteStream): () => void {
  let pending = '';
  stream.write = function write(chunk: unknown, ...rest: unknown[]): boolean {
    const lines = (pending + (typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString())).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) send({ kind: 'log', line });
    const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
    callback?.();
    return true;
  } as typeof stream.write;
  return () => {
    if (pending === '') return;
    send({ kind: 'log', line: pending });
    pending = '';
  };
}

const flushOut = forwardOutput(process.stdout);
const flushErr = forwardOutput(process.stderr);

/** SDK requests to the local edge cross to the parent thread as messages. */
type Handle = NodeHttpHandler['handle'];
const answers = new Map<number, { resolve: (message: Extract<ParentMessage, { kind: 'http-response' }>) => void; reject: (error: Error) => void }>();
let nextHttpId = 1;
const original = NodeHttpHandler.prototype.handle;
const edgeHosts = new Set(settings.edgeHosts);

async function bridged(request: Parameters<Handle>[0], options: NonNullable<Parameters<Handle>[1]>): Promise<{ response: HttpResponse }> {
  const signal = options.abortSignal as AbortSignal | undefined;
  signal?.throwIfAborted();
  const body = await bodyOf(request.body);
  const id = nextHttpId++;
  const message: BridgedRequest = {
    method: request.method,
    protocol: request.protocol,
    hostname: request.hostname,
    ...(request.port === undefined ? {} : { port: request.port }),
    path: request.path,
    query: request.query ?? {},
    headers: request.headers,
    ...(body === undefined ? {} : { body }),
  };
  let onAbort: (() => void) | undefined;
  const answer = await new Promise<Extract<ParentMessage, { kind: 'http-response' }>>((resolve, reject) => {
    answers.set(id, { resolve, reject });
    if (signal !== undefined) {
      onAbort = () => {
        answers.delete(id);
        reject(Object.assign(new Error('Request aborted'), { name: 'AbortError', cause: signal.reason }));
      };
      signal.addEventListener('abort', onAbort, { once: true });
    }
    send({ kind: 'http', id, request: message });
  }).finally(() => {
    // A long-lived signal would otherwise keep every request's listener (edge/in-memory-exchange.ts, exchangeInMemory).
    if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
  });
  return {
    response: new HttpResponse({
      statusCode: answer.statusCode,
      ...(answer.reason === undefined ? {} : { reason: answer.reason }),
      headers: answer.headers,
      body: Readable.from([Buffer.from(answer.body.buffer, answer.body.byteOffset, answer.body.byteLength)]),
    }),
  };
}

if (settings.bridge) {
  NodeHttpHandler.prototype.handle = function handle(this: NodeHttpHandler, request, options = {}) {
    if (request.protocol !== 'http:' || !edgeHosts.has(`${request.hostname}:${request.port ?? 80}`)) return original.call(this, request, options);
    return bridged(request, options);
  } as Handle;
}

let maxHeapMb = 0;
const heapMb = (): number => {
  maxHeapMb = Math.max(maxHeapMb, Math.ceil(getHeapStatistics().used_heap_size / 1048576));
  return maxHeapMb;
};

/** The init phase: imports the bundle and finds the handler, as Lambda's Node.js runtime reports its failures. */
async function init(): Promise<Handler | undefined> {
  const { exportPath } = parseHandler(settings.handler);
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(settings.file).href)) as Record<string, unknown>;
  } catch (error) {
    const payload = errorPayload(error);
    const code = (error as { code?: unknown }).code;
    send({ kind: 'init-error', error: code === 'ERR_MODULE_NOT_FOUND' ? { ...payload, errorType: 'Runtime.ImportModuleError' } : payload });
    return undefined;
  }
  const handler = handlerExport(module, exportPath);
  if (handler === undefined) {
    send({ kind: 'init-error', error: { errorType: 'Runtime.HandlerNotFound', errorMessage: `${settings.handler} is undefined or not exported` } });
    return undefined;
  }
  send({ kind: 'ready' });
  return handler;
}

const handler = await init();

port.on('message', (message: ParentMessage) => {
  if (message.kind === 'http-response' || message.kind === 'http-error') {
    const waiter = answers.get(message.id);
    answers.delete(message.id);
    if (message.kind === 'http-response') waiter?.resolve(message);
    else waiter?.reject(new Error(message.message));
    return;
  }
  if (handler === undefined) return;
  const facts = { functionName: settings.name, functionArn: settings.arn, memorySize: settings.memorySize, requestId: message.requestId, logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME ?? '', deadline: message.deadline };
  callHandler(handler, message.event, facts).then(
    (payload) => {
      flushOut();
      flushErr();
      send({ kind: 'result', requestId: message.requestId, ok: true, json: serializedResult(payload), heapMb: heapMb() });
    },
    (error: unknown) => {
      flushOut();
      flushErr();
      send({ kind: 'result', requestId: message.requestId, ok: false, error: errorPayload(error), heapMb: heapMb() });
    },
  );
});
