// Container mounts, as Docker plans them at create: `-v`/Binds (`name:/dst[:opts]`, `/host:/dst[:opts]`),
// `--mount`/Mounts (volume, bind, tmpfs), `--tmpfs`, anonymous volumes (`-v /dst` and the image's VOLUMEs) and
// `--volumes-from`. Parsing is pure; the container manager turns mount points into OCI mounts at start.
import path from 'node:path';
import { invalidParameter } from '../lib/errors.ts';

export interface MountPoint {
  Type: 'bind' | 'volume' | 'tmpfs';
  Name?: string; // volumes
  Source: string; // host path for binds; filled at start for volumes
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
  NoCopy?: boolean;
  TmpfsOptions?: { SizeBytes?: number; Mode?: number };
  Anonymous?: boolean;
  VolumeLabels?: Record<string, string>; // --mount volume-label / volume-opt, for a volume created here
  VolumeDriverOpts?: Record<string, string>;
  FromBindSpec?: boolean; // -v host path: created if missing (Docker), --mount bind must exist
}

const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

function checkDestination(dst: string, spec: string): string {
  if (!dst || !path.posix.isAbsolute(dst)) throw invalidParameter(`invalid mount config: invalid mount path: '${dst}' mount path must be absolute`.replace('invalid mount config: ', spec ? `invalid volume specification: '${spec}': ` : ''));
  const clean = path.posix.normalize(dst);
  if (clean === '/') throw invalidParameter(`invalid volume specification: '${spec}': invalid mount config for type "bind": invalid specification: destination can't be '/'`);
  return clean.replace(/\/+$/, '');
}

// `-v SRC:DST[:MODE]` (Binds). MODE: ro, rw, z, Z, nocopy, and propagation (shared, slave, private, r*).
export function parseBind(spec: string): MountPoint {
  const parts = spec.split(':');
  if (parts.length < 2 || parts.length > 3) throw invalidParameter(`invalid volume specification: '${spec}'`);
  const [src, dst, mode = ''] = parts;
  if (!src) throw invalidParameter(`invalid volume specification: '${spec}'`);
  const modes = mode ? mode.split(',') : [];
  let rw = true;
  let propagation = 'rprivate';
  let nocopy = false;
  for (const m of modes) {
    if (m === 'ro') rw = false;
    else if (m === 'rw') rw = true;
    else if (m === 'nocopy') nocopy = true;
    else if (['shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate'].includes(m)) propagation = m;
    else if (m === 'z' || m === 'Z') { /* SELinux relabel: nothing to do without SELinux */ }
    else throw invalidParameter(`invalid mode: ${m}`);
  }
  const destination = checkDestination(dst, spec);
  if (path.posix.isAbsolute(src)) {
    if (nocopy) throw invalidParameter(`invalid mode: nocopy`);
    return { Type: 'bind', Source: path.posix.normalize(src), Destination: destination, Mode: mode, RW: rw, Propagation: propagation, FromBindSpec: true };
  }
  if (!VOLUME_NAME.test(src)) {
    throw invalidParameter(`create ${src}: "${src}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
  }
  return { Type: 'volume', Name: src, Source: '', Destination: destination, Driver: 'local', Mode: mode || 'z', RW: rw, Propagation: '', NoCopy: nocopy };
}

// One entry of HostConfig.Mounts (`--mount`).
export function parseApiMount(m: Record<string, unknown>): MountPoint {
  const type = String(m.Type ?? '');
  const target = String(m.Target ?? '');
  const readOnly = !!m.ReadOnly;
  if (!target) throw invalidParameter('invalid mount config: Target must not be empty');
  const destination = checkDestination(target, '');
  switch (type) {
    case 'bind': {
      const src = String(m.Source ?? '');
      if (!src) throw invalidParameter('invalid mount config for type "bind": field Source must not be empty');
      if (!path.posix.isAbsolute(src)) throw invalidParameter(`invalid mount config for type "bind": invalid mount path: '${src}' mount path must be absolute`);
      const prop = (m.BindOptions as { Propagation?: string } | undefined)?.Propagation || 'rprivate';
      return { Type: 'bind', Source: path.posix.normalize(src), Destination: destination, Mode: '', RW: !readOnly, Propagation: prop };
    }
    case 'volume': {
      const name = m.Source ? String(m.Source) : '';
      if (name && !VOLUME_NAME.test(name)) throw invalidParameter(`create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
      const vo = (m.VolumeOptions ?? {}) as { NoCopy?: boolean; Labels?: Record<string, string>; DriverConfig?: { Options?: Record<string, string> } };
      return {
        Type: 'volume', Name: name, Source: '', Destination: destination, Driver: 'local', Mode: 'z', RW: !readOnly, Propagation: '',
        NoCopy: !!vo.NoCopy, Anonymous: !name, VolumeLabels: vo.Labels, VolumeDriverOpts: vo.DriverConfig?.Options,
      };
    }
    case 'tmpfs': {
      if (m.Source) throw invalidParameter('invalid mount config for type "tmpfs": field Source must not be specified');
      const t = (m.TmpfsOptions ?? {}) as { SizeBytes?: number; Mode?: number };
      return { Type: 'tmpfs', Source: '', Destination: destination, Mode: '', RW: !readOnly, Propagation: '', TmpfsOptions: t };
    }
    default:
      throw invalidParameter(`invalid mount config: mount type unknown: "${type}"`);
  }
}

// `--volumes-from ID[:ro|:rw]`.
export function parseVolumesFrom(spec: string): { container: string; mode?: 'ro' | 'rw' } {
  const [container, mode, extra] = spec.split(':');
  if (extra !== undefined || !container) throw invalidParameter(`invalid volumes-from specification: ${spec}`);
  if (mode !== undefined && mode !== 'ro' && mode !== 'rw') throw invalidParameter(`invalid mode for volumes-from: ${mode}`);
  return { container, mode: mode as 'ro' | 'rw' | undefined };
}

export function tmpfsOptions(p: MountPoint): string[] {
  const opts = ['nosuid', 'nodev', 'noexec'];
  if (!p.RW) opts.push('ro');
  if (p.TmpfsOptions?.SizeBytes) opts.push(`size=${p.TmpfsOptions.SizeBytes}`);
  if (p.TmpfsOptions?.Mode) opts.push(`mode=${p.TmpfsOptions.Mode.toString(8)}`);
  return opts;
}

// Checks that no two mounts share a destination (Docker's "Duplicate mount point").
export function checkDuplicates(points: MountPoint[], tmpfsDsts: string[] = []): void {
  const seen = new Set<string>();
  for (const d of [...points.map((p) => p.Destination), ...tmpfsDsts]) {
    if (seen.has(d)) throw invalidParameter(`Duplicate mount point: ${d}`);
    seen.add(d);
  }
}

// The Mounts list of inspect and ps, in Docker's shape.
export function mountView(p: MountPoint): Record<string, unknown> {
  if (p.Type === 'volume') {
    return { Type: 'volume', Name: p.Name, Source: p.Source, Destination: p.Destination, Driver: p.Driver ?? 'local', Mode: p.Mode, RW: p.RW, Propagation: p.Propagation };
  }
  if (p.Type === 'tmpfs') return { Type: 'tmpfs', Source: '', Destination: p.Destination, Mode: '', RW: p.RW, Propagation: '' };
  return { Type: 'bind', Source: p.Source, Destination: p.Destination, Mode: p.Mode, RW: p.RW, Propagation: p.Propagation };
}

// Docker's cp sees the container's mounts: a path inside a volume or bind mount is read and written there.
// Returns the mount's host directory, the path relative to it (keeping a trailing "/." as given) and the
// name Docker gives the top entry when the path is the mount point itself.
export function mountHolding(points: MountPoint[], reqPath: string): { root: string; rel: string; topName?: string } | undefined {
  const raw = ('/' + reqPath).replace(/\/{2,}/g, '/');
  const norm = path.posix.normalize(raw).replace(/(.)\/+$/, '$1');
  let best: MountPoint | undefined;
  for (const m of points) {
    if (m.Type === 'tmpfs' || !m.Source) continue;
    if (norm !== m.Destination && !norm.startsWith(m.Destination + '/')) continue;
    if (!best || m.Destination.length > best.Destination.length) best = m;
  }
  if (!best) return undefined;
  const rest = norm.slice(best.Destination.length);
  const dotted = /\/\.$/.test(raw);
  const rel = (rest || '/') + (dotted ? (rest ? '/.' : '.') : '');
  return { root: best.Source, rel, topName: !rest && !dotted ? path.posix.basename(best.Destination) : undefined };
}
