import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyRepository, run } from './copy.ts';

const nodeBin = process.execPath; // Node 24, from the project's `node` devDependency

describe('Starter: npm run init on a copy of the repository', () => {
  let copy: string;
  let init: { status: number | null; output: string };

  beforeAll(() => {
    copy = copyRepository();
    init = run(copy, nodeBin, ['scripts/starter/init.ts', '--name', 'acme-orders', '--region', 'eu-west-1']);
  }, 60_000);

  afterAll(() => {
    if (copy) rmSync(copy, { recursive: true, force: true });
  });

  it('renames the service, package and region, and prints each change', () => {
    // Assess
    expect(init.status, init.output).toBe(0);
    expect(init.output).toContain('Renamed the service to acme-orders');
    expect(init.output).toMatch(/serverless\.yml\s+service: orderflow → acme-orders/);
    const yml = readFileSync(join(copy, 'serverless.yml'), 'utf8');
    expect(yml).toMatch(/^service: acme-orders$/m);
    expect(yml).toContain("region: ${opt:region, 'eu-west-1'}");
    expect(yml).toContain('POWERTOOLS_SERVICE_NAME: acme-orders');
    expect(JSON.parse(readFileSync(join(copy, 'package.json'), 'utf8')).name).toBe('acme-orders');
    expect(JSON.parse(readFileSync(join(copy, 'package-lock.json'), 'utf8')).packages[''].name).toBe('acme-orders');
  });

  it('a second run has nothing to change', () => {
    const again = run(copy, nodeBin, ['scripts/starter/init.ts', '--name', 'acme-orders']);
    expect(again.status, again.output).toBe(0);
    expect(again.output).toContain('Nothing to change');
  });

  it('refuses a name AWS would reject, naming the rule, and changes nothing', () => {
    const before = readFileSync(join(copy, 'serverless.yml'), 'utf8');
    const refused = run(copy, nodeBin, ['scripts/starter/init.ts', '--name', 'Acme_Orders']);
    expect(refused.status).toBe(2);
    expect(refused.output).toContain('must start with a lowercase letter');
    expect(readFileSync(join(copy, 'serverless.yml'), 'utf8')).toBe(before);
  });

  it("the renamed copy packages offline: stack and resources carry the new name", () => {
    // Act
    const packaged = run(copy, join(copy, 'node_modules/.bin/osls'), ['package', '--stage', 'dev']);
    // Assess
    expect(packaged.status, packaged.output).toBe(0);
    const template = JSON.parse(readFileSync(join(copy, '.serverless/cloudformation-template-update-stack.json'), 'utf8'));
    expect(template.Resources.OrdersTable.Properties.TableName).toBe('acme-orders-dev-orders');
    expect(template.Resources.PlaceOrderLambdaFunction.Properties.FunctionName).toBe('acme-orders-dev-placeOrder');
    expect(JSON.stringify(template)).not.toContain('orderflow-dev');
  }, 120_000);

  it("the renamed copy's own template tests pass", () => {
    // Act: only what the rename can break. init rewrites serverless.yml (service, Powertools names, region),
    // package.json, package-lock.json, the deploy workflow's region and the README's title; the template tests read
    // the service as packaged from that serverless.yml. The unit tests read none of those files (their environment
    // is fixed in tests/unit/helpers/env.ts), so in the copy they would pass or fail exactly as `npm test` runs them
    // on the repository itself; running them again here cost most of this test's time.
    const tests = run(copy, nodeBin, ['node_modules/vitest/vitest.mjs', 'run', 'tests/template'], 600_000);
    // Assess
    expect(tests.status, tests.output.slice(-3000)).toBe(0);
    expect(tests.output.replace(/\x1b\[[0-9;]*m/g, '')).toMatch(/Tests\s+\d+ passed/);
  }, 600_000);
});
