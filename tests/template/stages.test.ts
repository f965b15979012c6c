/**
 * Rules on a stage's params, checked on what osls resolves (`osls print`, offline: no AWS call, no build).
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const REPO_ROOT = resolve(import.meta.dirname, '../..');
const OSLS = resolve(REPO_ROOT, 'node_modules/.bin/osls');

/** `osls print` for a stage, without AWS credentials; resolves with the exit code and the output. */
const print = async (...args: string[]): Promise<{ code: number; output: string }> => {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_')));
  try {
    const { stdout, stderr } = await promisify(execFile)(OSLS, ['print', ...args], { cwd: REPO_ROOT, env, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, output: `${stdout}${stderr}` };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : 1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
};

describe('Stage params', () => {
  // The poison trigger (customerId `poison-...`) is chosen by a customer: fault injection must never reach prod.
  it("refuses the faults param on stage prod: resolving the service (package, deploy, print) fails naming params.faults", { timeout: 60_000 }, async () => {
    // Act
    const [refused, prod, dev] = await Promise.all([
      print('--stage', 'prod', '--param=faults={"chargeOrder":{"poison":true}}'),
      print('--stage', 'prod'),
      print('--stage', 'dev', '--param=faults={"*":{"latencyMs":5}}'),
    ]);

    // Assess
    expect(refused.code, refused.output).not.toBe(0);
    expect(refused.output).toContain("params.faults must be '' on stage prod");
    expect(prod.code, prod.output).toBe(0);
    expect(prod.output).toMatch(/FAULTS: ''/);
    expect(dev.code, dev.output).toBe(0);
    expect(dev.output).toContain(`FAULTS: '{"*":{"latencyMs":5}}'`);
  });

  it('refuses a partnerAccountId that is not 12 digits: resolving the service fails naming params.partnerAccountId', { timeout: 60_000 }, async () => {
    // Act
    const [refused, accepted] = await Promise.all([print('--stage', 'dev', '--param=partnerAccountId=12345'), print('--stage', 'dev', '--param=partnerAccountId=210987654321')]);

    // Assess
    expect(refused.code, refused.output).not.toBe(0);
    expect(refused.output).toContain("params.partnerAccountId must be '' or a 12-digit AWS account id");
    expect(accepted.code, accepted.output).toBe(0);
    expect(accepted.output).toContain('arn:${AWS::Partition}:iam::210987654321:root');
  });
});

// slice-begin:analytics
describe('Stage params: the order stream', () => {
  // Each bad value fails packaging naming the param (scripts/template/stream-params.cjs), before CloudFormation sees it.
  it.each([
    ['streamMode=fast', 'params.streamMode must be PROVISIONED or ON_DEMAND', '"fast"'],
    ['streamRetentionHours=23', 'params.streamRetentionHours must be a whole number from 24 to 8760', '"23"'],
    ['streamRetentionHours=8761', 'params.streamRetentionHours must be a whole number from 24 to 8760', '"8761"'],
    ['streamRetentionHours=48.5', 'params.streamRetentionHours must be a whole number from 24 to 8760', '"48.5"'],
    ['streamShards=0', 'params.streamShards must be a whole number from 1 to 20000', '"0"'],
  ])('refuses --param=%s, naming the param, its bounds and the value', { timeout: 60_000 }, async (param, message, got) => {
    // Act
    const { code, output } = await print('--stage', 'dev', `--param=${param}`);

    // Assess
    expect(code, output).not.toBe(0);
    expect(output).toContain(message);
    expect(output).toContain(`got ${got}`);
  });

  it('an ON_DEMAND stream leaves ShardCount out through its condition; retention up to 8,760 h is accepted', { timeout: 60_000 }, async () => {
    // Act
    const { code, output } = await print('--stage', 'dev', '--param=streamMode=on_demand', '--param=streamRetentionHours=8760', '--format', 'json');

    // Assess
    expect(code, output).toBe(0);
    // osls prints `resources` merged into one object ({ Resources, Conditions, Outputs }).
    const config = JSON.parse(output.slice(output.indexOf('{'))) as { resources: { Resources: Record<string, { Properties?: Record<string, unknown> }>; Conditions: Record<string, unknown> } };
    const stream = config.resources.Resources.OrderStream?.Properties;
    const conditions = config.resources.Conditions;
    expect(stream?.StreamModeDetails).toEqual({ StreamMode: 'ON_DEMAND' });
    expect(stream?.RetentionPeriodHours).toBe(8760);
    expect(stream?.ShardCount).toEqual({ 'Fn::If': ['OrderStreamOnDemand', { Ref: 'AWS::NoValue' }, 1] });
    expect(conditions.OrderStreamOnDemand).toEqual({ 'Fn::Equals': ['ON_DEMAND', 'ON_DEMAND'] });
  });
});
// slice-end:analytics
