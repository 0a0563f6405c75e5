// The build context of `berth build`, prepared the way the docker CLI's legacy builder prepares it
// (cli/command/image/build/context.go and moby's archive.TarWithOptions): a local directory resolved and
// checked, its .dockerignore applied (never to the Dockerfile or the .dockerignore themselves), walked in
// lexical order and streamed as an uncompressed tar with uid/gid 0; a Dockerfile from outside the context or
// from stdin added under a random ".dockerfile.<hex>" name (and listed in .dockerignore so the daemon drops it);
// stdin told apart as an archive or a bare Dockerfile from its first bytes.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { encodeHeader, END_OF_ARCHIVE, pad, type EntryType, type WriteHeader } from '../layers/archive-tar.ts';
import { canSkipDir, isIgnored, parseDockerignore, type IgnorePattern } from '../lib/dockerignore.ts';

export const DEFAULT_DOCKERFILE = 'Dockerfile';

/** An error of context preparation; the message is docker's, without its "unable to prepare context: " prefix. */
export class ContextError extends Error {}

// ---------------------------------------------------------------------------------------------------------
// Go's path/filepath, as the docker CLI uses it

const errnoText: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  EACCES: 'permission denied',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
};

/** The strerror text Go prints for a failed system call. */
export function errnoMessage(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  return errnoText[code] ?? (err as Error).message;
}

/** filepath.EvalSymlinks, failing with Go's "lstat <path>: <reason>" for the first component that is missing. */
export function evalSymlinks(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    // Find the component that fails, resolving the ones before it, as Go's walkSymlinks reports it.
    const parts = p.split('/').filter((c) => c !== '' && c !== '.');
    let cur = p.startsWith('/') ? '/' : '.';
    for (const c of parts) {
      const next = c === '..' ? path.dirname(cur) : path.join(cur, c);
      let st: fs.Stats;
      try {
        st = fs.lstatSync(next);
      } catch (err) {
        throw new Error(`lstat ${next}: ${errnoMessage(err)}`);
      }
      cur = st.isSymbolicLink() ? fs.realpathSync(next) : next;
    }
    return fs.realpathSync(p);
  }
}

/** filepath.Rel for two absolute, clean paths. */
export function relPath(base: string, target: string): string {
  const r = path.relative(base, target);
  return r === '' ? '.' : r;
}

// ---------------------------------------------------------------------------------------------------------
// Local directories

export interface LocalContext {
  /** Absolute context directory with symlinks resolved. */
  contextDir: string;
  /** Dockerfile path relative to the context; starts with "../" when it lies outside; "-" for stdin. */
  relDockerfile: string;
}

/** build.ResolveAndValidateContextPath */
export function resolveContextDir(given: string, cwd = process.cwd()): string {
  let abs = path.resolve(cwd, given);
  try {
    abs = evalSymlinks(abs);
  } catch (err) {
    throw new ContextError(`unable to evaluate symlinks in context path: ${(err as Error).message}`);
  }
  let st: fs.Stats;
  try {
    st = fs.lstatSync(abs);
  } catch (err) {
    throw new ContextError(`unable to stat context directory ${JSON.stringify(abs)}: lstat ${abs}: ${errnoMessage(err)}`);
  }
  if (!st.isDirectory()) throw new ContextError(`context must be a directory: ${abs}`);
  return abs;
}

/**
 * build.GetContextFromLocalDir: the context directory and the Dockerfile relative to it. -f is taken relative
 * to the current directory (not the context); without it, PATH/Dockerfile, or PATH/dockerfile when only that
 * one exists.
 */
export function localContext(given: string, dockerfileFlag: string, cwd = process.cwd()): LocalContext {
  const contextDir = resolveContextDir(given, cwd);
  if (dockerfileFlag === '-') return { contextDir, relDockerfile: '-' };
  let absDockerfile: string;
  if (dockerfileFlag !== '') {
    absDockerfile = path.resolve(cwd, dockerfileFlag);
  } else {
    absDockerfile = path.join(contextDir, DEFAULT_DOCKERFILE);
    if (!lexists(absDockerfile)) {
      const alt = path.join(contextDir, DEFAULT_DOCKERFILE.toLowerCase());
      if (lexists(alt)) absDockerfile = alt;
    }
  }
  try {
    absDockerfile = evalSymlinks(absDockerfile);
  } catch (err) {
    throw new ContextError(`unable to evaluate symlinks in Dockerfile path: ${(err as Error).message}`);
  }
  return { contextDir, relDockerfile: relPath(contextDir, absDockerfile) };
}

function lexists(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Whether the Dockerfile lies outside the context directory (docker then sends it under a random name). */
export function isOutsideContext(relDockerfile: string): boolean {
  return relDockerfile.startsWith('../');
}

/**
 * build.ReadDockerignore, then TrimBuildFilesFromExcludes: exceptions appended so that the .dockerignore and
 * the Dockerfile (unless it comes from stdin) are always sent; the daemon leaves them out of COPY itself.
 */
export function contextExcludes(contextDir: string, relDockerfile: string, dockerfileFromStdin: boolean): IgnorePattern[] {
  let text: string;
  try {
    text = fs.readFileSync(path.join(contextDir, '.dockerignore'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new Error(`open ${path.join(contextDir, '.dockerignore')}: ${errnoMessage(err)}`);
  }
  const patterns = parseDockerignore(text);
  if (isIgnored('.dockerignore', patterns)) patterns.push({ pattern: '.dockerignore', negate: true });
  if (!dockerfileFromStdin && isIgnored(relDockerfile, patterns)) patterns.push({ pattern: relDockerfile, negate: true });
  return patterns;
}

export interface ContextEntry {
  /** Path inside the context, '/'-separated, no trailing slash. */
  rel: string;
  abs: string;
  type: EntryType;
  st: fs.Stats;
}

function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * The entries TarWithOptions would write, in filepath.Walk order (names sorted bytewise), with docker's
 * ValidateContextDirectory checks on the way: an unreadable directory or file fails the build before anything
 * is sent. Ignored directories are not descended unless an exception pattern could re-include something in
 * them (then the directory itself is still left out). Sockets are skipped as tar skips them.
 */
export function listContext(contextDir: string, patterns: IgnorePattern[]): ContextEntry[] {
  const out: ContextEntry[] = [];
  const walk = (dirAbs: string, dirRel: string) => {
    let names: string[];
    try {
      names = fs.readdirSync(dirAbs);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EACCES') throw new Error(`error checking context: can't stat '${dirAbs}'`);
      throw err;
    }
    names.sort(compareBytes);
    for (const name of names) {
      const rel = dirRel === '' ? name : `${dirRel}/${name}`;
      const abs = path.join(dirAbs, name);
      let st: fs.Stats;
      try {
        st = fs.lstatSync(abs);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') continue; // vanished while walking
        if (code === 'EACCES') throw new Error(`error checking context: can't stat '${abs}'`);
        throw err;
      }
      const ignored = isIgnored(rel, patterns);
      if (st.isDirectory()) {
        if (ignored) {
          if (!canSkipDir(rel, patterns)) walk(abs, rel);
          continue;
        }
        out.push({ rel, abs, type: 'dir', st });
        walk(abs, rel);
        continue;
      }
      if (ignored) continue;
      let type: EntryType | undefined;
      if (st.isFile()) type = 'file';
      else if (st.isSymbolicLink()) type = 'symlink';
      else if (st.isCharacterDevice()) type = 'char';
      else if (st.isBlockDevice()) type = 'block';
      else if (st.isFIFO()) type = 'fifo';
      if (type === undefined) continue;
      if (type === 'file') {
        try {
          fs.accessSync(abs, fs.constants.R_OK);
        } catch {
          throw new Error(`error checking context: no permission to read from '${abs}'`);
        }
      }
      out.push({ rel, abs, type, st });
    }
  };
  walk(contextDir, '');
  return out;
}

/** A Dockerfile added to the context from outside it or from stdin (build.AddDockerfileToBuildContext). */
export interface ExtraDockerfile {
  /** ".dockerfile." and 20 random hex digits: the name the daemon is told to use. */
  name: string;
  content: Buffer;
  /** Seconds since the epoch for the added entries. */
  mtime: number;
}

export function extraDockerfile(content: Buffer, now = Date.now()): ExtraDockerfile {
  return { name: `.dockerfile.${randomBytes(10).toString('hex')}`, content, mtime: Math.round(now / 1000) };
}

/** The .dockerignore sent with an extra Dockerfile: the context's own (or ".dockerignore") plus its name. */
export function dockerignoreWithExtra(original: Buffer | undefined, extraName: string): Buffer {
  return Buffer.concat([original ?? Buffer.from('.dockerignore'), Buffer.from(`\n${extraName}\n`)]);
}

function entryHeader(e: ContextEntry, size: number, linkname?: string): WriteHeader {
  const h: WriteHeader = {
    name: e.type === 'dir' ? `${e.rel}/` : e.rel,
    type: e.type,
    mode: e.st.mode & 0o7777,
    uid: 0,
    gid: 0,
    size,
    mtime: Math.floor(e.st.mtimeMs / 1000),
  };
  if (linkname !== undefined) h.linkname = linkname;
  if (e.type === 'char' || e.type === 'block') {
    h.devmajor = Number((BigInt(e.st.rdev) >> 8n) & 0xfffn);
    h.devminor = Number((BigInt(e.st.rdev) & 0xffn) | ((BigInt(e.st.rdev) >> 12n) & 0xfff00n));
  }
  return h;
}

async function* fileContent(abs: string, size: number): AsyncGenerator<Buffer> {
  let sent = 0;
  const stream = fs.createReadStream(abs, { highWaterMark: 256 * 1024 });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const part = chunk.length > size - sent ? chunk.subarray(0, size - sent) : chunk;
      if (part.length > 0) yield part;
      sent += part.length;
      if (sent >= size) break;
    }
  } finally {
    stream.destroy();
  }
  // A file that shrank while being read: keep the archive well-formed.
  if (sent < size) yield Buffer.alloc(size - sent);
  if (pad(size) > 0) yield Buffer.alloc(pad(size));
}

function memoryEntry(name: string, content: Buffer, mtime: number): Buffer[] {
  const h = encodeHeader({ name, type: 'file', mode: 0o600, uid: 0, gid: 0, size: content.length, mtime });
  return [h, content, Buffer.alloc(pad(content.length))];
}

/**
 * The tar stream of the listed entries (archive.TarWithOptions with ChownOpts 0:0): modes kept, symlinks as
 * symlinks, hard links to a file already written as links, devices with their numbers. With an extra
 * Dockerfile, the .dockerignore entry gets its name appended (or is created) and the Dockerfile is added.
 */
export async function* contextTar(entries: ContextEntry[], extra?: ExtraDockerfile): AsyncGenerator<Buffer> {
  const seen = new Map<string, string>();
  let sawDockerignore = false;
  for (const e of entries) {
    if (e.type === 'file' && extra && e.rel === '.dockerignore') {
      sawDockerignore = true;
      const content = dockerignoreWithExtra(fs.readFileSync(e.abs), extra.name);
      yield encodeHeader(entryHeader(e, content.length));
      yield content;
      if (pad(content.length) > 0) yield Buffer.alloc(pad(content.length));
      continue;
    }
    if (e.type === 'file') {
      if (e.st.nlink > 1) {
        const key = `${e.st.dev}:${e.st.ino}`;
        const first = seen.get(key);
        if (first !== undefined) {
          yield encodeHeader({ ...entryHeader(e, 0, first), type: 'link' });
          continue;
        }
        seen.set(key, e.rel);
      }
      yield encodeHeader(entryHeader(e, e.st.size));
      yield* fileContent(e.abs, e.st.size);
      continue;
    }
    if (e.type === 'symlink') {
      yield encodeHeader(entryHeader(e, 0, fs.readlinkSync(e.abs)));
      continue;
    }
    yield encodeHeader(entryHeader(e, 0));
  }
  if (extra) {
    yield* memoryEntry(extra.name, extra.content, extra.mtime);
    if (!sawDockerignore) yield* memoryEntry('.dockerignore', dockerignoreWithExtra(undefined, extra.name), extra.mtime);
  }
  yield END_OF_ARCHIVE;
}

// ---------------------------------------------------------------------------------------------------------
// Stdin

/** How many bytes docker peeks at to tell an archive from a Dockerfile (build.DetectArchiveReader). */
export const DETECT_BYTES = 1024;

function parseTarNumber(field: Buffer): number | undefined {
  if (field.length > 0 && (field[0]! & 0x80) !== 0) return 0; // base-256
  const s = field.toString('latin1').replace(/^[ \0]+|[ \0]+$/g, '');
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) return undefined;
  return parseInt(s, 8);
}

/**
 * build.IsArchive: a known compression's magic bytes, or a first tar header that Go's tar reader accepts (a
 * valid checksum and numeric fields; extended headers need the blocks after them, which docker's peek of
 * 1024 bytes cannot supply, so a tar that starts with one reads as a Dockerfile there too).
 */
export function isArchive(head: Buffer): boolean {
  const starts = (...bytes: number[]) => head.length >= bytes.length && bytes.every((b, i) => head[i] === b);
  if (starts(0x42, 0x5a, 0x68) || starts(0x1f, 0x8b, 0x08) || starts(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00) || starts(0x28, 0xb5, 0x2f, 0xfd)) return true;
  // zstd skippable frame: 0x184D2A50-0x184D2A5F, little endian
  if (head.length >= 4 && (head[0]! & 0xf0) === 0x50 && head[1] === 0x2a && head[2] === 0x4d && head[3] === 0x18) return true;
  if (head.length < 512) return false;
  const block = head.subarray(0, 512);
  if (block.every((b) => b === 0)) return false;
  const stored = parseTarNumber(block.subarray(148, 156));
  if (stored === undefined) return false;
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < 512; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  if (stored !== unsigned && stored !== signed) return false;
  for (const [off, len] of [[100, 8], [108, 8], [116, 8], [124, 12], [136, 12]] as const) {
    if (parseTarNumber(block.subarray(off, off + len)) === undefined) return false;
  }
  const flag = String.fromCharCode(block[156]!);
  return !['x', 'g', 'L', 'K'].includes(flag);
}

/**
 * A tar holding a Dockerfile read from stdin (archive.Tar of a temporary directory): one "Dockerfile" entry
 * owned by the current user, mode 0644 as os.Create under the usual umask leaves it.
 */
export function dockerfileTar(content: Buffer, now = Date.now()): Buffer {
  const mode = 0o666 & ~currentUmask();
  const h = encodeHeader({
    name: DEFAULT_DOCKERFILE, type: 'file', mode, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0,
    size: content.length, mtime: Math.floor(now / 1000),
  });
  return Buffer.concat([h, content, Buffer.alloc(pad(content.length)), END_OF_ARCHIVE]);
}

function currentUmask(): number {
  // process.umask() without an argument is deprecated; 022 is what nearly every shell uses.
  return 0o022;
}

/** Splits a buffered start of stdin from the rest: reads until DETECT_BYTES or the end. */
export async function peek(src: AsyncIterator<Buffer>, n = DETECT_BYTES): Promise<{ head: Buffer; done: boolean }> {
  const chunks: Buffer[] = [];
  let total = 0;
  while (total < n) {
    const r = await src.next();
    if (r.done) return { head: Buffer.concat(chunks), done: true };
    const b = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as string);
    chunks.push(b);
    total += b.length;
  }
  return { head: Buffer.concat(chunks), done: false };
}
