// Unpacked layers ("snapshots") keyed by chain ID, laid out like Docker's overlay2 driver:
//   layers/<chain-hex>/diff      the layer's files (whiteouts in overlay form)
//   layers/<chain-hex>/meta.json {diffId, parent, size, link}
//   layers/l/<LINK>              -> ../<chain-hex>/diff   (26-char names keep a 100-layer mount under 4 KB)
import { randomBytes, createHash } from 'node:crypto';
import { promises as fsp, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { extractLayer } from './archive.ts';
import { mount, umount2, MNT_DETACH } from '../platform/syscalls.ts';
import { writeJsonAtomic } from '../lib/fsutil.ts';
import { isErrno } from '../lib/errors.ts';

export interface LayerMeta {
  chainId: string;
  diffId: string;
  parent?: string;
  size: number;
  link: string;
}

export function chainIdOf(parent: string | undefined, diffId: string): string {
  if (!parent) return diffId;
  return 'sha256:' + createHash('sha256').update(`${parent} ${diffId}`).digest('hex');
}

export function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  let parent: string | undefined;
  for (const d of diffIds) {
    parent = chainIdOf(parent, d);
    out.push(parent);
  }
  return out;
}

function linkName(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  const bytes = randomBytes(26);
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('');
}

export class LayerStore {
  readonly root: string;
  private metas = new Map<string, LayerMeta>();
  private emptyDir: string;

  constructor(root: string) {
    this.root = root;
    this.emptyDir = path.join(root, 'empty');
  }

  async init(): Promise<void> {
    mkdirSync(path.join(this.root, 'l'), { recursive: true, mode: 0o700 });
    mkdirSync(this.emptyDir, { recursive: true, mode: 0o755 });
    for (const name of await fsp.readdir(this.root)) {
      if (name.startsWith('tmp-')) {
        await fsp.rm(path.join(this.root, name), { recursive: true, force: true });
        continue;
      }
      if (!/^[a-f0-9]{64}$/.test(name)) continue;
      try {
        const meta = JSON.parse(readFileSync(path.join(this.root, name, 'meta.json'), 'utf8')) as LayerMeta;
        this.metas.set(meta.chainId, meta);
      } catch {
        // A layer without meta.json never finished unpacking.
        await fsp.rm(path.join(this.root, name), { recursive: true, force: true });
      }
    }
  }

  has(chainId: string): boolean {
    return this.metas.has(chainId);
  }

  get(chainId: string): LayerMeta | undefined {
    return this.metas.get(chainId);
  }

  all(): LayerMeta[] {
    return [...this.metas.values()];
  }

  diffDir(chainId: string): string {
    return path.join(this.root, chainId.slice(7), 'diff');
  }

  // Unpacks an (uncompressed or compressed) layer tar on top of `parent`.
  async create(parent: string | undefined, tar: Readable, signal?: AbortSignal): Promise<LayerMeta> {
    const tmp = path.join(this.root, `tmp-${randomBytes(8).toString('hex')}`);
    await fsp.mkdir(path.join(tmp, 'diff'), { recursive: true, mode: 0o755 });
    try {
      const { diffId, size } = await extractLayer(tar, path.join(tmp, 'diff'), { signal, whiteouts: 'overlay' });
      const chainId = chainIdOf(parent, diffId);
      const existing = this.metas.get(chainId);
      if (existing) return existing;
      const meta: LayerMeta = { chainId, diffId, parent, size, link: linkName() };
      await writeJsonAtomic(path.join(tmp, 'meta.json'), meta);
      const dir = path.join(this.root, chainId.slice(7));
      await fsp.rename(tmp, dir);
      await fsp.symlink(`../${chainId.slice(7)}/diff`, path.join(this.root, 'l', meta.link));
      this.metas.set(chainId, meta);
      return meta;
    } finally {
      await fsp.rm(tmp, { recursive: true, force: true });
    }
  }

  async remove(chainId: string): Promise<void> {
    const meta = this.metas.get(chainId);
    if (!meta) return;
    this.metas.delete(chainId);
    await fsp.rm(path.join(this.root, 'l', meta.link), { force: true });
    await fsp.rm(path.join(this.root, chainId.slice(7)), { recursive: true, force: true });
  }

  // Lower dirs for an overlay mount, topmost first, as paths relative to this.root.
  lowers(chainId: string | undefined): string[] {
    const out: string[] = [];
    for (let c = chainId; c; c = this.metas.get(c)?.parent) {
      const m = this.metas.get(c);
      if (!m) throw new Error(`layer ${c} is missing`);
      out.push(`l/${m.link}`);
    }
    return out;
  }

  // Mounts the container's overlay. Lower dirs are given relative to the layer root (we chdir there for the
  // duration of the mount call, as overlay2 does) so that deep images fit the one-page mount data limit.
  mountOverlay(top: string | undefined, dirs: { upper: string; work: string; merged: string }, readonly = false): void {
    let lowers = this.lowers(top);
    if (lowers.length === 0) lowers = ['empty'];
    const data = readonly && lowers.length > 1
      ? `lowerdir=${lowers.join(':')}`
      : `lowerdir=${lowers.join(':')},upperdir=${dirs.upper},workdir=${dirs.work}`;
    const cwd = process.cwd();
    process.chdir(this.root);
    try {
      mount('overlay', dirs.merged, 'overlay', 0, data);
    } finally {
      process.chdir(cwd);
    }
  }
}

export function unmount(target: string): void {
  try {
    umount2(target, MNT_DETACH);
  } catch (err) {
    if (!isErrno(err, 'EINVAL') && !isErrno(err, 'ENOENT')) throw err;
  }
}

export function isMounted(target: string): boolean {
  if (!existsSync(target)) return false;
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
  return mounts.split('\n').some((l) => l.split(' ')[4] === target);
}
