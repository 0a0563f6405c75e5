// Layer tarballs: unpacking (hostile input) into snapshot directories, and packing directories back into
// reproducible tars.
//
// Security model for extraction: every archive is an attack. All paths are resolved by us, component by
// component, with symlinks interpreted as if `dest` were `/` (resolveInRoot), so the kernel is only ever handed
// paths whose directory part contains no symlink; the final component is never followed (O_NOFOLLOW, lstat,
// lchown, lutimes, lsetxattr, link(2) without AT_SYMLINK_FOLLOW). Anything already at an entry's path is removed
// first (except directory-over-directory), so writes never go through an existing symlink or hard link.
// This is race-free against the archive itself; it is not against a concurrent process that swaps directories
// for symlinks under `dest` while we run (the caller must not extract into a tree a running container can
// write, or must freeze it first).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import { Readable, pipeline } from 'node:stream';
import zlib from 'node:zlib';
import { invalidParameter, isErrno } from '../lib/errors.ts';
import {
  errnoError,
  lgetxattr,
  llistxattr,
  lsetxattr,
  major as devMajor,
  minor as devMinor,
  makedev,
  mknod,
  S_IFBLK,
  S_IFCHR,
  S_IFIFO,
} from '../platform/syscalls.ts';
import { ByteSource, END_OF_ARCHIVE, encodeHeader, entryTypeOf, MAX_PATH_BYTES, normalizeEntryName, pad, TarReader } from './archive-tar.ts';
import type { EntryType, TarHeader, WriteHeader } from './archive-tar.ts';
import { lstatOrUndefined, removeExisting, replaceExisting } from '../lib/fsutil.ts';

export type WhiteoutMode = 'overlay' | 'apply';

export interface ExtractOptions {
  signal?: AbortSignal;
  /** 'overlay' (default): write overlayfs whiteouts. 'apply': delete what the whiteouts name. */
  whiteouts?: WhiteoutMode;
}

export interface ExtractResult {
  /** sha256 of the uncompressed tar stream (the OCI DiffID), as `sha256:<hex>`. */
  diffId: string;
  /** Total bytes of regular file content written. */
  size: number;
}

export interface PackOptions {
  /** 'overlay-diff': turn overlayfs whiteouts/opaque dirs into Docker `.wh.` entries. Default 'plain'. */
  mode?: 'overlay-diff' | 'plain';
  /** Called with each path relative to `dir` (no leading `./`, no trailing `/`); true skips it (and its subtree). */
  exclude?: (relPath: string) => boolean;
}

const WH_PREFIX = '.wh.';
const WH_META_PREFIX = '.wh..wh.';
const WH_OPAQUE = '.wh..wh..opq';
export { normalizeEntryName };

const OVERLAY_OPAQUE_XATTR = 'trusted.overlay.opaque';
const MAX_SYMLINKS = 40;

// ---------------------------------------------------------------------------------------------------------
// Paths


/**
 * Resolves `p` inside `root` like realpath(3) would inside chroot(root), except that the final component is not
 * followed: every intermediate symlink is followed with `root` standing for `/` (absolute targets restart at
 * root, `..` stops at root), so the result is always `root` or a path below it whose directory part contains
 * no symlinks. Missing components are kept as they are (they will be created as directories). Throws ELOOP
 * after 40 symlinks.
 */
export async function resolveInRoot(root: string, p: string, opts?: { followFinal?: boolean }): Promise<string> {
  return resolveInRootSync(root, p, opts);
}

/**
 * Synchronous resolveInRoot. With `followFinal`, the final component is followed too (scoped the same way), so
 * the result contains no symlink at all and is safe to stat()/open() with following semantics.
 */
export function resolveInRootSync(root: string, p: string, opts?: { followFinal?: boolean }): string {
  const parts = resolveParts(path.resolve(root), p, opts?.followFinal === true);
  return parts.length === 0 ? path.resolve(root) : path.join(path.resolve(root), ...parts);
}

/** The resolved components below `root` (root must be absolute and normalised). */
function resolveParts(root: string, p: string, followFinal = false): string[] {
  const todo = p.split('/').filter((c) => c !== '' && c !== '.');
  const stack: string[] = [];
  let missingFrom = -1; // stack index from which components are known not to exist
  let links = 0;
  while (todo.length > 0) {
    const c = todo.shift()!;
    if (c === '..') {
      stack.pop();
      if (missingFrom >= 0 && stack.length <= missingFrom) missingFrom = -1;
      continue;
    }
    if ((todo.length === 0 && !followFinal) || missingFrom >= 0) {
      // The final component is never followed; below a missing directory nothing exists to follow.
      stack.push(c);
      continue;
    }
    const cur = root + '/' + (stack.length ? stack.join('/') + '/' : '') + c;
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(cur);
    } catch (err) {
      if (!isErrno(err, 'ENOENT') && !isErrno(err, 'ENOTDIR')) throw err;
    }
    if (st === undefined) {
      missingFrom = stack.length;
      stack.push(c);
      continue;
    }
    if (!st.isSymbolicLink()) {
      stack.push(c);
      continue;
    }
    if (++links > MAX_SYMLINKS) throw errnoError(osConstants.errno.ELOOP, 'resolve', p);
    const target = fs.readlinkSync(cur);
    if (target === '') throw errnoError(osConstants.errno.ENOENT, 'resolve', p);
    if (target.startsWith('/')) stack.length = 0;
    todo.unshift(...target.split('/').filter((x) => x !== '' && x !== '.'));
  }
  return stack;
}

// ---------------------------------------------------------------------------------------------------------
// Extraction

interface ExtractState {
  root: string;
  whiteouts: WhiteoutMode;
  /** Host paths created by this archive ('apply' mode only, for opaque whiteouts). */
  written: Set<string> | null;
  /** Directory times applied at the end, keyed by resolved path relative to root. */
  dirTimes: Map<string, [number, number]>;
  size: number;
}

type Compression = 'gzip' | 'zstd' | 'none';

function detectCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32BE(0) === 0x28b52ffd) return 'zstd';
  if (head.length >= 3 && head.toString('latin1', 0, 3) === 'BZh') throw invalidParameter('unsupported layer compression: bzip2');
  if (head.length >= 6 && head.readUInt32BE(0) === 0xfd377a58 && head[4] === 0x5a && head[5] === 0) {
    throw invalidParameter('unsupported layer compression: xz');
  }
  return 'none';
}

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (typeof chunk === 'string') return Buffer.from(chunk);
  throw new TypeError('layer stream yielded a non-binary chunk');
}

/**
 * Unpacks a layer tarball (gzip, zstd or plain, detected from the first bytes) into `dest` (created if
 * missing). Needs root (CAP_CHOWN, CAP_MKNOD, CAP_SYS_ADMIN for trusted.* xattrs). Rejects on hostile or
 * corrupt input, stream errors and abort; `dest` is then half-written and the caller removes it. On any
 * failure the input stream is destroyed.
 */
export async function extractLayer(input: NodeJS.ReadableStream, dest: string, opts: ExtractOptions = {}): Promise<ExtractResult> {
  const { signal } = opts;
  signal?.throwIfAborted();
  const whiteouts = opts.whiteouts ?? 'overlay';
  if (whiteouts !== 'overlay' && whiteouts !== 'apply') throw invalidParameter(`invalid whiteout mode ${String(whiteouts)}`);
  const root = path.resolve(dest);
  fs.mkdirSync(root, { recursive: true, mode: 0o755 });

  // Destroyed without an error: an 'error' event nobody listens to any more would crash the process.
  const destroyInput = () => {
    const s = input as Partial<Readable>;
    if (typeof s.destroy === 'function' && !s.destroyed) s.destroy();
  };
  const onAbort = () => destroyInput();
  signal?.addEventListener('abort', onAbort, { once: true });

  const raw = (input as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  let decompressor: zlib.Gunzip | zlib.ZstdDecompress | undefined;
  let tarIter: AsyncGenerator<Buffer> | undefined;
  let decompressorError: unknown;
  try {
    // Peek at the first bytes to pick a decompressor.
    const head: Buffer[] = [];
    let headLen = 0;
    let rawDone = false;
    while (headLen < 6) {
      const r = await raw.next();
      if (r.done) {
        rawDone = true;
        break;
      }
      const b = toBuffer(r.value);
      head.push(b);
      headLen += b.length;
    }
    const first = Buffer.concat(head);
    const compression = detectCompression(first);
    async function* rawChunks(): AsyncGenerator<Buffer> {
      try {
        if (first.length > 0) yield first;
        while (!rawDone) {
          const r = await raw.next();
          if (r.done) return;
          yield toBuffer(r.value);
        }
      } finally {
        if (!rawDone) await raw.return?.();
      }
    }

    let tarChunks: AsyncIterable<Buffer>;
    if (compression === 'none') {
      tarChunks = rawChunks();
    } else {
      const dec = compression === 'gzip' ? zlib.createGunzip() : zlib.createZstdDecompress();
      decompressor = dec;
      dec.once('error', (err) => {
        decompressorError ??= err;
      });
      pipeline(Readable.from(rawChunks(), { objectMode: false }), dec, () => {});
      tarChunks = dec;
    }

    const hash = createHash('sha256');
    async function* hashed(): AsyncGenerator<Buffer> {
      for await (const c of tarChunks) {
        signal?.throwIfAborted();
        const b = toBuffer(c);
        hash.update(b);
        yield b;
      }
    }
    tarIter = hashed();
    const src = new ByteSource(tarIter);
    const reader = new TarReader(src);
    const st: ExtractState = {
      root,
      whiteouts,
      written: whiteouts === 'apply' ? new Set() : null,
      dirTimes: new Map(),
      size: 0,
    };

    for (;;) {
      signal?.throwIfAborted();
      const h = await reader.next();
      if (h === null) break;
      await extractEntry(st, h, reader);
    }
    // Trailing bytes after the end-of-archive marker are part of the uncompressed stream, hence of the DiffID.
    // Garbage after the last compressed frame is tolerated once the archive is complete (Docker ignores it too).
    try {
      await src.drain();
    } catch (err) {
      if (err !== decompressorError || !isErrno(err, 'Z_DATA_ERROR')) throw err;
    }
    applyDirTimes(st);
    return { diffId: `sha256:${hash.digest('hex')}`, size: st.size };
  } catch (err) {
    destroyInput();
    decompressor?.destroy();
    if (signal?.aborted) throw signal.reason ?? err;
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await tarIter?.return(undefined).catch(() => {});
  }
}

async function extractEntry(st: ExtractState, h: TarHeader, reader: TarReader): Promise<void> {
  const rel = normalizeEntryName(h.name);
  if (rel === null) throw invalidParameter(`tar entry ${JSON.stringify(h.name)} points outside the destination`);
  if (rel === '') {
    // "./": the root directory itself; only its metadata can be applied.
    if (h.type !== 'dir') throw invalidParameter(`tar entry ${JSON.stringify(h.name)} would replace the destination root`);
    applyMetadata(st, st.root, h, '');
    return;
  }
  const comps = rel.split('/');
  // AUFS metadata (.wh..wh.plnk, .wh..wh.aufs at the top level) is not part of the image's filesystem.
  if (comps[0]!.startsWith(WH_META_PREFIX) && !(comps.length === 1 && comps[0] === WH_OPAQUE)) return;

  const parts = resolveParts(st.root, rel);
  const base = parts[parts.length - 1]!;
  const parentRel = parts.slice(0, -1).join('/');
  const parentHost = parentRel === '' ? st.root : `${st.root}/${parentRel}`;
  const host = `${parentHost}/${base}`;

  if (base.startsWith(WH_PREFIX)) {
    extractWhiteout(st, h, base, parentHost);
    return;
  }

  ensureDir(st, parentHost);
  switch (h.type) {
    case 'dir': {
      const existing = lstatOrUndefined(host);
      if (existing?.isDirectory() !== true) {
        if (existing) removeExisting(host, existing);
        fs.mkdirSync(host, 0o700);
      }
      markWritten(st, host);
      applyMetadata(st, host, h, parentRel ? `${parentRel}/${base}` : base);
      return;
    }
    case 'file': {
      replaceExisting(host);
      const fd = fs.openSync(
        host,
        fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW,
        0o600,
      );
      markWritten(st, host);
      try {
        for await (const chunk of reader.body()) {
          let off = 0;
          while (off < chunk.length) off += fs.writeSync(fd, chunk, off, chunk.length - off);
          st.size += chunk.length;
        }
        fs.fchownSync(fd, h.uid, h.gid);
        fs.fchmodSync(fd, h.mode); // after chown, which clears setuid/setgid
        setXattrs(host, h, 'file');
        fs.futimesSync(fd, h.atime ?? h.mtime, h.mtime);
      } finally {
        fs.closeSync(fd);
      }
      return;
    }
    case 'symlink': {
      replaceExisting(host);
      fs.symlinkSync(h.linkname, host); // written verbatim; it is never followed outside root by us
      markWritten(st, host);
      applyMetadata(st, host, h, null);
      return;
    }
    case 'link': {
      const targetRel = normalizeEntryName(h.linkname);
      if (targetRel === null || targetRel === '') {
        throw invalidParameter(`tar entry ${JSON.stringify(h.name)}: hard link target ${JSON.stringify(h.linkname)} is outside the destination`);
      }
      const target = resolveInRootSync(st.root, targetRel);
      const tst = lstatOrUndefined(target);
      if (tst === undefined) {
        throw invalidParameter(`tar entry ${JSON.stringify(h.name)}: hard link target ${JSON.stringify(h.linkname)} does not exist`);
      }
      if (tst.isDirectory()) {
        throw invalidParameter(`tar entry ${JSON.stringify(h.name)}: hard link target ${JSON.stringify(h.linkname)} is a directory`);
      }
      if (target === host) return; // a link to itself: already there
      replaceExisting(host);
      fs.linkSync(target, host); // link(2) does not follow a symlink target
      markWritten(st, host);
      return;
    }
    case 'char':
    case 'block':
    case 'fifo': {
      replaceExisting(host);
      const ifmt = h.type === 'char' ? S_IFCHR : h.type === 'block' ? S_IFBLK : S_IFIFO;
      mknod(host, ifmt | (h.mode & 0o777), h.type === 'fifo' ? 0 : makedev(h.devmajor, h.devminor));
      markWritten(st, host);
      applyMetadata(st, host, h, null);
      return;
    }
  }
}

function extractWhiteout(st: ExtractState, h: TarHeader, base: string, parentHost: string): void {
  if (base === WH_OPAQUE) {
    if (st.whiteouts === 'overlay') {
      ensureDir(st, parentHost);
      lsetxattr(parentHost, OVERLAY_OPAQUE_XATTR, Buffer.from('y'));
    } else if (lstatOrUndefined(parentHost)?.isDirectory()) {
      removeUnwritten(st, parentHost);
    }
    return;
  }
  if (base.startsWith(WH_META_PREFIX)) return; // other AUFS metadata
  const name = base.slice(WH_PREFIX.length);
  if (name === '' || name === '.' || name === '..') throw invalidParameter(`invalid whiteout entry ${JSON.stringify(h.name)}`);
  const host = `${parentHost}/${name}`;
  if (st.whiteouts === 'overlay') {
    ensureDir(st, parentHost);
    replaceExisting(host);
    mknod(host, S_IFCHR, makedev(0, 0));
    fs.lchownSync(host, h.uid, h.gid);
  } else {
    try {
      fs.rmSync(host, { recursive: true, force: true });
    } catch (err) {
      if (!isErrno(err, 'ENOTDIR')) throw err;
    }
    st.written?.delete(host); // (a whiteout of something this archive wrote)
  }
}

/** 'apply' mode opaque whiteout: removes everything under dir that this archive did not write. */
function removeUnwritten(st: ExtractState, dir: string): void {
  for (const name of fs.readdirSync(dir)) {
    const child = `${dir}/${name}`;
    if (!st.written!.has(child)) {
      fs.rmSync(child, { recursive: true, force: true });
      continue;
    }
    if (fs.lstatSync(child).isDirectory()) removeUnwritten(st, child);
  }
}

/** Records `host` and its ancestors (up to root) as written by this archive, for opaque whiteouts in 'apply' mode. */
function markWritten(st: ExtractState, host: string): void {
  if (!st.written) return;
  for (let p = host; p.length > st.root.length && !st.written.has(p); p = path.dirname(p)) st.written.add(p);
}


/** Makes sure `dir` (a resolved path: no symlinks in it) is a directory, creating it and missing parents. */
function ensureDir(st: ExtractState, dir: string): void {
  const s = lstatOrUndefined(dir);
  if (s?.isDirectory()) return;
  if (s) throw errnoError(osConstants.errno.ENOTDIR, 'mkdir', dir);
  const first = fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  if (first !== undefined) markWritten(st, dir);
}



/**
 * Ownership, mode, xattrs and times for a non-regular entry at `host` (which this code just created or verified,
 * so it is not a symlink unless the entry is one). Directory times are deferred: `dirKey` is set for dirs.
 */
function applyMetadata(st: ExtractState, host: string, h: TarHeader, dirKey: string | null): void {
  fs.lchownSync(host, h.uid, h.gid);
  if (h.type !== 'symlink') fs.chmodSync(host, h.mode); // after chown, which clears setuid/setgid
  setXattrs(host, h, h.type);
  if (dirKey !== null) st.dirTimes.set(dirKey, [h.atime ?? h.mtime, h.mtime]);
  else fs.lutimesSync(host, h.atime ?? h.mtime, h.mtime);
}

function setXattrs(host: string, h: TarHeader, type: EntryType): void {
  for (const [name, value] of h.xattrs) {
    // Overlayfs' own attributes (redirect, origin, metacopy, opaque...) are never taken from an archive.
    if (/^(trusted|user)\.overlay\./.test(name)) continue;
    if (name === '' || name.includes('\0') || Buffer.byteLength(name) > 255) {
      throw invalidParameter(`tar entry ${JSON.stringify(h.name)}: invalid xattr name`);
    }
    try {
      lsetxattr(host, name, value);
    } catch (err) {
      // Not every filesystem supports every namespace, and user.* is refused on symlinks and devices; Docker
      // skips these too.
      if (isErrno(err, 'ENOTSUP') || isErrno(err, 'EOPNOTSUPP')) continue;
      if (isErrno(err, 'EPERM') && (name.startsWith('security.') || (type !== 'file' && type !== 'dir'))) continue;
      throw err;
    }
  }
}

function applyDirTimes(st: ExtractState): void {
  const keys = [...st.dirTimes.keys()].sort((a, b) => depth(b) - depth(a));
  for (const key of keys) {
    const [atime, mtime] = st.dirTimes.get(key)!;
    // Re-resolve: a later entry may have turned a parent into a symlink.
    const host = key === '' ? st.root : resolveInRootSync(st.root, key);
    if (lstatOrUndefined(host)?.isDirectory()) fs.lutimesSync(host, atime, mtime);
  }
}

function depth(p: string): number {
  if (p === '') return 0;
  let n = 1;
  for (let i = 0; i < p.length; i++) if (p.charCodeAt(i) === 0x2f) n++;
  return n;
}

// ---------------------------------------------------------------------------------------------------------
// Packing

/**
 * A tar (uncompressed) of `dir`'s content: entries depth-first, each directory's children in byte order of
 * their names (so a directory precedes its content), names relative without `./`, directories with a trailing
 * `/`. The root itself is not an entry. uid/gid/mode/mtime (whole seconds) and xattrs are kept (except
 * overlayfs' own and security.selinux), uname/gname are empty, hard links (same dev+ino) become links to the
 * first path packed, sockets are skipped. The same tree always gives the same bytes.
 */
export function packDirectory(dir: string, opts: PackOptions = {}): NodeJS.ReadableStream {
  const mode = opts.mode ?? 'plain';
  if (mode !== 'plain' && mode !== 'overlay-diff') throw invalidParameter(`invalid pack mode ${String(mode)}`);
  return Readable.from(packEntries(path.resolve(dir), mode === 'overlay-diff', opts.exclude), {
    objectMode: false,
    highWaterMark: 1 << 16,
  });
}

const FLUSH_BYTES = 1 << 16;
const READ_CHUNK = 1 << 20;

function byteCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

async function* packEntries(root: string, overlayDiff: boolean, exclude?: (rel: string) => boolean): AsyncGenerator<Buffer> {
  const rootStat = fs.statSync(root);
  if (!rootStat.isDirectory()) throw errnoError(osConstants.errno.ENOTDIR, 'scandir', root);
  const seen = new Map<string, string>(); // "dev:ino" -> first packed name, for hard links
  let pending: Buffer[] = [];
  let pendingLen = 0;
  const queue = (b: Buffer) => {
    pending.push(b);
    pendingLen += b.length;
  };
  const take = (): Buffer => {
    const out = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingLen);
    pending = [];
    pendingLen = 0;
    return out;
  };

  async function* walk(relDir: string): AsyncGenerator<Buffer> {
    const absDir = relDir === '' ? root : `${root}/${relDir}`;
    const raw = fs.readdirSync(absDir, { encoding: 'buffer' }).sort(Buffer.compare);
    for (const nameBuf of raw) {
      const name = nameBuf.toString('utf8');
      if (!Buffer.from(name).equals(nameBuf)) {
        throw new Error(`${absDir}: cannot archive a file name that is not valid UTF-8 (${nameBuf.toString('hex')})`);
      }
      const rel = relDir === '' ? name : `${relDir}/${name}`;
      if (exclude?.(rel)) continue;
      const abs = `${absDir}/${name}`;
      let s: fs.BigIntStats;
      try {
        s = fs.lstatSync(abs, { bigint: true });
      } catch (err) {
        if (isErrno(err, 'ENOENT')) continue; // vanished while packing
        throw err;
      }
      const common = {
        mode: Number(s.mode & 0o7777n),
        uid: Number(s.uid),
        gid: Number(s.gid),
        mtime: Number(s.mtimeMs / 1000n) - (s.mtimeMs < 0n && s.mtimeMs % 1000n !== 0n ? 1 : 0),
      };

      if (s.isDirectory()) {
        queue(encodeHeader({ ...common, name: `${rel}/`, type: 'dir', size: 0, xattrs: readXattrs(abs, overlayDiff) }));
        if (overlayDiff && lgetxattrSafe(abs, OVERLAY_OPAQUE_XATTR)?.toString() === 'y') {
          queue(encodeHeader({ ...common, mode: common.mode & 0o777, name: `${rel}/${WH_OPAQUE}`, type: 'file', size: 0 }));
        }
        if (pendingLen >= FLUSH_BYTES) yield take();
        yield* walk(rel);
        continue;
      }

      if (overlayDiff && s.isCharacterDevice() && s.rdev === 0n) {
        const wh = relDir === '' ? `${WH_PREFIX}${name}` : `${relDir}/${WH_PREFIX}${name}`;
        queue(encodeHeader({ ...common, mode: common.mode & 0o777, name: wh, type: 'file', size: 0 }));
        if (pendingLen >= FLUSH_BYTES) yield take();
        continue;
      }

      const type = entryTypeOf(s);
      if (!type) continue; // sockets (and anything unknown) are not archived, as in Docker

      if (s.nlink > 1n) {
        const key = `${s.dev}:${s.ino}`;
        const first = seen.get(key);
        if (first !== undefined) {
          queue(encodeHeader({ ...common, name: rel, type: 'link', size: 0, linkname: first }));
          if (pendingLen >= FLUSH_BYTES) yield take();
          continue;
        }
        seen.set(key, rel);
      }

      const h: WriteHeader = { ...common, name: rel, type, size: 0, xattrs: readXattrs(abs, overlayDiff) };
      if (type === 'symlink') h.linkname = fs.readlinkSync(abs);
      if (type === 'char' || type === 'block') {
        h.devmajor = devMajor(s.rdev);
        h.devminor = devMinor(s.rdev);
      }
      if (type !== 'file') {
        queue(encodeHeader(h));
        if (pendingLen >= FLUSH_BYTES) yield take();
        continue;
      }

      h.size = Number(s.size);
      queue(encodeHeader(h));
      yield* fileContent(abs, rel, h.size);
    }
  }

  async function* fileContent(abs: string, rel: string, size: number): AsyncGenerator<Buffer> {
    const fh = await fs.promises.open(abs, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      let off = 0;
      while (off < size) {
        const n = Math.min(READ_CHUNK, size - off);
        const buf = Buffer.allocUnsafe(n);
        const { bytesRead } = await fh.read(buf, 0, n, off);
        if (bytesRead === 0) throw new Error(`${rel}: file shrank while being archived`);
        off += bytesRead;
        queue(bytesRead === n ? buf : buf.subarray(0, bytesRead));
        if (pendingLen >= FLUSH_BYTES) yield take();
      }
    } finally {
      await fh.close();
    }
    const p = pad(size);
    if (p) queue(Buffer.alloc(p));
  }

  yield* walk('');
  queue(END_OF_ARCHIVE);
  yield take();
}

function lgetxattrSafe(p: string, name: string): Buffer | undefined {
  try {
    return lgetxattr(p, name);
  } catch (err) {
    if (isErrno(err, 'ENOTSUP') || isErrno(err, 'EOPNOTSUPP') || isErrno(err, 'EPERM')) return undefined;
    throw err;
  }
}

function readXattrs(p: string, overlayDiff: boolean): [string, Buffer][] {
  let names: string[];
  try {
    names = llistxattr(p);
  } catch (err) {
    if (isErrno(err, 'ENOTSUP') || isErrno(err, 'EOPNOTSUPP')) return [];
    throw err;
  }
  if (overlayDiff) {
    // An upper dir written with metacopy=on or redirect_dir=on cannot be turned into a layer by reading it.
    for (const bad of ['trusted.overlay.metacopy', 'trusted.overlay.redirect']) {
      if (names.includes(bad)) throw new Error(`${p}: has ${bad}; mount overlays with metacopy=off,redirect_dir=off`);
    }
  }
  const out: [string, Buffer][] = [];
  for (const name of names.sort(byteCompare)) {
    if (/^(trusted|user)\.overlay\./.test(name) || name === 'security.selinux') continue;
    const v = lgetxattrSafe(p, name);
    if (v !== undefined) out.push([name, v]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Helpers

/** sha256 and byte count of a whole stream, e.g. a compressed layer blob: `{ digest: 'sha256:<hex>', size }`. */
export async function sha256OfStream(input: NodeJS.ReadableStream, signal?: AbortSignal): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const c of input as AsyncIterable<unknown>) {
    signal?.throwIfAborted();
    const b = toBuffer(c);
    hash.update(b);
    size += b.length;
  }
  return { digest: `sha256:${hash.digest('hex')}`, size };
}

/** The DiffID of a (possibly gzip/zstd compressed) tar stream without extracting it. */
export async function diffIdOfStream(input: NodeJS.ReadableStream, signal?: AbortSignal): Promise<string> {
  const raw = (input as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let headLen = 0;
  let done = false;
  while (headLen < 6) {
    const r = await raw.next();
    if (r.done) {
      done = true;
      break;
    }
    const b = toBuffer(r.value);
    head.push(b);
    headLen += b.length;
  }
  const first = Buffer.concat(head);
  async function* all(): AsyncGenerator<Buffer> {
    if (first.length) yield first;
    while (!done) {
      const r = await raw.next();
      if (r.done) return;
      yield toBuffer(r.value);
    }
  }
  const compression = detectCompression(first);
  if (compression === 'none') return (await sha256OfStream(Readable.from(all(), { objectMode: false }), signal)).digest;
  const dec = compression === 'gzip' ? zlib.createGunzip() : zlib.createZstdDecompress();
  pipeline(Readable.from(all(), { objectMode: false }), dec, () => {});
  return (await sha256OfStream(dec, signal)).digest;
}

export { MAX_PATH_BYTES };
