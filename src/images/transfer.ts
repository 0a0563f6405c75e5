// Images in and out as files: `docker load` (docker-archive and OCI layout), `docker save` (OCI layout plus
// Docker's manifest.json, loadable by both), `docker import` (a root filesystem tar becomes a one-layer image).
import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tarStream from 'tar-stream';
import type { ImageStore, ImageRecord, ImageConfig, ContainerConfigPart } from './store.ts';
import { chainIds } from '../layers/snapshots.ts';
import { decompress } from '../layers/compression.ts';
import { normalizeEntryName } from '../layers/archive.ts';
import { parseReference, withDefaultTag, fullName, familiarName, repoName } from './reference.ts';
import { applyChanges } from './changes.ts';
import { sha256 } from './content.ts';
import { invalidParameter, notFound } from '../lib/errors.ts';
import { progressMessage, progressCounter as counter, type Report } from '../lib/progress.ts';

const MEDIA_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const MEDIA_INDEX = 'application/vnd.oci.image.index.v1+json';
const MEDIA_CONFIG = 'application/vnd.oci.image.config.v1+json';
const MEDIA_LAYER = 'application/vnd.oci.image.layer.v1.tar';

// Peeks at the first bytes and decompresses gzip or zstd; plain tar passes through.
export async function decompressed(src: Readable): Promise<Readable> {
  return Readable.from(await decompress(src), { objectMode: false });
}

// Unpacks a layer tar on top of `parent`, keeping the uncompressed tar as a blob (its digest is the DiffID,
// so save/push give the same digests). Returns the new chain ID.
export async function importLayer(store: ImageStore, parent: string | undefined, src: Readable, signal?: AbortSignal): Promise<{ chainId: string; diffId: string }> {
  const plain = await decompressed(src);
  const toBlob = new PassThrough({ highWaterMark: 1 << 20 });
  const toLayer = new PassThrough({ highWaterMark: 1 << 20 });
  plain.on('data', (c: Buffer) => {
    const a = toBlob.write(c);
    const b = toLayer.write(c);
    if (!a || !b) {
      plain.pause();
      let waiting = (a ? 0 : 1) + (b ? 0 : 1);
      const resume = () => { if (--waiting === 0) plain.resume(); };
      if (!a) toBlob.once('drain', resume);
      if (!b) toLayer.once('drain', resume);
    }
  });
  plain.on('end', () => { toBlob.end(); toLayer.end(); });
  plain.on('error', (e) => { toBlob.destroy(e); toLayer.destroy(e); });
  // The tar is hashed once, by the unpacking (its DiffID); the blob copy is committed under that digest.
  const [blobR, metaR] = await Promise.allSettled([
    store.content.ingestStream(toBlob, signal),
    store.layers.create(parent, toLayer, signal),
  ]);
  if (metaR.status === 'rejected') {
    // A layer that failed to unpack (a hostile or broken tar) leaves no blob behind.
    if (blobR.status === 'fulfilled') await blobR.value.abort().catch(() => {});
    throw metaR.reason;
  }
  if (blobR.status === 'rejected') throw blobR.reason;
  const [blob, meta] = [blobR.value, metaR.value];
  await blob.commit(meta.diffId);
  return { chainId: meta.chainId, diffId: meta.diffId };
}

interface SpoolEntry { file?: string; link?: string; size: number }

// Spools an archive to a temp folder under safe generated names (tar entry order is arbitrary, manifest.json
// may come last). Entry names are only ever used as map keys, never as paths.
async function spool(src: Readable, tmp: string): Promise<Map<string, SpoolEntry>> {
  const entries = new Map<string, SpoolEntry>();
  const extract = tarStream.extract();
  let n = 0;
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const name = normalizeEntryName(header.name);
      if (name === null) {
        stream.resume();
        reject(invalidParameter(`invalid archive: entry ${JSON.stringify(header.name)} escapes the archive`));
        return;
      }
      if (header.type === 'file' || header.type === 'contiguous-file') {
        const file = path.join(tmp, String(n++));
        entries.set(name, { file, size: header.size ?? 0 });
        pipeline(stream, createWriteStream(file)).then(() => next(), reject);
      } else {
        if (header.type === 'symlink' && header.linkname) {
          const target = normalizeEntryName(path.posix.join(path.posix.dirname(name), header.linkname));
          if (target) entries.set(name, { link: target, size: 0 });
        }
        stream.on('end', () => next());
        stream.resume();
      }
    });
    extract.on('finish', () => resolve());
    extract.on('error', reject);
  });
  const plain = await decompressed(src);
  plain.on('error', (e) => extract.destroy(e));
  plain.pipe(extract);
  await done;
  return entries;
}

function lookup(entries: Map<string, SpoolEntry>, name: string): SpoolEntry | undefined {
  let e = entries.get(normalizeEntryName(name) ?? '');
  for (let i = 0; e?.link && i < 16; i++) e = entries.get(e.link);
  return e?.file ? e : undefined;
}

async function readEntry(entries: Map<string, SpoolEntry>, name: string): Promise<Buffer> {
  const e = lookup(entries, name);
  if (!e) throw invalidParameter(`invalid archive: ${name} is missing`);
  return fsp.readFile(e.file!);
}

interface LoadItem { config: string; layers: string[]; tags: string[]; viaDigest?: boolean }

async function itemsFromArchive(entries: Map<string, SpoolEntry>): Promise<LoadItem[]> {
  if (lookup(entries, 'manifest.json')) {
    const m = JSON.parse((await readEntry(entries, 'manifest.json')).toString()) as { Config: string; RepoTags?: string[] | null; Layers: string[] }[];
    if (!Array.isArray(m)) throw invalidParameter('invalid archive: manifest.json is not a list');
    return m.map((x) => ({ config: x.Config, layers: x.Layers ?? [], tags: x.RepoTags ?? [] }));
  }
  if (lookup(entries, 'index.json')) {
    const items: LoadItem[] = [];
    const blobPath = (d: string) => `blobs/${d.replace(':', '/')}`;
    const visit = async (desc: { mediaType?: string; digest: string; annotations?: Record<string, string> }, tags: string[]) => {
      const raw = await readEntry(entries, blobPath(desc.digest));
      if (sha256(raw) !== desc.digest) throw invalidParameter(`invalid archive: digest mismatch for ${desc.digest}`);
      const doc = JSON.parse(raw.toString()) as { mediaType?: string; manifests?: typeof desc[]; config?: { digest: string }; layers?: { digest: string }[] };
      if (doc.manifests) {
        // An index: take the entry for this platform.
        const pick = doc.manifests.find((m) => !('platform' in m) || ((m as { platform?: { architecture?: string } }).platform?.architecture === 'amd64')) ?? doc.manifests[0];
        if (pick) await visit(pick, tags);
        return;
      }
      if (!doc.config || !doc.layers) throw invalidParameter('invalid archive: manifest has no config');
      items.push({ config: blobPath(doc.config.digest), layers: doc.layers.map((l) => blobPath(l.digest)), tags, viaDigest: true });
    };
    const index = JSON.parse((await readEntry(entries, 'index.json')).toString()) as { manifests?: { digest: string; annotations?: Record<string, string> }[] };
    for (const d of index.manifests ?? []) {
      const a = d.annotations ?? {};
      const name = a['io.containerd.image.name'] ?? (a['org.opencontainers.image.ref.name']?.includes(':') || a['org.opencontainers.image.ref.name']?.includes('/') ? a['org.opencontainers.image.ref.name'] : undefined);
      await visit(d, name ? [name] : []);
    }
    return items;
  }
  throw invalidParameter('invalid archive: neither manifest.json nor index.json found (is this a docker save or OCI layout tar?)');
}

export async function loadImages(store: ImageStore, tmpRoot: string, src: Readable, report: Report, signal?: AbortSignal): Promise<string[]> {
  const tmp = path.join(tmpRoot, `load-${randomBytes(6).toString('hex')}`);
  await fsp.mkdir(tmp, { recursive: true, mode: 0o700 });
  const created: string[] = []; // layers this load added, to undo if it fails
  try {
    const entries = await spool(src, tmp);
    const items = await itemsFromArchive(entries);
    const loaded: string[] = [];
    for (const item of items) {
      const configBytes = await readEntry(entries, item.config);
      const config = JSON.parse(configBytes.toString()) as ImageConfig;
      const diffIds = config.rootfs?.diff_ids;
      if (!Array.isArray(diffIds) || diffIds.length !== item.layers.length) throw invalidParameter('invalid archive: layer count does not match the image config');
      const chains = chainIds(diffIds);
      let parent: string | undefined;
      for (let i = 0; i < item.layers.length; i++) {
        if (store.layers.has(chains[i])) {
          parent = chains[i];
          continue;
        }
        const e = lookup(entries, item.layers[i]);
        if (!e) throw invalidParameter(`invalid archive: layer ${item.layers[i]} is missing`);
        const id = diffIds[i].slice(7, 19);
        const reader = createReadStream(e.file!).pipe(counter(e.size, (n) => report(progressMessage('Loading layer', id, n, e.size))));
        const known = new Set(store.layers.all().map((m) => m.chainId));
        const { chainId, diffId } = await importLayer(store, parent, reader, signal);
        if (!known.has(chainId)) created.push(chainId);
        if (diffId !== diffIds[i]) {
          throw invalidParameter(`invalid archive: layer ${item.layers[i]} has DiffID ${diffId}, the config says ${diffIds[i]}`);
        }
        parent = chainId;
      }
      const rec = await store.addImage(configBytes);
      if (item.tags.length === 0) {
        report({ stream: `Loaded image ID: ${rec.id}\n` });
        loaded.push(rec.id);
      }
      for (const t of item.tags) {
        const key = await store.tag(rec.id, t);
        report({ stream: `Loaded image: ${familiarName(key)}\n` });
        loaded.push(key);
      }
    }
    return loaded;
  } catch (err) {
    // Layers added for an image that was not made go again (images loaded before the failure keep theirs).
    await store.pruneLayers(created, () => false).catch(() => {});
    throw err;
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true });
  }
}

// Which images `docker save NAME...` means: a repository name without tag saves every tag of it.
function resolveSaveTargets(store: ImageStore, names: string[]): { rec: ImageRecord; tags: string[] }[] {
  const out = new Map<string, Set<string>>();
  const add = (rec: ImageRecord, tag?: string) => {
    const s = out.get(rec.id) ?? new Set<string>();
    if (tag) s.add(tag);
    out.set(rec.id, s);
  };
  for (const name of names) {
    let ref;
    try {
      ref = parseReference(name);
    } catch {
      ref = undefined;
    }
    if (ref && !ref.tag && !ref.digest) {
      const repo = repoName(ref);
      const matches = store.all().flatMap((rec) => store.tagsOf(rec.id).filter((t) => t.startsWith(repo + ':')).map((t) => [rec, t] as const));
      if (matches.length) {
        for (const [rec, t] of matches) add(rec, t);
        continue;
      }
    }
    const rec = store.resolve(name);
    if (ref && !ref.digest) {
      const key = fullName(withDefaultTag(ref));
      add(rec, store.tagsOf(rec.id).includes(key) ? key : undefined);
    } else add(rec);
  }
  return [...out].map(([id, tags]) => ({ rec: store.get(id)!, tags: [...tags] }));
}

export function saveImages(store: ImageStore, names: string[]): Readable {
  const targets = resolveSaveTargets(store, names);
  if (targets.length === 0) throw notFound('No such image');
  const pack = tarStream.pack();
  const mtime = new Date(0);
  const addBuf = (name: string, data: Buffer | string) =>
    new Promise<void>((res, rej) => pack.entry({ name, mtime, mode: 0o444 }, data, (e) => (e ? rej(e) : res())));
  const addFile = (name: string, file: string, size: number) =>
    new Promise<void>((res, rej) => {
      const entry = pack.entry({ name, size, mtime, mode: 0o444 }, (e) => (e ? rej(e) : res()));
      pipeline(createReadStream(file), entry).catch(rej);
    });
  const run = async () => {
    const written = new Set<string>();
    const blob = async (digest: string) => {
      if (written.has(digest)) return;
      written.add(digest);
      const p = store.content.path(digest);
      await addFile(`blobs/sha256/${digest.slice(7)}`, p, (await fsp.stat(p)).size);
    };
    const blobBuf = async (data: string) => {
      const digest = sha256(data);
      if (!written.has(digest)) {
        written.add(digest);
        await addBuf(`blobs/sha256/${digest.slice(7)}`, data);
      }
      return digest;
    };
    await addBuf('oci-layout', '{"imageLayoutVersion":"1.0.0"}');
    const manifestJson: unknown[] = [];
    const indexManifests: unknown[] = [];
    const repositories: Record<string, Record<string, string>> = {};
    for (const { rec, tags } of targets) {
      await blob(rec.id);
      const layers = [];
      for (const diffId of rec.config.rootfs.diff_ids) {
        await blob(diffId);
        layers.push({ mediaType: MEDIA_LAYER, digest: diffId, size: await store.content.size(diffId) });
      }
      const manifest = JSON.stringify({
        schemaVersion: 2, mediaType: MEDIA_MANIFEST,
        config: { mediaType: MEDIA_CONFIG, digest: rec.id, size: await store.content.size(rec.id) },
        layers,
      });
      const mdigest = await blobBuf(manifest);
      const desc = { mediaType: MEDIA_MANIFEST, digest: mdigest, size: Buffer.byteLength(manifest) };
      if (tags.length === 0) indexManifests.push(desc);
      for (const t of tags) {
        const ref = parseReference(t);
        indexManifests.push({ ...desc, annotations: { 'io.containerd.image.name': t, 'org.opencontainers.image.ref.name': ref.tag } });
        const top = rec.config.rootfs.diff_ids.at(-1);
        if (top) (repositories[familiarName(repoName(ref))] ??= {})[ref.tag!] = top.slice(7);
      }
      manifestJson.push({
        Config: `blobs/sha256/${rec.id.slice(7)}`,
        RepoTags: tags.length ? tags.map(familiarName) : null,
        Layers: rec.config.rootfs.diff_ids.map((d) => `blobs/sha256/${d.slice(7)}`),
      });
    }
    await addBuf('index.json', JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_INDEX, manifests: indexManifests }));
    await addBuf('manifest.json', JSON.stringify(manifestJson));
    if (Object.keys(repositories).length) await addBuf('repositories', JSON.stringify(repositories));
    pack.finalize();
  };
  run().catch((e) => pack.destroy(e));
  return pack as unknown as Readable;
}

export async function importImage(store: ImageStore, src: Readable, opts: { repo?: string; tag?: string; message?: string; changes: string[]; platform?: string }, report: Report): Promise<ImageRecord> {
  let target: string | undefined;
  if (opts.repo) {
    const ref = parseReference(opts.repo);
    target = fullName(withDefaultTag({ ...ref, tag: opts.tag || ref.tag }));
  }
  const cfgPart: ContainerConfigPart = applyChanges({}, opts.changes);
  const { diffId } = await importLayer(store, undefined, src.pipe(counter(0, (n) => report({ status: 'Importing', progressDetail: { current: n }, progress: `${n} B` }))));
  const created = new Date().toISOString();
  const config: ImageConfig = {
    architecture: process.arch === 'arm64' ? 'arm64' : 'amd64',
    os: 'linux',
    created,
    config: cfgPart,
    rootfs: { type: 'layers', diff_ids: [diffId] },
    history: [{ created, created_by: '', comment: opts.message || 'Imported from -' }],
  };
  if (opts.message) config.comment = opts.message;
  const rec = await store.addImage(Buffer.from(JSON.stringify(config)));
  if (target) await store.tag(rec.id, target);
  return rec;
}
