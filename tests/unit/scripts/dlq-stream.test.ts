import '../helpers/env.ts';
import { describe, expect, it } from 'vitest';
import { beyondRetention, parseFailurePointer, type KinesisFailurePointer } from '../../../scripts/dlq/stream.ts';

/** An on-failure record as Lambda writes it for a Kinesis batch it gave up on (Lambda developer guide). */
const onFailureRecord = (firstArrival: string): string =>
  JSON.stringify({
    requestContext: { requestId: 'c9b8fa9f-5a7f-4c1e-9a3b-3b5f0a1d2e4c', functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:orderflow-dev-streamConsumer', condition: 'RetryAttemptsExhausted', approximateInvokeCount: 4 },
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    version: '1.0',
    timestamp: '2026-11-22T11:10:00.000Z',
    KinesisBatchInfo: {
      shardId: 'shardId-000000000000',
      startSequenceNumber: '49656632116218945776331460766951218434217839386406912002',
      endSequenceNumber: '49656632116218945776331460766951218434217839386406912002',
      approximateArrivalOfFirstRecord: firstArrival,
      approximateArrivalOfLastRecord: firstArrival,
      batchSize: 1,
      streamArn: 'arn:aws:kinesis:us-east-1:123456789012:stream/orderflow-dev-order-stream',
    },
  });

describe('Script: dlq stream redrive', () => {
  const now = new Date('2026-12-03T12:00:00.000Z');
  const pointerArrived = (iso: string): KinesisFailurePointer => parseFailurePointer(onFailureRecord(iso)) as KinesisFailurePointer;

  it('refuses a pointer whose first record arrived longer ago than the stream retention, naming the retention and the lake', () => {
    // Prepare: 15 days ago, retention 336 h (14 days)
    const pointer = pointerArrived('2026-11-18T12:00:00.000Z');

    // Act
    const reason = beyondRetention(pointer, 336, now);

    // Assess
    expect(reason).toBe(
      'records 49656632116218945776331460766951218434217839386406912002..49656632116218945776331460766951218434217839386406912002 of shardId-000000000000 ' +
        "arrived 2026-11-18T12:00:00.000Z, 360 h ago: older than orderflow-dev-order-stream's retention of 336 h, so Kinesis no longer has them all. " +
        'The pointer stays in the queue; replay the records from the lake (scripts/dlq/README.md, "Replaying the data lake from Kinesis")',
    );
  });

  it('lets through a pointer within the retention (up to the last millisecond) and one without an arrival time', () => {
    expect(beyondRetention(pointerArrived('2026-11-19T12:00:00.000Z'), 336, now)).toBeUndefined();
    expect(beyondRetention(pointerArrived('2026-12-02T12:00:00.000Z'), 24, now)).toBeUndefined();
    expect(beyondRetention(pointerArrived('2026-12-02T11:59:59.999Z'), 24, now)).toContain('retention of 24 h');
    expect(beyondRetention({ ...pointerArrived('2026-11-01T00:00:00.000Z'), approximateArrivalOfFirstRecord: undefined } as unknown as KinesisFailurePointer, 24, now)).toBeUndefined();
  });
});
