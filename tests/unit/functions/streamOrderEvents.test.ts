import '../helpers/env.ts';
import { KinesisClient, PutRecordsCommand, ResourceNotFoundException, type PutRecordsCommandInput } from '@aws-sdk/client-kinesis';
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler, streamOrderEventsHandler } from '../../../functions/streamOrderEvents.ts';
import { parseOrderEvent } from '#lib/events/order-events.ts';
import { fakeContext } from '../helpers/context.ts';
import { DEPLOYED, stubDeployedEnv } from '../helpers/env.ts';
import { asNewMessage, batchOf, firstRecord, sqsRecords } from '../helpers/fixtures.ts';

const kinesisMock = mockClient(KinesisClient);
const context = fakeContext('streamOrderEvents');

/** What the analytics queue holds: OrderCharged A, OrderCharged B, OrderShipped A. */
const analyticsRecords = (): [SQSRecord, SQSRecord, SQSRecord] => [...sqsRecords('order-charged'), firstRecord('order-shipped')] as [SQSRecord, SQSRecord, SQSRecord];
const ids = (...records: SQSRecord[]): SQSBatchResponse => ({ batchItemFailures: records.map((record) => ({ itemIdentifier: record.messageId })) });
const putInputs = (): PutRecordsCommandInput[] => kinesisMock.commandCalls(PutRecordsCommand).map((call) => call.args[0].input as PutRecordsCommandInput);
const decoded = (input: PutRecordsCommandInput | undefined): string[] => (input?.Records ?? []).map((entry) => Buffer.from(entry.Data as Uint8Array).toString('utf8'));

/** A PutRecords answer that rejects the entries whose data holds one of these event ids (throttled shard). */
const rejecting =
  (shouldReject: (data: string, call: number) => boolean) =>
  (): ((input: PutRecordsCommandInput) => Promise<unknown>) => {
    let call = 0;
    return async (input: PutRecordsCommandInput) => {
      call += 1;
      const results = decoded(input).map((data, position) =>
        shouldReject(data, call)
          ? { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'Rate exceeded for shard shardId-000000000000 in stream orderflow-dev-order-stream under account 123456789012.' }
          : { SequenceNumber: `49656710581063213562416329081537478302981446437127520${300 + position}`, ShardId: 'shardId-000000000000' },
      );
      return { FailedRecordCount: results.filter((result) => 'ErrorCode' in result).length, Records: results };
    };
  };

/** Runs the handler while fake timers play the retry backoff instantly. */
const stream = async (...records: SQSRecord[]): Promise<SQSBatchResponse> => {
  const [response] = await Promise.all([streamOrderEventsHandler(batchOf(...records)), vi.runAllTimersAsync()]);
  return response;
};

describe('Function: streamOrderEvents', () => {
  beforeAll(() => {
    stubDeployedEnv('streamOrderEvents');
  });

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    kinesisMock.on(PutRecordsCommand).callsFake(rejecting(() => false)());
  });

  afterEach(() => {
    vi.useRealTimers();
    kinesisMock.reset();
  });

  afterAll(() => {
    vi.unstubAllEnvs();
  });

  it('writes the whole batch in one PutRecords, partition key orderId, one JSON line per event', async () => {
    // Prepare
    const records = analyticsRecords();

    // Act
    const response = await stream(...records);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(kinesisMock).toHaveReceivedCommandTimes(PutRecordsCommand, 1);
    const [input] = putInputs();
    expect(input?.StreamName).toBe(DEPLOYED.STREAM_NAME);
    expect(input?.Records?.map((entry) => entry.PartitionKey)).toEqual(records.map((record) => record.messageAttributes.orderId?.stringValue));
    expect(decoded(input)).toEqual(records.map((record) => `${JSON.stringify(parseOrderEvent(record.body))}\n`));
  });

  it('retries only the records Kinesis rejected: the second PutRecords holds only them', async () => {
    // Prepare: the shard throttles OrderCharged B on the first call
    const records = analyticsRecords();
    kinesisMock.on(PutRecordsCommand).callsFake(rejecting((data, call) => call === 1 && data.includes('3f2504e0-4f89-41d3-9a0c-0305e82c3301'))());

    // Act
    const response = await stream(...records);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(kinesisMock).toHaveReceivedCommandTimes(PutRecordsCommand, 2);
    expect(decoded(putInputs()[1])).toEqual([`${records[1].body}\n`]);
  });

  it('reports the records Kinesis still rejects after every retry, and only those', async () => {
    // Prepare
    const records = analyticsRecords();
    kinesisMock.on(PutRecordsCommand).callsFake(rejecting((data) => data.includes('"type":"OrderShipped"'))());

    // Act
    const response = await stream(...records);

    // Assess
    expect(response).toEqual(ids(records[2]));
    expect(putInputs().map((input) => input.Records?.length)).toEqual([3, 1, 1, 1]);
  });

  it('fails an unparseable record and streams its neighbours', async () => {
    // Prepare
    const [chargedA, chargedB, shippedA] = analyticsRecords();
    const invalid = asNewMessage(firstRecord('invalid-body'));

    // Act
    const response = await stream(chargedA, invalid, chargedB, shippedA);

    // Assess
    expect(response).toEqual(ids(invalid));
    expect(putInputs()[0]?.Records).toHaveLength(3);
  });

  it('rejects when the stream cannot be written at all (ResourceNotFoundException): Lambda retries the batch', async () => {
    // Prepare
    kinesisMock.on(PutRecordsCommand).rejects(new ResourceNotFoundException({ message: 'Stream orderflow-dev-order-stream under account 123456789012 not found.', $metadata: { httpStatusCode: 400 } }));

    // Act + Assess
    await expect(stream(...analyticsRecords())).rejects.toBeInstanceOf(ResourceNotFoundException);
  });

  it('streams a duplicate delivery byte for byte (same eventId: the lake deduplicates by it)', async () => {
    // Prepare
    const [chargedA] = analyticsRecords();

    // Act
    const response = await stream(chargedA, asNewMessage(chargedA));

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    const [first, second] = decoded(putInputs()[0]);
    expect(second).toBe(first);
  });

  it('sends nothing when no record parses', async () => {
    // Act
    const response = await stream(firstRecord('invalid-body'));

    // Assess
    expect(response).toEqual(ids(firstRecord('invalid-body')));
    expect(kinesisMock).not.toHaveReceivedAnyCommand();
  });

  it('works wrapped in its middleware (the deployed handler)', async () => {
    // Act
    const [response] = await Promise.all([handler(batchOf(...analyticsRecords()), context), vi.runAllTimersAsync()]);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(kinesisMock).toHaveReceivedCommandTimes(PutRecordsCommand, 1);
  });
});
