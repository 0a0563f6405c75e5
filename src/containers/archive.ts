// The filesystem of a container seen from the host: stat, archive and extract (the archive API behind
// `docker cp`), export, and the changes of the copy-on-write layer (`docker diff`).
//
// Security: the container's rootfs is hostile. Its symlinks may point anywhere ("/etc/shadow", "../../..") and a
// running container can swap a directory for a symlink at any moment. Reads (stat, archive, export, diff) are
// therefore anchored on file descriptors: every directory is opened with O_NOFOLLOW|O_DIRECTORY relative to the
// descriptor of its parent (through /proc/self/fd/N/name, which the kernel resolves from the descriptor, not
// from a path), and symlinks met while resolving a path are interpreted with the rootfs as `/` (like
// resolveInRoot). Nothing outside the rootfs can be reached even if the tree changes while we walk it.
// Writes (extract) go through extractLayer, whose resolution is scoped to the rootfs but path based, so the
// caller freezes a running container for their duration (Docker's own fix for CVE-2018-15664 paused the
// container during docker cp for the same reason).
import fs from 'node:fs';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { decompress } from '../layers/compression.ts';
import { extractLayer, normalizeEntryName, resolveInRootSync } from '../layers/archive.ts';
import { ByteSource, END_OF_ARCHIVE, encodeHeader, entryTypeOf, pad, TarReader } from '../layers/archive-tar.ts';
import type { TarHeader, WriteHeader } from '../layers/archive-tar.ts';
import type { LayerStore } from '../layers/snapshots.ts';
import { lgetxattr, major as devMajor, minor as devMinor } from '../platform/syscalls.ts';
import { BerthError, conflict, internal, invalidParameter, isErrno, notFound } from '../lib/errors.ts';
import type { ContainerRecord } from './types.ts';
import { lstatOrUndefined } from '../lib/fsutil.ts';

const execFileP = promisify(execFile);

/** What `X-Docker-Container-Path-Stat` carries (base64 of this JSON). `mode` is a Go os.FileMode. */
export interface PathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

/** The part of ContainerManager this module needs. */
export interface ContainerFsHost {
  holdRootfs(c: ContainerRecord): { merged: string; upper: string; release: () => void };
  rootfsOf(c: ContainerRecord): string;
  runtimeOf(c: ContainerRecord): { path: string; root: string };
  pause(ref: string): Promise<void>;
  unpause(ref: string): Promise<void>;
}

const O_DIR = fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW;
const O_FILE = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;
const MAX_SYMLINKS = 40;
const READ_CHUNK = 1 << 20;
const FLUSH_BYTES = 1 << 16;

// Go's os.FileMode type bits.
const GO_DIR = 2 ** 31;
const GO_SYMLINK = 2 ** 27;
const GO_DEVICE = 2 ** 26;
const GO_NAMED_PIPE = 2 ** 25;
const GO_SOCKET = 2 ** 24;
const GO_SETUID = 2 ** 23;
const GO_SETGID = 2 ** 22;
const GO_CHAR_DEVICE = 2 ** 21;
const GO_STICKY = 2 ** 20;

/** A Unix st_mode as Go's os.FileMode (what Docker puts in the path stat header). */
export function goFileMode(mode: number): number {
  let m = mode & 0o777;
  switch (mode & 0o170000) {
    case 0o040000: m += GO_DIR; break;
    case 0o120000: m += GO_SYMLINK; break;
    case 0o060000: m += GO_DEVICE; break;
    case 0o020000: m += GO_DEVICE + GO_CHAR_DEVICE; break;
    case 0o010000: m += GO_NAMED_PIPE; break;
    case 0o140000: m += GO_SOCKET; break;
  }
  if (mode & 0o4000) m += GO_SETUID;
  if (mode & 0o2000) m += GO_SETGID;
  if (mode & 0o1000) m += GO_STICKY;
  return m;
}

/** Go's time.Time JSON form (RFC 3339 with nanoseconds, trailing zeros dropped) from nanoseconds, in UTC. */
export function goTimeJSON(ns: bigint): string {
  let secs = ns / 1000000000n;
  let frac = ns % 1000000000n;
  if (frac < 0n) {
    frac += 1000000000n;
    secs -= 1n;
  }
  const base = new Date(Number(secs) * 1000).toISOString().slice(0, 19);
  const f = frac === 0n ? '' : '.' + frac.toString().padStart(9, '0').replace(/0+$/, '');
  return `${base}${f}Z`;
}

/** Docker's PathStat of lstat results. */
function pathStatOf(name: string, st: fs.BigIntStats, linkTarget: string): PathStat {
  return { name, size: Number(st.size), mode: goFileMode(Number(st.mode)), mtime: goTimeJSON(st.mtimeNs), linkTarget };
}

// ---------------------------------------------------------------------------------------------------------
// Descriptor-anchored resolution

function fdPath(fd: number, name?: string): string {
  return name === undefined ? `/proc/self/fd/${fd}` : `/proc/self/fd/${fd}/${name}`;
}

function lstatAt(fd: number, name: string): fs.BigIntStats | undefined {
  try {
    return fs.lstatSync(fdPath(fd, name), { bigint: true });
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return undefined;
    throw err;
  }
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch { /* already closed */ }
}

/** A path resolved inside a rootfs: the open directory that holds it and its name there. */
export interface Scoped {
  /** Descriptor of the directory containing the target (owned by this object). */
  parentFd: number;
  /** The target's name in that directory; '.' for the rootfs itself. */
  name: string;
  /** The target's path inside the rootfs, without leading '/' ('' for the root). */
  rel: string;
  /** lstat of the target (undefined when it does not exist). */
  st: fs.BigIntStats | undefined;
  close(): void;
}

/**
 * Resolves `p` (an absolute path inside the container) under `root` the way the kernel would inside
 * chroot(root), every step relative to an open directory descriptor: intermediate symlinks are followed with
 * absolute targets restarting at the root and `..` stopping there; the final component is followed only with
 * `followFinal`. A missing component ends the walk (st undefined).
 */
export function resolveScoped(root: string, p: string, followFinal: boolean): Scoped {
  const rootFd = fs.openSync(root, O_DIR);
  const stack: { name: string; fd: number }[] = []; // fd -1: not opened (the final component)
  const closeAll = () => {
    for (const e of stack) if (e.fd >= 0) closeQuietly(e.fd);
    closeQuietly(rootFd);
  };
  try {
    const todo = p.split('/').filter((c) => c !== '' && c !== '.');
    let links = 0;
    let missing = false;
    while (todo.length > 0 && !missing) {
      const c = todo.shift()!;
      if (c === '..') {
        const e = stack.pop();
        if (e && e.fd >= 0) closeQuietly(e.fd);
        continue;
      }
      const dirFd = stack.length ? stack[stack.length - 1]!.fd : rootFd;
      const final = todo.length === 0;
      const st = lstatAt(dirFd, c);
      if (st === undefined) {
        stack.push({ name: c, fd: -1 });
        missing = true;
        break;
      }
      if (st.isSymbolicLink() && (!final || followFinal)) {
        if (++links > MAX_SYMLINKS) throw Object.assign(new Error(`${p}: too many levels of symbolic links`), { code: 'ELOOP' });
        const target = fs.readlinkSync(fdPath(dirFd, c));
        if (target.startsWith('/')) {
          for (const e of stack) if (e.fd >= 0) closeQuietly(e.fd);
          stack.length = 0;
        }
        todo.unshift(...target.split('/').filter((x) => x !== '' && x !== '.'));
        continue;
      }
      if (st.isDirectory() && !final) {
        stack.push({ name: c, fd: fs.openSync(fdPath(dirFd, c), O_DIR) });
        continue;
      }
      if (!final) {
        // A non-directory in the middle of the path: nothing below it exists.
        stack.push({ name: c, fd: -1 });
        missing = true;
        break;
      }
      stack.push({ name: c, fd: -1 });
    }
    // Below a missing component the rest of the path is kept as written (FollowSymlinkInScope does the same
    // for a broken link), `..` applied lexically.
    for (const c of missing ? todo : []) {
      if (c !== '..') stack.push({ name: c, fd: -1 });
      else if (stack.length) {
        const e = stack.pop()!;
        if (e.fd >= 0) closeQuietly(e.fd);
      }
    }
    // The target is the last element; its parent directory stays open for the caller.
    const last = stack.pop();
    const parentFd = stack.length ? stack[stack.length - 1]!.fd : rootFd;
    const rel = [...stack.map((e) => e.name), ...(last ? [last.name] : [])].join('/');
    if (last && last.fd >= 0) closeQuietly(last.fd);
    const name = last ? last.name : '.';
    const st = missing ? undefined : lstatAt(parentFd, name);
    const keep = new Set([parentFd]);
    for (const e of stack) if (e.fd >= 0 && !keep.has(e.fd)) closeQuietly(e.fd);
    if (parentFd !== rootFd) closeQuietly(rootFd);
    return { parentFd, name, rel, st, close: () => closeQuietly(parentFd) };
  } catch (err) {
    closeAll();
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Paths as Docker takes them

/** filepath.Join("/", p) keeping a trailing "/" or "/." (archive.PreserveTrailingDotOrSeparator). */
export function containerAbsPath(p: string): string {
  let abs = path.posix.resolve('/', p);
  const lastSeg = p.split('/').pop();
  if (lastSeg === '.' && abs !== '/') abs += '/.';
  else if (lastSeg === '.' && abs === '/') abs = '/.';
  else if (p.endsWith('/') && !abs.endsWith('/')) abs += '/';
  return abs;
}

/** filepath.Base, as Docker names the stat result and the archive's top entry. */
function goBase(p: string): string {
  if (p === '') return '.';
  const trimmed = p.replace(/\/+$/, '');
  if (trimmed === '') return '/';
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

function assertsDirectory(p: string): boolean {
  return p.endsWith('/') || goBase(p) === '.';
}

function fileNotFound(p: string, container: string): BerthError {
  return notFound(`Could not find the file ${p} in container ${container}`);
}

// ---------------------------------------------------------------------------------------------------------
// Stat

interface Located {
  scoped: Scoped;
  st: fs.BigIntStats;
  stat: PathStat;
  absPath: string;
}

function locate(root: string, reqPath: string, containerName: string, mounted: MountedFiles = {}): Located {
  const absPath = containerAbsPath(reqPath);
  // A trailing "/" or "/." makes the kernel follow a final symlink (and require a directory), as lstat(2)
  // does for Docker.
  const followFinal = assertsDirectory(absPath);
  const scoped = resolveScoped(root, absPath, followFinal);
  try {
    const st = scoped.st;
    if (!st) throw fileNotFound(reqPath, containerName);
    if (followFinal && !st.isDirectory()) throw internal(`lstat ${absPath}: not a directory`);
    let linkTarget = '';
    if (st.isSymbolicLink()) {
      const t = resolveScoped(root, absPath, true);
      t.close();
      linkTarget = '/' + t.rel;
    }
    const over = st.isFile() ? mounted[scoped.rel] : undefined;
    if (over !== undefined) {
      try {
        const mst = fs.statSync(over, { bigint: true });
        return { scoped, st, stat: pathStatOf(goBase(absPath), mst, ''), absPath };
      } catch { /* fall back to the placeholder */ }
    }
    return { scoped, st, stat: pathStatOf(goBase(absPath), st, linkTarget), absPath };
  } catch (err) {
    scoped.close();
    throw err;
  }
}

/** HEAD /containers/{id}/archive. */
export function statPath(root: string, reqPath: string, containerName: string, mounted: MountedFiles = {}): PathStat {
  const l = locate(root, reqPath, containerName, mounted);
  l.scoped.close();
  return l.stat;
}

/** The X-Docker-Container-Path-Stat header value. */
export function pathStatHeader(stat: PathStat): string {
  return Buffer.from(JSON.stringify(stat)).toString('base64');
}

// ---------------------------------------------------------------------------------------------------------
// Archive (GET) and export

interface WalkState {
  hardlinks: Map<string, string>;
  pending: Buffer[];
  pendingLen: number;
  /** Files bind-mounted over the rootfs (rootfs-relative path -> host file owned by berthd). */
  mounted: Map<string, string>;
}

/** Files the runtime bind-mounts into the container: what cp shows at these paths, as Docker does. */
export type MountedFiles = Record<string, string>;

function queue(ws: WalkState, b: Buffer): void {
  ws.pending.push(b);
  ws.pendingLen += b.length;
}

function take(ws: WalkState): Buffer {
  const out = ws.pending.length === 1 ? ws.pending[0]! : Buffer.concat(ws.pending, ws.pendingLen);
  ws.pending = [];
  ws.pendingLen = 0;
  return out;
}

/** security.capability is the one xattr Docker carries in cp/export archives. */
function capabilityXattr(dirFd: number, name: string): [string, Buffer][] {
  try {
    const v = lgetxattr(fdPath(dirFd, name), 'security.capability');
    return v ? [['security.capability', v]] : [];
  } catch {
    return [];
  }
}

function mtimeSeconds(st: fs.BigIntStats): number {
  return Number(st.mtimeNs / 1000000000n) - (st.mtimeNs < 0n && st.mtimeNs % 1000000000n !== 0n ? 1 : 0);
}

/** One entry (and, for a directory, everything below it) of `name` in the directory `dirFd`. */
async function* entry(ws: WalkState, dirFd: number, name: string, st: fs.BigIntStats, tarName: string, rel: string): AsyncGenerator<Buffer> {
  const mounted = st.isFile() ? ws.mounted.get(rel) : undefined;
  if (mounted !== undefined) {
    yield* mountedFile(ws, mounted, tarName);
    return;
  }
  const common = { mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid), mtime: mtimeSeconds(st) };
  if (st.isDirectory()) {
    let fd: number;
    try {
      fd = fs.openSync(fdPath(dirFd, name), O_DIR);
    } catch (err) {
      // Replaced by something else since we listed it: leave it out.
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ELOOP') || isErrno(err, 'ENOTDIR')) return;
      throw err;
    }
    try {
      const dirName = tarName.endsWith('/') ? tarName : `${tarName}/`;
      queue(ws, encodeHeader({ ...common, name: dirName, type: 'dir', size: 0, xattrs: capabilityXattr(dirFd, name) }));
      if (ws.pendingLen >= FLUSH_BYTES) yield take(ws);
      yield* children(ws, fd, dirName, rel);
    } finally {
      closeQuietly(fd);
    }
    return;
  }
  const type = entryTypeOf(st);
  if (!type) return; // sockets are not archived (Docker skips them too)
  if (st.nlink > 1n) {
    const key = `${st.dev}:${st.ino}`;
    const first = ws.hardlinks.get(key);
    if (first !== undefined) {
      queue(ws, encodeHeader({ ...common, name: tarName, type: 'link', size: 0, linkname: first }));
      if (ws.pendingLen >= FLUSH_BYTES) yield take(ws);
      return;
    }
    ws.hardlinks.set(key, tarName);
  }
  const h: WriteHeader = { ...common, name: tarName, type, size: 0, xattrs: type === 'symlink' ? [] : capabilityXattr(dirFd, name) };
  if (type === 'symlink') h.linkname = fs.readlinkSync(fdPath(dirFd, name));
  if (type === 'char' || type === 'block') {
    h.devmajor = devMajor(st.rdev);
    h.devminor = devMinor(st.rdev);
  }
  if (type !== 'file') {
    queue(ws, encodeHeader(h));
    if (ws.pendingLen >= FLUSH_BYTES) yield take(ws);
    return;
  }
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(fdPath(dirFd, name), O_FILE);
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ELOOP')) return;
    throw err;
  }
  yield* fileBody(ws, fh, h);
}

/** A regular file's header (sized from the open file) and content. Closes fh. */
async function* fileBody(ws: WalkState, fh: fs.promises.FileHandle, h: WriteHeader): AsyncGenerator<Buffer> {
  try {
    const fst = await fh.stat({ bigint: true });
    if (!fst.isFile()) return; // swapped for something else since it was listed
    const size = Number(fst.size);
    queue(ws, encodeHeader({ ...h, size }));
    let off = 0;
    while (off < size) {
      const n = Math.min(READ_CHUNK, size - off);
      const buf = Buffer.allocUnsafe(n);
      const { bytesRead } = await fh.read(buf, 0, n, off);
      if (bytesRead === 0) {
        // The file shrank while we read it: keep the archive well-formed with zeros.
        queue(ws, Buffer.alloc(size - off));
        off = size;
        break;
      }
      off += bytesRead;
      queue(ws, bytesRead === n ? buf : buf.subarray(0, bytesRead));
      if (ws.pendingLen >= FLUSH_BYTES) yield take(ws);
    }
    const p = pad(size);
    if (p) queue(ws, Buffer.alloc(p));
  } finally {
    await fh.close();
  }
}

async function* mountedFile(ws: WalkState, hostPath: string, tarName: string): AsyncGenerator<Buffer> {
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(hostPath, O_FILE);
  } catch {
    return;
  }
  const st = await fh.stat({ bigint: true }).catch(() => undefined);
  if (!st) {
    await fh.close();
    return;
  }
  const h: WriteHeader = { mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid), mtime: mtimeSeconds(st), name: tarName, type: 'file', size: 0 };
  yield* fileBody(ws, fh, h);
}

async function* children(ws: WalkState, dirFd: number, prefix: string, relDir: string): AsyncGenerator<Buffer> {
  const names = fs.readdirSync(fdPath(dirFd), { encoding: 'buffer' }).sort(Buffer.compare);
  for (const raw of names) {
    const name = raw.toString('utf8');
    if (!Buffer.from(name).equals(raw)) continue; // not valid UTF-8: cannot be named through a string path
    const st = lstatAt(dirFd, name);
    if (!st) continue;
    yield* entry(ws, dirFd, name, st, prefix + name, relDir === '' ? name : `${relDir}/${name}`);
  }
}

function newWalk(mounted: MountedFiles = {}): WalkState {
  return { hardlinks: new Map(), pending: [], pendingLen: 0, mounted: new Map(Object.entries(mounted)) };
}

/**
 * GET /containers/{id}/archive: the stat of the path and a tar of it. The top entry is named like Docker
 * names it: the base name of the requested path ("b" for "/a/b", "." for "/a/b/.", "/" for the root), so a
 * directory `/a/b` comes out as `b/`, `b/...` and a trailing "/." gives `./...` (its content).
 */
export function archivePath(root: string, reqPath: string, containerName: string, mounted: MountedFiles = {}, opts: { topName?: string } = {}): { stat: PathStat; tar: Readable } {
  const l = locate(root, reqPath, containerName, mounted);
  const topName = opts.topName ?? goBase(l.absPath);
  if (opts.topName) l.stat = { ...l.stat, name: opts.topName };
  const { scoped, st } = l;
  async function* gen(): AsyncGenerator<Buffer> {
    const ws = newWalk(mounted);
    try {
      // The root comes out as "/" then "/bin/", "/bin/sh"... (Docker rebases "." onto "/" this way).
      yield* entry(ws, scoped.parentFd, scoped.name, st, st.isDirectory() && topName === '/' ? '/' : topName, scoped.rel);
      queue(ws, END_OF_ARCHIVE);
      yield take(ws);
    } finally {
      scoped.close();
    }
  }
  return { stat: l.stat, tar: Readable.from(gen(), { objectMode: false, highWaterMark: 1 << 16 }) };
}

/** GET /containers/{id}/export: the whole rootfs, entries relative without a root entry (like docker export). */
export function exportRootfs(root: string): Readable {
  async function* gen(): AsyncGenerator<Buffer> {
    const fd = fs.openSync(root, O_DIR);
    const ws = newWalk();
    try {
      yield* children(ws, fd, '', '');
      queue(ws, END_OF_ARCHIVE);
      yield take(ws);
    } finally {
      closeQuietly(fd);
    }
  }
  return Readable.from(gen(), { objectMode: false, highWaterMark: 1 << 16 });
}

// ---------------------------------------------------------------------------------------------------------
// Extract (PUT)

export interface ExtractOptions {
  noOverwriteDirNonDir: boolean;
  /** uid/gid to give every entry (copyUIDGID with a container user), else the archive's are kept. */
  owner?: { uid: number; gid: number };
  readonlyRootfs?: boolean;
  signal?: AbortSignal;
}


/**
 * Rewrites the uploaded archive for extractLayer at the rootfs root: entry names are made relative to the
 * rootfs by prefixing the extraction directory (after rejecting names that climb out of it), hard link
 * targets likewise, ownership is replaced for copyUIDGID, and Docker's NoOverwriteDirNonDir rule is checked
 * against the filesystem and the entries already seen.
 */
async function* rewrite(root: string, dirRel: string, input: AsyncIterable<Buffer>, opts: ExtractOptions): AsyncGenerator<Buffer> {
  const reader = new TarReader(new ByteSource(input[Symbol.asyncIterator]()));
  const seen = new Map<string, boolean>(); // rootfs-relative name -> is a directory
  const prefixed = (rel: string) => (dirRel === '' ? rel : rel === '' ? dirRel : `${dirRel}/${rel}`);
  for (;;) {
    opts.signal?.throwIfAborted();
    const h: TarHeader | null = await reader.next();
    if (h === null) break;
    const rel = normalizeEntryName(h.name);
    if (rel === null) throw invalidParameter(`invalid archive: entry ${JSON.stringify(h.name)} points outside the destination directory`);
    const name = prefixed(rel);
    let linkname = h.linkname;
    if (h.type === 'link') {
      const t = normalizeEntryName(h.linkname);
      if (t === null || t === '') throw invalidParameter(`invalid archive: hard link ${JSON.stringify(h.name)} points outside the destination directory`);
      linkname = prefixed(t);
    }
    if (name === '' && h.type !== 'dir') throw invalidParameter(`invalid archive: entry ${JSON.stringify(h.name)} would replace the root directory`);
    if (opts.noOverwriteDirNonDir && name !== '') {
      const isDir = h.type === 'dir';
      let existingDir = seen.get(name);
      if (existingDir === undefined) {
        const host = resolveInRootSync(root, name);
        const s = lstatOrUndefined(host);
        existingDir = s ? s.isDirectory() : undefined;
      }
      // Docker's wording, with the paths as seen inside the container.
      if (existingDir === true && !isDir) throw conflict(`cannot overwrite directory "/${name}" with non-directory "/${dirRel}"`);
      if (existingDir === false && isDir) throw conflict(`cannot overwrite non-directory "/${name}" with directory "/${dirRel}"`);
    }
    seen.set(name, h.type === 'dir');
    const uid = opts.owner?.uid ?? h.uid;
    const gid = opts.owner?.gid ?? h.gid;
    const size = h.type === 'file' ? h.size : 0;
    yield encodeHeader({
      name: h.type === 'dir' ? `${name === '' ? '.' : name}/` : name,
      type: h.type,
      mode: h.mode,
      uid,
      gid,
      size,
      mtime: Math.trunc(h.mtime),
      linkname: h.type === 'link' || h.type === 'symlink' ? linkname : undefined,
      devmajor: h.devmajor,
      devminor: h.devminor,
      xattrs: [...h.xattrs],
    });
    if (size > 0) {
      let n = 0;
      for await (const chunk of reader.body()) {
        n += chunk.length;
        yield chunk;
      }
      if (n !== size) throw invalidParameter('invalid archive: unexpected end of data');
      const p = pad(size);
      if (p) yield Buffer.alloc(p);
    }
  }
  yield END_OF_ARCHIVE;
}

/**
 * PUT /containers/{id}/archive: extracts a tar (plain, gzip or zstd) into the directory `reqPath` of the
 * rootfs. The path is resolved inside the rootfs with every symlink followed, and must be a directory.
 */
export async function extractToDir(root: string, reqPath: string, input: AsyncIterable<unknown>, containerName: string, opts: ExtractOptions): Promise<void> {
  const absPath = containerAbsPath(reqPath);
  const scoped = resolveScoped(root, absPath, true);
  scoped.close();
  if (!scoped.st) throw fileNotFound(reqPath, containerName);
  if (!scoped.st.isDirectory()) throw invalidParameter('extraction point is not a directory');
  if (opts.readonlyRootfs) throw invalidParameter('container rootfs is marked read-only');
  const plain = await decompress(input);
  const tar = Readable.from(rewrite(root, scoped.rel, plain, opts), { objectMode: false, highWaterMark: 1 << 16 });
  try {
    await extractLayer(tar, root, { whiteouts: 'apply', signal: opts.signal });
  } catch (err) {
    if (err instanceof BerthError) throw err;
    if (isErrno(err, 'ENOENT')) throw fileNotFound(reqPath, containerName);
    throw internal((err as Error).message, err);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Holding and freezing a container's filesystem

export interface ContainerFs {
  merged: string;
  upper: string;
  /** The image's layer directories, topmost first. */
  lowers: string[];
  release(): void;
}

/** The rootfs of a container, mounted (temporarily if it is stopped) until release(). */
export function openContainerFs(host: ContainerFsHost, layers: LayerStore, c: ContainerRecord): ContainerFs {
  if (c.State.Status === 'removing' || c.State.Dead) throw conflict(`container ${c.ID} is ${c.State.Dead ? 'dead' : 'being removed'}`);
  const held = host.holdRootfs(c);
  return { merged: held.merged, upper: held.upper, lowers: lowerDirs(layers, c), release: held.release };
}

function lowerDirs(layers: LayerStore, c: ContainerRecord): string[] {
  const out: string[] = [];
  for (let id = c.TopLayer; id; id = layers.get(id)?.parent) out.push(layers.diffDir(id));
  return out;
}

/** The container's layer directories without mounting anything (for diff). */
export function containerLayers(host: ContainerFsHost, layers: LayerStore, c: ContainerRecord): { upper: string; lowers: string[] } {
  return { upper: path.join(path.dirname(host.rootfsOf(c)), 'upper'), lowers: lowerDirs(layers, c) };
}

/**
 * Runs `fn` with a running container frozen (cgroup freezer through the OCI runtime's pause/resume), so its
 * processes cannot change the tree under a path-based operation. A paused or stopped container is left as it is.
 */
export async function withFrozen<T>(host: ContainerFsHost, c: ContainerRecord, fn: () => Promise<T>): Promise<T> {
  if (!c.State.Running || c.State.Paused) return fn();
  const rt = host.runtimeOf(c);
  try {
    await execFileP(rt.path, ['--root', rt.root, 'pause', c.ID]);
  } catch (err) {
    // It may have exited meanwhile; then nothing can write any more.
    if (c.State.Running) throw internal(`cannot pause container ${c.ID}: ${((err as { stderr?: string }).stderr ?? (err as Error).message).trim()}`);
    return fn();
  }
  try {
    return await fn();
  } finally {
    await execFileP(rt.path, ['--root', rt.root, 'resume', c.ID]).catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------------------
// Changes (docker diff)

export const CHANGE_MODIFY = 0;
export const CHANGE_ADD = 1;
export const CHANGE_DELETE = 2;

export interface Change {
  Path: string;
  Kind: number;
}

// What the runtime creates in the rw layer as mount points. Docker keeps these in a separate "-init" layer
// below the container's, so they never show in diff or commit; here they are left out when they are still the
// empty placeholders and the image does not have them.
const MOUNT_STUBS = new Map<string, 'dir' | 'file' | 'symlink'>([
  ['dev', 'dir'], ['dev/pts', 'dir'], ['dev/shm', 'dir'], ['dev/console', 'file'], ['proc', 'dir'], ['sys', 'dir'],
  ['.dockerenv', 'file'], ['etc/resolv.conf', 'file'], ['etc/hosts', 'file'], ['etc/hostname', 'file'], ['etc/mtab', 'symlink'],
]);

/** Looks a path up in the image's layers without following any symlink on the host. */
export class LowerLookup {
  private readonly lowers: string[];
  private readonly dirs = new Map<string, boolean>();

  constructor(lowers: string[]) {
    this.lowers = lowers;
  }

  private isRealDir(p: string): boolean {
    let v = this.dirs.get(p);
    if (v === undefined) {
      v = lstatOrUndefined(p)?.isDirectory() === true;
      this.dirs.set(p, v);
    }
    return v;
  }

  /** lstat of `rel` in the topmost layer that has it (every parent must be a real directory there). */
  find(rel: string): fs.BigIntStats | undefined {
    const comps = rel.split('/');
    outer: for (const l of this.lowers) {
      let p = l;
      for (let i = 0; i < comps.length - 1; i++) {
        p = `${p}/${comps[i]}`;
        if (!this.isRealDir(p)) continue outer;
      }
      try {
        return fs.lstatSync(`${l}/${rel}`, { bigint: true });
      } catch (err) {
        if (!isErrno(err, 'ENOENT') && !isErrno(err, 'ENOTDIR')) throw err;
      }
    }
    return undefined;
  }
}

function isStub(rel: string, st: fs.BigIntStats, lower: LowerLookup, readlinkAt: () => string): boolean {
  const kind = MOUNT_STUBS.get(rel);
  if (!kind) return false;
  if (kind === 'dir' && !st.isDirectory()) return false;
  if (kind === 'file' && !(st.isFile() && st.size === 0n)) return false;
  if (kind === 'symlink' && !(st.isSymbolicLink() && readlinkAt() === '/proc/mounts')) return false;
  return lower.find(rel) === undefined;
}

/** Whether a directory of the upper layer holds nothing but mount-point placeholders (recursively). */
function onlyStubs(dirFd: number, rel: string, lower: LowerLookup): boolean {
  for (const name of fs.readdirSync(fdPath(dirFd))) {
    const childRel = `${rel}/${name}`;
    const st = lstatAt(dirFd, name);
    if (!st) continue;
    if (!isStub(childRel, st, lower, () => fs.readlinkSync(fdPath(dirFd, name)))) return false;
    if (st.isDirectory()) {
      const fd = fs.openSync(fdPath(dirFd, name), O_DIR);
      try {
        if (!onlyStubs(fd, childRel, lower)) return false;
      } finally {
        closeQuietly(fd);
      }
    }
  }
  return true;
}

function sameFsTime(a: bigint, b: bigint): boolean {
  if (a === b) return true;
  const sa = a / 1000000000n;
  const sb = b / 1000000000n;
  return sa === sb && (a % 1000000000n === 0n || b % 1000000000n === 0n);
}

/**
 * GET /containers/{id}/changes from the overlay upper dir, with Docker's rules (OverlayChanges): a whiteout
 * (char device 0:0) is a deletion, an opaque directory too (its content is reported below it); anything also
 * found in the image's layers is a modification, else an addition; a directory identical in size, mode and
 * mtime to the image's is not a change by itself; the parent of an addition or deletion is reported modified.
 * The order is a depth-first walk with names sorted, as Docker's filepath.Walk gives.
 */
export function containerChanges(upper: string, lowers: string[]): Change[] {
  const lower = new LowerLookup(lowers);
  const changes: Change[] = [];
  const changedDirs = new Set<string>();
  const walk = (dirFd: number, relDir: string) => {
    const names = fs.readdirSync(fdPath(dirFd), { encoding: 'buffer' }).sort(Buffer.compare).map((b) => b.toString('utf8'));
    for (const name of names) {
      const rel = relDir === '' ? name : `${relDir}/${name}`;
      const p = `/${rel}`;
      const st = lstatAt(dirFd, name);
      if (!st) continue;
      const recurse = () => {
        if (!st.isDirectory()) return;
        let fd: number;
        try {
          fd = fs.openSync(fdPath(dirFd, name), O_DIR);
        } catch (err) {
          if (isErrno(err, 'ENOENT') || isErrno(err, 'ELOOP') || isErrno(err, 'ENOTDIR')) return;
          throw err;
        }
        try {
          walk(fd, rel);
        } finally {
          closeQuietly(fd);
        }
      };
      if (isStub(rel, st, lower, () => fs.readlinkSync(fdPath(dirFd, name)))) {
        recurse();
        continue;
      }
      let kind = CHANGE_ADD;
      const whiteout = st.isCharacterDevice() && st.rdev === 0n;
      let opaque = false;
      if (st.isDirectory()) {
        try {
          opaque = lgetxattr(fdPath(dirFd, name), 'trusted.overlay.opaque')?.toString() === 'y';
        } catch { /* no such attribute */ }
      }
      if (whiteout || opaque) {
        kind = CHANGE_DELETE;
      } else {
        const ls = lower.find(rel);
        if (ls) {
          if (ls.isDirectory() && st.isDirectory()) {
            const same = ls.size === st.size && ls.mode === st.mode && sameFsTime(ls.mtimeNs, st.mtimeNs);
            let onlyPlaceholders = false;
            if (!same && ls.mode === st.mode) {
              const fd = fs.openSync(fdPath(dirFd, name), O_DIR);
              try {
                onlyPlaceholders = onlyStubs(fd, rel, lower);
              } finally {
                closeQuietly(fd);
              }
            }
            if (same || onlyPlaceholders) {
              recurse();
              continue;
            }
          }
          kind = CHANGE_MODIFY;
        } else if (st.isDirectory()) {
          const fd = fs.openSync(fdPath(dirFd, name), O_DIR);
          let skip = false;
          try {
            skip = fs.readdirSync(fdPath(fd)).length > 0 && onlyStubs(fd, rel, lower);
          } finally {
            closeQuietly(fd);
          }
          if (skip) continue;
        }
      }
      if (st.isDirectory()) changedDirs.add(p);
      if (kind === CHANGE_ADD || kind === CHANGE_DELETE) {
        const parent = path.posix.dirname(p);
        if (parent !== '/' && !changedDirs.has(parent)) {
          changes.push({ Path: parent, Kind: CHANGE_MODIFY });
          changedDirs.add(parent);
        }
      }
      changes.push({ Path: p, Kind: kind });
      recurse();
    }
  };
  const rootFd = fs.openSync(upper, O_DIR);
  try {
    walk(rootFd, '');
  } finally {
    closeQuietly(rootFd);
  }
  return changes;
}

/** Paths of the upper dir that are only the runtime's mount-point placeholders (left out of a commit). */
export function stubExcluder(upper: string, lowers: string[]): (rel: string) => boolean {
  const lower = new LowerLookup(lowers);
  const holdsStubs = (rel: string) => [...MOUNT_STUBS.keys()].some((s) => s.startsWith(`${rel}/`));
  return (rel) => {
    const kind = MOUNT_STUBS.get(rel);
    if (!kind && !holdsStubs(rel)) return false;
    let st: fs.BigIntStats;
    try {
      st = fs.lstatSync(`${upper}/${rel}`, { bigint: true });
    } catch {
      return false;
    }
    if (!st.isDirectory()) return isStub(rel, st, lower, () => fs.readlinkSync(`${upper}/${rel}`));
    // A directory copied up or created only to hold placeholders (/etc for /etc/hosts, /dev) is no change.
    const fd = fs.openSync(`${upper}/${rel}`, O_DIR);
    try {
      if (!onlyStubs(fd, rel, lower)) return false;
    } finally {
      closeQuietly(fd);
    }
    const ls = lower.find(rel);
    return ls === undefined || (ls.isDirectory() && ls.mode === st.mode);
  };
}

/** Bytes of regular file content in the upper dir (the container's SizeRw; each inode counted once). */
export function upperSize(upper: string): number {
  let total = 0;
  const seen = new Set<string>();
  const walk = (dirFd: number) => {
    for (const name of fs.readdirSync(fdPath(dirFd))) {
      const st = lstatAt(dirFd, name);
      if (!st) continue;
      if (st.isDirectory()) {
        let fd: number;
        try {
          fd = fs.openSync(fdPath(dirFd, name), O_DIR);
        } catch {
          continue;
        }
        try {
          walk(fd);
        } finally {
          closeQuietly(fd);
        }
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        if (st.nlink > 1n) {
          if (seen.has(key)) continue;
          seen.add(key);
        }
        total += Number(st.size);
      }
    }
  };
  let fd: number;
  try {
    fd = fs.openSync(upper, O_DIR);
  } catch {
    return 0;
  }
  try {
    walk(fd);
  } finally {
    closeQuietly(fd);
  }
  return total;
}
