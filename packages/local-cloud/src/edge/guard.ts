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
 * - **`/_local/*` need this run's token** (edge/token.ts) in `x-local-token` (403 without it: another user of the
 *   machine cannot switch faults or invoke functions) and, but for GET and HEAD, `content-type: application/json`
 *   (415 otherwise); but for the local issuer's discovery document and JWKS (GET, public keys only, as an identity
 *   provider publishes them: edge/control.ts).
 *
 * Refusals are JSON `{ "error": <code>, "message": <what and why> }`, with `x-amzn-errortype` for the AWS SDKs.
 *
 * @example
 * const refusal = hostRefusal(req.headers.host, { port: 4566, subdomains: true }) ?? originRefusal(req.headers);
 * if (refusal !== undefined) return sendRefusal(res, refusal);
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { TOKEN_HEADER, TOKEN_VARIABLE } from './token.ts';
import { isIssuerRequest } from './control.ts';

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

/** The token `/_local/*` requests must carry, and where its owner finds it (for the message). */
interface ControlToken {
  token: string;
  file: string;
}

/** The media type `application/json`, any case, with or without parameters; not `application/json-patch+json`. */
const JSON_MEDIA_TYPE = /^application\/json[ \t]*(;|$)/i;

function sameToken(given: string | string[] | undefined, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** 403 without this run's token, 415 for a body that is not JSON: `/_local/*` only (see the file comment). */
function controlRefusal(req: IncomingMessage, control: ControlToken): Refusal | undefined {
  const url = req.url ?? '/';
  const path = URL.canParse(url, 'http://edge') ? new URL(url, 'http://edge').pathname : url;
  if (!path.startsWith('/_local/')) return undefined;
  // The local issuer's discovery document and public keys are public, as an identity provider's are.
  if (isIssuerRequest(path) && (req.method === 'GET' || req.method === 'HEAD')) return undefined;
  if (!sameToken(req.headers[TOKEN_HEADER], control.token)) {
    return {
      statusCode: 403,
      error: 'LocalTokenRequired',
      message: `${path} needs this run's token in the ${TOKEN_HEADER} header: it is in ${control.file} (or set ${TOKEN_VARIABLE}), e.g. curl -H "${TOKEN_HEADER}: $(cat ${control.file})" ...`,
    };
  }
  const method = req.method ?? 'GET';
  if (method !== 'GET' && method !== 'HEAD' && !JSON_MEDIA_TYPE.test(req.headers['content-type'] ?? '')) {
    return {
      statusCode: 415,
      error: 'UnsupportedMediaType',
      message: `${method} ${path} takes content-type: application/json (got ${JSON.stringify(req.headers['content-type'] ?? '(none)')})`,
    };
  }
  return undefined;
}

/** The edge's rule: its loopback names (virtual-hosted S3 included) on its port, no `Origin`, `/_local/*` with the token. */
function edgeRefusal(req: IncomingMessage, port: number, control: ControlToken): Refusal | undefined {
  return hostRefusal(req.headers.host, { port, subdomains: true }) ?? originRefusal(req.headers) ?? controlRefusal(req, control);
}

export { edgeRefusal, guardServer, hostRefusal, internalRefusal, isAllowedHost, originRefusal, sendRefusal };
export type { ControlToken, HostRule, Refusal };
