/**
 * AWS SDK v3 calls to the edge without a socket. Every client in this process — the functions' own, the pollers',
 * the provisioner's, a test's — sends its HTTP requests through `NodeHttpHandler` (the SDK's default for Node).
 * While an edge is registered here, a request addressed to it (`127.0.0.1:<port>` or `localhost:<port>`) is handed
 * to the edge's request listener in memory (in-memory-exchange.ts): the same headers and
 * body, the same edge code, but no loopback connection, no HTTP parser on either side, and a SigV4 `Authorization`
 * with the real credential scope but no hashing (placeholderSignature). Requests to anything else (AWS itself,
 * another edge) take the socket and are signed as before.
 *
 * The local cloud's profile of a steady 10 orders/s charged ~19 % of its CPU to Node's own HTTP code, most of it the
 * ~35 loopback requests per order (`npx node --cpu-prof scripts/load/run.ts steady --in-process`, then
 * `scripts/load/profile.ts`).
 */
import type { RequestListener } from 'node:http';
import { Readable } from 'node:stream';
import { buildQueryString, HttpResponse } from '@smithy/core/protocols';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { prepareRequest, SignatureV4 } from '@smithy/signature-v4';
import { bodyOf } from './bodies.ts';
import { exchangeInMemory } from './in-memory-exchange.ts';
import { flatHeaders } from './proxy.ts';

type Handle = NodeHttpHandler['handle'];
type SdkRequest = Parameters<Handle>[0];
type HandlerOptions = NonNullable<Parameters<Handle>[1]>;

/** Edges served in memory, by `host:port` as the SDK addresses them. */
const edges = new Map<string, RequestListener>();
let original: Handle | undefined;

type SignRequest = (request: SdkRequest, options?: { signingDate?: Date; signingRegion?: string; signingService?: string }) => Promise<SdkRequest>;
/** What `placeholderSignature` reads of a signer: its own fields (private in the typings). */
interface SignerFields {
  credentialProvider: () => Promise<{ accessKeyId: string; sessionToken?: string }>;
  regionProvider: () => Promise<string>;
  service: string;
  applyChecksum: boolean;
  formatDate(now: Date): { longDate: string; shortDate: string };
}
const signerPrototype = SignatureV4.prototype as unknown as { signRequest: SignRequest };
let originalSignRequest: SignRequest | undefined;

/**
 * The `Authorization` of a request to the local edge: SigV4's form and credential scope (what the edge routes by and
 * IAM evaluates), a placeholder signature (no local emulator verifies one).
 */
function localAuthorization(scope: { accessKeyId: string; shortDate: string; region: string; service: string }, signedHeaders: string): string {
  return `AWS4-HMAC-SHA256 Credential=${scope.accessKeyId}/${scope.shortDate}/${scope.region}/${scope.service}/aws4_request, SignedHeaders=${signedHeaders}, Signature=${'0'.repeat(64)}`;
}

/**
 * SigV4 for a request to an edge served in memory, without the hashing: the headers a signature adds (`X-Amz-Date`,
 * the session token, `x-amz-content-sha256` where the signer applies it, as `UNSIGNED-PAYLOAD`) and an
 * `Authorization` with the real credential scope (access key, date, region, service), which is all the edge reads of
 * it (routing, IAM); its signature is a placeholder, as no local emulator verifies one. Hashing the payload and the
 * canonical request was 5.1 % of the main thread during `npm run load:spike`'s 1,000/s (`--cpu-prof`, `signRequest`
 * inclusive). Requests to anything else are signed as always.
 */
async function placeholderSignature(this: SignerFields, request: SdkRequest, options: Parameters<SignRequest>[1] = {}): Promise<SdkRequest> {
  if (request.protocol !== 'http:' || !edges.has(`${request.hostname}:${request.port ?? 80}`)) {
    return (originalSignRequest as SignRequest).call(this, request, options);
  }
  const credentials = await this.credentialProvider();
  const region = options.signingRegion ?? (await this.regionProvider());
  const service = options.signingService ?? this.service;
  const { longDate, shortDate } = this.formatDate(options.signingDate ?? new Date());
  const signed = prepareRequest(request) as SdkRequest;
  signed.headers['x-amz-date'] = longDate;
  if (credentials.sessionToken) signed.headers['x-amz-security-token'] = credentials.sessionToken;
  if (this.applyChecksum && !Object.keys(signed.headers).some((name) => name.toLowerCase() === 'x-amz-content-sha256')) signed.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
  signed.headers.authorization = localAuthorization({ accessKeyId: credentials.accessKeyId, shortDate, region, service }, 'host;x-amz-date');
  return signed;
}

/** Hosts under which a client reaches an edge listening on 127.0.0.1:`port`. */
const hostsOf = (port: number): string[] => [`127.0.0.1:${port}`, `localhost:${port}`];

/** The listener of the edge served in memory at `host:port` (as the SDK or a URL names it), if any. */
const inProcessEdge = (hostAndPort: string): RequestListener | undefined => edges.get(hostAndPort);

/** Sends one SDK request to the edge's listener and answers it as NodeHttpHandler would (a streamed body). */
async function dispatch(listener: RequestListener, request: SdkRequest, options: HandlerOptions): Promise<{ response: HttpResponse }> {
  const signal = options.abortSignal as AbortSignal | undefined;
  signal?.throwIfAborted();
  const payload = await bodyOf(request.body);
  // Node's HTTP server answers `Expect: 100-continue` itself; in memory there is nobody to.
  const headers = flatHeaders(request.headers, ['expect', 'transfer-encoding']);
  if (payload !== undefined) headers['content-length'] = String(payload.length);
  const query = request.query ? buildQueryString(request.query) : '';
  const path = `${request.path}${query === '' ? '' : `?${query}`}`;
  const answer = await exchangeInMemory(listener, { method: request.method, path, headers, ...(payload === undefined ? {} : { payload }) }, signal);
  return {
    response: new HttpResponse({ statusCode: answer.statusCode, reason: answer.statusMessage, headers: answer.headers, body: Readable.from([answer.body]) }),
  };
}

function patchedHandle(this: NodeHttpHandler, request: SdkRequest, options: HandlerOptions = {}): ReturnType<Handle> {
  const listener = request.protocol === 'http:' ? inProcessEdge(`${request.hostname}:${request.port ?? 80}`) : undefined;
  if (listener === undefined) return (original as Handle).call(this, request, options);
  return dispatch(listener, request, options);
}

/**
 * Serves SDK requests to the edge on `port` in memory until the returned function is called. Idempotent per port;
 * `NodeHttpHandler` is restored once no edge is registered.
 *
 * @example
 * const unregister = serveInProcess(edge.port, edge.dispatch);
 * // ... new SQSClient({ endpoint: edge.endpoint, ... }) now reaches it without a socket
 * unregister();
 */
function serveInProcess(port: number, listener: RequestListener): () => void {
  for (const host of hostsOf(port)) edges.set(host, listener);
  if (original === undefined) {
    original = NodeHttpHandler.prototype.handle;
    NodeHttpHandler.prototype.handle = patchedHandle as Handle;
    originalSignRequest = signerPrototype.signRequest;
    signerPrototype.signRequest = placeholderSignature as unknown as SignRequest;
  }
  return () => {
    for (const host of hostsOf(port)) if (edges.get(host) === listener) edges.delete(host);
    if (edges.size === 0 && original !== undefined) {
      NodeHttpHandler.prototype.handle = original;
      original = undefined;
      signerPrototype.signRequest = originalSignRequest as SignRequest;
      originalSignRequest = undefined;
    }
  };
}

export { inProcessEdge, localAuthorization, serveInProcess };
