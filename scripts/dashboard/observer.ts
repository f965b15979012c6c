/**
 * What the dashboard learns from the invocations themselves, which no AWS API tells locally: orders accepted by
 * the API (placeOrder's 202 answers), orders completed (the order events recordOrderEvent stored, folded with the
 * same rule as the Orders table's status: physical = charged and shipped, digital = charged), and records
 * written to and read from the order stream. Invocation counts, errors and durations come from
 * `cloud.stats()` (the local cloud's edge/stats.ts), not from here.
 *
 * It wraps `runtime.invoke` (every poller and the HTTP API call that one method) and unwraps it on `detach()`.
 * The work per invocation is a look at the result and, for recordOrderEvent, one JSON.parse per record.
 */
import type { LambdaRuntime } from 'local-cloud';

interface PlacedOrder {
  orderId: string;
  customerId?: string;
  fulfillment?: string;
  at: number;
}

interface ObserverCounters {
  /** POST /orders answered 202. */
  accepted: number;
  /** Orders whose every needed step was stored by recordOrderEvent. */
  completed: number;
  /** Records put on the stream by the function that forwards order events to it (its batch minus its failures). */
  streamPut: number;
  /** Records the stream's consumers were handed. */
  streamRead: number;
}

/** Orders followed at once, and completed orders remembered against double counting (redeliveries). */
const MAX_TRACKED = 50_000;

/** A Map used as a bounded insertion-ordered set: the oldest entries go first. */
function remember<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > max) map.delete(map.keys().next().value as K);
}

function shortName(functionName: string): string {
  return functionName.split('-').pop() ?? functionName;
}

function parseJson(text: unknown): Record<string, unknown> | undefined {
  if (typeof text !== 'string') return undefined;
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

class InvocationObserver {
  readonly counters: ObserverCounters = { accepted: 0, completed: 0, streamPut: 0, streamRead: 0 };
  /** The most recent accepted orders, newest last. */
  private readonly recent = new Map<string, PlacedOrder>();
  private readonly steps = new Map<string, { fulfillment?: string; charged?: boolean; shipped?: boolean }>();
  private readonly done = new Map<string, true>();
  private readonly recentLimit: number;
  private runtime?: LambdaRuntime;
  private original?: LambdaRuntime['invoke'];
  private wrapped?: LambdaRuntime['invoke'];
  private active = false;

  constructor(options: { recentLimit?: number } = {}) {
    this.recentLimit = options.recentLimit ?? 50;
  }

  attach(runtime: LambdaRuntime): void {
    this.runtime = runtime;
    const original = runtime.invoke;
    this.original = original;
    const observe = (name: string, event: unknown, result: Awaited<ReturnType<LambdaRuntime['invoke']>>): void => {
      try {
        this.observe(name, event, result);
      } catch {
        // Observation must never break an invocation.
      }
    };
    this.active = true;
    const isActive = (): boolean => this.active;
    this.wrapped = async function observedInvoke(this: LambdaRuntime, reference, event, options) {
      const result = await original.call(this, reference, event, options);
      if (isActive()) observe(runtime.get(reference).config.name, event, result);
      return result;
    };
    runtime.invoke = this.wrapped;
  }

  /** Stops observing; unwraps `invoke` unless someone wrapped it again since (then the wrapper just passes through). */
  detach(): void {
    this.active = false;
    if (this.runtime && this.original && this.runtime.invoke === this.wrapped) this.runtime.invoke = this.original;
    this.runtime = undefined;
    this.original = undefined;
    this.wrapped = undefined;
  }

  /** The latest accepted orders, newest first. */
  recentOrders(limit = this.recentLimit): PlacedOrder[] {
    return [...this.recent.values()].slice(-limit).reverse();
  }

  /** Follows an order placed elsewhere (the dashboard's form answers before the observer sees the invocation). */
  notePlaced(order: PlacedOrder): void {
    remember(this.recent, order.orderId, { ...this.recent.get(order.orderId), ...order }, this.recentLimit);
  }

  private observe(functionName: string, event: unknown, result: Awaited<ReturnType<LambdaRuntime['invoke']>>): void {
    if (!result.ok) return;
    const records = ((event as { Records?: unknown[] } | undefined)?.Records ?? []) as Record<string, unknown>[];
    const failed = new Set(
      (((result.payload as { batchItemFailures?: { itemIdentifier?: string }[] } | null)?.batchItemFailures ?? []) as { itemIdentifier?: string }[]).map(
        (failure) => failure.itemIdentifier,
      ),
    );
    switch (shortName(functionName)) {
      case 'placeOrder': {
        const payload = result.payload as { statusCode?: number; body?: string } | null;
        if (payload?.statusCode !== 202) return;
        const answer = parseJson(payload.body);
        if (typeof answer?.orderId !== 'string') return;
        this.counters.accepted += 1;
        const request = parseJson((event as { body?: string; isBase64Encoded?: boolean }).isBase64Encoded ? Buffer.from(String((event as { body?: string }).body), 'base64').toString('utf8') : (event as { body?: string }).body);
        remember(
          this.recent,
          answer.orderId,
          {
            orderId: answer.orderId,
            ...(typeof request?.customerId === 'string' ? { customerId: request.customerId } : {}),
            ...(typeof request?.fulfillment === 'string' ? { fulfillment: request.fulfillment } : {}),
            at: Date.now(),
          },
          this.recentLimit,
        );
        return;
      }
      case 'recordOrderEvent':
        for (const record of records) {
          if (failed.has(record.messageId as string)) continue;
          const orderEvent = parseJson(record.body);
          if (orderEvent) this.step(orderEvent);
        }
        return;
      // slice-begin:analytics
      case 'streamOrderEvents':
        this.counters.streamPut += records.length - failed.size;
        return;
      // slice-end:analytics
      default:
        if (records.length > 0 && records.every((record) => record.eventSource === 'aws:kinesis')) this.counters.streamRead += records.length;
    }
  }

  private step(event: Record<string, unknown>): void {
    const orderId = event.orderId;
    if (typeof orderId !== 'string' || this.done.has(orderId)) return;
    const steps = this.steps.get(orderId) ?? {};
    if (typeof event.fulfillment === 'string') steps.fulfillment = event.fulfillment;
    if (event.type === 'OrderCharged') steps.charged = true;
    if (event.type === 'OrderShipped') steps.shipped = true;
    const complete = steps.fulfillment === 'digital' ? steps.charged === true : steps.charged === true && steps.shipped === true;
    if (complete) {
      this.steps.delete(orderId);
      remember(this.done, orderId, true, MAX_TRACKED);
      this.counters.completed += 1;
    } else remember(this.steps, orderId, steps, MAX_TRACKED);
  }
}

export { InvocationObserver };

