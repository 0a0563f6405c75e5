// The flags of `docker run` / `docker create` and their translation into a ContainerCreate body, following
// the docker CLI's cli/command/container/opts.go field by field so berthd receives what docker would send.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { FlagDef, FlagValues } from './flags.ts';
import { parseInt64, parseUint, goQuote } from './flags.ts';
import { ramInBytes, parseGoDuration } from '../lib/units.ts';

export class OptionsError extends Error {}

const listFlag = (name: string, desc: string, extra: Partial<FlagDef> = {}): FlagDef => ({ name, type: 'list', desc, repeat: true, ...extra });
const strFlag = (name: string, desc: string, extra: Partial<FlagDef> = {}): FlagDef => ({ name, type: 'string', desc, ...extra });
const boolFlag = (name: string, desc: string, extra: Partial<FlagDef> = {}): FlagDef => ({ name, type: '', desc, ...extra });
const intFlag = (name: string, desc: string, extra: Partial<FlagDef> = {}): FlagDef => ({ name, type: 'int', desc, parse: parseInt64, def: 0, ...extra });
const bytesFlag = (name: string, desc: string, extra: Partial<FlagDef> = {}): FlagDef => ({ name, type: 'bytes', desc, parse: ramInBytes, def: 0, ...extra });
const durationFlag = (name: string, desc: string): FlagDef => ({ name, type: 'duration', desc, parse: parseDurationNs, def: 0, defText: '0s' });

function parseDurationNs(s: string): number {
  return Math.round(parseGoDuration(s) * 1e6);
}

/** opts.ValidateEnv: "VAR" alone takes the value from the CLI's own environment when it is set there. */
function validateEnv(val: string): string {
  const eq = val.indexOf('=');
  const key = eq >= 0 ? val.slice(0, eq) : val;
  if (key === '') throw new Error(`invalid environment variable: ${val}`);
  if (eq >= 0) return val;
  const v = process.env[key];
  return v !== undefined ? `${key}=${v}` : val;
}

function validateKV(val: string): string {
  return val;
}

/** opts.NanoCPUs: a rational number of CPUs, stored as an integer count of 1e-9 CPUs. */
export function parseNanoCpus(s: string): number {
  const fail = () => new Error(`failed to parse ${s} as a rational number`);
  let num: bigint;
  let den: bigint;
  const frac = /^([+-]?\d+)\/(\d+)$/.exec(s);
  if (frac) {
    num = BigInt(frac[1]);
    den = BigInt(frac[2]);
    if (den === 0n) throw fail();
  } else {
    const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(s);
    if (!m || (m[2] === '' && (m[3] ?? '') === '')) throw fail();
    const digits = (m[2] || '0') + (m[3] ?? '');
    let exp = -(m[3] ?? '').length + Number(m[4] ?? 0);
    num = BigInt(digits) * (m[1] === '-' ? -1n : 1n);
    den = 1n;
    if (exp >= 0) num *= 10n ** BigInt(exp);
    else den = 10n ** BigInt(-exp);
  }
  const scaled = num * 1_000_000_000n;
  if (scaled % den !== 0n) throw new Error('value is too precise');
  return Number(scaled / den);
}

const ulimitNames = new Set(['core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack']);

export interface Ulimit { Name: string; Hard: number; Soft: number }

/** units.ParseUlimit: "name=soft[:hard]". */
export function parseUlimit(val: string): Ulimit {
  const eq = val.indexOf('=');
  if (eq < 0) throw new Error(`invalid ulimit argument: ${val}`);
  const name = val.slice(0, eq);
  if (!ulimitNames.has(name)) throw new Error(`invalid ulimit type: ${name}`);
  const parts = val.slice(eq + 1).split(':');
  if (parts.length > 2) throw new Error(`too many limit value arguments - ${val.slice(eq + 1)}, can only have up to two, \`soft[:hard]\``);
  const soft = parseInt64(parts[0]);
  const hard = parts.length === 2 ? parseInt64(parts[1]) : soft;
  if (soft > hard) throw new Error(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  return { Name: name, Hard: hard, Soft: soft };
}

function parseMemSwap(s: string): number {
  return s === '-1' ? -1 : ramInBytes(s);
}

function parseAttach(s: string): string {
  const v = s.toLowerCase();
  if (v !== 'stdin' && v !== 'stdout' && v !== 'stderr') throw new Error(`valid streams are STDIN, STDOUT and STDERR`);
  return v;
}

/** Flags shared by run and create, in docker's wording (help is sorted by name when printed). */
export function containerFlags(): FlagDef[] {
  return [
    listFlag('add-host', 'Add a custom host-to-IP mapping (host:ip)'),
    { name: 'annotation', type: 'map', desc: 'Add an annotation to the container (passed through to the OCI runtime)', repeat: true, defText: 'map[]' },
    listFlag('attach', 'Attach to STDIN, STDOUT or STDERR', { short: 'a', parse: parseAttach }),
    { name: 'blkio-weight', type: 'uint16', desc: 'Block IO (relative weight), between 10 and 1000, or 0 to disable', parse: (s) => parseUint(s, 16), def: 0, defText: '0' },
    listFlag('blkio-weight-device', 'Block IO weight (relative device weight)', { defText: '[]' }),
    listFlag('cap-add', 'Add Linux capabilities'),
    listFlag('cap-drop', 'Drop Linux capabilities'),
    strFlag('cgroup-parent', 'Optional parent cgroup for the container'),
    strFlag('cgroupns', "Cgroup namespace to use (host|private)\n'host':    Run the container in the Docker host's cgroup namespace\n'private': Run the container in its own private cgroup namespace\n'':        Use the cgroup namespace as configured by the\n           default-cgroupns-mode option on the daemon (default)"),
    strFlag('cidfile', 'Write the container ID to the file'),
    intFlag('cpu-count', 'CPU count (Windows only)', { hidden: true }),
    intFlag('cpu-percent', 'CPU percent (Windows only)', { hidden: true }),
    intFlag('cpu-period', 'Limit CPU CFS (Completely Fair Scheduler) period'),
    intFlag('cpu-quota', 'Limit CPU CFS (Completely Fair Scheduler) quota'),
    intFlag('cpu-rt-period', 'Limit CPU real-time period in microseconds'),
    intFlag('cpu-rt-runtime', 'Limit CPU real-time runtime in microseconds'),
    intFlag('cpu-shares', 'CPU shares (relative weight)', { short: 'c' }),
    { name: 'cpus', type: 'decimal', desc: 'Number of CPUs', parse: parseNanoCpus, def: 0 },
    strFlag('cpuset-cpus', 'CPUs in which to allow execution (0-3, 0,1)'),
    strFlag('cpuset-mems', 'MEMs in which to allow execution (0-3, 0,1)'),
    listFlag('device', 'Add a host device to the container'),
    listFlag('device-cgroup-rule', 'Add a rule to the cgroup allowed devices list'),
    listFlag('device-read-bps', 'Limit read rate (bytes per second) from a device', { defText: '[]' }),
    listFlag('device-read-iops', 'Limit read rate (IO per second) from a device', { defText: '[]' }),
    listFlag('device-write-bps', 'Limit write rate (bytes per second) to a device', { defText: '[]' }),
    listFlag('device-write-iops', 'Limit write rate (IO per second) to a device', { defText: '[]' }),
    boolFlag('disable-content-trust', 'Skip image verification', { def: true, defText: 'true' }),
    listFlag('dns', 'Set custom DNS servers'),
    listFlag('dns-opt', 'Set DNS options', { hidden: true }),
    listFlag('dns-option', 'Set DNS options'),
    listFlag('dns-search', 'Set custom DNS search domains'),
    strFlag('domainname', 'Container NIS domain name'),
    strFlag('entrypoint', 'Overwrite the default ENTRYPOINT of the image'),
    listFlag('env', 'Set environment variables', { short: 'e', parse: validateEnv }),
    listFlag('env-file', 'Read in a file of environment variables'),
    listFlag('expose', 'Expose a port or a range of ports'),
    { name: 'gpus', type: 'gpu-request', desc: "GPU devices to add to the container ('all' to pass all GPUs)", repeat: true },
    listFlag('group-add', 'Add additional groups to join'),
    strFlag('health-cmd', 'Command to run to check health'),
    durationFlag('health-interval', 'Time between running the check (ms|s|m|h)'),
    intFlag('health-retries', 'Consecutive failures needed to report unhealthy'),
    durationFlag('health-start-interval', 'Time between running the check during the start period (ms|s|m|h)'),
    durationFlag('health-start-period', 'Start period for the container to initialize before starting health-retries countdown (ms|s|m|h)'),
    durationFlag('health-timeout', 'Maximum time to allow one check to run (ms|s|m|h)'),
    boolFlag('help', 'Print usage'),
    strFlag('hostname', 'Container host name', { short: 'h' }),
    boolFlag('init', 'Run an init inside the container that forwards signals and reaps processes'),
    boolFlag('interactive', 'Keep STDIN open even if not attached', { short: 'i' }),
    { name: 'io-maxbandwidth', type: 'bytes', desc: 'Maximum IO bandwidth limit for the system drive (Windows only)', parse: ramInBytes, def: 0, hidden: true },
    { name: 'io-maxiops', type: 'uint', desc: 'Maximum IOps limit for the system drive (Windows only)', parse: (s) => parseUint(s), def: 0, hidden: true },
    strFlag('ip', 'IPv4 address (e.g., 172.30.100.104)'),
    strFlag('ip6', 'IPv6 address (e.g., 2001:db8::33)'),
    strFlag('ipc', 'IPC mode to use'),
    strFlag('isolation', 'Container isolation technology'),
    bytesFlag('kernel-memory', 'Kernel memory limit'),
    listFlag('label', 'Set meta data on a container', { short: 'l', parse: validateKV }),
    listFlag('label-file', 'Read in a line delimited file of labels'),
    listFlag('link', 'Add link to another container'),
    listFlag('link-local-ip', 'Container IPv4/IPv6 link-local addresses'),
    strFlag('log-driver', 'Logging driver for the container'),
    listFlag('log-opt', 'Log driver options'),
    strFlag('mac-address', 'Container MAC address (e.g., 92:d0:c6:0a:29:33)'),
    bytesFlag('memory', 'Memory limit', { short: 'm' }),
    bytesFlag('memory-reservation', 'Memory soft limit'),
    { name: 'memory-swap', type: 'bytes', desc: "Swap limit equal to memory plus swap: '-1' to enable unlimited swap", parse: parseMemSwap, def: 0 },
    intFlag('memory-swappiness', 'Tune container memory swappiness (0 to 100)', { def: -1, defText: '-1' }),
    { name: 'mount', type: 'mount', desc: 'Attach a filesystem mount to the container', repeat: true },
    strFlag('name', 'Assign a name to the container'),
    { name: 'net', type: 'network', desc: 'Connect a container to a network', repeat: true, hidden: true },
    listFlag('net-alias', 'Add network-scoped alias for the container', { hidden: true }),
    { name: 'network', type: 'network', desc: 'Connect a container to a network', repeat: true },
    listFlag('network-alias', 'Add network-scoped alias for the container'),
    boolFlag('no-healthcheck', 'Disable any container-specified HEALTHCHECK'),
    boolFlag('oom-kill-disable', 'Disable OOM Killer'),
    intFlag('oom-score-adj', "Tune host's OOM preferences (-1000 to 1000)"),
    strFlag('pid', 'PID namespace to use'),
    intFlag('pids-limit', 'Tune container pids limit (set -1 for unlimited)'),
    strFlag('platform', 'Set platform if server is multi-platform capable', { def: process.env.DOCKER_DEFAULT_PLATFORM ?? '' }),
    boolFlag('privileged', 'Give extended privileges to this container'),
    listFlag('publish', "Publish a container's port(s) to the host", { short: 'p' }),
    boolFlag('publish-all', 'Publish all exposed ports to random ports', { short: 'P' }),
    boolFlag('quiet', 'Suppress the pull output', { short: 'q' }),
    boolFlag('read-only', "Mount the container's root filesystem as read only"),
    strFlag('restart', 'Restart policy to apply when a container exits', { def: 'no', defText: '"no"' }),
    boolFlag('rm', 'Automatically remove the container and its associated anonymous volumes when it exits'),
    strFlag('runtime', 'Runtime to use for this container'),
    listFlag('security-opt', 'Security Options'),
    bytesFlag('shm-size', 'Size of /dev/shm'),
    strFlag('stop-signal', 'Signal to stop the container'),
    intFlag('stop-timeout', 'Timeout (in seconds) to stop a container'),
    listFlag('storage-opt', 'Storage driver options for the container'),
    { name: 'sysctl', type: 'map', desc: 'Sysctl options', repeat: true, defText: 'map[]' },
    listFlag('tmpfs', 'Mount a tmpfs directory'),
    boolFlag('tty', 'Allocate a pseudo-TTY', { short: 't' }),
    { name: 'ulimit', type: 'ulimit', desc: 'Ulimit options', repeat: true, parse: parseUlimit, defText: '[]' },
    boolFlag('use-api-socket', 'Bind mount Docker API socket and required auth'),
    strFlag('user', 'Username or UID (format: <name|uid>[:<group|gid>])', { short: 'u' }),
    strFlag('userns', 'User namespace to use'),
    strFlag('uts', 'UTS namespace to use'),
    listFlag('volume', 'Bind mount a volume', { short: 'v' }),
    strFlag('volume-driver', 'Optional volume driver for the container'),
    listFlag('volumes-from', 'Mount volumes from the specified container(s)'),
    strFlag('workdir', 'Working directory inside the container', { short: 'w' }),
  ];
}

export function pullFlag(verb: 'running' | 'creating'): FlagDef {
  // docker's create help really says "|missing".
  const choices = verb === 'running' ? '("always", "missing", "never")' : '("always", "|missing", "never")';
  return { name: 'pull', type: 'string', desc: `Pull image before ${verb} ${choices}`, def: 'missing', defText: '"missing"' };
}

export interface CreateRequest {
  name: string;
  platform: string;
  /** Body of POST /containers/create. */
  body: Record<string, unknown> & { Image: string; HostConfig: Record<string, unknown> };
}

/** Reads an env or label file like opts.ParseEnvFile: comments and blank lines skipped, "VAR" alone looked up. */
export function readKVFile(file: string, lookup: boolean, kind: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new OptionsError(`open ${file}: ${errnoText(err)}`);
  }
  const out: string[] = [];
  let lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines = lines.slice(0, -1);
  lines.forEach((raw, idx) => {
    let line = idx === 0 ? raw.replace(/^\uFEFF/, '') : raw;
    line = line.replace(/\r$/, '').replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    const variable = (eq >= 0 ? line.slice(0, eq) : line).replace(/^[ \t\n\v\f\r]+/, '');
    if (/[ \t\n\v\f\r]/.test(variable)) throw new OptionsError(`invalid ${kind} file (${file}): variable '${variable}' contains whitespaces`);
    if (variable === '') throw new OptionsError(`invalid ${kind} file (${file}): no variable name on line '${line}'`);
    if (eq >= 0) out.push(`${variable}=${line.slice(eq + 1)}`);
    else if (lookup && process.env[variable] !== undefined) out.push(`${variable.trim()}=${process.env[variable]}`);
  });
  return out;
}

function errnoText(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return (err as Error).message;
}

function kvMap(list: string[]): Record<string, string> {
  const m: Record<string, string> = {};
  for (const kv of list) {
    const eq = kv.indexOf('=');
    m[eq >= 0 ? kv.slice(0, eq) : kv] = eq >= 0 ? kv.slice(eq + 1) : '';
  }
  return sortKeys(m);
}

function sortKeys<T>(m: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

interface PortBinding { HostIp: string; HostPort: string }

function parsePortRange(s: string, what: string): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (!m) throw new OptionsError(`invalid ${what}: ${s}`);
  const start = Number(m[1]);
  const end = m[2] !== undefined ? Number(m[2]) : start;
  if (start > 65535 || end > 65535 || end < start) throw new OptionsError(`invalid ${what}: ${s}`);
  return [start, end];
}

/** nat.ParsePortSpecs for -p: "[ip:][hostPort:]containerPort[/proto]" with ranges. */
export function parsePortSpecs(specs: string[]): { exposed: Record<string, object>; bindings: Record<string, PortBinding[]> } {
  const exposed: Record<string, object> = {};
  const bindings: Record<string, PortBinding[]> = {};
  for (const raw of specs) {
    let spec = raw;
    let proto = 'tcp';
    const slash = spec.lastIndexOf('/');
    if (slash >= 0) {
      proto = spec.slice(slash + 1).toLowerCase();
      spec = spec.slice(0, slash);
      if (!['tcp', 'udp', 'sctp'].includes(proto)) throw new OptionsError(`invalid proto: ${proto}`);
    }
    let ip = '';
    let hostPart = '';
    let containerPart: string;
    // An IPv6 host address comes bracketed: [::1]:8080:80
    const v6 = /^\[([0-9a-fA-F:.]+)\]:(.*)$/.exec(spec);
    if (v6) {
      ip = v6[1];
      const rest = v6[2].split(':');
      if (rest.length !== 2) throw new OptionsError(`invalid port format: ${raw}`);
      [hostPart, containerPart] = rest;
    } else {
      const parts = spec.split(':');
      if (parts.length === 1) containerPart = parts[0];
      else if (parts.length === 2) [hostPart, containerPart] = parts;
      else if (parts.length === 3) [ip, hostPart, containerPart] = parts;
      else {
        // Unbracketed IPv6: everything before the last two fields is the address.
        containerPart = parts.pop()!;
        hostPart = parts.pop()!;
        ip = parts.join(':');
      }
    }
    if (containerPart === '') throw new OptionsError(`no port specified: ${raw}<empty>`);
    const [cStart, cEnd] = parsePortRange(containerPart, 'containerPort');
    let hStart = 0;
    let hEnd = 0;
    if (hostPart !== '') [hStart, hEnd] = parsePortRange(hostPart, 'hostPort');
    // A host range with a single container port is the range to pick a host port from.
    if (hostPart !== '' && hEnd - hStart !== cEnd - cStart && cEnd !== cStart) {
      throw new OptionsError(`invalid ranges specified for container and host Ports: ${containerPart} and ${hostPart}`);
    }
    for (let i = 0; i <= cEnd - cStart; i++) {
      const key = `${cStart + i}/${proto}`;
      exposed[key] = {};
      let hostPort = '';
      if (hostPart !== '') hostPort = hStart === hEnd && cEnd !== cStart ? `${hStart}` : `${hStart + i}`;
      if (hostPart !== '' && hStart !== hEnd && cStart === cEnd) hostPort = `${hStart}-${hEnd}`;
      (bindings[key] ??= []).push({ HostIp: ip, HostPort: hostPort });
    }
  }
  return { exposed, bindings };
}

/** The long --publish syntax (target=80,published=8080,protocol=udp) converted to the short one. */
function convertPublish(spec: string): string {
  if (!spec.includes('=')) return spec;
  const f: Record<string, string> = {};
  for (const part of spec.split(',')) {
    const eq = part.indexOf('=');
    f[part.slice(0, eq).toLowerCase()] = part.slice(eq + 1);
  }
  if (!f.target) throw new OptionsError(`missing mandatory field "target"`);
  return `${f.published ? `${f.published}:` : ''}${f.target}/${f.protocol ?? 'tcp'}`;
}

/** cap names are normalised like docker 28 does: upper case with a CAP_ prefix, "ALL" kept as is. */
function normalizeCaps(caps: string[]): string[] | null {
  if (caps.length === 0) return null;
  const out = new Set<string>();
  for (const c of caps) {
    const u = c.trim().toUpperCase();
    if (u === '') continue;
    out.add(u === 'ALL' ? 'ALL' : u.startsWith('CAP_') ? u : `CAP_${u}`);
  }
  return [...out].sort();
}

function parseMount(spec: string): Record<string, unknown> {
  const m: Record<string, unknown> = { Type: 'volume' };
  const bindOpts: Record<string, unknown> = {};
  const volOpts: Record<string, unknown> = {};
  const tmpfsOpts: Record<string, unknown> = {};
  for (const field of spec.split(',')) {
    const eq = field.indexOf('=');
    const key = (eq >= 0 ? field.slice(0, eq) : field).toLowerCase();
    const val = eq >= 0 ? field.slice(eq + 1) : '';
    switch (key) {
      case 'type': m.Type = val; break;
      case 'source': case 'src': m.Source = val; break;
      case 'target': case 'dst': case 'destination': m.Target = val; break;
      case 'readonly': case 'ro': m.ReadOnly = eq < 0 || val === 'true' || val === '1'; break;
      case 'consistency': m.Consistency = val; break;
      case 'bind-propagation': bindOpts.Propagation = val; break;
      case 'bind-recursive': bindOpts.ReadOnlyNonRecursive = val === 'readonly'; break;
      case 'volume-nocopy': volOpts.NoCopy = eq < 0 || val === 'true' || val === '1'; break;
      case 'volume-subpath': volOpts.Subpath = val; break;
      case 'volume-driver': volOpts.DriverConfig = { Name: val }; break;
      case 'tmpfs-size': tmpfsOpts.SizeBytes = ramInBytes(val); break;
      case 'tmpfs-mode': tmpfsOpts.Mode = parseInt(val, 8); break;
      default: throw new OptionsError(`invalid argument "${spec}" for "--mount" flag: unexpected key '${key}' in '${field}'`);
    }
  }
  if (!m.Target) throw new OptionsError(`invalid argument "${spec}" for "--mount" flag: target is required`);
  if (Object.keys(bindOpts).length) m.BindOptions = bindOpts;
  if (Object.keys(volOpts).length) m.VolumeOptions = volOpts;
  if (Object.keys(tmpfsOpts).length) m.TmpfsOptions = tmpfsOpts;
  return m;
}

function parseSecurityOpts(opts: string[]): { security: string[] | null; masked: string[] | null; readonly: string[] | null } {
  const out: string[] = [];
  let masked: string[] | null = null;
  let readonly: string[] | null = null;
  for (const opt of opts) {
    if (opt === 'systempaths=unconfined') {
      masked = [];
      readonly = [];
      continue;
    }
    if (opt === 'no-new-privileges') {
      out.push(opt);
      continue;
    }
    let sep = opt.indexOf('=');
    if (sep < 0) sep = opt.indexOf(':');
    if (sep < 0) throw new OptionsError(`Invalid --security-opt: ${goQuote(opt)}`);
    const key = opt.slice(0, sep);
    const val = opt.slice(sep + 1);
    if (key === 'seccomp' && val !== 'unconfined' && val !== 'builtin') {
      let profile: string;
      try {
        profile = readFileSync(val, 'utf8');
      } catch (err) {
        throw new OptionsError(`opening seccomp profile (${val}) failed: open ${val}: ${errnoText(err)}`);
      }
      let compact: string;
      try {
        compact = JSON.stringify(JSON.parse(profile));
      } catch (err) {
        throw new OptionsError(`compacting json for seccomp profile (${val}) failed: ${(err as Error).message}`);
      }
      out.push(`seccomp=${compact}`);
      continue;
    }
    out.push(`${key}=${val}`);
  }
  return { security: out.length ? out : null, masked, readonly };
}

const nonUserNetworks = new Set(['default', 'bridge', 'host', 'none']);

/**
 * Builds the create request from the parsed flags; args are IMAGE [COMMAND] [ARG...].
 * Throws OptionsError with docker's messages for invalid combinations.
 */
export function buildCreateRequest(flags: FlagValues, args: string[], opts: { consoleSize?: [number, number] } = {}): CreateRequest {
  const [image, ...cmd] = args;
  const attach = flags.list('attach');
  let attachStdin = attach.includes('stdin');
  let attachStdout = attach.includes('stdout');
  let attachStderr = attach.includes('stderr');
  if (flags.bool('interactive')) attachStdin = true;
  if (attach.length === 0) {
    attachStdout = true;
    attachStderr = true;
  }

  const swappiness = flags.num('memory-swappiness');
  if (swappiness !== -1 && (swappiness < 0 || swappiness > 100)) {
    throw new OptionsError(`invalid value: ${swappiness}. Valid memory swappiness range is 0-100`);
  }

  const binds: string[] = [];
  const volumes: Record<string, object> = {};
  for (const v of flags.list('volume')) {
    const parts = v.split(':');
    if (parts.length === 1 || (parts.length === 2 && parts[0] === '')) {
      volumes[parts[parts.length - 1] || v] = {};
      continue;
    }
    let [host, ...restParts] = parts;
    if (!path.isAbsolute(host) && host.startsWith('.')) host = path.resolve(host);
    binds.push([host, ...restParts].join(':'));
  }

  const tmpfs: Record<string, string> = {};
  for (const t of flags.list('tmpfs')) {
    const c = t.indexOf(':');
    tmpfs[c >= 0 ? t.slice(0, c) : t] = c >= 0 ? t.slice(c + 1) : '';
  }

  let entrypoint: string[] | null = null;
  if (flags.str('entrypoint') !== '') entrypoint = [flags.str('entrypoint')];
  else if (flags.changed('entrypoint')) entrypoint = [''];

  const { exposed, bindings } = parsePortSpecs(flags.list('publish').map(convertPublish));
  for (const e of flags.list('expose')) {
    if (e.includes(':')) throw new OptionsError(`invalid port format for --expose: ${e}`);
    const slash = e.indexOf('/');
    const proto = slash >= 0 ? e.slice(slash + 1) : 'tcp';
    let start: number;
    let end: number;
    try {
      [start, end] = parsePortRange(slash >= 0 ? e.slice(0, slash) : e, 'range');
    } catch (err) {
      throw new OptionsError(`invalid range format for --expose: ${e}, error: ${(err as Error).message}`);
    }
    for (let p = start; p <= end; p++) exposed[`${p}/${proto}`] ??= {};
  }

  const env = [...flags.list('env-file').flatMap((f) => readKVFile(f, true, 'env')), ...flags.list('env')];
  const labels = [...flags.list('label-file').flatMap((f) => readKVFile(f, false, 'label')), ...flags.list('label')];

  const restart = parseRestartPolicy(flags.str('restart'));
  const logDriver = flags.str('log-driver');
  const logOpts = flags.list('log-opt');
  if (logDriver === 'none' && logOpts.length > 0) throw new OptionsError(`invalid logging opts for driver ${logDriver}`);
  const { security, masked, readonly } = parseSecurityOpts(flags.list('security-opt'));

  const storage: Record<string, string> = {};
  for (const s of flags.list('storage-opt')) {
    const eq = s.indexOf('=');
    if (eq < 0) throw new OptionsError(`invalid storage option`);
    storage[s.slice(0, eq)] = s.slice(eq + 1);
  }

  let healthcheck: Record<string, unknown> | undefined;
  const haveHealth = flags.str('health-cmd') !== '' || ['health-interval', 'health-timeout', 'health-start-period', 'health-retries', 'health-start-interval'].some((n) => flags.num(n) !== 0);
  if (flags.bool('no-healthcheck')) {
    if (haveHealth) throw new OptionsError('--no-healthcheck conflicts with --health-* options');
    healthcheck = { Test: ['NONE'] };
  } else if (haveHealth) {
    for (const n of ['interval', 'timeout', 'start-period', 'start-interval']) {
      if (flags.num(`health-${n}`) < 0) throw new OptionsError(`--health-${n} cannot be negative`);
    }
    if (flags.num('health-retries') < 0) throw new OptionsError('--health-retries cannot be negative');
    // Zero durations and retries are left out (omitempty in docker's HealthConfig).
    healthcheck = { Test: flags.str('health-cmd') !== '' ? ['CMD-SHELL', flags.str('health-cmd')] : null };
    const fields: [string, string][] = [['Interval', 'health-interval'], ['Timeout', 'health-timeout'], ['StartPeriod', 'health-start-period'], ['StartInterval', 'health-start-interval'], ['Retries', 'health-retries']];
    for (const [field, flag] of fields) if (flags.num(flag) !== 0) healthcheck[field] = flags.num(flag);
  }

  const ulimits = new Map<string, Ulimit>();
  for (const u of flags.get('ulimit') as Ulimit[]) ulimits.set(u.Name, u);

  const networks = [...(flags.get('network') as string[]), ...(flags.get('net') as string[])];
  const aliases = [...flags.list('network-alias'), ...flags.list('net-alias')];
  const { mode: networkMode, endpoints } = networkConfig(networks, aliases, flags);

  const config: Record<string, unknown> = {
    Hostname: flags.str('hostname'),
    Domainname: flags.str('domainname'),
    User: flags.str('user'),
    AttachStdin: attachStdin,
    AttachStdout: attachStdout,
    AttachStderr: attachStderr,
  };
  if (Object.keys(exposed).length > 0) config.ExposedPorts = sortKeys(exposed);
  Object.assign(config, {
    Tty: flags.bool('tty'),
    OpenStdin: flags.bool('interactive'),
    StdinOnce: flags.bool('interactive') && attachStdin,
    Env: env.length ? env : null,
    Cmd: cmd.length ? cmd : null,
    Image: image,
    Volumes: volumes,
    WorkingDir: flags.str('workdir'),
    Entrypoint: entrypoint,
    OnBuild: null,
    Labels: kvMap(labels),
  });
  if (flags.str('stop-signal')) config.StopSignal = flags.str('stop-signal');
  if (flags.changed('stop-timeout')) config.StopTimeout = flags.num('stop-timeout');
  if (healthcheck) config.Healthcheck = healthcheck;

  const dnsOptions = [...flags.list('dns-option'), ...flags.list('dns-opt')];
  const hostConfig: Record<string, unknown> = {
    Binds: binds.length ? binds : null,
    ContainerIDFile: flags.str('cidfile'),
    LogConfig: { Type: logDriver, Config: kvMap(logOpts) },
    NetworkMode: networkMode,
    PortBindings: sortKeys(bindings),
    RestartPolicy: restart,
    AutoRemove: flags.bool('rm'),
    VolumeDriver: flags.str('volume-driver'),
    VolumesFrom: nullIfEmpty(flags.list('volumes-from')),
    ConsoleSize: opts.consoleSize ?? [0, 0],
    Annotations: flags.list('annotation').length ? kvMap(flags.list('annotation')) : undefined,
    CapAdd: normalizeCaps(flags.list('cap-add')),
    CapDrop: normalizeCaps(flags.list('cap-drop')),
    CgroupnsMode: flags.str('cgroupns'),
    Dns: flags.list('dns'),
    DnsOptions: dnsOptions,
    DnsSearch: flags.list('dns-search'),
    ExtraHosts: nullIfEmpty(flags.list('add-host')),
    GroupAdd: nullIfEmpty(flags.list('group-add')),
    IpcMode: flags.str('ipc'),
    Cgroup: '',
    Links: nullIfEmpty(flags.list('link')),
    OomScoreAdj: flags.num('oom-score-adj'),
    PidMode: flags.str('pid'),
    Privileged: flags.bool('privileged'),
    PublishAllPorts: flags.bool('publish-all'),
    ReadonlyRootfs: flags.bool('read-only'),
    SecurityOpt: security,
    StorageOpt: Object.keys(storage).length ? storage : undefined,
    Tmpfs: Object.keys(tmpfs).length ? tmpfs : undefined,
    UTSMode: flags.str('uts'),
    UsernsMode: flags.str('userns'),
    ShmSize: flags.num('shm-size'),
    Sysctls: flags.list('sysctl').length ? kvMap(flags.list('sysctl')) : undefined,
    Runtime: flags.str('runtime') || undefined,
    Isolation: flags.str('isolation'),
    CpuShares: flags.num('cpu-shares'),
    Memory: flags.num('memory'),
    NanoCpus: flags.num('cpus'),
    CgroupParent: flags.str('cgroup-parent'),
    BlkioWeight: flags.num('blkio-weight'),
    BlkioWeightDevice: [],
    BlkioDeviceReadBps: [],
    BlkioDeviceWriteBps: [],
    BlkioDeviceReadIOps: [],
    BlkioDeviceWriteIOps: [],
    CpuPeriod: flags.num('cpu-period'),
    CpuQuota: flags.num('cpu-quota'),
    CpuRealtimePeriod: flags.num('cpu-rt-period'),
    CpuRealtimeRuntime: flags.num('cpu-rt-runtime'),
    CpusetCpus: flags.str('cpuset-cpus'),
    CpusetMems: flags.str('cpuset-mems'),
    Devices: flags.list('device').map(parseDevice),
    DeviceCgroupRules: nullIfEmpty(flags.list('device-cgroup-rule')),
    DeviceRequests: null,
    MemoryReservation: flags.num('memory-reservation'),
    MemorySwap: flags.num('memory-swap'),
    MemorySwappiness: swappiness,
    OomKillDisable: flags.bool('oom-kill-disable'),
    PidsLimit: flags.num('pids-limit'),
    Ulimits: [...ulimits.values()],
    CpuCount: flags.num('cpu-count'),
    CpuPercent: flags.num('cpu-percent'),
    IOMaximumIOps: flags.num('io-maxiops'),
    IOMaximumBandwidth: flags.num('io-maxbandwidth'),
    Mounts: (flags.get('mount') as string[]).length ? (flags.get('mount') as string[]).map(parseMount) : undefined,
    MaskedPaths: masked,
    ReadonlyPaths: readonly,
  };
  if (flags.bool('rm') && restart.Name !== '' && restart.Name !== 'no') {
    throw new OptionsError('conflicting options: cannot specify both --restart and --rm');
  }
  if (flags.changed('init')) hostConfig.Init = flags.bool('init');

  return {
    name: flags.str('name'),
    platform: flags.str('platform'),
    body: { ...config, Image: image, HostConfig: hostConfig, NetworkingConfig: { EndpointsConfig: endpoints } },
  };
}

function nullIfEmpty<T>(a: T[]): T[] | null {
  return a.length ? a : null;
}

function parseDevice(spec: string): Record<string, string> {
  const parts = spec.split(':');
  let perms = 'rwm';
  let dst = '';
  if (parts.length === 3) {
    dst = parts[1];
    perms = parts[2];
  } else if (parts.length === 2) {
    if (/^[rwm]+$/.test(parts[1])) perms = parts[1];
    else dst = parts[1];
  } else if (parts.length !== 1) {
    throw new OptionsError(`invalid device specification: ${spec}`);
  }
  return { PathOnHost: parts[0], PathInContainer: dst || parts[0], CgroupPermissions: perms };
}

export function parseRestartPolicy(policy: string): { Name: string; MaximumRetryCount: number } {
  if (policy === '') return { Name: '', MaximumRetryCount: 0 };
  const c = policy.indexOf(':');
  const name = c >= 0 ? policy.slice(0, c) : policy;
  const count = c >= 0 ? policy.slice(c + 1) : '';
  if (c >= 0 && name === '') throw new OptionsError('invalid restart policy format: no policy provided before colon');
  let max = 0;
  if (count !== '') {
    if (!/^[+-]?\d+$/.test(count)) throw new OptionsError('invalid restart policy format: maximum retry count must be an integer');
    max = Number(count);
  }
  return { Name: name, MaximumRetryCount: max };
}

function emptyEndpoint(): Record<string, unknown> {
  return {
    IPAMConfig: null, Links: null, Aliases: null, MacAddress: '', DriverOpts: null, GwPriority: 0, NetworkID: '', EndpointID: '',
    Gateway: '', IPAddress: '', IPPrefixLen: 0, IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, DNSNames: null,
  };
}

/** --network (simple or "name=...,alias=..." form) plus --network-alias/--ip/--ip6/--link into EndpointsConfig. */
function networkConfig(networks: string[], aliases: string[], flags: FlagValues): { mode: string; endpoints: Record<string, unknown> } {
  // Since API 1.44 the MAC address belongs to the endpoint of the container's first network.
  const mac = flags.str('mac-address');
  if (networks.length === 0) return { mode: 'default', endpoints: { default: { ...emptyEndpoint(), MacAddress: mac } } };
  const endpoints: Record<string, unknown> = {};
  let mode = '';
  networks.forEach((spec, i) => {
    let target = spec;
    const netAliases: string[] = [];
    const driverOpts: Record<string, string> = {};
    let ip = '';
    let ip6 = '';
    if (spec.includes('=')) {
      target = '';
      for (const field of spec.split(',')) {
        const eq = field.indexOf('=');
        const k = field.slice(0, eq);
        const v = field.slice(eq + 1);
        if (k === 'name') target = v;
        else if (k === 'alias') netAliases.push(v);
        else if (k === 'ip') ip = v;
        else if (k === 'ip6') ip6 = v;
        else if (k === 'driver-opt') {
          const e = v.indexOf('=');
          driverOpts[v.slice(0, e)] = v.slice(e + 1);
        } else throw new OptionsError(`invalid field key ${k}`);
      }
    }
    if (i === 0) {
      mode = target;
      if (aliases.length > 0) {
        if (netAliases.length > 0) throw new OptionsError('conflicting options: cannot specify both --network-alias and per-network alias');
        if (nonUserNetworks.has(target) || target.startsWith('container:')) throw new OptionsError('network-scoped aliases are only supported for user-defined networks');
        netAliases.push(...aliases);
      }
      ip ||= flags.str('ip');
      ip6 ||= flags.str('ip6');
    }
    const links = i === 0 ? flags.list('link') : [];
    const epMac = i === 0 ? mac : '';
    if (netAliases.length === 0 && !ip && !ip6 && !epMac && Object.keys(driverOpts).length === 0 && (links.length === 0 || nonUserNetworks.has(target)) && networks.length === 1) return;
    const ep = emptyEndpoint();
    ep.MacAddress = epMac;
    if (netAliases.length) ep.Aliases = netAliases;
    if (ip || ip6) ep.IPAMConfig = { ...(ip ? { IPv4Address: ip } : {}), ...(ip6 ? { IPv6Address: ip6 } : {}) };
    if (Object.keys(driverOpts).length) ep.DriverOpts = driverOpts;
    if (links.length && !nonUserNetworks.has(target)) ep.Links = links;
    if (target in endpoints) throw new OptionsError(`network "${target}" is specified multiple times`);
    endpoints[target] = ep;
  });
  return { mode, endpoints };
}
