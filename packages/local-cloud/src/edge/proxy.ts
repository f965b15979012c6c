/**
 * HTTP/1.1 forwarding from the edge to the emulators: streamed both ways, or buffered when the
 * edge needs to read or rewrite the answer.
 */
import { Agent, request as httpRequest } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';

/** Where an emulator listens, with its own keep-alive connection pool. */
interface Upstream {
  name: string;
  host: string;
  port: number;
  agent: Agent;
}

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

function createUpstream(name: string, host: string, port: number): Upstream {
  return { name, host, port, agent: new Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64 }) };
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

async function readBody(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}

/** Sends a request and reads the whole answer. */
async function exchange(upstream: Upstream, options: UpstreamRequest, client?: ServerResponse): Promise<BufferedResponse> {
  const response = await openUpstream(upstream, options, client);
  const body = await readBody(response);
  return { statusCode: response.statusCode ?? 502, headers: response.headers, body };
}

/** Streams the client's request to the upstream and the answer back. */
async function pipeThrough(upstream: Upstream, options: UpstreamRequest, res: ServerResponse): Promise<void> {
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

/** True once `res` closed before it was finished: the client went away. */
function clientGone(res: ServerResponse): boolean {
  return res.closed && !res.writableFinished;
}

function closeUpstream(upstream: Upstream): void {
  upstream.agent.destroy();
}

export { clientGone, closeUpstream, createUpstream, exchange, forwardHeaders, pipeThrough, readBody, sendBuffered };
export type { BufferedResponse, Upstream, UpstreamRequest };
