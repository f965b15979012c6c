/**
 * Record format conversion to Parquet ("Convert input data format in Amazon Data Firehose",
 * https://docs.aws.amazon.com/firehose/latest/dev/record-format-conversion.html): each record's JSON documents are
 * read with the columns of the Glue table named in `SchemaConfiguration` and written as one Parquet object
 * (`ParquetSerDe`, compression SNAPPY by default), `.parquet` appended to the key ("Configure Amazon S3 object name
 * format"). A record that cannot be read with the schema goes to the error prefix as `format-conversion-failed`,
 * in the document "Handling errors for data format conversion" describes (`ErrorCode`, `ErrorMessage`,
 * `dataCatalogTable`).
 *
 * Parquet is written by hyparquet-writer (pure JavaScript, no native build, one dependency: hyparquet, by the
 * same author), a maintained library whose files DuckDB, Athena and Spark read.
 *
 * Locally: the OpenX and Hive JSON SerDes both read keys case-insensitively (OpenX's default; `ColumnToJsonKeyMappings`
 * honoured); column types string / varchar / char, tinyint / smallint / int, bigint, float, double, boolean and
 * timestamp (ISO 8601 text or epoch milliseconds) are converted; another type fails the records naming it. ORC is
 * refused at creation.
 */
import { gzipSync } from 'node:zlib';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { AwsApiError } from '../util/errors.ts';
import type { GlueColumn } from '../glue/catalog.ts';
import type { BufferedRecord } from './delivery.ts';
import type { FailedRecord } from './processing.ts';

type Json = Record<string, unknown>;
type ParquetCompression = 'SNAPPY' | 'GZIP' | 'UNCOMPRESSED';

interface ConversionSettings {
  databaseName: string;
  tableName: string;
  region: string;
  catalogId: string;
  versionId: string;
  compression: ParquetCompression;
  /** Column name → JSON key (OpenXJsonSerDe ColumnToJsonKeyMappings). */
  keyMappings: Record<string, string>;
}

interface ConversionOutcome {
  /** The Parquet object, or undefined when no record converted. */
  body?: Buffer;
  converted: BufferedRecord[];
  failed: FailedRecord[];
}

const invalid = (message: string): AwsApiError => new AwsApiError('InvalidArgumentException', message);

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The enabled conversion of a destination, or undefined. @throws AwsApiError naming the config path at fault */
function conversionOf(destination: Json, path: string, region: string, accountId: string): ConversionSettings | undefined {
  const config = destination.DataFormatConversionConfiguration;
  if (!isObject(config) || config.Enabled === false || config.Enabled === 'false') return undefined;
  const at = `${path}.DataFormatConversionConfiguration`;
  const deserializer = isObject(config.InputFormatConfiguration) && isObject(config.InputFormatConfiguration.Deserializer) ? config.InputFormatConfiguration.Deserializer : undefined;
  if (deserializer === undefined || !(isObject(deserializer.OpenXJsonSerDe) || isObject(deserializer.HiveJsonSerDe))) {
    throw invalid(`${at}.InputFormatConfiguration.Deserializer must be OpenXJsonSerDe or HiveJsonSerDe`);
  }
  const serializer = isObject(config.OutputFormatConfiguration) && isObject(config.OutputFormatConfiguration.Serializer) ? config.OutputFormatConfiguration.Serializer : undefined;
  if (serializer === undefined || !isObject(serializer.ParquetSerDe)) {
    throw invalid(`${at}.OutputFormatConfiguration.Serializer: the local Firehose writes ParquetSerDe only${serializer !== undefined && isObject(serializer.OrcSerDe) ? ' (OrcSerDe is not supported)' : ''}`);
  }
  const compression = serializer.ParquetSerDe.Compression ?? 'SNAPPY';
  if (compression !== 'SNAPPY' && compression !== 'GZIP' && compression !== 'UNCOMPRESSED') {
    throw invalid(`${at}.OutputFormatConfiguration.Serializer.ParquetSerDe.Compression must be SNAPPY, GZIP or UNCOMPRESSED, got ${String(compression)}`);
  }
  const schema = isObject(config.SchemaConfiguration) ? config.SchemaConfiguration : undefined;
  if (schema === undefined || typeof schema.DatabaseName !== 'string' || typeof schema.TableName !== 'string') {
    throw invalid(`${at}.SchemaConfiguration needs DatabaseName and TableName`);
  }
  // With conversion on, the serializer compresses; S3 compression must stay off (Firehose developer guide,
  // "Enable record format conversion": "Amazon S3 compression gets disabled when you enable format conversion").
  if ((destination.CompressionFormat ?? 'UNCOMPRESSED') !== 'UNCOMPRESSED') {
    throw invalid(`${path}.CompressionFormat must be UNCOMPRESSED when DataFormatConversionConfiguration is enabled (the ParquetSerDe compresses)`);
  }
  const openx = isObject(deserializer.OpenXJsonSerDe) ? deserializer.OpenXJsonSerDe : {};
  const mappings = isObject(openx.ColumnToJsonKeyMappings) ? openx.ColumnToJsonKeyMappings : {};
  return {
    databaseName: schema.DatabaseName,
    tableName: schema.TableName,
    region: typeof schema.Region === 'string' ? schema.Region : region,
    catalogId: typeof schema.CatalogId === 'string' ? schema.CatalogId : accountId,
    versionId: typeof schema.VersionId === 'string' ? schema.VersionId : 'LATEST',
    compression,
    keyMappings: Object.fromEntries(Object.entries(mappings).map(([column, key]) => [column.toLowerCase(), String(key)])),
  };
}

type ParquetType = 'STRING' | 'INT32' | 'INT64' | 'FLOAT' | 'DOUBLE' | 'BOOLEAN' | 'TIMESTAMP';

/** The Parquet type of a Glue column type, or undefined when the local Firehose cannot write it. */
function parquetTypeOf(glueType: string): ParquetType | undefined {
  const base = glueType.replace(/\(.*\)$/, '');
  if (base === 'string' || base === 'varchar' || base === 'char') return 'STRING';
  if (base === 'tinyint' || base === 'smallint' || base === 'int' || base === 'integer') return 'INT32';
  if (base === 'bigint') return 'INT64';
  if (base === 'float') return 'FLOAT';
  if (base === 'double') return 'DOUBLE';
  if (base === 'boolean') return 'BOOLEAN';
  if (base === 'timestamp') return 'TIMESTAMP';
  return undefined;
}

class MalformedDataError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'MalformedDataError';
  }
}

/** One JSON value as a column of `type`, or null. @throws MalformedDataError naming the column */
function convertValue(value: unknown, type: ParquetType, column: string): unknown {
  if (value === null || value === undefined) return null;
  const fail = (): never => {
    throw new MalformedDataError(`column ${column} (${type}) cannot hold ${JSON.stringify(value)}`);
  };
  switch (type) {
    case 'STRING':
      return typeof value === 'string' ? value : JSON.stringify(value);
    case 'INT32':
    case 'INT64': {
      const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
      if (typeof number !== 'number' || !Number.isSafeInteger(number)) return fail();
      if (type === 'INT32' && (number < -(2 ** 31) || number >= 2 ** 31)) return fail();
      return type === 'INT64' ? BigInt(number) : number;
    }
    case 'FLOAT':
    case 'DOUBLE': {
      const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
      return typeof number === 'number' && Number.isFinite(number) ? number : fail();
    }
    case 'BOOLEAN':
      if (value === true || value === 'true') return true;
      if (value === false || value === 'false') return false;
      return fail();
    case 'TIMESTAMP': {
      const time = typeof value === 'number' ? new Date(value) : typeof value === 'string' ? new Date(value) : undefined;
      return time !== undefined && !Number.isNaN(time.getTime()) ? time : fail();
    }
  }
}

/** The rows of one record: every JSON object in it (one per line, as streamed JSON is written). */
function documentsOf(data: Buffer): Json[] {
  const documents = data
    .toString('utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (error) {
        throw new MalformedDataError(`not JSON: ${(error as Error).message}`);
      }
      if (!isObject(value)) throw new MalformedDataError('a document must be a JSON object');
      return value;
    });
  if (documents.length === 0) throw new MalformedDataError('the record holds no JSON document');
  return documents;
}

/**
 * Converts the records with the table's columns into one Parquet object; a record that does not fit fails alone.
 *
 * @example
 * const { body, failed } = convertToParquet(records, catalog.columns('orderflow_dev', 'order_events') ?? [], settings);
 */
function convertToParquet(records: readonly BufferedRecord[], columns: readonly GlueColumn[], settings: ConversionSettings): ConversionOutcome {
  const dataCatalogTable = {
    catalogId: settings.catalogId,
    databaseName: settings.databaseName,
    tableName: settings.tableName,
    region: settings.region,
    versionId: settings.versionId,
    catalogArn: `arn:aws:glue:${settings.region}:${settings.catalogId}:catalog`,
  };
  const failure = (record: BufferedRecord, message: string): FailedRecord => ({
    record,
    errorCode: 'DataFormatConversion.MalformedData',
    errorMessage: message,
    attemptsMade: 1,
    dataCatalogTable,
  });
  const typed = columns.map((column) => ({ name: column.Name, type: parquetTypeOf(column.Type), glueType: column.Type }));
  const unsupported = typed.find((column) => column.type === undefined);
  if (unsupported !== undefined || typed.length === 0) {
    const message = unsupported === undefined ? `table ${settings.databaseName}.${settings.tableName} has no columns` : `column ${unsupported.name} has type ${unsupported.glueType}, which the local Firehose does not write`;
    return { converted: [], failed: records.map((record) => failure(record, message)) };
  }
  const data: unknown[][] = typed.map(() => []);
  const converted: BufferedRecord[] = [];
  const failed: FailedRecord[] = [];
  for (const record of records) {
    try {
      const rows = documentsOf(record.data).map((document) => {
        const byKey = new Map(Object.entries(document).map(([key, value]) => [key.toLowerCase(), value]));
        return typed.map((column) => convertValue(byKey.get((settings.keyMappings[column.name] ?? column.name).toLowerCase()), column.type as ParquetType, column.name));
      });
      for (const row of rows) row.forEach((value, index) => data[index]?.push(value));
      converted.push(record);
    } catch (error) {
      if (!(error instanceof MalformedDataError)) throw error;
      failed.push(failure(record, error.message));
    }
  }
  if (converted.length === 0) return { converted, failed };
  const buffer = parquetWriteBuffer({
    columnData: typed.map((column, index) => ({ name: column.name, type: column.type as ParquetType, nullable: true, data: data[index] as never[] })),
    codec: settings.compression,
    compressors: { GZIP: (input: Uint8Array) => new Uint8Array(gzipSync(input)) },
  });
  return { body: Buffer.from(buffer), converted, failed };
}

export { conversionOf, convertToParquet, parquetTypeOf };
export type { ConversionSettings };
