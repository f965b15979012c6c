import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseOrderInput } from '#lib/domain/order.ts';
import { artilleryScript, writeArtilleryFiles } from '../../scripts/load/artillery.ts';
import { parseArguments } from '../../scripts/load/run.ts';
import { loadScenario, parseScenario } from '../../scripts/load/scenario.ts';
import { scanOrders } from '../../scripts/load/observe.ts';
import { resolveTarget, type LoadTarget } from '../../scripts/load/target.ts';
import { waitFor } from 'local-cloud';

const require = createRequire(import.meta.url);
const ARTILLERY = process.env.ARTILLERY_BIN ?? 'artillery';
const artilleryOnPath = spawnSync(ARTILLERY, ['--version'], { stdio: 'ignore' }).status === 0;

describe('Artillery engine: the scenario as a script for distributed load generators', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'artillery-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('divides the spike\'s arrivals over 20 workers, phase by phase, with arrivalCount', async () => {
    // Prepare: 10/s for 10 s, 1,000/s for 10 s, 10/s for at most 120 s.
    const spike = await loadScenario('spike');

    // Act
    const script = artilleryScript(spike, { target: 'https://api.example.com', workers: 20, runId: 'r1' });

    // Assess: 100 / 20, 10,000 / 20, 1,200 / 20 arrivals per worker.
    expect(script.config.phases.map(({ duration, arrivalCount }) => ({ duration, arrivalCount }))).toEqual([
      { duration: 10, arrivalCount: 5 },
      { duration: 10, arrivalCount: 500 },
      { duration: 120, arrivalCount: 60 },
    ]);
    expect(script.config.phases[2]?.name).toContain('until drained');
    expect(script.config.target).toBe('https://api.example.com');
    expect(script.scenarios[0]?.flow).toEqual([{ post: expect.objectContaining({ url: '/orders', beforeRequest: 'orderBody' }) }]);
  });

  it('writes a ramp as whole arrivals a second per worker, rounded up', () => {
    const ramp = parseScenario({ name: 'ramp', phases: [{ type: 'ramp', from: 10, to: 100, duration: '30s' }] }, 'ramp.yml');

    const script = artilleryScript(ramp, { target: 'http://127.0.0.1:3000', workers: 4, runId: 'r1' });

    expect(script.config.phases).toEqual([expect.objectContaining({ duration: 30, arrivalRate: 3, rampTo: 25 })]);
  });

  it('writes YAML that reads back as the script, and a processor whose orders the API accepts', async () => {
    // Prepare
    const spike = await loadScenario('spike');

    // Act
    const { scriptPath, processorPath, script } = await writeArtilleryFiles(spike, { target: 'https://api.example.com', workers: 20, runId: 'r7' }, dir);
    const processor = require(processorPath) as { orderBody: (params: Record<string, unknown>, context: { vars: Record<string, unknown> }, ee: unknown, next: () => void) => void };
    const requests = Array.from({ length: 200 }, () => {
      const params: Record<string, unknown> = { headers: { 'content-type': 'application/json' } };
      let called = 0;
      processor.orderBody(params, { vars: { runId: 'r7' } }, undefined, () => (called += 1));
      return { params, called };
    });

    // Assess
    expect(parse(await readFile(scriptPath, 'utf8'))).toEqual(JSON.parse(JSON.stringify(script)));
    expect(script.config.processor).toBe('./spike.artillery.cjs');
    for (const { params, called } of requests) {
      expect(called).toBe(1);
      expect(() => parseOrderInput(params.json)).not.toThrow();
      expect((params.headers as Record<string, string>)['x-correlation-id']).toMatch(/^load-r7-[0-9a-f-]{36}$/);
    }
    const physical = requests.filter(({ params }) => (params.json as { fulfillment: string }).fulfillment === 'physical').length;
    expect(physical).toBeGreaterThan(100); // 70 % physical: 140 expected of 200
    expect(physical).toBeLessThan(180);
  });

  it('is asked for with --engine artillery [--workers N] [--runner local|lambda|fargate], against a stage, a URL or the local cloud', () => {
    expect(parseArguments(['spike', '--stage', 'dev', '--engine', 'artillery', '--workers', '20'])).toMatchObject({ scenario: 'spike', stage: 'dev', engine: 'artillery', workers: 20 });
    expect(parseArguments(['spike', '--engine', 'artillery'])).toMatchObject({ scenario: 'spike', engine: 'artillery' });
    expect(parseArguments(['spike', '--stage', 'dev', '--engine', 'artillery', '--runner', 'fargate'])).toMatchObject({ runner: 'fargate' });
    expect(() => parseArguments(['spike', '--stage', 'dev', '--engine', 'artillery', '--runner', 'ec2'])).toThrow('--runner must be one of local, lambda, fargate, got "ec2"');
    expect(() => parseArguments(['spike', '--runner', 'lambda'])).toThrow('--runner needs --engine artillery');
    expect(() => parseArguments(['spike', '--stage', 'dev', '--engine', 'k6'])).toThrow('only artillery is supported');
    expect(() => parseArguments(['spike', '--stage', 'dev', '--engine', 'artillery', '--workers', '0'])).toThrow('--workers must be a whole number >= 1');
  });

  describe.skipIf(!artilleryOnPath)('with the artillery CLI on PATH: its local runner against the local cloud', () => {
    let target: LoadTarget;

    beforeAll(async () => {
      target = await resolveTarget({ inProcess: true, log: () => {} });
    }, 120_000);

    afterAll(async () => {
      await target?.stop();
    });

    it('sends the phase\'s orders; every one is accepted and completes exactly once (found by its correlation id)', async () => {
      const tiny = parseScenario({ name: 'tiny', phases: [{ type: 'steady', rate: 2, duration: '3s' }] }, 'tiny.yml');
      const { scriptPath } = await writeArtilleryFiles(tiny, { target: target.apiUrl, workers: 1, runId: 'art' }, dir);
      const out = join(dir, 'tiny.json');

      // Asynchronously: the local cloud answers from this process's event loop.
      await promisify(execFile)(ARTILLERY, ['run', '--output', out, scriptPath], { timeout: 90_000 });

      const counters = (JSON.parse(await readFile(out, 'utf8')) as { aggregate: { counters: Record<string, number> } }).aggregate.counters;
      expect(counters).toMatchObject({ 'http.codes.202': 6 });
      // The same zero-loss accounting as a run: the run's orders, by correlation id, COMPLETED, one invoice each.
      const items = await waitFor(
        async () => {
          const { items: found } = await scanOrders(target, (item) => item.correlationId?.startsWith('load-art-') === true);
          return found.length === 6 && found.every((item) => item.status === 'COMPLETED') ? found : undefined;
        },
        { what: 'the 6 orders COMPLETED', timeoutMs: 60_000, intervalMs: 250 },
      );
      expect(items.map((item) => item.invoiceWrites instanceof Set ? item.invoiceWrites.size : item.invoiceWrites)).toEqual([1, 1, 1, 1, 1, 1]);
    }, 120_000);
  });
  describe.skipIf(!artilleryOnPath)('with the artillery CLI on PATH: npm run load -- <scenario> --engine artillery', () => {
    it('runs the script with the local runner against the local cloud, then accounts for every order: 0 lost, 0 duplicated, exit 0', async () => {
      const scenarioFile = join(dir, 'tiny-run.yml');
      await writeFile(scenarioFile, 'name: tiny-run\ndescription: 2 orders/s for 3 s.\nkind: api\nphases:\n  - { type: steady, rate: 2, duration: 3s }\ndrain:\n  deadline: 90s\n');

      const { stdout } = await promisify(execFile)('node', ['scripts/load/run.ts', scenarioFile, '--engine', 'artillery', '--in-process', '--out', dir], {
        timeout: 180_000,
        env: { ...process.env, ARTILLERY_BIN: ARTILLERY },
      });

      expect(stdout).toMatch(/accepted \(202\) +6\n/);
      expect(stdout).toMatch(/completed +6 within 90 s/);
      expect(stdout).toMatch(/lost +0\n/);
      expect(stdout).toMatch(/duplicated +0\n/);
    }, 200_000);
  });
});
