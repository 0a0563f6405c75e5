// Layer and archive compression, told apart by the first bytes: gzip and zstd are unpacked, plain tar passes
// through, and bzip2/xz get a clear error (Node has no decoder for them).
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { invalidParameter } from '../lib/errors.ts';

type Compression = 'gzip' | 'zstd' | 'none';

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
  else if (first.length >= 3 && first.toString('latin1', 0, 3) === 'BZh') throw invalidParameter('unsupported archive compression: bzip2');
  else if (first.length >= 6 && first.readUInt32BE(0) === 0xfd377a58 && first[4] === 0x5a && first[5] === 0) {
    throw invalidParameter('unsupported archive compression: xz');
  }
  async function* raw(): AsyncGenerator<Buffer> {
    if (first.length) yield first;
    while (!done) {
      const r = await it.next();
      if (r.done) return;
      yield Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as Uint8Array);
    }
  }
  if (kind === 'none') return raw();
  const dec = kind === 'gzip' ? zlib.createGunzip() : zlib.createZstdDecompress();
  Readable.from(raw(), { objectMode: false }).on('error', (e) => dec.destroy(e)).pipe(dec);
  return dec as AsyncIterable<Buffer>;
}
