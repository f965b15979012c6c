/**
 * `npm run dlq -- <command>`: inspect and redrive the dead-letter queues, on the local cloud (default) or a deployed
 * stage (`--stage NAME`). See scripts/dlq/README.md.
 *
 *   list                                         every DLQ: depth, in flight, oldest, what it catches for, redrive target
 *   peek <queue> [-n N]                          messages without consuming them, with each one's last failure
 *   redrive <dlq> [--to <queue>] [--max-per-second N]   move the messages back (or to --to)
 *   purge <dlq>                                  delete every message
 *
 * Options: --stage NAME (AWS; else the local cloud), --region R, --endpoint URL (local edge; default
 * http://127.0.0.1:${EDGE_PORT:-4566}), --template PATH (local; default the compiled template), --json (list, peek),
 * --yes (no y/N question before deleting; required without a TTY). Locally, the edge's `/_local/*` token is read from
 * LOCAL_CLOUD_TOKEN, else from the data directory of `npm start` (LOCAL_DATA_DIR, default `.local`: `edge/token`).
 */
import { createInterface } from 'node:readline/promises';
import { join, resolve } from 'node:path';
import { readLocalToken } from 'local-cloud';
import { listDlqs, peekQueue, printList, printPeek, purge, redrive } from './commands.ts';
import { DlqError, RedriveError, UsageError } from './errors.ts';
import { TEMPLATE_FILE, awsStack, localStack, serviceName, type StackView } from './stack.ts';

const USAGE = `usage: npm run dlq -- list
       npm run dlq -- peek <queue> [-n N]
       npm run dlq -- redrive <dlq> [--to <queue>] [--max-per-second N]
       npm run dlq -- purge <dlq>
options: --stage NAME (a deployed stage; default: the local cloud) --region R --endpoint URL --template PATH --json --yes`;

interface DlqArguments {
  command: 'list' | 'peek' | 'redrive' | 'purge' | 'help';
  queue?: string;
  count: number;
  to?: string;
  maxPerSecond?: number;
  stage?: string;
  region?: string;
  endpoint?: string;
  template?: string;
  json: boolean;
  yes: boolean;
}

interface DlqIo {
  out(line: string): void;
  err(line: string): void;
  /** Whether a person can answer y/N (stdin is a TTY). */
  isTTY: boolean;
  /** Asks a y/N question (only called when isTTY). */
  ask?(question: string): Promise<string>;
  env: Record<string, string | undefined>;
  cwd: string;
}

const positiveInteger = (flag: string, raw: string | undefined): number => {
  const n = Number(raw);
  if (raw === undefined || !Number.isInteger(n) || n <= 0) throw new UsageError(`${flag} needs a positive integer, got ${raw === undefined ? 'nothing' : `"${raw}"`}`);
  return n;
};

function parseArguments(argv: string[]): DlqArguments {
  const out: DlqArguments = { command: 'help', count: 10, json: false, yes: false };
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] ?? '';
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string => {
      const next = inline ?? argv[(i += 1)];
      if (next === undefined || (inline === undefined && next.startsWith('--'))) throw new UsageError(`${flag} needs a value`);
      return next;
    };
    if (flag === '-n' || flag === '--count') out.count = positiveInteger(flag, value());
    else if (flag === '--to') out.to = value();
    else if (flag === '--max-per-second') out.maxPerSecond = positiveInteger(flag, value());
    else if (flag === '--stage') out.stage = value();
    else if (flag === '--region') out.region = value();
    else if (flag === '--endpoint') out.endpoint = value();
    else if (flag === '--template') out.template = value();
    else if (flag === '--json') out.json = true;
    else if (flag === '--yes' || flag === '-y') out.yes = true;
    else if (flag === '--help' || flag === '-h') positional.unshift('help');
    else if (arg.startsWith('-')) throw new UsageError(`unknown option ${arg}`);
    else positional.push(arg);
  }
  const [command, queue, ...rest] = positional;
  if (command === undefined || command === 'help') return out;
  if (!['list', 'peek', 'redrive', 'purge'].includes(command)) throw new UsageError(`unknown command ${command}`);
  out.command = command as DlqArguments['command'];
  if (command !== 'list' && queue === undefined) throw new UsageError(`${command} needs a queue name (npm run dlq -- list shows them)`);
  if (rest.length > 0 || (command === 'list' && queue !== undefined)) throw new UsageError(`unexpected argument ${rest[0] ?? queue}`);
  if (queue !== undefined) out.queue = queue;
  if (out.stage !== undefined && !/^[a-zA-Z0-9-]+$/.test(out.stage)) throw new UsageError(`--stage must be letters, digits and dashes, got "${out.stage}"`);
  if (out.stage === 'local') delete out.stage;
  return out;
}

async function openStack(args: DlqArguments, io: DlqIo): Promise<StackView> {
  if (args.stage !== undefined) {
    const region = args.region ?? io.env.AWS_REGION ?? io.env.AWS_DEFAULT_REGION ?? 'us-east-1';
    return awsStack({ stackName: `${serviceName(io.cwd)}-${args.stage}`, region });
  }
  const endpoint = args.endpoint ?? `http://127.0.0.1:${io.env.EDGE_PORT || '4566'}`;
  // The token of /_local/*: LOCAL_CLOUD_TOKEN, else the one `npm start` wrote in its data directory.
  const token = readLocalToken({ dataDir: resolve(io.cwd, io.env.LOCAL_DATA_DIR || '.local'), env: io.env });
  return localStack({ endpoint, region: args.region ?? 'us-east-1', templatePath: args.template ?? join(io.cwd, TEMPLATE_FILE), token });
}

/** y/N on a TTY; without one, only --yes lets a deleting command go on. */
function confirmer(args: DlqArguments, io: DlqIo): (question: string) => Promise<boolean> {
  return async (question) => {
    if (args.yes) return true;
    if (!io.isTTY || !io.ask) throw new UsageError(`${args.command} deletes messages from the DLQ: confirm with --yes when there is no terminal to ask`);
    const answer = await io.ask(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  };
}

/**
 * Runs one DLQ command; answers the exit code (0 done, 1 failed, 2 usage or refused).
 *
 * @example
 * const code = await runDlq(['redrive', 'billing-dlq', '--yes', '--endpoint', cloud.edgeUrl], { ...io });
 */
async function runDlq(argv: string[], io: DlqIo): Promise<number> {
  let args: DlqArguments;
  try {
    args = parseArguments(argv);
  } catch (error) {
    io.err(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (args.command === 'help') {
    io.out(USAGE);
    return 0;
  }
  let stack: StackView | undefined;
  try {
    stack = await openStack(args, io);
    const where = stack.target === 'local' ? 'local cloud' : `stack ${stack.stackName} (${stack.region})`;
    switch (args.command) {
      case 'list': {
        const dlqs = await listDlqs(stack);
        if (args.json) io.out(JSON.stringify(dlqs, null, 2));
        else {
          io.out(`DLQs of ${where}`);
          printList(dlqs, io);
        }
        return 0;
      }
      case 'peek': {
        const result = await peekQueue(stack, args.queue ?? '', args.count);
        if (args.json) io.out(JSON.stringify(result, null, 2));
        else printPeek(result, io);
        return 0;
      }
      case 'redrive':
        await redrive(stack, args.queue ?? '', { ...(args.to === undefined ? {} : { to: args.to }), ...(args.maxPerSecond ? { maxPerSecond: args.maxPerSecond } : {}), confirm: confirmer(args, io) }, io);
        return 0;
      case 'purge':
        await purge(stack, args.queue ?? '', confirmer(args, io), io);
        return 0;
    }
    return 2;
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(error.message);
      return 2;
    }
    if (error instanceof RedriveError || error instanceof DlqError) io.err(`${error.name}: ${error.message}`);
    else io.err(`dlq ${args.command} failed: ${(error as Error).name}: ${(error as Error).message}`);
    return 1;
  } finally {
    stack?.destroy();
  }
}

async function main(): Promise<void> {
  const terminal = process.stdin.isTTY ? createInterface({ input: process.stdin, output: process.stderr }) : undefined;
  try {
    process.exitCode = await runDlq(process.argv.slice(2), {
      out: (line) => process.stdout.write(`${line}\n`),
      err: (line) => process.stderr.write(`${line}\n`),
      isTTY: terminal !== undefined,
      ...(terminal ? { ask: (question: string) => terminal.question(question) } : {}),
      env: process.env,
      cwd: process.cwd(),
    });
  } finally {
    terminal?.close();
  }
}

if (import.meta.main) await main();

export { USAGE, parseArguments, runDlq };
export type { DlqArguments, DlqIo };
