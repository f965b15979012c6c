import '../../helpers/env.ts';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { withPowertools } from '#lib/middleware/handler.ts';
import { logger, metrics } from '#lib/powertools.ts';
import { fakeContext } from '../../helpers/context.ts';

describe('Lib: middleware/handler withPowertools', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('passes the event and context through and answers the handler result', async () => {
    // Prepare
    const fn = vi.fn(async (event: { n: number }) => ({ doubled: event.n * 2 }));
    const context = fakeContext('getOrder');

    // Act
    const result = await withPowertools(fn)({ n: 21 }, context);

    // Assess
    expect(result).toEqual({ doubled: 42 });
    const [event, passedContext] = fn.mock.calls[0] as unknown[];
    expect(event).toEqual({ n: 21 });
    expect(passedContext).toMatchObject({ functionName: 'orderflow-dev-getOrder', awsRequestId: context.awsRequestId });
  });

  it('adds the Lambda context to the logs, flushes metrics, and clears appended keys after the invocation', async () => {
    // Prepare
    const publish = vi.spyOn(metrics, 'publishStoredMetrics');
    const handler = withPowertools(async () => {
      logger.appendKeys({ correlationId: 'c-1' });
      return 'ok';
    });

    // Act
    await handler({}, fakeContext('getOrder'));

    // Assess
    expect(publish).toHaveBeenCalledTimes(1);
    expect(logger.getPersistentLogAttributes()).not.toHaveProperty('correlationId');
  });

  it('attaches no metrics middleware with metrics: false (a function with no metric of its own publishes nothing, warns nothing)', async () => {
    // Prepare
    const publish = vi.spyOn(metrics, 'publishStoredMetrics');

    // Act
    const result = await withPowertools(async () => 'ok', { metrics: false })({}, fakeContext('getOrder'));

    // Assess
    expect(result).toBe('ok');
    expect(publish).not.toHaveBeenCalled();
  });

  it('rethrows the handler error (Lambda then retries the event or answers 500)', async () => {
    const failure = new Error('boom');
    await expect(
      withPowertools(async () => {
        throw failure;
      })({}, fakeContext('getOrder')),
    ).rejects.toBe(failure);
  });
});
