// berth cp: copies files between a container and the local filesystem through the archive API
// (HEAD/GET/PUT /containers/{id}/archive), deciding where things land exactly as docker does (its archive
// package: CopyInfoSourcePath, TarResource, PrepareArchiveCopy, RebaseArchiveEntries, CopyTo).
//
// Local extraction treats the archive as untrusted: entry names may not climb out of the destination, and
// every path is resolved inside the destination with symlinks kept inside it, the final component never
// followed; ownership is not changed (docker's NoLchown).
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { Cli, CommandSpec } from '../command.ts';
import { BIN } from '../command.ts';
import { StatusError } from '../errors.ts';
import { esc } from '../client.ts';
import { ByteSource, END_OF_ARCHIVE, encodeHeader, entryTypeOf, normalizeEntryName, pad, TarReader } from '../../layers/archive-tar.ts';
import type { TarHeader, WriteHeader } from '../../layers/archive-tar.ts';
import { humanSizeWithPrecision } from '../../lib/units.ts';

// ---------------------------------------------------------------------------------------------------------
// Go's path/filepath and docker's archive path helpers (POSIX)

export function goClean(p: string): string {
  if (p === '') return '.';
  let n = path.posix.normalize(p);
  if (n.length > 1 && n.endsWith('/')) n = n.slice(0, -1);
  return n;
}

export function goBase(p: string): string {
  if (p === '') return '.';
  const t = p.replace(/\/+$/, '');
  if (t === '') return '/';
  return t.slice(t.lastIndexOf('/') + 1);
}

export function goDir(p: string): string {
  const i = p.lastIndexOf('/');
  return goClean(i < 0 ? '' : p.slice(0, i + 1));
}

function goJoin(...parts: string[]): string {
  const nonEmpty = parts.filter((x) => x !== '');
  return nonEmpty.length === 0 ? '' : goClean(nonEmpty.join('/'));
}

const specifiesCurrentDir = (p: string) => goBase(p) === '.';
const hasTrailingSep = (p: string) => p.length > 0 && p.endsWith('/');
const assertsDirectory = (p: string) => hasTrailingSep(p) || specifiesCurrentDir(p);

export function preserveTrailingDotOrSeparator(cleaned: string, original: string): string {
  let out = cleaned;
  if (!specifiesCurrentDir(out) && specifiesCurrentDir(original)) {
    if (!hasTrailingSep(out)) out += '/';
    out += '.';
  }
  if (!hasTrailingSep(out) && hasTrailingSep(original)) out += '/';
  return out;
}

export function splitPathDirEntry(p: string): [string, string] {
  let cleaned = goClean(p);
  if (specifiesCurrentDir(p)) cleaned += '/.';
  return [goDir(cleaned), goBase(cleaned)];
}

export function getRebaseName(p: string, resolved: string): [string, string] {
  let r = resolved;
  let rebaseName = '';
  if (specifiesCurrentDir(p) && !specifiesCurrentDir(r)) r += '/.';
  if (hasTrailingSep(p) && !hasTrailingSep(r)) r += '/';
  if (goBase(p) !== goBase(r)) rebaseName = goBase(p);
  return [r, rebaseName];
}

/** splitCpArg: "CONTAINER:PATH" or a local path (absolute, or with a "." first part before the colon). */
export function splitCpArg(arg: string): [string, string] {
  if (arg.startsWith('/')) return ['', arg];
  const i = arg.indexOf(':');
  if (i < 0 || arg.slice(0, i).startsWith('.')) return ['', arg];
  return [arg.slice(0, i), arg.slice(i + 1)];
}

function resolveLocalPath(p: string): string {
  return preserveTrailingDotOrSeparator(path.resolve(p), p);
}

// ---------------------------------------------------------------------------------------------------------
// Errors worded like Go's os package

function goErr(op: string, p: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException).code;
  const why: Record<string, string> = {
    ENOENT: 'no such file or directory', ENOTDIR: 'not a directory', EACCES: 'permission denied', EEXIST: 'file exists',
    EISDIR: 'is a directory', ELOOP: 'too many levels of symbolic links', ENOTEMPTY: 'directory not empty', EPERM: 'operation not permitted',
  };
  return new StatusError(`${op} ${p}: ${code && why[code] ? why[code] : (err as Error).message}`, 1);
}

function lstatOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}

/** filepath.EvalSymlinks with Go's error for a missing component ("lstat /a/b: no such file or directory"). */
function evalSymlinks(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch (err) {
    const abs = path.resolve(p);
    let cur = '/';
    for (const c of abs.split('/').filter(Boolean)) {
      cur = path.posix.join(cur, c);
      try {
        fs.statSync(cur);
      } catch (e) {
        throw goErr('lstat', cur, e);
      }
    }
    throw goErr('lstat', abs, err);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Copy info (archive.CopyInfo and friends)

export interface CopyInfo {
  path: string;
  exists: boolean;
  isDir: boolean;
  rebaseName: string;
}

function copyInfoSourcePath(p: string, followLink: boolean): CopyInfo {
  let resolved: string;
  let rebaseName = '';
  if (followLink) {
    [resolved, rebaseName] = getRebaseName(p, evalSymlinks(p));
  } else {
    const i = p.lastIndexOf('/');
    const dirPath = p.slice(0, i + 1);
    const basePath = p.slice(i + 1);
    const dir = evalSymlinks(dirPath || '.');
    resolved = (dir === '/' ? '' : dir) + '/' + basePath;
    if (hasTrailingSep(p) && goBase(p) !== goBase(resolved)) rebaseName = goBase(p);
  }
  let st: fs.Stats;
  try {
    st = fs.lstatSync(resolved);
  } catch (err) {
    throw goErr('lstat', resolved, err);
  }
  return { path: resolved, exists: true, isDir: st.isDirectory(), rebaseName };
}

function copyInfoDestinationPath(p: string): CopyInfo {
  const original = p;
  let cur = p;
  let st = lstatOrUndefined(cur);
  if (st && !st.isSymbolicLink()) return { path: cur, exists: true, isDir: st.isDirectory(), rebaseName: '' };
  for (let n = 0; st?.isSymbolicLink(); n++) {
    if (n > 10) throw new StatusError(`too many symlinks in ${original}`, 1);
    let target = fs.readlinkSync(cur);
    if (!target.startsWith('/')) target = goJoin(splitPathDirEntry(cur)[0], target);
    cur = target;
    st = lstatOrUndefined(cur);
  }
  if (!st) {
    const parent = splitPathDirEntry(cur)[0];
    let ps: fs.Stats;
    try {
      ps = fs.statSync(parent);
    } catch (err) {
      throw goErr('stat', parent, err);
    }
    if (!ps.isDirectory()) throw new StatusError('not a directory', 1);
    return { path: cur, exists: false, isDir: false, rebaseName: '' };
  }
  return { path: cur, exists: true, isDir: st.isDirectory(), rebaseName: '' };
}

/**
 * archive.PrepareArchiveCopy: the directory to extract into and, when the names in the archive must change,
 * the base name to replace ([old, new]) so the result lands at the destination path.
 */
export function prepareArchiveCopy(src: CopyInfo, dst: CopyInfo): { dstDir: string; rebase?: [string, string] } {
  const [dstDir, dstBase] = splitPathDirEntry(dst.path);
  let srcBase = splitPathDirEntry(src.path)[1];
  if (src.rebaseName) srcBase = src.rebaseName;
  if (dst.exists && dst.isDir) return { dstDir: dst.path };
  if (dst.exists && src.isDir) throw new StatusError('cannot copy directory', 1);
  if (dst.exists || src.isDir) return { dstDir, rebase: [srcBase, dstBase] };
  if (assertsDirectory(dst.path)) throw new StatusError('no such directory', 1);
  return { dstDir, rebase: [srcBase, dstBase] };
}

// ---------------------------------------------------------------------------------------------------------
// Tar streams

function toWriteHeader(h: TarHeader, name: string, linkname: string): WriteHeader {
  return {
    name, type: h.type, mode: h.mode, uid: h.uid, gid: h.gid, size: h.type === 'file' ? h.size : 0, mtime: Math.trunc(h.mtime),
    linkname: h.type === 'link' || h.type === 'symlink' ? linkname : undefined, devmajor: h.devmajor, devminor: h.devminor,
    xattrs: [...h.xattrs],
  };
}

/** archive.RebaseArchiveEntries: replaces the first occurrence of oldBase in each name (and hard link target). */
export async function* rebaseArchiveEntries(src: AsyncIterable<Buffer>, oldBase: string, newBase: string): AsyncGenerator<Buffer> {
  const old = oldBase === '/' ? '' : oldBase;
  const reader = new TarReader(new ByteSource(src[Symbol.asyncIterator]()));
  for (;;) {
    const h = await reader.next();
    if (h === null) break;
    const name = h.name.replace(old, () => newBase);
    const link = h.type === 'link' ? h.linkname.replace(old, () => newBase) : h.linkname;
    yield encodeHeader(toWriteHeader(h, name, link));
    if (h.type === 'file' && h.size > 0) {
      for await (const chunk of reader.body()) yield chunk;
      const p = pad(h.size);
      if (p) yield Buffer.alloc(p);
    }
  }
  yield END_OF_ARCHIVE;
}

/** archive.TarResource: a tar of a local file or directory, its top entry renamed to rebaseName if set. */
export async function* tarResource(src: CopyInfo): AsyncGenerator<Buffer> {
  const sourcePath = src.path;
  try {
    fs.lstatSync(sourcePath);
  } catch (err) {
    throw goErr('lstat', sourcePath, err);
  }
  const [sourceDir, sourceBase] = splitPathDirEntry(sourcePath);
  const include = sourceBase;
  const replacement = src.rebaseName === '/' ? '' : src.rebaseName;
  const seen = new Map<string, string>();
  const entryName = (rel: string, isDir: boolean) => {
    let name = rel;
    if (include === '.' && rel !== '.') name = `./${rel}`;
    if (src.rebaseName) name = name.replace(include, () => replacement);
    if (isDir && !name.endsWith('/')) name += '/';
    return name;
  };
  async function* one(abs: string, rel: string): AsyncGenerator<Buffer> {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(abs);
    } catch {
      return;
    }
    const name = entryName(rel, st.isDirectory());
    const common = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: Math.floor(st.mtimeMs / 1000) };
    if (st.isDirectory()) {
      yield encodeHeader({ ...common, name, type: 'dir', size: 0 });
      const names = fs.readdirSync(abs, { encoding: 'buffer' }).sort(Buffer.compare).map((b) => b.toString('utf8'));
      for (const n of names) yield* one(`${abs === '/' ? '' : abs}/${n}`, rel === '.' ? n : `${rel}/${n}`);
      return;
    }
    const type = entryTypeOf(st);
    if (!type) return; // sockets cannot be archived
    if (st.nlink > 1 && type === 'file') {
      const key = `${st.dev}:${st.ino}`;
      const first = seen.get(key);
      if (first !== undefined) {
        yield encodeHeader({ ...common, name, type: 'link', size: 0, linkname: first });
        return;
      }
      seen.set(key, name);
    }
    const h: WriteHeader = { ...common, name, type, size: 0 };
    if (type === 'symlink') h.linkname = fs.readlinkSync(abs);
    if (type === 'char' || type === 'block') {
      h.devmajor = Math.floor(st.rdev / 256) & 0xfff;
      h.devminor = (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00);
    }
    if (type !== 'file') {
      yield encodeHeader(h);
      return;
    }
    const fd = fs.openSync(abs, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      const size = fs.fstatSync(fd).size;
      yield encodeHeader({ ...h, size });
      let off = 0;
      while (off < size) {
        const buf = Buffer.allocUnsafe(Math.min(1 << 20, size - off));
        const n = fs.readSync(fd, buf, 0, buf.length, off);
        if (n === 0) {
          yield Buffer.alloc(size - off);
          break;
        }
        off += n;
        yield n === buf.length ? buf : buf.subarray(0, n);
      }
      const p = pad(size);
      if (p) yield Buffer.alloc(p);
    } finally {
      fs.closeSync(fd);
    }
  }
  const walkRoot = sourceBase === '.' ? sourceDir : `${sourceDir === '/' ? '' : sourceDir}/${sourceBase}`;
  yield* one(walkRoot, sourceBase === '.' ? '.' : sourceBase);
  yield END_OF_ARCHIVE;
}

/** Resolves `rel` below `root` with symlinks kept inside root; the final component is not followed. */
function resolveBelow(root: string, rel: string): string {
  const stack: string[] = [];
  const todo = rel.split('/').filter((c) => c !== '' && c !== '.');
  let links = 0;
  let missing = false;
  while (todo.length) {
    const c = todo.shift()!;
    if (c === '..') {
      stack.pop();
      continue;
    }
    if (todo.length === 0 || missing) {
      stack.push(c);
      continue;
    }
    const cur = path.join(root, ...stack, c);
    const st = lstatOrUndefined(cur);
    if (!st || !st.isSymbolicLink()) {
      if (!st) missing = true;
      stack.push(c);
      continue;
    }
    if (++links > 40) throw new StatusError(`${rel}: too many levels of symbolic links`, 1);
    const target = fs.readlinkSync(cur);
    if (target.startsWith('/')) stack.length = 0;
    todo.unshift(...target.split('/').filter((x) => x !== '' && x !== '.'));
  }
  return stack.length ? path.join(root, ...stack) : root;
}


/** archive.Untar with CopyTo's options (NoLchown, NoOverwriteDirNonDir), confined to `dest`. */
export async function untar(src: AsyncIterable<Buffer>, dest: string): Promise<void> {
  const reader = new TarReader(new ByteSource(src[Symbol.asyncIterator]()));
  const dirTimes: [string, number][] = [];
  for (;;) {
    const h = await reader.next();
    if (h === null) break;
    const rel = normalizeEntryName(h.name);
    if (rel === null) throw new StatusError(`${JSON.stringify(h.name)} is outside of ${JSON.stringify(dest)}`, 1);
    if (rel === '') continue; // "." itself: the destination directory is kept as it is
    const target = resolveBelow(dest, rel);
    const parent = path.dirname(target);
    if (!lstatOrUndefined(parent)) fs.mkdirSync(parent, { recursive: true, mode: 0o755 });
    const existing = lstatOrUndefined(target);
    if (existing) {
      if (existing.isDirectory() && h.type !== 'dir') throw new StatusError(`cannot overwrite directory ${JSON.stringify(target)} with non-directory ${JSON.stringify(dest)}`, 1);
      if (!existing.isDirectory() && h.type === 'dir') throw new StatusError(`cannot overwrite non-directory ${JSON.stringify(target)} with directory ${JSON.stringify(dest)}`, 1);
      if (!(existing.isDirectory() && h.type === 'dir')) fs.rmSync(target, { recursive: true, force: true });
    }
    switch (h.type) {
      case 'dir':
        if (!existing) fs.mkdirSync(target, { mode: h.mode & 0o7777 });
        fs.chmodSync(target, h.mode & 0o7777);
        dirTimes.push([target, h.mtime]);
        break;
      case 'file': {
        const fd = fs.openSync(target, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, h.mode & 0o7777);
        try {
          for await (const chunk of reader.body()) {
            let off = 0;
            while (off < chunk.length) off += fs.writeSync(fd, chunk, off, chunk.length - off);
          }
          fs.fchmodSync(fd, h.mode & 0o7777);
          fs.futimesSync(fd, h.atime ?? h.mtime, h.mtime);
        } finally {
          fs.closeSync(fd);
        }
        break;
      }
      case 'symlink': {
        // docker's (string-prefix) check that a link does not point out of the extraction directory.
        const lexical = path.join(dest, rel);
        if (!path.join(path.dirname(lexical), h.linkname).startsWith(dest)) {
          throw new StatusError(`invalid symlink ${JSON.stringify(lexical)} -> ${JSON.stringify(h.linkname)}`, 1);
        }
        fs.symlinkSync(h.linkname, target);
        fs.lutimesSync(target, h.mtime, h.mtime);
        break;
      }
      case 'link': {
        const t = normalizeEntryName(h.linkname);
        if (t === null || t === '') throw new StatusError(`invalid hardlink ${JSON.stringify(target)} -> ${JSON.stringify(h.linkname)}`, 1);
        fs.linkSync(resolveBelow(dest, t), target);
        break;
      }
      default:
        // Device nodes and FIFOs need privileges docker's client would use as root; they are skipped here.
        break;
    }
  }
  for (const [dir, mtime] of dirTimes.reverse()) {
    try {
      fs.utimesSync(dir, mtime, mtime);
    } catch { /* removed meanwhile */ }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Progress: docker 28 prints only the final "Successfully copied" line (its live progress never finds a
// terminal: it tests the wrapped stream, not the file), so berth does the same.

const progressSize = (n: number) => humanSizeWithPrecision(n, 3);

async function* counted(src: AsyncIterable<unknown>, onBytes: (n: number) => void): AsyncGenerator<Buffer> {
  for await (const c of src) {
    const b = Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array);
    onBytes(b.length);
    yield b;
  }
}

// ---------------------------------------------------------------------------------------------------------
// The two directions

interface CpConfig {
  followLink: boolean;
  copyUIDGID: boolean;
  quiet: boolean;
  sourcePath: string;
  destPath: string;
  container: string;
}

interface Stat { name: string; size: number; mode: number; mtime: string; linkTarget: string }

const MODE_DIR = 2 ** 31;
const MODE_SYMLINK = 2 ** 27;
const MODE_DEVICE = 2 ** 26;
const MODE_IRREGULAR = 2 ** 19;

function decodeStat(header: string | string[] | undefined): Stat {
  const v = Array.isArray(header) ? header[0] : header;
  if (!v) return { name: '', size: 0, mode: 0, mtime: '', linkTarget: '' };
  return JSON.parse(Buffer.from(v, 'base64').toString('utf8')) as Stat;
}

async function statPath(cli: Cli, container: string, p: string): Promise<Stat> {
  const res = await cli.client().request('HEAD', `/containers/${esc(container)}/archive`, { query: { path: p } });
  res.resume();
  return decodeStat(res.headers['x-docker-container-path-stat']);
}

/** command.ValidateOutputPathFileMode */
function validateFileMode(mode: number): string | undefined {
  if (Math.floor(mode / MODE_DEVICE) % 2 === 1) return 'got a device';
  if (Math.floor(mode / MODE_IRREGULAR) % 2 === 1) return 'got an irregular file';
  return undefined;
}

const isDirMode = (mode: number) => mode >= MODE_DIR;
const isSymlinkMode = (mode: number) => Math.floor(mode / MODE_SYMLINK) % 2 === 1;

/** command.ValidateOutputPath */
function validateOutputPath(p: string): void {
  const dir = goDir(goClean(p));
  if (dir !== '' && dir !== '.' && !fs.existsSync(dir)) {
    throw new StatusError(`invalid output path: directory ${JSON.stringify(dir)} does not exist`, 1);
  }
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw goErr('stat', p, err);
  }
  if (!st || st.isDirectory() || st.isFile()) return;
  const why = st.isBlockDevice() || st.isCharacterDevice() ? 'got a device' : 'got an irregular file';
  throw new StatusError(`invalid output path: ${JSON.stringify(p)} must be a directory or a regular file: ${why}`, 1);
}

async function copyFromContainer(cli: Cli, cfg: CpConfig): Promise<void> {
  let dstPath = cfg.destPath;
  let srcPath = cfg.sourcePath;
  if (dstPath !== '-') dstPath = resolveLocalPath(dstPath);
  validateOutputPath(dstPath);
  let rebaseName = '';
  if (cfg.followLink) {
    let st: Stat | undefined;
    try {
      st = await statPath(cli, cfg.container, srcPath);
    } catch { /* docker ignores it here and lets the GET report */ }
    if (st && isSymlinkMode(st.mode)) {
      let linkTarget = st.linkTarget;
      if (!linkTarget.startsWith('/')) linkTarget = goJoin(splitPathDirEntry(srcPath)[0], linkTarget);
      [srcPath, rebaseName] = getRebaseName(srcPath, linkTarget);
    }
  }
  const res = await cli.client().request('GET', `/containers/${esc(cfg.container)}/archive`, { query: { path: srcPath } });
  const stat = decodeStat(res.headers['x-docker-container-path-stat']);
  if (dstPath === '-') {
    for await (const c of res) cli.out.write(c as Buffer);
    return;
  }
  const srcInfo: CopyInfo = { path: srcPath, exists: true, isDir: isDirMode(stat.mode), rebaseName };
  let copied = 0;
  let content: AsyncIterable<Buffer> = counted(res, (n) => (copied += n));
  if (rebaseName) content = rebaseArchiveEntries(content, splitPathDirEntry(srcPath)[1], rebaseName);
  let failure: unknown;
  try {
    const dstInfo = copyInfoDestinationPath(dstPath);
    const { dstDir, rebase } = prepareArchiveCopy(srcInfo, dstInfo);
    await untar(rebase ? rebaseArchiveEntries(content, rebase[0], rebase[1]) : content, dstDir);
  } catch (err) {
    failure = err;
  } finally {
    res.destroy();
  }
  if (!cfg.quiet) cli.err.write(`Successfully copied ${progressSize(copied)} to ${dstPath}\n`);
  if (failure) throw failure;
}

async function copyToContainer(cli: Cli, cfg: CpConfig): Promise<void> {
  let srcPath = cfg.sourcePath;
  const dstPath = cfg.destPath;
  if (srcPath !== '-') srcPath = resolveLocalPath(srcPath);
  const dstInfo: CopyInfo = { path: dstPath, exists: false, isDir: false, rebaseName: '' };
  let dstStat: Stat | undefined;
  try {
    dstStat = await statPath(cli, cfg.container, dstPath);
  } catch { /* a missing destination is fine: its parent may exist */ }
  if (dstStat && isSymlinkMode(dstStat.mode)) {
    let linkTarget = dstStat.linkTarget;
    if (!linkTarget.startsWith('/')) linkTarget = goJoin(splitPathDirEntry(dstPath)[0], linkTarget);
    dstInfo.path = linkTarget;
    try {
      dstStat = await statPath(cli, cfg.container, linkTarget);
    } catch {
      dstStat = undefined;
    }
  }
  const bad = validateFileMode(dstStat?.mode ?? 0);
  if (bad) throw new StatusError(`destination "${cfg.container}:${dstPath}" must be a directory or a regular file: ${bad}`, 1);
  if (dstStat) {
    dstInfo.exists = true;
    dstInfo.isDir = isDirMode(dstStat.mode);
  }

  let body: AsyncIterable<Buffer>;
  let resolvedDstPath: string;
  let copied = 0;
  if (srcPath === '-') {
    if (!dstInfo.isDir) throw new StatusError(`destination "${cfg.container}:${dstPath}" must be a directory`, 1);
    body = cli.in as AsyncIterable<Buffer>;
    resolvedDstPath = dstInfo.path;
  } else {
    const srcInfo = copyInfoSourcePath(srcPath, cfg.followLink);
    const { dstDir, rebase } = prepareArchiveCopy(srcInfo, dstInfo);
    const tar = tarResource(srcInfo);
    body = rebase ? rebaseArchiveEntries(tar, rebase[0], rebase[1]) : tar;
    if (!cfg.quiet) body = counted(body, (n) => (copied += n));
    resolvedDstPath = dstDir;
  }
  let failure: unknown;
  try {
    const res = await cli.client().request('PUT', `/containers/${esc(cfg.container)}/archive`, {
      query: { path: resolvedDstPath, noOverwriteDirNonDir: 'true', copyUIDGID: cfg.copyUIDGID ? 'true' : undefined },
      headers: { 'Content-Type': 'application/x-tar' },
      body: Readable.from(body, { objectMode: false }),
    });
    res.resume();
  } catch (err) {
    failure = err;
  }
  if (!cfg.quiet) cli.err.write(`Successfully copied ${progressSize(copied)} to ${cfg.container}:${dstInfo.path}\n`);
  if (failure) throw failure;
}

export const cpCommand: CommandSpec = {
  usage: `[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\t${BIN} cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH`,
  short: [
    'Copy files/folders between a container and the local filesystem\n',
    "Use '-' as the source to read a tar archive from stdin",
    'and extract it to a directory destination in a container.',
    "Use '-' as the destination to stream a tar archive of a",
    'container source to stdout.',
  ].join('\n'),
  aliases: ['container cp', 'cp'],
  flags: [
    { name: 'archive', short: 'a', type: '', desc: 'Archive mode (copy all uid/gid information)' },
    { name: 'follow-link', short: 'L', type: '', desc: 'Always follow symbol link in SRC_PATH' },
    { name: 'quiet', short: 'q', type: '', desc: 'Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached' },
  ],
  args: { exact: 2 },
  async run(cli, flags, args) {
    if (args[0] === '') throw new StatusError('source can not be empty', 1);
    if (args[1] === '') throw new StatusError('destination can not be empty', 1);
    // Without -q, progress shows only when stdout is a terminal.
    const quiet = flags.changed('quiet') ? flags.bool('quiet') : !cli.out.isTTY;
    const [srcContainer, srcPath] = splitCpArg(args[0]!);
    const [dstContainer, dstPath] = splitCpArg(args[1]!);
    const cfg: CpConfig = {
      followLink: flags.bool('follow-link'), copyUIDGID: flags.bool('archive'), quiet, sourcePath: srcPath, destPath: dstPath,
      container: srcContainer || dstContainer,
    };
    if (srcContainer && dstContainer) throw new StatusError('copying between containers is not supported', 1);
    if (srcContainer) return copyFromContainer(cli, cfg);
    if (dstContainer) return copyToContainer(cli, cfg);
    throw new StatusError('must specify at least one container source', 1);
  },
};
