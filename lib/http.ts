import type { APIGatewayProxyResultV2 } from 'aws-lambda';
import type { FieldError } from './domain/errors.ts';

/**
 * A JSON response for an HTTP API (payload format 2.0).
 *
 * @example
 * return json(202, { orderId, status: 'PLACED' });
 */
const json = (statusCode: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyResultV2 => ({
  statusCode,
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

/**
 * A 4xx answer that names what is wrong: `{ "error": "...", "fields": [{ "field": "items[0].quantity", "message": "..." }] }`.
 *
 * @example
 * return problem(400, 'Invalid order', [{ field: 'customerId', message: 'is required' }]);
 */
const problem = (statusCode: number, error: string, fields: FieldError[] = []): APIGatewayProxyResultV2 =>
  json(statusCode, { error, fields });

export { json, problem };
