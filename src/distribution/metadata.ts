// Which registry blob holds each local layer (Docker's v2 metadata): a pulled layer's compressed digest, per
// repository, so a push to the same registry finds it there (or mounts it from another repository) instead of
// compressing and uploading it again.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { readJson, writeJsonAtomic } from '../lib/fsutil.ts';

export interface BlobSource {
  digest: string; // of the compressed blob
  size: number;
  mediaType: string;
  repo: string; // domain/path it was pulled from or pushed to
}

export class LayerMetadata {
  private readonly file: string;
  private byDiffId: Record<string, BlobSource[]> = {};
  private writing: Promise<void> = Promise.resolve();

  constructor(dir: string) {
    this.file = path.join(dir, 'v2metadata.json');
  }

  async init(): Promise<void> {
    await fsp.mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    this.byDiffId = (await readJson<Record<string, BlobSource[]>>(this.file)) ?? {};
  }

  sources(diffId: string): BlobSource[] {
    return this.byDiffId[diffId] ?? [];
  }

  add(diffId: string, src: BlobSource): Promise<void> {
    const list = (this.byDiffId[diffId] ??= []);
    if (list.some((s) => s.digest === src.digest && s.repo === src.repo)) return this.writing;
    list.push(src);
    // Newest first, a few per layer: enough to find a blob on any registry it went to.
    this.byDiffId[diffId] = [src, ...list.filter((s) => s !== src)].slice(0, 16);
    const snapshot = JSON.stringify(this.byDiffId);
    this.writing = this.writing.catch(() => {}).then(() => writeJsonAtomic(this.file, JSON.parse(snapshot), { sync: false }));
    return this.writing;
  }
}
