// Named volumes with Docker's `local` driver: <root>/<name>/_data holds the data, <root>/<name>/volume.json
// the metadata (temp-then-rename). DriverOpts type=tmpfs mounts a tmpfs on _data while containers use it;
// type=none,o=bind,device=PATH binds a host path instead.
import { randomBytes } from 'node:crypto';
import { promises as fsp, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { writeJsonAtomic, readJson } from '../lib/fsutil.ts';
import { BerthError, conflict, invalidParameter, notFound } from '../lib/errors.ts';
import { mount, umount2, MNT_DETACH } from '../platform/syscalls.ts';

export interface Volume {
  Name: string;
  Driver: 'local';
  Mountpoint: string;
  CreatedAt: string;
  Labels: Record<string, string>;
  Options: Record<string, string>;
  Scope: 'local';
  Anonymous: boolean;
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export function checkVolumeName(name: string): void {
  if (!NAME_RE.test(name)) {
    throw invalidParameter(`create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
  }
}

// Docker's local driver accepts these option keys only.
const OPTION_KEYS = ['type', 'device', 'o', 'size'];

export class VolumeStore {
  private readonly root: string;
  private vols = new Map<string, Volume>();
  private refs = new Map<string, number>();
  usedBy: (name: string) => string[] = () => [];

  constructor(root: string) {
    this.root = root;
  }

  async init(): Promise<void> {
    mkdirSync(this.root, { recursive: true, mode: 0o701 });
    for (const name of await fsp.readdir(this.root)) {
      const v = await readJson<Volume>(path.join(this.root, name, 'volume.json'));
      if (v) this.vols.set(v.Name, v);
      else await fsp.rm(path.join(this.root, name), { recursive: true, force: true }); // never finished creating
    }
  }

  get(name: string): Volume | undefined {
    return this.vols.get(name);
  }

  list(): Volume[] {
    return [...this.vols.values()];
  }

  async create(opts: { Name?: string; Driver?: string; Labels?: Record<string, string>; DriverOpts?: Record<string, string>; anonymous?: boolean }): Promise<{ volume: Volume; created: boolean }> {
    const driver = opts.Driver || 'local';
    if (driver !== 'local') throw notFound(`error looking up volume plugin ${driver}: plugin "${driver}" not found`);
    const name = opts.Name || randomBytes(32).toString('hex');
    checkVolumeName(name);
    const existing = this.vols.get(name);
    if (existing) return { volume: existing, created: false };
    const options = opts.DriverOpts ?? {};
    for (const k of Object.keys(options)) if (!OPTION_KEYS.includes(k)) throw invalidParameter(`invalid option key: "${k}"`);
    if (options.type && options.type !== 'tmpfs' && options.type !== 'none') {
      throw invalidParameter(`volume type "${options.type}" is not supported by berth's local driver (tmpfs and bind only)`);
    }
    const dir = path.join(this.root, name);
    const v: Volume = {
      Name: name, Driver: 'local', Mountpoint: path.join(dir, '_data'), CreatedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      Labels: opts.Labels ?? {}, Options: options, Scope: 'local', Anonymous: !opts.Name || !!opts.anonymous,
    };
    await fsp.mkdir(v.Mountpoint, { recursive: true, mode: 0o755 });
    await writeJsonAtomic(path.join(dir, 'volume.json'), v);
    this.vols.set(name, v);
    return { volume: v, created: true };
  }

  async remove(name: string, opts: { force: boolean }): Promise<void> {
    const v = this.vols.get(name);
    if (!v) {
      if (opts.force) return;
      throw notFound(`get ${name}: no such volume`);
    }
    const users = this.usedBy(name);
    if (users.length) throw conflict(`remove ${name}: volume is in use - [${users.join(', ')}]`);
    this.vols.delete(name);
    try {
      umount2(v.Mountpoint, MNT_DETACH);
    } catch { /* not mounted */ }
    await fsp.rm(path.join(this.root, name), { recursive: true, force: true });
  }

  // Current Docker: without `all`, only anonymous volumes no container uses.
  async prune(opts: { all: boolean; labels?: string[] }): Promise<{ VolumesDeleted: string[]; SpaceReclaimed: number }> {
    const deleted: string[] = [];
    let space = 0;
    for (const v of this.list()) {
      if (this.usedBy(v.Name).length || (!opts.all && !v.Anonymous)) continue;
      if (!matchLabels(v.Labels, opts.labels ?? [])) continue;
      space += await dirSize(v.Mountpoint);
      await this.remove(v.Name, { force: true });
      deleted.push(v.Name);
    }
    return { VolumesDeleted: deleted, SpaceReclaimed: space };
  }

  // The host path bound into a container.
  async mountSource(v: Volume): Promise<string> {
    const o = v.Options;
    if (o.type === 'none' || (o.o ?? '').split(',').includes('bind')) {
      const dev = o.device;
      if (!dev || !path.isAbsolute(dev)) throw invalidParameter(`invalid volume options for ${v.Name}: a bind volume needs an absolute device path`);
      if (!existsSync(dev)) throw notFound(`error while mounting volume '${v.Mountpoint}': failed to mount local volume: mount ${dev}:${v.Mountpoint}, flags: 0x1000: no such file or directory`);
      return dev;
    }
    if (o.type === 'tmpfs') {
      const n = this.refs.get(v.Name) ?? 0;
      if (n === 0) {
        const data = [o.o, o.size ? `size=${o.size}` : ''].filter(Boolean).join(',');
        try {
          mount('tmpfs', v.Mountpoint, 'tmpfs', 0, data || null);
        } catch (err) {
          throw new BerthError('internal', `error while mounting volume '${v.Mountpoint}': ${(err as Error).message}`);
        }
      }
      this.refs.set(v.Name, n + 1);
    }
    return v.Mountpoint;
  }

  async release(v: Volume): Promise<void> {
    if (v.Options.type !== 'tmpfs') return;
    const n = (this.refs.get(v.Name) ?? 0) - 1;
    if (n > 0) {
      this.refs.set(v.Name, n);
      return;
    }
    this.refs.delete(v.Name);
    try {
      umount2(v.Mountpoint, MNT_DETACH);
    } catch { /* already gone */ }
  }
}

export function matchLabels(labels: Record<string, string>, filters: string[]): boolean {
  return filters.every((f) => {
    const neg = f.startsWith('!');
    const [k, val] = (neg ? f.slice(1) : f).split('=', 2);
    const hit = val === undefined ? k in labels : labels[k] === val;
    return neg ? !hit : hit;
  });
}

async function dirSize(dir: string): Promise<number> {
  let total = 0;
  for (const e of await fsp.readdir(dir, { withFileTypes: true, recursive: true }).catch(() => [])) {
    if (e.isFile()) total += (await fsp.lstat(path.join(e.parentPath, e.name)).catch(() => ({ size: 0 }))).size;
  }
  return total;
}
