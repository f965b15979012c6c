/**
 * The edge: one HTTP endpoint (http://127.0.0.1:4566) that routes every AWS request to the
 * emulator of its service, the way LocalStack's edge does, so one `AWS_ENDPOINT_URL` serves the SDK
 * and `aws --endpoint-url`.
 *
 * Routing, in order: `X-Amz-Target` prefix (JSON protocols), the service name of the SigV4
 * credential scope (header or presigned query), a query-protocol `Action=`, `GET /health`, else S3.
 */
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AwsApiError, EmulatorsStartError } from '../util/errors.ts';
import { clientGone, exchange, forwardHeaders, pipeThrough, postJson, sendBuffered } from './proxy.ts';
import { readBody } from './bodies.ts';
import type { BufferedResponse, Upstream } from './proxy.ts';
import type { S3Edge } from './s3-edge.ts';
import { handleCloudFormation, type StackRegistry } from './cloudformation.ts';
import type { SnsFifoDedup } from '../fidelity/sns-fifo-dedup.ts';
import type { SnsPush } from '../fidelity/sns-push.ts';
import { isControlRequest, type LocalControl } from './control.ts';
import { isStatsRequest, s3OperationOf, type LocalStats } from './stats.ts';
import type { SqsMessageMoves } from './sqs-message-moves.ts';
import { SQS_QUERY_ACTIONS, createSqsQuery } from './sqs-query.ts';
import type { DynamoDbExtension } from './dynamodb-call.ts';
import { edgeRefusal, sendRefusal, type ControlToken } from './guard.ts';
import type { IamGuard } from './iam.ts';

type EdgeService = 'health' | 'sqs' | 'sns' | 'sts' | 's3' | 'kinesis' | 'dynamodb' | 'firehose' | 'glue' | 'secretsmanager' | 'cloudformation' | 'unsupported';

interface EdgeRoute {
  service: EdgeService;
  /** The `X-Amz-Target` operation (`PutRecords`) for JSON protocols. */
  operation?: string;
  /** The SigV4 service name when the request was routed by it (`lambda` for an unsupported one). */
  signingService?: string;
}

/** A JSON-protocol service implemented in-process (Firehose, Secrets Manager). */
type JsonApiHandler = (operation: string, input: Record<string, unknown>) => Promise<unknown>;

interface EdgeOptions {
  /** 0 picks a free port. */
  port: number;
  upstreams: { fauxqs: Upstream; kinesis: Upstream; dynamodb: Upstream };
  firehose: JsonApiHandler;
  /** The Glue Data Catalog (glue/catalog.ts). */
  glue?: JsonApiHandler;
  /** The template's secrets (secrets/secrets-manager.ts). */
  secretsManager: JsonApiHandler;
  /** Built with the edge's host (known once it listens), hence a factory. */
  s3: (edgeHost: () => string) => S3Edge;
  health: () => Record<string, unknown>;
  log: (line: string) => void;
  /** SNS FIFO deduplication fauxqs lacks (fidelity/sns-fifo-dedup.ts). */
  snsFifo?: SnsFifoDedup;
  /** SNS deliveries to HTTP/S endpoints and Lambda functions, which fauxqs lacks (fidelity/sns-push.ts). */
  snsPush?: SnsPush;
  /** The local cloud's operator switches (`/_local/faults`, `/_local/failures`, `/_local/invoke`). */
  control: LocalControl;
  /** Request and invocation counters (`/_local/stats`). */
  stats: LocalStats;
  /** The stacks its read-only CloudFormation answers for. */
  stacks: StackRegistry;
  /** SQS dead-letter APIs fauxqs lacks: ListDeadLetterSourceQueues and message move tasks (sqs-message-moves.ts). */
  sqsDeadLetters?: SqsMessageMoves;
  /** DynamoDB operations dynalite lacks, answered in-process (transactions, TTL). */
  dynamodbExtensions?: DynamoDbExtension[];
  /** This run's token of `/_local/*` (edge/token.ts). */
  controlToken: ControlToken;
  /** Evaluates requests signed with a function's credentials against its role (iam.ts). */
  iam?: IamGuard;
}

interface Edge {
  port: number;
  endpoint: string;
  /** The edge's request listener, for clients in this process to call without a socket (in-process-clients.ts). */
  dispatch: RequestListener;
  close(): Promise<void>;
}

const TARGET_PREFIXES: Array<[string, EdgeService]> = [
  ['Kinesis_20131202.', 'kinesis'],
  ['DynamoDB_20120810.', 'dynamodb'],
  ['DynamoDBStreams_20120810.', 'dynamodb'],
  ['Firehose_20150804.', 'firehose'],
  ['AWSGlue.', 'glue'],
  ['secretsmanager.', 'secretsmanager'],
  ['AmazonSQS.', 'sqs'],
];

const SIGNING_SERVICES: Record<string, EdgeService> = {
  s3: 's3',
  sqs: 'sqs',
  sns: 'sns',
  sts: 'sts',
  kinesis: 'kinesis',
  dynamodb: 'dynamodb',
  firehose: 'firehose',
  glue: 'glue',
  secretsmanager: 'secretsmanager',
  cloudformation: 'cloudformation',
};

/** Operations whose answers carry queue URLs to rewrite. */
const SQS_URL_OPERATIONS = new Set(['CreateQueue', 'GetQueueUrl', 'ListQueues']);

/** fauxqs advertises `http://sqs.<region>.localhost:<port>/<account>/<name>`; `*.localhost` does not resolve here. */
const FAUXQS_QUEUE_ORIGIN = /https?:\/\/sqs\.[A-Za-z0-9-]+\.localhost(?::\d+)?\//g;

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The service name of a SigV4 credential scope: `Credential=AKID/20240101/us-east-1/sqs/aws4_request`. */
function signingServiceOf(headers: IncomingHttpHeaders, query: URLSearchParams): string | undefined {
  const credential =
    /Credential=([^,\s]+)/.exec(headerValue(headers, 'authorization') ?? '')?.[1] ?? query.get('X-Amz-Credential') ?? undefined;
  return credential?.split('/')[3];
}

/** Which service a request is for (pure: method, URL and headers only). */
function classifyRequest(method: string, url: string, headers: IncomingHttpHeaders): EdgeRoute {
  const target = headerValue(headers, 'x-amz-target');
  if (target !== undefined) {
    for (const [prefix, service] of TARGET_PREFIXES) {
      if (target.startsWith(prefix)) return { service, operation: target.slice(prefix.length) };
    }
  }
  const query = new URL(url, 'http://edge').searchParams;
  const signingService = signingServiceOf(headers, query);
  if (signingService !== undefined) {
    return { service: SIGNING_SERVICES[signingService] ?? 'unsupported', signingService };
  }
  const contentType = headerValue(headers, 'content-type') ?? '';
  if (query.has('Action') || (method === 'POST' && contentType.startsWith('application/x-www-form-urlencoded'))) {
    return { service: 'sns' };
  }
  if (method === 'GET' && new URL(url, 'http://edge').pathname === '/health') return { service: 'health' };
  return { service: 's3' };
}

/**
 * The bucket of a virtual-hosted-style request: `<bucket>.s3.localhost`, `<bucket>.s3.<region>.localhost`,
 * `<bucket>.localhost`, `<bucket>.s3.<any domain>`. Undefined for IP addresses, `localhost`, `s3.localhost`.
 */
function virtualHostBucket(hostHeader: string | undefined): string | undefined {
  const hostname = (hostHeader ?? '').replace(/:\d+$/, '').toLowerCase();
  if (hostname === '' || !hostname.includes('.') || /^[\d.]+$/.test(hostname) || hostname.startsWith('[')) return undefined;
  const labels = hostname.split('.');
  const s3Label = labels.indexOf('s3');
  if (s3Label > 0) return labels.slice(0, s3Label).join('.');
  if (s3Label === 0) return undefined;
  if (hostname.endsWith('.localhost')) return hostname.slice(0, -'.localhost'.length);
  return undefined;
}

/** Bucket, key and the path-style path of an S3 request. */
function s3Location(hostHeader: string | undefined, url: string): { bucket?: string; key: string; query: URLSearchParams; path: string } {
  const parsed = new URL(url, 'http://edge');
  const hostBucket = virtualHostBucket(hostHeader);
  const path = hostBucket === undefined ? `${parsed.pathname}${parsed.search}` : `/${hostBucket}${parsed.pathname}${parsed.search}`;
  const [, rawBucket = '', ...rawKey] = (hostBucket === undefined ? parsed.pathname : `/${hostBucket}${parsed.pathname}`).split('/');
  const bucket = rawBucket === '' ? undefined : decodeURIComponent(rawBucket);
  const key = rawKey.map((segment) => decodeURIComponent(segment)).join('/');
  return { ...(bucket === undefined ? {} : { bucket }), key, query: parsed.searchParams, path };
}

function sendJson(res: ServerResponse, statusCode: number, body: unknown, contentType = 'application/json'): void {
  const buffer = Buffer.from(JSON.stringify(body));
  res.writeHead(statusCode, { 'content-type': contentType, 'content-length': String(buffer.length) });
  res.end(buffer);
}

function sendText(res: ServerResponse, text: string, contentType: string): void {
  const buffer = Buffer.from(text);
  res.writeHead(200, { 'content-type': contentType, 'content-length': String(buffer.length) });
  res.end(buffer);
}

/** An AWS JSON-protocol error: the SDK reads `__type` (and `x-amzn-ErrorType`). */
function sendJsonError(res: ServerResponse, statusCode: number, code: string, message: string, contentType = 'application/x-amz-json-1.1'): void {
  const buffer = Buffer.from(JSON.stringify({ __type: code, message }));
  res.writeHead(statusCode, { 'content-type': contentType, 'content-length': String(buffer.length), 'x-amzn-errortype': code });
  res.end(buffer);
}

/**
 * kinesalite predates `StreamARN` parameters and on-demand streams: name the stream from its ARN,
 * and give an ON_DEMAND stream the 4 shards AWS starts it with (Kinesis "on-demand mode").
 */
function adaptKinesisRequest(operation: string, body: Buffer): Buffer {
  const text = body.toString('utf8');
  if (operation !== 'CreateStream' && !text.includes('"StreamARN"')) return body;
  const input = JSON.parse(text) as Record<string, unknown>;
  if (typeof input.StreamARN === 'string') {
    input.StreamName ??= input.StreamARN.split(':stream/')[1];
    delete input.StreamARN;
  }
  if (operation === 'CreateStream') {
    const mode = (input.StreamModeDetails as { StreamMode?: string } | undefined)?.StreamMode;
    if (mode === 'ON_DEMAND') input.ShardCount ??= 4;
    delete input.StreamModeDetails;
  }
  return Buffer.from(JSON.stringify(input));
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      reject(
        error.code === 'EADDRINUSE'
          ? new EmulatorsStartError(`edge port ${port} on 127.0.0.1 is already in use (is another \`npm start\` running?)`, { cause: error })
          : error,
      );
    };
    server.once('error', onError);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

async function startEdge(options: EdgeOptions): Promise<Edge> {
  const { upstreams, log } = options;
  let port = 0;
  const edgeHost = (): string => `127.0.0.1:${port}`;
  const endpoint = (): string => `http://${edgeHost()}`;
  const s3 = options.s3(edgeHost);
  const pendingReceives = new Set<AbortController>();
  // SQS over the query protocol, translated to the JSON protocol fauxqs speaks (sqs-query.ts).
  const sqsQuery = createSqsQuery({ fauxqs: upstreams.fauxqs, ...(options.sqsDeadLetters === undefined ? {} : { deadLetters: options.sqsDeadLetters }) });
  let closing = false;

  /** A JSON-protocol operation answered in-process (Firehose, SQS dead-letter APIs). */
  async function handleJsonApi(req: IncomingMessage, res: ServerResponse, operation: string, api: JsonApiHandler, contentType = 'application/x-amz-json-1.1'): Promise<void> {
    const text = (await readBody(req)).toString('utf8');
    try {
      const input = (text === '' ? {} : JSON.parse(text)) as Record<string, unknown>;
      const output = await api(operation, input);
      sendJson(res, 200, output ?? {}, contentType);
    } catch (error) {
      if (error instanceof AwsApiError) return sendJsonError(res, error.statusCode, error.code, error.message, contentType);
      if (error instanceof SyntaxError) return sendJsonError(res, 400, 'SerializationException', error.message, contentType);
      throw error;
    }
  }

  /**
   * fauxqs keeps serving a long poll whose client went away (an aborted ReceiveMessage, a stopping
   * poller) and takes the next message in flight for nobody. The edge lets the receive finish
   * and, if its client is gone, makes what it took visible again (ChangeMessageVisibility 0).
   */
  async function handleReceive(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const abort = new AbortController();
    pendingReceives.add(abort);
    const headers = forwardHeaders(req.headers, { host: edgeHost(), 'content-length': String(body.length), 'transfer-encoding': undefined });
    let response: BufferedResponse;
    try {
      response = await exchange(upstreams.fauxqs, { method: 'POST', path: req.url ?? '/', headers, body, signal: abort.signal });
    } finally {
      pendingReceives.delete(abort);
    }
    if (!clientGone(res)) return sendBuffered(res, response, 'POST');
    const messages = ((JSON.parse(response.body.toString('utf8') || '{}') as { Messages?: Array<{ ReceiptHandle?: string }> }).Messages ?? []);
    if (response.statusCode !== 200 || messages.length === 0) return;
    const { QueueUrl } = JSON.parse(body.toString('utf8')) as { QueueUrl: string };
    const release = Buffer.from(
      JSON.stringify({ QueueUrl, Entries: messages.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle, VisibilityTimeout: 0 })) }),
    );
    await exchange(upstreams.fauxqs, {
      method: 'POST',
      path: '/',
      headers: { ...headers, 'x-amz-target': 'AmazonSQS.ChangeMessageVisibilityBatch', 'content-length': String(release.length) },
      body: release,
    });
  }

  async function handleSqs(req: IncomingMessage, res: ServerResponse, operation: string | undefined): Promise<void> {
    if (operation === 'ReceiveMessage') return handleReceive(req, res);
    const deadLetters = options.sqsDeadLetters;
    if (operation !== undefined && deadLetters?.handles(operation)) {
      // Queue URLs in the answers are fauxqs' own, rewritten to the edge like fauxqs' answers below.
      const api: JsonApiHandler = async (op, input) => JSON.parse(JSON.stringify(await deadLetters.handle(op, input)).replace(FAUXQS_QUEUE_ORIGIN, `${endpoint()}/`)) as unknown;
      return handleJsonApi(req, res, operation, api, 'application/x-amz-json-1.0');
    }
    const forward = { method: req.method ?? 'POST', path: req.url ?? '/', headers: forwardHeaders(req.headers, { host: edgeHost() }), body: req };
    if (operation === undefined || !SQS_URL_OPERATIONS.has(operation)) return pipeThrough(upstreams.fauxqs, forward, res);
    const response = await exchange(upstreams.fauxqs, forward, res);
    const body = Buffer.from(response.body.toString('utf8').replace(FAUXQS_QUEUE_ORIGIN, `${endpoint()}/`));
    sendBuffered(res, { ...response, body }, forward.method);
  }

  /** SNS and STS (query protocol), and SQS over the query protocol. */
  async function handleQuery(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://edge');
    const action = url.searchParams.get('Action') ?? new URLSearchParams(body.toString('utf8')).get('Action') ?? '';
    options.stats.recordRequest(signingServiceOf(req.headers, url.searchParams) === 'sts' ? 'sts' : SQS_QUERY_ACTIONS.has(action) ? 'sqs' : 'sns', action, req.headers);
    if (SQS_QUERY_ACTIONS.has(action)) {
      const params = new URLSearchParams([...url.searchParams, ...new URLSearchParams(body.toString('utf8'))]);
      const answer = await sqsQuery.answer(action, params, url.pathname, endpoint());
      // As for a JSON-protocol receive (handleReceive): what a long poll took for a client gone is made visible again.
      if (answer.received !== undefined && clientGone(res)) {
        const { queueUrl, receiptHandles } = answer.received;
        const entries = receiptHandles.map((ReceiptHandle, index) => ({ Id: String(index), ReceiptHandle, VisibilityTimeout: 0 }));
        return void (await postJson(upstreams.fauxqs, 'AmazonSQS.ChangeMessageVisibilityBatch', { QueueUrl: queueUrl, Entries: entries }));
      }
      const xml = Buffer.from(answer.xml.replace(FAUXQS_QUEUE_ORIGIN, `${endpoint()}/`));
      res.writeHead(answer.statusCode, { 'content-type': 'text/xml', 'content-length': String(xml.length) });
      return void res.end(xml);
    }
    if (options.snsPush !== undefined) {
      const params = new URLSearchParams([...url.searchParams, ...new URLSearchParams(body.toString('utf8'))]);
      const answered = await options.snsPush.handle(action, params);
      if (answered !== undefined) return sendBuffered(res, answered, 'POST');
    }
    const headers = forwardHeaders(req.headers, { host: edgeHost(), 'content-length': String(body.length), 'transfer-encoding': undefined });
    if (options.snsFifo !== undefined && !url.searchParams.has('Action')) {
      const forward = (payload: Buffer): Promise<BufferedResponse> =>
        exchange(upstreams.fauxqs, { method: 'POST', path: req.url ?? '/', headers: { ...headers, 'content-length': String(payload.length) }, body: payload });
      const answered = await options.snsFifo.handle(action, body, forward);
      if (answered !== undefined) return sendBuffered(res, answered, 'POST');
    }
    return pipeThrough(upstreams.fauxqs, { method: req.method ?? 'POST', path: req.url ?? '/', headers, body }, res);
  }

  async function handleDynamoDbExtension(req: IncomingMessage, res: ServerResponse, extension: DynamoDbExtension, operation: string): Promise<void> {
    const text = (await readBody(req)).toString('utf8');
    let input: Record<string, unknown>;
    try {
      input = (text === '' ? {} : JSON.parse(text)) as Record<string, unknown>;
    } catch (error) {
      return sendJsonError(res, 400, 'SerializationException', (error as Error).message, 'application/x-amz-json-1.0');
    }
    const answer = await extension.handle(operation, input);
    const buffer = Buffer.from(JSON.stringify(answer.body));
    const errorType = answer.statusCode === 200 ? undefined : String(answer.body.__type ?? '').split('#').pop();
    res.writeHead(answer.statusCode, { 'content-type': 'application/x-amz-json-1.0', 'content-length': String(buffer.length), ...(errorType ? { 'x-amzn-errortype': errorType } : {}) });
    res.end(buffer);
  }

  async function handleKinesis(req: IncomingMessage, res: ServerResponse, operation: string): Promise<void> {
    const body = adaptKinesisRequest(operation, await readBody(req));
    const headers = forwardHeaders(req.headers, { 'content-length': String(body.length), 'transfer-encoding': undefined });
    return pipeThrough(upstreams.kinesis, { method: req.method ?? 'POST', path: req.url ?? '/', headers, body }, res);
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    if (isStatsRequest(method, url)) return sendJson(res, 200, options.stats.snapshot());
    // Fault switches, last failures, invoke (control.ts).
    if (isControlRequest(url)) return options.control.handle(req, res);
    // SNS's SigningCertURL, fetched by receivers verifying a message (fidelity/sns-signing.ts).
    const certificate = options.snsPush?.certificate(method, url);
    if (certificate !== undefined) return sendText(res, certificate, 'application/x-pem-file');
    const routed = classifyRequest(method, url, req.headers);
    // JSON protocols are counted here; query protocols in handleQuery (the Action is in the body); S3 below.
    if (routed.operation !== undefined || routed.service === 'unsupported') options.stats.recordRequest(routed.service, routed.operation ?? routed.signingService, req.headers);
    switch (routed.service) {
      case 'health':
        return sendJson(res, 200, { status: 'ok', endpoint: endpoint(), ...options.health() });
      case 'kinesis':
        return handleKinesis(req, res, routed.operation ?? '');
      case 'dynamodb': {
        const extension = options.dynamodbExtensions?.find((candidate) => candidate.handles(routed.operation ?? ''));
        if (extension !== undefined) return handleDynamoDbExtension(req, res, extension, routed.operation ?? '');
        return pipeThrough(upstreams.dynamodb, { method, path: url, headers: forwardHeaders(req.headers), body: req }, res);
      }
      case 'firehose':
        return handleJsonApi(req, res, routed.operation ?? '', options.firehose);
      case 'glue':
        if (options.glue === undefined) return sendJsonError(res, 501, 'NotImplemented', `The local cloud's Glue Data Catalog is not running (edge ${endpoint()})`, 'application/json');
        return handleJsonApi(req, res, routed.operation ?? '', options.glue);
      case 'secretsmanager':
        return handleJsonApi(req, res, routed.operation ?? '', options.secretsManager);
      case 'sqs':
        if (routed.operation === undefined && (req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
          return handleQuery(req, res);
        }
        return handleSqs(req, res, routed.operation);
      case 'sns':
      case 'sts':
        return handleQuery(req, res);
      case 'cloudformation':
        // Read-only, for the stack the local cloud registered (emulators/cloudformation.ts).
        return handleCloudFormation(req, res, options.stacks, (action) => options.stats.recordRequest('cloudformation', action, req.headers));
      case 's3': {
        const location = s3Location(req.headers.host, url);
        options.stats.recordRequest('s3', s3OperationOf(method, location.key, location.query, req.headers), req.headers);
        return s3.handle({ req, res, ...location });
      }
      case 'unsupported':
        return sendJsonError(
          res,
          501,
          'NotImplemented',
          `The local cloud does not emulate the '${routed.signingService ?? 'unknown'}' service (edge ${endpoint()})`,
          'application/json',
        );
    }
  }

  const dispatch: RequestListener = (req, res) => {
    // Host allow-list, no Origin, the token of /_local/* (guard.ts), before any routing.
    const refusal = edgeRefusal(req, port, options.controlToken);
    if (refusal !== undefined) return sendRefusal(res, refusal);
    const routed = options.iam === undefined ? route(req, res) : options.iam.screen(req, res, (allowed) => route(allowed, res));
    routed.catch((error: unknown) => {
      // A client that went away (aborted long poll, stopping poller) is not an edge failure.
      if (!closing && !clientGone(res)) log(`[edge] ${req.method ?? ''} ${req.url ?? ''} failed: ${(error as Error).stack ?? String(error)}`);
      if (!res.headersSent) sendJsonError(res, 502, 'InternalFailure', `local edge: ${(error as Error).message}`, 'application/json');
      else res.destroy();
    });
  };
  const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, dispatch);
  port = await listen(server, options.port);

  return {
    port,
    endpoint: endpoint(),
    dispatch,
    close: () =>
      new Promise<void>((resolve) => {
        closing = true;
        options.stacks.clear();
        server.close(() => resolve());
        server.closeAllConnections();
        for (const abort of pendingReceives) abort.abort();
      }),
  };
}

export { classifyRequest, s3Location, startEdge, virtualHostBucket };
export type { Edge };
