import '../helpers/env.ts';
import { FullBatchFailureError } from '@aws-lambda-powertools/batch';
import type { Context, SQSRecord } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEADLINE_MARGIN_MS, DeadlineReachedError, processSqsBatch, type RecordHandler } from '#lib/batch.ts';
import { InvalidEventError } from '#lib/domain/errors.ts';
import { logger, metrics } from '#lib/powertools.ts';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { fakeContext } from '../helpers/context.ts';
import { captureLogs } from '../helpers/logs.ts';
import { asNewMessage, batchOf, firstRecord, sqsRecords } from '../helpers/fixtures.ts';

const context = fakeContext('chargeOrder');
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A Lambda context whose remaining time runs down with the (fake) clock, from `timeoutMs` now. */
const runningDownContext = (timeoutMs: number): Context => {
  const end = Date.now() + timeoutMs;
  return { ...fakeContext('chargeOrder'), getRemainingTimeInMillis: () => Math.max(0, end - Date.now()) };
};
/** A record handler that never settles (a hung dependency), for the records in `hung`. */
const hangs = (hung: readonly SQSRecord[], handled: string[]): RecordHandler =>
  async (record) => {
    if (hung.includes(record)) await new Promise<never>(() => undefined);
    handled.push(record.messageId);
  };

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

  describe('batch metrics', () => {
    // Earlier tests' batches added metrics too: nothing publishes them here (no middleware).
    beforeEach(() => {
      metrics.clearMetrics();
    });

    afterEach(() => {
      metrics.clearMetrics();
    });

    it('counts the records done and the records returned to the queue, per function', async () => {
      // Prepare
      const addMetric = vi.spyOn(metrics, 'addMetric');
      const [a, c] = sqsRecords('order-placed-physical') as [SQSRecord, SQSRecord];
      const b = firstRecord('order-placed-digital');
      const handler: RecordHandler = async (record) => {
        if (record === b) throw new Error('card declined');
      };

      // Act
      await processSqsBatch(batchOf(a, b, c), context, handler);

      // Assess
      expect(metrics.serializeMetrics()).toMatchObject({ service: 'orderflow', function_name: context.functionName, RecordsProcessed: 2, RecordsFailed: 1 });
      expect(addMetric.mock.calls).toEqual([
        ['RecordsProcessed', MetricUnit.Count, 2],
        ['RecordsFailed', MetricUnit.Count, 1],
      ]);
      expect(metrics.hasStoredMetrics()).toBe(true);
    });

    it('has metrics to publish for a batch whose records do nothing (an S3 test event): no "No application metrics" warning', async () => {
      // Act
      await processSqsBatch(batchOf(firstRecord('order-placed-digital')), context, async () => undefined);

      // Assess
      expect(metrics.hasStoredMetrics()).toBe(true);
    });

    it('counts a batch whose every record failed before Lambda retries it whole', async () => {
      // Prepare
      const addMetric = vi.spyOn(metrics, 'addMetric');
      const records = sqsRecords('order-placed-physical');

      // Act
      const outcome = processSqsBatch(batchOf(...records), context, async () => {
        throw new Error('downstream unavailable');
      });

      // Assess
      await expect(outcome).rejects.toBeInstanceOf(FullBatchFailureError);
      expect(addMetric.mock.calls).toEqual([
        ['RecordsProcessed', MetricUnit.Count, 0],
        ['RecordsFailed', MetricUnit.Count, records.length],
      ]);
    });
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

    it('runs a FIFO batch in order within each message group, the groups concurrently', async () => {
      // Prepare: A placed, B placed, A charged, B charged, A shipped
      const records = sqsRecords('order-store-fifo');
      const events: string[] = [];
      const handler: RecordHandler = async (record) => {
        events.push(`start ${record.messageId}`);
        await nextTurn();
        events.push(`end ${record.messageId}`);
      };
      const groupOf = (messageId: string): string | undefined => records.find((record) => record.messageId === messageId)?.attributes.MessageGroupId;

      // Act
      const response = await processSqsBatch(batchOf(...records), context, handler, { fifo: true });

      // Assess: each group's records one after the other, in the batch's order
      expect(response).toEqual({ batchItemFailures: [] });
      for (const group of new Set(records.map((record) => record.attributes.MessageGroupId))) {
        const own = records.filter((record) => record.attributes.MessageGroupId === group);
        expect(events.filter((line) => groupOf(line.split(' ')[1] as string) === group)).toEqual(own.flatMap((record) => [`start ${record.messageId}`, `end ${record.messageId}`]));
      }
      // ... while the two orders' first records ran at the same time
      expect(events.slice(0, 2)).toEqual([`start ${records[0]?.messageId}`, `start ${records[1]?.messageId}`]);
    });
  });

  describe('deadline guard', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it('reports a record still running when the margin is reached as a failure, and its finished neighbours as done', async () => {
      // Prepare
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
      const [a, b] = sqsRecords('order-placed-physical') as [SQSRecord, SQSRecord];
      const c = asNewMessage(a);
      const handled: string[] = [];
      let response: unknown;

      // Act: a 10 s invocation whose record b hangs
      const pending = processSqsBatch(batchOf(a, b, c), runningDownContext(10_000), hangs([b], handled)).then((value) => (response = value));
      await vi.advanceTimersByTimeAsync(10_000 - DEADLINE_MARGIN_MS);
      await pending;

      // Assess: answered before Lambda's timeout, so a and c are deleted and only b returns to the queue
      expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: b.messageId }] });
      expect(handled.sort()).toEqual([a.messageId, c.messageId].sort());
    });

    it('starts no record with less than the margin left, and logs why', async () => {
      // Prepare
      const records = sqsRecords('order-placed-physical');
      const handled: string[] = [];
      const context = fakeContext('chargeOrder', { remainingMs: 2_000 });

      // Act
      const logs = await captureLogs(() =>
        expect(processSqsBatch(batchOf(...records), context, hangs([], handled), { deadlineMarginMs: 2_000 })).rejects.toBeInstanceOf(FullBatchFailureError),
      );

      // Assess
      expect(handled).toEqual([]);
      const failed = logs.filter((line) => line.message === 'record failed');
      expect(failed.map((line) => line.messageId)).toEqual(records.map((record) => record.messageId));
      expect(new Set(failed.map((line) => line.errorName))).toEqual(new Set(['DeadlineReachedError']));
      expect(String(failed[0]?.errorMessage)).toContain('was not started');
    });

    it('FIFO: a record hung past the margin fails, the records after it in its group are not started, other groups go on', async () => {
      // Prepare: A placed, B placed, A charged, B charged, A shipped; B placed hangs
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
      const records = sqsRecords('order-store-fifo');
      const handled: string[] = [];
      let response: { batchItemFailures: { itemIdentifier: string }[] } | undefined;

      // Act
      const pending = processSqsBatch(batchOf(...records), runningDownContext(10_000), hangs([records[1] as SQSRecord], handled), { fifo: true }).then((value) => (response = value));
      await vi.advanceTimersByTimeAsync(10_000 - DEADLINE_MARGIN_MS);
      await pending;

      // Assess
      expect(handled).toEqual([records[0], records[2], records[4]].map((record) => record?.messageId));
      expect(response?.batchItemFailures.map((failure) => failure.itemIdentifier)).toEqual([records[1], records[3]].map((record) => record?.messageId));
    });

    it('names the record and whether it had started', () => {
      const error = new DeadlineReachedError('m-1', true, 1_000);
      expect(error.name).toBe('DeadlineReachedError');
      expect(error.message).toBe('Record m-1 was still running with less than 1000 ms of the invocation left (deadline guard, lib/batch.ts)');
      expect(error.started).toBe(true);
    });
  });
});
