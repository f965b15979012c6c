/**
 * The Kinesis event source mapping of Lambda, for one `AWS::Lambda::EventSourceMapping` on a
 * stream: one reader per shard, one batch in flight per shard (per-shard order), checkpoints kept
 * on disk so a restart resumes. Rules implemented are those of the Lambda developer guide, "Using
 * Lambda with Kinesis Data Streams": partial batch responses, bisect on error, retries, maximum
 * record age, on-failure destinations and tumbling windows.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KinesisClient, ListShardsCommand, type ShardIteratorType } from '@aws-sdk/client-kinesis';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetQueueUrlCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { AwsTarget } from '../provision/provision.ts';
import type { InvokeResult, LambdaRuntime } from '../runtime/runtime.ts';
import { isRecord } from '../template/template.ts';
import { LOCAL_CREDENTIALS, localClientConfig, type LocalClientConfig } from '../util/clients.ts';
import { EdgeJsonClient } from './edge-json.ts';
import type { PollerAccess } from './sqs.ts';
import { sleep } from '../util/wait.ts';
import { parseData, parsePatterns, passesFilters, type Pattern } from './filter.ts';
import { writeTextFileAtomicAsync } from '../util/json-file.ts';
import { CHECKPOINTS_FOLDER } from '../emulators/data-dir.ts';

interface KinesisMapping {
  logicalId: string;
  uuid: string;
  functionName: string;
  streamArn: string;
  /** Default 100, maximum 10,000. */
  batchSize: number;
  maximumBatchingWindowInSeconds: number;
  startingPosition: 'TRIM_HORIZON' | 'LATEST' | 'AT_TIMESTAMP';
  startingPositionTimestamp?: number;
  bisectBatchOnFunctionError: boolean;
  /** -1 = retry until the record expires. */
  maximumRetryAttempts: number;
  /** -1 = no age limit. */
  maximumRecordAgeInSeconds: number;
  onFailureDestination?: string;
  reportBatchItemFailures: boolean;
  tumblingWindowInSeconds: number;
  parallelizationFactor: number;
  filters: Pattern[];
  enabled: boolean;
}

interface KinesisEventRecord {
  kinesis: {
    kinesisSchemaVersion: '1.0';
    partitionKey: string;
    sequenceNumber: string;
    data: string;
    approximateArrivalTimestamp: number;
  };
  eventSource: 'aws:kinesis';
  eventVersion: '1.0';
  eventID: string;
  eventName: 'aws:kinesis:record';
  invokeIdentityArn: string;
  awsRegion: string;
  eventSourceARN: string;
}

/** What the shard reader keeps per shard: the checkpoint and the open tumbling window. */
interface ShardCheckpoint {
  sequenceNumber?: string;
  window?: { start: number; state: unknown };
}

interface CheckpointFile {
  streamArn: string;
  functionName: string;
  shards: Record<string, ShardCheckpoint>;
}

/** Lambda polls each shard about once per second when it is idle (Lambda "Polling and batching streams"). */
const IDLE_POLL_MS = 1000;
/** Synchronous invocation payload limit (Lambda quotas): 6 MB. */
const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;
/** Tumbling window state limit per shard (Lambda "Tumbling windows"): 1 MB; beyond it the window ends early. */
const MAX_WINDOW_STATE_BYTES = 1024 * 1024;

/** A record of a GetRecords answer in Kinesis's JSON protocol: `Data` base64, the arrival time in epoch seconds. */
interface FetchedRecord {
  SequenceNumber?: string;
  PartitionKey?: string;
  Data?: string;
  ApproximateArrivalTimestamp?: number;
}

/** When the record arrived, in epoch ms (now when the answer has no time). */
const arrivalMs = (record: FetchedRecord): number => (record.ApproximateArrivalTimestamp === undefined ? Date.now() : record.ApproximateArrivalTimestamp * 1000);

function readMapping(logicalId: string, uuid: string, props: Record<string, unknown>): KinesisMapping {
  const types = Array.isArray(props.FunctionResponseTypes) ? props.FunctionResponseTypes : [];
  const destination = isRecord(props.DestinationConfig) && isRecord(props.DestinationConfig.OnFailure) ? props.DestinationConfig.OnFailure.Destination : undefined;
  const timestamp = props.StartingPositionTimestamp === undefined ? undefined : Number(props.StartingPositionTimestamp) * 1000;
  return {
    logicalId,
    uuid,
    functionName: String(props.FunctionName),
    streamArn: String(props.EventSourceArn),
    batchSize: props.BatchSize === undefined ? 100 : Number(props.BatchSize),
    maximumBatchingWindowInSeconds: Number(props.MaximumBatchingWindowInSeconds ?? 0),
    startingPosition: (props.StartingPosition ?? 'LATEST') as KinesisMapping['startingPosition'],
    ...(timestamp === undefined ? {} : { startingPositionTimestamp: timestamp }),
    bisectBatchOnFunctionError: props.BisectBatchOnFunctionError === true || props.BisectBatchOnFunctionError === 'true',
    maximumRetryAttempts: Number(props.MaximumRetryAttempts ?? -1),
    maximumRecordAgeInSeconds: Number(props.MaximumRecordAgeInSeconds ?? -1),
    ...(destination === undefined ? {} : { onFailureDestination: String(destination) }),
    reportBatchItemFailures: types.includes('ReportBatchItemFailures'),
    tumblingWindowInSeconds: Number(props.TumblingWindowInSeconds ?? 0),
    parallelizationFactor: Number(props.ParallelizationFactor ?? 1),
    filters: parsePatterns(props.FilterCriteria),
    enabled: props.Enabled === undefined || props.Enabled === true || props.Enabled === 'true',
  };
}

function streamNameOf(arn: string): string {
  return arn.slice(arn.indexOf(':stream/') + ':stream/'.length);
}

/** Lambda's window bounds print as ISO 8601 without milliseconds, e.g. 2020-12-09T07:04:00Z. */
function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Sequence numbers are decimal strings of up to 128 bits: compare as BigInt. */
function compareSequence(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** What the function reported, per Lambda's stream partial batch response rules. */
type BatchOutcome =
  | { kind: 'success'; state?: unknown }
  | { kind: 'partial'; firstFailed: number; state?: unknown }
  | { kind: 'failure'; reason: string; functionError: boolean };

function interpret(records: KinesisEventRecord[], result: InvokeResult, mapping: KinesisMapping): BatchOutcome {
  if (!result.ok) return { kind: 'failure', reason: `${result.error.errorType}: ${result.error.errorMessage}`, functionError: true };
  const payload = result.payload;
  // With tumbling windows the response must carry `state`, else the invocation counts as failed.
  if (mapping.tumblingWindowInSeconds > 0 && (!isRecord(payload) || !('state' in payload))) {
    return { kind: 'failure', reason: 'the response has no state (tumbling window)', functionError: true };
  }
  const state = isRecord(payload) ? payload.state : undefined;
  if (!mapping.reportBatchItemFailures || payload === null || payload === undefined) return { kind: 'success', state };
  if (!isRecord(payload)) return { kind: 'failure', reason: 'the response is not a batch item failures object', functionError: true };
  const failures = payload.batchItemFailures;
  if (failures === null || failures === undefined || (Array.isArray(failures) && failures.length === 0)) return { kind: 'success', state };
  if (!Array.isArray(failures)) return { kind: 'failure', reason: 'batchItemFailures is not a list', functionError: true };
  // The lowest reported sequence number is the checkpoint; an empty, null or unknown itemIdentifier fails the batch.
  let firstFailed = records.length;
  for (const failure of failures) {
    const id = isRecord(failure) ? failure.itemIdentifier : undefined;
    const index = typeof id === 'string' && id !== '' ? records.findIndex((r) => r.kinesis.sequenceNumber === id) : -1;
    if (index < 0) return { kind: 'failure', reason: `invalid itemIdentifier ${JSON.stringify(id)}`, functionError: true };
    firstFailed = Math.min(firstFailed, index);
  }
  return { kind: 'partial', firstFailed, state };
}

class KinesisPoller {
  readonly mapping: KinesisMapping;
  private readonly runtime: LambdaRuntime;
  private readonly target: AwsTarget;
  private readonly log: (line: string) => void;
  /** The mapping's reads (GetShardIterator, GetRecords), as its function's execution role, without the SDK. */
  private readonly kinesis: EdgeJsonClient;
  /** ListShards and GetQueueUrl, which Lambda's mapping needs no permission of the role for: the local cloud's identity. */
  private readonly lookup: KinesisClient;
  private readonly credentials?: LocalClientConfig['credentials'];
  private readonly abort = new AbortController();
  private readonly checkpointPath: string;
  private checkpoint: CheckpointFile;
  private saving: Promise<void> = Promise.resolve();
  private readers: Promise<void>[] = [];
  private readonly roleArn: string;
  readonly stats = { invocations: 0, records: 0, discarded: 0 };

  /** What the function's role must allow on the stream and the on-failure destination (IamGuard.checkMappings). */
  get access(): PollerAccess {
    const { logicalId, streamArn, onFailureDestination } = this.mapping;
    return { logicalId, functionName: this.runtime.get(this.mapping.functionName).config.name, sourceArn: streamArn, ...(onFailureDestination === undefined ? {} : { onFailureDestination }) };
  }

  constructor(options: {
    mapping: KinesisMapping;
    runtime: LambdaRuntime;
    target: AwsTarget;
    dataDir: string;
    log?: (line: string) => void;
    /** The execution role's credentials (Lambda reads the stream with them); default the local cloud's own. */
    credentials?: LocalClientConfig['credentials'];
  }) {
    this.mapping = options.mapping;
    this.runtime = options.runtime;
    this.target = options.target;
    this.log = options.log ?? (() => {});
    if (options.credentials) this.credentials = options.credentials;
    this.kinesis = new EdgeJsonClient({ endpoint: this.target.endpoint, region: this.target.region, service: 'kinesis', credentials: this.credentials ?? LOCAL_CREDENTIALS });
    this.lookup = new KinesisClient(localClientConfig(this.target.endpoint, this.target.region));
    this.checkpointPath = join(options.dataDir, CHECKPOINTS_FOLDER, `${this.mapping.uuid}.json`);
    const fn = this.runtime.get(this.mapping.functionName);
    this.roleArn = fn.config.roleArn;
    this.checkpoint = { streamArn: this.mapping.streamArn, functionName: fn.config.name, shards: {} };
  }

  async start(): Promise<void> {
    if (!this.mapping.enabled) return;
    if (this.mapping.parallelizationFactor > 1) {
      this.log(`${this.mapping.logicalId}: ParallelizationFactor ${this.mapping.parallelizationFactor} runs as 1 locally (one batch per shard; order per shard holds)`);
    }
    try {
      const saved = JSON.parse(await readFile(this.checkpointPath, 'utf8')) as CheckpointFile;
      if (saved.streamArn === this.mapping.streamArn) this.checkpoint = saved;
    } catch {
      // First start: no checkpoint yet.
    }
    const shards: string[] = [];
    let next: string | undefined;
    do {
      const page = await this.lookup.send(new ListShardsCommand(next ? { NextToken: next } : { StreamName: streamNameOf(this.mapping.streamArn) }));
      for (const shard of page.Shards ?? []) if (shard.ShardId) shards.push(shard.ShardId);
      next = page.NextToken;
    } while (next);
    this.readers = shards.map((shardId) => this.readShard(shardId));
  }

  private async iterator(shardId: string, after?: string): Promise<string | undefined> {
    const saved = after ?? this.checkpoint.shards[shardId]?.sequenceNumber;
    let type: ShardIteratorType = saved ? 'AFTER_SEQUENCE_NUMBER' : this.mapping.startingPosition;
    const input: { StreamName: string; ShardId: string; ShardIteratorType: ShardIteratorType; StartingSequenceNumber?: string; Timestamp?: number } = {
      StreamName: streamNameOf(this.mapping.streamArn),
      ShardId: shardId,
      ShardIteratorType: type,
    };
    if (saved) input.StartingSequenceNumber = saved;
    else if (type === 'AT_TIMESTAMP') {
      if (this.mapping.startingPositionTimestamp === undefined) type = 'TRIM_HORIZON';
      else input.Timestamp = this.mapping.startingPositionTimestamp / 1000;
      input.ShardIteratorType = type;
    }
    return (await this.kinesis.call<{ ShardIterator?: string }>('GetShardIterator', input, this.abort.signal)).ShardIterator;
  }

  /** One reader per shard: fetch, batch, invoke, checkpoint — never two batches of a shard at once. */
  private async readShard(shardId: string): Promise<void> {
    const signal = this.abort.signal;
    let iterator: string | undefined;
    let lastFetched: string | undefined;
    let buffer: FetchedRecord[] = [];
    let firstBufferedAt = 0;
    while (!signal.aborted) {
      try {
        // No new records while somebody waits at the front door (runtime/execution-slots.ts).
        await this.runtime.slots?.whenNotBusy(signal);
        iterator ??= await this.iterator(shardId, lastFetched);
        let fetched = 0;
        if (iterator && buffer.length < this.mapping.batchSize) {
          const out = await this.kinesis.call<{ NextShardIterator?: string; Records?: FetchedRecord[] }>(
            'GetRecords',
            // StreamARN names the stream for IAM (the iterator alone names none).
            { ShardIterator: iterator, StreamARN: this.mapping.streamArn, Limit: Math.min(10_000, this.mapping.batchSize - buffer.length) },
            signal,
          );
          iterator = out.NextShardIterator;
          const records = out.Records ?? [];
          fetched = records.length;
          if (records.length > 0) {
            if (buffer.length === 0) firstBufferedAt = Date.now();
            buffer.push(...records);
            lastFetched = records[records.length - 1]?.SequenceNumber;
          }
          if (!iterator && buffer.length === 0) {
            // A closed shard, fully read (after a reshard): nothing more will arrive here.
            await this.closeWindowIfDue(shardId, Number.POSITIVE_INFINITY);
            return;
          }
        }
        const windowMs = this.mapping.maximumBatchingWindowInSeconds * 1000;
        const batchReady =
          buffer.length >= this.mapping.batchSize || (buffer.length > 0 && (windowMs <= 0 || Date.now() - firstBufferedAt >= windowMs || !iterator));
        if (batchReady) {
          const batch = this.takeBatch(shardId, buffer);
          buffer = buffer.slice(batch.length);
          if (buffer.length > 0) firstBufferedAt = Date.now();
          await this.processBatch(shardId, batch);
          continue;
        }
        await this.closeWindowIfDue(shardId, Date.now());
        if (fetched === 0) await sleep(buffer.length > 0 ? Math.min(IDLE_POLL_MS, windowMs) : IDLE_POLL_MS, signal);
      } catch (error) {
        if (signal.aborted) break;
        const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        if (/ExpiredIterator/.test(message)) {
          iterator = undefined;
          continue;
        }
        this.log(`${this.mapping.logicalId} ${shardId}: ${message}; retrying in 1 s`);
        iterator = undefined;
        // Refetch from the last checkpoint: what was buffered is read again.
        buffer = [];
        lastFetched = undefined;
        await sleep(IDLE_POLL_MS, signal);
      }
    }
  }

  /** The next batch: up to BatchSize records, within 6 MB, and (with tumbling windows) within one window. */
  private takeBatch(_shardId: string, buffer: FetchedRecord[]): FetchedRecord[] {
    const out: FetchedRecord[] = [];
    let bytes = 0;
    const windowOf = (record: FetchedRecord): number => this.windowStart(arrivalMs(record));
    const firstWindow = buffer[0] ? windowOf(buffer[0]) : 0;
    for (const record of buffer) {
      const size = (record.Data?.length ?? 0) + 300;
      if (out.length >= this.mapping.batchSize || (out.length > 0 && bytes + size > MAX_PAYLOAD_BYTES)) break;
      if (this.mapping.tumblingWindowInSeconds > 0 && windowOf(record) !== firstWindow) break;
      out.push(record);
      bytes += size;
    }
    return out;
  }

  private windowStart(ms: number): number {
    const size = this.mapping.tumblingWindowInSeconds * 1000;
    return Math.floor(ms / size) * size;
  }

  private toEventRecord(shardId: string, record: FetchedRecord): KinesisEventRecord {
    const sequenceNumber = record.SequenceNumber ?? '';
    return {
      kinesis: {
        kinesisSchemaVersion: '1.0',
        partitionKey: record.PartitionKey ?? '',
        sequenceNumber,
        data: record.Data ?? '',
        approximateArrivalTimestamp: arrivalMs(record) / 1000,
      },
      eventSource: 'aws:kinesis',
      eventVersion: '1.0',
      eventID: `${shardId}:${sequenceNumber}`,
      eventName: 'aws:kinesis:record',
      invokeIdentityArn: this.roleArn,
      awsRegion: this.target.region,
      eventSourceARN: this.mapping.streamArn,
    };
  }

  /** Records that match no filter are skipped (Lambda event filtering; `data` is matched decoded). */
  private passes(record: KinesisEventRecord): boolean {
    if (this.mapping.filters.length === 0) return true;
    const view = { ...record, kinesis: { ...record.kinesis, data: parseData(Buffer.from(record.kinesis.data, 'base64').toString('utf8')) } };
    return passesFilters({ ...view, data: view.kinesis.data }, this.mapping.filters);
  }

  private async processBatch(shardId: string, raw: FetchedRecord[]): Promise<void> {
    const all = raw.map((record) => this.toEventRecord(shardId, record));
    const last = all[all.length - 1];
    if (this.mapping.tumblingWindowInSeconds > 0 && all[0]) {
      // A record of a later window closes the open one first (final invocation for that window).
      await this.closeWindowIfDue(shardId, this.windowStart(all[0].kinesis.approximateArrivalTimestamp * 1000));
    }
    const records = all.filter((record) => this.passes(record));
    const settled = records.length === 0 || (await this.deliver(shardId, records, 0));
    // Records filtered out count as processed: the checkpoint moves past the whole batch.
    if (settled && last) await this.saveCheckpoint(shardId, last.kinesis.sequenceNumber);
  }

  /**
   * Invokes with retries: a function error bisects the batch when BisectBatchOnFunctionError is on
   * (splitting does not count as a retry), a partial response checkpoints before the lowest failed
   * record and retries from it, and records are discarded to the on-failure destination once
   * MaximumRetryAttempts or MaximumRecordAgeInSeconds is exceeded. Resolves true once every record
   * is settled (processed or discarded), false when the poller stopped first.
   */
  private async deliver(shardId: string, initial: KinesisEventRecord[], retriesSoFar: number): Promise<boolean> {
    let records = initial;
    let retries = retriesSoFar;
    const signal = this.abort.signal;
    while (records.length > 0) {
      if (signal.aborted) return false;
      const first = records[0] as KinesisEventRecord;
      const oldestAgeSeconds = Date.now() / 1000 - first.kinesis.approximateArrivalTimestamp;
      if (this.mapping.maximumRecordAgeInSeconds >= 0 && oldestAgeSeconds > this.mapping.maximumRecordAgeInSeconds) {
        await this.discard(shardId, records, 'RecordAgeExceeded', retries, undefined);
        return true;
      }
      const window = this.windowEvent(shardId, first, false);
      const event = window ? { Records: records, ...window } : { Records: records };
      this.stats.invocations += 1;
      const result = await this.runtime.invoke(this.mapping.functionName, event, { priority: 'background' });
      const outcome = interpret(records, result, this.mapping);
      if (outcome.kind === 'success') {
        this.stats.records += records.length;
        await this.keepWindowState(shardId, first, outcome.state);
        await this.saveCheckpoint(shardId, (records[records.length - 1] as KinesisEventRecord).kinesis.sequenceNumber);
        return true;
      }
      if (signal.aborted) return false;
      if (outcome.kind === 'partial') {
        // Checkpoint just before the lowest failed record; retry from it (the batch is bisected there).
        const done = records.slice(0, outcome.firstFailed);
        this.stats.records += done.length;
        await this.keepWindowState(shardId, first, outcome.state);
        const lastDone = done[done.length - 1];
        if (lastDone) await this.saveCheckpoint(shardId, lastDone.kinesis.sequenceNumber);
        records = records.slice(outcome.firstFailed);
        retries += 1;
      } else {
        this.log(`${this.mapping.logicalId} ${shardId}: batch of ${records.length} failed (${outcome.reason})`);
        if (this.mapping.bisectBatchOnFunctionError && records.length > 1) {
          const half = Math.ceil(records.length / 2);
          if (!(await this.deliver(shardId, records.slice(0, half), retries))) return false;
          return this.deliver(shardId, records.slice(half), retries);
        }
        retries += 1;
      }
      if (this.mapping.maximumRetryAttempts >= 0 && retries > this.mapping.maximumRetryAttempts) {
        await this.discard(shardId, records, 'RetryAttemptsExhausted', retries, result);
        return true;
      }
      // Back off between retries of the same records.
      await sleep(Math.min(100 * 2 ** Math.min(retries, 5), 3000), signal);
    }
    return true;
  }

  /** The tumbling window fields of the event (Lambda "Tumbling windows" for Kinesis). */
  private windowEvent(shardId: string, first: KinesisEventRecord, final: boolean, terminatedEarly = false): Record<string, unknown> | undefined {
    const size = this.mapping.tumblingWindowInSeconds * 1000;
    if (size <= 0) return undefined;
    const start = this.windowStart(first.kinesis.approximateArrivalTimestamp * 1000);
    const open = this.checkpoint.shards[shardId]?.window;
    const state = open && open.start === start ? open.state : {};
    return {
      window: { start: isoSeconds(start), end: isoSeconds(start + size) },
      state,
      shardId,
      eventSourceARN: this.mapping.streamArn,
      isFinalInvokeForWindow: final,
      isWindowTerminatedEarly: terminatedEarly,
    };
  }

  private async keepWindowState(shardId: string, first: KinesisEventRecord, state: unknown): Promise<void> {
    if (this.mapping.tumblingWindowInSeconds <= 0) return;
    const shard = (this.checkpoint.shards[shardId] ??= {});
    shard.window = { start: this.windowStart(first.kinesis.approximateArrivalTimestamp * 1000), state: state ?? {} };
    if (Buffer.byteLength(JSON.stringify(state ?? {})) > MAX_WINDOW_STATE_BYTES) {
      // Over 1 MB of state: Lambda ends the window early; the next invocation starts fresh state.
      await this.finalInvoke(shardId, true);
    }
  }

  /** Sends the final invocation of the open window once the window has ended (or a later window began). */
  private async closeWindowIfDue(shardId: string, nowOrNextWindow: number): Promise<void> {
    const open = this.checkpoint.shards[shardId]?.window;
    if (!open || this.mapping.tumblingWindowInSeconds <= 0) return;
    if (nowOrNextWindow < open.start + this.mapping.tumblingWindowInSeconds * 1000) return;
    await this.finalInvoke(shardId, false);
  }

  /** Final invocation: no records, isFinalInvokeForWindow true; retried until it succeeds, then the state is dropped. */
  private async finalInvoke(shardId: string, terminatedEarly: boolean): Promise<void> {
    const shard = this.checkpoint.shards[shardId];
    const open = shard?.window;
    if (!shard || !open) return;
    const size = this.mapping.tumblingWindowInSeconds * 1000;
    const event = {
      Records: [],
      window: { start: isoSeconds(open.start), end: isoSeconds(open.start + size) },
      state: open.state,
      shardId,
      eventSourceARN: this.mapping.streamArn,
      isFinalInvokeForWindow: !terminatedEarly,
      isWindowTerminatedEarly: terminatedEarly,
    };
    let attempt = 0;
    while (!this.abort.signal.aborted) {
      this.stats.invocations += 1;
      const result = await this.runtime.invoke(this.mapping.functionName, event, { priority: 'background' });
      if (result.ok) break;
      attempt += 1;
      this.log(`${this.mapping.logicalId} ${shardId}: final window invocation failed (${result.error.errorMessage}); retrying`);
      await sleep(Math.min(100 * 2 ** Math.min(attempt, 5), 3000), this.abort.signal);
    }
    if (this.abort.signal.aborted) return;
    delete shard.window;
    await this.persist();
  }

  /**
   * Sends the on-failure record (Lambda "Retain discarded batch records for a Kinesis event
   * source"): request and response context plus KinesisBatchInfo, then moves the checkpoint past
   * the discarded records.
   */
  private async discard(shardId: string, records: KinesisEventRecord[], condition: string, invokeCount: number, result: InvokeResult | undefined): Promise<void> {
    const first = records[0] as KinesisEventRecord;
    const last = records[records.length - 1] as KinesisEventRecord;
    this.stats.discarded += records.length;
    const fnConfig = this.runtime.get(this.mapping.functionName).config;
    const record = {
      requestContext: {
        requestId: result?.requestId ?? randomUUID(),
        functionArn: fnConfig.arn,
        condition,
        approximateInvokeCount: invokeCount,
      },
      responseContext: {
        statusCode: 200,
        executedVersion: '$LATEST',
        ...(result && !result.ok ? { functionError: 'Unhandled' } : {}),
      },
      version: '1.0',
      timestamp: new Date().toISOString(),
      KinesisBatchInfo: {
        shardId,
        startSequenceNumber: first.kinesis.sequenceNumber,
        endSequenceNumber: last.kinesis.sequenceNumber,
        approximateArrivalOfFirstRecord: new Date(first.kinesis.approximateArrivalTimestamp * 1000).toISOString(),
        approximateArrivalOfLastRecord: new Date(last.kinesis.approximateArrivalTimestamp * 1000).toISOString(),
        batchSize: records.length,
        streamArn: this.mapping.streamArn,
      },
    };
    const destination = this.mapping.onFailureDestination;
    this.log(`${this.mapping.logicalId} ${shardId}: discarding ${records.length} record(s) (${condition})${destination ? ` to ${destination}` : ''}`);
    if (destination) await this.sendToDestination(destination, JSON.stringify(record));
    await this.saveCheckpoint(shardId, last.kinesis.sequenceNumber);
  }

  /** A client configuration with the execution role's credentials, when the mapping has them. */
  private clientConfig(): LocalClientConfig {
    return localClientConfig(this.target.endpoint, this.target.region, this.credentials ? { credentials: this.credentials } : {});
  }

  private async sendToDestination(arn: string, body: string): Promise<void> {
    const [, , service, , account, name] = arn.split(':');
    if (service === 'sqs') {
      const sqs = new SQSClient(this.clientConfig());
      const lookup = new SQSClient(localClientConfig(this.target.endpoint, this.target.region));
      try {
        const url = (await lookup.send(new GetQueueUrlCommand({ QueueName: name, QueueOwnerAWSAccountId: account }))).QueueUrl;
        const fifo = name?.endsWith('.fifo');
        await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: body, ...(fifo ? { MessageGroupId: this.mapping.uuid, MessageDeduplicationId: randomUUID() } : {}) }));
      } finally {
        sqs.destroy();
        lookup.destroy();
      }
    } else if (service === 'sns') {
      const sns = new SNSClient(this.clientConfig());
      try {
        await sns.send(new PublishCommand({ TopicArn: arn, Message: body }));
      } finally {
        sns.destroy();
      }
    } else this.log(`${this.mapping.logicalId}: on-failure destination ${arn} is not emulated (SQS and SNS are)`);
  }

  private async saveCheckpoint(shardId: string, sequenceNumber: string): Promise<void> {
    const shard = (this.checkpoint.shards[shardId] ??= {});
    if (shard.sequenceNumber && compareSequence(shard.sequenceNumber, sequenceNumber) >= 0) return;
    shard.sequenceNumber = sequenceNumber;
    await this.persist();
  }

  /** Writes the checkpoint file durably (util/json-file.ts: temporary file, fsync, rename), one write at a time. */
  private persist(): Promise<void> {
    // After a failed write (disk full, directory gone), the next one still runs: a rejected chain would
    // skip every later write and fail every batch from then on. The caller of the failed write saw its error.
    this.saving = this.saving.catch(() => undefined).then(() => writeTextFileAtomicAsync(this.checkpointPath, JSON.stringify(this.checkpoint, null, 2)));
    return this.saving;
  }

  /** Stops reading; the batch in flight finishes; what was not checkpointed is read again on the next start. */
  async stop(): Promise<void> {
    this.abort.abort(new Error('local cloud stopping'));
    await Promise.allSettled(this.readers);
    await this.saving.catch(() => {});
    this.lookup.destroy();
  }
}

export { KinesisPoller, interpret as interpretKinesisResponse, readMapping as readKinesisMapping };
export type { KinesisEventRecord };
