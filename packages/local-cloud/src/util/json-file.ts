import { open } from 'node:fs/promises';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** Reads a JSON file written by {@link writeJsonFileAtomic}; `fallback` when it does not exist. */
function readJsonFile<T>(path: string, fallback: T): T {
  if (!existsSync(path)) return fallback;
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/**
 * Writes JSON through a temporary file and a rename, so a crash (even `kill -9`) or a power cut leaves either
 * the old or the new content on disk, never half of one (see {@link writeTextFileAtomic}).
 */
function writeJsonFileAtomic(path: string, value: unknown): void {
  writeTextFileAtomic(path, JSON.stringify(value, null, 2));
}

/** Flushes a directory's entries (a rename inside it) to disk; a file system that cannot (EINVAL, EISDIR) is left be. */
function fsyncDirectory(directory: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(directory, 'r');
    fsyncSync(fd);
  } catch (error) {
    if (!['EINVAL', 'EISDIR', 'EPERM', 'EBADF'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Writes text durably: a temporary file beside it, fsync, rename over the old one, fsync of the directory
 * (rename(2) replaces atomically; without the two fsyncs a power cut can leave an empty file, ext4's
 * "data=ordered" notwithstanding). `mode` applies to the new file from its creation (0o600: owner only).
 */
function writeTextFileAtomic(path: string, text: string, options: { mode?: number } = {}): void {
  ensureParentDirectory(path);
  const temporary = `${path}.${process.pid}.tmp`;
  const fd = openSync(temporary, 'w', options.mode ?? 0o666);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
  fsyncDirectory(dirname(path));
}

/** {@link writeTextFileAtomic} without blocking the event loop on the fsyncs (a poller's checkpoint per batch). */
async function writeTextFileAtomicAsync(path: string, text: string): Promise<void> {
  ensureParentDirectory(path);
  const temporary = `${path}.${process.pid}.tmp`;
  const file = await open(temporary, 'w');
  try {
    await file.writeFile(text);
    await file.sync();
  } finally {
    await file.close();
  }
  renameSync(temporary, path);
  const directory = await open(dirname(path), 'r').catch(() => undefined);
  try {
    await directory?.sync().catch(() => undefined); // a file system that cannot fsync a directory
  } finally {
    await directory?.close();
  }
}

/** Creates the directory a file goes in. */
function ensureParentDirectory(path: string): string {
  mkdirSync(dirname(path), { recursive: true });
  return path;
}

/** Removes a file if it exists. */
function removeFile(path: string): void {
  rmSync(path, { force: true });
}

export { ensureParentDirectory, readJsonFile, removeFile, writeJsonFileAtomic, writeTextFileAtomic, writeTextFileAtomicAsync };
