// cgroup detection. v2 (unified) and v1 are both supported. A v1 "hybrid" host (v1 controllers plus a cgroup2
// mount at /sys/fs/cgroup/unified) makes crun refuse every container when any controller is attached to the
// cgroup2 tree ("cgroups in hybrid mode not supported"); we mount those controllers as v1 hierarchies, as
// cgroupfs-mount did for Docker, and fall back to runc if that is impossible.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { mount } from '../platform/syscalls.ts';

export interface CgroupInfo {
  version: 1 | 2;
  hybrid: boolean;
  warnings: string[];
  crunUsable: boolean;
}

const ROOT = '/sys/fs/cgroup';

function readTrim(p: string): string {
  try {
    return readFileSync(p, 'utf8').trim();
  } catch {
    return '';
  }
}

export function detectCgroups(): CgroupInfo {
  if (existsSync(`${ROOT}/cgroup.controllers`)) return { version: 2, hybrid: false, warnings: [], crunUsable: true };
  const info: CgroupInfo = { version: 1, hybrid: false, warnings: [], crunUsable: true };
  const unified = readTrim(`${ROOT}/unified/cgroup.controllers`);
  if (!unified) return info;
  info.hybrid = true;
  for (const ctrl of unified.split(/\s+/)) {
    const dir = `${ROOT}/${ctrl}`;
    try {
      mkdirSync(dir, { recursive: true });
      mount('cgroup', dir, 'cgroup', 0, ctrl);
    } catch (err) {
      info.warnings.push(`WARNING: could not mount cgroup v1 controller ${ctrl}: ${(err as Error).message}`);
    }
  }
  if (readTrim(`${ROOT}/unified/cgroup.controllers`)) {
    info.crunUsable = false;
    info.warnings.push('WARNING: cgroup v1 hybrid mode with controllers on cgroup2: crun cannot run containers here, using runc');
  }
  return info;
}

export function cgroupPath(id: string): string {
  return `/berth/${id}`;
}

// Where a container's controller files are, for stats and OOM checks.
export function controllerDir(info: CgroupInfo, controller: string, id: string): string {
  return info.version === 2 ? `${ROOT}${cgroupPath(id)}` : `${ROOT}/${controller}${cgroupPath(id)}`;
}
