/**
 * Claiming a data directory: the lock first (data-lock.ts), then the marker that says the directory is the
 * local cloud's, then, with `--fresh`, the removal of the local cloud's own subfolders and of nothing else.
 *
 * - A running local cloud's state is never wiped: `--fresh` waits for nothing and deletes nothing while another
 *   process holds the lock (it fails with "in use by process N").
 * - A directory that is not the local cloud's is never wiped: `--fresh` deletes only in a directory holding the
 *   marker `.local-cloud`, which is written when the directory is new (or holds only the local cloud's own
 *   entries, as one written by an older version does). `--data-dir ~` or `--data-dir .` cannot lose a file.
 *
 * @example
 * const claim = claimDataDir('.local', { fresh: true });
 * try { ... } finally { claim.release(); }
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EmulatorsStartError } from '../util/errors.ts';
import { writeTextFileAtomic } from '../util/json-file.ts';
import { LOCK_FILE, lockDataDir } from './data-lock.ts';

/** The marker file of a data directory the local cloud owns. */
const MARKER_FILE = '.local-cloud';

/** Subfolders of the data directory, one per emulator (emulators.ts). */
const STATE_FOLDERS = {
  fauxqs: 'fauxqs',
  kinesalite: 'kinesalite',
  dynalite: 'dynalite',
  firehose: 'firehose',
  glue: 'glue',
  edge: 'edge',
} as const;

/** The Kinesis pollers' checkpoints (event-sources/kinesis.ts). */
const CHECKPOINTS_FOLDER = 'event-source-mappings';

/** The local token issuer's signing key and issuer.json (auth/issuer.ts). */
const ISSUER_FOLDER = 'issuer';

/** The subfolders the local cloud writes, the only ones `--fresh` removes. */
const OWN_FOLDERS: readonly string[] = [...Object.values(STATE_FOLDERS), CHECKPOINTS_FOLDER, ISSUER_FOLDER];

interface DataDirClaim {
  /** The absolute data directory. */
  dataDir: string;
  /** The subfolders `fresh` removed. */
  wiped: string[];
  /** Releases the lock (idempotent). */
  release(): void;
}

/** Whether `entry` of a data directory is one the local cloud writes (its lock's temporary names included). */
function isOwnEntry(entry: string): boolean {
  return OWN_FOLDERS.includes(entry) || entry === MARKER_FILE || entry.startsWith(LOCK_FILE);
}

/**
 * Locks `dataDir` (creating it), marks it as the local cloud's when it may, and with `fresh` removes the
 * local cloud's subfolders.
 * @throws EmulatorsStartError when another process holds it, or `fresh` is asked of a directory that is not the local cloud's
 */
function claimDataDir(dataDir: string, options: { fresh?: boolean } = {}): DataDirClaim {
  const directory = resolve(dataDir);
  mkdirSync(directory, { recursive: true });
  const unlock = lockDataDir(directory);
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    unlock();
  };
  try {
    const foreign = readdirSync(directory).filter((entry) => !isOwnEntry(entry));
    const marked = existsSync(join(directory, MARKER_FILE));
    if (!marked && foreign.length === 0) {
      writeTextFileAtomic(
        join(directory, MARKER_FILE),
        `This directory holds a local cloud's state (local-cloud). --fresh removes its subfolders ${OWN_FOLDERS.join(', ')} and nothing else.\n`,
      );
    }
    const wiped: string[] = [];
    if (options.fresh === true) {
      if (!marked && foreign.length > 0) {
        throw new EmulatorsStartError(
          `--fresh will not wipe ${directory}: it is not a local cloud data directory (no ${MARKER_FILE} file, and it holds ${foreign.slice(0, 5).join(', ')}${foreign.length > 5 ? ', ...' : ''}). Choose another --data-dir, or remove its local cloud subfolders (${OWN_FOLDERS.join(', ')}) yourself`,
        );
      }
      for (const folder of OWN_FOLDERS) {
        if (!existsSync(join(directory, folder))) continue;
        rmSync(join(directory, folder), { recursive: true, force: true });
        wiped.push(folder);
      }
    }
    return { dataDir: directory, wiped, release };
  } catch (error) {
    release();
    throw error;
  }
}

export { CHECKPOINTS_FOLDER, MARKER_FILE, OWN_FOLDERS, STATE_FOLDERS, claimDataDir, ISSUER_FOLDER };
export type { DataDirClaim };
