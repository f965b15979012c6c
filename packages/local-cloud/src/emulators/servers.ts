/**
 * Starts the third-party emulators on internal free ports, each persisting under its own folder:
 * fauxqs (SQS, SNS, S3; SQLite), kinesalite (Kinesis; LevelDB), dynalite (DynamoDB; LevelDB).
 */
import { mkdirSync } from 'node:fs';
import http from 'node:http';
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { startFauxqs } from 'fauxqs';
import type { FauxqsServer } from 'fauxqs';
import { applyFauxqsDedupScopePatch } from '../fidelity/fauxqs-dedup-scope.ts';
import { applyFauxqsDlqOriginPatch } from '../fidelity/fauxqs-dlq-origin.ts';
import { applyFauxqsFifoBatchPatch } from '../fidelity/fauxqs-fifo-batch.ts';
import { applyFauxqsPatches } from '../fidelity/fauxqs-patches.ts';
import { applySqsDelayLimitPatch } from '../fidelity/sqs-delay-limit.ts';
import { guardServer, internalRefusal } from '../edge/guard.ts';
import { sleep } from '../util/wait.ts';

interface RunningEmulator {
  name: string;
  port: number;
  /** Its request listener, for the edge to call in this process without a socket (edge/proxy.ts). */
  dispatch?: RequestListener;
  stop(): Promise<void>;
}

/** kinesalite and dynalite: CommonJS factories returning an `http.Server` whose `close` also closes LevelDB. */
type LevelDbEmulatorFactory = (options: Record<string, unknown>) => Server;

const require = createRequire(import.meta.url);

/** Where every emulator listens: loopback only, so nothing else on the network reaches their unauthenticated APIs. */
const LOOPBACK = '127.0.0.1';

/**
 * kinesalite and dynalite read the account and region of their ARNs from the environment when
 * they are created (synchronously), so set them for that call only.
 */
function withAwsEnvironment<T>(region: string, accountId: string, create: () => T): T {
  const saved = { AWS_REGION: process.env.AWS_REGION, AWS_ACCOUNT_ID: process.env.AWS_ACCOUNT_ID };
  process.env.AWS_REGION = region;
  process.env.AWS_ACCOUNT_ID = accountId;
  try {
    return create();
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

function listenInternally(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** How long a stop waits for requests already inside an emulator to finish before closing its database. */
const DRAIN_TIMEOUT_MS = 3_000;

/**
 * Waits until no request is inside the server (bounded), then closes it. kinesalite's and dynalite's `close` also
 * closes LevelDB: a request still running then (a GetRecords an aborted client left behind) would read a closed
 * database and throw from a LevelDB callback, where nothing can catch it.
 */
async function closeServer(server: Server, active: () => number): Promise<void> {
  server.closeIdleConnections();
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  while (active() > 0 && Date.now() < deadline) await sleep(10);
  return new Promise((resolve, reject) => {
    server.close((error) => (error === undefined || error === null ? resolve() : reject(error)));
    server.closeAllConnections();
  });
}

async function startLevelDbEmulator(
  name: string,
  moduleName: 'kinesalite' | 'dynalite',
  options: Record<string, unknown> & { path: string },
  environment: { region: string; accountId: string },
): Promise<RunningEmulator> {
  mkdirSync(options.path, { recursive: true });
  const factory = require(moduleName) as LevelDbEmulatorFactory;
  const server = withAwsEnvironment(environment.region, environment.accountId, () => factory(options));
  // Loopback names only, no Origin (edge/guard.ts): its port is on loopback, where a rebound web page could reach it.
  guardServer(server, internalRefusal);
  // Node's 5 s default would race the edge's keep-alive connections into ECONNRESETs.
  server.keepAliveTimeout = 120_000;
  let active = 0;
  // A request is inside until its handler ends the response (even if the client has gone: the handler still runs).
  server.on('request', (_request, response: ServerResponse) => {
    active += 1;
    const end = response.end.bind(response) as (...args: unknown[]) => ServerResponse;
    let ended = false;
    response.end = ((...args: unknown[]) => {
      if (!ended) {
        ended = true;
        active -= 1;
      }
      return end(...args);
    }) as ServerResponse['end'];
  });
  const port = await listenInternally(server);
  // Once stopping, a request that arrives (over a kept-alive connection, or a poller's read the edge forwarded just
  // before) is answered 503 and never reaches the emulator: a LevelDB read after the close crashes the whole process
  // (a segmentation fault in leveldown's GetWorker, seen when a Kinesis poller's GetShardIterator arrived during a stop).
  let stopping = false;
  const emit = server.emit.bind(server) as (event: string, ...args: unknown[]) => boolean;
  server.emit = ((event: string, ...args: unknown[]) => {
    if (event !== 'request' || !stopping) return emit(event, ...args);
    const [request, response] = args as [IncomingMessage, ServerResponse];
    request.resume();
    response.writeHead(503, { 'content-type': 'application/x-amz-json-1.1' });
    response.end(JSON.stringify({ __type: 'ServiceUnavailableException', message: `${name} is stopping` }));
    return true;
  }) as Server['emit'];
  // Every 'request' listener runs, the counter above included.
  const dispatch: RequestListener = (request, response) => server.emit('request', request, response);
  const stop = (): Promise<void> => {
    stopping = true;
    return closeServer(server, () => active);
  };
  return { name, port, dispatch, stop };
}

/** Kinesis: kinesalite, streams ACTIVE at once (`createStreamMs: 0`). */
function startKinesalite(path: string, region: string, accountId: string): Promise<RunningEmulator> {
  return startLevelDbEmulator(
    'kinesalite',
    'kinesalite',
    { path, createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 100 },
    { region, accountId },
  );
}

/** DynamoDB: dynalite, tables ACTIVE at once (`createTableMs: 0`). */
function startDynalite(path: string, region: string, accountId: string): Promise<RunningEmulator> {
  return startLevelDbEmulator(
    'dynalite',
    'dynalite',
    { path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 },
    { region, accountId },
  );
}

/**
 * Makes `server` listen on 127.0.0.1 whatever host its owner asks for. fauxqs calls Fastify's
 * `listen({ port, host: "0.0.0.0" })` (fauxqs dist/app.js, `startFauxqs`) and takes no host option; Fastify then
 * calls `server.listen(listenOptions)` with that host (fastify lib/server.js), which this rewrites.
 */
function bindToLoopback(server: Server): void {
  const listen = server.listen.bind(server) as (...args: unknown[]) => Server;
  server.listen = ((...args: unknown[]) => {
    const [first] = args;
    // listen({ port, host }) as Fastify calls it, or listen(port[, host], ...); a pipe path is left alone.
    if (typeof first === 'object' && first !== null && (first as { path?: unknown }).path === undefined) args[0] = { ...first, host: LOOPBACK };
    else if (typeof first === 'number') args.splice(1, typeof args[1] === 'string' ? 1 : 0, LOOPBACK);
    return listen(...args);
  }) as Server['listen'];
}

/**
 * Calls `start` and hands back the request listener of the HTTP server it creates synchronously (Fastify creates
 * its server inside `fastify()`, before `startFauxqs` first awaits), so the edge can call it in-process, and makes
 * that server listen on loopback (bindToLoopback) behind the guard of internal servers. fauxqs does not expose its Fastify instance.
 */
function withRequestListener<T>(start: () => Promise<T>): { started: Promise<T>; listener: () => RequestListener | undefined } {
  const createServer = http.createServer;
  let listener: RequestListener | undefined;
  http.createServer = ((...args: unknown[]) => {
    listener ??= args.find((arg): arg is RequestListener => typeof arg === 'function');
    const server = (createServer as (...a: unknown[]) => Server)(...args);
    bindToLoopback(server);
    // Its port, not its in-process dispatch: loopback names only, no Origin (edge/guard.ts).
    guardServer(server, internalRefusal);
    return server;
  }) as typeof http.createServer;
  try {
    return { started: start(), listener: () => listener };
  } finally {
    http.createServer = createServer;
  }
}

/**
 * SQS, SNS and S3: fauxqs as a library (its CLI ignores the logger and data-dir settings). It would
 * bind 0.0.0.0 whatever we ask: withRequestListener makes it bind 127.0.0.1. Its port stays internal,
 * only the edge is advertised. `dispatch` is its request listener, for the edge to call in-process.
 */
async function startFauxqsEmulator(
  dataDir: string,
  region: string,
  log: (line: string) => void,
): Promise<RunningEmulator & { server: FauxqsServer }> {
  mkdirSync(dataDir, { recursive: true });
  for (const patch of [...(await applyFauxqsPatches()), ...(await applyFauxqsDedupScopePatch()), ...(await applyFauxqsFifoBatchPatch()), ...(await applyFauxqsDlqOriginPatch()), ...(await applySqsDelayLimitPatch())]) log(`[emulators] patched ${patch}`);
  const { started, listener } = withRequestListener(() => startFauxqs({ port: 0, logger: false, dataDir, defaultRegion: region }));
  const server = await started;
  const dispatch = listener();
  return { name: 'fauxqs', port: server.port, server, ...(dispatch === undefined ? {} : { dispatch }), stop: () => server.stop() };
}

export { startDynalite, startFauxqsEmulator, startKinesalite };
export type { RunningEmulator };
