/**
 * DynamoDB operations the edge answers itself (transactions, TTL) on top of dynalite's single-item API: a caller of
 * dynalite's JSON API, and the answer type those operations give the edge (an AWS JSON body, error or not).
 */
import { postJson } from './proxy.ts';
import type { Upstream } from './proxy.ts';

type Json = Record<string, unknown>;

/** An AWS JSON-protocol answer: 200 with the output, or 4xx with `{ __type, message, ... }`. */
interface DynamoDbAnswer {
  statusCode: number;
  body: Json;
}

/** An error answered by dynalite (or shaped like one): `code` is the `__type` without its namespace. */
class DynamoDbCallError extends Error {
  readonly code: string;
  readonly statusCode: number;
  readonly body: Json;

  constructor(code: string, message: string, statusCode = 400, body: Json = {}) {
    super(message);
    this.name = 'DynamoDbCallError';
    this.code = code;
    this.statusCode = statusCode;
    this.body = { __type: `com.amazonaws.dynamodb.v20120810#${code}`, message, ...body };
  }
}

type DynamoDbCall = (operation: string, input: Json) => Promise<Json>;

/** An operation set the edge serves in-process instead of dynalite. */
interface DynamoDbExtension {
  handles(operation: string): boolean;
  handle(operation: string, input: Json): Promise<DynamoDbAnswer>;
  close?(): Promise<void> | void;
}

/** dynalite checks that a SigV4 Authorization header is present (not its signature). */
const LOCAL_AUTHORIZATION = 'AWS4-HMAC-SHA256 Credential=local/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=0';

function dynaliteCall(upstream: Upstream): DynamoDbCall {
  return async (operation, input) => {
    const headers = { host: `${upstream.host}:${upstream.port}`, 'x-amz-date': '20200101T000000Z', authorization: LOCAL_AUTHORIZATION };
    const response = await postJson(upstream, `DynamoDB_20120810.${operation}`, input, headers);
    const output = response.body;
    if (response.statusCode === 200) return output;
    const code = String(output.__type ?? 'InternalServerError').split('#').pop() ?? 'InternalServerError';
    throw new DynamoDbCallError(code, String(output.message ?? output.Message ?? `${operation} failed`), response.statusCode);
  };
}

/** The answer for an error thrown by an extension: its own shape for DynamoDbCallError, else a 500. */
function errorAnswer(error: unknown): DynamoDbAnswer {
  if (error instanceof DynamoDbCallError) return { statusCode: error.statusCode, body: error.body };
  throw error;
}

export { DynamoDbCallError, dynaliteCall, errorAnswer };
export type { DynamoDbAnswer, DynamoDbCall, DynamoDbExtension, Json };
