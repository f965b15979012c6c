/**
 * Reads every shard of a Kinesis stream for a Firehose stream (`KinesisStreamAsSource`):
 * GetShardIterator / GetRecords per shard, children only after their parents are drained (per-shard
 * order across resharding), resuming after the last delivered sequence number.
 *
 * AWS starts a new Firehose at LATEST; locally every shard starts at TRIM_HORIZON so records put
 * while `npm start` provisions the stack are not skipped.
 */
import {
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-kinesis';
import type { Shard } from '@aws-sdk/client-kinesis';
import type { BufferedRecord } from './delivery.ts';

interface KinesisSourceOptions {
  client: KinesisClient;
  streamName: string;
  /** Last delivered sequence number per shard. */
  checkpoint: (shardId: string) => string | undefined;
  onRecords: (records: BufferedRecord[]) => void;
  /** True while the delivery buffer is full: reading pauses (back-pressure). */
  shouldPause: () => boolean;
  pollIntervalMs: number;
  log: (line: string) => void;
}

interface KinesisSource {
  stop(): Promise<void>;
}

/** GetRecords answers at most 10,000 records (Kinesis API reference). */
const GET_RECORDS_LIMIT = 10_000;
const SHARD_REFRESH_MS = 5_000;

function startKinesisSource(options: KinesisSourceOptions): KinesisSource {
  const { client, streamName } = options;
  const iterators = new Map<string, string>();
  /** Last sequence number read (ahead of the checkpoint until delivered). */
  const readPositions = new Map<string, string>();
  const drained = new Set<string>();
  let shards: Shard[] = [];
  let shardsListedAt = 0;
  let stopped = false;
  let missingReported = false;
  let wake: (() => void) | undefined;
  let sleeping: NodeJS.Timeout | undefined;

  async function listShards(): Promise<Shard[]> {
    const all: Shard[] = [];
    let nextToken: string | undefined;
    do {
      const page = await client.send(new ListShardsCommand(nextToken === undefined ? { StreamName: streamName } : { NextToken: nextToken }));
      all.push(...(page.Shards ?? []));
      nextToken = page.NextToken;
    } while (nextToken !== undefined);
    return all;
  }

  async function iteratorFor(shardId: string): Promise<string | undefined> {
    const cached = iterators.get(shardId);
    if (cached !== undefined) return cached;
    const after = readPositions.get(shardId) ?? options.checkpoint(shardId);
    const output = await client.send(
      new GetShardIteratorCommand(
        after === undefined
          ? { StreamName: streamName, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }
          : { StreamName: streamName, ShardId: shardId, ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: after },
      ),
    );
    return output.ShardIterator;
  }

  /** A shard is readable once the shards it was split or merged from are drained. */
  function readable(shard: Shard, known: Set<string>): boolean {
    const parents = [shard.ParentShardId, shard.AdjacentParentShardId].filter((id): id is string => id !== undefined && known.has(id));
    return parents.every((parent) => drained.has(parent));
  }

  /** Reads each readable shard once; true when some shard had more records waiting. */
  async function pollOnce(): Promise<boolean> {
    if (Date.now() - shardsListedAt > SHARD_REFRESH_MS) {
      shards = await listShards();
      shardsListedAt = Date.now();
    }
    const known = new Set(shards.map((shard) => shard.ShardId ?? ''));
    let behind = false;
    for (const shard of shards) {
      const shardId = shard.ShardId ?? '';
      if (stopped || options.shouldPause()) return false;
      if (drained.has(shardId) || !readable(shard, known)) continue;
      const iterator = await iteratorFor(shardId);
      if (iterator === undefined) {
        drained.add(shardId);
        continue;
      }
      try {
        const output = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: GET_RECORDS_LIMIT }));
        const records = output.Records ?? [];
        if (records.length > 0) {
          options.onRecords(
            records.map((record) => ({
              data: Buffer.from(record.Data ?? new Uint8Array()),
              arrival: record.ApproximateArrivalTimestamp?.getTime() ?? Date.now(),
              shardId,
              sequenceNumber: record.SequenceNumber ?? '',
              ...(record.PartitionKey === undefined ? {} : { partitionKey: record.PartitionKey }),
            })),
          );
          readPositions.set(shardId, records.at(-1)?.SequenceNumber ?? '');
        }
        if (output.NextShardIterator === undefined || output.NextShardIterator === null) {
          // Closed shard fully read: its children may start (and the list may have changed).
          iterators.delete(shardId);
          drained.add(shardId);
          shardsListedAt = 0;
        } else {
          iterators.set(shardId, output.NextShardIterator);
          if (records.length > 0 && (output.MillisBehindLatest ?? 0) > 0) behind = true;
        }
      } catch (error) {
        if (!(error instanceof ExpiredIteratorException)) throw error;
        iterators.delete(shardId); // re-acquired after the last record read
      }
    }
    return behind;
  }

  const loop = (async () => {
    while (!stopped) {
      let delay = options.pollIntervalMs;
      try {
        if (!options.shouldPause()) delay = (await pollOnce()) ? 0 : options.pollIntervalMs;
        missingReported = false;
      } catch (error) {
        if (error instanceof ResourceNotFoundException) {
          if (!missingReported) options.log(`[firehose] source stream ${streamName} not found; waiting for it`);
          missingReported = true;
          shardsListedAt = 0;
          iterators.clear();
        } else if (!stopped) {
          options.log(`[firehose] reading ${streamName} failed: ${(error as Error).message}`);
        }
        delay = Math.max(options.pollIntervalMs, 1_000);
      }
      if (delay > 0 && !stopped) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          sleeping = setTimeout(resolve, delay);
        });
        wake = undefined;
      }
    }
  })();

  return {
    async stop() {
      stopped = true;
      clearTimeout(sleeping);
      wake?.();
      await loop;
    },
  };
}

export { startKinesisSource };
export type { KinesisSource };
