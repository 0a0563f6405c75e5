import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decide, grantedAccess, createAccessControl, openAccessControl } from './access.ts';
import { validateConfig, ConfigStore, loadConfig, type RegistryConfig } from './config.ts';
import { hashPassword } from './users.ts';
import { TokenKey, newClaims } from './token.ts';
import type { Action, Principal, RepositoryLister } from './types.ts';

let hash: string;
const pw = { alice: 'pw-alice', bob: 'pw-bob', carol: 'pw-carol', root: 'pw-root' };

async function config(extra: Record<string, unknown> = {}): Promise<RegistryConfig> {
  hash ??= await hashPassword('unused');
  const users: Record<string, unknown> = {};
  const teams: Record<string, string[]> = { alice: ['dev'], bob: ['dev'], carol: [], root: [] };
  for (const [u, p] of Object.entries(pw)) users[u] = { hash: await hashPassword(p), teams: teams[u] };
  return validateConfig({
    auth: 'basic', users, admins: ['root'],
    repositories: {
      pub: { push: ['alice'] },
      priv: { visibility: 'private', pull: ['team:dev'], push: ['alice'] },
    },
    ...extra,
  });
}

const P = (user?: string, teams: string[] = []): Principal => (user ? { user, teams } : { teams });
const anon = P();
const alice = P('alice', ['dev']);
const bob = P('bob', ['dev']);
const carol = P('carol');
const root = P('root');

function req(authorization?: string, remote = '127.0.0.1'): IncomingMessage {
  return { headers: authorization ? { authorization } : {}, socket: { remoteAddress: remote } } as unknown as IncomingMessage;
}
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

const lister = (repos: string[]): RepositoryLister => ({ repositories: async () => [...repos].sort(), description: async () => '' });

test('policy matrix: public/private × anonymous/user/team/admin × pull/push', async () => {
  const cfg = await config();
  const table: [Principal, string, Action, 'allow' | 'deny'][] = [
    [anon, 'pub', 'pull', 'allow'], [anon, 'pub', 'push', 'deny'], [anon, 'priv', 'pull', 'deny'], [anon, 'priv', 'push', 'deny'],
    [carol, 'pub', 'pull', 'allow'], [carol, 'pub', 'push', 'deny'], [carol, 'priv', 'pull', 'deny'], [carol, 'priv', 'push', 'deny'],
    [bob, 'pub', 'pull', 'allow'], [bob, 'pub', 'push', 'deny'], [bob, 'priv', 'pull', 'allow'], [bob, 'priv', 'push', 'deny'],
    [alice, 'pub', 'push', 'allow'], [alice, 'priv', 'pull', 'allow'], [alice, 'priv', 'push', 'allow'], [alice, 'priv', 'delete', 'allow'],
    [root, 'pub', 'push', 'allow'], [root, 'priv', 'pull', 'allow'], [root, 'priv', 'push', 'allow'], [root, 'priv', 'delete', 'allow'],
    [bob, 'priv', 'delete', 'deny'],
  ];
  for (const [p, repo, action, want] of table) assert.equal(decide(cfg, p, repo, action, true), want, `${p.user ?? 'anonymous'} ${action} ${repo}`);
  // Push implies pull: a private repository's pusher pulls without a pull grant.
  cfg.repositories.priv.pull = [];
  assert.equal(decide(cfg, alice, 'priv', 'pull', true), 'allow');
  assert.equal(decide(cfg, bob, 'priv', 'pull', true), 'deny');
});

test('policy: open registry, private default, unclaimed repositories', async () => {
  const open = validateConfig({ repositories: { shut: { visibility: 'private' } } });
  assert.equal(decide(open, anon, 'any/thing', 'push', false), 'allow');
  assert.equal(decide(open, anon, 'any/thing', 'pull', true), 'allow');
  assert.equal(decide(open, anon, 'shut', 'pull', true), 'deny');
  const cfg = await config({ defaultVisibility: 'private' });
  // A new name: any user claims it by pushing; anonymous callers cannot.
  assert.equal(decide(cfg, carol, 'carol/new', 'push', false), 'claim');
  assert.equal(decide(cfg, carol, 'carol/new', 'pull', false), 'allow');
  assert.equal(decide(cfg, root, 'root/new', 'push', false), 'claim');
  assert.equal(decide(cfg, anon, 'carol/new', 'push', false), 'deny');
  // Holding manifests but no pusher (pushed while the registry was open): closed to pushes, private by default.
  assert.equal(decide(cfg, carol, 'legacy', 'push', true), 'deny');
  assert.equal(decide(cfg, carol, 'legacy', 'pull', true), 'deny');
  assert.equal(decide(cfg, root, 'legacy', 'push', true), 'allow');
  // A pusher makes a name taken even before its first manifest.
  assert.equal(decide(cfg, carol, 'priv', 'push', false), 'deny');
});

test('grantedAccess: requested scopes intersected with the policy', async () => {
  const cfg = await config();
  const exists = (r: string) => r === 'pub' || r === 'priv';
  assert.deepEqual(grantedAccess(cfg, bob, ['repository:priv:pull,push', 'repository:pub:pull'], exists), [
    { type: 'repository', name: 'priv', actions: ['pull'] },
    { type: 'repository', name: 'pub', actions: ['pull'] },
  ]);
  assert.deepEqual(grantedAccess(cfg, anon, ['repository:priv:pull repository:pub:pull,push'], exists), [
    { type: 'repository', name: 'pub', actions: ['pull'] },
  ]);
  assert.deepEqual(grantedAccess(cfg, alice, ['repository:priv:*'], exists), [{ type: 'repository', name: 'priv', actions: ['pull', 'push', 'delete'] }]);
  assert.deepEqual(grantedAccess(cfg, alice, ['repository:priv:pull', 'repository:priv:push'], exists), [{ type: 'repository', name: 'priv', actions: ['pull', 'push'] }]);
  assert.deepEqual(grantedAccess(cfg, carol, ['repository:carol/new:pull,push'], exists), [{ type: 'repository', name: 'carol/new', actions: ['pull', 'push'] }]);
  assert.deepEqual(grantedAccess(cfg, carol, ['registry:catalog:*'], exists), [{ type: 'registry', name: 'catalog', actions: ['*'] }]);
  assert.deepEqual(grantedAccess(cfg, root, ['repository:Bad Name:pull', 'repository(plugin):x:pull', 'garbage', 'repository:priv:frob'], exists), []);
});

test('authenticate: anonymous, Basic right and wrong, unsupported schemes; challenges', async () => {
  const access = createAccessControl(await config({ realm: 'Test Realm' }), lister(['pub', 'priv']));
  assert.deepEqual(await access.authenticate(req()), { principal: { teams: [] } });
  assert.deepEqual(await access.authenticate(req(basic('bob', pw.bob))), { principal: { user: 'bob', teams: ['dev'] } });
  assert.deepEqual(await access.authenticate(req(basic('bob', 'nope'))), { rejected: true, challenge: 'Basic realm="Test Realm"', message: 'incorrect username or password' });
  assert.deepEqual(await access.authenticate(req(basic('ghost', 'x'))), { rejected: true, challenge: 'Basic realm="Test Realm"', message: 'incorrect username or password' });
  assert.equal(((await access.authenticate(req('Basic !!!'))) as { message: string }).message, 'malformed Basic credentials');
  assert.match(((await access.authenticate(req('Bearer abc'))) as { message: string }).message, /unsupported authorization scheme "bearer"/);
  assert.equal(access.challenge('priv', ['pull']), 'Basic realm="Test Realm"');
  // The API base tells anonymous callers how to log in (clients ping it to learn the scheme).
  const ping = { ...req(), url: '/v2/' } as IncomingMessage;
  assert.deepEqual(await access.authenticate(ping), { rejected: true, challenge: 'Basic realm="Test Realm"', message: 'authentication required' });
  assert.ok('principal' in (await access.authenticate({ ...req(basic('bob', pw.bob)), url: '/v2/' } as IncomingMessage)));
  const dflt = createAccessControl(await config(), lister([]));
  assert.equal(dflt.challenge(undefined, []), 'Basic realm="berth-registry"');
  // An open registry ignores credentials.
  const open = createAccessControl(validateConfig({}), lister([]));
  assert.deepEqual(await open.authenticate(req(basic('x', 'y'))), { principal: { teams: [] } });
  assert.deepEqual(await open.authenticate(ping), { principal: { teams: [] } });
});

test('authenticate: failed logins are throttled per address and user', async () => {
  let now = 1_000_000;
  const access = createAccessControl(await config(), lister([]), { now: () => now });
  for (let i = 0; i < 5; i++) assert.ok('rejected' in (await access.authenticate(req(basic('bob', 'wrong')))));
  assert.ok('rejected' in (await access.authenticate(req(basic('bob', 'wrong')))));
  const r = await access.authenticate(req(basic('bob', pw.bob)));
  assert.ok('rejected' in r && /too many failed login attempts/.test(r.message), 'even the right password waits');
  assert.ok('principal' in (await access.authenticate(req(basic('bob', pw.bob), '10.0.0.9'))), 'other addresses are not locked out');
  now += 2000;
  assert.ok('principal' in (await access.authenticate(req(basic('bob', pw.bob)))));
});

test('token mode: Bearer tokens bound requests by their access claims and the current policy', async () => {
  let now = Date.now();
  const key = TokenKey.generate();
  const cfg = await config({ auth: 'token', realm: 'https://reg.example/token', service: 'svc' });
  const access = createAccessControl(cfg, lister(['pub', 'priv']), { key, now: () => now });
  assert.equal(access.challenge('priv', ['pull', 'push']), 'Bearer realm="https://reg.example/token",service="svc",scope="repository:priv:pull,push"');
  assert.equal(access.challenge(undefined, []), 'Bearer realm="https://reg.example/token",service="svc"');
  const tok = (sub: string, access: unknown[], o: { aud?: string; ttl?: number } = {}) =>
    key.sign({ ...newClaims({ issuer: 'svc', subject: sub, audience: o.aud ?? 'svc', ttlSeconds: o.ttl ?? 60, now }), access: access as never });

  const r = await access.authenticate(req(`Bearer ${tok('alice', [{ type: 'repository', name: 'priv', actions: ['pull'] }])}`));
  assert.ok('principal' in r);
  assert.deepEqual(r.principal, { user: 'alice', teams: ['dev'] });
  assert.equal(access.allowed(r.principal, 'priv', ['pull']), true);
  assert.equal(access.allowed(r.principal, 'priv', ['pull', 'push']), false, 'alice may push, but this token does not say so');
  assert.equal(access.allowed(r.principal, 'pub', ['pull']), false, 'not in the token');
  assert.equal(access.visible(r.principal, 'priv'), true);
  // A grant revoked after the token was issued is gone at once.
  const bobTok = await access.authenticate(req(`Bearer ${tok('bob', [{ type: 'repository', name: 'priv', actions: ['pull'] }])}`));
  assert.ok('principal' in bobTok);
  assert.equal(access.allowed(bobTok.principal, 'priv', ['pull']), true);
  cfg.repositories.priv.pull = [];
  assert.equal(access.allowed(bobTok.principal, 'priv', ['pull']), false);
  // Anonymous tokens.
  const a = await access.authenticate(req(`Bearer ${tok('', [{ type: 'repository', name: 'pub', actions: ['pull'] }])}`));
  assert.ok('principal' in a);
  assert.deepEqual(a.principal, { teams: [] });
  assert.equal(access.allowed(a.principal, 'pub', ['pull']), true);
  // Wrong audience, unknown user, expired, other key: rejected with an invalid_token challenge.
  const bad = [tok('alice', [], { aud: 'other' }), tok('ghost', []), key.sign({ ...newClaims({ issuer: 'svc', subject: 'alice', audience: 'svc', ttlSeconds: 1, now: now - 5000 }) }),
    TokenKey.generate().sign(newClaims({ issuer: 'svc', subject: 'alice', audience: 'svc', ttlSeconds: 60, now }))];
  const messages = [];
  for (const t of bad) {
    const res = await access.authenticate(req(`Bearer ${t}`));
    assert.ok('rejected' in res);
    assert.equal(res.challenge, 'Bearer realm="https://reg.example/token",service="svc",error="invalid_token"');
    messages.push(res.message);
  }
  assert.deepEqual(messages, ['invalid token audience', 'the token names an unknown user', 'token expired', 'unknown signing key']);
  // Expiry is checked on each request.
  const short = tok('alice', [{ type: 'repository', name: 'priv', actions: ['pull'] }], { ttl: 2 });
  const fresh = await access.authenticate(req(`Bearer ${short}`));
  assert.ok('principal' in fresh, JSON.stringify(fresh));
  now += 2000;
  assert.ok('rejected' in (await access.authenticate(req(`Bearer ${short}`))));
  // Basic still works in token mode (curl, search).
  assert.ok('principal' in (await access.authenticate(req(basic('carol', pw.carol)))));
});

test('token mode needs a realm, or the registry URL to make one', async () => {
  const cfg = await config({ auth: 'token' });
  assert.throws(() => createAccessControl(cfg, lister([])), /needs a "realm"/);
  const access = createAccessControl(cfg, lister([]), { publicUrl: 'http://127.0.0.1:5000/' });
  assert.equal(access.challenge(undefined, []), 'Bearer realm="http://127.0.0.1:5000/token",service="berth-registry"');
});

test('claims: the first user to push a new name owns it, recorded in the config file', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-access-'));
  try {
    const file = path.join(dir, 'registry.json');
    const store = new ConfigStore(file);
    await store.update((c) => Object.assign(c, { defaultVisibility: 'private' }));
    await store.addUser('carol', pw.carol);
    await store.addUser('dave', 'pw-dave');
    await store.update((c) => { c.repositories.legacy = { pull: [], push: [] }; });
    const errors: string[] = [];
    const access = await openAccessControl(lister(['legacy']), { configFile: file, onError: (m) => errors.push(m) });
    const carolP = await access.authenticate(req(basic('carol', pw.carol)));
    const daveP = await access.authenticate(req(basic('dave', 'pw-dave')));
    assert.ok('principal' in carolP && 'principal' in daveP);
    assert.equal(access.allowed(carolP.principal, 'carol/app', ['pull']), true, 'nothing to see yet');
    assert.equal(access.allowed(carolP.principal, 'carol/app', ['pull', 'push']), true);
    assert.equal(access.allowed(daveP.principal, 'carol/app', ['pull', 'push']), false, 'taken');
    assert.equal(access.allowed(daveP.principal, 'carol/app', ['pull']), false, 'private by default');
    assert.equal(access.allowed(daveP.principal, 'legacy', ['push']), false, 'exists without a pusher');
    assert.equal(access.allowed({ teams: [] }, 'anon/app', ['push']), false);
    await access.settled();
    assert.deepEqual((await loadConfig(file)).repositories['carol/app'], { pull: ['carol'], push: ['carol'] });
    // The running registry picks up admin changes to the file.
    await store.grant('carol/app', 'dave', ['pull']);
    assert.ok('principal' in (await access.authenticate(req())));
    assert.equal(access.allowed(daveP.principal, 'carol/app', ['pull']), true);
    // A broken edit is reported and the last good config kept.
    await import('node:fs/promises').then((f) => f.writeFile(file, '{"auth": "basic", "users": []}'));
    assert.ok('principal' in (await access.authenticate(req(basic('carol', pw.carol)))));
    assert.match(errors.join('\n'), /users: must be an object.*keeping the previous configuration/);
    assert.deepEqual(errors.length, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('openAccessControl: a named config file must exist; none means open', async () => {
  await assert.rejects(openAccessControl(lister([]), { configFile: '/nonexistent/registry.json' }), /no such file/);
  const open = await openAccessControl(lister([]));
  assert.equal(open.allowed({ teams: [] }, 'x/y', ['pull', 'push']), true);
});
