/**
 * How far V8 lets a heap grow past what survived its last full garbage collection. The local cloud allocates fast and
 * keeps little: during `npm run load:spike` the edge's thread kept ~80 MiB and the emulators' thread ~70 MiB after a
 * full GC (heap snapshots at 75 s), while V8's own heuristic, which grows the limit up to 4 × the survivors when
 * allocation outpaces collection, held 370 and 300 MiB of heap for them. A fixed growing factor of 2 × (V8's
 * `--heap-growing-percent=100`) keeps the heaps near twice what is live. V8's flags belong to the process, so the
 * emulators' and functions' worker threads follow it too.
 *
 * V8 reads the flag each time it sets a heap's next limit (`MemoryController::GrowingFactor`), so setting it at run
 * time works. `npm run load:spike`, 2026-12-04 on this 2-core machine, two alternating pairs, V8's heuristic → 100 %:
 * peak RSS 1,121 / 1,171 → 903 / 897 MiB, CPU per order 36.5 / 24.1 → 32.7 / 29 ms (the README's throughput section).
 */
import { setFlagsFromString } from 'node:v8';
import { EmulatorsConfigError } from './errors.ts';

/** The growing percent the local cloud sets when neither the caller nor the command line chose one. */
const DEFAULT_HEAP_GROWING_PERCENT = 100;

const FLAG = '--heap-growing-percent';

interface HeapGrowthInput {
  /** The option `startLocalCloud` was given (`heapGrowingPercent`). */
  option?: number;
  /** `LOCAL_HEAP_GROWING_PERCENT`, as the environment holds it. */
  env?: string;
  /** The process's `execArgv`: a `--heap-growing-percent` there was chosen by whoever started node, and is kept. */
  execArgv?: readonly string[];
}

/**
 * The growing percent to set, or undefined to leave V8 as it is: the caller's option, else `LOCAL_HEAP_GROWING_PERCENT`,
 * else 100; 0 is V8's own heuristic (its default); a flag on node's command line wins over both.
 */
function heapGrowingPercent({ option, env, execArgv = [] }: HeapGrowthInput): number | undefined {
  // V8 reads --heap_growing_percent as the same flag.
  if (execArgv.some((arg) => arg.split('=')[0]?.replaceAll('_', '-') === FLAG)) return undefined;
  const source = option !== undefined ? 'heapGrowingPercent' : 'LOCAL_HEAP_GROWING_PERCENT';
  const value = option ?? (env === undefined || env.trim() === '' ? DEFAULT_HEAP_GROWING_PERCENT : Number(env));
  if (!Number.isInteger(value) || value < 0) {
    throw new EmulatorsConfigError(`${source} must be a whole number of percent, 0 or more (0 keeps V8's own heap growth), not ${JSON.stringify(option ?? env)}`);
  }
  return value;
}

/**
 * Sets V8's heap growing percent for this process (see heapGrowingPercent) and returns what it set.
 *
 * @example
 * limitHeapGrowth({ env: process.env.LOCAL_HEAP_GROWING_PERCENT, execArgv: process.execArgv }); // 100
 */
function limitHeapGrowth(input: HeapGrowthInput, setFlags: (flags: string) => void = setFlagsFromString): number | undefined {
  const percent = heapGrowingPercent(input);
  if (percent !== undefined) setFlags(`${FLAG}=${percent}`);
  return percent;
}

export { DEFAULT_HEAP_GROWING_PERCENT, heapGrowingPercent, limitHeapGrowth };
