/**
 * The data directory's state: files written durably, the lock, `--fresh`.
 */
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeTextFileAtomic, writeTextFileAtomicAsync } from '../src/util/json-file.ts';

describe('json-file: durable writes', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'local-json-file-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('replaces a file whole, leaves no temporary file, creates it with the mode asked for', async () => {
    // Prepare
    const file = join(dir, 'edge', 'token');

    // Act
    writeTextFileAtomic(file, 'old', { mode: 0o600 });
    writeTextFileAtomic(file, 'new', { mode: 0o600 });
    await writeTextFileAtomicAsync(join(dir, 'checkpoint.json'), '{"a":1}');

    // Assess
    expect(await readFile(file, 'utf8')).toBe('new');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readFile(join(dir, 'checkpoint.json'), 'utf8')).toBe('{"a":1}');
    expect((await readdir(dir, { recursive: true })).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });
});
