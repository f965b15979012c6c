/**
 * `npm run -s token -- <customer> [--expires-in <seconds>] [--scope "<scopes>"] [--data-dir <dir>]`: prints an
 * access token for a named customer, signed by the local cloud's issuer (its key in the data directory, written
 * by `npm start`), for the HTTP API's JWT authorizer:
 *
 *   TOKEN=$(npm run -s token -- alice)
 *   curl -s localhost:3000/orders/<id> -H "authorization: Bearer $TOKEN"
 *
 * The same customer name always gets the same `sub` (its orders); another name is another customer.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { mintLocalToken } from 'local-cloud';

const USAGE = 'usage: npm run -s token -- <customer> [--expires-in <seconds>] [--scope "<scopes>"] [--data-dir <dir>]';

class TokenUsageError extends Error {
  constructor(message: string) {
    super(`${message}\n${USAGE}`);
    this.name = 'TokenUsageError';
  }
}

interface TokenRequest {
  customer: string;
  expiresInSeconds: number;
  scope?: string;
  dataDir: string;
}

/** The command line, checked: a customer name of 1 to 128 visible characters, a whole number of seconds. */
function parseTokenArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): TokenRequest {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { 'expires-in': { type: 'string' }, scope: { type: 'string' }, 'data-dir': { type: 'string' } } });
  } catch (error) {
    throw new TokenUsageError((error as Error).message);
  }
  const [customer, ...rest] = parsed.positionals;
  if (customer === undefined || !/^[\x21-\x7e]{1,128}$/.test(customer) || rest.length > 0) throw new TokenUsageError('<customer>: one name of 1 to 128 visible ASCII characters');
  const expiresIn = parsed.values['expires-in'] ?? '3600';
  const expiresInSeconds = Number(expiresIn);
  if (!/^\d+$/.test(expiresIn) || expiresInSeconds < 1 || expiresInSeconds > 86_400) throw new TokenUsageError(`--expires-in: a whole number of seconds from 1 to 86400, got "${expiresIn}"`);
  return {
    customer,
    expiresInSeconds,
    ...(parsed.values.scope === undefined ? {} : { scope: parsed.values.scope }),
    dataDir: resolve(parsed.values['data-dir'] ?? env.LOCAL_DATA_DIR ?? '.local'),
  };
}

if (import.meta.main) {
  try {
    const { dataDir, ...options } = parseTokenArgs(process.argv.slice(2));
    process.stdout.write(`${await mintLocalToken(dataDir, options)}\n`);
  } catch (error) {
    process.stderr.write(`npm run token failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(error instanceof TokenUsageError ? 2 : 1);
  }
}

export { parseTokenArgs };
