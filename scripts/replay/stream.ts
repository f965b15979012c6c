/**
 * Reads every record that arrived in [from, to) from every shard of a stream: ListShards (every page, closed parent
 * shards included, so a resharded stream is read whole), then per shard an AT_TIMESTAMP iterator at `from` and
 * GetRecords until a record arrived at or after `to`, the shard ends (closed: no NextShardIterator) or the reader is
 * at the tip (an empty page with MillisBehindLatest 0). Kinesis API reference, GetShardIterator: AT_TIMESTAMP starts
 * at the first record at or after the timestamp; records older than the stream's retention are gone.
 */
import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand, type KinesisClient, type Shard } from '@aws-sdk/client-kinesis';
import type { ReplayWindow, StreamedRecord } from './rebuild.ts';

/** GetRecords returns at most 10,000 records a call (Kinesis API reference, GetRecords). */
const GET_RECORDS_LIMIT = 10_000;

/** Every shard of a stream, following NextToken (a call with NextToken must not name the stream). */
async function listShards(kinesis: KinesisClient, streamName: string): Promise<Shard[]> {
  const shards: Shard[] = [];
  let token: string | undefined;
  do {
    const page = await kinesis.send(new ListShardsCommand(token === undefined ? { StreamName: streamName } : { NextToken: token }));
    shards.push(...(page.Shards ?? []));
    token = page.NextToken;
  } while (token !== undefined);
  return shards;
}

/** The records of one shard in the window, in sequence order. */
async function readShard(kinesis: KinesisClient, streamName: string, shardId: string, window: ReplayWindow): Promise<StreamedRecord[]> {
  const records: StreamedRecord[] = [];
  const first = await kinesis.send(new GetShardIteratorCommand({ StreamName: streamName, ShardId: shardId, ShardIteratorType: 'AT_TIMESTAMP', Timestamp: window.from }));
  let iterator = first.ShardIterator;
  while (iterator !== undefined) {
    const page = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: GET_RECORDS_LIMIT }));
    for (const record of page.Records ?? []) {
      const arrivedAt = record.ApproximateArrivalTimestamp ?? new Date(0);
      if (arrivedAt >= window.to) return records;
      if (arrivedAt < window.from || record.SequenceNumber === undefined || record.Data === undefined) continue;
      records.push({ shardId, sequenceNumber: record.SequenceNumber, arrivedAt, data: record.Data });
    }
    if ((page.Records ?? []).length === 0 && page.MillisBehindLatest === 0) return records;
    iterator = page.NextShardIterator;
  }
  return records;
}

/**
 * Every record of the stream that arrived in the window, shard by shard.
 *
 * @example
 * const { shards, records } = await readStreamWindow(kinesis, 'orderflow-dev-order-stream', { from, to });
 */
async function readStreamWindow(kinesis: KinesisClient, streamName: string, window: ReplayWindow): Promise<{ shards: number; records: StreamedRecord[] }> {
  const shards = await listShards(kinesis, streamName);
  const records: StreamedRecord[] = [];
  for (const shard of shards) if (shard.ShardId !== undefined) records.push(...(await readShard(kinesis, streamName, shard.ShardId, window)));
  return { shards: shards.length, records };
}

export { readStreamWindow };
