/**
 * One local cloud per data directory: LevelDB refuses a second opener and kinesalite turns that
 * refusal into an uncaught exception, so the directory is claimed up front with a PID file. A
 * file left by a process that died (`kill -9`) is taken over.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EmulatorsStartError } from '../util/errors.ts';

const LOCK_FILE = '.emulators.lock';
const heldHere = new Set<string>();

/** Whether process `pid` still runs (EPERM: it runs, as another user). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Claims `dataDir`; the returned function releases it. @throws EmulatorsStartError when in use */
function lockDataDir(dataDir: string): () => void {
  const directory = resolve(dataDir);
  const file = join(directory, LOCK_FILE);
  if (heldHere.has(directory)) {
    throw new EmulatorsStartError(`dataDir ${directory} is already used by emulators running in this process (call stop() first)`);
  }
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      heldHere.add(directory);
      return () => {
        heldHere.delete(directory);
        rmSync(file, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number.parseInt(readFileSync(file, 'utf8'), 10);
      if (Number.isInteger(owner) && owner !== process.pid && isAlive(owner)) {
        throw new EmulatorsStartError(`dataDir ${directory} is in use by process ${owner} (another \`npm start\`?)`);
      }
      rmSync(file, { force: true }); // stale: its process is gone
    }
  }
  throw new EmulatorsStartError(`could not lock dataDir ${directory}`);
}

export { LOCK_FILE, isAlive, lockDataDir };
