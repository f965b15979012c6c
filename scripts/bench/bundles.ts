// npm run bench (part 1): per function, the bundle's size and its module init time.
// Bundles: `osls package --stage dev` (serverless-esbuild: ESM, minified, @aws-sdk/* and @smithy/* external as the
// Lambda runtime provides them). Init time: a fresh Node process imports the bundle and reports how long the import
// took (what a cold start pays before the handler runs), median of RUNS; an empty module is measured the same way in
// the same run as the baseline, so the figure that matters is the difference.
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const RUNS = Number(process.env.BENCH_RUNS ?? 10);
const AIM_KB = 100;
const AIM_INIT_MS = 30;
const root = resolve(import.meta.dirname, '../..');
const buildDir = join(root, '.esbuild/.build/functions');

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

/** Milliseconds a fresh Node process spends importing `file` (measured inside that process). */
const importMs = (file: string): number => {
  const probe = `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); console.log(performance.now() - t);`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', probe], {
    cwd: root,
    env: { ...process.env, AWS_REGION: 'us-east-1', POWERTOOLS_LOG_LEVEL: 'SILENT' },
    encoding: 'utf8',
  });
  return Number(out.trim().split('\n').pop());
};

const main = (): void => {
  if (!process.argv.includes('--no-package')) {
    process.stdout.write('Packaging (osls package --stage dev)...\n');
    execFileSync(join(root, 'node_modules/.bin/osls'), ['package', '--stage', 'dev'], { cwd: root, stdio: 'ignore' });
  }
  const empty = join(mkdtempSync(join(tmpdir(), 'bench-')), 'empty.mjs');
  writeFileSync(empty, 'export {};\n');
  const baseline = median(Array.from({ length: RUNS }, () => importMs(empty)));
  const rows = readdirSync(buildDir)
    .filter((file) => file.endsWith('.mjs'))
    .sort()
    .map((file) => {
      const path = join(buildDir, file);
      const kb = statSync(path).size / 1024;
      const init = median(Array.from({ length: RUNS }, () => importMs(path)));
      return { fn: file.replace(/\.mjs$/, ''), kb, init };
    });
  const flag = (over: boolean): string => (over ? '  <-- over aim' : '');
  process.stdout.write(`\nNode ${process.version}, ${RUNS} fresh processes per bundle, median; empty-module baseline ${baseline.toFixed(2)} ms\n\n`);
  process.stdout.write(`${'function'.padEnd(20)}${'bundle KB'.padStart(10)}${'init ms'.padStart(10)}${'minus baseline'.padStart(16)}\n`);
  for (const { fn, kb, init } of rows) {
    process.stdout.write(
      `${fn.padEnd(20)}${kb.toFixed(1).padStart(10)}${init.toFixed(2).padStart(10)}${(init - baseline).toFixed(2).padStart(16)}${flag(kb > AIM_KB || init > AIM_INIT_MS)}\n`,
    );
  }
  process.stdout.write(`\nAims: bundle <= ${AIM_KB} KB, init <= ${AIM_INIT_MS} ms.\n`);
};

main();
