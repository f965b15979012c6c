import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlHeaders, type LocalStatsSnapshot } from 'local-cloud';
import { formatSummary, runLoad, type RunResult } from '../../scripts/load/run.ts';
import { loadScenario } from '../../scripts/load/scenario.ts';
import { resolveTarget, type LoadTarget } from '../../scripts/load/target.ts';

describe('Load run end to end: a 5-second steady at 5 orders/s on the local cloud', () => {
  let target: LoadTarget;
  let reportsDir: string;
  let result: RunResult;
  let stats: LocalStatsSnapshot;

  beforeAll(async () => {
    reportsDir = await mkdtemp(join(tmpdir(), 'load-e2e-'));
    target = await resolveTarget({ inProcess: true, log: () => {} });
    const steady = await loadScenario('steady');
    result = await runLoad({
      scenario: { ...steady, phases: [{ type: 'steady', from: 5, to: 5, durationMs: 5000, untilDrained: false }], drain: { deadlineMs: 90_000 } },
      target,
      reportsDir,
      progress: null,
      log: () => {},
    });
    stats = (await (await fetch(`${target.cloud?.edgeUrl}/_local/stats`, { headers: controlHeaders(target.cloud?.token) })).json()) as LocalStatsSnapshot;
  }, 240_000);

  afterAll(async () => {
    await target?.stop();
    await rm(reportsDir, { recursive: true, force: true });
  });

  it('loses nothing, duplicates nothing, answers no 5xx', () => {
    const { counts } = result.report;

    expect(counts).toMatchObject({ offered: 25, sent: 25, notSent: 0, accepted: 25, http5xx: 0, completed: 25, lost: 0 });
    // notifyCustomer counts each document's distinct S3 writes on the Orders item (invoiceWrites / labelWrites).
    expect(counts.duplicated).toBe(0);
    expect(counts.placedDespiteError).toBe(0);
    expect(result.exitCode).toBe(0);
    expect(result.report.latency.orderToCompleted?.count).toBe(25);
  });

  it('writes the JSON and the self-contained HTML report', async () => {
    expect(existsSync(result.jsonPath) && existsSync(result.htmlPath)).toBe(true);
    const json = JSON.parse(await readFile(result.jsonPath, 'utf8'));
    const html = await readFile(result.htmlPath, 'utf8');

    expect(json).toMatchObject({ schema: 'orderflow-load-report/1', scenario: { name: 'steady' }, verdict: { pass: true } });
    // The generator ran in a child process: its memory is reported apart from the local cloud's.
    expect(json.memory.senderPeakRssBytes).toBeGreaterThan(0);
    expect(json.notes).toContainEqual(expect.stringMatching(/^The local cloud ran in this process and the load generator in a child process of its own \(peak RSS [1-9]\d* MiB\)/));
    expect(html.match(/<(script|link)\b[^>]*(src|href)=/gi)).toBeNull();
  });

  it('predicts the run on AWS from the compiled template and the durations it measured: 5 orders/s throttle nowhere', () => {
    const { prediction } = result.report;

    expect(prediction?.queues.map((q) => q.queue)).toEqual(expect.arrayContaining(['billing', 'shipping', 'order-store', 'analytics']));
    expect(prediction?.queues.find((q) => q.queue === 'billing')?.perMessageMs).toBeGreaterThan(0);
    expect(prediction?.throttles).toEqual([]);
    expect(prediction && 'usd' in prediction.cost ? prediction.cost.usd : 0).toBeGreaterThan(0);
  });

  it('counts AWS requests per order at the edge, apart from the runner own requests, also over GET /_local/stats', () => {
    const { aws } = result.report;

    expect(typeof aws.requestsPerOrder).toBe('object');
    expect(aws.requestsByOperation).toMatchObject({ sns: { Publish: expect.any(Number) }, dynamodb: { UpdateItem: expect.any(Number) } });
    expect(stats.observer.sqs?.GetQueueAttributes).toBeGreaterThan(0);
    expect(stats.aws.sqs?.GetQueueAttributes).toBeUndefined();
    expect(stats.functions['orderflow-local-placeOrder']?.invocations).toBeGreaterThanOrEqual(25);
    expect(stats.memory.peakRssBytes).toBeGreaterThan(0);
  });

  it('says how busy the main and the emulators event loops were, from the samples of GET /_local/stats', () => {
    const { eventLoops } = result.report;

    expect(Object.keys(stats.eventLoops).sort()).toEqual(['emulators', 'main']);
    expect(stats.eventLoops.main?.activeMs).toBeGreaterThan(0);
    expect(typeof eventLoops).toBe('object');
    for (const name of ['main', 'emulators']) {
      const busy = typeof eventLoops === 'object' ? eventLoops[name] : undefined;
      // 5 orders/s keep both loops busy some of the time, never all of it; no spike phase in this run.
      expect(busy?.run).toBeGreaterThan(0);
      expect(busy?.run).toBeLessThan(1);
      expect(busy?.spike).toBeNull();
    }
    expect(formatSummary(result.report)).toMatch(/event loops busy: run \/ spike \/ drain +main \d+ % \/ n\/a \/ (\d+ %|n\/a); emulators \d+ % \/ n\/a/);
  });
});
