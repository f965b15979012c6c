/**
 * HTTP/1.1 forwarding from the edge to the emulators: streamed both ways, or buffered when the
 * edge needs to read or rewrite the answer. An emulator running in this process can be reached
 * without a socket: its request listener is called with an in-memory request (light-my-request,
 * what Fastify's own `inject` uses), which spares the loopback round trip's CPU on both sides.
 */
import { Agent, request as httpRequest } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, RequestListener, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { inject } from 'light-my-request';
import { readBody } from './bodies.ts';

/** Where an emulator listens, with its own keep-alive connection pool. */
interface Upstream {
  name: string;
  host: string;
  port: number;
  agent: Agent;
  /** The emulator's request listener when it runs in this process: requests skip the socket. */
  dispatch?: RequestListener;
  /** A buffered exchange with the emulator in another thread of this process (emulators/emulator-thread.ts). */
  call?: InMemoryExchange;
}

/** A whole request in memory (headers flattened to strings), answered whole. */
type InMemoryExchange = (request: { method: string; path: string; headers: Record<string, string>; body?: Buffer }) => Promise<BufferedResponse>;

interface UpstreamRequest {
  method: string;
  path: string;
  headers: OutgoingHttpHeaders;
  /** A buffered body, or the client's request to stream. Absent: no body. */
  body?: Buffer | IncomingMessage;
  /** Aborts the upstream request. */
  signal?: AbortSignal;
}

interface BufferedResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) and `expect`: Node answers `100 Continue` to the client
 * itself, the upstream must not wait for one again.
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'upgrade',
  'expect',
]);

function createUpstream(name: string, host: string, port: number, inMemory: { dispatch?: RequestListener; call?: InMemoryExchange } = {}): Upstream {
  return { name, host, port, agent: new Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64 }), ...inMemory };
}

/**
 * Headers as one string each (a repeated header joined with ", "), for a request or answer handed over in memory;
 * `omit` names (lower case) are left out.
 */
function flatHeaders(headers: Record<string, string | number | string[] | undefined>, omit: readonly string[] = []): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !omit.includes(name.toLowerCase())) flat[name] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return flat;
}

/** The client's headers minus hop-by-hop ones, with `overrides` applied (undefined removes). */
function forwardHeaders(headers: IncomingHttpHeaders, overrides: Record<string, string | undefined> = {}): OutgoingHttpHeaders {
  const result: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) result[name] = value;
  }
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) delete result[name];
    else result[name] = value;
  }
  return result;
}

function responseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const result: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) result[name] = value;
  }
  return result;
}

/**
 * Opens the upstream request. When `client` (the edge's response) closes before it is finished,
 * the client went away (an aborted long poll, a stopping poller): the upstream request is torn
 * down too, so fauxqs does not hold a receive for nobody.
 */
function openUpstream(upstream: Upstream, options: UpstreamRequest, client?: ServerResponse): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      {
        host: upstream.host,
        port: upstream.port,
        method: options.method,
        path: options.path,
        headers: options.headers,
        agent: upstream.agent,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      },
      resolve,
    );
    outgoing.on('error', reject);
    client?.once('close', () => {
      if (!client.writableFinished) outgoing.destroy();
    });
    const body = options.body;
    if (body === undefined) outgoing.end();
    else if (Buffer.isBuffer(body)) outgoing.end(body);
    else pipeline(body, outgoing).catch(reject);
  });
}

/** The listener called with an in-memory request (light-my-request, what Fastify's own `inject` uses). */
function injecting(dispatch: RequestListener): InMemoryExchange {
  return (request) =>
    inject(dispatch, {
      method: request.method as 'GET',
      url: request.path,
      headers: request.headers,
      remoteAddress: '127.0.0.1',
      ...(request.body === undefined ? {} : { payload: request.body }),
    }).then((response) => ({ statusCode: response.statusCode, headers: response.headers as IncomingHttpHeaders, body: response.rawPayload }));
}

/**
 * The request handed to the emulator in memory. `signal` only stops the wait: like a torn-down socket, it does not
 * stop the emulator's own handling (the edge releases what a receive took for a client gone).
 */
async function dispatchInProcess(send: InMemoryExchange, options: UpstreamRequest): Promise<BufferedResponse> {
  const body = options.body === undefined ? undefined : Buffer.isBuffer(options.body) ? options.body : await readBody(options.body);
  const headers = flatHeaders(options.headers, ['transfer-encoding']);
  if (body !== undefined) headers['content-length'] = String(body.length);
  const answered = send({ method: options.method, path: options.path, headers, ...(body === undefined ? {} : { body }) });
  const signal = options.signal;
  if (signal === undefined) return answered;
  signal.throwIfAborted();
  return new Promise((resolve, reject) => {
    const abort = (): void => reject(signal.reason);
    signal.addEventListener('abort', abort, { once: true });
    answered.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
  });
}

const inMemoryOf = (upstream: Upstream): InMemoryExchange | undefined =>
  upstream.call ?? (upstream.dispatch === undefined ? undefined : injecting(upstream.dispatch));

/** Sends a request and reads the whole answer. */
async function exchange(upstream: Upstream, options: UpstreamRequest, client?: ServerResponse): Promise<BufferedResponse> {
  const inMemory = inMemoryOf(upstream);
  if (inMemory !== undefined) return dispatchInProcess(inMemory, options);
  const response = await openUpstream(upstream, options, client);
  const body = await readBody(response);
  return { statusCode: response.statusCode ?? 502, headers: response.headers, body };
}

/**
 * Calls one operation of an AWS JSON-protocol API (`X-Amz-Target: <target>`), answering the whole response with its
 * body parsed (`{}` when empty), error or not.
 */
async function postJson(
  upstream: Upstream,
  target: string,
  input: Record<string, unknown>,
  headers: OutgoingHttpHeaders = {},
): Promise<{ statusCode: number; headers: IncomingHttpHeaders; body: Record<string, unknown> }> {
  const payload = Buffer.from(JSON.stringify(input));
  const response = await exchange(upstream, {
    method: 'POST',
    path: '/',
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': target, ...headers, 'content-length': String(payload.length) },
    body: payload,
  });
  return { statusCode: response.statusCode, headers: response.headers, body: JSON.parse(response.body.toString('utf8') || '{}') as Record<string, unknown> };
}

/** Streams the client's request to the upstream and the answer back. */
async function pipeThrough(upstream: Upstream, options: UpstreamRequest, res: ServerResponse): Promise<void> {
  const inMemory = inMemoryOf(upstream);
  if (inMemory !== undefined) return sendBuffered(res, await dispatchInProcess(inMemory, options), options.method);
  const response = await openUpstream(upstream, options, res);
  res.writeHead(response.statusCode ?? 502, responseHeaders(response.headers));
  await pipeline(response, res);
}

/**
 * Answers a buffered response. Content-length is recomputed (the body may have been rewritten),
 * except for HEAD, whose content-length describes the resource, and 204/304, which have none.
 */
function sendBuffered(res: ServerResponse, response: BufferedResponse, method: string): void {
  const headers = responseHeaders(response.headers);
  delete headers['transfer-encoding'];
  if (response.statusCode === 204 || response.statusCode === 304) delete headers['content-length'];
  else if (method !== 'HEAD') headers['content-length'] = String(response.body.length);
  res.writeHead(response.statusCode, headers);
  res.end(method === 'HEAD' ? undefined : response.body);
}

/**
 * True once `res` closed before it was finished: the client went away (its socket closed, or an in-memory response
 * was destroyed by its client's abort, which sets `destroyed` but not `closed`).
 */
function clientGone(res: ServerResponse): boolean {
  return (res.closed || res.destroyed) && !res.writableFinished;
}

function closeUpstream(upstream: Upstream): void {
  upstream.agent.destroy();
}

export { clientGone, closeUpstream, createUpstream, dispatchInProcess, exchange, flatHeaders, forwardHeaders, pipeThrough, postJson, sendBuffered };
export type { BufferedResponse, Upstream };
