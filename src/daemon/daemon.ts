// Composes the domains and owns their lifetimes.
import { promises as fsp, readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ContentStore } from '../images/content.ts';
import { ImageStore } from '../images/store.ts';
import { LayerStore } from '../layers/snapshots.ts';
import { ContainerManager } from '../containers/manager.ts';
import { VolumeStore } from '../volumes/store.ts';
import { NetworkManager } from '../network/manager.ts';
import { DistributionService } from '../distribution/service.ts';
import { setOffline } from '../distribution/client.ts';
import { EventsService } from '../events/service.ts';
import { detectCgroups, type CgroupInfo } from '../runtime/cgroups.ts';
import type { ContainerRecord } from '../containers/types.ts';
import type { DaemonConfig } from './config.ts';
import { ENGINE_VERSION } from '../api/router.ts';
import { readOsRelease } from '../lib/system.ts';

export class Daemon {
  readonly config: DaemonConfig;
  readonly dataRoot: string;
  readonly execRoot: string;
  readonly tmpDir: string;
  readonly events = new EventsService();
  readonly images: ImageStore;
  readonly containers: ContainerManager;
  readonly volumes: VolumeStore;
  readonly networks: NetworkManager;
  readonly distribution: DistributionService;
  readonly cgroups: CgroupInfo;
  readonly runtimes: Record<string, { path: string }>;
  readonly defaultRuntime: string;
  readonly warnings: string[] = [];

  constructor(config: DaemonConfig) {
    this.config = config;
    this.dataRoot = config.dataRoot;
    this.execRoot = config.execRoot;
    this.tmpDir = path.join(this.dataRoot, 'tmp');
    this.cgroups = detectCgroups();
    this.warnings.push(...this.cgroups.warnings);
    this.runtimes = { crun: { path: '/usr/bin/crun' }, runc: { path: '/usr/sbin/runc' }, ...config.runtimes };
    let dflt = config.defaultRuntime ?? 'crun';
    if (dflt === 'crun' && !this.cgroups.crunUsable) dflt = 'runc';
    this.defaultRuntime = dflt;
    const content = new ContentStore(path.join(this.dataRoot, 'content'));
    const layers = new LayerStore(path.join(this.dataRoot, 'layers'));
    this.images = new ImageStore(path.join(this.dataRoot, 'images'), content, layers);
    const hardNofile = hardNofileLimit();
    this.volumes = new VolumeStore(path.join(this.dataRoot, 'volumes'));
    this.containers = new ContainerManager({ data: this.dataRoot, exec: this.execRoot }, this.images, {
      runtimes: this.runtimes, defaultRuntime: this.defaultRuntime, nofileLimit: hardNofile, cgroupVersion: this.cgroups.version,
    });
    setOffline(config.registry.offline);
    this.distribution = new DistributionService(this.images, this.dataRoot, path.join(this.tmpDir, 'pull'), {
      ...config.registry, userAgent: `berth/${ENGINE_VERSION} go/go1.22 git-commit/berth os/linux arch/${goArchName()}`,
    });
    this.networks = new NetworkManager({
      dataDir: path.join(this.dataRoot, 'network'), execDir: path.join(this.execRoot, 'netns'), bridgeName: config.network.bridge,
      bip: config.network.bip, pools: config.network.pools, mtu: config.network.mtu, dns: config.network.dns,
      dnsSearch: config.network.dnsSearch, dnsOptions: config.network.dnsOptions, hostGatewayIp: config.network.hostGatewayIp,
    });
    this.containers.network = this.networks;
    this.networks.containers = {
      all: () => this.containers.all(), tryGet: (r) => this.containers.tryGet(r), persist: (c) => this.containers.persist(c),
    };
    this.networks.onEvent = (action, n, extra) => this.emitEvent('network', action, n.Id, { ...extra, name: n.Name, type: extra?.type ?? n.Driver });
    // Docker's LogContainerEventWithAttributes: the action's own attributes, then the labels, then image and name.
    this.containers.on('event', (action: string, c: ContainerRecord, extra?: Record<string, string>) => {
      const attrs: Record<string, string> = { ...extra, ...(c.Config.Labels ?? {}), image: c.Config.Image, name: c.Name.slice(1) };
      if (action === 'die') {
        attrs.exitCode = String(c.State.ExitCode);
        attrs.execDuration = String(Math.max(0, Math.floor((Date.parse(c.State.FinishedAt) - Date.parse(c.State.StartedAt)) / 1000)) || 0);
      }
      this.emitEvent('container', action, c.ID, attrs);
    });
  }

  async init(): Promise<void> {
    await fsp.mkdir(this.dataRoot, { recursive: true, mode: 0o711 });
    await fsp.mkdir(this.execRoot, { recursive: true, mode: 0o700 });
    await fsp.rm(this.tmpDir, { recursive: true, force: true });
    await fsp.mkdir(this.tmpDir, { recursive: true, mode: 0o700 });
    await this.images.content.init();
    await this.images.layers.init();
    await this.images.init();
    await this.volumes.init();
    await this.distribution.init();
    // Containers plan their volumes through the store; the store asks them who uses a volume.
    this.containers.mounts.volumes = this.volumes;
    this.volumes.usedBy = (name) => this.containers.all().filter((c) => c.MountPoints?.some((p) => p.Type === 'volume' && p.Name === name)).map((c) => c.ID);
    await this.containers.init();
  }

  emitEvent(type: string, action: string, id: string, attributes: Record<string, string>): void {
    if (type === 'image') {
      // Docker's LogImageEvent: the image's labels (while it still exists), and its ID as the name unless
      // the action names a reference (tag).
      const labels = this.images.get(id)?.config.config?.Labels ?? {};
      attributes = { ...labels, ...attributes, name: attributes.name ?? id };
    }
    this.events.log(type, action, { ID: id, Attributes: attributes });
  }

  info(): Record<string, unknown> {
    const cs = this.containers.all();
    const running = cs.filter((c) => c.State.Running && !c.State.Paused && !c.State.Restarting).length; // Docker counts restarting as stopped
    const paused = cs.filter((c) => c.State.Paused).length;
    return {
      ID: this.config.id,
      Containers: cs.length,
      ContainersRunning: running,
      ContainersPaused: paused,
      ContainersStopped: cs.length - running - paused,
      Images: this.images.all().length,
      Driver: 'overlay2',
      DriverStatus: [['Backing Filesystem', 'extfs'], ['Supports d_type', 'true'], ['Using metacopy', 'false'], ['Native Overlay Diff', 'true'], ['userxattr', 'false']],
      Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'null'], Authorization: null, Log: ['json-file'] },
      BridgeNfIptables: readFirst('/proc/sys/net/bridge/bridge-nf-call-iptables') === '1',
      BridgeNfIp6tables: readFirst('/proc/sys/net/bridge/bridge-nf-call-ip6tables') === '1',
      DefaultAddressPools: (this.config.network.pools ?? []).map((p) => ({ Base: p.base, Size: p.size })),
      MemoryLimit: true,
      SwapLimit: true,
      CpuCfsPeriod: true,
      CpuCfsQuota: true,
      CPUShares: true,
      CPUSet: true,
      PidsLimit: true,
      IPv4Forwarding: readFirst('/proc/sys/net/ipv4/ip_forward') === '1',
      Debug: this.config.logLevel === 'debug',
      NFd: countFds(),
      OomKillDisable: this.cgroups.version === 1,
      NGoroutines: 1,
      SystemTime: new Date().toISOString(),
      LoggingDriver: 'json-file',
      CgroupDriver: 'cgroupfs',
      CgroupVersion: String(this.cgroups.version),
      NEventsListener: this.events.listenerCount(),
      KernelVersion: os.release(),
      OperatingSystem: readOsRelease(),
      OSVersion: '',
      OSType: 'linux',
      Architecture: os.machine(),
      IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: registryConfigView(this.config.registry),
      NCPU: os.cpus().length,
      MemTotal: os.totalmem(),
      GenericResources: null,
      DockerRootDir: this.dataRoot,
      HttpProxy: '',
      HttpsProxy: '',
      NoProxy: '',
      Name: os.hostname(),
      Labels: [],
      ExperimentalBuild: false,
      ServerVersion: ENGINE_VERSION,
      Runtimes: Object.fromEntries(Object.entries(this.runtimes).map(([k, v]) => [k, { path: v.path }])),
      DefaultRuntime: this.defaultRuntime,
      Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
      LiveRestoreEnabled: true,
      Isolation: '',
      InitBinary: 'docker-init',
      ContainerdCommit: { ID: '' },
      RuncCommit: { ID: '' },
      InitCommit: { ID: '' },
      SecurityOptions: ['name=seccomp,profile=builtin', ...(this.cgroups.version === 2 ? ['name=cgroupns'] : [])],
      Warnings: this.warnings,
    };
  }
}

function readFirst(p: string): string {
  try {
    return readFileSync(p, 'utf8').trim();
  } catch {
    return '';
  }
}

function countFds(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return 0;
  }
}

function hardNofileLimit(): number {
  const m = /Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(readFirst('/proc/self/limits'));
  if (!m) return 1024;
  return m[2] === 'unlimited' ? 1048576 : Number(m[2]);
}

// Docker's ServiceConfig: insecure registries as CIDRs (loopback always) or per-registry index configs.
function registryConfigView(r: { mirrors: string[]; insecure: string[] }): Record<string, unknown> {
  const cidrs = ['127.0.0.0/8', '::1/128', ...r.insecure.filter((i) => /\/\d+$/.test(i))];
  const mirrors = r.mirrors.map((m) => (m.endsWith('/') ? m : `${m}/`));
  const index: Record<string, unknown> = { 'docker.io': { Name: 'docker.io', Mirrors: mirrors, Secure: true, Official: true } };
  for (const i of r.insecure.filter((x) => !/\/\d+$/.test(x))) index[i] = { Name: i, Mirrors: [], Secure: false, Official: false };
  return { AllowNondistributableArtifactsCIDRs: null, AllowNondistributableArtifactsHostnames: null, InsecureRegistryCIDRs: cidrs, IndexConfigs: index, Mirrors: mirrors };
}

function goArchName(): string {
  return ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[os.arch()] ?? os.arch();
}
