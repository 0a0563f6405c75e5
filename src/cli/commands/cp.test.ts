import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { encodeHeader, END_OF_ARCHIVE, pad, ByteSource, TarReader } from '../../layers/archive-tar.ts';
import {
  getRebaseName, goBase, goClean, goDir, prepareArchiveCopy, preserveTrailingDotOrSeparator, rebaseArchiveEntries, splitCpArg,
  splitPathDirEntry, tarResource, untar,
} from './cp.ts';

async function names(src: AsyncIterable<Buffer>): Promise<string[]> {
  const reader = new TarReader(new ByteSource(src[Symbol.asyncIterator]()));
  const out: string[] = [];
  for (let h = await reader.next(); h; h = await reader.next()) out.push(h.type === 'link' ? `${h.name}->${h.linkname}` : h.name);
  return out;
}

test('Go path helpers', () => {
  assert.equal(goClean('/a/b/'), '/a/b');
  assert.equal(goClean(''), '.');
  assert.equal(goBase('/a/b/'), 'b');
  assert.equal(goBase('/'), '/');
  assert.equal(goDir('/a/b'), '/a');
  assert.equal(goDir('b'), '.');
  assert.deepEqual(splitPathDirEntry('/a/b/.'), ['/a/b', '.']);
  assert.deepEqual(splitPathDirEntry('/a/b/'), ['/a', 'b']);
  assert.equal(preserveTrailingDotOrSeparator('/x/a', 'a/.'), '/x/a/.');
  assert.equal(preserveTrailingDotOrSeparator('/x/a', 'a/'), '/x/a/');
  assert.deepEqual(getRebaseName('/l/', '/real'), ['/real/', 'l']);
  assert.deepEqual(getRebaseName('/l/.', '/real'), ['/real/.', '']);
});

test('splitCpArg: container paths and local paths with colons', () => {
  assert.deepEqual(splitCpArg('ctr:/etc'), ['ctr', '/etc']);
  assert.deepEqual(splitCpArg('/abs:x'), ['', '/abs:x']);
  assert.deepEqual(splitCpArg('./file:x'), ['', './file:x']);
  assert.deepEqual(splitCpArg('file'), ['', 'file']);
  assert.deepEqual(splitCpArg('ctr:'), ['ctr', '']);
});

test('prepareArchiveCopy follows docker', () => {
  const src = { path: '/s/dir', exists: true, isDir: true, rebaseName: '' };
  const file = { path: '/s/f', exists: true, isDir: false, rebaseName: '' };
  assert.deepEqual(prepareArchiveCopy(src, { path: '/d', exists: true, isDir: true, rebaseName: '' }), { dstDir: '/d' });
  assert.throws(() => prepareArchiveCopy(src, { path: '/d/f', exists: true, isDir: false, rebaseName: '' }), /cannot copy directory/);
  assert.deepEqual(prepareArchiveCopy(src, { path: '/d/new', exists: false, isDir: false, rebaseName: '' }), { dstDir: '/d', rebase: ['dir', 'new'] });
  assert.deepEqual(prepareArchiveCopy(file, { path: '/d/g', exists: true, isDir: false, rebaseName: '' }), { dstDir: '/d', rebase: ['f', 'g'] });
  assert.throws(() => prepareArchiveCopy(file, { path: '/d/new/', exists: false, isDir: false, rebaseName: '' }), /no such directory/);
  assert.deepEqual(prepareArchiveCopy({ ...src, path: '/s/dir/.' }, { path: '/d/new', exists: false, isDir: false, rebaseName: '' }),
    { dstDir: '/d', rebase: ['.', 'new'] });
});

test('local tar and rebase name entries like docker', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-cp-'));
  try {
    fs.mkdirSync(path.join(tmp, 'd/sub'), { recursive: true });
    fs.writeFileSync(path.join(tmp, 'd/sub/f'), 'x');
    fs.linkSync(path.join(tmp, 'd/sub/f'), path.join(tmp, 'd/h'));
    fs.symlinkSync('sub/f', path.join(tmp, 'd/l'));
    const info = { path: path.join(tmp, 'd'), exists: true, isDir: true, rebaseName: '' };
    assert.deepEqual(await names(tarResource(info)), ['d/', 'd/h', 'd/l', 'd/sub/', 'd/sub/f->d/h']);
    assert.deepEqual(await names(tarResource({ ...info, path: `${tmp}/d/.` })), ['./', './h', './l', './sub/', './sub/f->./h']);
    assert.deepEqual(await names(rebaseArchiveEntries(tarResource(info), 'd', 'new')), ['new/', 'new/h', 'new/l', 'new/sub/', 'new/sub/f->new/h']);
    assert.deepEqual(await names(rebaseArchiveEntries(tarResource({ ...info, path: `${tmp}/d/.` }), '.', 'n')), ['n/', 'n/h', 'n/l', 'n/sub/', 'n/sub/f->n/h']);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('untar stays in the destination whatever the archive says', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-cp-'));
  const outside = path.join(tmp, 'outside');
  const dest = path.join(tmp, 'dest');
  fs.mkdirSync(outside);
  fs.mkdirSync(dest);
  fs.writeFileSync(path.join(outside, 'canary'), 'safe');
  const tar = (entries: { name: string; type?: 'file' | 'symlink' | 'dir' | 'link'; linkname?: string; body?: string }[]) => {
    const parts: Buffer[] = [];
    for (const e of entries) {
      const body = Buffer.from(e.body ?? '');
      const type = e.type ?? 'file';
      parts.push(encodeHeader({ name: e.name, type, mode: 0o644, uid: 0, gid: 0, mtime: 0, size: type === 'file' ? body.length : 0, linkname: e.linkname }));
      if (type === 'file' && body.length) parts.push(body, Buffer.alloc(pad(body.length)));
    }
    parts.push(END_OF_ARCHIVE);
    return Readable.from([Buffer.concat(parts)]) as AsyncIterable<Buffer>;
  };
  try {
    await assert.rejects(untar(tar([{ name: '../outside/canary', body: 'x' }]), dest), /is outside of/);
    await untar(tar([{ name: 'l', type: 'symlink', linkname: outside }, { name: 'l/canary', body: 'PWNED' }]), dest);
    await assert.rejects(untar(tar([{ name: 'r', type: 'symlink', linkname: '../outside' }, { name: 'r/canary', body: 'PWNED' }]), dest), /invalid symlink/);
    await untar(tar([{ name: 'ok/f', body: 'fine' }]), dest);
    assert.equal(fs.readFileSync(path.join(outside, 'canary'), 'utf8'), 'safe');
    assert.equal(fs.readFileSync(path.join(dest, 'ok/f'), 'utf8'), 'fine');
    await assert.rejects(untar(tar([{ name: 'ok', body: 'x' }]), dest), /cannot overwrite directory/);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
