// berth port (container port): the published ports of a container, read from NetworkSettings.Ports of
// GET /containers/{id}/json and printed as docker's runPort prints them.
import type { CommandSpec } from '../command.ts';
import { StatusError } from '../errors.ts';
import { esc, type ApiClient } from '../client.ts';
import { goQuote } from '../flags.ts';

export interface PortBinding { HostIp?: string; HostPort?: string }

/** NetworkSettings.Ports: "80/tcp" -> its host bindings (null when exposed but not published). */
export type PortMap = Record<string, PortBinding[] | null>;

/**
 * sortorder.NaturalLess, which docker sorts port lines and network names with: runs of digits compare by
 * value (fewer leading zeros first on a tie), everything else byte by byte, digits before other bytes.
 */
export function naturalLess(a: string, b: string): boolean {
  const s1 = Buffer.from(a, 'utf8');
  const s2 = Buffer.from(b, 'utf8');
  const digit = (c: number | undefined) => c !== undefined && c >= 0x30 && c <= 0x39;
  let i = 0;
  let j = 0;
  while (i < s1.length && j < s2.length) {
    const d1 = digit(s1[i]);
    const d2 = digit(s2[j]);
    if (d1 !== d2) return d1;
    if (!d1) {
      if (s1[i] !== s2[j]) return s1[i] < s2[j];
      i++;
      j++;
      continue;
    }
    while (i < s1.length && s1[i] === 0x30) i++;
    while (j < s2.length && s2[j] === 0x30) j++;
    const start1 = i;
    const start2 = j;
    while (digit(s1[i])) i++;
    while (digit(s2[j])) j++;
    if (i - start1 !== j - start2) return i - start1 < j - start2;
    const n1 = s1.toString('latin1', start1, i);
    const n2 = s2.toString('latin1', start2, j);
    if (n1 !== n2) return n1 < n2;
    if (start1 !== start2) return start1 < start2;
  }
  return s1.length < s2.length;
}

/** Array.prototype.sort comparator from naturalLess. */
export function naturalCompare(a: string, b: string): number {
  return naturalLess(a, b) ? -1 : naturalLess(b, a) ? 1 : 0;
}

/** net.JoinHostPort: IPv6 hosts in brackets; an empty host gives ":port". */
export function joinHostPort(host: string, port: string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** strconv.ParseUint(s, 10, 16), for docker's "invalid port" message. */
function checkPortNumber(port: string): void {
  let reason = '';
  if (!/^[0-9]+$/.test(port)) reason = 'invalid syntax';
  else if (Number(port) > 0xffff) reason = 'value out of range';
  if (reason) throw new StatusError(`Error: invalid port (${port}): strconv.ParseUint: parsing ${goQuote(port)}: ${reason}`, 1);
}

/**
 * The lines `berth port` prints, sorted as docker sorts them. Without a private port: "80/tcp -> 0.0.0.0:8080"
 * for every binding; with one ("80" meaning "80/tcp"): just the host addresses of that port, or docker's
 * error naming the port as it was typed.
 */
export function portLines(ports: PortMap | null | undefined, container: string, privatePort = ''): string[] {
  const out: string[] = [];
  if (privatePort !== '') {
    const slash = privatePort.indexOf('/');
    const port = slash < 0 ? privatePort : privatePort.slice(0, slash);
    const proto = (slash < 0 ? '' : privatePort.slice(slash + 1)) || 'tcp';
    checkPortNumber(port);
    const frontends = ports?.[`${port}/${proto}`];
    if (!frontends || frontends.length === 0) throw new StatusError(`Error: No public port '${privatePort}' published for ${container}`, 1);
    for (const f of frontends) out.push(joinHostPort(f.HostIp ?? '', f.HostPort ?? ''));
  } else {
    for (const [from, frontends] of Object.entries(ports ?? {})) {
      for (const f of frontends ?? []) out.push(`${from} -> ${joinHostPort(f.HostIp ?? '', f.HostPort ?? '')}`);
    }
  }
  return out.sort(naturalCompare);
}

/** client.trimID: names are trimmed, and an empty one fails before any request, as in docker's client. */
export function trimID(kind: string, ref: string): string {
  const id = ref.trim();
  if (id === '') throw new StatusError(`invalid ${kind} name or ID: value is empty`, 1);
  return id;
}

async function containerPorts(client: ApiClient, ref: string): Promise<PortMap | null | undefined> {
  const c = await client.json<{ NetworkSettings?: { Ports?: PortMap | null } | null }>('GET', `/containers/${esc(trimID('container', ref))}/json`);
  return c.NetworkSettings?.Ports;
}

export const portCommand: CommandSpec = {
  usage: 'CONTAINER [PRIVATE_PORT[/PROTO]]',
  short: 'List port mappings or a specific mapping for the container',
  aliases: ['container port', 'port'],
  flags: [],
  args: { min: 1, max: 2 },
  async run(cli, _flags, args) {
    const lines = portLines(await containerPorts(cli.client(), args[0]), args[0], args[1] ?? '');
    if (lines.length > 0) cli.out.write(lines.join('\n') + '\n');
  },
};
