// Garbage collection of the registry's blob store: mark every blob some repository's manifests reach, sweep
// the rest. OFFLINE ONLY: run it with the registry stopped. A push in progress has uploaded blobs that no
// manifest names yet; collected while the registry serves, they would vanish under the manifest about to
// name them.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { MAX_MANIFEST_BYTES, RegistryStorage, isDigest } from './storage.ts';

export interface GcOptions {
  /** Report what would go without removing anything. */
  dryRun?: boolean;
  /** Uploads untouched for longer than this are removed (default a day). */
  uploadMaxAgeMs?: number;
  /** The current time (tests). */
  now?: number;
}

export interface GcResult {
  removedBlobs: string[]; // digests, sorted
  removedUploads: string[]; // upload ids
  freedBytes: number; // blobs and uploads together
}

const DAY_MS = 24 * 60 * 60 * 1000;

export async function collectGarbage(root: string, opts: GcOptions = {}): Promise<GcResult> {
  const storage = new RegistryStorage(root);
  const dryRun = opts.dryRun ?? false;
  const marked = new Set<string>();

  // Mark: every manifest a repository holds (tagged or not, and whatever its tags point at), and everything
  // those reach: configs, layers, and the children of indexes, followed down.
  const mark = async (digest: string): Promise<void> => {
    if (!isDigest(digest) || marked.has(digest)) return;
    marked.add(digest);
    let body: Buffer;
    try {
      const file = storage.blobPath(digest);
      if ((await fsp.stat(file)).size > MAX_MANIFEST_BYTES) return;
      body = await fsp.readFile(file);
    } catch {
      return;
    }
    let m: { config?: { digest?: unknown }; layers?: { digest?: unknown }[]; manifests?: { digest?: unknown }[] };
    try {
      m = JSON.parse(body.toString('utf8'));
    } catch {
      return;
    }
    if (!m || typeof m !== 'object') return;
    const refs: unknown[] = [m.config?.digest];
    if (Array.isArray(m.layers)) refs.push(...m.layers.map((l) => l?.digest));
    for (const r of refs) if (typeof r === 'string' && isDigest(r)) marked.add(r);
    if (Array.isArray(m.manifests)) for (const c of m.manifests) if (typeof c?.digest === 'string') await mark(c.digest);
  };

  const repos = await storage.allRepositories();
  for (const repo of repos) {
    for (const d of await storage.manifestDigests(repo)) await mark(d);
    let tags: string[] = [];
    try {
      tags = await storage.tags(repo);
    } catch {
      // A repository with blobs and no manifest.
    }
    for (const tag of tags) {
      try {
        await mark(await storage.resolve(repo, tag));
      } catch {
        // A tag removed while we read.
      }
    }
  }

  // Sweep the blob store.
  const removedBlobs: string[] = [];
  let freedBytes = 0;
  const blobsDir = path.join(storage.root, 'blobs', 'sha256');
  for (const fan of await readdirOr(blobsDir)) {
    const fanDir = path.join(blobsDir, fan);
    const names = await readdirOr(fanDir);
    let left = names.length;
    for (const name of names) {
      const file = path.join(fanDir, name);
      const digest = `sha256:${name}`;
      // Temp files of a write cut short by a crash go too.
      const stray = name.startsWith('.tmp-');
      if (!stray && (!/^[a-f0-9]{64}$/.test(name) || marked.has(digest))) continue;
      let size = 0;
      try {
        size = (await fsp.stat(file)).size;
      } catch {
        continue;
      }
      if (!stray) removedBlobs.push(digest);
      freedBytes += size;
      left--;
      if (!dryRun) await fsp.rm(file, { force: true });
    }
    if (!dryRun && left === 0) await fsp.rmdir(fanDir).catch(() => {});
  }

  // Links to swept blobs would only mislead a reader of the tree.
  if (!dryRun && removedBlobs.length > 0) {
    const gone = new Set(removedBlobs);
    for (const repo of repos) {
      for (const d of await storage.blobDigests(repo)) {
        if (gone.has(d)) await storage.unlinkBlob(repo, d);
      }
    }
  }

  // Uploads nobody has touched for a day.
  const removedUploads: string[] = [];
  const now = opts.now ?? Date.now();
  const maxAge = opts.uploadMaxAgeMs ?? DAY_MS;
  const uploadsDir = path.join(storage.root, 'uploads');
  for (const id of await readdirOr(uploadsDir)) {
    const dir = path.join(uploadsDir, id);
    let newest = 0;
    let size = 0;
    for (const f of await readdirOr(dir)) {
      try {
        const st = await fsp.stat(path.join(dir, f));
        newest = Math.max(newest, st.mtimeMs);
        size += st.size;
      } catch {
        // Gone meanwhile.
      }
    }
    if (newest === 0) {
      try {
        newest = (await fsp.stat(dir)).mtimeMs;
      } catch {
        continue;
      }
    }
    if (now - newest <= maxAge) continue;
    removedUploads.push(id);
    freedBytes += size;
    if (!dryRun) await fsp.rm(dir, { recursive: true, force: true });
  }

  return { removedBlobs: removedBlobs.sort(), removedUploads: removedUploads.sort(), freedBytes };
}

async function readdirOr(dir: string): Promise<string[]> {
  try {
    return await fsp.readdir(dir);
  } catch {
    return [];
  }
}
