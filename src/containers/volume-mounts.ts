// What a container's mounts need from the outside world: named and anonymous volumes created at create
// (as Docker does), host paths checked or made, copy-up of the image's content into a new volume, and the OCI
// mounts handed to the runtime at start. The runtime (crun) resolves each destination inside the container's
// rootfs, so a symlink planted in the image or by another container cannot send a mount onto the host.
import { spawn } from 'node:child_process';
import { promises as fsp, existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { VolumeStore, Volume } from '../volumes/store.ts';
import type { ContainerRecord, AnyObj } from './types.ts';
import type { OciMount } from '../runtime/spec.ts';
import { parseBind, parseApiMount, parseVolumesFrom, checkDuplicates, tmpfsOptions, type MountPoint } from './mounts.ts';
import { resolveInRoot } from '../layers/archive.ts';
import { invalidParameter, notFound } from '../lib/errors.ts';

export class VolumeMounts {
  volumes?: VolumeStore;

  private store(): VolumeStore {
    if (!this.volumes) throw invalidParameter('volumes are not available');
    return this.volumes;
  }

  // At create: the container's mount points, with every volume it names or implies created now.
  async plan(config: AnyObj, hc: AnyObj, lookup: (ref: string) => ContainerRecord | undefined): Promise<MountPoint[]> {
    const points: MountPoint[] = [];
    for (const b of (hc.Binds ?? []) as string[]) points.push(parseBind(String(b)));
    for (const m of (hc.Mounts ?? []) as AnyObj[]) points.push(parseApiMount(m));
    for (const spec of (hc.VolumesFrom ?? []) as string[]) {
      const { container, mode } = parseVolumesFrom(String(spec));
      const from = lookup(container);
      if (!from) throw notFound(`No such container: ${container}`);
      for (const p of from.MountPoints ?? []) {
        if (points.some((q) => q.Destination === p.Destination)) continue;
        points.push({ ...p, RW: mode ? mode === 'rw' : p.RW, Mode: mode ?? p.Mode, Anonymous: false });
      }
    }
    // Anonymous volumes: `-v /dst` and the image's VOLUME lines, unless something else is mounted there.
    for (const dst of Object.keys((config.Volumes ?? {}) as Record<string, unknown>)) {
      const d = path.posix.normalize(dst).replace(/(.)\/+$/, '$1');
      if (points.some((p) => p.Destination === d) || Object.keys(hc.Tmpfs ?? {}).includes(d)) continue;
      points.push({ Type: 'volume', Name: '', Source: '', Destination: d, Driver: 'local', Mode: '', RW: true, Propagation: '', Anonymous: true });
    }
    checkDuplicates(points, Object.keys(hc.Tmpfs ?? {}));
    for (const p of points) {
      if (p.Type === 'bind') {
        if (!existsSync(p.Source)) {
          // Docker makes a missing -v host path; a --mount bind source must exist.
          if (!p.FromBindSpec) throw invalidParameter(`invalid mount config for type "bind": bind source path does not exist: ${p.Source}`);
          await fsp.mkdir(p.Source, { recursive: true, mode: 0o755 });
        }
      } else if (p.Type === 'volume' && !p.Source) {
        const { volume, created } = await this.store().create({ Name: p.Name || undefined, anonymous: p.Anonymous, Labels: p.VolumeLabels, DriverOpts: p.VolumeDriverOpts });
        delete p.VolumeLabels;
        delete p.VolumeDriverOpts;
        p.Name = volume.Name;
        p.Source = volume.Mountpoint;
        // Copy-up is for a volume this container brings into being, unless `nocopy`.
        if (created && !p.NoCopy) (p as MountPoint & { CopyUp?: boolean }).CopyUp = true;
      }
    }
    return points;
  }

  // At start: OCI mounts, parents before children (Docker sorts by depth), with volume sources ready.
  async prepare(c: ContainerRecord, rootfs: string): Promise<OciMount[]> {
    const points = [...(c.MountPoints ?? [])].sort((a, b) => a.Destination.split('/').length - b.Destination.split('/').length);
    const out: OciMount[] = [];
    for (const p of points) {
      if (p.Type === 'tmpfs') {
        out.push({ destination: p.Destination, type: 'tmpfs', source: 'tmpfs', options: tmpfsOptions(p) });
        continue;
      }
      let source = p.Source;
      if (p.Type === 'volume') {
        const v = this.store().get(p.Name!);
        if (!v) throw notFound(`get ${p.Name}: no such volume`);
        source = await this.store().mountSource(v);
        const pending = p as MountPoint & { CopyUp?: boolean };
        if (pending.CopyUp) {
          await copyUp(rootfs, p.Destination, source);
          delete pending.CopyUp;
        }
      } else if (!existsSync(source)) {
        throw invalidParameter(`error while creating mount source path '${source}': no such file or directory`);
      }
      const opts = ['rbind', p.RW ? 'rw' : 'ro'];
      if (p.Propagation) opts.push(p.Propagation);
      out.push({ destination: p.Destination, type: 'bind', source, options: opts });
    }
    return out;
  }

  async release(c: ContainerRecord): Promise<void> {
    for (const p of c.MountPoints ?? []) {
      const v = p.Type === 'volume' && p.Name ? this.volumes?.get(p.Name) : undefined;
      if (v) await this.volumes!.release(v).catch(() => {});
    }
  }

  // `rm -v` and --rm: the container's anonymous volumes go with it; named ones stay.
  async removeAnonymous(c: ContainerRecord): Promise<void> {
    for (const p of c.MountPoints ?? []) {
      if (p.Type !== 'volume' || !p.Name) continue;
      const v: Volume | undefined = this.volumes?.get(p.Name);
      if (v?.Anonymous) await this.volumes!.remove(v.Name, { force: false }).catch(() => {});
    }
  }
}

// Docker's copy-up: a new volume starts with what the image has at the mount point (ownership, modes, links).
async function copyUp(rootfs: string, dst: string, volumeDir: string): Promise<void> {
  const src = await resolveInRoot(rootfs, dst, { followFinal: true });
  let st;
  try {
    st = await fsp.lstat(src);
  } catch {
    return;
  }
  if (!st.isDirectory() || readdirSync(volumeDir).length > 0) return;
  await new Promise<void>((resolve, reject) => {
    const p = spawn('cp', ['-a', '--no-dereference', `${src}/.`, `${volumeDir}/`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`copying image content into the volume failed: ${err.trim()}`))));
  });
  // The volume's root takes the image directory's owner and mode, as Docker does.
  await fsp.chown(volumeDir, st.uid, st.gid).catch(() => {});
  await fsp.chmod(volumeDir, st.mode & 0o7777).catch(() => {});
}
