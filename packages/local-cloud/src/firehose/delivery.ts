/**
 * The buffer of one Firehose stream and its delivery to S3: buffered until `SizeInMBs` or
 * `IntervalInSeconds` is reached ("whichever condition is satisfied first", Firehose buffering
 * hints), concatenated, optionally delimited and compressed, written as one object with
 * Firehose's key format; on a write failure retried, then written under the error prefix.
 * Records leave the buffer only once an object holding them is in S3.
 */
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { sleep } from '../util/wait.ts';
import type { BackupSettings } from './backup.ts';
import { evaluateErrorPrefix, evaluatePrefix, objectSuffix, type ErrorOutputType } from './keys.ts';
import type { FailedRecord, LambdaProcessor, TransformOutcome } from './processing.ts';
import { convertToParquet, type ConversionSettings } from './conversion.ts';
import type { GlueColumn } from '../glue/catalog.ts';

const gzipAsync = promisify(gzip);

interface BufferedRecord {
  data: Buffer;
  /** Approximate arrival time, epoch milliseconds. */
  arrival: number;
  /** Kinesis source only. */
  shardId?: string;
  sequenceNumber?: string;
  partitionKey?: string;
}

/** What the delivery needs from the stream's current definition. */
interface DeliverySettings {
  streamName: string;
  streamArn?: string;
  /** The Kinesis stream read (`KinesisStreamAsSource`). */
  sourceStreamArn?: string;
  /** Data transformation with Lambda (processing.ts). */
  processor?: LambdaProcessor;
  /** S3 backup of source records (backup.ts). */
  backup?: BackupSettings;
  /** Record format conversion to Parquet (conversion.ts). */
  conversion?: ConversionSettings;
  versionId: string;
  bucket: string;
  prefix: string;
  errorOutputPrefix: string;
  sizeInBytes: number;
  intervalMs: number;
  compression: 'GZIP' | 'UNCOMPRESSED';
  /** Appended to every record (`AppendDelimiterToRecord` processor), or undefined. */
  delimiter?: Buffer;
  fileExtension?: string;
  timeZone?: string;
}

interface ObjectWriter {
  put(bucket: string, key: string, body: Buffer): Promise<void>;
}

interface RetryPolicy {
  /** Waits between attempts of one write; its length + 1 is the number of attempts. */
  delaysMs: number[];
  /** First wait before delivering again after both the object and its error object failed; doubles up to `maxBackoffMs`. */
  backoffMs: number;
  maxBackoffMs: number;
}

interface DeliveryBufferOptions {
  settings: () => DeliverySettings;
  writer: ObjectWriter;
  /** Called once the records are in S3 (commit checkpoints, trim the journal). */
  onDelivered: (records: BufferedRecord[]) => void;
  /** Runs the records through the processor's function (processing.ts transformRecords, bound to the runtime). */
  transform?: (records: BufferedRecord[], processor: LambdaProcessor, settings: DeliverySettings) => Promise<TransformOutcome>;
  /** The columns of a Glue table (the local Glue Data Catalog), for record format conversion. */
  columns?: (databaseName: string, tableName: string) => GlueColumn[] | undefined;
  retry: RetryPolicy;
  log: (line: string) => void;
}

interface DeliveryBuffer {
  add(records: BufferedRecord[]): void;
  readonly bytes: number;
  readonly records: readonly BufferedRecord[];
  /** Stops timers and waits for a delivery under way; buffered records stay for the next start. */
  stop(): Promise<void>;
}

class DeliveryError extends Error {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DeliveryError';
  }
}

async function withRetries(write: () => Promise<void>, delaysMs: number[]): Promise<number> {
  let attempts = 0;
  for (;;) {
    attempts += 1;
    try {
      await write();
      return attempts;
    } catch (error) {
      const delay = delaysMs[attempts - 1];
      if (delay === undefined) throw new DeliveryError(`write failed after ${attempts} attempts: ${(error as Error).message}`, { cause: error });
      await sleep(delay);
    }
  }
}

async function objectBody(records: BufferedRecord[], settings: DeliverySettings): Promise<Buffer> {
  const pieces = settings.delimiter === undefined ? records.map((record) => record.data) : records.flatMap((record) => [record.data, settings.delimiter as Buffer]);
  const raw = Buffer.concat(pieces);
  return settings.compression === 'GZIP' ? gzipAsync(raw) : raw;
}

/**
 * The documents Firehose writes for failed records (one JSON object per line), as for
 * "processing-failed" records: https://docs.aws.amazon.com/firehose/latest/dev/data-transformation-failure-handling.html
 */
function errorBody(failures: FailedRecord[]): Buffer {
  const now = Date.now();
  const lines = failures.map(({ record, errorCode, errorMessage, attemptsMade, lambdaArn, dataCatalogTable }) =>
    JSON.stringify({
      attemptsMade,
      arrivalTimestamp: record.arrival,
      // A format conversion failure's document spells these two capitalized ("Handling errors for data format conversion").
      ...(dataCatalogTable === undefined ? { errorCode, errorMessage } : { ErrorCode: errorCode, ErrorMessage: errorMessage }),
      attemptEndingTimestamp: now,
      rawData: record.data.toString('base64'),
      ...(record.sequenceNumber === undefined ? {} : { sequenceNumber: record.sequenceNumber, subSequenceNumber: 0 }),
      ...(lambdaArn === undefined ? {} : { lambdaArn }),
      ...(dataCatalogTable === undefined ? {} : { dataCatalogTable }),
    }),
  );
  return Buffer.from(`${lines.join('\n')}\n`);
}

function createDeliveryBuffer(options: DeliveryBufferOptions): DeliveryBuffer {
  const buffered: BufferedRecord[] = [];
  let bytes = 0;
  let timer: NodeJS.Timeout | undefined;
  let delivering: Promise<void> | undefined;
  let backoffMs = 0;
  let stopped = false;

  function schedule(delayMs: number): void {
    if (stopped || timer !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      void deliverNow();
    }, Math.max(0, delayMs));
  }

  /** Due by size now, or by interval counted from the oldest buffered record. */
  function scheduleNext(): void {
    if (buffered.length === 0 || delivering !== undefined) return;
    const settings = options.settings();
    if (backoffMs > 0) return schedule(backoffMs);
    if (bytes >= settings.sizeInBytes) return schedule(0);
    const oldest = buffered[0]?.arrival ?? Date.now();
    schedule(oldest + settings.intervalMs - Date.now());
  }

  function takeBatch(settings: DeliverySettings): BufferedRecord[] {
    let size = 0;
    let count = 0;
    for (const record of buffered) {
      if (count > 0 && size + record.data.length > settings.sizeInBytes) break;
      size += record.data.length;
      count += 1;
    }
    return buffered.slice(0, count);
  }

  async function deliver(batch: BufferedRecord[], settings: DeliverySettings): Promise<void> {
    const time = new Date(batch.reduce((oldest, record) => Math.min(oldest, record.arrival), Number.POSITIVE_INFINITY));
    const timeZone = settings.timeZone;
    const at = { time, ...(timeZone === undefined ? {} : { timeZone }) };
    const suffix = (extension: string): string => objectSuffix({ streamName: settings.streamName, version: settings.versionId, ...at, extension });
    const writeErrors = async (bucket: string, prefix: string, errorOutputPrefix: string, errorOutputType: ErrorOutputType, failures: FailedRecord[]): Promise<void> => {
      if (failures.length === 0) return;
      const errorKey = `${evaluateErrorPrefix(prefix, errorOutputPrefix, { ...at, errorOutputType })}${suffix('')}`;
      await withRetries(() => options.writer.put(bucket, errorKey, errorBody(failures)), options.retry.delaysMs);
      options.log(`[firehose] ${settings.streamName}: ${failures.length} failed records in s3://${bucket}/${errorKey}`);
    };
    // The function first: while the runtime is not attached it throws, and the batch waits with nothing written.
    let records = batch;
    let failed: FailedRecord[] = [];
    if (settings.processor !== undefined) {
      if (options.transform === undefined) throw new DeliveryError(`${settings.streamName}: a Lambda processor is configured but no function runtime is attached`);
      const outcome = await options.transform(batch, settings.processor, settings);
      records = outcome.ok;
      failed = outcome.failed;
    }
    // The table's columns before anything is written: a table not there yet keeps the batch for later.
    const conversion = settings.conversion;
    const columns = conversion === undefined ? undefined : options.columns?.(conversion.databaseName, conversion.tableName);
    if (conversion !== undefined && columns === undefined) {
      throw new DeliveryError(`${settings.streamName}: Glue table ${conversion.databaseName}.${conversion.tableName} not found (SchemaConfiguration)`);
    }
    // The source records as they came (S3 backup); a failure keeps the whole batch for a later delivery.
    const backup = settings.backup;
    if (backup !== undefined) {
      const backupKey = `${evaluatePrefix(backup.prefix, at)}${suffix(backup.compression === 'GZIP' ? '.gz' : '')}`;
      const body = await objectBody(batch, { ...settings, compression: backup.compression });
      await withRetries(() => options.writer.put(backup.bucket, backupKey, body), options.retry.delaysMs);
      options.log(`[firehose] ${settings.streamName}: source backup s3://${backup.bucket}/${backupKey} (${batch.length} records)`);
    }
    await writeErrors(settings.bucket, settings.prefix, settings.errorOutputPrefix, 'processing-failed', failed);
    let body: Buffer | undefined;
    if (conversion !== undefined && columns !== undefined) {
      const outcome = convertToParquet(records, columns, conversion);
      await writeErrors(settings.bucket, settings.prefix, settings.errorOutputPrefix, 'format-conversion-failed', outcome.failed);
      records = outcome.converted;
      body = outcome.body;
    }
    if (records.length === 0) return;
    const extension = settings.fileExtension ?? (conversion !== undefined ? '.parquet' : settings.compression === 'GZIP' ? '.gz' : '');
    const key = `${evaluatePrefix(settings.prefix, at)}${suffix(extension)}`;
    body ??= await objectBody(records, settings);
    try {
      await withRetries(() => options.writer.put(settings.bucket, key, body), options.retry.delaysMs);
      options.log(`[firehose] ${settings.streamName}: s3://${settings.bucket}/${key} (${records.length} records, ${body.length} bytes)`);
    } catch (error) {
      options.log(`[firehose] ${settings.streamName}: s3://${settings.bucket}/${key} failed, writing under the error prefix: ${(error as Error).message}`);
      const attemptsMade = options.retry.delaysMs.length + 1;
      const message = (error as Error).message;
      await writeErrors(settings.bucket, settings.prefix, settings.errorOutputPrefix, 'processing-failed', records.map((record) => ({ record, errorCode: 'S3.PutObject', errorMessage: message, attemptsMade })));
    }
  }

  async function deliverNow(): Promise<void> {
    if (stopped || delivering !== undefined || buffered.length === 0) return;
    const settings = options.settings();
    const batch = takeBatch(settings);
    delivering = (async () => {
      try {
        await deliver(batch, settings);
        buffered.splice(0, batch.length);
        bytes -= batch.reduce((total, record) => total + record.data.length, 0);
        backoffMs = 0;
        options.onDelivered(batch);
      } catch (error) {
        // Neither the object nor its error object could be written: keep the records, try later.
        backoffMs = Math.min(Math.max(backoffMs * 2, options.retry.backoffMs), options.retry.maxBackoffMs);
        options.log(`[firehose] ${settings.streamName}: delivery failed, retrying in ${backoffMs} ms: ${(error as Error).message}`);
      }
    })();
    await delivering;
    delivering = undefined;
    scheduleNext();
  }

  return {
    add(records) {
      if (records.length === 0) return;
      buffered.push(...records);
      bytes += records.reduce((total, record) => total + record.data.length, 0);
      if (timer !== undefined && bytes >= options.settings().sizeInBytes && backoffMs === 0) {
        clearTimeout(timer);
        timer = undefined;
      }
      scheduleNext();
    },
    get bytes() {
      return bytes;
    },
    get records() {
      return buffered;
    },
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      await delivering;
    },
  };
}

export { createDeliveryBuffer };
export type { BufferedRecord, DeliveryBuffer, DeliverySettings, ObjectWriter, RetryPolicy };
