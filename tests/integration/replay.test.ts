/**
 * `npm run replay` on the local cloud (real kinesalite, real S3 emulator, the real SDK): orders flow into the stream,
 * the replay re-reads the window with AT_TIMESTAMP iterators and rebuilds the lake objects and orderMetrics's totals
 * under `replay/`; replayed again, every object is found unchanged (same keys, same ETags).
 */
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from 'local-cloud';
import { runReplay, type ReplayReport } from '../../scripts/replay/cli.ts';
import { readStreamWindow } from '../../scripts/replay/stream.ts';
import { digitalOrder, startCloudForTests, uniqueCustomer, type CloudUnderTest } from './helpers/cloud.ts';

const PROJECT = join(import.meta.dirname, '..', '..');
const ORDERS = 3;

describe('npm run replay on the local cloud', () => {
  let t: CloudUnderTest;
  let startedAt: Date;
  const orderIds: string[] = [];

  beforeAll(async () => {
    t = await startCloudForTests('replay');
    startedAt = new Date();
    const customer = uniqueCustomer('replay');
    for (let i = 0; i < ORDERS; i += 1) {
      const placed = await t.api.postOrder(digitalOrder(customer));
      expect(placed.status, JSON.stringify(placed.body)).toBe(202);
      orderIds.push(String(placed.body.orderId));
    }
    // Each digital order puts OrderPlaced and OrderCharged on the stream (streamOrderEvents). Read the stream only
    // once orderMetrics (its consumer) has been handed all of them: kinesalite does not answer an AT_TIMESTAMP read
    // whose timestamp is past the stream's last record (the local cloud's README, Known quirks).
    const metricsFn = t.functionName('orderMetrics');
    await waitFor(
      () => t.invocations.filter((entry) => entry.functionName === metricsFn).reduce((sum, entry) => sum + ((entry.event as { Records?: unknown[] }).Records?.length ?? 0), 0) >= ORDERS * 2,
      { what: `orderMetrics to receive ${ORDERS * 2} order events`, timeoutMs: 60_000 },
    );
    const records = await waitFor(
      async () => {
        const { records: read } = await readStreamWindow(t.clients.kinesis, t.names.streamName, { from: startedAt, to: new Date(Date.now() + 60_000) });
        return read.length >= ORDERS * 2 && read;
      },
      { what: `${ORDERS * 2} order events on the stream`, timeoutMs: 60_000 },
    );
    // The replay reads closed windows only (metricsWindowSeconds, 2 s locally): wait for the last record's to close.
    const last = Math.max(...records.map((record) => record.arrivedAt.getTime()));
    await waitFor(() => Date.now() >= (Math.floor(last / 2000) + 1) * 2000, { what: "the last record's window closed", timeoutMs: 10_000 });
  }, 240_000);

  afterAll(async () => {
    await t?.dispose();
  });

  afterEach((context) => {
    if (context.task.result?.state === 'fail') console.log(`last local cloud log lines:\n${t.tail(60)}`);
  });

  const replay = async (...argv: string[]): Promise<{ code: number; report: ReplayReport; err: string }> => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runReplay([...argv, '--endpoint', t.cloud.edgeUrl, '--json'], { out: (line) => out.push(line), err: (line) => err.push(line), env: {}, cwd: PROJECT });
    return { code, report: (out.length > 0 ? JSON.parse(out.join('\n')) : {}) as ReplayReport, err: err.join('\n') };
  };

  /** Every object under replay/: key, ETag and content (gunzipped for .gz). */
  const replayObjects = async (): Promise<{ key: string; etag: string; text: string }[]> => {
    const listed = await t.clients.s3.send(new ListObjectsV2Command({ Bucket: t.names.lakeBucket, Prefix: 'replay/' }));
    const objects: { key: string; etag: string; text: string }[] = [];
    for (const { Key } of listed.Contents ?? []) {
      const got = await t.clients.s3.send(new GetObjectCommand({ Bucket: t.names.lakeBucket, Key }));
      const bytes = Buffer.from(await got.Body!.transformToByteArray());
      objects.push({ key: Key!, etag: got.ETag!, text: (Key!.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8') });
    }
    return objects;
  };

  it('rebuilds the lake and the per-window metrics from the stream, and a second run changes nothing', { timeout: 120_000 }, async () => {
    // Act
    const first = await replay('--from', startedAt.toISOString());
    const afterFirst = await replayObjects();
    const second = await replay('--from', startedAt.toISOString());
    const afterSecond = await replayObjects();

    // Assess: every event of the orders, once, in the lake objects
    expect(first.code, first.err).toBe(0);
    expect(first.report.records).toBe(ORDERS * 2);
    expect(first.report.lake.written).toBe(first.report.lake.keys.length);
    const lines = afterFirst.filter(({ key }) => key.startsWith('replay/events/')).flatMap(({ text }) => text.split('\n').filter(Boolean));
    const events = lines.map((line) => JSON.parse(line) as { eventId: string; orderId: string; type: string });
    expect(events.map((event) => event.eventId).sort()).toEqual(orderIds.flatMap((id) => [`${id}:OrderPlaced`, `${id}:OrderCharged`]).sort());
    for (const key of first.report.lake.keys) expect(key).toMatch(/^replay\/events\/year=\d{4}\/month=\d{2}\/day=\d{2}\/hour=\d{2}\/\d{8}T\d{6}Z-shardId-\d+\.ndjson\.gz$/);

    // the metrics objects add up to orderMetrics's totals for these orders (digital: 999 cents each)
    const windows = afterFirst.filter(({ key }) => key.startsWith('replay/metrics/')).map(({ text }) => JSON.parse(text) as { OrderPlaced: number; OrderCharged: number; revenueCents: number });
    expect(windows).toHaveLength(first.report.metrics.keys.length);
    expect(windows.reduce((sum, w) => sum + w.OrderPlaced, 0)).toBe(ORDERS);
    expect(windows.reduce((sum, w) => sum + w.OrderCharged, 0)).toBe(ORDERS);
    expect(windows.reduce((sum, w) => sum + w.revenueCents, 0)).toBe(ORDERS * 999);

    // the second run: the same window, the same objects, nothing written
    expect(second.code, second.err).toBe(0);
    expect(second.report.from).toBe(first.report.from);
    expect(second.report.to).toBe(first.report.to);
    expect({ ...second.report.lake, unchanged: 0 }).toEqual({ ...first.report.lake, written: 0, unchanged: 0 });
    expect(second.report.lake.unchanged).toBe(first.report.lake.keys.length);
    expect(second.report.metrics.unchanged).toBe(first.report.metrics.keys.length);
    expect(afterSecond).toEqual(afterFirst);
  });

  it('refuses a --from that is not a time, naming the flag (exit 2, nothing written)', async () => {
    // Act
    const { code, err } = await replay('--from', 'yesterday');

    // Assess
    expect(code).toBe(2);
    expect(err).toContain('--from needs an ISO 8601 time');
  });
});
