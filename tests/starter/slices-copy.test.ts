/**
 * `npm run init -- --without <slice>` on a copy of the repository, for each slice: init succeeds and names nothing
 * it left behind, what remains compiles (tsc), and the template compiles (osls package), validates against the
 * CloudFormation specification and holds none of the slice's resources or functions.
 *
 * Each slice costs a tsc and an `osls package` of the copy (~1-2 min on this 2-core machine), so `npm test` takes
 * one slice out (ORDERFLOW_SLICES, default the first of slices.yml) and `npm run test:slices` (ORDERFLOW_SLICES=all)
 * takes out each slice, then all of them together. A checkout with no slice left has nothing to take out.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSlices, staleReferences } from '../../scripts/starter/slices.ts';
import { copyRepository, repositoryRoot, run } from './copy.ts';

const nodeBin = process.execPath; // Node 24, from the project's `node` devDependency
const declared = readSlices(repositoryRoot);
const requested = process.env.ORDERFLOW_SLICES ?? declared[0]?.name ?? '';
const cases: string[][] =
  requested === 'all' ? [...declared.map((slice) => [slice.name]), ...(declared.length > 1 ? [declared.map((slice) => slice.name)] : [])] : [requested.split(',').map((name) => name.trim()).filter(Boolean)];

describe.skipIf(declared.length === 0)('Starter: slices.yml declares slices to take out', () => {
  it('names them', () => {
    expect(declared.length).toBeGreaterThan(0);
  });
});

describe.each(cases.filter((names) => names.length > 0).map((names) => [names.join(','), names] as const))('Starter: npm run init -- --without %s, on a copy of the repository', (_label, names) => {
  const slices = declared.filter((slice) => names.includes(slice.name));
  let copy: string;
  let init: { status: number | null; output: string };

  beforeAll(() => {
    copy = copyRepository('orderflow-slices-');
    init = run(copy, nodeBin, ['scripts/starter/init.ts', ...names.flatMap((name) => ['--without', name])]);
  }, 120_000);

  afterAll(() => {
    if (copy) rmSync(copy, { recursive: true, force: true });
  });

  it('takes the slices out and leaves no file naming a function, resource, param or file they held', () => {
    // Assess
    expect(init.status, init.output).toBe(0);
    expect(init.output).toContain(`Took out ${names.join(', ')}`);
    const removed = slices.flatMap((slice) => [...slice.functions, ...slice.resources, ...slice.names]);
    expect(staleReferences(copy, removed)).toEqual([]);
    expect(init.output).not.toContain('still name');
  });

  it('what remains compiles (tsc)', () => {
    // Act
    const tsc = run(copy, nodeBin, ['node_modules/typescript/bin/tsc', '--noEmit'], 300_000);

    // Assess
    expect(tsc.status, tsc.output.slice(-3000)).toBe(0);
  }, 300_000);

  it('the template compiles, validates, and holds none of their resources or functions', () => {
    // Act
    const packaged = run(copy, join(copy, 'node_modules/.bin/osls'), ['package', '--stage', 'local'], 240_000);
    expect(packaged.status, packaged.output.slice(-3000)).toBe(0);
    const validated = run(copy, nodeBin, ['scripts/template/validate.ts'], 120_000);

    // Assess
    expect(validated.status, validated.output.slice(-3000)).toBe(0);
    const template = JSON.parse(readFileSync(join(copy, '.serverless/cloudformation-template-update-stack.json'), 'utf8')) as { Resources: Record<string, unknown> };
    const ids = Object.keys(template.Resources);
    for (const slice of slices) {
      for (const id of slice.resources) expect(ids).not.toContain(id);
      for (const fn of slice.functions) expect(ids.filter((id) => id.toLowerCase().startsWith(fn.toLowerCase()))).toEqual([]);
    }
    expect(ids.some((id) => id.endsWith('LambdaFunction'))).toBe(true);
  }, 300_000);
});
