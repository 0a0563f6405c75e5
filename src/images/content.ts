// Content-addressed blob store: content/blobs/sha256/<hex>. A blob is written under a temp name and renamed
// into place only after its sha256 matches, so a crash or a lying source never leaves a bad blob visible.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fsp, existsSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform, type Readable } from 'node:stream';
import { invalidParameter, notFound } from '../lib/errors.ts';

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

export function checkDigest(d: string): string {
  if (!DIGEST_RE.test(d)) throw invalidParameter(`invalid digest: ${d}`);
  return d;
}

export function sha256(data: string | Uint8Array): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

export class ContentStore {
  readonly root: string;
  private readonly blobs: string;
  private readonly ingest: string;

  constructor(root: string) {
    this.root = root;
    this.blobs = path.join(root, 'blobs', 'sha256');
    this.ingest = path.join(root, 'ingest');
  }

  async init(): Promise<void> {
    await fsp.mkdir(this.blobs, { recursive: true, mode: 0o700 });
    await fsp.rm(this.ingest, { recursive: true, force: true });
    await fsp.mkdir(this.ingest, { recursive: true, mode: 0o700 });
  }

  path(digest: string): string {
    return path.join(this.blobs, checkDigest(digest).slice(7));
  }

  has(digest: string): boolean {
    return existsSync(this.path(digest));
  }

  async size(digest: string): Promise<number> {
    return (await fsp.stat(this.path(digest))).size;
  }

  async read(digest: string): Promise<Buffer> {
    try {
      return await fsp.readFile(this.path(digest));
    } catch {
      throw notFound(`content ${digest} not found`);
    }
  }

  stream(digest: string): Readable {
    return createReadStream(this.path(digest));
  }

  async put(data: Uint8Array | string, expected?: string): Promise<string> {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    const digest = sha256(buf);
    if (expected && expected !== digest) throw invalidParameter(`digest mismatch: expected ${expected}, got ${digest}`);
    if (this.has(digest)) return digest;
    const tmp = path.join(this.ingest, randomBytes(8).toString('hex'));
    await fsp.writeFile(tmp, buf);
    await fsp.rename(tmp, this.path(digest));
    return digest;
  }

  // Writes a stream as a blob, verifying `expected` when given. Returns digest and size.
  async putStream(src: Readable, expected?: string, signal?: AbortSignal): Promise<{ digest: string; size: number }> {
    const tmp = path.join(this.ingest, randomBytes(8).toString('hex'));
    const hash = createHash('sha256');
    let size = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _e, cb) {
        hash.update(chunk);
        size += chunk.length;
        cb(null, chunk);
      },
    });
    try {
      await pipeline(src, tap, createWriteStream(tmp), { signal });
      const digest = 'sha256:' + hash.digest('hex');
      if (expected && expected !== digest) throw invalidParameter(`digest mismatch: expected ${expected}, got ${digest}`);
      await fsp.rename(tmp, this.path(digest));
      return { digest, size };
    } finally {
      await fsp.rm(tmp, { force: true });
    }
  }

  // Writes a stream whose digest another reader of the same bytes computes (a layer's DiffID, hashed while it
  // is unpacked): one hash pass instead of two. The blob becomes visible only with `commit(digest)`.
  async ingestStream(src: Readable, signal?: AbortSignal): Promise<{ size: number; commit: (digest: string) => Promise<void>; abort: () => Promise<void> }> {
    const tmp = path.join(this.ingest, randomBytes(8).toString('hex'));
    let size = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _e, cb) {
        size += chunk.length;
        cb(null, chunk);
      },
    });
    try {
      await pipeline(src, tap, createWriteStream(tmp), { signal });
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      throw err;
    }
    return {
      size,
      commit: async (digest: string) => {
        checkDigest(digest);
        if (this.has(digest)) await fsp.rm(tmp, { force: true });
        else await fsp.rename(tmp, this.path(digest));
      },
      abort: () => fsp.rm(tmp, { force: true }),
    };
  }

  async delete(digest: string): Promise<void> {
    await fsp.rm(this.path(digest), { force: true });
  }
}
