import '../helpers/env.ts';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { callerOf, ownedBy } from '#lib/auth.ts';
import { httpEvent } from '../helpers/fixtures.ts';

const withClaims = (claims: Record<string, unknown> | undefined): APIGatewayProxyEventV2 => {
  const event = httpEvent('get-order') as APIGatewayProxyEventV2 & { requestContext: { authorizer?: unknown } };
  event.requestContext.authorizer = claims === undefined ? undefined : { jwt: { claims, scopes: null } };
  return event;
};

describe('Lib: auth', () => {
  it("callerOf: the sub claim the JWT authorizer verified (requestContext.authorizer.jwt.claims)", () => {
    // Assess
    expect(callerOf(httpEvent('get-order'))).toEqual({ sub: '5f0d7a1c-2b9e-4c8d-a3f6-1e2b3c4d5e6f' });
  });

  it('callerOf: none without an authorizer, without a sub, or with an empty or non-string one', () => {
    // Assess
    for (const claims of [undefined, {}, { sub: '' }, { sub: 42 }, { username: 'alice' }]) expect(callerOf(withClaims(claims)), JSON.stringify(claims)).toBeUndefined();
  });

  it("ownedBy: the order's ownerId is the caller's sub; an order without an owner belongs to nobody", () => {
    // Assess
    expect(ownedBy({ ownerId: 'sub-1' }, { sub: 'sub-1' })).toBe(true);
    expect(ownedBy({ ownerId: 'sub-1' }, { sub: 'sub-2' })).toBe(false);
    expect(ownedBy({}, { sub: 'sub-1' })).toBe(false);
  });
});
