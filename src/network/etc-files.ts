// The /etc/hosts and /etc/resolv.conf Docker writes for a container. Pure renderers.

export interface HostsInput {
  hostname: string;
  domainname?: string;
  ips: string[]; // the container's own addresses, first network first
  extraHosts: string[]; // --add-host "name:ip" (host-gateway already replaced)
  links: { ip: string; names: string[] }[];
}

export function renderHosts(h: HostsInput): string {
  const lines = [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::\tip6-localnet',
    'ff00::\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
  ];
  for (const e of h.extraHosts) {
    // name:ip, where an IPv6 address has colons of its own: the name ends at the first one.
    const i = e.indexOf(':');
    if (i < 0) continue;
    const ip = e.slice(i + 1).replace(/^\[(.*)\]$/, '$1');
    lines.push(`${ip}\t${e.slice(0, i)}`);
  }
  for (const l of h.links) lines.push(`${l.ip}\t${l.names.join(' ')}`);
  const fqdn = h.domainname ? `${h.hostname}.${h.domainname} ${h.hostname}` : h.hostname;
  for (const ip of h.ips.slice(0, 1)) lines.push(`${ip}\t${fqdn}`);
  return lines.join('\n') + '\n';
}

export interface ResolvInput {
  host: string; // the host's resolv.conf
  embedded?: string; // the embedded DNS server's address (user-defined networks)
  dns: string[];
  dnsSearch: string[];
  dnsOptions: string[];
  hostNetwork?: boolean; // the container shares the host's network: its loopback resolvers work
}

const FALLBACK = ['8.8.8.8', '8.8.4.4'];

export function parseResolv(text: string): { nameservers: string[]; search: string[]; options: string[] } {
  const out = { nameservers: [] as string[], search: [] as string[], options: [] as string[] };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [key, ...rest] = line.split(/\s+/);
    if (key === 'nameserver' && rest[0]) out.nameservers.push(rest[0]);
    else if ((key === 'search' || key === 'domain') && rest.length) out.search = rest;
    else if (key === 'options') out.options.push(...rest);
  }
  return out;
}

export function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1';
}

// Docker's rules: with the embedded server, it is the only nameserver (the others become its upstreams);
// otherwise the host's, minus the loopback ones the container cannot reach, with Google's as the last resort.
export function renderResolv(r: ResolvInput): string {
  const host = parseResolv(r.host);
  const search = r.dnsSearch.length ? r.dnsSearch.filter((s) => s !== '.') : host.search;
  let options = r.dnsOptions.length ? r.dnsOptions : host.options;
  let servers: string[];
  if (r.embedded) {
    servers = [r.embedded];
    if (!options.some((o) => o.startsWith('ndots:'))) options = [...options, 'ndots:0'];
  } else if (r.hostNetwork) {
    // Docker copies the host's file unless options are given; then the host's values fill what was not.
    if (!r.dns.length && !r.dnsSearch.length && !r.dnsOptions.length) return r.host;
    servers = r.dns.length ? r.dns : host.nameservers;
  } else {
    servers = r.dns.length ? r.dns : host.nameservers.filter((n) => !isLoopback(n));
    if (!servers.length) servers = FALLBACK;
  }
  const lines = servers.map((s) => `nameserver ${s}`);
  if (search.length) lines.push(`search ${search.join(' ')}`);
  if (options.length) lines.push(`options ${options.join(' ')}`);
  return lines.join('\n') + '\n';
}

// Upstreams of the embedded server for a container: its --dns servers, else the host's (loopback ones too:
// berthd forwards from the host's namespace).
export function upstreamsFor(dns: string[], hostResolv: string): string[] {
  return dns.length ? dns : parseResolv(hostResolv).nameservers;
}
