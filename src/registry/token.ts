// Bearer tokens of Docker's token authentication (distribution's "Token Authentication Specification" and its
// JWT profile): compact JWS signed with ES256 (a P-256 key made at first start) or RS256 (an RSA key an admin
// supplies), header `kid` = the RFC 7638 thumbprint of the public key, claims iss, sub, aud, exp, nbf, iat, jti
// and access: [{type, name, actions}]. Scopes are the `type:name:actions` strings of the token request.
import {
  createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, verify,
  type KeyObject,
} from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export type SigningAlg = 'ES256' | 'RS256';

export interface AccessClaim {
  type: string;
  name: string;
  actions: string[];
}

export interface TokenClaims {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  nbf: number;
  iat: number;
  jti: string;
  access?: AccessClaim[];
  [claim: string]: unknown;
}

export class TokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenError';
  }
}

const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const B64URL_RE = /^[A-Za-z0-9_-]*$/;
// Tokens are small; anything bigger is not ours and not worth parsing.
const MAX_TOKEN = 16 * 1024;

function algOf(key: KeyObject): SigningAlg {
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  if (key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048) return 'RS256';
  throw new TokenError('the token signing key must be an EC P-256 key or an RSA key of at least 2048 bits');
}

// RFC 7638: SHA-256 of the required JWK members in lexicographic order, base64url.
function thumbprint(jwk: JsonWebKey): string {
  const members = jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } : { e: jwk.e, kty: jwk.kty, n: jwk.n };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

export class TokenKey {
  readonly alg: SigningAlg;
  readonly kid: string;
  private readonly privateKey: KeyObject;
  private readonly publicKey: KeyObject;

  constructor(privateKey: KeyObject) {
    this.privateKey = privateKey;
    this.alg = algOf(privateKey);
    this.publicKey = createPublicKey(privateKey);
    this.kid = thumbprint(this.publicJwk());
  }

  static generate(): TokenKey {
    return new TokenKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
  }

  static fromPem(pem: string): TokenKey {
    return new TokenKey(createPrivateKey(pem));
  }

  // The key in `file` (PEM), or a new P-256 key written there (mode 0600) when there is none yet. Created with
  // O_EXCL so that two registries starting at once on one root end up with the same key.
  static loadOrCreate(file: string): TokenKey {
    try {
      return TokenKey.fromPem(readFileSync(file, 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new TokenError(`token key ${file}: ${(err as Error).message}`);
    }
    const key = TokenKey.generate();
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    try {
      writeFileSync(file, key.privateKey.export({ type: 'pkcs8', format: 'pem' }), { flag: 'wx', mode: 0o600 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return TokenKey.fromPem(readFileSync(file, 'utf8'));
      throw err;
    }
    return key;
  }

  publicJwk(): JsonWebKey {
    return this.publicKey.export({ format: 'jwk' });
  }

  sign(claims: TokenClaims): string {
    const input = `${enc({ typ: 'JWT', alg: this.alg, kid: this.kid })}.${enc(claims)}`;
    const sig = sign('sha256', Buffer.from(input), this.alg === 'ES256' ? { key: this.privateKey, dsaEncoding: 'ieee-p1363' } : this.privateKey);
    return `${input}.${sig.toString('base64url')}`;
  }

  // The claims of a token this key signed, checked against the issuer, the audience and the clock (`now` in
  // milliseconds). Only our own algorithm and key id are accepted: no "none", no HMAC with the public key.
  verify(token: string, opts: { issuer: string; audience: string; now?: number }): TokenClaims {
    if (typeof token !== 'string' || token.length > MAX_TOKEN) throw new TokenError('malformed token');
    const parts = token.split('.');
    if (parts.length !== 3 || !parts.every((p) => p.length > 0 && B64URL_RE.test(p))) throw new TokenError('malformed token');
    let header: { alg?: unknown; kid?: unknown };
    let claims: TokenClaims;
    try {
      header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
      claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    } catch {
      throw new TokenError('malformed token');
    }
    if (header === null || typeof header !== 'object' || claims === null || typeof claims !== 'object') throw new TokenError('malformed token');
    if (header.alg !== this.alg) throw new TokenError('unexpected signing algorithm');
    if (header.kid !== this.kid) throw new TokenError('unknown signing key');
    const sig = Buffer.from(parts[2], 'base64url');
    const ok = verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), this.alg === 'ES256' ? { key: this.publicKey, dsaEncoding: 'ieee-p1363' } : this.publicKey, sig);
    if (!ok) throw new TokenError('invalid token signature');
    const now = (opts.now ?? Date.now()) / 1000;
    if (claims.iss !== opts.issuer) throw new TokenError('invalid token issuer');
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!aud.includes(opts.audience)) throw new TokenError('invalid token audience');
    if (typeof claims.exp !== 'number' || now >= claims.exp) throw new TokenError('token expired');
    if (typeof claims.nbf !== 'number' || now < claims.nbf) throw new TokenError('token not valid yet');
    if (typeof claims.sub !== 'string') throw new TokenError('malformed token');
    if (claims.access !== undefined && !validAccess(claims.access)) throw new TokenError('malformed token');
    return claims;
  }
}

function validAccess(a: unknown): a is AccessClaim[] {
  return Array.isArray(a) && a.every((e) => e !== null && typeof e === 'object' && typeof e.type === 'string'
    && typeof e.name === 'string' && Array.isArray(e.actions) && e.actions.every((x: unknown) => typeof x === 'string'));
}

/** The standard claims of a token issued now (milliseconds) for `ttlSeconds`. */
export function newClaims(o: { issuer: string; subject: string; audience: string; ttlSeconds: number; now?: number }): TokenClaims {
  const now = (o.now ?? Date.now()) / 1000;
  const iat = Math.floor(now);
  return { iss: o.issuer, sub: o.subject, aud: o.audience, exp: iat + o.ttlSeconds, nbf: iat, iat, jti: randomBytes(16).toString('hex') };
}

// A resource scope of a token request: `repository:team/app:pull,push`, `repository(plugin):x:pull`,
// `registry:catalog:*`.
export interface ResourceScope {
  type: string;
  class?: string;
  name: string;
  actions: string[];
}

/**
 * Parses one or more space-separated scopes. The name is everything between the first and the last colon (so
 * a name with a colon, like a host:port prefix, survives); malformed scopes are skipped, as distribution does.
 */
export function parseScopes(s: string): ResourceScope[] {
  const out: ResourceScope[] = [];
  for (const one of s.split(' ')) {
    const first = one.indexOf(':');
    const last = one.lastIndexOf(':');
    if (first <= 0 || last === first) continue;
    const typeClass = one.slice(0, first);
    const name = one.slice(first + 1, last);
    const actions = one.slice(last + 1).split(',').filter(Boolean);
    const m = /^([a-z0-9]+)(?:\(([a-z0-9]+)\))?$/.exec(typeClass);
    if (!m || !name) continue;
    out.push(m[2] ? { type: m[1], class: m[2], name, actions } : { type: m[1], name, actions });
  }
  return out;
}

export function formatScope(s: ResourceScope): string {
  return `${s.type}${s.class ? `(${s.class})` : ''}:${s.name}:${s.actions.join(',')}`;
}
