// The build context on the daemon side: unpacking the context tar a client sends, and COPY/ADD from a source
// tree (the context, or another stage's or image's rootfs) into the build container's rootfs.
//
// Security model: the context and the image are both hostile. Source paths are resolved inside the source
// root and destination paths inside the rootfs with resolveInRootSync, which follows symlinks as if the root
// were `/`, so the kernel is only ever handed paths whose directory part holds no symlink; final components
// are never followed when written (entries are removed and recreated with O_EXCL|O_NOFOLLOW, lchown,
// lutimes). Like layer extraction, this is not safe against a process changing either tree while we run; the
// build container is not running during COPY.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { canSkipDir, cleanPath, hasGlob, isIgnored, matchGlob } from '../lib/dockerignore.ts';
import type { IgnorePattern } from '../lib/dockerignore.ts';
import { invalidParameter, isErrno } from '../lib/errors.ts';
import { resolveInRootSync } from '../layers/archive.ts';
import { ByteSource, normalizeEntryName, TarReader } from '../layers/archive-tar.ts';
import type { TarHeader } from '../layers/archive-tar.ts';
import { decompress } from '../layers/compression.ts';
import { errnoError, lgetxattr, llistxattr, lsetxattr, makedev, mknod, S_IFBLK, S_IFCHR, S_IFIFO } from '../platform/syscalls.ts';
import { lstatOrUndefined, removeExisting, replaceExisting } from '../lib/fsutil.ts';

export interface CopySpec {
  /** The source root (the build context dir, or another stage's/image's rootfs for COPY --from). */
  contextDir: string;
  /** As written: files, dirs, globs relative to contextDir ('/' is its root). */
  sources: string[];
  /** As written: absolute, or relative to workdir; a trailing '/' means a directory. */
  dest: string;
  /** The destination root (the build container's rootfs). */
  rootfs: string;
  /** The image's WORKDIR ('/' default). */
  workdir: string;
  chown?: { uid: number; gid: number };
  chmod?: number;
  /** ADD: a local tar (plain, gzip, zstd, bzip2, xz) is unpacked into dest instead of copied. */
  extractArchives?: boolean;
  /** .dockerignore of the context (only for the build context). */
  ignore?: IgnorePattern[];
}

interface Owner {
  uid: number;
  gid: number;
}

// ---------------------------------------------------------------------------------------------------------
// Tar extraction

interface UntarOptions {
  /** Absolute, resolved: nothing is ever written outside it. */
  root: string;
  /** Root-relative directory the archive's entries are relative to ('' is the root). */
  prefix: string;
  /** Overrides the archive's ownership (ADD --chown). */
  owner?: Owner;
  /** Overrides the archive's permissions (ADD --chmod). */
  chmod?: number;
  /** Whether device and fifo entries are created (false: skipped). */
  devices: boolean;
  signal?: AbortSignal;
}

async function untar(chunks: AsyncIterable<Buffer>, o: UntarOptions): Promise<void> {
  const signal = o.signal;
  async function* checked(): AsyncGenerator<Buffer> {
    for await (const c of chunks) {
      signal?.throwIfAborted();
      yield c;
    }
  }
  const iter = checked();
  const reader = new TarReader(new ByteSource(iter));
  const dirTimes = new Map<string, [number, number]>();
  try {
    for (;;) {
      signal?.throwIfAborted();
      const h = await reader.next();
      if (h === null) break;
      await untarEntry(o, h, reader, dirTimes);
    }
  } finally {
    await iter.return(undefined).catch(() => {});
  }
  // Deepest first, and re-resolved: a later entry may have replaced a parent.
  const keys = [...dirTimes.keys()].sort((a, b) => b.split('/').length - a.split('/').length);
  for (const key of keys) {
    const host = resolveInRootSync(o.root, key);
    if (lstatOrUndefined(host)?.isDirectory()) fs.lutimesSync(host, ...dirTimes.get(key)!);
  }
}

async function untarEntry(o: UntarOptions, h: TarHeader, reader: TarReader, dirTimes: Map<string, [number, number]>): Promise<void> {
  const rel = normalizeEntryName(h.name);
  if (rel === null) throw invalidParameter(`invalid tar entry ${JSON.stringify(h.name)}: it points outside the destination`);
  if (rel === '') return; // the archive's own root: the destination directory exists already
  if (!o.devices && (h.type === 'char' || h.type === 'block' || h.type === 'fifo')) return;

  const host = resolveInRootSync(o.root, joinRel(o.prefix, rel));
  if (host === o.root) return;
  mkdirs(o.root, path.dirname(host), o.owner);
  const owner = o.owner ?? { uid: h.uid, gid: h.gid };
  const mode = o.chmod ?? h.mode;
  const atime = h.atime ?? h.mtime;

  switch (h.type) {
    case 'dir': {
      const existing = lstatOrUndefined(host);
      if (existing?.isDirectory() !== true) {
        if (existing) removeExisting(host, existing);
        fs.mkdirSync(host, 0o700);
      }
      fs.lchownSync(host, owner.uid, owner.gid);
      fs.chmodSync(host, mode); // after chown, which clears setuid/setgid
      setXattrs(host, h.xattrs, true);
      dirTimes.set(path.relative(o.root, host), [atime, h.mtime]);
      return;
    }
    case 'file': {
      replaceExisting(host);
      const fd = fs.openSync(host, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
      try {
        for await (const chunk of reader.body()) {
          let off = 0;
          while (off < chunk.length) off += fs.writeSync(fd, chunk, off, chunk.length - off);
        }
        fs.fchownSync(fd, owner.uid, owner.gid);
        fs.fchmodSync(fd, mode);
        setXattrs(host, h.xattrs, true);
        fs.futimesSync(fd, atime, h.mtime);
      } finally {
        fs.closeSync(fd);
      }
      return;
    }
    case 'symlink': {
      replaceExisting(host);
      fs.symlinkSync(h.linkname, host); // kept verbatim; every later path through it is resolved inside root
      fs.lchownSync(host, owner.uid, owner.gid);
      fs.lutimesSync(host, atime, h.mtime);
      return;
    }
    case 'link': {
      const targetRel = normalizeEntryName(h.linkname);
      if (targetRel === null || targetRel === '') {
        throw invalidParameter(`invalid tar entry ${JSON.stringify(h.name)}: hard link target ${JSON.stringify(h.linkname)} is outside the destination`);
      }
      const target = resolveInRootSync(o.root, joinRel(o.prefix, targetRel));
      const st = lstatOrUndefined(target);
      if (st === undefined || st.isDirectory()) {
        throw invalidParameter(`invalid tar entry ${JSON.stringify(h.name)}: hard link target ${JSON.stringify(h.linkname)} ${st ? 'is a directory' : 'does not exist'}`);
      }
      if (target === host) return;
      replaceExisting(host);
      fs.linkSync(target, host); // link(2) does not follow a symlink target
      return;
    }
    case 'char':
    case 'block':
    case 'fifo': {
      replaceExisting(host);
      const ifmt = h.type === 'char' ? S_IFCHR : h.type === 'block' ? S_IFBLK : S_IFIFO;
      mknod(host, ifmt | (h.mode & 0o777), h.type === 'fifo' ? 0 : makedev(h.devmajor, h.devminor));
      fs.lchownSync(host, owner.uid, owner.gid);
      fs.chmodSync(host, mode);
      fs.lutimesSync(host, atime, h.mtime);
      return;
    }
  }
}

/**
 * Unpacks a build context tar (plain, gzip, zstd, bzip2 or xz) into `dir`. Names are cleaned (a leading '/'
 * is dropped, as Docker does); a name or hard link climbing out with '..' is rejected; symlinks are kept as
 * they are and anything below one lands inside `dir`; devices and fifos are skipped; there are no whiteouts.
 * On failure `dir` is half-written and the input destroyed.
 */
export async function extractContext(tar: Readable, dir: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
  const { signal } = opts;
  signal?.throwIfAborted();
  const root = path.resolve(dir);
  fs.mkdirSync(root, { recursive: true, mode: 0o755 });
  const onAbort = () => {
    if (!tar.destroyed) tar.destroy();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await untar(await decompress(tar), { root, prefix: '', devices: false, signal });
  } catch (err) {
    if (!tar.destroyed) tar.destroy();
    if (signal?.aborted) throw signal.reason ?? err;
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/** Whether `file` is a tar archive (possibly compressed), judged from its content as Docker does. */
async function isTarArchive(file: string): Promise<boolean> {
  const input = fs.createReadStream(file);
  try {
    const chunks = await decompress(input);
    const it = chunks[Symbol.asyncIterator]();
    try {
      return (await new TarReader(new ByteSource(it)).next()) !== null;
    } finally {
      await it.return?.();
    }
  } catch {
    return false;
  } finally {
    input.destroy();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Filesystem helpers




function joinRel(a: string, b: string): string {
  return a === '' ? b : b === '' ? a : `${a}/${b}`;
}

/**
 * Makes sure `host` (a path below `root` with no symlink in it, as resolveInRootSync returns) is a directory,
 * creating missing components with mode 0755, owned by `owner` (root when absent).
 */
function mkdirs(root: string, host: string, owner?: Owner): void {
  const rel = path.relative(root, host);
  if (rel === '') return;
  if (rel.startsWith('..') || path.isAbsolute(rel)) throw new Error(`internal error: ${host} is outside ${root}`);
  let cur = root;
  for (const c of rel.split('/')) {
    cur += `/${c}`;
    const st = lstatOrUndefined(cur);
    if (st?.isDirectory()) continue;
    if (st) throw errnoError(osConstants.errno.ENOTDIR, 'mkdir', `/${path.relative(root, cur)}`);
    fs.mkdirSync(cur, 0o755);
    fs.chmodSync(cur, 0o755); // whatever the umask
    if (owner) fs.lchownSync(cur, owner.uid, owner.gid);
  }
}

function setXattrs(host: string, xattrs: Iterable<[string, Buffer]>, fromArchive: boolean): void {
  for (const [name, value] of xattrs) {
    // Overlayfs' own attributes never come from a source tree or an archive.
    if (/^(trusted|user)\.overlay\./.test(name)) continue;
    if (fromArchive && (name === '' || name.includes('\0') || Buffer.byteLength(name) > 255)) {
      throw invalidParameter(`invalid xattr name ${JSON.stringify(name)}`);
    }
    try {
      lsetxattr(host, name, value);
    } catch (err) {
      if (isErrno(err, 'ENOTSUP') || isErrno(err, 'EOPNOTSUPP') || isErrno(err, 'EPERM')) continue;
      throw err;
    }
  }
}

function readXattrs(host: string): [string, Buffer][] {
  let names: string[];
  try {
    names = llistxattr(host);
  } catch (err) {
    if (isErrno(err, 'ENOTSUP') || isErrno(err, 'EOPNOTSUPP')) return [];
    throw err;
  }
  const out: [string, Buffer][] = [];
  for (const name of names.sort()) {
    if (/^(trusted|user)\.overlay\./.test(name) || name === 'security.selinux') continue;
    let v: Buffer | undefined;
    try {
      v = lgetxattr(host, name);
    } catch (err) {
      if (isErrno(err, 'ENOTSUP') || isErrno(err, 'EOPNOTSUPP') || isErrno(err, 'EPERM') || isErrno(err, 'ENODATA')) continue;
      throw err;
    }
    if (v !== undefined) out.push([name, v]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Sources

interface Match {
  /** The path as matched, relative to the source root ('' is the root). */
  rel: string;
  /** Host path with every symlink (the final one too) followed inside the source root. */
  host: string;
  st: fs.Stats;
}

/** A source as written, made relative to the source root: '/' and leading '..' stay at the root. */
function sourceRel(src: string): string {
  const c = cleanPath(`/${src}`);
  return c === '/' ? '' : c.slice(1);
}

function excluded(root: string, m: { rel: string; host: string }, ignore: IgnorePattern[]): boolean {
  if (ignore.length === 0 || m.rel === '') return false;
  // Both the name used and the file it leads to (through symlinks) must be allowed.
  const real = path.relative(root, m.host);
  return isIgnored(m.rel, ignore) || (real !== '' && isIgnored(real, ignore));
}

function lookup(root: string, rel: string): { host: string; st: fs.Stats } | undefined {
  let host: string;
  try {
    host = resolveInRootSync(root, rel, { followFinal: true });
  } catch (err) {
    if (isErrno(err, 'ELOOP') || isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return undefined;
    throw err;
  }
  const st = lstatOrUndefined(host);
  return st ? { host, st } : undefined;
}

/** Expands the sources (globs per path component, like filepath.Match) into what they match, in order. */
function expandSources(root: string, sources: string[], ignore: IgnorePattern[], instr: string): Match[] {
  const out: Match[] = [];
  for (const src of sources) {
    const rel = sourceRel(src);
    if (!hasGlob(rel)) {
      const found = lookup(root, rel);
      if (found === undefined || excluded(root, { rel, host: found.host }, ignore)) {
        throw invalidParameter(`${instr} failed: file not found in build context or excluded by .dockerignore: stat ${rel || '.'}: file does not exist`);
      }
      out.push({ rel, ...found });
      continue;
    }
    let candidates = [''];
    for (const comp of rel.split('/')) {
      const next: string[] = [];
      for (const c of candidates) {
        if (!hasGlob(comp)) {
          next.push(joinRel(c, comp));
          continue;
        }
        const dir = lookup(root, c);
        if (!dir?.st.isDirectory()) continue;
        const names = fs.readdirSync(dir.host).sort(byteCompare);
        for (const name of names) if (matchGlob(comp, name)) next.push(joinRel(c, name));
      }
      candidates = next;
    }
    const before = out.length;
    for (const c of candidates) {
      const found = lookup(root, c);
      if (found === undefined || excluded(root, { rel: c, host: found.host }, ignore)) continue;
      out.push({ rel: c, ...found });
    }
    if (out.length === before) throw invalidParameter(`${instr} failed: no source files were specified`);
  }
  return out;
}

function byteCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** The children of a source directory to copy: excluded ones are left out, or descended into when an exception may re-include something below them. */
function childrenOf(root: string, dirHost: string, ignore: IgnorePattern[]): { name: string; host: string; st: fs.Stats; excludedDir: boolean }[] {
  const out: { name: string; host: string; st: fs.Stats; excludedDir: boolean }[] = [];
  for (const name of fs.readdirSync(dirHost).sort(byteCompare)) {
    const host = `${dirHost}/${name}`;
    const st = lstatOrUndefined(host);
    if (!st) continue;
    let excludedDir = false;
    if (ignore.length > 0) {
      const rel = path.relative(root, host);
      if (isIgnored(rel, ignore)) {
        if (!st.isDirectory() || canSkipDir(rel, ignore)) continue;
        excludedDir = true;
      }
    }
    out.push({ name, host, st, excludedDir });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// COPY / ADD

interface CopyState {
  rootfs: string;
  srcRoot: string;
  ignore: IgnorePattern[];
  owner: Owner;
  chmod?: number;
  /** "dev:ino" of a source file with several links -> where it was first copied, to keep hard links. */
  links: Map<string, string>;
}

/**
 * COPY/ADD with Docker's semantics: a directory source copies its contents into dest, a file goes to dest (or
 * dest/name when dest is a directory), several sources need a dest ending in '/', missing directories on the
 * way are created (0755); modes and times are kept, owner 0:0 unless --chown, symlinks stay symlinks.
 */
export async function copyIntoRootfs(spec: CopySpec): Promise<void> {
  const instr = spec.extractArchives ? 'ADD' : 'COPY';
  const srcRoot = path.resolve(spec.contextDir);
  const rootfs = path.resolve(spec.rootfs);
  if (spec.sources.length === 0) throw invalidParameter(`${instr} failed: no source files were specified`);
  const ignore = spec.ignore ?? [];
  const matches = expandSources(srcRoot, spec.sources, ignore, instr);
  const destIsDir = spec.dest.endsWith('/') || /(^|\/)\.\.?$/.test(spec.dest) || spec.dest === '';
  if (matches.length > 1 && !destIsDir) {
    throw invalidParameter(`When using ${instr} with more than one source file, the destination must be a directory and end with a /`);
  }
  const destAbs = cleanPath(spec.dest.startsWith('/') ? spec.dest : `/${spec.workdir || '/'}/${spec.dest}`);
  const destRel = destAbs === '/' ? '' : destAbs.slice(1);
  const st: CopyState = { rootfs, srcRoot, ignore, owner: spec.chown ?? { uid: 0, gid: 0 }, chmod: spec.chmod, links: new Map() };

  for (const m of matches) {
    if (m.st.isDirectory()) {
      const destHost = destDir(st, destRel);
      copyChildren(st, m.host, destHost);
      continue;
    }
    if (spec.extractArchives && m.st.isFile() && (await isTarArchive(m.host))) {
      const destHost = destDir(st, destRel);
      const input = fs.createReadStream(m.host);
      try {
        await untar(await decompress(input), {
          root: rootfs,
          prefix: path.relative(rootfs, destHost),
          owner: spec.chown,
          chmod: spec.chmod,
          devices: true,
        });
      } finally {
        input.destroy();
      }
      continue;
    }
    const name = path.posix.basename(m.rel || m.host);
    let target: string;
    if (destIsDir) {
      target = `${destDir(st, destRel)}/${name}`;
    } else {
      const followed = lookupIn(rootfs, destRel);
      if (followed?.isDirectory()) {
        target = `${destDir(st, destRel)}/${name}`;
      } else {
        // The final component is replaced, never written through.
        target = resolveInRootSync(rootfs, destRel);
        if (target === rootfs) throw invalidParameter(`${instr} failed: cannot replace the root directory`);
        mkdirs(rootfs, path.dirname(target), st.owner);
      }
    }
    copyEntry(st, m.host, m.st, target);
  }
}

function lookupIn(root: string, rel: string): fs.Stats | undefined {
  return lookup(root, rel)?.st;
}

/** The destination directory `rel`, symlinks followed inside rootfs, created (0755, owned by --chown) if missing. */
function destDir(st: CopyState, rel: string): string {
  const host = resolveInRootSync(st.rootfs, rel, { followFinal: true });
  mkdirs(st.rootfs, host, st.owner);
  return host;
}

function copyChildren(st: CopyState, srcDir: string, destDirHost: string): void {
  for (const c of childrenOf(st.srcRoot, srcDir, st.ignore)) {
    copyEntry(st, c.host, c.st, `${destDirHost}/${c.name}`, c.excludedDir);
  }
}

/**
 * Copies one source entry (a path with no symlink in it, or a followed top-level source) to `dest`, a path
 * whose directory part holds no symlink. `implicit`: an excluded directory entered only for re-included
 * children, which gets no metadata of its own.
 */
function copyEntry(st: CopyState, src: string, s: fs.Stats, dest: string, implicit = false): void {
  const mode = st.chmod ?? s.mode & 0o7777;
  if (s.isDirectory()) {
    let dir = dest;
    const existing = lstatOrUndefined(dest);
    if (existing?.isSymbolicLink()) {
      // An image's symlink to a directory (e.g. /lib -> usr/lib) is followed, inside the rootfs.
      const followed = resolveInRootSync(st.rootfs, path.relative(st.rootfs, dest), { followFinal: true });
      if (lstatOrUndefined(followed)?.isDirectory()) dir = followed;
    }
    if (dir === dest && existing?.isDirectory() !== true) {
      if (existing) removeExisting(dest, existing);
      fs.mkdirSync(dest, 0o700);
      fs.chmodSync(dest, 0o755); // what an implicit directory keeps; others get the source's mode below
      fs.lchownSync(dest, st.owner.uid, st.owner.gid);
    }
    copyChildren(st, src, dir);
    if (implicit) return;
    fs.lchownSync(dir, st.owner.uid, st.owner.gid);
    fs.chmodSync(dir, mode);
    setXattrs(dir, readXattrs(src), false);
    fs.lutimesSync(dir, s.atime, s.mtime);
    return;
  }
  if (s.isSocket()) return; // not copyable, as with tar
  if (s.isFile() && s.nlink > 1) {
    const key = `${s.dev}:${s.ino}`;
    const first = st.links.get(key);
    if (first !== undefined && lstatOrUndefined(first)?.isFile()) {
      if (first === dest) return;
      replaceExisting(dest);
      fs.linkSync(first, dest);
      return;
    }
    st.links.set(key, dest);
  }
  replaceExisting(dest);
  if (s.isFile()) {
    // COPYFILE_EXCL opens dest with O_CREAT|O_EXCL, which never follows a symlink; src has none in it.
    fs.copyFileSync(src, dest, fs.constants.COPYFILE_EXCL);
  } else if (s.isSymbolicLink()) {
    fs.symlinkSync(fs.readlinkSync(src), dest);
    fs.lchownSync(dest, st.owner.uid, st.owner.gid);
    fs.lutimesSync(dest, s.atime, s.mtime);
    return;
  } else {
    const ifmt = s.isCharacterDevice() ? S_IFCHR : s.isBlockDevice() ? S_IFBLK : S_IFIFO;
    mknod(dest, ifmt | 0o600, ifmt === S_IFIFO ? 0 : s.rdev);
  }
  fs.lchownSync(dest, st.owner.uid, st.owner.gid);
  fs.chmodSync(dest, mode); // after chown, which clears setuid/setgid
  setXattrs(dest, readXattrs(src), false); // after chown, which clears security.capability
  fs.lutimesSync(dest, s.atime, s.mtime);
}

// ---------------------------------------------------------------------------------------------------------
// Cache key

/**
 * The cache key of a COPY/ADD's sources: sha256 over every matched entry's path (relative to the source root),
 * type, mode, size, owner, symlink target and content, in order, each source's tree sorted by path. Times are
 * left out: a fresh checkout must hit the cache.
 */
export async function checksumSources(spec: Pick<CopySpec, 'contextDir' | 'sources' | 'ignore'>): Promise<string> {
  const root = path.resolve(spec.contextDir);
  const ignore = spec.ignore ?? [];
  const hash = createHash('sha256');
  const record = async (rel: string, host: string, s: fs.Stats) => {
    const type = s.isDirectory() ? 'dir' : s.isFile() ? 'file' : s.isSymbolicLink() ? 'symlink' : s.isFIFO() ? 'fifo' : s.isCharacterDevice() ? 'char' : s.isBlockDevice() ? 'block' : 'other';
    const link = s.isSymbolicLink() ? fs.readlinkSync(host) : '';
    const dev = s.isCharacterDevice() || s.isBlockDevice() ? String(s.rdev) : '';
    const content = s.isFile() ? await fileDigest(host) : '';
    hash.update(JSON.stringify([rel, type, s.mode & 0o7777, s.isFile() ? s.size : 0, s.uid, s.gid, link, dev, content]));
    hash.update('\n');
  };
  const walk = async (rel: string, host: string) => {
    for (const c of childrenOf(root, host, ignore)) {
      const childRel = joinRel(rel, c.name);
      if (!c.excludedDir) await record(childRel, c.host, c.st);
      if (c.st.isDirectory()) await walk(childRel, c.host);
    }
  };
  for (const m of expandSources(root, spec.sources, ignore, 'COPY')) {
    await record(m.rel, m.host, m.st);
    if (m.st.isDirectory()) await walk(m.rel, m.host);
  }
  return `sha256:${hash.digest('hex')}`;
}

async function fileDigest(host: string): Promise<string> {
  const h = createHash('sha256');
  const fh = await fs.promises.open(host, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    for await (const c of fh.createReadStream({ autoClose: false })) h.update(c as Buffer);
  } finally {
    await fh.close();
  }
  return h.digest('hex');
}
