import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Reads a JSON file written by {@link writeJsonFileAtomic}; `fallback` when it does not exist. */
function readJsonFile<T>(path: string, fallback: T): T {
  if (!existsSync(path)) return fallback;
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/**
 * Writes JSON through a temporary file and a rename, so a crash (even `kill -9`) leaves either
 * the old or the new content on disk, never half of one.
 */
function writeJsonFileAtomic(path: string, value: unknown): void {
  writeTextFileAtomic(path, JSON.stringify(value, null, 2));
}

/** Writes text through a temporary file and a rename (see {@link writeJsonFileAtomic}). */
function writeTextFileAtomic(path: string, text: string): void {
  ensureParentDirectory(path);
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, text);
  renameSync(temporary, path);
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

export { ensureParentDirectory, readJsonFile, removeFile, writeJsonFileAtomic, writeTextFileAtomic };
