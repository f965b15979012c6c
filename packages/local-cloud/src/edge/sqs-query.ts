/**
 * The SQS query protocol (form-encoded `Action=...`, XML answers), which fauxqs does not speak (JSON protocol only):
 * sent by the AWS CLI v2 before 2.13 (Debian 12's awscli 2.9), the CLI v1 and older SDKs. The edge translates each
 * request to the JSON protocol, has it answered as any JSON request is (fauxqs, or the edge's own dead-letter APIs),
 * and the answer back to XML.
 *
 * Shapes (SQS API reference, "Making query API requests"; the query serialisers of the AWS SDK for JavaScript v3
 * before it moved SQS to JSON, 3.445): lists are flattened with numbered members (`AttributeName.1`,
 * `SendMessageBatchRequestEntry.1.Id`), maps are numbered pairs (`Attribute.1.Name` / `.Value`, `Tag.1.Key` /
 * `.Value`, `MessageAttribute.1.Name` / `.Value.DataType`), and an answer is
 * `<ActionResponse><ActionResult>...</ActionResult><ResponseMetadata>...` with the same flattening; an error is
 * `<ErrorResponse><Error><Type/><Code/><Message/></Error>` with the query error code (`AWS.SimpleQueueService.NonExistentQueue`).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { AwsApiError } from '../util/errors.ts';
import { escapeXml } from '../util/xml.ts';
import { postJson } from './proxy.ts';
import type { Upstream } from './proxy.ts';
import type { SqsMessageMoves } from './sqs-message-moves.ts';

type Json = Record<string, unknown>;

/** Every SQS action the JSON protocol serves here (fauxqs, and the edge's dead-letter APIs). */
const SQS_QUERY_ACTIONS = new Set([
  'CreateQueue', 'DeleteQueue', 'GetQueueUrl', 'ListQueues', 'GetQueueAttributes', 'SetQueueAttributes', 'PurgeQueue',
  'SendMessage', 'SendMessageBatch', 'ReceiveMessage', 'DeleteMessage', 'DeleteMessageBatch', 'ChangeMessageVisibility',
  'ChangeMessageVisibilityBatch', 'TagQueue', 'UntagQueue', 'ListQueueTags', 'ListDeadLetterSourceQueues',
  'StartMessageMoveTask', 'ListMessageMoveTasks', 'CancelMessageMoveTask',
]);

/** Actions whose answer has no Result element. */
const NO_RESULT = new Set(['DeleteQueue', 'SetQueueAttributes', 'PurgeQueue', 'DeleteMessage', 'ChangeMessageVisibility', 'TagQueue', 'UntagQueue']);

const XMLNS = 'http://queue.amazonaws.com/doc/2012-11-05/';

/** Integer parameters (SQS API reference). */
const INTEGERS = new Set(['MaxNumberOfMessages', 'VisibilityTimeout', 'WaitTimeSeconds', 'DelaySeconds', 'MaxResults', 'MaxNumberOfMessagesPerSecond']);

/** Flattened lists of strings: query name -> JSON name. */
const STRING_LISTS: Record<string, string> = {
  AttributeName: 'AttributeNames',
  MessageAttributeName: 'MessageAttributeNames',
  MessageSystemAttributeName: 'MessageSystemAttributeNames',
  TagKey: 'TagKeys',
  StringListValue: 'StringListValues',
  BinaryListValue: 'BinaryListValues',
};

/** Query parameters that are not the action's input. */
const PROTOCOL_PARAMETERS = /^(Action|Version|AWSAccessKeyId|Signature|SignatureMethod|SignatureVersion|Timestamp|Expires|SecurityToken|X-Amz-.*)$/;

interface Tree {
  [name: string]: Tree | string;
}

/** A request the edge cannot translate; `field` names the parameter at fault. */
class SqsQueryInputError extends AwsApiError {
  constructor(field: string, reason: string) {
    super('InvalidParameterValue', `Value for parameter ${field} is invalid. Reason: ${reason}`);
  }
}

/** `a.1.b=x` -> `{ a: { 1: { b: 'x' } } }`. */
function toTree(params: URLSearchParams): Tree {
  const root: Tree = {};
  for (const [key, value] of params) {
    if (PROTOCOL_PARAMETERS.test(key)) continue;
    const path = key.split('.');
    let node = root;
    for (const [index, part] of path.entries()) {
      if (index === path.length - 1) {
        node[part] = value;
        break;
      }
      const child = node[part];
      if (typeof child === 'string') throw new SqsQueryInputError(key, `${path.slice(0, index + 1).join('.')} is given both as a value and as a structure`);
      node = child ?? (node[part] = {});
    }
  }
  return root;
}

/** The members of a numbered list, in number order (`.member.N` and `.N` both). */
function members(node: Tree | string, field: string): Array<Tree | string> {
  if (typeof node === 'string') throw new SqsQueryInputError(field, 'must be numbered members (.1, .2, ...)');
  const list = typeof node.member === 'object' ? node.member : node;
  return Object.keys(list)
    .map((key) => {
      const position = Number(key);
      if (!Number.isInteger(position) || position < 1) throw new SqsQueryInputError(`${field}.${key}`, 'list members are numbered from 1');
      return [position, list[key] as Tree | string] as const;
    })
    .sort((a, b) => a[0] - b[0])
    .map(([, value]) => value);
}

function text(node: Tree | string | undefined, field: string): string {
  if (typeof node !== 'string') throw new SqsQueryInputError(field, 'must be a value');
  return node;
}

/** Converts one query structure to its JSON input (`field` is its query path, for errors). */
function toJson(tree: Tree, field: string, action: string): Json {
  const out: Json = {};
  for (const [name, node] of Object.entries(tree)) {
    const at = field === '' ? name : `${field}.${name}`;
    const listName = STRING_LISTS[name];
    if (listName !== undefined) out[listName] = members(node, at).map((member, i) => text(member, `${at}.${i + 1}`));
    else if (name === 'Attribute') {
      out.Attributes = Object.fromEntries(members(node, at).map((pair, i) => [text((pair as Tree).Name, `${at}.${i + 1}.Name`), text((pair as Tree).Value, `${at}.${i + 1}.Value`)]));
    } else if (name === 'Tag') {
      // CreateQueue names its tag map `tags`; TagQueue `Tags` (SQS API reference).
      out[action === 'CreateQueue' ? 'tags' : 'Tags'] = Object.fromEntries(
        members(node, at).map((pair, i) => [text((pair as Tree).Key, `${at}.${i + 1}.Key`), text((pair as Tree).Value, `${at}.${i + 1}.Value`)]),
      );
    } else if (name === 'MessageAttribute' || name === 'MessageSystemAttribute') {
      out[`${name}s`] = Object.fromEntries(
        members(node, at).map((pair, i) => {
          const value = (pair as Tree).Value;
          if (typeof value !== 'object') throw new SqsQueryInputError(`${at}.${i + 1}.Value`, 'must have DataType and StringValue or BinaryValue');
          return [text((pair as Tree).Name, `${at}.${i + 1}.Name`), toJson(value, `${at}.${i + 1}.Value`, action)];
        }),
      );
    } else if (name.endsWith('BatchRequestEntry')) {
      out.Entries = members(node, at).map((entry, i) => {
        if (typeof entry === 'string') throw new SqsQueryInputError(`${at}.${i + 1}`, 'must be a structure (.Id, ...)');
        return toJson(entry, `${at}.${i + 1}`, action);
      });
    } else if (typeof node !== 'string') {
      throw new SqsQueryInputError(at, 'is not a parameter of this action');
    } else if (INTEGERS.has(name)) {
      if (!/^-?\d+$/.test(node)) throw new SqsQueryInputError(at, `${JSON.stringify(node)} is not an integer`);
      out[name] = Number(node);
    } else out[name] = node;
  }
  return out;
}

/**
 * The JSON input of a query request. Without a QueueUrl parameter, a request sent to the queue's own URL (older
 * SDKs do) names the queue by its path.
 */
function sqsQueryToJson(action: string, params: URLSearchParams, path: string, endpoint: string): Json {
  const input = toJson(toTree(params), '', action);
  if (input.QueueUrl === undefined && /^\/\d{12}\/[^/]+$/.test(path)) input.QueueUrl = `${endpoint}${path}`;
  return input;
}

function element(name: string, inner: string): string {
  return `<${name}>${inner}</${name}>`;
}

function scalar(value: unknown): string {
  return escapeXml(typeof value === 'string' ? value : JSON.stringify(value));
}

/** One JSON output member as query XML (flattened lists and maps). */
function renderMember(name: string, value: unknown, action: string): string {
  if (value === undefined || value === null) return '';
  const map = (value ?? {}) as Json;
  switch (name) {
    case 'QueueUrls':
    case 'queueUrls':
      return (value as unknown[]).map((url) => element('QueueUrl', scalar(url))).join('');
    case 'Attributes':
      return Object.entries(map).map(([key, v]) => element('Attribute', element('Name', scalar(key)) + element('Value', scalar(v)))).join('');
    case 'Tags':
      return Object.entries(map).map(([key, v]) => element('Tag', element('Key', scalar(key)) + element('Value', scalar(v)))).join('');
    case 'MessageAttributes':
      return Object.entries(map).map(([key, v]) => element('MessageAttribute', element('Name', scalar(key)) + element('Value', renderStruct(v as Json, action)))).join('');
    case 'StringListValues':
    case 'BinaryListValues':
      return (value as unknown[]).map((item) => element(name.slice(0, -1), scalar(item))).join('');
    case 'Messages':
      return (value as Json[]).map((message) => element('Message', renderStruct(message, action))).join('');
    case 'Successful':
      return (value as Json[]).map((entry) => element(`${action}ResultEntry`, renderStruct(entry, action))).join('');
    case 'Failed':
      return (value as Json[]).map((entry) => element('BatchResultErrorEntry', renderStruct(entry, action))).join('');
    case 'Results':
      return (value as Json[]).map((entry) => element(`${action}ResultEntry`, renderStruct(entry, action))).join('');
    default:
      return element(name, scalar(value));
  }
}

function renderStruct(struct: Json, action: string): string {
  return Object.entries(struct)
    .map(([name, value]) => renderMember(name, value, action))
    .join('');
}

function responseXml(action: string, output: Json): string {
  const result = NO_RESULT.has(action) ? '' : element(`${action}Result`, renderStruct(output, action));
  return `<?xml version="1.0"?><${action}Response xmlns="${XMLNS}">${result}<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`;
}

/** A JSON-protocol error as a query-protocol error: the query code from `x-amzn-query-error` when there is one. */
function errorXml(statusCode: number, headers: IncomingHttpHeaders, body: Json): string {
  const [queryCode, fault] = String(headers['x-amzn-query-error'] ?? '').split(';');
  const code = queryCode !== undefined && queryCode !== '' ? queryCode : (String(body.__type ?? 'InternalError').split('#').pop() ?? 'InternalError');
  const type = fault === 'Receiver' || (fault === undefined && statusCode >= 500) ? 'Receiver' : 'Sender';
  const message = String(body.message ?? body.Message ?? '');
  return `<?xml version="1.0"?><ErrorResponse xmlns="${XMLNS}"><Error><Type>${type}</Type><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message><Detail/></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`;
}

interface SqsQueryAnswer {
  statusCode: number;
  xml: string;
  /** ReceiveMessage: the queue and the receipt handles it took (to give back if the client has gone). */
  received?: { queueUrl: string; receiptHandles: string[] };
}

interface SqsQuery {
  /** Answers one query-protocol request; `endpoint` is the edge's URL (queue URLs of requests sent to a queue). */
  answer(action: string, params: URLSearchParams, path: string, endpoint: string): Promise<SqsQueryAnswer>;
}

function createSqsQuery(options: { fauxqs: Upstream; deadLetters?: SqsMessageMoves }): SqsQuery {
  /** The JSON answer to a JSON request, as the edge would give it. */
  async function callJson(action: string, input: Json): Promise<{ statusCode: number; headers: IncomingHttpHeaders; body: Json }> {
    const deadLetters = options.deadLetters;
    if (deadLetters?.handles(action)) {
      try {
        return { statusCode: 200, headers: {}, body: await deadLetters.handle(action, input) };
      } catch (error) {
        if (!(error instanceof AwsApiError)) throw error;
        return { statusCode: error.statusCode, headers: {}, body: { __type: error.code, message: error.message } };
      }
    }
    return postJson(options.fauxqs, `AmazonSQS.${action}`, input);
  }

  return {
    async answer(action, params, path, endpoint) {
      let input: Json;
      try {
        input = sqsQueryToJson(action, params, path, endpoint);
      } catch (error) {
        if (!(error instanceof SqsQueryInputError)) throw error;
        return { statusCode: 400, xml: errorXml(400, { 'x-amzn-query-error': `${error.code};Sender` }, { message: error.message }) };
      }
      const answer = await callJson(action, input);
      if (answer.statusCode !== 200) return { statusCode: answer.statusCode, xml: errorXml(answer.statusCode, answer.headers, answer.body) };
      const messages = (answer.body.Messages ?? []) as Array<{ ReceiptHandle?: string }>;
      const received = action === 'ReceiveMessage' && messages.length > 0 ? { queueUrl: String(input.QueueUrl), receiptHandles: messages.map((message) => String(message.ReceiptHandle)) } : undefined;
      return { statusCode: 200, xml: responseXml(action, answer.body), ...(received === undefined ? {} : { received }) };
    },
  };
}

export { SQS_QUERY_ACTIONS, createSqsQuery };

