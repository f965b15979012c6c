/**
 * One local cloud per data directory: LevelDB refuses a second opener and kinesalite turns that
 * refusal into an uncaught exception, so the directory is claimed up front with a lock file holding
 * the owner's pid and start time. A lock whose owner is gone is taken over:
 *
 * - killed (`kill -9`, a crash): no process has that pid;
 * - a zombie: a process that exited but that its parent has not reaped yet (`npm start` killed with -9 leaves
 *   one for a moment) still answers `kill(pid, 0)`, yet its files, LevelDB's locks included, are closed: dead;
 * - pid reuse: another process got the pid since; its start time (field 22 of `/proc/<pid>/stat`, clock ticks
 *   since boot, proc(5)) differs: the owner is gone.
 *
 * The file is written whole before it appears (a temporary file `link(2)`ed into place, which fails if a lock
 * exists), so a reader never sees half of one; a stale one is moved aside with `rename(2)` before it is removed,
 * so two processes taking it over at once cannot both win.
 */
import { existsSync, linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EmulatorsStartError } from '../util/errors.ts';

const LOCK_FILE = '.emulators.lock';
const heldHere = new Set<string>();

/** Who holds a lock: its pid and, on Linux, its start time (undefined in a lock written by an older version). */
interface LockOwner {
  pid: number;
  startTime?: string;
}

/** `/proc/<pid>/stat` after the command name (which may hold spaces and parentheses): [state, ppid, ...]. */
function procStatFields(pid: number): string[] | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/** Field 22 of `/proc/<pid>/stat` (starttime), undefined without /proc or such a process. */
function processStartTime(pid: number): string | undefined {
  return procStatFields(pid)?.[22 - 3];
}

/** Whether process `pid` still runs: not gone, not a zombie (Linux /proc); elsewhere kill(pid, 0), EPERM meaning another user's. */
function isAlive(pid: number): boolean {
  const fields = procStatFields(pid);
  if (fields !== undefined) return fields[0] !== 'Z' && fields[0] !== 'X';
  if (existsSync('/proc/self/stat')) return false; // Linux: no /proc entry, no process
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the process that wrote `owner` still runs (the same process: same start time when it was recorded). */
function isOwnerAlive(owner: LockOwner): boolean {
  if (!isAlive(owner.pid)) return false;
  if (owner.startTime === undefined) return true;
  const now = processStartTime(owner.pid);
  return now === undefined || now === owner.startTime;
}

/** A lock file's owner: `{"pid":N,"startTime":"T"}`, or a bare pid (older versions); undefined for anything else. */
function parseOwner(text: string): LockOwner | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value === 'number' && Number.isInteger(value)) return { pid: value };
    const { pid, startTime } = (value ?? {}) as { pid?: unknown; startTime?: unknown };
    if (typeof pid !== 'number' || !Number.isInteger(pid)) return undefined;
    return typeof startTime === 'string' ? { pid, startTime } : { pid };
  } catch {
    return undefined;
  }
}

/** This process as a lock owner. */
function currentOwner(): LockOwner {
  const startTime = processStartTime(process.pid);
  return startTime === undefined ? { pid: process.pid } : { pid: process.pid, startTime };
}

/** Creates `file` holding `text`, whole, or throws EEXIST (link(2) never replaces). */
function createWhole(file: string, text: string): void {
  const temporary = `${file}.${process.pid}.new`;
  writeFileSync(temporary, text);
  try {
    linkSync(temporary, file);
  } finally {
    rmSync(temporary, { force: true });
  }
}

/** Removes a stale lock whose content was `seen`; one that changed meanwhile (a new owner's) is put back. */
function removeStale(file: string, seen: string): void {
  const aside = `${file}.${process.pid}.stale`;
  try {
    renameSync(file, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // another process took it over first
    throw error;
  }
  try {
    if (readFileSync(aside, 'utf8') !== seen) createWhole(file, readFileSync(aside, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    rmSync(aside, { force: true });
  }
}

/** Claims `dataDir`; the returned function releases it. @throws EmulatorsStartError when in use */
function lockDataDir(dataDir: string): () => void {
  const directory = resolve(dataDir);
  const file = join(directory, LOCK_FILE);
  if (heldHere.has(directory)) {
    throw new EmulatorsStartError(`dataDir ${directory} is already used by emulators running in this process (call stop() first)`);
  }
  const mine = JSON.stringify(currentOwner());
  for (let attempt = 0; attempt < 3; attempt += 1) {
    try {
      createWhole(file, mine);
      heldHere.add(directory);
      return () => {
        heldHere.delete(directory);
        // Only our own lock: never one another process holds.
        const current = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
        if (current === mine) rmSync(file, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let seen: string;
    try {
      seen = readFileSync(file, 'utf8');
    } catch {
      continue; // released meanwhile
    }
    const owner = parseOwner(seen);
    if (owner !== undefined && owner.pid !== process.pid && isOwnerAlive(owner)) {
      throw new EmulatorsStartError(`dataDir ${directory} is in use by process ${owner.pid} (another \`npm start\`?)`);
    }
    removeStale(file, seen); // its process is gone (or is a zombie, or its pid was reused)
  }
  throw new EmulatorsStartError(`could not lock dataDir ${directory}`);
}

export { LOCK_FILE, isAlive, isOwnerAlive, lockDataDir, parseOwner, processStartTime };

