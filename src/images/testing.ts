// Fixtures for the image domain's unit tests: a real ImageStore (content, layers, records) in a temp folder,
// with small layers made from in-memory tars.
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Readable } from 'node:stream';
import tarStream from 'tar-stream';
import { ContentStore } from './content.ts';
import { LayerStore } from '../layers/snapshots.ts';
import { ImageStore, type ImageRecord } from './store.ts';

export interface TestStore {
  store: ImageStore;
  dir: string;
  cleanup(): void;
}

export async function tempImageStore(): Promise<TestStore> {
  const dir = mkdtempSync('/tmp/bt-imgstore-');
  const content = new ContentStore(path.join(dir, 'content'));
  const layers = new LayerStore(path.join(dir, 'layers'));
  const store = new ImageStore(path.join(dir, 'images'), content, layers);
  await content.init();
  await layers.init();
  await store.init();
  return { store, dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

async function tarOf(files: Record<string, string>): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve) => pack.on('end', () => resolve()));
  for (const [name, data] of Object.entries(files)) {
    await new Promise<void>((resolve, reject) => pack.entry({ name, mode: 0o644, mtime: new Date(0) }, data, (err) => (err ? reject(err) : resolve())));
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export interface ImageSpec {
  /** The new layer's files (none: the image adds no layer). */
  files?: Record<string, string>;
  /** The local parent: its layers and history come first. */
  parent?: ImageRecord;
  /** Built on the parent's layers without recording it as the parent (as loaded or pulled images are). */
  unlinked?: boolean;
  tag?: string;
  repoDigest?: string;
  labels?: Record<string, string>;
  created?: string;
  createdBy?: string;
}

// An image of the parent's layers plus one made of `files`, like `docker commit` makes.
export async function makeImage(store: ImageStore, spec: ImageSpec = {}): Promise<ImageRecord> {
  const parentDiffs = spec.parent?.config.rootfs.diff_ids ?? [];
  const diffIds = [...parentDiffs];
  const created = spec.created ?? new Date().toISOString();
  const history = [...(spec.parent?.config.history ?? [])];
  if (spec.files) {
    const top = spec.parent ? store.topLayer(spec.parent) : undefined;
    const meta = await store.layers.create(top, Readable.from([await tarOf(spec.files)]));
    diffIds.push(meta.diffId);
    history.push({ created, created_by: spec.createdBy ?? 'test' });
  } else {
    history.push({ created, created_by: spec.createdBy ?? 'test', empty_layer: true });
  }
  const config = {
    architecture: 'amd64', os: 'linux', created,
    config: { Cmd: ['sh'], Labels: spec.labels ?? null, Env: [`NONCE=${randomBytes(8).toString('hex')}`] },
    rootfs: { type: 'layers', diff_ids: diffIds }, history,
  };
  const rec = await store.addImage(Buffer.from(JSON.stringify(config)), { parent: spec.unlinked ? undefined : spec.parent?.id, repoDigest: spec.repoDigest });
  if (spec.tag) await store.tag(rec.id, spec.tag);
  return rec;
}
