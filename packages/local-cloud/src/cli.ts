#!/usr/bin/env node
/**
 * The local cloud in the foreground: the `local-cloud` bin, and `npm start` of an application that adds its own
 * pieces through `runCli`'s options. Flags: `--fresh` (start from empty state: once the data directory is locked, remove the local cloud's own
 * subfolders of it, in a directory marked as its own only), `--stage <name>` (default
 * local), `--data-dir <path>` (default `.local`, or LOCAL_DATA_DIR), `--project <dir>` (default the current
 * directory), `--verbose` (also print the start-up details behind the banner: emulator patches, the edge, every
 * resource that is not emulated by logical id), `--faults '<json>'` (the fault variable for
 * every function), `--duplicate-delivery` (SQS pollers deliver every batch twice), `--iam enforce|warn|off` (evaluate
 * the functions' requests against their roles: refuse, only report, or not at all; edge/iam.ts). Environment: EDGE_PORT (default
 * 4566), PORT (HTTP API, default 3000), LOCAL_DATA_DIR. Ctrl-C or SIGTERM stops everything cleanly; a second
 * Ctrl-C exits at once.
 */
import { isAbsolute, relative } from 'node:path';
import { notEmulatedSummary, startLocalCloud, type LocalCloud, type LocalCloudOptions } from './cloud.ts';
import { TOKEN_HEADER, TOKEN_VARIABLE } from './edge/token.ts';
import { LOCAL_CREDENTIALS } from './util/clients.ts';
import { parseIamMode, type IamMode } from './edge/iam.ts';

interface StartArguments {
  fresh: boolean;
  stage: string;
  /** Undefined: LOCAL_DATA_DIR, else `.local`. */
  dataDir?: string;
  verbose: boolean;
  /** FAULTS for every function (validated); undefined: the template's. */
  faults?: string;
  duplicateDelivery: boolean;
  /** Undefined: startLocalCloud's default. */
  iam?: IamMode;
  /** Undefined: the current directory. */
  projectDir?: string;
  help: boolean;
}

/** What an application adds to the command: its own start (hooks included), a usage name, side services. */
interface CliOptions {
  /** Shown in the usage line, e.g. `npm start --` (default `local-cloud`). */
  command?: string;
  /** Default startLocalCloud; an application passes its own composition (fault validation, failure reports). */
  start?: (options: LocalCloudOptions) => Promise<LocalCloud>;
  /** Validates `--faults` before anything starts (throws with the field at fault). */
  validateFaults?: (json: string) => void;
  /** Extra environment variables for `--help`. */
  environmentHelp?: string;
  /** Started once the cloud is ready (a dashboard...): banner lines to add and how to stop it. */
  attach?: (cloud: LocalCloud, log: (line: string) => void) => Promise<{ lines: string[]; stop(): Promise<void> } | undefined>;
}

const usage = (command: string): string => `usage: ${command} [--fresh] [--stage <name>] [--data-dir <path>] [--project <dir>] [--verbose] [--faults '<json>'] [--duplicate-delivery] [--iam enforce|warn|off]`;

class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

function parseArguments(argv: string[], validateFaults: (json: string) => void = (json) => void JSON.parse(json)): StartArguments {
  const out: StartArguments = { fresh: false, stage: 'local', verbose: false, duplicateDelivery: false, help: false };
  const value = (name: string, i: number): string => {
    const next = argv[i];
    if (next === undefined || next.startsWith('--')) throw new UsageError(`${name} needs a value`);
    return next;
  };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] ?? '';
    if (arg === '--fresh') out.fresh = true;
    else if (arg === '--verbose' || arg === '-v') out.verbose = true;
    else if (arg === '--help' || arg === '-h') out.help = true;
    else if (arg === '--stage') out.stage = value(arg, (i += 1));
    else if (arg.startsWith('--stage=')) out.stage = arg.slice('--stage='.length);
    else if (arg === '--data-dir') out.dataDir = value(arg, (i += 1));
    else if (arg.startsWith('--data-dir=')) out.dataDir = arg.slice('--data-dir='.length);
    else if (arg === '--faults') out.faults = value(arg, (i += 1));
    else if (arg.startsWith('--faults=')) out.faults = arg.slice('--faults='.length);
    else if (arg === '--project') out.projectDir = value(arg, (i += 1));
    else if (arg.startsWith('--project=')) out.projectDir = arg.slice('--project='.length);
    else if (arg === '--duplicate-delivery') out.duplicateDelivery = true;
    else if (arg === '--iam' || arg.startsWith('--iam=')) out.iam = iamMode(arg === '--iam' ? value(arg, (i += 1)) : arg.slice('--iam='.length));
    else throw new UsageError(`unknown argument ${arg}`);
  }
  if (!/^[a-zA-Z0-9-]+$/.test(out.stage)) throw new UsageError(`--stage must be letters, digits and dashes, got "${out.stage}"`);
  if (out.dataDir === '') throw new UsageError('--data-dir must not be empty');
  if (out.faults !== undefined) {
    try {
      validateFaults(out.faults);
    } catch (error) {
      throw new UsageError(`--faults: ${(error as Error).message}`);
    }
  }
  return out;
}

function iamMode(value: string): IamMode {
  try {
    return parseIamMode(value, '--iam');
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
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

/** Wraps `parts` (joined by ', ') into lines of at most `width` characters, each starting with `indent`. */
function wrap(parts: string[], width: number, indent: string): string[] {
  const lines: string[] = [];
  let line = '';
  for (const [index, part] of parts.entries()) {
    const piece = index < parts.length - 1 ? `${part},` : part;
    if (line !== '' && indent.length + line.length + 1 + piece.length > width) {
      lines.push(`${indent}${line}`);
      line = piece;
    } else line = line === '' ? piece : `${line} ${piece}`;
  }
  if (line !== '') lines.push(`${indent}${line}`);
  return lines;
}

function banner(cloud: LocalCloud, stage: string, options: { verbose?: boolean; dataDir?: string; extraLines?: string[] } = {}): string {
  const triggers = new Map<string, string[]>();
  const add = (fn: string, trigger: string): void => {
    triggers.set(fn, [...(triggers.get(fn) ?? []), trigger]);
  };
  for (const route of cloud.routes) add(route.functionName, route.routeKey);
  for (const poller of cloud.pollers) {
    const fn = cloud.runtime.get(poller.mapping.functionName).config.name;
    const m = poller.mapping;
    add(fn, 'queueArn' in m ? `sqs ${shortName(m.queueArn)}` : 'streamArn' in m ? `kinesis ${shortName(m.streamArn)}` : `rabbitmq ${m.queue}`);
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
    ...(options.extraLines ?? []),
    '',
    ...clientLines(cloud),
    '',
    ...controlLines(cloud),
    '',
    `  functions (${functions.length})`,
    ...functions,
    '',
    `  queues (${queues.length})`,
    ...queues,
    '',
    ...iamLines(cloud),
    ...notEmulatedLines(cloud, options.verbose === true),
    ...(options.dataDir ? [`  state in ${options.dataDir} (--fresh starts it empty)`] : []),
    '  Ctrl-C to stop',
    '',
  ];
  return lines.join('\n');
}

/**
 * How to point each AWS client at the edge. `--endpoint-url` is the one way every AWS CLI version honours for every
 * service. `AWS_ENDPOINT_URL` and a profile's `endpoint_url` are read by the SDKs and by AWS CLI v2 >= 2.13.0 and
 * v1 >= 1.29.0 (AWS Developer Tools Blog, "New: Improved flexibility when configuring endpoint URLs with the AWS SDKs
 * and tools"; settings: AWS SDKs and Tools Reference Guide, "Service-specific endpoints"), but AWS CLI v1 still
 * sends `sqs` (and emr, rds, docdb, neptune, health) to the service's legacy host unless `--endpoint-url` is given
 * (awscli/customizations/overridesslcommonname.py; aws/aws-cli issue 8737): measured with AWS CLI 1.45.11, where
 * `aws s3 ls` reached the edge through either and `aws sqs list-queues` went to https://queue.amazonaws.com/.
 */
function clientLines(cloud: LocalCloud): string[] {
  // The profile carries its own credentials: with --profile, the AWS CLI reads none from the environment.
  const edge = cloud.edgeUrl;
  return [
    '  Point the AWS CLI and SDKs at it (any credentials; README "Endpoints for every client"):',
    `    export AWS_REGION=${cloud.region} AWS_DEFAULT_REGION=${cloud.region} AWS_ACCESS_KEY_ID=${LOCAL_CREDENTIALS.accessKeyId} AWS_SECRET_ACCESS_KEY=${LOCAL_CREDENTIALS.secretAccessKey}`,
    `    aws --endpoint-url ${edge} sqs list-queues     # every AWS CLI version, every service`,
    `    export AWS_ENDPOINT_URL=${edge}                # SDKs; AWS CLI v2 >= 2.13; v1 >= 1.29 but not sqs`,
    '    or a profile in ~/.aws/config, then `aws --profile local ...` (the same versions as AWS_ENDPOINT_URL):',
    `      [profile local]  endpoint_url = ${edge}, region = ${cloud.region}, aws_access_key_id = ${LOCAL_CREDENTIALS.accessKeyId}, aws_secret_access_key = ${LOCAL_CREDENTIALS.secretAccessKey} (one per line)`,
  ];
}

/** How to call `/_local/*` with this run's token, ready to paste (the token file's path relative to the current directory). */
function controlLines(cloud: LocalCloud): string[] {
  const path = relative(process.cwd(), cloud.tokenFile);
  const file = path.startsWith('..') || isAbsolute(path) ? cloud.tokenFile : path;
  const token = `-H "${TOKEN_HEADER}: $(cat '${file.replaceAll("'", "'\\''")}')"`;
  return [
    `  Operator endpoints (/_local/faults, failures, invoke, stats) need this run's token (${TOKEN_VARIABLE} or ${file}):`,
    `    curl -s ${token} ${cloud.edgeUrl}/_local/stats`,
    `    curl -s ${token} -H 'content-type: application/json' -d '{}' ${cloud.edgeUrl}/_local/faults`,
  ];
}

/** The IAM mode, so an AccessDenied from a function is expected, and how to change it (edge/iam.ts). */
function iamLines(cloud: LocalCloud): string[] {
  const what: Record<IamMode, string> = {
    enforce: "each function's requests are evaluated against its role, refused ones fail as on AWS (--iam warn only reports)",
    warn: "each function's requests are evaluated against its role, refused ones are only reported (--iam enforce refuses)",
    off: 'nothing is evaluated: every call is allowed (--iam enforce evaluates each function against its role)',
  };
  return [`  IAM ${cloud.iam.mode}: ${what[cloud.iam.mode]}`, ''];
}

/** `not emulated (AWS-only): 65 resources` then the counts per type; with --verbose, every logical id. */
function notEmulatedLines(cloud: LocalCloud, verbose: boolean): string[] {
  const groups = cloud.notEmulatedByType;
  if (groups.length === 0) return [];
  const total = groups.reduce((sum, [, ids]) => sum + ids.length, 0);
  const head = `  not emulated (AWS-only: permissions, observability, versions): ${total} resources${verbose ? '' : ' (--verbose lists them)'}`;
  if (!verbose) return [head, ...wrap(notEmulatedSummary(groups).split(', '), 110, '    '), ''];
  return [head, ...groups.flatMap(([type, ids]) => [`    ${ids.length} ${type}`, ...wrap(ids, 110, '      ')]), ''];
}

/** Runs the local cloud until SIGINT/SIGTERM; a usage error exits 2 with the usage line. */
async function runCli(argv: string[], options: CliOptions = {}): Promise<void> {
  const command = options.command ?? 'local-cloud';
  let args: StartArguments;
  try {
    args = parseArguments(argv, options.validateFaults);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n${usage(command)}\n`);
    process.exit(2);
  }
  if (args.help) {
    process.stdout.write(`${usage(command)}\nenvironment: EDGE_PORT (default 4566), PORT (HTTP API, default 3000), LOCAL_DATA_DIR (default .local)${options.environmentHelp ? `, ${options.environmentHelp}` : ''}\n`);
    return;
  }
  const log = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  // One function's stray rejection or exception must not take the whole local cloud down
  // (on Lambda it would only crash that function's sandbox): report it and keep serving.
  process.on('unhandledRejection', (reason) => log(`unhandled rejection (a Lambda sandbox would crash): ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`));
  process.on('uncaughtException', (error) => log(`uncaught exception (a Lambda sandbox would crash): ${error.stack ?? error.message}`));

  const dataDir = args.dataDir ?? (process.env.LOCAL_DATA_DIR || '.local');
  const cloud = await (options.start ?? startLocalCloud)({
    ...(args.projectDir === undefined ? {} : { projectDir: args.projectDir }),
    stage: args.stage,
    fresh: args.fresh,
    dataDir,
    edgePort: portFromEnv('EDGE_PORT', 4566),
    apiPort: portFromEnv('PORT', 3000),
    verbose: args.verbose,
    // The banner says it all; the start-up details behind it (emulator patches, the edge, what is not emulated) with --verbose.
    detail: args.verbose ? log : (): void => undefined,
    ...(args.faults === undefined ? {} : { faults: args.faults }),
    ...(args.duplicateDelivery ? { duplicateDelivery: true } : {}),
    ...(args.iam === undefined ? {} : { iam: args.iam }),
    log,
  });
  const attached = await options.attach?.(cloud, log);
  log(banner(cloud, args.stage, { verbose: args.verbose, dataDir, ...(attached ? { extraLines: attached.lines } : {}) }));

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) {
      log(`${signal} again: exiting now`);
      process.exit(130);
    }
    stopping = true;
    log(`${signal}: stopping (pollers stop, in-flight invocations finish, emulators flush)...`);
    const started = Date.now();
    Promise.resolve(attached?.stop())
      .then(() => cloud.stop())
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
  runCli(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`local-cloud failed: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}\n`);
    process.exit(1);
  });
}

export { UsageError, banner, parseArguments, runCli };
export type { CliOptions, StartArguments };
