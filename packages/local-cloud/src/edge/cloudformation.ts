/**
 * CloudFormation, read-only, for the stack the local cloud provisioned: enough for tools that look
 * the stack up rather than deploy it, such as `osls invoke local`, which resolves each `!Ref`
 * environment variable with ListStackResources (and `Fn::ImportValue` with ListExports), or
 * `aws cloudformation describe-stacks` for the outputs.
 *
 * The local cloud (cloud.ts) registers its stack once provisioned; the edge answers the query
 * protocol (`Action=...`, CloudFormation's XML) for requests signed for `cloudformation`:
 * DescribeStacks, ListStacks, ListStackResources (100 per page, NextToken), DescribeStackResource,
 * DescribeStackResources, ListExports. A stack it does not know gets CloudFormation's
 * `ValidationError: Stack with id X does not exist`; any other action (CreateStack, UpdateStack...)
 * an `InvalidAction`: `npm start` provisions the stack, nothing deploys through this endpoint.
 *
 * @example
 * stacks.register({ stackName: 'orderflow-local', resources: { OrdersTable: { type: 'AWS::DynamoDB::Table', physicalId: 'orderflow-local-orders' } }, outputs: {} });
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AwsApiError } from '../util/errors.ts';
import { readBody } from './bodies.ts';
import { escapeXml } from '../util/xml.ts';

interface StackResourceInput {
  type: string;
  physicalId: string;
}

interface StackInput {
  stackName: string;
  /** Logical id -> type and physical id (what `Ref` gives for most types). */
  resources: Record<string, StackResourceInput>;
  /** Output key -> value. */
  outputs?: Record<string, string>;
  /** Export name -> value (outputs with `Export.Name`), for ListExports. */
  exports?: Record<string, string>;
  description?: string;
  /** Default us-east-1. */
  region?: string;
  /** Default 000000000000. */
  accountId?: string;
}

interface RegisteredStack {
  stackName: string;
  stackId: string;
  description?: string;
  createdAt: Date;
  resources: [string, StackResourceInput][];
  outputs: [string, string][];
  exports: [string, string][];
}

/** CloudFormation's page size for ListStackResources. */
const PAGE_SIZE = 100;
const XMLNS = 'http://cloudformation.amazonaws.com/doc/2010-05-15/';

/** The stacks one edge answers for: each local cloud (npm start, each test file) makes its own. */
class StackRegistry {
  private readonly stacks = new Map<string, RegisteredStack>();

  /** Makes `stack` known to this edge's CloudFormation (replacing a stack of that name). */
  register(stack: StackInput): void {
    const region = stack.region ?? 'us-east-1';
    const accountId = stack.accountId ?? '000000000000';
    const previous = this.stacks.get(stack.stackName);
    this.stacks.set(stack.stackName, {
      stackName: stack.stackName,
      stackId: previous?.stackId ?? `arn:aws:cloudformation:${region}:${accountId}:stack/${stack.stackName}/${randomUUID()}`,
      ...(stack.description === undefined ? {} : { description: stack.description }),
      createdAt: previous?.createdAt ?? new Date(),
      resources: Object.entries(stack.resources).sort(([a], [b]) => a.localeCompare(b)),
      outputs: Object.entries(stack.outputs ?? {}),
      exports: Object.entries(stack.exports ?? {}),
    });
  }

  /** Forgets every stack (the edge stopped). */
  clear(): void {
    this.stacks.clear();
  }

  all(): RegisteredStack[] {
    return [...this.stacks.values()];
  }
}

function findStack(stacks: StackRegistry, nameOrId: string | undefined): RegisteredStack {
  if (nameOrId === undefined || nameOrId === '') throw new AwsApiError('ValidationError', 'StackName is required');
  for (const stack of stacks.all()) {
    if (stack.stackName === nameOrId || stack.stackId === nameOrId) return stack;
  }
  throw new AwsApiError('ValidationError', `Stack with id ${nameOrId} does not exist`);
}

function element(name: string, value: string | undefined): string {
  return value === undefined ? '' : `<${name}>${escapeXml(value)}</${name}>`;
}

function members(items: string[]): string {
  return items.map((item) => `<member>${item}</member>`).join('');
}

function resourceFields(logicalId: string, resource: StackResourceInput): string {
  return [
    element('LogicalResourceId', logicalId),
    element('PhysicalResourceId', resource.physicalId),
    element('ResourceType', resource.type),
    element('ResourceStatus', 'CREATE_COMPLETE'),
    '<DriftInformation><StackResourceDriftStatus>NOT_CHECKED</StackResourceDriftStatus></DriftInformation>',
  ].join('');
}

function stackXml(stack: RegisteredStack): string {
  return [
    element('StackId', stack.stackId),
    element('StackName', stack.stackName),
    element('Description', stack.description),
    element('CreationTime', stack.createdAt.toISOString()),
    element('StackStatus', 'CREATE_COMPLETE'),
    '<DisableRollback>false</DisableRollback><NotificationARNs/><Parameters/><Tags/>',
    '<Capabilities><member>CAPABILITY_IAM</member><member>CAPABILITY_NAMED_IAM</member></Capabilities>',
    `<Outputs>${members(stack.outputs.map(([key, value]) => `${element('OutputKey', key)}${element('OutputValue', value)}`))}</Outputs>`,
    '<EnableTerminationProtection>false</EnableTerminationProtection>',
    '<DriftInformation><StackDriftStatus>NOT_CHECKED</StackDriftStatus></DriftInformation>',
  ].join('');
}

/** NextToken: the offset of the next page, opaque to clients. */
function pageStart(token: string | undefined, total: number): number {
  if (token === undefined || token === '') return 0;
  const offset = Number(Buffer.from(token, 'base64url').toString('utf8').replace(/^offset:/, ''));
  if (!Number.isInteger(offset) || offset < 0 || offset > total) throw new AwsApiError('ValidationError', 'Invalid NextToken');
  return offset;
}

function nextToken(offset: number): string {
  return Buffer.from(`offset:${offset}`).toString('base64url');
}

/** Answers one action; returns the inner XML of `<ActionResult>`. */
function answer(registry: StackRegistry, action: string, params: URLSearchParams): string {
  const param = (name: string): string | undefined => params.get(name) ?? undefined;
  switch (action) {
    case 'DescribeStacks': {
      const name = param('StackName');
      const stacks = name === undefined ? registry.all() : [findStack(registry, name)];
      return `<Stacks>${members(stacks.map(stackXml))}</Stacks>`;
    }
    case 'ListStacks': {
      const filters = [...params.entries()].filter(([key]) => key.startsWith('StackStatusFilter.member.')).map(([, value]) => value);
      const stacks = filters.length === 0 || filters.includes('CREATE_COMPLETE') ? registry.all() : [];
      return `<StackSummaries>${members(
        stacks.map((stack) =>
          [
            element('StackId', stack.stackId),
            element('StackName', stack.stackName),
            element('TemplateDescription', stack.description),
            element('CreationTime', stack.createdAt.toISOString()),
            element('StackStatus', 'CREATE_COMPLETE'),
            '<DriftInformation><StackDriftStatus>NOT_CHECKED</StackDriftStatus></DriftInformation>',
          ].join(''),
        ),
      )}</StackSummaries>`;
    }
    case 'ListStackResources': {
      const stack = findStack(registry, param('StackName'));
      const start = pageStart(param('NextToken'), stack.resources.length);
      const page = stack.resources.slice(start, start + PAGE_SIZE);
      const updated = element('LastUpdatedTimestamp', stack.createdAt.toISOString());
      const more = start + PAGE_SIZE < stack.resources.length;
      return `<StackResourceSummaries>${members(page.map(([logicalId, resource]) => `${resourceFields(logicalId, resource)}${updated}`))}</StackResourceSummaries>${more ? element('NextToken', nextToken(start + PAGE_SIZE)) : ''}`;
    }
    case 'DescribeStackResource': {
      const stack = findStack(registry, param('StackName'));
      const logicalId = param('LogicalResourceId') ?? '';
      const resource = stack.resources.find(([id]) => id === logicalId)?.[1];
      if (resource === undefined) throw new AwsApiError('ValidationError', `Resource ${logicalId} does not exist for stack ${stack.stackName}`);
      return `<StackResourceDetail>${element('StackName', stack.stackName)}${element('StackId', stack.stackId)}${resourceFields(logicalId, resource)}${element('LastUpdatedTimestamp', stack.createdAt.toISOString())}</StackResourceDetail>`;
    }
    case 'DescribeStackResources': {
      const physicalId = param('PhysicalResourceId');
      let stack: RegisteredStack;
      if (param('StackName') !== undefined) stack = findStack(registry, param('StackName'));
      else if (physicalId !== undefined) {
        const owner = registry.all().find((candidate) => candidate.resources.some(([, resource]) => resource.physicalId === physicalId));
        if (owner === undefined) throw new AwsApiError('ValidationError', `Stack for ${physicalId} does not exist`);
        stack = owner;
      } else throw new AwsApiError('ValidationError', 'Either StackName or PhysicalResourceId must be specified');
      const logicalId = param('LogicalResourceId');
      const selected = stack.resources.filter(([id, resource]) => (logicalId === undefined || id === logicalId) && (physicalId === undefined || resource.physicalId === physicalId));
      return `<StackResources>${members(
        selected.map(([id, resource]) => `${element('StackName', stack.stackName)}${element('StackId', stack.stackId)}${resourceFields(id, resource)}${element('Timestamp', stack.createdAt.toISOString())}`),
      )}</StackResources>`;
    }
    case 'ListExports': {
      const all = registry.all().flatMap((stack) => stack.exports.map(([name, value]) => ({ stack, name, value })));
      return `<Exports>${members(all.map(({ stack, name, value }) => `${element('ExportingStackId', stack.stackId)}${element('Name', name)}${element('Value', value)}`))}</Exports>`;
    }
    default:
      throw new AwsApiError(
        'InvalidAction',
        `${action || '(no Action)'} is not supported by the local cloud's CloudFormation: it is read-only (DescribeStacks, ListStacks, ListStackResources, DescribeStackResource, DescribeStackResources, ListExports); npm start provisions the stack`,
      );
  }
}

function send(res: ServerResponse, statusCode: number, body: string, requestId: string): void {
  const buffer = Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`);
  res.writeHead(statusCode, { 'content-type': 'text/xml', 'content-length': String(buffer.length), 'x-amzn-requestid': requestId });
  res.end(buffer);
}

/** Answers a CloudFormation query-protocol request for the stacks of `stacks`; `onAction` hears its Action (stats). */
async function handleCloudFormation(req: IncomingMessage, res: ServerResponse, stacks: StackRegistry, onAction?: (action: string) => void): Promise<void> {
  const params = new URLSearchParams(new URL(req.url ?? '/', 'http://edge').search);
  for (const [name, value] of new URLSearchParams((await readBody(req)).toString('utf8'))) params.append(name, value);
  const action = params.get('Action') ?? '';
  onAction?.(action);
  const requestId = randomUUID();
  try {
    const result = answer(stacks, action, params);
    send(res, 200, `<${action}Response xmlns="${XMLNS}"><${action}Result>${result}</${action}Result><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`, requestId);
  } catch (error) {
    if (!(error instanceof AwsApiError)) throw error;
    send(
      res,
      error.statusCode,
      `<ErrorResponse xmlns="${XMLNS}"><Error><Type>Sender</Type><Code>${escapeXml(error.code)}</Code><Message>${escapeXml(error.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
      requestId,
    );
  }
}

export { StackRegistry, handleCloudFormation };

