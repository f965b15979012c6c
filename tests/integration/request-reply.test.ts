/**
 * Request-response over SQS on the local cloud with the real template: GET /stock/{sku} (checkStock) asks the stock
 * worker (answerStock) through the stock-requests queue and answers its reply from a reply queue of its own; that
 * queue is reused for the next question; an abandoned reply queue (idle past the sweep's limit) is deleted.
 */
import { CreateQueueCommand, GetQueueUrlCommand, ListQueuesCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCloudForTests, type CloudUnderTest } from './helpers/cloud.ts';

describe('Request-response over SQS (stock check) on the local cloud', () => {
  let t: CloudUnderTest;
  const prefix = 'orderflow-local-replies-';

  beforeAll(async () => {
    t = await startCloudForTests('request-reply');
  });

  afterAll(async () => {
    await t?.dispose();
  });

  const replyQueues = async (): Promise<string[]> => (await t.clients.sqs.send(new ListQueuesCommand({ QueueNamePrefix: prefix }))).QueueUrls ?? [];

  it('answers a stock question through the worker, a second one on the same reply queue; an abandoned reply queue is swept', async () => {
    // Prepare: a reply queue some environment left behind an hour ago
    const abandoned = `${prefix}abandoned-${process.pid}`;
    await t.clients.sqs.send(new CreateQueueCommand({ QueueName: abandoned, tags: { 'last-active': String(Math.floor(Date.now() / 1000) - 3_600) } }));

    // Act
    const headers = { authorization: await t.bearer() };
    const first = await fetch(`${t.cloud.apiUrl}/stock/BOOK-1`, { headers });
    const second = await fetch(`${t.cloud.apiUrl}/stock/NOT-STOCKED`, { headers });
    const invalid = await fetch(`${t.cloud.apiUrl}/stock/${encodeURIComponent('book 1')}`, { headers });
    const anonymous = await fetch(`${t.cloud.apiUrl}/stock/BOOK-1`);

    // Assess
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ sku: 'BOOK-1', available: 12 });
    expect(second.status).toBe(200);
    expect(await second.json()).toMatchObject({ sku: 'NOT-STOCKED', available: 0 });
    expect(invalid.status).toBe(400);
    expect(await invalid.json()).toMatchObject({ fields: [{ field: 'sku' }] });
    expect([anonymous.status, await anonymous.json()]).toEqual([401, { message: 'Unauthorized' }]);
    const left = await replyQueues();
    expect(left).toHaveLength(1); // one environment's reply queue, reused; the abandoned one swept
    await expect(t.clients.sqs.send(new GetQueueUrlCommand({ QueueName: abandoned }))).rejects.toMatchObject({ name: 'QueueDoesNotExist' });
    expect(t.invocations.filter((entry) => entry.functionName === t.functionName('answerStock')).length).toBeGreaterThanOrEqual(1);
  });
});
