/**
 * Firehose data transformation with Lambda, as pure pieces around one injected `invoke`: the processor read from
 * `ProcessingConfiguration`, the event Firehose sends, and its reading of the function's answer.
 *
 * The record contract ("Required parameters for data transformation",
 * https://docs.aws.amazon.com/firehose/latest/dev/data-transformation-status-model.html): every record comes back
 * with the `recordId` it was sent with, a `result` of `Ok`, `Dropped` or `ProcessingFailed`, and base64 `data`; a
 * missing or unknown id, or an answer that is not that JSON, fails the record. Failure handling
 * (https://docs.aws.amazon.com/firehose/latest/dev/data-transformation-failure-handling.html): an invocation that
 * fails is retried `NumberOfRetries` times (default 3), then its records are unsuccessfully processed; those go to
 * the error output prefix as `processing-failed` documents with `lambdaArn`.
 *
 * Processor parameters (ProcessorParameter, Firehose API reference): BufferSizeInMBs 0.2-3 (default 1),
 * BufferIntervalInSeconds 0-900 (default 60), NumberOfRetries (default 3). Locally the function runs when the
 * destination's buffer is due, in batches of at most BufferSizeInMBs; AWS invokes it as its own buffer fills. The
 * objects written are the same; only when differs.
 */
import { randomUUID } from 'node:crypto';
import { AwsApiError } from '../util/errors.ts';
import type { BufferedRecord } from './delivery.ts';

type Json = Record<string, unknown>;

interface LambdaProcessor {
  lambdaArn: string;
  /** Retries after a failed invocation. */
  retries: number;
  bufferSizeBytes: number;
  bufferIntervalMs: number;
}

/** What the local runtime answers for a synchronous invocation. */
type InvokeOutcome = { ok: true; payload: unknown } | { ok: false; errorType: string; errorMessage: string };
type InvokeFunction = (functionArn: string, event: unknown) => Promise<InvokeOutcome>;

/** A record that will not reach the destination, with the reason Firehose writes beside it. */
interface FailedRecord {
  record: BufferedRecord;
  errorCode: string;
  errorMessage: string;
  attemptsMade: number;
  lambdaArn?: string;
  /** Set for a record format conversion failure (conversion.ts): its document names the table. */
  dataCatalogTable?: Record<string, string>;
}

interface TransformOutcome {
  /** The records the function returned Ok, their data replaced by what it returned, in the order sent. */
  ok: BufferedRecord[];
  failed: FailedRecord[];
  dropped: number;
}

interface TransformContext {
  deliveryStreamArn: string;
  region: string;
  sourceKinesisStreamArn?: string;
}

class FunctionsNotReadyError extends Error {
  public constructor(functionArn: string) {
    super(`the function ${functionArn} is not loaded yet; the records stay buffered`);
    this.name = 'FunctionsNotReadyError';
  }
}

const DEFAULTS = { retries: 3, bufferSizeMiB: 1, bufferIntervalSeconds: 60 };
const invalid = (message: string): AwsApiError => new AwsApiError('InvalidArgumentException', message);

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The enabled `Lambda` processor of a destination, or undefined. @throws AwsApiError naming the parameter at fault */
function lambdaProcessorOf(destination: Json, path: string): LambdaProcessor | undefined {
  const processing = destination.ProcessingConfiguration;
  if (!isObject(processing) || !(processing.Enabled === true || processing.Enabled === 'true')) return undefined;
  const processors = Array.isArray(processing.Processors) ? (processing.Processors as Json[]) : [];
  const index = processors.findIndex((processor) => processor.Type === 'Lambda');
  if (index === -1) return undefined;
  const at = `${path}.ProcessingConfiguration.Processors[${index}]`;
  const parameters = Array.isArray(processors[index]?.Parameters) ? (processors[index].Parameters as Json[]) : [];
  const value = (name: string): string | undefined => {
    const found = parameters.find((parameter) => parameter.ParameterName === name)?.ParameterValue;
    return found === undefined ? undefined : String(found);
  };
  const lambdaArn = value('LambdaArn');
  if (lambdaArn === undefined || !/^arn:[^:]+:lambda:[^:]*:\d*:function:[^:]+(:[^:]+)?$/.test(lambdaArn)) {
    throw invalid(`${at}.Parameters LambdaArn must be a Lambda function ARN, got ${String(lambdaArn)}`);
  }
  const number = (name: string, fallback: number, min: number, max: number): number => {
    const raw = value(name);
    const parsed = raw === undefined ? fallback : Number(raw);
    if (!(parsed >= min && parsed <= max)) throw invalid(`${at}.Parameters ${name} must be between ${min} and ${max}, got ${String(raw)}`);
    return parsed;
  };
  return {
    lambdaArn,
    retries: number('NumberOfRetries', DEFAULTS.retries, 0, 300),
    bufferSizeBytes: Math.floor(number('BufferSizeInMBs', DEFAULTS.bufferSizeMiB, 0.2, 3) * 1024 * 1024),
    bufferIntervalMs: number('BufferIntervalInSeconds', DEFAULTS.bufferIntervalSeconds, 0, 900) * 1000,
  };
}

/** Batches of at most `limitBytes` of data (one record at least), in order. */
function batchesOf(records: readonly BufferedRecord[], limitBytes: number): BufferedRecord[][] {
  const batches: BufferedRecord[][] = [];
  let current: BufferedRecord[] = [];
  let size = 0;
  for (const record of records) {
    if (current.length > 0 && size + record.data.length > limitBytes) {
      batches.push(current);
      current = [];
      size = 0;
    }
    current.push(record);
    size += record.data.length;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** The event Firehose sends the function (the `FirehoseTransformationEvent` of @types/aws-lambda). */
function transformationEvent(records: readonly BufferedRecord[], ids: readonly string[], context: TransformContext): Json {
  return {
    invocationId: randomUUID(),
    deliveryStreamArn: context.deliveryStreamArn,
    ...(context.sourceKinesisStreamArn === undefined ? {} : { sourceKinesisStreamArn: context.sourceKinesisStreamArn }),
    region: context.region,
    records: records.map((record, index) => ({
      recordId: ids[index],
      approximateArrivalTimestamp: record.arrival,
      data: record.data.toString('base64'),
      ...(record.sequenceNumber === undefined
        ? {}
        : {
            kinesisRecordMetadata: {
              shardId: record.shardId,
              partitionKey: record.partitionKey,
              approximateArrivalTimestamp: record.arrival,
              sequenceNumber: record.sequenceNumber,
              subsequenceNumber: 0,
            },
          }),
    })),
  };
}

type RecordVerdict = { result: 'Ok'; data: Buffer } | { result: 'Dropped' } | { result: 'Failed'; errorCode: string; errorMessage: string };

/** Reads the function's answer record by record; an answer that is not `{ records: [...] }` fails them all. */
function readTransformationResponse(payload: unknown, ids: readonly string[]): RecordVerdict[] {
  const all = (errorCode: string, errorMessage: string): RecordVerdict[] => ids.map(() => ({ result: 'Failed', errorCode, errorMessage }));
  if (!isObject(payload) || !Array.isArray(payload.records)) {
    return all('Lambda.JsonProcessingException', 'The Lambda function returned no "records" array.');
  }
  const byId = new Map<string, Json>();
  for (const entry of payload.records as unknown[]) {
    if (!isObject(entry) || typeof entry.recordId !== 'string') continue;
    if (byId.has(entry.recordId)) return all('Lambda.DuplicatedRecordId', `The Lambda function returned record id ${entry.recordId} twice.`);
    byId.set(entry.recordId, entry);
  }
  return ids.map((id): RecordVerdict => {
    const entry = byId.get(id);
    if (entry === undefined) return { result: 'Failed', errorCode: 'Lambda.MissingRecordId', errorMessage: `The Lambda function did not return record id ${id}.` };
    if (entry.result === 'Dropped') return { result: 'Dropped' };
    if (entry.result === 'ProcessingFailed') return { result: 'Failed', errorCode: 'Lambda.ProcessingFailedStatus', errorMessage: 'ProcessingFailed status set for record' };
    if (entry.result !== 'Ok') {
      return { result: 'Failed', errorCode: 'Lambda.InvalidReturnFormat', errorMessage: `result must be Ok, Dropped or ProcessingFailed, got ${JSON.stringify(entry.result)}` };
    }
    if (typeof entry.data !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(entry.data)) {
      return { result: 'Failed', errorCode: 'Lambda.InvalidReturnFormat', errorMessage: 'data must be base64' };
    }
    return { result: 'Ok', data: Buffer.from(entry.data, 'base64') };
  });
}

/**
 * Runs the records through the function, batch by batch, with the processor's retries.
 * @throws FunctionsNotReadyError while the local runtime is not attached (the caller keeps the records)
 */
async function transformRecords(
  records: readonly BufferedRecord[],
  processor: LambdaProcessor,
  invoke: InvokeFunction | undefined,
  context: TransformContext,
  log: (line: string) => void = () => undefined,
): Promise<TransformOutcome> {
  if (invoke === undefined) throw new FunctionsNotReadyError(processor.lambdaArn);
  const outcome: TransformOutcome = { ok: [], failed: [], dropped: 0 };
  for (const batch of batchesOf(records, processor.bufferSizeBytes)) {
    // Record ids are Firehose's own; these are unique within the invocation, which is all the contract needs.
    const ids = batch.map((_, index) => `${String(index).padStart(6, '0')}-${randomUUID()}`);
    const event = transformationEvent(batch, ids, context);
    let attempts = 0;
    let answer: InvokeOutcome;
    do {
      attempts += 1;
      answer = await invoke(processor.lambdaArn, event);
    } while (!answer.ok && attempts <= processor.retries);
    if (!answer.ok) {
      log(`[firehose] ${processor.lambdaArn} failed ${attempts} times (${answer.errorType}: ${answer.errorMessage}); ${batch.length} records to processing-failed`);
      for (const record of batch) {
        outcome.failed.push({
          record,
          errorCode: 'Lambda.FunctionError',
          errorMessage: 'The Lambda function was successfully invoked but it returned an error result.',
          attemptsMade: attempts,
          lambdaArn: processor.lambdaArn,
        });
      }
      continue;
    }
    readTransformationResponse(answer.payload, ids).forEach((verdict, index) => {
      const record = batch[index] as BufferedRecord;
      if (verdict.result === 'Ok') outcome.ok.push({ ...record, data: verdict.data });
      else if (verdict.result === 'Dropped') outcome.dropped += 1;
      else outcome.failed.push({ record, errorCode: verdict.errorCode, errorMessage: verdict.errorMessage, attemptsMade: attempts, lambdaArn: processor.lambdaArn });
    });
  }
  return outcome;
}

export { batchesOf, lambdaProcessorOf, readTransformationResponse, transformRecords };
export type { FailedRecord, InvokeFunction, LambdaProcessor, TransformOutcome };
