/**
 * Fault injection on the local cloud (real template, real emulators): duplicate delivery of every SQS batch leaves
 * every order COMPLETED once (completedAt set once; the document writes are an expected failure, see below), the switches change live through
 * `POST /_local/faults` and reject a bad value naming its path, and injected latency on shipOrder makes its
 * visibility heartbeat beat (HEARTBEAT_INTERVAL_SECONDS is 5 s, stage param shipHeartbeatSeconds), and a record
 * slower than chargeOrder's timeout is given up on by the deadline guard (lib/batch.ts) before the runtime times out.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { digitalOrder, invocationsMentioning, physicalOrder, startCloudForTests, uniqueCustomer, type CloudUnderTest } from './helpers/cloud.ts';
import { controlHeaders, waitFor, type SqsPoller } from 'local-cloud';

describe('Local cloud: fault injection', () => {
  let t: CloudUnderTest;

  beforeAll(async () => {
    t = await startCloudForTests('faults', { duplicateDelivery: true });
  });

  afterAll(async () => {
    await t?.dispose();
  });

  afterEach((context) => {
    if (context.task.result?.state !== 'fail') return;
    const lines = t.logs.filter((line) => !line.includes('No application metrics')).slice(-80);
    console.log(`last local cloud log lines:\n${lines.map((line) => line.slice(0, 500)).join('\n')}`);
  });

  const faults = async (body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> => {
    const response = await fetch(`${t.cloud.edgeUrl}/_local/faults`, { headers: controlHeaders(t.cloud.token), ...(body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) }) });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  const completed = (orderId: string, documents: ('invoice' | 'label')[]): Promise<Record<string, unknown>> =>
    waitFor(async () => {
      // The Orders table: the notification stamps are not in the customer's view (GET /orders/{id}).
      const order = (await t.orderItem(orderId)) ?? {};
      return order.status === 'COMPLETED' && documents.every((d) => order[`${d}NotifiedAt`] !== undefined) && order;
    }, { timeoutMs: 30_000, intervalMs: 100, what: `order ${orderId} COMPLETED and notified` });

  /** Every queue of the order flow empty and no invocation running: nothing more will happen to these orders. */
  const quiet = (): Promise<boolean> =>
    waitFor(async () => {
      const depths = await Promise.all(['BillingQueue', 'ShippingQueue', 'DocumentEventsQueue', 'OrderStoreQueue'].map((id) => t.queueDepth(id)));
      return depths.every((depth) => depth === 0) && t.invocations.every((invocation) => invocation.endedAt !== undefined);
    }, { timeoutMs: 30_000, intervalMs: 200, what: 'the pipeline to go quiet' });

  let duplicated: { physical: string[]; digital: string };

  it('duplicate delivery: every batch is handed over twice, and every order completes once', { timeout: 60_000 }, async () => {
    // Prepare
    expect((await faults()).body).toEqual({ faults: '', duplicateDelivery: true });
    const customer = uniqueCustomer('dup');

    // Act
    const placed = await Promise.all([physicalOrder(`${customer}-a`), physicalOrder(`${customer}-b`), digitalOrder(`${customer}-c`)].map((body) => t.api.postOrder(body)));
    const [a, b, c] = placed.map((response) => String(response.body.orderId)) as [string, string, string];
    duplicated = { physical: [a, b], digital: c };

    // Assess: completed, once
    for (const orderId of [a, b]) await completed(orderId, ['invoice', 'label']);
    await completed(c, ['invoice']);
    await quiet();
    for (const orderId of [a, b, c]) {
      const item = await t.orderItem(orderId);
      expect(item?.status).toBe('COMPLETED');
      expect(typeof item?.completedAt).toBe('string');
      // chargeOrder saw the order at least twice: the duplicate was delivered, and the order is still COMPLETED once.
      expect(invocationsMentioning(t.invocations, t.functionName('chargeOrder'), orderId).length).toBeGreaterThanOrEqual(2);
    }
    const sqsPollers = t.cloud.pollers.filter((poller): poller is SqsPoller => 'queueArn' in poller.mapping);
    expect(sqsPollers.reduce((sum, poller) => sum + poller.stats.duplicated, 0)).toBeGreaterThan(0);
  });

  // Found by this drill, closed in the emulator layer: the local S3 honours `If-None-Match: *` (emulators/s3-conditional.ts)
  // and the local SNS FIFO topic drops a re-published eventId (emulators/sns-fifo-dedup.ts), as AWS does.
  it('duplicate delivery: each document is written once (invoiceWrites = labelWrites = 1)', async () => {
    expect(duplicated).toBeDefined();
    // The write counters are an operator's view (the Orders table), not the customer's (GET answers an allow-list).
    const writes = async (orderId: string): Promise<{ invoiceWrites: number; labelWrites: number }> => {
      const item = (await t.orderItem(orderId)) as { invoiceWrites?: Set<string>; labelWrites?: Set<string> } | undefined;
      return { invoiceWrites: item?.invoiceWrites?.size ?? 0, labelWrites: item?.labelWrites?.size ?? 0 };
    };
    for (const orderId of duplicated.physical) expect(await writes(orderId)).toEqual({ invoiceWrites: 1, labelWrites: 1 });
    expect(await writes(duplicated.digital)).toEqual({ invoiceWrites: 1, labelWrites: 0 });
  });

  it('switches live through POST /_local/faults, and a bad value is refused with its path', async () => {
    // Act
    const set = await faults({ chargeOrder: { failureRate: 0.5 }, duplicateDelivery: false });
    const bad = await faults({ chargeOrder: { failureRate: 2 } });
    const env = t.cloud.runtime.get(t.functionName('shipOrder')).env.FAULTS;
    const off = await faults({});

    // Assess
    expect(set).toEqual({ status: 200, body: { faults: '{"chargeOrder":{"failureRate":0.5}}', duplicateDelivery: false } });
    expect(env).toBe('{"chargeOrder":{"failureRate":0.5}}');
    expect(bad).toEqual({ status: 400, body: { error: 'FAULTS.chargeOrder.failureRate must be a number from 0 to 1', path: 'FAULTS.chargeOrder.failureRate' } });
    expect(off.body).toEqual({ faults: '', duplicateDelivery: false });
    expect(t.cloud.runtime.get(t.functionName('chargeOrder')).env.FAULTS).toBe('');
  });

  it('latency on shipOrder longer than the heartbeat interval: the heartbeat extends the message, the order ships once', { timeout: 60_000 }, async () => {
    // Prepare: 6 s per record, above the 5 s heartbeat interval, below shipOrder's 20 s timeout
    await faults({ shipOrder: { latencyMs: 6000 } });
    const before = t.cloud.stats().aws.sqs?.ChangeMessageVisibility ?? 0;

    // Act
    const orderId = String((await t.api.postOrder(physicalOrder(uniqueCustomer('slow')))).body.orderId);

    // Assess
    expect(((await completed(orderId, ['label'])).labelWrites as Set<string>).size).toBe(1);
    expect((t.cloud.stats().aws.sqs?.ChangeMessageVisibility ?? 0) - before).toBeGreaterThanOrEqual(1);
    // The label is written before the handler returns: wait for the invocation itself to end
    const shipped = await waitFor(() => {
      const mentioning = invocationsMentioning(t.invocations, t.functionName('shipOrder'), orderId);
      return mentioning.length > 0 && mentioning.every((invocation) => invocation.endedAt !== undefined) && mentioning;
    }, { timeoutMs: 30_000, intervalMs: 100, what: `shipOrder's invocation for ${orderId} to end` });
    expect(shipped.length).toBe(1);
    expect(shipped[0]?.result).toMatchObject({ ok: true, payload: { batchItemFailures: [] } });
    expect((shipped[0]?.endedAt ?? 0) - (shipped[0]?.startedAt ?? 0)).toBeGreaterThanOrEqual(6000);
    await faults({});
  });

  it('a record slower than the invocation has left is given up on 1 s before the timeout (deadline guard): the invocation answers, it does not time out', { timeout: 60_000 }, async () => {
    // Prepare: 12 s per chargeOrder record, past its 10 s timeout; the guard's margin is 1 s (lib/batch.ts)
    await faults({ chargeOrder: { latencyMs: 12_000 } });

    // Act
    const orderId = String((await t.api.postOrder(digitalOrder(uniqueCustomer('deadline')))).body.orderId);
    const [charge] = await waitFor(async () => {
      const ended = invocationsMentioning(t.invocations, t.functionName('chargeOrder'), orderId).filter((invocation) => invocation.endedAt !== undefined);
      return ended.length > 0 && ended;
    }, { timeoutMs: 30_000, intervalMs: 200, what: `chargeOrder's first invocation for ${orderId} to end` });
    await faults({});

    // Assess: the handler answered, reporting its one record as failed. Without the guard the invocation fails
    // whole (middy's TimeoutError just before the timeout, measured on the commit before the guard), and so does
    // every record of its batch.
    expect(charge?.result).toMatchObject({ ok: false, reason: 'error', error: { errorType: 'FullBatchFailureError' } });
    const failed = t.logs.filter((line) => line.includes('record failed') && line.includes(orderId));
    expect(failed.some((line) => line.includes('DeadlineReachedError') && line.includes('was still running')), failed.join('\n')).toBe(true);
  });
});

