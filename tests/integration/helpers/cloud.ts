/**
 * Shared setup for the end-to-end tests on the REAL compiled template: one local cloud per test file
 * (free ports, a temporary data directory), AWS SDK v3 clients pointed at its edge, the order API, a
 * record of every function invocation (polling with a deadline: `waitFor` from 'local-cloud').
 *
 * @example
 * const t = await startCloudForTests('pipeline');
 * const { orderId } = (await t.api.postOrder(physicalOrder('c-1'))).body;
 * const order = await waitFor(async () => { const o = await t.api.getOrder(orderId); return o.body.status === 'COMPLETED' && o.body; }, { what: 'the order COMPLETED', timeoutMs: 15_000 });
 * await t.dispose();
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { ListObjectsV2Command } from '@aws-sdk/client-s3'; // slice-line:analytics
import { parquetReadObjects } from 'hyparquet'; // slice-line:analytics
import { SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import { freePort, type LocalCloud, type LocalCloudOptions } from 'local-cloud';
import { localClients, type LocalClients } from '../../../scripts/local/clients.ts';
import { startOrderflowCloud } from '../../../scripts/local/cloud.ts';
import type { InvokeResult } from 'local-cloud';

/** One call of `runtime.invoke`: by a poller, the HTTP API or a test. */
interface Invocation {
  functionName: string;
  event: unknown;
  startedAt: number;
  endedAt?: number;
  result?: InvokeResult;
}

interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

/** An order body as POST /orders takes it (docs/architecture.md, "The order API"). */
interface OrderBody {
  customerId: string;
  items: { sku: string; quantity: number; unitPriceCents: number }[];
  fulfillment: 'physical' | 'digital';
  shippingAddress?: { name: string; line1: string; city: string; postalCode: string; country: string };
}

// slice-begin:analytics
/** The lake's view of one order event: the object it is in, its row number there, and its row (lib/lake.ts LakeRow). */
interface LakeLine {
  key: string;
  line: number;
  event: { type: string; orderId: string; eventId: string; occurredAt: string; [key: string]: unknown };
}

/** A lake row (lower-case columns) with the event's own names for the fields the tests follow. */
const lakeEventOf = (row: Record<string, unknown>): LakeLine['event'] => ({
  // Parquet INT64 columns (bigint) read back as BigInt; the amounts are far below 2^53.
  ...Object.fromEntries(Object.entries(row).map(([name, value]) => [name, typeof value === 'bigint' ? Number(value) : value])),
  type: String(row.type),
  orderId: String(row.orderid),
  eventId: String(row.eventid),
  occurredAt: row.occurredat instanceof Date ? row.occurredat.toISOString() : String(row.occurredat),
});
// slice-end:analytics

interface CloudUnderTest {
  cloud: LocalCloud;
  dataDir: string;
  /** Every line the local cloud logged (functions' logs are prefixed `[<function name>]`). */
  logs: string[];
  /** Every invocation, in the order they started. */
  invocations: Invocation[];
  clients: LocalClients;
  /** Physical names, from the stack outputs. */
  names: {
    ordersTable: string;
    documentsBucket: string;
    topicArn: string;
    importsBucket: string; // slice-line:imports
    lakeBucket: string; // slice-line:analytics
    streamName: string; // slice-line:analytics
  };
  /**
   * The order API as a customer (TEST_CUSTOMER unless `as` names another): each request carries a token the
   * local issuer minted for that customer; a header given overrides it (`authorization: ''` sends none).
   */
  api: {
    postOrder(body: unknown, headers?: Record<string, string>, as?: string): Promise<ApiResponse>;
    getOrder(orderId: string, as?: string): Promise<ApiResponse>;
  };
  /** `Bearer <token>` for a named customer (cached per customer: one hour of validity, Cognito's default). */
  bearer(customer?: string): Promise<string>;
  /** The full name of a function from its short name (`shipOrder` → `orderflow-local-shipOrder`). */
  functionName(short: string): string;
  /** A queue's URL from its logical id (`BillingQueue`). */
  queueUrl(logicalId: string): string;
  /** Visible + in flight + delayed messages of a queue. */
  queueDepth(logicalId: string): Promise<number>;
  /** The Orders table item as stored (undefined until recordOrderEvent wrote it). */
  orderItem(orderId: string): Promise<Record<string, unknown> | undefined>;
  /** Scans the Orders table (every page). */
  scanOrders(): Promise<Record<string, unknown>[]>;
  objectExists(bucket: string, key: string): Promise<boolean>;
  getObjectText(bucket: string, key: string): Promise<string>;
  // slice-begin:analytics
  /** Every order event in the lake (`events/` objects, Parquet rows), objects in key order, rows in order. */
  readLake(): Promise<LakeLine[]>;
  // slice-end:analytics
  /** A standard or FIFO queue subscribed to the order topic with raw delivery and no filter: sees everything published. */
  tap(name: string, options?: { fifo?: boolean }): Promise<Tap>;
  /** The last `count` log lines, for a failing test's message. */
  tail(count?: number): string;
  dispose(): Promise<void>;
}

interface Tap {
  url: string;
  /** Receives (and deletes) everything currently visible, until a receive comes back empty. */
  drain(): Promise<Message[]>;
}

const ADDRESS = { name: 'Ada', line1: '1 Main St', city: 'Leeds', postalCode: 'LS1 1AA', country: 'GB' };

function physicalOrder(customerId: string, quantity = 2): OrderBody {
  return { customerId, items: [{ sku: 'BOOK-1', quantity, unitPriceCents: 1299 }], fulfillment: 'physical', shippingAddress: { ...ADDRESS } };
}

function digitalOrder(customerId: string): OrderBody {
  return { customerId, items: [{ sku: 'EBOOK-1', quantity: 1, unitPriceCents: 999 }], fulfillment: 'digital' };
}

/** A customer id unique to this run, so assertions never match another test's orders. */
function uniqueCustomer(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** The customer the tests' API calls are made as, unless one names another. */
const TEST_CUSTOMER = 'test-customer';

/** Headers less those set to '' (how a test sends a request without a token). */
function withoutEmpty(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([, value]) => value !== ''));
}

async function request(url: string, init: RequestInit): Promise<ApiResponse> {
  const response = await fetch(url, init);
  const text = await response.text();
  let body: Record<string, unknown>;
  try {
    body = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
  } catch {
    body = { raw: text };
  }
  return { status: response.status, headers: response.headers, body };
}

/**
 * Starts the local cloud on the real template (`osls package --stage local` when stale), on free ports
 * and a fresh temporary data directory, and records every invocation.
 */
async function startCloudForTests(name: string, options: Partial<LocalCloudOptions> = {}): Promise<CloudUnderTest> {
  const dataDir = await mkdtemp(join(tmpdir(), `orderflow-${name}-`));
  const logs: string[] = [];
  const invocations: Invocation[] = [];
  let cloud: LocalCloud;
  try {
    // RabbitMQ (an Erlang VM, ~20 s to boot) only for the tests that ask for it: startCloudForTests(name, { rabbitMq: true }).
    cloud = await startOrderflowCloud({ edgePort: 0, apiPort: 0, dataDir, log: (line) => logs.push(line), rabbitMq: false, ...options });
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw new Error(`local cloud did not start:\n${logs.slice(-40).join('\n')}`, { cause: error });
  }

  // Every poller and the HTTP API call runtime.invoke on this one instance: wrap it to keep a record.
  const runtime = cloud.runtime;
  const invoke = runtime.invoke.bind(runtime);
  runtime.invoke = async (reference, event, invokeOptions) => {
    const entry: Invocation = { functionName: runtime.get(reference).config.name, event, startedAt: Date.now() };
    invocations.push(entry);
    const result = await invoke(reference, event, invokeOptions);
    entry.endedAt = Date.now();
    entry.result = result;
    return result;
  };

  const clients = localClients({ endpoint: cloud.edgeUrl, region: cloud.region });
  const output = (key: string): string => {
    const value = cloud.outputs[key];
    if (!value) throw new Error(`stack output ${key} missing (outputs: ${Object.keys(cloud.outputs).join(', ')})`);
    return value;
  };
  const names = {
    ordersTable: output('OrdersTableName'),
    documentsBucket: output('DocumentsBucketName'),
    importsBucket: output('ImportsBucketName'), // slice-line:imports
    lakeBucket: output('LakeBucketName'), // slice-line:analytics
    topicArn: output('OrderEventsTopicArn'),
    streamName: output('OrderStreamName'), // slice-line:analytics
  };
  const queueUrl = (logicalId: string): string => {
    const url = cloud.resources[logicalId]?.url;
    if (!url) throw new Error(`no queue ${logicalId} in the template`);
    return url;
  };
  const taps: string[] = [];
  const lakeObjects = new Map<string, LakeLine['event'][]>(); // slice-line:analytics
  const tokens = new Map<string, Promise<string>>();
  const bearer = (customer = TEST_CUSTOMER): Promise<string> => {
    let token = tokens.get(customer);
    if (token === undefined) {
      token = cloud.mintToken({ customer }).then((jwt) => `Bearer ${jwt}`);
      tokens.set(customer, token);
    }
    return token;
  };

  const t: CloudUnderTest = {
    cloud,
    dataDir,
    logs,
    invocations,
    clients,
    names,
    api: {
      postOrder: async (body, headers = {}, as = TEST_CUSTOMER) =>
        request(`${cloud.apiUrl}/orders`, {
          method: 'POST',
          headers: withoutEmpty({ authorization: await bearer(as), 'content-type': 'application/json', ...headers }),
          body: typeof body === 'string' ? body : JSON.stringify(body),
        }),
      getOrder: async (orderId, as = TEST_CUSTOMER) => request(`${cloud.apiUrl}/orders/${encodeURIComponent(orderId)}`, { method: 'GET', headers: { authorization: await bearer(as) } }),
    },
    bearer,
    functionName: (short) => {
      const fn = cloud.functions.find((full) => full.endsWith(`-${short}`));
      if (!fn) throw new Error(`no function ${short} (functions: ${cloud.functions.join(', ')})`);
      return fn;
    },
    queueUrl,
    async queueDepth(logicalId) {
      const out = await clients.sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: queueUrl(logicalId),
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
        }),
      );
      const a = out.Attributes ?? {};
      return Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0) + Number(a.ApproximateNumberOfMessagesDelayed ?? 0);
    },
    async orderItem(orderId) {
      return (await clients.documents.send(new GetCommand({ TableName: names.ordersTable, Key: { orderId }, ConsistentRead: true }))).Item;
    },
    async scanOrders() {
      const items: Record<string, unknown>[] = [];
      let start: Record<string, unknown> | undefined;
      do {
        const page = await clients.documents.send(new ScanCommand({ TableName: names.ordersTable, ExclusiveStartKey: start }));
        items.push(...(page.Items ?? []));
        start = page.LastEvaluatedKey;
      } while (start);
      return items;
    },
    async objectExists(bucket, key) {
      try {
        await clients.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        return true;
      } catch (error) {
        if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
        throw error;
      }
    },
    async getObjectText(bucket, key) {
      const out = await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return (await out.Body?.transformToString('utf8')) ?? '';
    },
    // slice-begin:analytics
    async readLake() {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await clients.s3.send(new ListObjectsV2Command({ Bucket: names.lakeBucket, Prefix: 'events/', ContinuationToken: token }));
        for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      // Firehose names objects <prefix><stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid>: key order is delivery order
      // to the second; the sequence numbers inside settle ties.
      keys.sort();
      const lines: LakeLine[] = [];
      for (const key of keys) {
        // Firehose never rewrites an object: each is read and decoded once per test file.
        let rows = lakeObjects.get(key);
        if (rows === undefined) {
          const out = await clients.s3.send(new GetObjectCommand({ Bucket: names.lakeBucket, Key: key }));
          const bytes = await (out.Body?.transformToByteArray() ?? Promise.resolve(new Uint8Array()));
          rows = (await parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer })).map(lakeEventOf);
          lakeObjects.set(key, rows);
        }
        rows.forEach((event, index) => lines.push({ key, line: index + 1, event }));
      }
      return lines;
    },
    // slice-end:analytics
    async tap(tapName, tapOptions = {}) {
      const fifo = tapOptions.fifo === true;
      const queueName = `${tapName}${fifo ? '.fifo' : ''}`;
      const url =
        (await clients.sqs.send(new CreateQueueCommand({ QueueName: queueName, Attributes: fifo ? { FifoQueue: 'true' } : {} }))).QueueUrl ?? '';
      const arn = `arn:aws:sqs:${cloud.region}:${cloud.accountId}:${queueName}`;
      await clients.sns.send(new SubscribeCommand({ TopicArn: names.topicArn, Protocol: 'sqs', Endpoint: arn, Attributes: { RawMessageDelivery: 'true' } }));
      taps.push(url);
      return {
        url,
        async drain() {
          const messages: Message[] = [];
          for (;;) {
            const out = await clients.sqs.send(
              new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageAttributeNames: ['All'], MessageSystemAttributeNames: ['All'] }),
            );
            const batch = out.Messages ?? [];
            if (batch.length === 0) return messages;
            messages.push(...batch);
            await clients.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: batch.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }));
          }
        },
      };
    },
    tail: (count = 60) => logs.slice(-count).map((line) => line.slice(0, 400)).join('\n'),
    async dispose() {
      clients.destroy();
      await cloud.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return t;
}

/** Invocations of one function whose event mentions `text` (an order id...) anywhere, base64 Kinesis data included. */
function invocationsMentioning(invocations: Invocation[], functionName: string, text: string): Invocation[] {
  return invocations.filter((entry) => entry.functionName === functionName && eventText(entry.event).includes(text));
}

/** The event as text with every Kinesis record's data decoded. */
function eventText(event: unknown): string {
  const records = (event as { Records?: { kinesis?: { data?: string } }[] })?.Records ?? [];
  const decoded = records.map((record) => (record.kinesis?.data ? Buffer.from(record.kinesis.data, 'base64').toString('utf8') : '')).join('\n');
  return `${JSON.stringify(event)}\n${decoded}`;
}

// slice-begin:analytics
/** The order events carried by a Kinesis event (what a stream consumer received). */
function kinesisEvents(event: unknown): { sequenceNumber: string; event: LakeLine['event'] }[] {
  const records = (event as { Records?: { kinesis: { data: string; sequenceNumber: string } }[] })?.Records ?? [];
  return records.map((record) => ({
    sequenceNumber: record.kinesis.sequenceNumber,
    event: JSON.parse(Buffer.from(record.kinesis.data, 'base64').toString('utf8')) as LakeLine['event'],
  }));
}
// slice-end:analytics

export { digitalOrder, freePort, invocationsMentioning, physicalOrder, startCloudForTests, uniqueCustomer, TEST_CUSTOMER };
export type { CloudUnderTest, Invocation, Tap };
export { kinesisEvents }; // slice-line:analytics
export type { LakeLine }; // slice-line:analytics
