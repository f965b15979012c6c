// `npm run init -- --name <service> [--region <region>] [--without <slice>]...`: make orderflow your own service.
// Renames the service (and with it the CloudFormation stack and every resource name prefix, which serverless.yml
// derives from ${self:service}), the package name and the default region; takes out the slices you do not want
// (slices.yml declares what each is made of: scripts/starter/slices.ts); prints what it changed.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { assertRegion, assertServiceName, InvalidNameError } from './names.ts';
import { readSlices, removeSlices, SliceError, staleReferences } from './slices.ts';

interface Change {
  file: string;
  what: string;
}

interface Edit {
  file: string;
  what: string;
  apply: (text: string) => string;
}

const currentService = (root: string): string => {
  const match = /^service:\s*([\w-]+)\s*$/m.exec(readFileSync(join(root, 'serverless.yml'), 'utf8'));
  if (!match?.[1]) throw new Error('serverless.yml has no "service:" line: is this an orderflow checkout?');
  return match[1];
};

const currentRegion = (root: string): string =>
  /region: \$\{opt:region, '([a-z0-9-]+)'\}/.exec(readFileSync(join(root, 'serverless.yml'), 'utf8'))?.[1] ?? 'us-east-1';

const renameJsonPackage = (name: string) => (text: string): string => {
  const json = JSON.parse(text) as { name?: string; packages?: Record<string, { name?: string }> };
  json.name = name;
  const rootPackage = json.packages?.[''];
  if (rootPackage) rootPackage.name = name;
  return `${JSON.stringify(json, null, 2)}\n`;
};

const editsFor = (from: { name: string; region: string }, to: { name: string; region: string }): Edit[] => [
  { file: 'serverless.yml', what: `service: ${from.name} → ${to.name} (stack ${to.name}-<stage>, resource names ${to.name}-<stage>-*)`, apply: (t) => t.replace(/^service:.*$/m, `service: ${to.name}`) },
  { file: 'serverless.yml', what: `Powertools service name and metrics namespace → ${to.name}`, apply: (t) => t.replace(/(POWERTOOLS_SERVICE_NAME|POWERTOOLS_METRICS_NAMESPACE): .*/g, `$1: ${to.name}`) },
  { file: 'serverless.yml', what: `default region ${from.region} → ${to.region}`, apply: (t) => t.replace(/region: \$\{opt:region, '[a-z0-9-]+'\}/, `region: \${opt:region, '${to.region}'}`) },
  { file: 'package.json', what: `package name → ${to.name}`, apply: renameJsonPackage(to.name) },
  { file: 'package-lock.json', what: `package name → ${to.name}`, apply: renameJsonPackage(to.name) },
  { file: '.github/workflows/deploy.yml', what: `deploy region → ${to.region}`, apply: (t) => t.replace(/AWS_REGION: [a-z0-9-]+/, `AWS_REGION: ${to.region}`) },
  { file: 'README.md', what: `title → ${to.name}`, apply: (t) => t.replace(/^# .*$/m, `# ${to.name}`) },
];

/**
 * Renames the service in the checkout at `root`; returns what changed (nothing when already named so).
 *
 * @example
 * initService('.', { name: 'acme-orders', region: 'eu-west-1' });
 */
const initService = (root: string, to: { name: string; region?: string }): Change[] => {
  assertServiceName(to.name);
  const from = { name: currentService(root), region: currentRegion(root) };
  const target = { name: to.name, region: to.region ?? from.region };
  assertRegion(target.region);
  const changes: Change[] = [];
  for (const edit of editsFor(from, target)) {
    const path = join(root, edit.file);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      continue; // an adopter may have deleted the file (e.g. the workflows): nothing to rename there
    }
    const next = edit.apply(text);
    if (next !== text) {
      writeFileSync(path, next);
      changes.push({ file: edit.file, what: edit.what });
    }
  }
  return changes;
};

const USAGE = 'usage: npm run init -- [--name <service>] [--region <region>] [--without <slice>[,<slice>]]...';

const knownSlices = (root: string): string => {
  try {
    return readSlices(root).map((slice) => `  ${slice.name.padEnd(12)} ${slice.summary}`).join('\n');
  } catch {
    return '  (none)';
  }
};

const rename = (root: string, name: string, region: string | undefined): void => {
  const changes = initService(root, { name, ...(region ? { region } : {}) });
  if (changes.length === 0) {
    process.stdout.write(`Nothing to change: the service is already ${name}.\n`);
    return;
  }
  process.stdout.write(`Renamed the service to ${name}:\n`);
  for (const { file, what } of changes) process.stdout.write(`  ${file.padEnd(30)} ${what}\n`);
};

const without = (root: string, slices: string[]): void => {
  const { changes, removedNames } = removeSlices(root, slices);
  process.stdout.write(`Took out ${slices.join(', ')}:\n`);
  for (const change of changes) process.stdout.write(`  ${change}\n`);
  const stale = staleReferences(root, removedNames);
  if (stale.length > 0) {
    process.stdout.write(`\nThese lines still name what was taken out (edit them, or mark them in slices.yml):\n`);
    for (const line of stale) process.stdout.write(`  ${line}\n`);
  }
};

const main = (): number => {
  const { values } = parseArgs({ options: { name: { type: 'string' }, region: { type: 'string' }, without: { type: 'string', multiple: true } } });
  const root = process.cwd();
  if (!values.name && !values.without?.length) {
    process.stderr.write(`${USAGE}\n\nSlices (--without):\n${knownSlices(root)}\n`);
    return 2;
  }
  try {
    // check the name before anything changes
    if (values.name) assertServiceName(values.name);
    if (values.region) assertRegion(values.region);
    if (values.without?.length) without(root, values.without);
    if (values.name) rename(root, values.name, values.region);
    process.stdout.write('\nNext: npm install, npm run lint, npm test, then npm run deploy -- --stage dev\n');
    return 0;
  } catch (error) {
    if (error instanceof InvalidNameError || error instanceof SliceError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
};

if (import.meta.main) process.exitCode = main();

export { initService };
