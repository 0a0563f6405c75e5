// Registry authentication through berthd with the real docker CLI: a loopback registry behind htpasswd basic
// auth, and one behind token auth (the fixture's token issuer: known users may pull and push, anonymous callers
// may only pull repositories under public/). docker login/logout, push and pull with and without credentials,
// POST /auth and X-Registry-Auth. Passwords are random, go in on stdin, and are never printed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { startDaemon, type TestDaemon } from './harness.ts';
import { docker, dockerOk, bootstrap, api } from './helpers.ts';
import { startRegistry, buildLayer, buildImage, busyboxFiles, pushImage, type Registry, type BuiltImage } from './registry-fixture.ts';

let d: TestDaemon;
let basic: Registry;
let token: Registry;
let busyboxId: string;
let image: BuiltImage;
const basicPw = randomBytes(12).toString('hex');
const tokenPw = randomBytes(12).toString('hex');

before(async () => {
  [d, basic, token] = await Promise.all([
    startDaemon(),
    startRegistry({ auth: 'basic', users: { tester: basicPw } }),
    startRegistry({ auth: 'token', users: { alice: tokenPw } }),
  ]);
  busyboxId = await bootstrap(d);
  image = await buildImage({ layers: [await buildLayer({ files: busyboxFiles() }), { files: [{ path: 'hello', data: 'hello from a private image\n' }] }], cmd: ['cat', '/hello'] });
  await pushImage(basic, 'priv/img:1', image, { user: 'tester', password: basicPw });
  await pushImage(token, 'priv/img:1', image, { user: 'alice', password: tokenPw });
  await pushImage(token, 'public/img:1', image, { user: 'alice', password: tokenPw });
});

after(async () => {
  // No password may show up in what the daemon logged.
  if (d) {
    const log = d.log();
    await d.stop();
    assert.ok(!log.includes(basicPw) && !log.includes(tokenPw), 'berthd logged a password');
  }
  await basic?.stop();
  await token?.stop();
});

function login(host: string, user: string, password: string) {
  return docker(d, ['login', host, '-u', user, '--password-stdin'], { input: password + '\n' });
}

function savedAuths(): Record<string, { auth?: string }> {
  const file = path.join(d.env.DOCKER_CONFIG!, 'config.json');
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')).auths ?? {} : {};
}

/** Base64url X-Registry-Auth, as the docker CLI sends it. */
function registryAuth(username: string, password: string, serveraddress: string): string {
  return Buffer.from(JSON.stringify({ username, password, serveraddress })).toString('base64url');
}

test('basic auth: push and pull without credentials are refused', async () => {
  const ref = `${basic.host}/priv/bb:1`;
  await dockerOk(d, ['tag', 'busybox', ref]);
  const push = await docker(d, ['push', ref]);
  assert.equal(push.code, 1, push.stdout);
  assert.match(push.stderr, /no basic auth credentials|unauthorized/i);
  const pull = await docker(d, ['pull', `${basic.host}/priv/img:1`]);
  assert.equal(pull.code, 1, pull.stdout);
  assert.match(pull.stderr, /no basic auth credentials|unauthorized|pull access denied/i);
  assert.equal((await docker(d, ['image', 'inspect', `${basic.host}/priv/img:1`])).code, 1);
});

test('basic auth: a wrong password fails docker login and saves nothing; POST /auth answers 401', async () => {
  const r = await login(basic.host, 'tester', 'wrong-password');
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /unauthorized|incorrect username or password/i);
  assert.equal(savedAuths()[basic.host], undefined);
  const res = await api(d.socket, 'POST', '/v1.47/auth', { body: { username: 'tester', password: 'wrong-password', serveraddress: basic.host } });
  assert.equal(res.status, 401, res.text);
  assert.match(res.json?.message ?? '', /unauthorized/i);
  const unknown = await api(d.socket, 'POST', '/v1.47/auth', { body: { username: 'nobody', password: 'x', serveraddress: basic.host } });
  assert.equal(unknown.status, 401, unknown.text);
});

test('basic auth: docker login, then push and pull work; docker logout takes the credentials away', async () => {
  const ok = await api(d.socket, 'POST', '/v1.47/auth', { body: { username: 'tester', password: basicPw, serveraddress: basic.host } });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.json.Status, 'Login Succeeded');
  const r = await login(basic.host, 'tester', basicPw);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Login Succeeded/);
  assert.equal(savedAuths()[basic.host]?.auth, Buffer.from(`tester:${basicPw}`).toString('base64'), 'the CLI keeps the credentials');
  const ref = `${basic.host}/priv/bb:1`;
  const push = await docker(d, ['push', ref]);
  assert.equal(push.code, 0, push.stderr);
  assert.match(push.stdout, /^1: digest: sha256:[0-9a-f]{64} size: \d+$/m);
  await dockerOk(d, ['rmi', ref]);
  const pull = await docker(d, ['pull', ref]);
  assert.equal(pull.code, 0, pull.stderr);
  assert.equal(await dockerOk(d, ['image', 'inspect', '-f', '{{.Id}}', ref]), busyboxId);
  const img = await docker(d, ['run', '--rm', `${basic.host}/priv/img:1`]);
  assert.equal(img.code, 0, img.stderr);
  assert.equal(img.stdout.trim(), 'hello from a private image');
  const out = await docker(d, ['logout', basic.host]);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, new RegExp(`Removing login credentials for ${basic.host.replace(/\./g, '\\.')}`));
  assert.equal(savedAuths()[basic.host], undefined);
  await dockerOk(d, ['rmi', ref, `${basic.host}/priv/img:1`]);
  const again = await docker(d, ['pull', ref]);
  assert.equal(again.code, 1, 'logged out: no credentials any more');
  assert.match(again.stderr, /no basic auth credentials|unauthorized|pull access denied/i);
});

test('basic auth: X-Registry-Auth on the API carries the credentials for one pull', async () => {
  const res = await api(d.socket, 'POST', `/v1.47/images/create?fromImage=${encodeURIComponent(`${basic.host}/priv/img`)}&tag=1`, {
    headers: { 'X-Registry-Auth': registryAuth('tester', basicPw, basic.host) },
  });
  assert.equal(res.status, 200, res.text);
  assert.doesNotMatch(res.text, /"error"/);
  assert.match(res.text, /Status: Downloaded newer image for/);
  assert.equal(await dockerOk(d, ['image', 'inspect', '-f', '{{.Id}}', `${basic.host}/priv/img:1`]), image.configDigest);
  await dockerOk(d, ['rmi', `${basic.host}/priv/img:1`]);
  const bad = await api(d.socket, 'POST', `/v1.47/images/create?fromImage=${encodeURIComponent(`${basic.host}/priv/img`)}&tag=1`, {
    headers: { 'X-Registry-Auth': registryAuth('tester', 'wrong-password', basic.host) },
  });
  // dockerd: a stream that ends in an error message, or an error status before the stream.
  assert.ok(bad.status >= 400 || /"error"/.test(bad.text), bad.text);
  assert.equal((await docker(d, ['image', 'inspect', `${basic.host}/priv/img:1`])).code, 1);
});

test('token auth: anonymous pulls of a private repository are denied, of public/ allowed; anonymous pushes denied', async () => {
  const priv = await docker(d, ['pull', `${token.host}/priv/img:1`]);
  assert.equal(priv.code, 1, priv.stdout);
  assert.match(priv.stderr, /pull access denied|unauthorized|denied/i);
  const pub = await docker(d, ['pull', `${token.host}/public/img:1`]);
  assert.equal(pub.code, 0, `${pub.stderr}\n${token.log()}`);
  assert.equal(await dockerOk(d, ['run', '--rm', `${token.host}/public/img:1`]), 'hello from a private image');
  // The daemon asked the issuer for a pull token scoped to that repository.
  assert.match(token.log(), /\(anonymous\) scopes=\[[^\]]*"repository:public\/img:pull"/);
  const ref = `${token.host}/public/bb:1`;
  await dockerOk(d, ['tag', 'busybox', ref]);
  const push = await docker(d, ['push', ref]);
  assert.equal(push.code, 1, push.stdout);
  assert.match(push.stderr, /denied|unauthorized|authentication required/i);
  await dockerOk(d, ['rmi', ref, `${token.host}/public/img:1`]);
});

test('token auth: a wrong password fails login; the right one gets push and pull; logout goes back to anonymous', async () => {
  const wrong = await login(token.host, 'alice', 'wrong-password');
  assert.equal(wrong.code, 1, wrong.stdout);
  assert.match(wrong.stderr, /unauthorized|incorrect username or password/i);
  const r = await login(token.host, 'alice', tokenPw);
  assert.equal(r.code, 0, `${r.stderr}\n${token.log()}`);
  assert.match(r.stdout, /Login Succeeded/);
  const ref = `${token.host}/priv/bb:1`;
  await dockerOk(d, ['tag', 'busybox', ref]);
  const push = await docker(d, ['push', ref]);
  assert.equal(push.code, 0, `${push.stderr}\n${token.log()}`);
  assert.match(push.stdout, /^1: digest: sha256:[0-9a-f]{64} size: \d+$/m);
  assert.match(token.log(), /alice scopes=\[[^\]]*"repository:priv\/bb:pull,push"/);
  await dockerOk(d, ['rmi', ref]);
  const pull = await docker(d, ['pull', ref]);
  assert.equal(pull.code, 0, pull.stderr);
  assert.equal(await dockerOk(d, ['image', 'inspect', '-f', '{{.Id}}', ref]), busyboxId);
  const img = await docker(d, ['pull', `${token.host}/priv/img:1`]);
  assert.equal(img.code, 0, img.stderr);
  await dockerOk(d, ['logout', token.host]);
  await dockerOk(d, ['rmi', ref, `${token.host}/priv/img:1`]);
  const anon = await docker(d, ['pull', `${token.host}/priv/img:1`]);
  assert.equal(anon.code, 1);
  assert.match(anon.stderr, /pull access denied|unauthorized|denied/i);
});
