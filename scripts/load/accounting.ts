/**
 * The run's accounting, from what the API answered and what the Orders table holds (pure: no I/O).
 *
 * - lost: accepted (202) but not COMPLETED within the drain deadline;
 * - duplicated side effects: an order whose invoice or label was written to S3 more than once
 *   (`invoiceWrites` / `labelWrites` on the Orders item, counted by notifyCustomer from the S3 event
 *   sequencer); both are expected to be 0;
 * - order-to-COMPLETED latency: `completedAt` minus the time the 202 arrived, with the clock offset
 *   between this machine and the one that stamped `completedAt` taken out (0 locally).
 */

/** The Orders item attributes the accounting reads (lib/aws/orders-table.ts). */
interface TableItem {
  orderId: string;
  status?: string;
  fulfillment?: string;
  placedAt?: string;
  chargedAt?: string;
  shippedAt?: string;
  /** ISO time the status first became COMPLETED. */
  completedAt?: string;
  /**
   * Distinct S3 writes of the order's invoice / label, counted by notifyCustomer: a string set of S3 event
   * sequencers in the table (the document client reads it as a Set), or a number.
   */
  invoiceWrites?: WriteCount;
  labelWrites?: WriteCount;
  correlationId?: string;
}

type WriteCount = number | ReadonlySet<string> | readonly string[];

/** How many distinct writes a counter records; undefined when the item has none. */
function writes(value: WriteCount | undefined): number | undefined {
  if (typeof value === 'number') return value;
  if (value instanceof Set) return value.size;
  if (Array.isArray(value)) return value.length;
  return undefined;
}

interface AcceptedOrder {
  orderId: string;
  /** Epoch ms the request was sent and the 202 arrived (this machine's clock). */
  sentEpochMs: number;
  acceptedEpochMs: number;
}

interface Duplicate {
  orderId: string;
  invoiceWrites: number;
  labelWrites: number;
}

interface Accounting {
  accepted: number;
  completed: number;
  /** Accepted orders not COMPLETED by the deadline (ids, at most 100 listed). */
  lost: number;
  lostIds: string[];
  /** Accepted orders the table has never heard of (a subset of lost). */
  missing: number;
  /** Orders COMPLETED after the deadline (counted as lost). */
  completedLate: number;
  /** Orders with invoiceWrites > 1 or labelWrites > 1; undefined when no item carries the counters. */
  duplicated: number | undefined;
  duplicates: Duplicate[];
  /** Items carrying invoiceWrites / labelWrites (0 means the counters are not there yet). */
  itemsWithWriteCounters: number;
  /** Order-to-COMPLETED latency, ms, one per completed order (clock offset applied). */
  completionLatenciesMs: number[];
  /** Epoch ms each completed order completed (for the completions-over-time chart). */
  completionEpochMs: number[];
  /** How completion times were read: completedAt, or the later of chargedAt/shippedAt when completedAt is absent. */
  completionTimeSource: 'completedAt' | 'steps' | 'mixed' | 'none';
}

const parseTime = (value: string | undefined): number | undefined => {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
};

/** When the item completed: completedAt, else (older items) the later of the steps it needed. */
function completionTime(item: TableItem): { ms: number | undefined; source: 'completedAt' | 'steps' } {
  const completedAt = parseTime(item.completedAt);
  if (completedAt !== undefined) return { ms: completedAt, source: 'completedAt' };
  const charged = parseTime(item.chargedAt);
  const shipped = parseTime(item.shippedAt);
  const needsShipping = item.fulfillment !== 'digital';
  if (charged === undefined || (needsShipping && shipped === undefined)) return { ms: undefined, source: 'steps' };
  return { ms: Math.max(charged, needsShipping ? (shipped as number) : charged), source: 'steps' };
}

function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * The offset of the clock that stamped the items against this machine's clock: `placedAt` is stamped by
 * placeOrder while the request is in flight, so it lies between send and answer; the median of
 * placedAt − midpoint(send, answer) estimates the offset to within half a round trip.
 */
function estimateClockOffsetMs(accepted: Iterable<AcceptedOrder>, items: Map<string, TableItem>): number | undefined {
  const offsets: number[] = [];
  for (const order of accepted) {
    const placedAt = parseTime(items.get(order.orderId)?.placedAt);
    if (placedAt !== undefined) offsets.push(placedAt - (order.sentEpochMs + order.acceptedEpochMs) / 2);
  }
  return median(offsets);
}

/**
 * @example
 * const result = account(accepted, items, { deadlineEpochMs: lastArrival + 180_000, clockOffsetMs: 0 });
 * if (result.lost > 0 || (result.duplicated ?? 0) > 0) process.exitCode = 1;
 */
function account(accepted: readonly AcceptedOrder[], tableItems: Iterable<TableItem>, options: { deadlineEpochMs: number; clockOffsetMs: number }): Accounting {
  const items = new Map<string, TableItem>();
  for (const item of tableItems) items.set(item.orderId, item);
  let completed = 0;
  let missing = 0;
  let completedLate = 0;
  let withCounters = 0;
  const lostIds: string[] = [];
  const duplicates: Duplicate[] = [];
  const latencies: number[] = [];
  const completions: number[] = [];
  const sources = new Set<'completedAt' | 'steps'>();
  for (const order of accepted) {
    const item = items.get(order.orderId);
    if (!item) {
      missing += 1;
      lostIds.push(order.orderId);
      continue;
    }
    const invoiceWrites = writes(item.invoiceWrites);
    const labelWrites = writes(item.labelWrites);
    if (invoiceWrites !== undefined || labelWrites !== undefined) withCounters += 1;
    if ((invoiceWrites ?? 0) > 1 || (labelWrites ?? 0) > 1) duplicates.push({ orderId: order.orderId, invoiceWrites: invoiceWrites ?? 0, labelWrites: labelWrites ?? 0 });
    if (item.status !== 'COMPLETED') {
      lostIds.push(order.orderId);
      continue;
    }
    const { ms, source } = completionTime(item);
    if (ms !== undefined) {
      sources.add(source);
      // The item's clock, brought to this machine's: subtract the offset.
      const localMs = ms - options.clockOffsetMs;
      if (localMs > options.deadlineEpochMs) {
        completedLate += 1;
        lostIds.push(order.orderId);
        continue;
      }
      latencies.push(Math.max(0, localMs - order.acceptedEpochMs));
      completions.push(localMs);
    }
    completed += 1;
  }
  const lost = accepted.length - completed;
  return {
    accepted: accepted.length,
    completed,
    lost,
    lostIds: lostIds.slice(0, 100),
    missing,
    completedLate,
    duplicated: withCounters > 0 ? duplicates.length : undefined,
    duplicates: duplicates.slice(0, 100),
    itemsWithWriteCounters: withCounters,
    completionLatenciesMs: latencies,
    completionEpochMs: completions,
    completionTimeSource: sources.size === 0 ? 'none' : sources.size === 2 ? 'mixed' : ([...sources][0] as 'completedAt' | 'steps'),
  };
}

export { account, completionTime, estimateClockOffsetMs, writes };
export type { AcceptedOrder, Accounting, TableItem };
