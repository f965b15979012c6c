import '../helpers/env.ts';
import { Readable } from 'node:stream';
import { FullBatchFailureError } from '@aws-lambda-powertools/batch';
import { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client, type PutObjectCommandInput } from '@aws-sdk/client-s3';
import { PublishBatchCommand, SNSClient, ThrottledException, type PublishBatchCommandInput } from '@aws-sdk/client-sns';
import { sdkStreamMixin } from '@smithy/core/serde';
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { handler, importOrdersHandler } from '../../../functions/importOrders.ts';
import { parseOrderEvent } from '#lib/events/order-events.ts';
import { fakeContext } from '../helpers/context.ts';
import { DEPLOYED, stubDeployedEnv } from '../helpers/env.ts';
import { asNewMessage, batchOf, bodyOf, firstRecord } from '../helpers/fixtures.ts';

const IMPORTS_BUCKET = 'orderflow-dev-imports-123456789012';
const KEY = 'incoming/2026-11-22/black friday #1.ndjson';
const s3Mock = mockClient(S3Client);
const snsMock = mockClient(SNSClient);
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

  afterEach(() => {
    s3Mock.reset();
    snsMock.reset();
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
    expect(s3Mock).toHaveReceivedCommandWith(GetObjectCommand, { Bucket: IMPORTS_BUCKET, Key: KEY });
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

  it('places the same orders with the same ids when the same file version is imported twice (SNS deduplicates them)', async () => {
    // Prepare
    s3Mock.on(GetObjectCommand).callsFake(async () => objectBody(importFile()));
    snsMock.on(PublishBatchCommand).callsFake(async (input: PublishBatchCommandInput) => allPublished(input));

    // Act
    await importOrdersHandler(batchOf(firstRecord('s3-import-created')), context);
    await importOrdersHandler(batchOf(firstRecord('s3-import-created')), context);

    // Assess
    const dedupIds = entries().map((entry) => entry.MessageDeduplicationId);
    expect(dedupIds).toHaveLength(46);
    expect(dedupIds.slice(23)).toEqual(dedupIds.slice(0, 23));
    expect(new Set(dedupIds).size).toBe(23);
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
