// A small, strict tar codec (ustar + PAX + GNU long names) used by archive.ts.
//
// Why not tar-stream: its PAX decoder turns every record into a UTF-8 string, which destroys binary xattr
// values (security.capability is binary and common in images), and we want full control over limits when
// reading hostile input and over every header byte when writing (layer digests must be reproducible).
import { invalidParameter } from '../lib/errors.ts';

export const BLOCK = 512;
/** Longest entry name or link target accepted (Linux PATH_MAX). */
export const MAX_PATH_BYTES = 4096;
/** Largest PAX extended header accepted (xattr values can be up to 64 KiB each). */
const MAX_PAX_BYTES = 8 * 1024 * 1024;
/** Largest GNU long name/link header accepted. */
const MAX_LONGNAME_BYTES = 64 * 1024;

export type EntryType = 'file' | 'link' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

/**
 * Normalises a tar entry name to a clean relative path: leading `/` and `./`, empty and `.` components are
 * dropped and `..` components are applied. Returns null when the name climbs above the root (e.g. `../x`,
 * `/a/../../x`); '' means the root itself.
 */
export function normalizeEntryName(name: string): string | null {
  const out: string[] = [];
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (out.length === 0) return null;
      out.pop();
      continue;
    }
    out.push(c);
  }
  return out.join('/');
}

// The tar entry type of a non-directory file; undefined for sockets, which tar archives (and Docker) skip.
export function entryTypeOf(st: { isFile(): boolean; isSymbolicLink(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isFIFO(): boolean }): EntryType | undefined {
  if (st.isFile()) return 'file';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return undefined;
}

export interface TarHeader {
  /** Raw entry name as stored (PAX path or GNU long name applied), not normalised. */
  name: string;
  type: EntryType;
  /** Permission bits incl. setuid/setgid/sticky (07777). */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of content that follow the header (regular files only; 0 otherwise). */
  size: number;
  /** Seconds since the epoch, may be fractional (PAX). */
  mtime: number;
  atime?: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  /** From PAX SCHILY.xattr.* (and LIBARCHIVE.xattr.*) records, in archive order. */
  xattrs: Map<string, Buffer>;
}

const fail = (msg: string) => invalidParameter(`invalid tar archive: ${msg}`);

// ---------------------------------------------------------------------------------------------------------
// Reading

/** Pulls exact byte counts out of an async iterator of chunks. */
export class ByteSource {
  private readonly it: AsyncIterator<Buffer>;
  private chunks: Buffer[] = [];
  private avail = 0;
  private ended = false;

  constructor(it: AsyncIterator<Buffer>) {
    this.it = it;
  }

  private async pull(): Promise<boolean> {
    if (this.ended) return false;
    for (;;) {
      const r = await this.it.next();
      if (r.done) {
        this.ended = true;
        return false;
      }
      if (r.value.length === 0) continue;
      this.chunks.push(r.value);
      this.avail += r.value.length;
      return true;
    }
  }

  private take(n: number): Buffer {
    // Precondition: n <= this.avail.
    const first = this.chunks[0]!;
    if (first.length === n) {
      this.chunks.shift();
      this.avail -= n;
      return first;
    }
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      this.avail -= n;
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - off);
      c.copy(out, off, 0, k);
      off += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.avail -= n;
    return out;
  }

  /** Exactly n bytes, or fewer only at the end of the input. */
  async read(n: number): Promise<Buffer> {
    while (this.avail < n) if (!(await this.pull())) break;
    return this.take(Math.min(n, this.avail));
  }

  /** Up to `max` bytes that are already available (pulling once if none are); empty at the end. */
  async readSome(max: number): Promise<Buffer> {
    if (this.avail === 0 && !(await this.pull())) return Buffer.alloc(0);
    return this.take(Math.min(max, this.avail));
  }

  async skip(n: number): Promise<void> {
    while (n > 0) {
      const b = await this.readSome(Math.min(n, 1 << 20));
      if (b.length === 0) throw fail('unexpected end of data');
      n -= b.length;
    }
  }

  /** Skips up to n bytes; false when the input ends first. */
  async skipUpTo(n: number): Promise<boolean> {
    while (n > 0) {
      const b = await this.readSome(Math.min(n, 1 << 20));
      if (b.length === 0) return false;
      n -= b.length;
    }
    return true;
  }

  /** Consumes the rest of the input. */
  async drain(): Promise<void> {
    this.chunks = [];
    this.avail = 0;
    while (await this.pull()) {
      this.chunks = [];
      this.avail = 0;
    }
  }
}

function cstring(buf: Buffer, off: number, len: number): string {
  const field = buf.subarray(off, off + len);
  const nul = field.indexOf(0);
  return field.subarray(0, nul === -1 ? len : nul).toString('utf8');
}

function parseNumeric(buf: Buffer, off: number, len: number, what: string, allowNegative = false): number {
  const field = buf.subarray(off, off + len);
  if (field[0]! & 0x80) {
    // GNU base-256: big-endian two's complement, first byte 0x80 (positive) or 0xff (negative).
    let v = 0n;
    for (let i = 0; i < field.length; i++) v = (v << 8n) | BigInt(i === 0 ? field[i]! & 0x7f : field[i]!);
    if (field[0] === 0xff) {
      if (!allowNegative) throw fail(`negative ${what}`);
      v -= 1n << BigInt(8 * field.length - 1);
    } else if (field[0] !== 0x80) {
      throw fail(`bad ${what}`);
    }
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw fail(`${what} out of range`);
    return Number(v);
  }
  const s = field.toString('latin1').replace(/^[ \0]+|[ \0]+$/g, '');
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw fail(`bad ${what} field`);
  const v = parseInt(s, 8);
  if (!Number.isSafeInteger(v)) throw fail(`${what} out of range`);
  return v;
}

function checksumOk(block: Buffer): boolean {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  let stored: number;
  try {
    stored = parseNumeric(block, 148, 8, 'checksum');
  } catch {
    return false;
  }
  return stored === unsigned || stored === signed;
}

function isZero(block: Buffer): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

/** Parses PAX extended header records ("%d %s=%s\n"). Values stay raw bytes (xattrs are binary). */
export function parsePax(buf: Buffer, into = new Map<string, Buffer>()): Map<string, Buffer> {
  let off = 0;
  while (off < buf.length) {
    if (buf[off] === 0) {
      // Some writers pad the data with NULs; nothing may follow them.
      if (!isZero(buf.subarray(off))) throw fail('bad PAX record');
      break;
    }
    const sp = buf.indexOf(0x20, off);
    if (sp === -1 || sp - off > 12 || sp === off) throw fail('bad PAX record length');
    const lenStr = buf.toString('latin1', off, sp);
    if (!/^[0-9]+$/.test(lenStr)) throw fail('bad PAX record length');
    const len = parseInt(lenStr, 10);
    if (len <= sp - off + 2 || off + len > buf.length) throw fail('bad PAX record length');
    const rec = buf.subarray(sp + 1, off + len);
    if (rec[rec.length - 1] !== 0x0a) throw fail('PAX record not terminated');
    const eq = rec.indexOf(0x3d);
    if (eq <= 0 || eq >= rec.length) throw fail('bad PAX record');
    const key = rec.toString('utf8', 0, eq);
    if (key.includes('\0')) throw fail('NUL in PAX key');
    into.set(key, Buffer.from(rec.subarray(eq + 1, rec.length - 1)));
    off += len;
  }
  return into;
}

function paxString(v: Buffer, key: string): string {
  if (v.includes(0)) throw fail(`NUL in PAX ${key}`);
  return v.toString('utf8');
}

function paxInt(v: Buffer, key: string, max: number): number {
  const s = v.toString('latin1');
  if (!/^[0-9]+$/.test(s)) throw fail(`bad PAX ${key}`);
  const n = parseInt(s, 10);
  if (!Number.isSafeInteger(n) || n > max) throw fail(`PAX ${key} out of range`);
  return n;
}

function paxTime(v: Buffer, key: string): number {
  const s = v.toString('latin1');
  if (!/^-?[0-9]{1,15}(\.[0-9]*)?$/.test(s)) throw fail(`bad PAX ${key}`);
  return Number(s);
}

const typeByFlag: Record<string, EntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file', // contiguous file: a regular file everywhere that matters
  '1': 'link',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'dir',
  '6': 'fifo',
};

/**
 * Pull-based tar reader. `next()` returns the next entry's header (skipping whatever of the previous entry's
 * content was not read); `body()` yields the current entry's content.
 */
export class TarReader {
  private readonly src: ByteSource;
  private remaining = 0; // unread content bytes of the current entry
  private padding = 0; // padding after the current entry's content
  private done = false;

  constructor(src: ByteSource) {
    this.src = src;
  }

  private async readBlock(): Promise<Buffer | null> {
    const b = await this.src.read(BLOCK);
    if (b.length === 0) return null;
    if (b.length < BLOCK) throw fail('unexpected end of data in header');
    return b;
  }

  private async readData(size: number, max: number, what: string): Promise<Buffer> {
    if (size > max) throw fail(`${what} too large (${size} bytes)`);
    const data = await this.src.read(size);
    if (data.length < size) throw fail('unexpected end of data');
    await this.src.skip(pad(size));
    return Buffer.from(data);
  }

  async next(): Promise<TarHeader | null> {
    if (this.done) return null;
    await this.src.skip(this.remaining);
    // The docker CLI sends some build contexts cut right after the last file's content (no padding, no end
    // blocks): the content is whole, so that is the end.
    const padded = await this.src.skipUpTo(this.padding);
    this.remaining = this.padding = 0;
    if (!padded) {
      this.done = true;
      return null;
    }

    let pax: Map<string, Buffer> | null = null;
    let longName: string | null = null;
    let longLink: string | null = null;
    for (;;) {
      const block = await this.readBlock();
      if (block === null) {
        // Input ended at a header boundary without the two zero blocks: accept it as the end.
        if (pax || longName !== null || longLink !== null) throw fail('unexpected end of data after extended header');
        this.done = true;
        return null;
      }
      if (isZero(block)) {
        const second = await this.src.read(BLOCK);
        if (second.length === BLOCK && !isZero(second)) throw fail('zero block followed by a header');
        this.done = true;
        return null;
      }
      if (!checksumOk(block)) throw fail('header checksum mismatch');

      const flag = String.fromCharCode(block[156]!);
      const size = parseNumeric(block, 124, 12, 'size');
      if (flag === 'x' || flag === 'X') {
        pax = parsePax(await this.readData(size, MAX_PAX_BYTES, 'PAX header'), pax ?? undefined);
        continue;
      }
      if (flag === 'g') {
        // Global PAX headers are ignored, as Docker (Go's archive/tar) does.
        await this.readData(size, MAX_PAX_BYTES, 'PAX global header');
        continue;
      }
      if (flag === 'L' || flag === 'K') {
        const data = await this.readData(size, MAX_LONGNAME_BYTES, 'GNU long name');
        const nul = data.indexOf(0);
        const s = data.subarray(0, nul === -1 ? data.length : nul).toString('utf8');
        if (flag === 'L') longName = s;
        else longLink = s;
        continue;
      }

      const magic = block.toString('latin1', 257, 263);
      const version = block.toString('latin1', 263, 265);
      const posix = magic === 'ustar\0' && version === '00';
      let name = cstring(block, 0, 100);
      if (posix && block[345] !== 0) name = `${cstring(block, 345, 155)}/${name}`;
      let type: EntryType | undefined = typeByFlag[flag];
      if (type === undefined) throw fail(`unsupported entry type '${flag.replace(/[^\x20-\x7e]/g, '?')}' for ${JSON.stringify(name)}`);
      if (type === 'file' && (flag === '\0' || flag === '0') && name.endsWith('/')) type = 'dir'; // old tars

      const h: TarHeader = {
        name,
        type,
        mode: parseNumeric(block, 100, 8, 'mode') & 0o7777,
        uid: parseNumeric(block, 108, 8, 'uid'),
        gid: parseNumeric(block, 116, 8, 'gid'),
        size,
        mtime: parseNumeric(block, 136, 12, 'mtime', true),
        linkname: cstring(block, 157, 100),
        devmajor: type === 'char' || type === 'block' ? parseNumeric(block, 329, 8, 'devmajor') : 0,
        devminor: type === 'char' || type === 'block' ? parseNumeric(block, 337, 8, 'devminor') : 0,
        xattrs: new Map(),
      };
      if (longName !== null) h.name = longName;
      if (longLink !== null) h.linkname = longLink;
      if (pax) applyPax(h, pax);
      if (h.uid > 0xffffffff || h.gid > 0xffffffff) throw fail(`uid/gid out of range for ${JSON.stringify(h.name)}`);
      if (Buffer.byteLength(h.name) > MAX_PATH_BYTES) throw fail(`entry name longer than ${MAX_PATH_BYTES} bytes`);
      if (Buffer.byteLength(h.linkname) > MAX_PATH_BYTES) throw fail(`link target longer than ${MAX_PATH_BYTES} bytes`);
      if (h.name.includes('\0') || h.linkname.includes('\0')) throw fail('NUL in entry name');

      // Only regular files carry content; anything else's size field is skipped (hardlinks may set it).
      const dataSize = h.size;
      if (h.type !== 'file') h.size = 0;
      this.remaining = dataSize;
      this.padding = pad(dataSize);
      if (h.type !== 'file') {
        await this.src.skip(this.remaining + this.padding);
        this.remaining = this.padding = 0;
      }
      return h;
    }
  }

  /** Yields the current entry's content; throws if the input ends early. */
  async *body(): AsyncGenerator<Buffer> {
    while (this.remaining > 0) {
      const b = await this.src.readSome(Math.min(this.remaining, 1 << 20));
      if (b.length === 0) throw fail('unexpected end of data in file content');
      this.remaining -= b.length;
      yield b;
    }
  }
}

function applyPax(h: TarHeader, pax: Map<string, Buffer>): void {
  for (const [key, v] of pax) {
    if (key.startsWith('GNU.sparse.')) throw fail('sparse files are not supported');
    if (v.length === 0 && !key.includes('xattr.')) continue; // an empty value unsets the keyword
    switch (key) {
      case 'path':
        h.name = paxString(v, key);
        break;
      case 'linkpath':
        h.linkname = paxString(v, key);
        break;
      case 'size':
        h.size = paxInt(v, key, Number.MAX_SAFE_INTEGER);
        break;
      case 'uid':
        h.uid = paxInt(v, key, 0xffffffff);
        break;
      case 'gid':
        h.gid = paxInt(v, key, 0xffffffff);
        break;
      case 'mtime':
        h.mtime = paxTime(v, key);
        break;
      case 'atime':
        h.atime = paxTime(v, key);
        break;
      default:
        if (key.startsWith('SCHILY.xattr.')) {
          h.xattrs.set(key.slice('SCHILY.xattr.'.length), v);
        } else if (key.startsWith('LIBARCHIVE.xattr.')) {
          let name: string;
          try {
            name = decodeURIComponent(key.slice('LIBARCHIVE.xattr.'.length));
          } catch {
            throw fail('bad LIBARCHIVE.xattr key');
          }
          h.xattrs.set(name, Buffer.from(v.toString('latin1'), 'base64'));
        }
    }
  }
}

export function pad(size: number): number {
  const r = size % BLOCK;
  return r === 0 ? 0 : BLOCK - r;
}

// ---------------------------------------------------------------------------------------------------------
// Writing

export interface WriteHeader {
  name: string; // directories end with '/'
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number; // whole seconds
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: [string, Buffer][];
}

const flagByType: Record<EntryType, string> = {
  file: '0',
  link: '1',
  symlink: '2',
  char: '3',
  block: '4',
  dir: '5',
  fifo: '6',
};

function isAscii(s: string): boolean {
  return /^[\x01-\x7f]*$/.test(s);
}

/** Writes n as zero-padded octal filling len-1 digits plus NUL, or base-256 when it does not fit. */
function putNumeric(buf: Buffer, off: number, len: number, n: number): boolean {
  const s = Math.max(0, Math.trunc(n)).toString(8);
  if (n >= 0 && s.length <= len - 1) {
    buf.write(s.padStart(len - 1, '0'), off, 'latin1');
    buf[off + len - 1] = 0;
    return true;
  }
  // GNU base-256 (negative values are clamped to 0 above; callers never pass them here except mtime).
  let v = BigInt(Math.trunc(n));
  if (v < 0n) v = 0n;
  for (let i = len - 1; i > 0; i--) {
    buf[off + i] = Number(v & 0xffn);
    v >>= 8n;
  }
  buf[off] = 0x80;
  return false;
}

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len), 'latin1'), body]);
}

function splitUstarName(name: string): [string, string] | null {
  const bytes = Buffer.byteLength(name);
  if (bytes <= 100) return ['', name];
  if (bytes > 256) return null;
  // Find the last '/' such that the prefix fits in 155 bytes and the rest in 100 (and is non-empty).
  for (let i = name.length - 1; i > 0; i--) {
    if (name[i] !== '/') continue;
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (prefix.length <= 155 && rest.length <= 100 && rest.length > 0) return [prefix, rest];
    if (rest.length > 100) return null;
  }
  return null;
}

function ustarBlock(
  name: string,
  prefix: string,
  flag: string,
  mode: number,
  uid: number,
  gid: number,
  size: number,
  mtime: number,
  linkname: string,
  devmajor: number,
  devminor: number,
): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(name, 0, 100, 'utf8');
  putNumeric(b, 100, 8, mode);
  putNumeric(b, 108, 8, uid);
  putNumeric(b, 116, 8, gid);
  putNumeric(b, 124, 12, size);
  putNumeric(b, 136, 12, mtime);
  b.write(flag, 156, 1, 'latin1');
  b.write(linkname, 157, 100, 'utf8');
  b.write('ustar\x0000', 257, 8, 'latin1');
  putNumeric(b, 329, 8, devmajor);
  putNumeric(b, 337, 8, devminor);
  b.write(prefix, 345, 155, 'utf8');
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i]!;
  b.write(sum.toString(8).padStart(6, '0'), 148, 'latin1');
  b[154] = 0;
  b[155] = 0x20;
  return b;
}

const MAX_OCTAL_7 = 0o7777777;
const MAX_OCTAL_11 = 0o77777777777;

/**
 * Encodes one entry's header blocks: a PAX extended header first when the entry needs one (long or non-ASCII
 * names, big numbers, xattrs), then the ustar header. Output is a pure function of the input.
 */
export function encodeHeader(h: WriteHeader): Buffer {
  const linkname = h.linkname ?? '';
  const records: [string, Buffer][] = [];
  let name = h.name;
  let prefix = '';
  const split = isAscii(h.name) ? splitUstarName(h.name) : null;
  if (split) {
    [prefix, name] = split;
  } else {
    records.push(['path', Buffer.from(h.name, 'utf8')]);
    name = asciiTruncate(h.name, 100);
  }
  let link = linkname;
  if (!isAscii(linkname) || linkname.length > 100) {
    records.push(['linkpath', Buffer.from(linkname, 'utf8')]);
    link = asciiTruncate(linkname, 100);
  }
  if (h.uid > MAX_OCTAL_7) records.push(['uid', Buffer.from(String(h.uid))]);
  if (h.gid > MAX_OCTAL_7) records.push(['gid', Buffer.from(String(h.gid))]);
  if (h.size > MAX_OCTAL_11) records.push(['size', Buffer.from(String(h.size))]);
  const mtime = Math.trunc(h.mtime);
  if (mtime < 0 || mtime > MAX_OCTAL_11) records.push(['mtime', Buffer.from(String(mtime))]);
  for (const [k, v] of h.xattrs ?? []) records.push([`SCHILY.xattr.${k}`, v]);

  const main = ustarBlock(
    name,
    prefix,
    flagByType[h.type],
    h.mode & 0o7777,
    h.uid,
    h.gid,
    h.size,
    Math.max(0, mtime),
    link,
    h.devmajor ?? 0,
    h.devminor ?? 0,
  );
  if (records.length === 0) return main;

  records.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const data = Buffer.concat(records.map(([k, v]) => paxRecord(k, v)));
  const base = h.name.replace(/\/+$/, '').split('/').pop() ?? '';
  const paxName = asciiTruncate(`PaxHeaders.0/${base}`, 100);
  const paxHead = ustarBlock(paxName, '', 'x', 0o644, 0, 0, data.length, 0, '', 0, 0);
  return Buffer.concat([paxHead, data, Buffer.alloc(pad(data.length)), main]);
}

function asciiTruncate(s: string, max: number): string {
  return s.replace(/[^\x20-\x7e]/g, '_').slice(0, max);
}

/** The end-of-archive marker: two zero blocks. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);
