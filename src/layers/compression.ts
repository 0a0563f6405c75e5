// Layer and archive compression, told apart by the first bytes: gzip and zstd are unpacked by Node, bzip2 and xz
// by the system tools, plain tar passes through.
import { spawn } from 'node:child_process';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { invalidParameter, isErrno } from '../lib/errors.ts';

type Compression = 'gzip' | 'zstd' | 'bzip2' | 'xz' | 'none';

export async function decompress(input: AsyncIterable<unknown>): Promise<AsyncIterable<Buffer>> {
  const it = input[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let len = 0;
  let done = false;
  while (len < 6) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    const b = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as Uint8Array);
    head.push(b);
    len += b.length;
  }
  const first = Buffer.concat(head);
  let kind: Compression = 'none';
  if (first.length >= 2 && first[0] === 0x1f && first[1] === 0x8b) kind = 'gzip';
  else if (first.length >= 4 && first.readUInt32BE(0) === 0x28b52ffd) kind = 'zstd';
  else if (first.length >= 3 && first.toString('latin1', 0, 3) === 'BZh') kind = 'bzip2';
  else if (first.length >= 6 && first.readUInt32BE(0) === 0xfd377a58 && first[4] === 0x5a && first[5] === 0) kind = 'xz';
  async function* raw(): AsyncGenerator<Buffer> {
    if (first.length) yield first;
    while (!done) {
      const r = await it.next();
      if (r.done) return;
      yield Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as Uint8Array);
    }
  }
  if (kind === 'none') return raw();
  // Node has no bzip2 or xz decoder; Docker accepts both (contexts, ADD, load): the system tools unpack them.
  if (kind === 'bzip2' || kind === 'xz') return viaTool(kind, raw());
  const dec = kind === 'gzip' ? zlib.createGunzip() : zlib.createZstdDecompress();
  Readable.from(raw(), { objectMode: false }).on('error', (e) => dec.destroy(e)).pipe(dec);
  return dec as AsyncIterable<Buffer>;
}

export function toBuffer(c: unknown): Buffer {
  if (Buffer.isBuffer(c)) return c;
  if (c instanceof Uint8Array) return Buffer.from(c.buffer, c.byteOffset, c.byteLength);
  if (typeof c === 'string') return Buffer.from(c);
  throw new TypeError('stream yielded a non-binary chunk');
}

async function* viaTool(tool: 'bzip2' | 'xz', input: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const child = spawn(tool, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    if (stderr.length < 4096) stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  exited.catch(() => {}); // observed below; a consumer that stops early must not leave it unhandled
  child.stdin.on('error', () => {}); // EPIPE when the tool fails; its exit status reports that
  const feed = Readable.from(input, { objectMode: false });
  feed.on('error', (err) => child.stdin.destroy(err));
  feed.pipe(child.stdin);
  try {
    for await (const c of child.stdout) yield toBuffer(c);
    let code: number | null;
    try {
      code = await exited;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw invalidParameter(`unsupported archive compression: ${tool} (${tool} is not installed)`);
      throw err;
    }
    if (code !== 0) throw invalidParameter(`${tool}: ${stderr.trim() || `exit status ${code}`}`);
  } finally {
    feed.destroy();
    if (child.exitCode === null && child.signalCode === null) child.kill();
  }
}
