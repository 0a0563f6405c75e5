// `berth registry serve` with the real docker CLI through berthd: push, pull, login (token auth), search with
// private repositories, and the same image in two repositories stored once. The registry runs as its own process
// (bin/berth registry serve) on 127.0.0.1.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startDaemon, BERTH, run, type TestDaemon } from './harness.ts';
import { docker, dockerOk, bootstrap, waitFor } from './helpers.ts';
import { freePort, httpStatus, listFiles } from './registry-fixture.ts';

let d: TestDaemon;
let dir: string;
let proc: ChildProcess | undefined;
let host: string;
let output = '';

async function serve(args: string[]): Promise<void> {
  const port = await freePort();
  host = `127.0.0.1:${port}`;
  proc = spawn(BERTH, ['registry', 'serve', '--addr', host, '--root', path.join(dir, 'root'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.on('data', (c) => (output += c));
  proc.stderr!.on('data', (c) => (output += c));
  await waitFor('registry up', async () => [200, 401].includes(await httpStatus(`http://${host}/v2/`).catch(() => 0)));
}

async function stopServer(): Promise<void> {
  if (!proc || proc.exitCode !== null) return;
  const p = proc;
  await new Promise<void>((r) => { p.once('exit', () => r()); p.kill('SIGTERM'); });
}

async function admin(args: string[], input?: string): Promise<void> {
  const r = await run(BERTH, ['registry', ...args, '--config', path.join(dir, 'reg.json')], { input });
  assert.equal(r.code, 0, r.stderr);
}

before(async () => {
  d = await startDaemon();
  await bootstrap(d);
  dir = mkdtempSync('/tmp/bregd-');
});
after(async () => {
  await stopServer();
  await d?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('open registry: docker push and pull through berthd, two repositories share their blobs, search and catalog', async () => {
  await serve([]);
  try {
    await dockerOk(d, ['tag', 'busybox', `${host}/team/bb:1`]);
    const push = await dockerOk(d, ['push', `${host}/team/bb:1`]);
    const digest = /1: digest: (sha256:[0-9a-f]{64}) size: \d+/.exec(push)?.[1];
    assert.ok(digest, push);
    const blobsBefore = (await listFiles(path.join(dir, 'root', 'blobs'))).length;
    await dockerOk(d, ['tag', 'busybox', `${host}/other/bb:2`]);
    const second = await dockerOk(d, ['push', `${host}/other/bb:2`]);
    assert.match(second, /Mounted from team\/bb|Layer already exists/);
    assert.ok(second.includes(digest!), 'the same manifest digest in the second repository');
    assert.equal((await listFiles(path.join(dir, 'root', 'blobs'))).length, blobsBefore, 'no blob stored twice');
    const id = await dockerOk(d, ['inspect', '-f', '{{.Id}}', 'busybox']);
    await dockerOk(d, ['rmi', `${host}/team/bb:1`, `${host}/other/bb:2`]);
    await dockerOk(d, ['pull', `${host}/team/bb:1`]);
    assert.equal(await dockerOk(d, ['inspect', '-f', '{{.Id}}', `${host}/team/bb:1`]), id);
    assert.match(await dockerOk(d, ['inspect', '-f', '{{json .RepoDigests}}', `${host}/team/bb:1`]), new RegExp(digest!));
    const search = await dockerOk(d, ['search', `${host}/bb`]);
    assert.match(search, /team\/bb/);
    assert.match(search, /other\/bb/);
    const catalog = JSON.parse((await run('curl', ['-s', `http://${host}/v2/_catalog`])).stdout);
    assert.deepEqual(catalog.repositories, ['other/bb', 'team/bb']);
    // The access log: one JSON line per request.
    const lines = output.split('\n').filter((l) => l.startsWith('{"time"'));
    assert.ok(lines.some((l) => { const e = JSON.parse(l); return e.method === 'PUT' && /\/manifests\/1$/.test(e.path) && e.status === 201; }));
  } finally {
    await stopServer();
  }
});

test('token auth: private repositories need a login with access; search and pulls follow the grants', async () => {
  await admin(['user', 'add', 'alice', '--password-stdin'], 'alice-pw\n');
  await admin(['user', 'add', 'bob', '--password-stdin'], 'bob-pw\n');
  const cfgFile = path.join(dir, 'reg.json');
  const cfg = JSON.parse(readFileSync(cfgFile, 'utf8'));
  cfg.auth = 'token';
  cfg.tokenTtlSeconds = 60;
  writeFileSync(cfgFile, JSON.stringify(cfg), { mode: 0o600 });
  await admin(['repo', 'visibility', 'team/secret', 'private']);
  await admin(['repo', 'grant', 'team/secret', 'alice', 'pull,push']);
  await admin(['repo', 'describe', 'team/bb', 'busybox for the team']);
  await serve(['--config', cfgFile]);
  try {
    const secret = `${host}/team/secret:1`;
    await dockerOk(d, ['tag', 'busybox', secret]);
    const anon = await docker(d, ['push', secret]);
    assert.notEqual(anon.code, 0);
    assert.match(anon.stderr + anon.stdout, /denied|unauthorized|authentication required/);
    const wrong = await docker(d, ['login', host, '-u', 'alice', '--password-stdin'], { input: 'nope\n' });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /unauthorized: incorrect username or password/);
    const ok = await docker(d, ['login', host, '-u', 'alice', '--password-stdin'], { input: 'alice-pw\n' });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /Login Succeeded/);
    await dockerOk(d, ['push', secret]);
    assert.match(await dockerOk(d, ['search', `${host}/team`]), /team\/secret/);
    await dockerOk(d, ['logout', host]);
    // Anonymous: the private repository is neither listed nor pullable.
    await dockerOk(d, ['rmi', secret]);
    assert.doesNotMatch(await dockerOk(d, ['search', `${host}/team`]), /team\/secret/);
    const denied = await docker(d, ['pull', secret]);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /pull access denied|denied/);
    // bob has an account but no grant: still denied, still hidden.
    await dockerOk(d, ['login', host, '-u', 'bob', '--password-stdin'], { input: 'bob-pw\n' });
    assert.notEqual((await docker(d, ['pull', secret])).code, 0);
    assert.doesNotMatch(await dockerOk(d, ['search', `${host}/team`]), /team\/secret/);
    await dockerOk(d, ['logout', host]);
    // alice again: the pull works and gives the image back.
    await dockerOk(d, ['login', host, '-u', 'alice', '--password-stdin'], { input: 'alice-pw\n' });
    await dockerOk(d, ['pull', secret]);
    await dockerOk(d, ['logout', host]);
    assert.doesNotMatch(output, /alice-pw|bob-pw/, 'no password in the registry log');
    assert.doesNotMatch(d.log(), /alice-pw|bob-pw/, 'no password in the berthd log');
  } finally {
    await stopServer();
  }
});
