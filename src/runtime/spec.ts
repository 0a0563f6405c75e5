// Builds the OCI runtime spec (config.json) for a container the way Docker does: default capabilities,
// masked and read-only paths, default mounts, device cgroup rules, resources and seccomp.
import { defaultSeccomp, translateProfile, type DockerProfile } from './seccomp.ts';
import { readFileSync } from 'node:fs';
import { invalidParameter } from '../lib/errors.ts';

export const DEFAULT_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

// In the kernel's numbering order (CAP_CHOWN is 0 ... CAP_CHECKPOINT_RESTORE is 40).
export const ALL_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
  'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

const MASKED_PATHS = [
  '/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
];
const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

// Docker's default device cgroup allow-list.
const DEFAULT_DEVICE_RULES = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' },
  { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' },
  { allow: true, type: 'c', access: 'm' },
  { allow: true, type: 'b', access: 'm' },
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' },
  { allow: true, type: 'c', major: 136, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' },
  { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' },
];

let hostBounding: bigint | undefined;

// "All capabilities" means those this daemon itself may pass on (Docker filters by its own bounding set too):
// in a restricted sandbox, asking for one outside it makes the runtime's capset fail.
export function availableCaps(): string[] {
  if (hostBounding === undefined) {
    try {
      const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
      hostBounding = m ? BigInt(`0x${m[1]}`) : -1n;
    } catch {
      hostBounding = -1n;
    }
  }
  const bnd = hostBounding;
  // ALL_CAPS is in the kernel's numbering order, so a capability's index is its bit.
  return bnd === -1n ? [...ALL_CAPS] : ALL_CAPS.filter((_c, i) => (bnd >> BigInt(i)) & 1n);
}

export function normalizeCap(c: string): string {
  const up = c.toUpperCase();
  return up === 'ALL' ? 'ALL' : up.startsWith('CAP_') ? up : `CAP_${up}`;
}

// Docker's TweakCapabilities: drops apply to the defaults, then adds; "ALL" on either side.
export function effectiveCaps(add: string[] = [], drop: string[] = [], privileged = false): string[] {
  if (privileged) return availableCaps();
  const adds = add.map(normalizeCap);
  const drops = drop.map(normalizeCap);
  for (const c of [...adds, ...drops]) {
    if (c !== 'ALL' && !ALL_CAPS.includes(c)) throw invalidParameter(`unknown capability: "${c}"`);
  }
  let caps = drops.includes('ALL') ? [] : DEFAULT_CAPS.filter((c) => !drops.includes(c));
  if (adds.includes('ALL')) caps = availableCaps().filter((c) => !drops.includes(c) || adds.includes(c));
  for (const c of adds) if (c !== 'ALL' && !caps.includes(c)) caps.push(c);
  return caps;
}

export interface SpecInput {
  id: string;
  cgroupsPath: string;
  rootfs: string;
  readonlyRootfs: boolean;
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  additionalGids: number[];
  terminal: boolean;
  consoleSize?: [number, number]; // [height, width], Docker's HostConfig.ConsoleSize
  hostname: string;
  caps: string[];
  privileged: boolean;
  noNewPrivileges: boolean;
  seccomp: 'default' | 'unconfined' | DockerProfile;
  netnsPath?: string; // join this network namespace; 'host' = none in the spec
  hostNetwork: boolean;
  hostPid?: boolean;
  hostIpc?: boolean;
  etcFiles: { hosts: string; hostname: string; resolvConf: string };
  memory?: number;
  memorySwap?: number;
  memoryReservation?: number;
  nanoCpus?: number;
  cpuShares?: number;
  cpuPeriod?: number;
  cpuQuota?: number;
  cpusetCpus?: string;
  cpusetMems?: string;
  pidsLimit?: number;
  shmSize?: number;
  nofileLimit: number; // the daemon's own hard limit: raising above it fails without CAP_SYS_RESOURCE
  ulimits?: { Name: string; Soft: number; Hard: number }[];
  oomScoreAdj?: number;
  extraMounts?: OciMount[];
  maskedPaths?: string[];
  readonlyPaths?: string[];
  sysctls?: Record<string, string>;
}

export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

export function buildSpec(s: SpecInput): Record<string, unknown> {
  const nofile = Math.min(1048576, s.nofileLimit);
  const rlimits = [{ type: 'RLIMIT_NOFILE', hard: nofile, soft: nofile }];
  for (const u of s.ulimits ?? []) {
    const type = `RLIMIT_${u.Name.toUpperCase()}`;
    const i = rlimits.findIndex((r) => r.type === type);
    const r = { type, hard: u.Hard, soft: u.Soft };
    if (i >= 0) rlimits[i] = r;
    else rlimits.push(r);
  }
  const mounts: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', s.privileged ? 'rw' : 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', s.privileged ? 'rw' : 'ro'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${s.shmSize ?? 67108864}`] },
    { destination: '/etc/resolv.conf', type: 'bind', source: s.etcFiles.resolvConf, options: ['rbind', 'rprivate'] },
    { destination: '/etc/hostname', type: 'bind', source: s.etcFiles.hostname, options: ['rbind', 'rprivate'] },
    { destination: '/etc/hosts', type: 'bind', source: s.etcFiles.hosts, options: ['rbind', 'rprivate'] },
    ...(s.extraMounts ?? []),
  ];
  const namespaces: { type: string; path?: string }[] = [{ type: 'mount' }, { type: 'uts' }];
  if (!s.hostPid) namespaces.push({ type: 'pid' });
  if (!s.hostIpc) namespaces.push({ type: 'ipc' });
  if (!s.hostNetwork) namespaces.push(s.netnsPath ? { type: 'network', path: s.netnsPath } : { type: 'network' });
  const capsObj = { bounding: s.caps, effective: s.caps, permitted: s.caps };
  const resources: Record<string, unknown> = {
    devices: s.privileged ? [{ allow: true, access: 'rwm' }] : DEFAULT_DEVICE_RULES,
  };
  if (s.memory || s.memorySwap || s.memoryReservation) {
    const mem: Record<string, number> = {};
    if (s.memory) {
      mem.limit = s.memory;
      // Docker's default: swap limit twice the memory limit when only --memory is given.
      mem.swap = s.memorySwap === -1 ? -1 : s.memorySwap && s.memorySwap > 0 ? s.memorySwap : s.memory * 2;
    }
    if (s.memoryReservation) mem.reservation = s.memoryReservation;
    resources.memory = mem;
  }
  const cpu: Record<string, unknown> = {};
  if (s.cpuShares) cpu.shares = s.cpuShares;
  if (s.nanoCpus) {
    cpu.period = 100000;
    cpu.quota = Math.round((s.nanoCpus * 100000) / 1e9);
  } else {
    if (s.cpuPeriod) cpu.period = s.cpuPeriod;
    if (s.cpuQuota) cpu.quota = s.cpuQuota;
  }
  if (s.cpusetCpus) cpu.cpus = s.cpusetCpus;
  if (s.cpusetMems) cpu.mems = s.cpusetMems;
  if (Object.keys(cpu).length) resources.cpu = cpu;
  if (s.pidsLimit && s.pidsLimit > 0) resources.pids = { limit: s.pidsLimit };

  let seccomp: unknown;
  if (!s.privileged && s.seccomp !== 'unconfined') {
    seccomp = s.seccomp === 'default' ? defaultSeccomp(s.caps) : translateProfile(s.seccomp, s.caps);
  }
  const linux: Record<string, unknown> = {
    namespaces,
    cgroupsPath: s.cgroupsPath,
    resources,
    maskedPaths: s.privileged ? [] : (s.maskedPaths ?? MASKED_PATHS),
    readonlyPaths: s.privileged ? [] : (s.readonlyPaths ?? READONLY_PATHS),
  };
  if (seccomp) linux.seccomp = seccomp;
  if (s.sysctls && Object.keys(s.sysctls).length) linux.sysctl = s.sysctls;
  const process: Record<string, unknown> = {
    terminal: s.terminal,
    user: { uid: s.uid, gid: s.gid, additionalGids: s.additionalGids.length ? s.additionalGids : undefined },
    args: s.args,
    env: s.env,
    cwd: s.cwd,
    capabilities: capsObj,
    rlimits,
    noNewPrivileges: s.noNewPrivileges,
  };
  if (s.oomScoreAdj !== undefined) process.oomScoreAdj = s.oomScoreAdj;
  // The initial terminal size, so the first thing the container prints already fits (the CLI's resize
  // call comes only after start).
  if (s.terminal && s.consoleSize && s.consoleSize[0] > 0 && s.consoleSize[1] > 0) {
    process.consoleSize = { height: s.consoleSize[0], width: s.consoleSize[1] };
  }
  return {
    ociVersion: '1.0.2',
    process,
    root: { path: s.rootfs, readonly: s.readonlyRootfs },
    hostname: s.hostNetwork ? undefined : s.hostname,
    mounts,
    linux,
  };
}
