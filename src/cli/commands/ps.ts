// berth ps: GET /containers/json rendered like docker's ContainerContext (cli/command/formatter/container.go).
import type { Cli, CommandSpec } from '../command.ts';
import { parseInt64, goQuote } from '../flags.ts';
import { formatFlag, filterFlag, filtersJSON } from '../common-flags.ts';
import { ellipsis, truncateID, readConfigFile, stripNamePrefix } from '../display.ts';
import { renderRows } from '../format/formatter.ts';
import { humanSize } from '../../lib/units.ts';
import { formatGoTimeString, createdSince } from '../format/go-time.ts';
import { formatterContext } from '../format/go-fmt.ts';
import { parseNormalizedNamed, familiarString } from '../reference.ts';

export interface ContainerSummary {
  Id: string;
  Names?: string[] | null;
  Image?: string;
  ImageID?: string;
  Command?: string;
  Created?: number;
  Ports?: Port[] | null;
  SizeRw?: number;
  SizeRootFs?: number;
  Labels?: Record<string, string> | null;
  State?: string;
  Status?: string;
  NetworkSettings?: { Networks?: Record<string, unknown> | null } | null;
  Mounts?: { Name?: string; Source?: string; Driver?: string }[] | null;
}

interface Port { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }

// docker's SubHeaderContext: column titles, plus Label(name) giving the title of a {{.Label "x"}} column.
const header = {
  Label: (name: string) => (name.split('.').pop() ?? '').replace(/[-_]/g, ' '),
  ID: 'CONTAINER ID', Names: 'NAMES', Image: 'IMAGE', Command: 'COMMAND', CreatedAt: 'CREATED AT', RunningFor: 'CREATED',
  Ports: 'PORTS', State: 'STATE', Status: 'STATUS', Size: 'SIZE', Labels: 'LABELS', Mounts: 'MOUNTS',
  LocalVolumes: 'LOCAL VOLUMES', Networks: 'NETWORKS', Platform: 'PLATFORM',
} as unknown as Record<string, string>;

const defaultTable = 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';

function comparePorts(a: Port, b: Port): number {
  if (a.PrivatePort !== b.PrivatePort) return a.PrivatePort - b.PrivatePort;
  const ai = a.IP ?? '';
  const bi = b.IP ?? '';
  if (ai !== bi) return ai < bi ? -1 : 1;
  if ((a.PublicPort ?? 0) !== (b.PublicPort ?? 0)) return (a.PublicPort ?? 0) - (b.PublicPort ?? 0);
  return a.Type < b.Type ? -1 : a.Type > b.Type ? 1 : 0;
}

function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** formatter.DisplayablePorts: consecutive ports grouped into ranges, host mappings last. */
export function displayablePorts(ports: Port[]): string {
  const groups = new Map<string, { first: number; last: number }>();
  const result: string[] = [];
  const hostMappings: string[] = [];
  const formGroup = (key: string, first: number, last: number) => {
    const slash = key.lastIndexOf('/');
    const ip = slash >= 0 ? key.slice(0, slash) : '';
    const type = slash >= 0 ? key.slice(slash + 1) : key;
    let g = first === last ? `${first}` : `${first}-${last}`;
    if (ip) g = `${ip}:${g}->${g}`;
    return `${g}/${type}`;
  };
  for (const p of [...ports].sort(comparePorts)) {
    let key = p.Type;
    if (p.IP) {
      if (p.PublicPort !== p.PrivatePort) {
        hostMappings.push(`${joinHostPort(p.IP, p.PublicPort ?? 0)}->${p.PrivatePort}/${p.Type}`);
        continue;
      }
      key = `${p.IP}/${p.Type}`;
    }
    const g = groups.get(key);
    if (!g) {
      groups.set(key, { first: p.PrivatePort, last: p.PrivatePort });
      continue;
    }
    if (p.PrivatePort === g.last + 1) {
      g.last = p.PrivatePort;
      continue;
    }
    result.push(formGroup(key, g.first, g.last));
    // Go re-inserts the key, which keeps its original position in the key order.
    groups.set(key, { first: p.PrivatePort, last: p.PrivatePort });
  }
  for (const [key, g] of groups) result.push(formGroup(key, g.first, g.last));
  return [...result, ...hostMappings].join(', ');
}

function imageColumn(c: ContainerSummary, trunc: boolean): string {
  const image = c.Image ?? '';
  if (image === '') return '<no image>';
  if (!trunc) return image;
  const short = truncateID(c.ImageID ?? '');
  if (short === truncateID(image)) return short;
  try {
    const ref = parseNormalizedNamed(image);
    return familiarString({ name: ref.name, tag: ref.tag });
  } catch {
    return image;
  }
}

/** One row of docker's ContainerContext. */
export function containerRow(c: ContainerSummary, trunc: boolean, now = new Date()) {
  let names = stripNamePrefix(c.Names ?? []);
  if (trunc) {
    const plain = names.find((n) => !n.includes('/'));
    if (plain !== undefined) names = [plain];
  }
  const created = new Date((c.Created ?? 0) * 1000);
  const labels = c.Labels ?? {};
  const sizeRw = humanSize(c.SizeRw ?? 0);
  const mounts = (c.Mounts ?? []).map((m) => {
    const name = m.Name || m.Source || '';
    return trunc ? ellipsis(name, 15) : name;
  });
  return {
    [formatterContext]: true,
    Command: goQuote(trunc ? ellipsis(c.Command ?? '', 20) : (c.Command ?? '')),
    CreatedAt: formatGoTimeString(created),
    ID: trunc ? truncateID(c.Id) : c.Id,
    Image: imageColumn(c, trunc),
    Labels: Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(','),
    LocalVolumes: String((c.Mounts ?? []).filter((m) => m.Driver === 'local').length),
    Mounts: mounts.join(','),
    Names: names.join(','),
    Networks: Object.keys(c.NetworkSettings?.Networks ?? {}).join(','),
    Platform: null,
    Ports: displayablePorts(c.Ports ?? []),
    RunningFor: createdSince(created, now),
    Size: (c.SizeRootFs ?? 0) > 0 ? `${sizeRw} (virtual ${humanSize(c.SizeRootFs ?? 0)})` : sizeRw,
    State: c.State ?? '',
    Status: c.Status ?? '',
    Label: (name: string) => labels[name] ?? '',
  };
}

export const psCommand: CommandSpec = {
  usage: '[OPTIONS]',
  short: 'List containers',
  aliases: ['container ls', 'container list', 'container ps', 'ps'],
  flags: [
    { name: 'all', short: 'a', type: '', desc: 'Show all containers (default shows just running)' },
    filterFlag(),
    formatFlag({ table: true }),
    { name: 'last', short: 'n', type: 'int', desc: 'Show n last created containers (includes all states)', parse: parseInt64, def: -1, defText: '-1' },
    { name: 'latest', short: 'l', type: '', desc: 'Show the latest created container (includes all states)' },
    { name: 'no-trunc', type: '', desc: "Don't truncate output" },
    { name: 'quiet', short: 'q', type: '', desc: 'Only display container IDs' },
    { name: 'size', short: 's', type: '', desc: 'Display total file sizes' },
  ],
  args: { none: true },
  async run(cli: Cli, flags) {
    const quiet = flags.bool('quiet');
    let format = flags.str('format');
    if (format === '') format = (!quiet && readConfigFile(cli.configDir).psFormat) || 'table';
    let size = flags.bool('size');
    // docker asks for sizes when a custom template uses .Size.
    if (format !== 'table' && /\.Size\b/.test(format)) size = true;
    let limit = flags.num('last');
    if (flags.bool('latest') && limit === -1) limit = 1;
    const list = await cli.client().json<ContainerSummary[]>('GET', '/containers/json', {
      query: {
        all: flags.bool('all'),
        limit: limit > 0 ? limit : undefined,
        size,
        filters: filtersJSON(flags.list('filter')),
      },
    });
    let tmpl = format;
    if (format === 'table') tmpl = quiet ? '{{.ID}}' : defaultTable + (size ? '\t{{.Size}}' : '');
    else if (format === 'raw') {
      tmpl = quiet
        ? 'container_id: {{.ID}}'
        : 'container_id: {{.ID}}\nimage: {{.Image}}\ncommand: {{.Command}}\ncreated_at: {{.CreatedAt}}\nstate: {{- pad .State 1 0}}\nstatus: {{- pad .Status 1 0}}\nnames: {{.Names}}\nlabels: {{- pad .Labels 1 0}}\nports: {{- pad .Ports 1 0}}\n' + (size ? 'size: {{.Size}}\n' : '');
    }
    const trunc = !flags.bool('no-trunc');
    const now = new Date();
    cli.out.write(renderRows(tmpl, (list ?? []).map((c) => containerRow(c, trunc, now)), header, { typeName: '*formatter.ContainerContext' }));
  },
};
