import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ByteSource, TarReader, encodeHeader, END_OF_ARCHIVE } from '../layers/archive-tar.ts';
import {
  ContextError, contextExcludes, contextTar, dockerfileTar, dockerignoreWithExtra, extraDockerfile, isArchive,
  isOutsideContext, listContext, localContext, peek, type ExtraDockerfile,
} from './build-context.ts';

let root: string;

before(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-build-ctx-'));
});

after(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

function tree(name: string, files: Record<string, string>): string {
  const dir = path.join(root, name);
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    if (rel.endsWith('/')) fs.mkdirSync(path.join(dir, rel), { recursive: true });
    else fs.writeFileSync(path.join(dir, rel), content);
  }
  return dir;
}

async function readTar(chunks: AsyncIterable<Buffer>) {
  const reader = new TarReader(new ByteSource(chunks[Symbol.asyncIterator]()));
  const out: { name: string; type: string; mode: number; uid: number; gid: number; linkname: string; content: string }[] = [];
  for (let h = await reader.next(); h; h = await reader.next()) {
    const parts: Buffer[] = [];
    for await (const c of reader.body()) parts.push(c);
    out.push({ name: h.name, type: h.type, mode: h.mode, uid: h.uid, gid: h.gid, linkname: h.linkname, content: Buffer.concat(parts).toString() });
  }
  return out;
}

test('local context: PATH/Dockerfile, the lowercase fallback, -f relative to the current directory', () => {
  const dir = tree('a', { Dockerfile: 'FROM x\n', 'sub/Other': 'FROM y\n' });
  assert.deepEqual(localContext(dir, ''), { contextDir: fs.realpathSync(dir), relDockerfile: 'Dockerfile' });
  assert.equal(localContext('a', 'a/sub/Other', root).relDockerfile, 'sub/Other');
  assert.equal(localContext(dir, '-').relDockerfile, '-');
  const lower = tree('lower', { dockerfile: 'FROM x\n' });
  assert.equal(localContext(lower, '').relDockerfile, 'dockerfile');
});

test('local context: a Dockerfile outside the context is "../..."', () => {
  const dir = tree('b/ctx', { 'f': '' });
  fs.writeFileSync(path.join(root, 'b', 'Dockerfile.out'), 'FROM x\n');
  const ctx = localContext(dir, path.join(root, 'b', 'Dockerfile.out'));
  assert.equal(ctx.relDockerfile, '../Dockerfile.out');
  assert.ok(isOutsideContext(ctx.relDockerfile));
  assert.ok(!isOutsideContext('..foo/Dockerfile'));
});

test('local context errors carry docker\'s wording', () => {
  const dir = tree('c', { 'file': '' });
  const real = fs.realpathSync(dir);
  assert.throws(() => localContext(dir, ''), (err: Error) => err instanceof ContextError
    && err.message === `unable to evaluate symlinks in Dockerfile path: lstat ${real}/Dockerfile: no such file or directory`);
  assert.throws(() => localContext(dir, 'nodir/x', real), { message: `unable to evaluate symlinks in Dockerfile path: lstat ${real}/nodir: no such file or directory` });
  assert.throws(() => localContext(path.join(dir, 'file'), ''), { message: `context must be a directory: ${real}/file` });
});

test('.dockerignore: ignored directories pruned, exceptions honoured, Dockerfile and .dockerignore always sent', () => {
  const dir = tree('d', {
    Dockerfile: 'FROM x\n', '.dockerignore': 'sub\n!sub/keep\nnode_modules\n**/*.log\nDockerfile\n.dockerignore\n',
    'sub/keep/k': '1', 'sub/drop/d': '2', 'sub/f': '3', 'node_modules/x/y': '4', 'deep/a/b.log': '5', 'deep/a/b.txt': '6', 'empty/': '',
  });
  const excludes = contextExcludes(dir, 'Dockerfile', false);
  assert.deepEqual(listContext(dir, excludes).map((e) => `${e.rel}${e.type === 'dir' ? '/' : ''}`), [
    '.dockerignore', 'Dockerfile', 'deep/', 'deep/a/', 'deep/a/b.txt', 'empty/', 'sub/keep/', 'sub/keep/k',
  ]);
  // A Dockerfile from stdin is not re-included.
  assert.ok(!listContext(dir, contextExcludes(dir, '-', true)).some((e) => e.rel === 'Dockerfile'));
  // A Dockerfile inside an ignored directory is sent without the directory's own entry.
  fs.writeFileSync(path.join(dir, 'sub', 'Dockerfile'), 'FROM y\n');
  const rels = listContext(dir, contextExcludes(dir, 'sub/Dockerfile', false)).map((e) => e.rel);
  assert.ok(rels.includes('sub/Dockerfile') && !rels.includes('sub') && !rels.includes('sub/f'));
  assert.deepEqual(contextExcludes(tree('noignore', { Dockerfile: '' }), 'Dockerfile', false), []);
});

test('context tar: uid/gid 0, modes kept, symlinks and hard links, directories with a slash', async () => {
  const dir = tree('e', { Dockerfile: 'FROM x\n', 'bin/run': '#!/bin/sh\n' });
  fs.chmodSync(path.join(dir, 'bin/run'), 0o4755);
  fs.symlinkSync('/etc/passwd', path.join(dir, 'link'));
  fs.linkSync(path.join(dir, 'Dockerfile'), path.join(dir, 'hard'));
  const entries = await readTar(contextTar(listContext(dir, [])));
  assert.deepEqual(entries.map((e) => [e.name, e.type, e.mode, e.uid, e.gid, e.linkname]), [
    ['Dockerfile', 'file', 0o644, 0, 0, ''],
    ['bin/', 'dir', fs.statSync(path.join(dir, 'bin')).mode & 0o7777, 0, 0, ''],
    ['bin/run', 'file', 0o4755, 0, 0, ''],
    ['hard', 'link', 0o644, 0, 0, 'Dockerfile'],
    ['link', 'symlink', 0o777, 0, 0, '/etc/passwd'],
  ]);
  assert.equal(entries[0]!.content, 'FROM x\n');
});

test('an extra Dockerfile is added under its random name and listed in .dockerignore', async () => {
  const extra: ExtraDockerfile = { name: '.dockerfile.0123456789abcdef0123', content: Buffer.from('FROM y\n'), mtime: 1_700_000_000 };
  assert.match(extraDockerfile(Buffer.from('')).name, /^\.dockerfile\.[0-9a-f]{20}$/);
  const plain = tree('f', { a: '1' });
  let entries = await readTar(contextTar(listContext(plain, []), extra));
  assert.deepEqual(entries.map((e) => [e.name, e.mode, e.content]), [
    ['a', 0o644, '1'],
    [extra.name, 0o600, 'FROM y\n'],
    ['.dockerignore', 0o600, `.dockerignore\n${extra.name}\n`],
  ]);
  const withIgnore = tree('g', { '.dockerignore': '*.tmp', a: '1' });
  entries = await readTar(contextTar(listContext(withIgnore, []), extra));
  assert.deepEqual(entries.map((e) => [e.name, e.content]), [
    ['.dockerignore', `*.tmp\n${extra.name}\n`],
    ['a', '1'],
    [extra.name, 'FROM y\n'],
  ]);
  assert.equal(dockerignoreWithExtra(undefined, 'x').toString(), '.dockerignore\nx\n');
});

test('stdin: tar and compressed archives are recognised, anything else is a Dockerfile', async () => {
  const tar = Buffer.concat([encodeHeader({ name: 'Dockerfile', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 0 }), END_OF_ARCHIVE]);
  assert.ok(isArchive(tar));
  assert.ok(isArchive(tar.subarray(0, 512)));
  assert.ok(isArchive(Buffer.from([0x1f, 0x8b, 0x08, 0])));
  assert.ok(isArchive(Buffer.from('BZh91AY')));
  assert.ok(isArchive(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])));
  assert.ok(isArchive(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])));
  assert.ok(!isArchive(Buffer.from('FROM busybox\nRUN true\n')));
  assert.ok(!isArchive(Buffer.alloc(1024)));
  const broken = Buffer.from(tar);
  broken[0] = 0x41; // checksum no longer matches
  assert.ok(!isArchive(broken));
  // A PAX header first: docker's 1024-byte peek cannot reach the real header, so it is not taken as a tar.
  const pax = encodeHeader({ name: 'x'.repeat(300), type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 0 });
  assert.ok(!isArchive(pax));

  const df = await readTar((async function* () { yield dockerfileTar(Buffer.from('FROM z\n')); })());
  assert.deepEqual(df.map((e) => [e.name, e.type, e.content]), [['Dockerfile', 'file', 'FROM z\n']]);

  async function* chunks() { yield Buffer.alloc(700, 1); yield Buffer.alloc(700, 2); yield Buffer.alloc(10, 3); }
  const it = chunks();
  const { head, done } = await peek(it);
  assert.equal(head.length, 1400);
  assert.equal(done, false);
  const short = await peek((async function* () { yield Buffer.from('FROM x'); })());
  assert.deepEqual([short.head.toString(), short.done], ['FROM x', true]);
});
