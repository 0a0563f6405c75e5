// NetworkList, NetworkCreate, NetworkInspect, NetworkDelete, NetworkPrune, NetworkConnect, NetworkDisconnect.
import type { Router } from './router.ts';
import { readJson, sendJson, sendEmpty, filtersParam, validateFilters } from './router.ts';
import type { Daemon } from '../daemon/daemon.ts';
import type { NetworkRecord } from '../network/types.ts';
import { invalidParameter } from '../lib/errors.ts';
import { getTimestamp } from '../lib/timestamps.ts';

function networkView(d: Daemon, n: NetworkRecord, verbose = true): Record<string, unknown> {
  return {
    Name: n.Name, Id: n.Id, Created: n.Created, Scope: n.Scope, Driver: n.Driver, EnableIPv4: true, EnableIPv6: n.EnableIPv6,
    IPAM: n.IPAM, Internal: n.Internal, Attachable: n.Attachable, Ingress: n.Ingress, ConfigFrom: n.ConfigFrom,
    ConfigOnly: n.ConfigOnly, ...(verbose ? { Containers: d.networks.endpointsOf(n) } : { Containers: {} }),
    Options: n.Options, Labels: n.Labels,
  };
}

function labelMatch(labels: Record<string, string>, filters: string[]): boolean {
  return filters.every((l) => {
    const i = l.indexOf('=');
    return i < 0 ? l in labels : labels[l.slice(0, i)] === l.slice(i + 1);
  });
}

const BUILTIN = new Set(['bridge', 'host', 'none']);

function filterNetworks(d: Daemon, list: NetworkRecord[], f: Map<string, string[]>): NetworkRecord[] {
  const get = (k: string) => f.get(k) ?? [];
  if (get('driver').length) list = list.filter((n) => get('driver').includes(n.Driver));
  if (get('name').length) list = list.filter((n) => get('name').some((x) => n.Name.includes(x)));
  if (get('id').length) list = list.filter((n) => get('id').some((x) => n.Id.startsWith(x)));
  if (get('label').length) list = list.filter((n) => labelMatch(n.Labels, get('label')));
  if (get('scope').length) list = list.filter((n) => get('scope').includes(n.Scope));
  for (const t of get('type')) {
    if (t !== 'custom' && t !== 'builtin') throw invalidParameter(`invalid filter: 'type'='${t}'`);
  }
  if (get('type').length) list = list.filter((n) => get('type').includes(BUILTIN.has(n.Name) ? 'builtin' : 'custom'));
  const dangling = get('dangling');
  if (dangling.length) {
    const want = dangling[0] === 'true' || dangling[0] === '1';
    if (!['true', 'false', '1', '0'].includes(dangling[0])) throw invalidParameter(`invalid filter 'dangling=${dangling[0]}'`);
    list = list.filter((n) => !BUILTIN.has(n.Name) && (d.networks.activeEndpoints(n).length === 0) === want);
  }
  return list;
}

export function registerNetworkRoutes(r: Router, d: Daemon): void {
  const nets = d.networks;
  r.add('GET', '/networks', (ctx) => {
    const f = filtersParam(ctx.query);
    validateFilters(f, ['dangling', 'driver', 'id', 'label', 'name', 'scope', 'type']);
    const list = filterNetworks(d, nets.list(), f).sort((a, b) => (a.Created < b.Created ? -1 : 1));
    sendJson(ctx, 200, list.map((n) => networkView(d, n, false)));
  });
  r.add('POST', '/networks/create', async (ctx) => {
    const body = (await readJson<Record<string, unknown>>(ctx, true)) ?? {};
    sendJson(ctx, 201, await nets.create(body));
  });
  r.add('POST', '/networks/prune', async (ctx) => {
    const f = filtersParam(ctx.query);
    validateFilters(f, ['label', 'label!', 'until']);
    const until = f.get('until')?.[0];
    const cutoff = until === undefined ? undefined : untilCutoff(until);
    const gone = await nets.prune((n) => {
      if (f.get('label')?.length && !labelMatch(n.Labels, f.get('label')!)) return false;
      if (f.get('label!')?.length && f.get('label!')!.some((l) => labelMatch(n.Labels, [l]))) return false;
      if (cutoff !== undefined && Date.parse(n.Created) >= cutoff) return false;
      return true;
    });
    sendJson(ctx, 200, { NetworksDeleted: gone });
  });
  r.add('GET', '/networks/{id}', (ctx) => {
    sendJson(ctx, 200, networkView(d, nets.get(ctx.params.id), true));
  });
  r.add('DELETE', '/networks/{id}', async (ctx) => {
    await nets.remove(ctx.params.id);
    sendEmpty(ctx);
  });
  r.add('POST', '/networks/{id}/connect', async (ctx) => {
    const body = (await readJson<{ Container?: string; EndpointConfig?: Record<string, unknown> }>(ctx, true)) ?? {};
    if (!body.Container) throw invalidParameter('no container specified');
    await nets.connect(ctx.params.id, body.Container, body.EndpointConfig ?? {});
    sendEmpty(ctx, 200);
  });
  r.add('POST', '/networks/{id}/disconnect', async (ctx) => {
    const body = (await readJson<{ Container?: string; Force?: boolean }>(ctx, true)) ?? {};
    if (!body.Container) throw invalidParameter('no container specified');
    await nets.disconnect(ctx.params.id, body.Container, !!body.Force);
    sendEmpty(ctx, 200);
  });
}

// Docker's "until": a Unix timestamp, a date, or a duration before now.
function untilCutoff(v: string): number {
  try {
    return Number(getTimestamp(v, new Date())) * 1000;
  } catch (err) {
    throw invalidParameter((err as Error).message);
  }
}
