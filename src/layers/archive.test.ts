import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import zlib from 'node:zlib';
import tarStream from 'tar-stream';
import { BerthError } from '../lib/errors.ts';
import {
  lgetxattr,
  llistxattr,
  lsetxattr,
  makedev,
  mknod,
  mount,
  MNT_DETACH,
  S_IFCHR,
  S_IFIFO,
  umount2,
} from '../platform/syscalls.ts';
import { diffIdOfStream, extractLayer, normalizeEntryName, packDirectory, resolveInRoot, sha256OfStream } from './archive.ts';

// ---------------------------------------------------------------------------------------------------------
// Helpers

interface TarEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  content?: string | Buffer;
  devmajor?: number;
  devminor?: number;
  pax?: Record<string, string>;
}

async function collect(s: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

async function buildTar(entries: TarEntry[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const done = collect(pack);
  for (const e of entries) {
    const type = e.type ?? 'file';
    const header = {
      name: e.name,
      type,
      linkname: e.linkname,
      mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      mtime: e.mtime ?? new Date(1_600_000_000_000),
      devmajor: e.devmajor,
      devminor: e.devminor,
      pax: e.pax,
    } as Partial<tarStream.Header> & { name: string };
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (type === 'file') pack.entry(header, e.content ?? '', cb);
      else pack.entry(header, cb).end(undefined);
    });
  }
  pack.finalize();
  return done;
}

function streamOf(buf: Buffer, chunk = 4096): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunk) parts.push(buf.subarray(i, i + chunk));
  return Readable.from(parts, { objectMode: false });
}

const pack = (dir: string, opts?: Parameters<typeof packDirectory>[1]) => packDirectory(dir, opts) as unknown as AsyncIterable<Buffer>;
const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A temp area with `dest` inside `outer`, so tests can check nothing appeared next to dest. */
async function withArea(fn: (a: { outer: string; dest: string }) => Promise<void>): Promise<void> {
  const outer = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-arch-'));
  const dest = path.join(outer, 'dest');
  fs.mkdirSync(dest);
  try {
    await fn({ outer, dest });
    // Nothing may ever appear outside dest.
    assert.deepEqual(fs.readdirSync(outer).filter((n) => !n.startsWith('aux')), ['dest']);
  } finally {
    for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').reverse()) {
      const mp = line.split(' ')[4];
      if (mp && mp.startsWith(outer + '/')) umount2(mp, MNT_DETACH);
    }
    fs.rmSync(outer, { recursive: true, force: true });
  }
}

interface Node {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  size?: number;
  sha?: string;
  target?: string;
  rdev?: number;
  link?: string;
  xattrs: Record<string, string>;
}

/** Everything we promise to preserve, per relative path. */
function snapshot(root: string): Record<string, Node> {
  const out: Record<string, Node> = {};
  const inodes = new Map<number, string>();
  const walk = (rel: string) => {
    const abs = rel ? path.join(root, rel) : root;
    for (const name of fs.readdirSync(abs).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const p = path.join(root, r);
      const st = fs.lstatSync(p);
      const xattrs: Record<string, string> = {};
      for (const x of llistxattr(p).sort()) xattrs[x] = lgetxattr(p, x)!.toString('hex');
      const n: Node = {
        type: st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : st.isCharacterDevice() ? 'char' : st.isBlockDevice() ? 'block' : st.isFIFO() ? 'fifo' : 'other',
        mode: st.mode & 0o7777,
        uid: st.uid,
        gid: st.gid,
        mtime: Math.floor(st.mtimeMs / 1000),
        xattrs,
      };
      if (n.type === 'symlink') {
        n.target = fs.readlinkSync(p);
        n.mode = 0;
      }
      if (n.type === 'file') {
        n.size = st.size;
        n.sha = sha256(fs.readFileSync(p));
      }
      if (n.type === 'char' || n.type === 'block') n.rdev = st.rdev;
      if (n.type !== 'dir' && st.nlink > 1) {
        const first = inodes.get(st.ino);
        if (first === undefined) inodes.set(st.ino, r);
        else n.link = first;
      }
      out[r] = n;
      if (n.type === 'dir') walk(r);
    }
  };
  walk('');
  return out;
}

async function tarNames(buf: Buffer): Promise<string[]> {
  const names: string[] = [];
  const ex = tarStream.extract();
  ex.on('entry', (h, s, next) => {
    names.push(h.name);
    s.resume();
    s.on('end', () => next());
  });
  const done = new Promise<void>((resolve, reject) => {
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  ex.end(buf);
  await done;
  return names;
}

function hostFingerprint(p: string): string {
  try {
    const st = fs.lstatSync(p);
    return `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}:${sha256(fs.readFileSync(p))}`;
  } catch {
    return 'absent';
  }
}

async function rejectsInvalid(p: Promise<unknown>, re?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof BerthError, `expected a BerthError, got ${String(err)}`);
    assert.equal(err.code, 'invalid-parameter');
    if (re) assert.match(err.message, re);
    return true;
  });
}

const T0 = 1_600_000_000; // a fixed mtime (seconds)

function makeSourceTree(src: string): void {
  const j = (p: string) => path.join(src, p);
  fs.mkdirSync(j('bin'), { recursive: true });
  fs.mkdirSync(j('etc/deep/er'), { recursive: true });
  fs.mkdirSync(j('tmp'));
  fs.mkdirSync(j('ro'));
  fs.writeFileSync(j('bin/sh'), '#!/bin/sh\necho hi\n');
  fs.chmodSync(j('bin/sh'), 0o755);
  fs.writeFileSync(j('bin/su'), randomBytes(70_000)); // spans chunks, not a block multiple
  fs.lchownSync(j('bin/su'), 0, 0);
  fs.chmodSync(j('bin/su'), 0o4755);
  fs.writeFileSync(j('bin/wall'), 'x');
  fs.lchownSync(j('bin/wall'), 0, 5);
  fs.chmodSync(j('bin/wall'), 0o2711);
  fs.chmodSync(j('tmp'), 0o1777);
  fs.writeFileSync(j('etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
  fs.writeFileSync(j('etc/empty'), '');
  fs.linkSync(j('bin/sh'), j('bin/ash')); // hard link; 'bin/ash' sorts first, so it is the one packed as a file
  fs.symlinkSync('sh', j('bin/bash'));
  fs.symlinkSync('/etc/passwd', j('etc/abs-link'));
  fs.symlinkSync('../../nowhere', j('etc/dangling'));
  fs.writeFileSync(j('etc/deep/er/owned'), 'data');
  fs.lchownSync(j('etc/deep/er/owned'), 1000, 1001);
  fs.lchownSync(j('etc/deep'), 1000, 1000);
  fs.lchownSync(j('etc/abs-link'), 7, 8);
  fs.writeFileSync(j('ro/file'), 'ro');
  fs.chmodSync(j('ro'), 0o555);
  const long = `${'d'.repeat(90)}/${'e'.repeat(90)}/${'f'.repeat(120)}`;
  fs.mkdirSync(j(path.dirname(long)), { recursive: true });
  fs.writeFileSync(j(long), 'long name');
  fs.writeFileSync(j('etc/ünïcödé-名前'), 'utf8');
  mknod(j('fifo'), S_IFIFO | 0o640, 0);
  mknod(j('null'), S_IFCHR | 0o666, makedev(1, 3));
  // cap_net_raw+ep: a binary xattr that chown clears, so it must be set after ownership on extraction.
  fs.writeFileSync(j('bin/ping'), 'ping');
  fs.lchownSync(j('bin/ping'), 1000, 1000);
  lsetxattr(j('bin/ping'), 'security.capability', Buffer.from('0100000200200000000000000000000000000000', 'hex'));
  lsetxattr(j('bin/sh'), 'trusted.berth.bin', Buffer.from([0, 0xff, 1, 0x0a, 0x3d]));
  lsetxattr(j('bin/sh'), 'user.comment', Buffer.from('hello'));
  lsetxattr(j('etc'), 'user.dir', Buffer.from('d'));
  lsetxattr(j('etc'), 'trusted.overlay.opaque', Buffer.from('y')); // never archived
  // mtimes last (and deepest first), since creating children changes directories' mtimes.
  const all: string[] = [];
  const walk = (rel: string) => {
    for (const n of fs.readdirSync(rel ? j(rel) : src)) {
      const r = rel ? `${rel}/${n}` : n;
      all.push(r);
      if (fs.lstatSync(j(r)).isDirectory()) walk(r);
    }
  };
  walk('');
  all.sort((a, b) => b.split('/').length - a.split('/').length);
  all.forEach((r, i) => fs.lutimesSync(j(r), T0 + i, T0 + 1000 + i));
}

// ---------------------------------------------------------------------------------------------------------
// Names and paths

test('normalizeEntryName', () => {
  assert.equal(normalizeEntryName('bin/sh'), 'bin/sh');
  assert.equal(normalizeEntryName('./bin/sh'), 'bin/sh');
  assert.equal(normalizeEntryName('/bin//./sh'), 'bin/sh');
  assert.equal(normalizeEntryName('bin/'), 'bin');
  assert.equal(normalizeEntryName('./'), '');
  assert.equal(normalizeEntryName('a/../b'), 'b');
  assert.equal(normalizeEntryName('../evil'), null);
  assert.equal(normalizeEntryName('/abs/../../evil'), null);
  assert.equal(normalizeEntryName('a/b/../../..'), null);
  assert.equal(normalizeEntryName('..'), null);
});

test('resolveInRoot scopes symlinks to the root', async () => {
  await withArea(async ({ dest }) => {
    fs.mkdirSync(path.join(dest, 'real/sub'), { recursive: true });
    fs.symlinkSync('/real', path.join(dest, 'abs'));
    fs.symlinkSync('../../../../..', path.join(dest, 'up'));
    fs.symlinkSync('real/sub', path.join(dest, 'rel'));
    fs.symlinkSync('loop2', path.join(dest, 'loop1'));
    fs.symlinkSync('loop1', path.join(dest, 'loop2'));
    assert.equal(await resolveInRoot(dest, 'abs/x'), path.join(dest, 'real/x'));
    assert.equal(await resolveInRoot(dest, '/abs/sub/y'), path.join(dest, 'real/sub/y'));
    assert.equal(await resolveInRoot(dest, 'up/etc/passwd'), path.join(dest, 'etc/passwd'));
    assert.equal(await resolveInRoot(dest, 'rel/../z'), path.join(dest, 'real/z'));
    assert.equal(await resolveInRoot(dest, '../../etc/passwd'), path.join(dest, 'etc/passwd'));
    assert.equal(await resolveInRoot(dest, 'missing/../abs/q'), path.join(dest, 'real/q'));
    assert.equal(await resolveInRoot(dest, 'abs'), path.join(dest, 'abs')); // final component not followed
    assert.equal(await resolveInRoot(dest, ''), dest);
    assert.equal(await resolveInRoot(dest, 'abs', { followFinal: true }), path.join(dest, 'real'));
    assert.equal(await resolveInRoot(dest, 'up', { followFinal: true }), dest);
    fs.symlinkSync('/abs/sub', path.join(dest, 'chain'));
    assert.equal(await resolveInRoot(dest, 'chain', { followFinal: true }), path.join(dest, 'real/sub'));
    assert.equal(await resolveInRoot(dest, 'chain'), path.join(dest, 'chain'));
    await assert.rejects(resolveInRoot(dest, 'loop1/x'), { code: 'ELOOP' });
  });
});

// ---------------------------------------------------------------------------------------------------------
// Round trip

test('packDirectory -> extractLayer reproduces the tree, deterministically', async () => {
  await withArea(async ({ outer, dest }) => {
    const src = path.join(outer, 'aux-src');
    fs.mkdirSync(src);
    makeSourceTree(src);

    const tar1 = await collect(pack(src));
    const tar2 = await collect(pack(src));
    assert.ok(tar1.equals(tar2), 'same tree, same bytes');

    // Names, order and structure as another tar reader sees them.
    const names = await tarNames(tar1);
    assert.equal(names[0], 'bin/');
    assert.ok(names.includes('bin/ash') && names.includes('bin/sh') && names.includes('etc/deep/er/owned'));
    assert.ok(names.every((n) => !n.startsWith('./') && !n.startsWith('/')));
    assert.ok(names.includes(`${'d'.repeat(90)}/${'e'.repeat(90)}/${'f'.repeat(120)}`));
    assert.ok(names.includes('etc/ünïcödé-名前'));
    for (const d of ['bin', 'etc', 'etc/deep']) assert.ok(names.indexOf(`${d}/`) < names.findIndex((n) => n.startsWith(`${d}/`) && n !== `${d}/`));

    const res = await extractLayer(streamOf(tar1, 333), dest);
    assert.equal(res.diffId, sha256(tar1));
    const expectedSize = Object.values(snapshot(src)).reduce((s, n) => s + (n.type === 'file' && !n.link ? n.size! : 0), 0);
    assert.equal(res.size, expectedSize);

    const want = snapshot(src);
    delete want['etc']!.xattrs['trusted.overlay.opaque'];
    assert.deepEqual(snapshot(dest), want);
    assert.equal(fs.lstatSync(path.join(dest, 'bin/sh')).ino, fs.lstatSync(path.join(dest, 'bin/ash')).ino);
    assert.equal(lgetxattr(path.join(dest, 'bin/ping'), 'security.capability')?.toString('hex'), '0100000200200000000000000000000000000000');

    // Packing the extracted tree gives the very same bytes, so the same DiffID.
    const tar3 = await collect(pack(dest));
    assert.ok(tar3.equals(tar1));
    const again = path.join(outer, 'aux-again');
    const res2 = await extractLayer(streamOf(tar3), again);
    assert.equal(res2.diffId, res.diffId);
    assert.equal(await diffIdOfStream(streamOf(tar1)), res.diffId);
    assert.deepEqual(await sha256OfStream(streamOf(tar1)), { digest: sha256(tar1), size: tar1.length });
  });
});

test('packDirectory exclude skips paths and subtrees', async () => {
  await withArea(async ({ outer }) => {
    const src = path.join(outer, 'aux-src');
    fs.mkdirSync(path.join(src, 'keep/skipdir/x'), { recursive: true });
    fs.writeFileSync(path.join(src, 'keep/a'), 'a');
    fs.writeFileSync(path.join(src, 'keep/b'), 'b');
    const seen: string[] = [];
    const tar = await collect(
      packDirectory(src, {
        exclude: (p) => {
          seen.push(p);
          return p === 'keep/b' || p === 'keep/skipdir';
        },
      }),
    );
    assert.deepEqual(await tarNames(tar), ['keep/', 'keep/a']);
    assert.deepEqual(seen, ['keep', 'keep/a', 'keep/b', 'keep/skipdir']);
  });
});

test('gzip and zstd layers are detected; the DiffID is of the uncompressed tar', async () => {
  const tar = await buildTar([
    { name: 'a/', type: 'directory' },
    { name: 'a/file', content: 'hello '.repeat(10_000) },
  ]);
  const compressed = [zlib.gzipSync(tar), zlib.zstdCompressSync(tar)];
  for (const blob of compressed) {
    await withArea(async ({ dest }) => {
      const res = await extractLayer(streamOf(blob, 1000), dest);
      assert.equal(res.diffId, sha256(tar));
      assert.equal(res.size, 60_000);
      assert.equal(fs.readFileSync(path.join(dest, 'a/file'), 'utf8'), 'hello '.repeat(10_000));
      assert.equal(await diffIdOfStream(streamOf(blob)), sha256(tar));
    });
  }
});

test('tar-stream archives: modes, owners, mtimes, PAX xattrs, devices; ./ prefix; dir mtimes survive children', async () => {
  const mtime = new Date(1_500_000_000_000);
  const tar = await buildTar([
    { name: './', type: 'directory', mode: 0o751, mtime },
    { name: './usr/', type: 'directory', mode: 0o700, uid: 12, gid: 34, mtime },
    { name: './usr/bin/tool', mode: 0o6755, uid: 0, gid: 0, content: 'tool', mtime, pax: { 'SCHILY.xattr.user.k': 'v' } },
    { name: './usr/later', content: 'written after usr/ got its mtime' },
    { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0, mode: 0o660, gid: 6 },
    { name: 'dev/pipe', type: 'fifo', mode: 0o600 },
    { name: '/abs/leading/slash', content: 'ok' },
  ]);
  await withArea(async ({ dest }) => {
    await extractLayer(streamOf(tar), dest);
    const usr = fs.lstatSync(path.join(dest, 'usr'));
    assert.equal(usr.mode & 0o7777, 0o700);
    assert.equal(usr.uid, 12);
    assert.equal(usr.gid, 34);
    assert.equal(usr.mtimeMs, mtime.getTime());
    assert.equal(fs.lstatSync(dest).mode & 0o7777, 0o751);
    const tool = fs.lstatSync(path.join(dest, 'usr/bin/tool'));
    assert.equal(tool.mode & 0o7777, 0o6755);
    assert.equal(tool.mtimeMs, mtime.getTime());
    assert.equal(lgetxattr(path.join(dest, 'usr/bin/tool'), 'user.k')?.toString(), 'v');
    // usr/bin was created implicitly (no entry): root-owned 0755.
    assert.equal(fs.lstatSync(path.join(dest, 'usr/bin')).mode & 0o777, 0o755);
    const sda = fs.lstatSync(path.join(dest, 'dev/sda'));
    assert.ok(sda.isBlockDevice());
    assert.equal(sda.rdev, makedev(8, 0));
    assert.equal(sda.gid, 6);
    assert.ok(fs.lstatSync(path.join(dest, 'dev/pipe')).isFIFO());
    assert.equal(fs.readFileSync(path.join(dest, 'abs/leading/slash'), 'utf8'), 'ok');
  });
});

test('an entry replaces what is there; a directory over a directory merges', async () => {
  const tar = await buildTar([
    { name: 'd/', type: 'directory' },
    { name: 'd/old', content: 'old' },
    { name: 'f', content: 'file' },
    { name: 'f/', type: 'directory', mode: 0o711 }, // dir replaces file
    { name: 'd/', type: 'directory', mode: 0o700 }, // merge
    { name: 'd/new', content: 'new' },
    { name: 'x/', type: 'directory' },
    { name: 'x/inner', content: 'i' },
    { name: 'x', type: 'symlink', linkname: 'd' }, // symlink replaces dir (and its content)
    { name: 'l', content: 'one' },
    { name: 'l', content: 'two' },
  ]);
  await withArea(async ({ dest }) => {
    await extractLayer(streamOf(tar), dest);
    assert.ok(fs.lstatSync(path.join(dest, 'f')).isDirectory());
    assert.equal(fs.lstatSync(path.join(dest, 'f')).mode & 0o777, 0o711);
    assert.deepEqual(fs.readdirSync(path.join(dest, 'd')).sort(), ['new', 'old']);
    assert.equal(fs.lstatSync(path.join(dest, 'd')).mode & 0o777, 0o700);
    assert.equal(fs.readlinkSync(path.join(dest, 'x')), 'd');
    assert.equal(fs.readFileSync(path.join(dest, 'l'), 'utf8'), 'two');
  });
});

// ---------------------------------------------------------------------------------------------------------
// Whiteouts

test("whiteouts 'overlay': char 0:0 devices and opaque xattr, usable as an overlay lower dir", async () => {
  await withArea(async ({ outer, dest }) => {
    const tar = await buildTar([
      { name: 'a/', type: 'directory' },
      { name: 'a/.wh.gone', uid: 5, gid: 6 },
      { name: 'c/', type: 'directory' },
      { name: 'c/.wh..wh..opq' },
      { name: 'c/new', content: 'new' },
      { name: '.wh.topfile' },
      { name: 'implicit/.wh..wh..opq' },
    ]);
    await extractLayer(streamOf(tar), dest);
    const gone = fs.lstatSync(path.join(dest, 'a/gone'));
    assert.ok(gone.isCharacterDevice());
    assert.equal(gone.rdev, 0);
    assert.equal(gone.uid, 5);
    assert.ok(fs.lstatSync(path.join(dest, 'topfile')).isCharacterDevice());
    assert.equal(lgetxattr(path.join(dest, 'c'), 'trusted.overlay.opaque')?.toString(), 'y');
    assert.equal(lgetxattr(path.join(dest, 'implicit'), 'trusted.overlay.opaque')?.toString(), 'y');
    assert.ok(!fs.existsSync(path.join(dest, 'c/.wh..wh..opq')));
    assert.ok(!fs.existsSync(path.join(dest, 'a/.wh.gone')));

    // The kernel agrees: stack it on a lower layer.
    const lower = path.join(outer, 'aux-lower');
    const merged = path.join(outer, 'aux-merged');
    const lowerTar = await buildTar([
      { name: 'a/gone', content: 'x' },
      { name: 'a/stays', content: 'x' },
      { name: 'c/hidden', content: 'x' },
      { name: 'topfile', content: 'x' },
    ]);
    await extractLayer(streamOf(lowerTar), lower);
    fs.mkdirSync(merged);
    mount('overlay', merged, 'overlay', 0, `lowerdir=${dest}:${lower}`);
    try {
      assert.deepEqual(fs.readdirSync(path.join(merged, 'a')), ['stays']);
      assert.deepEqual(fs.readdirSync(path.join(merged, 'c')), ['new']);
      assert.ok(!fs.existsSync(path.join(merged, 'topfile')));
    } finally {
      umount2(merged, MNT_DETACH);
    }
  });
});

test("whiteouts 'apply': delete named paths; opaque dirs keep only this archive's children", async () => {
  await withArea(async ({ dest }) => {
    for (const f of ['a/b', 'a/x', 'c/old', 'c/sub/deep', 'c/sub/keepdir/older', 'top']) {
      fs.mkdirSync(path.dirname(path.join(dest, f)), { recursive: true });
      fs.writeFileSync(path.join(dest, f), 'old');
    }
    const tar = await buildTar([
      { name: 'a/.wh.b' },
      { name: 'c/', type: 'directory' },
      { name: 'c/new', content: 'new' },
      { name: 'c/sub/keepdir/newer', content: 'n' }, // parents already exist: kept, their old content not
      { name: 'c/.wh..wh..opq' },
      { name: '.wh.top' },
      { name: '.wh.absent' },
    ]);
    await extractLayer(streamOf(tar), dest, { whiteouts: 'apply' });
    assert.deepEqual(fs.readdirSync(path.join(dest, 'a')), ['x']);
    assert.deepEqual(fs.readdirSync(path.join(dest, 'c')).sort(), ['new', 'sub']);
    assert.deepEqual(fs.readdirSync(path.join(dest, 'c/sub')), ['keepdir']);
    assert.deepEqual(fs.readdirSync(path.join(dest, 'c/sub/keepdir')), ['newer']);
    assert.ok(!fs.existsSync(path.join(dest, 'top')));
    assert.equal(lgetxattr(path.join(dest, 'c'), 'trusted.overlay.opaque'), undefined);
  });
});

test("packDirectory 'overlay-diff' turns an overlay upper dir into a Docker layer", async () => {
  await withArea(async ({ outer, dest }) => {
    const lower = path.join(outer, 'aux-lower');
    const upper = path.join(outer, 'aux-upper');
    const work = path.join(outer, 'aux-work');
    const merged = path.join(outer, 'aux-merged');
    for (const d of [upper, work, merged]) fs.mkdirSync(d);
    await extractLayer(
      streamOf(
        await buildTar([
          { name: 'etc/', type: 'directory' },
          { name: 'etc/rm-me', content: 'x' },
          { name: 'etc/keep', content: 'x' },
          { name: 'opq/', type: 'directory' },
          { name: 'opq/old', content: 'x' },
        ]),
      ),
      lower,
    );
    mount('overlay', merged, 'overlay', 0, `lowerdir=${lower},upperdir=${upper},workdir=${work}`);
    try {
      fs.rmSync(path.join(merged, 'etc/rm-me'));
      fs.writeFileSync(path.join(merged, 'etc/added'), 'added');
      fs.rmSync(path.join(merged, 'opq'), { recursive: true });
      fs.mkdirSync(path.join(merged, 'opq'));
      fs.writeFileSync(path.join(merged, 'opq/fresh'), 'f');
    } finally {
      umount2(merged, 0);
    }
    const diff = await collect(pack(upper, { mode: 'overlay-diff' }));
    assert.deepEqual(await tarNames(diff), ['etc/', 'etc/added', 'etc/.wh.rm-me', 'opq/', 'opq/.wh..wh..opq', 'opq/fresh']);
    const plain = await tarNames(await collect(pack(upper)));
    assert.deepEqual(plain, ['etc/', 'etc/added', 'etc/rm-me', 'opq/', 'opq/fresh']);

    // Applying the diff onto a copy of the lower layer gives what the container saw.
    await extractLayer(streamOf(await collect(pack(lower))), dest, { whiteouts: 'apply' });
    await extractLayer(streamOf(diff), dest, { whiteouts: 'apply' });
    assert.deepEqual(fs.readdirSync(path.join(dest, 'etc')).sort(), ['added', 'keep']);
    assert.deepEqual(fs.readdirSync(path.join(dest, 'opq')), ['fresh']);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Hostile archives

test('hostile: names escaping dest are rejected', async () => {
  for (const name of ['../evil', '/abs/../../evil', 'a/../../evil', '..']) {
    await withArea(async ({ dest }) => {
      const tar = await buildTar([{ name: 'fine', content: 'x' }, { name, content: 'evil' }]);
      await rejectsInvalid(extractLayer(streamOf(tar), dest), /outside the destination/);
    });
  }
});

test('hostile: a symlink to /etc then x/passwd lands in dest/etc/passwd', async () => {
  const before = hostFingerprint('/etc/passwd');
  await withArea(async ({ dest }) => {
    const tar = await buildTar([
      { name: 'x', type: 'symlink', linkname: '/etc' },
      { name: 'x/passwd', content: 'pwned' },
    ]);
    await extractLayer(streamOf(tar), dest);
    assert.equal(fs.readFileSync(path.join(dest, 'etc/passwd'), 'utf8'), 'pwned');
    assert.equal(fs.readlinkSync(path.join(dest, 'x')), '/etc');
  });
  assert.equal(hostFingerprint('/etc/passwd'), before);
});

test('hostile: a symlink to ../../.. then y/tmp/<file> stays inside dest', async () => {
  const name = `berth-pwned-${randomBytes(6).toString('hex')}`;
  await withArea(async ({ dest }) => {
    const tar = await buildTar([
      { name: 'y', type: 'symlink', linkname: '../../..' },
      { name: `y/tmp/${name}`, content: 'pwned' },
      { name: 'z', type: 'symlink', linkname: '../../../../../../..' },
      { name: `z/${name}`, content: 'pwned' },
    ]);
    await extractLayer(streamOf(tar), dest);
    assert.equal(fs.readFileSync(path.join(dest, 'tmp', name), 'utf8'), 'pwned');
    assert.equal(fs.readFileSync(path.join(dest, name), 'utf8'), 'pwned');
  });
  assert.ok(!fs.existsSync(path.join('/tmp', name)));
  assert.ok(!fs.existsSync(path.join('/', name)));
  assert.ok(!fs.existsSync(path.join(os.tmpdir(), name)));
});

test('hostile: hard links never reach host files', async () => {
  const shadow = hostFingerprint('/etc/shadow');
  const hostname = hostFingerprint('/etc/hostname');
  // Escaping target: rejected.
  await withArea(async ({ dest }) => {
    const tar = await buildTar([{ name: 'h', type: 'link', linkname: '../../etc/hostname' }]);
    await rejectsInvalid(extractLayer(streamOf(tar), dest), /hard link target/);
  });
  // Absolute target that is not in dest: rejected.
  await withArea(async ({ dest }) => {
    const tar = await buildTar([{ name: 'h', type: 'link', linkname: '/etc/shadow' }]);
    await rejectsInvalid(extractLayer(streamOf(tar), dest), /does not exist/);
    assert.ok(!fs.existsSync(path.join(dest, 'h')));
  });
  // Absolute target that is in dest, or reached through a symlink to /etc: linked inside dest.
  await withArea(async ({ dest }) => {
    const tar = await buildTar([
      { name: 'etc/shadow', content: 'in-dest' },
      { name: 'h', type: 'link', linkname: '/etc/shadow' },
      { name: 'etclink', type: 'symlink', linkname: '/etc' },
      { name: 'h2', type: 'link', linkname: 'etclink/shadow' },
      { name: 'h3', type: 'link', linkname: 'etclink' }, // links the symlink itself, never its target
      // Overwriting a hard link must not write through it.
      { name: 'h', content: 'replaced' },
    ]);
    await extractLayer(streamOf(tar), dest);
    const ino = fs.lstatSync(path.join(dest, 'etc/shadow')).ino;
    assert.equal(fs.lstatSync(path.join(dest, 'h2')).ino, ino);
    assert.ok(fs.lstatSync(path.join(dest, 'h3')).isSymbolicLink());
    assert.equal(fs.readFileSync(path.join(dest, 'etc/shadow'), 'utf8'), 'in-dest');
    assert.equal(fs.readFileSync(path.join(dest, 'h'), 'utf8'), 'replaced');
    assert.notEqual(fs.lstatSync(path.join(dest, 'h')).ino, ino);
  });
  assert.equal(hostFingerprint('/etc/shadow'), shadow);
  assert.equal(hostFingerprint('/etc/hostname'), hostname);
});

test('hostile: a symlink replacing a parent dir after files were written', async () => {
  const before = hostFingerprint('/etc/passwd');
  const name = `berth-pwned-${randomBytes(6).toString('hex')}`;
  await withArea(async ({ outer, dest }) => {
    const tar = await buildTar([
      { name: 'd/', type: 'directory', mtime: new Date(1_000_000_000_000) },
      { name: 'd/sub/', type: 'directory', mtime: new Date(1_000_000_000_000) },
      { name: 'd/f', content: 'first' },
      { name: 'd', type: 'symlink', linkname: '/etc' },
      { name: 'd/passwd', content: 'pwned' },
      { name: 'e', type: 'symlink', linkname: outer },
      { name: `e/${name}`, content: 'pwned' },
      { name: 'f', type: 'symlink', linkname: '/etc/passwd' },
      { name: 'f', content: 'not through the symlink' },
    ]);
    await extractLayer(streamOf(tar), dest);
    assert.equal(fs.readFileSync(path.join(dest, 'etc/passwd'), 'utf8'), 'pwned');
    assert.equal(fs.readlinkSync(path.join(dest, 'd')), '/etc');
    assert.equal(fs.readFileSync(path.join(dest, outer, name), 'utf8'), 'pwned');
    assert.ok(fs.lstatSync(path.join(dest, 'f')).isFile());
    assert.ok(!fs.existsSync(path.join('/etc', 'sub')));
  });
  assert.equal(hostFingerprint('/etc/passwd'), before);
});

test('hostile: symlink loops, oversized names, bad whiteouts, corrupt and truncated tars are rejected', async () => {
  const cases: [string, Buffer, RegExp | undefined][] = [
    ['long name', await buildTar([{ name: `${'a/'.repeat(2100)}f`, content: 'x' }]), /longer than 4096/],
    ['whiteout of ..', await buildTar([{ name: 'a/.wh...' }]), /invalid whiteout/],
  ];
  const good = await buildTar([{ name: 'file', content: 'x'.repeat(2000) }]);
  const corrupt = Buffer.from(good);
  corrupt[10] ^= 0xff;
  cases.push(['bad checksum', corrupt, /checksum/]);
  cases.push(['truncated', good.subarray(0, 1024), /unexpected end/]);
  for (const [what, tar, re] of cases) {
    await withArea(async ({ dest }) => {
      await rejectsInvalid(extractLayer(streamOf(tar), dest), re).catch((e: Error) => {
        throw new Error(`${what}: ${e.message}`);
      });
    });
  }
  await withArea(async ({ dest }) => {
    const tar = await buildTar([
      { name: 'l1', type: 'symlink', linkname: 'l2' },
      { name: 'l2', type: 'symlink', linkname: 'l1' },
      { name: 'l1/x', content: 'x' },
    ]);
    await assert.rejects(extractLayer(streamOf(tar), dest), { code: 'ELOOP' });
  });
});

test('hostile: trusted.overlay.* xattrs are not taken from archives', async () => {
  await withArea(async ({ dest }) => {
    const tar = await buildTar([
      { name: 'd/', type: 'directory', pax: { 'SCHILY.xattr.trusted.overlay.redirect': '/etc', 'SCHILY.xattr.trusted.ok': 'yes' } },
    ]);
    await extractLayer(streamOf(tar), dest);
    assert.equal(lgetxattr(path.join(dest, 'd'), 'trusted.overlay.redirect'), undefined);
    assert.equal(lgetxattr(path.join(dest, 'd'), 'trusted.ok')?.toString(), 'yes');
  });
});

// ---------------------------------------------------------------------------------------------------------
// Stream failures

test('a failing or aborted input stream rejects extractLayer', async () => {
  const tar = await buildTar([{ name: 'big', content: randomBytes(100_000) }]);
  await withArea(async ({ dest }) => {
    const input = new PassThrough();
    input.write(tar.subarray(0, 5000));
    const p = extractLayer(input, dest);
    setTimeout(() => input.destroy(new Error('connection reset')), 20);
    await assert.rejects(p, /connection reset/);
  });
  await withArea(async ({ dest }) => {
    const input = new PassThrough();
    input.write(zlib.gzipSync(tar).subarray(0, 5000));
    const ac = new AbortController();
    const p = extractLayer(input, dest, { signal: ac.signal });
    setTimeout(() => ac.abort(), 20);
    await assert.rejects(p, { name: 'AbortError' });
    assert.ok(input.destroyed);
  });
  await withArea(async ({ dest }) => {
    const ac = new AbortController();
    ac.abort(new Error('already'));
    await assert.rejects(extractLayer(streamOf(tar), dest, { signal: ac.signal }), /already/);
  });
});

test('trailing bytes after the end-of-archive marker count in the DiffID', async () => {
  const tar = Buffer.concat([await buildTar([{ name: 'f', content: 'x' }]), Buffer.alloc(10240)]);
  await withArea(async ({ dest }) => {
    const res = await extractLayer(streamOf(tar), dest);
    assert.equal(res.diffId, sha256(tar));
    assert.equal(res.size, 1);
  });
});

test('empty archive', async () => {
  await withArea(async ({ dest }) => {
    const res = await extractLayer(streamOf(Buffer.alloc(1024)), dest);
    assert.equal(res.diffId, sha256(Buffer.alloc(1024)));
    assert.equal(res.size, 0);
    assert.deepEqual(fs.readdirSync(dest), []);
  });
});

test('odd framing: 1-byte chunks, garbage after the last gzip member, several gzip members', async () => {
  const tar = await buildTar([{ name: 'f', content: 'framing' }]);
  const gz = zlib.gzipSync(tar);
  const blobs = [gz, Buffer.concat([gz, Buffer.from('trailing garbage')]), Buffer.concat([zlib.gzipSync(tar.subarray(0, 700)), zlib.gzipSync(tar.subarray(700))])];
  for (const blob of blobs) {
    await withArea(async ({ dest }) => {
      const res = await extractLayer(streamOf(blob, 1), dest);
      assert.equal(res.diffId, sha256(tar));
      assert.equal(fs.readFileSync(path.join(dest, 'f'), 'utf8'), 'framing');
    });
  }
  // A gzip stream that is corrupt before the archive is complete still fails.
  const broken = Buffer.from(gz);
  broken[40] ^= 0xff;
  await withArea(async ({ dest }) => {
    await assert.rejects(extractLayer(streamOf(broken), dest));
  });
});

test('packDirectory refuses names that are not valid UTF-8 rather than mangling them', async () => {
  await withArea(async ({ outer }) => {
    const src = path.join(outer, 'aux-src');
    fs.mkdirSync(src);
    fs.writeFileSync(Buffer.concat([Buffer.from(src + '/bad-'), Buffer.from([0xff, 0xfe])]), 'x');
    await assert.rejects(collect(pack(src)), /not valid UTF-8/);
  });
});

test('a gzip stream cut short after the end-of-archive marker still fails', async () => {
  const tar = await buildTar([{ name: 'f', content: 'x' }]);
  const gz = zlib.gzipSync(tar);
  await withArea(async ({ dest }) => {
    await assert.rejects(extractLayer(streamOf(gz.subarray(0, gz.length - 4)), dest), { code: 'Z_BUF_ERROR' });
  });
});
