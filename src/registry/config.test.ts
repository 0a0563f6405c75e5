import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import os from 'node:os';
import path from 'node:path';
import {
  parseConfig, validateConfig, defaultConfig, serializeConfig, loadConfig, ConfigStore, ConfigError, registryAdmin,
  isRepositoryName, parsePrincipalRef,
} from './config.ts';
import { hashPassword, verifyPassword } from './users.ts';

function tmp(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'berth-regcfg-'));
}

test('defaults: an empty object is the open registry', () => {
  assert.deepEqual(parseConfig('{}'), defaultConfig());
  assert.equal(defaultConfig().auth, 'none');
  assert.equal(defaultConfig().defaultVisibility, 'public');
  assert.equal(defaultConfig().service, 'berth-registry');
  assert.equal(defaultConfig().tokenTtlSeconds, 300);
});

test('a full config validates and survives serialization', async () => {
  const hash = await hashPassword('pw');
  const raw = {
    auth: 'token', realm: 'https://reg.example/token', service: 'svc', tokenTtlSeconds: 60,
    users: { alice: { hash, teams: ['dev'] }, root: { hash, teams: [] } },
    repositories: { 'team/app': { visibility: 'private', pull: ['team:dev'], push: ['alice'], description: 'An app' } },
    defaultVisibility: 'private', admins: ['root'],
  };
  const cfg = validateConfig(raw);
  assert.equal(cfg.auth, 'token');
  assert.deepEqual(cfg.repositories['team/app'], { visibility: 'private', pull: ['team:dev'], push: ['alice'], description: 'An app' });
  assert.deepEqual(parseConfig(serializeConfig(cfg)), cfg);
  assert.deepEqual(JSON.parse(serializeConfig(cfg)), raw);
});

test('validation names the bad field', async () => {
  const hash = await hashPassword('pw');
  const cases: [unknown, RegExp][] = [
    ['[]', /\(top level\): must be a JSON object/],
    [{ auth: 'ldap' }, /auth: must be "none", "basic" or "token"/],
    [{ admin: ['x'] }, /admin: unknown key/],
    [{ auth: 'token', realm: 'not a url' }, /realm: .*URL of the token endpoint/],
    [{ realm: 'a"b' }, /realm: must not contain quotes/],
    [{ tokenTtlSeconds: 0 }, /tokenTtlSeconds: must be a whole number/],
    [{ tokenTtlSeconds: 1.5 }, /tokenTtlSeconds/],
    [{ tokenKey: 'relative.pem' }, /tokenKey: must be an absolute path/],
    [{ defaultVisibility: 'secret' }, /defaultVisibility/],
    [{ users: { 'a:b': { hash, teams: [] } } }, /users\.a:b: a user name is/],
    [{ users: { alice: { hash: 'plaintext', teams: [] } } }, /users\.alice\.hash: must be an argon2id or scrypt PHC string/],
    [{ users: { alice: { hash, teams: 'dev' } } }, /users\.alice\.teams: must be an array/],
    [{ users: { alice: { hash, password: 'x' } } }, /users\.alice\.password: unknown key/],
    [{ admins: ['bob'] }, /admins\[0\]: no user "bob"/],
    [{ repositories: { 'Team/App': {} } }, /repositories\.Team\/App: not a valid repository name/],
    [{ repositories: { app: { visibility: 'hidden' } } }, /repositories\.app\.visibility/],
    [{ repositories: { app: { pull: ['team:'] } } }, /repositories\.app\.pull\[0\]: "team:" is neither/],
    [{ repositories: { app: { push: ['ghost'] } } }, /repositories\.app\.push\[0\]: no user "ghost"/],
    [{ repositories: { app: { owner: 'x' } } }, /repositories\.app\.owner: unknown key/],
  ];
  for (const [raw, re] of cases) {
    assert.throws(() => (typeof raw === 'string' ? parseConfig(raw, 'cfg.json') : validateConfig(raw, 'cfg.json')), (err: Error) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.match(err.message, /^cfg\.json: /);
      assert.match(err.message, re);
      return true;
    }, JSON.stringify(raw));
  }
  assert.throws(() => parseConfig('{ nope', 'f'), /f: not valid JSON/);
});

test('names: repositories follow distribution\'s grammar, principals are users or team:NAME', () => {
  for (const ok of ['app', 'team/app', 'a.b_c__d-e--f/x0']) assert.ok(isRepositoryName(ok), ok);
  for (const bad of ['', 'App', '/app', 'app/', 'a//b', 'a..b', '-a', 'a_', 'a:b']) assert.ok(!isRepositoryName(bad), bad);
  assert.deepEqual(parsePrincipalRef('alice'), { user: 'alice' });
  assert.deepEqual(parsePrincipalRef('team:dev'), { team: 'dev' });
  assert.equal(parsePrincipalRef('team:'), undefined);
  assert.equal(parsePrincipalRef('a b'), undefined);
});

test('loadConfig: a missing file is a clear error', async () => {
  await assert.rejects(loadConfig('/nonexistent/registry.json'), /registry config \/nonexistent\/registry\.json: no such file/);
});

test('ConfigStore: admin operations, written atomically with mode 0600', async () => {
  const dir = tmp();
  try {
    const file = path.join(dir, 'etc', 'registry.json');
    const store = new ConfigStore(file);
    await store.addUser('alice', 'pw-a', ['dev', 'dev']);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    let cfg = await loadConfig(file);
    assert.equal(cfg.auth, 'basic', 'a new file asks for credentials');
    assert.deepEqual(cfg.users.alice.teams, ['dev']);
    assert.ok(await verifyPassword('pw-a', cfg.users.alice.hash));
    assert.ok(!readFileSync(file, 'utf8').includes('pw-a'));
    await assert.rejects(store.addUser('alice', 'x'), /user "alice" already exists/);
    await assert.rejects(store.addUser('bad:name', 'x'), /invalid user name/);
    await assert.rejects(store.addUser('bob', ''), /must not be empty/);
    await store.addUser('bob', 'pw-b');

    await store.setVisibility('team/app', 'private');
    await store.grant('team/app', 'team:dev', ['pull']);
    await store.grant('team/app', 'bob', ['pull', 'push']);
    await store.grant('team/app', 'bob', ['push']);
    await store.setDescription('team/app', 'The app');
    await assert.rejects(store.grant('team/app', 'ghost', ['pull']), /no such user: ghost/);
    await assert.rejects(store.grant('Team', 'bob', ['pull']), /invalid repository name/);
    cfg = await loadConfig(file);
    assert.deepEqual(cfg.repositories['team/app'], { visibility: 'private', pull: ['team:dev', 'bob'], push: ['bob'], description: 'The app' });

    await store.revoke('team/app', 'bob', ['push']);
    assert.deepEqual((await loadConfig(file)).repositories['team/app'].push, []);
    await store.grant('team/app', 'bob', ['push']);
    await store.setPassword('bob', 'pw-b2');
    cfg = await loadConfig(file);
    assert.ok(await verifyPassword('pw-b2', cfg.users.bob.hash));
    await store.removeUser('bob');
    cfg = await loadConfig(file);
    assert.equal(cfg.users.bob, undefined);
    assert.deepEqual(cfg.repositories['team/app'], { visibility: 'private', pull: ['team:dev'], push: [], description: 'The app' });
    await store.setDescription('team/app', '');
    assert.equal((await loadConfig(file)).repositories['team/app'].description, undefined);
    await assert.rejects(store.removeUser('bob'), /no such user: bob/);
    // No temporary files are left behind.
    assert.deepEqual(readdirSync(path.dirname(file)), ['registry.json']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ConfigStore: concurrent updates in one process all land; a bad file is not overwritten', async () => {
  const dir = tmp();
  try {
    const file = path.join(dir, 'registry.json');
    const store = new ConfigStore(file);
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((r) => new ConfigStore(file).setDescription(r, `repo ${r}`)));
    assert.deepEqual(Object.keys((await loadConfig(file)).repositories).sort(), ['a', 'b', 'c', 'd', 'e']);
    writeFileSync(file, '{ "auth": "basic", "users": 3 }');
    await assert.rejects(store.setDescription('a', 'x'), /users: must be an object/);
    assert.equal(readFileSync(file, 'utf8'), '{ "auth": "basic", "users": 3 }');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function io(input = '') {
  const stdin = new PassThrough();
  stdin.end(input);
  const out = new PassThrough();
  const err = new PassThrough();
  let o = '';
  let e = '';
  out.on('data', (c) => { o += c; });
  err.on('data', (c) => { e += c; });
  return { io: { in: stdin, out, err }, out: () => o, err: () => e };
}

test('registryAdmin: the subcommands, passwords from stdin only', async () => {
  const dir = tmp();
  try {
    const file = path.join(dir, 'registry.json');
    const run = async (args: string[], input = '') => {
      const t = io(input);
      const status = await registryAdmin([...args, '--config', file], t.io);
      return { status, out: t.out(), err: t.err() };
    };
    let r = await run(['user', 'add', 'alice', '--team', 'dev', '--team=ops', '--password-stdin'], 'hunter2\n');
    assert.deepEqual(r, { status: 0, out: '', err: '' });
    let cfg = await loadConfig(file);
    assert.deepEqual(cfg.users.alice.teams, ['dev', 'ops']);
    assert.ok(await verifyPassword('hunter2', cfg.users.alice.hash), 'one trailing newline is not part of the password');
    r = await run(['user', 'add', 'alice', '--password-stdin'], 'x');
    assert.equal(r.status, 1);
    assert.match(r.err, /user "alice" already exists/);
    r = await run(['user', 'add', 'bob', '--password', 'x']);
    assert.equal(r.status, 125);
    assert.match(r.err, /never from the command line/);
    r = await run(['user', 'add', 'bob']);
    assert.equal(r.status, 1);
    assert.match(r.err, /stdin is not a terminal \(use --password-stdin\)/);
    r = await run(['user', 'add', 'bob', '--password-stdin'], '\n');
    assert.match(r.err, /must not be empty/);
    r = await run(['user', 'add', 'bob', '--password-stdin'], 'pw-bob');
    assert.equal(r.status, 0);
    r = await run(['user', 'passwd', 'bob', '--password-stdin'], 'pw-bob-2\r\n');
    assert.equal(r.status, 0);
    assert.ok(await verifyPassword('pw-bob-2', (await loadConfig(file)).users.bob.hash));
    r = await run(['user', 'passwd', 'nobody', '--password-stdin'], 'x');
    assert.match(r.err, /no such user: nobody/);

    assert.equal((await run(['repo', 'visibility', 'team/app', 'private'])).status, 0);
    assert.equal((await run(['repo', 'grant', 'team/app', 'team:dev', 'pull'])).status, 0);
    assert.equal((await run(['repo', 'grant', 'team/app', 'bob', 'pull,push'])).status, 0);
    assert.equal((await run(['repo', 'describe', 'team/app', 'The team app'])).status, 0);
    cfg = await loadConfig(file);
    assert.deepEqual(cfg.repositories['team/app'], { visibility: 'private', pull: ['team:dev', 'bob'], push: ['bob'], description: 'The team app' });
    assert.equal((await run(['repo', 'revoke', 'team/app', 'bob'])).status, 0);
    assert.deepEqual((await loadConfig(file)).repositories['team/app'].pull, ['team:dev']);
    r = await run(['repo', 'visibility', 'team/app', 'secret']);
    assert.equal(r.status, 125);
    r = await run(['repo', 'grant', 'team/app', 'bob', 'delete']);
    assert.equal(r.status, 125);
    assert.match(r.err, /actions must be pull, push or pull,push/);
    r = await run(['repo', 'grant', 'team/app', 'bob']);
    assert.equal(r.status, 125);
    assert.match(r.err, /usage: berth registry repo grant NAME/);
    r = await run(['user', 'rm', 'bob', '--team', 'x']);
    assert.equal(r.status, 125);
    r = await run(['frobnicate']);
    assert.match(r.err, /unknown command: frobnicate/);
    assert.equal((await run(['user', 'rm', 'bob'])).status, 0);
    assert.equal((await loadConfig(file)).users.bob, undefined);
    const help = io();
    assert.equal(await registryAdmin(['--help'], help.io), 0);
    assert.match(help.out(), /repo grant NAME USER\|team:TEAM/);
    // Passwords never reach the file or the output.
    const text = readFileSync(file, 'utf8');
    for (const pw of ['hunter2', 'pw-bob']) assert.ok(!text.includes(pw));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
