/**
 * The S3 side of the edge: forwards to fauxqs, answers the bucket subresources fauxqs lacks, and
 * emits S3 event notifications after successful writes (fauxqs accepts
 * PutBucketNotificationConfiguration and does nothing).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import {
  buildS3Event,
  buildS3TestEvent,
  createSequencer,
  matchingTargets,
  parseNotificationConfigurationXml,
  serializeNotificationConfigurationXml,
  validateNotificationConfiguration,
  withConfigurationIds,
} from '../fidelity/s3-notifications.ts';
import type { NotificationConfiguration, NotificationTarget, S3EventName } from '../fidelity/s3-notifications.ts';
import { AwsApiError } from '../util/errors.ts';
import { createKeyLocks } from '../util/key-locks.ts';
import { exchange, forwardHeaders, pipeThrough, sendBuffered } from './proxy.ts';
import { readBody } from './bodies.ts';
import type { BufferedResponse, Upstream } from './proxy.ts';
import { SUBRESOURCES, createBucketConfigStore } from '../fidelity/s3-bucket-config.ts';
import { evaluateWritePreconditions, preconditionFailureXml, writePreconditions } from '../fidelity/s3-conditional.ts';
import type { S3Notifier } from '../fidelity/s3-notifier.ts';
import { s3ErrorXml, xmlElements, xmlText } from '../util/xml.ts';

/** An S3 request, already turned path-style by the edge. */
interface S3EdgeRequest {
  req: IncomingMessage;
  res: ServerResponse;
  bucket?: string;
  key: string;
  query: URLSearchParams;
  /** Path-style path and query to forward, e.g. `/bucket/a%20b.json?x-id=PutObject`. */
  path: string;
}

type S3Operation =
  | { kind: 'pass' }
  | { kind: 'unsupported'; operation: string }
  | { kind: 'location'; bucket: string }
  | { kind: 'bucket-config'; bucket: string; subresource: string }
  | { kind: 'object-created'; bucket: string; key: string; eventName: S3EventName }
  | { kind: 'object-deleted'; bucket: string; key: string }
  | { kind: 'objects-deleted'; bucket: string }
  | { kind: 'bucket-deleted'; bucket: string };

interface S3EdgeOptions {
  fauxqs: Upstream;
  /** `<dataDir>/edge/buckets`. */
  stateDirectory: string;
  region: string;
  accountId: string;
  notifier: S3Notifier;
  log: (line: string) => void;
  /** Host header sent to fauxqs (no dots, so fauxqs never re-reads it as a virtual-hosted bucket). */
  upstreamHost: () => string;
}

interface S3Edge {
  handle(request: S3EdgeRequest): Promise<void>;
}

/** Bucket-level queries fauxqs answers wrongly (as ListObjects, CreateBucket or DeleteBucket). */
const UNSUPPORTED_BUCKET_QUERIES: Record<string, string> = {
  versions: 'ListObjectVersions',
  uploads: 'ListMultipartUploads',
  accelerate: 'bucket accelerate configuration',
  requestPayment: 'bucket request payment',
  replication: 'bucket replication',
  'object-lock': 'object lock configuration',
  'intelligent-tiering': 'intelligent-tiering configuration',
  inventory: 'bucket inventory',
  metrics: 'bucket metrics',
  analytics: 'bucket analytics',
  policyStatus: 'GetBucketPolicyStatus',
  metadataTable: 'bucket metadata tables',
};

/** Object-level queries fauxqs would treat as PutObject/GetObject on the object itself. */
const UNSUPPORTED_OBJECT_QUERIES: Record<string, string> = {
  tagging: 'object tagging',
  acl: 'object ACLs',
  retention: 'object retention',
  'legal-hold': 'object legal hold',
  torrent: 'GetObjectTorrent',
  restore: 'RestoreObject',
  select: 'SelectObjectContent',
};

/** Which S3 operation a request is, as far as the edge needs to know. */
function classifyS3Operation(
  method: string,
  bucket: string | undefined,
  key: string,
  query: URLSearchParams,
  headers: IncomingHttpHeaders,
): S3Operation {
  if (bucket === undefined) return { kind: 'pass' };
  if (key === '') {
    const subresource = [...query.keys()].find((name) => name === 'notification' || name in SUBRESOURCES);
    if (subresource !== undefined) return { kind: 'bucket-config', bucket, subresource };
    if (query.has('location') && method === 'GET') return { kind: 'location', bucket };
    const unsupported = [...query.keys()].find((name) => name in UNSUPPORTED_BUCKET_QUERIES);
    if (unsupported !== undefined) return { kind: 'unsupported', operation: UNSUPPORTED_BUCKET_QUERIES[unsupported] ?? unsupported };
    if (method === 'POST' && query.has('delete')) return { kind: 'objects-deleted', bucket };
    if (method === 'DELETE' && !query.has('lifecycle')) return { kind: 'bucket-deleted', bucket };
    return { kind: 'pass' };
  }
  const unsupported = [...query.keys()].find((name) => name in UNSUPPORTED_OBJECT_QUERIES);
  if (unsupported !== undefined) return { kind: 'unsupported', operation: UNSUPPORTED_OBJECT_QUERIES[unsupported] ?? unsupported };
  if (method === 'GET' && query.has('uploadId')) return { kind: 'unsupported', operation: 'ListParts' };
  if (method === 'PUT' && !query.has('uploadId') && !query.has('partNumber') && !query.has('renameObject')) {
    const eventName = headers['x-amz-copy-source'] === undefined ? 'ObjectCreated:Put' : 'ObjectCreated:Copy';
    return { kind: 'object-created', bucket, key, eventName };
  }
  if (method === 'POST' && query.has('uploadId')) {
    return { kind: 'object-created', bucket, key, eventName: 'ObjectCreated:CompleteMultipartUpload' };
  }
  if (method === 'DELETE' && !query.has('uploadId')) return { kind: 'object-deleted', bucket, key };
  return { kind: 'pass' };
}

function encodeKeyPath(bucket: string, key: string): string {
  return `/${encodeURIComponent(bucket)}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

function requestId(): string {
  return randomBytes(8).toString('hex').toUpperCase();
}

function sendXml(res: ServerResponse, statusCode: number, body: string, contentType = 'application/xml'): void {
  const buffer = Buffer.from(body);
  res.writeHead(statusCode, {
    'content-type': contentType,
    'content-length': String(buffer.length),
    'x-amz-request-id': requestId(),
    'x-amz-id-2': 'local-edge',
  });
  res.end(buffer);
}

function sendEmpty(res: ServerResponse, statusCode: number): void {
  res.writeHead(statusCode, { 'x-amz-request-id': requestId(), 'x-amz-id-2': 'local-edge' });
  res.end();
}

function sendS3Error(res: ServerResponse, statusCode: number, code: string, message: string, resource?: string): void {
  sendXml(res, statusCode, s3ErrorXml(code, message, resource));
}

/** CompleteMultipartUpload can fail with a 200 whose body is an `<Error>` (S3 API reference). */
function writeSucceeded(response: BufferedResponse): boolean {
  return response.statusCode === 200 && !response.body.subarray(0, 512).toString('utf8').includes('<Error>');
}

/** Reads and drops a request body the edge answers without forwarding (the connection stays usable). */
async function discardBody(req: IncomingMessage): Promise<void> {
  for await (const _chunk of req) {
    // dropped
  }
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function createS3Edge(options: S3EdgeOptions): S3Edge {
  const { fauxqs, notifier, log } = options;
  const store = createBucketConfigStore(options.stateDirectory);
  const nextSequencer = createSequencer();
  // Writes of one key run one at a time: a conditional write's check and write are atomic (s3-conditional.ts).
  const keyLocks = createKeyLocks();

  const upstreamHeaders = (req: IncomingMessage): ReturnType<typeof forwardHeaders> =>
    forwardHeaders(req.headers, { host: options.upstreamHost() });

  async function bucketExists(bucket: string): Promise<boolean> {
    const head = await exchange(fauxqs, {
      method: 'HEAD',
      path: `/${encodeURIComponent(bucket)}`,
      headers: { host: options.upstreamHost() },
    });
    return head.statusCode === 200;
  }

  /** The object a conditional write is checked against (a HEAD on fauxqs). */
  async function currentObject(bucket: string, key: string): Promise<{ exists: boolean; etag?: string }> {
    const head = await exchange(fauxqs, { method: 'HEAD', path: encodeKeyPath(bucket, key), headers: { host: options.upstreamHost() } });
    if (head.statusCode !== 200) return { exists: false };
    return { exists: true, ...(head.headers.etag === undefined ? {} : { etag: String(head.headers.etag) }) };
  }

  async function deliver(targets: NotificationTarget[], bodyFor: (target: NotificationTarget) => string): Promise<string[]> {
    const failed: string[] = [];
    await Promise.all(
      targets.map(async (target) => {
        try {
          await notifier.send(target, bodyFor(target));
        } catch (error) {
          failed.push(target.arn);
          log(`[s3] notification to ${target.arn} failed: ${(error as Error).message}`);
        }
      }),
    );
    return failed;
  }

  /** After a successful write: one event per matching destination, as S3 does. */
  async function emitEvent(req: IncomingMessage, bucket: string, key: string, eventName: S3EventName, response: BufferedResponse): Promise<void> {
    const targets = matchingTargets(store.getNotification(bucket), eventName, key);
    if (targets.length === 0) return;
    let size: number | undefined;
    let eTag: string | undefined;
    if (eventName.startsWith('ObjectCreated')) {
      const head = await exchange(fauxqs, { method: 'HEAD', path: encodeKeyPath(bucket, key), headers: { host: options.upstreamHost() } });
      if (head.statusCode !== 200) return; // overwritten or deleted meanwhile: nothing to report
      size = Number(head.headers['content-length'] ?? 0);
      eTag = String(head.headers.etag ?? '');
    }
    const common = {
      region: options.region,
      eventName,
      eventTime: new Date(),
      bucket,
      key,
      ...(size === undefined ? {} : { size }),
      ...(eTag === undefined ? {} : { eTag }),
      sequencer: nextSequencer(),
      requestId: String(response.headers['x-amz-request-id'] ?? requestId()),
      hostId: String(response.headers['x-amz-id-2'] ?? 'local-edge'),
      sourceIpAddress: req.socket.remoteAddress ?? '127.0.0.1',
      principalId: `AWS:${options.accountId}`,
    };
    await deliver(targets, (target) => JSON.stringify(buildS3Event({ ...common, configurationId: target.configurationId })));
  }

  async function putNotification(req: IncomingMessage, res: ServerResponse, bucket: string): Promise<void> {
    const body = (await readBody(req)).toString('utf8');
    let configuration: NotificationConfiguration;
    try {
      configuration = parseNotificationConfigurationXml(body);
      validateNotificationConfiguration(configuration);
    } catch (error) {
      if (error instanceof AwsApiError) return sendS3Error(res, error.statusCode, error.code, error.message);
      throw error;
    }
    configuration = withConfigurationIds(configuration);
    // "Amazon S3 ... verifies that any Amazon SNS or Amazon SQS destination exists ... by sending a
    // test notification" (PutBucketNotificationConfiguration). Only new destinations get one, so
    // re-provisioning an unchanged stack does not flood the queues.
    if (req.headers['x-amz-skip-destination-validation'] !== 'true') {
      const previous = new Set(matchingArns(store.getNotification(bucket)));
      const fresh = uniqueTargets(configuration).filter((target) => target.kind !== 'lambda' && !previous.has(target.arn));
      const testEvent = JSON.stringify(
        buildS3TestEvent({ bucket, time: new Date(), requestId: requestId(), hostId: 'local-edge' }),
      );
      const failed = await deliver(fresh, () => testEvent);
      if (failed.length > 0) {
        return sendS3Error(
          res,
          400,
          'InvalidArgument',
          `Unable to validate the following destination configurations: ${failed.join(', ')}`,
        );
      }
    }
    store.putNotification(bucket, configuration);
    sendEmpty(res, 200);
  }

  async function handleBucketConfig(req: IncomingMessage, res: ServerResponse, bucket: string, subresource: string): Promise<void> {
    if (!(await bucketExists(bucket))) {
      return sendS3Error(res, 404, 'NoSuchBucket', 'The specified bucket does not exist', bucket);
    }
    if (subresource === 'notification') {
      if (req.method === 'GET') return sendXml(res, 200, serializeNotificationConfigurationXml(store.getNotification(bucket)));
      if (req.method === 'PUT') return putNotification(req, res, bucket);
      return sendS3Error(res, 405, 'MethodNotAllowed', `${req.method ?? ''} is not allowed on ?notification`);
    }
    const rule = SUBRESOURCES[subresource];
    if (rule === undefined) return sendS3Error(res, 501, 'NotImplemented', `?${subresource} is not implemented`);
    switch (req.method) {
      case 'GET': {
        const stored = store.getSubresource(bucket, subresource);
        if (stored !== undefined) return sendXml(res, 200, stored, rule.contentType);
        if ('body' in rule.missing) {
          return sendXml(res, 200, rule.missing.body({ region: options.region, accountId: options.accountId }), rule.contentType);
        }
        return sendS3Error(res, 404, rule.missing.code, rule.missing.message, bucket);
      }
      case 'PUT':
        store.putSubresource(bucket, subresource, (await readBody(req)).toString('utf8'));
        return sendEmpty(res, rule.putStatus);
      case 'DELETE':
        if (!rule.deletable) return sendS3Error(res, 405, 'MethodNotAllowed', `DELETE is not allowed on ?${subresource}`);
        store.deleteSubresource(bucket, subresource);
        return sendEmpty(res, 204);
      default:
        return sendS3Error(res, 405, 'MethodNotAllowed', `${req.method ?? ''} is not allowed on ?${subresource}`);
    }
  }

  async function handle(request: S3EdgeRequest): Promise<void> {
    const { req, res } = request;
    const method = req.method ?? 'GET';
    const operation = classifyS3Operation(method, request.bucket, request.key, request.query, req.headers);
    const forward = { method, path: request.path, headers: upstreamHeaders(req), ...(hasBody(req) ? { body: req } : {}) };
    switch (operation.kind) {
      case 'pass':
        return pipeThrough(fauxqs, forward, res);
      case 'unsupported':
        return sendS3Error(res, 501, 'NotImplemented', `${operation.operation} is not implemented by the local S3 (fauxqs)`);
      case 'location':
        if (!(await bucketExists(operation.bucket))) {
          return sendS3Error(res, 404, 'NoSuchBucket', 'The specified bucket does not exist', operation.bucket);
        }
        // us-east-1 answers an empty LocationConstraint (GetBucketLocation).
        return sendXml(
          res,
          200,
          `<?xml version="1.0" encoding="UTF-8"?><LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${options.region === 'us-east-1' ? '' : options.region}</LocationConstraint>`,
        );
      case 'bucket-config':
        return handleBucketConfig(req, res, operation.bucket, operation.subresource);
      case 'object-created':
        return keyLocks.run(`${operation.bucket}/${operation.key}`, async () => {
          const preconditions = writePreconditions(req.headers);
          if (preconditions !== undefined) {
            const failure = evaluateWritePreconditions(preconditions, await currentObject(operation.bucket, operation.key));
            if (failure !== undefined) {
              await discardBody(req);
              return sendXml(res, failure.statusCode, preconditionFailureXml(failure, encodeKeyPath(operation.bucket, operation.key), requestId()));
            }
            // fauxqs ignores them; they are evaluated above.
            forward.headers = forwardHeaders(req.headers, { host: options.upstreamHost(), 'if-none-match': undefined, 'if-match': undefined });
          }
          const response = await exchange(fauxqs, forward, res);
          // The event is in its queue before the client hears "200": nothing accepted is lost.
          if (writeSucceeded(response)) await emitEvent(req, operation.bucket, operation.key, operation.eventName, response);
          return sendBuffered(res, response, method);
        });
      case 'object-deleted':
        return keyLocks.run(`${operation.bucket}/${operation.key}`, async () => {
          const response = await exchange(fauxqs, forward, res);
          if (response.statusCode === 204) await emitEvent(req, operation.bucket, operation.key, 'ObjectRemoved:Delete', response);
          return sendBuffered(res, response, method);
        });
      case 'objects-deleted': {
        const response = await exchange(fauxqs, forward, res);
        if (response.statusCode === 200) {
          const keys = xmlElements(response.body.toString('utf8'), 'Deleted').map((deleted) => xmlText(deleted, 'Key') ?? '');
          for (const key of keys) await emitEvent(req, operation.bucket, key, 'ObjectRemoved:Delete', response);
        }
        return sendBuffered(res, response, method);
      }
      case 'bucket-deleted': {
        const response = await exchange(fauxqs, forward, res);
        if (response.statusCode === 204) store.deleteBucket(operation.bucket);
        return sendBuffered(res, response, method);
      }
    }
  }

  return { handle };
}

function uniqueTargets(configuration: NotificationConfiguration): NotificationTarget[] {
  const seen = new Map<string, NotificationTarget>();
  const all: NotificationTarget[] = [
    ...configuration.QueueConfigurations.map((entry) => ({ kind: 'queue' as const, arn: entry.QueueArn, configurationId: entry.Id ?? '' })),
    ...configuration.TopicConfigurations.map((entry) => ({ kind: 'topic' as const, arn: entry.TopicArn, configurationId: entry.Id ?? '' })),
    ...configuration.LambdaFunctionConfigurations.map((entry) => ({
      kind: 'lambda' as const,
      arn: entry.LambdaFunctionArn,
      configurationId: entry.Id ?? '',
    })),
  ];
  for (const target of all) if (!seen.has(target.arn)) seen.set(target.arn, target);
  return [...seen.values()];
}

function matchingArns(configuration: NotificationConfiguration): string[] {
  return uniqueTargets(configuration).map((target) => target.arn);
}

export { createS3Edge };
export type { S3Edge };
