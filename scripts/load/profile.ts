/**
 * `node scripts/load/profile.ts <file.cpuprofile> [--top N]`: where a profiled run spent its CPU.
 *
 * Each sample is charged to the nearest frame on its stack that belongs to a package or a project
 * file (walking from the leaf to the root), so Node's own HTTP, stream and crypto code is charged to
 * whoever called it: "fauxqs" includes the HTTP parsing fauxqs asked for. Samples with no such frame
 * are Node's own (idle, GC, timers, the HTTP parser between requests).
 *
 * @example
 * npx node --cpu-prof --cpu-prof-dir=reports/profiles scripts/load/run.ts spike --in-process
 * npx node scripts/load/profile.ts reports/profiles/CPU.*.cpuprofile
 */
import { readFile } from 'node:fs/promises';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  startTime: number;
  endTime: number;
}

/** The groups the summary is told in. */
const COMPONENTS: [string, RegExp][] = [
  ['SQS/SNS/S3 emulator (fauxqs, fastify)', /^(fauxqs|fastify|find-my-way|@fastify\/.*|avvio|light-my-request|pino.*|ajv.*|fast-.*)$/],
  ['DynamoDB emulator (dynalite, LevelDB)', /^(dynalite|classic-level|abstract-level|leveldown|levelup|level-.*|memdown|bignumber\.js|lazy|once)$/],
  ['Kinesis emulator (kinesalite)', /^kinesalite$/],
  ['AWS SDK v3 clients (@aws-sdk, @smithy)', /^@(aws-sdk|smithy|aws-crypto)\//],
  ['Powertools, middy (in the functions)', /^@(aws-lambda-powertools|middy)\//],
  ['function code (bundles)', /^function bundles$/],
  ['local cloud: edge, proxies, fidelity shims', /^packages\/local-cloud\/src\/(edge|emulators|fidelity|util)\//],
  ['local cloud: runtime, pollers, HTTP API, Firehose', /^(packages\/local-cloud\/src\/|scripts\/local\/)/],
  ['load runner', /^scripts\/load\//],
];

function owner(url: string): string | undefined {
  if (url.includes('node_modules/')) {
    const parts = url.split('node_modules/').pop()?.split('/') ?? [];
    return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  const project = /\/(scripts\/[^?]+|packages\/[^/]+\/src\/[^?]+|\.esbuild\/[^?]+)/.exec(url)?.[1];
  if (project === undefined) return undefined;
  return project.startsWith('.esbuild') ? 'function bundles' : project;
}

/**
 * Samples per owner (package or file) and per component, as shares of all samples.
 *
 * @example
 * const summary = summarizeProfile(JSON.parse(await readFile(path, 'utf8')));
 */
function summarizeProfile(profile: CpuProfile): { seconds: number; samples: number; owners: [string, number][]; components: [string, number][] } {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const memo = new Map<number, string | undefined>();
  const ownerOf = (id: number): string => {
    const chain: number[] = [];
    let found: string | undefined;
    for (let current: number | undefined = id; current !== undefined; current = parent.get(current)) {
      if (memo.has(current)) {
        found = memo.get(current);
        break;
      }
      chain.push(current);
      found = owner(nodes.get(current)?.callFrame.url ?? '');
      if (found !== undefined) break;
    }
    for (const node of chain) memo.set(node, found);
    if (found !== undefined) return found;
    const name = nodes.get(id)?.callFrame.functionName || 'native';
    return name === '(idle)' ? '(idle)' : name === '(garbage collector)' ? '(garbage collector)' : 'Node.js itself (HTTP parser, streams, timers)';
  };
  const owners = new Map<string, number>();
  for (const id of profile.samples) {
    const name = ownerOf(id);
    owners.set(name, (owners.get(name) ?? 0) + 1);
  }
  const total = profile.samples.length || 1;
  const components = new Map<string, number>();
  for (const [name, count] of owners) {
    const component = COMPONENTS.find(([, pattern]) => pattern.test(name))?.[0] ?? (name.startsWith('(') || name.startsWith('Node.js') ? name : `other packages (${name}...)`);
    const key = component.startsWith('other packages') ? 'other packages' : component;
    components.set(key, (components.get(key) ?? 0) + count);
  }
  const share = (entries: Map<string, number>): [string, number][] => [...entries].map(([k, v]): [string, number] => [k, v / total]).sort((a, b) => b[1] - a[1]);
  return { seconds: (profile.endTime - profile.startTime) / 1e6, samples: profile.samples.length, owners: share(owners), components: share(components) };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const topIndex = args.indexOf('--top');
  const top = topIndex >= 0 ? Number(args[topIndex + 1]) : 25;
  const files = args.filter((arg) => arg.endsWith('.cpuprofile'));
  if (files.length === 0) throw new Error('usage: node scripts/load/profile.ts <file.cpuprofile>... [--top N]');
  for (const file of files) {
    const summary = summarizeProfile(JSON.parse(await readFile(file, 'utf8')) as CpuProfile);
    const pct = (v: number): string => `${(100 * v).toFixed(1).padStart(5)} %`;
    process.stdout.write(`\n${file}: ${summary.samples} samples over ${summary.seconds.toFixed(1)} s\n\nby component:\n`);
    for (const [name, value] of summary.components) process.stdout.write(`  ${pct(value)}  ${name}\n`);
    process.stdout.write(`\nby package or file (top ${top}):\n`);
    for (const [name, value] of summary.owners.slice(0, top)) process.stdout.write(`  ${pct(value)}  ${name}\n`);
  }
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  });
}

export { summarizeProfile };
export type { CpuProfile };
