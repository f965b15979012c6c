/**
 * The event source pollers' requests to the edge, without the AWS SDK. On AWS the pollers of an event source mapping
 * are Lambda's own service code, not an SDK client; locally an SDK client per poller cost the main thread a
 * serialization, a SigV4 signature and a deserialization (with an MD5 check of every body) for each receive and delete,
 * about half of an order's requests at 10 orders/s (`npm run load -- steady`: 19 SQS requests per order).
 *
 * A call is one AWS JSON-protocol request (`X-Amz-Target`), handed to the edge in memory when it runs in this process
 * (edge/in-process-clients.ts), over HTTP otherwise. It carries the execution role's access key in a SigV4-shaped
 * `Authorization` header, so the edge routes it and IAM evaluates it as the role's, as before; the signature itself
 * is a placeholder, which the edge (like every local emulator) does not verify. Errors are thrown with the service's
 * error code as `name`, SQS's query code where it sends one (`AccessDenied`,
 * `AWS.SimpleQueueService.NonExistentQueue`); a server-side error or a lost connection is retried twice, 100 then
 * 200 ms later, as the SDK's default of 3 attempts would.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { inProcessEdge, localAuthorization } from '../edge/in-process-clients.ts';
import { exchangeInMemory, type InMemoryAnswer } from '../edge/in-memory-exchange.ts';
import type { LocalClientConfig } from '../util/clients.ts';

type JsonService = 'sqs' | 'kinesis';

/** Target prefix and content type of each service's JSON protocol. */
const PROTOCOLS: Record<JsonService, { prefix: string; contentType: string }> = {
  sqs: { prefix: 'AmazonSQS', contentType: 'application/x-amz-json-1.0' },
  kinesis: { prefix: 'Kinesis_20131202', contentType: 'application/x-amz-json-1.1' },
};

const ATTEMPTS = 3;

/** A service's error answer: `name` is its error code. */
class EdgeCallError extends Error {
  readonly statusCode: number;
  constructor(name: string, message: string, statusCode: number) {
    super(message);
    this.name = name;
    this.statusCode = statusCode;
  }
}

/** The error code of a JSON-protocol error: SQS's query code (`x-amzn-query-error`), else `__type` after any `#`. */
function errorOf(answer: InMemoryAnswer): EdgeCallError {
  let body: { __type?: string; message?: string; Message?: string } = {};
  try {
    body = JSON.parse(answer.body.toString('utf8') || '{}') as typeof body;
  } catch {
    // Not JSON (a proxy's error page): the status says it.
  }
  const code = answer.headers['x-amzn-query-error']?.split(';')[0] ?? body.__type?.split('#').pop() ?? `HTTP ${answer.statusCode}`;
  return new EdgeCallError(code, body.message ?? body.Message ?? answer.body.toString('utf8').slice(0, 200), answer.statusCode);
}

class EdgeJsonClient {
  private readonly url: URL;
  private readonly region: string;
  private readonly service: JsonService;
  private readonly credentials: LocalClientConfig['credentials'];

  /**
   * @example
   * const sqs = new EdgeJsonClient({ endpoint: target.endpoint, region: target.region, service: 'sqs', credentials: functionCredentials(name) });
   * const { Messages } = await sqs.call<{ Messages?: unknown[] }>('ReceiveMessage', { QueueUrl, WaitTimeSeconds: 20 }, signal);
   */
  constructor(options: { endpoint: string; region: string; service: JsonService; credentials: LocalClientConfig['credentials'] }) {
    this.url = new URL(options.endpoint);
    this.region = options.region;
    this.service = options.service;
    this.credentials = options.credentials;
  }

  /** One operation; the parsed answer, or an EdgeCallError naming the service's error code. */
  async call<T>(operation: string, input: Record<string, unknown>, signal?: AbortSignal): Promise<T> {
    const payload = Buffer.from(JSON.stringify(input));
    for (let attempt = 1; ; attempt += 1) {
      let answer: InMemoryAnswer;
      try {
        answer = await this.send(operation, payload, signal);
      } catch (error) {
        if (signal?.aborted || attempt >= ATTEMPTS) throw error;
        await delay(100 * 2 ** (attempt - 1), undefined, signal ? { signal } : {});
        continue;
      }
      if (answer.statusCode < 300) return JSON.parse(answer.body.toString('utf8') || '{}') as T;
      if (answer.statusCode < 500 || attempt >= ATTEMPTS) throw errorOf(answer);
      await delay(100 * 2 ** (attempt - 1), undefined, signal ? { signal } : {});
    }
  }

  private send(operation: string, payload: Buffer, signal?: AbortSignal): Promise<InMemoryAnswer> {
    const { prefix, contentType } = PROTOCOLS[this.service];
    const date = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
    const { accessKeyId, sessionToken } = this.credentials;
    const headers: Record<string, string> = {
      host: this.url.host,
      'content-type': contentType,
      'content-length': String(payload.length),
      'x-amz-target': `${prefix}.${operation}`,
      'x-amz-date': date,
      authorization: localAuthorization({ accessKeyId, shortDate: date.slice(0, 8), region: this.region, service: this.service }, 'content-type;host;x-amz-date;x-amz-target'),
      ...(sessionToken === undefined ? {} : { 'x-amz-security-token': sessionToken }),
    };
    const listener = this.url.protocol === 'http:' ? inProcessEdge(`${this.url.hostname}:${this.url.port || 80}`) : undefined;
    if (listener !== undefined) return exchangeInMemory(listener, { method: 'POST', path: '/', headers, payload }, signal);
    return this.overHttp(headers, payload, signal);
  }

  private async overHttp(headers: Record<string, string>, payload: Buffer, signal?: AbortSignal): Promise<InMemoryAnswer> {
    const { host: _host, 'content-length': _length, ...sent } = headers;
    const response = await fetch(new URL('/', this.url), { method: 'POST', headers: sent, body: payload, ...(signal ? { signal } : {}) });
    return { statusCode: response.status, statusMessage: response.statusText, headers: Object.fromEntries(response.headers), body: Buffer.from(await response.arrayBuffer()) };
  }
}

export { EdgeJsonClient };
