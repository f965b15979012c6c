import { describe, expect, it } from 'vitest';
import { Sampler, type QueueSample } from '../../scripts/load/observe.ts';
import type { LoadTarget } from '../../scripts/load/target.ts';

const sample = (t: number, waiting: number): QueueSample => ({ t, depths: {}, backlog: waiting, waiting, dlq: 0 });
/** A sampler that is never started: the test adds its samples itself. */
const sampler = (): Sampler => new Sampler({} as LoadTarget, Date.now(), 40);

describe('Sampler.untilDrained (the end of a run waits for the drain measure)', () => {
  it('waits while follow-up work still waits in a queue, and ends at the second empty sample in a row', async () => {
    // Prepare: empty queues before the last arrival (1 s) do not count; after it, every order is COMPLETED but a
    // document notice waits, then one empty sample, then another message
    const observed = sampler();
    observed.queues.push(sample(0, 0), sample(500, 0), sample(1000, 3), sample(2000, 0), sample(3000, 1));
    let ended = false;

    // Act
    const waiting = observed.untilDrained(1000, Date.now() + 10_000).then(() => (ended = true));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const endedBefore = ended;
    observed.queues.push(sample(4000, 0), sample(5000, 0));
    await waiting;

    // Assess
    expect(endedBefore).toBe(false);
    expect(ended).toBe(true);
  });

  it('ends at the deadline when a queue never empties', async () => {
    // Prepare
    const observed = sampler();
    observed.queues.push(sample(1000, 5), sample(2000, 5));
    const deadline = Date.now() + 150;

    // Act
    await observed.untilDrained(1000, deadline);

    // Assess
    expect(Date.now()).toBeGreaterThanOrEqual(deadline);
  });

  it('ends when the run is interrupted', async () => {
    // Prepare
    const observed = sampler();
    observed.queues.push(sample(1000, 5));
    const interrupt = new AbortController();

    // Act
    const waiting = observed.untilDrained(1000, Date.now() + 60_000, interrupt.signal);
    interrupt.abort();
    await waiting;

    // Assess
    expect(observed.queues.at(-1)?.waiting).toBe(5);
  });
});
