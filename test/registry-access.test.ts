// Access control of `berth registry` over real HTTP on 127.0.0.1: the token endpoint (GET with Basic
// credentials, POST with OAuth2 password and refresh-token grants), Bearer and Basic authentication, and
// /v1/search, first behind a tiny in-test server with a fixed repository list, then end to end with the
// registry's own v2 server and storage, pushed to and pulled from by skopeo (a real client of Docker's token
// auth). Passwords are random and go to skopeo through auth files, never a command line.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { openAccessControl, type RegistryAccess } from '../src/registry/access.ts';
import { ConfigStore, loadConfig } from '../src/registry/config.ts';
import type { RepositoryLister } from '../src/registry/types.ts';
import { createRegistryServer } from '../src/registry/server.ts';
import { RegistryStorage } from '../src/registry/storage.ts';
import { buildImage, freePort, pushImage, SKOPEO, type BuiltImage } from './registry-fixture.ts';

const execFileP = promisify(execFile);
const pw = { alice: randomBytes(9).toString('hex'), bob: randomBytes(9).toString('hex'), carol: randomBytes(9).toString('hex'), dave: randomBytes(9).toString('hex'), root: randomBytes(9).toString('hex') };
type User = keyof typeof pw;
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
const claimsOf = (tok: string) => JSON.parse(Buffer.from(tok.split('.')[1], 'base64url').toString('utf8'));

// alice (team dev) owns the private team/app, bob (team dev) may pull it, carol may not; root is an admin.
async function writeConfig(file: string, extra: (s: ConfigStore) => Promise<void> = async () => {}): Promise<ConfigStore> {
  const store = new ConfigStore(file);
  await store.update((c) => { c.auth = 'token'; c.service = 'berth-test'; });
  await store.addUser('alice', pw.alice, ['dev']);
  await store.addUser('bob', pw.bob, ['dev']);
  await store.addUser('carol', pw.carol);
  await store.addUser('dave', pw.dave);
  await store.addUser('root', pw.root);
  await store.update((c) => { c.admins = ['root']; });
  await store.setVisibility('team/app', 'private');
  await store.grant('team/app', 'alice', ['pull', 'push']);
  await store.grant('team/app', 'team:dev', ['pull']);
  await store.setDescription('team/app', 'The team application');
  await extra(store);
  return store;
}

function listen(server: http.Server, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function close(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

async function getToken(base: string, o: { user?: User; password?: string; scope?: string[]; offline?: boolean } = {}): Promise<Response> {
  const u = new URL(`${base}/token`);
  u.searchParams.set('service', 'berth-test');
  for (const s of o.scope ?? []) u.searchParams.append('scope', s);
  if (o.offline) u.searchParams.set('offline_token', 'true');
  const headers: Record<string, string> = {};
  if (o.user) headers.Authorization = basic(o.user, o.password ?? pw[o.user]);
  return fetch(u, { headers });
}

async function tokenFor(base: string, o: { user?: User; scope?: string[] }): Promise<string> {
  const res = await getToken(base, o);
  assert.equal(res.status, 200, await res.clone().text());
  return ((await res.json()) as { token: string }).token;
}

function postToken(base: string, form: Record<string, string>): Promise<Response> {
  return fetch(`${base}/token`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
}

describe('handle() and authenticate() over HTTP', () => {
  let dir: string;
  let server: http.Server;
  let base: string;
  let access: RegistryAccess;
  let store: ConfigStore;
  const repos: Record<string, string> = { 'team/app': '', 'pub/tool': 'a public tool', 'pub/app-runner': 'runs apps' };
  const lister: RepositoryLister = { repositories: async () => Object.keys(repos).sort(), description: async (r) => repos[r] ?? '' };

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'berth-regaccess-'));
    const file = path.join(dir, 'registry.json');
    store = await writeConfig(file);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    access = await openAccessControl(lister, { configFile: file, root: dir, publicUrl: base });
    // The stand-in for the v2 server: our routes first, then /check/<repo>?actions= answers what allowed() says.
    server = http.createServer((req, res) => {
      void (async () => {
        if (await access.handle(req, res)) return;
        const url = new URL(req.url ?? '/', base);
        const auth = await access.authenticate(req);
        if ('rejected' in auth) {
          res.writeHead(401, { 'WWW-Authenticate': auth.challenge, 'Content-Type': 'application/json' });
          return res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: auth.message }] }));
        }
        const m = /^\/check\/(.+)$/.exec(url.pathname);
        if (!m) {
          res.writeHead(404);
          return res.end();
        }
        const actions = (url.searchParams.get('actions') ?? 'pull').split(',') as ('pull' | 'push')[];
        const ok = access.allowed(auth.principal, m[1], actions);
        const headers: Record<string, string> = { 'Content-Type': 'application/json' };
        if (!ok) headers['WWW-Authenticate'] = access.challenge(m[1], actions);
        res.writeHead(ok ? 200 : 403, headers);
        res.end(JSON.stringify({ user: auth.principal.user ?? null, allowed: ok }));
      })().catch((err) => {
        res.writeHead(500);
        res.end(String(err));
      });
    });
    await listen(server, port);
  });

  after(async () => {
    if (server) await close(server);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('anonymous token: only what anonymous callers may do', async () => {
    const res = await getToken(base, { scope: ['repository:team/app:pull', 'repository:pub/tool:pull,push'] });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json');
    const body = (await res.json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(body).sort(), ['access_token', 'expires_in', 'issued_at', 'token']);
    assert.equal(body.token, body.access_token);
    assert.equal(body.expires_in, 300);
    assert.match(body.issued_at as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
    const c = claimsOf(body.token as string);
    assert.equal(c.sub, '');
    assert.equal(c.iss, 'berth-test');
    assert.equal(c.aud, 'berth-test');
    assert.equal(c.exp - c.iat, 300);
    assert.deepEqual(c.access, [{ type: 'repository', name: 'pub/tool', actions: ['pull'] }]);
    const header = JSON.parse(Buffer.from((body.token as string).split('.')[0], 'base64url').toString());
    assert.equal(header.alg, 'ES256');
    assert.equal(typeof header.kid, 'string');
  });

  test('user tokens: scopes intersected with grants, and they work as Bearer credentials', async () => {
    const scope = ['repository:team/app:pull,push'];
    assert.deepEqual(claimsOf(await tokenFor(base, { user: 'alice', scope })).access, [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }]);
    assert.deepEqual(claimsOf(await tokenFor(base, { user: 'bob', scope })).access, [{ type: 'repository', name: 'team/app', actions: ['pull'] }]);
    assert.deepEqual(claimsOf(await tokenFor(base, { user: 'carol', scope })).access, []);
    assert.deepEqual(claimsOf(await tokenFor(base, { user: 'root', scope: ['repository:team/app:*'] })).access, [{ type: 'repository', name: 'team/app', actions: ['pull', 'push', 'delete'] }]);

    const bobTok = await tokenFor(base, { user: 'bob', scope });
    let res = await fetch(`${base}/check/team/app?actions=pull`, { headers: { Authorization: `Bearer ${bobTok}` } });
    assert.deepEqual(await res.json(), { user: 'bob', allowed: true });
    res = await fetch(`${base}/check/team/app?actions=pull,push`, { headers: { Authorization: `Bearer ${bobTok}` } });
    assert.equal(res.status, 403);
    assert.equal(res.headers.get('www-authenticate'), `Bearer realm="${base}/token",service="berth-test",scope="repository:team/app:pull,push"`);
    res = await fetch(`${base}/check/team/app?actions=pull`);
    assert.deepEqual(await res.json(), { user: null, allowed: false });
    // A tampered token is refused with an invalid_token challenge.
    const [h, , s] = bobTok.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...claimsOf(bobTok), sub: 'root' })).toString('base64url')}.${s}`;
    res = await fetch(`${base}/check/team/app`, { headers: { Authorization: `Bearer ${forged}` } });
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), `Bearer realm="${base}/token",service="berth-test",error="invalid_token"`);
  });

  test('wrong password: 401 with the registry error body', async () => {
    const res = await getToken(base, { user: 'alice', password: 'wrong', scope: ['repository:team/app:pull'] });
    assert.equal(res.status, 401);
    assert.deepEqual(await res.json(), { errors: [{ code: 'UNAUTHORIZED', message: 'incorrect username or password' }] });
    const unknown = await getToken(base, { user: 'nobody' as User, password: 'x' });
    assert.equal(unknown.status, 401);
    const svc = await fetch(`${base}/token?service=other`);
    assert.equal(svc.status, 400);
    assert.deepEqual(await svc.json(), { errors: [{ code: 'UNSUPPORTED', message: 'unknown service "other"' }] });
    const put = await fetch(`${base}/token`, { method: 'PUT' });
    assert.equal(put.status, 405);
  });

  test('OAuth2 POST: password grant, offline refresh tokens, refresh grant; a new password voids refresh tokens', async () => {
    let res = await postToken(base, { grant_type: 'password', username: 'dave', password: pw.dave, service: 'berth-test', client_id: 'test', access_type: 'offline', scope: 'repository:dave/x:pull,push' });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { access_token: string; refresh_token: string; scope: string; expires_in: number };
    assert.equal(body.scope, 'repository:dave/x:pull,push');
    assert.equal(claimsOf(body.access_token).sub, 'dave');
    assert.ok(body.refresh_token);
    // A refresh token is no access token.
    const asBearer = await fetch(`${base}/check/dave/x`, { headers: { Authorization: `Bearer ${body.refresh_token}` } });
    assert.equal(asBearer.status, 401);
    res = await postToken(base, { grant_type: 'refresh_token', refresh_token: body.refresh_token, service: 'berth-test', client_id: 'test', scope: 'repository:team/app:pull' });
    assert.equal(res.status, 200);
    const again = (await res.json()) as { access_token: string; refresh_token?: string };
    assert.equal(again.refresh_token, undefined, 'only with access_type=offline');
    assert.deepEqual(claimsOf(again.access_token).access, []);
    // docker login's flow: GET with offline_token=true gives the refresh token it keeps as its identity token.
    const viaGet = (await (await getToken(base, { user: 'dave', offline: true })).json()) as { refresh_token?: string };
    assert.ok(viaGet.refresh_token);
    assert.equal((await getToken(base, { offline: true }).then((r) => r.json()) as { refresh_token?: string }).refresh_token, undefined, 'none for anonymous callers');

    res = await postToken(base, { grant_type: 'password', username: 'dave', password: 'wrong', service: 'berth-test', client_id: 'test' });
    assert.equal(res.status, 401);
    assert.deepEqual(await res.json(), { errors: [{ code: 'UNAUTHORIZED', message: 'incorrect username or password' }] });
    res = await postToken(base, { grant_type: 'refresh_token', refresh_token: 'garbage', client_id: 'test' });
    assert.equal(res.status, 401);
    res = await postToken(base, { grant_type: 'client_credentials', client_id: 'test' });
    assert.equal(res.status, 400);

    const newPw = randomBytes(9).toString('hex');
    await store.setPassword('dave', newPw);
    res = await postToken(base, { grant_type: 'refresh_token', refresh_token: body.refresh_token, service: 'berth-test', client_id: 'test' });
    assert.equal(res.status, 401, 'the running registry reloaded the config: the old refresh token is void');
    assert.deepEqual(await res.json(), { errors: [{ code: 'UNAUTHORIZED', message: 'invalid refresh token' }] });
    pw.dave = newPw;
    assert.equal((await getToken(base, { user: 'dave' })).status, 200);
  });

  test('/v1/search: Docker Hub\'s shape, private repositories only for those who may pull them', async () => {
    const search = async (q: string, authz?: string) => {
      const res = await fetch(`${base}/v1/search?q=${encodeURIComponent(q)}&n=25`, { headers: authz ? { Authorization: authz } : {} });
      return { status: res.status, body: (await res.json()) as { num_results: number; results: { name: string; description: string }[] } };
    };
    let r = await search('app');
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, {
      num_pages: 1, num_results: 1, page: 1, page_size: 25, query: 'app',
      results: [{ name: 'pub/app-runner', description: 'runs apps', star_count: 0, is_official: false, is_automated: false }],
    });
    assert.deepEqual((await search('app', basic('bob', pw.bob))).body.results.map((x) => x.name), ['team/app', 'pub/app-runner']);
    assert.deepEqual((await search('app', basic('carol', pw.carol))).body.results.map((x) => x.name), ['pub/app-runner']);
    // The description set by an admin is searched and shown.
    r = await search('team application', `Bearer ${await tokenFor(base, { user: 'alice', scope: ['registry:catalog:search'] })}`);
    assert.deepEqual(r.body.results, [{ name: 'team/app', description: 'The team application', star_count: 0, is_official: false, is_automated: false }]);
    r = await search('app', basic('bob', 'wrong'));
    assert.equal(r.status, 401);
  });
});

describe('end to end with the v2 server', () => {
  let dir: string;
  let server: http.Server;
  let base: string;
  let host: string;
  let store: ConfigStore;
  let file: string;
  let image: BuiltImage;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'berth-rege2e-'));
    file = path.join(dir, 'registry.json');
    store = await writeConfig(file);
    const storage = new RegistryStorage(path.join(dir, 'data'));
    await storage.init();
    const port = await freePort();
    host = `127.0.0.1:${port}`;
    base = `http://${host}`;
    const access = await openAccessControl(storage, { configFile: file, root: path.join(dir, 'data'), publicUrl: base });
    server = createRegistryServer({ storage, access });
    await listen(server, port);
    image = await buildImage({ layers: [{ files: [{ path: 'hello', data: `hello ${randomBytes(4).toString('hex')}\n` }] }] });
  });

  after(async () => {
    if (server) await close(server);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // skopeo reading a manifest, as a user (through an auth file) or anonymously.
  async function skopeoInspect(ref: string, user?: User): Promise<{ ok: boolean; out: string }> {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'berth-skopeo-'));
    try {
      const args = ['inspect', '--raw', '--tls-verify=false'];
      if (user) {
        const auth = path.join(tmp, 'auth.json');
        writeFileSync(auth, JSON.stringify({ auths: { [host]: { auth: Buffer.from(`${user}:${pw[user]}`).toString('base64') } } }), { mode: 0o600 });
        args.push('--authfile', auth);
      } else {
        args.push('--no-creds');
      }
      const { stdout } = await execFileP(SKOPEO, [...args, `docker://${host}/${ref}`], { env: { ...process.env, REGISTRY_AUTH_FILE: path.join(tmp, 'none.json') }, timeout: 60000 });
      return { ok: true, out: stdout };
    } catch (err) {
      return { ok: false, out: (err as { stderr?: string }).stderr ?? String(err) };
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }

  const manifestGet = (repo: string, authz?: string) =>
    fetch(`${base}/v2/${repo}/manifests/1`, { headers: { Accept: image.mediaType, ...(authz ? { Authorization: authz } : {}) } });

  test('the owner pushes a private repository with a real client', async () => {
    await pushImage({ host }, 'team/app:1', image, { user: 'alice', password: pw.alice });
    const r = await skopeoInspect('team/app:1', 'alice');
    assert.ok(r.ok, r.out);
    assert.equal(JSON.parse(r.out).config.digest, image.configDigest);
  });

  test('anonymous pull of a private repository: 401 with a challenge, then refused with the token', async () => {
    let res = await manifestGet('team/app');
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), `Bearer realm="${base}/token",service="berth-test",scope="repository:team/app:pull"`);
    const tok = await tokenFor(base, { scope: ['repository:team/app:pull'] });
    res = await manifestGet('team/app', `Bearer ${tok}`);
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { errors: { code: string }[] }).errors[0].code, 'UNAUTHORIZED');
    const r = await skopeoInspect('team/app:1');
    assert.equal(r.ok, false);
    assert.match(r.out, /unauthorized|authentication required/i);
  });

  test('a user without access can neither pull, push nor see it in search or the catalog', async () => {
    const tok = await tokenFor(base, { user: 'carol', scope: ['repository:team/app:pull,push'] });
    const res = await manifestGet('team/app', `Bearer ${tok}`);
    assert.equal(res.status, 403);
    assert.equal(((await res.json()) as { errors: { code: string }[] }).errors[0].code, 'DENIED');
    assert.equal((await skopeoInspect('team/app:1', 'carol')).ok, false);
    await assert.rejects(pushImage({ host }, 'team/app:2', image, { user: 'carol', password: pw.carol }), /denied|unauthorized|forbidden/i);
    const search = (await (await fetch(`${base}/v1/search?q=app`, { headers: { Authorization: basic('carol', pw.carol) } })).json()) as { results: { name: string }[] };
    assert.deepEqual(search.results, []);
    const catTok = await tokenFor(base, { user: 'carol', scope: ['registry:catalog:*'] });
    const cat = await fetch(`${base}/v2/_catalog`, { headers: { Authorization: `Bearer ${catTok}` } });
    assert.deepEqual(await cat.json(), { repositories: [] });
  });

  test('a user with access can pull (and see it), but push only with a push grant', async () => {
    const r = await skopeoInspect('team/app:1', 'bob');
    assert.ok(r.ok, r.out);
    await assert.rejects(pushImage({ host }, 'team/app:2', image, { user: 'bob', password: pw.bob }), /denied|unauthorized|forbidden/i);
    const search = (await (await fetch(`${base}/v1/search?q=app`, { headers: { Authorization: basic('bob', pw.bob) } })).json()) as { results: { name: string; description: string }[] };
    assert.deepEqual(search.results.map((x) => [x.name, x.description]), [['team/app', 'The team application']]);
    const catTok = await tokenFor(base, { user: 'bob', scope: ['registry:catalog:*'] });
    const cat = await fetch(`${base}/v2/_catalog`, { headers: { Authorization: `Bearer ${catTok}` } });
    assert.deepEqual(await cat.json(), { repositories: ['team/app'] });
    // An admin grant takes effect without a restart.
    await store.grant('team/app', 'bob', ['push']);
    await pushImage({ host }, 'team/app:2', image, { user: 'bob', password: pw.bob });
  });

  test('a new repository belongs to its first pusher', async () => {
    await pushImage({ host }, 'dave/tool:1', image, { user: 'dave', password: pw.dave });
    const owner = (await loadConfig(file)).repositories['dave/tool'];
    assert.deepEqual(owner, { pull: ['dave'], push: ['dave'] });
    await assert.rejects(pushImage({ host }, 'dave/tool:2', image, { user: 'carol', password: pw.carol }), /denied|unauthorized|forbidden/i);
    assert.ok((await skopeoInspect('dave/tool:1', 'carol')).ok, 'public by default');
    assert.equal((await skopeoInspect('dave/tool:1')).ok, true);
    await assert.rejects(pushImage({ host }, 'anon/tool:1', image), /unauthorized|authentication required/i);
  });

  test('wrong passwords fail', async () => {
    const res = await getToken(base, { user: 'alice', password: 'not-it', scope: ['repository:team/app:pull'] });
    assert.equal(res.status, 401);
    assert.deepEqual(await res.json(), { errors: [{ code: 'UNAUTHORIZED', message: 'incorrect username or password' }] });
    await assert.rejects(pushImage({ host }, 'team/app:3', image, { user: 'alice', password: 'not-it' }), /unauthorized|incorrect/i);
  });

  test('tokens expire', async () => {
    await store.update((c) => { c.tokenTtlSeconds = 2; });
    // The next request reloads the config; the token it gets lives two seconds.
    const tok = await tokenFor(base, { user: 'bob', scope: ['repository:team/app:pull'] });
    assert.equal(claimsOf(tok).exp - claimsOf(tok).iat, 2);
    assert.equal((await manifestGet('team/app', `Bearer ${tok}`)).status, 200);
    const deadline = Date.now() + 10_000;
    let res: Response;
    for (;;) {
      res = await manifestGet('team/app', `Bearer ${tok}`);
      if (res.status !== 200 || Date.now() > deadline) break;
      await res.arrayBuffer();
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    assert.match(await res.text(), /token expired/);
  });
});
