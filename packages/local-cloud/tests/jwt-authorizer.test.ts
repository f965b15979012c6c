/**
 * The HTTP API's JWT authorizer: the fixture's `GET /private` and `GET /scoped` routes (AuthorizationType JWT,
 * audience `fixture-client`) are verified against the local issuer as API Gateway verifies a Cognito user pool's
 * tokens: signature by `kid`, `iss`, `aud`/`client_id`, `exp`, `nbf`, `iat`, scopes; a refusal is 401
 * `{"message":"Unauthorized"}` (403 `{"message":"Forbidden"}` for a missing scope) and never invokes the function.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, createRemoteJWKSet, generateKeyPair, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { customerSub, mintLocalToken, type LocalCloud } from '../src/index.ts';
import { startFixtureCloud } from './helpers/emulators.ts';
import { JwtVerifier, type RouteAuthorization } from '../src/auth/jwt-authorizer.ts';
import { LocalIssuer } from '../src/auth/issuer.ts';

const get = async (cloud: LocalCloud, path: string, authorization?: string): Promise<{ status: number; body: Record<string, unknown> }> => {
  const response = await fetch(`${cloud.apiUrl}${path}`, { headers: authorization === undefined ? {} : { authorization } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

/** The event the fixture's handler echoes. */
const eventOf = (body: Record<string, unknown>): { requestContext: { authorizer?: { jwt: { claims: Record<string, string>; scopes: string[] | null } } } } =>
  body.event as { requestContext: { authorizer?: { jwt: { claims: Record<string, string>; scopes: string[] | null } } } };

describe('Local cloud: JWT authorizers on the HTTP API', () => {
  let cloud: LocalCloud;
  let dataDir: string;
  const invocations = (): number => cloud.stats().functions['fixture-local-http']?.invocations ?? 0;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'local-jwt-'));
    cloud = await startFixtureCloud(dataDir, { log: () => undefined });
  });

  afterAll(async () => {
    await cloud?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('passes a valid token, with or without "Bearer ", and hands its claims to the function as strings', async () => {
    // Prepare
    const token = await cloud.mintToken({ customer: 'alice' });

    // Act
    const bearer = await get(cloud, '/private', `Bearer ${token}`);
    const bare = await get(cloud, '/private', token);

    // Assess
    expect(bearer.status).toBe(202);
    expect(bare.status).toBe(202);
    const { claims, scopes } = eventOf(bearer.body).requestContext.authorizer?.jwt ?? { claims: {}, scopes: [] };
    expect(claims).toMatchObject({ sub: customerSub('alice'), username: 'alice', client_id: 'fixture-client', token_use: 'access', iss: cloud.issuer.issuer });
    expect(claims.exp).toMatch(/^\d+$/);
    expect(scopes).toBeNull();
  });

  it('answers 401 {"message":"Unauthorized"} without invoking the function: no token, wrong audience, expired, not yet valid, other issuer, other key', async () => {
    // Prepare
    const now = Math.floor(Date.now() / 1000);
    const { privateKey } = await generateKeyPair('RS256');
    const forged = await new SignJWT({ client_id: 'fixture-client', username: 'mallory' })
      .setProtectedHeader({ alg: 'RS256', kid: 'forged' })
      .setSubject(customerSub('alice'))
      .setIssuer(cloud.issuer.issuer)
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .sign(privateKey);
    const cases: Record<string, string | undefined> = {
      'no token': undefined,
      'empty header': '',
      'not a JWT': 'Bearer not-a-jwt',
      'wrong audience': `Bearer ${await cloud.mintToken({ customer: 'alice', clientId: 'another-client' })}`,
      expired: `Bearer ${await cloud.mintToken({ customer: 'alice', issuedAt: now - 7200, expiresInSeconds: 3600 })}`,
      'not yet valid (nbf)': `Bearer ${await cloud.mintToken({ customer: 'alice', notBefore: now + 600 })}`,
      'issued in the future (iat)': `Bearer ${await cloud.mintToken({ customer: 'alice', issuedAt: now + 600 })}`,
      'other issuer': `Bearer ${await cloud.mintToken({ customer: 'alice', issuer: 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other' })}`,
      'signed by another key': `Bearer ${forged}`,
    };
    const before = invocations();

    // Act
    const answers = Object.fromEntries(await Promise.all(Object.entries(cases).map(async ([name, header]) => [name, await get(cloud, '/private', header)] as const)));

    // Assess
    for (const [name, answer] of Object.entries(answers)) expect({ name, ...answer }).toEqual({ name, status: 401, body: { message: 'Unauthorized' } });
    expect(invocations()).toBe(before);
  });

  it("a route with AuthorizationScopes needs one of them in the token's scope: 403 Forbidden without", async () => {
    // Prepare
    const without = await cloud.mintToken({ customer: 'alice', scope: 'orders/write' });
    const withScope = await cloud.mintToken({ customer: 'alice', scope: 'openid orders/read' });

    // Act
    const refused = await get(cloud, '/scoped', `Bearer ${without}`);
    const allowed = await get(cloud, '/scoped', `Bearer ${withScope}`);

    // Assess
    expect(refused).toEqual({ status: 403, body: { message: 'Forbidden' } });
    expect(allowed.status).toBe(202);
    expect(eventOf(allowed.body).requestContext.authorizer?.jwt.scopes).toEqual(['orders/read']);
  });

  it('routes without an authorizer stay open; the function sees no authorizer', async () => {
    // Act
    const open = await fetch(`${cloud.apiUrl}/orders`, { method: 'POST', body: '{}' });

    // Assess
    expect(open.status).toBe(202);
    expect(eventOf((await open.json()) as Record<string, unknown>).requestContext.authorizer).toBeUndefined();
  });

  it('serves an OpenID discovery document and JWKS without the control token, which verify its tokens (jose remote key set)', async () => {
    // Prepare
    const token = await cloud.mintToken({ customer: 'bob' });

    // Act
    const discovery = (await (await fetch(`${cloud.issuer.issuer}/.well-known/openid-configuration`)).json()) as { issuer: string; jwks_uri: string };
    const verified = await jwtVerify(token, createRemoteJWKSet(new URL(discovery.jwks_uri)), { issuer: discovery.issuer });

    // Assess
    expect(discovery.issuer).toBe(cloud.issuer.issuer);
    expect(verified.payload.username).toBe('bob');
    expect((await fetch(`${cloud.issuer.issuer}/.well-known/jwks.json`, { method: 'POST', headers: { 'content-type': 'application/json' } })).status).toBe(403);
  });

  it('keeps its signing key in the data directory (owner-only) and mints from it without a running cloud', async () => {
    // Act
    const token = await mintLocalToken(dataDir, { customer: 'carol' });
    const mode = (await stat(join(dataDir, 'issuer', 'signing-key.json'))).mode & 0o777;

    // Assess
    expect(mode).toBe(0o600);
    expect((await get(cloud, '/private', `Bearer ${token}`)).status).toBe(202);
  });
});

describe('JwtVerifier: a token verified once', () => {
  const authorization = (audiences: string[]): RouteAuthorization => ({
    authorizer: { id: 'auth', logicalId: 'HttpApiAuthorizer', header: 'authorization', templateIssuer: 'https://issuer.example', audiences },
    scopes: [],
  });
  let dataDir: string;
  let issuer: LocalIssuer;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'local-jwt-verifier-'));
    issuer = await LocalIssuer.open(dataDir, { issuer: 'http://127.0.0.1:1/_local/issuer', audiences: ['client'] });
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('is still refused once expired or before its nbf, for another audience, and a token altered after it is refused', async () => {
    // Arrange
    const verifier = new JwtVerifier(issuer);
    const issuedAt = Math.floor(Date.now() / 1000);
    const token = await issuer.mint({ customer: 'alice', issuedAt, expiresInSeconds: 60 });
    const later = await issuer.mint({ customer: 'bob', issuedAt, notBefore: issuedAt + 30 });
    const at = (seconds: number): Date => new Date((issuedAt + seconds) * 1000);
    const [header, body] = token.split('.');
    const altered = `${header}.${body}.${'A'.repeat(342)}`;
    // Act
    const first = await verifier.authorize(authorization(['client']), { authorization: `Bearer ${token}` }, at(1));
    const again = await verifier.authorize(authorization(['client']), { authorization: `Bearer ${token}` }, at(2));
    const otherAudience = await verifier.authorize(authorization(['another']), { authorization: `Bearer ${token}` }, at(3));
    const expired = await verifier.authorize(authorization(['client']), { authorization: `Bearer ${token}` }, at(60));
    const laterValid = await verifier.authorize(authorization(['client']), { authorization: `Bearer ${later}` }, at(31));
    const laterEarly = await verifier.authorize(authorization(['client']), { authorization: `Bearer ${later}` }, at(29));
    const forged = await verifier.authorize(authorization(['client']), { authorization: `Bearer ${altered}` }, at(4));
    // Assess
    expect([first.ok, again.ok, laterValid.ok]).toEqual([true, true, true]);
    expect(otherAudience).toMatchObject({ ok: false, statusCode: 401 });
    expect(expired).toMatchObject({ ok: false, statusCode: 401, reason: expect.stringContaining('ERR_JWT_EXPIRED') });
    expect(laterEarly).toMatchObject({ ok: false, statusCode: 401, reason: expect.stringContaining('nbf') });
    expect(forged).toMatchObject({ ok: false, statusCode: 401, reason: expect.stringContaining('ERR_JWS_SIGNATURE_VERIFICATION_FAILED') });
  });
});
