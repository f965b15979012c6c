// npm run bench:local: what `npm start` costs and how fast an order goes through it.
//
//   1. ready time: from spawning `node scripts/local/start.ts` to its "local cloud ready" banner on stdout,
//      cold (no .serverless/.esbuild, fresh data directory: includes `osls package --stage local`) and warm
//      (package up to date, the previous run's state present), median of RUNS each;
//   2. idle RSS of the local cloud process (VmRSS in /proc/<pid>/status), IDLE_SECONDS after the banner;
//   3. order-to-COMPLETED latency under an open-loop load: RATE orders/s for SECONDS s (each POST fired on its
//      schedule, whatever the earlier ones are doing). Per order, from the 202 to:
//        - "derived": the Orders item's completedAt (written by recordOrderEvent in the very UpdateItem that stores
//          COMPLETED, right after the step write that makes GET derive COMPLETED; same machine, same clock), for
//          every order: no polling load on the system under test;
//        - "polled": the first GET /orders/{id} answering COMPLETED, polling every POLL_MS, for one order in
//          POLL_EVERY (the polling is itself load: 40 GETs/s per order in flight).
//
// Everything runs in a copy of the project under the system temp directory (serverless.yml, package.json,
// resources/, functions/, lib/ copied; scripts/ and node_modules/ linked), so packaging never touches this
// checkout's .serverless/ or .esbuild/ (other local clouds use them) and an edit made meanwhile does not turn a
// warm start into a cold one. Options (env): BENCH_RUNS (5), BENCH_RATE (10), BENCH_SECONDS (30), BENCH_POLL_MS
// (25), BENCH_POLL_EVERY (5), BENCH_IDLE_SECONDS (10); flags: --skip-cold, --cpu-prof (profiles the local cloud
// during the load, into <copy>/profiles), --keep (keeps the copy).
//
// What-ifs, to measure a proposed change before making it (each applies to the copy only, and is printed):
//   --what-if-window=<s>      every `maximumBatchingWindow:` in the copy's serverless.yml set to <s> seconds;
//   --what-if-sqlite-normal   fauxqs's SQLite in `synchronous = NORMAL` (WAL: survives kill -9, not a power cut);
//   --what-if-wake-one        fauxqs wakes one long poll per arrival (not all, which then answer empty).
// The last two are preloaded into the local cloud process with --import.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { mintLocalToken } from 'local-cloud';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const RATE = Number(process.env.BENCH_RATE ?? 10);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const POLL_MS = Number(process.env.BENCH_POLL_MS ?? 25);
const POLL_EVERY = Number(process.env.BENCH_POLL_EVERY ?? 5);
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 10);
const WARMUP_ORDERS = 5;
/** Aims from the issue "Local cloud: npm start runs the compiled template on embedded emulators, end to end". */
const AIMS = { warmReadyMs: 10_000, p50Ms: 100, p99Ms: 300 };

const root = resolve(import.meta.dirname, '../..');
const args = new Set(process.argv.slice(2));
const whatIfWindow = process.argv.find((arg) => arg.startsWith('--what-if-window='))?.split('=')[1];
const whatIfs = [
  ...(whatIfWindow === undefined ? [] : [`maximumBatchingWindow: ${whatIfWindow}`]),
  ...(args.has('--what-if-sqlite-normal') ? ['fauxqs SQLite synchronous=NORMAL'] : []),
  ...(args.has('--what-if-wake-one') ? ['fauxqs wakes one long poll per arrival'] : []),
];

/** Preloaded into the local cloud for --what-if-sqlite-normal and --what-if-wake-one (fauxqs 2.4.1 internals). */
const PRELOAD = `
if (${args.has('--what-if-sqlite-normal')}) {
  const { DatabaseSync } = await import('node:sqlite');
  const exec = DatabaseSync.prototype.exec;
  DatabaseSync.prototype.exec = function (sql) {
    const result = exec.call(this, sql);
    if (/journal_mode\\s*=\\s*WAL/i.test(sql)) exec.call(this, 'PRAGMA synchronous = NORMAL');
    return result;
  };
}
if (${args.has('--what-if-wake-one')}) {
  const { SqsQueue } = await import(new URL('./sqs/sqsStore.js', import.meta.resolve('fauxqs')).href);
  SqsQueue.prototype.notifyWaiters = function notifyOne() {
    const waiter = this.pollWaiters.shift();
    if (!waiter) return;
    clearTimeout(waiter.timer);
    waiter.resolve();
    if (this.pollWaiters.length > 0 && !this.recheckScheduled) {
      this.recheckScheduled = true;
      setImmediate(() => {
        this.recheckScheduled = false;
        if (this.isFifo() ? this.hasAvailableFifoMessages() : this.messages.length > 0) this.notifyWaiters();
      });
    }
  };
}
`;

interface Started {
  child: ChildProcess;
  readyMs: number;
  /** What the banner itself says (`local cloud ready in N ms`): startLocalCloud's own clock. */
  reportedMs: number;
  output: string[];
  apiUrl: string;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

/** Nearest-rank percentile. */
const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
};

const freePort = (): Promise<number> =>
  new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => done(typeof address === 'object' && address ? address.port : 0));
    });
  });

/** A copy of what `osls package` reads, and links to the code and dependencies that never change during a run. */
function makeProjectCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'orderflow-bench-local-'));
  for (const file of ['serverless.yml', 'package.json', 'package-lock.json', 'tsconfig.json']) {
    if (existsSync(join(root, file))) cpSync(join(root, file), join(dir, file));
  }
  for (const folder of ['resources', 'functions', 'lib']) cpSync(join(root, folder), join(dir, folder), { recursive: true });
  for (const link of ['node_modules', 'scripts']) symlinkSync(join(root, link), join(dir, link), 'dir');
  if (whatIfWindow !== undefined) {
    const yml = join(dir, 'serverless.yml');
    writeFileSync(yml, readFileSync(yml, 'utf8').replace(/maximumBatchingWindow: \d+/g, `maximumBatchingWindow: ${Number(whatIfWindow)}`));
  }
  writeFileSync(join(dir, 'what-if-preload.mjs'), PRELOAD);
  return dir;
}

/** Node flags for the local cloud process: the what-if preload, when a what-if needs it. */
const nodeFlags = (copy: string): string[] => (args.has('--what-if-sqlite-normal') || args.has('--what-if-wake-one') ? ['--import', join(copy, 'what-if-preload.mjs')] : []);

/** The `authorization` header of every API request (a token of the running cloud's issuer, set at its start). */
const api = { authorization: '' };

/** Spawns the local cloud as `npm start` runs it and resolves at its ready banner. */
async function startLocalCloud(projectDir: string, dataDir: string, extraNodeArgs: string[] = []): Promise<Started> {
  const [edgePort, apiPort] = [await freePort(), await freePort()];
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, [...extraNodeArgs, 'scripts/local/start.ts', '--data-dir', dataDir], {
    cwd: projectDir,
    // No dashboard: it would take its fixed default port (4567), which a running `npm start` may hold.
    env: { ...process.env, EDGE_PORT: String(edgePort), PORT: String(apiPort), DASHBOARD_PORT: 'off' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  let exited: number | null | undefined;
  child.on('exit', (code) => (exited = code));
  return new Promise((done, fail) => {
    let pending = '';
    let settled = false;
    const timer = setInterval(() => {
      if (settled || (exited === undefined && performance.now() - spawnedAt < 300_000)) return;
      settled = true;
      clearInterval(timer);
      child.kill('SIGKILL');
      fail(new Error(`start.ts ${exited === undefined ? 'not ready after 300 s' : `exited with ${exited}`}:\n${output.slice(-30).join('\n')}`));
    }, 100);
    const onData = (chunk: Buffer): void => {
      const lines = (pending + chunk.toString('utf8')).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (output.length < 2000 && !line.includes('No application metrics')) output.push(line);
        const ready = /^local cloud ready in (\d+) ms/.exec(line);
        if (ready && !settled) {
          settled = true;
          clearInterval(timer);
          // Every API request carries a token of this cloud's issuer (its key is in the data directory).
          void mintLocalToken(dataDir, { customer: 'bench', expiresInSeconds: 12 * 60 * 60 }).then(
            (token) => {
              api.authorization = `Bearer ${token}`;
              done({ child, readyMs: performance.now() - spawnedAt, reportedMs: Number(ready[1]), output, apiUrl: `http://127.0.0.1:${apiPort}` });
            },
            fail,
          );
        }
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((done) => child.once('exit', done));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(10_000)]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await exited;
}

function rssKiB(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: field('VmRSS'), hwm: field('VmHWM') };
}

/** User + system CPU time of a process so far, from /proc/<pid>/stat (clock ticks: 100 per second on Linux). */
function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').pop()?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

const ADDRESS = { name: 'Ada', line1: '1 Main St', city: 'Leeds', postalCode: 'LS1 1AA', country: 'GB' };
const orderBody = (i: number): string =>
  JSON.stringify({ customerId: `bench-${i}`, items: [{ sku: 'BOOK-1', quantity: 1 + (i % 3), unitPriceCents: 1299 }], fulfillment: 'physical', shippingAddress: ADDRESS });

interface OrderSample {
  sentAt: number;
  acceptedAt?: number;
  orderId?: string;
  status?: number;
  polledCompletedAt?: number;
  derivedMs?: number;
}

async function getOrder(apiUrl: string, orderId: string): Promise<Record<string, unknown> | undefined> {
  const response = await fetch(`${apiUrl}/orders/${orderId}`, { headers: { authorization: api.authorization } });
  return response.status === 200 ? ((await response.json()) as Record<string, unknown>) : (await response.arrayBuffer(), undefined);
}

async function pollUntilCompleted(apiUrl: string, sample: OrderSample, deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    const order = await getOrder(apiUrl, sample.orderId as string).catch(() => undefined);
    if (order?.status === 'COMPLETED') {
      sample.polledCompletedAt = Date.now();
      return;
    }
    await sleep(POLL_MS);
  }
}

async function openLoop(apiUrl: string): Promise<{ samples: OrderSample[]; lateStarts: number }> {
  const total = Math.round(RATE * SECONDS);
  const interval = 1000 / RATE;
  const samples: OrderSample[] = [];
  const polls: Promise<void>[] = [];
  const startAt = Date.now() + 200;
  let lateStarts = 0;
  const sends: Promise<void>[] = [];
  for (let i = 0; i < total; i += 1) {
    const due = startAt + i * interval;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    else if (wait < -interval) lateStarts += 1;
    const sample: OrderSample = { sentAt: Date.now() };
    samples.push(sample);
    sends.push(
      fetch(`${apiUrl}/orders`, { method: 'POST', headers: { authorization: api.authorization, 'content-type': 'application/json' }, body: orderBody(i) })
        .then(async (response) => {
          sample.acceptedAt = Date.now();
          sample.status = response.status;
          const body = (await response.json()) as { orderId?: string };
          if (response.status === 202 && body.orderId) {
            sample.orderId = body.orderId;
            if (i % POLL_EVERY === 0) polls.push(pollUntilCompleted(apiUrl, sample, Date.now() + 60_000));
          }
        })
        .catch(() => {
          sample.status = 0;
        }),
    );
  }
  await Promise.all(sends);
  await Promise.all(polls);
  // Derived latency: every order's completedAt, read once the pipeline is done with it.
  const deadline = Date.now() + 60_000;
  for (const sample of samples.filter((s) => s.orderId)) {
    for (;;) {
      const order = await getOrder(apiUrl, sample.orderId as string).catch(() => undefined);
      if (typeof order?.completedAt === 'string') {
        sample.derivedMs = Date.parse(order.completedAt) - (sample.acceptedAt as number);
        break;
      }
      if (Date.now() > deadline) break;
      await sleep(100);
    }
  }
  return { samples, lateStarts };
}

const fmt = (ms: number): string => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);

async function main(): Promise<void> {
  const copy = makeProjectCopy();
  const log = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  log(`project copy: ${copy}`);
  const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');
  const loadAtStart = load();
  const cold: Started[] = [];
  const warm: Started[] = [];
  const dataDir = join(copy, '.local-bench');
  try {
    if (!args.has('--skip-cold')) {
      for (let run = 1; run <= RUNS; run += 1) {
        rmSync(join(copy, '.serverless'), { recursive: true, force: true });
        rmSync(join(copy, '.esbuild'), { recursive: true, force: true });
        rmSync(dataDir, { recursive: true, force: true });
        const started = await startLocalCloud(copy, dataDir, nodeFlags(copy));
        await stop(started.child);
        if (!started.output.some((line) => line.startsWith('packaging: osls package'))) throw new Error('a cold start did not package');
        cold.push(started);
        log(`cold ${run}/${RUNS}: ${fmt(started.readyMs)} (banner says ${started.reportedMs} ms)`);
      }
    }
    let keep: Started | undefined;
    // A start that had to package (--skip-cold: the copy has no build yet) is not a warm start: one more run.
    for (let attempt = 1; warm.length < RUNS && attempt <= RUNS + 1; attempt += 1) {
      const started = await startLocalCloud(copy, dataDir, nodeFlags(copy));
      const packaged = started.output.some((line) => line.startsWith('packaging: osls package'));
      if (!packaged) warm.push(started);
      log(`${packaged ? 'packaging start (not counted)' : `warm ${warm.length}/${RUNS}`}: ${fmt(started.readyMs)} (banner says ${started.reportedMs} ms)`);
      if (warm.length === RUNS) keep = started;
      else await stop(started.child);
    }
    if (!keep) throw new Error('no warm run');

    // Idle RSS: the last warm start, untouched for IDLE_SECONDS.
    await sleep(IDLE_SECONDS * 1000);
    const idle = rssKiB(keep.child.pid as number);
    log(`idle RSS after ${IDLE_SECONDS} s: ${(idle.rss / 1024).toFixed(0)} MiB (peak so far ${(idle.hwm / 1024).toFixed(0)} MiB)`);

    let latencyCloud = keep;
    if (args.has('--cpu-prof')) {
      await stop(keep.child);
      const profiles = join(copy, 'profiles');
      mkdirSync(profiles, { recursive: true });
      latencyCloud = await startLocalCloud(copy, dataDir, [...nodeFlags(copy), '--cpu-prof', `--cpu-prof-dir=${profiles}`]);
      log(`profiling the local cloud into ${profiles}`);
    }

    // Warm-up: a few orders through every function once (first invocations create SDK clients, open sockets).
    const warmup = await Promise.all(
      Array.from({ length: WARMUP_ORDERS }, async (_, i) => {
        const response = await fetch(`${latencyCloud.apiUrl}/orders`, { method: 'POST', headers: { authorization: api.authorization, 'content-type': 'application/json' }, body: orderBody(10_000 + i) });
        return ((await response.json()) as { orderId: string }).orderId;
      }),
    );
    for (const id of warmup) {
      const deadline = Date.now() + 30_000;
      while ((await getOrder(latencyCloud.apiUrl, id))?.status !== 'COMPLETED' && Date.now() < deadline) await sleep(50);
    }

    log(`open loop: ${RATE} orders/s for ${SECONDS} s...`);
    const loadBefore = load();
    const rssBefore = rssKiB(latencyCloud.child.pid as number);
    const cpuBefore = cpuMsOf(latencyCloud.child.pid as number);
    const loadStartedAt = Date.now();
    const { samples, lateStarts } = await openLoop(latencyCloud.apiUrl);
    const loadEndedAt = Date.now();
    // Includes serving the derived-latency reads (one GET per order) and the sampled polling.
    const cpuMs = cpuMsOf(latencyCloud.child.pid as number) - cpuBefore;
    const rssAfter = rssKiB(latencyCloud.child.pid as number);
    const loadAfter = load();
    await stop(latencyCloud.child);

    const accepted = samples.filter((s) => s.status === 202);
    const derived = accepted.filter((s) => s.derivedMs !== undefined).map((s) => s.derivedMs as number);
    const polled = accepted.filter((s) => s.polledCompletedAt !== undefined).map((s) => (s.polledCompletedAt as number) - (s.acceptedAt as number));
    const postMs = accepted.map((s) => (s.acceptedAt as number) - s.sentAt);
    const miss = (value: number, aim: number): string => (value <= aim ? 'met' : 'MISSED');

    const rows: [string, string, string, string][] = [];
    if (cold.length > 0) rows.push(['ready, cold (packaging + fresh state), median', fmt(median(cold.map((s) => s.readyMs))), '-', `${cold.length} runs: ${cold.map((s) => fmt(s.readyMs)).join(', ')}`]);
    rows.push([
      'ready, warm (package skipped, state present), median',
      fmt(median(warm.map((s) => s.readyMs))),
      `<= ${fmt(AIMS.warmReadyMs)}: ${miss(median(warm.map((s) => s.readyMs)), AIMS.warmReadyMs)}`,
      `${warm.length} runs: ${warm.map((s) => fmt(s.readyMs)).join(', ')}; banner's own clock ${fmt(median(warm.map((s) => s.reportedMs)))}`,
    ]);
    rows.push(['idle RSS of the local cloud process', `${(idle.rss / 1024).toFixed(0)} MiB`, '-', `VmRSS ${IDLE_SECONDS} s after the banner`]);
    rows.push([
      `order → COMPLETED p50, derived (${derived.length} orders)`,
      fmt(percentile(derived, 50)),
      `<= ${AIMS.p50Ms} ms: ${miss(percentile(derived, 50), AIMS.p50Ms)}`,
      'completedAt − 202 received',
    ]);
    rows.push([`order → COMPLETED p99, derived`, fmt(percentile(derived, 99)), `<= ${AIMS.p99Ms} ms: ${miss(percentile(derived, 99), AIMS.p99Ms)}`, `max ${fmt(Math.max(...derived))}`]);
    if (polled.length > 0) {
      rows.push([`order → COMPLETED p50 / p99, polled (${polled.length} orders)`, `${fmt(percentile(polled, 50))} / ${fmt(percentile(polled, 99))}`, '-', `first GET showing COMPLETED, every ${POLL_MS} ms`]);
    }
    const statuses = new Map<number, number>();
    for (const sample of samples) statuses.set(sample.status ?? 0, (statuses.get(sample.status ?? 0) ?? 0) + 1);
    const answers = [...statuses].sort((a, b) => a[0] - b[0]).map(([status, n]) => `${n} × ${status === 0 ? 'no answer' : status}`).join(', ');
    rows.push(['POST /orders → 202 p50 / p99', `${fmt(percentile(postMs, 50))} / ${fmt(percentile(postMs, 99))}`, '-', `answers: ${answers}; ${lateStarts} sends late by > 1 interval`]);
    rows.push(['CPU of the local cloud during the load', `${Math.round(cpuMs / Math.max(1, accepted.length))} ms/order`, '-', `${(cpuMs / 1000).toFixed(1)} s CPU (user+sys, /proc/<pid>/stat) over ${((loadEndedAt - loadStartedAt) / 1000).toFixed(1)} s from first POST to last completedAt read`]);
    rows.push(['RSS during the load (before → after)', `${(rssBefore.rss / 1024).toFixed(0)} → ${(rssAfter.rss / 1024).toFixed(0)} MiB`, '-', `peak ${(rssAfter.hwm / 1024).toFixed(0)} MiB`]);

    const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c]?.length ?? 0)));
    log('');
    log(`Local cloud figures — ${new Date().toISOString()}, Node ${process.version}, ${cpus().length} cores, load average ${loadAtStart} at start, ${loadBefore} → ${loadAfter} around the load`);
    if (whatIfs.length > 0) log(`WHAT-IF run (not the project as it is): ${whatIfs.join('; ')}`);
    log('');
    for (const row of [['figure', 'value', 'aim', 'how'] as [string, string, string, string], ...rows]) {
      log(`  ${row[0].padEnd(widths[0] as number)}  ${row[1].padStart(widths[1] as number)}  ${row[2].padEnd(widths[2] as number)}  ${row[3]}`);
    }
    log('');
    log('How: ready = spawn of `node scripts/local/start.ts --data-dir <dir>` (free EDGE_PORT/PORT) to its "local cloud ready"');
    log(`line; cold removes .serverless/, .esbuild/ and the data directory first. Load: ${RATE} POST/s open loop for ${SECONDS} s after`);
    log(`${WARMUP_ORDERS} warm-up orders, physical orders (charge and ship); "derived" reads each order's completedAt, "polled" GETs one`);
    log(`order in ${POLL_EVERY} every ${POLL_MS} ms. The client runs on the same machine as the local cloud.`);
    if (args.has('--cpu-prof')) log(`CPU profile(s): ${readdirSync(join(copy, 'profiles')).map((f) => join(copy, 'profiles', f)).join(', ')}`);
  } finally {
    if (!args.has('--cpu-prof') && !args.has('--keep')) rmSync(copy, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:local failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
