import { IdempotencyAlreadyInProgressError, IdempotencyValidationError, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context } from 'aws-lambda';
import { requireEnv } from '#lib/aws/env.ts';
import { orderIdKey } from '#lib/aws/secrets.ts';
import { callerOf } from '#lib/auth.ts';
import { SNS_MAX_MESSAGE_BYTES } from '#lib/aws/publish.ts';
import { orderIssues, parseOrderInput, type OrderInput } from '#lib/domain/order.ts';
import { parseJsonText } from '#lib/domain/validate.ts';
import { json, problem } from '#lib/http.ts';
import { idempotencyStore, placeOrderIdempotency } from '#lib/idempotency.ts';
import { withPowertools } from '#lib/middleware/handler.ts';
import { OrderTooLargeError, acceptOrder, keyedOrderId, type Accepted } from '#lib/place-order.ts';
import { logger, metrics } from '#lib/powertools.ts';
import { MetricUnit } from '@aws-lambda-powertools/metrics';

const HEADER_VALUE = /^[\x21-\x7e]{1,128}$/;
/** The media type `application/json`, any case, with or without parameters (`; charset=utf-8`); not `application/json-patch+json`. */
const JSON_MEDIA_TYPE = /^application\/json[ \t]*(;|$)/i;

interface PlaceRequest {
  /** The caller's `sub`: part of the idempotency key (placeOrderIdempotency), so keys never collide across callers. */
  ownerId: string;
  idempotencyKey: string;
  order: OrderInput;
  correlationId: string;
}

// Created lazily: the idempotency store needs IDEMPOTENCY_TABLE, read on first keyed request.
let placeIdempotently: ((request: PlaceRequest) => Promise<Accepted>) | undefined;
const idempotentPlace = (): ((request: PlaceRequest) => Promise<Accepted>) => {
  placeIdempotently ??= makeIdempotent(
    async (request: PlaceRequest) =>
      acceptOrder(request.order, {
        topicArn: requireEnv('TOPIC_ARN'),
        correlationId: request.correlationId,
        ownerId: request.ownerId,
        orderId: keyedOrderId(await orderIdKey(), request),
      }),
    { persistenceStore: idempotencyStore(), config: placeOrderIdempotency },
  );
  return placeIdempotently;
};

/**
 * A 4xx answer, counted: `OrdersRejected` beside `OrdersPlaced`, so every invocation publishes a metric and the two
 * add up to the requests the function answered.
 */
const rejected = (...args: Parameters<typeof problem>): APIGatewayProxyResultV2 => {
  metrics.addMetric('OrdersRejected', MetricUnit.Count, 1);
  return problem(...args);
};

const decodeBody = (event: APIGatewayProxyEventV2): string =>
  event.isBase64Encoded && event.body ? Buffer.from(event.body, 'base64').toString('utf8') : (event.body ?? '');

/**
 * POST /orders: validate at the edge, publish OrderPlaced, answer 202. Invalid input publishes nothing. The body must
 * say it is JSON: without a content type (what a cross-site form or `fetch` with a bare string body cannot avoid
 * sending as `text/plain`, or omits) it is a 415 like any other type.
 */
const placeOrderHandler = async (event: APIGatewayProxyEventV2, context: Context): Promise<APIGatewayProxyResultV2> => {
  // The route's JWT authorizer lets no request through without a verified token; a missing sub is a route
  // deployed without it, refused rather than placing orders nobody owns.
  const caller = callerOf(event);
  if (!caller) return rejected(401, 'Unauthorized', [{ field: 'authorization', message: 'a token with a sub claim is required' }]);
  const headers = event.headers ?? {};
  const contentType = headers['content-type'];
  if (contentType === undefined || !JSON_MEDIA_TYPE.test(contentType)) {
    return rejected(415, 'Unsupported content type', [{ field: 'content-type', message: contentType === undefined ? 'is required: application/json' : 'must be application/json' }]);
  }
  const body = decodeBody(event);
  if (Buffer.byteLength(body) > SNS_MAX_MESSAGE_BYTES) {
    return rejected(413, 'Request body too large', [{ field: '(body)', message: `must be at most ${SNS_MAX_MESSAGE_BYTES} bytes` }]);
  }
  let value: unknown;
  try {
    // Numbers keep their source text: `1e3` or `-0` is refused naming the field, not read as 1000 or 0.
    value = parseJsonText(body);
  } catch {
    return rejected(400, 'Invalid order', [{ field: '(body)', message: 'is not valid JSON' }]);
  }
  const fields = orderIssues(value);
  const idempotencyKey = headers['idempotency-key'];
  if (idempotencyKey !== undefined && !HEADER_VALUE.test(idempotencyKey)) {
    fields.push({ field: 'Idempotency-Key', message: 'must be 1 to 128 visible ASCII characters' });
  }
  const correlationHeader = headers['x-correlation-id'];
  if (correlationHeader !== undefined && !HEADER_VALUE.test(correlationHeader)) {
    fields.push({ field: 'X-Correlation-Id', message: 'must be 1 to 128 visible ASCII characters' });
  }
  if (fields.length > 0) {
    logger.warn('order rejected', { fields });
    return rejected(400, 'Invalid order', fields);
  }
  // Rebuilt from the schema's fields only, in a fixed key order (keyedOrderId hashes it).
  const order = parseOrderInput(value);
  const correlationId = correlationHeader ?? event.requestContext?.requestId ?? context.awsRequestId;
  logger.appendKeys({ correlationId });
  try {
    let accepted: Accepted;
    if (idempotencyKey === undefined) {
      accepted = await acceptOrder(order, { topicArn: requireEnv('TOPIC_ARN'), correlationId, ownerId: caller.sub });
    } else {
      placeOrderIdempotency.registerLambdaContext(context);
      accepted = await idempotentPlace()({ ownerId: caller.sub, idempotencyKey, order, correlationId });
    }
    logger.info('order placed', { orderId: accepted.orderId, fulfillment: order.fulfillment });
    metrics.addMetric('OrdersPlaced', MetricUnit.Count, 1);
    return json(202, accepted, { location: `/orders/${accepted.orderId}` });
  } catch (error) {
    if (error instanceof OrderTooLargeError) {
      return rejected(413, 'Order too large', [{ field: 'items', message: error.message }]);
    }
    if (error instanceof IdempotencyValidationError) {
      return rejected(422, 'Idempotency-Key reused with a different order', [{ field: 'Idempotency-Key', message: 'was already used for another order body' }]);
    }
    if (error instanceof IdempotencyAlreadyInProgressError) {
      return rejected(409, 'A request with this Idempotency-Key is in progress', [{ field: 'Idempotency-Key', message: 'retry in a moment' }]);
    }
    throw error;
  }
};

const handler = withPowertools(placeOrderHandler);
export { handler, placeOrderHandler };
