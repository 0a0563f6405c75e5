// The volume store on its own: names, drivers, tmpfs and bind-typed volumes, removal, persistence.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { VolumeStore } from '../src/volumes/store.ts';
import { umount2, MNT_DETACH } from '../src/platform/syscalls.ts';
import { startDaemon, type TestDaemon } from './harness.ts';
import { api, docker, berth } from './helpers.ts';

const root = mkdtempSync('/tmp/bvolstore-');
const mounted = new Set<string>();
let d: TestDaemon;
before(async () => {
  d = await startDaemon();
});
after(async () => {
  await d?.stop();
  for (const m of mounted) {
    try { umount2(m, MNT_DETACH); } catch { /* already unmounted */ }
  }
  rmSync(root, { recursive: true, force: true });
});

function isMounted(p: string): string | undefined {
  return readFileSync('/proc/self/mounts', 'utf8').split('\n').find((l) => l.split(' ')[1] === p);
}

test('create, get, idempotent re-create, invalid names and drivers, rm of a missing volume', async () => {
  const s = new VolumeStore(path.join(root, 'a'));
  await s.init();
  const { volume, created } = await s.create({ Name: 'data1', Labels: { k: 'v' } });
  assert.equal(created, true);
  assert.equal(volume.Mountpoint, path.join(root, 'a', 'data1', '_data'));
  assert.match(volume.CreatedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal((await s.create({ Name: 'data1' })).created, false);
  const anon = (await s.create({ anonymous: true })).volume;
  assert.match(anon.Name, /^[0-9a-f]{64}$/);
  assert.equal(anon.Anonymous, true);
  await assert.rejects(s.create({ Name: 'x/y' }), /create x\/y: "x\/y" includes invalid characters for a local volume name/);
  await assert.rejects(s.create({ Name: 'v', Driver: 'nope' }), /plugin "nope" not found/);
  await assert.rejects(s.remove('missing', { force: false }), /get missing: no such volume/);
  await s.remove('missing', { force: true });
  s.usedBy = (n) => (n === 'data1' ? ['abc'] : []);
  await assert.rejects(s.remove('data1', { force: false }), /remove data1: volume is in use - \[abc\]/);
  s.usedBy = () => [];
  const pruned = await s.prune({ all: false });
  assert.deepEqual(pruned.VolumesDeleted, [anon.Name]);
  // Reloaded from disk by a new store.
  const s2 = new VolumeStore(path.join(root, 'a'));
  await s2.init();
  assert.deepEqual(s2.get('data1')?.Labels, { k: 'v' });
  await s2.remove('data1', { force: false });
  assert.equal(s2.list().length, 0);
});

test('a tmpfs-typed volume is mounted with its size while used, unmounted after', async () => {
  const s = new VolumeStore(path.join(root, 'b'));
  await s.init();
  const { volume } = await s.create({ Name: 'tv', DriverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=8m' } });
  const src = await s.mountSource(volume);
  mounted.add(src);
  assert.equal(src, volume.Mountpoint);
  await s.mountSource(volume); // second user: refcounted
  const line = isMounted(src);
  assert.ok(line?.startsWith('tmpfs '), line);
  assert.match(line!, /size=8192k/);
  await s.release(volume);
  assert.ok(isMounted(src), 'still mounted for the second user');
  await s.release(volume);
  assert.equal(isMounted(src), undefined);
});

test('a bind-typed volume with a missing device fails to mount', async () => {
  const s = new VolumeStore(path.join(root, 'c'));
  await s.init();
  const { volume } = await s.create({ Name: 'bv', DriverOpts: { type: 'none', o: 'bind', device: path.join(root, 'nothere') } });
  await assert.rejects(s.mountSource(volume), /no such file or directory/);
  const ok = (await s.create({ Name: 'bv2', DriverOpts: { type: 'none', o: 'bind', device: root } })).volume;
  assert.equal(await s.mountSource(ok), root);
});

test('the /volumes API: create 201, filters, 404 and 400 messages, persistence across a restart', async () => {
  const c = await api(d.socket, 'POST', '/volumes/create', { body: { Name: 'api-vol', Labels: { tier: 'db' } } });
  assert.equal(c.status, 201);
  assert.deepEqual(Object.keys(c.json), ['CreatedAt', 'Driver', 'Labels', 'Mountpoint', 'Name', 'Options', 'Scope']);
  assert.equal(c.json.Options, null);
  await api(d.socket, 'POST', '/volumes/create', { body: { Name: 'plain-vol' } });
  const q = (f: object) => api(d.socket, 'GET', `/volumes?filters=${encodeURIComponent(JSON.stringify(f))}`);
  assert.deepEqual((await q({ label: ['tier=db'] })).json.Volumes.map((v: { Name: string }) => v.Name), ['api-vol']);
  assert.deepEqual((await q({ label: ['tier'] })).json.Volumes.map((v: { Name: string }) => v.Name), ['api-vol']);
  assert.deepEqual((await q({ name: ['plain'] })).json.Volumes.map((v: { Name: string }) => v.Name), ['plain-vol']);
  assert.equal((await q({ dangling: ['true'] })).json.Volumes.length, 2);
  assert.equal((await q({ dangling: ['false'] })).json.Volumes.length, 0);
  const missing = await api(d.socket, 'DELETE', '/volumes/nope');
  assert.equal(missing.status, 404);
  assert.equal(missing.json.message, 'get nope: no such volume');
  const bad = await api(d.socket, 'POST', '/volumes/create', { body: { Name: 'x/y' } });
  assert.equal(bad.status, 400);
  await d.restart();
  assert.equal((await api(d.socket, 'GET', '/volumes/api-vol')).json.Labels.tier, 'db');
  for (const args of [['volume', 'ls'], ['volume', 'inspect', 'api-vol', 'plain-vol'], ['volume', 'rm', 'nope']]) {
    const [a, b] = [await docker(d, args), await berth(d, args)];
    assert.deepEqual({ code: b.code, stdout: b.stdout, stderr: b.stderr }, { code: a.code, stdout: a.stdout, stderr: a.stderr }, args.join(' '));
  }
  assert.equal((await berth(d, ['volume', 'remove', 'api-vol', 'plain-vol'])).stdout, 'api-vol\nplain-vol\n');
  assert.equal((await q({})).json.Volumes.length, 0);
});
