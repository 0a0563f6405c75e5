// Docker's ImageDelete, as its graphdriver image store does it (the store that keeps parent links, which
// `docker commit` and builds make here):
//  - by reference: the reference goes first (a container using the image's only reference needs force); when
//    that was the last tag of its repository the repository's digests go too; an image left without references
//    is then deleted quietly (a conflict keeps it without an error, unless it is dangling and unused);
//  - by ID: with at most one tag (and digests of that repository) the references go with the image, after the
//    conflict checks; with more, the image must be forced;
//  - hard conflicts (dependent child images, a running container) cannot be forced; soft ones (references,
//    stopped containers) can;
//  - unless noprune, the deleted image's parent chain is deleted quietly as long as each parent is left
//    untagged, childless and unused.
import type { ImageStore } from './store.ts';
import type { LayerMeta } from '../layers/snapshots.ts';
import { parseReference, withDefaultTag, fullName, familiarName, repoName } from './reference.ts';
import { conflict, type BerthError } from '../lib/errors.ts';

export interface DeleteResponseItem {
  Untagged?: string;
  Deleted?: string;
}

// Who uses an image, asked of the container domain when deleting.
export type ImageUsers = (imageId: string) => { id: string; running: boolean }[];

export interface DeleteOptions {
  force: boolean;
  /** Docker's `noprune`: keep the untagged parents of the deleted image. */
  noprune: boolean;
  users: ImageUsers;
  layerInUse: (chainId: string) => boolean;
  /** Called where Docker logs an image event (`untag`, `delete`), with the image ID, while it happens. */
  onEvent?: (action: 'untag' | 'delete', imageId: string) => void;
}

export interface DeleteResult {
  items: DeleteResponseItem[];
  /** The layers removed with the deleted images (what Docker lists as Deleted chain IDs and counts as reclaimed). */
  layers: LayerMeta[];
}

const DEPENDENT_CHILD = 1;
const RUNNING_CONTAINER = 2;
const ACTIVE_REFERENCE = 4;
const STOPPED_CONTAINER = 8;
const HARD = DEPENDENT_CHILD | RUNNING_CONTAINER;
const SOFT = ACTIVE_REFERENCE | STOPPED_CONTAINER;

interface Conflict {
  hard: boolean;
  used: boolean;
  id: string;
  message: string;
}

const short = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);

function conflictError(c: Conflict): BerthError {
  return conflict(`conflict: unable to delete ${short(c.id)} (${c.hard ? 'cannot be forced' : 'must be forced'}) - ${c.message}`);
}

export function isCanonical(ref: string): boolean {
  return ref.includes('@');
}

// The repository of a full reference: without its tag or digest.
export function repositoryOf(ref: string): string {
  return ref.replace(/@.*$/, '').replace(/:[^:/]*$/, '');
}

// All references from one repository, with at most one tag (false for none).
export function isSingleReference(refs: string[]): boolean {
  if (refs.length <= 1) return refs.length === 1;
  let single: string | undefined;
  const canonicalRepos = new Set<string>();
  for (const r of refs) {
    if (isCanonical(r)) canonicalRepos.add(repositoryOf(r));
    else if (single === undefined) single = r;
    else return false;
  }
  single ??= refs[0];
  return canonicalRepos.size === 1 && canonicalRepos.has(repositoryOf(single));
}

export function isImageIdPrefix(id: string, name: string): boolean {
  return id.startsWith(name) || id.slice(id.indexOf(':') + 1).startsWith(name);
}

function checkConflict(store: ImageStore, id: string, mask: number, users: ImageUsers): Conflict | undefined {
  if (mask & DEPENDENT_CHILD && store.children(id).length > 0) {
    return { hard: true, used: false, id, message: 'image has dependent child images' };
  }
  if (mask & RUNNING_CONTAINER) {
    const c = users(id).find((u) => u.running);
    if (c) return { hard: true, used: true, id, message: `image is being used by running container ${c.id.slice(0, 12)}` };
  }
  if (mask & ACTIVE_REFERENCE && store.references(id).length > 0) {
    return { hard: false, used: false, id, message: 'image is referenced in multiple repositories' };
  }
  if (mask & STOPPED_CONTAINER) {
    const c = users(id).find((u) => !u.running);
    if (c) return { hard: false, used: true, id, message: `image is being used by stopped container ${c.id.slice(0, 12)}` };
  }
  return undefined;
}

// Docker's imageIsDangling: no references and no children.
function danglingForDelete(store: ImageStore, id: string): boolean {
  return store.references(id).length === 0 && store.children(id).length === 0;
}

export async function deleteImage(store: ImageStore, name: string, opts: DeleteOptions): Promise<DeleteResult> {
  const id = store.resolve(name).id;
  const res: DeleteResult = { items: [], layers: [] };
  let refs = store.references(id);
  let removedRepositoryRef = false;
  const untag = async (ref: string, event: boolean) => {
    await store.removeReference(id, ref);
    if (event) opts.onEvent?.('untag', id);
    res.items.push({ Untagged: familiarName(ref) });
  };

  if (!isImageIdPrefix(id, name)) {
    // A reference was given: it goes first.
    if (!opts.force && isSingleReference(refs)) {
      const user = opts.users(id)[0];
      if (user) {
        throw conflict(`conflict: unable to remove repository reference "${name}" (must force) - container ${user.id.slice(0, 12)} is using its referenced image ${short(id)}`);
      }
    }
    const parsed = withDefaultTag(parseReference(name));
    await untag(fullName(parsed), true);
    refs = store.references(id);
    if (!parsed.digest) {
      // The last tag of a repository takes that repository's digests with it.
      const repo = repoName(parsed);
      if (!refs.some((r) => !isCanonical(r) && repositoryOf(r) === repo)) {
        const remaining: string[] = [];
        for (const r of refs) {
          if (isCanonical(r) && repositoryOf(r) === repo) await untag(r, false);
          else remaining.push(r);
        }
        refs = remaining;
      }
    }
    if (refs.length > 0) return res;
    removedRepositoryRef = true;
  } else if (isSingleReference(refs)) {
    const c = checkConflict(store, id, HARD | (opts.force ? 0 : SOFT & ~ACTIVE_REFERENCE), opts.users);
    if (c) throw conflictError(c);
    for (const r of refs) await untag(r, true);
  }
  await deleteHelper(store, id, res, opts.force, !opts.noprune, removedRepositoryRef, opts);
  return res;
}

async function deleteHelper(store: ImageStore, id: string, res: DeleteResult, force: boolean, prune: boolean, quiet: boolean, opts: DeleteOptions): Promise<void> {
  const c = checkConflict(store, id, HARD | (force ? 0 : SOFT), opts.users);
  if (c) {
    // Quietly kept, unless it is dangling and unused: then the user should know.
    if (quiet && (!danglingForDelete(store, id) || c.used)) return;
    throw conflictError(c);
  }
  const rec = store.get(id);
  if (!rec) return;
  const parent = rec.parent;
  for (const r of store.references(id)) {
    await store.removeReference(id, r);
    opts.onEvent?.('untag', id);
    res.items.push({ Untagged: familiarName(r) });
  }
  await store.forgetImage(id);
  opts.onEvent?.('delete', id);
  res.items.push({ Deleted: id });
  res.layers.push(...(await store.pruneLayers(store.chainIdsOf(rec), opts.layerInUse)));
  if (!prune || !parent || !store.get(parent)) return;
  await deleteHelper(store, parent, res, false, true, true, opts);
}
