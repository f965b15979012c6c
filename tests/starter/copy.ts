import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const repositoryRoot = resolve(import.meta.dirname, '../..');

/** A copy of the repository as a new adopter gets it: the files git knows about, node_modules linked. */
const copyRepository = (prefix = 'orderflow-init-'): string => {
  const copy = mkdtempSync(join(tmpdir(), prefix));
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: repositoryRoot, encoding: 'utf8' })
    .split('\0')
    .filter(Boolean);
  for (const file of files) {
    mkdirSync(dirname(join(copy, file)), { recursive: true });
    try {
      cpSync(join(repositoryRoot, file), join(copy, file));
    } catch {
      // a file deleted in the working tree but still in the index: an adopter would not have it either
    }
  }
  symlinkSync(join(repositoryRoot, 'node_modules'), join(copy, 'node_modules'), 'dir');
  return copy;
};

/** Runs a command in the copy, CI-like (no colours), and returns its exit status and both outputs. */
const run = (cwd: string, command: string, args: string[], timeout = 240_000): { status: number | null; output: string } => {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout, env: { ...process.env, CI: 'true', FORCE_COLOR: '0' } });
  return { status: result.status, output: `${result.stdout}\n${result.stderr}` };
};

export { copyRepository, repositoryRoot, run };
