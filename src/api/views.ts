// Docker API shapes of our domain records (ContainerInspect, ContainerSummary, ImageInspect, ImageSummary).
import path from 'node:path';
import type { ContainerRecord } from '../containers/types.ts';
import { ZERO_TIME } from '../containers/types.ts';
import { mountView } from '../containers/mounts.ts';
import type { ImageRecord, ImageStore } from '../images/store.ts';
import { familiarName } from '../images/reference.ts';
import { humanDuration } from '../lib/units.ts';
import { healthString } from '../containers/health.ts';
import { parseRFC3339Nano } from '../lib/timestamps.ts';
import { internal } from '../lib/errors.ts';

const HOST_CONFIG_DEFAULTS = {
  Binds: null, ContainerIDFile: '', LogConfig: { Type: 'json-file', Config: {} }, NetworkMode: 'bridge', PortBindings: {},
  RestartPolicy: { Name: 'no', MaximumRetryCount: 0 }, AutoRemove: false, VolumeDriver: '', VolumesFrom: null,
  ConsoleSize: [0, 0], CapAdd: null, CapDrop: null, CgroupnsMode: 'host', Dns: [], DnsOptions: [], DnsSearch: [],
  ExtraHosts: null, GroupAdd: null, IpcMode: 'private', Cgroup: '', Links: null, OomScoreAdj: 0, PidMode: '',
  Privileged: false, PublishAllPorts: false, ReadonlyRootfs: false, SecurityOpt: null, UTSMode: '', UsernsMode: '',
  ShmSize: 67108864, Runtime: 'crun', Isolation: '', CpuShares: 0, Memory: 0, NanoCpus: 0, CgroupParent: '',
  BlkioWeight: 0, BlkioWeightDevice: [], BlkioDeviceReadBps: [], BlkioDeviceWriteBps: [], BlkioDeviceReadIOps: [],
  BlkioDeviceWriteIOps: [], CpuPeriod: 0, CpuQuota: 0, CpuRealtimePeriod: 0, CpuRealtimeRuntime: 0, CpusetCpus: '',
  CpusetMems: '', Devices: [], DeviceCgroupRules: null, DeviceRequests: null, MemoryReservation: 0, MemorySwap: 0,
  MemorySwappiness: null, OomKillDisable: null, PidsLimit: null, Ulimits: [], CpuCount: 0, CpuPercent: 0,
  IOMaximumIOps: 0, IOMaximumBandwidth: 0, MaskedPaths: null, ReadonlyPaths: null,
};

export function containerInspect(c: ContainerRecord, images: ImageStore, dataRoot: string): Record<string, unknown> {
  const img = images.get(c.Image);
  const layerDirs = img ? images.chainIdsOf(img).reverse().map((ch) => images.layers.diffDir(ch)) : [];
  const base = path.join(dataRoot, 'containers', c.ID, 'fs');
  return {
    Id: c.ID,
    Created: c.Created,
    Path: c.Path,
    Args: c.Args,
    State: c.State,
    Image: c.Image,
    ResolvConfPath: c.ResolvConfPath,
    HostnamePath: c.HostnamePath,
    HostsPath: c.HostsPath,
    LogPath: c.LogPath,
    Name: c.Name,
    RestartCount: c.RestartCount,
    Driver: 'overlay2',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: null,
    HostConfig: { ...HOST_CONFIG_DEFAULTS, ...c.HostConfig },
    GraphDriver: {
      Data: { LowerDir: layerDirs.join(':'), MergedDir: path.join(base, 'merged'), UpperDir: path.join(base, 'upper'), WorkDir: path.join(base, 'work') },
      Name: 'overlay2',
    },
    Mounts: (c.MountPoints ?? []).map(mountView),
    Config: c.Config,
    NetworkSettings: networkSettingsView(c),
  };
}

// Docker's State.String(), the STATUS column of `docker ps`.
export function statusText(c: ContainerRecord, now = Date.now()): string {
  const s = c.State;
  if (s.Running) {
    if (s.Paused) return `Up ${humanDuration(now - Date.parse(s.StartedAt))} (Paused)`;
    if (s.Restarting) return `Restarting (${s.ExitCode}) ${humanDuration(now - Date.parse(s.FinishedAt))} ago`;
    return `Up ${humanDuration(now - Date.parse(s.StartedAt))}${s.Health ? ` (${healthString(s.Health)})` : ''}`;
  }
  if (s.Status === 'removing') return 'Removal In Progress';
  if (s.Status === 'dead') return 'Dead';
  if (s.StartedAt === ZERO_TIME) return 'Created';
  if (s.FinishedAt === ZERO_TIME) return '';
  return `Exited (${s.ExitCode}) ${humanDuration(now - Date.parse(s.FinishedAt))} ago`;
}

export function containerSummary(c: ContainerRecord): Record<string, unknown> {
  const cmd = [c.Path, ...c.Args].map((a) => (/\s/.test(a) ? a : a)).join(' ');
  return {
    Id: c.ID,
    Names: [c.Name],
    Image: c.Config.Image,
    ImageID: c.Image,
    Command: cmd,
    Created: Math.floor(Date.parse(c.Created) / 1000),
    Ports: portsSummary(c),
    Labels: c.Config.Labels ?? {},
    State: c.State.Status,
    Status: statusText(c),
    HostConfig: { NetworkMode: c.HostConfig.NetworkMode },
    NetworkSettings: { Networks: endpointsView(c) },
    Mounts: (c.MountPoints ?? []).map(mountView),
  };
}

function created(rec: ImageRecord): string {
  return rec.config.created ?? ZERO_TIME;
}

export function imageInspect(rec: ImageRecord, images: ImageStore): Record<string, unknown> {
  const chains = images.chainIdsOf(rec);
  const dirs = chains.map((c) => images.layers.diffDir(c)).reverse();
  return {
    Id: rec.id,
    RepoTags: images.tagsOf(rec.id).map(familiarName),
    RepoDigests: rec.repoDigests.map(familiarName),
    Parent: rec.parent ?? '',
    Comment: rec.config.comment ?? '',
    Created: created(rec),
    DockerVersion: rec.config.docker_version ?? '',
    Author: rec.config.author ?? '',
    Config: { Env: null, Cmd: null, Image: '', Volumes: null, WorkingDir: '', Entrypoint: null, OnBuild: null, Labels: null, ...(rec.config.config ?? {}) },
    Architecture: rec.config.architecture,
    ...(rec.config.variant ? { Variant: rec.config.variant } : {}),
    Os: rec.config.os,
    Size: rec.size,
    GraphDriver: {
      Data: dirs.length ? { MergedDir: '', UpperDir: dirs[0], WorkDir: '', LowerDir: dirs.slice(1).join(':') || undefined } : {},
      Name: 'overlay2',
    },
    RootFS: { Type: 'layers', Layers: rec.config.rootfs.diff_ids },
    Metadata: { LastTagTime: rec.lastTagTime ?? ZERO_TIME },
  };
}

// `only` narrows RepoTags and RepoDigests (full references) to those a reference filter matched, as Docker does.
export function imageSummary(rec: ImageRecord, images: ImageStore, containers: number, only?: (ref: string) => boolean): Record<string, unknown> {
  const keep = only ?? (() => true);
  return {
    Id: rec.id,
    ParentId: rec.parent ?? '',
    RepoTags: images.tagsOf(rec.id).filter(keep).map(familiarName),
    RepoDigests: rec.repoDigests.filter(keep).map(familiarName),
    Created: Math.floor(Date.parse(created(rec)) / 1000) || 0,
    Size: rec.size,
    SharedSize: -1,
    Labels: rec.config.config?.Labels ?? {},
    Containers: containers,
  };
}

// Docker's ImageHistory: the config's history, newest first, with the layer size of each non-empty entry. The
// entries take the IDs (and tags) of the image and then of its local parents in turn; the rest are <missing>.
export function imageHistory(rec: ImageRecord, images: ImageStore): Record<string, unknown>[] {
  const chains = images.chainIdsOf(rec);
  const out: { Id: string; Created: number; CreatedBy: string; Tags: string[] | null; Size: number; Comment: string }[] = [];
  let layer = 0;
  for (const h of rec.config.history ?? []) {
    let size = 0;
    if (!h.empty_layer) {
      if (layer >= chains.length) throw internal('too many non-empty layers in History section');
      size = images.layers.get(chains[layer])?.size ?? 0;
      layer++;
    }
    out.unshift({ Id: '<missing>', Created: unixSeconds(h.created), CreatedBy: h.created_by ?? '', Tags: null, Size: size, Comment: h.comment ?? '' });
  }
  let img: ImageRecord | undefined = rec;
  for (const entry of out) {
    if (!img) break;
    entry.Id = img.id;
    const tags = images.references(img.id).filter((r) => !r.includes('@')).map(familiarName);
    entry.Tags = tags.length ? tags : null;
    img = img.parent ? images.get(img.parent) : undefined;
  }
  return out;
}

function unixSeconds(t: string | undefined): number {
  if (!t) return 0;
  try {
    return parseRFC3339Nano(t).seconds;
  } catch {
    return 0;
  }
}

// EndpointSettings without Berth's own fields.
function endpointsView(c: ContainerRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, e] of Object.entries(c.NetworkSettings?.Networks ?? {})) {
    const { HostIfname: _h, Ifname: _i, ...rest } = e;
    out[name] = rest;
  }
  return out;
}

// Docker fills the top-level address fields from the default bridge's endpoint only.
function networkSettingsView(c: ContainerRecord): Record<string, unknown> {
  const ns = c.NetworkSettings;
  const b = ns?.Networks.bridge;
  return {
    Bridge: '', SandboxID: ns?.SandboxID ?? '', SandboxKey: ns?.SandboxKey ?? '', Ports: ns?.Ports ?? {}, HairpinMode: false,
    LinkLocalIPv6Address: '', LinkLocalIPv6PrefixLen: 0, SecondaryIPAddresses: null, SecondaryIPv6Addresses: null,
    EndpointID: b?.EndpointID ?? '', Gateway: b?.Gateway ?? '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0,
    IPAddress: b?.IPAddress ?? '', IPPrefixLen: b?.IPPrefixLen ?? 0, IPv6Gateway: '', MacAddress: b?.MacAddress ?? '',
    Networks: endpointsView(c),
  };
}

// ContainerSummary's Ports: published ones with their host side, exposed ones without.
export function portsSummary(c: ContainerRecord): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const [key, bindings] of Object.entries(c.NetworkSettings?.Ports ?? {})) {
    const [p, proto] = key.split('/');
    if (!bindings?.length) out.push({ PrivatePort: Number(p), Type: proto });
    else for (const b of bindings) out.push({ IP: b.HostIp, PrivatePort: Number(p), PublicPort: Number(b.HostPort), Type: proto });
  }
  return out;
}
