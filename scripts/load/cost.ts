/**
 * `npm run cost -- --orders-per-day N [--report reports/<scenario>-<timestamp>.json]`
 *
 * Monthly AWS cost by service for N orders a day, from the requests per order a local load run
 * measured (the edge's counters, the runtime's invocations and durations) and us-east-1 prices.
 * Every price names the page it was read from and the date. Where no page stating a us-east-1 number
 * could be found, the line says so and is left out of the total rather than guessed.
 *
 * Not modelled: API Gateway (HTTP API requests), CloudWatch Logs and metrics, X-Ray, KMS, storage
 * (S3, DynamoDB), data transfer, free tiers.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { LoadReport } from './report.ts';

/** Days in an average month (365 / 12): AWS bills a month as 730 hours. */
const DAYS_PER_MONTH = 365 / 12;
const HOURS_PER_MONTH = 730;
const READ_ON = '2026-11-22';

interface Price {
  /** USD per unit; undefined when no page stating it was found. */
  usd: number | undefined;
  unit: string;
  /** The page the number was read from. */
  source: string;
  readOn: string;
  /** How the number relates to the source (official page, or a secondary page quoting it). */
  note: string;
}

/**
 * us-east-1 prices. The official AWS pricing pages render their price tables client-side: where the stored
 * text of the official page carried no number, the number comes from a dated secondary page that quotes it,
 * and the note says so. Searched on 2026-11-22 for each service's pricing page.
 */
const PRICES = {
  sqsStandardPerMillion: {
    usd: 0.4,
    unit: 'per million requests (standard queue; each 64 KB chunk of a payload is a request)',
    source: 'https://cloudburn.io/blog/amazon-sqs-pricing',
    readOn: READ_ON,
    note: 'secondary page, "All prices are for US East (N. Virginia) as of March 2026"; the official https://aws.amazon.com/sqs/pricing/ was not found in the searchable corpus',
  },
  sqsFifoPerMillion: {
    usd: 0.5,
    unit: 'per million requests (FIFO queue)',
    source: 'https://cloudburn.io/blog/amazon-sqs-pricing',
    readOn: READ_ON,
    note: 'secondary page, US East (N. Virginia), March 2026',
  },
  snsFifoPublishPerMillion: {
    usd: 0.3,
    unit: 'per million publishes (FIFO topic)',
    source: 'https://www.factualminds.com/blog/amazon-sns-pricing-publishes-fanout-protocols/',
    readOn: READ_ON,
    note: 'secondary page (2026-06-13): "$0.50 per million publishes for Standard topics, $0.30 per million for FIFO"; the official https://aws.amazon.com/sns/pricing/ was not found in the searchable corpus',
  },
  snsFifoPayloadAndDeliveries: {
    usd: undefined,
    unit: 'per GB of payload / per subscription message (FIFO topic)',
    source: 'https://aws.amazon.com/sns/pricing/',
    readOn: READ_ON,
    note: 'not found: no page stating the FIFO payload and delivery charges for us-east-1 was found',
  },
  lambdaRequestsPerMillion: {
    usd: 0.2,
    unit: 'per million requests',
    source: 'https://cloudchipr.com/blog/aws-lambda-pricing',
    readOn: READ_ON,
    note: 'secondary page, "based on the US East (N. Virginia) region"; the official https://aws.amazon.com/lambda/pricing/ was found but its stored text renders the prices client-side (no numbers)',
  },
  lambdaArmPerGbSecond: {
    usd: 0.0000133334,
    unit: 'per GB-second, arm64 (first 7.5 billion GB-s a month)',
    source: 'https://cloudchipr.com/blog/aws-lambda-pricing',
    readOn: READ_ON,
    note: 'secondary page, US East (N. Virginia) ARM pricing tier 1; serverless.yml deploys arm64',
  },
  dynamodbWritePerMillion: {
    usd: 0.625,
    unit: 'per million write request units (on-demand; 1 WRU writes up to 1 KB)',
    source: 'https://airbyte.com/data-engineering-resources/dynamodb-pricing',
    readOn: READ_ON,
    note: 'secondary page, "Current Pricing Structure (US East)" after the November 2024 50 % reduction; the official https://aws.amazon.com/dynamodb/pricing/on-demand/ was found but its stored text carries no number',
  },
  dynamodbReadPerMillion: {
    usd: 0.125,
    unit: 'per million read request units (on-demand; 1 RRU = 1 strongly consistent read up to 4 KB)',
    source: 'https://airbyte.com/data-engineering-resources/dynamodb-pricing',
    readOn: READ_ON,
    note: 'secondary page, US East, after the November 2024 reduction',
  },
  kinesisShardHour: {
    usd: undefined,
    unit: 'per shard-hour (provisioned)',
    source: 'https://aws.amazon.com/kinesis/data-streams/pricing/',
    readOn: READ_ON,
    note: 'not found: the official page was found but its stored text carries no number, and no page stating the us-east-1 shard-hour price was found',
  },
  kinesisPutPayloadUnitPerMillion: {
    usd: undefined,
    unit: 'per million PUT payload units (25 KB each)',
    source: 'https://aws.amazon.com/kinesis/data-streams/pricing/',
    readOn: READ_ON,
    note: 'not found for us-east-1 (a page quoting $0.014 names US West (Oregon) only)',
  },
  firehosePerGb: {
    usd: undefined,
    unit: 'per GB ingested, each record rounded up to 5 KB',
    source: 'https://aws.amazon.com/kinesis/data-firehose/pricing/',
    readOn: READ_ON,
    note: 'not found: the official page (found in German) states the 5 KB rounding and tiered per-GB pricing but its stored text carries no number',
  },
  s3PutPerThousand: {
    usd: 0.005,
    unit: 'per 1,000 PUT, COPY, POST or LIST requests (S3 Standard)',
    source: 'https://c3x.dev/blog/s3-request-fees-explained',
    readOn: READ_ON,
    note: 'secondary page, S3 Standard request prices (the page does not name the region); the official https://aws.amazon.com/s3/pricing/ was not found with numbers',
  },
  s3GetPerThousand: {
    usd: 0.0004,
    unit: 'per 1,000 GET, HEAD or SELECT requests (S3 Standard)',
    source: 'https://c3x.dev/blog/s3-request-fees-explained',
    readOn: READ_ON,
    note: 'secondary page, S3 Standard (region not named on the page)',
  },
} satisfies Record<string, Price>;

type PriceKey = keyof typeof PRICES;

/** What one order costs in requests and compute, as a local run measured it. */
interface PerOrder {
  /** Requests per order by service and operation (the edge's counters, the runner's own excluded). */
  requests: Record<string, Record<string, number>>;
  /** Per function: invocations per order, mean duration (ms), memory (MB). */
  functions: Record<string, { invocationsPerOrder: number; meanDurationMs: number; memoryMb: number }>;
  /** Share of physical orders (Kinesis records per order = 2 + physical share: OrderPlaced, OrderCharged, OrderShipped). */
  physicalShare: number;
  /** Kinesis shards (the stream's ShardCount). */
  shards: number;
}

interface CostLine {
  service: string;
  item: string;
  /** Units a month (requests, GB-seconds, shard-hours...). */
  monthlyUnits: number;
  /** USD a month; undefined when the price was not found. */
  monthlyUsd: number | undefined;
  price: Price;
}

interface CostEstimate {
  ordersPerDay: number;
  ordersPerMonth: number;
  lines: CostLine[];
  byService: Record<string, number>;
  /** Sum of the lines with a price. */
  totalUsd: number;
  /** Lines left out for want of a price. */
  unpriced: string[];
  assumptions: string[];
}

class CostError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CostError';
  }
}

const S3_PUT_CLASS = new Set(['PutObject', 'CopyObject', 'PostObject', 'ListObjects', 'ListObjectsV2', 'CreateMultipartUpload', 'UploadPart', 'UploadPartCopy', 'CompleteMultipartUpload', 'CreateBucket', 'PutBucketNotificationConfiguration', 'PutBucketPolicy']);
const S3_GET_CLASS = new Set(['GetObject', 'HeadObject', 'HeadBucket', 'GetBucketNotificationConfiguration']);
const DYNAMODB_WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);
const DYNAMODB_READS = new Set(['GetItem', 'Query', 'Scan', 'BatchGetItem', 'TransactGetItems']);

const sum = (values: Iterable<number>): number => [...values].reduce((a, b) => a + b, 0);

/** The per-order figures of a report (local runs only: the counters live in the local cloud). */
function perOrderFromReport(report: LoadReport, shards = 1): PerOrder {
  if (typeof report.aws.requestsByOperation === 'string' || typeof report.functions === 'string') {
    throw new CostError(`the report of run ${report.run.id} has no request counts (${report.aws.source}): use a report of a local run`);
  }
  // Every order that entered the pipeline: accepted ones and those placed although their request got a 5xx.
  const orders = report.counts.accepted + (report.counts.placedDespiteError ?? 0);
  if (orders <= 0) throw new CostError(`the report of run ${report.run.id} accepted no orders`);
  const requests: PerOrder['requests'] = {};
  for (const [service, operations] of Object.entries(report.aws.requestsByOperation)) {
    requests[service] = Object.fromEntries(Object.entries(operations).map(([op, count]) => [op, count / orders]));
  }
  const functions: PerOrder['functions'] = {};
  for (const [name, fn] of Object.entries(report.functions)) {
    functions[name] = { invocationsPerOrder: fn.invocations / orders, meanDurationMs: fn.meanDurationMs, memoryMb: fn.memoryMb };
  }
  return { requests, functions, physicalShare: report.scenario.orders.physicalShare, shards };
}

/**
 * Monthly cost lines for `ordersPerDay` (pure).
 *
 * @example
 * const estimate = estimateMonthlyCost(perOrderFromReport(report), 864_000);   // 10 orders/s
 */
function estimateMonthlyCost(perOrder: PerOrder, ordersPerDay: number): CostEstimate {
  if (!Number.isFinite(ordersPerDay) || ordersPerDay < 0) throw new CostError(`--orders-per-day must be a number >= 0, got ${ordersPerDay}`);
  const ordersPerMonth = ordersPerDay * DAYS_PER_MONTH;
  const lines: CostLine[] = [];
  const line = (service: string, item: string, monthlyUnits: number, key: PriceKey, unitsPerPrice: number): void => {
    const price: Price = PRICES[key];
    lines.push({ service, item, monthlyUnits, monthlyUsd: price.usd === undefined ? undefined : (monthlyUnits / unitsPerPrice) * price.usd, price });
  };
  const ops = (service: string, keep?: (op: string) => boolean): number =>
    sum(Object.entries(perOrder.requests[service] ?? {}).filter(([op]) => keep?.(op) ?? true).map(([, n]) => n));

  // Lambda: one request per invocation; duration × configured memory.
  const invocations = sum(Object.values(perOrder.functions).map((fn) => fn.invocationsPerOrder));
  const gbSeconds = sum(Object.values(perOrder.functions).map((fn) => fn.invocationsPerOrder * (fn.meanDurationMs / 1000) * (fn.memoryMb / 1024)));
  line('Lambda', 'requests', invocations * ordersPerMonth, 'lambdaRequestsPerMillion', 1e6);
  line('Lambda', 'duration (arm64)', gbSeconds * ordersPerMonth, 'lambdaArmPerGbSecond', 1);
  // SQS: every request the edge saw (sends, receives, deletes, visibility changes), at the standard-queue price.
  line('SQS', 'requests (priced as standard queue)', ops('sqs') * ordersPerMonth, 'sqsStandardPerMillion', 1e6);
  // SNS: publishes to the FIFO topic.
  line('SNS', 'FIFO publishes', ops('sns', (op) => op === 'Publish' || op === 'PublishBatch') * ordersPerMonth, 'snsFifoPublishPerMillion', 1e6);
  line('SNS', 'FIFO payload data and subscription messages', ops('sns', (op) => op === 'Publish' || op === 'PublishBatch') * ordersPerMonth, 'snsFifoPayloadAndDeliveries', 1e6);
  // DynamoDB: items under 1 KB (orders with up to a few items): 1 WRU per write, 1 RRU per read.
  line('DynamoDB', 'write request units', ops('dynamodb', (op) => DYNAMODB_WRITES.has(op)) * ordersPerMonth, 'dynamodbWritePerMillion', 1e6);
  line('DynamoDB', 'read request units', ops('dynamodb', (op) => DYNAMODB_READS.has(op)) * ordersPerMonth, 'dynamodbReadPerMillion', 1e6);
  // Kinesis: shards × hours (fixed), one PUT payload unit per record (records are well under 25 KB).
  line('Kinesis Data Streams', `shard-hours (${perOrder.shards} shard)`, perOrder.shards * HOURS_PER_MONTH, 'kinesisShardHour', 1);
  const records = 2 + perOrder.physicalShare;
  line('Kinesis Data Streams', 'PUT payload units', records * ordersPerMonth, 'kinesisPutPayloadUnitPerMillion', 1e6);
  // Firehose: each record rounded up to 5 KB.
  line('Data Firehose', 'GB ingested (records rounded up to 5 KB)', (records * 5 * 1024 * ordersPerMonth) / 1024 ** 3, 'firehosePerGb', 1);
  // S3: request classes.
  line('S3', 'PUT-class requests', ops('s3', (op) => S3_PUT_CLASS.has(op)) * ordersPerMonth, 's3PutPerThousand', 1000);
  line('S3', 'GET-class requests', ops('s3', (op) => S3_GET_CLASS.has(op)) * ordersPerMonth, 's3GetPerThousand', 1000);

  const byService: Record<string, number> = {};
  for (const l of lines) if (l.monthlyUsd !== undefined) byService[l.service] = (byService[l.service] ?? 0) + l.monthlyUsd;
  return {
    ordersPerDay,
    ordersPerMonth,
    lines,
    byService,
    totalUsd: sum(Object.values(byService)),
    unpriced: lines.filter((l) => l.monthlyUsd === undefined).map((l) => `${l.service} ${l.item}`),
    assumptions: [
      `a month is ${DAYS_PER_MONTH.toFixed(2)} days (${HOURS_PER_MONTH} hours); no free tier applied`,
      'requests per order as the local run measured them: local pollers and batching windows approximate Lambda\'s event source mappings, so SQS receives per order differ on AWS (more batching under load, fewer polls)',
      'Lambda durations are the local runtime\'s (one process on this machine, shared with the emulators): AWS durations are usually shorter',
      'SQS requests are priced at the standard-queue rate; those on order-store.fifo cost 25 % more',
      'DynamoDB: one request unit per request (items under 1 KB written, under 4 KB read)',
      'not included: API Gateway, CloudWatch Logs and metrics, X-Ray, KMS, storage, data transfer',
    ],
  };
}

const usd = (value: number | undefined): string => (value === undefined ? 'n/a' : value < 0.01 && value > 0 ? `$${value.toFixed(4)}` : `$${value.toFixed(2)}`);
const count = (value: number): string => (value >= 1e6 ? `${(value / 1e6).toFixed(2)} M` : value.toLocaleString('en-US', { maximumFractionDigits: 1 }));

function formatEstimate(estimate: CostEstimate, reportPath: string): string {
  const rows = estimate.lines.map((l) => [l.service, l.item, count(l.monthlyUnits), l.price.usd === undefined ? 'price not found' : `$${l.price.usd} ${l.price.unit}`, usd(l.monthlyUsd)]);
  const widths = [0, 1, 2, 3, 4].map((i) => Math.max(...rows.map((r) => (r[i] as string).length), ['service', 'item', 'units/month', 'price', 'USD/month'][i]?.length ?? 0));
  const fmtRow = (r: string[]): string => r.map((cell, i) => (i >= 2 && i !== 3 ? cell.padStart(widths[i] as number) : cell.padEnd(widths[i] as number))).join('  ');
  const out = [
    `Monthly cost for ${estimate.ordersPerDay.toLocaleString('en-US')} orders/day (${count(estimate.ordersPerMonth)} orders/month), us-east-1, from ${reportPath}`,
    '',
    fmtRow(['service', 'item', 'units/month', 'price', 'USD/month']),
    ...rows.map((r) => fmtRow(r as string[])),
    '',
    'By service:',
    ...Object.entries(estimate.byService)
      .sort((a, b) => b[1] - a[1])
      .map(([service, value]) => `  ${service.padEnd(22)} ${usd(value)}`),
    `  ${'total (priced lines)'.padEnd(22)} ${usd(estimate.totalUsd)}`,
  ];
  if (estimate.unpriced.length > 0) out.push('', `Not in the total (no page stating a us-east-1 price was found): ${estimate.unpriced.join('; ')}.`);
  out.push('', 'Prices (page, date read):');
  const seen = new Set<string>();
  for (const l of estimate.lines) {
    const key = `${l.price.source}|${l.price.unit}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(`  ${l.service}, ${l.price.unit}: ${l.price.usd === undefined ? 'not found' : `$${l.price.usd}`}; ${l.price.source} (read ${l.price.readOn}; ${l.price.note})`);
  }
  out.push('', 'Assumptions:', ...estimate.assumptions.map((a) => `  - ${a}`));
  return `${out.join('\n')}\n`;
}

/** The newest report in `dir` that carries local request counts. */
async function latestLocalReport(dir: string): Promise<string> {
  if (!existsSync(dir)) throw new CostError(`no reports in ${dir}: run \`npm run load -- steady\` first, or pass --report`);
  const candidates = (await readdir(dir)).filter((file) => file.endsWith('.json'));
  const dated = await Promise.all(candidates.map(async (file) => ({ file: join(dir, file), mtime: (await stat(join(dir, file))).mtimeMs })));
  for (const { file } of dated.sort((a, b) => b.mtime - a.mtime)) {
    try {
      const report = JSON.parse(await readFile(file, 'utf8')) as LoadReport;
      if (report.schema === 'orderflow-load-report/1' && typeof report.aws.requestsByOperation === 'object' && report.counts.accepted > 0) return file;
    } catch {
      // not a load report
    }
  }
  throw new CostError(`no local load report with request counts in ${dir}: run \`npm run load -- steady\` first, or pass --report`);
}

function parseArguments(argv: string[]): { ordersPerDay: number; report?: string; shards: number } {
  let ordersPerDay: number | undefined;
  let report: string | undefined;
  let shards = 1;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    const next = argv[i + 1];
    if (arg === '--orders-per-day' && next !== undefined) {
      ordersPerDay = Number(next.replace(/[_,]/g, ''));
      i += 1;
    } else if (arg === '--report' && next !== undefined) {
      report = next;
      i += 1;
    } else if (arg === '--shards' && next !== undefined) {
      shards = Number(next);
      i += 1;
    } else throw new CostError(`unknown or incomplete argument ${arg}\nusage: npm run cost -- --orders-per-day N [--report reports/<run>.json] [--shards 1]`);
  }
  if (ordersPerDay === undefined || !Number.isFinite(ordersPerDay) || ordersPerDay < 0) {
    throw new CostError('usage: npm run cost -- --orders-per-day N [--report reports/<run>.json] [--shards 1]');
  }
  if (!Number.isInteger(shards) || shards < 1) throw new CostError(`--shards must be a whole number >= 1, got ${shards}`);
  return { ordersPerDay, ...(report === undefined ? {} : { report }), shards };
}

async function main(): Promise<void> {
  const args = parseArguments(process.argv.slice(2));
  const path = args.report ?? (await latestLocalReport(join(import.meta.dirname, '..', '..', 'reports')));
  const report = JSON.parse(await readFile(path, 'utf8')) as LoadReport;
  process.stdout.write(formatEstimate(estimateMonthlyCost(perOrderFromReport(report, args.shards), args.ordersPerDay), path));
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    process.stderr.write(`cost failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  });
}

export { CostError, DAYS_PER_MONTH, PRICES, estimateMonthlyCost, formatEstimate, perOrderFromReport };
export type { CostEstimate, CostLine, PerOrder, Price };
