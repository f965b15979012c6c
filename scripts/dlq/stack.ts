/**
 * Where the DLQ tool acts: the local cloud (default: its edge, names from the compiled template) or a deployed
 * stage (`--stage NAME`: the stack's template from CloudFormation GetTemplate, physical ids from
 * ListStackResources, the default credential chain). Everything else in scripts/dlq talks to this interface.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { controlHeaders, type CfnTemplate } from 'local-cloud';
import { localClients } from '../local/clients.ts';
import { DlqError } from './errors.ts';

/** A record's last failure, as the consumer logged it (lib/batch.ts `record failed`) or the local poller saw it. */
interface FailureInfo {
  functionName: string;
  at: string;
  errorName: string;
  errorMessage: string;
  orderId?: string;
}

interface InvokeOutcome {
  ok: boolean;
  payload?: unknown;
  error?: string;
}

interface StackView {
  target: 'local' | 'aws';
  stackName: string;
  region: string;
  template: CfnTemplate;
  sqs: SQSClient;
  kinesis: KinesisClient;
  /** Physical name of a queue, function or stream of the template. */
  physicalName(logicalId: string): string | undefined;
  queueUrl(logicalId: string): Promise<string>;
  /** Last failures by record key (SQS messageId, or Kinesis sequenceNumber), looked up where the consumer logs. */
  lastFailures(keys: string[], consumerFunction: string | undefined, keyField: 'messageId' | 'sequenceNumber'): Promise<Map<string, FailureInfo> | string>;
  /** Invokes a function synchronously (RequestResponse). */
  invoke(functionName: string, event: unknown): Promise<InvokeOutcome>;
  destroy(): void;
}

const TEMPLATE_FILE = join('.serverless', 'cloudformation-template-update-stack.json');

/** How far back a Logs Insights query looks: a DLQ keeps messages 14 days (messaging.yml). */
const INSIGHTS_LOOKBACK_SECONDS = 14 * 24 * 3600;

/** A module the tool loads only when needed (AWS-only clients that are not dependencies of the app). */
async function optionalModule<T>(name: string, why: string): Promise<T> {
  try {
    return (await import(name)) as T;
  } catch {
    throw new DlqError(`${why} needs ${name}: npm install --save-dev ${name}`);
  }
}

/** The service name of serverless.yml (`service: orderflow`), for the stack name `<service>-<stage>`. */
function serviceName(projectDir: string): string {
  const text = existsSync(join(projectDir, 'serverless.yml')) ? readFileSync(join(projectDir, 'serverless.yml'), 'utf8') : '';
  return /^service:\s*([A-Za-z0-9-]+)\s*$/m.exec(text)?.[1] ?? 'orderflow';
}

/** `orderflow-local-chargeOrder` from a Lambda function ARN (also qualified). */
function functionNameFromArn(arn: string): string {
  return /function:([^:]+)/.exec(arn)?.[1] ?? arn;
}

/** The Logs Insights query that finds a record's last failure in its consumer's log group. */
function insightsQuery(keyField: 'messageId' | 'sequenceNumber', keys: string[]): string {
  const list = keys.map((key) => JSON.stringify(key)).join(', ');
  return [
    `fields @timestamp, ${keyField}, orderId, errorName, errorMessage`,
    `| filter message = "record failed" and ${keyField} in [${list}]`,
    `| sort @timestamp desc`,
    `| limit ${Math.max(keys.length * 5, 20)}`,
  ].join('\n');
}

interface LocalOptions {
  endpoint: string;
  region: string;
  templatePath: string;
  /** The local cloud's token of `/_local/*` (its `token`, or readLocalToken: LOCAL_CLOUD_TOKEN, `.local/edge/token`). */
  token: string | undefined;
}

/** A `/_local/*` answer of 403 (no token, or another run's): the tool cannot work, say why. */
async function refusedControl(response: Response): Promise<never> {
  const body = (await response.json().catch(() => ({}))) as { message?: string };
  throw new DlqError(`the local cloud refused ${new URL(response.url).pathname} (${response.status}): ${body.message ?? 'no token'}`);
}

async function localStack(options: LocalOptions): Promise<StackView> {
  if (!existsSync(options.templatePath)) {
    throw new DlqError(`no compiled template at ${options.templatePath}: start the local cloud (npm start) or run npx osls package --stage local`);
  }
  const template = JSON.parse(await readFile(options.templatePath, 'utf8')) as CfnTemplate;
  const { sqs, kinesis } = localClients({ endpoint: options.endpoint, region: options.region });
  const functionName = Object.values(template.Resources).find((r) => r.Type === 'AWS::Lambda::Function')?.Properties?.FunctionName;
  const stackName = typeof functionName === 'string' ? functionName.split('-').slice(0, 2).join('-') : 'local';
  const urls = new Map<string, string>();
  const physicalName = (logicalId: string): string | undefined => {
    const props = template.Resources[logicalId]?.Properties ?? {};
    const name = props.QueueName ?? props.FunctionName ?? props.Name ?? props.TopicName;
    return typeof name === 'string' ? name : undefined;
  };
  const edge = options.endpoint.replace(/\/$/, '');
  return {
    target: 'local',
    stackName,
    region: options.region,
    template,
    sqs,
    kinesis,
    physicalName,
    async queueUrl(logicalId) {
      const cached = urls.get(logicalId);
      if (cached) return cached;
      const name = physicalName(logicalId);
      if (!name) throw new DlqError(`queue ${logicalId} has no QueueName in the template`);
      const url = (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl ?? '';
      urls.set(logicalId, url);
      return url;
    },
    async lastFailures(keys, _consumer, keyField) {
      const out = new Map<string, FailureInfo>();
      await Promise.all(
        keys.map(async (key) => {
          const response = await fetch(`${edge}/_local/failures?${keyField}=${encodeURIComponent(key)}`, { headers: controlHeaders(options.token) });
          if (response.status === 403) await refusedControl(response);
          if (response.status === 200) out.set(key, (await response.json()) as FailureInfo);
          else await response.body?.cancel();
        }),
      );
      return out;
    },
    async invoke(fnName, event) {
      const response = await fetch(`${edge}/_local/invoke`, { method: 'POST', headers: controlHeaders(options.token), body: JSON.stringify({ functionName: fnName, event }) });
      if (response.status === 403) await refusedControl(response);
      const result = (await response.json()) as { ok?: boolean; payload?: unknown; error?: { errorType: string; errorMessage: string } | string };
      if (response.status !== 200) return { ok: false, error: typeof result.error === 'string' ? result.error : `HTTP ${response.status}` };
      return result.ok ? { ok: true, payload: result.payload } : { ok: false, error: typeof result.error === 'string' ? result.error : `${result.error?.errorType}: ${result.error?.errorMessage}` };
    },
    destroy() {
      sqs.destroy();
      kinesis.destroy();
    },
  };
}

interface AwsOptions {
  stackName: string;
  region: string;
}

interface CloudFormationModule {
  CloudFormationClient: new (config: { region: string }) => { send(command: unknown): Promise<Record<string, unknown>>; destroy(): void };
  GetTemplateCommand: new (input: Record<string, unknown>) => unknown;
  ListStackResourcesCommand: new (input: Record<string, unknown>) => unknown;
}

async function awsStack(options: AwsOptions): Promise<StackView> {
  const cfn = await optionalModule<CloudFormationModule>('@aws-sdk/client-cloudformation', '--stage (reading the stack)');
  const client = new cfn.CloudFormationClient({ region: options.region });
  let template: CfnTemplate;
  const physical = new Map<string, string>();
  try {
    const got = await client.send(new cfn.GetTemplateCommand({ StackName: options.stackName, TemplateStage: 'Processed' }));
    template = JSON.parse(String(got.TemplateBody)) as CfnTemplate;
    let token: string | undefined;
    do {
      const page = await client.send(new cfn.ListStackResourcesCommand({ StackName: options.stackName, NextToken: token }));
      for (const summary of (page.StackResourceSummaries ?? []) as { LogicalResourceId?: string; PhysicalResourceId?: string }[]) {
        if (summary.LogicalResourceId && summary.PhysicalResourceId) physical.set(summary.LogicalResourceId, summary.PhysicalResourceId);
      }
      token = page.NextToken as string | undefined;
    } while (token);
  } catch (error) {
    throw new DlqError(`cannot read stack ${options.stackName} in ${options.region}: ${(error as Error).name}: ${(error as Error).message}`);
  } finally {
    client.destroy();
  }
  const sqs = new SQSClient({ region: options.region });
  const kinesis = new KinesisClient({ region: options.region, requestHandler: new NodeHttpHandler() });
  const physicalName = (logicalId: string): string | undefined => {
    const id = physical.get(logicalId);
    // A queue's physical id is its URL, a topic's its ARN; functions and streams are named.
    return id?.startsWith('https://') ? id.split('/').pop() : id?.startsWith('arn:') ? id.split(':').pop() : id;
  };
  return {
    target: 'aws',
    stackName: options.stackName,
    region: options.region,
    template,
    sqs,
    kinesis,
    physicalName,
    async queueUrl(logicalId) {
      const url = physical.get(logicalId);
      if (!url) throw new DlqError(`stack ${options.stackName} has no resource ${logicalId}`);
      return url;
    },
    async lastFailures(keys, consumerFunction, keyField) {
      const query = insightsQuery(keyField, keys);
      if (!consumerFunction) return `no consumer function known: search the logs with\n${query}`;
      const logGroup = `/aws/lambda/${consumerFunction}`;
      let logs: { CloudWatchLogsClient: new (c: { region: string }) => { send(c: unknown): Promise<Record<string, unknown>>; destroy(): void }; StartQueryCommand: new (i: Record<string, unknown>) => unknown; GetQueryResultsCommand: new (i: Record<string, unknown>) => unknown };
      try {
        logs = await optionalModule('@aws-sdk/client-cloudwatch-logs', 'the failure reason');
      } catch {
        return `run this CloudWatch Logs Insights query on ${logGroup}:\n${query}`;
      }
      const client = new logs.CloudWatchLogsClient({ region: options.region });
      try {
        const now = Math.floor(Date.now() / 1000);
        const started = await client.send(new logs.StartQueryCommand({ logGroupName: logGroup, startTime: now - INSIGHTS_LOOKBACK_SECONDS, endTime: now, queryString: query }));
        const deadline = Date.now() + 60_000;
        for (;;) {
          const results = await client.send(new logs.GetQueryResultsCommand({ queryId: started.queryId }));
          if (results.status === 'Complete') {
            const out = new Map<string, FailureInfo>();
            for (const row of (results.results ?? []) as { field?: string; value?: string }[][]) {
              const get = (field: string): string | undefined => row.find((cell) => cell.field === field)?.value;
              const key = get(keyField);
              if (!key || out.has(key)) continue;
              const orderId = get('orderId');
              out.set(key, { functionName: consumerFunction, at: get('@timestamp') ?? '', errorName: get('errorName') ?? '', errorMessage: get('errorMessage') ?? '', ...(orderId ? { orderId } : {}) });
            }
            return out;
          }
          if (results.status !== 'Running' && results.status !== 'Scheduled') return `Logs Insights query ${String(results.status)} on ${logGroup}:\n${query}`;
          if (Date.now() > deadline) return `Logs Insights query still running after 60 s on ${logGroup}:\n${query}`;
          await sleep(1000);
        }
      } catch (error) {
        return `cannot query ${logGroup} (${(error as Error).name}: ${(error as Error).message}); run:\n${query}`;
      } finally {
        client.destroy();
      }
    },
    async invoke(fnName, event) {
      const lambda = await optionalModule<{
        LambdaClient: new (c: { region: string }) => { send(c: unknown): Promise<{ FunctionError?: string; Payload?: Uint8Array }>; destroy(): void };
        InvokeCommand: new (i: Record<string, unknown>) => unknown;
      }>('@aws-sdk/client-lambda', 'redriving a stream failure (re-invoking the consumer)');
      const client = new lambda.LambdaClient({ region: options.region });
      try {
        const out = await client.send(new lambda.InvokeCommand({ FunctionName: fnName, Payload: Buffer.from(JSON.stringify(event)) }));
        const text = out.Payload ? Buffer.from(out.Payload).toString('utf8') : 'null';
        const payload = JSON.parse(text === '' ? 'null' : text) as unknown;
        return out.FunctionError ? { ok: false, error: `${out.FunctionError}: ${text}` } : { ok: true, payload };
      } finally {
        client.destroy();
      }
    },
    destroy() {
      sqs.destroy();
      kinesis.destroy();
    },
  };
}

export { TEMPLATE_FILE, awsStack, functionNameFromArn, localStack, serviceName };
export type { FailureInfo, StackView };
