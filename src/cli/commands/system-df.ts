// berth system df: GET /system/df rendered like docker 28's DiskUsageContext (cli/command/formatter/disk_usage.go):
// one summary row per type, or with -v a table per type. Daemons before API 1.52 send the object lists
// (LayersSize, Images, Containers, Volumes, BuildCache) and the CLI counts; newer ones also send the totals
// (ImageUsage, ContainerUsage, ...), used here when the lists are missing.
import type { CommandSpec } from '../command.ts';
import { formatFlag } from '../common-flags.ts';
import { StatusError } from '../errors.ts';
import { renderRows, parseFormat } from '../format/formatter.ts';
import { formatterContext, goType } from '../format/go-fmt.ts';
import { createdSince, formatGoTimeString } from '../format/go-time.ts';
import { truncateID } from '../display.ts';
import { humanSize, humanSizeWithPrecision } from '../../lib/units.ts';
import { parseNormalizedNamed, familiarName } from '../reference.ts';
import { imageRow, type ImageSummary } from './images.ts';
import { containerRow, type ContainerSummary } from './ps.ts';

export interface VolumeUsage {
  Name: string;
  Driver?: string;
  Mountpoint?: string;
  Scope?: string;
  Labels?: Record<string, string> | null;
  UsageData?: { Size: number; RefCount: number } | null;
}

export interface BuildCacheRecord {
  ID: string;
  Parents?: string[] | null;
  Type?: string;
  Description?: string;
  InUse?: boolean;
  Shared?: boolean;
  Size?: number;
  CreatedAt?: string;
  LastUsedAt?: string | null;
  UsageCount?: number;
}

interface UsageTotals { ActiveCount?: number; TotalCount?: number; Reclaimable?: number; TotalSize?: number; Items?: unknown[] | null }

export interface DiskUsage {
  LayersSize?: number;
  Images?: ImageSummary[] | null;
  Containers?: ContainerSummary[] | null;
  Volumes?: VolumeUsage[] | null;
  BuildCache?: BuildCacheRecord[] | null;
  ImageUsage?: UsageTotals;
  ContainerUsage?: UsageTotals;
  VolumeUsage?: UsageTotals;
  BuildCacheUsage?: UsageTotals;
}

// units.HumanSize
const hs = (n: number) => humanSizeWithPrecision(n, 4);

/** "1.2MB (50%)" as docker prints a reclaimable size; the percentage is integer division. */
function reclaimableText(reclaimable: number, total: number): string {
  if (total > 0) return `${hs(reclaimable)} (${Math.trunc((reclaimable * 100) / total)}%)`;
  return hs(reclaimable);
}

function summaryRow(type: string, total: number, active: number, size: string, reclaimable: string) {
  return { [formatterContext]: true, Type: type, TotalCount: String(total), Active: String(active), Size: size, Reclaimable: reclaimable };
}

function isActiveContainer(c: ContainerSummary): boolean {
  const s = c.State ?? '';
  return s.includes('running') || s.includes('paused') || s.includes('restarting');
}

/** The four summary rows (Images, Containers, Local Volumes, Build Cache). */
export function summaryRows(du: DiskUsage) {
  const rows = [];
  if (du.Images !== undefined || du.ImageUsage === undefined) {
    const images = du.Images ?? [];
    const total = du.LayersSize ?? 0;
    let used = 0;
    for (const i of images) {
      if ((i.Containers ?? 0) !== 0 && (i.Size ?? 0) !== -1 && (i.SharedSize ?? 0) !== -1) used += (i.Size ?? 0) - (i.SharedSize ?? 0);
    }
    rows.push(summaryRow('Images', images.length, images.filter((i) => (i.Containers ?? 0) > 0).length, hs(total), reclaimableText(total - used, total)));
  } else {
    const u = du.ImageUsage;
    rows.push(summaryRow('Images', u.TotalCount ?? 0, u.ActiveCount ?? 0, hs(u.TotalSize ?? 0), reclaimableText(u.Reclaimable ?? 0, u.TotalSize ?? 0)));
  }
  if (du.Containers !== undefined || du.ContainerUsage === undefined) {
    const containers = du.Containers ?? [];
    let size = 0;
    let reclaimable = 0;
    for (const c of containers) {
      size += c.SizeRw ?? 0;
      if (!isActiveContainer(c)) reclaimable += c.SizeRw ?? 0;
    }
    rows.push(summaryRow('Containers', containers.length, containers.filter(isActiveContainer).length, hs(size), reclaimableText(reclaimable, size)));
  } else {
    const u = du.ContainerUsage;
    rows.push(summaryRow('Containers', u.TotalCount ?? 0, u.ActiveCount ?? 0, hs(u.TotalSize ?? 0), reclaimableText(u.Reclaimable ?? 0, u.TotalSize ?? 0)));
  }
  if (du.Volumes !== undefined || du.VolumeUsage === undefined) {
    const volumes = du.Volumes ?? [];
    let size = 0;
    let reclaimable = 0;
    for (const v of volumes) {
      const s = v.UsageData?.Size ?? -1;
      if (s === -1) continue;
      size += s;
      if ((v.UsageData?.RefCount ?? 0) === 0) reclaimable += s;
    }
    rows.push(summaryRow('Local Volumes', volumes.length, volumes.filter((v) => (v.UsageData?.RefCount ?? 0) > 0).length, hs(size), reclaimableText(reclaimable, size)));
  } else {
    const u = du.VolumeUsage;
    rows.push(summaryRow('Local Volumes', u.TotalCount ?? 0, u.ActiveCount ?? 0, hs(u.TotalSize ?? 0), reclaimableText(u.Reclaimable ?? 0, u.TotalSize ?? 0)));
  }
  if (du.BuildCache !== undefined || du.BuildCacheUsage === undefined) {
    const cache = du.BuildCache ?? [];
    let size = 0;
    let inUse = 0;
    for (const b of cache) {
      if (!b.Shared) size += b.Size ?? 0;
      if (b.InUse && !b.Shared) inUse += b.Size ?? 0;
    }
    rows.push(summaryRow('Build Cache', cache.length, cache.filter((b) => b.InUse).length, hs(size), hs(size - inUse)));
  } else {
    const u = du.BuildCacheUsage;
    rows.push(summaryRow('Build Cache', u.TotalCount ?? 0, u.ActiveCount ?? 0, hs(u.TotalSize ?? 0), hs(u.Reclaimable ?? 0)));
  }
  return rows;
}

const summaryHeader = { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' };
const SUMMARY_TABLE = 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}';
const SUMMARY_RAW = 'type: {{.Type}}\ntotal: {{.TotalCount}}\nactive: {{.Active}}\nsize: {{.Size}}\nreclaimable: {{.Reclaimable}}\n';

const IMAGE_TABLE = 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}';
const CONTAINER_TABLE = 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}';
const VOLUME_TABLE = 'table {{.Name}}\t{{.Links}}\t{{.Size}}';
const BUILD_CACHE_TABLE = 'table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}';

const VERBOSE_RAW = '{{range .Images}}type: Image\n'
  + 'repository: {{ .Repository }}\ntag: {{.Tag}}\ndigest: {{.Digest}}\nimage_id: {{.ID}}\ncreated_at: {{.CreatedAt}}\nvirtual_size: {{.Size}}\n'
  + '\n{{end -}}\n{{range .Containers}}type: Container\n'
  + 'container_id: {{.ID}}\nimage: {{.Image}}\ncommand: {{.Command}}\ncreated_at: {{.CreatedAt}}\nstate: {{- pad .State 1 0}}\n'
  + 'status: {{- pad .Status 1 0}}\nnames: {{.Names}}\nlabels: {{- pad .Labels 1 0}}\nports: {{- pad .Ports 1 0}}\nsize: {{.Size}}\\n'
  + '\n{{end -}}\n{{range .Volumes}}type: Volume\n'
  + 'name: {{.Name}}\\ndriver: {{.Driver}}\\n'
  + '\n{{end -}}\n{{range .BuildCache}}type: Build Cache\n'
  + 'build_cache_id: {{.ID}}\nparent_id: {{.Parent}}\nbuild_cache_type: {{.CacheType}}\ndescription: {{.Description}}\n'
  + 'created_at: {{.CreatedAt}}\ncreated_since: {{.CreatedSince}}\nlast_used_at: {{.LastUsedAt}}\nlast_used_since: {{.LastUsedSince}}\n'
  + 'usage_count: {{.UsageCount}}\nin_use: {{.InUse}}\nshared: {{.Shared}}\n'
  + '\n{{end -}}';

const imageHeader = {
  ID: 'IMAGE ID', Repository: 'REPOSITORY', Tag: 'TAG', Digest: 'DIGEST', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT',
  Size: 'SIZE', Containers: 'CONTAINERS', VirtualSize: 'SIZE', SharedSize: 'SHARED SIZE', UniqueSize: 'UNIQUE SIZE',
};
const containerHeader = {
  ID: 'CONTAINER ID', Names: 'NAMES', Image: 'IMAGE', Command: 'COMMAND', CreatedAt: 'CREATED AT', RunningFor: 'CREATED',
  Ports: 'PORTS', State: 'STATE', Status: 'STATUS', Size: 'SIZE', Labels: 'LABELS', Mounts: 'MOUNTS',
  LocalVolumes: 'LOCAL VOLUMES', Networks: 'NETWORKS', Platform: 'PLATFORM',
};
const volumeHeader = {
  ID: 'ID', Name: 'VOLUME NAME', Group: 'GROUP', Driver: 'DRIVER', Scope: 'SCOPE', Availability: 'AVAILABILITY',
  Mountpoint: 'MOUNTPOINT', Labels: 'LABELS', Links: 'LINKS', Size: 'SIZE', Status: 'STATUS',
};
const buildCacheHeader = {
  ID: 'CACHE ID', Parent: 'PARENT', CacheType: 'CACHE TYPE', Size: 'SIZE', CreatedSince: 'CREATED', LastUsedSince: 'LAST USED',
  UsageCount: 'USAGE', InUse: 'IN USE', Shared: 'SHARED', Description: 'DESCRIPTION',
};

function isDangling(img: ImageSummary): boolean {
  const tags = img.RepoTags ?? [];
  const digests = img.RepoDigests ?? [];
  if (tags.length === 0 && digests.length === 0) return true;
  return tags.length === 1 && tags[0] === '<none>:<none>' && digests.length === 1 && digests[0] === '<none>@<none>';
}

/** Images of -v: one row each, named by the first tag only. */
function verboseImageRows(images: ImageSummary[], trunc: boolean, now: Date) {
  const rows = [];
  for (const img of images) {
    let repo = '<none>';
    let tag = '<none>';
    const first = img.RepoTags?.[0];
    if (first !== undefined && !isDangling(img)) {
      let ref;
      try {
        ref = parseNormalizedNamed(first);
      } catch {
        continue;
      }
      if (ref.tag !== undefined && ref.digest === undefined) {
        repo = familiarName(ref.name);
        tag = ref.tag;
      }
    }
    rows.push(imageRow(img, repo, tag, '', trunc, now));
  }
  return rows;
}

function volumeRow(v: VolumeUsage) {
  const labels = v.Labels ?? {};
  return {
    [formatterContext]: true,
    Name: v.Name,
    Driver: v.Driver ?? '',
    Scope: v.Scope ?? '',
    Mountpoint: v.Mountpoint ?? '',
    Labels: Object.entries(labels).map(([k, x]) => `${k}=${x}`).join(','),
    Label: (name: string) => labels[name] ?? '',
    Links: v.UsageData ? String(v.UsageData.RefCount) : 'N/A',
    Size: v.UsageData ? hs(v.UsageData.Size) : 'N/A',
    Group: 'N/A',
    Availability: 'N/A',
    Status: 'N/A',
  };
}

function goTimeString(s: string | null | undefined): string {
  return s ? formatGoTimeString(new Date(s)) : '';
}

/** Build cache of -v, least recently used first (buildCacheSort). */
function buildCacheRows(cache: BuildCacheRecord[], trunc: boolean, now: Date) {
  const sorted = [...cache].sort((a, b) => {
    const la = a.LastUsedAt ? Date.parse(a.LastUsedAt) : undefined;
    const lb = b.LastUsedAt ? Date.parse(b.LastUsedAt) : undefined;
    if (la === undefined && lb === undefined) return a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0;
    if (la === undefined) return -1;
    if (lb === undefined) return 1;
    if (la === lb) return a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0;
    return la - lb;
  });
  return sorted.map((b) => {
    const id = trunc ? truncateID(b.ID) : b.ID;
    const parent = (b.Parents ?? []).join(', ');
    return {
      [formatterContext]: true,
      ID: b.InUse ? `${id}*` : id,
      Parent: trunc ? truncateID(parent) : parent,
      CacheType: b.Type ?? '',
      Description: b.Description ?? '',
      Size: humanSize(b.Size ?? 0),
      CreatedAt: goTimeString(b.CreatedAt),
      CreatedSince: b.CreatedAt ? createdSince(new Date(b.CreatedAt), now) : '',
      LastUsedAt: goTimeString(b.LastUsedAt),
      LastUsedSince: b.LastUsedAt ? createdSince(new Date(b.LastUsedAt), now) : '',
      UsageCount: String(b.UsageCount ?? 0),
      InUse: String(b.InUse === true),
      Shared: String(b.Shared === true),
    };
  });
}

function items<T>(list: T[] | null | undefined, totals: UsageTotals | undefined): T[] {
  return list ?? ((totals?.Items ?? []) as T[]);
}

/** The output of `system df` for a --format value ("" is the table) with or without -v. */
export function renderDiskUsage(du: DiskUsage, format: string, verbose: boolean, now = new Date()): string {
  const f = format === '' ? 'table' : format;
  if (!verbose) {
    const tmpl = f === 'table' ? SUMMARY_TABLE : f === 'raw' ? SUMMARY_RAW : f;
    return renderRows(tmpl, summaryRows(du), summaryHeader, { typeName: '*formatter.diskUsageImagesContext' });
  }
  const trunc = f.startsWith('table');
  const images = verboseImageRows(items(du.Images, du.ImageUsage), trunc, now);
  const containers = items(du.Containers, du.ContainerUsage).map((c) => containerRow({ ...c, SizeRootFs: 0 }, trunc, now));
  const volumes = items(du.Volumes, du.VolumeUsage).map(volumeRow);
  const cache = buildCacheRows(items(du.BuildCache, du.BuildCacheUsage), trunc, now);
  if (f === 'table') {
    let builderSize = 0;
    if (du.BuildCache !== undefined || du.BuildCacheUsage === undefined) {
      for (const b of du.BuildCache ?? []) if (!b.Shared) builderSize += b.Size ?? 0;
    } else {
      builderSize = du.BuildCacheUsage.TotalSize ?? 0;
    }
    return 'Images space usage:\n\n'
      + renderRows(IMAGE_TABLE, images, imageHeader, { typeName: '*formatter.imageContext' })
      + '\nContainers space usage:\n\n'
      + renderRows(CONTAINER_TABLE, containers, containerHeader, { typeName: '*formatter.ContainerContext' })
      + '\nLocal Volumes space usage:\n\n'
      + renderRows(VOLUME_TABLE, volumes, volumeHeader, { typeName: '*formatter.volumeContext' })
      + `\nBuild cache usage: ${hs(builderSize)}\n\n`
      + renderRows(BUILD_CACHE_TABLE, cache, buildCacheHeader, { typeName: '*formatter.buildCacheContext' });
  }
  const data = { [goType]: '*formatter.diskUsageContext', Images: images, Containers: containers, Volumes: volumes, BuildCache: cache };
  // NewDiskUsageFormat's verbose raw template (its literal backslash-n sequences become newlines when the format
  // is prepared, as in docker).
  const tmpl = f === 'raw' ? VERBOSE_RAW : f;
  // Any other format is one template over all four lists, printed without a newline after it (as docker does).
  return parseFormat(tmpl).execute(data);
}

export const systemDfCommand: CommandSpec = {
  usage: '[OPTIONS]',
  short: 'Show docker disk usage',
  flags: [
    formatFlag({ table: true }),
    { name: 'verbose', short: 'v', type: '', desc: 'Show detailed information on space usage' },
  ],
  args: { none: true },
  async run(cli, flags) {
    const du = await cli.client().json<DiskUsage>('GET', '/system/df');
    let out: string;
    try {
      out = renderDiskUsage(du ?? {}, flags.str('format'), flags.bool('verbose'));
    } catch (err) {
      throw new StatusError((err as Error).message, 1);
    }
    cli.out.write(out);
  },
};
