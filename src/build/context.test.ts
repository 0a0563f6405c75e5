import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import tarStream from 'tar-stream';
import { parseDockerignore } from '../lib/dockerignore.ts';
import { checksumSources, copyIntoRootfs, extractContext } from './context.ts';
import type { CopySpec } from './context.ts';

// ---------------------------------------------------------------------------------------------------------
// Helpers

interface Entry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'fifo';
  linkname?: string;
  mode?: number;
  content?: string;
  devmajor?: number;
  devminor?: number;
}

async function buildTar(entries: Entry[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack) chunks.push(Buffer.from(c as Uint8Array));
  })();
  for (const e of entries) {
    const type = e.type ?? 'file';
    const header = {
      name: e.name,
      type,
      linkname: e.linkname,
      mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644),
      uid: 0,
      gid: 0,
      mtime: new Date(1_600_000_000_000),
      devmajor: e.devmajor,
      devminor: e.devminor,
    };
    await new Promise<void>((resolve, reject) => {
      if (type === 'file') pack.entry(header, e.content ?? '', (err) => (err ? reject(err) : resolve()));
      else pack.entry(header, (err) => (err ? reject(err) : resolve()));
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

let base: string;
before(() => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-context-test-'));
});
after(() => {
  fs.rmSync(base, { recursive: true, force: true });
});

let n = 0;
/** A fresh sandbox: `outside` stands for the host around `dir`, and must stay untouched. */
function sandbox(): { top: string; dir: string; outside: string } {
  const top = path.join(base, `s${n++}`);
  const dir = path.join(top, 'in');
  const outside = path.join(top, 'outside');
  fs.mkdirSync(dir, { recursive: true });
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'passwd'), 'root:x:0:0\n');
  return { top, dir, outside };
}

function listTree(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      out.push(r);
      if (fs.lstatSync(path.join(root, r)).isDirectory()) walk(r);
    }
  };
  walk('');
  return out;
}

function write(root: string, rel: string, content: string, mode = 0o644): void {
  const p = path.join(root, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, content);
  fs.chmodSync(p, mode);
}

// ---------------------------------------------------------------------------------------------------------
// extractContext

test('extractContext: plain, gzip and zstd contexts', async () => {
  const tar = await buildTar([
    { name: 'Dockerfile', content: 'FROM scratch\n' },
    { name: 'src/', type: 'directory', mode: 0o750 },
    { name: 'src/run.sh', content: 'echo hi\n', mode: 0o755 },
    { name: 'src/link', type: 'symlink', linkname: 'run.sh' },
    { name: 'src/.wh.notawhiteout', content: 'x' },
  ]);
  const xz = spawnSync('xz', ['-c'], { input: tar });
  for (const data of [tar, zlib.gzipSync(tar), zlib.zstdCompressSync(tar), ...(xz.error ? [] : [xz.stdout])]) {
    const { dir } = sandbox();
    await extractContext(Readable.from([data]), dir);
    assert.deepEqual(listTree(dir), ['Dockerfile', 'src', 'src/.wh.notawhiteout', 'src/link', 'src/run.sh']);
    assert.equal(fs.readFileSync(path.join(dir, 'src/run.sh'), 'utf8'), 'echo hi\n');
    assert.equal(fs.statSync(path.join(dir, 'src/run.sh')).mode & 0o7777, 0o755);
    assert.equal(fs.statSync(path.join(dir, 'src')).mode & 0o7777, 0o750);
    assert.equal(fs.statSync(path.join(dir, 'src')).mtimeMs, 1_600_000_000_000);
    assert.equal(fs.readlinkSync(path.join(dir, 'src/link')), 'run.sh');
  }
});

test('extractContext: hostile entries never reach outside the directory', async () => {
  // '..' climbing out: rejected.
  {
    const { dir, outside, top } = sandbox();
    const tar = await buildTar([{ name: '../outside/evil', content: 'x' }]);
    await assert.rejects(extractContext(Readable.from([tar]), dir), /points outside the destination/);
    assert.deepEqual(fs.readdirSync(outside), ['passwd']);
    assert.deepEqual(fs.readdirSync(top).sort(), ['in', 'outside']);
  }
  // An absolute name is made relative, as Docker does.
  {
    const { dir, top } = sandbox();
    const tar = await buildTar([{ name: '/etc/x', content: 'x' }]);
    await extractContext(Readable.from([tar]), dir);
    assert.equal(fs.readFileSync(path.join(dir, 'etc/x'), 'utf8'), 'x');
    assert.deepEqual(fs.readdirSync(top).sort(), ['in', 'outside']);
  }
  // A symlink to '/' (and one to the outside dir by a relative path), then entries through them.
  {
    const { dir, outside, top } = sandbox();
    const tar = await buildTar([
      { name: 'link', type: 'symlink', linkname: '/' },
      { name: 'link/etc/evil', content: 'x' },
      { name: 'up', type: 'symlink', linkname: '../outside' },
      { name: 'up/evil', content: 'x' },
      { name: 'abs', type: 'symlink', linkname: outside },
      { name: 'abs/passwd', content: 'owned' },
    ]);
    await extractContext(Readable.from([tar]), dir);
    assert.equal(fs.readlinkSync(path.join(dir, 'link')), '/'); // kept as a symlink
    assert.equal(fs.readFileSync(path.join(dir, 'etc/evil'), 'utf8'), 'x'); // landed inside
    assert.equal(fs.readFileSync(path.join(dir, 'outside/evil'), 'utf8'), 'x');
    assert.deepEqual(fs.readdirSync(outside), ['passwd']);
    assert.equal(fs.readFileSync(path.join(outside, 'passwd'), 'utf8'), 'root:x:0:0\n');
    assert.deepEqual(fs.readdirSync(top).sort(), ['in', 'outside']);
  }
  // A hard link to /etc/passwd and to a file outside by '..': never a link to the host's file.
  {
    const { dir, outside } = sandbox();
    const hostLinks = fs.statSync('/etc/passwd').nlink;
    await assert.rejects(
      extractContext(Readable.from([await buildTar([{ name: 'pw', type: 'link', linkname: '/etc/passwd' }])]), dir),
      /does not exist/,
    );
    await assert.rejects(
      extractContext(Readable.from([await buildTar([{ name: 'pw', type: 'link', linkname: '../outside/passwd' }])]), dir),
      /outside the destination/,
    );
    assert.equal(fs.existsSync(path.join(dir, 'pw')), false);
    assert.equal(fs.statSync(path.join(outside, 'passwd')).nlink, 1);
    assert.equal(fs.statSync('/etc/passwd').nlink, hostLinks);
  }
  // A hard link through a symlink that points outside links what is inside.
  {
    const { dir, outside } = sandbox();
    const tar = await buildTar([
      { name: 'out', type: 'symlink', linkname: outside },
      { name: 'out/passwd', content: 'inside' },
      { name: 'pw', type: 'link', linkname: 'out/passwd' },
    ]);
    await extractContext(Readable.from([tar]), dir);
    assert.equal(fs.readFileSync(path.join(dir, 'pw'), 'utf8'), 'inside');
    assert.equal(fs.statSync(path.join(outside, 'passwd')).nlink, 1);
    assert.equal(fs.readFileSync(path.join(outside, 'passwd'), 'utf8'), 'root:x:0:0\n');
  }
  // Devices and fifos are skipped.
  {
    const { dir } = sandbox();
    const tar = await buildTar([
      { name: 'null', type: 'character-device', devmajor: 1, devminor: 3 },
      { name: 'pipe', type: 'fifo' },
      { name: 'ok', content: 'x' },
    ]);
    await extractContext(Readable.from([tar]), dir);
    assert.deepEqual(listTree(dir), ['ok']);
  }
  // Corrupt input: a clear error.
  {
    const { dir } = sandbox();
    await assert.rejects(extractContext(Readable.from([Buffer.alloc(1024, 7)]), dir), /invalid tar archive/);
  }
});

test('extractContext: abort', async () => {
  const { dir } = sandbox();
  const ac = new AbortController();
  ac.abort(new Error('stop'));
  await assert.rejects(extractContext(Readable.from([Buffer.alloc(0)]), dir, { signal: ac.signal }), /stop/);
});

// ---------------------------------------------------------------------------------------------------------
// copyIntoRootfs

function copySetup(): { ctx: string; rootfs: string; outside: string; spec: (s: Partial<CopySpec>) => CopySpec } {
  const { top, outside } = sandbox();
  const ctx = path.join(top, 'ctx');
  const rootfs = path.join(top, 'rootfs');
  fs.mkdirSync(ctx);
  fs.mkdirSync(path.join(rootfs, 'etc'), { recursive: true });
  write(ctx, 'a.txt', 'A', 0o640);
  write(ctx, 'b.txt', 'B');
  write(ctx, 'c.md', 'C');
  write(ctx, 'dir/x', 'X', 0o755);
  write(ctx, 'dir/sub/y', 'Y');
  fs.symlinkSync('x', path.join(ctx, 'dir/lnk'));
  fs.utimesSync(path.join(ctx, 'a.txt'), 1_500_000_000, 1_500_000_000);
  return {
    ctx,
    rootfs,
    outside,
    spec: (s) => ({ contextDir: ctx, sources: [], dest: '/', rootfs, workdir: '/', ...s }),
  };
}

test('copyIntoRootfs: file to file, file to dir/, into an existing dir, relative to workdir', async () => {
  const { rootfs, spec } = copySetup();
  await copyIntoRootfs(spec({ sources: ['a.txt'], dest: '/opt/renamed' }));
  const st = fs.statSync(path.join(rootfs, 'opt/renamed'));
  assert.equal(fs.readFileSync(path.join(rootfs, 'opt/renamed'), 'utf8'), 'A');
  assert.equal(st.mode & 0o7777, 0o640);
  assert.equal(st.mtimeMs, 1_500_000_000_000);
  assert.equal(st.uid, 0);
  assert.equal(fs.statSync(path.join(rootfs, 'opt')).mode & 0o7777, 0o755);

  await copyIntoRootfs(spec({ sources: ['a.txt'], dest: '/new/dir/' }));
  assert.equal(fs.readFileSync(path.join(rootfs, 'new/dir/a.txt'), 'utf8'), 'A');

  await copyIntoRootfs(spec({ sources: ['/b.txt'], dest: '/etc' })); // an existing directory
  assert.equal(fs.readFileSync(path.join(rootfs, 'etc/b.txt'), 'utf8'), 'B');

  await copyIntoRootfs(spec({ sources: ['b.txt'], dest: '.', workdir: '/app' }));
  assert.equal(fs.readFileSync(path.join(rootfs, 'app/b.txt'), 'utf8'), 'B');
  await copyIntoRootfs(spec({ sources: ['../../b.txt'], dest: 'sub/', workdir: '/app' }));
  assert.equal(fs.readFileSync(path.join(rootfs, 'app/sub/b.txt'), 'utf8'), 'B');
});

test('copyIntoRootfs: a directory copies its contents; symlinks stay symlinks', async () => {
  const { rootfs, spec } = copySetup();
  await copyIntoRootfs(spec({ sources: ['dir'], dest: '/d' }));
  assert.deepEqual(listTree(path.join(rootfs, 'd')), ['lnk', 'sub', 'sub/y', 'x']);
  assert.equal(fs.readlinkSync(path.join(rootfs, 'd/lnk')), 'x');
  assert.equal(fs.statSync(path.join(rootfs, 'd/x')).mode & 0o7777, 0o755);
  await copyIntoRootfs(spec({ sources: ['.'], dest: '/all/' }));
  assert.deepEqual(listTree(path.join(rootfs, 'all')), ['a.txt', 'b.txt', 'c.md', 'dir', 'dir/lnk', 'dir/sub', 'dir/sub/y', 'dir/x']);
});

test('copyIntoRootfs: globs, several sources, missing sources, .dockerignore', async () => {
  const { rootfs, spec } = copySetup();
  await copyIntoRootfs(spec({ sources: ['*.txt'], dest: '/g/' }));
  assert.deepEqual(listTree(path.join(rootfs, 'g')), ['a.txt', 'b.txt']);
  await copyIntoRootfs(spec({ sources: ['d?r/s*/[xy]'], dest: '/h/' }));
  assert.deepEqual(listTree(path.join(rootfs, 'h')), ['y']);

  await assert.rejects(copyIntoRootfs(spec({ sources: ['a.txt', 'b.txt'], dest: '/multi' })), {
    message: 'When using COPY with more than one source file, the destination must be a directory and end with a /',
  });
  await assert.rejects(copyIntoRootfs(spec({ sources: ['*.txt'], dest: '/multi' })), /must be a directory and end with a \//);
  await assert.rejects(copyIntoRootfs(spec({ sources: ['missing.txt'], dest: '/' })), {
    message: 'COPY failed: file not found in build context or excluded by .dockerignore: stat missing.txt: file does not exist',
  });
  await assert.rejects(copyIntoRootfs(spec({ sources: ['*.none'], dest: '/' })), /no source files were specified/);
  assert.equal(fs.existsSync(path.join(rootfs, 'multi')), false);

  const ignore = parseDockerignore('*.md\ndir/sub\n!dir/sub/y\ndir/x\n');
  await assert.rejects(copyIntoRootfs(spec({ sources: ['c.md'], dest: '/', ignore })), /excluded by \.dockerignore: stat c\.md/);
  await copyIntoRootfs(spec({ sources: ['.'], dest: '/ig/', ignore }));
  assert.deepEqual(listTree(path.join(rootfs, 'ig')), ['a.txt', 'b.txt', 'dir', 'dir/lnk', 'dir/sub', 'dir/sub/y']);
  await copyIntoRootfs(spec({ sources: ['*'], dest: '/ig2/', ignore }));
  assert.deepEqual(listTree(path.join(rootfs, 'ig2')), ['a.txt', 'b.txt', 'lnk', 'sub', 'sub/y']);
});

test('copyIntoRootfs: --chown and --chmod', async () => {
  const { rootfs, spec } = copySetup();
  await copyIntoRootfs(spec({ sources: ['dir'], dest: '/owned/deep/', chown: { uid: 1000, gid: 1001 }, chmod: 0o600 }));
  for (const rel of ['owned', 'owned/deep', 'owned/deep/x', 'owned/deep/sub', 'owned/deep/sub/y', 'owned/deep/lnk']) {
    const st = fs.lstatSync(path.join(rootfs, rel));
    assert.deepEqual([st.uid, st.gid], [1000, 1001], rel);
  }
  assert.equal(fs.statSync(path.join(rootfs, 'owned')).mode & 0o7777, 0o755); // created on the way
  assert.equal(fs.statSync(path.join(rootfs, 'owned/deep/x')).mode & 0o7777, 0o600);
  assert.equal(fs.statSync(path.join(rootfs, 'owned/deep/sub')).mode & 0o7777, 0o600);
  assert.equal(fs.lstatSync(path.join(rootfs, 'etc')).uid, 0);
});

test('copyIntoRootfs: hostile rootfs symlinks keep writes inside it', async () => {
  const { rootfs, outside, spec } = copySetup();
  fs.symlinkSync('/../../..', path.join(rootfs, 'target'));
  fs.rmSync(path.join(rootfs, 'etc'), { recursive: true });
  fs.symlinkSync(outside, path.join(rootfs, 'etc')); // an absolute link that means something else on the host
  fs.symlinkSync('/etc/passwd', path.join(rootfs, 'pwlink'));
  const before = listTree(path.dirname(rootfs));

  await copyIntoRootfs(spec({ sources: ['a.txt'], dest: '/target/' }));
  assert.equal(fs.readFileSync(path.join(rootfs, 'a.txt'), 'utf8'), 'A');
  await copyIntoRootfs(spec({ sources: ['b.txt'], dest: '/target/tmp/evil' }));
  assert.equal(fs.readFileSync(path.join(rootfs, 'tmp/evil'), 'utf8'), 'B');
  await copyIntoRootfs(spec({ sources: ['dir'], dest: '/etc' }));
  assert.equal(fs.readFileSync(path.join(rootfs, outside, 'x'), 'utf8'), 'X'); // rootfs/<outside path>/x
  await copyIntoRootfs(spec({ sources: ['b.txt'], dest: '/etc/passwd' }));
  assert.equal(fs.readFileSync(path.join(rootfs, outside, 'passwd'), 'utf8'), 'B');
  await copyIntoRootfs(spec({ sources: ['a.txt'], dest: '/pwlink' })); // replaced, not written through
  assert.equal(fs.lstatSync(path.join(rootfs, 'pwlink')).isFile(), true);

  assert.deepEqual(fs.readdirSync(outside), ['passwd']);
  assert.equal(fs.readFileSync(path.join(outside, 'passwd'), 'utf8'), 'root:x:0:0\n');
  const now = listTree(path.dirname(rootfs));
  for (const p of now.filter((p) => !before.includes(p))) assert.ok(p.startsWith('rootfs/'), p);
});

test('copyIntoRootfs: sources never escape the context', async () => {
  const { ctx, rootfs, outside, spec } = copySetup();
  fs.symlinkSync(outside, path.join(ctx, 'out'));
  fs.symlinkSync('../outside/passwd', path.join(ctx, 'pw'));
  await assert.rejects(copyIntoRootfs(spec({ sources: ['out/passwd'], dest: '/x' })), /file not found/);
  await assert.rejects(copyIntoRootfs(spec({ sources: ['pw'], dest: '/x' })), /file not found/);
  await assert.rejects(copyIntoRootfs(spec({ sources: ['../outside/passwd'], dest: '/x' })), /file not found/);
  write(ctx, 'real', 'R');
  fs.symlinkSync('/real', path.join(ctx, 'abs'));
  await copyIntoRootfs(spec({ sources: ['abs'], dest: '/followed' })); // a top-level source is followed, inside
  assert.equal(fs.readFileSync(path.join(rootfs, 'followed'), 'utf8'), 'R');
  assert.equal(fs.lstatSync(path.join(rootfs, 'followed')).isFile(), true);
  assert.equal(fs.existsSync(path.join(rootfs, 'x')), false);
});

test('copyIntoRootfs: ADD unpacks local archives, copies other files', async () => {
  const { ctx, rootfs, outside, spec } = copySetup();
  const tar = await buildTar([
    { name: 'pkg/', type: 'directory' },
    { name: 'pkg/bin', content: 'BIN', mode: 0o755 },
    { name: 'escape', type: 'symlink', linkname: '/../../' },
    { name: 'escape/etc/evil', content: 'E' },
  ]);
  fs.writeFileSync(path.join(ctx, 'plain.tar'), tar);
  fs.writeFileSync(path.join(ctx, 'arch.tgz'), zlib.gzipSync(tar));
  fs.writeFileSync(path.join(ctx, 'arch.zst'), zlib.zstdCompressSync(tar));
  fs.writeFileSync(path.join(ctx, 'fake.tar.gz'), zlib.gzipSync('not a tar'));
  for (const f of ['plain.tar', 'arch.tgz', 'arch.zst']) {
    await copyIntoRootfs(spec({ sources: [f], dest: `/x/${f}/`, extractArchives: true }));
    assert.equal(fs.readFileSync(path.join(rootfs, `x/${f}/pkg/bin`), 'utf8'), 'BIN');
    assert.equal(fs.statSync(path.join(rootfs, `x/${f}/pkg/bin`)).mode & 0o777, 0o755);
    assert.equal(fs.readFileSync(path.join(rootfs, 'etc/evil'), 'utf8'), 'E'); // the rootfs' own /etc
  }
  for (const tool of ['bzip2', 'xz']) {
    const r = spawnSync(tool, ['-c'], { input: tar });
    if (r.error) continue; // the tool is not installed here
    fs.writeFileSync(path.join(ctx, `arch.${tool}`), r.stdout);
    await copyIntoRootfs(spec({ sources: [`arch.${tool}`], dest: `/y/${tool}`, extractArchives: true, chown: { uid: 7, gid: 8 } }));
    const st = fs.statSync(path.join(rootfs, `y/${tool}/pkg/bin`));
    assert.deepEqual([st.uid, st.gid], [7, 8]);
  }
  await copyIntoRootfs(spec({ sources: ['fake.tar.gz'], dest: '/f/', extractArchives: true }));
  assert.equal(fs.lstatSync(path.join(rootfs, 'f/fake.tar.gz')).isFile(), true);
  await copyIntoRootfs(spec({ sources: ['plain.tar'], dest: '/c/' })); // COPY never unpacks
  assert.equal(fs.lstatSync(path.join(rootfs, 'c/plain.tar')).isFile(), true);
  assert.deepEqual(fs.readdirSync(outside), ['passwd']);
});

// ---------------------------------------------------------------------------------------------------------
// checksumSources

test('checksumSources: content and mode count, mtime does not', async () => {
  const { ctx, spec } = copySetup();
  const sum = () => checksumSources(spec({ sources: ['dir', '*.txt'] }));
  const first = await sum();
  assert.match(first, /^sha256:[0-9a-f]{64}$/);
  assert.equal(await sum(), first);
  fs.utimesSync(path.join(ctx, 'dir/sub/y'), 1_000_000, 1_000_000);
  assert.equal(await sum(), first);
  fs.chmodSync(path.join(ctx, 'dir/sub/y'), 0o600);
  const afterMode = await sum();
  assert.notEqual(afterMode, first);
  fs.writeFileSync(path.join(ctx, 'dir/sub/y'), 'Z');
  fs.chmodSync(path.join(ctx, 'dir/sub/y'), 0o600);
  const afterContent = await sum();
  assert.notEqual(afterContent, afterMode);
  fs.rmSync(path.join(ctx, 'dir/lnk'));
  fs.symlinkSync('sub', path.join(ctx, 'dir/lnk'));
  assert.notEqual(await sum(), afterContent);
  // Files the sources do not reach, or that are ignored, do not count.
  const withIgnore = () => checksumSources(spec({ sources: ['.'], ignore: parseDockerignore('c.md\n') }));
  const ig = await withIgnore();
  fs.writeFileSync(path.join(ctx, 'c.md'), 'changed');
  assert.equal(await withIgnore(), ig);
  assert.equal(await sum(), await sum());
  await assert.rejects(checksumSources(spec({ sources: ['nope'] })), /file not found/);
});
