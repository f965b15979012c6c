/**
 * Firehose record format conversion to Parquet with a Glue table's schema: the conversion as a pure function, then
 * through the edge with the real SDK (Glue CreateDatabase / CreateTable, a DirectPut stream converting with that
 * table), the objects read back with hyparquet, an independent Parquet reader.
 */
import { CreateDatabaseCommand, CreateTableCommand, EntityNotFoundException, GetTableCommand, GlueClient } from '@aws-sdk/client-glue';
import { CreateDeliveryStreamCommand, FirehoseClient, InvalidArgumentException, PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conversionOf, convertToParquet, parquetTypeOf, type ConversionSettings } from '../src/firehose/conversion.ts';
import type { BufferedRecord } from '../src/firehose/delivery.ts';
import { waitFor } from '../src/util/wait.ts';
import { clientConfig, startTestCloud, type TestCloud } from './helpers/emulators.ts';

const COLUMNS = [
  { Name: 'orderid', Type: 'string' },
  { Name: 'totalcents', Type: 'bigint' },
  { Name: 'items', Type: 'int' },
  { Name: 'occurredat', Type: 'timestamp' },
  { Name: 'paid', Type: 'boolean' },
];
const SETTINGS: ConversionSettings = {
  databaseName: 'lake',
  tableName: 'events',
  region: 'us-east-1',
  catalogId: '000000000000',
  versionId: 'LATEST',
  compression: 'SNAPPY',
  keyMappings: {},
};
const CONVERSION = {
  Enabled: true,
  InputFormatConfiguration: { Deserializer: { OpenXJsonSerDe: {} } },
  OutputFormatConfiguration: { Serializer: { ParquetSerDe: { Compression: 'SNAPPY' as const } } },
  SchemaConfiguration: { DatabaseName: 'lake', TableName: 'events', RoleARN: 'r', VersionId: 'LATEST' },
};
const record = (text: string): BufferedRecord => ({ data: Buffer.from(text), arrival: 1_700_000_000_000, sequenceNumber: '42' });
const read = async (body: Buffer): Promise<Record<string, unknown>[]> => {
  const file = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer;
  return parquetReadObjects({ file });
};

describe('Firehose record format conversion (pure functions)', () => {
  it('writes the records as Parquet with the table columns, keys matched case-insensitively', async () => {
    // Act
    const outcome = convertToParquet(
      [record('{"orderId":"a","totalCents":3448,"items":3,"occurredAt":"2026-11-22T10:15:30.412Z","paid":true}\n'), record('{"orderid":"b","totalcents":"5"}\n{"orderid":"c"}\n')],
      COLUMNS,
      SETTINGS,
    );
    // Assess
    expect(outcome.failed).toEqual([]);
    const rows = await read(outcome.body as Buffer);
    expect(rows).toEqual([
      { orderid: 'a', totalcents: 3448n, items: 3, occurredat: new Date('2026-11-22T10:15:30.412Z'), paid: true },
      { orderid: 'b', totalcents: 5n, items: null, occurredat: null, paid: null },
      { orderid: 'c', totalcents: null, items: null, occurredat: null, paid: null },
    ]);
    const metadata = parquetMetadata((outcome.body as Buffer).buffer.slice((outcome.body as Buffer).byteOffset) as ArrayBuffer);
    expect(metadata.row_groups[0]?.columns[0]?.meta_data?.codec).toBe('SNAPPY');
  });

  it('fails only the records that do not fit, as format-conversion-failed documents naming the table', () => {
    const outcome = convertToParquet([record('{"orderid":"a"}'), record('not json'), record('{"orderid":"b","items":1.5}')], COLUMNS, SETTINGS);
    expect(outcome.converted.map((converted) => converted.data.toString())).toEqual(['{"orderid":"a"}']);
    expect(outcome.failed.map((failure) => [failure.errorCode, failure.errorMessage])).toEqual([
      ['DataFormatConversion.MalformedData', expect.stringContaining('not JSON')],
      ['DataFormatConversion.MalformedData', 'column items (INT32) cannot hold 1.5'],
    ]);
    expect(outcome.failed[0]?.dataCatalogTable).toMatchObject({ databaseName: 'lake', tableName: 'events', catalogArn: 'arn:aws:glue:us-east-1:000000000000:catalog' });
  });

  it('maps Glue types to Parquet and names a column it cannot write', () => {
    expect(['string', 'varchar(20)', 'int', 'bigint', 'double', 'boolean', 'timestamp'].map(parquetTypeOf)).toEqual(['STRING', 'STRING', 'INT32', 'INT64', 'DOUBLE', 'BOOLEAN', 'TIMESTAMP']);
    const outcome = convertToParquet([record('{}')], [{ Name: 'tags', Type: 'array<string>' }], SETTINGS);
    expect(outcome.failed[0]?.errorMessage).toBe('column tags has type array<string>, which the local Firehose does not write');
  });

  it('refuses what AWS refuses, naming the config path', () => {
    expect(conversionOf({ DataFormatConversionConfiguration: CONVERSION }, 'Dest', 'us-east-1', '1')).toMatchObject({ databaseName: 'lake', compression: 'SNAPPY' });
    expect(() => conversionOf({ CompressionFormat: 'GZIP', DataFormatConversionConfiguration: CONVERSION }, 'Dest', '', '')).toThrow(/Dest\.CompressionFormat must be UNCOMPRESSED/);
    expect(() => conversionOf({ DataFormatConversionConfiguration: { ...CONVERSION, SchemaConfiguration: {} } }, 'Dest', '', '')).toThrow(/SchemaConfiguration needs DatabaseName and TableName/);
    expect(() =>
      conversionOf({ DataFormatConversionConfiguration: { ...CONVERSION, OutputFormatConfiguration: { Serializer: { OrcSerDe: {} } } } }, 'Dest', '', ''),
    ).toThrow(/OrcSerDe is not supported/);
    expect(conversionOf({ DataFormatConversionConfiguration: { ...CONVERSION, Enabled: false } }, 'Dest', '', '')).toBeUndefined();
  });
});

describe('Firehose to Parquet through the edge, with the local Glue Data Catalog', () => {
  let cloud: TestCloud;
  let glue: GlueClient;
  let firehose: FirehoseClient;
  let s3: S3Client;

  beforeAll(async () => {
    cloud = await startTestCloud('firehose-conversion');
    const config = clientConfig(cloud.emulators);
    glue = new GlueClient(config);
    firehose = new FirehoseClient(config);
    s3 = new S3Client(config);
    await s3.send(new CreateBucketCommand({ Bucket: 'lake' }));
  });

  afterAll(async () => {
    await cloud?.dispose();
  });

  it('keeps databases and tables as Glue does, lower-cased, EntityNotFoundException for a missing one', async () => {
    await glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: 'Lake' } }));
    await glue.send(
      new CreateTableCommand({
        DatabaseName: 'lake',
        TableInput: { Name: 'Events', PartitionKeys: [{ Name: 'year', Type: 'string' }], StorageDescriptor: { Columns: COLUMNS.map((column) => ({ ...column, Name: column.Name.toUpperCase() })) } },
      }),
    );
    const { Table } = await glue.send(new GetTableCommand({ DatabaseName: 'lake', Name: 'events' }));
    expect(Table?.StorageDescriptor?.Columns?.map((column) => column.Name)).toEqual(COLUMNS.map((column) => column.Name));
    expect(Table?.PartitionKeys).toEqual([{ Name: 'year', Type: 'string' }]);
    await expect(glue.send(new GetTableCommand({ DatabaseName: 'lake', Name: 'missing' }))).rejects.toBeInstanceOf(EntityNotFoundException);
  });

  it('writes a .parquet object of the records that fit and a format-conversion-failed document for the one that does not', async () => {
    // Act
    await firehose.send(
      new CreateDeliveryStreamCommand({
        DeliveryStreamName: 'parquet-lake',
        ExtendedS3DestinationConfiguration: {
          BucketARN: 'arn:aws:s3:::lake',
          RoleARN: 'r',
          Prefix: 'events/year=!{timestamp:yyyy}/',
          ErrorOutputPrefix: 'errors/!{firehose:error-output-type}/',
          BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 0.2 },
          DataFormatConversionConfiguration: CONVERSION,
        },
      }),
    );
    const sent = ['{"orderid":"a","totalcents":1}', '{"orderid":"b","items":"many"}', '{"orderid":"c","paid":false}'];
    await firehose.send(new PutRecordBatchCommand({ DeliveryStreamName: 'parquet-lake', Records: sent.map((text) => ({ Data: Buffer.from(`${text}\n`) })) }));
    // Assess
    const listed = async (prefix: string): Promise<string[]> => ((await s3.send(new ListObjectsV2Command({ Bucket: 'lake', Prefix: prefix }))).Contents ?? []).map((object) => object.Key ?? '');
    const [key] = await waitFor(async () => {
      const keys = await listed('events/');
      return keys.length > 0 ? keys : undefined;
    }, { what: 'the Parquet object' });
    expect(key).toMatch(/^events\/year=\d{4}\/parquet-lake-1-[\d-]{19}-[0-9a-f-]{36}\.parquet$/);
    const body = Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: 'lake', Key: key }))).Body!.transformToByteArray());
    expect((await read(body)).map((row) => [row.orderid, row.totalcents, row.paid])).toEqual([
      ['a', 1n, null],
      ['c', null, false],
    ]);
    const [errorKey] = await listed('errors/format-conversion-failed/');
    const document = JSON.parse((await (await s3.send(new GetObjectCommand({ Bucket: 'lake', Key: errorKey }))).Body!.transformToString()).trim()) as Record<string, unknown>;
    expect(document).toMatchObject({
      ErrorCode: 'DataFormatConversion.MalformedData',
      ErrorMessage: 'column items (INT32) cannot hold "many"',
      rawData: Buffer.from(`${sent[1]}\n`).toString('base64'),
      dataCatalogTable: { databaseName: 'lake', tableName: 'events' },
    });
  });

  it('refuses GZIP with format conversion, naming the field', async () => {
    const create = firehose.send(
      new CreateDeliveryStreamCommand({
        DeliveryStreamName: 'gzip-parquet',
        ExtendedS3DestinationConfiguration: { BucketARN: 'arn:aws:s3:::lake', RoleARN: 'r', CompressionFormat: 'GZIP', DataFormatConversionConfiguration: CONVERSION },
      }),
    );
    await expect(create).rejects.toBeInstanceOf(InvalidArgumentException);
    await expect(create).rejects.toThrow(/ExtendedS3DestinationConfiguration\.CompressionFormat must be UNCOMPRESSED/);
  });
});
