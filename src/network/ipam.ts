// IPv4 address management: subnet arithmetic, the choice of a free subnet from the address pools, and the
// allocation of addresses inside a network. Pure logic; the network manager persists what it returns.
import { invalidParameter, BerthError } from '../lib/errors.ts';

export interface Cidr {
  addr: number; // network address, unsigned 32-bit
  prefix: number;
}

export interface AddressPool {
  base: string; // CIDR
  size: number; // prefix length of the subnets carved out of it
}

// Docker's defaults: 172.17.0.0/16 ... 172.31.0.0/16, then 192.168.0.0/16 cut into /20s.
export const DEFAULT_POOLS: AddressPool[] = [
  { base: '172.17.0.0/16', size: 16 }, { base: '172.18.0.0/16', size: 16 }, { base: '172.19.0.0/16', size: 16 },
  { base: '172.20.0.0/14', size: 16 }, { base: '172.24.0.0/14', size: 16 }, { base: '172.28.0.0/14', size: 16 },
  { base: '192.168.0.0/16', size: 20 },
];

export function parseIp(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255) || m.slice(1).some((p) => p.length > 1 && p.startsWith('0'))) return undefined;
  return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
}

export function formatIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

// A CIDR as given by a user. Docker refuses host bits in --subnet ("invalid subnet ... : it should be
// 10.1.0.0/16"); `strict: false` keeps the address (for --ip-range checks and bip, where the address is the
// bridge's own).
export function parseCidr(s: string, opts: { strict?: boolean } = {}): Cidr & { ip: number } {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(s.trim());
  const ip = m ? parseIp(m[1]) : undefined;
  const prefix = m ? Number(m[2]) : NaN;
  if (ip === undefined || !(prefix >= 0 && prefix <= 32)) throw invalidParameter(`invalid CIDR address: ${s}`);
  const addr = (ip & maskOf(prefix)) >>> 0;
  if (opts.strict !== false && addr !== ip) throw invalidParameter(`invalid subnet ${s}: it should be ${formatIp(addr)}/${prefix}`);
  return { addr, prefix, ip };
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.addr)}/${c.prefix}`;
}

export function contains(c: Cidr, ip: number): boolean {
  return ((ip & maskOf(c.prefix)) >>> 0) === c.addr;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return ((a.addr & maskOf(p)) >>> 0) === ((b.addr & maskOf(p)) >>> 0);
}

// The first subnet of the pools that overlaps none of `used` (other networks, host routes).
export function pickSubnet(pools: AddressPool[], used: Cidr[]): Cidr {
  for (const pool of pools) {
    const base = parseCidr(pool.base, { strict: false });
    if (pool.size < base.prefix || pool.size > 30) continue;
    const step = 2 ** (32 - pool.size);
    const count = 2 ** (pool.size - base.prefix);
    for (let i = 0; i < count; i++) {
      const cand = { addr: (base.addr + i * step) >>> 0, prefix: pool.size };
      if (!used.some((u) => overlaps(u, cand))) return cand;
    }
  }
  throw new BerthError('forbidden', 'all predefined address pools have been fully subnetted');
}

export interface IpamSubnet {
  subnet: Cidr;
  gateway: number;
  range?: Cidr; // --ip-range: dynamic addresses come from here only
  reserved?: number[]; // --aux-address values
}

// The next free address after `last` (round robin, as Docker's allocator: a released address is not handed
// out again at once), skipping the network and broadcast addresses, the gateway and reserved addresses.
export function allocate(s: IpamSubnet, taken: Set<number>, last?: number): number {
  const pool = s.range ?? s.subnet;
  const size = 2 ** (32 - pool.prefix);
  const first = pool.addr;
  const broadcast = (s.subnet.addr + 2 ** (32 - s.subnet.prefix) - 1) >>> 0;
  const start = last !== undefined && contains(pool, last) ? last - first + 1 : 0;
  for (let k = 0; k < size; k++) {
    const ip = (first + ((start + k) % size)) >>> 0;
    if (ip === s.subnet.addr || ip === broadcast || ip === s.gateway) continue;
    if (taken.has(ip) || s.reserved?.includes(ip)) continue;
    return ip;
  }
  throw new BerthError('unavailable', `no available IPv4 addresses on this network's address pools: ${formatCidr(s.subnet)}`);
}

// A static address (--ip): inside the subnet, not special, not in use.
export function checkStatic(s: IpamSubnet, ip: number, taken: Set<number>): void {
  const broadcast = (s.subnet.addr + 2 ** (32 - s.subnet.prefix) - 1) >>> 0;
  if (!contains(s.subnet, ip)) throw invalidParameter(`no configured subnet or ip-range contain the IP address ${formatIp(ip)}`);
  if (ip === s.subnet.addr || ip === broadcast || ip === s.gateway || taken.has(ip) || s.reserved?.includes(ip)) {
    throw new BerthError('forbidden', `Address already in use`);
  }
}

// Docker's MAC addresses for bridge endpoints: 02:42 followed by the IPv4 address.
export function macFor(ip: number): string {
  return ['02', '42', ...[ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

// IPv4 routes of the host from /proc/net/route (destination and mask in little-endian hex), so new networks
// avoid subnets already reachable through another interface.
export function parseProcRoutes(text: string): Cidr[] {
  const out: Cidr[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const dest = leHex(f[1]);
    const mask = leHex(f[7]);
    if (mask === 0) continue; // the default route covers everything; it is not a conflict
    let prefix = 0;
    while (prefix < 32 && (mask & (1 << (31 - prefix))) !== 0) prefix++;
    out.push({ addr: (dest & maskOf(prefix)) >>> 0, prefix });
  }
  return out;
}

function leHex(h: string): number {
  const n = parseInt(h, 16) >>> 0;
  return (((n & 255) << 24) >>> 0) + (((n >>> 8) & 255) << 16) + (((n >>> 16) & 255) << 8) + (n >>> 24);
}
