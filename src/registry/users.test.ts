import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, scryptSync } from 'node:crypto';
import { hashPassword, verifyPassword, parsePhc, isPasswordHash, PasswordChecker, LoginThrottle } from './users.ts';

test('argon2id PHC: round trip, wrong password, fresh salt each time', async () => {
  const h = await hashPassword('correct horse');
  assert.match(h, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
  assert.equal(await verifyPassword('correct horse', h), true);
  assert.equal(await verifyPassword('correct horsE', h), false);
  assert.equal(await verifyPassword('', h), false);
  assert.notEqual(await hashPassword('correct horse'), h);
  const p = parsePhc(h)!;
  assert.equal(p.alg, 'argon2id');
  assert.deepEqual(p.params, { m: 19456, t: 2, p: 1 });
  assert.equal(p.salt.length, 16);
  assert.equal(p.hash.length, 32);
});

test('scrypt PHC strings written by other tools verify', async () => {
  const salt = randomBytes(16);
  const hash = scryptSync('s3cret', salt, 32, { N: 2 ** 10, r: 8, p: 1 });
  const phc = `$scrypt$ln=10,r=8,p=1$${salt.toString('base64').replace(/=+$/, '')}$${hash.toString('base64').replace(/=+$/, '')}`;
  assert.ok(isPasswordHash(phc));
  assert.equal(await verifyPassword('s3cret', phc), true);
  assert.equal(await verifyPassword('s3cret ', phc), false);
});

test('malformed or out-of-bounds hashes are not hashes and never verify', async () => {
  const good = await hashPassword('x');
  for (const bad of ['', 'plain', '$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA',
    '$argon2id$v=16$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA',
    '$argon2id$v=19$m=99999999,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA', // 95 GiB
    '$argon2id$v=19$m=19456,t=2$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA',
    '$argon2id$v=19$m=19456,t=2,p=1$c2Fs$aGFzaGhhc2hoYXNoaGFzaA', // 3-byte salt
    good.replace(/\$[^$]+$/, '$not*base64'), `${good}$extra`]) {
    assert.equal(isPasswordHash(bad), false, bad);
    assert.equal(await verifyPassword('x', bad), false);
  }
});

test('PasswordChecker: unknown users fail as slowly as wrong passwords; successes are cached per hash', async () => {
  let now = 1000;
  const c = new PasswordChecker({ now: () => now, cacheMs: 60_000 });
  const users = { alice: { hash: await hashPassword('pw1'), teams: [] } };
  assert.equal(await c.check(users, 'alice', 'pw1'), true);
  assert.equal(await c.check(users, 'alice', 'pw2'), false);
  assert.equal(await c.check(users, 'nobody', 'pw1'), false);
  assert.equal(await c.check(users, 'constructor', 'pw1'), false); // not an own property
  // A cached success is fast; a changed hash is not served from the cache.
  let t = performance.now();
  assert.equal(await c.check(users, 'alice', 'pw1'), true);
  assert.ok(performance.now() - t < 10);
  users.alice.hash = await hashPassword('pw2');
  assert.equal(await c.check(users, 'alice', 'pw1'), false);
  assert.equal(await c.check(users, 'alice', 'pw2'), true);
  now += 61_000;
  t = performance.now();
  assert.equal(await c.check(users, 'alice', 'pw2'), true);
  assert.ok(performance.now() - t > 5, 'an expired cache entry checks the hash again');
});

test('LoginThrottle: free attempts, then doubling delays; success and quiet time reset', () => {
  let now = 0;
  const t = new LoginThrottle({ free: 3, baseDelayMs: 1000, maxDelayMs: 8000, now: () => now });
  for (let i = 0; i < 3; i++) t.failure('ip\0alice');
  assert.equal(t.blockedFor('ip\0alice'), 0);
  t.failure('ip\0alice');
  assert.equal(t.blockedFor('ip\0alice'), 1000);
  assert.equal(t.blockedFor('other\0alice'), 0);
  t.failure('ip\0alice');
  assert.equal(t.blockedFor('ip\0alice'), 2000);
  for (let i = 0; i < 5; i++) t.failure('ip\0alice');
  assert.equal(t.blockedFor('ip\0alice'), 8000);
  now += 8000;
  assert.equal(t.blockedFor('ip\0alice'), 0);
  t.success('ip\0alice');
  t.failure('ip\0alice');
  assert.equal(t.blockedFor('ip\0alice'), 0);
  // A long quiet spell starts the count over.
  for (let i = 0; i < 3; i++) t.failure('k');
  now += 9000;
  t.failure('k');
  assert.equal(t.blockedFor('k'), 0);
});
