/**
 * The arrival schedule of a scenario (when each order is meant to be sent, in ms from the start)
 * and the orders themselves (deterministic from the scenario's seed).
 *
 * Arrival k of a phase is sent when the phase's cumulative arrivals N(t) reach k: N(t) = r·t for a
 * constant rate, N(t) = from·t + (to − from)·t²/(2·duration) for a ramp.
 */
import type { OrderMix, Phase } from './scenario.ts';

interface Arrival {
  /** Sequence number over the whole run, from 0. */
  seq: number;
  /** Intended send time, ms from the start of the run. */
  at: number;
  /** Index of the phase in the scenario. */
  phase: number;
}

interface PhaseWindow {
  phase: number;
  type: Phase['type'];
  startMs: number;
  endMs: number;
  arrivals: number;
  /** true when an until-drained phase ended because the backlog drained (not at its bound). */
  endedByDrain: boolean;
}

interface ScheduleControl {
  /** Run time (ms from the start): an until-drained phase ending early ends now. */
  now(): number;
  /** Asked before each arrival of an until-drained phase: true ends the phase. */
  drained(phase: number): boolean;
  /** Called when a phase ends, with its actual window. */
  onPhaseEnd?(window: PhaseWindow): void;
}

/** Arrivals a phase sends over its whole length: N(duration), whole arrivals only (the k-th needs N(t) = k < N(duration)). */
function expectedArrivals(phase: Phase): number {
  const n = ((phase.from + phase.to) / 2) * (phase.durationMs / 1000);
  // Arrival k is at N(t) = k for k = 0, 1, ...: there are ceil(n) of them within [0, duration).
  return Math.max(0, Math.ceil(n - 1e-9));
}

/** Offset (ms) of the k-th arrival (k from 0) within a phase. */
function arrivalOffset(phase: Phase, k: number): number {
  const seconds = phase.durationMs / 1000;
  if (k === 0) return 0;
  if (phase.from === phase.to) return (k / phase.from) * 1000;
  const a = (phase.to - phase.from) / (2 * seconds);
  const b = phase.from;
  // a·t² + b·t − k = 0, the positive root; written to stay exact when a is tiny or negative.
  const t = (2 * k) / (b + Math.sqrt(b * b + 4 * a * k));
  return t * 1000;
}

/**
 * Yields every arrival of the phases in order. A fixed phase yields exactly expectedArrivals(phase);
 * an until-drained phase yields until `control.drained(phase)` says so or its bound is reached, and
 * the next phase starts when it ends.
 *
 * @example
 * for (const arrival of schedule(scenario.phases, { now: () => clock.now() - start, drained: () => false })) { ... }
 */
function* schedule(phases: readonly Phase[], control: ScheduleControl): Generator<Arrival> {
  let seq = 0;
  let start = 0;
  for (const [index, phase] of phases.entries()) {
    let count = 0;
    let endedByDrain = false;
    const total = expectedArrivals(phase);
    for (let k = 0; k < total; k += 1) {
      if (phase.untilDrained && control.drained(index)) {
        endedByDrain = true;
        break;
      }
      yield { seq, at: start + arrivalOffset(phase, k), phase: index };
      seq += 1;
      count += 1;
    }
    const end = endedByDrain ? Math.max(start, Math.min(start + phase.durationMs, control.now())) : start + phase.durationMs;
    control.onPhaseEnd?.({ phase: index, type: phase.type, startMs: start, endMs: end, arrivals: count, endedByDrain });
    start = end;
  }
}

/** Fixed phases only: all intended send times, for tests and planning. */
function fixedSchedule(phases: readonly Phase[]): Arrival[] {
  return [...schedule(phases, { now: () => 0, drained: () => false })];
}

/** mulberry32: a small, fast, seedable PRNG (uniform in [0, 1)). */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SKUS = ['BOOK-1', 'BOOK-2', 'MUG-1', 'TSHIRT-M', 'TSHIRT-L', 'POSTER-1', 'EBOOK-1', 'COURSE-1'];

interface GeneratedOrder {
  fulfillment: 'physical' | 'digital';
  body: Record<string, unknown>;
}

/**
 * Whether arrival `seq` is a poison order (customerId `poison-...`, lib/faults.ts) for a poison share of 0-1:
 * floor((seq + 1) * share) > floor(seq * share), so the first N arrivals hold exactly floor(N * share) poison
 * orders, evenly spread (a random draw could give none at 1 % of 240).
 */
function isPoisonArrival(seq: number, share: number): boolean {
  if (!(share > 0)) return false;
  return Math.floor((seq + 1) * share + 1e-9) > Math.floor(seq * share + 1e-9);
}

/**
 * The order of arrival `seq`: the same seed and seq always give the same order, so a run can be replayed.
 * The body follows the order API (README, "The order API").
 */
function generateOrder(mix: OrderMix, seq: number): GeneratedOrder {
  const random = prng((mix.seed * 2_654_435_761 + seq) >>> 0);
  const fulfillment = random() < mix.physicalShare ? 'physical' : 'digital';
  const count = mix.itemsPerOrder.min + Math.floor(random() * (mix.itemsPerOrder.max - mix.itemsPerOrder.min + 1));
  const items = Array.from({ length: count }, () => ({
    sku: SKUS[Math.floor(random() * SKUS.length)] as string,
    quantity: 1 + Math.floor(random() * 3),
    unitPriceCents: 100 + Math.floor(random() * 9_900),
  }));
  const body: Record<string, unknown> = { customerId: isPoisonArrival(seq, mix.poisonShare ?? 0) ? `poison-c-${seq}` : `load-c-${seq % 1000}`, items, fulfillment };
  if (fulfillment === 'physical') {
    body.shippingAddress = { name: 'Ada Load', line1: '1 Main St', city: 'Leeds', postalCode: 'LS1 1AA', country: 'GB' };
  }
  return { fulfillment, body };
}

export { arrivalOffset, expectedArrivals, fixedSchedule, generateOrder, isPoisonArrival, schedule };
export type { Arrival, PhaseWindow };
