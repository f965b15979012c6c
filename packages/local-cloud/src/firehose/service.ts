/**
 * A local Amazon Data Firehose (no emulator exists): the `Firehose_20150804` JSON API, served
 * through the edge, delivering to S3 (through the edge too, so deliveries raise S3 event
 * notifications as on AWS).
 *
 * Sources: `DirectPut` (PutRecord/PutRecordBatch, journaled on disk before they are acknowledged)
 * and `KinesisStreamAsSource` (every shard read, sequence numbers checkpointed on disk once the
 * object holding them is written). Destination: S3 / ExtendedS3 with buffering hints, GZIP,
 * `AppendDelimiterToRecord`, data transformation with Lambda (processing.ts), S3 backup of source records
 * (backup.ts), record format conversion to Parquet with a Glue table's schema (conversion.ts), Prefix /
 * ErrorOutputPrefix expressions, FileExtension, CustomTimeZone.
 * Definitions live in `<dataDir>/firehose/streams.json`.
 */
import { randomInt } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DescribeStreamSummaryCommand, KinesisClient, ResourceNotFoundException } from '@aws-sdk/client-kinesis';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { localClientConfig } from '../util/clients.ts';
import { AwsApiError } from '../util/errors.ts';
import { createDeliveryBuffer } from './delivery.ts';
import type { BufferedRecord, DeliveryBuffer, ObjectWriter, RetryPolicy } from './delivery.ts';
import {
  DESTINATION_ID,
  describeDeliveryStream,
  invalid,
  isObject,
  normalizeDestination,
  requireString,
  settingsOf,
} from './config.ts';
import type { DeliveryStreamDefinition, Json } from './config.ts';
import { ensureParentDirectory, readJsonFile, removeFile, writeJsonFileAtomic, writeTextFileAtomic } from '../util/json-file.ts';
import { startKinesisSource } from './kinesis-source.ts';
import type { KinesisSource } from './kinesis-source.ts';
import { transformRecords, type InvokeFunction } from './processing.ts';
import type { GlueCatalog } from '../glue/catalog.ts';

interface FirehoseServiceOptions {
  /** `<dataDir>/firehose`. */
  directory: string;
  region: string;
  accountId: string;
  log: (line: string) => void;
  /** Replaces the S3 client (tests). */
  writer?: ObjectWriter;
  retry?: RetryPolicy;
  /** How often an idle shard is polled; Firehose reads each shard about once a second. */
  pollIntervalMs?: number;
  /** The Glue Data Catalog whose tables record format conversion reads (glue/catalog.ts). */
  catalog?: Pick<GlueCatalog, 'columns'>;
}

interface FirehoseEndpoints {
  /** The edge (S3 writes). */
  s3: string;
  /** kinesalite (source reads). */
  kinesis: string;
}

interface FirehoseService {
  handle(operation: string, input: Json): Promise<unknown>;
  start(endpoints: FirehoseEndpoints): void;
  /**
   * The functions' runtime, for Lambda processors; until it is attached (it loads after the template's resources),
   * a stream with a processor keeps its records buffered.
   */
  attachFunctions(invoke: InvokeFunction): void;
  stop(): Promise<void>;
}

interface StreamRuntime {
  buffer: DeliveryBuffer;
  source?: KinesisSource;
  checkpoints: Record<string, string>;
}

/** PutRecord: 1,000 KiB per record; PutRecordBatch: 500 records and 4 MiB (Firehose quotas). */
const MAX_RECORD_BYTES = 1_000 * 1024;
const MAX_BATCH_RECORDS = 500;
const MAX_BATCH_BYTES = 4 * 1024 * 1024;
const DEFAULT_RETRY: RetryPolicy = { delaysMs: [200, 1_000], backoffMs: 1_000, maxBackoffMs: 30_000 };
const NAME_PATTERN = /^[a-zA-Z0-9_.-]{1,64}$/;
const UNSUPPORTED_DESTINATIONS = [
  'RedshiftDestinationConfiguration',
  'ElasticsearchDestinationConfiguration',
  'AmazonopensearchserviceDestinationConfiguration',
  'AmazonOpenSearchServerlessDestinationConfiguration',
  'SplunkDestinationConfiguration',
  'HttpEndpointDestinationConfiguration',
  'SnowflakeDestinationConfiguration',
  'IcebergDestinationConfiguration',
];

/** Record ids are opaque; AWS's are 56-digit strings. */
function recordId(): string {
  let id = '';
  while (id.length < 56) id += String(randomInt(0, 1_000_000_000)).padStart(9, '0');
  return id.slice(0, 56);
}

function decodeRecord(record: unknown, path: string): Buffer {
  if (!isObject(record) || typeof record.Data !== 'string') throw invalid(`${path}.Data is required (base64)`);
  const data = Buffer.from(record.Data, 'base64');
  if (data.length > MAX_RECORD_BYTES) throw invalid(`${path}.Data is ${data.length} bytes; a record holds at most ${MAX_RECORD_BYTES}`);
  return data;
}

function compareSequenceNumbers(left: string, right: string): number {
  const [a, b] = [BigInt(left), BigInt(right)];
  return a === b ? 0 : a < b ? -1 : 1;
}

function createFirehoseService(options: FirehoseServiceOptions): FirehoseService {
  const { directory, log } = options;
  const streamsFile = join(directory, 'streams.json');
  const checkpointFile = (name: string): string => join(directory, 'checkpoints', `${name}.json`);
  const journalFile = (name: string): string => join(directory, 'buffers', `${name}.ndjson`);
  const definitions = new Map<string, DeliveryStreamDefinition>(
    Object.entries(readJsonFile<Record<string, DeliveryStreamDefinition>>(streamsFile, {})),
  );
  const runtimes = new Map<string, StreamRuntime>();
  let endpoints: FirehoseEndpoints | undefined;
  let kinesis: KinesisClient | undefined;
  let s3: S3Client | undefined;
  let writer: ObjectWriter | undefined = options.writer;
  let invoke: InvokeFunction | undefined;

  const persistDefinitions = (): void => writeJsonFileAtomic(streamsFile, Object.fromEntries(definitions));

  function definitionOf(input: Json): DeliveryStreamDefinition {
    const name = requireString(input, 'DeliveryStreamName');
    const definition = definitions.get(name);
    if (definition === undefined) {
      throw new AwsApiError('ResourceNotFoundException', `Firehose ${name} under account ${options.accountId} not found.`);
    }
    return definition;
  }

  /** DirectPut records accepted but not yet delivered, one JSON line each. */
  function loadJournal(name: string): BufferedRecord[] {
    const file = journalFile(name);
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .flatMap((line) => {
        try {
          const entry = JSON.parse(line) as { d: string; t: number };
          return [{ data: Buffer.from(entry.d, 'base64'), arrival: entry.t }];
        } catch {
          return []; // a line torn by a crash mid-write was never acknowledged
        }
      });
  }

  function rewriteJournal(name: string, records: readonly BufferedRecord[]): void {
    const file = journalFile(name);
    if (records.length === 0) return removeFile(file);
    writeTextFileAtomic(file, records.map(journalLine).join(''));
  }

  function startRuntime(definition: DeliveryStreamDefinition): void {
    if (endpoints === undefined || writer === undefined) return;
    const name = definition.name;
    const checkpoints = readJsonFile<Record<string, string>>(checkpointFile(name), {});
    const runtime: StreamRuntime = {
      checkpoints,
      buffer: createDeliveryBuffer({
        settings: () => settingsOf(definitions.get(name) ?? definition),
        writer,
        retry: options.retry ?? DEFAULT_RETRY,
        log,
        transform: (records, processor, settings) =>
          transformRecords(
            records,
            processor,
            invoke,
            { deliveryStreamArn: settings.streamArn ?? definition.arn, region: options.region, ...(settings.sourceStreamArn === undefined ? {} : { sourceKinesisStreamArn: settings.sourceStreamArn }) },
            log,
          ),
        ...(options.catalog === undefined ? {} : { columns: (database: string, table: string) => options.catalog?.columns(database, table) }),
        onDelivered: (records) => {
          if (definition.type === 'DirectPut') return rewriteJournal(name, runtime.buffer.records);
          for (const record of records) {
            const current = runtime.checkpoints[record.shardId ?? ''];
            if (current === undefined || compareSequenceNumbers(record.sequenceNumber ?? '0', current) > 0) {
              runtime.checkpoints[record.shardId ?? ''] = record.sequenceNumber ?? '0';
            }
          }
          writeJsonFileAtomic(checkpointFile(name), runtime.checkpoints);
        },
      }),
    };
    runtimes.set(name, runtime);
    if (definition.type === 'DirectPut') {
      runtime.buffer.add(loadJournal(name));
    } else if (definition.source !== undefined && kinesis !== undefined) {
      runtime.source = startKinesisSource({
        client: kinesis,
        streamName: definition.source.KinesisStreamARN.split(':stream/')[1] ?? '',
        checkpoint: (shardId) => runtime.checkpoints[shardId],
        onRecords: (records) => runtime.buffer.add(records),
        shouldPause: () => runtime.buffer.bytes >= 2 * settingsOf(definitions.get(name) ?? definition).sizeInBytes,
        pollIntervalMs: options.pollIntervalMs ?? 200,
        log,
      });
    }
  }

  async function stopRuntime(name: string): Promise<void> {
    const runtime = runtimes.get(name);
    runtimes.delete(name);
    await runtime?.source?.stop();
    await runtime?.buffer.stop();
  }

  async function assertSourceStream(arn: string): Promise<void> {
    if (kinesis === undefined) return;
    try {
      await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: arn.split(':stream/')[1] ?? '' }));
    } catch (error) {
      if (error instanceof ResourceNotFoundException) throw invalid(`KinesisStreamSourceConfiguration.KinesisStreamARN: stream ${arn} not found`);
      throw error;
    }
  }

  async function createDeliveryStream(input: Json): Promise<Json> {
    const name = requireString(input, 'DeliveryStreamName');
    if (!NAME_PATTERN.test(name)) throw invalid(`DeliveryStreamName ${JSON.stringify(name)} must match ${NAME_PATTERN.source}`);
    if (definitions.has(name)) {
      throw new AwsApiError('ResourceInUseException', `Firehose ${name} under accountId ${options.accountId} already exists`);
    }
    const type = (input.DeliveryStreamType ?? 'DirectPut') as string;
    if (type !== 'DirectPut' && type !== 'KinesisStreamAsSource') {
      throw invalid(`DeliveryStreamType ${type} is not supported by the local Firehose (DirectPut, KinesisStreamAsSource)`);
    }
    for (const field of UNSUPPORTED_DESTINATIONS) {
      if (input[field] !== undefined) throw invalid(`${field}: only S3 destinations are supported by the local Firehose`);
    }
    const [field, config] = isObject(input.ExtendedS3DestinationConfiguration)
      ? ['ExtendedS3DestinationConfiguration', input.ExtendedS3DestinationConfiguration]
      : ['S3DestinationConfiguration', input.S3DestinationConfiguration];
    if (!isObject(config)) throw invalid('ExtendedS3DestinationConfiguration is required');
    const destination = normalizeDestination(config, field);
    const now = Date.now();
    let source: DeliveryStreamDefinition['source'];
    if (type === 'KinesisStreamAsSource') {
      const sourceConfig = isObject(input.KinesisStreamSourceConfiguration) ? input.KinesisStreamSourceConfiguration : {};
      const arn = requireString(sourceConfig, 'KinesisStreamARN', 'KinesisStreamSourceConfiguration.KinesisStreamARN');
      if (!arn.includes(':stream/')) throw invalid(`KinesisStreamSourceConfiguration.KinesisStreamARN is not a stream ARN: ${arn}`);
      await assertSourceStream(arn);
      source = {
        KinesisStreamARN: arn,
        ...(typeof sourceConfig.RoleARN === 'string' ? { RoleARN: sourceConfig.RoleARN } : {}),
        deliveryStartTimestamp: now,
      };
    }
    const encryptionInput = isObject(input.DeliveryStreamEncryptionConfigurationInput) ? input.DeliveryStreamEncryptionConfigurationInput : undefined;
    const definition: DeliveryStreamDefinition = {
      name,
      arn: `arn:aws:firehose:${options.region}:${options.accountId}:deliverystream/${name}`,
      type,
      versionId: 1,
      createTimestamp: now,
      ...(source === undefined ? {} : { source }),
      destination,
      tags: Array.isArray(input.Tags) ? (input.Tags as DeliveryStreamDefinition['tags']) : [],
      encryption: encryptionInput === undefined ? { Status: 'DISABLED' } : { ...encryptionInput, Status: 'ENABLED' },
    };
    definitions.set(name, definition);
    persistDefinitions();
    startRuntime(definition);
    return { DeliveryStreamARN: definition.arn };
  }

  async function deleteDeliveryStream(input: Json): Promise<Json> {
    const definition = definitionOf(input);
    definitions.delete(definition.name);
    persistDefinitions();
    await stopRuntime(definition.name);
    removeFile(checkpointFile(definition.name));
    removeFile(journalFile(definition.name));
    return {};
  }

  function listDeliveryStreams(input: Json): Json {
    const limit = typeof input.Limit === 'number' ? input.Limit : 10;
    const start = typeof input.ExclusiveStartDeliveryStreamName === 'string' ? input.ExclusiveStartDeliveryStreamName : '';
    const names = [...definitions.values()]
      .filter((definition) => input.DeliveryStreamType === undefined || definition.type === input.DeliveryStreamType)
      .map((definition) => definition.name)
      .sort()
      .filter((name) => name > start);
    return { DeliveryStreamNames: names.slice(0, limit), HasMoreDeliveryStreams: names.length > limit };
  }

  function acceptRecords(definition: DeliveryStreamDefinition, data: Buffer[]): void {
    if (definition.type !== 'DirectPut') {
      throw invalid(`This operation is not permitted on KinesisStreamAsSource delivery stream type (${definition.name}).`);
    }
    const arrival = Date.now();
    const records = data.map((buffer) => ({ data: buffer, arrival }));
    // On disk before the caller hears "accepted": a crash loses nothing acknowledged.
    appendFileSync(ensureParentDirectory(journalFile(definition.name)), records.map(journalLine).join(''));
    runtimes.get(definition.name)?.buffer.add(records);
  }

  function putRecord(input: Json): Json {
    const definition = definitionOf(input);
    acceptRecords(definition, [decodeRecord(input.Record, 'Record')]);
    return { RecordId: recordId(), Encrypted: definition.encryption.Status === 'ENABLED' };
  }

  function putRecordBatch(input: Json): Json {
    const definition = definitionOf(input);
    const records = Array.isArray(input.Records) ? input.Records : [];
    if (records.length === 0 || records.length > MAX_BATCH_RECORDS) throw invalid(`Records must hold 1 to ${MAX_BATCH_RECORDS} records, got ${records.length}`);
    const data = records.map((record, index) => decodeRecord(record, `Records[${index}]`));
    const total = data.reduce((sum, buffer) => sum + buffer.length, 0);
    if (total > MAX_BATCH_BYTES) throw invalid(`Records hold ${total} bytes; a batch holds at most ${MAX_BATCH_BYTES}`);
    acceptRecords(definition, data);
    return {
      FailedPutCount: 0,
      Encrypted: definition.encryption.Status === 'ENABLED',
      RequestResponses: data.map(() => ({ RecordId: recordId() })),
    };
  }

  function updateDestination(input: Json): Json {
    const definition = definitionOf(input);
    if (String(input.CurrentDeliveryStreamVersionId) !== String(definition.versionId)) {
      throw new AwsApiError('ConcurrentModificationException', `CurrentDeliveryStreamVersionId ${String(input.CurrentDeliveryStreamVersionId)} is not the current version ${definition.versionId}`);
    }
    if (input.DestinationId !== DESTINATION_ID) throw invalid(`DestinationId ${String(input.DestinationId)} not found`);
    const update = isObject(input.ExtendedS3DestinationUpdate) ? input.ExtendedS3DestinationUpdate : input.S3DestinationUpdate;
    if (!isObject(update)) throw invalid('ExtendedS3DestinationUpdate is required');
    const merged = { ...definition.destination, ...update };
    if (isObject(update.BufferingHints)) merged.BufferingHints = { ...(definition.destination.BufferingHints as Json), ...update.BufferingHints };
    definition.destination = normalizeDestination(merged, 'ExtendedS3DestinationUpdate');
    definition.versionId += 1;
    definition.lastUpdateTimestamp = Date.now();
    persistDefinitions();
    return {};
  }

  const operations: Record<string, (input: Json) => Json | Promise<Json>> = {
    CreateDeliveryStream: createDeliveryStream,
    DeleteDeliveryStream: deleteDeliveryStream,
    DescribeDeliveryStream: (input) => ({ DeliveryStreamDescription: describeDeliveryStream(definitionOf(input)) }),
    ListDeliveryStreams: listDeliveryStreams,
    PutRecord: putRecord,
    PutRecordBatch: putRecordBatch,
    UpdateDestination: updateDestination,
    TagDeliveryStream: (input) => {
      const definition = definitionOf(input);
      const tags = Array.isArray(input.Tags) ? (input.Tags as DeliveryStreamDefinition['tags']) : [];
      definition.tags = [...definition.tags.filter((tag) => !tags.some((next) => next.Key === tag.Key)), ...tags];
      persistDefinitions();
      return {};
    },
    UntagDeliveryStream: (input) => {
      const definition = definitionOf(input);
      const keys = Array.isArray(input.TagKeys) ? (input.TagKeys as string[]) : [];
      definition.tags = definition.tags.filter((tag) => !keys.includes(tag.Key));
      persistDefinitions();
      return {};
    },
    ListTagsForDeliveryStream: (input) => ({ Tags: definitionOf(input).tags, HasMoreTags: false }),
    StartDeliveryStreamEncryption: (input) => {
      const definition = definitionOf(input);
      const config = isObject(input.DeliveryStreamEncryptionConfigurationInput) ? input.DeliveryStreamEncryptionConfigurationInput : {};
      definition.encryption = { KeyType: 'AWS_OWNED_CMK', ...config, Status: 'ENABLED' };
      persistDefinitions();
      return {};
    },
    StopDeliveryStreamEncryption: (input) => {
      definitionOf(input).encryption = { Status: 'DISABLED' };
      persistDefinitions();
      return {};
    },
  };

  return {
    async handle(operation, input) {
      const handler = operations[operation];
      if (handler === undefined) throw new AwsApiError('UnknownOperationException', `Firehose ${operation} is not supported by the local Firehose`);
      return handler(input);
    },
    start(next) {
      endpoints = next;
      kinesis = new KinesisClient(localClientConfig(next.kinesis, options.region));
      if (writer === undefined) {
        const client = new S3Client(localClientConfig(next.s3, options.region));
        s3 = client;
        writer = {
          put: async (bucket, key, body) => {
            await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: body.length }));
          },
        };
      }
      for (const definition of definitions.values()) startRuntime(definition);
    },
    attachFunctions(next) {
      invoke = next;
    },
    async stop() {
      await Promise.all([...runtimes.keys()].map((name) => stopRuntime(name)));
      kinesis?.destroy();
      s3?.destroy();
    },
  };
}

function journalLine(record: BufferedRecord): string {
  return `${JSON.stringify({ d: record.data.toString('base64'), t: record.arrival })}\n`;
}

export { createFirehoseService };
export type { FirehoseService };
