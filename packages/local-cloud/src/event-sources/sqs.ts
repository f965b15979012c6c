/**
 * The SQS event source mapping of Lambda, for one `AWS::Lambda::EventSourceMapping` on a queue:
 * long-polls the queue, builds batches, invokes the function synchronously and deletes what
 * succeeded. Rules implemented are those of the Lambda developer guide, "Using Lambda with Amazon
 * SQS" and "Handling errors for an SQS event source in Lambda".
 */
import { GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { LocalControl } from '../edge/control.ts';
import type { AwsTarget } from '../provision/provision.ts';
import { Semaphore, type InvokeResult, type LambdaRuntime } from '../runtime/runtime.ts';
import { isRecord } from '../template/template.ts';
import { LOCAL_CREDENTIALS, localClientConfig, type LocalClientConfig } from '../util/clients.ts';
import { sleep } from '../util/wait.ts';
import { EdgeJsonClient } from './edge-json.ts';
import { parseData, parsePatterns, passesFilters, type Pattern } from './filter.ts';

interface SqsMapping {
  logicalId: string;
  uuid: string;
  functionName: string;
  queueArn: string;
  /** Default 10; up to 10,000 for standard queues with a batching window (Lambda SQS parameters). */
  batchSize: number;
  /** Default 0: invoke as soon as a receive returns. */
  maximumBatchingWindowInSeconds: number;
  reportBatchItemFailures: boolean;
  /** ScalingConfig.MaximumConcurrency: concurrent batches for this mapping. */
  maximumConcurrency?: number;
  filters: Pattern[];
  enabled: boolean;
}

/** A mapping as its function's role must allow it: its source and its on-failure destination (IamGuard.checkMappings). */
interface PollerAccess {
  logicalId: string;
  functionName: string;
  sourceArn: string;
  onFailureDestination?: string;
}

interface SqsRecord {
  messageId: string;
  receiptHandle: string;
  body: string;
  attributes: Record<string, string>;
  messageAttributes: Record<string, { stringValue?: string; binaryValue?: string; stringListValues: string[]; binaryListValues: string[]; dataType: string }>;
  md5OfMessageAttributes?: string;
  md5OfBody: string;
  eventSource: 'aws:sqs';
  eventSourceARN: string;
  awsRegion: string;
}

/**
 * Batches in flight at once when the mapping sets no MaximumConcurrency: AWS starts an SQS mapping
 * with five concurrent pollers and scales up to 1,250 (Lambda "Scaling behavior" for SQS); locally
 * it stays at the first five, which keep the emulators busy.
 */
const DEFAULT_CONCURRENCY = 5;

/** Lambda's synchronous invocation payload limit (Lambda quotas): 6 MB. */
const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;

/** WaitTimeSeconds Lambda uses for its long polls. */
const LONG_POLL_SECONDS = 20;

function readMapping(logicalId: string, uuid: string, props: Record<string, unknown>): SqsMapping {
  const scaling = isRecord(props.ScalingConfig) ? props.ScalingConfig : {};
  const types = Array.isArray(props.FunctionResponseTypes) ? props.FunctionResponseTypes : [];
  return {
    logicalId,
    uuid,
    functionName: String(props.FunctionName),
    queueArn: String(props.EventSourceArn),
    batchSize: props.BatchSize === undefined ? 10 : Number(props.BatchSize),
    maximumBatchingWindowInSeconds: Number(props.MaximumBatchingWindowInSeconds ?? 0),
    reportBatchItemFailures: types.includes('ReportBatchItemFailures'),
    ...(scaling.MaximumConcurrency === undefined ? {} : { maximumConcurrency: Number(scaling.MaximumConcurrency) }),
    filters: parsePatterns(props.FilterCriteria),
    enabled: props.Enabled === undefined || props.Enabled === true || props.Enabled === 'true',
  };
}

/** A message of a ReceiveMessage answer in SQS's JSON protocol (binary values base64). */
interface ReceivedMessage {
  MessageId?: string;
  ReceiptHandle?: string;
  MD5OfBody?: string;
  Body?: string;
  Attributes?: Record<string, string>;
  MD5OfMessageAttributes?: string;
  MessageAttributes?: Record<string, { DataType?: string; StringValue?: string; BinaryValue?: string; StringListValues?: string[]; BinaryListValues?: string[] }>;
}

/** The record Lambda builds from a received message (Lambda "Example standard queue message event"). */
function toRecord(message: ReceivedMessage, queueArn: string, region: string): SqsRecord {
  const messageAttributes: SqsRecord['messageAttributes'] = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    messageAttributes[name] = {
      ...(value.StringValue === undefined ? {} : { stringValue: value.StringValue }),
      ...(value.BinaryValue === undefined ? {} : { binaryValue: value.BinaryValue }),
      stringListValues: value.StringListValues ?? [],
      binaryListValues: value.BinaryListValues ?? [],
      dataType: value.DataType ?? 'String',
    };
  }
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: { ...(message.Attributes ?? {}) },
    messageAttributes,
    ...(message.MD5OfMessageAttributes ? { md5OfMessageAttributes: message.MD5OfMessageAttributes } : {}),
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

/** What filtering sees: the record with `body` parsed when it is JSON (Lambda event filtering for SQS). */
function filterView(record: SqsRecord): Record<string, unknown> {
  return { ...record, body: parseData(record.body) };
}

/**
 * Which records failed, per Lambda's partial batch response rules: without ReportBatchItemFailures
 * any error fails the whole batch; with it, an empty or null `batchItemFailures` is full success,
 * and an itemIdentifier that is empty, null, not a string or not a messageId of the batch makes
 * the whole batch fail. A thrown error or a timeout always fails the whole batch.
 */
function failedRecords(records: SqsRecord[], result: InvokeResult, reportBatchItemFailures: boolean): { failed: Set<string>; reason?: string } {
  const all = new Set(records.map((r) => r.messageId));
  if (!result.ok) return { failed: all, reason: `${result.error.errorType}: ${result.error.errorMessage}` };
  if (!reportBatchItemFailures) return { failed: new Set() };
  const payload = result.payload;
  if (payload === null || payload === undefined) return { failed: new Set() };
  if (!isRecord(payload)) return { failed: all, reason: 'the response is not a batch item failures object' };
  const failures = payload.batchItemFailures;
  if (failures === null || failures === undefined) return { failed: new Set() };
  if (!Array.isArray(failures)) return { failed: all, reason: 'batchItemFailures is not a list' };
  const failed = new Set<string>();
  for (const failure of failures) {
    const id = isRecord(failure) ? failure.itemIdentifier : undefined;
    if (typeof id !== 'string' || id === '' || !all.has(id)) {
      return { failed: all, reason: `invalid itemIdentifier ${JSON.stringify(id)}` };
    }
    failed.add(id);
  }
  return { failed };
}

/**
 * FIFO queues: Lambda processes a message group in order, so once a record of a group fails, the
 * group's later records in the batch must not be deleted either (they retry after it, in order).
 */
function extendFailuresPerGroup(records: SqsRecord[], failed: Set<string>): Set<string> {
  const blocked = new Set<string>();
  const out = new Set(failed);
  for (const record of records) {
    const group = record.attributes.MessageGroupId ?? '';
    if (blocked.has(group)) out.add(record.messageId);
    else if (out.has(record.messageId)) blocked.add(group);
  }
  return out;
}

class SqsPoller {
  readonly mapping: SqsMapping;
  private readonly runtime: LambdaRuntime;
  private readonly target: AwsTarget;
  /** Duplicate delivery and the failures it remembers: the local cloud's switches. */
  private readonly control?: LocalControl;
  private readonly log: (line: string) => void;
  /** The mapping's own requests (receive, delete), as its function's execution role, so IAM evaluates them. */
  private readonly sqs: EdgeJsonClient;
  /** GetQueueUrl, which Lambda needs no permission for (it has the queue's ARN): the local cloud's identity. */
  private readonly lookup: SQSClient;
  /** The last poll failure logged, so a refusal that repeats every second is logged once. */
  private lastFailure = '';
  private readonly abort = new AbortController();
  private readonly concurrency: Semaphore;
  private workers: Promise<void>[] = [];
  private queueUrl = '';
  private readonly fifo: boolean;
  /**
   * Counters for tests and the banner: batches invoked, records deleted, records filtered out, batches that
   * failed as a whole, batches handed over a second time (duplicate delivery).
   */
  readonly stats = { invocations: 0, deleted: 0, filteredOut: 0, failedBatches: 0, duplicated: 0 };

  constructor(options: {
    mapping: SqsMapping;
    runtime: LambdaRuntime;
    target: AwsTarget;
    control?: LocalControl;
    log?: (line: string) => void;
    /** The execution role's credentials (Lambda polls with them); default the local cloud's own. */
    credentials?: LocalClientConfig['credentials'];
  }) {
    this.mapping = options.mapping;
    this.runtime = options.runtime;
    this.target = options.target;
    if (options.control) this.control = options.control;
    this.log = options.log ?? (() => {});
    this.sqs = new EdgeJsonClient({ endpoint: this.target.endpoint, region: this.target.region, service: 'sqs', credentials: options.credentials ?? LOCAL_CREDENTIALS });
    this.lookup = new SQSClient(localClientConfig(this.target.endpoint, this.target.region));
    this.fifo = this.mapping.queueArn.endsWith('.fifo');
    const fn = this.runtime.get(this.mapping.functionName);
    const reserved = fn.config.reservedConcurrency;
    const wanted = this.mapping.maximumConcurrency ?? DEFAULT_CONCURRENCY;
    this.concurrency = new Semaphore(Math.max(1, Math.min(wanted, reserved ?? wanted)));
  }

  get functionName(): string {
    return this.runtime.get(this.mapping.functionName).config.name;
  }

  /** What the function's role must allow on the mapping's source (IamGuard.checkMappings). */
  get access(): PollerAccess {
    return { logicalId: this.mapping.logicalId, functionName: this.functionName, sourceArn: this.mapping.queueArn };
  }

  async start(): Promise<void> {
    if (!this.mapping.enabled) return;
    if (this.runtime.get(this.mapping.functionName).config.reservedConcurrency === 0) {
      this.log(`${this.mapping.logicalId}: ${this.functionName} has reserved concurrency 0 (throttled): not polling`);
      return;
    }
    const arnParts = this.mapping.queueArn.split(':');
    const queueName = arnParts[5] ?? '';
    this.queueUrl = (await this.lookup.send(new GetQueueUrlCommand({ QueueName: queueName, QueueOwnerAWSAccountId: arnParts[4] }))).QueueUrl ?? '';
    this.workers = Array.from({ length: this.concurrency.limit }, () => this.work());
  }

  /** One poller: receive a batch, invoke, settle; several run side by side up to the concurrency. */
  private async work(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      try {
        // No new messages while somebody waits at the front door (runtime/execution-slots.ts).
        await this.runtime.slots?.whenNotBusy(signal);
        const records = await this.receiveBatch(signal);
        if (records.length > 0) await this.process(records);
        this.lastFailure = '';
      } catch (error) {
        if (signal.aborted) break;
        const failure = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        // An AccessDenied (the role lost a permission) repeats every second: logged once until it changes.
        if (failure !== this.lastFailure) this.log(`${this.mapping.logicalId}: poll failed: ${failure}; retrying every 1 s`);
        this.lastFailure = failure;
        await sleep(1000, signal);
      }
    }
  }

  /** Receives up to BatchSize messages, waiting up to MaximumBatchingWindowInSeconds to fill the batch. */
  private async receiveBatch(signal: AbortSignal): Promise<SqsRecord[]> {
    const records: SqsRecord[] = [];
    let bytes = 0;
    let deadline = 0;
    for (;;) {
      const remainingMs = deadline === 0 ? LONG_POLL_SECONDS * 1000 : deadline - Date.now();
      if (deadline !== 0 && remainingMs <= 0) break;
      const out = await this.sqs.call<{ Messages?: ReceivedMessage[] }>(
        'ReceiveMessage',
        {
          QueueUrl: this.queueUrl,
          MaxNumberOfMessages: Math.min(10, this.mapping.batchSize - records.length),
          WaitTimeSeconds: Math.min(LONG_POLL_SECONDS, Math.ceil(remainingMs / 1000)),
          MessageSystemAttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        },
        signal,
      );
      for (const message of out.Messages ?? []) {
        records.push(toRecord(message, this.mapping.queueArn, this.target.region));
        bytes += Buffer.byteLength(message.Body ?? '');
      }
      if (records.length === 0) {
        if (this.mapping.maximumBatchingWindowInSeconds <= 0) break;
        continue;
      }
      if (deadline === 0) deadline = Date.now() + this.mapping.maximumBatchingWindowInSeconds * 1000;
      if (records.length >= this.mapping.batchSize || bytes >= MAX_PAYLOAD_BYTES / 2 || this.mapping.maximumBatchingWindowInSeconds <= 0) break;
    }
    return records;
  }

  private async process(received: SqsRecord[]): Promise<void> {
    // Messages that match no filter are deleted without an invocation (Lambda event filtering, SQS).
    const records: SqsRecord[] = [];
    const dropped: SqsRecord[] = [];
    for (const record of received) (passesFilters(filterView(record), this.mapping.filters) ? records : dropped).push(record);
    if (dropped.length > 0) {
      this.stats.filteredOut += dropped.length;
      await this.delete(dropped);
    }
    if (records.length === 0) return;
    await this.concurrency.acquire(this.abort.signal);
    let outcome: { failed: Set<string>; reason?: string };
    try {
      outcome = await this.invoke(records);
      // Duplicate delivery (local drill, `POST /_local/faults {"duplicateDelivery": true}`): SQS standard queues
      // deliver at least once, so hand the same records, same receipt handles, to the function again once the first
      // invocation is done. A record is done if either delivery succeeded (a delete with either handle removes it).
      if (this.control?.duplicateDelivery) {
        this.stats.duplicated += 1;
        const again = await this.invoke(records);
        outcome = { failed: new Set([...outcome.failed].filter((id) => again.failed.has(id))), ...(outcome.reason && again.reason ? { reason: again.reason } : {}) };
      }
    } finally {
      this.concurrency.release();
    }
    const failed = this.fifo ? extendFailuresPerGroup(records, outcome.failed) : outcome.failed;
    if (outcome.reason) {
      this.stats.failedBatches += 1;
      this.log(`${this.mapping.logicalId}: batch of ${records.length} failed (${outcome.reason}); the messages return to the queue after their visibility timeout`);
    }
    // Failed messages are left alone: they reappear after the visibility timeout, and SQS moves
    // them to the DLQ once ApproximateReceiveCount exceeds the redrive policy's maxReceiveCount.
    await this.delete(records.filter((record) => !failed.has(record.messageId)));
  }

  /** One invocation with the batch; a failure of the whole batch is remembered per message (`/_local/failures`). */
  private async invoke(records: SqsRecord[]): Promise<{ failed: Set<string>; reason?: string }> {
    this.stats.invocations += 1;
    const started = Date.now();
    const result = await this.runtime.invoke(this.mapping.functionName, { Records: records }, { priority: 'background' });
    const outcome = failedRecords(records, result, this.mapping.reportBatchItemFailures);
    if (outcome.reason) {
      const errorName = result.ok ? 'InvalidBatchResponse' : result.error.errorType;
      const errorMessage = result.ok ? outcome.reason : result.error.errorMessage;
      for (const record of records) {
        this.control?.recordFailure({ key: record.messageId, functionName: this.functionName, at: new Date().toISOString(), errorName, errorMessage, scope: 'batch' }, started);
      }
    }
    return outcome;
  }

  private async delete(records: SqsRecord[]): Promise<void> {
    for (let i = 0; i < records.length; i += 10) {
      const chunk = records.slice(i, i + 10);
      const out = await this.sqs.call<{ Successful?: { Id: string }[]; Failed?: { Id: string; Code: string; Message?: string }[] }>('DeleteMessageBatch', {
        QueueUrl: this.queueUrl,
        Entries: chunk.map((record, index) => ({ Id: String(index), ReceiptHandle: record.receiptHandle })),
      });
      this.stats.deleted += out.Successful?.length ?? 0;
      for (const failure of out.Failed ?? []) {
        this.log(`${this.mapping.logicalId}: cannot delete message ${chunk[Number(failure.Id)]?.messageId}: ${failure.Code} ${failure.Message ?? ''}`);
      }
    }
  }

  /**
   * Stops polling at once (long polls are aborted). Batches already handed to the function finish
   * and settle; messages received but not yet invoked simply reappear after their visibility timeout.
   */
  async stop(): Promise<void> {
    this.abort.abort(new Error('local cloud stopping'));
    await Promise.allSettled(this.workers);
    this.lookup.destroy();
  }
}

export { SqsPoller, extendFailuresPerGroup, failedRecords, readMapping as readSqsMapping };
export type { SqsRecord, PollerAccess };
