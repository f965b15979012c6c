/**
 * Firehose delivery stream definitions: validation of CreateDeliveryStream / UpdateDestination
 * input against what the local Firehose honours (each error names the config path at fault), the
 * persisted definition, and its DescribeDeliveryStream form.
 */
import { AwsApiError } from '../util/errors.ts';
import type { DeliverySettings } from './delivery.ts';
import { validatePrefixes } from './keys.ts';
import { backupSettingsOf, normalizeBackup } from './backup.ts';
import { lambdaProcessorOf } from './processing.ts';
import { conversionOf } from './conversion.ts';

type DeliveryStreamType = 'DirectPut' | 'KinesisStreamAsSource';
type Json = Record<string, unknown>;

/** The persisted definition of one delivery stream. */
interface DeliveryStreamDefinition {
  name: string;
  arn: string;
  type: DeliveryStreamType;
  versionId: number;
  createTimestamp: number;
  lastUpdateTimestamp?: number;
  source?: { KinesisStreamARN: string; RoleARN?: string; deliveryStartTimestamp: number };
  /** ExtendedS3DestinationConfiguration with defaults applied, echoed by Describe. */
  destination: Json;
  tags: Array<{ Key: string; Value?: string }>;
  encryption: Json;
}

const DESTINATION_ID = 'destinationId-000000000001';
/** Defaults of BufferingHints for S3 (Firehose API reference, BufferingHints). */
const DEFAULT_BUFFERING = { SizeInMBs: 5, IntervalInSeconds: 300 };

const invalid = (message: string): AwsApiError => new AwsApiError('InvalidArgumentException', message);

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** CloudFormation passes template values through, numbers and booleans sometimes as strings. */
function numberOf(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value.trim() !== '') return Number(value);
  return Number.NaN;
}

function isEnabled(value: unknown): boolean {
  return value === true || value === 'true';
}

function requireString(input: Json, field: string, path = field): string {
  const value = input[field];
  if (typeof value !== 'string' || value === '') throw invalid(`${path} is required`);
  return value;
}

function bucketOf(bucketArn: string): string {
  return bucketArn.split(':::')[1] ?? '';
}

/** Fills defaults and rejects what the local Firehose cannot honour, naming the config path. */
function normalizeDestination(config: Json, path: string): Json {
  const bucketArn = requireString(config, 'BucketARN', `${path}.BucketARN`);
  if (!/^arn:[^:]+:s3:::[\w.-]{1,255}$/.test(bucketArn)) throw invalid(`${path}.BucketARN is not an S3 bucket ARN: ${bucketArn}`);
  const hints = isObject(config.BufferingHints) ? config.BufferingHints : {};
  const size = numberOf(hints.SizeInMBs ?? DEFAULT_BUFFERING.SizeInMBs);
  const interval = numberOf(hints.IntervalInSeconds ?? DEFAULT_BUFFERING.IntervalInSeconds);
  // AWS: SizeInMBs 1-128, IntervalInSeconds 0-900. Locally any positive size and any interval >= 0
  // (fractions included) are accepted, so tests can deliver in milliseconds.
  if (!(size > 0)) throw invalid(`${path}.BufferingHints.SizeInMBs must be a positive number, got ${String(hints.SizeInMBs)}`);
  if (!(interval >= 0)) throw invalid(`${path}.BufferingHints.IntervalInSeconds must be >= 0, got ${String(hints.IntervalInSeconds)}`);
  const compression = config.CompressionFormat ?? 'UNCOMPRESSED';
  if (compression !== 'UNCOMPRESSED' && compression !== 'GZIP') {
    throw invalid(`${path}.CompressionFormat ${String(compression)} is not supported by the local Firehose (GZIP or UNCOMPRESSED)`);
  }
  const processing = isObject(config.ProcessingConfiguration) ? config.ProcessingConfiguration : undefined;
  if (processing !== undefined && isEnabled(processing.Enabled)) {
    const processors = Array.isArray(processing.Processors) ? (processing.Processors as Json[]) : [];
    processors.forEach((processor, index) => {
      if (processor.Type !== 'AppendDelimiterToRecord' && processor.Type !== 'Lambda') {
        throw invalid(`${path}.ProcessingConfiguration.Processors[${index}].Type ${String(processor.Type)} is not supported by the local Firehose (Lambda, AppendDelimiterToRecord)`);
      }
    });
    lambdaProcessorOf(config, path);
  }
  const partitioning = config.DynamicPartitioningConfiguration;
  if (isObject(partitioning) && isEnabled(partitioning.Enabled)) throw invalid(`${path}.DynamicPartitioningConfiguration is not supported by the local Firehose`);
  // Region and account only fill the error documents' dataCatalogTable; checked here, read again in settingsOf.
  conversionOf(config, path, '', '');
  const backup = normalizeBackup(config, path);
  const prefix = typeof config.Prefix === 'string' ? config.Prefix : '';
  const errorOutputPrefix = typeof config.ErrorOutputPrefix === 'string' ? config.ErrorOutputPrefix : '';
  validatePrefixes(prefix, errorOutputPrefix, path);
  if (typeof config.CustomTimeZone === 'string') {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: config.CustomTimeZone });
    } catch {
      throw invalid(`${path}.CustomTimeZone ${config.CustomTimeZone} is not a time zone`);
    }
  }
  return {
    ...config,
    Prefix: prefix,
    ErrorOutputPrefix: errorOutputPrefix,
    BufferingHints: { SizeInMBs: size, IntervalInSeconds: interval },
    CompressionFormat: compression,
    EncryptionConfiguration: config.EncryptionConfiguration ?? { NoEncryptionConfig: 'NoEncryption' },
    S3BackupMode: 'Disabled',
    ...backup,
  };
}

/** The delimiter of an enabled `AppendDelimiterToRecord` processor (default `\n`). */
function delimiterOf(destination: Json): Buffer | undefined {
  const processing = destination.ProcessingConfiguration;
  if (!isObject(processing) || !isEnabled(processing.Enabled) || !Array.isArray(processing.Processors)) return undefined;
  const processor = (processing.Processors as Json[]).find((candidate) => candidate.Type === 'AppendDelimiterToRecord');
  if (processor === undefined) return undefined;
  const parameters = Array.isArray(processor.Parameters) ? (processor.Parameters as Json[]) : [];
  const value = parameters.find((parameter) => parameter.ParameterName === 'Delimiter')?.ParameterValue;
  if (typeof value !== 'string' || value === '') return Buffer.from('\n');
  return Buffer.from(value.replaceAll('\\n', '\n').replaceAll('\\t', '\t').replaceAll('\\r', '\r'));
}

function settingsOf(definition: DeliveryStreamDefinition): DeliverySettings {
  const destination = definition.destination;
  const hints = destination.BufferingHints as { SizeInMBs: number; IntervalInSeconds: number };
  const delimiter = delimiterOf(destination);
  const processor = lambdaProcessorOf(destination, 'ExtendedS3DestinationConfiguration');
  const backup = backupSettingsOf(destination);
  const [, , , region = '', accountId = ''] = definition.arn.split(':');
  const conversion = conversionOf(destination, 'ExtendedS3DestinationConfiguration', region, accountId);
  return {
    ...(conversion === undefined ? {} : { conversion }),
    streamName: definition.name,
    streamArn: definition.arn,
    ...(definition.source === undefined ? {} : { sourceStreamArn: definition.source.KinesisStreamARN }),
    ...(processor === undefined ? {} : { processor }),
    ...(backup === undefined ? {} : { backup }),
    versionId: String(definition.versionId),
    bucket: bucketOf(String(destination.BucketARN)),
    prefix: String(destination.Prefix ?? ''),
    errorOutputPrefix: String(destination.ErrorOutputPrefix ?? ''),
    sizeInBytes: hints.SizeInMBs * 1024 * 1024,
    intervalMs: hints.IntervalInSeconds * 1000,
    compression: destination.CompressionFormat === 'GZIP' ? 'GZIP' : 'UNCOMPRESSED',
    ...(delimiter === undefined ? {} : { delimiter }),
    ...(typeof destination.FileExtension === 'string' ? { fileExtension: destination.FileExtension } : {}),
    ...(typeof destination.CustomTimeZone === 'string' ? { timeZone: destination.CustomTimeZone } : {}),
  };
}

/** The S3DestinationDescription subset of the extended description. */
function s3Description(destination: Json): Json {
  const keys = ['RoleARN', 'BucketARN', 'Prefix', 'ErrorOutputPrefix', 'BufferingHints', 'CompressionFormat', 'EncryptionConfiguration', 'CloudWatchLoggingOptions'];
  return Object.fromEntries(keys.filter((key) => destination[key] !== undefined).map((key) => [key, destination[key]]));
}

function describeDeliveryStream(definition: DeliveryStreamDefinition): Json {
  return {
    DeliveryStreamName: definition.name,
    DeliveryStreamARN: definition.arn,
    DeliveryStreamStatus: 'ACTIVE',
    DeliveryStreamEncryptionConfiguration: definition.encryption,
    DeliveryStreamType: definition.type,
    VersionId: String(definition.versionId),
    CreateTimestamp: definition.createTimestamp / 1000,
    ...(definition.lastUpdateTimestamp === undefined ? {} : { LastUpdateTimestamp: definition.lastUpdateTimestamp / 1000 }),
    ...(definition.source === undefined
      ? {}
      : {
          Source: {
            KinesisStreamSourceDescription: {
              KinesisStreamARN: definition.source.KinesisStreamARN,
              ...(definition.source.RoleARN === undefined ? {} : { RoleARN: definition.source.RoleARN }),
              DeliveryStartTimestamp: definition.source.deliveryStartTimestamp / 1000,
            },
          },
        }),
    Destinations: [
      {
        DestinationId: DESTINATION_ID,
        S3DestinationDescription: s3Description(definition.destination),
        ExtendedS3DestinationDescription: definition.destination,
      },
    ],
    HasMoreDestinations: false,
  };
}

export {
  DESTINATION_ID,
  describeDeliveryStream,
  invalid,
  isObject,
  normalizeDestination,
  requireString,
  settingsOf,
};
export type { DeliveryStreamDefinition, Json };
