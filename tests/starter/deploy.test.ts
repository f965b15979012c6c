import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RefusedError, planFor } from '../../scripts/starter/deploy.ts';

const script = resolve(import.meta.dirname, '../../scripts/starter/deploy.ts');

/** Runs the wrapper with a fake osls that records its arguments, one line per call. */
const runWrapper = (args: string[]): { status: number | null; stderr: string; calls: string[] } => {
  const dir = mkdtempSync(join(tmpdir(), 'deploy-'));
  const log = join(dir, 'calls.log');
  const fake = join(dir, 'osls');
  writeFileSync(fake, `#!/bin/sh\necho "$@" >> "${log}"\n`);
  chmodSync(fake, 0o755);
  const result = spawnSync(process.execPath, [script, ...args], { env: { ...process.env, OSLS_BIN: fake }, encoding: 'utf8' });
  return { status: result.status, stderr: result.stderr, calls: existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [] };
};

describe('Starter: npm run deploy / npm run remove', () => {
  it('deploys a stage, then prints its outputs', () => {
    // Act
    const plan = planFor('deploy', ['--stage', 'dev', '--region', 'eu-west-1']);
    // Assess
    expect(plan.commands).toEqual([
      ['deploy', '--stage', 'dev', '--region', 'eu-west-1'],
      ['info', '--stage', 'dev', '--region', 'eu-west-1', '--verbose'],
    ]);
  });

  it.each(['deploy', 'remove'] as const)('refuses to %s prod without --yes', (action) => {
    expect(() => planFor(action, ['--stage', 'prod'])).toThrow(RefusedError);
    expect(planFor(action, ['--stage', 'prod', '--yes']).stage).toBe('prod');
  });

  it('refuses the local stage and malformed stage names', () => {
    expect(() => planFor('deploy', ['--stage', 'local'])).toThrow('npm start');
    expect(() => planFor('deploy', ['--stage', 'Prod_1'])).toThrow('1 to 8 lowercase letters or digits');
    expect(() => planFor('deploy', [])).toThrow('usage');
  });

  it('never calls osls when it refuses', () => {
    // Act
    const result = runWrapper(['deploy', '--stage', 'prod']);
    // Assess
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('without --yes');
    expect(result.calls).toEqual([]);
  });

  it('runs osls deploy then osls info for an allowed stage', () => {
    // Act
    const result = runWrapper(['deploy', '--stage', 'dev']);
    // Assess
    expect(result.status).toBe(0);
    expect(result.calls).toEqual(['deploy --stage dev', 'info --stage dev --verbose']);
  });

  it('removes prod only with --yes', () => {
    expect(runWrapper(['remove', '--stage', 'prod', '--yes']).calls).toEqual(['remove --stage prod']);
  });
});
