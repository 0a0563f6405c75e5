// The Engine API itself, over the daemon's unix socket: system endpoints, version prefixes, Docker-style errors
// and status codes, and a real client library (dockerode) driving containers and images.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import Docker from 'dockerode';
import { startDaemon, type TestDaemon } from './harness.ts';
import { api, bootstrap, dockerOk, waitFor } from './helpers.ts';
import { buildRootfsTar, rootfsEntries } from '../src/cli/commands/bootstrap.ts';

let d: TestDaemon;
let imageId: string;
let client: Docker;

before(async () => {
  d = await startDaemon();
  imageId = await bootstrap(d);
  client = new Docker({ socketPath: d.socket });
});

after(async () => {
  await d?.stop();
});

const get = (path: string) => api(d.socket, 'GET', path);
const post = (path: string, body?: string | Buffer | object, headers?: Record<string, string>) => api(d.socket, 'POST', path, { body, headers });

/** Splits Docker's multiplexed stream (8-byte headers: stream, 0, 0, 0, big-endian size) into stdout and stderr. */
function demux(buf: Buffer): { stdout: string; stderr: string } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  for (let i = 0; i < buf.length;) {
    assert.ok(i + 8 <= buf.length, 'truncated frame header');
    const size = buf.readUInt32BE(i + 4);
    assert.ok([1, 2].includes(buf[i]), `stream byte ${buf[i]}`);
    (buf[i] === 2 ? err : out).push(buf.subarray(i + 8, i + 8 + size));
    i += 8 + size;
  }
  return { stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

test('/_ping answers GET and HEAD with the negotiation headers', async () => {
  for (const method of ['GET', 'HEAD']) {
    const r = await api(d.socket, method, '/_ping');
    assert.equal(r.status, 200, method);
    assert.equal(r.headers['api-version'], '1.47', method);
    assert.equal(r.headers['ostype'], 'linux', method);
    assert.ok(['1', '2'].includes(String(r.headers['builder-version'])), `${method} Builder-Version ${r.headers['builder-version']}`);
    assert.equal(r.headers['docker-experimental'], 'false', method);
    assert.match(String(r.headers['cache-control']), /no-cache/, method);
    assert.equal(r.text, method === 'GET' ? 'OK' : '', method);
  }
  // The prefixed form negotiates the same way (clients ping /v1.xx/_ping after downgrading).
  const old = await get('/v1.24/_ping');
  assert.equal(old.status, 200);
  assert.equal(old.headers['api-version'], '1.47');
});

test('/version describes the engine and its API range', async () => {
  const r = await get('/version');
  assert.equal(r.status, 200);
  assert.match(String(r.headers['content-type']), /^application\/json/);
  const v = r.json;
  assert.equal(v.ApiVersion, '1.47');
  assert.equal(v.MinAPIVersion, '1.24');
  assert.equal(v.Os, 'linux');
  assert.equal(v.Arch, process.arch === 'x64' ? 'amd64' : process.arch);
  assert.equal(v.KernelVersion, os.release());
  assert.equal(typeof v.Version, 'string');
  assert.ok(v.Version.length > 0);
  const engine = v.Components.find((c: { Name: string }) => c.Name === 'Engine');
  assert.equal(engine.Version, v.Version);
  assert.equal(engine.Details.ApiVersion, '1.47');
  // The docker CLI reads the same figures.
  assert.equal(await dockerOk(d, ['version', '--format', '{{.Server.APIVersion}} {{.Server.MinAPIVersion}}']), '1.47 1.24');
});

test('/info reports the real host and daemon figures', async () => {
  const info = (await get('/info')).json;
  assert.equal(info.Driver, 'overlay2');
  assert.equal(info.CgroupVersion, existsSync('/sys/fs/cgroup/cgroup.controllers') ? '2' : '1');
  assert.equal(info.CgroupDriver, 'cgroupfs');
  assert.equal(info.Runtimes.crun.path, '/usr/bin/crun');
  assert.ok(info.Runtimes.runc.path.endsWith('/runc'), info.Runtimes.runc.path);
  assert.ok(['crun', 'runc'].includes(info.DefaultRuntime), info.DefaultRuntime);
  assert.equal(info.NCPU, os.cpus().length);
  assert.equal(info.MemTotal, os.totalmem());
  assert.equal(info.DockerRootDir, d.dataRoot);
  assert.equal(info.KernelVersion, os.release());
  assert.equal(info.OSType, 'linux');
  assert.equal(info.Name, os.hostname());
  assert.equal(info.Images, 1);
  assert.equal(typeof info.ID, 'string');
  // The default runtime really runs containers, and the container records it.
  const id = await dockerOk(d, ['create', 'busybox', 'true']);
  assert.equal(await dockerOk(d, ['inspect', '--format', '{{.HostConfig.Runtime}}', id]), info.DefaultRuntime);
  await dockerOk(d, ['rm', id]);
  // And the docker CLI renders it.
  assert.equal(await dockerOk(d, ['info', '--format', '{{.DockerRootDir}} {{.Driver}} {{.DefaultRuntime}}']), `${d.dataRoot} overlay2 ${info.DefaultRuntime}`);
});

test('/info counts containers by state and images as they change', async () => {
  const counts = async () => {
    const i = (await get('/info')).json;
    assert.equal(i.Containers, i.ContainersRunning + i.ContainersPaused + i.ContainersStopped);
    return { total: i.Containers as number, running: i.ContainersRunning as number, stopped: i.ContainersStopped as number, images: i.Images as number };
  };
  const base = await counts();
  const id = await dockerOk(d, ['create', 'busybox', 'sleep', '60']);
  assert.deepEqual(await counts(), { ...base, total: base.total + 1, stopped: base.stopped + 1 });
  await dockerOk(d, ['start', id]);
  assert.deepEqual(await counts(), { ...base, total: base.total + 1, running: base.running + 1 });
  await dockerOk(d, ['kill', id]);
  await dockerOk(d, ['wait', id]);
  assert.deepEqual(await counts(), { ...base, total: base.total + 1, stopped: base.stopped + 1 });
  await dockerOk(d, ['rm', id]);
  assert.deepEqual(await counts(), base);

  // A tag is not an image; an import is.
  await dockerOk(d, ['tag', 'busybox', 'api-info:tagged']);
  assert.equal((await counts()).images, base.images);
  const rootfs = await buildRootfsTar(rootfsEntries(readFileSync('/bin/busybox'), ['bin/sh', 'bin/true']));
  const imported = await post('/images/create?fromSrc=-&repo=api-info-imported', rootfs, { 'Content-Type': 'application/x-tar' });
  assert.equal(imported.status, 200, imported.text);
  assert.equal((await counts()).images, base.images + 1);
  const list = (await get('/images/json?all=1')).json;
  assert.equal(list.length, base.images + 1);
  await dockerOk(d, ['rmi', 'api-info-imported', 'api-info:tagged']);
  assert.equal((await counts()).images, base.images);
});

test('the /vX.Y prefix is optional, and versions outside 1.24..1.47 are refused', async () => {
  const plain = await get('/info');
  const prefixed = await get('/v1.47/info');
  const oldest = await get('/v1.24/info');
  for (const r of [plain, prefixed, oldest]) {
    assert.equal(r.status, 200);
    assert.equal(r.json.DockerRootDir, d.dataRoot);
  }
  assert.equal((await get('/v1.47/containers/json?all=1')).status, 200);

  const tooOld = await get('/v1.12/version');
  assert.equal(tooOld.status, 400);
  assert.deepEqual(tooOld.json, { message: 'client version 1.12 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version' });
  const tooNew = await get('/v1.99/version');
  assert.equal(tooNew.status, 400);
  assert.deepEqual(tooNew.json, { message: 'client version 1.99 is too new. Maximum supported API version is 1.47' });
  const justAbove = await get('/v1.48/info');
  assert.equal(justAbove.status, 400);
  assert.match(justAbove.json.message, /^client version 1\.48 is too new/);
});

test('unknown routes are 404 with a JSON message', async () => {
  for (const path of ['/nope', '/v1.47/nope', '/containers/x/bogus']) {
    const r = await get(path);
    assert.equal(r.status, 404, path);
    assert.match(String(r.headers['content-type']), /^application\/json/, path);
    assert.deepEqual(r.json, { message: 'page not found' }, path);
  }
  const missing = await get('/containers/no-such-container/json');
  assert.equal(missing.status, 404);
  assert.deepEqual(missing.json, { message: 'No such container: no-such-container' });
  const noImage = await get('/images/no-such-image/json');
  assert.equal(noImage.status, 404);
  assert.deepEqual(noImage.json, { message: 'No such image: no-such-image:latest' });
});

test('container create rejects bad input with Docker\'s statuses and messages', async () => {
  const create = (body: string | object, query = '', headers?: Record<string, string>) =>
    post(`/containers/create${query}`, body, headers ?? { 'Content-Type': 'application/json' });
  const before = (await get('/containers/json?all=1')).json.length;

  const badJson = await create('{"Image": "busybox",');
  assert.equal(badJson.status, 400);
  assert.equal(typeof badJson.json.message, 'string');
  assert.ok(badJson.json.message.length > 0);
  assert.deepEqual(Object.keys(badJson.json), ['message']);

  const wrongType = await create('{"Image":"busybox","Cmd":["true"]}', '', { 'Content-Type': 'text/plain' });
  assert.equal(wrongType.status, 400);
  assert.deepEqual(wrongType.json, { message: "unsupported Content-Type header (text/plain): must be 'application/json'" });

  const noImage = await create({ Image: 'x', Cmd: ['true'] });
  assert.equal(noImage.status, 404);
  assert.deepEqual(noImage.json, { message: 'No such image: x:latest' });

  const tinyMemory = await create({ Image: 'busybox', Cmd: ['true'], HostConfig: { Memory: 1000 } });
  assert.equal(tinyMemory.status, 400);
  assert.deepEqual(tinyMemory.json, { message: 'Minimum memory limit allowed is 6MB' });

  const badName = await create({ Image: 'busybox', Cmd: ['true'] }, '?name=bad/name');
  assert.equal(badName.status, 400);
  assert.match(badName.json.message, /^Invalid container name \(bad\/name\)/);

  // Nothing was made by any of the failures.
  assert.equal((await get('/containers/json?all=1')).json.length, before);

  const first = await create({ Image: 'busybox', Cmd: ['true'] }, '?name=api-dup');
  assert.equal(first.status, 201);
  assert.match(first.json.Id, /^[0-9a-f]{64}$/);
  assert.deepEqual(first.json.Warnings, []);
  const dup = await create({ Image: 'busybox', Cmd: ['true'] }, '?name=api-dup');
  assert.equal(dup.status, 409);
  assert.deepEqual(dup.json, {
    message: `Conflict. The container name "/api-dup" is already in use by container "${first.json.Id}". You have to remove (or rename) that container to be able to reuse that name.`,
  });
  // The CLI passes the daemon's words through.
  const cli = await dockerOk(d, ['create', '--name', 'api-dup', 'busybox', 'true']).catch((e: Error) => e.message);
  assert.match(cli, /Conflict\. The container name "\/api-dup" is already in use/);
  assert.equal((await api(d.socket, 'DELETE', `/containers/${first.json.Id}`)).status, 204);
});

test('state conflicts: kill of a stopped container is 409, start of a running one 304, stop of a stopped one 304', async () => {
  const created = await post('/containers/create?name=api-states', { Image: 'busybox', Cmd: ['sleep', '60'] });
  assert.equal(created.status, 201);
  const id = created.json.Id as string;

  const killCreated = await post(`/containers/${id}/kill`);
  assert.equal(killCreated.status, 409);
  assert.deepEqual(killCreated.json, { message: `Container ${id} is not running` });
  assert.equal((await post(`/containers/${id}/stop`)).status, 304);

  assert.equal((await post(`/containers/${id}/start`)).status, 204);
  const again = await post('/containers/api-states/start');
  assert.equal(again.status, 304);
  assert.equal(again.text, '');
  assert.equal((await get(`/containers/${id}/json`)).json.State.Running, true);

  // A running container cannot be removed without force.
  const rm = await api(d.socket, 'DELETE', `/containers/${id}`);
  assert.equal(rm.status, 409);
  assert.match(rm.json.message, /container is running/);

  assert.equal((await post(`/containers/${id}/kill?signal=SIGKILL`)).status, 204);
  const wait = await post(`/containers/${id}/wait`);
  assert.equal(wait.json.StatusCode, 137);
  const killExited = await post(`/containers/${id}/kill`);
  assert.equal(killExited.status, 409);
  assert.deepEqual(killExited.json, { message: `Container ${id} is not running` });
  assert.equal((await post(`/containers/${id}/stop`)).status, 304);

  assert.equal((await post('/containers/api-states/start')).status, 204);
  const bogus = await post(`/containers/${id}/kill?signal=SIGBOGUS`);
  assert.equal(bogus.status, 400);
  assert.equal((await api(d.socket, 'DELETE', `/containers/${id}?force=1`)).status, 204);
  assert.equal((await get(`/containers/${id}/json`)).status, 404);
  assert.equal((await post(`/containers/${id}/start`)).status, 404);
});

test('dockerode: create, start, wait, logs, inspect, remove', async () => {
  const c = await client.createContainer({
    Image: 'busybox', name: 'api-dockerode', Cmd: ['sh', '-c', 'echo "hello $WHO"; echo oops >&2; exit 3'],
    Env: ['WHO=dockerode'], Labels: { suite: 'api' },
  });
  assert.match(c.id, /^[0-9a-f]{64}$/);
  // Like Docker, the default condition (not-running) is met at once by a created container.
  assert.deepEqual(await c.wait(), { StatusCode: 0, Error: null });
  await c.start();
  // After start it holds until the exit (or reports the one that already happened).
  assert.deepEqual(await c.wait(), { StatusCode: 3, Error: null });
  const logs = await c.logs({ stdout: true, stderr: true, follow: false });
  assert.deepEqual(demux(logs as unknown as Buffer), { stdout: 'hello dockerode\n', stderr: 'oops\n' });
  const onlyErr = await c.logs({ stdout: false, stderr: true, follow: false });
  assert.deepEqual(demux(onlyErr as unknown as Buffer), { stdout: '', stderr: 'oops\n' });
  const info = await c.inspect();
  assert.equal(info.Id, c.id);
  assert.equal(info.Name, '/api-dockerode');
  assert.equal(info.Image, imageId);
  assert.equal(info.State.Status, 'exited');
  assert.equal(info.State.ExitCode, 3);
  assert.equal(info.State.Running, false);
  assert.ok(Date.parse(info.State.FinishedAt) >= Date.parse(info.State.StartedAt));
  assert.deepEqual(info.Config.Labels, { suite: 'api' });
  assert.ok(info.Config.Env.includes('WHO=dockerode'));
  assert.equal(info.Path, 'sh');
  assert.deepEqual(info.Args, ['-c', 'echo "hello $WHO"; echo oops >&2; exit 3']);
  await c.remove();
  await assert.rejects(c.inspect(), (err: { statusCode?: number }) => err.statusCode === 404);
});

test('dockerode: listContainers and listImages shapes', async () => {
  const running = await client.createContainer({ Image: 'busybox', name: 'api-list-running', Cmd: ['sleep', '60'], Labels: { role: 'runner' } });
  const stopped = await client.createContainer({ Image: 'busybox', name: 'api-list-created', Cmd: ['true'] });
  try {
    await running.start();
    const runningOnly = await client.listContainers();
    assert.deepEqual(runningOnly.map((c) => c.Id), [running.id]);
    const all = await client.listContainers({ all: true });
    const byId = new Map(all.map((c) => [c.Id, c]));
    const r = byId.get(running.id)!;
    assert.deepEqual(r.Names, ['/api-list-running']);
    assert.equal(r.Image, 'busybox');
    assert.equal(r.ImageID, imageId);
    assert.equal(r.Command, 'sleep 60');
    assert.equal(r.State, 'running');
    assert.match(r.Status, /^Up /);
    assert.deepEqual(r.Labels, { role: 'runner' });
    assert.deepEqual(r.Ports, []);
    assert.equal(typeof r.Created, 'number');
    assert.ok(Math.abs(r.Created - Date.now() / 1000) < 60);
    const s = byId.get(stopped.id)!;
    assert.equal(s.State, 'created');
    assert.equal(s.Status, 'Created');
    const filtered = await client.listContainers({ all: true, filters: { label: ['role=runner'] } });
    assert.deepEqual(filtered.map((c) => c.Id), [running.id]);
    const byName = await client.listContainers({ all: true, filters: JSON.stringify({ name: ['api-list-created'] }) });
    assert.deepEqual(byName.map((c) => c.Id), [stopped.id]);

    const images = await client.listImages();
    const bb = images.find((i) => i.Id === imageId);
    assert.ok(bb, 'busybox is listed');
    assert.ok(bb.RepoTags?.includes('busybox:latest'));
    assert.equal(typeof bb.Size, 'number');
    assert.ok(bb.Size > 100_000, `size ${bb.Size}`);
    assert.equal(typeof bb.Created, 'number');
    assert.equal(bb.ParentId, '');
    assert.ok(Array.isArray(bb.RepoDigests));
    const img = await client.getImage('busybox').inspect();
    assert.equal(img.Id, imageId);
    assert.deepEqual(img.RepoTags, ['busybox:latest']);
  } finally {
    await running.remove({ force: true }).catch(() => {});
    await stopped.remove({ force: true }).catch(() => {});
  }
  await waitFor('containers removed', async () => (await client.listContainers({ all: true })).every((c) => c.Id !== running.id && c.Id !== stopped.id));
});
