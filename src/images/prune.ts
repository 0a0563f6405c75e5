// Docker's ImagesPrune (graphdriver store): without dangling=false only untagged leaf images go; with it every
// image no container uses. Untagged intermediate images (parents of others) are never pruned themselves; they go
// with their last child through ImageDelete's parent pruning. Each image is deleted as `docker rmi` (without
// force) would: conflicts skip it silently.
import type { ImageRecord, ImageStore } from './store.ts';
import { deleteImage, isCanonical, type DeleteOptions, type DeleteResponseItem } from './delete.ts';
import { getTimestamp, parseTimestampParam, parseRFC3339Nano, type Timestamp } from '../lib/timestamps.ts';
import { invalidParameter, BerthError } from '../lib/errors.ts';

export const IMAGE_PRUNE_FILTERS = ['dangling', 'label', 'label!', 'until'];

export interface ImagePruneOptions {
  /** true unless dangling=false (docker image prune -a). */
  danglingOnly: boolean;
  /** Only images created at or before this time. */
  until?: Timestamp;
  /** label filters (all must match) */
  labels?: string[];
  /** label! filters: an image matching all of them is kept. Present (even empty) means applied. */
  notLabels?: string[];
}

export interface ImagePruneReport {
  ImagesDeleted: DeleteResponseItem[] | null;
  SpaceReclaimed: number;
}

// Docker's filters.GetBoolOrDefault.
export function filterBool(f: Map<string, string[]>, key: string, dflt: boolean): boolean {
  const values = f.get(key);
  if (values === undefined) return dflt;
  const set = new Set(values);
  const isFalse = set.has('0') || set.has('false');
  const isTrue = set.has('1') || set.has('true');
  if (isFalse === isTrue) throw invalidParameter(`invalid filter '${key}${values.length ? `=${[...set].join(',')}` : ''}'`);
  return isTrue;
}

// Docker's getUntilFromPruneFilters: one value, a timestamp, date or duration before `now`.
export function untilFilter(f: Map<string, string[]>, now = new Date()): Timestamp | undefined {
  const values = f.get('until');
  if (values === undefined) return undefined;
  const set = [...new Set(values)];
  if (set.length > 1) throw invalidParameter('more than one until filter specified');
  if (set.length === 0) return undefined;
  try {
    return parseTimestampParam(getTimestamp(set[0], now));
  } catch (err) {
    throw invalidParameter((err as Error).message);
  }
}

export function imagePruneOptions(f: Map<string, string[]>, now = new Date()): ImagePruneOptions {
  return {
    danglingOnly: filterBool(f, 'dangling', true),
    until: untilFilter(f, now),
    labels: f.get('label'),
    notLabels: f.get('label!'),
  };
}

// Docker's filters.MatchKVList: every `key` or `key=value` present in `labels` (none given matches).
export function matchKVList(values: string[] | undefined, labels: Record<string, string> | null | undefined): boolean {
  if (!values?.length) return true;
  if (!labels || Object.keys(labels).length === 0) return false;
  return values.every((v) => {
    const i = v.indexOf('=');
    const k = i < 0 ? v : v.slice(0, i);
    if (!Object.hasOwn(labels, k)) return false;
    return i < 0 || labels[k] === v.slice(i + 1);
  });
}

export function matchPruneLabels(o: ImagePruneOptions, labels: Record<string, string> | null | undefined): boolean {
  if (!matchKVList(o.labels, labels)) return false;
  if (o.notLabels !== undefined && matchKVList(o.notLabels, labels)) return false;
  return true;
}

function createdAfter(rec: ImageRecord, until: Timestamp): boolean | undefined {
  if (!rec.config.created) return undefined;
  let t: Timestamp;
  try {
    t = parseRFC3339Nano(rec.config.created);
  } catch {
    return undefined;
  }
  return t.seconds > until.seconds || (t.seconds === until.seconds && t.nanos > until.nanos);
}

// The images a prune with these options tries to delete, newest first (children before their parents).
export function pruneCandidates(store: ImageStore, o: ImagePruneOptions): ImageRecord[] {
  let list = store.all();
  if (o.danglingOnly) list = list.filter((r) => store.children(r.id).length === 0);
  list = list.filter((r) => {
    if (store.references(r.id).length === 0 && store.children(r.id).length > 0) return false;
    if (o.until && createdAfter(r, o.until) !== false) return false;
    if (r.config.config && !matchPruneLabels(o, r.config.config.Labels)) return false;
    return true;
  });
  return list.sort((a, b) => (b.config.created ?? '').localeCompare(a.config.created ?? '') || (a.id < b.id ? -1 : 1));
}

export async function pruneImages(store: ImageStore, o: ImagePruneOptions, hooks: Pick<DeleteOptions, 'users' | 'layerInUse' | 'onEvent'>): Promise<ImagePruneReport> {
  const deleted: DeleteResponseItem[] = [];
  let reclaimed = 0;
  const tryDelete = async (name: string) => {
    try {
      const r = await deleteImage(store, name, { force: false, noprune: false, ...hooks });
      deleted.push(...r.items);
      for (const l of r.layers) reclaimed += l.size;
    } catch (err) {
      // Conflicts keep the image; an image already gone with a pruned child is not an error either.
      if (!(err instanceof BerthError)) throw err;
    }
  };
  for (const rec of pruneCandidates(store, o)) {
    if (!store.get(rec.id)) continue;
    const refs = store.references(rec.id);
    if (refs.length > 0) {
      // Dangling-only keeps any image with a tag; digests alone do not keep it.
      if (o.danglingOnly && refs.some((r) => !isCanonical(r))) continue;
      for (const ref of refs) await tryDelete(ref);
    } else {
      await tryDelete(rec.id.slice(7));
    }
  }
  return { ImagesDeleted: deleted.length ? deleted : null, SpaceReclaimed: reclaimed };
}
