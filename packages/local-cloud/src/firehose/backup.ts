/**
 * S3 backup of source records (`S3BackupMode: Enabled`): every record as it came from the source, before the
 * transformation, written with the backup's own bucket, prefixes and compression
 * (ExtendedS3DestinationConfiguration S3BackupMode and S3BackupConfiguration, Firehose API reference; "Back up
 * source data", https://docs.aws.amazon.com/firehose/latest/dev/create-transform.html).
 *
 * Locally the backup object holds the same records as the destination object written with it (AWS buffers the
 * backup with its own BufferingHints: the objects may group records differently, never lose or add one).
 */
import { AwsApiError } from '../util/errors.ts';
import { validatePrefixes } from './keys.ts';

type Json = Record<string, unknown>;

interface BackupSettings {
  bucket: string;
  prefix: string;
  errorOutputPrefix: string;
  compression: 'GZIP' | 'UNCOMPRESSED';
}

const invalid = (message: string): AwsApiError => new AwsApiError('InvalidArgumentException', message);

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks `S3BackupMode` and its `S3BackupConfiguration`, naming the config path at fault; returns the config to keep. */
function normalizeBackup(destination: Json, path: string): Json {
  const mode = destination.S3BackupMode ?? 'Disabled';
  if (mode !== 'Disabled' && mode !== 'Enabled') throw invalid(`${path}.S3BackupMode must be Disabled or Enabled, got ${String(mode)}`);
  if (mode === 'Disabled') return {};
  const config = destination.S3BackupConfiguration;
  const at = `${path}.S3BackupConfiguration`;
  if (!isObject(config)) throw invalid(`${at} is required when S3BackupMode is Enabled`);
  const bucketArn = config.BucketARN;
  if (typeof bucketArn !== 'string' || !/^arn:[^:]+:s3:::[\w.-]{1,255}$/.test(bucketArn)) throw invalid(`${at}.BucketARN is not an S3 bucket ARN: ${String(bucketArn)}`);
  const compression = config.CompressionFormat ?? 'UNCOMPRESSED';
  if (compression !== 'UNCOMPRESSED' && compression !== 'GZIP') {
    throw invalid(`${at}.CompressionFormat ${String(compression)} is not supported by the local Firehose (GZIP or UNCOMPRESSED)`);
  }
  const prefix = typeof config.Prefix === 'string' ? config.Prefix : '';
  const errorOutputPrefix = typeof config.ErrorOutputPrefix === 'string' ? config.ErrorOutputPrefix : '';
  validatePrefixes(prefix, errorOutputPrefix, at);
  return { S3BackupMode: 'Enabled', S3BackupConfiguration: { ...config, Prefix: prefix, ErrorOutputPrefix: errorOutputPrefix, CompressionFormat: compression } };
}

/** The backup of a normalized destination, or undefined when it is off. */
function backupSettingsOf(destination: Json): BackupSettings | undefined {
  const config = destination.S3BackupConfiguration;
  if (destination.S3BackupMode !== 'Enabled' || !isObject(config)) return undefined;
  return {
    bucket: String(config.BucketARN).split(':::')[1] ?? '',
    prefix: String(config.Prefix ?? ''),
    errorOutputPrefix: String(config.ErrorOutputPrefix ?? ''),
    compression: config.CompressionFormat === 'GZIP' ? 'GZIP' : 'UNCOMPRESSED',
  };
}

export { backupSettingsOf, normalizeBackup };
export type { BackupSettings };
