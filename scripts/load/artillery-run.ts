/**
 * `npm run load -- <scenario> --engine artillery`: runs the Artillery script (artillery.ts) with the installed
 * Artillery CLI, then does the zero-loss accounting of the run from the Orders table, as a one-machine run does.
 *
 * Artillery's workers (on Lambda or Fargate) do not hand back which orders they placed, only counters. So the run is
 * accounted by its correlation ids: every order of the run carries `x-correlation-id: load-<runId>-<uuid>` (the
 * processor sets it; placeOrder stores it on the item), and the Orders items with that prefix are the run's orders.
 * - accepted: Artillery's `http.codes.202`;
 * - completed: the run's items that are COMPLETED when the drain deadline passes (the scenario's `drain`);
 * - lost: accepted − completed (0 expected);
 * - duplicated: items whose invoice or label was written more than once (0 expected);
 * - order → COMPLETED: completedAt − placedAt of each item (both stamped by the service: no clock offset).
 */
import { spawn } from 'node:child_process';
import type { TableItem } from './accounting.ts';
import { writes } from './accounting.ts';
import { ArtilleryError } from './artillery.ts';

type ArtilleryRunner = 'local' | 'lambda' | 'fargate';

const ARTILLERY_RUNNERS: readonly ArtilleryRunner[] = ['local', 'lambda', 'fargate'];

/** What Artillery's `--output` JSON says of the run (`aggregate.counters`). */
interface ArtilleryOutcome {
  requests: number;
  /** `http.codes.202`: orders the API accepted. */
  accepted: number;
  /** Every `http.codes.*` counter, by status code. */
  codes: Record<string, number>;
  /** Every `errors.*` counter (timeouts, connection errors...), by name. */
  errors: Record<string, number>;
  /** `vusers.failed`: scenarios that did not finish. */
  failedUsers: number;
}

interface RunAccounting {
  accepted: number;
  /** The run's items in the Orders table (found by correlation id). */
  found: number;
  completed: number;
  /** accepted − completed, never below 0. */
  lost: number;
  /** Found but not counted as accepted by Artillery (e.g. a client timeout on an order the API did accept). */
  foundNotAccepted: number;
  duplicated: number;
  duplicatedIds: string[];
  /** Order → COMPLETED (completedAt − placedAt), ms, of every completed item. */
  completionMs: { p50?: number; p95?: number; p99?: number; max?: number };
}

/** The command that runs `scriptPath` on `runner`, writing Artillery's JSON report to `outputPath`. */
function artilleryInvocation(options: { scriptPath: string; outputPath: string; runner: ArtilleryRunner; workers: number; region: string }): string[] {
  const { scriptPath, outputPath, runner, workers, region } = options;
  if (runner === 'local') {
    if (workers !== 1) throw new ArtilleryError(`--runner local is one load generator: leave --workers out (got ${workers}) or use --runner lambda|fargate`);
    return ['run', '--output', outputPath, scriptPath];
  }
  return [runner === 'lambda' ? 'run-lambda' : 'run-fargate', '--region', region, '--count', String(workers), '--output', outputPath, scriptPath];
}

const counter = (counters: Record<string, unknown>, name: string): number => (typeof counters[name] === 'number' ? (counters[name] as number) : 0);

/** The counters of Artillery's `--output` report; throws naming what is missing when it is not one. */
function artilleryOutcome(report: unknown): ArtilleryOutcome {
  const counters = (report as { aggregate?: { counters?: unknown } } | undefined)?.aggregate?.counters;
  if (typeof counters !== 'object' || counters === null) throw new ArtilleryError('the Artillery report has no aggregate.counters: is it the file `artillery run --output` wrote?');
  const entries = Object.entries(counters as Record<string, unknown>).filter((entry): entry is [string, number] => typeof entry[1] === 'number');
  const byPrefix = (prefix: string): Record<string, number> => Object.fromEntries(entries.filter(([name]) => name.startsWith(prefix)).map(([name, n]) => [name.slice(prefix.length), n]));
  const all = counters as Record<string, unknown>;
  return { requests: counter(all, 'http.requests'), accepted: counter(all, 'http.codes.202'), codes: byPrefix('http.codes.'), errors: byPrefix('errors.'), failedUsers: counter(all, 'vusers.failed') };
}

const percentile = (sorted: number[], p: number): number | undefined => (sorted.length === 0 ? undefined : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]);

/**
 * The accounting of a run from its items (those whose correlation id starts with `load-<runId>-`) and Artillery's
 * count of accepted orders.
 *
 * @example
 * const result = accountByCorrelation(items, outcome.accepted);
 * if (result.lost > 0 || result.duplicated > 0) process.exitCode = 1;
 */
function accountByCorrelation(items: readonly TableItem[], accepted: number): RunAccounting {
  const completedItems = items.filter((item) => item.status === 'COMPLETED');
  const duplicated = items.filter((item) => (writes(item.invoiceWrites) ?? 0) > 1 || (writes(item.labelWrites) ?? 0) > 1);
  const durations = completedItems
    .map((item) => Date.parse(item.completedAt ?? '') - Date.parse(item.placedAt ?? ''))
    .filter((ms) => Number.isFinite(ms))
    .sort((a, b) => a - b);
  return {
    accepted,
    found: items.length,
    completed: completedItems.length,
    lost: Math.max(0, accepted - completedItems.length),
    foundNotAccepted: Math.max(0, items.length - accepted),
    duplicated: duplicated.length,
    duplicatedIds: duplicated.slice(0, 100).map((item) => item.orderId),
    completionMs: { p50: percentile(durations, 50), p95: percentile(durations, 95), p99: percentile(durations, 99), max: durations.at(-1) },
  };
}

/**
 * Runs the Artillery CLI with its output on this terminal; resolves false when no `artillery` is installed (ENOENT),
 * throws when it fails.
 */
function runArtillery(binary: string, args: string[]): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: 'inherit' });
    child.once('error', (error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? resolve(false) : reject(error)));
    child.once('exit', (code, signal) => {
      if (code === 0) resolve(true);
      else reject(new ArtilleryError(`${binary} ${args.join(' ')} exited with ${signal ?? `code ${code}`}`));
    });
  });
}

/** The run's summary, as lines for the terminal. */
function formatRunAccounting(outcome: ArtilleryOutcome, accounting: RunAccounting, drainSeconds: number): string[] {
  const codes = Object.entries(outcome.codes).map(([code, n]) => `${n} x ${code}`).join(', ') || 'none';
  const errors = Object.entries(outcome.errors).map(([name, n]) => `${n} x ${name}`).join(', ') || 'none';
  const { p50, p95, p99, max } = accounting.completionMs;
  const ms = (value: number | undefined): string => (value === undefined ? 'n/a' : `${Math.round(value)} ms`);
  return [
    `requests            ${outcome.requests} sent: ${codes}; errors: ${errors}`,
    `accepted (202)      ${accounting.accepted}`,
    `found in the table  ${accounting.found} (by correlation id)${accounting.foundNotAccepted > 0 ? `, ${accounting.foundNotAccepted} not counted as 202 by Artillery (client timeouts on orders the API accepted)` : ''}`,
    `completed           ${accounting.completed} within ${drainSeconds} s of the last arrival`,
    `lost                ${accounting.lost}${accounting.lost > 0 ? ' (accepted, not COMPLETED by the deadline)' : ''}`,
    `duplicated          ${accounting.duplicated}${accounting.duplicated > 0 ? `: ${accounting.duplicatedIds.slice(0, 5).join(', ')}` : ''}`,
    `order -> COMPLETED  p50 ${ms(p50)}, p95 ${ms(p95)}, p99 ${ms(p99)}, max ${ms(max)} (completedAt - placedAt, both stamped by the service)`,
  ];
}

export { ARTILLERY_RUNNERS, accountByCorrelation, artilleryInvocation, artilleryOutcome, formatRunAccounting, runArtillery };
export type { ArtilleryRunner };
