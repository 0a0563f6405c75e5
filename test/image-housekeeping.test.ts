// Image housekeeping through the real docker CLI: history along the parent chain `docker commit` makes, rmi of
// parents and children, image prune (dangling, -a, until, label) and system df, against a real berthd.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { startDaemon, type TestDaemon } from './harness.ts';
import { api, bootstrap, docker, dockerOk, waitFor } from './helpers.ts';

let d: TestDaemon;
let busyboxId: string;
let tmp: string;

before(async () => {
  d = await startDaemon();
  busyboxId = await bootstrap(d);
  tmp = mkdtempSync('/tmp/bt-hk-');
});

after(async () => {
  await d?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const short = (id: string) => id.slice(7, 19);
const lines = (s: string) => s.split('\n').filter(Boolean);
const exists = async (ref: string) => (await docker(d, ['image', 'inspect', ref])).code === 0;

/** Runs `script` in a container of `image`, commits it (tagged `tag` when given) and removes the container. */
async function commitFrom(image: string, script: string, tag?: string, opts: string[] = []): Promise<string> {
  const name = `hk-${randomBytes(4).toString('hex')}`;
  await dockerOk(d, ['run', '--name', name, image, 'sh', '-c', script]);
  const id = await dockerOk(d, ['commit', ...opts, name, ...(tag ? [tag] : [])]);
  await dockerOk(d, ['rm', name]);
  return id;
}

/** docker events between two instants, as `Action ID` lines. */
async function imageEvents(since: string, fmt = '{{.Action}} {{.Actor.ID}}'): Promise<string[]> {
  const until = (Date.now() / 1000 + 0.001).toFixed(3);
  return lines(await dockerOk(d, ['events', '--since', since, '--until', until, '--filter', 'type=image', '--format', fmt]));
}

test('history: newest first, the IDs and tags of the image and its local parents, layer sizes; <missing> past the chain', async () => {
  const p = await commitFrom('busybox', 'head -c 12345 /dev/zero > /f', 'hist-p:1');
  const c = await commitFrom('hist-p:1', 'head -c 1000 /dev/zero > /g', 'hist-c:1', ['-m', 'second layer']);
  const out = await dockerOk(d, ['history', '--no-trunc', '--format', '{{.ID}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}', 'hist-c:1']);
  assert.deepEqual(lines(out), [
    `${c}|sh -c head -c 1000 /dev/zero > /g|1kB|second layer`,
    `${p}|sh -c head -c 12345 /dev/zero > /f|12.3kB|`,
    `${busyboxId}||${lines(out)[2].split('|')[2]}|Imported from -`,
  ]);
  const table = lines(await dockerOk(d, ['history', 'hist-c:1']));
  assert.match(table[0], /^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$/);
  assert.match(table[1], new RegExp(`^${short(c)}\\s+(Less than a second|\\d+ seconds?) ago\\s+sh -c head -c 1000 /dev/zero > /g\\s+1kB\\s+second layer$`));

  const h = await api(d.socket, 'GET', '/images/hist-c:1/history');
  assert.equal(h.status, 200);
  const created = Math.floor(Date.parse(await dockerOk(d, ['image', 'inspect', '--format', '{{.Created}}', c])) / 1000);
  assert.deepEqual(h.json[0], { Id: c, Created: created, CreatedBy: 'sh -c head -c 1000 /dev/zero > /g', Tags: ['hist-c:1'], Size: 1000, Comment: 'second layer' });
  assert.deepEqual(h.json.map((e: { Id: string; Tags: string[] | null }) => [e.Id, e.Tags]), [[c, ['hist-c:1']], [p, ['hist-p:1']], [busyboxId, ['busybox:latest']]]);
  await dockerOk(d, ['tag', 'hist-c:1', 'hist-c:2']);
  assert.deepEqual((await api(d.socket, 'GET', `/images/${c}/history`)).json[0].Tags, ['hist-c:1', 'hist-c:2']);
  await dockerOk(d, ['rmi', 'hist-c:2']);

  // Saved and loaded back, the image has no local parent any more: the older entries are <missing>, untagged.
  const tar = path.join(tmp, 'hist.tar');
  await dockerOk(d, ['save', '-o', tar, 'hist-c:1']);
  assert.equal(await dockerOk(d, ['rmi', 'hist-c:1']), `Untagged: hist-c:1\nDeleted: ${c}`);
  await dockerOk(d, ['load', '-q', '-i', tar]);
  assert.deepEqual(lines(await dockerOk(d, ['history', '--no-trunc', '--format', '{{.ID}} {{.Size}}', 'hist-c:1'])), [`${c} 1kB`, '<missing> 12.3kB', `<missing> ${lines(out)[2].split('|')[2]}`]);
  const loaded = (await api(d.socket, 'GET', '/images/hist-c:1/history')).json;
  assert.deepEqual(loaded.map((e: { Tags: string[] | null }) => e.Tags), [['hist-c:1'], null, null]);
  await dockerOk(d, ['rmi', 'hist-c:1', 'hist-p:1']);
  assert.equal(await exists(p), false);
});

test('rmi: a parent with children cannot be deleted; by tag it is untagged; the last child takes its untagged parents', async () => {
  const since = (Date.now() / 1000).toFixed(3);
  const p = await commitFrom('busybox', 'echo p > /p', 'rmi-p:1');
  const c = await commitFrom('rmi-p:1', 'echo c > /c', 'rmi-c:1');
  const msg = `Error response from daemon: conflict: unable to delete ${short(p)} (cannot be forced) - image has dependent child images\n`;
  for (const args of [['rmi', short(p)], ['rmi', '-f', p]]) {
    const r = await docker(d, args);
    assert.equal(r.code, 1, args.join(' '));
    assert.equal(r.stderr, msg);
  }
  const viaApi = await api(d.socket, 'DELETE', `/images/${p}?force=1`);
  assert.equal(viaApi.status, 409);

  assert.equal(await dockerOk(d, ['rmi', 'rmi-p:1']), 'Untagged: rmi-p:1');
  assert.ok(await exists(p), 'the untagged parent stays for its child');
  assert.ok(!lines(await dockerOk(d, ['images', '-q', '--no-trunc'])).includes(p), 'an untagged intermediate is hidden');
  assert.ok(lines(await dockerOk(d, ['images', '-a', '-q', '--no-trunc'])).includes(p), 'and shown with -a');

  assert.equal(await dockerOk(d, ['rmi', 'rmi-c:1']), `Untagged: rmi-c:1\nDeleted: ${c}\nDeleted: ${p}`);
  assert.equal(await exists(p), false);
  assert.ok(await exists('busybox'), 'a tagged parent stays');
  assert.deepEqual((await imageEvents(since)).filter((l) => /^(untag|delete) /.test(l)), [
    `untag ${p}`, `untag ${c}`, `delete ${c}`, `delete ${p}`,
  ]);
});

test('rmi of a child leaves a parent that is tagged, used by a container, or kept by --no-prune', async () => {
  const tagged = await commitFrom('busybox', 'echo a > /a', 'rmi-tagged:1');
  const c1 = await commitFrom('rmi-tagged:1', 'echo b > /b', 'rmi-c1:1');
  assert.equal(await dockerOk(d, ['rmi', 'rmi-c1:1']), `Untagged: rmi-c1:1\nDeleted: ${c1}`);
  assert.ok(await exists(tagged));

  const used = await commitFrom('busybox', 'echo u > /u');
  const user = await dockerOk(d, ['create', used, 'true']);
  const c2 = await commitFrom(used, 'echo c > /c', 'rmi-c2:1');
  assert.equal(await dockerOk(d, ['rmi', 'rmi-c2:1']), `Untagged: rmi-c2:1\nDeleted: ${c2}`);
  assert.ok(await exists(used), 'used by a stopped container');
  const r = await docker(d, ['rmi', used]);
  assert.equal(r.stderr, `Error response from daemon: conflict: unable to delete ${short(used)} (must be forced) - image is being used by stopped container ${user.slice(0, 12)}\n`);
  await dockerOk(d, ['rm', user]);

  const c3 = await commitFrom(used, 'echo c > /c', 'rmi-c3:1');
  assert.equal(await dockerOk(d, ['rmi', '--no-prune', 'rmi-c3:1']), `Untagged: rmi-c3:1\nDeleted: ${c3}`);
  assert.ok(await exists(used), '--no-prune');
  assert.equal(await dockerOk(d, ['rmi', used]), `Deleted: ${used}`);

  // A running container's image forced by tag is only untagged (Docker's rule), by ID it cannot be forced.
  const running = await dockerOk(d, ['run', '-d', 'rmi-tagged:1', 'sleep', '60']);
  const byId = await docker(d, ['rmi', '-f', tagged]);
  assert.equal(byId.stderr, `Error response from daemon: conflict: unable to delete ${short(tagged)} (cannot be forced) - image is being used by running container ${running.slice(0, 12)}\n`);
  assert.equal(await dockerOk(d, ['rmi', '-f', 'rmi-tagged:1']), 'Untagged: rmi-tagged:1');
  assert.ok(await exists(tagged));
  await dockerOk(d, ['rm', '-f', running]);
  assert.equal(await dockerOk(d, ['rmi', tagged]), `Deleted: ${tagged}`);
});

test('image prune: dangling images no container uses, with until and label filters; events', async () => {
  const since = (Date.now() / 1000).toFixed(3);
  const dangling = await commitFrom('busybox', 'head -c 5000 /dev/zero > /x');
  const labelled = await commitFrom('busybox', 'head -c 300 /dev/zero > /y', undefined, ['--change', 'LABEL keep=yes']);
  const used = await commitFrom('busybox', 'echo u > /u');
  const user = await dockerOk(d, ['create', used, 'true']);
  const intermediate = await commitFrom('busybox', 'echo i > /i');
  const child = await commitFrom(intermediate, 'echo c > /c', 'prune-child:1');

  const recent = await dockerOk(d, ['image', 'prune', '-f', '--filter', 'until=1h']);
  assert.equal(recent, 'Total reclaimed space: 0B', 'everything is newer than an hour');
  const out = await dockerOk(d, ['image', 'prune', '-f', '--filter', 'label!=keep=yes']);
  assert.equal(out, `Deleted Images:\ndeleted: sha256:${dangling.slice(7)}\n\nTotal reclaimed space: 5kB`);
  for (const id of [labelled, used, intermediate, child, busyboxId]) assert.ok(await exists(id), id);
  assert.equal(await exists(dangling), false);
  assert.equal(await dockerOk(d, ['image', 'prune', '-f', '--filter', 'label=keep=yes', '--filter', `until=${Math.floor(Date.now() / 1000) + 60}`]),
    `Deleted Images:\ndeleted: sha256:${labelled.slice(7)}\n\nTotal reclaimed space: 300B`);

  const api1 = await api(d.socket, 'POST', '/images/prune');
  assert.equal(api1.status, 200);
  assert.deepEqual(api1.json, { ImagesDeleted: null, SpaceReclaimed: 0 });
  const bad = await docker(d, ['image', 'prune', '-f', '--filter', 'color=red']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /invalid filter 'color'/);
  const badBool = await api(d.socket, 'POST', `/images/prune?filters=${encodeURIComponent('{"dangling":["maybe"]}')}`);
  assert.equal(badBool.status, 400);
  assert.equal(badBool.json.message, "invalid filter 'dangling=maybe'");

  const ev = await imageEvents(since, '{{.Action}} {{.Actor.ID}} {{index .Actor.Attributes "reclaimed"}}');
  assert.deepEqual(ev.filter((l) => /^(delete|prune) /.test(l)), [
    'prune  0', `delete ${dangling} `, 'prune  5000', `delete ${labelled} `, 'prune  300', 'prune  0',
  ]);

  // The child, once untagged, is dangling: it goes with its untagged parent.
  await dockerOk(d, ['rmi', '--no-prune', 'prune-child:1']);
  await dockerOk(d, ['tag', 'busybox', 'prune-keep:1']);
  const chain = await api(d.socket, 'POST', '/images/prune');
  assert.deepEqual(chain.json.ImagesDeleted, [{ Deleted: intermediate }]);
  await dockerOk(d, ['rmi', 'prune-keep:1']);
  await dockerOk(d, ['rm', user]);
  assert.equal(await dockerOk(d, ['rmi', used]), `Deleted: ${used}`);
});

test('system df: layer, image, container and volume sizes; type= narrows the answer', async () => {
  await dockerOk(d, ['volume', 'create', 'hk-vol']);
  await dockerOk(d, ['volume', 'create', '--opt', 'type=tmpfs', '--opt', 'device=tmpfs', 'hk-tmpfs']);
  const cid = await dockerOk(d, ['create', '--name', 'hk-df', '-v', 'hk-vol:/v', 'busybox', 'sh', '-c', 'head -c 4321 /dev/zero > /v/data; head -c 777 /dev/zero > /rw; ln -s /nowhere/at/all /link']);
  await dockerOk(d, ['start', '-a', cid]);
  const bbSize = Number(await dockerOk(d, ['image', 'inspect', '--format', '{{.Size}}', 'busybox']));

  const r = await api(d.socket, 'GET', '/system/df');
  assert.equal(r.status, 200);
  const du = r.json;
  assert.deepEqual(Object.keys(du), ['LayersSize', 'Images', 'Containers', 'Volumes', 'BuildCache']);
  assert.ok(du.LayersSize >= bbSize);
  assert.deepEqual(du.BuildCache, []);
  const bb = du.Images.find((i: { Id: string }) => i.Id === busyboxId);
  assert.equal(bb.Containers, 1);
  assert.equal(bb.Size, bbSize);
  assert.equal(typeof bb.SharedSize, 'number');
  assert.deepEqual(bb.RepoTags, ['busybox:latest']);
  const c = du.Containers.find((x: { Id: string }) => x.Id === cid);
  // 777 bytes and a symlink of 15 (its target is not followed); the volume is not in the container's layer.
  assert.equal(c.SizeRw, 777 + 15);
  assert.equal(c.SizeRootFs, bbSize + 777 + 15);
  assert.equal(c.Names[0], '/hk-df');
  assert.equal(c.State, 'exited');
  assert.deepEqual(du.Volumes.map((v: { Name: string }) => v.Name), ['hk-vol'], 'a volume with driver options is not local disk');
  assert.deepEqual(du.Volumes[0].UsageData, { Size: 4321, RefCount: 1 });
  assert.equal(du.Volumes[0].Driver, 'local');

  const vols = (await api(d.socket, 'GET', '/system/df?type=volume')).json;
  assert.deepEqual(vols, { LayersSize: 0, Images: null, Containers: null, Volumes: du.Volumes, BuildCache: null });
  const two = (await api(d.socket, 'GET', '/system/df?type=image&type=container')).json;
  assert.equal(two.Volumes, null);
  assert.equal(two.LayersSize, du.LayersSize);
  assert.equal(two.Containers.length, du.Containers.length);
  const bad = await api(d.socket, 'GET', '/system/df?type=bogus');
  assert.equal(bad.status, 400);
  assert.equal(bad.json.message, 'unknown object type: bogus');
  const old = (await api(d.socket, 'GET', '/v1.41/system/df?type=volume')).json;
  assert.ok(old.Images && old.Containers, 'type= is ignored before API 1.42');
  assert.equal(old.Images.find((i: { Id: string }) => i.Id === busyboxId).VirtualSize, bbSize);

  const table = lines(await dockerOk(d, ['system', 'df']));
  assert.match(table[0], /^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE$/);
  assert.match(table[1], new RegExp(`^Images\\s+${du.Images.length}\\s+1\\s+`));
  assert.match(table[2], new RegExp(`^Containers\\s+${du.Containers.length}\\s+0\\s+`));
  assert.match(table[3], /^Local Volumes\s+1\s+1\s+4\.321kB\s+0B \(0%\)$/);
  assert.match(table[4], /^Build Cache\s+0\s+0\s+0B\s+0B$/);
  const verbose = await dockerOk(d, ['system', 'df', '-v']);
  assert.match(verbose, /^Images space usage:\n/);
  assert.match(verbose, /\nhk-vol\s+1\s+4\.321kB\n/);
  assert.match(verbose, new RegExp(`\\n${cid.slice(0, 12)}\\s+busybox\\s+"sh -c head -c 4321 …"\\s+1\\s+792B\\s+`));
  assert.match(verbose, /\nbusybox\s+latest\s+\w{12}\s+.*\s+1\n/);

  await dockerOk(d, ['rm', cid]);
  await dockerOk(d, ['volume', 'rm', 'hk-vol', 'hk-tmpfs']);
});

test('image prune -a: every image without a container goes; used images and their parents stay (untagged)', async () => {
  const base = await commitFrom('busybox', 'echo b > /b', 'all-base:1');
  const kept = await commitFrom('all-base:1', 'echo k > /k', 'all-kept:1');
  const gone = await commitFrom('busybox', 'head -c 2000 /dev/zero > /g', 'all-gone:1');
  await dockerOk(d, ['tag', 'all-gone:1', 'all-gone:2']);
  const user = await dockerOk(d, ['create', 'all-kept:1', 'true']);
  const out = lines(await dockerOk(d, ['image', 'prune', '-a', '-f']));
  assert.equal(out[0], 'Deleted Images:');
  assert.deepEqual(out.slice(1, -1).sort(), ['deleted: ' + gone, 'untagged: all-base:1', 'untagged: all-gone:1', 'untagged: all-gone:2', 'untagged: busybox:latest'].sort());
  assert.match(out.at(-1)!, /^Total reclaimed space: 2kB$/);
  // Docker's ImageDelete untags the parents no container uses directly, and keeps them for their child.
  for (const id of [kept, base, busyboxId]) assert.ok(await exists(id), id);
  assert.equal(await dockerOk(d, ['images', '--format', '{{.Repository}}:{{.Tag}}']), 'all-kept:1');
  assert.equal(lines(await dockerOk(d, ['images', '-a', '-q'])).length, 3);

  await dockerOk(d, ['rm', user]);
  const r = await api(d.socket, 'POST', `/images/prune?filters=${encodeURIComponent('{"dangling":{"false":true}}')}`);
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.ImagesDeleted, [{ Untagged: 'all-kept:1' }, { Deleted: kept }, { Deleted: base }, { Deleted: busyboxId }]);
  assert.ok(r.json.SpaceReclaimed > 1_000_000, 'the busybox layer is reclaimed too');
  assert.equal(await dockerOk(d, ['images', '-a', '-q']), '');
  assert.equal((await api(d.socket, 'GET', '/system/df')).json.LayersSize, 0);
});

test('docker ps -s shows the size of the container\'s own changes and of its whole root filesystem', async () => {
  await bootstrap(d); // the prunes above may have removed it
  const id = await dockerOk(d, ['run', '-d', 'busybox', 'sh', '-c', 'head -c 300000 /dev/zero > /written && sleep 300']);
  try {
    await waitFor('the file is written', async () => (await docker(d, ['exec', id, 'ls', '/written'])).code === 0);
    const line = await dockerOk(d, ['ps', '-s', '--filter', `id=${id}`, '--format', '{{.Size}}']);
    // "300kB (virtual 1.2MB)": the upper dir holds the 300 kB file; the virtual size adds the image's.
    const m = /^([\d.]+)kB \(virtual ([\d.]+)(k|M)B\)$/.exec(line);
    assert.ok(m, line);
    assert.ok(Number(m[1]) >= 300 && Number(m[1]) < 320, line);
  } finally {
    await docker(d, ['rm', '-f', id]);
  }
});
