// berth network create|ls|inspect|rm|prune|connect|disconnect, with docker 28's flags, request bodies and
// output (cli/command/network in docker/cli).
import type { CommandSpec } from '../command.ts';
import type { FlagDef, FlagValues } from '../flags.ts';
import { parseInt64 } from '../flags.ts';
import { filterFlag, filtersJSON, formatFlag } from '../common-flags.ts';
import { renderRows } from '../format/formatter.ts';
import { formatGoTimeLocal, formatGoTimeString } from '../format/go-time.ts';
import { readConfigFile, truncateID } from '../display.ts';
import { ApiError, StatusError } from '../errors.ts';
import { esc } from '../client.ts';
import { inspectAll, templateCheck, getRaw } from './inspect.ts';
import { promptForConfirmation } from './prune.ts';
import { naturalCompare, trimID } from './port.ts';
import { parseIpv4, parseIpv6 } from '../../lib/ip.ts';

export interface NetworkSummary {
  Name: string;
  Id: string;
  Created?: string;
  Scope?: string;
  Driver?: string;
  EnableIPv4?: boolean;
  EnableIPv6?: boolean;
  Internal?: boolean;
  Ingress?: boolean;
  Labels?: Record<string, string> | null;
}

// ---- flag values -------------------------------------------------------------------------------------

/**
 * pflag's string slices read each occurrence as one CSV record (encoding/csv), so `--subnet a,b` is two
 * subnets and quotes protect commas; malformed quoting is a flag error worded like Go's csv.ParseError.
 */
export function readAsCSV(value: string): string[] {
  if (value === '') return [];
  const fields: string[] = [];
  let i = 0;
  const bad = (col: number, what: string) => new Error(`parse error on line 1, column ${col}: ${what}`);
  for (;;) {
    let field = '';
    if (value[i] === '"') {
      i++;
      for (;;) {
        const q = value.indexOf('"', i);
        if (q < 0) throw bad(value.length + 1, 'extraneous or missing " in quoted-field');
        field += value.slice(i, q);
        i = q + 1;
        if (value[i] === '"') {
          field += '"';
          i++;
        } else if (i >= value.length || value[i] === ',' || value[i] === '\n' || value.startsWith('\r\n', i)) {
          break;
        } else {
          throw bad(q + 1, 'extraneous or missing " in quoted-field');
        }
      }
    } else {
      let end = i;
      while (end < value.length && value[end] !== ',' && value[end] !== '\n') end++;
      field = value.slice(i, end).replace(/\r$/, '');
      const quote = field.indexOf('"');
      if (quote >= 0) throw bad(i + quote + 1, 'bare " in non-quoted-field');
      i = end;
    }
    fields.push(field);
    if (value[i] !== ',') return fields;
    i++;
  }
}

/** opts.ValidateLabel: a non-empty key without blanks; the value may be missing. */
export function validateLabel(value: string): string {
  const eq = value.indexOf('=');
  const key = (eq < 0 ? value : value.slice(0, eq)).trim();
  if (key === '') throw new Error(`invalid label '${value}': empty name`);
  if (/[ \t]/.test(key)) throw new Error(`label '${key}' contains whitespaces`);
  return value;
}

/** opts.ParseLink: "name:alias" or "name". */
function validateLink(value: string): string {
  if (value === '') throw new Error('empty string specified for links');
  if (value.split(':').length > 2) throw new Error(`bad format for links: ${value}`);
  return value;
}

/**
 * key=value items (MapOpts, ConvertKVStringsToMap) as a map: the last value of a key wins, a missing "="
 * gives "", and keys are sorted because Go's encoding/json writes maps that way.
 */
export function kvMap(items: string[]): Record<string, string> {
  const m = new Map<string, string>();
  for (const item of items) {
    const eq = item.indexOf('=');
    m.set(eq < 0 ? item : item.slice(0, eq), eq < 0 ? '' : item.slice(eq + 1));
  }
  return Object.fromEntries([...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** A request body that cannot be built ends the command like docker's plain errors: the message, status 1. */
function buildOrExit<T>(build: () => T): T {
  try {
    return build();
  } catch (err) {
    throw new StatusError((err as Error).message, 1);
  }
}

const stringsFlag = (name: string, desc: string): FlagDef => ({ name, type: 'strings', desc, repeat: true, parse: readAsCSV });
const mapFlag = (name: string, desc: string, short?: string): FlagDef => ({ name, short, type: 'map', desc, repeat: true, defText: 'map[]' });
const boolFlag = (name: string, desc: string, extra: Partial<FlagDef> = {}): FlagDef => ({ name, type: '', desc, ...extra });
const strFlag = (name: string, desc: string, extra: Partial<FlagDef> = {}): FlagDef => ({ name, type: 'string', desc, ...extra });

// ---- addresses (for the IPAM checks of network create) ----------------------------------------------

/** net.ParseIP as 16 bytes (IPv4 in its ::ffff: form), with whether it was written as IPv4; undefined when not an address. */
export function parseIP(s: string): { bytes: Uint8Array; is4: boolean } | undefined {
  // Go refuses zones ("fe80::1%eth0"), which parseIpv6 would drop.
  if (s.includes('%')) return undefined;
  const v4 = parseIpv4(s);
  if (v4) return { bytes: Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...v4]), is4: true };
  const v6 = parseIpv6(s);
  return v6 && { bytes: v6, is4: false };
}

interface Cidr { ip: Uint8Array; mask: Uint8Array }

/** net.ParseCIDR, failing with Go's "invalid CIDR address: ..." message. */
function parseCIDR(s: string): Cidr {
  const slash = s.indexOf('/');
  const addr = slash < 0 ? undefined : parseIP(s.slice(0, slash));
  const bits = slash < 0 ? '' : s.slice(slash + 1);
  const max = addr?.is4 ? 32 : 128;
  if (!addr || !/^[0-9]+$/.test(bits) || Number(bits) > max) throw new Error(`invalid CIDR address: ${s}`);
  const mask = new Uint8Array(max / 8).map((_, k) => 0xff & ~(0xff >> Math.max(0, Math.min(8, Number(bits) - k * 8))));
  return { ip: addr.bytes, mask };
}

/** IP.To4: the 4 bytes of an IPv4 (or IPv4-mapped) address. */
function to4(ip: Uint8Array): Uint8Array | undefined {
  return ip.subarray(0, 10).every((b) => b === 0) && ip[10] === 0xff && ip[11] === 0xff ? ip.subarray(12) : undefined;
}

/** IPNet.Contains with Go's rules for IPv4 inside IPv6 networks. */
function cidrContains(net: Cidr, ip: Uint8Array | undefined): boolean {
  if (!ip) return false;
  const nn = to4(net.ip) ?? net.ip;
  let mask = net.mask;
  if (mask.length === 4 && nn.length !== 4) return false;
  if (mask.length === 16 && nn.length === 4) mask = mask.subarray(12);
  const x = to4(ip) ?? ip;
  if (x.length !== nn.length) return false;
  return x.every((b, k) => (b & mask[k]) === (nn[k] & mask[k]));
}

/** docker's subnetMatches: is data (an address, or an address/bits) inside subnet? */
function subnetMatches(subnet: string, data: string): boolean {
  let net: Cidr;
  try {
    net = parseCIDR(subnet);
  } catch (err) {
    throw new Error(`invalid subnet: ${(err as Error).message}`);
  }
  const ip = data.includes('/') ? parseCIDR(data).ip : parseIP(data)?.bytes;
  return cidrContains(net, ip);
}

// ---- network create ----------------------------------------------------------------------------------

export interface IpamOptions {
  driver: string;
  subnets: string[];
  ipRanges: string[];
  gateways: string[];
  /** --aux-address name=address items. */
  auxAddresses: string[];
  options: Record<string, string>;
}

interface IpamConfig { Subnet: string; IPRange?: string; Gateway?: string; AuxiliaryAddresses?: Record<string, string> }

/**
 * createIPAMConfig: groups each --ip-range, --gateway and --aux-address with the --subnet that contains it,
 * with docker's messages for what fits no subnet or overlaps. One Config entry a subnet, in the given order.
 */
export function ipamConfig(o: IpamOptions): { Driver: string; Options: Record<string, string>; Config: IpamConfig[] } {
  if (o.subnets.length < o.ipRanges.length || o.subnets.length < o.gateways.length) {
    throw new Error('every ip-range or gateway must have a corresponding subnet');
  }
  const data = new Map<string, IpamConfig>();
  for (const s of o.subnets) {
    for (const k of data.keys()) {
      if (subnetMatches(s, k) || subnetMatches(k, s)) throw new Error('multiple overlapping subnet configuration is not supported');
    }
    data.set(s, { Subnet: s });
  }
  const assign = (values: string[], what: string, field: 'IPRange' | 'Gateway', plural: string) => {
    for (const v of values) {
      let match = false;
      for (const s of o.subnets) {
        if (!subnetMatches(s, v)) continue;
        const d = data.get(s)!;
        if (d[field]) throw new Error(`cannot configure multiple ${plural} (${v}, ${d[field]}) ${field === 'IPRange' ? 'on' : 'for'} the same subnet (${s})`);
        d[field] = v;
        match = true;
      }
      if (!match) throw new Error(`no matching subnet for ${what} ${v}`);
    }
  };
  assign(o.ipRanges, 'range', 'IPRange', 'ranges');
  assign(o.gateways, 'gateway', 'Gateway', 'gateways');
  for (const [name, address] of Object.entries(kvMap(o.auxAddresses))) {
    let match = false;
    for (const s of o.subnets) {
      if (!subnetMatches(s, address)) continue;
      // Names come in sorted order, so each subnet's map is sorted like Go's JSON output.
      (data.get(s)!.AuxiliaryAddresses ??= {})[name] = address;
      match = true;
    }
    if (!match) throw new Error(`no matching subnet for aux-address ${address}`);
  }
  // Field order as docker's JSON has it: Subnet, IPRange, Gateway, AuxiliaryAddresses.
  const config = [...data.values()].map((d) => ({
    Subnet: d.Subnet,
    ...(d.IPRange ? { IPRange: d.IPRange } : {}),
    ...(d.Gateway ? { Gateway: d.Gateway } : {}),
    ...(d.AuxiliaryAddresses ? { AuxiliaryAddresses: d.AuxiliaryAddresses } : {}),
  }));
  return { Driver: o.driver, Options: o.options, Config: config };
}

/** The POST /networks/create body docker 28 sends for these flags (same fields, same order). */
export function createRequest(name: string, flags: FlagValues): Record<string, unknown> {
  const ipam = ipamConfig({
    driver: flags.str('ipam-driver'),
    subnets: flags.list('subnet'),
    ipRanges: flags.list('ip-range'),
    gateways: flags.list('gateway'),
    auxAddresses: flags.list('aux-address'),
    options: kvMap(flags.list('ipam-opt')),
  });
  const configFrom = flags.str('config-from');
  return {
    Driver: flags.str('driver'),
    Scope: flags.str('scope'),
    // Sent only when given, so the daemon's defaults apply otherwise.
    ...(flags.changed('ipv4') ? { EnableIPv4: flags.bool('ipv4') } : {}),
    ...(flags.changed('ipv6') ? { EnableIPv6: flags.bool('ipv6') } : {}),
    IPAM: ipam,
    Internal: flags.bool('internal'),
    Attachable: flags.bool('attachable'),
    Ingress: flags.bool('ingress'),
    ConfigOnly: flags.bool('config-only'),
    ConfigFrom: configFrom === '' ? null : { Network: configFrom },
    Options: kvMap(flags.list('opt')),
    Labels: kvMap(flags.list('label')),
    Name: name,
  };
}

export const networkCreateCommand: CommandSpec = {
  usage: '[OPTIONS] NETWORK',
  short: 'Create a network',
  flags: [
    boolFlag('attachable', 'Enable manual container attachment'),
    mapFlag('aux-address', 'Auxiliary IPv4 or IPv6 addresses used by Network driver'),
    strFlag('config-from', 'The network from which to copy the configuration'),
    boolFlag('config-only', 'Create a configuration only network'),
    strFlag('driver', 'Driver to manage the Network', { short: 'd', def: 'bridge', defText: '"bridge"' }),
    stringsFlag('gateway', 'IPv4 or IPv6 Gateway for the master subnet'),
    boolFlag('ingress', 'Create swarm routing-mesh network'),
    boolFlag('internal', 'Restrict external access to the network'),
    stringsFlag('ip-range', 'Allocate container ip from a sub-range'),
    strFlag('ipam-driver', 'IP Address Management Driver', { def: 'default', defText: '"default"' }),
    mapFlag('ipam-opt', 'Set IPAM driver specific options'),
    boolFlag('ipv4', 'Enable or disable IPv4 address assignment', { def: true, defText: 'true' }),
    boolFlag('ipv6', 'Enable or disable IPv6 address assignment'),
    { name: 'label', type: 'list', desc: 'Set metadata on a network', repeat: true, parse: validateLabel },
    mapFlag('opt', 'Set driver specific options', 'o'),
    strFlag('scope', "Control the network's scope"),
    stringsFlag('subnet', 'Subnet in CIDR format that represents a network segment'),
  ],
  args: { exact: 1 },
  async run(cli, flags, args) {
    const body = buildOrExit(() => createRequest(args[0], flags));
    const res = await cli.client().json<{ Id: string }>('POST', '/networks/create', { json: body });
    cli.out.write(`${res.Id}\n`);
  },
};

// ---- network ls --------------------------------------------------------------------------------------

/** time.Time.String() of an RFC 3339 time as Go decodes it: "Z" stays UTC, the local offset becomes the local zone. */
export function goTimeString(rfc3339: string | undefined): string {
  const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|([+-])(\d\d):(\d\d))$/.exec(rfc3339 ?? '0001-01-01T00:00:00Z');
  if (!m) return rfc3339 ?? '';
  const nanos = Number((m[7] ?? '').padEnd(9, '0'));
  const wall = new Date(0);
  wall.setUTCFullYear(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  wall.setUTCHours(Number(m[4]), Number(m[5]), Number(m[6]), Math.floor(nanos / 1e6));
  if (m[8] === 'Z') return formatGoTimeString(wall, nanos % 1e6);
  const offsetMin = (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11]));
  const instant = new Date(wall.getTime() - offsetMin * 60000);
  if (-instant.getTimezoneOffset() === offsetMin) return formatGoTimeLocal(instant, nanos % 1e6);
  // An offset the local zone does not use: Go invents a zone without a name and prints the offset twice.
  const zone = `${m[9]}${m[10]}${m[11]}`;
  return formatGoTimeString(wall, nanos % 1e6).replace(/\+0000 UTC$/, `${zone} ${zone}`);
}

const lsHeader = {
  ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE', IPv4: 'IPV4', IPv6: 'IPV6', Internal: 'INTERNAL',
  Labels: 'LABELS', CreatedAt: 'CREATED AT',
  // SubHeaderContext.Label: the title of a {{.Label "com.example.some-key"}} column is "some key".
  Label: (name: string) => (name.split('.').pop() ?? '').replace(/[-_]/g, ' '),
} as unknown as Record<string, string>;

/** One row of docker's networkContext. */
export function networkRow(n: NetworkSummary, trunc: boolean) {
  const labels = n.Labels ?? {};
  return {
    ID: trunc ? truncateID(n.Id) : n.Id,
    Name: n.Name,
    Driver: n.Driver ?? '',
    Scope: n.Scope ?? '',
    IPv4: String(n.EnableIPv4 === true),
    IPv6: String(n.EnableIPv6 === true),
    Internal: String(n.Internal === true),
    Labels: Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(','),
    CreatedAt: goTimeString(n.Created),
    Label: (name: string) => labels[name] ?? '',
  };
}

/** `network ls` output for a --format value ("table" and "raw" are docker's named formats). */
export function renderNetworks(list: NetworkSummary[], format: string, opts: { quiet: boolean; trunc: boolean }): string {
  let tmpl = format;
  if (format === 'table') tmpl = opts.quiet ? '{{.ID}}' : 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}';
  else if (format === 'raw') tmpl = opts.quiet ? 'network_id: {{.ID}}' : 'network_id: {{.ID}}\\nname: {{.Name}}\\ndriver: {{.Driver}}\\nscope: {{.Scope}}\\n';
  const rows = [...list].sort((a, b) => naturalCompare(a.Name, b.Name)).map((n) => networkRow(n, opts.trunc));
  return renderRows(tmpl, rows, lsHeader, { typeName: '*network.networkContext' });
}

export const networkLsCommand: CommandSpec = {
  usage: '[OPTIONS]',
  short: 'List networks',
  aliases: ['network ls', 'network list'],
  flags: [
    { ...filterFlag(), desc: 'Provide filter values (e.g. "driver=bridge")' },
    formatFlag({ table: true }),
    boolFlag('no-trunc', 'Do not truncate the output'),
    boolFlag('quiet', 'Only display network IDs', { short: 'q' }),
  ],
  args: { none: true },
  async run(cli, flags) {
    const quiet = flags.bool('quiet');
    let format = flags.str('format');
    if (format === '') format = (!quiet && (readConfigFile(cli.configDir) as { networksFormat?: string }).networksFormat) || 'table';
    const list = await cli.client().json<NetworkSummary[] | null>('GET', '/networks', { query: { filters: filtersJSON(flags.list('filter')) } });
    cli.out.write(renderNetworks(list ?? [], format, { quiet, trunc: !flags.bool('no-trunc') }));
  },
};

// ---- network inspect / rm / prune --------------------------------------------------------------------

const networkPath = (ref: string) => `/networks/${esc(trimID('network', ref))}`;

export const networkInspectCommand: CommandSpec = {
  usage: '[OPTIONS] NETWORK [NETWORK...]',
  short: 'Display detailed information on one or more networks',
  flags: [formatFlag({ table: false, short: true }), boolFlag('verbose', 'Verbose output for diagnostics', { short: 'v' })],
  args: { min: 1 },
  async run(cli, flags, args) {
    templateCheck(flags.str('format'));
    // docker sends "verbose=true" (the client's boolean query values would say "1").
    const query = flags.bool('verbose') ? '?verbose=true' : '';
    await inspectAll(cli, args, flags.str('format'), (ref) => getRaw(cli, networkPath(ref) + query));
  },
};

const INGRESS_WARNING = 'WARNING! Before removing the routing-mesh network, make sure all the nodes in your swarm run the same docker engine version. '
  + 'Otherwise, removal may not be effective and functionality of newly create ingress networks will be impaired.\nAre you sure you want to continue?';

export const networkRmCommand: CommandSpec = {
  usage: 'NETWORK [NETWORK...]',
  short: 'Remove one or more networks',
  aliases: ['network rm', 'network remove'],
  flags: [boolFlag('force', 'Do not error if the network does not exist', { short: 'f' })],
  args: { min: 1 },
  async run(cli, flags, args) {
    const client = cli.client();
    let status = 0;
    for (const name of args) {
      try {
        const path = networkPath(name);
        // docker looks at each network first, to ask before removing the swarm routing mesh.
        const ingress = await client.json<NetworkSummary>('GET', path).then((n) => n?.Ingress === true, () => false);
        if (ingress && !(await promptForConfirmation(cli, INGRESS_WARNING))) continue;
        await client.call('DELETE', path);
      } catch (err) {
        if (flags.bool('force') && err instanceof ApiError && err.statusCode === 404) continue;
        // Each failure is reported as it happens; the other networks are still removed.
        cli.err.write(`${(err as Error).message}\n`);
        status = 1;
        continue;
      }
      cli.out.write(`${name}\n`);
    }
    if (status !== 0) throw new StatusError(`exit status ${status}`, status);
  },
};

const PRUNE_WARNING = 'WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue?';

export const networkPruneCommand: CommandSpec = {
  usage: '[OPTIONS]',
  short: 'Remove all unused networks',
  flags: [
    { ...filterFlag(), short: undefined, desc: 'Provide filter values (e.g. "until=<timestamp>")' },
    boolFlag('force', 'Do not prompt for confirmation', { short: 'f' }),
  ],
  args: { none: true },
  async run(cli, flags) {
    // A "no" ends the command quietly with status 0, like docker 28.
    if (!flags.bool('force') && !(await promptForConfirmation(cli, PRUNE_WARNING))) return 0;
    const report = await cli.client().json<{ NetworksDeleted?: string[] | null }>('POST', '/networks/prune', { query: { filters: filtersJSON(flags.list('filter')) } });
    const deleted = report?.NetworksDeleted ?? [];
    if (deleted.length > 0) cli.out.write(`Deleted Networks:\n${deleted.map((n) => `${n}\n`).join('')}\n`);
    return 0;
  },
};

// ---- network connect / disconnect --------------------------------------------------------------------

/** The POST /networks/{id}/connect body docker 28 sends: a whole EndpointSettings, operational fields zero. */
export function connectRequest(container: string, flags: FlagValues): Record<string, unknown> {
  const driverOpts: string[] = [];
  for (const opt of flags.list('driver-opt')) {
    const eq = opt.indexOf('=');
    const key = (eq < 0 ? opt : opt.slice(0, eq)).trim();
    if (eq < 0 || key === '') throw new Error('invalid key/value pair format in driver options');
    driverOpts.push(`${key}=${opt.slice(eq + 1).trim()}`);
  }
  const links = flags.list('link');
  const linkLocal = flags.list('link-local-ip');
  return {
    Container: container,
    EndpointConfig: {
      IPAMConfig: {
        ...(flags.str('ip') ? { IPv4Address: flags.str('ip') } : {}),
        ...(flags.str('ip6') ? { IPv6Address: flags.str('ip6') } : {}),
        ...(linkLocal.length > 0 ? { LinkLocalIPs: linkLocal } : {}),
      },
      Links: links.length > 0 ? links : null,
      Aliases: flags.list('alias'),
      MacAddress: '',
      DriverOpts: kvMap(driverOpts),
      GwPriority: flags.num('gw-priority'),
      NetworkID: '', EndpointID: '', Gateway: '', IPAddress: '', IPPrefixLen: 0, IPv6Gateway: '', GlobalIPv6Address: '',
      GlobalIPv6PrefixLen: 0, DNSNames: null,
    },
  };
}

export const networkConnectCommand: CommandSpec = {
  usage: '[OPTIONS] NETWORK CONTAINER',
  short: 'Connect a container to a network',
  flags: [
    stringsFlag('alias', 'Add network-scoped alias for the container'),
    stringsFlag('driver-opt', 'driver options for the network'),
    { name: 'gw-priority', type: 'int', desc: 'Highest gw-priority provides the default gateway. Accepts positive and negative values.', parse: parseInt64, def: 0 },
    strFlag('ip', 'IPv4 address (e.g., "172.30.100.104")'),
    strFlag('ip6', 'IPv6 address (e.g., "2001:db8::33")'),
    { name: 'link', type: 'list', desc: 'Add link to another container', repeat: true, parse: validateLink },
    stringsFlag('link-local-ip', 'Add a link-local address for the container'),
  ],
  args: { exact: 2 },
  async run(cli, flags, args) {
    const body = buildOrExit(() => connectRequest(args[1], flags));
    await cli.client().call('POST', `${networkPath(args[0])}/connect`, { json: body });
  },
};

export const networkDisconnectCommand: CommandSpec = {
  usage: '[OPTIONS] NETWORK CONTAINER',
  short: 'Disconnect a container from a network',
  flags: [boolFlag('force', 'Force the container to disconnect from a network', { short: 'f' })],
  args: { exact: 2 },
  async run(cli, flags, args) {
    await cli.client().call('POST', `${networkPath(args[0])}/disconnect`, { json: { Container: args[1], Force: flags.bool('force') } });
  },
};
