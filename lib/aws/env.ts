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

export { MissingEnvError, requireEnv };
