/**
 * Load scenarios: `scripts/load/scenarios/<name>.yml`, parsed and validated here. Every error names
 * the file and the path at fault (`spike.yml: phases[1].rate: must be a number > 0, got "fast"`).
 *
 * @example
 * const scenario = await loadScenario('spike');          // a name under scripts/load/scenarios/
 * const custom = await loadScenario('./my-scenario.yml'); // or a path
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { FaultsConfigError, parseFaults } from '../../lib/faults.ts';

const SCENARIO_DIR = join(import.meta.dirname, 'scenarios');

/** Bounds: every request loop is bounded in count and in time. */
const LIMITS = {
  maxRate: 10_000,
  maxPhaseMs: 3_600_000,
  maxTotalMs: 3_600_000,
  maxInFlight: 10_000,
  maxImportOrders: 1_000_000,
  maxDrainMs: 3_600_000,
  /** POST /orders accepts 1-100 items (README, "The order API"). */
  maxItems: 100,
} as const;

type PhaseType = 'steady' | 'ramp' | 'spike';

/** One phase of arrivals, normalised: steady and spike have from = to. */
interface Phase {
  type: PhaseType;
  /** Arrivals per second at the start of the phase. */
  from: number;
  /** Arrivals per second at the end of the phase (= from unless ramp). */
  to: number;
  /** Fixed length; for `until: drained`, the bound (maxDuration). */
  durationMs: number;
  /** Ends as soon as the backlog has drained (the runner says so), or after durationMs. */
  untilDrained: boolean;
}

interface OrderMix {
  /** Share of physical orders (the rest are digital), 0-1. */
  physicalShare: number;
  itemsPerOrder: { min: number; max: number };
  /** Seeds the order generator: the same scenario sends the same orders. */
  seed: number;
  /**
   * Share of poison orders (customerId `poison-...`, lib/faults.ts), 0-1, default 0: arrival `seq` is poison when
   * floor((seq + 1) * share) > floor(seq * share), so N arrivals hold exactly floor(N * share) of them, evenly spread.
   */
  poisonShare?: number;
}

/** Chaos runs (local cloud only): faults switched on at the start and off at the end, then a DLQ phase. */
interface ChaosSettings {
  /** The body of `POST /_local/faults` (function FAULTS by short name, plus `duplicateDelivery`). */
  faults: Record<string, unknown>;
  /** Local-only queue settings applied to every work queue for the run and put back after it. */
  localQueues?: { visibilityTimeoutSeconds: number; maxReceiveCount: number };
  /** After the drain: check the DLQs, switch the faults off, redrive, and give the redriven orders this long. */
  redrive?: { deadlineMs: number };
}

interface Scenario {
  name: string;
  description: string;
  file: string;
  kind: 'api' | 'bulk-import';
  orders: OrderMix;
  /** kind api: the arrival phases. */
  phases: Phase[];
  /** kind bulk-import: orders in the one NDJSON file. */
  fileOrders: number;
  limits: { maxInFlight: number; requestTimeoutMs: number };
  /** How long, after the last arrival, accepted orders get to complete before they count as lost. */
  drain: { deadlineMs: number };
  /** `faults:` (with `localQueues:` and `redrive:`), the chaos scenario's. */
  chaos?: ChaosSettings;
}

class ScenarioError extends Error {
  readonly file: string;
  readonly issues: string[];
  constructor(file: string, issues: string[]) {
    super(`${file}: ${issues.length === 1 ? issues[0] : `${issues.length} problems:\n  ${issues.join('\n  ')}`}`);
    this.name = 'ScenarioError';
    this.file = file;
    this.issues = issues;
  }
}

class ScenarioNotFoundError extends ScenarioError {
  constructor(reference: string, looked: string[]) {
    super(reference, [`no such scenario (looked for ${looked.join(', ')})`]);
    this.name = 'ScenarioNotFoundError';
  }
}

/** Collects problems with their paths while reading a plain object. */
class Reader {
  readonly issues: string[] = [];

  problem(path: string, message: string): void {
    this.issues.push(`${path}: ${message}`);
  }

  object(value: unknown, path: string, allowed: string[]): Record<string, unknown> | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'object' || Array.isArray(value)) {
      this.problem(path, `must be a mapping, got ${describe(value)}`);
      return undefined;
    }
    for (const key of Object.keys(value)) if (!allowed.includes(key)) this.problem(path === '' ? key : `${path}.${key}`, `unknown key (allowed: ${allowed.join(', ')})`);
    return value as Record<string, unknown>;
  }

  number(value: unknown, path: string, rule: { min?: number; max?: number; above?: number; integer?: boolean }, fallback?: number): number {
    if (value === undefined && fallback !== undefined) return fallback;
    const ok =
      typeof value === 'number' &&
      Number.isFinite(value) &&
      (!rule.integer || Number.isInteger(value)) &&
      (rule.min === undefined || value >= rule.min) &&
      (rule.above === undefined || value > rule.above) &&
      (rule.max === undefined || value <= rule.max);
    if (!ok) {
      const bounds = [rule.above !== undefined ? `> ${rule.above}` : '', rule.min !== undefined ? `>= ${rule.min}` : '', rule.max !== undefined ? `<= ${rule.max}` : '']
        .filter(Boolean)
        .join(' and ');
      this.problem(path, `must be ${rule.integer ? 'an integer' : 'a number'}${bounds ? ` ${bounds}` : ''}, got ${describe(value)}`);
      return fallback ?? 0;
    }
    return value as number;
  }

  /** `10s`, `500ms`, `2m`, `1h`, or a number of seconds. */
  duration(value: unknown, path: string, maxMs: number, fallbackMs?: number): number {
    if (value === undefined && fallbackMs !== undefined) return fallbackMs;
    let ms: number | undefined;
    if (typeof value === 'number' && Number.isFinite(value)) ms = value * 1000;
    else if (typeof value === 'string') {
      const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/.exec(value);
      if (match) ms = Number(match[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] as 'ms' | 's' | 'm' | 'h'];
    }
    if (ms === undefined || ms <= 0 || ms > maxMs) {
      this.problem(path, `must be a duration > 0 and <= ${maxMs / 1000} s ("10s", "500ms", "2m" or seconds), got ${describe(value)}`);
      return fallbackMs ?? 1000;
    }
    return Math.round(ms);
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  return JSON.stringify(value);
}

function readPhase(reader: Reader, value: unknown, path: string): Phase | undefined {
  const raw = reader.object(value, path, ['type', 'rate', 'from', 'to', 'duration', 'until', 'maxDuration']);
  if (!raw) {
    if (value === undefined || value === null) reader.problem(path, 'must be a mapping with a type (steady, ramp or spike)');
    return undefined;
  }
  const rate = { above: 0, max: LIMITS.maxRate };
  switch (raw.type) {
    case 'steady':
    case 'spike': {
      for (const key of ['from', 'to']) if (raw[key] !== undefined) reader.problem(`${path}.${key}`, `only a ramp has ${key}; a ${raw.type} phase has rate`);
      const perSecond = reader.number(raw.rate, `${path}.rate`, rate);
      if (raw.until !== undefined) {
        if (raw.until !== 'drained') reader.problem(`${path}.until`, `must be "drained", got ${describe(raw.until)}`);
        if (raw.duration !== undefined) reader.problem(`${path}.duration`, 'a phase that runs until drained takes maxDuration, not duration');
        if (raw.maxDuration === undefined) reader.problem(`${path}.maxDuration`, 'is required with until: drained (every phase is bounded in time)');
        const durationMs = reader.duration(raw.maxDuration, `${path}.maxDuration`, LIMITS.maxPhaseMs, 1000);
        return { type: raw.type, from: perSecond, to: perSecond, durationMs, untilDrained: true };
      }
      if (raw.maxDuration !== undefined) reader.problem(`${path}.maxDuration`, 'only a phase with until: drained takes maxDuration');
      return { type: raw.type, from: perSecond, to: perSecond, durationMs: reader.duration(raw.duration, `${path}.duration`, LIMITS.maxPhaseMs), untilDrained: false };
    }
    case 'ramp': {
      for (const key of ['rate', 'until', 'maxDuration']) if (raw[key] !== undefined) reader.problem(`${path}.${key}`, `a ramp takes from, to and duration, not ${key}`);
      const from = reader.number(raw.from, `${path}.from`, { min: 0, max: LIMITS.maxRate });
      const to = reader.number(raw.to, `${path}.to`, { min: 0, max: LIMITS.maxRate });
      if (from === 0 && to === 0) reader.problem(path, 'a ramp from 0 to 0 sends nothing');
      return { type: 'ramp', from, to, durationMs: reader.duration(raw.duration, `${path}.duration`, LIMITS.maxPhaseMs), untilDrained: false };
    }
    default:
      reader.problem(`${path}.type`, `must be steady, ramp or spike, got ${describe(raw.type)}`);
      return undefined;
  }
}

/**
 * Validates a parsed scenario document. `file` names it in every error.
 *
 * @example
 * const scenario = parseScenario({ kind: 'api', phases: [{ type: 'steady', rate: 5, duration: '5s' }] }, 'inline.yml');
 */
function parseScenario(document: unknown, file: string): Scenario {
  const reader = new Reader();
  const root = reader.object(document, '(root)', ['name', 'description', 'kind', 'orders', 'phases', 'import', 'limits', 'drain', 'faults', 'localQueues', 'redrive']);
  if (!root) {
    if (document === undefined || document === null) reader.problem('(root)', 'the file is empty');
    throw new ScenarioError(file, reader.issues);
  }
  const fallbackName = basename(file).replace(/\.ya?ml$/, '');
  const name = root.name === undefined ? fallbackName : typeof root.name === 'string' && /^[a-z0-9][a-z0-9-]{0,62}$/.test(root.name) ? root.name : '';
  if (name === '') reader.problem('name', `must be lowercase letters, digits and dashes (it names the report files), got ${describe(root.name)}`);
  if (root.description !== undefined && typeof root.description !== 'string') reader.problem('description', `must be text, got ${describe(root.description)}`);
  const kind = root.kind ?? 'api';
  if (kind !== 'api' && kind !== 'bulk-import') reader.problem('kind', `must be api or bulk-import, got ${describe(kind)}`);

  const orders = reader.object(root.orders, 'orders', ['physicalShare', 'itemsPerOrder', 'seed', 'poisonShare']) ?? {};
  const physicalShare = reader.number(orders.physicalShare, 'orders.physicalShare', { min: 0, max: 1 }, 0.7);
  let items = { min: 1, max: 3 };
  if (orders.itemsPerOrder !== undefined) {
    const range = orders.itemsPerOrder;
    if (Array.isArray(range) && range.length === 2) {
      const min = reader.number(range[0], 'orders.itemsPerOrder[0]', { min: 1, max: LIMITS.maxItems, integer: true });
      const max = reader.number(range[1], 'orders.itemsPerOrder[1]', { min: 1, max: LIMITS.maxItems, integer: true });
      if (min > max) reader.problem('orders.itemsPerOrder', `the minimum (${min}) is above the maximum (${max})`);
      items = { min, max };
    } else reader.problem('orders.itemsPerOrder', `must be [min, max] (1-${LIMITS.maxItems} items), got ${describe(range)}`);
  }
  const seed = reader.number(orders.seed, 'orders.seed', { min: 0, max: 2 ** 31 - 1, integer: true }, 1);
  const poisonShare = reader.number(orders.poisonShare, 'orders.poisonShare', { min: 0, max: 1 }, 0);
  const chaos = readChaos(reader, root);
  if (poisonShare > 0 && !chaos) reader.problem('orders.poisonShare', 'poison orders need a faults: block (with poison on a consumer) and redrive:, or they never complete');

  const phases: Phase[] = [];
  let fileOrders = 0;
  if (kind === 'api') {
    if (root.import !== undefined) reader.problem('import', 'only a bulk-import scenario takes import');
    if (!Array.isArray(root.phases) || root.phases.length === 0) reader.problem('phases', `must be a non-empty list of phases, got ${describe(root.phases)}`);
    else root.phases.forEach((value, index) => {
      const phase = readPhase(reader, value, `phases[${index}]`);
      if (phase) phases.push(phase);
    });
    const total = phases.reduce((sum, phase) => sum + phase.durationMs, 0);
    if (total > LIMITS.maxTotalMs) reader.problem('phases', `last ${total / 1000} s in all; at most ${LIMITS.maxTotalMs / 1000} s`);
  } else if (kind === 'bulk-import') {
    if (root.phases !== undefined) reader.problem('phases', 'a bulk-import scenario uploads one file: it takes import.orders, not phases');
    const section = reader.object(root.import, 'import', ['orders']);
    if (!section) reader.problem('import', 'is required for kind bulk-import: { orders: N }');
    fileOrders = reader.number(section?.orders, 'import.orders', { min: 1, max: LIMITS.maxImportOrders, integer: true });
  }

  const limits = reader.object(root.limits, 'limits', ['maxInFlight', 'requestTimeout']) ?? {};
  const maxInFlight = reader.number(limits.maxInFlight, 'limits.maxInFlight', { min: 1, max: LIMITS.maxInFlight, integer: true }, 1000);
  // API Gateway's integration timeout is 30 s (API Gateway quotas) and it answers 503 then: wait a little
  // longer than that, so the gateway's answer is what gets counted, not a client-side timeout.
  const requestTimeoutMs = reader.duration(limits.requestTimeout, 'limits.requestTimeout', 60_000, 35_000);
  const drain = reader.object(root.drain, 'drain', ['deadline']) ?? {};
  const deadlineMs = reader.duration(drain.deadline, 'drain.deadline', LIMITS.maxDrainMs, 120_000);

  if (reader.issues.length > 0) throw new ScenarioError(file, reader.issues);
  return {
    name,
    description: typeof root.description === 'string' ? root.description.trim() : '',
    file,
    kind: kind as Scenario['kind'],
    orders: { physicalShare, itemsPerOrder: items, seed, ...(poisonShare > 0 ? { poisonShare } : {}) },
    phases,
    fileOrders,
    limits: { maxInFlight, requestTimeoutMs },
    drain: { deadlineMs },
    ...(chaos ? { chaos } : {}),
  };
}

/** `faults:` (validated as lib/faults.ts does), `localQueues:` and `redrive:`; undefined without `faults:`. */
function readChaos(reader: Reader, root: Record<string, unknown>): ChaosSettings | undefined {
  const faults = reader.object(root.faults, 'faults', Object.keys(root.faults ?? {}));
  if (!faults) {
    for (const key of ['localQueues', 'redrive']) if (root[key] !== undefined) reader.problem(key, 'only a scenario with a faults: block takes it');
    return undefined;
  }
  if (faults.duplicateDelivery !== undefined && typeof faults.duplicateDelivery !== 'boolean') reader.problem('faults.duplicateDelivery', `must be true or false, got ${describe(faults.duplicateDelivery)}`);
  for (const [key, value] of Object.entries(faults)) if (key !== 'duplicateDelivery' && (typeof value !== 'object' || value === null || Array.isArray(value))) reader.problem(`faults.${key}`, `must be a mapping of failureRate, poison, latencyMs, got ${describe(value)}`);
  try {
    parseFaults(JSON.stringify(faults));
  } catch (error) {
    if (!(error instanceof FaultsConfigError)) throw error;
    reader.problem(error.path.replace(/^FAULTS/, 'faults'), error.message.slice(error.path.length + 1));
  }
  const settings: ChaosSettings = { faults };
  const queues = reader.object(root.localQueues, 'localQueues', ['visibilityTimeout', 'maxReceiveCount']);
  if (queues) {
    settings.localQueues = {
      visibilityTimeoutSeconds: Math.max(1, Math.round(reader.duration(queues.visibilityTimeout, 'localQueues.visibilityTimeout', 43_200_000) / 1000)),
      maxReceiveCount: reader.number(queues.maxReceiveCount, 'localQueues.maxReceiveCount', { min: 1, max: 1000, integer: true }),
    };
  }
  const redrive = reader.object(root.redrive, 'redrive', ['deadline']);
  if (redrive) settings.redrive = { deadlineMs: reader.duration(redrive.deadline, 'redrive.deadline', LIMITS.maxDrainMs, 120_000) };
  return settings;
}

/** Parses YAML text; YAML syntax errors name the file, line and column. */
function parseScenarioText(text: string, file: string): Scenario {
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) throw new ScenarioError(file, document.errors.map((error) => `YAML: ${error.message}`));
  return parseScenario(document.toJS(), file);
}

/** A scenario by name (`spike` → scripts/load/scenarios/spike.yml) or by path. */
async function loadScenario(reference: string, cwd = process.cwd()): Promise<Scenario> {
  const candidates = /[/\\]|\.ya?ml$/.test(reference) ? [resolve(cwd, reference)] : [join(SCENARIO_DIR, `${reference}.yml`), join(SCENARIO_DIR, `${reference}.yaml`)];
  const file = candidates.find((candidate) => existsSync(candidate));
  if (!file) throw new ScenarioNotFoundError(reference, candidates);
  return parseScenarioText(await readFile(file, 'utf8'), file);
}

/** Scenario names shipped under scripts/load/scenarios/. */
async function listScenarios(): Promise<string[]> {
  return (await readdir(SCENARIO_DIR)).filter((file) => /\.ya?ml$/.test(file)).map((file) => file.replace(/\.ya?ml$/, '')).sort();
}

export { ScenarioError, ScenarioNotFoundError, listScenarios, loadScenario, parseScenario, parseScenarioText };
export type { ChaosSettings, OrderMix, Phase, Scenario };
