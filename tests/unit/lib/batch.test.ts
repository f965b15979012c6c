import '../helpers/env.ts';
import { FullBatchFailureError } from '@aws-lambda-powertools/batch';
import type { SQSRecord } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { processSqsBatch, type RecordHandler } from '#lib/batch.ts';
import { InvalidEventError } from '#lib/domain/errors.ts';
import { logger } from '#lib/powertools.ts';
import { fakeContext } from '../helpers/context.ts';
import { captureLogs } from '../helpers/logs.ts';
import { asNewMessage, batchOf, firstRecord, sqsRecords } from '../helpers/fixtures.ts';

const context = fakeContext('chargeOrder');
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('Lib: batch processSqsBatch', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('reports exactly the failed records; the others are done', async () => {
    // Prepare
    const [a, c] = sqsRecords('order-placed-physical') as [SQSRecord, SQSRecord];
    const b = firstRecord('order-placed-digital');
    const handled: string[] = [];
    const handler: RecordHandler = async (record) => {
      if (record === b) throw new InvalidEventError('order event', [{ field: 'type', message: 'test' }]);
      handled.push(record.messageId);
    };

    // Act
    const response = await processSqsBatch(batchOf(a, b, c), context, handler);

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: b.messageId }] });
    expect(handled.sort()).toEqual([a.messageId, c.messageId].sort());
  });

  it('answers an empty failure list when every record succeeds', async () => {
    expect(await processSqsBatch(batchOf(...sqsRecords('order-placed-physical')), context, async () => undefined)).toEqual({ batchItemFailures: [] });
  });

  it('throws FullBatchFailureError when every record failed, so Lambda retries the whole batch', async () => {
    // Prepare
    const failing: RecordHandler = async () => {
      throw new Error('downstream unavailable');
    };

    // Act + Assess
    await expect(processSqsBatch(batchOf(...sqsRecords('order-placed-physical')), context, failing)).rejects.toBeInstanceOf(FullBatchFailureError);
  });

  it('gives every log line of a record that record\'s messageId, orderId and correlationId, even while records run concurrently', async () => {
    // Prepare
    const records = sqsRecords('order-placed-physical');
    const handler: RecordHandler = async (record, log) => {
      log.info('step 1');
      await nextTurn();
      log.info('step 2');
      await nextTurn();
      if (record === records[1]) throw new Error('card declined');
    };

    // Act
    const logs = await captureLogs(() => processSqsBatch(batchOf(...records), context, handler));

    // Assess
    expect(logs.map((line) => line.message)).toEqual(expect.arrayContaining(['step 1', 'step 2', 'record failed']));
    expect(logs).toHaveLength(5);
    for (const line of logs) {
      const record = records.find((candidate) => candidate.messageId === line.messageId);
      expect(record, JSON.stringify(line)).toBeDefined();
      expect(line.orderId).toBe(record?.messageAttributes.orderId?.stringValue);
      expect(line.correlationId).toBe(record?.messageAttributes.correlationId?.stringValue);
      expect(line.receiveCount).toBe(1);
    }
    expect(logs.find((line) => line.message === 'record failed')).toMatchObject({ messageId: records[1]?.messageId, errorName: 'Error', errorMessage: 'card declined' });
  });

  it('leaves the shared logger without record keys afterwards', async () => {
    // Act
    await processSqsBatch(batchOf(...sqsRecords('order-placed-physical')), context, async (_record, log) => log.info('done'));

    // Assess
    const logs = await captureLogs(async () => logger.info('after the batch'));
    expect(logs[0]).not.toHaveProperty('messageId');
    expect(logs[0]).not.toHaveProperty('orderId');
  });

  it('keeps concurrent invocations apart (one module instance may serve several, as in the local cloud)', async () => {
    // Prepare
    const [a, b] = sqsRecords('order-placed-physical') as [SQSRecord, SQSRecord];
    const [c, d] = [asNewMessage(a), asNewMessage(b)];
    const slowFailure = Promise.withResolvers<void>();
    const handler: RecordHandler = async (record) => {
      if (record === a) return slowFailure.promise;
      if (record === d) throw new Error('d failed');
    };

    // Act
    const first = processSqsBatch(batchOf(a, b), context, handler);
    await nextTurn();
    const second = processSqsBatch(batchOf(c, d), context, handler);
    await nextTurn();
    slowFailure.reject(new Error('a failed'));

    // Assess
    expect(await first).toEqual({ batchItemFailures: [{ itemIdentifier: a.messageId }] });
    expect(await second).toEqual({ batchItemFailures: [{ itemIdentifier: d.messageId }] });
  });

  describe('FIFO (skipGroupOnError)', () => {
    it('returns the rest of a failed message group unprocessed, while other groups go on', async () => {
      // Prepare: A placed, B placed, A charged, B charged, A shipped; A placed fails
      const records = sqsRecords('order-store-fifo');
      const handled: string[] = [];
      const handler: RecordHandler = async (record) => {
        if (record === records[0]) throw new Error('throttled');
        handled.push(record.messageId);
      };

      // Act
      const response = await processSqsBatch(batchOf(...records), context, handler, { fifo: true });

      // Assess
      expect(response.batchItemFailures.map((failure) => failure.itemIdentifier)).toEqual([records[0], records[2], records[4]].map((record) => record?.messageId));
      expect(handled).toEqual([records[1], records[3]].map((record) => record?.messageId));
    });

    it('processes the records of a FIFO batch one at a time, in order', async () => {
      // Prepare
      const records = sqsRecords('order-store-fifo');
      const events: string[] = [];
      const handler: RecordHandler = async (record) => {
        events.push(`start ${record.messageId}`);
        await nextTurn();
        events.push(`end ${record.messageId}`);
      };

      // Act
      await processSqsBatch(batchOf(...records), context, handler, { fifo: true });

      // Assess
      expect(events).toEqual(records.flatMap((record) => [`start ${record.messageId}`, `end ${record.messageId}`]));
    });
  });
});
