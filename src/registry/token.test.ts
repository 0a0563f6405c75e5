import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TokenKey, TokenError, newClaims, parseScopes, formatScope } from './token.ts';

const T0 = 1_700_000_000_000;
const check = { issuer: 'iss', audience: 'berth-registry' };
const claims = (o: { ttl?: number; now?: number } = {}) => ({
  ...newClaims({ issuer: 'iss', subject: 'alice', audience: 'berth-registry', ttlSeconds: o.ttl ?? 300, now: o.now ?? T0 }),
  access: [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }],
});

test('ES256: sign and verify; header names the algorithm and the key', () => {
  const key = TokenKey.generate();
  const tok = key.sign(claims());
  const header = JSON.parse(Buffer.from(tok.split('.')[0], 'base64url').toString());
  assert.deepEqual(header, { typ: 'JWT', alg: 'ES256', kid: key.kid });
  assert.match(key.kid, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(Buffer.from(tok.split('.')[2], 'base64url').length, 64, 'raw r||s signature, as JWS wants');
  const c = key.verify(tok, { ...check, now: T0 + 1000 });
  assert.equal(c.sub, 'alice');
  assert.equal(c.exp - c.iat, 300);
  assert.equal(c.nbf, c.iat);
  assert.match(c.jti, /^[0-9a-f]{32}$/);
  assert.deepEqual(c.access, [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }]);
});

test('expiry, not-before, audience and issuer are checked', () => {
  const key = TokenKey.generate();
  const tok = key.sign(claims({ ttl: 60 }));
  assert.throws(() => key.verify(tok, { ...check, now: T0 + 60_000 }), /token expired/);
  assert.throws(() => key.verify(tok, { ...check, now: T0 - 1000 }), /not valid yet/);
  assert.throws(() => key.verify(tok, { ...check, audience: 'other', now: T0 }), /audience/);
  assert.throws(() => key.verify(tok, { ...check, issuer: 'other', now: T0 }), /issuer/);
  assert.ok(key.verify(key.sign({ ...claims(), aud: ['x', 'berth-registry'] }), { ...check, now: T0 }));
});

test('tampered payloads and signatures, other keys, "none" and HMAC tokens are refused', () => {
  const key = TokenKey.generate();
  const tok = key.sign(claims());
  const [h, p, s] = tok.split('.');
  const body = JSON.parse(Buffer.from(p, 'base64url').toString());
  body.access[0].name = 'other/app';
  const forged = `${h}.${Buffer.from(JSON.stringify(body)).toString('base64url')}.${s}`;
  assert.throws(() => key.verify(forged, { ...check, now: T0 }), /signature/);
  const sig = Buffer.from(s, 'base64url');
  sig[10] ^= 1;
  assert.throws(() => key.verify(`${h}.${p}.${sig.toString('base64url')}`, { ...check, now: T0 }), /signature/);
  const other = TokenKey.generate();
  assert.throws(() => key.verify(other.sign(claims()), { ...check, now: T0 }), /unknown signing key/);
  const none = `${Buffer.from(JSON.stringify({ alg: 'none', kid: key.kid })).toString('base64url')}.${p}.`;
  assert.throws(() => key.verify(none, { ...check, now: T0 }), TokenError);
  const hh = Buffer.from(JSON.stringify({ alg: 'HS256', kid: key.kid })).toString('base64url');
  const hmac = createHmac('sha256', JSON.stringify(key.publicJwk())).update(`${hh}.${p}`).digest('base64url');
  assert.throws(() => key.verify(`${hh}.${p}.${hmac}`, { ...check, now: T0 }), /algorithm/);
  for (const junk of ['', 'a.b', 'a.b.c.d', '!!.??.**', `${h}.${p}`]) assert.throws(() => key.verify(junk, { ...check, now: T0 }), TokenError);
});

test('RS256 with an RSA key; small RSA and other curves are refused', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const key = TokenKey.fromPem(rsa);
  assert.equal(key.alg, 'RS256');
  assert.equal(key.verify(key.sign(claims()), { ...check, now: T0 }).sub, 'alice');
  const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  assert.throws(() => TokenKey.fromPem(small), /at least 2048/);
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  assert.throws(() => TokenKey.fromPem(p384), /P-256/);
});

test('loadOrCreate makes the key once (mode 0600) and reads it back after', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-token-'));
  try {
    const file = path.join(dir, 'sub', 'token-key.pem');
    const a = TokenKey.loadOrCreate(file);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.match(readFileSync(file, 'utf8'), /BEGIN PRIVATE KEY/);
    const b = TokenKey.loadOrCreate(file);
    assert.equal(b.kid, a.kid);
    assert.equal(b.verify(a.sign(claims()), { ...check, now: T0 }).sub, 'alice');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('scopes: several per string, names with colons, resource classes, junk skipped', () => {
  assert.deepEqual(parseScopes('repository:team/app:pull,push repository:a:pull'), [
    { type: 'repository', name: 'team/app', actions: ['pull', 'push'] },
    { type: 'repository', name: 'a', actions: ['pull'] },
  ]);
  assert.deepEqual(parseScopes('repository:localhost:5000/app:pull'), [{ type: 'repository', name: 'localhost:5000/app', actions: ['pull'] }]);
  assert.deepEqual(parseScopes('repository(plugin):vieux/sshfs:pull'), [{ type: 'repository', class: 'plugin', name: 'vieux/sshfs', actions: ['pull'] }]);
  assert.deepEqual(parseScopes('registry:catalog:*'), [{ type: 'registry', name: 'catalog', actions: ['*'] }]);
  assert.deepEqual(parseScopes('repository:app: :x: nocolon repository::pull  '), [{ type: 'repository', name: 'app', actions: [] }]);
  assert.equal(formatScope({ type: 'repository', class: 'plugin', name: 'a/b', actions: ['pull', 'push'] }), 'repository(plugin):a/b:pull,push');
});
