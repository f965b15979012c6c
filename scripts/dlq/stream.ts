/**
 * The Kinesis on-failure queue holds pointers, not data: Lambda writes there, for a batch it gave up on, the shard
 * and the first and last sequence numbers (Lambda developer guide, "Retaining discarded batch records for a Kinesis
 * event source"). Redriving one re-reads those records from the stream (GetShardIterator AT_SEQUENCE_NUMBER,
 * GetRecords) and invokes the consumer that failed them directly, with the event its mapping would have built.
 *
 * Why re-invoke rather than re-put the records to the stream: every consumer of the stream reads what is put there.
 * Re-putting would hand the records again to Firehose (a second copy in the lake) and to any other consumer, to fix
 * one consumer's failure. Invoking only the consumer that failed does not; it needs `lambda:InvokeFunction` on
 * that function (locally: the edge's `POST /_local/invoke`). The records must still be in the stream: retention is
 * the stream's retention period (DescribeStreamSummary); a pointer older than that is refused, naming the
 * retention (beyondRetention); replay its records from the lake (scripts/dlq/README.md).
 */
import { DescribeStreamSummaryCommand, GetRecordsCommand, GetShardIteratorCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { isRecord } from '#lib/domain/validate.ts';
import { DlqError } from './errors.ts';

/** The part of an on-failure record the redrive reads. */
interface KinesisFailurePointer {
  functionArn: string;
  condition: string;
  approximateInvokeCount?: number;
  shardId: string;
  startSequenceNumber: string;
  endSequenceNumber: string;
  streamArn: string;
  batchSize: number;
  approximateArrivalOfFirstRecord?: string;
}

interface StreamRecord {
  sequenceNumber: string;
  partitionKey: string;
  data: Uint8Array;
  approximateArrivalTimestamp: Date;
}

/**
 * Reads an on-failure record (SQS message body); undefined when the body is not one.
 *
 * @example
 * parseFailurePointer(message.Body)?.startSequenceNumber;
 */
function parseFailurePointer(body: string): KinesisFailurePointer | undefined {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (!isRecord(value) || !isRecord(value.KinesisBatchInfo)) return undefined;
  const info = value.KinesisBatchInfo;
  const context = isRecord(value.requestContext) ? value.requestContext : {};
  if (typeof info.shardId !== 'string' || typeof info.startSequenceNumber !== 'string' || typeof info.endSequenceNumber !== 'string' || typeof info.streamArn !== 'string') return undefined;
  return {
    functionArn: String(context.functionArn ?? ''),
    condition: String(context.condition ?? ''),
    ...(typeof context.approximateInvokeCount === 'number' ? { approximateInvokeCount: context.approximateInvokeCount } : {}),
    shardId: info.shardId,
    startSequenceNumber: info.startSequenceNumber,
    endSequenceNumber: info.endSequenceNumber,
    streamArn: info.streamArn,
    batchSize: Number(info.batchSize ?? 0),
    ...(typeof info.approximateArrivalOfFirstRecord === 'string' ? { approximateArrivalOfFirstRecord: info.approximateArrivalOfFirstRecord } : {}),
  };
}

const streamNameOf = (streamArn: string): string => streamArn.split(':stream/')[1] ?? streamArn;

/** Reads the records a pointer names, first to last sequence number (inclusive), from the shard. */
async function readPointedRecords(kinesis: KinesisClient, pointer: KinesisFailurePointer): Promise<StreamRecord[]> {
  const end = BigInt(pointer.endSequenceNumber);
  let iterator: string | undefined;
  try {
    iterator = (
      await kinesis.send(
        new GetShardIteratorCommand({
          StreamName: streamNameOf(pointer.streamArn),
          ShardId: pointer.shardId,
          ShardIteratorType: 'AT_SEQUENCE_NUMBER',
          StartingSequenceNumber: pointer.startSequenceNumber,
        }),
      )
    ).ShardIterator;
  } catch (error) {
    throw new DlqError(
      `cannot read ${pointer.shardId} of ${streamNameOf(pointer.streamArn)} at ${pointer.startSequenceNumber} (${(error as Error).name}: ${(error as Error).message}); ` +
        'if the records are older than the stream retention, replay them from the lake (scripts/dlq/README.md)',
      { cause: error },
    );
  }
  const records: StreamRecord[] = [];
  for (let reads = 0; iterator && reads < 1000; reads += 1) {
    const out = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
    for (const record of out.Records ?? []) {
      if (BigInt(record.SequenceNumber ?? '0') > end) return records;
      records.push({
        sequenceNumber: record.SequenceNumber ?? '',
        partitionKey: record.PartitionKey ?? '',
        data: record.Data ?? new Uint8Array(),
        approximateArrivalTimestamp: record.ApproximateArrivalTimestamp ?? new Date(),
      });
    }
    if ((out.Records ?? []).length === 0 && (out.MillisBehindLatest ?? 0) === 0) break;
    iterator = out.NextShardIterator;
  }
  return records;
}

/**
 * The event Lambda's Kinesis mapping would build for these records, with a tumbling window of its own (state {},
 * final invocation) so a windowed consumer (a tumbling window) counts and publishes them at once.
 */
function kinesisEventFor(pointer: KinesisFailurePointer, records: StreamRecord[], region: string): Record<string, unknown> {
  const now = new Date();
  return {
    Records: records.map((record) => ({
      kinesis: {
        kinesisSchemaVersion: '1.0',
        partitionKey: record.partitionKey,
        sequenceNumber: record.sequenceNumber,
        data: Buffer.from(record.data).toString('base64'),
        approximateArrivalTimestamp: record.approximateArrivalTimestamp.getTime() / 1000,
      },
      eventSource: 'aws:kinesis',
      eventVersion: '1.0',
      eventID: `${pointer.shardId}:${record.sequenceNumber}`,
      eventName: 'aws:kinesis:record',
      invokeIdentityArn: '',
      awsRegion: region,
      eventSourceARN: pointer.streamArn,
    })),
    window: { start: now.toISOString(), end: now.toISOString() },
    state: {},
    shardId: pointer.shardId,
    eventSourceARN: pointer.streamArn,
    isFinalInvokeForWindow: true,
    isWindowTerminatedEarly: false,
  };
}

/** Item failures a Kinesis consumer answered (ReportBatchItemFailures), if any. */
function reportedFailures(payload: unknown): string[] {
  if (!isRecord(payload) || !Array.isArray(payload.batchItemFailures)) return [];
  return payload.batchItemFailures.map((failure) => (isRecord(failure) ? String(failure.itemIdentifier) : String(failure)));
}

/** A stream's retention in hours (DescribeStreamSummary RetentionPeriodHours). */
async function retentionHoursOf(kinesis: KinesisClient, streamArn: string): Promise<number | undefined> {
  const out = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: streamNameOf(streamArn) }));
  return out.StreamDescriptionSummary?.RetentionPeriodHours;
}

/**
 * Why a pointer's records can no longer all be read, or undefined while they can: its first record arrived
 * (`approximateArrivalOfFirstRecord`, written by Lambda) longer ago than the stream keeps records. Kinesis then
 * has trimmed them, and re-reading would invoke the consumer with what is left, or nothing.
 *
 * @example
 * const gone = beyondRetention(pointer, 336, new Date()); // "records ... arrived 2026-11-01T..., 400 h ago, ..."
 */
function beyondRetention(pointer: KinesisFailurePointer, retentionHours: number, now: Date): string | undefined {
  const arrived = Date.parse(pointer.approximateArrivalOfFirstRecord ?? '');
  if (Number.isNaN(arrived) || now.getTime() - arrived <= retentionHours * 3_600_000) return undefined;
  const hours = Math.floor((now.getTime() - arrived) / 3_600_000);
  return (
    `records ${pointer.startSequenceNumber}..${pointer.endSequenceNumber} of ${pointer.shardId} arrived ${new Date(arrived).toISOString()}, ${hours} h ago: ` +
    `older than ${streamNameOf(pointer.streamArn)}'s retention of ${retentionHours} h, so Kinesis no longer has them all. ` +
    'The pointer stays in the queue; replay the records from the lake (scripts/dlq/README.md, "Replaying the data lake from Kinesis")'
  );
}

export { beyondRetention, retentionHoursOf, kinesisEventFor, parseFailurePointer, readPointedRecords, reportedFailures, streamNameOf };
export type { KinesisFailurePointer };
