/**
 * SNS to S3 through Firehose on the compiled template running on the local cloud, through the real SDK: every event
 * of an order, published to the FIFO topic, is also published to the standard order-archive topic, whose firehose
 * subscription (raw, its role evaluated by --iam enforce) puts it into the order-archive delivery stream, which
 * writes it, one event a line, under sns-archive/ of the lake. An invalid order publishes nothing, so nothing of it
 * is archived; a retried request (same Idempotency-Key) archives its OrderPlaced once.
 */
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from 'local-cloud';
import { physicalOrder, startCloudForTests, uniqueCustomer, type CloudUnderTest } from './helpers/cloud.ts';

interface Archived {
  key: string;
  line: string;
  event: Record<string, unknown>;
}

describe('Local cloud: the raw order archive (SNS → Firehose → S3)', () => {
  let t: CloudUnderTest;

  beforeAll(async () => {
    t = await startCloudForTests('order-archive');
  });

  afterAll(async () => {
    await t?.dispose();
  });

  afterEach((context) => {
    if (context.task.result?.state === 'fail') console.log(`last local cloud log lines:\n${t.tail(80)}`);
  });

  /** Every line of every object under sns-archive/ (GZIP), with its object's key. */
  const archived = async (): Promise<Archived[]> => {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await t.clients.s3.send(new ListObjectsV2Command({ Bucket: t.names.lakeBucket, Prefix: 'sns-archive/', ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map((object) => object.Key ?? ''));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    const objects = await Promise.all(
      keys.map(async (key) => {
        const bytes = Buffer.from(await (await t.clients.s3.send(new GetObjectCommand({ Bucket: t.names.lakeBucket, Key: key }))).Body!.transformToByteArray());
        return gunzipSync(bytes)
          .toString('utf8')
          .split('\n')
          .filter((line) => line !== '')
          .map((line) => ({ key, line, event: JSON.parse(line) as Record<string, unknown> }));
      }),
    );
    return objects.flat();
  };

  it("archives each of an order's events raw (the event's JSON alone, names and addresses included), once, and nothing of an invalid order", async () => {
    // Prepare
    const rejectedCustomer = uniqueCustomer('archive-rejected');
    const customerId = uniqueCustomer('archive');
    const key = `archive-${customerId}`;

    // Act
    const invalid = await t.api.postOrder({ ...physicalOrder(rejectedCustomer), items: [] });
    const placed = await t.api.postOrder(physicalOrder(customerId), { 'idempotency-key': key });
    const retried = await t.api.postOrder(physicalOrder(customerId), { 'idempotency-key': key });

    // Assess
    expect(invalid.status).toBe(400);
    expect(placed.status).toBe(202);
    expect(retried.body.orderId).toBe(placed.body.orderId);
    const orderId = String(placed.body.orderId);
    const mine = await waitFor(
      async () => {
        const lines = (await archived()).filter((entry) => entry.event.orderId === orderId);
        return lines.some((entry) => entry.event.type === 'OrderShipped') ? lines : undefined;
      },
      { timeoutMs: 30_000, what: `order ${orderId}'s OrderShipped under sns-archive/` },
    );
    expect(mine.map((entry) => entry.event.type).sort()).toEqual(['OrderCharged', 'OrderPlaced', 'OrderShipped']);
    for (const entry of mine) {
      expect(entry.key).toMatch(/^sns-archive\/year=\d{4}\/month=\d{2}\/day=\d{2}\/hour=\d{2}\/[^/]+\.gz$/);
      // Raw delivery: no SNS envelope, the event as published, keyed by its deterministic eventId.
      expect(entry.event.Type).toBeUndefined();
      expect(entry.event.eventId).toBe(`${orderId}:${String(entry.event.type)}`);
    }
    const placedEvent = mine.find((entry) => entry.event.type === 'OrderPlaced')?.event;
    expect(placedEvent).toMatchObject({ order: { customerId, shippingAddress: { name: 'Ada', city: 'Leeds' } } });
    // The invalid order was refused before any publish (its events would have been archived before these).
    expect((await archived()).some((entry) => entry.line.includes(rejectedCustomer))).toBe(false);
    // The subscription role was evaluated and sufficed.
    expect(t.cloud.iam.mode).toBe('enforce');
    expect(t.cloud.iam.deliveryDenials().filter((denial) => denial.queueArn.includes('order-archive'))).toEqual([]);
  });
});
