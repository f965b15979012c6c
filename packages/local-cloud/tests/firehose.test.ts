import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import {
  CreateDeliveryStreamCommand,
  DeleteDeliveryStreamCommand,
  DescribeDeliveryStreamCommand,
  FirehoseClient,
  InvalidArgumentException,
  ListDeliveryStreamsCommand,
  PutRecordBatchCommand,
  PutRecordCommand,
  ResourceInUseException,
  ResourceNotFoundException,
} from '@aws-sdk/client-firehose';
import { CreateStreamCommand, KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateErrorPrefix, evaluatePrefix, formatTimestamp, objectSuffix, validatePrefixes } from '../src/firehose/keys.ts';
import type { ObjectWriter } from '../src/firehose/delivery.ts';
import { createFirehoseService } from '../src/firehose/service.ts';
import { sleep, waitFor } from '../src/util/wait.ts';
import { clientConfig, startTestCloud, untilActive } from './helpers/emulators.ts';
import type { TestCloud } from './helpers/emulators.ts';

const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const AT = new Date('2018-08-27T10:30:05.123Z');

describe('Firehose keys (pure functions)', () => {
  it('formats Java DateTimeFormatter patterns, quotes literal', () => {
    expect(formatTimestamp(AT, 'yyyy/MM/dd/HH/')).toBe('2018/08/27/10/');
    expect(formatTimestamp(AT, "'year='yyyy'/month='MM'/day='dd'/hour='HH")).toBe('year=2018/month=08/day=27/hour=10');
    expect(formatTimestamp(AT, "yyyy-MM-dd'T'HH:mm:ss.SSS yy D EEE MMM ''")).toBe("2018-08-27T10:30:05.123 18 239 Mon Aug '");
    expect(formatTimestamp(AT, 'yyyy-MM-dd HH', 'Asia/Tokyo')).toBe('2018-08-27 19');
  });

  it('appends the default yyyy/MM/dd/HH/ when Prefix has no timestamp expression (AWS examples)', () => {
    expect(evaluatePrefix('', { time: AT })).toBe('2018/08/27/10/');
    expect(evaluatePrefix('lake/', { time: AT })).toBe('lake/2018/08/27/10/');
    expect(evaluatePrefix('myPrefix/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/', { time: AT })).toBe(
      'myPrefix/year=2018/month=08/day=27/hour=10/',
    );
    expect(evaluatePrefix('myFirehose/DeliveredYear=!{timestamp:yyyy}/anyMonth/rand=!{firehose:random-string}', { time: AT })).toMatch(
      /^myFirehose\/DeliveredYear=2018\/anyMonth\/rand=[0-9a-f]{11}$/,
    );
  });

  it('evaluates ErrorOutputPrefix, defaulting to <Prefix><error-output-type>/yyyy/MM/dd/HH/', () => {
    const context = { time: AT, errorOutputType: 'processing-failed' as const };
    expect(evaluateErrorPrefix('lake/', '', context)).toBe('lake/processing-failed/2018/08/27/10/');
    expect(evaluateErrorPrefix('x', 'myFirehoseFailures/!{firehose:error-output-type}/!{timestamp:yyyy}/anyMonth/!{timestamp:dd}', context)).toBe(
      'myFirehoseFailures/processing-failed/2018/anyMonth/27',
    );
  });

  it('rejects prefixes AWS rejects', () => {
    expect(() => validatePrefixes('!{timestamp:yyyy/MM/dd}', '', 'Dest')).toThrow(/ErrorOutputPrefix cannot be null/);
    expect(() => validatePrefixes('p/', 'e/!{timestamp:yyyy}/', 'Dest')).toThrow(/error-output-type/);
    expect(() => validatePrefixes('!{firehose:error-output-type}/', 'e/!{firehose:error-output-type}', 'Dest')).toThrow(/only allowed in ErrorOutputPrefix/);
    expect(() => validatePrefixes('!{partitionKeyFromQuery:customer}/', 'e/!{firehose:error-output-type}', 'Dest')).toThrow(/dynamic partitioning/);
    expect(() => validatePrefixes('!{unknown:x}', 'e/!{firehose:error-output-type}', 'Dest')).toThrow(/unknown expression/);
  });

  it('names objects <stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid><extension>', () => {
    expect(objectSuffix({ streamName: 'order-lake', version: '1', time: AT, extension: '.gz', uuid: '0f8fad5b-d9cb-469f-a165-70867728950e' })).toBe(
      'order-lake-1-2018-08-27-10-30-05-0f8fad5b-d9cb-469f-a165-70867728950e.gz',
    );
  });
});

describe('Firehose error output (injected S3 writer)', () => {
  it('retries a failing write, then writes the records under the error prefix', async () => {
    // Prepare
    const directory = await mkdtemp(join(tmpdir(), 'orderflow-firehose-unit-'));
    const written: Array<{ key: string; body: Buffer }> = [];
    let attempts = 0;
    const writer: ObjectWriter = {
      put: async (_bucket, key, body) => {
        attempts += 1;
        if (!key.startsWith('errors/')) throw new Error('SlowDown');
        written.push({ key, body });
      },
    };
    const service = createFirehoseService({
      directory,
      region: REGION,
      accountId: ACCOUNT,
      log: () => undefined,
      writer,
      retry: { delaysMs: [10, 10], backoffMs: 50, maxBackoffMs: 100 },
    });
    service.start({ s3: 'http://127.0.0.1:9', kinesis: 'http://127.0.0.1:9' });
    try {
      await service.handle('CreateDeliveryStream', {
        DeliveryStreamName: 'failing',
        ExtendedS3DestinationConfiguration: {
          BucketARN: 'arn:aws:s3:::lake',
          Prefix: 'data/!{timestamp:yyyy}/',
          ErrorOutputPrefix: 'errors/!{firehose:error-output-type}/!{timestamp:yyyy}/',
          BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 0.05 },
        },
      });
      // Act
      await service.handle('PutRecord', { DeliveryStreamName: 'failing', Record: { Data: Buffer.from('{"a":1}').toString('base64') } });
      const [object] = await waitFor(async () => (written.length > 0 ? written : undefined), { what: 'the error object' });
      // Assess
      expect(attempts).toBe(4); // 3 attempts at the object, 1 at its error object
      expect(object?.key).toMatch(new RegExp(`^errors/processing-failed/${new Date().getUTCFullYear()}/failing-1-`));
      const [line] = object!.body.toString('utf8').trim().split('\n').map((text) => JSON.parse(text));
      expect(line).toMatchObject({ attemptsMade: 3, errorCode: 'S3.PutObject', rawData: Buffer.from('{"a":1}').toString('base64') });
    } finally {
      await service.stop();
      await rm(directory, { recursive: true, force: true });
    }
  });
});

describe('Firehose through the edge', () => {
  let cloud: TestCloud;
  let firehose: FirehoseClient;
  let kinesis: KinesisClient;
  let s3: S3Client;

  const connect = (): void => {
    const config = clientConfig(cloud.emulators);
    firehose = new FirehoseClient(config);
    kinesis = new KinesisClient(config);
    s3 = new S3Client(config);
  };

  /** Every object under `prefix`, decompressed when `.gz`. */
  async function objects(prefix: string): Promise<Array<{ key: string; text: string }>> {
    const { Contents = [] } = await s3.send(new ListObjectsV2Command({ Bucket: 'lake', Prefix: prefix }));
    return Promise.all(
      Contents.map(async ({ Key = '' }) => {
        const object = await s3.send(new GetObjectCommand({ Bucket: 'lake', Key }));
        const bytes = Buffer.from(await object.Body!.transformToByteArray());
        return { key: Key, text: (Key.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8') };
      }),
    );
  }

  /** Waits until the objects under `prefix` hold `count` lines. */
  async function linesUnder(prefix: string, count: number, timeoutMs = 10_000): Promise<{ keys: string[]; lines: string[] }> {
    return waitFor(
      async () => {
        const found = await objects(prefix);
        const lines = found.flatMap((object) => object.text.split('\n').filter((line) => line !== ''));
        return lines.length >= count ? { keys: found.map((object) => object.key), lines } : undefined;
      },
      { timeoutMs, intervalMs: 100, what: `${count} records under ${prefix}` },
    );
  }

  beforeAll(async () => {
    cloud = await startTestCloud('firehose');
    connect();
    await s3.send(new CreateBucketCommand({ Bucket: 'lake' }));
  });

  afterAll(async () => {
    await cloud?.dispose();
  });

  it('delivers a Kinesis stream to S3 as GZIP NDJSON under the dated prefix', async () => {
    // Prepare
    await kinesis.send(new CreateStreamCommand({ StreamName: 'order-stream', ShardCount: 2 }));
    await untilActive(kinesis, 'order-stream');
    const put = async (from: number, count: number): Promise<void> => {
      const records = Array.from({ length: count }, (_, offset) => ({
        PartitionKey: `o-${(from + offset) % 11}`,
        Data: Buffer.from(JSON.stringify({ index: from + offset, type: 'OrderPlaced' })),
      }));
      const output = await kinesis.send(new PutRecordsCommand({ StreamName: 'order-stream', Records: records }));
      expect(output.FailedRecordCount).toBe(0);
    };
    const before = new Date();
    await put(0, 300); // before the delivery stream exists: read from TRIM_HORIZON
    // Act
    await firehose.send(
      new CreateDeliveryStreamCommand({
        DeliveryStreamName: 'order-lake',
        DeliveryStreamType: 'KinesisStreamAsSource',
        KinesisStreamSourceConfiguration: {
          KinesisStreamARN: `arn:aws:kinesis:${REGION}:${ACCOUNT}:stream/order-stream`,
          RoleARN: `arn:aws:iam::${ACCOUNT}:role/firehose`,
        },
        ExtendedS3DestinationConfiguration: {
          BucketARN: 'arn:aws:s3:::lake',
          RoleARN: `arn:aws:iam::${ACCOUNT}:role/firehose`,
          Prefix: 'raw/',
          BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 0.3 },
          CompressionFormat: 'GZIP',
          ProcessingConfiguration: { Enabled: true, Processors: [{ Type: 'AppendDelimiterToRecord' }] },
        },
      }),
    );
    await put(300, 200);
    const { keys, lines } = await linesUnder('raw/', 500);
    // Assess
    // The dated prefix is the UTC hour of the oldest record's arrival (an hour may turn meanwhile).
    const hours = new Set([formatTimestamp(before, 'yyyy/MM/dd/HH/'), formatTimestamp(new Date(), 'yyyy/MM/dd/HH/')]);
    for (const key of keys) {
      expect(key).toMatch(/^raw\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/order-lake-1-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9a-f-]{36}\.gz$/);
      expect(hours.has(key.slice('raw/'.length, 'raw/yyyy/MM/dd/HH/'.length))).toBe(true);
    }
    expect(lines.map((line) => (JSON.parse(line) as { index: number }).index).sort((a, b) => a - b)).toEqual(Array.from({ length: 500 }, (_, index) => index));
    const { DeliveryStreamDescription } = await firehose.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: 'order-lake' }));
    expect(DeliveryStreamDescription).toMatchObject({
      DeliveryStreamStatus: 'ACTIVE',
      DeliveryStreamType: 'KinesisStreamAsSource',
      VersionId: '1',
      Source: { KinesisStreamSourceDescription: { KinesisStreamARN: `arn:aws:kinesis:${REGION}:${ACCOUNT}:stream/order-stream` } },
      Destinations: [{ DestinationId: 'destinationId-000000000001', ExtendedS3DestinationDescription: { CompressionFormat: 'GZIP', Prefix: 'raw/' } }],
    });
    await expect(firehose.send(new PutRecordCommand({ DeliveryStreamName: 'order-lake', Record: { Data: Buffer.from('x') } }))).rejects.toBeInstanceOf(
      InvalidArgumentException,
    );
  });

  it('delivers DirectPut batches under a Hive-style expression prefix', async () => {
    await firehose.send(
      new CreateDeliveryStreamCommand({
        DeliveryStreamName: 'direct-lake',
        DeliveryStreamType: 'DirectPut',
        ExtendedS3DestinationConfiguration: {
          BucketARN: 'arn:aws:s3:::lake',
          RoleARN: `arn:aws:iam::${ACCOUNT}:role/firehose`,
          Prefix: 'events/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/',
          ErrorOutputPrefix: 'errors/!{firehose:error-output-type}/year=!{timestamp:yyyy}/',
          BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 0.2 },
          ProcessingConfiguration: { Enabled: true, Processors: [{ Type: 'AppendDelimiterToRecord' }] },
        },
      }),
    );
    const output = await firehose.send(
      new PutRecordBatchCommand({
        DeliveryStreamName: 'direct-lake',
        Records: Array.from({ length: 50 }, (_, index) => ({ Data: Buffer.from(JSON.stringify({ index })) })),
      }),
    );
    expect(output).toMatchObject({ FailedPutCount: 0 });
    expect(output.RequestResponses).toHaveLength(50);
    const { keys, lines } = await linesUnder('events/', 50);
    expect(keys[0]).toMatch(/^events\/year=\d{4}\/month=\d{2}\/day=\d{2}\/hour=\d{2}\/direct-lake-1-[\d-]{19}-[0-9a-f-]{36}$/);
    expect(lines).toHaveLength(50);
  });

  it('answers API errors with the SDK exception classes', async () => {
    await expect(firehose.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: 'nope' }))).rejects.toBeInstanceOf(ResourceNotFoundException);
    await expect(
      firehose.send(new CreateDeliveryStreamCommand({ DeliveryStreamName: 'direct-lake', ExtendedS3DestinationConfiguration: { BucketARN: 'arn:aws:s3:::lake', RoleARN: 'r' } })),
    ).rejects.toBeInstanceOf(ResourceInUseException);
    await expect(
      firehose.send(
        new CreateDeliveryStreamCommand({
          DeliveryStreamName: 'bad-prefix',
          ExtendedS3DestinationConfiguration: { BucketARN: 'arn:aws:s3:::lake', RoleARN: 'r', Prefix: 'x/!{timestamp:yyyy}/' },
        }),
      ),
    ).rejects.toBeInstanceOf(InvalidArgumentException);
    await expect(
      firehose.send(
        new CreateDeliveryStreamCommand({
          DeliveryStreamName: 'no-stream',
          DeliveryStreamType: 'KinesisStreamAsSource',
          KinesisStreamSourceConfiguration: { KinesisStreamARN: `arn:aws:kinesis:${REGION}:${ACCOUNT}:stream/missing`, RoleARN: 'r' },
          ExtendedS3DestinationConfiguration: { BucketARN: 'arn:aws:s3:::lake', RoleARN: 'r' },
        }),
      ),
    ).rejects.toBeInstanceOf(InvalidArgumentException);
  });

  it('keeps definitions, checkpoints and accepted DirectPut records across a restart', async () => {
    // Prepare: a long interval, so the records are still buffered when the emulators stop.
    await firehose.send(
      new CreateDeliveryStreamCommand({
        DeliveryStreamName: 'slow-lake',
        ExtendedS3DestinationConfiguration: { BucketARN: 'arn:aws:s3:::lake', RoleARN: 'r', Prefix: 'slow/', BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 1.5 } },
      }),
    );
    await firehose.send(new PutRecordBatchCommand({ DeliveryStreamName: 'slow-lake', Records: [{ Data: Buffer.from('a\n') }, { Data: Buffer.from('b\n') }] }));
    // Act
    await cloud.restart();
    connect();
    // Assess
    const { DeliveryStreamNames } = await firehose.send(new ListDeliveryStreamsCommand({}));
    expect(DeliveryStreamNames).toEqual(['direct-lake', 'order-lake', 'slow-lake']);
    const { lines } = await linesUnder('slow/', 2);
    expect(lines.sort()).toEqual(['a', 'b']);
    // The Kinesis checkpoints held: nothing delivered twice.
    await sleep(1_000);
    expect((await linesUnder('raw/', 500)).lines).toHaveLength(500);
    await firehose.send(new DeleteDeliveryStreamCommand({ DeliveryStreamName: 'slow-lake' }));
    expect((await firehose.send(new ListDeliveryStreamsCommand({}))).DeliveryStreamNames).toEqual(['direct-lake', 'order-lake']);
  });
});
