/**
 * The data directory's state: files written durably, the lock (kill -9, zombies, pid reuse), `--fresh`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MARKER_FILE, OWN_FOLDERS, claimDataDir } from '../src/emulators/data-dir.ts';
import { LOCK_FILE, isAlive, isOwnerAlive, lockDataDir, parseOwner, processStartTime } from '../src/emulators/data-lock.ts';
import { writeTextFileAtomic, writeTextFileAtomicAsync } from '../src/util/json-file.ts';
import { waitFor } from '../src/util/wait.ts';

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

describe('data-lock: one local cloud per data directory', () => {
  let dir: string;
  const children: ChildProcess[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'local-data-lock-'));
  });

  afterEach(async () => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  /** A lock file as another process would have written it. */
  const lockedBy = async (owner: { pid: number; startTime?: string }): Promise<void> => writeFile(join(dir, LOCK_FILE), JSON.stringify(owner));

  /** Spawns `command` and answers its pid once /proc shows it (and its start time). */
  const spawned = async (command: string, args: string[]): Promise<{ child: ChildProcess; pid: number; startTime: string }> => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    children.push(child);
    const pid = child.pid as number;
    const startTime = await waitFor(() => processStartTime(pid), { what: 'the process start time', timeoutMs: 5000, intervalMs: 20 });
    return { child, pid, startTime };
  };

  it('refuses a directory a running process holds, naming it, and takes it over once that process is killed (kill -9)', async () => {
    // Prepare
    const owner = await spawned('sleep', ['30']);
    await lockedBy({ pid: owner.pid, startTime: owner.startTime });

    // Act
    let whileAlive: unknown;
    try {
      lockDataDir(dir);
    } catch (error) {
      whileAlive = error;
    }
    owner.child.kill('SIGKILL');
    await waitFor(() => !isAlive(owner.pid), { what: 'the owner to exit', timeoutMs: 5000, intervalMs: 20 });
    const release = lockDataDir(dir);

    // Assess
    expect((whileAlive as Error).message).toBe(`dataDir ${dir} is in use by process ${owner.pid} (another \`npm start\`?)`);
    expect(JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8'))).toEqual({ pid: process.pid, startTime: processStartTime(process.pid) });
    release();
    expect(await readdir(dir)).toEqual([]);
  });

  it('takes over a lock whose owner is a zombie (exited, not reaped by its parent yet)', async () => {
    // Prepare: `sleep 0` exits at once; its parent execs `sleep 30`, which never reaps it.
    const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
    children.push(parent);
    const zombie = Number((await new Promise<Buffer>((resolve) => parent.stdout?.once('data', resolve))).toString().trim());
    const startTime = await waitFor(() => (readFileSync(`/proc/${zombie}/stat`, 'utf8').includes(') Z ') ? processStartTime(zombie) : undefined), { what: 'a zombie process', timeoutMs: 5000, intervalMs: 20 });
    await lockedBy({ pid: zombie, startTime });

    // Act
    const release = lockDataDir(dir);

    // Assess: kill(pid, 0) still succeeds on a zombie; the lock does not count it as alive.
    expect(() => process.kill(zombie, 0)).not.toThrow();
    expect(isAlive(zombie)).toBe(false);
    release();
  });

  it('takes over a lock whose pid now belongs to another process (pid reuse: another start time)', async () => {
    // Prepare: a live pid (our parent) with a start time it never had.
    await lockedBy({ pid: process.ppid, startTime: '1' });

    // Act
    const release = lockDataDir(dir);

    // Assess
    expect(isOwnerAlive({ pid: process.ppid, startTime: '1' })).toBe(false);
    expect(isOwnerAlive({ pid: process.ppid, startTime: processStartTime(process.ppid) as string })).toBe(true);
    release();
  });

  it('reads the bare pid an older version wrote', () => {
    // Assess
    expect(parseOwner('1234')).toEqual({ pid: 1234 });
    expect(parseOwner('{"pid":1234,"startTime":"99"}')).toEqual({ pid: 1234, startTime: '99' });
    expect(parseOwner('')).toBeUndefined();
    expect(parseOwner('{"pid":"x"}')).toBeUndefined();
  });
});

describe('data-dir: --fresh', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'local-data-dir-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Some state in every folder the local cloud writes. */
  const someState = async (root: string): Promise<void> => {
    for (const folder of OWN_FOLDERS) {
      await mkdir(join(root, folder), { recursive: true });
      await writeFile(join(root, folder, 'state'), 'x');
    }
  };

  it('marks a new directory as the local cloud\'s, and then removes only its own subfolders', async () => {
    // Prepare
    const dataDir = join(dir, 'state');
    claimDataDir(dataDir).release();
    await someState(dataDir);
    await writeFile(join(dataDir, 'notes.txt'), 'mine');

    // Act
    const claim = claimDataDir(dataDir, { fresh: true });
    claim.release();

    // Assess
    expect(claim.wiped.sort()).toEqual([...OWN_FOLDERS].sort());
    expect((await readdir(dataDir)).sort()).toEqual([MARKER_FILE, 'notes.txt']);
  });

  it('refuses to wipe a directory that is not the local cloud\'s (no marker, other files), and deletes nothing', async () => {
    // Prepare: `--data-dir .` in a project.
    await someState(dir);
    await writeFile(join(dir, 'package.json'), '{}');

    // Act
    const fresh = (): unknown => claimDataDir(dir, { fresh: true });

    // Assess
    expect(fresh).toThrow(`--fresh will not wipe ${dir}: it is not a local cloud data directory (no ${MARKER_FILE} file, and it holds package.json)`);
    expect((await readdir(dir)).sort()).toEqual([...OWN_FOLDERS, 'package.json'].sort());
    expect(() => lockDataDir(dir)()).not.toThrow(); // the refusal released the lock
  });

  it('adopts a directory an older version wrote (only its own entries, no marker)', async () => {
    // Prepare
    await someState(dir);

    // Act
    claimDataDir(dir, { fresh: true }).release();

    // Assess
    expect(await readdir(dir)).toEqual([MARKER_FILE]);
  });

  it('takes the lock before wiping: the state of a local cloud running on the directory stays whole', async () => {
    // Prepare: a live process (our parent) holds the lock.
    claimDataDir(dir).release();
    await someState(dir);
    await writeFile(join(dir, LOCK_FILE), JSON.stringify({ pid: process.ppid, startTime: processStartTime(process.ppid) }));

    // Act
    const fresh = (): unknown => claimDataDir(dir, { fresh: true });

    // Assess
    expect(fresh).toThrow(`is in use by process ${process.ppid}`);
    expect((await readdir(dir)).sort()).toEqual([...OWN_FOLDERS, LOCK_FILE, MARKER_FILE].sort());
  });
});
