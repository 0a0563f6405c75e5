// Networks and container endpoints: the predefined bridge/host/none networks, user-defined bridges, address
// management, the namespaces and veths of running containers, published ports (nftables DNAT plus a userland
// proxy for loopback) and the embedded DNS server of user-defined networks.
import { randomBytes, createHash } from 'node:crypto';
import { promises as fsp, readFileSync, mkdirSync, existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ContainerRecord, AnyObj } from '../containers/types.ts';
import { readJson, writeJsonAtomic, writeFileAtomic } from '../lib/fsutil.ts';
import { BerthError, conflict, forbidden, invalidParameter, notFound } from '../lib/errors.ts';
import {
  DEFAULT_POOLS, allocate, checkStatic, contains, formatCidr, formatIp, macFor, overlaps, parseCidr, parseIp,
  parseProcRoutes, pickSubnet, type AddressPool, type Cidr, type IpamSubnet,
} from './ipam.ts';
import { renderRuleset, deleteTableScript, runNft, allowForward, removeForward, type PortRule } from './nft.ts';
import { createNetns, addLinks, destroyNetns, removeLink, ensureBridge, deleteLink, type LinkConfig } from './netns.ts';
import { openProxy, type PortProxy } from './port-proxy.ts';
import { renderHosts, renderResolv, upstreamsFor } from './etc-files.ts';
import { EmbeddedDns } from './dns.ts';
import { emptyEndpoint, type EndpointSettings, type NetworkRecord, type NetworkSettingsRecord, type PortBinding } from './types.ts';

export interface NetworkOptions {
  dataDir: string; // <data-root>/network
  execDir: string; // <exec-root>/netns
  bridgeName: string; // the default bridge's device (dockerd's --bridge)
  bip?: string; // the default bridge's address (dockerd's --bip), e.g. 172.17.0.1/16
  pools?: AddressPool[];
  mtu?: number;
  dns: string[]; // daemon-wide --dns
  dnsSearch: string[];
  dnsOptions: string[];
  hostGatewayIp?: string;
  dnsPort?: number; // the embedded server's port (53; tests of the server itself use another)
}

export interface ContainerAccess {
  all(): ContainerRecord[];
  tryGet(ref: string): ContainerRecord | undefined;
  persist(c: ContainerRecord): Promise<void>;
}

export interface Sandbox {
  hostNetwork: boolean;
  netnsPath?: string;
  hostname?: string; // container:<id> mode: the other container's
  etcFrom?: ContainerRecord; // container:<id> mode: its hosts/resolv.conf/hostname files
}

const PREDEFINED = new Set(['bridge', 'host', 'none']);
const MAX_NAME = 15;

export function isUserDefined(mode: string): boolean {
  return !PREDEFINED.has(mode) && !mode.startsWith('container:') && mode !== 'default';
}

export class NetworkManager {
  private readonly o: NetworkOptions;
  private byId = new Map<string, NetworkRecord>();
  private proxies = new Map<string, PortProxy[]>(); // container id → its proxies
  private portRules = new Map<string, PortRule[]>();
  private rulesChain: Promise<void> = Promise.resolve();
  private applied = '';
  private readonly table: string;
  readonly dns: EmbeddedDns;
  containers!: ContainerAccess;
  // Events for the daemon's stream (network create/destroy/connect/disconnect).
  onEvent: (action: string, n: NetworkRecord, extra?: Record<string, string>) => void = () => {};

  constructor(o: NetworkOptions) {
    this.o = o;
    this.table = `berth_${createHash('sha256').update(o.execDir).digest('hex').slice(0, 8)}`;
    this.dns = new EmbeddedDns({
      lookup: (client, name) => this.dnsLookup(client, name),
      reverse: (client, ip) => this.dnsReverse(client, ip),
      upstreams: (client) => {
        const c = this.containerByIp(client);
        return upstreamsFor([...(c?.HostConfig.Dns ?? []), ...(c?.HostConfig.Dns?.length ? [] : this.o.dns)], readHostResolv());
      },
    });
  }

  // ---- records ---------------------------------------------------------------------------------

  private file(id: string): string {
    return path.join(this.o.dataDir, `${id}.json`);
  }

  private saving = new Map<string, Promise<void>>();

  private save(n: NetworkRecord): Promise<void> {
    const prev = this.saving.get(n.Id) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(() => (this.byId.has(n.Id) ? writeJsonAtomic(this.file(n.Id), n) : undefined));
    this.saving.set(n.Id, next);
    return next;
  }

  list(): NetworkRecord[] {
    return [...this.byId.values()];
  }

  // Docker's FindNetwork: full ID, then full name, then a unique ID prefix.
  tryGet(ref: string): NetworkRecord | undefined {
    const byId = this.byId.get(ref);
    if (byId) return byId;
    for (const n of this.byId.values()) if (n.Name === ref) return n;
    if (/^[a-f0-9]+$/.test(ref)) {
      const m = this.list().filter((n) => n.Id.startsWith(ref));
      if (m.length > 1) throw invalidParameter(`network ${ref} is ambiguous (${m.length} matches found based on ID)`);
      return m[0];
    }
    return undefined;
  }

  get(ref: string): NetworkRecord {
    const n = this.tryGet(ref);
    if (!n) throw notFound(`network ${ref} not found`);
    return n;
  }

  private subnetOf(n: NetworkRecord): IpamSubnet | undefined {
    const cfg = n.IPAM.Config[0];
    if (!cfg) return undefined;
    const subnet = parseCidr(cfg.Subnet);
    return {
      subnet,
      gateway: parseIp(cfg.Gateway)!,
      range: cfg.IPRange ? parseCidr(cfg.IPRange) : undefined,
      reserved: Object.values(cfg.AuxiliaryAddresses ?? {}).map((a) => parseIp(a)!).filter((a) => a !== undefined),
    };
  }

  private usedSubnets(except?: string): Cidr[] {
    const used: Cidr[] = [];
    for (const n of this.byId.values()) {
      if (n.Id === except) continue;
      for (const c of n.IPAM.Config) used.push(parseCidr(c.Subnet));
    }
    let routes = '';
    try {
      routes = readFileSync('/proc/net/route', 'utf8');
    } catch { /* no procfs route table */ }
    // Our own bridges' routes are already counted through their networks.
    const own = new Set(this.list().map((n) => n.Bridge).filter(Boolean));
    const lines = routes.split('\n');
    const foreign = [lines[0], ...lines.slice(1).filter((l) => !own.has(l.split(/\s+/)[0]))].join('\n');
    return [...used, ...parseProcRoutes(foreign)];
  }

  // ---- start-up and shutdown -------------------------------------------------------------------

  async init(): Promise<void> {
    mkdirSync(this.o.dataDir, { recursive: true, mode: 0o700 });
    mkdirSync(this.o.execDir, { recursive: true, mode: 0o700 });
    for (const f of await fsp.readdir(this.o.dataDir)) {
      if (!f.endsWith('.json')) continue;
      const n = await readJson<NetworkRecord>(path.join(this.o.dataDir, f));
      if (n) this.byId.set(n.Id, n);
    }
    await this.ensurePredefined();
    // Addresses of containers that stopped while berthd was away go back to the pool.
    const running = new Map(this.containers.all().filter((c) => c.State.Running).map((c) => [c.ID, c]));
    for (const n of this.byId.values()) {
      for (const [ip, id] of Object.entries(n.Allocated)) if (!running.has(id)) delete n.Allocated[ip];
      await this.save(n);
    }
    for (const n of this.byId.values()) if (n.Driver === 'bridge') await this.upBridge(n);
    // Stale namespaces of containers that are gone; the kernel drops their veths.
    for (const f of await fsp.readdir(this.o.execDir)) if (!running.has(f)) await destroyNetns(path.join(this.o.execDir, f)).catch(() => {});
    for (const c of running.values()) {
      if (!c.NetworkSettings || !existsSync(this.netnsPath(c.ID))) continue;
      await this.publish(c).catch(() => {});
    }
    await this.applyRules();
  }

  // Docker keeps its bridge while containers may come back; here everything goes when no container is running
  // (containers outlive berthd, and their network with them).
  async shutdown(): Promise<void> {
    for (const list of this.proxies.values()) for (const p of list) await p.close().catch(() => {});
    this.proxies.clear();
    await this.dns.closeAll().catch(() => {});
    if (this.containers.all().some((c) => c.State.Running)) return;
    await runNft(deleteTableScript(this.table)).catch(() => {});
    this.applied = '';
    for (const n of this.byId.values()) {
      if (!n.Bridge) continue;
      await deleteLink(n.Bridge).catch(() => {});
      await removeForward(n.Bridge);
    }
  }

  private async ensurePredefined(): Promise<void> {
    const now = new Date().toISOString();
    const base = (name: string, driver: NetworkRecord['Driver']): NetworkRecord => ({
      Name: name, Id: randomBytes(32).toString('hex'), Created: now, Scope: 'local', Driver: driver, EnableIPv6: false,
      IPAM: { Driver: 'default', Options: null, Config: [] }, Internal: false, Attachable: false, Ingress: false,
      ConfigFrom: { Network: '' }, ConfigOnly: false, Options: {}, Labels: {}, Allocated: {},
    });
    for (const [name, driver] of [['host', 'host'], ['none', 'null']] as const) {
      if (!this.list().some((n) => n.Name === name)) {
        const n = base(name, driver);
        this.byId.set(n.Id, n);
        await this.save(n);
      }
    }
    let bridge = this.list().find((n) => n.Name === 'bridge');
    if (!bridge) {
      bridge = base('bridge', 'bridge');
      bridge.IPAM.Config = [];
      this.byId.set(bridge.Id, bridge);
    }
    // --bip sets the default bridge's address; without it the subnet is kept from the last run, or chosen.
    let cfg = bridge.IPAM.Config[0];
    if (this.o.bip) {
      const c = parseCidr(this.o.bip, { strict: false });
      cfg = { Subnet: formatCidr(c), Gateway: formatIp(c.ip) };
    } else if (!cfg) {
      const s = pickSubnet(this.o.pools ?? DEFAULT_POOLS, this.usedSubnets(bridge.Id));
      cfg = { Subnet: formatCidr(s), Gateway: formatIp(s.addr + 1) };
    }
    bridge.IPAM.Config = [cfg];
    bridge.Bridge = this.o.bridgeName;
    bridge.Options = {
      'com.docker.network.bridge.default_bridge': 'true', 'com.docker.network.bridge.enable_icc': 'true',
      'com.docker.network.bridge.enable_ip_masquerade': 'true', 'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0',
      'com.docker.network.bridge.name': this.o.bridgeName, 'com.docker.network.driver.mtu': String(this.o.mtu ?? 1500),
    };
    await this.save(bridge);
  }

  private defaultBridge(): NetworkRecord {
    return this.list().find((n) => n.Name === 'bridge')!;
  }

  private async upBridge(n: NetworkRecord): Promise<void> {
    const cfg = n.IPAM.Config[0];
    if (!n.Bridge || !cfg) return;
    await ensureBridge(n.Bridge, `${cfg.Gateway}/${parseCidr(cfg.Subnet).prefix}`, this.o.mtu);
    // Published ports from other hosts and the masquerade of outgoing traffic need forwarding, as with Docker.
    writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
    await allowForward(n.Bridge);
    if (isUserDefined(n.Name)) {
      await this.dns.listen(cfg.Gateway, this.o.dnsPort ?? 53).catch((e: Error) => {
        process.stderr.write(`berthd: embedded DNS on ${cfg.Gateway}: ${e.message}\n`);
      });
    }
  }

  hostGatewayIp(): string {
    return this.o.hostGatewayIp ?? this.defaultBridge().IPAM.Config[0]?.Gateway ?? '';
  }

  // ---- NetworkCreate / Delete / Prune ----------------------------------------------------------

  async create(body: AnyObj): Promise<{ Id: string; Warning: string }> {
    const name = String(body?.Name ?? '');
    if (!name) throw invalidParameter('network name is required');
    if (PREDEFINED.has(name)) throw forbidden(`operation is not permitted on predefined ${name} network `.trimEnd());
    if (this.list().some((n) => n.Name === name)) throw conflict(`network with name ${name} already exists`);
    const driver = body.Driver || 'bridge';
    if (driver !== 'bridge') {
      if (driver === 'host' || driver === 'null') throw forbidden(`only one instance of "${driver}" network is allowed`);
      throw notFound(`plugin "${driver}" not found`);
    }
    if (body.EnableIPv6) throw invalidParameter('IPv6 networks are not supported by Berth yet');
    const options: Record<string, string> = { ...(body.Options ?? {}) };
    const ipamIn: AnyObj[] = body.IPAM?.Config ?? [];
    if (ipamIn.length > 1) throw invalidParameter('Berth networks take one IPv4 subnet');
    let cfg;
    if (ipamIn[0]?.Subnet) {
      const subnet = parseCidr(String(ipamIn[0].Subnet));
      const conflictWith = this.list().find((n) => n.IPAM.Config.some((c) => overlaps(parseCidr(c.Subnet), subnet)));
      if (conflictWith) throw forbidden(`Pool overlaps with other one on this address space`);
      let gw = subnet.addr + 1;
      if (ipamIn[0].Gateway) {
        const g = parseIp(String(ipamIn[0].Gateway));
        if (g === undefined || !contains(subnet, g)) throw invalidParameter(`no matching subnet for gateway ${ipamIn[0].Gateway}`);
        gw = g;
      }
      cfg = { Subnet: formatCidr(subnet), Gateway: formatIp(gw) } as NetworkRecord['IPAM']['Config'][0];
      if (ipamIn[0].IPRange) {
        const r = parseCidr(String(ipamIn[0].IPRange));
        if (!contains(subnet, r.addr) || r.prefix < subnet.prefix) throw invalidParameter(`Invalid address ${ipamIn[0].IPRange}: It does not belong to any of this network's subnets`);
        cfg.IPRange = formatCidr(r);
      }
      if (ipamIn[0].AuxiliaryAddresses && Object.keys(ipamIn[0].AuxiliaryAddresses).length) {
        for (const [k, v] of Object.entries(ipamIn[0].AuxiliaryAddresses as Record<string, string>)) {
          const a = parseIp(v);
          if (a === undefined || !contains(subnet, a)) throw invalidParameter(`invalid auxiliary address ${k}=${v}: it does not belong to the subnet ${cfg.Subnet}`);
        }
        cfg.AuxiliaryAddresses = ipamIn[0].AuxiliaryAddresses;
      }
    } else {
      if (ipamIn[0]?.Gateway || ipamIn[0]?.IPRange) throw invalidParameter('gateway and ip-range need a subnet');
      const s = pickSubnet(this.o.pools ?? DEFAULT_POOLS, this.usedSubnets());
      cfg = { Subnet: formatCidr(s), Gateway: formatIp(s.addr + 1) };
    }
    const id = randomBytes(32).toString('hex');
    const device = options['com.docker.network.bridge.name'] || `br-${id.slice(0, 12)}`;
    if (device.length > MAX_NAME || !/^[A-Za-z0-9_.-]+$/.test(device)) throw invalidParameter(`invalid bridge name ${device}`);
    if (this.list().some((n) => n.Bridge === device) || existsSync(`/sys/class/net/${device}`)) {
      throw forbidden(`bridge name ${device} is already in use`);
    }
    const n: NetworkRecord = {
      Name: name, Id: id, Created: new Date().toISOString(), Scope: 'local', Driver: 'bridge', EnableIPv6: false,
      IPAM: { Driver: body.IPAM?.Driver || 'default', Options: body.IPAM?.Options ?? {}, Config: [cfg] },
      Internal: !!body.Internal, Attachable: !!body.Attachable, Ingress: false, ConfigFrom: { Network: '' }, ConfigOnly: false,
      Options: options, Labels: body.Labels ?? {}, Bridge: device, Allocated: {},
    };
    this.byId.set(id, n);
    try {
      await this.save(n);
      await this.upBridge(n);
      await this.applyRules();
    } catch (err) {
      this.byId.delete(id);
      await fsp.rm(this.file(id), { force: true });
      await deleteLink(device).catch(() => {});
      await this.dns.close(cfg.Gateway).catch(() => {});
      throw err;
    }
    this.onEvent('create', n, { type: 'bridge' });
    return { Id: id, Warning: '' };
  }

  // Containers (running or not) whose configuration names the network.
  usersOf(n: NetworkRecord): ContainerRecord[] {
    return this.containers.all().filter((c) => c.NetworkSettings?.Networks && Object.values(c.NetworkSettings.Networks).some((e) => e.NetworkID === n.Id));
  }

  activeEndpoints(n: NetworkRecord): ContainerRecord[] {
    // An address is held from the network set-up of a start until the exit: a starting container counts.
    return this.usersOf(n).filter((c) => c.NetworkSettings!.Networks[n.Name]?.IPAddress);
  }

  async remove(ref: string): Promise<void> {
    const n = this.get(ref);
    if (PREDEFINED.has(n.Name)) throw forbidden(`${n.Name} is a pre-defined network and cannot be removed`);
    if (this.activeEndpoints(n).length) throw forbidden(`error while removing network: network ${n.Name} id ${n.Id} has active endpoints`);
    this.byId.delete(n.Id);
    await fsp.rm(this.file(n.Id), { force: true });
    await this.dns.close(n.IPAM.Config[0]?.Gateway ?? '').catch(() => {});
    if (n.Bridge) {
      await deleteLink(n.Bridge);
      await removeForward(n.Bridge);
    }
    await this.applyRules();
    this.onEvent('destroy', n, { type: 'bridge' });
  }

  async prune(keep: (n: NetworkRecord) => boolean): Promise<string[]> {
    const gone: string[] = [];
    for (const n of this.list()) {
      // Docker prunes every custom network without an active endpoint (stopped containers do not count).
      if (PREDEFINED.has(n.Name) || this.activeEndpoints(n).length || !keep(n)) continue;
      await this.remove(n.Id).then(() => gone.push(n.Name), () => {});
    }
    return gone;
  }

  // NetworkInspect's Containers: the endpoints of running containers.
  endpointsOf(n: NetworkRecord): Record<string, AnyObj> {
    const out: Record<string, AnyObj> = {};
    for (const c of this.activeEndpoints(n)) {
      const e = c.NetworkSettings!.Networks[n.Name];
      out[c.ID] = { Name: c.Name.slice(1), EndpointID: e.EndpointID, MacAddress: e.MacAddress, IPv4Address: `${e.IPAddress}/${e.IPPrefixLen}`, IPv6Address: '' };
    }
    return out;
  }

  // ---- container create: the endpoints it asks for ---------------------------------------------

  // Called at create: records the endpoint configuration (addresses come at start). Unknown user networks are
  // found at start, as Docker reports them.
  planEndpoints(c: ContainerRecord, networkingConfig: AnyObj | undefined): void {
    const mode: string = c.HostConfig.NetworkMode;
    const eps: Record<string, AnyObj> = networkingConfig?.EndpointsConfig ?? {};
    const settings: NetworkSettingsRecord = { Networks: {}, Ports: {}, SandboxKey: '', SandboxID: '' };
    if (!mode.startsWith('container:')) {
      const first = mode === 'default' ? 'bridge' : mode;
      const names = [first, ...Object.keys(eps).filter((k) => k !== first && k !== 'default')];
      for (const name of names) {
        const n = this.tryGet(name);
        const cfg = eps[name] ?? (name === first ? eps.default : undefined) ?? {};
        const key = n?.Name ?? name;
        this.validateEndpointConfig(key, cfg, n);
        settings.Networks[key] = {
          ...emptyEndpoint(n?.Id ?? ''),
          IPAMConfig: cfg.IPAMConfig && Object.keys(cfg.IPAMConfig).length ? cfg.IPAMConfig : null,
          Links: cfg.Links?.length ? cfg.Links : null,
          Aliases: cfg.Aliases?.length ? cfg.Aliases : null,
          MacAddress: cfg.MacAddress ?? '',
          DriverOpts: cfg.DriverOpts ?? null,
        };
      }
    }
    c.NetworkSettings = settings;
  }

  private validateEndpointConfig(name: string, cfg: AnyObj, n: NetworkRecord | undefined): void {
    const userDefined = isUserDefined(name);
    const ip = cfg.IPAMConfig?.IPv4Address;
    if (ip) {
      if (!userDefined) throw invalidParameter('user specified IP address is supported on user defined networks only');
      if (parseIp(ip) === undefined) throw invalidParameter(`invalid IPv4 address: ${ip}`);
      if (n && !n.IPAM.Config.some((c) => c.Subnet)) throw invalidParameter('user specified IP address is supported only when connecting to networks with user configured subnets');
    }
    if (cfg.Aliases?.length && !userDefined) throw invalidParameter('network-scoped alias is supported only for containers in user defined networks');
    if (cfg.MacAddress && !/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(cfg.MacAddress)) throw invalidParameter(`invalid MAC address: ${cfg.MacAddress}`);
  }

  // ---- container start/exit --------------------------------------------------------------------

  netnsPath(id: string): string {
    return path.join(this.o.execDir, id);
  }

  // Everything a starting container needs from the network: its namespace, addresses, published ports and
  // /etc files. On failure nothing is left behind (no namespace, address, rule or proxy).
  async attach(c: ContainerRecord): Promise<Sandbox> {
    const mode: string = c.HostConfig.NetworkMode;
    // Containers made before Berth had networks carry no endpoint configuration: plan it from the mode.
    if (!c.NetworkSettings) this.planEndpoints(c, undefined);
    const settings = c.NetworkSettings!;
    if (mode === 'host') return { hostNetwork: true };
    if (mode.startsWith('container:')) {
      const other = this.containers.tryGet(mode.slice('container:'.length));
      if (!other) throw notFound(`No such container: ${mode.slice('container:'.length)}`);
      if (other.ID === c.ID) throw invalidParameter('cannot join own network');
      if (!other.State.Running || other.State.Restarting) throw conflict(`cannot join network of a non running container: ${other.ID}`);
      if (other.HostConfig.NetworkMode === 'host') return { hostNetwork: true, etcFrom: other, hostname: other.Config.Hostname };
      if (other.HostConfig.NetworkMode.startsWith('container:')) throw invalidParameter('cannot join the network namespace of a container that shares another one');
      return { hostNetwork: false, netnsPath: this.netnsPath(other.ID), etcFrom: other, hostname: other.Config.Hostname };
    }
    const file = this.netnsPath(c.ID);
    await destroyNetns(file).catch(() => {});
    if (mode === 'none') {
      await createNetns(file, []);
      settings.SandboxKey = file;
      settings.SandboxID = randomBytes(32).toString('hex');
      return { hostNetwork: false, netnsPath: file };
    }
    const links: LinkConfig[] = [];
    const taken: { n: NetworkRecord; ip: string }[] = [];
    try {
      let i = 0;
      for (const [name, ep] of Object.entries(settings.Networks)) {
        const n = this.tryGet(ep.NetworkID) ?? this.tryGet(name);
        if (!n) throw notFound(`network ${name} not found`);
        if (n.Driver !== 'bridge') throw invalidParameter(`container cannot be disconnected from host network or connected to host network`);
        const link = this.allocateEndpoint(c, n, ep, i++);
        taken.push({ n, ip: ep.IPAddress });
        links.push(link);
      }
      await this.publish(c);
      await createNetns(file, links);
      settings.SandboxKey = file;
      settings.SandboxID = randomBytes(32).toString('hex');
      await this.writeEtc(c);
      await this.applyRules();
      for (const { n } of taken) this.onEvent('connect', n, { container: c.ID, type: 'bridge' });
    } catch (err) {
      await this.unpublish(c);
      for (const { n, ip } of taken) this.releaseIp(n, ip);
      this.clearEndpoints(c);
      await destroyNetns(file).catch(() => {});
      throw err;
    }
    return { hostNetwork: false, netnsPath: file };
  }

  private allocateEndpoint(c: ContainerRecord, n: NetworkRecord, ep: EndpointSettings, index: number): LinkConfig {
    const s = this.subnetOf(n);
    if (!s) throw invalidParameter(`network ${n.Name} has no subnet`);
    const taken = new Set(Object.keys(n.Allocated).map((a) => parseIp(a)!));
    let ip: number;
    const want = ep.IPAMConfig?.IPv4Address;
    if (want) {
      ip = parseIp(want)!;
      checkStatic(s, ip, taken);
    } else {
      ip = allocate(s, taken, n.LastIp ? parseIp(n.LastIp) : undefined);
      n.LastIp = formatIp(ip);
    }
    const addr = formatIp(ip);
    n.Allocated[addr] = c.ID;
    void this.save(n);
    ep.NetworkID = n.Id;
    ep.EndpointID = randomBytes(32).toString('hex');
    ep.IPAddress = addr;
    ep.IPPrefixLen = s.subnet.prefix;
    ep.Gateway = formatIp(s.gateway);
    ep.MacAddress = ep.MacAddress || macFor(ip);
    ep.Ifname = `eth${index}`;
    ep.HostIfname = `veth${randomBytes(4).toString('hex').slice(0, 7)}`;
    if (isUserDefined(n.Name)) ep.DNSNames = [c.Name.slice(1), ...(ep.Aliases ?? []), c.ID.slice(0, 12)];
    return {
      ifname: ep.Ifname, hostIfname: ep.HostIfname, bridge: n.Bridge!, mac: ep.MacAddress, address: `${addr}/${s.subnet.prefix}`,
      gateway: n.Internal ? undefined : ep.Gateway, mtu: this.o.mtu,
    };
  }

  private releaseIp(n: NetworkRecord, ip: string): void {
    if (ip && n.Allocated[ip]) {
      delete n.Allocated[ip];
      void this.save(n);
    }
  }

  private clearEndpoints(c: ContainerRecord): void {
    for (const ep of Object.values(c.NetworkSettings?.Networks ?? {})) {
      Object.assign(ep, { EndpointID: '', Gateway: '', IPAddress: '', IPPrefixLen: 0, DNSNames: null });
      if (!ep.IPAMConfig?.IPv4Address) ep.MacAddress = '';
      delete ep.HostIfname;
      delete ep.Ifname;
    }
    if (c.NetworkSettings) {
      c.NetworkSettings.Ports = {};
      c.NetworkSettings.SandboxKey = '';
      c.NetworkSettings.SandboxID = '';
    }
  }

  // After the container's process is gone: its namespace (and with it the veths), addresses, rules, proxies.
  async detach(c: ContainerRecord): Promise<void> {
    const mode: string = c.HostConfig.NetworkMode;
    if (mode === 'host' || mode.startsWith('container:')) return;
    await this.unpublish(c);
    for (const [name, ep] of Object.entries(c.NetworkSettings?.Networks ?? {})) {
      const n = this.tryGet(ep.NetworkID) ?? this.tryGet(name);
      if (!n) continue;
      const had = !!ep.IPAddress;
      this.releaseIp(n, ep.IPAddress);
      if (had) this.onEvent('disconnect', n, { container: c.ID, type: 'bridge' });
    }
    this.clearEndpoints(c);
    await destroyNetns(this.netnsPath(c.ID));
    await this.applyRules();
  }

  // ---- NetworkConnect / NetworkDisconnect -------------------------------------------------------

  async connect(netRef: string, containerRef: string, cfg: AnyObj = {}): Promise<void> {
    const n = this.get(netRef);
    const c = this.containers.tryGet(containerRef);
    if (!c) throw notFound(`No such container: ${containerRef}`);
    const mode: string = c.HostConfig.NetworkMode;
    if (mode === 'host' || n.Driver === 'host') throw forbidden('container cannot be disconnected from host network or connected to host network');
    if (mode === 'none' || mode.startsWith('container:') || n.Driver === 'null') throw forbidden(`container sharing network namespace with another container or host cannot be connected to any other network`);
    c.NetworkSettings ??= { Networks: {}, Ports: {}, SandboxKey: '', SandboxID: '' };
    if (c.NetworkSettings.Networks[n.Name]) throw forbidden(`endpoint with name ${c.Name.slice(1)} already exists in network ${n.Name}`);
    this.validateEndpointConfig(n.Name, cfg, n);
    const ep: EndpointSettings = {
      ...emptyEndpoint(n.Id),
      IPAMConfig: cfg.IPAMConfig && Object.keys(cfg.IPAMConfig).length ? cfg.IPAMConfig : null,
      Links: cfg.Links?.length ? cfg.Links : null,
      Aliases: cfg.Aliases?.length ? cfg.Aliases : null,
      MacAddress: cfg.MacAddress ?? '',
      DriverOpts: cfg.DriverOpts ?? null,
    };
    if (c.State.Running && c.NetworkSettings.SandboxKey) {
      const used = new Set(Object.values(c.NetworkSettings.Networks).map((e) => e.Ifname));
      let idx = 0;
      while (used.has(`eth${idx}`)) idx++;
      const link = this.allocateEndpoint(c, n, ep, idx);
      // A container that had no default route (only internal networks) gets this network's.
      if (Object.values(c.NetworkSettings.Networks).some((e) => e.IPAddress && !this.tryGet(e.NetworkID)?.Internal)) link.gateway = undefined;
      try {
        await addLinks(c.NetworkSettings.SandboxKey, [link]);
      } catch (err) {
        this.releaseIp(n, ep.IPAddress);
        throw err;
      }
      c.NetworkSettings.Networks[n.Name] = ep;
      await this.rewriteHosts(c).catch(() => {});
      await this.applyRules();
      this.onEvent('connect', n, { container: c.ID, type: 'bridge' });
    } else {
      c.NetworkSettings.Networks[n.Name] = ep;
    }
    await this.containers.persist(c);
  }

  async disconnect(netRef: string, containerRef: string, force: boolean): Promise<void> {
    const n = this.tryGet(netRef);
    const c = this.containers.tryGet(containerRef);
    if (!c) throw notFound(`No such container: ${containerRef}`);
    if (!n) {
      if (force) return;
      throw notFound(`network ${netRef} not found`);
    }
    if (n.Driver === 'host') throw forbidden('container cannot be disconnected from host network or connected to host network');
    const ep = c.NetworkSettings?.Networks[n.Name];
    if (!ep) throw forbidden(`container ${c.ID} is not connected to network ${n.Name}`);
    if (ep.IPAddress && ep.Ifname && c.NetworkSettings!.SandboxKey) {
      await removeLink(c.NetworkSettings!.SandboxKey, ep.Ifname).catch((err) => { if (!force) throw err; });
      this.releaseIp(n, ep.IPAddress);
      this.onEvent('disconnect', n, { container: c.ID, type: 'bridge' });
    }
    delete c.NetworkSettings!.Networks[n.Name];
    await this.containers.persist(c);
    await this.applyRules();
  }

  // ---- published ports --------------------------------------------------------------------------

  // The bindings to make: PortBindings, plus every exposed port with -P; HostPort "" is ephemeral and
  // "8000-8010" takes the first free port of the range.
  private wantedPorts(c: ContainerRecord): { key: string; proto: 'tcp' | 'udp'; port: number; bindings: PortBinding[] }[] {
    const hc = c.HostConfig;
    const out = new Map<string, PortBinding[]>();
    for (const [k, v] of Object.entries((hc.PortBindings ?? {}) as Record<string, PortBinding[] | null>)) out.set(normPortKey(k), v?.length ? v : [{ HostIp: '', HostPort: '' }]);
    if (hc.PublishAllPorts) {
      for (const k of Object.keys(c.Config.ExposedPorts ?? {})) if (!out.has(normPortKey(k))) out.set(normPortKey(k), [{ HostIp: '', HostPort: '' }]);
    }
    return [...out].map(([key, bindings]) => {
      const [p, proto] = key.split('/');
      if (proto !== 'tcp' && proto !== 'udp') throw invalidParameter(`invalid proto: ${proto}`);
      const port = Number(p);
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalidParameter(`invalid containerPort: ${p}`);
      return { key, proto, port, bindings };
    });
  }

  private async publish(c: ContainerRecord): Promise<void> {
    const settings = c.NetworkSettings!;
    const first = Object.values(settings.Networks).find((e) => e.IPAddress);
    const ports: Record<string, PortBinding[] | null> = {};
    for (const k of Object.keys(c.Config.ExposedPorts ?? {})) ports[normPortKey(k)] = null;
    const wanted = this.wantedPorts(c);
    if (!first) {
      settings.Ports = ports;
      return;
    }
    const net = this.tryGet(first.NetworkID);
    const opened: PortProxy[] = [];
    const rules: PortRule[] = [];
    try {
      for (const w of wanted) {
        const list: PortBinding[] = [];
        for (const b of w.bindings) {
          const hostIp = b.HostIp || '0.0.0.0';
          if (parseIp(hostIp) === undefined) throw invalidParameter(`invalid IP address: ${b.HostIp}`);
          const proxy = await bindPort(w.proto, hostIp, String(b.HostPort ?? ''), first.IPAddress, w.port, c);
          opened.push(proxy);
          rules.push({ proto: w.proto, hostIp, hostPort: proxy.hostPort, containerIp: first.IPAddress, containerPort: w.port, bridge: net?.Bridge ?? '' });
          list.push({ HostIp: hostIp, HostPort: String(proxy.hostPort) });
        }
        ports[w.key] = list;
      }
    } catch (err) {
      for (const p of opened) await p.close().catch(() => {});
      throw err;
    }
    this.proxies.set(c.ID, opened);
    this.portRules.set(c.ID, rules);
    settings.Ports = ports;
  }

  private async unpublish(c: ContainerRecord): Promise<void> {
    for (const p of this.proxies.get(c.ID) ?? []) await p.close().catch(() => {});
    this.proxies.delete(c.ID);
    this.portRules.delete(c.ID);
  }

  // One nft transaction with the whole table, serialized.
  applyRules(): Promise<void> {
    const next = this.rulesChain.catch(() => {}).then(() => {
      const bridges = this.list().filter((n) => n.Driver === 'bridge' && n.Bridge && n.IPAM.Config[0]).map((n) => ({
        device: n.Bridge!, subnet: n.IPAM.Config[0].Subnet, internal: n.Internal,
        masquerade: n.Options['com.docker.network.bridge.enable_ip_masquerade'] !== 'false',
      }));
      const text = renderRuleset(this.table, bridges, [...this.portRules.values()].flat());
      // Most starts and exits change no rule (no published port): an nft spawn costs ~30 ms here.
      if (text === this.applied) return;
      return runNft(text).then(() => { this.applied = text; });
    });
    this.rulesChain = next;
    return next;
  }

  // ---- /etc files -------------------------------------------------------------------------------

  private async writeEtc(c: ContainerRecord): Promise<void> {
    const { hosts, resolv } = this.etcFor(c);
    await Promise.all([writeFileAtomic(c.HostsPath, hosts, 0o644, { sync: false }), writeFileAtomic(c.ResolvConfPath, resolv, 0o644, { sync: false })]);
  }

  // The container's /etc/hosts and /etc/resolv.conf as Docker writes them for its network mode (at create, and
  // again at start once the addresses are known).
  etcFor(c: ContainerRecord): { hosts: string; resolv: string } {
    const hc = c.HostConfig;
    const hostNetwork = hc.NetworkMode === 'host';
    const embedded = Object.entries(c.NetworkSettings?.Networks ?? {}).find(([name, e]) => isUserDefined(name) && e.IPAddress)?.[1].Gateway;
    const resolv = renderResolv({ host: readHostResolv(), embedded, hostNetwork, dns: hc.Dns ?? [], dnsSearch: hc.DnsSearch ?? [], dnsOptions: hc.DnsOptions ?? [] });
    // Host mode: the host's own file, unless --add-host asks for entries of the container's own.
    let hosts: string;
    if (hostNetwork && !hc.ExtraHosts?.length) {
      try {
        hosts = readFileSync('/etc/hosts', 'utf8');
      } catch {
        hosts = this.hostsFor(c);
      }
    } else hosts = this.hostsFor(c);
    return { hosts, resolv };
  }

  private hostsFor(c: ContainerRecord): string {
    const eps = Object.values(c.NetworkSettings?.Networks ?? {}).filter((e) => e.IPAddress);
    const links: { ip: string; names: string[] }[] = [];
    for (const l of c.HostConfig.Links ?? []) {
      // Docker stores links as "/other:/this/alias"; the CLI sends "other:alias".
      const [target, aliasPath] = String(l).split(':');
      const other = this.containers.tryGet(target.replace(/^\//, ''));
      const ip = other && Object.values(other.NetworkSettings?.Networks ?? {}).find((e) => e.IPAddress)?.IPAddress;
      if (!other || !ip) continue;
      const alias = (aliasPath ?? target).split('/').pop()!;
      const names = [...new Set([alias, other.ID.slice(0, 12), other.Name.slice(1)])];
      links.push({ ip, names });
    }
    const hg = this.hostGatewayIp();
    return renderHosts({
      hostname: c.Config.Hostname, domainname: c.Config.Domainname, ips: eps.map((e) => e.IPAddress),
      extraHosts: (c.HostConfig.ExtraHosts ?? []).map((h: string) => h.replace(/:host-gateway$/, `:${hg}`)), links,
    });
  }

  // A running container's /etc/hosts is bind-mounted: rewritten in place, not replaced.
  private async rewriteHosts(c: ContainerRecord): Promise<void> {
    await fsp.writeFile(c.HostsPath, this.hostsFor(c));
  }

  // Links are checked at create like Docker: the target must exist.
  checkLinks(hc: AnyObj): void {
    for (const l of hc.Links ?? []) {
      const target = String(l).split(':')[0].replace(/^\//, '');
      if (!this.containers.tryGet(target)) throw invalidParameter(`could not get container for ${target}`);
    }
  }

  // ---- embedded DNS -----------------------------------------------------------------------------

  private containerByIp(ip: string): ContainerRecord | undefined {
    for (const c of this.containers.all()) {
      for (const e of Object.values(c.NetworkSettings?.Networks ?? {})) if (e.IPAddress === ip) return c;
    }
    return undefined;
  }

  private dnsLookup(client: string, name: string): { v4: string[]; v6: string[] } | undefined {
    const asker = this.containerByIp(client);
    if (!asker) return undefined;
    const nets = Object.entries(asker.NetworkSettings!.Networks).filter(([n, e]) => isUserDefined(n) && e.IPAddress).map(([, e]) => e.NetworkID);
    const v4: string[] = [];
    for (const c of this.containers.all()) {
      for (const e of Object.values(c.NetworkSettings?.Networks ?? {})) {
        if (!e.IPAddress || !nets.includes(e.NetworkID)) continue;
        // Names as they are now (a rename takes effect at once): name, aliases, short id.
        const names = [c.Name.slice(1), ...(e.Aliases ?? []), c.ID.slice(0, 12)];
        if (names.some((d) => d.toLowerCase() === name)) v4.push(e.IPAddress);
      }
    }
    return v4.length ? { v4: [...new Set(v4)], v6: [] } : undefined;
  }

  private dnsReverse(client: string, ip: string): string[] | undefined {
    const asker = this.containerByIp(client);
    if (!asker) return undefined;
    const nets = new Set(Object.values(asker.NetworkSettings!.Networks).filter((e) => e.IPAddress).map((e) => e.NetworkID));
    for (const c of this.containers.all()) {
      for (const [netName, e] of Object.entries(c.NetworkSettings?.Networks ?? {})) {
        if (e.IPAddress === ip && nets.has(e.NetworkID) && isUserDefined(netName)) return [`${c.Name.slice(1)}.${netName}`];
      }
    }
    return undefined;
  }
}

export function normPortKey(k: string): string {
  return k.includes('/') ? k.toLowerCase() : `${k}/tcp`;
}

async function bindPort(proto: 'tcp' | 'udp', hostIp: string, spec: string, cip: string, cport: number, c: ContainerRecord): Promise<PortProxy> {
  let candidates: number[];
  const m = /^(\d+)(?:-(\d+))?$/.exec(spec);
  if (spec === '' || spec === '0') candidates = [0];
  else if (m) {
    const lo = Number(m[1]);
    const hi = m[2] ? Number(m[2]) : lo;
    if (lo < 1 || hi > 65535 || hi < lo) throw invalidParameter(`invalid hostPort: ${spec}`);
    candidates = Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
  } else throw invalidParameter(`invalid hostPort: ${spec}`);
  let last: unknown;
  for (const port of candidates) {
    try {
      return await openProxy({ proto, hostIp, hostPort: port, containerIp: cip, containerPort: cport });
    } catch (err) {
      last = err;
    }
  }
  const code = (last as NodeJS.ErrnoException)?.code;
  const why = code === 'EADDRINUSE' ? 'port is already allocated' : code === 'EADDRNOTAVAIL' ? 'cannot assign requested address' : String((last as Error)?.message);
  const shown = candidates.length > 1 ? spec : String(candidates[0]);
  throw new BerthError('internal', `driver failed programming external connectivity on endpoint ${c.Name.slice(1)} (${c.ID.slice(0, 12)}): Bind for ${hostIp}:${shown} failed: ${why}`);
}

function readHostResolv(): string {
  try {
    return readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return '';
  }
}
