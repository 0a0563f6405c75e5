// Image metadata and tags. The image config lives in the content store (its digest is the image ID);
// images/<hex>.json holds what Docker keeps beside it; images/repositories.json maps references to IDs.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { ContentStore } from './content.ts';
import { chainIds, type LayerStore } from '../layers/snapshots.ts';
import { parseReference, withDefaultTag, fullName, familiarName, repoName, type Reference } from './reference.ts';
import { writeJsonAtomic, readJson, removeTempFiles } from '../lib/fsutil.ts';
import { notFound, conflict, invalidParameter, BerthError } from '../lib/errors.ts';

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

export interface DeleteResponseItem {
  Untagged?: string;
  Deleted?: string;
}

// Who uses an image, asked of the container domain when deleting.
export type ImageUsers = (imageId: string) => { id: string; running: boolean }[];

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

  // DELETE /images/{name}: untag, then delete the image and its now-unused layers, with Docker's conflict rules.
  async remove(name: string, opts: { force: boolean; noprune: boolean; users: ImageUsers; layerInUse: (chainId: string) => boolean }): Promise<DeleteResponseItem[]> {
    const rec = this.resolve(name);
    const out: DeleteResponseItem[] = [];
    const users = opts.users(rec.id);
    const running = users.find((u) => u.running);
    const short = rec.id.slice(7, 19);
    const refs = this.refsOf(rec.id);
    let byRef: string | undefined;
    try {
      const ref = parseReference(name);
      const key = fullName(ref.digest ? ref : withDefaultTag(ref));
      if (refs.includes(key)) byRef = key;
    } catch { /* an ID */ }

    if (byRef) {
      // Removing one of several tags just untags.
      if (refs.filter((r) => !r.includes('@')).length > 1 || (users.length > 0 && !opts.force && refs.length > 1)) {
        await this.untag(byRef);
        return [{ Untagged: familiarName(byRef) }];
      }
      if (users.length > 0 && !opts.force) {
        throw conflict(`conflict: unable to remove repository reference "${name}" (must force) - container ${users[0].id.slice(0, 12)} is using its referenced image ${short}`);
      }
      if (running) {
        throw conflict(`conflict: unable to delete ${short} (cannot be forced) - image is being used by running container ${running.id.slice(0, 12)}`);
      }
    } else {
      if (running) {
        throw conflict(`conflict: unable to delete ${short} (cannot be forced) - image is being used by running container ${running.id.slice(0, 12)}`);
      }
      if (refs.length > 1 && !opts.force) {
        throw conflict(`conflict: unable to delete ${short} (must be forced) - image is referenced in multiple repositories`);
      }
      if (users.length > 0 && !opts.force) {
        throw conflict(`conflict: unable to delete ${short} (must be forced) - image is being used by stopped container ${users[0].id.slice(0, 12)}`);
      }
    }
    for (const r of refs) {
      delete this.repos.refs[r];
      out.push({ Untagged: familiarName(r) });
    }
    for (const rec2 of this.images.values()) if (rec2.parent === rec.id) rec2.parent = undefined;
    await this.saveRepos();
    this.images.delete(rec.id);
    await fsp.rm(path.join(this.dir, `${rec.id.slice(7)}.json`), { force: true });
    out.push({ Deleted: rec.id });
    await this.content.delete(rec.id);
    if (!opts.noprune) await this.pruneLayers(this.chainIdsOf(rec), opts.layerInUse);
    return out;
  }

  // Removes the given layers (top first) that no image or container still needs.
  async pruneLayers(chains: string[], layerInUse: (c: string) => boolean): Promise<void> {
    const needed = new Set<string>();
    for (const r of this.images.values()) for (const c of this.chainIdsOf(r)) needed.add(c);
    for (const c of [...chains].reverse()) {
      if (needed.has(c) || layerInUse(c)) continue;
      const diffId = this.layers.get(c)?.diffId;
      await this.layers.remove(c);
      // The layer's tar (its DiffID blob) goes with the last layer made from it: save needs it while one is left.
      if (diffId && !this.layers.all().some((m) => m.diffId === diffId)) await this.content.delete(diffId);
    }
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
