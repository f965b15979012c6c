/**
 * One HTTP exchange with the edge's request listener in memory: a request that is a readable stream with Node's
 * `IncomingMessage` fields the edge reads (method, url, lower-cased headers, rawHeaders, httpVersion, socket's
 * remoteAddress), and a response that is a writable stream with `ServerResponse`'s header and status calls, whose
 * written bytes become the answer's body. light-my-request did this before: it builds a real `ServerResponse`,
 * which serialises the status line and headers to HTTP text, then parses that text back, and its request validates
 * its options on every call. On a trivial listener that cost 36-45 µs of CPU per exchange (3 runs of 20,000, Node
 * 24, this 2-core machine); an order makes about 22 requests through the edge, each one such exchange.
 *
 * Made for the edge (and what it hands a request to: its IAM guard, routes, fidelity shims), not for any listener:
 * a framework that needs more of `ServerResponse` (trailers, `writeContinue`, `flushHeaders`, cork) gets a clear
 * TypeError. The emulators' own listeners (fauxqs is a fastify app) keep light-my-request.
 */
import { STATUS_CODES, type IncomingMessage, type OutgoingHttpHeaders, type RequestListener, type ServerResponse } from 'node:http';
import { Readable, Writable } from 'node:stream';
import { flatHeaders } from './proxy.ts';

/** A whole request for a listener in memory (headers flattened to strings, the query in `path`). */
interface InMemoryRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  payload?: Buffer;
}

/** A whole answer from a listener in memory. */
interface InMemoryAnswer {
  statusCode: number;
  statusMessage: string;
  /** Lower-cased names, one string each (a repeated header joined with ", "). */
  headers: Record<string, string>;
  body: Buffer;
}

/** The request: its body is read once, as one chunk. */
class Request extends Readable {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly rawHeaders: string[];
  readonly httpVersion = '1.1';
  readonly httpVersionMajor = 1;
  readonly httpVersionMinor = 1;
  readonly socket = { remoteAddress: '127.0.0.1', remotePort: 0, encrypted: false };
  complete = false;
  private payload: Buffer | undefined;

  constructor(request: InMemoryRequest) {
    super();
    this.method = request.method;
    this.url = request.path;
    this.headers = {};
    this.rawHeaders = [];
    for (const [name, value] of Object.entries(request.headers)) {
      this.headers[name.toLowerCase()] = value;
      this.rawHeaders.push(name, value);
    }
    this.payload = request.payload;
  }

  override _read(): void {
    if (this.payload !== undefined && this.payload.length > 0) this.push(this.payload);
    this.payload = undefined;
    this.complete = true;
    this.push(null);
  }
}

/** The response: status and headers kept, written bytes collected. */
class Response extends Writable {
  statusCode = 200;
  statusMessage = '';
  headersSent = false;
  readonly chunks: Buffer[] = [];
  private readonly fields: OutgoingHttpHeaders = {};

  setHeader(name: string, value: number | string | readonly string[]): this {
    this.fields[name.toLowerCase()] = value as OutgoingHttpHeaders[string];
    return this;
  }

  getHeader(name: string): OutgoingHttpHeaders[string] {
    return this.fields[name.toLowerCase()];
  }

  hasHeader(name: string): boolean {
    return this.fields[name.toLowerCase()] !== undefined;
  }

  removeHeader(name: string): void {
    delete this.fields[name.toLowerCase()];
  }

  getHeaders(): OutgoingHttpHeaders {
    return { ...this.fields };
  }

  /** `writeHead(status[, statusMessage][, headers])`; headers as an object or as Node's flat [name, value, ...] list. */
  writeHead(statusCode: number, messageOrHeaders?: string | OutgoingHttpHeaders | readonly string[], headers?: OutgoingHttpHeaders | readonly string[]): this {
    this.statusCode = statusCode;
    const fields = typeof messageOrHeaders === 'string' ? headers : messageOrHeaders;
    if (typeof messageOrHeaders === 'string') this.statusMessage = messageOrHeaders;
    if (Array.isArray(fields)) for (let i = 0; i + 1 < fields.length; i += 2) this.setHeader(String(fields[i]), String(fields[i + 1]));
    else if (fields !== undefined) for (const [name, value] of Object.entries(fields)) if (value !== undefined) this.setHeader(name, value);
    this.headersSent = true;
    return this;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.headersSent = true;
    this.chunks.push(chunk);
    callback();
  }

  answer(): InMemoryAnswer {
    return { statusCode: this.statusCode, statusMessage: this.statusMessage || (STATUS_CODES[this.statusCode] ?? ''), headers: flatHeaders(this.fields), body: Buffer.concat(this.chunks) };
  }
}

/**
 * Hands `request` to `listener` and resolves with its whole answer once the listener ends the response. An abort
 * destroys the response, which the listener sees as a client gone (as with a torn-down socket: `close` before
 * `finish`), and rejects with an AbortError; a response destroyed by the listener rejects too. The abort listener
 * is removed once the exchange is over: a poller's signal lives as long as the poller.
 *
 * @example
 * const answer = await exchangeInMemory(edge.dispatch, { method: 'POST', path: '/', headers, payload }, signal);
 */
function exchangeInMemory(listener: RequestListener, request: InMemoryRequest, signal?: AbortSignal): Promise<InMemoryAnswer> {
  signal?.throwIfAborted();
  const req = new Request(request);
  const res = new Response();
  return new Promise<InMemoryAnswer>((resolve, reject) => {
    const onAbort = (): void => void res.destroy();
    const settle = (): void => signal?.removeEventListener('abort', onAbort);
    // A write after the end, say: a failed exchange, not an unhandled 'error' event.
    res.once('error', (error) => {
      settle();
      reject(error);
    });
    res.once('finish', () => {
      settle();
      resolve(res.answer());
    });
    res.once('close', () => {
      if (res.writableFinished) return;
      settle();
      if (signal?.aborted === true) reject(Object.assign(new Error('Request aborted'), { name: 'AbortError', cause: signal.reason }));
      else reject(new Error(`the listener closed the in-memory response to ${request.method} ${request.path} before ending it`));
    });
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      listener(req as unknown as IncomingMessage, res as unknown as ServerResponse);
    } catch (error) {
      settle();
      reject(error instanceof Error ? error : new Error(String(error)));
    }
  });
}

export { exchangeInMemory };
export type { InMemoryAnswer };
