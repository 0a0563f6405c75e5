// Image metadata and tags. The image config lives in the content store (its digest is the image ID);
// images/<hex>.json holds what Docker keeps beside it; images/repositories.json maps references to IDs.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { ContentStore } from './content.ts';
import { chainIds, type LayerStore, type LayerMeta } from '../layers/snapshots.ts';
import { deleteImage, type DeleteOptions, type DeleteResponseItem } from './delete.ts';
import { parseReference, withDefaultTag, fullName, familiarName, repoName, type Reference } from './reference.ts';
import { writeJsonAtomic, readJson, removeTempFiles } from '../lib/fsutil.ts';
import { notFound, invalidParameter, BerthError } from '../lib/errors.ts';

export interface ContainerConfigPart {
  User?: string;
  Env?: string[] | null;
  Cmd?: string[] | null;
  Entrypoint?: string[] | null;
  WorkingDir?: string;
  Labels?: Record<string, string> | null;
  ExposedPorts?: Record<string, object> | null;
  Volumes?: Record<string, object> | null;
  StopSignal?: string;
  Healthcheck?: unknown;
  OnBuild?: string[] | null;
  ArgsEscaped?: boolean;
  Shell?: string[];
  [k: string]: unknown;
}

export interface ImageConfig {
  architecture: string;
  os: string;
  variant?: string;
  created?: string;
  author?: string;
  comment?: string;
  docker_version?: string;
  config?: ContainerConfigPart;
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: { created?: string; created_by?: string; comment?: string; empty_layer?: boolean; author?: string }[];
  [k: string]: unknown;
}

export interface ImageRecord {
  id: string;
  config: ImageConfig;
  size: number; // sum of unpacked layer sizes
  lastTagTime?: string;
  repoDigests: string[]; // repo@sha256:manifest
  parent?: string; // local parent image (builds/commit)
}

interface Repositories {
  refs: Record<string, string>; // full reference -> image id
}

export type { DeleteResponseItem, ImageUsers, DeleteOptions } from './delete.ts';

export class ImageStore {
  private dir: string;
  private images = new Map<string, ImageRecord>();
  private repos: Repositories = { refs: {} };
  readonly content: ContentStore;
  readonly layers: LayerStore;

  constructor(dir: string, content: ContentStore, layers: LayerStore) {
    this.dir = dir;
    this.content = content;
    this.layers = layers;
  }

  async init(): Promise<void> {
    await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
    await removeTempFiles(this.dir);
    for (const name of await fsp.readdir(this.dir)) {
      const m = /^([a-f0-9]{64})\.json$/.exec(name);
      if (!m) continue;
      const rec = await readJson<ImageRecord>(path.join(this.dir, name));
      if (rec && this.content.has(rec.id)) this.images.set(rec.id, rec);
    }
    this.repos = (await readJson<Repositories>(path.join(this.dir, 'repositories.json'))) ?? { refs: {} };
    for (const [ref, id] of Object.entries(this.repos.refs)) if (!this.images.has(id)) delete this.repos.refs[ref];
  }

  private async saveRecord(rec: ImageRecord): Promise<void> {
    await writeJsonAtomic(path.join(this.dir, `${rec.id.slice(7)}.json`), rec);
  }

  private async saveRepos(): Promise<void> {
    await writeJsonAtomic(path.join(this.dir, 'repositories.json'), this.repos);
  }

  all(): ImageRecord[] {
    return [...this.images.values()];
  }

  get(id: string): ImageRecord | undefined {
    return this.images.get(id);
  }

  refsOf(id: string): string[] {
    return Object.entries(this.repos.refs).filter(([, v]) => v === id).map(([k]) => k);
  }

  tagsOf(id: string): string[] {
    return this.refsOf(id).filter((r) => !r.includes('@'));
  }

  chainIdsOf(rec: ImageRecord): string[] {
    return chainIds(rec.config.rootfs.diff_ids);
  }

  topLayer(rec: ImageRecord): string | undefined {
    const c = this.chainIdsOf(rec);
    return c[c.length - 1];
  }

  // Stores an image config whose layers are already unpacked; returns the record (existing or new).
  async addImage(configBytes: Buffer, opts: { parent?: string; repoDigest?: string } = {}): Promise<ImageRecord> {
    let config: ImageConfig;
    try {
      config = JSON.parse(configBytes.toString('utf8')) as ImageConfig;
    } catch {
      throw invalidParameter('invalid image config: not JSON');
    }
    if (!config.rootfs || !Array.isArray(config.rootfs.diff_ids)) throw invalidParameter('invalid image config: no rootfs.diff_ids');
    let size = 0;
    for (const c of chainIds(config.rootfs.diff_ids)) {
      const meta = this.layers.get(c);
      if (!meta) throw invalidParameter(`layer ${c} is not present`);
      size += meta.size;
    }
    const id = await this.content.put(configBytes);
    let rec = this.images.get(id);
    if (!rec) {
      rec = { id, config, size, repoDigests: [], parent: opts.parent };
    }
    if (opts.repoDigest && !rec.repoDigests.includes(opts.repoDigest)) rec.repoDigests.push(opts.repoDigest);
    await this.saveRecord(rec);
    this.images.set(id, rec);
    return rec;
  }

  // Docker's lookup order: a reference (with default tag), then a full or short image ID.
  resolve(name: string): ImageRecord {
    const rec = this.tryResolve(name);
    if (!rec) throw noSuchImage(name);
    return rec;
  }

  tryResolve(name: string): ImageRecord | undefined {
    const hex = name.startsWith('sha256:') ? name.slice(7) : name;
    if (/^[a-f0-9]{64}$/.test(hex)) return this.images.get(`sha256:${hex}`);
    let ref: Reference | undefined;
    try {
      ref = parseReference(name);
    } catch {
      ref = undefined;
    }
    if (ref) {
      if (ref.digest) {
        const want = `${repoName(ref)}@${ref.digest}`;
        for (const rec of this.images.values()) if (rec.repoDigests.includes(want)) return rec;
        if (!ref.tag) return undefined;
      }
      const id = this.repos.refs[fullName({ ...withDefaultTag(ref), digest: undefined })];
      if (id) return this.images.get(id);
    }
    if (/^[a-f0-9]{1,63}$/.test(hex)) {
      const matches = [...this.images.keys()].filter((id) => id.startsWith(`sha256:${hex}`));
      if (matches.length === 1) return this.images.get(matches[0]);
    }
    return undefined;
  }

  async tag(id: string, target: string): Promise<string> {
    const rec = this.images.get(id);
    if (!rec) throw notFound(`No such image: ${id}`);
    const ref = withDefaultTag(parseReference(target));
    if (ref.digest) throw invalidParameter('refusing to create a tag with a digest reference');
    const key = fullName(ref);
    this.repos.refs[key] = id;
    rec.lastTagTime = new Date().toISOString();
    await this.saveRecord(rec);
    await this.saveRepos();
    return key;
  }

  async untag(key: string): Promise<void> {
    delete this.repos.refs[key];
    await this.saveRepos();
  }

  // DELETE /images/{name}: Docker's ImageDelete (untag, conflicts, parent chain); see delete.ts.
  async remove(name: string, opts: DeleteOptions): Promise<DeleteResponseItem[]> {
    return (await deleteImage(this, name, opts)).items;
  }

  // Every reference to an image, tags and digests (full form), in Docker's order (lexical by familiar form).
  references(id: string): string[] {
    const rec = this.images.get(id);
    const all = new Set([...this.refsOf(id), ...(rec?.repoDigests ?? [])]);
    return [...all].sort((a, b) => (familiarName(a) < familiarName(b) ? -1 : familiarName(a) > familiarName(b) ? 1 : 0));
  }

  // Drops one reference (tag or digest) of an image; a no-op when it is not there.
  async removeReference(id: string, ref: string): Promise<void> {
    if (this.repos.refs[ref] === id) {
      delete this.repos.refs[ref];
      await this.saveRepos();
    }
    const rec = this.images.get(id);
    if (rec?.repoDigests.includes(ref)) {
      rec.repoDigests = rec.repoDigests.filter((r) => r !== ref);
      await this.saveRecord(rec);
    }
  }

  // Local images whose parent is `id` (made from it by commit or a build).
  children(id: string): ImageRecord[] {
    return this.all().filter((r) => r.parent === id);
  }

  // Forgets an image (record and config blob); its references must be gone already. Layers stay: see pruneLayers.
  async forgetImage(id: string): Promise<void> {
    const refs = this.refsOf(id);
    for (const ref of refs) delete this.repos.refs[ref];
    if (refs.length) await this.saveRepos();
    this.images.delete(id);
    await fsp.rm(path.join(this.dir, `${id.slice(7)}.json`), { force: true });
    await this.content.delete(id);
  }

  // Removes the given layers (top first) that no image or container still needs; returns those removed.
  async pruneLayers(chains: string[], layerInUse: (c: string) => boolean): Promise<LayerMeta[]> {
    const removed: LayerMeta[] = [];
    const needed = new Set<string>();
    for (const r of this.images.values()) for (const c of this.chainIdsOf(r)) needed.add(c);
    for (const c of [...chains].reverse()) {
      if (needed.has(c) || layerInUse(c)) continue;
      const meta = this.layers.get(c);
      if (!meta) continue;
      const diffId = meta.diffId;
      await this.layers.remove(c);
      removed.push(meta);
      // The layer's tar (its DiffID blob) goes with the last layer made from it: save needs it while one is left.
      if (diffId && !this.layers.all().some((m) => m.diffId === diffId)) await this.content.delete(diffId);
    }
    return removed;
  }

  isDangling(rec: ImageRecord): boolean {
    return this.tagsOf(rec.id).length === 0;
  }
}

// Docker's ErrImageDoesNotExist wording: the reference with its default tag, in familiar form
// ("No such image: x:latest"); an ID as given.
export function noSuchImage(name: string): BerthError {
  let shown = name;
  if (/^[a-f0-9]{64}$/.test(name)) shown = `sha256:${name}`;
  else {
    try {
      shown = familiarName(fullName(withDefaultTag(parseReference(name))));
    } catch { /* not a reference: show it as given */ }
  }
  return notFound(`No such image: ${shown}`);
}

export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

export { BerthError };
