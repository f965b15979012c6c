import { OrderflowError } from '../domain/errors.ts';

/** A function was deployed without an environment variable its code needs (a serverless.yml mistake). */
class MissingEnvError extends OrderflowError {
  constructor(name: string) {
    super(`Environment variable ${name} is not set: check this function's environment in serverless.yml`);
    this.name = 'MissingEnvError';
  }
}

/**
 * Reads a required environment variable, failing with the variable's name (read at call time, so tests can set it).
 *
 * @example
 * const topicArn = requireEnv('TOPIC_ARN');
 */
const requireEnv = (name: string): string => {
  const value = process.env[name];
  if (value === undefined || value === '') throw new MissingEnvError(name);
  return value;
};

/**
 * Reads a required environment variable holding a whole number, at least 1 (seconds, bytes), failing with its name.
 *
 * @example
 * const expiresAfterSeconds = requirePositiveIntegerEnv('CHARGE_IDEMPOTENCY_SECONDS');
 */
const requirePositiveIntegerEnv = (name: string): number => {
  const value = requireEnv(name);
  const seconds = Number(value);
  if (!/^[1-9][0-9]*$/.test(value) || !Number.isSafeInteger(seconds)) throw new InvalidEnvError(name, value, 'a whole number, at least 1');
  return seconds;
};

/** A function was deployed with an environment variable its code cannot use (a serverless.yml param mistake). */
class InvalidEnvError extends OrderflowError {
  constructor(name: string, value: string, expected: string) {
    super(`Environment variable ${name} is ${JSON.stringify(value.slice(0, 40))}, not ${expected}: check this function's environment in serverless.yml`);
    this.name = 'InvalidEnvError';
  }
}

export { InvalidEnvError, MissingEnvError, requireEnv, requirePositiveIntegerEnv };
