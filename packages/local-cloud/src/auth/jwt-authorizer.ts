/**
 * The HTTP API's JWT authorizers (`AWS::ApiGatewayV2::Authorizer`, AuthorizerType JWT), verified as API Gateway
 * does (API Gateway developer guide, "Control access to HTTP APIs with JWT authorizers", "Authorizing API requests
 * with a JWT authorizer"):
 *
 * 1. the token is read from the identity source (`$request.header.Authorization`), with or without `Bearer `;
 * 2. its signature is checked with the issuer's key named by `kid` (RSA algorithms only);
 * 3. `exp` must be after, `nbf` (if present) and `iat` before the current time; `iss` must be the issuer;
 *    `aud` must match one of the authorizer's audiences, or, only when there is no `aud`, `client_id`;
 * 4. a route with AuthorizationScopes needs one of them in `scope` (or `scp`).
 *
 * A missing or invalid token is answered 401 `{"message":"Unauthorized"}`; a valid token without the route's
 * scope 403 `{"message":"Forbidden"}` (RFC 6750, section 3.1, insufficient_scope). The function receives the
 * claims in `requestContext.authorizer.jwt.claims` (values as strings, as on AWS) and the route's scopes in
 * `requestContext.authorizer.jwt.scopes`.
 *
 * One difference from AWS, by design: locally every JWT authorizer trusts the local issuer (issuer.ts), whatever
 * its template Issuer (a Cognito user pool on AWS); its audiences are the template's, resolved locally.
 */
import { createLocalJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import { isRecord, type TemplateResolver } from '../template/template.ts';
import type { LocalIssuer } from './issuer.ts';

interface JwtAuthorizerConfig {
  /** The authorizer's `Ref` (what a route's AuthorizerId resolves to). */
  id: string;
  logicalId: string;
  /** Header name of the identity source, lower case (`authorization`). */
  header: string;
  /** The template's Issuer (replaced locally by the local issuer). */
  templateIssuer: string;
  audiences: string[];
}

interface RouteAuthorization {
  authorizer: JwtAuthorizerConfig;
  scopes: string[];
}

type AuthorizationResult =
  | { ok: true; context: { jwt: { claims: Record<string, string>; scopes: string[] | null } } }
  | { ok: false; statusCode: 401 | 403; message: 'Unauthorized' | 'Forbidden'; reason: string };

/** `$request.header.Authorization` → `authorization`; undefined for an identity source that is not a header. */
function headerOfIdentitySource(source: unknown): string | undefined {
  const first = Array.isArray(source) ? source[0] : source;
  const match = /^\$request\.header\.(.+)$/.exec(String(first ?? '$request.header.Authorization'));
  return match?.[1]?.toLowerCase();
}

/** Every JWT authorizer of the template, by its Ref. */
function jwtAuthorizersFromTemplate(resolver: TemplateResolver, warn: (message: string) => void = () => {}): Map<string, JwtAuthorizerConfig> {
  const authorizers = new Map<string, JwtAuthorizerConfig>();
  for (const [logicalId, resource] of Object.entries(resolver.template.Resources)) {
    if (resource.Type !== 'AWS::ApiGatewayV2::Authorizer' || !resolver.isActive(logicalId)) continue;
    const props = resolver.resolve(resource.Properties ?? {}, `Resources.${logicalId}.Properties`) as Record<string, unknown>;
    if (props.AuthorizerType !== 'JWT') {
      warn(`${logicalId}: ${String(props.AuthorizerType)} authorizers are not emulated (JWT is); its routes answer 401`);
      continue;
    }
    const header = headerOfIdentitySource(props.IdentitySource);
    const jwt = isRecord(props.JwtConfiguration) ? props.JwtConfiguration : {};
    if (header === undefined) {
      warn(`${logicalId}: identity source ${JSON.stringify(props.IdentitySource)} is not emulated (a request header is); its routes answer 401`);
    }
    authorizers.set(resolver.identity(logicalId).ref, {
      id: resolver.identity(logicalId).ref,
      logicalId,
      header: header ?? '',
      templateIssuer: String(jwt.Issuer ?? ''),
      audiences: Array.isArray(jwt.Audience) ? jwt.Audience.map(String) : [],
    });
  }
  return authorizers;
}

/** A route's authorization from its AuthorizationType, AuthorizerId and AuthorizationScopes; undefined for NONE. */
function routeAuthorization(props: Record<string, unknown>, authorizers: Map<string, JwtAuthorizerConfig>): RouteAuthorization | 'unsupported' | undefined {
  const type = String(props.AuthorizationType ?? 'NONE');
  if (type === 'NONE') return undefined;
  const authorizer = type === 'JWT' ? authorizers.get(String(props.AuthorizerId ?? '')) : undefined;
  if (authorizer === undefined) return 'unsupported';
  return { authorizer, scopes: Array.isArray(props.AuthorizationScopes) ? props.AuthorizationScopes.map(String) : [] };
}

/** Claim values as the function receives them: strings (numbers as their digits, lists as `[a b]`). */
function claimsAsStrings(payload: JWTPayload): Record<string, string> {
  const claims: Record<string, string> = {};
  for (const [name, value] of Object.entries(payload)) {
    claims[name] = typeof value === 'string' ? value : Array.isArray(value) ? `[${value.map(String).join(' ')}]` : typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
  }
  return claims;
}

const unauthorized = (reason: string): AuthorizationResult => ({ ok: false, statusCode: 401, message: 'Unauthorized', reason });

/** Tokens kept verified (verifiedTokens); the map is emptied when full. */
const VERIFIED_LIMIT = 10_000;

/** True while `exp` is after and `nbf` (if any) not after `nowSeconds`, as jwtVerify checks them (no tolerance). */
const withinTimes = (payload: JWTPayload, nowSeconds: number): boolean =>
  (payload.exp === undefined || payload.exp > nowSeconds) && (payload.nbf === undefined || payload.nbf <= nowSeconds);

/**
 * Verifies requests' tokens against the local issuer for the routes that have a JWT authorizer.
 *
 * A token's signature and issuer are verified once per verifier (its keys do not change): the claims of a token that
 * passed are kept, and a later request with the same token has only its times (`exp`, `nbf`, `iat`), audience and
 * scopes checked. Verifying the RS256 signature on every request was 6.8 % of the main thread's CPU during
 * `npm run load:spike` (`--cpu-prof`, the 10 s at 1,000 orders/s, every request with the same token).
 */
class JwtVerifier {
  private readonly issuer: LocalIssuer;
  private readonly keys: ReturnType<typeof createLocalJWKSet>;
  private readonly verifiedTokens = new Map<string, JWTPayload>();

  constructor(issuer: LocalIssuer) {
    this.issuer = issuer;
    this.keys = createLocalJWKSet(issuer.jwks());
  }

  /**
   * Authorizes one request of a route.
   *
   * @example
   * const result = await verifier.authorize(route.authorization, request.headers);
   * if (!result.ok) return send(result.statusCode, { message: result.message });
   */
  async authorize(authorization: RouteAuthorization, headers: Record<string, string | string[] | undefined>, now = new Date()): Promise<AuthorizationResult> {
    const { authorizer, scopes } = authorization;
    const raw = headers[authorizer.header];
    const value = (Array.isArray(raw) ? raw[0] : raw)?.trim();
    if (value === undefined || value === '') return unauthorized('no token in the identity source');
    const token = value.replace(/^Bearer\s+/i, '');
    const nowSeconds = Math.floor(now.getTime() / 1000);
    let payload = this.verifiedTokens.get(token);
    // A kept token past its exp (or before its nbf) is verified again, to be refused in jose's words.
    if (payload === undefined || !withinTimes(payload, nowSeconds)) {
      try {
        const verified = await jwtVerify(token, this.keys, { issuer: this.issuer.info.issuer, algorithms: ['RS256', 'RS384', 'RS512'], currentDate: now, clockTolerance: 0 });
        if (verified.protectedHeader.kid === undefined) return unauthorized('the token has no kid');
        payload = verified.payload;
      } catch (error) {
        this.verifiedTokens.delete(token);
        if (error instanceof errors.JOSEError) return unauthorized(`${error.code}: ${error.message}`);
        throw error;
      }
      if (this.verifiedTokens.size >= VERIFIED_LIMIT) this.verifiedTokens.clear();
      this.verifiedTokens.set(token, payload);
    }
    if (typeof payload.iat !== 'number' || payload.iat > nowSeconds) return unauthorized('iat is missing or in the future');
    // API Gateway evaluates aud when present, client_id only without aud.
    const audiences = payload.aud !== undefined ? (Array.isArray(payload.aud) ? payload.aud : [payload.aud]) : typeof payload.client_id === 'string' ? [payload.client_id] : [];
    if (!audiences.some((audience) => authorizer.audiences.includes(audience))) return unauthorized(`aud/client_id ${JSON.stringify(audiences)} is not one of ${JSON.stringify(authorizer.audiences)}`);
    if (scopes.length > 0) {
      const granted = String(payload.scope ?? payload.scp ?? '').split(' ').filter(Boolean);
      if (!scopes.some((scope) => granted.includes(scope))) return { ok: false, statusCode: 403, message: 'Forbidden', reason: `none of the route's scopes ${JSON.stringify(scopes)}` };
    }
    return { ok: true, context: { jwt: { claims: claimsAsStrings(payload), scopes: scopes.length > 0 ? scopes : null } } };
  }
}

export { JwtVerifier, jwtAuthorizersFromTemplate, routeAuthorization };
export type { RouteAuthorization };
