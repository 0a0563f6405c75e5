// berthd's flags (dockerd's spelling) and daemon.json (Docker's keys where they exist).
import { readFileSync, existsSync } from 'node:fs';
import { randomUUID } from 'node:crypto';

export interface DaemonConfig {
  hosts: string[];
  dataRoot: string;
  execRoot: string;
  pidfile: string;
  configFile: string;
  defaultRuntime?: string;
  runtimes: Record<string, { path: string }>;
  logLevel: string;
  network: {
    bridge: string; // the default bridge's device (dockerd's --bridge)
    bip?: string;
    pools?: { base: string; size: number }[];
    mtu?: number;
    dns: string[];
    dnsSearch: string[];
    dnsOptions: string[];
    hostGatewayIp?: string;
  };
  registry: {
    mirrors: string[]; // registry-mirrors
    insecure: string[]; // insecure-registries
    maxConcurrentDownloads?: number;
    maxConcurrentUploads?: number;
    offline: boolean; // registries and ADD URLs on loopback only
  };
  id: string;
  raw: Record<string, unknown>;
}

const USAGE = `Usage:	berthd [OPTIONS]

A container engine that speaks the Docker Engine API

Options:
      --config-file string      Daemon configuration file (default "/etc/berth/daemon.json")
      --data-root string        Root directory of persistent Berth state (default "/var/lib/berth")
      --default-runtime string  Default OCI runtime for containers (default "crun")
      --exec-root string        Root directory for execution state files (default "/run/berth")
  -b, --bridge string           Attach containers to a network bridge (default "berth0")
      --bip string              Specify default-bridge IPv4 network
      --dns list                DNS server to use
      --dns-opt list            DNS options to use
      --dns-search list         DNS search domains to use
      --host-gateway-ip ip      IP address that the special 'host-gateway' string in --add-host resolves to
      --insecure-registry list  Enable insecure registry communication
      --max-concurrent-downloads int  Set the max concurrent downloads (default 3)
      --max-concurrent-uploads int    Set the max concurrent uploads (default 5)
      --registry-mirror list    Preferred Docker registry mirror
  -H, --host list               Daemon socket(s) to connect to
  -l, --log-level string        Set the logging level ("debug"|"info"|"warn"|"error"|"fatal") (default "info")
      --mtu int                 Set the containers network MTU (default 1500)
      --offline                 Contact registries (and ADD URLs) on loopback addresses only
  -p, --pidfile string          Path to use for daemon PID file (default "/run/berth.pid")
  -v, --version                 Print version information and quit
`;

export class UsageError extends Error {}

export function parseFlags(argv: string[]): DaemonConfig | 'help' | 'version' {
  const flags: Record<string, string[]> = {};
  const takes = new Map([['-H', 'host'], ['--host', 'host'], ['--data-root', 'data-root'], ['--exec-root', 'exec-root'],
    ['--pidfile', 'pidfile'], ['-p', 'pidfile'], ['--config-file', 'config-file'], ['--default-runtime', 'default-runtime'],
    ['--log-level', 'log-level'], ['-l', 'log-level'], ['--add-runtime', 'add-runtime'], ['-b', 'bridge'], ['--bridge', 'bridge'],
    ['--bip', 'bip'], ['--dns', 'dns'], ['--dns-opt', 'dns-opts'], ['--dns-search', 'dns-search'], ['--mtu', 'mtu'],
    ['--host-gateway-ip', 'host-gateway-ip'], ['--registry-mirror', 'registry-mirrors'], ['--insecure-registry', 'insecure-registries'],
    ['--max-concurrent-downloads', 'max-concurrent-downloads'], ['--max-concurrent-uploads', 'max-concurrent-uploads']]);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') return 'help';
    if (a === '-v' || a === '--version') return 'version';
    const eq = a.indexOf('=');
    const name = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    const key = takes.get(name);
    if (!key) {
      if (name === '--offline') {
        (flags.offline ??= []).push('true');
        continue;
      }
      if (['--live-restore', '--debug', '-D', '--experimental'].includes(name)) continue;
      throw new UsageError(`unknown flag: ${a}\nSee 'berthd --help'.`);
    }
    let v: string;
    if (a.startsWith('--') && eq > 0) v = a.slice(eq + 1);
    else {
      if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: ${a}\nSee 'berthd --help'.`);
      v = argv[++i];
    }
    (flags[key] ??= []).push(v);
  }
  const configFile = flags['config-file']?.[0] ?? '/etc/berth/daemon.json';
  let raw: Record<string, unknown> = {};
  if (existsSync(configFile)) {
    try {
      raw = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new UsageError(`unable to configure the daemon: ${configFile}: ${(err as Error).message}`);
    }
  }
  // Docker refuses a setting given both as a flag and in the file.
  for (const [flag, key] of [['host', 'hosts'], ['data-root', 'data-root'], ['exec-root', 'exec-root'], ['pidfile', 'pidfile'], ['default-runtime', 'default-runtime'],
    ['bridge', 'bridge'], ['bip', 'bip'], ['dns', 'dns'], ['dns-search', 'dns-search'], ['dns-opts', 'dns-opts'], ['mtu', 'mtu'], ['host-gateway-ip', 'host-gateway-ip'],
    ['registry-mirrors', 'registry-mirrors'], ['insecure-registries', 'insecure-registries'], ['max-concurrent-downloads', 'max-concurrent-downloads'],
    ['max-concurrent-uploads', 'max-concurrent-uploads']]) {
    if (flags[flag] && raw[key] !== undefined) {
      throw new UsageError(`unable to configure the daemon with file ${configFile}: the following directives are specified both as a flag and in the configuration file: ${key}: (from flag: ${flags[flag].join(', ')}, from file: ${JSON.stringify(raw[key])})`);
    }
  }
  const runtimes: Record<string, { path: string }> = {};
  for (const [k, v] of Object.entries((raw.runtimes as Record<string, { path: string }>) ?? {})) runtimes[k] = { path: v.path };
  for (const r of flags['add-runtime'] ?? []) {
    const [k, p] = r.split('=');
    runtimes[k] = { path: p };
  }
  const hosts = flags.host ?? (raw.hosts as string[] | undefined) ?? ['unix:///run/berth.sock'];
  for (const h of hosts) if (!h.startsWith('unix://')) throw new UsageError(`only unix:// hosts are supported for now: ${h}`);
  const strs = (flag: string): string[] => flags[flag] ?? ((raw[flag] as string[] | undefined) ?? []).map(String);
  const one = (flag: string): string | undefined => flags[flag]?.[0] ?? (raw[flag] === undefined ? undefined : String(raw[flag]));
  const bridge = one('bridge') ?? 'berth0';
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(bridge)) throw new UsageError(`invalid bridge name: ${bridge}`);
  const mtu = one('mtu');
  if (mtu !== undefined && !(Number(mtu) >= 68 && Number(mtu) <= 65535)) throw new UsageError(`invalid MTU: ${mtu}`);
  const pools = raw['default-address-pools'] as { base: string; size: number }[] | undefined;
  const mirrors = strs('registry-mirrors');
  for (const m of mirrors) {
    if (!/^https?:\/\/[^/]+\/?$/.test(m)) throw new UsageError(`invalid mirror: "${m}" is not a valid URI: mirrors are http(s)://host[:port]`);
  }
  const count = (k: string) => {
    const v = one(k);
    if (v === undefined) return undefined;
    if (!(Number.isInteger(Number(v)) && Number(v) > 0)) throw new UsageError(`invalid ${k}: ${v}`);
    return Number(v);
  };
  return {
    hosts,
    registry: {
      mirrors, insecure: strs('insecure-registries'),
      maxConcurrentDownloads: count('max-concurrent-downloads'), maxConcurrentUploads: count('max-concurrent-uploads'),
      offline: flags.offline !== undefined || raw.offline === true,
    },
    network: {
      bridge, bip: one('bip'), pools: pools?.length ? pools : undefined, mtu: mtu === undefined ? undefined : Number(mtu),
      dns: strs('dns'), dnsSearch: strs('dns-search'), dnsOptions: strs('dns-opts'), hostGatewayIp: one('host-gateway-ip'),
    },
    dataRoot: flags['data-root']?.[0] ?? (raw['data-root'] as string | undefined) ?? '/var/lib/berth',
    execRoot: flags['exec-root']?.[0] ?? (raw['exec-root'] as string | undefined) ?? '/run/berth',
    pidfile: flags.pidfile?.[0] ?? (raw.pidfile as string | undefined) ?? '/run/berth.pid',
    configFile,
    defaultRuntime: flags['default-runtime']?.[0] ?? (raw['default-runtime'] as string | undefined),
    runtimes,
    logLevel: flags['log-level']?.[0] ?? (raw['log-level'] as string | undefined) ?? 'info',
    id: randomUUID(),
    raw,
  };
}

export { USAGE };
