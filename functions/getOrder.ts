import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from 'aws-lambda';
import { requireEnv } from '#lib/aws/env.ts';
import { getOrderView } from '#lib/aws/orders-table.ts';
import { isOrderId } from '#lib/events/order-events.ts';
import { json, problem } from '#lib/http.ts';
import { withPowertools } from '#lib/middleware/handler.ts';

/** GET /orders/{id}: the order with its derived status and timeline, or 404. */
const getOrderHandler = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyResultV2> => {
  const orderId = event.pathParameters?.id ?? '';
  if (!isOrderId(orderId)) {
    return problem(400, 'Invalid order id', [{ field: 'orderId', message: 'must be 1 to 64 letters, digits, "_" or "-"' }]);
  }
  const order = await getOrderView(requireEnv('ORDERS_TABLE'), orderId);
  if (!order) return problem(404, 'Order not found', [{ field: 'orderId', message: `no order ${orderId}` }]);
  return json(200, order);
};

// No metric of its own: API Gateway counts and times the API's requests (withPowertools, metrics: false).
const handler = withPowertools(getOrderHandler, { metrics: false });
export { handler, getOrderHandler };
