import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { functionCredentials } from '../src/edge/iam-roles.ts';
import { LambdaRuntime, type FunctionConfig } from '../src/runtime/runtime.ts';
import { waitFor } from '../src/util/wait.ts';
import { FIXTURE_DIR, fixtureFunction } from './helpers/emulators.ts';

/** A function of the fixture service's handlers, 256 MB (no emulators: these handlers make no AWS call). */
const fn = (name: string, handler: string, more: Partial<FunctionConfig> = {}): FunctionConfig => fixtureFunction(name, handler, { memorySize: 256, ...more });

describe('Local cloud: functions in worker threads, like Lambda execution environments', () => {
  const logs: string[] = [];
  let runtime: LambdaRuntime | undefined;
  let dir: string;

  const start = async (functions: FunctionConfig[]): Promise<LambdaRuntime> => {
    runtime = new LambdaRuntime({ functions, region: 'us-east-1', accountId: '000000000000', endpoint: 'http://127.0.0.1:1', bundleDirs: [FIXTURE_DIR], functionsThread: true, log: (line) => logs.push(line) });
    await runtime.start();
    return runtime;
  };
  const reportsOf = (name: string): string[] => logs.filter((line) => line.startsWith(`[${name}] REPORT RequestId: `));

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'local-workers-'));
  });

  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
    logs.length = 0;
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates an environment on the first invocation (Init Duration in its REPORT line) and reuses it warm', async () => {
    // Prepare
    const cloud = await start([fn('env-a', 'handlers/env.handler', { environment: { GREETING: 'hello' } })]);

    // Act
    const cold = await cloud.invoke('env-a', {});
    const warm = await cloud.invoke('env-a', {});

    // Assess
    expect(cold).toMatchObject({ ok: true, initDurationMs: expect.any(Number), payload: { greetingAtLoad: 'hello' } });
    expect(warm.ok && warm.initDurationMs).toBeUndefined();
    expect(cloud.get('env-a').environments()).toEqual({ environments: 1, idle: 1, coldStarts: 1, waiting: 0 });
    const [coldReport, warmReport] = reportsOf('env-a');
    expect(coldReport).toMatch(new RegExp(`^\\[env-a\\] REPORT RequestId: ${cold.requestId}\\tDuration: \\d+\\.\\d{2} ms\\tBilled Duration: \\d+ ms\\tMemory Size: 256 MB\\tMax Memory Used: \\d+ MB\\tInit Duration: \\d+\\.\\d{2} ms$`));
    expect(warmReport).toMatch(new RegExp(`^\\[env-a\\] REPORT RequestId: ${warm.requestId}\\tDuration: [^\\t]+\\tBilled Duration: [^\\t]+\\tMemory Size: 256 MB\\tMax Memory Used: \\d+ MB$`));
  });

  it("gives each function a process.env of its own: its variables and credentials, and another function's writes never show", async () => {
    // Prepare
    const cloud = await start([fn('writer-a', 'handlers/envWrite.handler', { environment: { GREETING: 'from a' } }), fn('writer-b', 'handlers/envWrite.handler', { environment: { GREETING: 'from b' } })]);

    // Act
    const a1 = await cloud.invoke('writer-a', {});
    const b1 = await cloud.invoke('writer-b', {});
    const a2 = await cloud.invoke('writer-a', {});

    // Assess
    expect(a1).toMatchObject({ ok: true, payload: { before: null, greetingAtLoad: 'from a', greetingNow: 'from a', accessKey: functionCredentials('writer-a').accessKeyId } });
    expect(b1).toMatchObject({ ok: true, payload: { before: null, greetingAtLoad: 'from b', greetingNow: 'from b', accessKey: functionCredentials('writer-b').accessKeyId } });
    // A warm environment keeps what its function wrote, as on Lambda; the host's environment never sees it.
    expect(a2).toMatchObject({ ok: true, payload: { before: 'writer-a' } });
    expect(process.env.SHARED).toBeUndefined();
    expect(process.env.GREETING).toBeUndefined();
  });

  it('terminates a handler past its timeout, so its code does not run on, and replaces its environment', async () => {
    // Prepare: the same handler twice, one with a timeout shorter than its sleep.
    const cloud = await start([fn('late', 'handlers/lateWrite.handler', { timeout: 1 }), fn('patient', 'handlers/lateWrite.handler', { timeout: 5 })]);
    const lateFile = join(dir, 'late');
    const patientFile = join(dir, 'patient');

    // Act: `patient` writes 1.3 s after `late` would have.
    const [late, patient] = await Promise.all([cloud.invoke('late', { sleepMs: 1200, file: lateFile }), cloud.invoke('patient', { sleepMs: 2500, file: patientFile })]);
    const next = await cloud.invoke('late', { sleepMs: 0, file: lateFile });

    // Assess
    expect(late).toMatchObject({ ok: false, reason: 'timeout', error: { errorType: 'Sandbox.Timedout', errorMessage: expect.stringMatching(/Task timed out after 1\.00 seconds$/) } });
    expect(patient).toMatchObject({ ok: true });
    expect(existsSync(patientFile)).toBe(true);
    expect(next).toMatchObject({ ok: true, initDurationMs: expect.any(Number) });
    expect(cloud.get('late').environments()).toMatchObject({ environments: 1, coldStarts: 2 });
    expect(logs.some((line) => line.startsWith('[late] ') && line.includes(`${late.requestId} Task timed out after 1.00 seconds`))).toBe(true);
    expect(reportsOf('late')[0]).toMatch(/\tStatus: timeout$/);
  });

  it("fails an invocation past MemorySize as Lambda reports it (Runtime.OutOfMemory) and starts a new environment", async () => {
    // Prepare
    const cloud = await start([fn('hog', 'handlers/memoryHog.handler', { memorySize: 128 })]);

    // Act
    const out = await cloud.invoke('hog', { megabytes: 1024 });
    const next = await cloud.invoke('hog', { megabytes: 8 });

    // Assess
    expect(out).toMatchObject({
      ok: false,
      reason: 'error',
      error: { errorType: 'Runtime.OutOfMemory', errorMessage: `RequestId: ${out.requestId} Error: Runtime exited with error: signal: killed` },
    });
    expect(reportsOf('hog')[0]).toMatch(/\tMemory Size: 128 MB\tMax Memory Used: 128 MB\t.*\tStatus: error\tError Type: Runtime\.OutOfMemory$/);
    expect(next).toMatchObject({ ok: true, payload: { held: 8 }, initDurationMs: expect.any(Number) });
  });

  it('never runs more environments of a function than its reserved concurrency', async () => {
    // Prepare
    const cloud = await start([fn('bounded', 'handlers/slow.handler', { reservedConcurrency: 2 })]);

    // Act: five at once, two at a time; a throttled call meanwhile answers TooManyRequests.
    const five = Promise.all([1, 2, 3, 4, 5].map(() => cloud.invoke('bounded', { sleepMs: 300 })));
    const throttled = await cloud.invoke('bounded', { sleepMs: 0 }, { throttle: true });
    const results = await five;

    // Assess
    expect(results.every((result) => result.ok)).toBe(true);
    expect(results.filter((result) => result.initDurationMs !== undefined)).toHaveLength(2);
    expect(throttled).toMatchObject({ ok: false, reason: 'throttled' });
    expect(cloud.get('bounded').environments()).toEqual({ environments: 2, idle: 2, coldStarts: 2, waiting: 0 });
  });

  it('runs invocations beyond environmentsPerFunction in the warm environments, one at a time each', async () => {
    // Prepare
    runtime = new LambdaRuntime({ functions: [fn('single', 'handlers/slow.handler', { timeout: 1 })], region: 'us-east-1', accountId: '000000000000', endpoint: 'http://127.0.0.1:1', bundleDirs: [FIXTURE_DIR], log: (line) => logs.push(line), environmentsPerFunction: 1, functionsThread: true });
    await runtime.start();

    // Act: together 1.8 s, over the 1 s timeout, but each runs 0.6 s in the one environment
    const results = await Promise.all([1, 2, 3].map(() => runtime?.invoke('single', { sleepMs: 600 })));

    // Assess
    expect(results.map((result) => result?.ok)).toEqual([true, true, true]);
    expect(runtime.get('single').environments()).toEqual({ environments: 1, idle: 1, coldStarts: 1, waiting: 0 });
  });

  it('an invocation given up while it waits for an environment (the HTTP API answered 503) never runs', async () => {
    // Prepare
    runtime = new LambdaRuntime({ functions: [fn('busy', 'handlers/slow.handler')], region: 'us-east-1', accountId: '000000000000', endpoint: 'http://127.0.0.1:1', bundleDirs: [FIXTURE_DIR], log: (line) => logs.push(line), environmentsPerFunction: 1, functionsThread: true });
    await runtime.start();
    const cloud = runtime;
    const running = cloud.invoke('busy', { sleepMs: 500 });
    const gaveUp = new AbortController();
    const waiting = cloud.invoke('busy', { sleepMs: 1 }, { signal: gaveUp.signal }).then(() => 'ran', () => 'gave up');
    await waitFor(() => cloud.get('busy').environments()?.waiting === 1, { what: 'the second invocation waiting for the environment', timeoutMs: 10_000 });

    // Act
    gaveUp.abort();

    // Assess
    expect(await waiting).toBe('gave up');
    expect(await running).toMatchObject({ ok: true });
    const next = await cloud.invoke('busy', { sleepMs: 2 });
    expect(next).toMatchObject({ ok: true });
    expect(logs.filter((line) => line.startsWith('[busy] FIXTURE')).map((line) => JSON.parse(line.slice('[busy] FIXTURE '.length)).item.sleptMs)).toEqual([500, 2]);
  });

  it('a changed environment variable reaches the next invocation in a new environment, as UpdateFunctionConfiguration does', async () => {
    // Prepare
    const cloud = await start([fn('env-c', 'handlers/env.handler', { environment: { GREETING: 'before' } })]);
    await cloud.invoke('env-c', {});

    // Act
    cloud.get('env-c').updateEnvironment({ GREETING: 'after' });
    const after = await cloud.invoke('env-c', {});

    // Assess
    expect(after).toMatchObject({ ok: true, payload: { greetingAtLoad: 'after', greetingNow: 'after' }, initDurationMs: expect.any(Number) });
    expect(cloud.get('env-c').environments()).toMatchObject({ environments: 1, coldStarts: 2 });
  });

  it('functionsThread: false imports the handlers into this thread (for a debugger) and runs them there', async () => {
    // Prepare
    runtime = new LambdaRuntime({
      functions: [fn('inline', 'handlers/slow.handler')],
      region: 'us-east-1',
      accountId: '000000000000',
      endpoint: 'http://127.0.0.1:1',
      bundleDirs: [FIXTURE_DIR],
      log: (line) => logs.push(line),
      functionsThread: false,
    });
    await runtime.start();

    // Act
    const result = await runtime.invoke('inline', { sleepMs: 1 });

    // Assess
    expect(result).toMatchObject({ ok: true, payload: { slept: 1 } });
    expect(runtime.get('inline').environments()).toBeUndefined();
    expect(runtime.get('inline').handler).toBeTypeOf('function');
  });
});
