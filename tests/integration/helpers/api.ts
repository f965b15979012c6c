/**
 * Shared setup for the hostile-input tests of the order API (api-fuzz, api-idempotency): one local cloud per test
 * file on free ports and a temporary data directory, a keep-alive HTTP client that sends paths, headers and bodies
 * byte for byte as given, and a snapshot of every side effect an order can have, to prove that a rejected request
 * published and wrote nothing.
 *
 * @example
 * const t = await startApiCloud('api-fuzz');
 * const before = await t.settledSideEffects();
 * const response = await t.http.postOrder('{"customerId":1}');
 * expect(response.status).toBe(400);
 * expect(await t.settledSideEffects()).toEqual(before);
 * await t.dispose();
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand } from '@aws-sdk/client-kinesis'; // slice-line:analytics
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import { GetCommand, ScanCommand as ScanItemsCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { expect } from 'vitest';
import { waitFor, type LocalCloud } from 'local-cloud';
import { localClients } from '../../../scripts/local/clients.ts';
import { startOrderflowCloud } from '../../../scripts/local/cloud.ts';

/** The seed of every fast-check run in these files: `FC_SEED=<n> npx vitest run tests/integration/api-*` replays one. */
const FC_SEED = ((): number => {
  const raw = process.env.FC_SEED;
  if (raw === undefined || raw === '') return 20_251_122;
  const seed = Number(raw);
  if (!Number.isSafeInteger(seed)) throw new Error(`FC_SEED must be an integer, got ${JSON.stringify(raw)}`);
  return seed;
})();

/** The customer every request of HttpClient is sent as, unless its headers set `authorization`. */
const API_CUSTOMER = 'api-customer';

/** SNS's message limit, which POST /orders applies to the body (README, "The order API"; SNS quotas page). */
const BODY_LIMIT_BYTES = 262_144;

interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

interface HttpSend {
  method?: string;
  /** Sent as is: no normalisation, no encoding (Node refuses spaces, control characters and code points above U+00FF). */
  path: string;
  /** A header set to null is not sent; content-length is computed unless given. */
  headers?: Record<string, string | null>;
  body?: string | Buffer;
  /** A fresh connection instead of the keep-alive pool (for requests the server answers before reading them). */
  fresh?: boolean;
}

interface HttpClient {
  /** Sends as the client's customer (its token, when it has one) unless the headers set `authorization` (null: none). */
  send(request: HttpSend): Promise<HttpAnswer>;
  /** POST /orders with `content-type: application/json` unless the headers say otherwise. */
  postOrder(body: unknown, headers?: Record<string, string | null>): Promise<HttpAnswer>;
  close(): void;
}

/** Every trace an order leaves; all counts, all equal before and after a request that must change nothing. */
interface SideEffects {
  /** Orders table items (Scan, every page). */
  orders: number;
  /** Idempotency table items (Scan, every page): a rejected request must not reserve its key. */
  idempotencyRecords: number;
  /** Messages on a FIFO queue subscribed to the order topic with no filter and no consumer: every publish. */
  published: number;
  // slice-begin:analytics
  /** AnalyticsQueue (subscribed to every event) visible + in flight + delayed. */
  analyticsQueue: number;
  /** Records on the Kinesis stream, written by the analytics consumer (streamOrderEvents). */
  streamRecords: number;
  // slice-end:analytics
  /** Objects in the documents bucket (invoices and labels). */
  documents: number;
  /**
   * Invocations with SQS records: the pipeline's work (every consumer but a Kinesis one). A Kinesis consumer is
   * left out: it polls once a second and closes its tumbling window on a timer, so its invocations trail the rest;
   * what it reads is counted on the stream.
   */
  pipelineInvocations: number;
}

interface ApiCloud {
  cloud: LocalCloud;
  http: HttpClient;
  /** Every line the local cloud logged; `tail()` for a failure message. */
  logs: string[];
  tail(count?: number): string;
  names: {
    ordersTable: string;
    idempotencyTable: string;
    topicArn: string;
    documentsBucket: string;
    streamName: string; // slice-line:analytics
  };
  sideEffects(): Promise<SideEffects>;
  /** Waits for the pipeline to go idle (no message in any queue, no invocation running), then snapshots. */
  settledSideEffects(timeoutMs?: number): Promise<SideEffects>;
  waitIdle(timeoutMs?: number): Promise<void>;
  /** The Orders table item (strongly consistent read), undefined if absent. */
  orderItem(orderId: string): Promise<Record<string, unknown> | undefined>;
  /** Every Orders table item (Scan, every page). */
  scanOrders(): Promise<Record<string, unknown>[]>;
  /** Every idempotency record (Scan, every page); Powertools starts each `id` with the Lambda function's name. */
  scanIdempotencyRecords(): Promise<Record<string, unknown>[]>;
  /** Receives and deletes every message on the topic tap: what was published since the last drain. */
  drainPublished(): Promise<Message[]>;
  dispose(): Promise<void>;
}


const isSqsEvent = (event: unknown): boolean => (event as { Records?: { eventSource?: string }[] } | undefined)?.Records?.[0]?.eventSource === 'aws:sqs';

/**
 * A string whose UTF-16 code units are the UTF-8 bytes of `text`: what an HTTP header carries when a client sends
 * non-ASCII text (Node sends header strings as latin1 bytes, and parses them back the same way).
 */
const utf8AsLatin1 = (text: string): string => Buffer.from(text, 'utf8').toString('latin1');

function httpClient(baseUrl: string, token?: string): HttpClient {
  const { hostname, port } = new URL(baseUrl);
  // Enough sockets for the concurrent-retry tests (20 at once) to reach the server together.
  const agent = new Agent({ keepAlive: true, maxSockets: 32 });
  const send = ({ method = 'GET', path, headers = {}, body, fresh = false }: HttpSend): Promise<HttpAnswer> =>
    new Promise((resolve, reject) => {
      const outgoing: OutgoingHttpHeaders = {};
      const authorized = token === undefined || Object.keys(headers).some((name) => name.toLowerCase() === 'authorization');
      for (const [name, value] of Object.entries(authorized ? headers : { authorization: `Bearer ${token}`, ...headers })) if (value !== null) outgoing[name] = value;
      if (body !== undefined && !Object.keys(outgoing).some((name) => name.toLowerCase() === 'content-length')) {
        outgoing['content-length'] = Buffer.byteLength(body);
      }
      const req = httpRequest({ host: hostname, port, method, path, headers: outgoing, agent: fresh ? false : agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      });
      req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path.slice(0, 80)}: no answer in 30 s`)));
      req.on('error', reject);
      req.end(body);
    });
  return {
    send,
    postOrder: (body, headers = {}) =>
      send({
        method: 'POST',
        path: '/orders',
        headers: { 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
      }),
    close: () => agent.destroy(),
  };
}

/** Starts the local cloud on the compiled template (packaging it when stale), free ports, a fresh data directory. */
async function startApiCloud(name: string): Promise<ApiCloud> {
  const dataDir = await mkdtemp(join(tmpdir(), `orderflow-${name}-`));
  const logs: string[] = [];
  let cloud: LocalCloud;
  try {
    cloud = await startOrderflowCloud({ edgePort: 0, apiPort: 0, dataDir, log: (line) => logs.push(line) });
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw new Error(`local cloud did not start:\n${logs.slice(-40).join('\n')}`, { cause: error });
  }

  // Count invocations as they start and end: idle means none running, and a rejected request must start none.
  const runtime = cloud.runtime;
  const invoke = runtime.invoke.bind(runtime);
  let running = 0;
  let pipelineInvocations = 0;
  runtime.invoke = async (reference, event, options) => {
    if (isSqsEvent(event)) pipelineInvocations += 1;
    running += 1;
    try {
      return await invoke(reference, event, options);
    } finally {
      running -= 1;
    }
  };

  const clients = localClients({ endpoint: cloud.edgeUrl, region: cloud.region });
  const { sqs, sns, dynamodb, documents, s3 } = clients;
  const { kinesis } = clients; // slice-line:analytics

  const resource = (logicalId: string): { physicalId: string; url?: string; arn?: string } => {
    const found = cloud.resources[logicalId];
    if (!found) throw new Error(`no ${logicalId} in the local cloud (resources: ${Object.keys(cloud.resources).join(', ')})`);
    return found;
  };
  const names = {
    ordersTable: resource('OrdersTable').physicalId,
    idempotencyTable: resource('IdempotencyTable').physicalId,
    topicArn: resource('OrderEventsTopic').physicalId,
    streamName: resource('OrderStream').physicalId, // slice-line:analytics
    documentsBucket: resource('DocumentsBucket').physicalId,
  };
  // Every queue of the template: idle means all of them empty (the DLQs included: nothing may fail quietly).
  const queueUrls = Object.values(cloud.resources)
    .filter((r) => r.type === 'AWS::SQS::Queue' && r.url)
    .map((r) => r.url as string);

  // A FIFO queue subscribed to the FIFO topic with raw delivery, no filter and no consumer: it keeps every publish.
  const tapName = `${name}-tap-${process.pid}.fifo`;
  const tapUrl = (await sqs.send(new CreateQueueCommand({ QueueName: tapName, Attributes: { FifoQueue: 'true' } }))).QueueUrl ?? '';
  await sns.send(
    new SubscribeCommand({
      TopicArn: names.topicArn,
      Protocol: 'sqs',
      Endpoint: `arn:aws:sqs:${cloud.region}:${cloud.accountId}:${tapName}`,
      Attributes: { RawMessageDelivery: 'true' },
    }),
  );

  const depth = async (queueUrl: string): Promise<number> => {
    const out = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
      }),
    );
    const a = out.Attributes ?? {};
    return Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0) + Number(a.ApproximateNumberOfMessagesDelayed ?? 0);
  };

  const countItems = async (tableName: string): Promise<number> => {
    let count = 0;
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await dynamodb.send(new ScanCommand({ TableName: tableName, Select: 'COUNT', ExclusiveStartKey: start }));
      count += page.Count ?? 0;
      start = page.LastEvaluatedKey;
    } while (start);
    return count;
  };

  // slice-begin:analytics
  const countStreamRecords = async (): Promise<number> => {
    let count = 0;
    let shardToken: string | undefined;
    do {
      const shards = await kinesis.send(new ListShardsCommand(shardToken ? { NextToken: shardToken } : { StreamName: names.streamName }));
      for (const shard of shards.Shards ?? []) {
        let iterator = (
          await kinesis.send(new GetShardIteratorCommand({ StreamName: names.streamName, ShardId: shard.ShardId, ShardIteratorType: 'TRIM_HORIZON' }))
        ).ShardIterator;
        while (iterator) {
          const page = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
          count += page.Records?.length ?? 0;
          if ((page.Records?.length ?? 0) === 0 || page.MillisBehindLatest === 0) break;
          iterator = page.NextShardIterator;
        }
      }
      shardToken = shards.NextToken;
    } while (shardToken);
    return count;
  };
  // slice-end:analytics

  const countObjects = async (bucket: string): Promise<number> => {
    let count = 0;
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
      count += page.KeyCount ?? page.Contents?.length ?? 0;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return count;
  };

  const scanAll = async (tableName: string): Promise<Record<string, unknown>[]> => {
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await documents.send(new ScanItemsCommand({ TableName: tableName, ExclusiveStartKey: start }));
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  };

  const sideEffects = async (): Promise<SideEffects> => {
    const [orders, idempotencyRecords, published, documentsCount] = await Promise.all([
      countItems(names.ordersTable),
      countItems(names.idempotencyTable),
      depth(tapUrl),
      countObjects(names.documentsBucket),
    ]);
    return {
      orders,
      idempotencyRecords,
      published,
      documents: documentsCount,
      pipelineInvocations,
      // slice-begin:analytics
      analyticsQueue: await depth(resource('AnalyticsQueue').url ?? ''),
      streamRecords: await countStreamRecords(),
      // slice-end:analytics
    };
  };

  const waitIdle = async (timeoutMs = 30_000): Promise<void> => {
    // Idle twice in a row, 150 ms apart: a message between two pollers' receives is not missed.
    let idleStreak = 0;
    await waitFor(
      async () => {
        const depths = await Promise.all(queueUrls.map(depth));
        idleStreak = running === 0 && depths.every((d) => d === 0) ? idleStreak + 1 : 0;
        return idleStreak >= 2;
      },
      { what: 'the pipeline to go idle (every queue empty, no invocation running)', timeoutMs, intervalMs: 150 },
    );
  };

  // The default customer of every request (a token of the local issuer, valid one hour: longer than a test file).
  const http = httpClient(cloud.apiUrl, await cloud.mintToken({ customer: API_CUSTOMER }));
  return {
    cloud,
    http,
    logs,
    tail: (count = 40) => logs.slice(-count).map((line) => line.slice(0, 400)).join('\n'),
    names,
    sideEffects,
    async settledSideEffects(timeoutMs) {
      await waitIdle(timeoutMs);
      return sideEffects();
    },
    waitIdle,
    async orderItem(orderId) {
      return (await documents.send(new GetCommand({ TableName: names.ordersTable, Key: { orderId }, ConsistentRead: true }))).Item;
    },
    scanOrders: () => scanAll(names.ordersTable),
    scanIdempotencyRecords: () => scanAll(names.idempotencyTable),
    async drainPublished() {
      const messages: Message[] = [];
      for (;;) {
        const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: tapUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageAttributeNames: ['All'] }));
        const batch = out.Messages ?? [];
        if (batch.length === 0) return messages;
        messages.push(...batch);
        await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: tapUrl, Entries: batch.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }));
      }
    },
    async dispose() {
      http.close();
      clients.destroy();
      await cloud.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}


// ---------------------------------------------------------------------------------------------------------------
// Generators of valid orders (hostile-looking values included: they must be accepted and stored verbatim), and of
// invalid header values. The rules are the README's ("The order API"); the string maxima are lib/domain/order.ts's.
// ---------------------------------------------------------------------------------------------------------------

type Json = unknown;
/** An order body as generated: a plain JSON object (mutations may make it anything). */
type Order = Record<string, Json> & { items: Record<string, Json>[]; fulfillment: 'physical' | 'digital'; shippingAddress?: Record<string, Json> };

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// Address text refuses whitespace only and format characters (Unicode category Cf), but a ZWJ inside an emoji sequence.
const FORMAT = /\p{Cf}/u;
const EMOJI_ZWJ = /(?<=\p{Extended_Pictographic}[\p{M}\p{Emoji_Modifier}]*)\u200d(?=\p{Extended_Pictographic})/gu;
const ADDRESS_MAX = { name: 100, line1: 200, line2: 200, city: 100, postalCode: 20 } as const;

/** Free text that is valid: unicode of every kind, injection-shaped strings; none holds a control character. */
const HOSTILE_VALID_TEXTS = [
  '👩‍👩‍👧‍👦',
  '🏳️‍🌈 flag',
  'שלום עולם',
  'مرحبا بالعالم',
  'Z̴̡͚a̶̛l̷g̸o̵',
  'e\u0301\u0302\u0303',
  '𝕳𝖊𝖑𝖑𝖔',
  'İstanbul ß',
  "Robert'); DROP TABLE orders;--",
  "' OR 1=1 --",
  '<script>alert(1)</script>',
  '{{7*7}} ${7*7}',
  '${jndi:ldap://x/a}',
  '../../etc/passwd',
  '{"$gt": ""}',
  '\\u0000 \\n',
  'null',
  ' padded\u00a0\u2028',
];

const text = (max: number): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: Math.max(1, Math.floor(max / 6)) }) },
    { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_VALID_TEXTS) },
    { weight: 1, arbitrary: fc.constantFrom('x'.repeat(max), '€'.repeat(max), '😀'.repeat(Math.floor(max / 2)), 'e\u0301'.repeat(Math.floor(max / 2))) },
  ).filter((value) => value.length >= 1 && value.length <= max && !CONTROL.test(value) && value.trim() !== '' && !FORMAT.test(value.replace(EMOJI_ZWJ, '')));

const customerIdArb = fc.oneof(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/), fc.constantFrom('c', 'c-42', 'A'.repeat(64), 'x:y.z_w-1'));
const skuArb = fc.oneof(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/), fc.constantFrom('BOOK-1', 'S'.repeat(64)));
const quantityArb = fc.oneof(fc.integer({ min: 1, max: 1_000 }), fc.constantFrom(1, 1_000));
const priceArb = fc.oneof(fc.integer({ min: 0, max: 10_000_000 }), fc.constantFrom(0, 10_000_000));
const itemArb = fc.record({ sku: skuArb, quantity: quantityArb, unitPriceCents: priceArb });

const addressArb = fc.record(
  {
    name: text(ADDRESS_MAX.name),
    line1: text(ADDRESS_MAX.line1),
    line2: text(ADDRESS_MAX.line2),
    city: text(ADDRESS_MAX.city),
    postalCode: text(ADDRESS_MAX.postalCode),
    country: fc.stringMatching(/^[A-Z]{2}$/),
  },
  { requiredKeys: ['name', 'line1', 'city', 'postalCode', 'country'] },
);

const orderArb = (items: fc.Arbitrary<Record<string, Json>[]>): fc.Arbitrary<Order> =>
  fc.oneof(
    fc.record({ customerId: customerIdArb, items, fulfillment: fc.constant('physical' as const), shippingAddress: addressArb }),
    fc.record({ customerId: customerIdArb, items, fulfillment: fc.constant('digital' as const) }),
  ) as fc.Arbitrary<Order>;

/** Small valid orders: the base every mutation starts from. */
const baseOrderArb = orderArb(fc.array(itemArb, { minLength: 1, maxLength: 4 }));
/** Any valid order, up to the 100-item limit. */
const validOrderArb = orderArb(fc.oneof({ weight: 5, arbitrary: fc.array(itemArb, { minLength: 1, maxLength: 12 }) }, { weight: 1, arbitrary: fc.array(itemArb, { minLength: 100, maxLength: 100 }) }));

/** An Idempotency-Key or X-Correlation-Id that breaks "1 to 128 visible ASCII characters". */
const badHeaderValue = fc.oneof(
  fc.tuple(fc.stringMatching(/^[\x21-\x7e]{1,20}$/), fc.integer({ min: 129, max: 2_000 })).map(([prefix, length]) => (prefix + 'k'.repeat(length)).slice(0, length)),
  fc.constantFrom('ключ', 'clé', '🔑', 'キー', 'مفتاح', 'key\u00e9').map(utf8AsLatin1),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).filter((value) => /[^\x00-\x7f]/.test(value)).map(utf8AsLatin1),
  fc.constantFrom('key\u00e9', 'a\u00a0b'),
  fc.constantFrom('a b', 'key\tvalue', ''),
);
const goodHeaderValue = fc.stringMatching(/^[\x21-\x7e]{1,128}$/);

// ---------------------------------------------------------------------------------------------------------------
// The 4xx contract
// ---------------------------------------------------------------------------------------------------------------

interface Expected {
  status: number;
  fields: string[];
}

const unique = (values: readonly string[]): string[] => [...new Set(values)].sort();

/** The 4xx contract: JSON `{ error, fields: [{ field, message }] }` naming exactly the expected fields. */
const expectProblem = (answer: HttpAnswer, expected: Expected, what: string): void => {
  const context = `${what}\n→ ${answer.status} ${answer.text.slice(0, 600)}`;
  expect(answer.status, context).toBe(expected.status);
  expect(answer.headers['content-type'], context).toMatch(/^application\/json/);
  const body = answer.json as { error?: unknown; fields?: { field?: unknown; message?: unknown }[] } | undefined;
  expect(typeof body?.error === 'string' && body.error.length > 0, context).toBe(true);
  expect(Array.isArray(body?.fields), context).toBe(true);
  for (const entry of body?.fields ?? []) {
    expect(typeof entry.field, context).toBe('string');
    expect(typeof entry.message === 'string' && entry.message.length > 0, context).toBe(true);
  }
  expect(unique((body?.fields ?? []).map((entry) => String(entry.field))), context).toEqual(unique(expected.fields));
};

export {
  ADDRESS_MAX,
  BODY_LIMIT_BYTES,
  FC_SEED,
  badHeaderValue,
  baseOrderArb,
  customerIdArb,
  expectProblem,
  goodHeaderValue,
  httpClient,
  itemArb,
  startApiCloud,
  validOrderArb,
};
export type { ApiCloud, Expected, HttpAnswer, Order, SideEffects };
