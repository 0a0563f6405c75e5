// The numbers behind Docker's SystemDataUsage (GET /system/df), as its graphdriver store computes them:
// image sizes from the layer records, container and volume sizes by walking their directories.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { ImageRecord, ImageStore } from './store.ts';
import type { LayerStore } from '../layers/snapshots.ts';
import type { Volume, VolumeStore } from '../volumes/store.ts';
import { isErrno } from '../lib/errors.ts';

// Docker's directory.Size: the lstat sizes of everything but directories (symlinks are not followed), each
// inode counted once (hard links). A missing `dir` is an error; entries vanishing during the walk are not.
export async function directorySize(dir: string): Promise<number> {
  const seen = new Set<string>();
  let total = 0;
  const visit = async (p: string, isRoot: boolean): Promise<void> => {
    let st;
    try {
      st = await fsp.lstat(p, { bigint: true });
    } catch (err) {
      if (!isRoot && isErrno(err, 'ENOENT')) return;
      throw err;
    }
    if (st.isDirectory()) {
      let names: string[];
      try {
        names = await fsp.readdir(p);
      } catch (err) {
        if (!isRoot && isErrno(err, 'ENOENT')) return;
        throw err;
      }
      for (const n of names) await visit(path.join(p, n), false);
      return;
    }
    if (st.size === 0n) return;
    const key = `${st.dev}:${st.ino}`;
    if (seen.has(key)) return;
    seen.add(key);
    total += Number(st.size);
  };
  await visit(dir, true);
  return total;
}

// Images that are not untagged intermediates (Docker's getLayerRefs and image list without -a).
export function topImages(store: ImageStore): ImageRecord[] {
  return store.all().filter((r) => store.references(r.id).length > 0 || store.children(r.id).length === 0);
}

// LayersSize: the layers that images (other than untagged intermediates) are made of, each counted once.
export function layersSize(store: ImageStore): number {
  const refs = new Set<string>();
  for (const r of topImages(store)) for (const c of store.chainIdsOf(r)) refs.add(c);
  let total = 0;
  for (const m of store.layers.all()) if (refs.has(m.chainId)) total += m.size;
  return total;
}

export interface ImageUsage {
  image: ImageRecord;
  /** Containers (running or not) created from the image. */
  containers: number;
  /** Size of the image's layers that other images use too. */
  sharedSize: number;
}

// Docker's ImageDiskUsage: the top images with their container counts and shared sizes, newest first.
export function imageUsage(store: ImageStore, containerImages: string[]): ImageUsage[] {
  const layerRefs = new Map<string, number>();
  for (const r of store.all()) for (const c of store.chainIdsOf(r)) layerRefs.set(c, (layerRefs.get(c) ?? 0) + 1);
  const counts = new Map<string, number>();
  for (const id of containerImages) counts.set(id, (counts.get(id) ?? 0) + 1);
  return topImages(store)
    .map((image) => {
      let sharedSize = 0;
      for (const c of store.chainIdsOf(image)) if ((layerRefs.get(c) ?? 0) > 1) sharedSize += store.layers.get(c)?.size ?? 0;
      return { image, containers: counts.get(image.id) ?? 0, sharedSize };
    })
    .sort((a, b) => created(b.image) - created(a.image));
}

function created(r: ImageRecord): number {
  return Math.floor(Date.parse(r.config.created ?? '') / 1000) || 0;
}

// Docker's GetContainerLayerSize: SizeRw is the size of the container's upper dir (-1 when it cannot be
// measured), SizeRootFs that plus the size of the layers below it.
export async function containerLayerSize(layers: LayerStore, upperDir: string, topLayer: string | undefined): Promise<{ sizeRw: number; sizeRootFs: number }> {
  let sizeRw: number;
  try {
    sizeRw = await directorySize(upperDir);
  } catch {
    sizeRw = -1;
  }
  let sizeRootFs = 0;
  if (topLayer) {
    for (let c: string | undefined = topLayer; c; c = layers.get(c)?.parent) sizeRootFs += layers.get(c)?.size ?? 0;
    if (sizeRw !== -1) sizeRootFs += sizeRw;
  }
  return { sizeRw, sizeRootFs };
}

export interface VolumeUsage {
  volume: Volume;
  /** Bytes under the volume's data directory, -1 when it cannot be measured. */
  size: number;
  /** Containers (running or not) that mount the volume. */
  refCount: number;
}

// Docker's LocalVolumesSize: `local` volumes without driver options (a tmpfs or device is not local disk).
export async function volumeUsage(volumes: VolumeStore): Promise<VolumeUsage[]> {
  const out: VolumeUsage[] = [];
  for (const v of volumes.list()) {
    if (v.Driver !== 'local' || Object.keys(v.Options ?? {}).length > 0) continue;
    let size: number;
    try {
      size = await directorySize(v.Mountpoint);
    } catch {
      size = -1;
    }
    out.push({ volume: v, size, refCount: volumes.usedBy(v.Name).length });
  }
  return out.sort((a, b) => (a.volume.Name < b.volume.Name ? -1 : 1));
}

// The classic builder's cache is its step images (untagged, with the step's key in container_config): docker
// system df lists them as build cache records, and `docker builder prune` removes them.
export function buildCacheUsage(store: ImageStore): Record<string, unknown>[] {
  const parents = new Set(store.all().map((i) => i.parent).filter(Boolean));
  return store.all()
    .filter((i) => (i.config as Record<string, unknown>).container_config && store.tagsOf(i.id).length === 0)
    .map((i) => {
      const top = store.topLayer(i);
      const parentTop = i.parent ? store.get(i.parent) : undefined;
      const own = top && (!parentTop || store.topLayer(parentTop) !== top) ? store.layers.get(top)?.size ?? 0 : 0;
      const created = i.config.created ?? new Date(0).toISOString();
      return {
        ID: i.id.slice(7, 19), Parent: i.parent?.slice(7, 19) ?? '', Parents: i.parent ? [i.parent.slice(7, 19)] : null, Type: 'regular',
        Description: i.config.history?.at(-1)?.created_by ?? '', InUse: parents.has(i.id), Shared: false, Size: own,
        CreatedAt: created, LastUsedAt: created, UsageCount: 1,
      };
    });
}
