import { describe, expect, it } from 'vitest';
import { listScenarios, loadScenario, parseScenario, parseScenarioText, ScenarioError, ScenarioNotFoundError } from '../../scripts/load/scenario.ts';

const FILE = 'scripts/load/scenarios/example.yml';

/** The issues a document raises (they carry the file and the path at fault). */
const issuesOf = (document: unknown): string[] => {
  try {
    parseScenario(document, FILE);
  } catch (error) {
    if (error instanceof ScenarioError) return error.issues;
    throw error;
  }
  return [];
};

describe('Load scenarios: parsing and validation', () => {
  it('ships steady and spike (and bulk-import with the imports slice), each valid', async () => {
    // Act
    const names = await listScenarios();
    const [steady, spike] = await Promise.all(['steady', 'spike'].map((name) => loadScenario(name)));

    // Assess
    expect(names).toEqual(expect.arrayContaining(['steady', 'spike']));
    expect(steady?.phases).toEqual([{ type: 'steady', from: 10, to: 10, durationMs: 30_000, untilDrained: false }]);
    expect(spike?.phases).toEqual([
      { type: 'steady', from: 10, to: 10, durationMs: 10_000, untilDrained: false },
      { type: 'spike', from: 1000, to: 1000, durationMs: 10_000, untilDrained: false },
      { type: 'steady', from: 10, to: 10, durationMs: 120_000, untilDrained: true },
    ]);
    expect(await loadScenario('bulk-import')).toMatchObject({ kind: 'bulk-import', fileOrders: 10_000, phases: [] }); // slice-line:imports
  });

  it('reads durations in ms, s, m, h and plain seconds, and a ramp from → to', () => {
    const scenario = parseScenario(
      {
        phases: [
          { type: 'ramp', from: 0, to: 100, duration: '2m' },
          { type: 'steady', rate: 5, duration: 1.5 },
          { type: 'spike', rate: 50, duration: '500ms' },
        ],
        orders: { physicalShare: 0.5, itemsPerOrder: [2, 4], seed: 7 },
        limits: { maxInFlight: 10, requestTimeout: '5s' },
        drain: { deadline: '1h' },
      },
      FILE,
    );

    expect(scenario.phases.map((phase) => phase.durationMs)).toEqual([120_000, 1500, 500]);
    expect(scenario.phases[0]).toMatchObject({ type: 'ramp', from: 0, to: 100 });
    expect(scenario).toMatchObject({ name: 'example', kind: 'api', orders: { physicalShare: 0.5, itemsPerOrder: { min: 2, max: 4 }, seed: 7 }, limits: { maxInFlight: 10, requestTimeoutMs: 5000 }, drain: { deadlineMs: 3_600_000 } });
  });

  it('names the file and the path of every problem', () => {
    const issues = issuesOf({
      kind: 'api',
      phases: [{ type: 'steady', rate: 'fast', duration: '10s' }, { type: 'warp', rate: 1 }, { type: 'ramp', from: 1, to: 2, duration: '-3s' }],
      orders: { physicalShare: 1.5, itemsPerOrder: [5, 2], colour: 'red' },
      limits: { maxInFlight: 0 },
    });

    expect(issues).toEqual(
      expect.arrayContaining([
        'phases[0].rate: must be a number > 0 and <= 10000, got "fast"',
        'phases[1].type: must be steady, ramp or spike, got "warp"',
        expect.stringMatching(/^phases\[2\]\.duration: must be a duration > 0/),
        'orders.physicalShare: must be a number >= 0 and <= 1, got 1.5',
        'orders.itemsPerOrder: the minimum (5) is above the maximum (2)',
        expect.stringMatching(/^orders\.colour: unknown key/),
        'limits.maxInFlight: must be an integer >= 1 and <= 10000, got 0',
      ]),
    );
    expect(() => parseScenario({ phases: [{ type: 'warp' }] }, FILE)).toThrow(/^scripts\/load\/scenarios\/example\.yml: phases\[0\]\.type/);
  });

  it('bounds every phase in time: until drained needs maxDuration, fixed phases need duration', () => {
    expect(issuesOf({ phases: [{ type: 'steady', rate: 10, until: 'drained' }] })).toContain('phases[0].maxDuration: is required with until: drained (every phase is bounded in time)');
    expect(issuesOf({ phases: [{ type: 'steady', rate: 10, until: 'bored', maxDuration: '1m' }] })).toContain('phases[0].until: must be "drained", got "bored"');
    expect(issuesOf({ phases: [{ type: 'steady', rate: 10 }] })).toEqual([expect.stringMatching(/^phases\[0\]\.duration: must be a duration/)]);
    expect(issuesOf({ phases: [{ type: 'steady', rate: 10, duration: '2h' }] })).toEqual([expect.stringMatching(/<= 3600 s/)]);
    expect(issuesOf({ phases: [{ type: 'ramp', rate: 10, from: 1, to: 2, duration: '1s' }] })).toContain('phases[0].rate: a ramp takes from, to and duration, not rate');
  });

  it('requires import.orders for bulk-import and refuses phases there', () => {
    expect(issuesOf({ kind: 'bulk-import' })).toContain('import: is required for kind bulk-import: { orders: N }');
    expect(issuesOf({ kind: 'bulk-import', import: { orders: 10 }, phases: [] })).toContain('phases: a bulk-import scenario uploads one file: it takes import.orders, not phases');
    expect(issuesOf({ kind: 'batch' })).toContain('kind: must be api or bulk-import, got "batch"');
  });

  it('reports YAML syntax errors and missing scenarios with the file name', async () => {
    expect(() => parseScenarioText('phases: [ { type: steady', FILE)).toThrow(ScenarioError);
    expect(() => parseScenarioText('phases: [ { type: steady', FILE)).toThrow(/^scripts\/load\/scenarios\/example\.yml: [\s\S]*YAML: Flow/);
    expect(() => parseScenarioText('', FILE)).toThrow('scripts/load/scenarios/example.yml: (root): the file is empty');
    await expect(loadScenario('no-such-scenario')).rejects.toThrow(ScenarioNotFoundError);
  });
});
