/**
 * Where a load run goes:
 * - a running `npm start` (its edge answers `GET /_local/stats` on EDGE_PORT, default 4566, and its
 *   API answers on PORT, default 3000);
 * - else a local cloud started in this process (`startLocalCloud`, free ports, a temporary data
 *   directory), stopped after the run;
 * - or, with `--stage NAME`, a deployed stack: the API URL and resource names come from
 *   CloudFormation (DescribeStacks outputs, ListStackResources), with the user's own credentials.
 *
 * Every client built here identifies itself as `orderflow-load` (user agent), so the local edge
 * counts the runner's own requests apart from the application's.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand, paginateListStackResources } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { parse as parseYaml } from 'yaml';
import { type LocalCloud } from 'local-cloud';
import { localClients } from '../local/clients.ts';
import { startOrderflowCloud } from '../local/cloud.ts';
import { OBSERVER_AGENT, STATS_PATH, controlHeaders, mintLocalToken, readLocalToken, type LocalStatsSnapshot } from 'local-cloud';
import { TemplateResolver, loadTemplate, type CfnTemplate } from 'local-cloud';
import { isRecord } from '#lib/domain/validate.ts';

const PROJECT_DIR = join(import.meta.dirname, '..', '..');

/**
 * How long a local load token is valid: 12 hours, longer than any scenario runs (the longest, bulk-import, is
 * minutes: scripts/load/scenarios/), so no request of a run meets an expired token.
 */
const LOAD_TOKEN_SECONDS = 12 * 60 * 60;
/** The customer every local load order is placed as. */
const LOAD_CUSTOMER = 'load';
const TEMPLATE_PATH = join(PROJECT_DIR, '.serverless', 'cloudformation-template-update-stack.json');

interface QueueInfo {
  logicalId: string;
  name: string;
  url: string;
  /** work: consumed by a function (an SQS event source mapping); dlq: everything else (DLQs, failure destinations). */
  role: 'work' | 'dlq';
  /** The consuming function's logical id, for work queues. */
  consumer?: string;
}

/** A local cloud's edge URL and the token of its `/_local/*` endpoints (undefined: none found). */
interface LocalEdge {
  url: string;
  token: string | undefined;
  /** Its data directory, when known (a running npm start's): where its token issuer keeps its key. */
  dataDir?: string;
}

type TargetKind = 'local-in-process' | 'local-npm-start' | 'aws';

interface LoadTarget {
  kind: TargetKind;
  /** One line for the report and the console. */
  description: string;
  apiUrl: string;
  /**
   * `Bearer <token>` for POST /orders: locally a token of the local issuer for the customer `load` (valid
   * LOAD_TOKEN_SECONDS), on AWS the customer access token in ORDERFLOW_TOKEN.
   */
  authorization: string;
  region: string;
  stage: string;
  stackName: string;
  queues: QueueInfo[];
  ordersTable: string;
  /** The imports bucket, where a bulk-import scenario uploads its file; undefined for a stack without the imports slice. */
  importsBucket?: string;
  sqs: SQSClient;
  dynamodb: DynamoDBDocumentClient;
  s3: S3Client;
  /** The local cloud's edge (`/_local/faults`, the DLQ tool's endpoint) and its token; undefined on AWS. */
  edge?: LocalEdge;
  /** The local cloud's counters; undefined on AWS. */
  stats(): Promise<LocalStatsSnapshot | undefined>;
  /** The in-process cloud, when this run started one. */
  cloud?: LocalCloud;
  stop(): Promise<void>;
}

interface TargetOptions {
  /** A deployed stage: target AWS. */
  stage?: string;
  region?: string;
  /** Stack name override (default `<service>-<stage>`). */
  stack?: string;
  /** Start a local cloud in this process even if `npm start` is running. */
  inProcess?: boolean;
  edgePort?: number;
  apiPort?: number;
  log(line: string): void;
  /** Where the in-process cloud's own log goes (default: dropped). */
  cloudLog?(line: string): void;
}

class TargetError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TargetError';
  }
}

/** The work queues (sources of SQS event source mappings) of a template, with their consumer. */
function workQueuesOf(template: CfnTemplate): Map<string, string> {
  const work = new Map<string, string>();
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::EventSourceMapping' || !isRecord(resource.Properties)) continue;
    const source = resource.Properties.EventSourceArn;
    const queue = isRecord(source) && Array.isArray(source['Fn::GetAtt']) ? String(source['Fn::GetAtt'][0]) : undefined;
    if (!queue || template.Resources[queue]?.Type !== 'AWS::SQS::Queue') continue;
    const fn = resource.Properties.FunctionName;
    const consumer = isRecord(fn) && Array.isArray(fn['Fn::GetAtt']) ? String(fn['Fn::GetAtt'][0]) : isRecord(fn) && typeof fn.Ref === 'string' ? fn.Ref : '';
    work.set(queue, consumer.replace(/LambdaFunction$/, ''));
  }
  return work;
}

/** Without a template: DLQs and failure destinations by their logical id. */
function roleByName(logicalId: string): QueueInfo['role'] {
  return /DLQ$|Failures?Queue$/i.test(logicalId) ? 'dlq' : 'work';
}

function queueInfo(logicalId: string, url: string, work: Map<string, string> | undefined): QueueInfo {
  const consumer = work?.get(logicalId);
  const role = work ? (consumer !== undefined ? 'work' : 'dlq') : roleByName(logicalId);
  return { logicalId, name: url.split('/').pop() ?? logicalId, url, role, ...(consumer ? { consumer } : {}) };
}

function findLogical(template: CfnTemplate, type: string, preferred: string): string {
  if (template.Resources[preferred]?.Type === type) return preferred;
  const found = Object.entries(template.Resources).find(([, resource]) => resource.Type === type);
  if (!found) throw new TargetError(`the template has no ${type}`);
  return found[0];
}

/** The local cloud's clients, as the observer (OBSERVER_AGENT: its requests are counted apart from the application's). */
function localTargetClients(endpoint: string, region: string): Pick<LoadTarget, 'sqs' | 'dynamodb' | 's3'> {
  const { sqs, documents, s3 } = localClients({ endpoint, region }, { customUserAgent: OBSERVER_AGENT });
  return { sqs, dynamodb: documents, s3 };
}

/** GET with a short timeout; undefined when nothing answers. */
function probe(url: string, timeoutMs = 1500, headers: Record<string, string> = {}): Promise<{ status: number; body: string } | undefined> {
  return new Promise((resolve) => {
    const outgoing = request(url, { method: 'GET', timeout: timeoutMs, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', () => resolve(undefined));
    });
    outgoing.on('timeout', () => outgoing.destroy());
    outgoing.on('error', () => resolve(undefined));
    outgoing.end();
  });
}

async function fetchStats(edge: LocalEdge): Promise<LocalStatsSnapshot | undefined> {
  const answer = await probe(`${edge.url}${STATS_PATH}`, 5000, controlHeaders(edge.token));
  if (!answer || answer.status !== 200) return undefined;
  try {
    const parsed = JSON.parse(answer.body) as LocalStatsSnapshot;
    return isRecord(parsed) && isRecord(parsed.aws) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A running `npm start` of this checkout on these ports, or undefined. Its `/_local/*` token: LOCAL_CLOUD_TOKEN, else
 * its data directory's (LOCAL_DATA_DIR, default `.local`).
 */
async function detectNpmStart(edgePort: number, apiPort: number): Promise<{ edge: LocalEdge; apiUrl: string } | undefined> {
  const dataDir = resolve(PROJECT_DIR, process.env.LOCAL_DATA_DIR || '.local');
  const edge = { url: `http://127.0.0.1:${edgePort}`, token: readLocalToken({ dataDir }), dataDir };
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const [stats, api] = await Promise.all([probe(`${edge.url}${STATS_PATH}`, 5000, controlHeaders(edge.token)), probe(`${apiUrl}/`)]);
  if (stats?.status === 403 && api) {
    throw new TargetError(`the local cloud on ${edge.url} refused its counters: ${stats.body} (set LOCAL_CLOUD_TOKEN, or LOCAL_DATA_DIR to its data directory)`);
  }
  return stats?.status === 200 && api ? { edge, apiUrl } : undefined;
}

/** The resources of the template that `npm start` runs, named the way the local cloud names them. */
async function npmStartTarget(found: { edge: LocalEdge; apiUrl: string }, log: (line: string) => void): Promise<LoadTarget> {
  if (!existsSync(TEMPLATE_PATH)) throw new TargetError(`${TEMPLATE_PATH} not found: the running npm start packaged it; run it from this checkout`);
  const template = await loadTemplate(TEMPLATE_PATH);
  const code = Object.values(template.Resources).find((resource) => resource.Type === 'AWS::Lambda::Function')?.Properties?.Code;
  const parts = isRecord(code) && typeof code.S3Key === 'string' ? code.S3Key.split('/') : [];
  const stackName = parts.length >= 4 ? `${parts[1]}-${parts[2]}` : 'orderflow-local';
  const region = 'us-east-1';
  const resolver = new TemplateResolver(template, { stackName, region, accountId: '000000000000', queueUrlBase: found.edge.url });
  const work = workQueuesOf(template);
  const queues = Object.entries(template.Resources)
    .filter(([, resource]) => resource.Type === 'AWS::SQS::Queue')
    .map(([logicalId]) => queueInfo(logicalId, resolver.identity(logicalId).ref, work));
  log(`target: the running npm start (API ${found.apiUrl}, edge ${found.edge.url}, stack ${stackName})`);
  return {
    kind: 'local-npm-start',
    description: `local cloud of a running npm start (${found.apiUrl})`,
    apiUrl: found.apiUrl,
    region,
    stage: parts[2] ?? 'local',
    stackName,
    queues,
    ordersTable: resolver.identity(findLogical(template, 'AWS::DynamoDB::Table', 'OrdersTable')).ref,
    importsBucket: resolver.identity('ImportsBucket').ref, // slice-line:imports
    ...localTargetClients(found.edge.url, region),
    // The running local cloud's issuer wrote its key into its data directory: a token of it passes its API.
    authorization: `Bearer ${await mintLocalToken(found.edge.dataDir ?? resolve(PROJECT_DIR, '.local'), { customer: LOAD_CUSTOMER, expiresInSeconds: LOAD_TOKEN_SECONDS })}`,
    edge: found.edge,
    stats: () => fetchStats(found.edge),
    stop: async () => {},
  };
}

async function inProcessTarget(options: TargetOptions): Promise<LoadTarget> {
  const dataDir = await mkdtemp(join(tmpdir(), 'orderflow-load-'));
  options.log(`target: starting a local cloud in this process (data in ${dataDir})...`);
  let cloud: LocalCloud;
  try {
    cloud = await startOrderflowCloud({ edgePort: 0, apiPort: 0, dataDir, projectDir: PROJECT_DIR, log: options.cloudLog ?? (() => {}) });
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  options.log(`target: local cloud ready in ${cloud.readyInMs} ms (API ${cloud.apiUrl}, edge ${cloud.edgeUrl})`);
  const template = await loadTemplate(TEMPLATE_PATH).catch(() => undefined);
  const work = template ? workQueuesOf(template) : undefined;
  const queues = Object.entries(cloud.resources)
    .filter(([, resource]) => resource.type === 'AWS::SQS::Queue' && resource.url)
    .map(([logicalId, resource]) => queueInfo(logicalId, resource.url as string, work));
  const clients = localTargetClients(cloud.edgeUrl, cloud.region);
  return {
    kind: 'local-in-process',
    description: `local cloud started in-process (${cloud.stackName}, temporary data directory)`,
    apiUrl: cloud.apiUrl,
    region: cloud.region,
    stage: 'local',
    stackName: cloud.stackName,
    queues,
    ordersTable: cloud.outputs.OrdersTableName ?? cloud.resources.OrdersTable?.physicalId ?? '',
    importsBucket: cloud.outputs.ImportsBucketName ?? cloud.resources.ImportsBucket?.physicalId ?? '', // slice-line:imports
    ...clients,
    authorization: `Bearer ${await cloud.mintToken({ customer: LOAD_CUSTOMER, expiresInSeconds: LOAD_TOKEN_SECONDS })}`,
    edge: { url: cloud.edgeUrl, token: cloud.token },
    stats: async () => cloud.stats(),
    cloud,
    stop: async () => {
      clients.sqs.destroy();
      clients.dynamodb.destroy();
      clients.s3.destroy();
      await cloud.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** `service:` of serverless.yml (the stack is `<service>-<stage>`). */
async function serviceName(): Promise<string> {
  const parsed = parseYaml(await readFile(join(PROJECT_DIR, 'serverless.yml'), 'utf8'), { logLevel: 'silent' }) as { service?: unknown };
  if (typeof parsed?.service !== 'string') throw new TargetError('serverless.yml: service is not a plain name; pass --stack');
  return parsed.service;
}

/** A customer's access token for the deployed API, from ORDERFLOW_TOKEN (README, "Security": how to get one). */
function awsToken(): string {
  const token = process.env.ORDERFLOW_TOKEN?.trim().replace(/^Bearer\s+/i, '');
  if (!token) throw new TargetError('ORDERFLOW_TOKEN is not set: the API wants a customer access token of the stack\'s user pool (README, "Security", how to get one)');
  return token;
}

async function awsTarget(options: TargetOptions & { stage: string }): Promise<LoadTarget> {
  const region = options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const stackName = options.stack ?? `${await serviceName()}-${options.stage}`;
  const cloudformation = new CloudFormationClient({ region, customUserAgent: OBSERVER_AGENT });
  try {
    let outputs: Record<string, string>;
    try {
      const described = await cloudformation.send(new DescribeStacksCommand({ StackName: stackName }));
      const stack = described.Stacks?.[0];
      if (!stack) throw new TargetError(`stack ${stackName} not found in ${region}`);
      outputs = Object.fromEntries((stack.Outputs ?? []).map((output) => [output.OutputKey ?? '', output.OutputValue ?? '']));
    } catch (error) {
      if (error instanceof TargetError) throw error;
      throw new TargetError(`DescribeStacks ${stackName} in ${region} failed: ${(error as Error).message} (deployed? credentials? --region?)`, { cause: error });
    }
    for (const key of ['HttpApiUrl', 'OrdersTableName']) {
      if (!outputs[key]) throw new TargetError(`stack ${stackName} has no output ${key} (deployed from this serverless.yml?)`);
    }
    const template = existsSync(TEMPLATE_PATH) ? await loadTemplate(TEMPLATE_PATH) : undefined;
    const work = template ? workQueuesOf(template) : undefined;
    const queues: QueueInfo[] = [];
    // Read every page: a stack lists its resources 100 at a time.
    for await (const page of paginateListStackResources({ client: cloudformation }, { StackName: stackName })) {
      for (const resource of page.StackResourceSummaries ?? []) {
        if (resource.ResourceType === 'AWS::SQS::Queue' && resource.PhysicalResourceId && resource.LogicalResourceId) {
          queues.push(queueInfo(resource.LogicalResourceId, resource.PhysicalResourceId, work));
        }
      }
    }
    options.log(`target: stack ${stackName} in ${region} (API ${outputs.HttpApiUrl}, ${queues.length} queues)`);
    const common = { region, customUserAgent: OBSERVER_AGENT };
    const sqs = new SQSClient(common);
    const dynamodb = DynamoDBDocumentClient.from(new DynamoDBClient(common));
    const s3 = new S3Client(common);
    return {
      kind: 'aws',
      description: `AWS stack ${stackName} (${region})`,
      apiUrl: outputs.HttpApiUrl as string,
      authorization: `Bearer ${awsToken()}`,
      region,
      stage: options.stage,
      stackName,
      queues,
      ordersTable: outputs.OrdersTableName as string,
      importsBucket: outputs.ImportsBucketName as string, // slice-line:imports
      sqs,
      dynamodb,
      s3,
      stats: async () => undefined,
      stop: async () => {
        sqs.destroy();
        dynamodb.destroy();
        s3.destroy();
      },
    };
  } finally {
    cloudformation.destroy();
  }
}

/**
 * @example
 * const target = await resolveTarget({ log: console.log });   // npm start, else in-process
 * const aws = await resolveTarget({ stage: 'dev', log: console.log });
 */
async function resolveTarget(options: TargetOptions): Promise<LoadTarget> {
  if (options.stage !== undefined) return awsTarget({ ...options, stage: options.stage });
  if (!options.inProcess) {
    const found = await detectNpmStart(options.edgePort ?? 4566, options.apiPort ?? 3000);
    if (found) return npmStartTarget(found, options.log);
  }
  return inProcessTarget(options);
}

export type { LocalEdge };
export { TEMPLATE_PATH, TargetError, resolveTarget };
export type { LoadTarget, QueueInfo, TargetKind };
