import '../../helpers/env.ts';
import { ChangeMessageVisibilityCommand, ReceiptHandleIsInvalid, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { withVisibilityHeartbeat } from '#lib/aws/visibility.ts';
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
