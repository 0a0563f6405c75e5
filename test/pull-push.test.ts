// Pull and push through berthd with the real docker CLI against loopback registries: the real distribution
// registry (no auth), a fake registry in Node that misbehaves on purpose, and a mirror registry in a network
// namespace that has nothing but loopback. Images are busybox (berth image bootstrap) or built from generated
// files (gzip and zstd layers, a two-platform OCI index). Nothing leaves 127.0.0.1.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import { startDaemon, ping, run, BERTHD, type TestDaemon } from './harness.ts';
import { docker, dockerOk, bootstrap, api } from './helpers.ts';
import {
  startRegistry, startFakeRegistry, buildLayer, buildImage, buildIndex, busyboxFiles, pushImage, httpRequest,
  registryBlobPath, listFiles, makeNetns, inNetns, MEDIA, sha256,
  type Registry, type FakeRegistry, type BuiltImage, type BuiltIndex, type BuiltLayer, type Netns,
} from './registry-fixture.ts';

let d: TestDaemon;
let reg: Registry;
let fake: FakeRegistry;
let busyboxId: string;
let baseLayer: BuiltLayer; // busybox-static, so the generated images can run commands
let layered: BuiltImage; // busybox + a gzip layer + a zstd layer
let multi: BuiltIndex; // linux/amd64 and linux/arm64
let corrupt: BuiltImage;
let pushedDigest = '';
const fileA = randomBytes(300 * 1024);
const fileB = randomBytes(200 * 1024);

const hex = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const lines = (s: string) => s.split('\n').map((l) => l.trim()).filter(Boolean);

before(async () => {
  [d, reg, fake] = await Promise.all([startDaemon(), startRegistry(), startFakeRegistry()]);
  busyboxId = await bootstrap(d);
  baseLayer = await buildLayer({ files: busyboxFiles() });
  layered = await buildImage({
    layers: [
      baseLayer,
      { files: [{ path: 'data/', dir: true }, { path: 'data/a', data: fileA }], compression: 'gzip' },
      { files: [{ path: 'data/b', data: fileB }, { path: 'data/msg', data: 'from the zstd layer\n' }], compression: 'zstd' },
    ],
    cmd: ['cat', '/data/msg'],
  });
  const platformImage = (architecture: string) => buildImage({
    layers: [baseLayer, { files: [{ path: 'arch', data: `${architecture}\n` }] }],
    architecture, labels: { arch: architecture },
  });
  multi = buildIndex([await platformImage('amd64'), await platformImage('arm64')]);
  // gzip level 0 keeps the blob's length a function of the tar's length only: the corrupt copy below is a
  // well-formed gzip of a well-formed tar, as long as the original, and only its digest is wrong.
  const corruptFiles = (byte: number) => {
    const data = randomBytesSeeded(64 * 1024);
    data[1000] = byte;
    return [{ path: 'corrupt-me', data }];
  };
  corrupt = await buildImage({ layers: [baseLayer, { files: corruptFiles(1), gzipLevel: 0 }] });
  await pushImage(reg, 'team/layers:1', layered);
  await pushImage(reg, 'team/multi:1', multi);
  await pushImage(reg, 'team/corrupt:1', corrupt);
  const bad = await buildLayer({ files: corruptFiles(2), gzipLevel: 0 });
  const good = corrupt.layers[1];
  assert.equal(bad.size, good.size);
  assert.notEqual(bad.digest, good.digest);
  writeFileSync(registryBlobPath(reg, good.digest), bad.blob);
});

after(async () => {
  await d?.stop();
  await reg?.stop();
  await fake?.stop();
});

// The same "random" bytes on every call (the corrupt layer and its replacement differ in one byte only).
let seeded: Buffer | undefined;
function randomBytesSeeded(n: number): Buffer {
  seeded ??= randomBytes(n);
  return Buffer.from(seeded);
}

/** The daemon's blobs and the pull's temp files: a failed pull must leave both as they were. */
async function stored(t: TestDaemon): Promise<{ blobs: string[]; tmp: string[]; images: string[] }> {
  return {
    blobs: await listFiles(path.join(t.dataRoot, 'content', 'blobs')),
    tmp: [...await listFiles(path.join(t.dataRoot, 'tmp')), ...await listFiles(path.join(t.dataRoot, 'content', 'ingest'))],
    images: lines(await dockerOk(t, ['images', '-aq', '--no-trunc'])).sort(),
  };
}

async function inspect(t: TestDaemon, ref: string): Promise<{ Id: string; RepoTags: string[]; RepoDigests: string[]; Architecture: string; Config: { Labels?: Record<string, string> }; RootFS: { Layers: string[] } }> {
  return JSON.parse(await dockerOk(t, ['image', 'inspect', ref]))[0];
}

test('docker push: progress per layer, then "TAG: digest: sha256:... size: N"; the registry holds that manifest', async () => {
  const ref = `${reg.host}/team/bb:1.0`;
  await dockerOk(d, ['tag', 'busybox', ref]);
  const r = await docker(d, ['push', ref]);
  assert.equal(r.code, 0, r.stderr);
  const out = lines(r.stdout);
  assert.equal(out[0], `The push refers to repository [${reg.host}/team/bb]`);
  assert.ok(out.some((l) => /^[0-9a-f]{12}: Pushed$/.test(l)), r.stdout);
  const m = /^1\.0: digest: (sha256:[0-9a-f]{64}) size: (\d+)$/.exec(out.at(-1)!);
  assert.ok(m, `last line: ${out.at(-1)}`);
  pushedDigest = m[1];
  const got = await httpRequest(`${reg.url}/v2/team/bb/manifests/1.0`, { headers: { Accept: [MEDIA.ociManifest, 'application/vnd.docker.distribution.manifest.v2+json'].join(', ') } });
  assert.equal(got.status, 200);
  assert.equal(got.headers['docker-content-digest'], pushedDigest);
  assert.equal(got.body.length, Number(m[2]));
  assert.equal(sha256(got.body), pushedDigest);
  const manifest = JSON.parse(got.body.toString());
  assert.equal(manifest.config.digest, busyboxId, 'the config blob is the image ID');
  // The image ID's layers are all there, by the digests the manifest names.
  for (const l of manifest.layers) assert.equal((await httpRequest(`${reg.url}/v2/team/bb/blobs/${l.digest}`, { method: 'HEAD' })).status, 200);
  // Pushing records the repository digest, as dockerd does.
  assert.ok((await inspect(d, ref)).RepoDigests.includes(`${reg.host}/team/bb@${pushedDigest}`));
});

test('pushing again, and to a second repository: layers mounted or found, same digest, no error', async () => {
  assert.ok(pushedDigest, 'needs the first push');
  const again = await docker(d, ['push', `${reg.host}/team/bb:1.0`]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /: Layer already exists$/m);
  assert.match(again.stdout, new RegExp(`^1\\.0: digest: ${pushedDigest} size: \\d+$`, 'm'));
  const other = `${reg.host}/other/bb:2`;
  await dockerOk(d, ['tag', 'busybox', other]);
  const r = await docker(d, ['push', other]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /: (Mounted from team\/bb|Layer already exists)$/m);
  assert.match(r.stdout, new RegExp(`^2: digest: ${pushedDigest} size: \\d+$`, 'm'));
  assert.equal((await httpRequest(`${reg.url}/v2/other/bb/manifests/2`, { method: 'HEAD', headers: { Accept: MEDIA.ociManifest + ', application/vnd.docker.distribution.manifest.v2+json' } })).headers['docker-content-digest'], pushedDigest);
  const missing = await docker(d, ['push', `${reg.host}/team/none:1`]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /No such image|does not exist/);
});

test('rmi, then pull: the same image ID comes back, with the pushed digest in RepoDigests and images --digests', async () => {
  assert.ok(pushedDigest, 'needs the first push');
  const ref = `${reg.host}/team/bb:1.0`;
  await dockerOk(d, ['rmi', ref, `${reg.host}/other/bb:2`, 'busybox']);
  assert.equal((await docker(d, ['image', 'inspect', busyboxId])).code, 1, 'the image is gone');
  const r = await docker(d, ['pull', ref]);
  assert.equal(r.code, 0, r.stderr);
  const out = lines(r.stdout);
  assert.equal(out[0], '1.0: Pulling from team/bb');
  assert.ok(out.some((l) => /^[0-9a-f]{12}: Pull complete$/.test(l)), r.stdout);
  assert.ok(out.includes(`Digest: ${pushedDigest}`), r.stdout);
  assert.ok(out.includes(`Status: Downloaded newer image for ${ref}`), r.stdout);
  assert.equal(out.at(-1), ref);
  const img = await inspect(d, ref);
  assert.equal(img.Id, busyboxId);
  assert.deepEqual(img.RepoTags, [ref]);
  assert.deepEqual(img.RepoDigests, [`${reg.host}/team/bb@${pushedDigest}`]);
  const all = lines(await dockerOk(d, ['images', '--digests', '--format', '{{.Repository}} {{.Tag}} {{.Digest}}']));
  assert.ok(all.includes(`${reg.host}/team/bb 1.0 ${pushedDigest}`), all.join('\n'));
  // With a reference filter too: dockerd matches a digest reference by its name (reference.FamiliarMatch).
  assert.deepEqual(lines(await dockerOk(d, ['images', '--digests', '--format', '{{.Repository}} {{.Tag}} {{.Digest}}', `${reg.host}/team/bb`])),
    [`${reg.host}/team/bb 1.0 ${pushedDigest}`]);
  const table = lines(await dockerOk(d, ['images', '--digests', `${reg.host}/team/bb`]));
  assert.match(table[0], /^REPOSITORY\s+TAG\s+DIGEST\s+IMAGE ID\s+CREATED\s+SIZE$/);
  assert.match(table[1], new RegExp(`^${reg.host}/team/bb\\s+1\\.0\\s+${pushedDigest}\\s+${busyboxId.slice(7, 19)}\\s`));
  // A second pull finds everything here.
  const up = await dockerOk(d, ['pull', ref]);
  assert.match(up, new RegExp(`^Status: Image is up to date for ${ref.replace(/\./g, '\\.')}$`, 'm'));
  await dockerOk(d, ['tag', ref, 'busybox']);
  assert.equal(await dockerOk(d, ['run', '--rm', 'busybox', 'echo', 'still runs']), 'still runs');
});

test('a multi-platform index: linux/amd64 by default, --platform linux/arm64 on request; RepoDigests keeps the index digest', async () => {
  const ref = `${reg.host}/team/multi:1`;
  const [amd, arm] = multi.images;
  const r = await docker(d, ['pull', ref]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^Digest: ${multi.digest}$`, 'm'));
  let img = await inspect(d, ref);
  assert.equal(img.Id, amd.configDigest);
  assert.equal(img.Architecture, 'amd64');
  assert.equal(img.Config.Labels?.arch, 'amd64');
  assert.deepEqual(img.RepoDigests, [`${reg.host}/team/multi@${multi.digest}`]);
  assert.equal(await dockerOk(d, ['run', '--rm', ref, 'cat', '/arch']), 'amd64');
  const a = await docker(d, ['pull', '--platform', 'linux/arm64', ref]);
  assert.equal(a.code, 0, a.stderr);
  img = await inspect(d, ref);
  assert.equal(img.Id, arm.configDigest);
  assert.equal(img.Architecture, 'arm64');
  const none = await docker(d, ['pull', '--platform', 'linux/s390x', ref]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no matching manifest for linux\/s390x in the manifest list entries/);
  await dockerOk(d, ['rmi', '-f', amd.configDigest, arm.configDigest]);
});

test('gzip and zstd layers pull, unpack and run; the image keeps the config\'s diff IDs', async () => {
  const ref = `${reg.host}/team/layers:1`;
  const r = await docker(d, ['pull', ref]);
  assert.equal(r.code, 0, r.stderr);
  const img = await inspect(d, ref);
  assert.equal(img.Id, layered.configDigest);
  assert.deepEqual(img.RootFS.Layers, layered.layers.map((l) => l.diffId));
  assert.equal(await dockerOk(d, ['run', '--rm', ref]), 'from the zstd layer');
  const sums = await dockerOk(d, ['run', '--rm', ref, 'sha256sum', '/data/a', '/data/b']);
  assert.deepEqual(lines(sums).map((l) => l.split(/\s+/)[0]), [hex(fileA), hex(fileB)]);
  // docker cp reads the same bytes out of a created container.
  const id = await dockerOk(d, ['create', ref]);
  const out = mkdtempSync('/tmp/bpp-cp-');
  try {
    await dockerOk(d, ['cp', `${id}:/data/b`, `${out}/b`]);
    assert.equal(hex(readFileSync(`${out}/b`)), hex(fileB));
  } finally {
    rmSync(out, { recursive: true, force: true });
    await docker(d, ['rm', id]);
  }
});

test('pull by digest: untagged, listed with its digest, runnable by digest; an unknown digest is not found', async () => {
  await docker(d, ['rmi', '-f', layered.configDigest]);
  const byDigest = `${reg.host}/team/layers@${layered.digest}`;
  const r = await docker(d, ['pull', byDigest]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^Digest: ${layered.digest}$`, 'm'));
  assert.match(r.stdout, new RegExp(`^Status: Downloaded newer image for ${byDigest.replace(/\./g, '\\.')}$`, 'm'));
  const img = await inspect(d, byDigest);
  assert.equal(img.Id, layered.configDigest);
  assert.deepEqual(img.RepoTags, []);
  assert.deepEqual(img.RepoDigests, [byDigest]);
  const all = lines(await dockerOk(d, ['images', '--digests', '--format', '{{.Repository}} {{.Tag}} {{.Digest}}']));
  assert.ok(all.includes(`${reg.host}/team/layers <none> ${layered.digest}`), all.join('\n'));
  assert.deepEqual(lines(await dockerOk(d, ['images', '--digests', '--format', '{{.Repository}} {{.Tag}} {{.Digest}}', `${reg.host}/team/layers`])),
    [`${reg.host}/team/layers <none> ${layered.digest}`]);
  assert.equal(await dockerOk(d, ['run', '--rm', byDigest]), 'from the zstd layer');
  const unknown = await docker(d, ['pull', `${reg.host}/team/layers@sha256:${'0'.repeat(64)}`]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /manifest unknown|not found/);
  await dockerOk(d, ['rmi', '-f', layered.configDigest]);
});

test('bad references are refused before any registry is asked', async () => {
  const seen = fake.requests.length;
  const upper = await docker(d, ['pull', `${fake.host}/Team/bb`]);
  assert.equal(upper.code, 1);
  assert.match(upper.stderr, /invalid reference format: repository name \(Team\/bb\) must be lowercase/);
  const colons = await docker(d, ['pull', 'a:b:c']);
  assert.equal(colons.code, 1);
  assert.match(colons.stderr, /invalid reference format/);
  // The same through the API (the CLI checks first): 400 from the daemon.
  for (const from of [`${fake.host}/Team/bb`, `${fake.host}/a:b:c`, `${fake.host}/bb:-tag`]) {
    const res = await api(d.socket, 'POST', `/v1.47/images/create?fromImage=${encodeURIComponent(from)}`);
    assert.equal(res.status, 400, `${from}: ${res.text}`);
    assert.match(res.json?.message ?? '', /invalid reference format/, from);
  }
  const bad = await api(d.socket, 'POST', `/v1.47/images/create?fromImage=${encodeURIComponent(`${fake.host}/bb`)}&tag=${encodeURIComponent('a b')}`);
  assert.equal(bad.status, 400, bad.text);
  assert.equal(fake.requests.length, seen, `no request reached the registry: ${fake.requests.slice(seen).join(', ')}`);
});

test('a missing tag or repository: "manifest unknown" / not found, exit 1', async () => {
  const tag = await docker(d, ['pull', `${reg.host}/team/bb:nope`]);
  assert.equal(tag.code, 1);
  assert.match(tag.stderr, new RegExp(`manifest for ${reg.host.replace(/\./g, '\\.')}/team/bb:nope not found: manifest unknown`));
  const repo = await docker(d, ['pull', `${reg.host}/team/absent:1`]);
  assert.equal(repo.code, 1);
  assert.match(repo.stderr, /manifest unknown|not found|repository does not exist/);
  assert.equal((await docker(d, ['image', 'inspect', `${reg.host}/team/absent:1`])).code, 1);
});

test('a layer whose bytes do not match its digest fails the pull, and nothing of it is kept', async () => {
  const before = await stored(d);
  const ref = `${reg.host}/team/corrupt:1`;
  const r = await docker(d, ['pull', ref]);
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, new RegExp(`verification failed for digest ${corrupt.layers[1].digest}`));
  assert.equal((await docker(d, ['image', 'inspect', ref])).code, 1);
  const now = await stored(d);
  assert.deepEqual(now.images, before.images);
  assert.deepEqual(now.blobs, before.blobs, 'no new blob in the content store');
  assert.deepEqual(now.tmp, [], 'no partial download left');
  assert.equal(existsSync(path.join(d.dataRoot, 'content', 'blobs', 'sha256', corrupt.layers[1].diffId.slice(7))), false);
});

test('a registry that drops the connection mid-layer: a clear error, nothing half-stored; pulling again once it behaves completes', async () => {
  const data = randomBytes(2 << 20);
  const flaky = await buildImage({ layers: [baseLayer, { files: [{ path: 'flaky', data }], gzipLevel: 1 }], cmd: ['sha256sum', '/flaky'] });
  const cut = flaky.layers[1].digest;
  fake.add('team/flaky', '1', flaky);
  fake.cut.set(cut, Infinity);
  const before = await stored(d);
  const ref = `${fake.host}/team/flaky:1`;
  const r = await docker(d, ['pull', ref], { timeout: 150000 });
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /unexpected EOF|connection|socket hang up|aborted|reset/i);
  assert.ok(fake.requests.some((q) => q.startsWith(`GET /v2/team/flaky/blobs/${cut}`)), 'the layer was asked for');
  const now = await stored(d);
  assert.deepEqual(now.images, before.images);
  assert.deepEqual(now.blobs, before.blobs, 'no new blob in the content store');
  assert.deepEqual(now.tmp, [], 'no partial download left');
  fake.cut.delete(cut);
  const ok = await docker(d, ['pull', ref]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal((await inspect(d, ref)).Id, flaky.configDigest);
  assert.equal((await dockerOk(d, ['run', '--rm', ref])).split(/\s+/)[0], hex(data));
  await dockerOk(d, ['rmi', ref]);
});

test('a connection dropped once mid-layer: dockerd retries the layer (resuming it) and the pull succeeds', async () => {
  const once = await buildImage({ layers: [baseLayer, { files: [{ path: 'once', data: randomBytes(1 << 20) }], gzipLevel: 1 }] });
  const cut = once.layers[1].digest;
  fake.add('team/once', '1', once);
  fake.cut.set(cut, 1);
  const ref = `${fake.host}/team/once:1`;
  const r = await docker(d, ['pull', ref], { timeout: 60000 });
  assert.equal(r.code, 0, `dockerd retries a failed layer download up to 5 times ("Retrying in 5 seconds"): ${r.stderr}`);
  assert.equal((await inspect(d, ref)).Id, once.configDigest);
  assert.equal(fake.cut.get(cut), 0);
  await dockerOk(d, ['rmi', ref]);
});

test('run and create pull a missing image; --pull never does not; --pull always pulls first', async () => {
  const ref = `${reg.host}/team/layers:1`;
  await docker(d, ['rmi', '-f', layered.configDigest]);
  const never = await docker(d, ['run', '--rm', '--pull', 'never', ref, 'true']);
  assert.equal(never.code, 125);
  assert.match(never.stderr, /No such image/);
  assert.equal((await docker(d, ['image', 'inspect', ref])).code, 1);
  const r = await docker(d, ['run', '--rm', ref]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'from the zstd layer');
  assert.match(r.stderr, new RegExp(`Unable to find image '${ref.replace(/\./g, '\\.')}' locally`));
  assert.match(r.stderr, /1: Pulling from team\/layers/);
  await dockerOk(d, ['rmi', ref]);
  const c = await docker(d, ['create', ref]);
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout.trim().split('\n').at(-1)!, /^[0-9a-f]{64}$/);
  assert.match(c.stderr, /Unable to find image/);
  await dockerOk(d, ['rm', c.stdout.trim().split('\n').at(-1)!]);
  const always = await docker(d, ['run', '--rm', '--pull', 'always', ref, 'true']);
  assert.equal(always.code, 0, always.stderr);
  assert.match(always.stderr, /Pulling from team\/layers|Image is up to date/);
  await dockerOk(d, ['rmi', ref]);
});

test('docker pull -a pulls every tag of a repository', async () => {
  const two = await buildImage({ layers: [baseLayer, { files: [{ path: 'which', data: 'two\n' }] }], cmd: ['cat', '/which'] });
  await pushImage(reg, 'team/alltags:one', layered);
  await pushImage(reg, 'team/alltags:two', two);
  const r = await docker(d, ['pull', '--all-tags', `${reg.host}/team/alltags`]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^one: Pulling from team\/alltags$/m);
  assert.match(r.stdout, /^two: Pulling from team\/alltags$/m);
  assert.equal((await inspect(d, `${reg.host}/team/alltags:one`)).Id, layered.configDigest);
  assert.equal(await dockerOk(d, ['run', '--rm', `${reg.host}/team/alltags:two`]), 'two');
  await dockerOk(d, ['rmi', `${reg.host}/team/alltags:one`, `${reg.host}/team/alltags:two`]);
});

test('docker search asks the registry\'s v1 search API; a registry without one is an error', async () => {
  fake.searchResults = [
    { name: 'team/searched', description: 'found by search', star_count: 7, is_official: false, is_automated: false },
    { name: 'team/other', description: 'not this', star_count: 1, is_official: false, is_automated: false },
  ];
  const out = await dockerOk(d, ['search', '--format', '{{.Name}}|{{.Description}}|{{.StarCount}}', `${fake.host}/searched`]);
  assert.deepEqual(lines(out), ['team/searched|found by search|7']);
  assert.ok(fake.requests.some((q) => q.startsWith('GET /v1/search')));
  const none = await docker(d, ['search', `${reg.host}/anything`]);
  assert.equal(none.code, 1);
});

// A berthd inside a network namespace that has only loopback: the mirror registry sits in there with it, and
// a fall back to Docker Hub (what dockerd does when a mirror fails) could reach nothing at all.
async function startNetnsDaemon(ns: Netns, config: object): Promise<TestDaemon> {
  const dir = mkdtempSync('/tmp/bt-');
  writeFileSync(path.join(dir, 'daemon.json'), JSON.stringify(config));
  const socket = path.join(dir, 'd.sock');
  const dataRoot = path.join(dir, 'data');
  const execRoot = path.join(dir, 'exec');
  let output = '';
  const [cmd, args] = inNetns(ns, BERTHD, ['-H', `unix://${socket}`, '--data-root', dataRoot, '--exec-root', execRoot,
    '--pidfile', path.join(dir, 'berthd.pid'), '--config-file', path.join(dir, 'daemon.json'), '--bridge', `bt${path.basename(dir).slice(3)}`]);
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.on('data', (c) => (output += c));
  proc.stderr!.on('data', (c) => (output += c));
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const done = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
      await done;
      clearTimeout(t);
    }
    await run('umount', ['-R', '-l', dataRoot]);
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  };
  const deadline = Date.now() + 20000;
  while (!(existsSync(socket) && (await ping(socket)))) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`berthd in ${ns.name} did not start: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    socket, dataRoot, execRoot, dir, proc, host: `unix://${socket}`, log: () => output,
    env: { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: path.join(dir, 'docker-config'), NO_COLOR: '1' },
    restart: () => Promise.reject(new Error('not supported')),
    stop,
  };
}

test('registry-mirrors: a Docker Hub pull (busybox:mirrored) comes from the mirror', async () => {
  // Only the mirror's success path: when a mirror fails, Berth (like dockerd) goes on to registry-1.docker.io,
  // which a test must never do; the network namespace makes even a bug here harmless.
  const ns = await makeNetns();
  let mirror: Registry | undefined;
  let md: TestDaemon | undefined;
  try {
    mirror = await startRegistry({ netns: ns });
    await pushImage(mirror, 'library/busybox:mirrored', layered, undefined, ns);
    md = await startNetnsDaemon(ns, { 'registry-mirrors': [`http://${mirror.host}`] });
    assert.deepEqual(JSON.parse(await dockerOk(md, ['info', '--format', '{{json .RegistryConfig.Mirrors}}'])), [`http://${mirror.host}/`]);
    const r = await docker(md, ['pull', 'busybox:mirrored'], { timeout: 60000 });
    assert.equal(r.code, 0, `${r.stderr}\n${md.log()}`);
    assert.match(r.stdout, /^mirrored: Pulling from library\/busybox$/m);
    assert.match(r.stdout, new RegExp(`^Digest: ${layered.digest}$`, 'm'));
    assert.match(r.stdout, /^Status: Downloaded newer image for busybox:mirrored$/m);
    assert.match(r.stdout.trim().split('\n').at(-1)!, /^docker\.io\/library\/busybox:mirrored$/);
    const img = await inspect(md, 'busybox:mirrored');
    assert.equal(img.Id, layered.configDigest);
    assert.deepEqual(img.RepoTags, ['busybox:mirrored']);
    assert.deepEqual(img.RepoDigests, [`busybox@${layered.digest}`]);
  } finally {
    await md?.stop();
    await mirror?.stop();
    await ns.remove();
  }
});
