/**
 * Firehose data transformation with Lambda and S3 backup of source records: the record contract as pure functions,
 * then a DirectPut stream through the edge with the real SDK, its processor answered by a function handed to the
 * emulators as the local cloud hands its runtime (attachFunctions).
 */
import { gunzipSync } from 'node:zlib';
import { CreateDeliveryStreamCommand, FirehoseClient, InvalidArgumentException, PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BufferedRecord } from '../src/firehose/delivery.ts';
import { batchesOf, lambdaProcessorOf, readTransformationResponse, transformRecords, type InvokeFunction } from '../src/firehose/processing.ts';
import { waitFor } from '../src/util/wait.ts';
import { clientConfig, startTestCloud, type TestCloud } from './helpers/emulators.ts';

const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const LAMBDA_ARN = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:transform`;
const record = (text: string): BufferedRecord => ({ data: Buffer.from(text), arrival: 1_700_000_000_000 });
const processorConfig = (parameters: Array<[string, string]>): Record<string, unknown> => ({
  ProcessingConfiguration: {
    Enabled: true,
    Processors: [{ Type: 'Lambda', Parameters: parameters.map(([ParameterName, ParameterValue]) => ({ ParameterName, ParameterValue })) }],
  },
});

/** A transformation function as a user writes one: upper-cases, drops "drop", fails "fail". */
const upperCase: InvokeFunction = async (_arn, event) => {
  const { records } = event as { records: Array<{ recordId: string; data: string }> };
  return {
    ok: true,
    payload: {
      records: records.map(({ recordId, data }) => {
        const text = Buffer.from(data, 'base64').toString('utf8');
        if (text === 'drop') return { recordId, result: 'Dropped', data };
        if (text === 'fail') return { recordId, result: 'ProcessingFailed', data };
        return { recordId, result: 'Ok', data: Buffer.from(`${text.toUpperCase()}\n`).toString('base64') };
      }),
    },
  };
};

describe('Firehose Lambda processor (pure functions)', () => {
  it('reads LambdaArn, NumberOfRetries, BufferSizeInMBs and BufferIntervalInSeconds, with the documented defaults', () => {
    expect(lambdaProcessorOf(processorConfig([['LambdaArn', LAMBDA_ARN]]), 'Dest')).toEqual({
      lambdaArn: LAMBDA_ARN,
      retries: 3,
      bufferSizeBytes: 1024 * 1024,
      bufferIntervalMs: 60_000,
    });
    expect(lambdaProcessorOf(processorConfig([['LambdaArn', `${LAMBDA_ARN}:$LATEST`], ['NumberOfRetries', '0'], ['BufferSizeInMBs', '0.2'], ['BufferIntervalInSeconds', '0']]), 'Dest')).toMatchObject({
      retries: 0,
      bufferSizeBytes: Math.floor(0.2 * 1024 * 1024),
      bufferIntervalMs: 0,
    });
    expect(lambdaProcessorOf({}, 'Dest')).toBeUndefined();
  });

  it('names the parameter at fault', () => {
    expect(() => lambdaProcessorOf(processorConfig([['LambdaArn', 'transform']]), 'Dest')).toThrow(/Dest\.ProcessingConfiguration\.Processors\[0\]\.Parameters LambdaArn/);
    expect(() => lambdaProcessorOf(processorConfig([['LambdaArn', LAMBDA_ARN], ['BufferSizeInMBs', '4']]), 'Dest')).toThrow(/BufferSizeInMBs must be between 0.2 and 3/);
    expect(() => lambdaProcessorOf(processorConfig([['LambdaArn', LAMBDA_ARN], ['BufferIntervalInSeconds', '901']]), 'Dest')).toThrow(/BufferIntervalInSeconds/);
  });

  it('splits records into invocations of at most the processor buffer size, in order', () => {
    const records = ['aaaa', 'bbbb', 'cc', 'dddddddd'].map(record);
    expect(batchesOf(records, 6).map((batch) => batch.map((r) => r.data.toString()))).toEqual([['aaaa'], ['bbbb', 'cc'], ['dddddddd']]);
  });

  it('holds the function to the record contract: same ids, Ok / Dropped / ProcessingFailed, base64 data', () => {
    const ids = ['1', '2', '3', '4', '5'];
    const verdicts = readTransformationResponse(
      {
        records: [
          { recordId: '1', result: 'Ok', data: Buffer.from('x').toString('base64') },
          { recordId: '2', result: 'Dropped' },
          { recordId: '3', result: 'ProcessingFailed', data: '' },
          { recordId: '4', result: 'Maybe', data: '' },
          { recordId: 'unknown', result: 'Ok', data: '' },
        ],
      },
      ids,
    );
    expect(verdicts.map((verdict) => (verdict.result === 'Failed' ? verdict.errorCode : verdict.result))).toEqual([
      'Ok',
      'Dropped',
      'Lambda.ProcessingFailedStatus',
      'Lambda.InvalidReturnFormat',
      'Lambda.MissingRecordId',
    ]);
    expect(readTransformationResponse({ nothing: true }, ids).every((verdict) => verdict.result === 'Failed')).toBe(true);
    expect(readTransformationResponse({ records: [{ recordId: '1', result: 'Ok', data: '' }, { recordId: '1', result: 'Ok', data: '' }] }, ['1'])[0]).toMatchObject({
      errorCode: 'Lambda.DuplicatedRecordId',
    });
  });

  it('retries a failing invocation NumberOfRetries times, then fails its records with the attempts made', async () => {
    let calls = 0;
    const failing: InvokeFunction = async () => {
      calls += 1;
      return { ok: false, errorType: 'Error', errorMessage: 'boom' };
    };
    const processor = { lambdaArn: LAMBDA_ARN, retries: 2, bufferSizeBytes: 1024, bufferIntervalMs: 0 };
    const outcome = await transformRecords([record('a'), record('b')], processor, failing, { deliveryStreamArn: 'arn', region: REGION });
    expect(calls).toBe(3);
    expect(outcome.ok).toEqual([]);
    expect(outcome.failed.map((failure) => [failure.errorCode, failure.attemptsMade, failure.lambdaArn])).toEqual([
      ['Lambda.FunctionError', 3, LAMBDA_ARN],
      ['Lambda.FunctionError', 3, LAMBDA_ARN],
    ]);
  });

  it('refuses to run before a runtime is attached, so the records stay buffered', async () => {
    const processor = { lambdaArn: LAMBDA_ARN, retries: 0, bufferSizeBytes: 1024, bufferIntervalMs: 0 };
    await expect(transformRecords([record('a')], processor, undefined, { deliveryStreamArn: 'arn', region: REGION })).rejects.toThrow(/not loaded yet/);
  });
});

describe('Firehose transformation and source backup through the edge', () => {
  let cloud: TestCloud;
  let firehose: FirehoseClient;
  let s3: S3Client;
  const events: unknown[] = [];

  /** Every object under `prefix` as text, `.gz` decompressed. */
  async function texts(prefix: string): Promise<Array<{ key: string; text: string }>> {
    const { Contents = [] } = await s3.send(new ListObjectsV2Command({ Bucket: 'lake', Prefix: prefix }));
    return Promise.all(
      Contents.map(async ({ Key = '' }) => {
        const bytes = Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: 'lake', Key }))).Body!.transformToByteArray());
        return { key: Key, text: (Key.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8') };
      }),
    );
  }

  beforeAll(async () => {
    cloud = await startTestCloud('firehose-processing');
    const config = clientConfig(cloud.emulators);
    firehose = new FirehoseClient(config);
    s3 = new S3Client(config);
    await s3.send(new CreateBucketCommand({ Bucket: 'lake' }));
  });

  afterAll(async () => {
    await cloud?.dispose();
  });

  it('writes Ok records to the destination, ProcessingFailed ones to the error prefix, every source record to the backup', async () => {
    // Prepare: the stream exists before the runtime is attached, as in the local cloud's start-up.
    await firehose.send(
      new CreateDeliveryStreamCommand({
        DeliveryStreamName: 'transformed',
        ExtendedS3DestinationConfiguration: {
          BucketARN: 'arn:aws:s3:::lake',
          RoleARN: 'r',
          Prefix: 'rows/',
          ErrorOutputPrefix: 'errors/!{firehose:error-output-type}/',
          BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 0.2 },
          ...processorConfig([['LambdaArn', LAMBDA_ARN], ['BufferSizeInMBs', '0.2'], ['BufferIntervalInSeconds', '0']]),
          S3BackupMode: 'Enabled',
          S3BackupConfiguration: { BucketARN: 'arn:aws:s3:::lake', RoleARN: 'r', Prefix: 'source/', CompressionFormat: 'GZIP' },
        },
      }),
    );
    const sent = ['one', 'drop', 'fail', 'two'];
    await firehose.send(new PutRecordBatchCommand({ DeliveryStreamName: 'transformed', Records: sent.map((text) => ({ Data: Buffer.from(text) })) }));
    // Act
    cloud.emulators.attachFunctions?.(async (arn, event) => {
      events.push(event);
      return upperCase(arn, event);
    });
    // Assess
    const rows = await waitFor(async () => {
      const found = await texts('rows/');
      return found.length > 0 ? found : undefined;
    }, { what: 'the transformed object' });
    expect(rows.map((object) => object.text).join('')).toBe('ONE\nTWO\n');
    expect(rows[0]?.key).toMatch(/^rows\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/transformed-1-/);
    const [failed] = await texts('errors/processing-failed/');
    const line = JSON.parse(failed!.text.trim()) as Record<string, unknown>;
    expect(line).toMatchObject({ errorCode: 'Lambda.ProcessingFailedStatus', rawData: Buffer.from('fail').toString('base64'), lambdaArn: LAMBDA_ARN, attemptsMade: 1 });
    const backup = await texts('source/');
    expect(backup).toHaveLength(1);
    expect(backup[0]?.key).toMatch(/^source\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/transformed-1-.*\.gz$/);
    expect(backup[0]?.text).toBe(sent.join(''));
    expect(events[0]).toMatchObject({
      deliveryStreamArn: `arn:aws:firehose:${REGION}:${ACCOUNT}:deliverystream/transformed`,
      region: REGION,
      records: sent.map((text) => ({ data: Buffer.from(text).toString('base64'), recordId: expect.any(String), approximateArrivalTimestamp: expect.any(Number) })),
    });
  });

  it('refuses a backup without its configuration, naming the field', async () => {
    const create = firehose.send(
      new CreateDeliveryStreamCommand({
        DeliveryStreamName: 'no-backup-config',
        ExtendedS3DestinationConfiguration: { BucketARN: 'arn:aws:s3:::lake', RoleARN: 'r', S3BackupMode: 'Enabled' },
      }),
    );
    await expect(create).rejects.toBeInstanceOf(InvalidArgumentException);
    await expect(create).rejects.toThrow(/ExtendedS3DestinationConfiguration\.S3BackupConfiguration is required/);
  });
});
