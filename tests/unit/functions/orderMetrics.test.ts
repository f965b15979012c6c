import '../helpers/env.ts';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { KinesisStreamTumblingWindowEvent } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { handler, orderMetricsHandler } from '../../../functions/orderMetrics.ts';
import { metrics } from '#lib/powertools.ts';
import { fakeContext } from '../helpers/context.ts';
import { kinesisWindowEvent } from '../helpers/fixtures.ts';

const context = fakeContext('orderMetrics');

/** The stored window event: state { 12 placed, 9 charged, 7 shipped, 48,210 cents } + A placed, B placed, A charged (3,448), A shipped. */
const windowEvent = (): KinesisStreamTumblingWindowEvent => kinesisWindowEvent();
const finalInvoke = (state: Record<string, number>): KinesisStreamTumblingWindowEvent => ({ ...windowEvent(), Records: [], state, isFinalInvokeForWindow: true });

describe('Function: orderMetrics', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('adds the batch to the window state Lambda passed, and emits only its batch metrics before the window closes', async () => {
    // Prepare
    const addMetric = vi.spyOn(metrics, 'addMetric');

    // Act
    const response = await orderMetricsHandler(windowEvent(), context);

    // Assess
    expect(response).toEqual({ state: { OrderPlaced: 14, OrderCharged: 10, OrderShipped: 8, revenueCents: 51_658 }, batchItemFailures: [] });
    expect(addMetric.mock.calls).toEqual([
      ['RecordsProcessed', MetricUnit.Count, 4],
      ['RecordsFailed', MetricUnit.Count, 0],
    ]);
  });

  it('starts a window from zero', async () => {
    // Prepare
    const event = { ...windowEvent(), state: {} };

    // Act
    const response = await orderMetricsHandler(event, context);

    // Assess
    expect(response.state).toEqual({ OrderPlaced: 2, OrderCharged: 1, OrderShipped: 1, revenueCents: 3_448 });
  });

  it('accumulates across the invocations of one window and emits the totals on the final invoke', async () => {
    // Prepare
    const addMetric = vi.spyOn(metrics, 'addMetric');
    const first = { ...windowEvent(), state: {} };
    const second = windowEvent();

    // Act
    const afterFirst = await orderMetricsHandler(first, context);
    const afterSecond = await orderMetricsHandler({ ...second, state: afterFirst.state }, context);
    const closing = await orderMetricsHandler(finalInvoke(afterSecond.state as unknown as Record<string, number>), context);

    // Assess
    expect(closing.state).toEqual({ OrderPlaced: 4, OrderCharged: 2, OrderShipped: 2, revenueCents: 6_896 });
    expect(addMetric.mock.calls.filter(([name]) => String(name).endsWith('PerWindow'))).toEqual([
      ['OrderPlacedPerWindow', MetricUnit.Count, 4],
      ['OrderChargedPerWindow', MetricUnit.Count, 2],
      ['OrderShippedPerWindow', MetricUnit.Count, 2],
      ['RevenueCentsPerWindow', MetricUnit.Count, 6_896],
    ]);
  });

  it('reports an unparseable record by its sequence number, keeping the window state of the records before it', async () => {
    // Prepare: the third record (A charged) is not an order event
    const event = windowEvent();
    const broken = event.Records[2] as (typeof event.Records)[number];
    broken.kinesis.data = Buffer.from('{"type":"OrderCharged","orderId":\n').toString('base64');

    // Act
    const response = await orderMetricsHandler(event, context);

    // Assess
    expect(response).toEqual({
      state: { OrderPlaced: 14, OrderCharged: 9, OrderShipped: 7, revenueCents: 48_210 },
      batchItemFailures: [{ itemIdentifier: broken.kinesis.sequenceNumber }],
    });
  });

  it('reports only the first failure: Lambda resumes from it (the lowest sequence number)', async () => {
    // Prepare
    const addMetric = vi.spyOn(metrics, 'addMetric');
    const event = windowEvent();
    for (const index of [1, 3]) (event.Records[index] as (typeof event.Records)[number]).kinesis.data = Buffer.from('not json').toString('base64');

    // Act
    const response = await orderMetricsHandler(event, context);

    // Assess
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: event.Records[1]?.kinesis.sequenceNumber }]);
    expect(response.state.OrderPlaced).toBe(13);
    // One record done; the failed one and those after it come back.
    expect(addMetric.mock.calls).toEqual([
      ['RecordsProcessed', MetricUnit.Count, 1],
      ['RecordsFailed', MetricUnit.Count, 3],
    ]);
  });

  it('answers the same result for a retried batch (no state kept between invocations)', async () => {
    // Act
    const first = await orderMetricsHandler(windowEvent(), context);
    const retried = await orderMetricsHandler(windowEvent(), context);

    // Assess
    expect(retried).toEqual(first);
  });

  it('works wrapped in its middleware, flushing the window metrics (the deployed handler)', async () => {
    // Prepare
    const publish = vi.spyOn(metrics, 'publishStoredMetrics');
    const addMetric = vi.spyOn(metrics, 'addMetric');

    // Act
    const response = await handler(finalInvoke({ OrderPlaced: 3, OrderCharged: 2, OrderShipped: 1, revenueCents: 900 }), context);

    // Assess
    expect(response.state).toEqual({ OrderPlaced: 3, OrderCharged: 2, OrderShipped: 1, revenueCents: 900 });
    expect(addMetric).toHaveBeenCalledWith('RevenueCentsPerWindow', MetricUnit.Count, 900);
    expect(publish).toHaveBeenCalledTimes(1);
  });
});
