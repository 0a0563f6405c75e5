// VolumeList, VolumeCreate, VolumeInspect, VolumeDelete, VolumePrune.
import type { Router } from './router.ts';
import { readJson, sendJson, sendEmpty, boolParam, filtersParam, validateFilters } from './router.ts';
import type { Daemon } from '../daemon/daemon.ts';
import type { Volume } from '../volumes/store.ts';
import { matchLabels } from '../volumes/store.ts';
import { notFound } from '../lib/errors.ts';

export function volumeView(v: Volume): Record<string, unknown> {
  return {
    CreatedAt: v.CreatedAt, Driver: v.Driver, Labels: Object.keys(v.Labels).length ? v.Labels : null, Mountpoint: v.Mountpoint,
    Name: v.Name, Options: Object.keys(v.Options).length ? v.Options : null, Scope: v.Scope,
  };
}

export function registerVolumeRoutes(r: Router, d: Daemon): void {
  const store = d.volumes;
  r.add('GET', '/volumes', (ctx) => {
    const f = filtersParam(ctx.query);
    validateFilters(f, ['dangling', 'name', 'label', 'driver']);
    let list = store.list();
    const dangling = f.get('dangling');
    if (dangling?.length) {
      const want = dangling[0] === 'true' || dangling[0] === '1';
      list = list.filter((v) => (store.usedBy(v.Name).length === 0) === want);
    }
    const names = f.get('name');
    if (names?.length) list = list.filter((v) => names.some((n) => v.Name.includes(n)));
    const drivers = f.get('driver');
    if (drivers?.length) list = list.filter((v) => drivers.includes(v.Driver));
    const labels = f.get('label');
    if (labels?.length) list = list.filter((v) => matchLabels(v.Labels, labels));
    list.sort((a, b) => (a.Name < b.Name ? -1 : 1));
    sendJson(ctx, 200, { Volumes: list.map(volumeView), Warnings: [] });
  });
  r.add('POST', '/volumes/create', async (ctx) => {
    const body = (await readJson<{ Name?: string; Driver?: string; DriverOpts?: Record<string, string>; Labels?: Record<string, string> }>(ctx)) ?? {};
    const { volume, created } = await store.create({ Name: body.Name, Driver: body.Driver, DriverOpts: body.DriverOpts ?? undefined, Labels: body.Labels ?? undefined });
    if (created) d.emitEvent('volume', 'create', volume.Name, { driver: volume.Driver });
    sendJson(ctx, 201, volumeView(volume));
  });
  r.add('POST', '/volumes/prune', async (ctx) => {
    const f = filtersParam(ctx.query);
    validateFilters(f, ['label', 'label!', 'all']);
    const all = (f.get('all') ?? []).some((v) => v === 'true' || v === '1');
    const labels = [...(f.get('label') ?? []), ...(f.get('label!') ?? []).map((l) => `!${l}`)];
    const res = await store.prune({ all, labels });
    for (const n of res.VolumesDeleted) d.emitEvent('volume', 'destroy', n, { driver: 'local' });
    sendJson(ctx, 200, res);
  });
  r.add('GET', '/volumes/{name}', (ctx) => {
    const v = store.get(ctx.params.name);
    if (!v) throw notFound(`get ${ctx.params.name}: no such volume`);
    sendJson(ctx, 200, volumeView(v));
  });
  r.add('DELETE', '/volumes/{name}', async (ctx) => {
    const existed = !!store.get(ctx.params.name);
    await store.remove(ctx.params.name, { force: boolParam(ctx.query, 'force') });
    if (existed) d.emitEvent('volume', 'destroy', ctx.params.name, { driver: 'local' });
    sendEmpty(ctx);
  });
}
