import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

interface LockEntry {
  version?: string;
  resolved?: string;
  hasInstallScript?: boolean;
  optional?: boolean;
  os?: string[];
  cpu?: string[];
}

const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as { packages: Record<string, LockEntry> };
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { allowScripts: Record<string, boolean> };
const nameOf = (path: string): string => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);

describe('Starter: npm ci needs the npm registry only', () => {
  it('runs no install script but those package.json allowScripts lists: nothing downloads a binary from elsewhere at install', () => {
    // Prepare
    const withScripts = Object.entries(lock.packages).filter(([, entry]) => entry.hasInstallScript === true).map(([path]) => nameOf(path));

    // Assess
    expect(withScripts.filter((name) => !(name in pkg.allowScripts))).toEqual([]);
  });

  // slice-begin:analytics
  it("brings DuckDB's native engine (lake:query) as prebuilt registry packages, one per platform, without an install script", () => {
    // Prepare
    const bindings = Object.entries(lock.packages).filter(([path]) => /node_modules\/@duckdb\/node-bindings-/.test(path));

    // Assess: the binding of this machine and CI (linux x64) is among them
    expect(bindings.map(([path]) => nameOf(path))).toContain('@duckdb/node-bindings-linux-x64');
    for (const [path, entry] of bindings) {
      expect(entry, path).toMatchObject({ optional: true });
      expect(entry.hasInstallScript, path).toBeUndefined();
      expect(entry.os?.length, path).toBe(1);
    }
    expect(lock.packages['node_modules/@duckdb/node-bindings']?.hasInstallScript).toBeUndefined();
  });
  // slice-end:analytics

  it('resolves every downloaded package from the npm registry, when the lockfile names where (workspaces are links)', () => {
    const elsewhere = Object.entries(lock.packages).filter(([, entry]) => /^[a-z+]+:/.test(entry.resolved ?? '') && !(entry.resolved ?? '').startsWith('https://registry.npmjs.org/'));
    expect(elsewhere).toEqual([]);
  });
});
