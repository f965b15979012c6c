/**
 * The HTTP API (API Gateway v2) of the template on a local port: routes from
 * `AWS::ApiGatewayV2::Route`, Lambda proxy integrations with payload format 2.0
 * (API Gateway developer guide, "Create AWS Lambda proxy integrations for HTTP APIs").
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LambdaRuntime } from '../runtime/runtime.ts';
import { hostRefusal, sendRefusal } from '../edge/guard.ts';
import { isRecord, type TemplateResolver } from '../template/template.ts';
import { jwtAuthorizersFromTemplate, routeAuthorization, type JwtVerifier, type RouteAuthorization } from '../auth/jwt-authorizer.ts';

interface HttpRoute {
  routeKey: string;
  /** Upper-case method or ANY; undefined for $default. */
  method?: string;
  /** Path segments of the route, e.g. ['orders', '{id}']. */
  segments?: string[];
  functionName: string;
  payloadFormatVersion: string;
  timeoutMs: number;
  apiId: string;
  /** The route's JWT authorizer and scopes (auth/jwt-authorizer.ts); `unsupported` for another kind (answered 401). */
  authorization?: RouteAuthorization | 'unsupported';
}

interface HttpApiOptions {
  routes: HttpRoute[];
  runtime: LambdaRuntime;
  port: number;
  accountId: string;
  region: string;
  /** Verifies the tokens of routes with a JWT authorizer; without it, such routes answer 401. */
  verifier?: JwtVerifier;
  log?: (line: string) => void;
}

/** API Gateway's payload limit for HTTP APIs (API Gateway quotas): 10 MB. */
const MAX_BODY_BYTES = 10 * 1024 * 1024;
/** The integration timeout limit of HTTP APIs (API Gateway quotas): 30 s. */
const MAX_INTEGRATION_TIMEOUT_MS = 30_000;

const TEXT_TYPES = [/^text\//, /json/, /xml/, /javascript/, /x-www-form-urlencoded/, /graphql/, /yaml/, /csv/];

function parseRouteKey(routeKey: string): { method?: string; segments?: string[] } {
  if (routeKey === '$default') return {};
  const [method, path] = routeKey.split(/\s+/);
  return { method: (method ?? 'ANY').toUpperCase(), segments: (path ?? '/').split('/').filter(Boolean) };
}

/** Reads the routes of every HTTP API in the template: Route → Integration → function. */
function routesFromTemplate(resolver: TemplateResolver, warn: (message: string) => void = () => {}): HttpRoute[] {
  const resources = resolver.template.Resources;
  const authorizers = jwtAuthorizersFromTemplate(resolver, warn);
  const integrations = new Map<string, { functionName: string; payloadFormatVersion: string; timeoutMs: number }>();
  const routes: HttpRoute[] = [];
  for (const [logicalId, resource] of Object.entries(resources)) {
    if (resource.Type !== 'AWS::ApiGatewayV2::Integration' || !resolver.isActive(logicalId)) continue;
    const props = resolver.resolve(resource.Properties ?? {}, `Resources.${logicalId}.Properties`) as Record<string, unknown>;
    if (props.IntegrationType !== 'AWS_PROXY') {
      warn(`${logicalId}: integration type ${String(props.IntegrationType)} is not emulated (AWS_PROXY to Lambda is)`);
      continue;
    }
    integrations.set(resolver.identity(logicalId).ref, {
      functionName: String(props.IntegrationUri),
      payloadFormatVersion: String(props.PayloadFormatVersion ?? '2.0'),
      timeoutMs: Math.min(Number(props.TimeoutInMillis ?? MAX_INTEGRATION_TIMEOUT_MS), MAX_INTEGRATION_TIMEOUT_MS),
    });
  }
  for (const [logicalId, resource] of Object.entries(resources)) {
    if (!resolver.isActive(logicalId)) continue;
    if (resource.Type === 'AWS::ApiGatewayV2::Api') {
      const props = resolver.resolve(resource.Properties ?? {}, `Resources.${logicalId}.Properties`) as Record<string, unknown>;
      if (props.ProtocolType && props.ProtocolType !== 'HTTP') warn(`${logicalId}: ${String(props.ProtocolType)} APIs are not emulated`);
      if (props.Body || props.BodyS3Location) warn(`${logicalId}: OpenAPI bodies are not emulated; declare routes as AWS::ApiGatewayV2::Route`);
      // Quick create: `Target` on the API makes a $default route (or RouteKey) to that Lambda.
      if (typeof props.Target === 'string') {
        const routeKey = String(props.RouteKey ?? '$default');
        routes.push({ routeKey, ...parseRouteKey(routeKey), functionName: props.Target, payloadFormatVersion: '2.0', timeoutMs: MAX_INTEGRATION_TIMEOUT_MS, apiId: resolver.identity(logicalId).ref });
      }
      continue;
    }
    if (resource.Type !== 'AWS::ApiGatewayV2::Route') continue;
    const props = resolver.resolve(resource.Properties ?? {}, `Resources.${logicalId}.Properties`) as Record<string, unknown>;
    const target = String(props.Target ?? '');
    const integration = integrations.get(target.replace(/^integrations\//, ''));
    if (!integration) {
      warn(`${logicalId}: route ${String(props.RouteKey)} has no Lambda proxy integration (Target ${target}); not served`);
      continue;
    }
    if (integration.payloadFormatVersion !== '2.0') warn(`${logicalId}: payload format ${integration.payloadFormatVersion} is served as 2.0`);
    const routeKey = String(props.RouteKey);
    const authorization = routeAuthorization(props, authorizers);
    if (authorization === 'unsupported') warn(`${logicalId}: authorization ${String(props.AuthorizationType)} is not emulated (JWT is); route ${routeKey} answers 401`);
    routes.push({ routeKey, ...parseRouteKey(routeKey), ...integration, apiId: String(props.ApiId), ...(authorization ? { authorization } : {}) });
  }
  return routes;
}

/**
 * API Gateway picks the most specific route: literal segments beat `{param}`, which beats a
 * greedy `{proxy+}`; a method beats ANY; `$default` catches the rest.
 */
function matchRoute(routes: HttpRoute[], method: string, path: string): { route: HttpRoute; pathParameters: Record<string, string> } | undefined {
  const parts = path.split('/').filter(Boolean);
  let best: { route: HttpRoute; pathParameters: Record<string, string>; score: number[] } | undefined;
  for (const route of routes) {
    if (!route.segments || !route.method) continue;
    if (route.method !== 'ANY' && route.method !== method) continue;
    const params: Record<string, string> = {};
    const score: number[] = [];
    let ok = true;
    for (let i = 0; i < route.segments.length; i += 1) {
      const segment = route.segments[i] as string;
      const greedy = /^\{(.+)\+\}$/.exec(segment);
      if (greedy) {
        if (i !== route.segments.length - 1 || parts.length <= i) ok = false;
        else params[greedy[1] as string] = parts.slice(i).map(decodeSegment).join('/');
        score.push(1);
        break;
      }
      const part = parts[i];
      if (part === undefined) {
        ok = false;
        break;
      }
      const variable = /^\{(.+)\}$/.exec(segment);
      if (variable) {
        params[variable[1] as string] = decodeSegment(part);
        score.push(2);
      } else if (segment === part) score.push(3);
      else {
        ok = false;
        break;
      }
    }
    const greedyRoute = route.segments.some((s) => s.endsWith('+}'));
    if (!ok || (!greedyRoute && parts.length !== route.segments.length)) continue;
    score.push(route.method === 'ANY' ? 0 : 1);
    if (!best || compareScores(score, best.score) > 0) best = { route, pathParameters: params, score };
  }
  if (best) return { route: best.route, pathParameters: best.pathParameters };
  const fallback = routes.find((route) => route.routeKey === '$default');
  return fallback ? { route: fallback, pathParameters: {} } : undefined;
}

function compareScores(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i += 1) {
    const diff = (a[i] ?? -1) - (b[i] ?? -1);
    if (diff !== 0) return diff;
  }
  return 0;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** `12/Mar/2020:19:03:58 +0000`, the format of requestContext.time. */
function apiGatewayTime(date: Date): string {
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${pad(date.getUTCDate())}/${months[date.getUTCMonth()]}/${date.getUTCFullYear()}:${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`;
}

function isTextBody(contentType: string | undefined, body: Buffer): boolean {
  if (!contentType) return !body.includes(0) && Buffer.from(body.toString('utf8'), 'utf8').equals(body);
  return TEXT_TYPES.some((pattern) => pattern.test(contentType.toLowerCase()));
}

/** The payload format 2.0 event (duplicate headers and query values comma-joined; cookies apart). */
function buildEvent(
  request: IncomingMessage,
  body: Buffer,
  route: HttpRoute,
  pathParameters: Record<string, string>,
  context: { accountId: string; requestId: string; now: Date; authorizer?: Record<string, unknown> },
): Record<string, unknown> {
  const url = new URL(request.url ?? '/', 'http://localhost');
  const rawQueryString = (request.url ?? '').includes('?') ? (request.url ?? '').slice((request.url ?? '').indexOf('?') + 1) : '';
  const headers: Record<string, string> = {};
  let cookies: string[] | undefined;
  for (let i = 0; i < request.rawHeaders.length; i += 2) {
    const name = (request.rawHeaders[i] ?? '').toLowerCase();
    const value = request.rawHeaders[i + 1] ?? '';
    if (name === 'cookie') {
      cookies = [...(cookies ?? []), ...value.split(/;\s*/).filter(Boolean)];
      continue;
    }
    headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
  }
  const queryStringParameters: Record<string, string> = {};
  for (const [key, value] of url.searchParams) {
    queryStringParameters[key] = queryStringParameters[key] === undefined ? value : `${queryStringParameters[key]},${value}`;
  }
  const host = (headers.host ?? 'localhost').replace(/:\d+$/, '');
  const text = isTextBody(headers['content-type'], body);
  const sourceIp = (request.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
  return {
    version: '2.0',
    routeKey: route.routeKey,
    rawPath: url.pathname,
    rawQueryString,
    ...(cookies ? { cookies } : {}),
    headers,
    ...(Object.keys(queryStringParameters).length > 0 ? { queryStringParameters } : {}),
    requestContext: {
      accountId: context.accountId,
      apiId: route.apiId,
      ...(context.authorizer ? { authorizer: context.authorizer } : {}),
      domainName: host,
      domainPrefix: host.split('.')[0],
      http: {
        method: request.method ?? 'GET',
        path: url.pathname,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: context.requestId,
      routeKey: route.routeKey,
      stage: '$default',
      time: apiGatewayTime(context.now),
      timeEpoch: context.now.getTime(),
    },
    ...(body.length > 0 ? { body: text ? body.toString('utf8') : body.toString('base64') } : {}),
    ...(Object.keys(pathParameters).length > 0 ? { pathParameters } : {}),
    isBase64Encoded: body.length > 0 && !text,
  };
}

interface HttpResponse {
  statusCode: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

/**
 * Payload format 2.0 response: an object with `statusCode` is used as is (headers, cookies, body,
 * isBase64Encoded); anything else is taken as the body of a 200 application/json response.
 */
function mapResponse(payload: unknown): HttpResponse {
  if (isRecord(payload) && 'statusCode' in payload) {
    const headers: Record<string, string | string[]> = {};
    if (isRecord(payload.headers)) for (const [key, value] of Object.entries(payload.headers)) headers[key.toLowerCase()] = String(value);
    if (Array.isArray(payload.cookies) && payload.cookies.length > 0) headers['set-cookie'] = payload.cookies.map(String);
    const raw = payload.body === undefined || payload.body === null ? '' : typeof payload.body === 'string' ? payload.body : JSON.stringify(payload.body);
    const body = payload.isBase64Encoded === true ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
    return { statusCode: Number(payload.statusCode), headers, body };
  }
  return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(payload)) };
}

function gatewayError(statusCode: number, message: string): HttpResponse {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify({ message })) };
}

/** API Gateway request ids look like `JKJaXmPLvHcESHA=`. */
function requestId(): string {
  return randomBytes(10).toString('base64');
}

class HttpApiServer {
  private readonly options: HttpApiOptions;
  private readonly log: (line: string) => void;
  private server?: Server;
  url = '';

  constructor(options: HttpApiOptions) {
    this.options = options;
    this.log = options.log ?? (() => {});
  }

  get routes(): HttpRoute[] {
    return this.options.routes;
  }

  async start(): Promise<string> {
    let port = 0;
    // Idle keep-alive connections stay open 65 s, as the edge's do. With Node's default of 5 s, a client that reuses
    // an idle socket as the server closes it gets ECONNRESET, and on a busy machine that window is wide (seen in
    // tests/integration/api-idempotency.test.ts between two rounds of concurrent requests).
    const server = createServer({ keepAliveTimeout: 65_000 }, (request, response) => {
      // Host allow-list (edge/guard.ts): a rebound web page's name is not served.
      const refusal = hostRefusal(request.headers.host, { port });
      if (refusal !== undefined) return sendRefusal(response, refusal);
      void this.handle(request, response).catch((error: unknown) => {
        this.log(`http-api: ${error instanceof Error ? error.message : String(error)}`);
        if (!response.headersSent) this.send(response, gatewayError(500, 'Internal Server Error'), requestId());
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, '127.0.0.1', () => resolve());
    });
    port = (server.address() as AddressInfo).port;
    this.url = `http://127.0.0.1:${port}`;
    return this.url;
  }

  private readBody(request: IncomingMessage): Promise<Buffer | undefined> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = Number(request.headers['content-length'] ?? 0);
      if (size > MAX_BODY_BYTES) {
        request.resume();
        resolve(undefined);
        return;
      }
      size = 0;
      request.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) {
          resolve(undefined);
          request.resume();
          return;
        }
        chunks.push(chunk);
      });
      request.on('end', () => resolve(Buffer.concat(chunks)));
      request.on('error', reject);
    });
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const id = requestId();
    const now = new Date();
    const body = await this.readBody(request);
    if (!body) {
      this.send(response, gatewayError(413, 'Request Entity Too Large'), id);
      return;
    }
    // A request target the URL parser rejects (`http://[bad/...`, an invalid host in absolute form) is the
    // client's error: 400 Bad Request, not a 500 from the throw below.
    if (!URL.canParse(request.url ?? '/', 'http://localhost')) {
      this.send(response, gatewayError(400, 'Bad Request'), id);
      return;
    }
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    const match = matchRoute(this.options.routes, (request.method ?? 'GET').toUpperCase(), path);
    if (!match) {
      this.send(response, gatewayError(404, 'Not Found'), id);
      return;
    }
    // The authorizer runs before the integration: a refused request never invokes the function.
    let authorizer: Record<string, unknown> | undefined;
    const authorization = match.route.authorization;
    if (authorization !== undefined) {
      const verifier = this.options.verifier;
      const result = authorization === 'unsupported' || verifier === undefined ? undefined : await verifier.authorize(authorization, request.headers, now);
      if (result?.ok !== true) {
        this.log(`http-api: ${match.route.routeKey} ${result?.statusCode ?? 401}: ${result?.reason ?? 'no JWT verifier for this route'}`);
        this.send(response, gatewayError(result?.statusCode ?? 401, result?.message ?? 'Unauthorized'), id);
        return;
      }
      authorizer = result.context;
    }
    const event = buildEvent(request, body, match.route, match.pathParameters, { accountId: this.options.accountId, requestId: id, now, ...(authorizer ? { authorizer } : {}) });
    let timer: NodeJS.Timeout | undefined;
    // An invocation still waiting for an execution slot when the integration times out never starts.
    const gaveUp = new AbortController();
    const integrationTimeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => {
        gaveUp.abort();
        resolve('timeout');
      }, match.route.timeoutMs);
    });
    const invocation = this.options.runtime.invoke(match.route.functionName, event, { throttle: true, signal: gaveUp.signal }).catch((error: unknown) => {
      if (gaveUp.signal.aborted) return 'timeout' as const;
      throw error;
    });
    const result = await Promise.race([invocation, integrationTimeout]);
    clearTimeout(timer);
    if (result === 'timeout') {
      // The integration outlived the API's timeout: HTTP APIs answer 503.
      this.send(response, gatewayError(503, 'Service Unavailable'), id);
      return;
    }
    // A function error, timeout or throttle: API Gateway answers 500 Internal Server Error.
    this.send(response, result.ok ? mapResponse(result.payload) : gatewayError(500, 'Internal Server Error'), id);
  }

  private send(response: ServerResponse, answer: HttpResponse, id: string): void {
    response.statusCode = answer.statusCode;
    for (const [key, value] of Object.entries(answer.headers)) response.setHeader(key, value);
    response.setHeader('apigw-requestid', id);
    response.setHeader('content-length', answer.body.length);
    response.end(answer.body);
  }

  /** Stops accepting requests; requests in flight get up to `graceMs` to be answered, then are cut. */
  async stop(graceMs = 2000): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      server.closeIdleConnections();
    });
  }
}

export { HttpApiServer, routesFromTemplate };
export type { HttpRoute };
