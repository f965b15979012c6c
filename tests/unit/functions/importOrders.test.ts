import '../helpers/env.ts';
import { Readable } from 'node:stream';
import { FullBatchFailureError } from '@aws-lambda-powertools/batch';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client, S3ServiceException, type PutObjectCommandInput } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand, type GetCommandInput, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import { PublishBatchCommand, SNSClient, ThrottledException, type PublishBatchCommandInput } from '@aws-sdk/client-sns';
import { sdkStreamMixin } from '@smithy/core/serde';
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler, importOrdersHandler } from '../../../functions/importOrders.ts';
import { parseOrderEvent } from '#lib/events/order-events.ts';
import { fakeContext } from '../helpers/context.ts';
import { DEPLOYED, stubDeployedEnv } from '../helpers/env.ts';
import { asNewMessage, batchOf, bodyOf, firstRecord } from '../helpers/fixtures.ts';

const IMPORTS_BUCKET = 'orderflow-dev-imports-123456789012';
const KEY = 'incoming/2026-11-22/black friday #1.ndjson';
const s3Mock = mockClient(S3Client);
const snsMock = mockClient(SNSClient);
const dynamoMock = mockClient(DynamoDBDocumentClient);
const ETAG = '9b2cf535f27731c974343645a3985328';

/**
 * The checkpoint items of the idempotency table, answering GetCommand and UpdateCommand as DynamoDB would for the
 * one update lib/aws/import-checkpoints.ts sends (its condition evaluated, a failure the SDK's exception).
 */
const checkpoints = new Map<string, { linesPublished: number; done: boolean; expiration: number }>();
const fakeCheckpointTable = (): void => {
  dynamoMock.on(GetCommand).callsFake(async (input: GetCommandInput) => {
    const item = checkpoints.get(String(input.Key?.id));
    return item ? { Item: { id: input.Key?.id, ...item } } : {};
  });
  dynamoMock.on(UpdateCommand).callsFake(async (input: UpdateCommandInput) => {
    expect(input.ConditionExpression).toBe('attribute_not_exists(id) OR (linesPublished <= :lines AND done = :false)');
    const values = input.ExpressionAttributeValues as { ':lines': number; ':done': boolean; ':expiration': number };
    const id = String(input.Key?.id);
    const current = checkpoints.get(id);
    if (current && !(current.linesPublished <= values[':lines'] && current.done === false)) {
      throw new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: { httpStatusCode: 400 } });
    }
    checkpoints.set(id, { linesPublished: values[':lines'], done: values[':done'], expiration: values[':expiration'] });
    return {};
  });
};
const context = fakeContext('importOrders');

const physical = {
  customerId: 'c-42',
  items: [{ sku: 'BOOK-1', quantity: 2, unitPriceCents: 1299 }],
  fulfillment: 'physical',
  shippingAddress: { name: 'Ada Lovelace', line1: '1 Main St', city: 'Leeds', postalCode: 'LS1 1AA', country: 'GB' },
};
const digital = { customerId: 'c-77', items: [{ sku: 'EBOOK-9', quantity: 1, unitPriceCents: 999 }], fulfillment: 'digital' };

/** 23 valid orders on lines 1-25, a line that is not JSON (5), an invalid order (12), and blank lines at the end. */
const importFile = (): string => {
  const lines = Array.from({ length: 25 }, (_, index) => JSON.stringify(index % 2 === 0 ? physical : { ...digital, customerId: `c-${index}` }));
  lines[4] = '{"customerId":"c-5",';
  lines[11] = JSON.stringify({ ...digital, items: [{ sku: 'EBOOK-9', quantity: 0, unitPriceCents: 999 }] });
  return `${lines.join('\n')}\n\n`;
};
const objectBody = (text: string) => ({ Body: sdkStreamMixin(Readable.from([Buffer.from(text)])) });
const entries = (): NonNullable<PublishBatchCommandInput['PublishBatchRequestEntries']> =>
  snsMock.commandCalls(PublishBatchCommand).flatMap((call) => (call.args[0].input as PublishBatchCommandInput).PublishBatchRequestEntries ?? []);
const allPublished = (input: PublishBatchCommandInput) => ({
  Successful: (input.PublishBatchRequestEntries ?? []).map((entry) => ({ Id: entry.Id, MessageId: `m-${entry.Id}`, SequenceNumber: '10000000000000000001' })),
  Failed: [],
});
const ids = (...records: SQSRecord[]): SQSBatchResponse => ({ batchItemFailures: records.map((record) => ({ itemIdentifier: record.messageId })) });

/** An import-jobs record for another object of the imports bucket. */
const importRecordFor = (encodedKey: string): SQSRecord => {
  const record = asNewMessage(firstRecord('s3-import-created'));
  const notification = bodyOf<{ Records: { s3: { object: { key: string } } }[] }>(record);
  (notification.Records[0] as { s3: { object: { key: string } } }).s3.object.key = encodedKey;
  record.body = JSON.stringify(notification);
  return record;
};

describe('Function: importOrders', () => {
  beforeAll(() => {
    stubDeployedEnv('importOrders');
  });

  beforeEach(() => {
    fakeCheckpointTable();
  });

  afterEach(() => {
    s3Mock.reset();
    snsMock.reset();
    dynamoMock.reset();
    checkpoints.clear();
    vi.stubEnv('IMPORT_MAX_BYTES', DEPLOYED.IMPORT_MAX_BYTES);
  });

  afterAll(() => {
    vi.unstubAllEnvs();
  });

  it('publishes one OrderPlaced per valid line in batches of 10, and writes a report of the rejected lines', async () => {
    // Prepare
    s3Mock.on(GetObjectCommand).callsFake(async () => objectBody(importFile()));
    snsMock.on(PublishBatchCommand).callsFake(async (input: PublishBatchCommandInput) => allPublished(input));

    // Act
    const response = await importOrdersHandler(batchOf(firstRecord('s3-import-created')), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(s3Mock).toHaveReceivedCommandWith(GetObjectCommand, { Bucket: IMPORTS_BUCKET, Key: KEY, IfMatch: `"${ETAG}"` });
    expect(snsMock.commandCalls(PublishBatchCommand).map((call) => (call.args[0].input as PublishBatchCommandInput).PublishBatchRequestEntries?.length)).toEqual([10, 10, 3]);
    expect(snsMock).toHaveReceivedCommandWith(PublishBatchCommand, { TopicArn: DEPLOYED.TOPIC_ARN });
    const events = entries().map((entry) => parseOrderEvent(entry.Message as string));
    expect(events.map((event) => event.type)).toEqual(Array(23).fill('OrderPlaced'));
    expect(entries().every((entry, index) => entry.MessageGroupId === events[index]?.orderId && entry.MessageDeduplicationId === events[index]?.eventId)).toBe(true);
    expect(events[0]?.correlationId).toBe(`import:${KEY}:1`);
    expect(s3Mock).toHaveReceivedCommandWith(PutObjectCommand, { Bucket: IMPORTS_BUCKET, Key: `rejected/${KEY}.json`, ContentType: 'application/json' });
    const report = JSON.parse(s3Mock.commandCalls(PutObjectCommand)[0]?.args[0].input.Body as string);
    expect(report).toEqual({
      source: KEY,
      rejected: [
        { line: 5, fields: [{ field: '(line)', message: 'is not valid JSON' }] },
        { line: 12, fields: [{ field: 'items[0].quantity', message: 'must be between 1 and 1000' }] },
      ],
    });
  });

  it('publishes nothing again when the same file version is delivered again after the import finished, however late (its checkpoint says done)', async () => {
    // Prepare
    s3Mock.on(GetObjectCommand).callsFake(async () => objectBody(importFile()));
    snsMock.on(PublishBatchCommand).callsFake(async (input: PublishBatchCommandInput) => allPublished(input));
    await importOrdersHandler(batchOf(firstRecord('s3-import-created')), context);
    const publishedFirst = entries().length;

    // Act: the same notification again, past SNS FIFO's 5-minute deduplication window (nothing would stop a republish)
    const response = await importOrdersHandler(batchOf(firstRecord('s3-import-created')), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(publishedFirst).toBe(23);
    expect(entries()).toHaveLength(23);
    expect(s3Mock).toHaveReceivedCommandTimes(GetObjectCommand, 1);
    const [checkpoint] = [...checkpoints.entries()];
    expect(checkpoint?.[0]).toBe(`import#${IMPORTS_BUCKET}/${KEY}#${ETAG}`);
    expect(checkpoint?.[1]).toMatchObject({ linesPublished: 26, done: true }); // 25 lines and a blank one
    // Kept 21 days (IMPORT_CHECKPOINT_SECONDS), longer than the import job can come back from its DLQ.
    expect((checkpoint?.[1].expiration ?? 0) - Math.floor(Date.now() / 1000)).toBeGreaterThan(1_814_400 - 60);
  });

  it('resumes after its last checkpoint: a retry publishes only the lines the failed run had not published', async () => {
    // Prepare: 250 valid lines; SNS refuses every call after the 20th (lines 1-200 published, checkpoint at 200)
    const lines = Array.from({ length: 250 }, (_, index) => JSON.stringify({ ...digital, customerId: `c-${index + 1}` }));
    s3Mock.on(GetObjectCommand).callsFake(async () => objectBody(`${lines.join('\n')}\n`));
    let calls = 0;
    snsMock.on(PublishBatchCommand).callsFake(async (input: PublishBatchCommandInput) => {
      calls += 1;
      if (calls > 20) throw new ThrottledException({ message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } });
      return allPublished(input);
    });
    await expect(importOrdersHandler(batchOf(firstRecord('s3-import-created')), context)).rejects.toBeInstanceOf(FullBatchFailureError);
    const firstRun = entries().slice(0, 200).map((entry) => entry.MessageDeduplicationId);
    expect(calls).toBe(21);
    snsMock.reset();
    snsMock.on(PublishBatchCommand).callsFake(async (input: PublishBatchCommandInput) => allPublished(input));

    // Act
    const response = await importOrdersHandler(batchOf(firstRecord('s3-import-created')), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    const secondRun = entries().map((entry) => parseOrderEvent(entry.Message as string));
    expect(secondRun.map((event) => event.correlationId)).toEqual(Array.from({ length: 50 }, (_, index) => `import:${KEY}:${index + 201}`));
    expect(new Set([...firstRun, ...secondRun.map((event) => event.eventId)]).size).toBe(250);
  });

  it('reads the notified version only (If-Match on its ETag): a key overwritten since publishes nothing and is not a failure', async () => {
    // Prepare
    s3Mock.on(GetObjectCommand).rejects(new S3ServiceException({ name: 'PreconditionFailed', $fault: 'client', message: 'At least one of the pre-conditions you specified did not hold', $metadata: { httpStatusCode: 412 } }));

    // Act
    const response = await importOrdersHandler(batchOf(firstRecord('s3-import-created')), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(s3Mock).toHaveReceivedCommandWith(GetObjectCommand, { IfMatch: `"${ETAG}"` });
    expect(snsMock).not.toHaveReceivedCommand(PublishBatchCommand);
    expect(s3Mock).not.toHaveReceivedCommand(PutObjectCommand);
  });

  it.each([
    ['the notification says so', { notified: 2_000, contentLength: undefined }],
    ['GetObject says so', { notified: 100, contentLength: 2_000 }],
    ['the bytes read say so (no length given)', { notified: 0, contentLength: undefined }],
  ])('refuses a file over IMPORT_MAX_BYTES when %s: nothing published, a report naming the limit, not retried', async (_when, { notified, contentLength }) => {
    // Prepare: a 1,000-byte limit, a file of 25 lines (about 3 KB)
    vi.stubEnv('IMPORT_MAX_BYTES', '1000');
    const record = asNewMessage(firstRecord('s3-import-created'));
    record.body = record.body.replace('"size":1843', `"size":${notified}`);
    expect(record.body).toContain(`"size":${notified}`);
    s3Mock.on(GetObjectCommand).callsFake(async () => ({ ...objectBody(importFile()), ...(contentLength === undefined ? {} : { ContentLength: contentLength }) }));
    snsMock.on(PublishBatchCommand).callsFake(async (input: PublishBatchCommandInput) => allPublished(input));

    // Act
    const first = await importOrdersHandler(batchOf(record), context);
    const again = await importOrdersHandler(batchOf(record), context);

    // Assess
    expect(first).toEqual({ batchItemFailures: [] });
    expect(again).toEqual({ batchItemFailures: [] });
    expect(snsMock).not.toHaveReceivedCommand(PublishBatchCommand);
    const reports = s3Mock.commandCalls(PutObjectCommand).map((call) => call.args[0].input as PutObjectCommandInput);
    expect(reports.map((input) => input.Key)).toEqual([`rejected/${KEY}.json`]);
    expect(JSON.parse(reports[0]?.Body as string)).toMatchObject({ source: KEY, error: expect.stringMatching(/the limit is 1000 bytes \(importMaxBytes\)/) });
  });

  it('writes no report when every line is valid', async () => {
    // Prepare
    s3Mock.on(GetObjectCommand).callsFake(async () => objectBody(`${JSON.stringify(digital)}\n${JSON.stringify(physical)}\n`));
    snsMock.on(PublishBatchCommand).callsFake(async (input: PublishBatchCommandInput) => allPublished(input));

    // Act
    const response = await importOrdersHandler(batchOf(firstRecord('s3-import-created')), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(entries()).toHaveLength(2);
    expect(s3Mock).not.toHaveReceivedCommand(PutObjectCommand);
  });

  it('retries the entries SNS reports as failed, and only those', async () => {
    // Prepare
    s3Mock.on(GetObjectCommand).callsFake(async () => objectBody(importFile()));
    snsMock
      .on(PublishBatchCommand)
      .callsFakeOnce(async (input: PublishBatchCommandInput) => ({
        Successful: allPublished(input).Successful.filter((entry) => entry.Id !== '3'),
        Failed: [{ Id: '3', Code: 'InternalError', SenderFault: false, Message: 'Internal error' }],
      }))
      .callsFake(async (input: PublishBatchCommandInput) => allPublished(input));

    // Act
    const response = await importOrdersHandler(batchOf(firstRecord('s3-import-created')), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    const calls = snsMock.commandCalls(PublishBatchCommand).map((call) => (call.args[0].input as PublishBatchCommandInput).PublishBatchRequestEntries ?? []);
    expect(calls.map((batch) => batch.length)).toEqual([10, 1, 10, 3]);
    expect(calls[1]?.[0]?.MessageDeduplicationId).toBe(calls[0]?.[3]?.MessageDeduplicationId);
  });

  it('fails only the import whose object is gone (NoSuchKey); another import in the batch completes', async () => {
    // Prepare
    const gone = importRecordFor('incoming/2026-11-22/deleted.ndjson');
    s3Mock.on(GetObjectCommand).callsFake(async (input: { Key: string }) => {
      if (input.Key === 'incoming/2026-11-22/deleted.ndjson') throw new NoSuchKey({ message: 'The specified key does not exist.', $metadata: { httpStatusCode: 404 } });
      return objectBody(importFile());
    });
    snsMock.on(PublishBatchCommand).callsFake(async (input: PublishBatchCommandInput) => allPublished(input));

    // Act
    const response = await importOrdersHandler(batchOf(firstRecord('s3-import-created'), gone), context);

    // Assess
    expect(response).toEqual(ids(gone));
    expect(entries()).toHaveLength(23);
  });

  it('throws when its only record fails (batch size 1), so the import job returns to the queue', async () => {
    // Prepare
    s3Mock.on(GetObjectCommand).callsFake(async () => objectBody(importFile()));
    snsMock.on(PublishBatchCommand).rejects(new ThrottledException({ message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } }));

    // Act + Assess
    await expect(importOrdersHandler(batchOf(firstRecord('s3-import-created')), context)).rejects.toBeInstanceOf(FullBatchFailureError);
    expect(s3Mock).not.toHaveReceivedCommand(PutObjectCommand);
  });

  it('fails an import whose lines SNS keeps refusing (PublishError), without writing its report yet', async () => {
    // Prepare
    const other = importRecordFor('incoming/2026-11-22/small.ndjson');
    s3Mock.on(GetObjectCommand, { Key: KEY }).callsFake(async () => objectBody(importFile()));
    s3Mock.on(GetObjectCommand, { Key: 'incoming/2026-11-22/small.ndjson' }).callsFake(async () => objectBody(`${JSON.stringify(digital)}\nnot json\n`));
    snsMock.on(PublishBatchCommand).callsFake(async (input: PublishBatchCommandInput) => {
      const refused = (input.PublishBatchRequestEntries ?? []).filter((entry) => (entry.Message as string).includes(`import:${KEY}:1"`));
      return {
        Successful: allPublished(input).Successful.filter((entry) => !refused.some((r) => r.Id === entry.Id)),
        Failed: refused.map((entry) => ({ Id: entry.Id, Code: 'KMSThrottling', SenderFault: false })),
      };
    });

    // Act
    const response = await importOrdersHandler(batchOf(firstRecord('s3-import-created'), other), context);

    // Assess
    expect(response).toEqual(ids(firstRecord('s3-import-created')));
    expect((s3Mock.commandCalls(PutObjectCommand).map((call) => call.args[0].input as PutObjectCommandInput)).map((input) => input.Key)).toEqual(['rejected/incoming/2026-11-22/small.ndjson.json']);
  });

  it('treats the s3:TestEvent as a no-op and fails an unparseable body, never its neighbour', async () => {
    // Prepare
    const test = asNewMessage(firstRecord('s3-test-event'));
    const invalid = asNewMessage(firstRecord('invalid-body'));
    s3Mock.on(GetObjectCommand).callsFake(async () => objectBody(`${JSON.stringify(digital)}\n`));
    snsMock.on(PublishBatchCommand).callsFake(async (input: PublishBatchCommandInput) => allPublished(input));

    // Act
    const response = await importOrdersHandler(batchOf(test, invalid, firstRecord('s3-import-created')), context);

    // Assess
    expect(response).toEqual(ids(invalid));
    expect(s3Mock).toHaveReceivedCommandTimes(GetObjectCommand, 1);
    expect(entries()).toHaveLength(1);
  });

  it('publishes events every consumer accepts even for a very long key', async () => {
    // Prepare
    const longKey = `incoming/2026-11-22/${'partner-feed-'.repeat(20)}.ndjson`;
    s3Mock.on(GetObjectCommand).callsFake(async () => objectBody(`${JSON.stringify(digital)}\n`));
    snsMock.on(PublishBatchCommand).callsFake(async (input: PublishBatchCommandInput) => allPublished(input));

    // Act
    const response = await importOrdersHandler(batchOf(importRecordFor(longKey)), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(() => parseOrderEvent(entries()[0]?.Message as string)).not.toThrow();
    expect(entries()[0]?.MessageAttributes?.correlationId?.StringValue?.length).toBeLessThanOrEqual(128);
  });

  it('works wrapped in its middleware (the deployed handler)', async () => {
    // Prepare
    s3Mock.on(GetObjectCommand).callsFake(async () => objectBody(importFile()));
    snsMock.on(PublishBatchCommand).callsFake(async (input: PublishBatchCommandInput) => allPublished(input));

    // Act
    const response = await handler(batchOf(firstRecord('s3-import-created')), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(entries()).toHaveLength(23);
  });
});
