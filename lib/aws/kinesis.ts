import { setTimeout as delay } from 'node:timers/promises';
import { PutRecordsCommand, type PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import { kinesis } from './clients/kinesis.ts';

/** PutRecords limits: 500 records and 5 MiB (data plus partition keys) per request (Kinesis API reference). */
const MAX_RECORDS_PER_REQUEST = 500;
const MAX_BYTES_PER_REQUEST = 5 * 1024 * 1024;

interface StreamRecord {
  data: Uint8Array;
  /** Records with the same partition key go to the same shard, in order (here: orderId). */
  partitionKey: string;
}

interface PutOptions {
  /** Tries per record before giving up on it; default 4. */
  attempts?: number;
  /** First backoff in ms, doubled each retry with full jitter; default 100. */
  baseDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

interface PutResult {
  /** Indexes (into the input) of the records Kinesis still rejected after every try. */
  failed: number[];
  lastErrorCode?: string;
}

const recordBytes = (record: StreamRecord): number => record.data.byteLength + Buffer.byteLength(record.partitionKey);

/** Splits records (as indexes) into requests within both PutRecords limits, keeping their order. */
const chunk = (records: readonly StreamRecord[], indexes: readonly number[]): number[][] => {
  const chunks: number[][] = [];
  let current: number[] = [];
  let bytes = 0;
  for (const index of indexes) {
    const size = recordBytes(records[index] as StreamRecord);
    if (current.length === MAX_RECORDS_PER_REQUEST || (current.length > 0 && bytes + size > MAX_BYTES_PER_REQUEST)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(index);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
};

/**
 * Writes records to a Kinesis stream with PutRecords, 500 records / 5 MiB a request, and retries only the records
 * Kinesis rejected (a PutRecords call succeeds as a whole even when some records fail: check FailedRecordCount,
 * Kinesis developer guide, "Handling failures when using PutRecords"), with exponential backoff and full jitter.
 * Resolves with the records that still failed; an SDK error (the whole call failed) is thrown.
 *
 * @example
 * const { failed } = await putRecordsWithRetry('order-stream', events.map((e) => ({ data: encode(e), partitionKey: e.orderId })));
 */
const putRecordsWithRetry = async (streamName: string, records: readonly StreamRecord[], options: PutOptions = {}): Promise<PutResult> => {
  const { attempts = 4, baseDelayMs = 100, sleep = delay } = options;
  let pending = records.map((_, index) => index);
  let lastErrorCode: string | undefined;
  for (let attempt = 1; pending.length > 0 && attempt <= attempts; attempt++) {
    if (attempt > 1) await sleep(Math.random() * baseDelayMs * 2 ** (attempt - 2));
    const stillFailing: number[] = [];
    for (const indexes of chunk(records, pending)) {
      const entries: PutRecordsRequestEntry[] = indexes.map((index) => ({
        Data: (records[index] as StreamRecord).data,
        PartitionKey: (records[index] as StreamRecord).partitionKey,
      }));
      const result = await kinesis.send(new PutRecordsCommand({ StreamName: streamName, Records: entries }));
      if (!result.FailedRecordCount) continue;
      (result.Records ?? []).forEach((entry, position) => {
        if (entry.ErrorCode) {
          stillFailing.push(indexes[position] as number);
          lastErrorCode = entry.ErrorCode;
        }
      });
    }
    pending = stillFailing;
  }
  return { failed: pending, ...(lastErrorCode ? { lastErrorCode } : {}) };
};

export type { StreamRecord };
export { MAX_RECORDS_PER_REQUEST, MAX_BYTES_PER_REQUEST, putRecordsWithRetry };
