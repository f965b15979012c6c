/**
 * What keeps the local cloud's servers to the people on this machine, checked before anything else answers:
 *
 * - **Host allow-list** (DNS rebinding): a web page whose name an attacker re-points at 127.0.0.1 reaches a
 *   loopback server with its own name in `Host`. Only loopback names are served: `127.0.0.1:<port>`,
 *   `localhost:<port>`, `[::1]:<port>`, and on the edge the virtual-hosted S3 names `<bucket>.localhost:<port>`,
 *   `<bucket>.s3.localhost:<port>`, `<bucket>.s3.<region>.localhost:<port>` (every `*.localhost` name is loopback,
 *   RFC 6761 section 6.3). Anything else answers 421 Misdirected Request (RFC 9110 section 15.5.20).
 * - **No `Origin`** on the edge and `/_local/*`: browsers send `Origin` with every cross-origin request and every
 *   POST (Fetch standard, "origin header"); the AWS SDKs and the AWS CLI never do. A request carrying one answers
 *   403, so no web page can publish, read a queue or switch faults, whatever its content type.
 *
 * Refusals are JSON `{ "error": <code>, "message": <what and why> }`, with `x-amzn-errortype` for the AWS SDKs.
 *
 * @example
 * const refusal = hostRefusal(req.headers.host, { port: 4566, subdomains: true }) ?? originRefusal(req.headers);
 * if (refusal !== undefined) return sendRefusal(res, refusal);
 */
import type { IncomingHttpHeaders, IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';

interface Refusal {
  statusCode: number;
  /** A short code: `HostNotAllowed`, `OriginNotAllowed`... */
  error: string;
  message: string;
}

interface HostRule {
  /** The port the server listens on; undefined accepts any port (internal emulators behind the edge see its Host). */
  port?: number;
  /** Also `<name>.localhost` (virtual-hosted S3 on the edge, fauxqs's `sqs.<region>.localhost` queue URLs). */
  subdomains?: boolean;
}

const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** `name[:port]` or `[v6][:port]` → lower-case name (brackets kept) and port (undefined when absent). */
function splitHost(host: string): { name: string; port?: number } | undefined {
  const match = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i.exec(host.trim());
  if (match === null) return undefined;
  const name = (match[1] ?? '').toLowerCase().replace(/\.$/, '');
  return match[2] === undefined ? { name } : { name, port: Number(match[2]) };
}

/** Whether `host` (a Host header) names this server by a loopback name (see the file comment). */
function isAllowedHost(host: string | undefined, rule: HostRule = {}): boolean {
  const parsed = host === undefined ? undefined : splitHost(host);
  if (parsed === undefined) return false;
  const loopbackName = LOOPBACK_NAMES.has(parsed.name) || (rule.subdomains === true && /^[a-z0-9._-]+\.localhost$/.test(parsed.name));
  if (!loopbackName) return false;
  if (rule.port === undefined) return true;
  // A client leaves the port out only when it is the scheme's default (RFC 9110 section 7.2): 80 for http.
  return (parsed.port ?? 80) === rule.port;
}

/** 421 for a Host outside the allow-list (see the file comment). */
function hostRefusal(host: string | undefined, rule: HostRule = {}): Refusal | undefined {
  if (isAllowedHost(host, rule)) return undefined;
  const port = rule.port === undefined ? '<port>' : String(rule.port);
  const names = [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, ...(rule.subdomains === true ? [`<name>.localhost:${port}`] : [])];
  return {
    statusCode: 421,
    error: 'HostNotAllowed',
    message: `Host ${host === undefined ? '(none)' : JSON.stringify(host)} is not served here: this local server answers only ${names.join(', ')} (DNS rebinding protection)`,
  };
}

/** 403 for a request that carries an `Origin` header (a web page's), see the file comment. */
function originRefusal(headers: IncomingHttpHeaders): Refusal | undefined {
  const origin = headers.origin;
  if (origin === undefined) return undefined;
  return {
    statusCode: 403,
    error: 'OriginNotAllowed',
    message: `requests from web pages (Origin ${JSON.stringify(origin)}) are refused: the local cloud serves the AWS SDKs, the AWS CLI and its own tools, which send no Origin`,
  };
}

/** Answers a refusal as JSON; the connection closes (the request body is not read). */
function sendRefusal(res: ServerResponse, refusal: Refusal): void {
  const body = Buffer.from(JSON.stringify({ error: refusal.error, message: refusal.message }));
  res.writeHead(refusal.statusCode, {
    'content-type': 'application/json',
    'content-length': String(body.length),
    'x-amzn-errortype': refusal.error,
    connection: 'close',
  });
  res.end(body);
}

/**
 * Puts `check` in front of every request listener `server` has (one it did not create: an emulator's own),
 * so a refused request reaches none of them.
 */
function guardServer(server: Server, check: (req: IncomingMessage) => Refusal | undefined): void {
  const listeners = server.listeners('request') as RequestListener[];
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const refusal = check(req);
    if (refusal !== undefined) return sendRefusal(res, refusal);
    for (const listener of listeners) listener.call(server, req, res);
  });
}

/** The rule of an emulator behind the edge: loopback names on any port, no `Origin`. */
function internalRefusal(req: IncomingMessage): Refusal | undefined {
  return hostRefusal(req.headers.host, { subdomains: true }) ?? originRefusal(req.headers);
}

/** The edge's rule: its loopback names (virtual-hosted S3 included) on its port, no `Origin`. */
function edgeRefusal(req: IncomingMessage, port: number): Refusal | undefined {
  return hostRefusal(req.headers.host, { port, subdomains: true }) ?? originRefusal(req.headers);
}

export { edgeRefusal, guardServer, hostRefusal, internalRefusal, isAllowedHost, originRefusal, sendRefusal };
export type { HostRule, Refusal };
