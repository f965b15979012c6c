import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedSchedule } from '../../scripts/load/arrivals.ts';
import { realClock, runOpenLoop, type Clock, type RequestRecord, type SendOutcome } from '../../scripts/load/open-loop.ts';
import type { Phase } from '../../scripts/load/scenario.ts';
import { runSender } from '../../scripts/load/sender.ts';

const steady = (rate: number, seconds: number): Phase => ({ type: 'steady', from: rate, to: rate, durationMs: seconds * 1000, untilDrained: false });

/** A virtual clock: sleeping advances time at once, nothing else does. */
const fakeClock = (): Clock & { advance(ms: number): void } => {
  let now = 1_000_000;
  return {
    now: () => now,
    sleep: async (ms) => {
      now += ms;
    },
    advance: (ms) => {
      now += ms;
    },
  };
};

describe('Load open loop: sends on schedule whatever the answers', () => {
  it('sends every arrival at its intended time even when no answer ever comes back', async () => {
    // Prepare
    const clock = fakeClock();
    const records: RequestRecord[] = [];
    const sentAt: number[] = [];
    const never = new Promise<SendOutcome>(() => {});
    let release!: (outcome: SendOutcome) => void;
    const slow = new Promise<SendOutcome>((resolve) => (release = resolve));

    // Act
    const run = runOpenLoop({
      arrivals: fixedSchedule([steady(100, 1)]),
      clock,
      startAt: clock.now(),
      maxInFlight: 1000,
      send: (arrival) => {
        sentAt.push(clock.now() - 1_000_000);
        return arrival.seq === 99 ? never.then(() => slow) : slow;
      },
      onRecord: (record) => records.push(record),
    });
    await sleep(10);

    // Assess: all 100 sent on schedule while none has been answered yet.
    expect(sentAt).toEqual(Array.from({ length: 100 }, (_, i) => i * 10));
    expect(records).toHaveLength(0);
    clock.advance(5000);
    release({ status: 202, orderId: 'x' });
    await sleep(10);
    expect(records).toHaveLength(99);
    expect(records.every((r) => r.sentMs === r.intendedMs)).toBe(true);
    expect(records[0]).toMatchObject({ intendedMs: 0, sentMs: 0, respondedMs: 5990, status: 202 });
    void run;
  });

  it('counts arrivals beyond maxInFlight as not sent, with their intended time', async () => {
    const clock = fakeClock();
    const records: RequestRecord[] = [];
    const answers: ((outcome: SendOutcome) => void)[] = [];

    const run = runOpenLoop({
      arrivals: fixedSchedule([steady(10, 1)]),
      clock,
      startAt: clock.now(),
      maxInFlight: 3,
      send: () => new Promise((resolve) => answers.push(resolve)),
      onRecord: (record) => records.push(record),
    });
    await sleep(10);
    for (const answer of answers) answer({ status: 202, orderId: 'o' });
    const summary = await run;

    expect(summary).toMatchObject({ offered: 10, sent: 3, notSent: 7 });
    expect(records.filter((r) => r.notSent).map((r) => r.intendedMs)).toEqual([300, 400, 500, 600, 700, 800, 900]);
  });

  describe('against a slow server (real clock, real HTTP)', () => {
    let server: Server;
    let url: string;
    const authorizations = new Set<string>();

    beforeAll(async () => {
      server = createServer((req, res) => {
        authorizations.add(req.headers.authorization ?? '(none)');
        req.resume();
        req.on('end', () => setTimeout(() => res.writeHead(202, { 'content-type': 'application/json' }).end('{"orderId":"o-1","status":"PLACED"}'), 250));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });

    afterAll(async () => {
      await new Promise((resolve) => server.close(resolve));
    });

    it('keeps the schedule while every answer takes 250 ms, and measures latency from the intended time', async () => {
      const records: RequestRecord[] = [];
      const started = realClock.now();

      const summary = await runSender(
        { apiUrl: url, authorization: 'Bearer load-token', phases: [steady(50, 1)], mix: { physicalShare: 0.5, itemsPerOrder: { min: 1, max: 2 }, seed: 1 }, maxInFlight: 100, requestTimeoutMs: 5000, runId: 'test', startEpochMs: performance.timeOrigin + performance.now() + 20 },
        { onRecords: (batch) => records.push(...batch), onPhaseEnd: () => {}, isDrained: () => false, isAborted: () => false },
      );
      const elapsed = realClock.now() - started;

      expect(summary).toMatchObject({ offered: 50, sent: 50, notSent: 0 });
      // Closed loop with one connection would take 50 × 250 ms = 12.5 s and the last send would lag ~12 s behind its
      // schedule; open loop ends ~1 s + one answer later, each send on time. The bounds sit far from both (a busy
      // 2-core machine delays timers by tens of ms, sometimes more), so they tell the two apart without timing the code.
      expect(elapsed).toBeLessThan(6000);
      expect(summary.maxSendLagMs).toBeLessThan(2000);
      expect(records.every((r) => r.status === 202 && r.orderId === 'o-1')).toBe(true);
      expect([...authorizations]).toEqual(['Bearer load-token']);
      expect(Math.min(...records.map((r) => (r.respondedMs as number) - r.intendedMs))).toBeGreaterThanOrEqual(245);
    });
  });
});
