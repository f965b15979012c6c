import '../../helpers/env.ts';
import { IdempotencyAlreadyInProgressError, IdempotencyPersistenceLayerError } from '@aws-lambda-powertools/idempotency';
import { IdempotencyRecord } from '@aws-lambda-powertools/idempotency/persistence';
import { ChangeMessageVisibilityCommand, ReceiptHandleIsInvalid, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { retryInProgressSooner, withVisibilityHeartbeat } from '#lib/aws/visibility.ts';
import { DEPLOYED } from '../../helpers/env.ts';

const sqsMock = mockClient(SQSClient);
const options = { queueUrl: DEPLOYED.SHIPPING_QUEUE_URL, receiptHandle: 'AQEBreceipt', extendBySeconds: 121 };

describe('Lib: aws/visibility withVisibilityHeartbeat', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    sqsMock.on(ChangeMessageVisibilityCommand).resolves({});
  });

  afterEach(() => {
    vi.useRealTimers();
    sqsMock.reset();
  });

  it('extends the message visibility every interval while the work runs, then stops', async () => {
    // Prepare
    const work = Promise.withResolvers<string>();
    const running = withVisibilityHeartbeat({ ...options, intervalMs: 50 }, () => work.promise);

    // Act
    await vi.advanceTimersByTimeAsync(49);
    const beforeFirstBeat = sqsMock.commandCalls(ChangeMessageVisibilityCommand).length;
    await vi.advanceTimersByTimeAsync(101);
    work.resolve('label printed');
    const result = await running;
    await vi.advanceTimersByTimeAsync(500);

    // Assess
    expect(result).toBe('label printed');
    expect(beforeFirstBeat).toBe(0);
    expect(sqsMock).toHaveReceivedCommandTimes(ChangeMessageVisibilityCommand, 3);
    expect(sqsMock).toHaveReceivedCommandWith(ChangeMessageVisibilityCommand, { QueueUrl: DEPLOYED.SHIPPING_QUEUE_URL, ReceiptHandle: 'AQEBreceipt', VisibilityTimeout: 121 });
  });

  it('beats at half the extension by default', async () => {
    // Prepare
    const work = Promise.withResolvers<void>();
    const running = withVisibilityHeartbeat(options, () => work.promise);

    // Act
    await vi.advanceTimersByTimeAsync(60_499);
    const early = sqsMock.commandCalls(ChangeMessageVisibilityCommand).length;
    await vi.advanceTimersByTimeAsync(1);
    work.resolve();
    await running;

    // Assess
    expect(early).toBe(0);
    expect(sqsMock).toHaveReceivedCommandTimes(ChangeMessageVisibilityCommand, 1);
  });

  it('stops beating when the work fails, and rethrows its error', async () => {
    // Prepare
    const work = Promise.withResolvers<void>();
    const running = withVisibilityHeartbeat({ ...options, intervalMs: 10 }, () => work.promise);
    const failure = new Error('carrier API down');

    // Act
    await vi.advanceTimersByTimeAsync(25);
    work.reject(failure);
    await expect(running).rejects.toBe(failure);
    await vi.advanceTimersByTimeAsync(100);

    // Assess
    expect(sqsMock).toHaveReceivedCommandTimes(ChangeMessageVisibilityCommand, 2);
  });

  it('hands a failed beat to onError and keeps working', async () => {
    // Prepare
    const invalid = new ReceiptHandleIsInvalid({ message: 'The input receipt handle is invalid.', $metadata: { httpStatusCode: 400 } });
    sqsMock.on(ChangeMessageVisibilityCommand).rejects(invalid);
    const onError = vi.fn();
    const work = Promise.withResolvers<number>();
    const running = withVisibilityHeartbeat({ ...options, intervalMs: 10, onError }, () => work.promise);

    // Act
    await vi.advanceTimersByTimeAsync(10);
    work.resolve(42);

    // Assess
    expect(await running).toBe(42);
    expect(onError).toHaveBeenCalledExactlyOnceWith(invalid);
  });

  it('never beats for work that ends before the first interval', async () => {
    expect(await withVisibilityHeartbeat({ ...options, intervalMs: 10 }, async () => 'quick')).toBe('quick');
    await vi.advanceTimersByTimeAsync(100);
    expect(sqsMock).not.toHaveReceivedAnyCommand();
  });
});

describe('Lib: aws/visibility retryInProgressSooner', () => {
  const NOW = Date.parse('2026-11-22T10:00:00.000Z');
  const billing = { queueUrl: DEPLOYED.BILLING_QUEUE_URL, receiptHandle: 'AQEBsecond-delivery' };
  /** What Powertools throws when the record is in progress; `existingRecord` attached by withInProgressRecord. */
  const inProgress = (inProgressExpiryTimestamp?: number): IdempotencyAlreadyInProgressError =>
    new IdempotencyAlreadyInProgressError(
      'There is already an execution in progress with idempotency key: orderflow-dev-chargeOrder#9a0f',
      inProgressExpiryTimestamp === undefined ? undefined : new IdempotencyRecord({ idempotencyKey: 'orderflow-dev-chargeOrder#9a0f', status: 'INPROGRESS', inProgressExpiryTimestamp }),
    );

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(NOW);
    sqsMock.on(ChangeMessageVisibilityCommand).resolves({});
  });

  afterEach(() => {
    vi.useRealTimers();
    sqsMock.reset();
  });

  it('makes the message visible again the first whole second after the in-progress expiry, then rethrows', async () => {
    // Prepare
    const error = inProgress(NOW + 7_000);

    // Act
    const running = retryInProgressSooner(billing, () => Promise.reject(error));

    // Assess: 7 s is still in progress (Powertools takes over once expiry < now), 8 s is not
    await expect(running).rejects.toBe(error);
    expect(sqsMock).toHaveReceivedCommandExactlyOnceWith(ChangeMessageVisibilityCommand, { QueueUrl: DEPLOYED.BILLING_QUEUE_URL, ReceiptHandle: 'AQEBsecond-delivery', VisibilityTimeout: 8 });
  });

  it.each([
    [6_500, 7],
    [7_000, 8],
    [999, 1],
    [0, 1],
    [-30_000, 1],
    [59_999, 60],
    [60_000, 60],
    [600_000, 60],
  ])('asks for a visibility within 1..60 s: in-progress expiry %i ms ahead gives %i s', async (aheadMs, seconds) => {
    await expect(retryInProgressSooner(billing, () => Promise.reject(inProgress(NOW + aheadMs)))).rejects.toThrow(IdempotencyAlreadyInProgressError);
    expect(sqsMock).toHaveReceivedCommandExactlyOnceWith(ChangeMessageVisibilityCommand, { VisibilityTimeout: seconds });
  });

  it('waits unknownExpirySeconds (default 10) when the in-progress record has no expiry, within maxSeconds', async () => {
    await expect(retryInProgressSooner(billing, () => Promise.reject(inProgress()))).rejects.toThrow(IdempotencyAlreadyInProgressError);
    await expect(retryInProgressSooner({ ...billing, unknownExpirySeconds: 3 }, () => Promise.reject(inProgress()))).rejects.toThrow(IdempotencyAlreadyInProgressError);
    await expect(retryInProgressSooner({ ...billing, maxSeconds: 25 }, () => Promise.reject(inProgress(NOW + 40_000)))).rejects.toThrow(IdempotencyAlreadyInProgressError);
    expect(sqsMock.commandCalls(ChangeMessageVisibilityCommand).map((call) => call.args[0].input.VisibilityTimeout)).toEqual([10, 3, 25]);
  });

  it('rethrows the original error when ChangeMessageVisibility fails, handing that failure to onError', async () => {
    // Prepare
    const invalid = new ReceiptHandleIsInvalid({ message: 'The input receipt handle is invalid.', $metadata: { httpStatusCode: 400 } });
    sqsMock.on(ChangeMessageVisibilityCommand).rejects(invalid);
    const onError = vi.fn();
    const error = inProgress(NOW + 7_000);

    // Act
    const running = retryInProgressSooner({ ...billing, onError }, () => Promise.reject(error));

    // Assess
    await expect(running).rejects.toBe(error);
    expect(onError).toHaveBeenCalledExactlyOnceWith(invalid);
  });

  it('leaves the visibility alone for any other error (Powertools or not), and rethrows it', async () => {
    for (const error of [new IdempotencyPersistenceLayerError('Failed to save in progress record to idempotency store'), new TypeError('boom')]) {
      await expect(retryInProgressSooner(billing, () => Promise.reject(error))).rejects.toBe(error);
    }
    expect(sqsMock).not.toHaveReceivedAnyCommand();
  });

  it("returns the work's result and calls nothing when the work succeeds", async () => {
    expect(await retryInProgressSooner(billing, async () => 'charged')).toBe('charged');
    expect(sqsMock).not.toHaveReceivedAnyCommand();
  });
});
