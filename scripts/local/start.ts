/**
 * `npm start`: the local cloud in the foreground. Flags: `--fresh` (wipe `.local/` first),
 * `--stage <name>` (default local). Environment: EDGE_PORT (default 4566), PORT (HTTP API, default
 * 3000). Ctrl-C or SIGTERM stops everything cleanly; a second Ctrl-C exits at once.
 */
import { startLocalCloud, type LocalCloud } from './cloud.ts';

interface StartArguments {
  fresh: boolean;
  stage: string;
  help: boolean;
}

class UsageError extends Error {
  constructor(message: string) {
    super(`${message}\nusage: npm start -- [--fresh] [--stage <name>]`);
    this.name = 'UsageError';
  }
}

function parseArguments(argv: string[]): StartArguments {
  const out: StartArguments = { fresh: false, stage: 'local', help: false };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] ?? '';
    if (arg === '--fresh') out.fresh = true;
    else if (arg === '--help' || arg === '-h') out.help = true;
    else if (arg === '--stage') out.stage = argv[(i += 1)] ?? '';
    else if (arg.startsWith('--stage=')) out.stage = arg.slice('--stage='.length);
    else throw new UsageError(`unknown argument ${arg}`);
  }
  if (!/^[a-zA-Z0-9-]+$/.test(out.stage)) throw new UsageError(`--stage must be letters, digits and dashes, got "${out.stage}"`);
  return out;
}

function portFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`${name} must be a port number, got "${raw}"`);
  return port;
}

/** The last segment of a queue URL or ARN: the queue's name. */
function shortName(idOrArn: string): string {
  return idOrArn.split(/[/:]/).pop() ?? idOrArn;
}

function banner(cloud: LocalCloud, stage: string): string {
  const triggers = new Map<string, string[]>();
  const add = (fn: string, trigger: string): void => {
    triggers.set(fn, [...(triggers.get(fn) ?? []), trigger]);
  };
  for (const route of cloud.routes) add(route.functionName, route.routeKey);
  for (const poller of cloud.pollers) {
    const fn = cloud.runtime.get(poller.mapping.functionName).config.name;
    add(fn, 'queueArn' in poller.mapping ? `sqs ${shortName(poller.mapping.queueArn)}` : `kinesis ${shortName(poller.mapping.streamArn)}`);
  }
  const consumers = new Map<string, string>();
  for (const poller of cloud.pollers) {
    if ('queueArn' in poller.mapping) consumers.set(shortName(poller.mapping.queueArn), cloud.runtime.get(poller.mapping.functionName).config.name);
  }
  const functions = cloud.runtime.list().map((fn) => `    ${fn.config.name.padEnd(40)} ${(triggers.get(fn.config.name) ?? []).join(', ')}`);
  const queues = Object.values(cloud.resources)
    .filter((resource) => resource.type === 'AWS::SQS::Queue')
    .map((resource) => shortName(resource.physicalId))
    .sort()
    .map((name) => `    ${name.padEnd(40)} ${consumers.has(name) ? `-> ${consumers.get(name)}` : ''}`.trimEnd());
  const lines = [
    '',
    `local cloud ready in ${cloud.readyInMs} ms (stack ${cloud.stackName}, stage ${stage})`,
    '',
    `  HTTP API  ${cloud.apiUrl || '(no routes in the template)'}`,
    `  AWS edge  ${cloud.edgeUrl}`,
    '',
    '  Point the AWS CLI and SDKs at it:',
    `    export AWS_ENDPOINT_URL=${cloud.edgeUrl}`,
    `    export AWS_REGION=${cloud.region} AWS_DEFAULT_REGION=${cloud.region}`,
    '    export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test',
    '',
    `  functions (${functions.length})`,
    ...functions,
    '',
    `  queues (${queues.length})`,
    ...queues,
    '',
    cloud.notEmulated.length > 0 ? `  not emulated: ${cloud.notEmulated.length} resource(s) (IAM, policies, log groups, alarms...), listed above` : '',
    '  Ctrl-C to stop',
    '',
  ];
  return lines.join('\n');
}

async function main(): Promise<void> {
  const args = parseArguments(process.argv.slice(2));
  if (args.help) {
    process.stdout.write('usage: npm start -- [--fresh] [--stage <name>]\nenvironment: EDGE_PORT (default 4566), PORT (HTTP API, default 3000)\n');
    return;
  }
  const log = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  // One function's stray rejection or exception must not take the whole local cloud down
  // (on Lambda it would only crash that function's sandbox): report it and keep serving.
  process.on('unhandledRejection', (reason) => log(`unhandled rejection (a Lambda sandbox would crash): ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`));
  process.on('uncaughtException', (error) => log(`uncaught exception (a Lambda sandbox would crash): ${error.stack ?? error.message}`));

  const cloud = await startLocalCloud({
    stage: args.stage,
    fresh: args.fresh,
    edgePort: portFromEnv('EDGE_PORT', 4566),
    apiPort: portFromEnv('PORT', 3000),
    log,
  });
  log(banner(cloud, args.stage));

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) {
      log(`${signal} again: exiting now`);
      process.exit(130);
    }
    stopping = true;
    log(`${signal}: stopping (pollers stop, in-flight invocations finish, emulators flush)...`);
    const started = Date.now();
    cloud
      .stop()
      .then(() => {
        log(`stopped in ${Date.now() - started} ms`);
        process.exit(0);
      })
      .catch((error: unknown) => {
        log(`stop failed: ${error instanceof Error ? error.message : String(error)}`);
        process.exit(1);
      });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    process.stderr.write(`npm start failed: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}\n`);
    process.exit(1);
  });
}

export { banner, parseArguments, portFromEnv };
