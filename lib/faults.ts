import { setTimeout as delay } from 'node:timers/promises';
import { OrderflowError } from './domain/errors.ts';

/**
 * Fault injection for the consumers, off unless the `FAULTS` environment variable (stage param `faults`) says
 * otherwise: switchable per stage and per function with no code change. `FAULTS` is JSON keyed by the function's
 * short name (`chargeOrder`), or `*` for every consumer:
 *
 * `{"chargeOrder": {"failureRate": 0.1, "poison": true, "latencyMs": 500}}`
 *
 * - `failureRate` (0-1): each record fails with that probability with an InjectedFaultError (transient: a retry
 *   may succeed), the way a throttled or briefly unavailable dependency fails;
 * - `poison`: a record of an order whose customerId starts with `poison-` always fails (PoisonOrderError), so it
 *   exhausts maxReceiveCount and lands in the DLQ;
 * - `latencyMs`: each record takes that much longer before its work starts.
 *
 * Other top-level keys whose value is not an object (the local cloud's `duplicateDelivery`) are not function
 * faults and are ignored here.
 */

/** The faults of one function. */
interface FunctionFaults {
  failureRate?: number;
  poison?: boolean;
  latencyMs?: number;
}

/** Function faults by short function name (`chargeOrder`) or `*`. */
type FaultsConfig = Record<string, FunctionFaults>;

/** The fault chosen for one record: wait `latencyMs`, then throw `error` if there is one. */
interface FaultDecision {
  latencyMs: number;
  error?: Error;
}

/** Customer ids with this prefix are poison orders for every function whose faults set `poison`. */
const POISON_PREFIX = 'poison-';

/** A latency above Lambda's 15-minute maximum timeout is certainly a typo. */
const MAX_LATENCY_MS = 900_000;

/** `FAULTS` is not valid: the message names the exact path at fault (`FAULTS.chargeOrder.failureRate`). */
class FaultsConfigError extends OrderflowError {
  readonly path: string;
  constructor(path: string, message: string) {
    super(`${path} ${message}`);
    this.name = 'FaultsConfigError';
    this.path = path;
  }
}

/** A fault injected on purpose (FAULTS failureRate). Transient: the next delivery of the record may well succeed. */
class InjectedFaultError extends OrderflowError {
  readonly transient = true;
  constructor(functionName: string, failureRate: number) {
    super(`Injected transient fault in ${functionName} (FAULTS failureRate ${failureRate})`);
    this.name = 'InjectedFaultError';
  }
}

/** A poison order (customerId `poison-...`) and FAULTS `poison` on this function: fails on every delivery. */
class PoisonOrderError extends OrderflowError {
  constructor(functionName: string, customerId: string) {
    super(`Poison order of customer ${customerId} always fails ${functionName} (FAULTS poison)`);
    this.name = 'PoisonOrderError';
  }
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Parses and validates `FAULTS`; '' or undefined means no faults.
 *
 * @example
 * parseFaults('{"chargeOrder":{"failureRate":0.1}}'); // { chargeOrder: { failureRate: 0.1 } }
 * @throws FaultsConfigError naming the path at fault
 */
const parseFaults = (text: string | undefined): FaultsConfig => {
  if (text === undefined || text.trim() === '') return {};
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new FaultsConfigError('FAULTS', `is not JSON: ${(error as Error).message}`);
  }
  if (!isObject(raw)) throw new FaultsConfigError('FAULTS', 'must be a JSON object keyed by function name');
  const config: FaultsConfig = {};
  for (const [name, value] of Object.entries(raw)) {
    if (!isObject(value)) continue;
    const path = `FAULTS.${name}`;
    const faults: FunctionFaults = {};
    for (const [key, setting] of Object.entries(value)) {
      if (key === 'failureRate') {
        if (typeof setting !== 'number' || !(setting >= 0 && setting <= 1)) throw new FaultsConfigError(`${path}.failureRate`, 'must be a number from 0 to 1');
        faults.failureRate = setting;
      } else if (key === 'poison') {
        if (typeof setting !== 'boolean') throw new FaultsConfigError(`${path}.poison`, 'must be true or false');
        faults.poison = setting;
      } else if (key === 'latencyMs') {
        if (typeof setting !== 'number' || !Number.isInteger(setting) || setting < 0 || setting > MAX_LATENCY_MS) {
          throw new FaultsConfigError(`${path}.latencyMs`, `must be an integer from 0 to ${MAX_LATENCY_MS}`);
        }
        faults.latencyMs = setting;
      } else throw new FaultsConfigError(`${path}.${key}`, 'is not a fault (failureRate, poison, latencyMs)');
    }
    config[name] = faults;
  }
  return config;
};

/**
 * The faults of a function, from its full name (`orderflow-dev-chargeOrder`) or short name: its own entry, else `*`.
 *
 * @example
 * faultsFor({ chargeOrder: { poison: true } }, 'orderflow-dev-chargeOrder'); // { poison: true }
 */
const faultsFor = (config: FaultsConfig, functionName: string): FunctionFaults | undefined => {
  for (const [name, faults] of Object.entries(config)) {
    if (name !== '*' && (functionName === name || functionName.endsWith(`-${name}`))) return faults;
  }
  return config['*'];
};

/**
 * The customer of an order event or review request, read from a record body (OrderPlaced carries `order.customerId`,
 * review requests `customerId`); undefined when the body has none (OrderCharged, S3 notifications).
 */
const customerIdOf = (body: string): string | undefined => {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (!isObject(value)) return undefined;
  if (typeof value.customerId === 'string') return value.customerId;
  return isObject(value.order) && typeof value.order.customerId === 'string' ? value.order.customerId : undefined;
};

/**
 * Decides the fault for one record (pure: the random number is passed in). Poison wins over a random failure.
 *
 * @example
 * decideFault({ failureRate: 0.5 }, { functionName: 'chargeOrder', random: 0.2 }); // { latencyMs: 0, error: InjectedFaultError }
 */
const decideFault = (
  faults: FunctionFaults | undefined,
  { functionName, customerId, random }: { functionName: string; customerId?: string; random: number },
): FaultDecision => {
  const latencyMs = faults?.latencyMs ?? 0;
  if (!faults) return { latencyMs };
  if (faults.poison && customerId?.startsWith(POISON_PREFIX)) return { latencyMs, error: new PoisonOrderError(functionName, customerId) };
  if (faults.failureRate !== undefined && random < faults.failureRate) return { latencyMs, error: new InjectedFaultError(functionName, faults.failureRate) };
  return { latencyMs };
};

interface InjectOptions {
  /** Default process.env: FAULTS and AWS_LAMBDA_FUNCTION_NAME, read on every call (the local cloud changes them live). */
  env?: Record<string, string | undefined>;
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Told once per distinct invalid FAULTS value; the faults are then off (a typo must not fail real orders). */
  onInvalidConfig?: (error: FaultsConfigError) => void;
}

let cached: { text: string | undefined; config: FaultsConfig } = { text: undefined, config: {} };

/** FAULTS parsed once per distinct value; an invalid value means no faults, reported once through onInvalidConfig. */
const currentFaults = (text: string | undefined, onInvalidConfig?: (error: FaultsConfigError) => void): FaultsConfig => {
  if (cached.text === text) return cached.config;
  let config: FaultsConfig = {};
  try {
    config = parseFaults(text);
  } catch (error) {
    if (!(error instanceof FaultsConfigError)) throw error;
    onInvalidConfig?.(error);
  }
  cached = { text, config };
  return config;
};


/**
 * Applies this function's FAULTS to one record: waits the added latency, then throws the chosen fault, if any.
 * Does nothing (and costs a string compare) when FAULTS is empty. Give the record's `customerId`, or its `body`
 * to read it from (parsed only when this function's faults are on).
 *
 * @example
 * await injectFaults({ body: record.body }); // first thing in a record handler
 * @throws InjectedFaultError or PoisonOrderError
 */
const injectFaults = async (record: { customerId?: string; body?: string }, options: InjectOptions = {}): Promise<void> => {
  const env = options.env ?? process.env;
  const text = env.FAULTS;
  if (text === undefined || text === '') return;
  const functionName = env.AWS_LAMBDA_FUNCTION_NAME ?? '';
  const faults = faultsFor(currentFaults(text, options.onInvalidConfig), functionName);
  if (!faults) return;
  const customerId = record.customerId ?? (faults.poison && record.body !== undefined ? customerIdOf(record.body) : undefined);
  const decision = decideFault(faults, { functionName, customerId, random: (options.random ?? Math.random)() });
  if (decision.latencyMs > 0) await (options.sleep ?? delay)(decision.latencyMs);
  if (decision.error) throw decision.error;
};


export {
  FaultsConfigError,
  InjectedFaultError,
  PoisonOrderError,
  customerIdOf,
  decideFault,
  faultsFor,
  injectFaults,
  parseFaults,
};
