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

// The profile on disk (containers-common) is Podman's, which allows mount, unshare, setns, keyctl, ptrace...
// for everyone and leaves the rest to capabilities. Docker's default profile is stricter: these syscalls
// need the capability named here (null: blocked for all), as Docker's seccomp documentation lists.
const DOCKER_GATED: Record<string, string | null> = {
  open_by_handle_at: 'CAP_DAC_READ_SEARCH',
  bpf: 'CAP_SYS_ADMIN', fanotify_init: 'CAP_SYS_ADMIN', fsconfig: 'CAP_SYS_ADMIN', fsmount: 'CAP_SYS_ADMIN',
  fsopen: 'CAP_SYS_ADMIN', fspick: 'CAP_SYS_ADMIN', lookup_dcookie: 'CAP_SYS_ADMIN', mount: 'CAP_SYS_ADMIN',
  mount_setattr: 'CAP_SYS_ADMIN', move_mount: 'CAP_SYS_ADMIN', name_to_handle_at: 'CAP_SYS_ADMIN',
  open_tree: 'CAP_SYS_ADMIN', perf_event_open: 'CAP_SYS_ADMIN', quotactl: 'CAP_SYS_ADMIN', quotactl_fd: 'CAP_SYS_ADMIN',
  setdomainname: 'CAP_SYS_ADMIN', sethostname: 'CAP_SYS_ADMIN', setns: 'CAP_SYS_ADMIN', syscall: 'CAP_SYS_ADMIN',
  umount: 'CAP_SYS_ADMIN', umount2: 'CAP_SYS_ADMIN', unshare: 'CAP_SYS_ADMIN', pivot_root: 'CAP_SYS_ADMIN',
  reboot: 'CAP_SYS_BOOT', delete_module: 'CAP_SYS_MODULE', init_module: 'CAP_SYS_MODULE', finit_module: 'CAP_SYS_MODULE',
  acct: 'CAP_SYS_PACCT', kcmp: 'CAP_SYS_PTRACE', pidfd_getfd: 'CAP_SYS_PTRACE', process_madvise: 'CAP_SYS_PTRACE',
  process_vm_readv: 'CAP_SYS_PTRACE', process_vm_writev: 'CAP_SYS_PTRACE', ptrace: 'CAP_SYS_PTRACE',
  iopl: 'CAP_SYS_RAWIO', ioperm: 'CAP_SYS_RAWIO', settimeofday: 'CAP_SYS_TIME', stime: 'CAP_SYS_TIME',
  clock_settime: 'CAP_SYS_TIME', clock_settime64: 'CAP_SYS_TIME', clock_adjtime: 'CAP_SYS_TIME',
  clock_adjtime64: 'CAP_SYS_TIME', adjtimex: 'CAP_SYS_TIME', vhangup: 'CAP_SYS_TTY_CONFIG',
  get_mempolicy: 'CAP_SYS_NICE', mbind: 'CAP_SYS_NICE', set_mempolicy: 'CAP_SYS_NICE', move_pages: 'CAP_SYS_NICE',
  syslog: 'CAP_SYSLOG',
  add_key: null, keyctl: null, request_key: null, kexec_load: null, kexec_file_load: null, nfsservctl: null,
  query_module: null, create_module: null, get_kernel_syms: null, uselib: null, userfaultfd: null, ustat: null,
  vm86: null, vm86old: null, swapon: null, swapoff: null, sysfs: null, _sysctl: null,
};
// clone with any CLONE_NEW* flag (CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET) needs CAP_SYS_ADMIN.
const CLONE_NS_MASK = 0x7e020000;

export function dockerHarden(p: OciSeccomp, caps: string[]): OciSeccomp {
  const has = new Set(caps);
  const allowed = (n: string) => {
    if (!(n in DOCKER_GATED)) return true;
    const cap = DOCKER_GATED[n];
    return cap !== null && has.has(cap);
  };
  const admin = has.has('CAP_SYS_ADMIN');
  const syscalls: OciSeccomp['syscalls'] = [];
  for (const r of p.syscalls) {
    if (r.action !== 'SCMP_ACT_ALLOW') {
      syscalls.push(r);
      continue;
    }
    let names = r.names.filter(allowed);
    if (!admin && !r.args) names = names.filter((n) => n !== 'clone' && n !== 'clone3');
    if (names.length) syscalls.push({ ...r, names });
  }
  if (!admin) {
    syscalls.push({ names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: CLONE_NS_MASK, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] });
    // ENOSYS makes libc fall back to clone(2), whose flags the rule above can inspect (clone3 passes a pointer).
    syscalls.push({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 });
  }
  // Docker's default answer to a blocked syscall is EPERM (Podman's profile says ENOSYS).
  return { ...p, defaultErrnoRet: 1, syscalls };
}

export function defaultSeccomp(caps: string[]): OciSeccomp {
  const key = [...caps].sort().join(',');
  let v = cache.get(key);
  if (!v) {
    v = dockerHarden(translateProfile(loadDefaultProfile(), caps), caps);
    cache.set(key, v);
  }
  return v;
}
