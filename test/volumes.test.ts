// Volumes and mounts in containers: named, anonymous and image volumes, binds, tmpfs, --volumes-from,
// copy-up, and the hostile cases. Real berthd, crun and the docker CLI.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { startDaemon, type TestDaemon } from './harness.ts';
import { docker, berth, dockerOk, bootstrap, waitFor } from './helpers.ts';

let d: TestDaemon;
let host: string;

before(async () => {
  d = await startDaemon();
  await bootstrap(d);
  host = mkdtempSync('/tmp/bvol-');
});
after(async () => {
  await d?.stop();
  if (host) rmSync(host, { recursive: true, force: true });
});

test('a named volume carries data between containers, past their removal and a daemon restart', async () => {
  await dockerOk(d, ['run', '--rm', '-v', 'shared:/data', 'busybox', 'sh', '-c', 'echo persisted > /data/file']);
  assert.equal(await dockerOk(d, ['run', '--rm', '-v', 'shared:/in:ro', 'busybox', 'cat', '/in/file']), 'persisted');
  await d.restart();
  assert.equal(await dockerOk(d, ['run', '--rm', '-v', 'shared:/again', 'busybox', 'cat', '/again/file']), 'persisted');
  const ro = await docker(d, ['run', '--rm', '-v', 'shared:/in:ro', 'busybox', 'sh', '-c', 'echo x > /in/other']);
  assert.notEqual(ro.code, 0);
  assert.match(ro.stderr, /Read-only file system/);
});

test('binds: read-only and read-write; removing the container keeps the host files', async () => {
  writeFileSync(`${host}/in.txt`, 'from host\n');
  assert.equal(await dockerOk(d, ['run', '--rm', '-v', `${host}:/h:ro`, 'busybox', 'cat', '/h/in.txt']), 'from host');
  const id = (await dockerOk(d, ['run', '-d', '-v', `${host}:/h`, 'busybox', 'sh', '-c', 'echo from container > /h/out.txt'])).trim();
  await dockerOk(d, ['wait', id]);
  await dockerOk(d, ['rm', '-v', id]);
  assert.equal(readFileSync(`${host}/out.txt`, 'utf8'), 'from container\n');
  assert.equal(readFileSync(`${host}/in.txt`, 'utf8'), 'from host\n');
  const missing = await docker(d, ['run', '--rm', '--mount', `type=bind,source=${host}/nope,target=/x`, 'busybox', 'true']);
  assert.equal(missing.code, 125);
  assert.match(missing.stderr, /bind source path does not exist/);
  await dockerOk(d, ['run', '--rm', '-v', `${host}/made-by-v:/x`, 'busybox', 'true']);
  assert.ok(existsSync(`${host}/made-by-v`), '-v creates a missing host path, as Docker does');
});

test('tmpfs has the requested size; --read-only root with writable mounts', async () => {
  const df = await dockerOk(d, ['run', '--rm', '--mount', 'type=tmpfs,target=/t,tmpfs-size=2m', 'busybox', 'df', '-k', '/t']);
  assert.match(df.split('\n')[1], /^tmpfs\s+2048\s/);
  const out = await dockerOk(d, ['run', '--rm', '--read-only', '--tmpfs', '/w', '-v', 'rw-vol:/v', 'busybox', 'sh', '-c', 'echo a > /w/a && echo b > /v/b && cat /w/a /v/b; touch /root/x 2>&1 || true']);
  assert.match(out, /^a\nb\n.*Read-only file system/s);
});

test('copy-up fills a new volume from the image, unless nocopy', async () => {
  assert.equal(await dockerOk(d, ['run', '--rm', '-v', 'etc-copy:/etc', 'busybox', 'true']), '');
  assert.match(await dockerOk(d, ['run', '--rm', '-v', 'etc-copy:/x', 'busybox', 'cat', '/x/passwd']), /^root:x:0:0:/);
  assert.equal(await dockerOk(d, ['run', '--rm', '-v', 'etc-nocopy:/etc:nocopy', 'busybox', 'ls', '-A', '/etc']), '');
});

test('anonymous volumes: -v /dst and image VOLUMEs, removed by rm -v and --rm; --volumes-from', async () => {
  await dockerOk(d, ['commit', '--change', 'VOLUME /data', await makeContainer(), 'with-volume:1']);
  const id = (await dockerOk(d, ['create', '-v', '/scratch', 'with-volume:1', 'sh', '-c', 'echo hi > /data/x'])).trim();
  const mounts = JSON.parse(await dockerOk(d, ['inspect', '-f', '{{json .Mounts}}', id])) as { Type: string; Name: string; Destination: string; RW: boolean }[];
  assert.deepEqual(mounts.map((m) => m.Destination).sort(), ['/data', '/scratch']);
  assert.ok(mounts.every((m) => m.Type === 'volume' && /^[0-9a-f]{64}$/.test(m.Name)));
  await dockerOk(d, ['start', '-a', id]);
  // --volumes-from sees the same volumes, read-only with :ro.
  assert.equal(await dockerOk(d, ['run', '--rm', '--volumes-from', `${id}:ro`, 'busybox', 'cat', '/data/x']), 'hi');
  const ro = await docker(d, ['run', '--rm', '--volumes-from', `${id}:ro`, 'busybox', 'touch', '/data/y']);
  assert.notEqual(ro.code, 0);
  const before = (await dockerOk(d, ['volume', 'ls', '-q'])).split('\n');
  for (const m of mounts) assert.ok(before.includes(m.Name));
  await dockerOk(d, ['rm', '-v', id]);
  const afterRm = (await dockerOk(d, ['volume', 'ls', '-q'])).split('\n');
  for (const m of mounts) assert.ok(!afterRm.includes(m.Name), `anonymous volume ${m.Name} removed by rm -v`);
  // --rm removes anonymous volumes too.
  const countBefore = (await dockerOk(d, ['volume', 'ls', '-q'])).split('\n').filter(Boolean).length;
  await dockerOk(d, ['run', '--rm', '-v', '/tmpvol', 'busybox', 'true']);
  assert.equal((await dockerOk(d, ['volume', 'ls', '-q'])).split('\n').filter(Boolean).length, countBefore);
});

test('a volume in use cannot be removed (409)', async () => {
  const id = (await dockerOk(d, ['create', '-v', 'busy-vol:/b', 'busybox', 'true'])).trim();
  assert.equal(await dockerOk(d, ['ps', '-aq', '--no-trunc', '--filter', 'volume=busy-vol']), id);
  assert.equal(await dockerOk(d, ['ps', '-aq', '--no-trunc', '--filter', 'volume=/b']), id);
  const r = await docker(d, ['volume', 'rm', 'busy-vol']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /volume is in use/);
  await dockerOk(d, ['rm', id]);
  await dockerOk(d, ['volume', 'rm', 'busy-vol']);
});

test('a symlink planted in a shared volume cannot send a later mount onto the host', async () => {
  const marker = `berth-escape-${randomBytes(4).toString('hex')}`;
  // The first container turns /shared/link into a symlink to /etc.
  await dockerOk(d, ['run', '--rm', '-v', 'trap:/shared', 'busybox', 'ln', '-s', '/etc', '/shared/link']);
  // The second mounts the volume and a host dir on top of that symlink, then writes through it.
  await dockerOk(d, ['run', '--rm', '-v', 'trap:/mnt', '-v', `${host}:/mnt/link`, 'busybox', 'sh', '-c', `touch /mnt/link/${marker}; true`]);
  assert.equal(existsSync(`/etc/${marker}`), false, 'nothing reached the host /etc');
  assert.ok(existsSync(`${host}/${marker}`), 'the bind landed inside the container, on the symlink target');
});

test('docker volume create/ls/inspect/prune render as Docker does', async () => {
  assert.equal(await dockerOk(d, ['volume', 'create', '--label', 'team=a', 'lab-vol']), 'lab-vol');
  const ls = (await dockerOk(d, ['volume', 'ls', '--filter', 'label=team=a'])).split('\n');
  assert.deepEqual(ls.map((l) => l.split(/\s+/)), [['DRIVER', 'VOLUME', 'NAME'], ['local', 'lab-vol']]);
  const [v] = JSON.parse(await dockerOk(d, ['volume', 'inspect', 'lab-vol']));
  assert.equal(v.Name, 'lab-vol');
  assert.equal(v.Driver, 'local');
  assert.equal(v.Scope, 'local');
  assert.deepEqual(v.Labels, { team: 'a' });
  assert.equal(v.Mountpoint, `${d.dataRoot}/volumes/lab-vol/_data`);
  assert.match(v.CreatedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(await dockerOk(d, ['volume', 'inspect', '-f', '{{.Labels.team}}', 'lab-vol']), 'a');
  const missing = await docker(d, ['volume', 'inspect', 'no-such-vol']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no such volume/);
  const bad = await docker(d, ['volume', 'create', 'bad/name']);
  assert.match(bad.stderr, /includes invalid characters for a local volume name/);
  // --mount volume options create the volume with them.
  await dockerOk(d, ['run', '--rm', '--mount', 'type=volume,source=opt-vol,target=/o,volume-label=made=by-mount', 'busybox', 'true']);
  assert.equal(await dockerOk(d, ['volume', 'inspect', '-f', '{{.Labels.made}}', 'opt-vol']), 'by-mount');
  // prune: anonymous unused volumes only; -a also named ones; in-use ones never.
  const anon = (await dockerOk(d, ['create', '-v', '/anon', 'busybox', 'true'])).trim();
  const anonName = JSON.parse(await dockerOk(d, ['inspect', '-f', '{{json .Mounts}}', anon]))[0].Name as string;
  await dockerOk(d, ['rm', anon]);
  const pruned = await dockerOk(d, ['volume', 'prune', '-f']);
  assert.match(pruned, new RegExp(`Deleted Volumes:\n${anonName}`));
  assert.ok((await dockerOk(d, ['volume', 'ls', '-q'])).split('\n').includes('lab-vol'));
  const holder = (await dockerOk(d, ['create', '-v', 'held-vol:/h', 'busybox', 'true'])).trim();
  await dockerOk(d, ['volume', 'prune', '-a', '-f']);
  const left = (await dockerOk(d, ['volume', 'ls', '-q'])).split('\n');
  assert.ok(left.includes('held-vol') && !left.includes('lab-vol'), left.join(','));
  await dockerOk(d, ['rm', holder]);
});

test('berth volume prints what docker volume prints', async () => {
  for (const args of [['volume', 'create', '--label', 'x=y', 'same-vol'], ['volume', 'ls'], ['volume', 'ls', '-q', '--filter', 'label=x=y'],
    ['volume', 'inspect', 'same-vol'], ['volume', 'inspect', '-f', '{{.Name}} {{.Labels}}', 'same-vol'], ['volume', 'rm', 'no-such-volume']]) {
    const [a, b] = [await docker(d, args), await berth(d, args)];
    assert.deepEqual({ code: b.code, stdout: b.stdout, stderr: b.stderr }, { code: a.code, stdout: a.stdout, stderr: a.stderr }, args.join(' '));
  }
  const [rmB, rmD] = [await berth(d, ['volume', 'rm', 'same-vol']), await docker(d, ['volume', 'rm', 'same-vol'])];
  assert.equal(rmB.stdout, 'same-vol\n');
  assert.match(rmD.stderr, /no such volume/);
});

test('docker cp reads and writes through volume and bind mounts, as the container sees them', async () => {
  const out = mkdtempSync('/tmp/bvol-cp-');
  try {
    writeFileSync(`${out}/in.txt`, 'to the volume\n');
    const id = (await dockerOk(d, ['run', '-d', '-v', 'cp-vol:/data', '-v', `${host}:/b`, 'busybox', 'sh', '-c', 'mkdir -p /data/d && echo inside > /data/d/f && sleep 300'])).trim();
    await waitFor('the container wrote its file', async () => (await docker(d, ['exec', id, 'test', '-f', '/data/d/f'])).code === 0);
    await dockerOk(d, ['cp', `${id}:/data/d/f`, `${out}/f`]);
    assert.equal(readFileSync(`${out}/f`, 'utf8'), 'inside\n');
    await dockerOk(d, ['cp', `${id}:/data`, `${out}/`]);
    assert.equal(readFileSync(`${out}/data/d/f`, 'utf8'), 'inside\n');
    await dockerOk(d, ['cp', `${out}/in.txt`, `${id}:/data/in.txt`]);
    assert.equal(await dockerOk(d, ['exec', id, 'cat', '/data/in.txt']), 'to the volume');
    await dockerOk(d, ['cp', `${out}/in.txt`, `${id}:/b/`]);
    assert.equal(readFileSync(`${host}/in.txt`, 'utf8'), 'to the volume\n');
    await dockerOk(d, ['rm', '-f', id]);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

async function makeContainer(): Promise<string> {
  return (await dockerOk(d, ['create', 'busybox', 'true'])).trim();
}
