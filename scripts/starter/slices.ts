// Slices: parts of the service an adopter may not want (`npm run init -- --without analytics`). What each slice is
// made of is declared in one file, slices.yml at the root of the repository; this module reads it, checks it
// against the checkout, and takes a slice out: serverless.yml keys and functions, resources (and every list item,
// environment variable, DependsOn or output that refers to them, found structurally), files, tests, package.json
// scripts and dependencies, and the lines between `slice-begin:<name>` and `slice-end:<name>` markers (or one line
// with `slice-line:<name>`) in the files the slice lists as `marked`.
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { parseDocument } from 'yaml';
import { deleteKeys, dropFileIncludes, fileIncludes, inlineSections, pruneReferences, YamlEditError } from './yaml-edit.ts';

const MANIFEST = 'slices.yml';
const SERVICE = 'serverless.yml';

/** A slice as slices.yml declares it. */
interface Slice {
  name: string;
  summary: string;
  /** serverless.yml functions; each takes functions/<name>.ts and tests/unit/functions/<name>.test.ts with it. */
  functions: string[];
  /** Logical ids of resources and outputs, in serverless.yml or any file it includes under `resources`. */
  resources: string[];
  /** Other YAML keys to delete, per file, as dotted paths (`params.default.lakeBufferMiB`). */
  keys: Record<string, string[]>;
  /** Files and directories to delete (a resources/*.yml here also leaves serverless.yml's `resources` list). */
  files: string[];
  tests: string[];
  /** package.json scripts and dependencies to delete. */
  scripts: string[];
  dependencies: string[];
  /** Files holding `slice-begin:<name>` ... `slice-end:<name>` blocks or `slice-line:<name>` lines. */
  marked: string[];
  /** Other names (queue names, params) that must not be left in any file once the slice is out. */
  names: string[];
}

/** slices.yml is wrong, or names a slice that is not there; the message names the entry at fault. */
class SliceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SliceError';
  }
}

const LIST_FIELDS = ['functions', 'resources', 'files', 'tests', 'scripts', 'dependencies', 'marked', 'names'] as const;

const stringList = (value: unknown, where: string): string[] => {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) throw new SliceError(`${MANIFEST}: ${where} must be a list of strings`);
  return value as string[];
};

/**
 * The slices declared in slices.yml, checked for shape (not yet against the checkout: see `checkSlices`).
 *
 * @example
 * readSlices('.').map((slice) => slice.name); // ['analytics', 'imports', 'reviews']
 */
const readSlices = (root: string): Slice[] => {
  const path = join(root, MANIFEST);
  if (!existsSync(path)) throw new SliceError(`${MANIFEST} is missing: this checkout has no slices to take out`);
  const doc = parseDocument(readFileSync(path, 'utf8'));
  if (doc.errors.length > 0) throw new SliceError(`${MANIFEST}: ${doc.errors[0]?.message}`);
  const slices = (doc.toJS() as { slices?: Record<string, Record<string, unknown>> } | null)?.slices ?? {};
  return Object.entries(slices).map(([name, entry]) => {
    if (!/^[a-z][a-z0-9-]*$/.test(name)) throw new SliceError(`${MANIFEST}: slices.${name}: a slice name is lowercase letters, digits and hyphens`);
    const known = new Set<string>(['summary', 'keys', ...LIST_FIELDS]);
    const unknown = Object.keys(entry ?? {}).find((key) => !known.has(key));
    if (unknown) throw new SliceError(`${MANIFEST}: slices.${name}.${unknown} is not a slice field (${[...known].join(', ')})`);
    const keys = (entry?.keys ?? {}) as Record<string, unknown>;
    const lists = Object.fromEntries(LIST_FIELDS.map((field) => [field, stringList(entry?.[field], `slices.${name}.${field}`)])) as Record<(typeof LIST_FIELDS)[number], string[]>;
    return {
      name,
      summary: String(entry?.summary ?? ''),
      keys: Object.fromEntries(Object.entries(keys).map(([file, paths]) => [file, stringList(paths, `slices.${name}.keys.${file}`)])),
      ...lists,
    };
  });
};

/**
 * The slices named on the command line (`--without analytics --without imports,reviews`), or a SliceError naming
 * the unknown one and listing the known ones.
 */
const selectSlices = (all: Slice[], requested: readonly string[]): Slice[] => {
  const names = [...new Set(requested.flatMap((value) => value.split(',')).map((name) => name.trim()).filter(Boolean))];
  return names.map((name) => {
    const slice = all.find((candidate) => candidate.name === name);
    if (!slice) {
      const known = all.map((candidate) => candidate.name);
      throw new SliceError(`unknown slice "${name}": the slices of this checkout are ${known.length > 0 ? known.join(', ') : 'none (all taken out already)'} (${MANIFEST})`);
    }
    return slice;
  });
};

// ---------------------------------------------------------------------------------------------------------------
// The checkout as init sees it: files in memory until everything checked out
// ---------------------------------------------------------------------------------------------------------------

class Workspace {
  readonly root: string;
  private readonly texts = new Map<string, string | null>();
  constructor(root: string) {
    this.root = root;
  }
  exists(file: string): boolean {
    const cached = this.texts.get(file);
    return cached === undefined ? existsSync(join(this.root, file)) : cached !== null;
  }
  read(file: string): string {
    const cached = this.texts.get(file);
    if (cached === null) throw new SliceError(`${file} was deleted by an earlier step`);
    return cached ?? readFileSync(join(this.root, file), 'utf8');
  }
  write(file: string, text: string): void {
    if (text !== this.read(file)) this.texts.set(file, text);
  }
  remove(file: string): void {
    this.texts.set(file, null);
  }
  changed(): string[] {
    return [...this.texts.keys()];
  }
  commit(): void {
    for (const [file, text] of this.texts) {
      const path = join(this.root, file);
      if (text === null) rmSync(path, { recursive: true, force: true });
      else writeFileSync(path, text);
    }
  }
}

/** The resources files serverless.yml includes (`${file(resources/x.yml)}` items of its `resources` list). */
const resourceFiles = (ws: Workspace): string[] => fileIncludes(SERVICE, ws.read(SERVICE), 'resources').filter((file) => ws.exists(file));

/** Where each logical id is defined: a resources file's `Resources`, or an inline section of serverless.yml. */
const definitions = (ws: Workspace): Map<string, { file: string; path: string }> => {
  const found = new Map<string, { file: string; path: string }>();
  for (const file of resourceFiles(ws)) {
    const doc = parseDocument(ws.read(file)).toJS() as Record<string, Record<string, unknown> | undefined> | null;
    for (const section of ['Resources', 'Outputs', 'Conditions']) for (const id of Object.keys(doc?.[section] ?? {})) found.set(id, { file, path: `${section}.${id}` });
  }
  for (const { index, section, ids } of inlineSections(SERVICE, ws.read(SERVICE), 'resources')) {
    for (const id of ids) found.set(id, { file: SERVICE, path: `resources[${index}].${section}.${id}` });
  }
  return found;
};

const functionFiles = (name: string): string[] => [`functions/${name}.ts`, `tests/unit/functions/${name}.test.ts`];

const MARKER = /slice-(begin|end|line):([a-z0-9,-]+)/;

const markedSlices = (line: string): { kind: string; names: string[] } | undefined => {
  const match = MARKER.exec(line);
  return match ? { kind: match[1] ?? '', names: (match[2] ?? '').split(',') } : undefined;
};

/**
 * The text without the slice's marked lines: `slice-begin:<name>` through `slice-end:<name>` (markers included),
 * and every line holding `slice-line:<name>`. Throws naming the line of an unbalanced marker.
 *
 * @example
 * withoutMarked('a\n<!-- slice-begin:reviews -->\nb\n<!-- slice-end:reviews -->\nc\n', 'reviews', 'README.md'); // 'a\nc\n'
 */
const withoutMarked = (text: string, slice: string, file: string): string => {
  const kept: string[] = [];
  let openedAt: number | undefined;
  let cut = false;
  text.split('\n').forEach((line, index) => {
    const marker = markedSlices(line);
    const mine = marker?.names.includes(slice) ?? false;
    if (mine && marker?.kind === 'begin') {
      cut = true;
      if (openedAt !== undefined) throw new SliceError(`${file}:${index + 1}: slice-begin:${slice} inside the block opened at line ${openedAt + 1}`);
      openedAt = index;
      return;
    }
    if (mine && marker?.kind === 'end') {
      if (openedAt === undefined) throw new SliceError(`${file}:${index + 1}: slice-end:${slice} without a slice-begin:${slice} above`);
      openedAt = undefined;
      return;
    }
    if (openedAt !== undefined || (mine && marker?.kind === 'line')) {
      cut = true;
      return;
    }
    // a block cut from between two blank lines leaves one of them
    if (cut && line.trim() === '' && kept.at(-1)?.trim() === '') return;
    cut = false;
    kept.push(line);
  });
  if (openedAt !== undefined) throw new SliceError(`${file}:${openedAt + 1}: slice-begin:${slice} is never closed by slice-end:${slice}`);
  return kept.join('\n');
};

// ---------------------------------------------------------------------------------------------------------------
// Checking slices.yml against the checkout
// ---------------------------------------------------------------------------------------------------------------

/**
 * Every problem of slices.yml against the checkout at `root`: a function, resource, key, file, script or dependency
 * it names that is not there, a marked file without the slice's markers, markers of a slice in a file the slice
 * does not list. Empty when init can take any slice out.
 */
const checkSlices = (root: string, slices: Slice[] = readSlices(root)): string[] => {
  const ws = new Workspace(root);
  const problems: string[] = [];
  const service = parseDocument(ws.read(SERVICE)).toJS() as { functions?: Record<string, unknown> };
  const defined = definitions(ws);
  const pkg = JSON.parse(ws.read('package.json')) as { scripts?: Record<string, string>; dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
  for (const slice of slices) {
    const at = `slices.${slice.name}`;
    for (const fn of slice.functions) if (!service.functions?.[fn]) problems.push(`${at}.functions: ${fn} is not a function of ${SERVICE}`);
    for (const id of slice.resources) if (!defined.has(id)) problems.push(`${at}.resources: ${id} is defined in none of ${SERVICE} and ${resourceFiles(ws).join(', ')}`);
    for (const [file, paths] of Object.entries(slice.keys)) {
      if (!ws.exists(file)) problems.push(`${at}.keys: ${file} does not exist`);
      else for (const path of paths) if (deleteKeysProblem(file, ws.read(file), path)) problems.push(`${at}.keys.${file}: no key ${path}`);
    }
    for (const file of [...slice.files, ...slice.tests, ...slice.marked]) if (!ws.exists(file)) problems.push(`${at}: ${file} does not exist`);
    for (const script of slice.scripts) if (!pkg.scripts?.[script]) problems.push(`${at}.scripts: package.json has no script ${script}`);
    for (const dep of slice.dependencies) if (!pkg.dependencies?.[dep] && !pkg.devDependencies?.[dep]) problems.push(`${at}.dependencies: package.json has no dependency ${dep}`);
    for (const file of slice.marked) {
      if (!ws.exists(file)) continue;
      const text = ws.read(file);
      if (!text.split('\n').some((line) => markedSlices(line)?.names.includes(slice.name))) problems.push(`${at}.marked: ${file} has no slice-*:${slice.name} marker`);
      try {
        withoutMarked(text, slice.name, file);
      } catch (error) {
        if (error instanceof SliceError) problems.push(error.message);
        else throw error;
      }
    }
  }
  for (const file of textFiles(root)) {
    for (const [index, line] of readFileSync(join(root, file), 'utf8').split('\n').entries()) {
      for (const name of markedSlices(line)?.names ?? []) {
        const slice = slices.find((candidate) => candidate.name === name);
        if (!slice) problems.push(`${file}:${index + 1}: marker of an unknown slice "${name}"`);
        else if (!slice.marked.includes(file)) problems.push(`${file}:${index + 1}: slice-*:${name} marker, but slices.${name}.marked does not list ${file}`);
      }
    }
  }
  return problems;
};

const deleteKeysProblem = (file: string, text: string, path: string): boolean => {
  try {
    deleteKeys(file, text, [path]);
    return false;
  } catch (error) {
    if (error instanceof YamlEditError) return true;
    throw error;
  }
};

// ---------------------------------------------------------------------------------------------------------------
// Taking slices out
// ---------------------------------------------------------------------------------------------------------------

interface Removal {
  /** One line per change, for the adopter. */
  changes: string[];
  /** Names that should no longer appear anywhere (checked by `staleReferences`). */
  removedNames: string[];
}

/**
 * Takes the slices out of the checkout at `root`. Everything is worked out in memory first: a problem (a resource
 * left behind that refers to a removed one, a marker out of balance) throws a SliceError and changes nothing.
 *
 * @example
 * removeSlices('.', ['analytics']).changes; // ['serverless.yml: functions.streamOrderEvents removed', ...]
 */
const removeSlices = (root: string, requested: readonly string[]): Removal => {
  const all = readSlices(root);
  const slices = selectSlices(all, requested);
  const problems = checkSlices(root, all);
  if (problems.length > 0) throw new SliceError(`${MANIFEST} does not match this checkout:\n  ${problems.join('\n  ')}`);
  const ws = new Workspace(root);
  const changes: string[] = [];
  const removedIds = new Set(slices.flatMap((slice) => slice.resources));
  const removedFiles = new Set(slices.flatMap((slice) => [...slice.files, ...slice.tests, ...slice.functions.flatMap(functionFiles).filter((file) => existsSync(join(root, file)))]));
  const defined = definitions(ws);

  // 1. functions and other keys
  const keys = new Map<string, string[]>();
  // a function or resource two slices need (auditImport: imports and analytics) is named by both; removed once
  const addKeys = (file: string, paths: string[]): void => void keys.set(file, [...new Set([...(keys.get(file) ?? []), ...paths])]);
  for (const slice of slices) {
    addKeys(SERVICE, slice.functions.map((fn) => `functions.${fn}`));
    for (const [file, paths] of Object.entries(slice.keys)) addKeys(file, paths);
  }
  // 2. resources, from the files that stay (a removed resources file takes its own with it)
  for (const id of removedIds) {
    const where = defined.get(id);
    if (!where || removedFiles.has(where.file)) continue;
    if (where.file === SERVICE) continue; // inline sections of serverless.yml: pruned below as references
    addKeys(where.file, [where.path]);
  }
  for (const [file, paths] of keys) {
    ws.write(file, deleteKeys(file, ws.read(file), paths));
    changes.push(...paths.map((path) => `${file}: ${path} removed`));
  }
  // 3. files
  for (const file of removedFiles) {
    ws.remove(file);
    changes.push(`${file} deleted`);
  }
  ws.write(SERVICE, dropFileIncludes(SERVICE, ws.read(SERVICE), 'resources', [...removedFiles]));
  // 4. what still refers to a removed resource
  const broken: string[] = [];
  const prune = (file: string, roots: (string | number)[][]): void => {
    const result = pruneReferences(file, ws.read(file), roots, removedIds);
    if (result.text !== ws.read(file)) changes.push(`${file}: references to removed resources dropped`);
    ws.write(file, result.text);
    broken.push(...result.broken.map(({ path, refersTo }) => `${path} refers to ${refersTo}`));
  };
  for (const file of resourceFiles(ws)) prune(file, [['Resources'], ['Outputs']]);
  prune(SERVICE, [['functions'], ['provider', 'environment'], ...inlineSections(SERVICE, ws.read(SERVICE), 'resources').map(({ index, section }) => ['resources', index, section])]);
  if (broken.length > 0) {
    throw new SliceError(`taking out ${slices.map((s) => s.name).join(', ')} would leave these referring to what it removes; add them to the slice in ${MANIFEST}:\n  ${broken.join('\n  ')}`);
  }
  // 5. marked lines
  for (const slice of slices) {
    for (const file of slice.marked) {
      if (!ws.exists(file)) continue;
      ws.write(file, withoutMarked(ws.read(file), slice.name, file));
      changes.push(`${file}: slice-*:${slice.name} sections removed`);
    }
  }
  // 6. package.json
  const scripts = slices.flatMap((slice) => slice.scripts);
  const dependencies = slices.flatMap((slice) => slice.dependencies);
  if (scripts.length + dependencies.length > 0) {
    const pkg = JSON.parse(ws.read('package.json')) as Record<string, Record<string, string> | undefined>;
    for (const script of scripts) delete pkg.scripts?.[script];
    for (const dep of dependencies) {
      delete pkg.dependencies?.[dep];
      delete pkg.devDependencies?.[dep];
    }
    ws.write('package.json', `${JSON.stringify(pkg, null, 2)}\n`);
    changes.push(...scripts.map((s) => `package.json: script ${s} removed`), ...dependencies.map((d) => `package.json: dependency ${d} removed (run npm install to update package-lock.json)`));
  }
  // 7. the slices leave the manifest: they are no longer there to take out
  ws.write(MANIFEST, deleteKeys(MANIFEST, ws.read(MANIFEST), slices.map((slice) => `slices.${slice.name}`)));
  ws.commit();
  const removedNames = slices.flatMap((slice) => [
    ...slice.functions,
    ...slice.resources,
    ...slice.names,
    ...Object.values(slice.keys).flat().map((path) => path.split('.').at(-1) ?? path),
    ...[...removedFiles].filter((file) => !file.endsWith('/')),
  ]);
  return { changes, removedNames: [...new Set(removedNames)] };
};

// ---------------------------------------------------------------------------------------------------------------
// What is left behind
// ---------------------------------------------------------------------------------------------------------------

const SKIPPED_DIRS = new Set(['node_modules', '.git', '.serverless', '.esbuild', 'reports', 'packages', 'coverage']);
const SKIPPED_FILES = new Set([MANIFEST, 'package-lock.json']);
/** init's own files and tests: they name markers and slices to describe them. */
const SKIPPED_PATHS = new Set(['scripts/starter/slices.ts', 'scripts/starter/yaml-edit.ts', 'tests/starter/slices.test.ts']);
const TEXT = /\.(ts|js|mjs|cjs|json|jsonc|ya?ml|md|html|css|sh)$|^run$/;

/** The application's text files (the local-cloud package, which knows nothing of orderflow, excluded). */
const textFiles = (root: string): string[] => {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!SKIPPED_DIRS.has(entry.name)) walk(path);
      } else if (TEXT.test(entry.name) && !SKIPPED_FILES.has(entry.name) && statSync(path).size < 2_000_000) {
        out.push(relative(root, path).split(sep).join('/'));
      }
    }
  };
  walk(root);
  return out.filter((file) => !SKIPPED_PATHS.has(file)).sort();
};

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Lines of the application that still name something a removed slice took out (`file:line: name`).
 *
 * @example
 * staleReferences('.', ['requestReview', 'ReviewRequestsQueue']); // [] once the slice is cleanly out
 */
const staleReferences = (root: string, names: readonly string[]): string[] => {
  if (names.length === 0) return [];
  const pattern = new RegExp(`(?<![\\w-])(${names.map(escape).join('|')})(?![\\w-])`, 'g');
  const found: string[] = [];
  for (const file of textFiles(root)) {
    readFileSync(join(root, file), 'utf8').split('\n').forEach((line, index) => {
      for (const match of line.matchAll(pattern)) found.push(`${file}:${index + 1}: ${match[1]}`);
    });
  }
  return found;
};

export { SliceError, checkSlices, readSlices, removeSlices, selectSlices, staleReferences, withoutMarked };
