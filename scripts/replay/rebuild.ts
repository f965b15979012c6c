/**
 * What a replay writes, from the records it read: pure, no I/O, so the same records always give the same objects
 * (the replay's idempotence rests on it; scripts/replay/lake.ts writes them conditionally).
 *
 * - Lake objects: one GZIP NDJSON object per tumbling window and shard, the records' data concatenated in sequence
 *   order as Firehose concatenates them (streamOrderEvents ends each record with '\n'), under
 *   `replay/events/year=/month=/day=/hour=/` of the window's start (UTC), named `<window start>-<shard>.ndjson.gz`.
 * - Metrics objects: one JSON object per window, `replay/metrics/year=/month=/day=/hour=/<window start>.json`, with
 *   the totals orderMetrics adds up (lib/metrics-window.ts, the same function) over every shard.
 *
 * Windows are orderMetrics's: `metricsWindowSeconds` long, aligned to the epoch by the records' arrival time
 * (ApproximateArrivalTimestamp), as Lambda's tumbling windows are (Lambda developer guide, "Tumbling windows") and
 * as the local cloud's Kinesis poller computes them.
 */
import { gzipSync } from 'node:zlib';
import { parseOrderEvent, type OrderEvent } from '#lib/events/order-events.ts';
import { addToWindow, emptyWindow, type WindowState } from '#lib/metrics-window.ts';

/** Where every replayed object goes: apart from what Firehose delivers (`events/`), so neither overwrites the other. */
const REPLAY_PREFIX = 'replay/';

/** One record as GetRecords returned it. */
interface StreamedRecord {
  shardId: string;
  sequenceNumber: string;
  arrivedAt: Date;
  data: Uint8Array;
}

/** The half-open interval [from, to) the replay reads, on window boundaries. */
interface ReplayWindow {
  from: Date;
  to: Date;
}

interface LakeObject {
  key: string;
  /** The NDJSON text before compression: what two runs compare. */
  text: string;
  body: Uint8Array;
  records: number;
}

interface WindowMetrics extends WindowState {
  windowStart: string;
  windowEnd: string;
  records: number;
  /** Records that are not order events (orderMetrics fails them and Lambda sends their pointer to the on-failure queue). */
  unreadable: { shardId: string; sequenceNumber: string }[];
}

interface MetricsObject {
  key: string;
  text: string;
  metrics: WindowMetrics;
}

class ReplayWindowError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReplayWindowError';
  }
}

const floorTo = (ms: number, sizeMs: number): number => Math.floor(ms / sizeMs) * sizeMs;

/**
 * The interval a replay reads: `from` rounded down and `to` rounded up to window boundaries, so every window is
 * read whole; never past the last closed window (`now` rounded down), whose totals could still grow.
 *
 * @example
 * replayWindow(new Date('2026-12-03T10:00:30Z'), undefined, 60, new Date('2026-12-03T10:05:10Z'));
 * // { from: 10:00:00, to: 10:05:00 }
 */
const replayWindow = (from: Date, to: Date | undefined, windowSeconds: number, now: Date): ReplayWindow => {
  if (!Number.isSafeInteger(windowSeconds) || windowSeconds < 1) throw new ReplayWindowError(`the metrics window must be a whole number of seconds >= 1, got ${windowSeconds}`);
  const size = windowSeconds * 1000;
  const start = floorTo(from.getTime(), size);
  const closed = floorTo(now.getTime(), size);
  const end = Math.min(to === undefined ? closed : Math.ceil(to.getTime() / size) * size, closed);
  if (start >= end) {
    throw new ReplayWindowError(
      `nothing to replay between ${new Date(start).toISOString()} and ${new Date(end).toISOString()}: --from must come before --to and before the last closed ${windowSeconds} s window (${new Date(closed).toISOString()})`,
    );
  }
  return { from: new Date(start), to: new Date(end) };
};

const pad = (n: number): string => String(n).padStart(2, '0');

/** `year=2026/month=12/day=03/hour=10/`: Firehose's Hive-style partition of a UTC time (resources/streaming.yml). */
const partition = (at: Date): string =>
  `year=${at.getUTCFullYear()}/month=${pad(at.getUTCMonth() + 1)}/day=${pad(at.getUTCDate())}/hour=${pad(at.getUTCHours())}/`;

/** `20261203T100000Z`: a window start in a key (sorts in time order, no ':' to escape). */
const stamp = (at: Date): string => at.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');

/** Sequence numbers are decimal strings up to 128 bits: compare them as BigInt. */
const bySequence = (a: StreamedRecord, b: StreamedRecord): number => {
  const x = BigInt(a.sequenceNumber);
  const y = BigInt(b.sequenceNumber);
  return x < y ? -1 : x > y ? 1 : 0;
};

/** Records grouped by window start (ms), each group in shard then sequence order. */
const groupByWindow = (records: readonly StreamedRecord[], windowSeconds: number): Map<number, StreamedRecord[]> => {
  const groups = new Map<number, StreamedRecord[]>();
  for (const record of records) {
    const start = floorTo(record.arrivedAt.getTime(), windowSeconds * 1000);
    groups.set(start, [...(groups.get(start) ?? []), record]);
  }
  for (const group of groups.values()) group.sort((a, b) => a.shardId.localeCompare(b.shardId) || bySequence(a, b));
  return new Map([...groups.entries()].sort(([a], [b]) => a - b));
};

/**
 * The lake objects of a replay: one per window and shard, in key order.
 *
 * @example
 * const objects = lakeObjects(records, 60);
 * // [{ key: 'replay/events/year=2026/month=12/day=03/hour=10/20261203T100000Z-shardId-000000000000.ndjson.gz', ... }]
 */
const lakeObjects = (records: readonly StreamedRecord[], windowSeconds: number): LakeObject[] => {
  const objects: LakeObject[] = [];
  for (const [start, group] of groupByWindow(records, windowSeconds)) {
    const windowStart = new Date(start);
    const shards = new Map<string, StreamedRecord[]>();
    for (const record of group) shards.set(record.shardId, [...(shards.get(record.shardId) ?? []), record]);
    for (const [shardId, shardRecords] of shards) {
      const text = shardRecords.map((record) => Buffer.from(record.data).toString('utf8')).join('');
      // gzip with Node's zlib writes no file name and mtime 0 in the header: the same text gives the same bytes.
      objects.push({ key: `${REPLAY_PREFIX}events/${partition(windowStart)}${stamp(windowStart)}-${shardId}.ndjson.gz`, text, body: gzipSync(text), records: shardRecords.length });
    }
  }
  return objects.sort((a, b) => a.key.localeCompare(b.key));
};

/**
 * The metrics objects of a replay: one per window, the totals orderMetrics would publish for it (summed over shards,
 * as CloudWatch sums the per-shard data points), in window order.
 *
 * @example
 * const [first] = metricsObjects(records, 60);
 * // first.metrics: { windowStart: '2026-12-03T10:00:00.000Z', OrderPlaced: 3, OrderCharged: 3, revenueCents: 7794, ... }
 */
const metricsObjects = (records: readonly StreamedRecord[], windowSeconds: number): MetricsObject[] => {
  const objects: MetricsObject[] = [];
  for (const [start, group] of groupByWindow(records, windowSeconds)) {
    const events: OrderEvent[] = [];
    const unreadable: WindowMetrics['unreadable'] = [];
    for (const record of group) {
      try {
        events.push(parseOrderEvent(Buffer.from(record.data).toString('utf8')));
      } catch {
        unreadable.push({ shardId: record.shardId, sequenceNumber: record.sequenceNumber });
      }
    }
    const windowStart = new Date(start);
    const metrics: WindowMetrics = {
      windowStart: windowStart.toISOString(),
      windowEnd: new Date(start + windowSeconds * 1000).toISOString(),
      ...addToWindow(emptyWindow(), events),
      records: group.length,
      unreadable,
    };
    objects.push({ key: `${REPLAY_PREFIX}metrics/${partition(windowStart)}${stamp(windowStart)}.json`, text: `${JSON.stringify(metrics, null, 2)}\n`, metrics });
  }
  return objects;
};

export type { ReplayWindow, StreamedRecord, WindowMetrics };
export { ReplayWindowError, lakeObjects, metricsObjects, replayWindow };
