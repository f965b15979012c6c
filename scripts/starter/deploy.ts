// `npm run deploy -- --stage NAME [--region R] [--yes]` and `npm run remove -- --stage NAME [--region R] [--yes]`:
// thin wrappers around `osls deploy` / `osls remove` that refuse `prod` without --yes and, after a deploy,
// print the API URL and the stack outputs (`osls info --verbose`).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { InvalidNameError, assertRegion } from './names.ts';

/** Stages that hold customers' data: deploying or removing them needs --yes. */
const PROTECTED_STAGES = new Set(['prod']);

class RefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RefusedError';
  }
}

interface Plan {
  action: 'deploy' | 'remove';
  stage: string;
  region?: string;
  commands: string[][];
}

/**
 * Checks the arguments and returns the osls commands to run, or throws RefusedError / InvalidNameError.
 *
 * @example
 * planFor('deploy', ['--stage', 'dev']).commands; // [['deploy', '--stage', 'dev'], ['info', '--stage', 'dev', '--verbose']]
 */
const planFor = (action: 'deploy' | 'remove', args: string[]): Plan => {
  const { values } = parseArgs({ args, options: { stage: { type: 'string' }, region: { type: 'string' }, yes: { type: 'boolean', default: false } } });
  const stage = values.stage;
  if (!stage) throw new RefusedError(`usage: npm run ${action} -- --stage <name> [--region <region>] [--yes]`);
  if (!/^[a-z][a-z0-9]{0,7}$/.test(stage)) {
    throw new InvalidNameError(stage, 'a stage is 1 to 8 lowercase letters or digits, starting with a letter (it is part of every resource name)');
  }
  if (stage === 'local') throw new RefusedError('"local" is the local cloud\'s stage: run it with npm start, not on AWS');
  if (PROTECTED_STAGES.has(stage) && !values.yes) {
    throw new RefusedError(`Refusing to ${action} "${stage}" without --yes: it serves customers${action === 'remove' ? ' (its tables and data buckets are retained)' : ''}`);
  }
  if (values.region) assertRegion(values.region);
  const target = ['--stage', stage, ...(values.region ? ['--region', values.region] : [])];
  const commands = action === 'deploy' ? [['deploy', ...target], ['info', ...target, '--verbose']] : [['remove', ...target]];
  return { action, stage, ...(values.region ? { region: values.region } : {}), commands };
};

const main = (): number => {
  const [action, ...args] = process.argv.slice(2);
  if (action !== 'deploy' && action !== 'remove') {
    process.stderr.write('usage: deploy.ts deploy|remove --stage <name> [--region <region>] [--yes]\n');
    return 2;
  }
  let plan: Plan;
  try {
    plan = planFor(action, args);
  } catch (error) {
    if (error instanceof RefusedError || error instanceof InvalidNameError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
  // OSLS_BIN lets tests put a recorder in place of the real CLI.
  const osls = process.env.OSLS_BIN ?? join(import.meta.dirname, '../../node_modules/.bin/osls');
  for (const command of plan.commands) {
    process.stdout.write(`> osls ${command.join(' ')}\n`);
    const result = spawnSync(osls, command, { stdio: 'inherit' });
    if (result.status !== 0) return result.status ?? 1;
  }
  return 0;
};

if (import.meta.main) process.exitCode = main();

export { PROTECTED_STAGES, RefusedError, planFor };
