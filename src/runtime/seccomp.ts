// Docker's default seccomp profile, read from the Docker-format file on disk and translated to the OCI form
// for the container's capability set. Translation is cached per capability set: it is pure and costs ~2 ms.
import { readFileSync } from 'node:fs';

export const DEFAULT_PROFILE_PATH = '/usr/share/containers/seccomp.json';

interface DockerRule {
  names?: string[];
  name?: string;
  action: string;
  errnoRet?: number;
  args?: { index: number; value: number; valueTwo?: number; op: string }[] | null;
  includes?: { caps?: string[]; arches?: string[]; minKernel?: string };
  excludes?: { caps?: string[]; arches?: string[] };
}

export interface DockerProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: { architecture: string; subArchitectures?: string[] }[];
  syscalls?: DockerRule[];
}

export interface OciSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures: string[];
  syscalls: { names: string[]; action: string; errnoRet?: number; args?: { index: number; value: number; valueTwo: number; op: string }[] }[];
}

const HOST_ARCH = process.arch === 'arm64' ? 'SCMP_ARCH_AARCH64' : 'SCMP_ARCH_X86_64';
const GO_ARCH = process.arch === 'arm64' ? 'arm64' : 'amd64';

let defaultProfile: DockerProfile | undefined;
const cache = new Map<string, OciSeccomp>();

export function loadDefaultProfile(): DockerProfile {
  defaultProfile ??= JSON.parse(readFileSync(DEFAULT_PROFILE_PATH, 'utf8')) as DockerProfile;
  return defaultProfile;
}

function kernelAtLeast(min: string): boolean {
  const [a, b] = min.split('.').map(Number);
  const [x, y] = kernelRelease().split('.').map(Number);
  return x > a || (x === a && y >= b);
}

function kernelRelease(): string {
  try {
    return readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  } catch {
    return '0.0';
  }
}

export function translateProfile(p: DockerProfile, caps: string[]): OciSeccomp {
  const capSet = new Set(caps);
  let arches: string[] = p.architectures ?? [];
  if (p.archMap) {
    const m = p.archMap.find((a) => a.architecture === HOST_ARCH);
    arches = m ? [m.architecture, ...(m.subArchitectures ?? [])] : [];
  }
  const syscalls: OciSeccomp['syscalls'] = [];
  for (const r of p.syscalls ?? []) {
    const inc = r.includes ?? {};
    const exc = r.excludes ?? {};
    if (inc.caps?.length && !inc.caps.every((c) => capSet.has(c))) continue;
    if (inc.arches?.length && !inc.arches.includes(GO_ARCH)) continue;
    if (inc.minKernel && !kernelAtLeast(inc.minKernel)) continue;
    if (exc.caps?.some((c) => capSet.has(c))) continue;
    if (exc.arches?.includes(GO_ARCH)) continue;
    const names = r.names ?? (r.name ? [r.name] : []);
    if (!names.length) continue;
    const rule: OciSeccomp['syscalls'][number] = { names, action: r.action };
    if (r.errnoRet !== undefined) rule.errnoRet = r.errnoRet;
    if (r.args?.length) rule.args = r.args.map((a) => ({ index: a.index, value: a.value, valueTwo: a.valueTwo ?? 0, op: a.op }));
    syscalls.push(rule);
  }
  const out: OciSeccomp = { defaultAction: p.defaultAction, architectures: arches, syscalls };
  if (p.defaultErrnoRet !== undefined) out.defaultErrnoRet = p.defaultErrnoRet;
  return out;
}

export function defaultSeccomp(caps: string[]): OciSeccomp {
  const key = [...caps].sort().join(',');
  let v = cache.get(key);
  if (!v) {
    v = translateProfile(loadDefaultProfile(), caps);
    cache.set(key, v);
  }
  return v;
}
