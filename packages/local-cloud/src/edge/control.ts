/**
 * Operator switches of the local cloud, served on the edge under `/_local/` (no S3 bucket name can start
 * with `_`), one instance per local cloud, made by its composition root (a process may run several, as the tests do):
 *
 * - `GET|POST /_local/faults`: the functions' fault switches (one environment variable, `FAULTS` unless the
 *   application names another, whose meaning is the application's: see FaultInjection) and the SQS pollers'
 *   duplicate delivery. POST a JSON object, plus `"duplicateDelivery": true|false`; it replaces the variable of
 *   every running function at once (each function's environment is live: no restart). `{}` switches all off.
 * - `GET /_local/failures?messageId=ID` (or `?sequenceNumber=N` for Kinesis records): the last failure a consumer
 *   reported for that record (the application's `recordFailureOf` reads it from its functions' output: errorName,
 *   errorMessage, orderId) or the poller saw
 *   (a whole batch failed: timeout, crash). SQS keeps a message's id when it moves it to its DLQ, so this is what
 *   `npm run dlq -- peek` shows as the reason. Kept in memory, the last 10,000 records.
 * - `GET /_local/iam`: what IAM refused since start (edge/iam.ts `report`): the mode, how many requests were
 *   evaluated, the last denials of functions' requests, the deliveries queue policies dropped, the event source
 *   mappings their roles would not allow (`--iam warn`); `npm run iam` prints it.
 * - `POST /_local/invoke` `{"functionName": "...", "event": {...}}`: a synchronous invocation, like Lambda's
 *   Invoke API (which the edge does not emulate); `npm run dlq -- redrive` uses it to re-invoke a stream consumer.
 *
 * - `GET /_local/issuer/.well-known/openid-configuration` and `GET /_local/issuer/.well-known/jwks.json`: the
 *   local token issuer's discovery document and public keys (auth/issuer.ts), the only `/_local/*` paths served
 *   without the token (public keys, as an identity provider publishes them).
 *
 * Every other `/_local/*` request carries this run's token (`x-local-token`, edge/token.ts) and every POST
 * `content-type: application/json`; edge/guard.ts refuses the others before they reach this file.
 *
 * @example
 * T="x-local-token: $(cat .local/edge/token)"
 * curl -s -H "$T" -H 'content-type: application/json' localhost:4566/_local/faults -d '{"chargeOrder":{"failureRate":0.2},"duplicateDelivery":true}'
 * curl -s -H "$T" 'localhost:4566/_local/failures?messageId=5ce3462c-c5df-42e1-866b-3423e3741a48'
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody } from './bodies.ts';
import type { IamGuard } from './iam.ts';
import type { LambdaRuntime } from '../runtime/runtime.ts';
import { ISSUER_PATH, type LocalIssuer } from '../auth/issuer.ts';

const CONTROL_PATHS = new Set(['/_local/faults', '/_local/failures', '/_local/invoke', '/_local/iam']);

/** How many failures are remembered (the oldest go first). */
const MAX_FAILURES = 10_000;

interface FailureRecord {
  /** The record's SQS messageId or Kinesis sequenceNumber. */
  key: string;
  functionName: string;
  at: string;
  errorName: string;
  errorMessage: string;
  orderId?: string;
  /** `record` (the consumer logged the record's failure) or `batch` (the whole invocation failed). */
  scope: 'record' | 'batch';
}

/**
 * How the application injects faults: the local cloud knows only an environment variable holding JSON, set
 * on every function; the application's code reads it and validates it (`validate` throws a FaultsValidationError-like
 * error, whose `path` property names the field at fault, to refuse a POST with a 400).
 */
interface FaultInjection {
  /** Default `FAULTS`. */
  variable?: string;
  /** Throws for a value the functions would refuse; `error.path` (when set) names the field at fault. */
  validate?: (json: string) => void;
}

interface FaultsState {
  /** FAULTS as every function sees it ('' = none). */
  faults: string;
  duplicateDelivery: boolean;
}

class LocalControl {
  private runtime?: LambdaRuntime;
  private iam?: IamGuard;
  private readonly failures = new Map<string, FailureRecord>();
  private readonly variable: string;
  private readonly validate: (json: string) => void;
  faults = '';
  duplicateDelivery = false;
  /** The local token issuer, once the local cloud has made it (its documents answer 404 before). */
  issuer?: LocalIssuer;

  constructor(injection: FaultInjection = {}) {
    this.variable = injection.variable ?? 'FAULTS';
    this.validate = injection.validate ?? (() => {});
  }

  /** Called by the local cloud once its functions are loaded; picks up the fault variable from the template's environment. */
  attach(runtime: LambdaRuntime, iam?: IamGuard): void {
    this.runtime = runtime;
    this.iam = iam;
    this.faults = runtime.list().find((fn) => fn.env[this.variable])?.env[this.variable] ?? '';
  }

  /**
   * Sets the fault variable of every function (validated first) and, when given, duplicate delivery.
   * @throws FaultsSwitchError naming the path at fault, or what `validate` throws
   */
  setFaults(input: Record<string, unknown>): FaultsState {
    const { duplicateDelivery, ...functions } = input;
    if (duplicateDelivery !== undefined && typeof duplicateDelivery !== 'boolean') throw new FaultsSwitchError('duplicateDelivery', 'must be true or false');
    const text = Object.keys(functions).length === 0 ? '' : JSON.stringify(functions);
    this.validate(text);
    this.faults = text;
    for (const fn of this.runtime?.list() ?? []) fn.updateEnvironment({ [this.variable]: text });
    if (duplicateDelivery !== undefined) this.duplicateDelivery = duplicateDelivery;
    return this.state();
  }

  state(): FaultsState {
    return { faults: this.faults, duplicateDelivery: this.duplicateDelivery };
  }

  /**
   * Remembers a record's failure. A whole-batch failure (FullBatchFailureError when every record failed, a timeout)
   * does not replace what the consumer logged for that record during the same invocation (`since`): that is the cause.
   */
  recordFailure(failure: FailureRecord, since?: number): void {
    const known = this.failures.get(failure.key);
    if (failure.scope === 'batch' && known?.scope === 'record' && since !== undefined && Date.parse(known.at) >= since) return;
    this.failures.delete(failure.key);
    this.failures.set(failure.key, failure);
    if (this.failures.size > MAX_FAILURES) this.failures.delete(this.failures.keys().next().value as string);
  }

  failure(key: string): FailureRecord | undefined {
    return this.failures.get(key);
  }

  /** Answers a `/_local/...` request (see the file comment). */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://edge');
    const method = req.method ?? 'GET';
    if (isIssuerRequest(url.pathname)) {
      const document = url.pathname.endsWith('/jwks.json') ? this.issuer?.jwks() : this.issuer?.discovery();
      if (method !== 'GET' && method !== 'HEAD') return send(res, 405, { error: `${method} ${url.pathname} is not supported` });
      return document === undefined ? send(res, 404, { error: 'the local issuer is not started' }) : send(res, 200, document);
    }
    if (url.pathname === '/_local/faults' && method === 'GET') return send(res, 200, this.state());
    if (url.pathname === '/_local/faults' && method === 'POST') {
      const body = await readJson(req);
      if (!body.ok) return send(res, 400, { error: body.error });
      try {
        return send(res, 200, this.setFaults(body.value));
      } catch (error) {
        // The application's validator refused it: a client error, naming the path when the error carries one.
        const path = (error as { path?: unknown }).path;
        return send(res, 400, { error: (error as Error).message, ...(typeof path === 'string' ? { path } : {}) });
      }
    }
    if (url.pathname === '/_local/failures' && method === 'GET') {
      const key = url.searchParams.get('messageId') ?? url.searchParams.get('sequenceNumber');
      if (!key) return send(res, 400, { error: 'give ?messageId=<SQS message id> or ?sequenceNumber=<Kinesis sequence number>' });
      const failure = this.failure(key);
      return failure ? send(res, 200, failure) : send(res, 404, { error: `no failure recorded for ${key} (since this local cloud started)` });
    }
    if (url.pathname === '/_local/iam' && method === 'GET') {
      if (!this.iam) return send(res, 404, { error: 'IAM is not evaluated by this local cloud' });
      return send(res, 200, this.iam.report());
    }
    if (url.pathname === '/_local/invoke' && method === 'POST') {
      const body = await readJson(req);
      if (!body.ok) return send(res, 400, { error: body.error });
      const { functionName, event } = body.value;
      if (typeof functionName !== 'string' || !this.runtime) return send(res, 400, { error: 'give {"functionName": "...", "event": {...}}' });
      try {
        return send(res, 200, await this.runtime.invoke(functionName, event ?? {}));
      } catch (error) {
        return send(res, 404, { error: (error as Error).message });
      }
    }
    return send(res, 405, { error: `${method} ${url.pathname} is not supported` });
  }
}

async function readJson(req: IncomingMessage): Promise<{ ok: true; value: Record<string, unknown> } | { ok: false; error: string }> {
  const text = (await readBody(req)).toString('utf8');
  try {
    const value = JSON.parse(text === '' ? '{}' : text) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, error: 'the body must be a JSON object' };
    return { ok: true, value: value as Record<string, unknown> };
  } catch (error) {
    return { ok: false, error: `the body is not JSON: ${(error as Error).message}` };
  }
}

function send(res: ServerResponse, statusCode: number, body: unknown): void {
  const buffer = Buffer.from(JSON.stringify(body));
  res.writeHead(statusCode, { 'content-type': 'application/json', 'content-length': String(buffer.length) });
  res.end(buffer);
}

/** A fault switch the local cloud itself refuses (not the application's validator). */
class FaultsSwitchError extends Error {
  readonly path: string;

  constructor(path: string, problem: string) {
    super(`${path} ${problem}`);
    this.name = 'FaultsSwitchError';
    this.path = path;
  }
}

const ISSUER_DOCUMENTS = new Set([`${ISSUER_PATH}/.well-known/openid-configuration`, `${ISSUER_PATH}/.well-known/jwks.json`]);

/** The local issuer's public documents (served without the token). */
function isIssuerRequest(path: string): boolean {
  return ISSUER_DOCUMENTS.has(path);
}

function isControlRequest(url: string): boolean {
  const path = url.split('?')[0] ?? '';
  return CONTROL_PATHS.has(path) || isIssuerRequest(path);
}

export { LocalControl, isControlRequest, isIssuerRequest };
export type { FailureRecord, FaultInjection, FaultsState };
