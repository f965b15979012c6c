/**
 * The per-run token of the operator endpoints (`/_local/*`): a new random one each time the emulators start,
 * written to `<dataDir>/edge/token` (mode 0600: its owner only) and sent back in the `x-local-token` header.
 * The user who started the local cloud can read it; another user of the machine, or a web page, cannot.
 *
 * @example
 * // a tool beside `npm start`: LOCAL_CLOUD_TOKEN, else the token file of LOCAL_DATA_DIR (default .local)
 * const token = readLocalToken({ dataDir: join(projectDir, process.env.LOCAL_DATA_DIR || '.local') });
 * await fetch(`${edge}/_local/faults`, { method: 'POST', headers: controlHeaders(token), body: '{}' });
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeTextFileAtomic } from '../util/json-file.ts';

/** The request header that carries the token. */
const TOKEN_HEADER = 'x-local-token';
/** The token's file, relative to the data directory. */
const TOKEN_FILE = join('edge', 'token');
/** The environment variable a tool reads first (a token from another shell, a CI job). */
const TOKEN_VARIABLE = 'LOCAL_CLOUD_TOKEN';

/** Makes this run's token (256 random bits) and writes it to `<dataDir>/edge/token`, mode 0600. */
function createLocalToken(dataDir: string): { token: string; file: string } {
  const token = randomBytes(32).toString('base64url');
  const file = join(dataDir, TOKEN_FILE);
  writeTextFileAtomic(file, `${token}\n`, { mode: 0o600 });
  return { token, file };
}

/**
 * The token of the local cloud running on `dataDir`: `LOCAL_CLOUD_TOKEN` when set, else its token file;
 * undefined when neither exists (no local cloud has run there).
 */
function readLocalToken(options: { dataDir?: string; env?: Record<string, string | undefined> } = {}): string | undefined {
  const env = options.env ?? process.env;
  const fromEnv = env[TOKEN_VARIABLE];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const dataDir = options.dataDir ?? (env.LOCAL_DATA_DIR || '.local');
  try {
    return readFileSync(join(dataDir, TOKEN_FILE), 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The headers of a `/_local/*` request: the token and a JSON content type. */
function controlHeaders(token: string | undefined): Record<string, string> {
  return { 'content-type': 'application/json', ...(token === undefined ? {} : { [TOKEN_HEADER]: token }) };
}

export { TOKEN_FILE, TOKEN_HEADER, TOKEN_VARIABLE, controlHeaders, createLocalToken, readLocalToken };
