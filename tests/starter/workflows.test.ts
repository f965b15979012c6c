import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

// @action-validator/core checks a workflow against GitHub's published workflow schema (SchemaStore).
const { validateWorkflow } = createRequire(import.meta.url)('@action-validator/core') as {
  validateWorkflow: (source: string) => { errors: unknown[] };
};

const dir = resolve(import.meta.dirname, '../../.github/workflows');
const workflows = readdirSync(dir).filter((file) => file.endsWith('.yml'));
const read = (file: string): string => readFileSync(join(dir, file), 'utf8');

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, string>;
}

describe('Starter: GitHub Actions workflows', () => {
  it('ships a CI and a deploy workflow', () => {
    expect(workflows).toEqual(expect.arrayContaining(['ci.yml', 'deploy.yml']));
  });

  it.each(workflows)('%s is a valid workflow', (file) => {
    expect(validateWorkflow(read(file)).errors).toEqual([]);
  });

  it('the validator does reject a broken workflow', () => {
    expect(validateWorkflow('on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    stepz: []\n').errors).not.toEqual([]);
  });

  it('CI runs lint and tests on pull requests', () => {
    const ci = parse(read('ci.yml')) as { on: Record<string, unknown>; jobs: Record<string, { steps: Step[] }> };
    const runs = Object.values(ci.jobs).flatMap((job) => job.steps.map((step) => step.run ?? ''));
    expect(Object.keys(ci.on)).toContain('pull_request');
    expect(runs).toEqual(expect.arrayContaining(['npm ci', 'npm run lint', 'npm test']));
  });

  it('deploy uses OIDC role credentials, never long-lived keys', () => {
    // Assess
    const source = read('deploy.yml');
    const deploy = parse(source) as { permissions: Record<string, string>; jobs: Record<string, { steps: Step[] }> };
    const steps = Object.values(deploy.jobs).flatMap((job) => job.steps);
    const credentials = steps.find((step) => step.uses?.startsWith('aws-actions/configure-aws-credentials'));
    expect(deploy.permissions['id-token']).toBe('write');
    expect(credentials?.with?.['role-to-assume']).toBeDefined();
    expect(source).not.toMatch(/aws-access-key-id|aws-secret-access-key|AWS_SECRET_ACCESS_KEY/);
    expect(steps.some((step) => step.run?.includes('npm run deploy'))).toBe(true);
  });
});
