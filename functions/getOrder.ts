import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from 'aws-lambda';
import { requireEnv } from '#lib/aws/env.ts';
import { getOrderView } from '#lib/aws/orders-table.ts';
import { callerOf, ownedBy } from '#lib/auth.ts';
import { isOrderId } from '#lib/events/order-events.ts';
import { json, problem } from '#lib/http.ts';
import { withPowertools } from '#lib/middleware/handler.ts';
import { customerOrderView } from '#lib/order-view.ts';

/**
 * GET /orders/{id}: the caller's order (allow-listed fields, lib/order-view.ts) with its derived status and
 * timeline. Another caller's order answers exactly as a missing one (404, same body): the answer never tells
 * whether an id exists.
 */
const getOrderHandler = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyResultV2> => {
  // The route's JWT authorizer lets no request through without a verified token; a missing sub is a route
  // deployed without it, refused rather than served to anyone.
  const caller = callerOf(event);
  if (!caller) return problem(401, 'Unauthorized', [{ field: 'authorization', message: 'a token with a sub claim is required' }]);
  const orderId = event.pathParameters?.id ?? '';
  if (!isOrderId(orderId)) {
    return problem(400, 'Invalid order id', [{ field: 'orderId', message: 'must be 1 to 64 letters, digits, "_" or "-"' }]);
  }
  const order = await getOrderView(requireEnv('ORDERS_TABLE'), orderId);
  if (!order || !ownedBy(order, caller)) return problem(404, 'Order not found', [{ field: 'orderId', message: `no order ${orderId}` }]);
  return json(200, customerOrderView(order));
};

// No metric of its own: API Gateway counts and times the API's requests (withPowertools, metrics: false).
const handler = withPowertools(getOrderHandler, { metrics: false });
export { handler, getOrderHandler };
