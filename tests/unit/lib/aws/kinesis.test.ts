import '../../helpers/env.ts';
import { KinesisClient, ProvisionedThroughputExceededException, PutRecordsCommand, type PutRecordsCommandInput } from '@aws-sdk/client-kinesis';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_BYTES_PER_REQUEST, MAX_RECORDS_PER_REQUEST, putRecordsWithRetry, type StreamRecord } from '#lib/aws/kinesis.ts';

const STREAM = 'orderflow-dev-order-stream';
const kinesisMock = mockClient(KinesisClient);

const recordsOf = (count: number, bytes = 10): StreamRecord[] =>
  Array.from({ length: count }, (_, index) => ({ data: Buffer.alloc(bytes, index % 256), partitionKey: `order-${index}` }));

/** The partition keys each PutRecords call carried, call by call. */
const sentKeys = (): string[][] =>
  kinesisMock.commandCalls(PutRecordsCommand).map((call) => (call.args[0].input as PutRecordsCommandInput).Records?.map((entry) => entry.PartitionKey as string) ?? []);

/** A PutRecords answer rejecting the entries at these positions (the call itself succeeds: Kinesis API reference). */
const answerRejecting = (input: PutRecordsCommandInput, rejected: (key: string) => boolean) => {
  const entries = input.Records ?? [];
  const results = entries.map((entry, position) =>
    rejected(entry.PartitionKey as string)
      ? { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'Rate exceeded for shard shardId-000000000000 in stream orderflow-dev-order-stream under account 123456789012.' }
      : { SequenceNumber: `4965671058106321356241632908153747830298144643712752${String(position).padStart(4, '0')}`, ShardId: 'shardId-000000000000' },
  );
  return { FailedRecordCount: results.filter((result) => 'ErrorCode' in result).length, Records: results };
};

describe('Lib: aws/kinesis putRecordsWithRetry', () => {
  afterEach(() => {
    kinesisMock.reset();
  });

  it('writes every record in one PutRecords, in order, with its partition key', async () => {
    // Prepare
    kinesisMock.on(PutRecordsCommand).callsFake(async (input: PutRecordsCommandInput) => answerRejecting(input, () => false));
    const records = recordsOf(3);
    const sleep = vi.fn(async () => undefined);

    // Act
    const result = await putRecordsWithRetry(STREAM, records, { sleep });

    // Assess
    expect(result).toEqual({ failed: [] });
    expect(kinesisMock).toHaveReceivedCommandExactlyOnceWith(PutRecordsCommand, {
      StreamName: STREAM,
      Records: records.map((record) => ({ Data: record.data, PartitionKey: record.partitionKey })),
    });
    expect(sleep).not.toHaveBeenCalled();
  });

  it('retries only the records Kinesis rejected, after a backoff', async () => {
    // Prepare
    let call = 0;
    kinesisMock.on(PutRecordsCommand).callsFake(async (input: PutRecordsCommandInput) => {
      call += 1;
      return answerRejecting(input, (key) => call === 1 && (key === 'order-1' || key === 'order-3'));
    });
    const sleep = vi.fn(async () => undefined);

    // Act
    const result = await putRecordsWithRetry(STREAM, recordsOf(5), { sleep });

    // Assess
    expect(result).toEqual({ failed: [], lastErrorCode: 'ProvisionedThroughputExceededException' });
    expect(sentKeys()).toEqual([['order-0', 'order-1', 'order-2', 'order-3', 'order-4'], ['order-1', 'order-3']]);
    expect(sleep).toHaveBeenCalledTimes(1);
  });

  it('gives up after `attempts` tries and answers the indexes still rejected, with full-jitter exponential backoff', async () => {
    // Prepare
    kinesisMock.on(PutRecordsCommand).callsFake(async (input: PutRecordsCommandInput) => answerRejecting(input, (key) => key === 'order-2'));
    const sleep = vi.fn(async (_ms: number) => undefined);

    // Act
    const result = await putRecordsWithRetry(STREAM, recordsOf(4), { sleep, attempts: 4, baseDelayMs: 100 });

    // Assess
    expect(result).toEqual({ failed: [2], lastErrorCode: 'ProvisionedThroughputExceededException' });
    expect(sentKeys()).toEqual([['order-0', 'order-1', 'order-2', 'order-3'], ['order-2'], ['order-2'], ['order-2']]);
    const delays = sleep.mock.calls.map(([ms]) => ms);
    expect(delays).toHaveLength(3);
    delays.forEach((ms, retry) => {
      expect(ms).toBeGreaterThanOrEqual(0);
      expect(ms).toBeLessThan(100 * 2 ** retry);
    });
  });

  it(`splits requests at ${MAX_RECORDS_PER_REQUEST} records`, async () => {
    // Prepare
    kinesisMock.on(PutRecordsCommand).callsFake(async (input: PutRecordsCommandInput) => answerRejecting(input, () => false));

    // Act
    await putRecordsWithRetry(STREAM, recordsOf(1001), { sleep: async () => undefined });

    // Assess
    expect(sentKeys().map((keys) => keys.length)).toEqual([500, 500, 1]);
    expect(sentKeys().flat()).toEqual(recordsOf(1001).map((record) => record.partitionKey));
  });

  it('splits requests at 5 MiB of data plus partition keys', async () => {
    // Prepare: 1,000,000-byte records with 7-9 byte keys; five fit in 5 MiB (5,242,880 bytes), six do not.
    kinesisMock.on(PutRecordsCommand).callsFake(async (input: PutRecordsCommandInput) => answerRejecting(input, () => false));
    const records = recordsOf(12, 1_000_000);

    // Act
    await putRecordsWithRetry(STREAM, records, { sleep: async () => undefined });

    // Assess
    expect(sentKeys().map((keys) => keys.length)).toEqual([5, 5, 2]);
    for (const call of kinesisMock.commandCalls(PutRecordsCommand)) {
      const bytes = (call.args[0].input as PutRecordsCommandInput).Records?.reduce(
        (sum, entry) => sum + (entry.Data as Uint8Array).byteLength + Buffer.byteLength(entry.PartitionKey as string),
        0,
      );
      expect(bytes).toBeLessThanOrEqual(MAX_BYTES_PER_REQUEST);
    }
  });

  it('fills a request up to exactly 5 MiB', async () => {
    // Prepare: two records of exactly half the limit each (partition key included)
    kinesisMock.on(PutRecordsCommand).callsFake(async (input: PutRecordsCommandInput) => answerRejecting(input, () => false));
    const half = MAX_BYTES_PER_REQUEST / 2;
    const records = [
      { data: Buffer.alloc(half - 1), partitionKey: 'a' },
      { data: Buffer.alloc(half - 1), partitionKey: 'b' },
      { data: Buffer.alloc(1), partitionKey: 'c' },
    ];

    // Act
    await putRecordsWithRetry(STREAM, records, { sleep: async () => undefined });

    // Assess
    expect(sentKeys()).toEqual([['a', 'b'], ['c']]);
  });

  it('retries rejected records of every chunk, still within the limits', async () => {
    // Prepare
    let round = 0;
    kinesisMock.on(PutRecordsCommand).callsFake(async (input: PutRecordsCommandInput) => {
      if ((input.Records ?? []).some((entry) => entry.PartitionKey === 'order-0')) round += 1;
      return answerRejecting(input, (key) => round === 1 && Number(key.slice(6)) % 2 === 0);
    });

    // Act
    const result = await putRecordsWithRetry(STREAM, recordsOf(1200), { sleep: async () => undefined });

    // Assess
    expect(result.failed).toEqual([]);
    expect(sentKeys().map((keys) => keys.length)).toEqual([500, 500, 200, 500, 100]);
    expect(sentKeys().slice(3).flat().every((key) => Number(key.slice(6)) % 2 === 0)).toBe(true);
  });

  it('throws the SDK error when the whole call fails', async () => {
    // Prepare
    kinesisMock.on(PutRecordsCommand).rejects(
      new ProvisionedThroughputExceededException({ message: 'Rate exceeded for stream orderflow-dev-order-stream', $metadata: { httpStatusCode: 400 } }),
    );

    // Act + Assess
    await expect(putRecordsWithRetry(STREAM, recordsOf(2), { sleep: async () => undefined })).rejects.toBeInstanceOf(ProvisionedThroughputExceededException);
  });

  it('sends nothing for no records', async () => {
    expect(await putRecordsWithRetry(STREAM, [])).toEqual({ failed: [] });
    expect(kinesisMock).not.toHaveReceivedAnyCommand();
  });
});
