import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { lakeObjects, metricsObjects, replayWindow, ReplayWindowError, type StreamedRecord } from '../../../scripts/replay/rebuild.ts';

const event = (orderId: string, type: 'OrderPlaced' | 'OrderCharged', extra: Record<string, unknown> = {}): Uint8Array =>
  Buffer.from(
    `${JSON.stringify({
      type,
      eventId: `${orderId}:${type}`,
      orderId,
      occurredAt: '2026-12-03T10:00:00.000Z',
      correlationId: 'c-1',
      fulfillment: 'digital',
      ...(type === 'OrderPlaced'
        ? { order: { orderId, customerId: 'cust-1', items: [{ sku: 'EBOOK-1', quantity: 1, unitPriceCents: 999 }], fulfillment: 'digital', totalCents: 999, placedAt: '2026-12-03T10:00:00.000Z' } }
        : { chargeId: `ch-${orderId}`, amountCents: 999, invoiceKey: `invoices/${orderId}.json` }),
      ...extra,
    })}\n`,
  );

const record = (shardId: string, sequenceNumber: string, at: string, data: Uint8Array): StreamedRecord => ({ shardId, sequenceNumber, arrivedAt: new Date(at), data });

describe('Replay: rebuild', () => {
  it('reads whole windows: --from rounds down, --to up, never past the last closed window', () => {
    // Act
    const window = replayWindow(new Date('2026-12-03T10:00:30Z'), new Date('2026-12-03T10:02:10Z'), 60, new Date('2026-12-03T11:00:00Z'));
    const open = replayWindow(new Date('2026-12-03T10:00:30Z'), undefined, 60, new Date('2026-12-03T10:05:10Z'));

    // Assess
    expect(window).toEqual({ from: new Date('2026-12-03T10:00:00Z'), to: new Date('2026-12-03T10:03:00Z') });
    expect(open).toEqual({ from: new Date('2026-12-03T10:00:00Z'), to: new Date('2026-12-03T10:05:00Z') });
    expect(() => replayWindow(new Date('2026-12-03T10:05:01Z'), undefined, 60, new Date('2026-12-03T10:05:10Z'))).toThrow(ReplayWindowError);
    expect(() => replayWindow(new Date('2026-12-03T10:05:01Z'), undefined, 60, new Date('2026-12-03T10:05:10Z'))).toThrow(/--from must come before --to/);
  });

  it('one GZIP NDJSON object per window and shard, records in sequence order (BigInt), the same bytes for the same records', () => {
    // Prepare: out of order, two shards, two windows; sequence numbers longer than a double holds
    const records = [
      record('shardId-000000000001', '49590338271490256608559692538361571095921575989136588899', '2026-12-03T10:00:59.000Z', event('o-2', 'OrderPlaced')),
      record('shardId-000000000000', '49590338271490256608559692538361571095921575989136588900', '2026-12-03T10:00:02.000Z', event('o-1', 'OrderCharged')),
      record('shardId-000000000000', '49590338271490256608559692538361571095921575989136588898', '2026-12-03T10:00:01.000Z', event('o-1', 'OrderPlaced')),
      record('shardId-000000000000', '49590338271490256608559692538361571095921575989136588990', '2026-12-03T10:01:00.000Z', event('o-3', 'OrderPlaced')),
    ];

    // Act
    const objects = lakeObjects(records, 60);
    const again = lakeObjects([...records].reverse(), 60);

    // Assess
    expect(objects.map((o) => o.key)).toEqual([
      'replay/events/year=2026/month=12/day=03/hour=10/20261203T100000Z-shardId-000000000000.ndjson.gz',
      'replay/events/year=2026/month=12/day=03/hour=10/20261203T100000Z-shardId-000000000001.ndjson.gz',
      'replay/events/year=2026/month=12/day=03/hour=10/20261203T100100Z-shardId-000000000000.ndjson.gz',
    ]);
    const first = gunzipSync(objects[0]!.body).toString('utf8').trim().split('\n').map((line) => (JSON.parse(line) as { eventId: string }).eventId);
    expect(first).toEqual(['o-1:OrderPlaced', 'o-1:OrderCharged']);
    expect(again.map((o) => Buffer.from(o.body).toString('base64'))).toEqual(objects.map((o) => Buffer.from(o.body).toString('base64')));
  });

  it("adds up orderMetrics's totals per window over every shard, and lists records that are not order events", () => {
    // Prepare
    const records = [
      record('shardId-000000000000', '1', '2026-12-03T10:00:01.000Z', event('o-1', 'OrderPlaced')),
      record('shardId-000000000001', '2', '2026-12-03T10:00:02.000Z', event('o-1', 'OrderCharged')),
      record('shardId-000000000001', '3', '2026-12-03T10:00:03.000Z', Buffer.from('not json\n')),
    ];

    // Act
    const [window, ...rest] = metricsObjects(records, 60);

    // Assess
    expect(rest).toEqual([]);
    expect(window?.key).toBe('replay/metrics/year=2026/month=12/day=03/hour=10/20261203T100000Z.json');
    expect(window?.metrics).toEqual({
      windowStart: '2026-12-03T10:00:00.000Z',
      windowEnd: '2026-12-03T10:01:00.000Z',
      OrderPlaced: 1,
      OrderCharged: 1,
      OrderShipped: 0,
      revenueCents: 999,
      records: 3,
      unreadable: [{ shardId: 'shardId-000000000001', sequenceNumber: '3' }],
    });
    expect(JSON.parse(window?.text ?? '')).toEqual(window?.metrics);
  });
});
