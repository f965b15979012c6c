// `npm run init -- --name <service> [--region <region>]`: make orderflow your own service. Renames the service
// (and with it the CloudFormation stack and every resource name prefix, which serverless.yml derives from
// ${self:service}), the package name and the default region, and prints what it changed.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { assertRegion, assertServiceName, InvalidNameError } from './names.ts';

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

const main = (): number => {
  const { values } = parseArgs({ options: { name: { type: 'string' }, region: { type: 'string' } } });
  if (!values.name) {
    process.stderr.write('usage: npm run init -- --name <service> [--region <region>]\n');
    return 2;
  }
  try {
    const changes = initService(process.cwd(), { name: values.name, ...(values.region ? { region: values.region } : {}) });
    if (changes.length === 0) {
      process.stdout.write(`Nothing to change: the service is already ${values.name}.\n`);
      return 0;
    }
    process.stdout.write(`Renamed the service to ${values.name}:\n`);
    for (const { file, what } of changes) process.stdout.write(`  ${file.padEnd(30)} ${what}\n`);
    process.stdout.write('\nNext: npm test, then npm run deploy -- --stage dev\n');
    return 0;
  } catch (error) {
    if (error instanceof InvalidNameError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
};

if (import.meta.main) process.exitCode = main();

export { initService };
