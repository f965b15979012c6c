import { readFileSync } from 'node:fs';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

interface Lockfile {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[]; dev?: boolean; optional?: boolean }>;
}

/** The Node major the README's quick start names ("Node 24 and npm 11"). */
const namedNode = (): number => {
  const readme = readFileSync('README.md', 'utf8');
  const quickStart = readme.slice(readme.indexOf('## Quick start'));
  const match = /^Node (\d+) and npm (\d+)/m.exec(quickStart);
  if (!match) throw new Error('README.md: the quick start does not open with "Node <major> and npm <major>"');
  return Number(match[1]);
};

describe('Starter: a clean install on the Node the README names', () => {
  it('every package in the lockfile accepts that Node in engines.node (npm prints no EBADENGINE warning)', () => {
    // Prepare
    const major = namedNode();
    const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as Lockfile;

    // Act: the first release of that major, the lowest Node the README lets a reader bring
    const refused = Object.entries(lock.packages)
      .map(([path, entry]) => ({ path: path || '(root)', range: Array.isArray(entry.engines) ? undefined : entry.engines?.node }))
      .filter((entry): entry is { path: string; range: string } => entry.range !== undefined)
      .filter(({ range }) => !semver.satisfies(`${major}.0.0`, range, { includePrerelease: false }));

    // Assess
    expect(refused).toEqual([]);
  });

  it('names the Node the project brings (the `node` devDependency) and the one package.json engines asks for', () => {
    // Prepare
    const major = namedNode();
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string }; devDependencies: Record<string, string> };

    // Assess
    expect(semver.minVersion(pkg.devDependencies.node as string)?.major).toBe(major);
    expect(semver.minVersion(pkg.engines.node)?.major).toBe(major);
  });
});
