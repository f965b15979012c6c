/**
 * The local cloud's token issuer: an RSA signing key generated once into the data directory (`issuer/`), its
 * public half served as a JWKS with an OpenID discovery document, and tokens minted for a named customer, shaped
 * like a Cognito user pool's access tokens (`sub`, `username`, `client_id`, `token_use`, `scope`). The HTTP API's
 * JWT authorizers (jwt-authorizer.ts) verify tokens against it. Signing and verification are `jose`'s.
 *
 * API Gateway supports only RSA algorithms for JWT authorizers (API Gateway developer guide, "Control access to
 * HTTP APIs with JWT authorizers"): the key is RS256, 2048 bits.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import { ISSUER_FOLDER } from '../emulators/data-dir.ts';
import { stableUuid } from '../template/template.ts';
import { readJsonFile, writeJsonFileAtomic, writeTextFileAtomic } from '../util/json-file.ts';

const KEY_FILE = 'signing-key.json';
/** What `mintLocalToken` needs from a running (or last) local cloud: written at start. */
const ISSUER_FILE = 'issuer.json';
/** The edge path of the issuer; discovery at `<issuer>/.well-known/openid-configuration`. */
const ISSUER_PATH = '/_local/issuer';
const ALGORITHM = 'RS256';

interface IssuerInfo {
  /** The `iss` of the tokens, e.g. `http://127.0.0.1:4566/_local/issuer`. */
  issuer: string;
  /** Every audience a JWT authorizer of the template accepts (the first one is the default of a minted token). */
  audiences: string[];
}

interface MintOptions {
  /** The customer's name: the token's `username`; its `sub` is derived from it (customerSub). */
  customer: string;
  /** `aud`-less access token for this client (`client_id`); the issuer's first audience when omitted. */
  clientId?: string;
  /** Seconds the token is valid; 3,600 (one hour, Cognito's default access token validity). */
  expiresInSeconds?: number;
  /** Space-separated scopes (`scope` claim); none when omitted. */
  scope?: string;
  /** Overrides the issuer (a token of another issuer, for tests). */
  issuer?: string;
  /** The token's `nbf`, seconds since the epoch. */
  notBefore?: number;
  /** The token's `iat`, seconds since the epoch (now when omitted). */
  issuedAt?: number;
}

/**
 * The `sub` of a named local customer: a UUID derived from the name, as stable as a Cognito user's `sub` (the same
 * name gets the same `sub` in every run and data directory).
 */
function customerSub(customer: string): string {
  return stableUuid(`local-customer:${customer}`);
}

interface StoredKey {
  kid: string;
  privateJwk: JWK;
  publicJwk: JWK;
}

class LocalIssuer {
  private readonly key: StoredKey;
  private readonly folder: string;
  readonly info: IssuerInfo;

  private constructor(folder: string, key: StoredKey, info: IssuerInfo) {
    this.folder = folder;
    this.key = key;
    this.info = info;
  }

  /**
   * The issuer of `dataDir`: its key is generated on first use (file mode 0600) and kept across runs, so a token
   * minted yesterday still verifies after a restart (until it expires). `issuer.json` records the issuer URL and
   * audiences of this run for `mintLocalToken`.
   */
  static async open(dataDir: string, info: IssuerInfo): Promise<LocalIssuer> {
    const folder = join(dataDir, ISSUER_FOLDER);
    const key = await loadOrCreateKey(folder);
    writeJsonFileAtomic(join(folder, ISSUER_FILE), info);
    return new LocalIssuer(folder, key, info);
  }

  /** Opens the issuer a local cloud with this data directory wrote (for `npm run token`). */
  static async existing(dataDir: string): Promise<LocalIssuer> {
    const folder = join(dataDir, ISSUER_FOLDER);
    const info = readJsonFile<IssuerInfo | undefined>(join(folder, ISSUER_FILE), undefined);
    if (info === undefined || !existsSync(join(folder, KEY_FILE))) {
      throw new Error(`no local issuer in ${dataDir}: start the local cloud once with this data directory (npm start)`);
    }
    return new LocalIssuer(folder, await loadOrCreateKey(folder), info);
  }

  /** The JWKS (`jwks_uri`): the public key only. */
  jwks(): { keys: JWK[] } {
    return { keys: [this.key.publicJwk] };
  }

  /** The OpenID discovery document (OpenID Connect Discovery 1.0, section 3), the fields API Gateway reads. */
  discovery(): Record<string, unknown> {
    return {
      issuer: this.info.issuer,
      jwks_uri: `${this.info.issuer}/.well-known/jwks.json`,
      id_token_signing_alg_values_supported: [ALGORITHM],
      response_types_supported: ['token'],
      subject_types_supported: ['public'],
    };
  }

  /** Signs a token for a named customer. */
  async mint(options: MintOptions): Promise<string> {
    const clientId = options.clientId ?? this.info.audiences[0];
    if (clientId === undefined) throw new Error('the template has no JWT authorizer audience; pass clientId');
    const issuedAt = options.issuedAt ?? Math.floor(Date.now() / 1000);
    const jwt = new SignJWT({
      username: options.customer,
      client_id: clientId,
      token_use: 'access',
      ...(options.scope !== undefined ? { scope: options.scope } : {}),
    })
      .setProtectedHeader({ alg: ALGORITHM, kid: this.key.kid, typ: 'JWT' })
      .setSubject(customerSub(options.customer))
      .setIssuer(options.issuer ?? this.info.issuer)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + (options.expiresInSeconds ?? 3600));
    if (options.notBefore !== undefined) jwt.setNotBefore(options.notBefore);
    return jwt.sign(await importJWK(this.key.privateJwk, ALGORITHM));
  }

  /** Where the key and issuer.json are. */
  get directory(): string {
    return this.folder;
  }
}

async function loadOrCreateKey(folder: string): Promise<StoredKey> {
  const path = join(folder, KEY_FILE);
  const stored = readJsonFile<StoredKey | undefined>(path, undefined);
  if (stored !== undefined) return stored;
  const { privateKey, publicKey } = await generateKeyPair(ALGORITHM, { modulusLength: 2048, extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = createHash('sha256').update(JSON.stringify([publicJwk.e, publicJwk.n])).digest('base64url').slice(0, 16);
  const key: StoredKey = {
    kid,
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: ALGORITHM, use: 'sig' },
    publicJwk: { ...publicJwk, kid, alg: ALGORITHM, use: 'sig' },
  };
  writeTextFileAtomic(path, JSON.stringify(key), { mode: 0o600 });
  return key;
}

/**
 * A token for a named customer, from the issuer of a data directory a local cloud ran with.
 *
 * @example
 * const token = await mintLocalToken('.local', { customer: 'alice' });
 * await fetch(`${apiUrl}/orders`, { headers: { authorization: `Bearer ${token}` } });
 */
async function mintLocalToken(dataDir: string, options: MintOptions): Promise<string> {
  return (await LocalIssuer.existing(dataDir)).mint(options);
}

export { ISSUER_PATH, LocalIssuer, customerSub, mintLocalToken };
export type { IssuerInfo, MintOptions };
