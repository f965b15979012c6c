import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from 'aws-lambda';
import { sqs } from '#lib/aws/clients/sqs.ts';
import { requireEnv } from '#lib/aws/env.ts';
import { json, problem } from '#lib/http.ts';
import { withPowertools } from '#lib/middleware/handler.ts';
import { SqsRequester } from '#lib/request-reply.ts';

const SKU = /^[A-Z0-9][A-Z0-9-]{0,31}$/;
/** How long the API waits for the stock worker: inside the function's 6 s timeout, leaving time to answer 504. */
const ANSWER_TIMEOUT_MS = 3_000;

/** One per execution environment: its reply queue lives as long as the environment (lib/request-reply.ts). */
let requester: SqsRequester | undefined;

/** GET /stock/{sku}: asks the stock worker over SQS (request-response) and answers its reply, or 504. */
const checkStockHandler = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyResultV2> => {
  const sku = event.pathParameters?.sku ?? '';
  if (!SKU.test(sku)) return problem(400, 'Invalid SKU', [{ field: 'sku', message: 'must be 1 to 32 upper-case letters, digits or "-"' }]);
  requester ??= new SqsRequester({ sqs, requestQueueUrl: requireEnv('STOCK_REQUESTS_QUEUE_URL'), replyQueuePrefix: requireEnv('REPLY_QUEUE_PREFIX') });
  const answer = await requester.ask(JSON.stringify({ sku }), ANSWER_TIMEOUT_MS);
  if (answer === undefined) return problem(504, 'The stock worker did not answer in time', [{ field: 'sku', message: `no answer for ${sku} within ${ANSWER_TIMEOUT_MS} ms` }]);
  return json(200, JSON.parse(answer) as unknown);
};

// No metric of its own: API Gateway counts and times the API's requests (as getOrder).
const handler = withPowertools(checkStockHandler, { metrics: false });
export { handler, checkStockHandler };
