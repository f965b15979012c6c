/**
 * `npm run replay -- --from <ISO time> [--to <ISO time>]`: re-reads the order stream over a time window (AT_TIMESTAMP
 * on every shard) and rebuilds the lake objects and orderMetrics's per-window totals for that window under `replay/`
 * of the lake bucket, idempotently: the same window replayed twice leaves the same objects (scripts/replay/rebuild.ts,
 * scripts/replay/lake.ts). On the local cloud (default) or a deployed stage (`--stage NAME`).
 *
 * Options: --stage NAME (AWS, the default credential chain; else the local cloud), --region R, --endpoint URL (local
 * edge; default http://127.0.0.1:${EDGE_PORT:-4566}), --template PATH (local; default the compiled template),
 * --window-seconds N (default: orderMetrics's TumblingWindowInSeconds in the template), --json.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand, GetTemplateCommand } from '@aws-sdk/client-cloudformation';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { LOCAL_CREDENTIALS, type CfnTemplate } from 'local-cloud';
import { localClients } from '../local/clients.ts';
import { TEMPLATE_FILE, serviceName } from '../dlq/stack.ts';
import { putIfChanged, type WriteOutcome } from './lake.ts';
import { lakeObjects, metricsObjects, replayWindow, ReplayWindowError, type ReplayWindow, type WindowMetrics } from './rebuild.ts';
import { readStreamWindow } from './stream.ts';

const USAGE = `usage: npm run replay -- --from <ISO time> [--to <ISO time>]
options: --stage NAME (a deployed stage; default: the local cloud) --region R --endpoint URL --template PATH --window-seconds N --json`;

class ReplayUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReplayUsageError';
  }
}

interface ReplayArguments {
  from?: Date;
  to?: Date;
  stage?: string;
  region?: string;
  endpoint?: string;
  template?: string;
  windowSeconds?: number;
  json: boolean;
  help: boolean;
}

interface ReplayIo {
  out(line: string): void;
  err(line: string): void;
  env: Record<string, string | undefined>;
  cwd: string;
  /** The clock (tests pass their own); default Date.now. */
  now?: () => Date;
}

/** What a run did, printed as a summary or with --json. */
interface ReplayReport {
  streamName: string;
  bucket: string;
  from: string;
  to: string;
  windowSeconds: number;
  shards: number;
  records: number;
  lake: Record<WriteOutcome, number> & { keys: string[] };
  metrics: Record<WriteOutcome, number> & { keys: string[]; windows: WindowMetrics[] };
}

const isoTime = (flag: string, raw: string | undefined): Date => {
  const at = new Date(raw ?? '');
  if (raw === undefined || !/^\d{4}-\d{2}-\d{2}/.test(raw) || Number.isNaN(at.getTime())) {
    throw new ReplayUsageError(`${flag} needs an ISO 8601 time such as 2026-12-03T10:00:00Z, got ${raw === undefined ? 'nothing' : `"${raw}"`}`);
  }
  return at;
};

function parseArguments(argv: string[]): ReplayArguments {
  const out: ReplayArguments = { json: false, help: false };
  for (let i = 0; i < argv.length; i += 1) {
    const flag = argv[i] as string;
    const value = (): string | undefined => {
      i += 1;
      return argv[i];
    };
    if (flag === '--from') out.from = isoTime('--from', value());
    else if (flag === '--to') out.to = isoTime('--to', value());
    else if (flag === '--stage') out.stage = value();
    else if (flag === '--region') out.region = value();
    else if (flag === '--endpoint') out.endpoint = value();
    else if (flag === '--template') out.template = value();
    else if (flag === '--window-seconds') {
      const raw = value();
      const n = Number(raw);
      if (!Number.isSafeInteger(n) || n < 1) throw new ReplayUsageError(`--window-seconds needs a whole number of seconds >= 1, got ${raw === undefined ? 'nothing' : `"${raw}"`}`);
      out.windowSeconds = n;
    } else if (flag === '--json') out.json = true;
    else if (flag === '--help' || flag === '-h') out.help = true;
    else throw new ReplayUsageError(`unknown argument "${flag}"`);
  }
  if (!out.help && out.from === undefined) throw new ReplayUsageError('--from is required');
  if (out.stage !== undefined && !/^[a-zA-Z0-9-]+$/.test(out.stage)) throw new ReplayUsageError(`--stage must be letters, digits and dashes, got "${out.stage}"`);
  if (out.stage === 'local') delete out.stage;
  return out;
}

/** orderMetrics's window: the TumblingWindowInSeconds of the template's Kinesis mapping. */
function tumblingWindowSeconds(template: CfnTemplate): number {
  for (const resource of Object.values(template.Resources)) {
    const seconds = resource.Type === 'AWS::Lambda::EventSourceMapping' ? Number(resource.Properties?.TumblingWindowInSeconds ?? 0) : 0;
    if (seconds > 0) return seconds;
  }
  throw new ReplayUsageError('the template has no event source mapping with TumblingWindowInSeconds: pass --window-seconds');
}

interface Target {
  cloudFormation: CloudFormationClient;
  kinesis: KinesisClient;
  s3: S3Client;
  stackName: string;
  template(): Promise<CfnTemplate>;
  destroy(): void;
}

function openTarget(args: ReplayArguments, io: ReplayIo): Target {
  const region = args.region ?? io.env.AWS_REGION ?? 'us-east-1';
  if (args.stage !== undefined) {
    const stackName = `${serviceName(io.cwd)}-${args.stage}`;
    const cloudFormation = new CloudFormationClient({ region });
    const clients = { cloudFormation, kinesis: new KinesisClient({ region }), s3: new S3Client({ region }) };
    return {
      ...clients,
      stackName,
      async template() {
        const { TemplateBody } = await cloudFormation.send(new GetTemplateCommand({ StackName: stackName, TemplateStage: 'Processed' }));
        return JSON.parse(TemplateBody ?? '{}') as CfnTemplate;
      },
      destroy: () => Object.values(clients).forEach((client) => client.destroy()),
    };
  }
  const endpoint = args.endpoint ?? `http://127.0.0.1:${io.env.EDGE_PORT || '4566'}`;
  const local = localClients({ endpoint, region });
  const cloudFormation = new CloudFormationClient({ endpoint, region, credentials: { ...LOCAL_CREDENTIALS }, requestHandler: new NodeHttpHandler() });
  const templatePath = args.template ?? join(io.cwd, TEMPLATE_FILE);
  return {
    cloudFormation,
    kinesis: local.kinesis,
    s3: local.s3,
    stackName: `${serviceName(io.cwd)}-local`,
    template: async () => JSON.parse(await readFile(resolve(io.cwd, templatePath), 'utf8')) as CfnTemplate,
    destroy() {
      cloudFormation.destroy();
      local.destroy();
    },
  };
}

/** The stream and lake bucket of the stack, from its outputs (serverless.yml: OrderStreamName, LakeBucketName). */
async function stackNames(target: Target): Promise<{ streamName: string; bucket: string }> {
  const { Stacks } = await target.cloudFormation.send(new DescribeStacksCommand({ StackName: target.stackName }));
  const outputs = new Map((Stacks?.[0]?.Outputs ?? []).map((output) => [output.OutputKey, output.OutputValue]));
  const streamName = outputs.get('OrderStreamName');
  const bucket = outputs.get('LakeBucketName');
  if (!streamName || !bucket) throw new ReplayUsageError(`stack ${target.stackName} has no OrderStreamName or LakeBucketName output`);
  return { streamName, bucket };
}

const tally = (outcomes: WriteOutcome[]): Record<WriteOutcome, number> => ({
  written: outcomes.filter((o) => o === 'written').length,
  unchanged: outcomes.filter((o) => o === 'unchanged').length,
  replaced: outcomes.filter((o) => o === 'replaced').length,
});

/**
 * Reads the window from the stream and writes its lake and metrics objects.
 *
 * @example
 * const report = await replay(target, { from, to }, 60);
 */
async function replay(target: Target, window: ReplayWindow, windowSeconds: number): Promise<ReplayReport> {
  const { streamName, bucket } = await stackNames(target);
  const { shards, records } = await readStreamWindow(target.kinesis, streamName, window);
  const lake = lakeObjects(records, windowSeconds);
  const metrics = metricsObjects(records, windowSeconds);
  const lakeOutcomes: WriteOutcome[] = [];
  for (const object of lake) lakeOutcomes.push(await putIfChanged(target.s3, bucket, { key: object.key, body: object.body, contentType: 'application/x-ndjson', text: object.text }));
  const metricsOutcomes: WriteOutcome[] = [];
  for (const object of metrics) metricsOutcomes.push(await putIfChanged(target.s3, bucket, { key: object.key, body: object.text, contentType: 'application/json', text: object.text }));
  return {
    streamName,
    bucket,
    from: window.from.toISOString(),
    to: window.to.toISOString(),
    windowSeconds,
    shards,
    records: records.length,
    lake: { ...tally(lakeOutcomes), keys: lake.map((object) => object.key) },
    metrics: { ...tally(metricsOutcomes), keys: metrics.map((object) => object.key), windows: metrics.map((object) => object.metrics) },
  };
}

function printReport(report: ReplayReport, io: ReplayIo): void {
  const counts = (c: Record<WriteOutcome, number>): string => `${c.written} written, ${c.unchanged} unchanged, ${c.replaced} replaced`;
  io.out(`read ${report.records} records from ${report.shards} shards of ${report.streamName}, ${report.from} to ${report.to} (${report.windowSeconds} s windows)`);
  io.out(`lake (s3://${report.bucket}/replay/events/): ${report.lake.keys.length} objects: ${counts(report.lake)}`);
  io.out(`metrics (s3://${report.bucket}/replay/metrics/): ${report.metrics.keys.length} windows: ${counts(report.metrics)}`);
  for (const w of report.metrics.windows) {
    const unreadable = w.unreadable.length > 0 ? `, ${w.unreadable.length} unreadable` : '';
    io.out(`  ${w.windowStart}  placed ${w.OrderPlaced}  charged ${w.OrderCharged}  shipped ${w.OrderShipped}  revenue ${w.revenueCents} cents${unreadable}`);
  }
}

/**
 * Runs a replay; answers the exit code (0 done, 1 failed, 2 usage).
 *
 * @example
 * const code = await runReplay(['--from', '2026-12-03T10:00:00Z', '--endpoint', cloud.edgeUrl], { ...io });
 */
async function runReplay(argv: string[], io: ReplayIo): Promise<number> {
  let args: ReplayArguments;
  try {
    args = parseArguments(argv);
  } catch (error) {
    io.err(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (args.help || args.from === undefined) {
    io.out(USAGE);
    return 0;
  }
  const target = openTarget(args, io);
  try {
    const windowSeconds = args.windowSeconds ?? tumblingWindowSeconds(await target.template());
    const window = replayWindow(args.from, args.to, windowSeconds, (io.now ?? (() => new Date()))());
    const report = await replay(target, window, windowSeconds);
    if (args.json) io.out(JSON.stringify(report, null, 2));
    else printReport(report, io);
    return 0;
  } catch (error) {
    io.err(`replay failed: ${(error as Error).message}`);
    return error instanceof ReplayUsageError || error instanceof ReplayWindowError ? 2 : 1;
  } finally {
    target.destroy();
  }
}

if (import.meta.main) {
  process.exitCode = await runReplay(process.argv.slice(2), {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    env: process.env,
    cwd: process.cwd(),
  });
}

export type { ReplayReport };
export { runReplay };
