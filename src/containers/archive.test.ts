import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { encodeHeader, END_OF_ARCHIVE, pad, ByteSource, TarReader } from '../layers/archive-tar.ts';
import type { WriteHeader } from '../layers/archive-tar.ts';
import { lsetxattr, makedev, mknod, S_IFCHR } from '../platform/syscalls.ts';
import { BerthError } from '../lib/errors.ts';
import {
  archivePath, containerAbsPath, containerChanges, exportRootfs, extractToDir, goFileMode, goTimeJSON, resolveScoped, statPath,
  stubExcluder, upperSize,
} from './archive.ts';

let tmp: string;
let root: string;
let canaryDir: string;
const CANARY = 'host secret\n';

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-cfs-'));
  root = path.join(tmp, 'rootfs');
  canaryDir = path.join(tmp, 'host');
  fs.mkdirSync(canaryDir);
  fs.writeFileSync(path.join(canaryDir, 'canary'), CANARY);
  fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
  fs.mkdirSync(path.join(root, 'tmp'), { recursive: true });
  fs.mkdirSync(path.join(root, 'a/b'), { recursive: true });
  fs.writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n', { mode: 0o644 });
  fs.writeFileSync(path.join(root, 'a/b/file'), 'content');
  // Hostile links: absolute to a host path, relative climbing out, a loop.
  fs.symlinkSync(canaryDir, path.join(root, 'abs'));
  fs.symlinkSync('../../../../../../../../..' + canaryDir, path.join(root, 'tmp/climb'));
  fs.symlinkSync(path.join(canaryDir, 'canary'), path.join(root, 'tmp/canarylink'));
  fs.symlinkSync('loop', path.join(root, 'loop'));
  fs.symlinkSync('/etc/passwd', path.join(root, 'pw'));
});

after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function canaryUntouched(): void {
  assert.equal(fs.readFileSync(path.join(canaryDir, 'canary'), 'utf8'), CANARY);
  assert.deepEqual(fs.readdirSync(canaryDir), ['canary']);
}

async function collect(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function listTar(buf: Buffer): Promise<{ name: string; type: string; linkname: string; body: string }[]> {
  const reader = new TarReader(new ByteSource(Readable.from([buf])[Symbol.asyncIterator]()));
  const out = [];
  for (;;) {
    const h = await reader.next();
    if (!h) break;
    const parts: Buffer[] = [];
    for await (const c of reader.body()) parts.push(c);
    out.push({ name: h.name, type: h.type, linkname: h.linkname, body: Buffer.concat(parts).toString() });
  }
  return out;
}

function tar(entries: (Partial<WriteHeader> & { name: string; body?: string })[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? '');
    const type = e.type ?? 'file';
    parts.push(encodeHeader({ mode: 0o644, uid: 0, gid: 0, mtime: 0, size: type === 'file' ? body.length : 0, type, ...e }));
    if (type === 'file' && body.length) parts.push(body, Buffer.alloc(pad(body.length)));
  }
  parts.push(END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

test('goFileMode gives Go os.FileMode bits', () => {
  assert.equal(goFileMode(0o100644), 0o644);
  assert.equal(goFileMode(0o040755), 2 ** 31 + 0o755);
  assert.equal(goFileMode(0o120777), 2 ** 27 + 0o777);
  assert.equal(goFileMode(0o020666), 2 ** 26 + 2 ** 21 + 0o666);
  assert.equal(goFileMode(0o104755), 2 ** 23 + 0o755);
  assert.equal(goFileMode(0o041777), 2 ** 31 + 2 ** 20 + 0o777);
});

test('goTimeJSON is RFC 3339 with trimmed nanoseconds', () => {
  assert.equal(goTimeJSON(0n), '1970-01-01T00:00:00Z');
  assert.equal(goTimeJSON(1700000000123456789n), '2023-11-14T22:13:20.123456789Z');
  assert.equal(goTimeJSON(1700000000120000000n), '2023-11-14T22:13:20.12Z');
});

test('containerAbsPath keeps a trailing slash or dot like PreserveTrailingDotOrSeparator', () => {
  assert.equal(containerAbsPath('etc'), '/etc');
  assert.equal(containerAbsPath('/etc/'), '/etc/');
  assert.equal(containerAbsPath('/etc/.'), '/etc/.');
  assert.equal(containerAbsPath('/'), '/');
  assert.equal(containerAbsPath('/.'), '/.');
  assert.equal(containerAbsPath('/a/../../etc'), '/etc');
});

test('resolveScoped keeps every symlink inside the rootfs', () => {
  const r1 = resolveScoped(root, '/abs/canary', true);
  r1.close();
  assert.equal(r1.rel, canaryDir.slice(1) + '/canary');
  assert.equal(r1.st, undefined); // not in the rootfs
  const r2 = resolveScoped(root, '/tmp/climb/canary', true);
  r2.close();
  assert.equal(r2.st, undefined);
  const r3 = resolveScoped(root, '/pw', true);
  r3.close();
  assert.equal(r3.rel, 'etc/passwd');
  assert.ok(r3.st?.isFile());
  const r4 = resolveScoped(root, '/pw', false);
  r4.close();
  assert.ok(r4.st?.isSymbolicLink());
  assert.throws(() => resolveScoped(root, '/loop/x', true), /too many levels/);
});

test('stat: Docker fields, link target resolved in the rootfs, 404 wording', () => {
  const s = statPath(root, '/etc/passwd', 'ctr');
  assert.equal(s.name, 'passwd');
  assert.equal(s.mode, 0o644);
  assert.equal(s.linkTarget, '');
  const l = statPath(root, '/tmp/canarylink', 'ctr');
  assert.equal(l.mode & 0o777, 0o777);
  assert.ok(l.mode & 2 ** 27);
  assert.equal(l.linkTarget, path.join(canaryDir, 'canary')); // a path inside the container, not the host's file
  assert.equal(statPath(root, '/', 'ctr').name, '/');
  assert.throws(() => statPath(root, '/tmp/canarylink/', 'ctr'), (e: BerthError) => e.status === 404);
  assert.throws(() => statPath(root, '/nope', 'ctr'), (e: BerthError) => e.status === 404 && e.message === 'Could not find the file /nope in container ctr');
  canaryUntouched();
});

test('archive names the top entry like Docker and never reads through a hostile link', async () => {
  const dir = await listTar(await collect(archivePath(root, '/a', 'c').tar));
  assert.deepEqual(dir.map((e) => e.name), ['a/', 'a/b/', 'a/b/file']);
  const dot = await listTar(await collect(archivePath(root, '/a/.', 'c').tar));
  assert.deepEqual(dot.map((e) => e.name), ['./', './b/', './b/file']);
  const file = await listTar(await collect(archivePath(root, '/a/b/file', 'c').tar));
  assert.deepEqual(file, [{ name: 'file', type: 'file', linkname: '', body: 'content' }]);
  const link = await listTar(await collect(archivePath(root, '/tmp/canarylink', 'c').tar));
  assert.deepEqual(link.map((e) => [e.name, e.type]), [['canarylink', 'symlink']]);
  await assert.rejects(async () => collect(archivePath(root, '/tmp/climb/canary', 'c').tar), (e: BerthError) => e.status === 404);
  await assert.rejects(async () => collect(archivePath(root, '/abs/', 'c').tar), (e: BerthError) => e.status === 404);
  const all = await listTar(await collect(exportRootfs(root)));
  assert.ok(all.some((e) => e.name === 'etc/passwd'));
  assert.ok(!all.some((e) => e.body.includes('host secret')));
  canaryUntouched();
});

test('extract: hostile archives stay inside the rootfs', async () => {
  const put = (buf: Buffer, dir = '/tmp', opts = { noOverwriteDirNonDir: true }) => extractToDir(root, dir, Readable.from([buf]), 'c', opts);
  await assert.rejects(put(tar([{ name: '../../../../../..' + canaryDir + '/canary', body: 'PWNED' }])), (e: BerthError) => e.status === 400);
  await assert.rejects(put(tar([{ name: 'hl', type: 'link', linkname: '../../../../..' + canaryDir + '/canary' }])), (e: BerthError) => e.status === 400);
  // Absolute names are relative to the destination; links made by the archive resolve in the rootfs.
  await put(tar([{ name: canaryDir + '/canary', body: 'PWNED1' }]));
  assert.equal(fs.readFileSync(path.join(root, 'tmp', canaryDir, 'canary'), 'utf8'), 'PWNED1');
  await put(tar([{ name: 'evil', type: 'symlink', linkname: canaryDir }, { name: 'evil/canary', body: 'PWNED2' }]));
  assert.equal(fs.readFileSync(path.join(root, canaryDir, 'canary'), 'utf8'), 'PWNED2');
  await put(tar([{ name: 'up', type: 'symlink', linkname: '../../../../../../..' + canaryDir }, { name: 'up/canary', body: 'PWNED3' }]));
  assert.equal(fs.readFileSync(path.join(root, canaryDir, 'canary'), 'utf8'), 'PWNED3');
  // Through the links already in the rootfs.
  await put(tar([{ name: 'canary', body: 'PWNED4' }]), '/abs');
  assert.equal(fs.readFileSync(path.join(root, canaryDir, 'canary'), 'utf8'), 'PWNED4');
  await put(tar([{ name: 'canarylink', body: 'PWNED5' }]));
  assert.ok(fs.lstatSync(path.join(root, 'tmp/canarylink')).isFile());
  canaryUntouched();
});

test('extract: Docker errors for the destination and NoOverwriteDirNonDir', async () => {
  const put = (buf: Buffer, dir: string, no = true) => extractToDir(root, dir, Readable.from([buf]), 'c', { noOverwriteDirNonDir: no });
  await assert.rejects(put(tar([{ name: 'x' }]), '/nope'), (e: BerthError) => e.status === 404 && /Could not find the file \/nope in container c/.test(e.message));
  await assert.rejects(put(tar([{ name: 'x' }]), '/etc/passwd'), (e: BerthError) => e.status === 400 && e.message === 'extraction point is not a directory');
  await assert.rejects(put(tar([{ name: 'b' }]), '/a'), (e: BerthError) => e.status === 409 && e.message === 'cannot overwrite directory "/a/b" with non-directory "/a"');
  await assert.rejects(put(tar([{ name: 'file/', type: 'dir' }]), '/a/b'), (e: BerthError) => e.status === 409);
  await assert.rejects(extractToDir(root, '/tmp', Readable.from([tar([{ name: 'x' }])]), 'c', { noOverwriteDirNonDir: false, readonlyRootfs: true }),
    (e: BerthError) => e.status === 400 && e.message === 'container rootfs is marked read-only');
  // gzip, ownership for copyUIDGID, modes.
  await extractToDir(root, '/tmp', Readable.from([zlib.gzipSync(tar([{ name: 'g/', type: 'dir', mode: 0o750 }, { name: 'g/f', body: 'gz', mode: 0o600, uid: 5 }]))]), 'c',
    { noOverwriteDirNonDir: true, owner: { uid: 7, gid: 8 } });
  const st = fs.statSync(path.join(root, 'tmp/g/f'));
  assert.equal(st.mode & 0o777, 0o600);
  assert.equal(st.uid, 7);
  assert.equal(st.gid, 8);
  assert.equal(fs.statSync(path.join(root, 'tmp/g')).mode & 0o777, 0o750);
});

test('changes follow Docker overlay rules and hide mount-point placeholders', () => {
  const lower = path.join(tmp, 'lower');
  const upper = path.join(tmp, 'upper');
  for (const d of ['etc', 'usr/sbin', 'root', 'dev']) fs.mkdirSync(path.join(lower, d), { recursive: true });
  fs.writeFileSync(path.join(lower, 'etc/passwd'), 'x');
  fs.writeFileSync(path.join(lower, 'etc/group'), 'x');
  fs.writeFileSync(path.join(lower, 'usr/sbin/old'), 'x');
  fs.mkdirSync(path.join(upper, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(upper, 'etc/passwd'), 'y');
  mknod(path.join(upper, 'etc/group'), S_IFCHR, makedev(0, 0));
  for (const f of ['hosts', 'hostname', 'resolv.conf']) fs.writeFileSync(path.join(upper, 'etc', f), '');
  fs.mkdirSync(path.join(upper, 'usr/sbin'), { recursive: true });
  fs.utimesSync(path.join(upper, 'usr'), fs.statSync(path.join(lower, 'usr')).atime, fs.statSync(path.join(lower, 'usr')).mtime);
  lsetxattr(path.join(upper, 'usr/sbin'), 'trusted.overlay.opaque', Buffer.from('y'));
  fs.writeFileSync(path.join(upper, 'usr/sbin/z'), 'z');
  fs.mkdirSync(path.join(upper, 'new/dir'), { recursive: true });
  fs.mkdirSync(path.join(upper, 'proc'));
  assert.deepEqual(containerChanges(upper, [lower]), [
    { Path: '/etc', Kind: 0 },
    { Path: '/etc/group', Kind: 2 },
    { Path: '/etc/passwd', Kind: 0 },
    { Path: '/new', Kind: 1 },
    { Path: '/new/dir', Kind: 1 },
    { Path: '/usr', Kind: 0 },
    { Path: '/usr/sbin', Kind: 2 },
    { Path: '/usr/sbin/z', Kind: 1 },
  ]);
  const exclude = stubExcluder(upper, [lower]);
  assert.equal(exclude('etc/hosts'), true);
  assert.equal(exclude('etc'), false); // it has real changes
  assert.equal(exclude('proc'), true);
  assert.equal(exclude('new'), false);
  assert.equal(upperSize(upper), 2);
  // Only placeholders: nothing to report.
  const upper2 = path.join(tmp, 'upper2');
  fs.mkdirSync(path.join(upper2, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(upper2, 'etc/hosts'), '');
  assert.deepEqual(containerChanges(upper2, [lower]), []);
  assert.equal(stubExcluder(upper2, [lower])('etc'), true);
});
