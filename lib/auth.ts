import type { APIGatewayProxyEventV2 } from 'aws-lambda';

/** Who called the API: the `sub` claim the HTTP API's JWT authorizer verified. */
interface Caller {
  sub: string;
}

/**
 * The caller of a request that passed the JWT authorizer (`requestContext.authorizer.jwt.claims`, payload format
 * 2.0); undefined when the request carries no verified `sub` (a route without the authorizer).
 *
 * @example
 * const caller = callerOf(event);
 * if (!caller) return problem(401, 'Unauthorized');
 */
const callerOf = (event: APIGatewayProxyEventV2): Caller | undefined => {
  const context: unknown = event.requestContext;
  const claims = (context as { authorizer?: { jwt?: { claims?: Record<string, unknown> } } } | undefined)?.authorizer?.jwt?.claims;
  const sub = claims?.sub;
  return typeof sub === 'string' && sub.length > 0 ? { sub } : undefined;
};

/**
 * Whether an order belongs to the caller: its `ownerId` is the caller's `sub`. An order without an owner (an
 * imported one) belongs to no caller.
 *
 * @example
 * if (!order || !ownedBy(order, caller)) return notFound(orderId);
 */
const ownedBy = (order: { ownerId?: string }, caller: Caller): boolean => order.ownerId !== undefined && order.ownerId === caller.sub;

export { callerOf, ownedBy };
