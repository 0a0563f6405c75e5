// ImagePrune and SystemDataUsage (docker image prune, docker system df).
import path from 'node:path';
import type { Router, Ctx } from './router.ts';
import { sendJson, filtersParam, validateFilters, compareVersions } from './router.ts';
import type { Daemon } from '../daemon/daemon.ts';
import { containerSummary, imageSummary } from './views.ts';
import { volumeView } from './routes-volumes.ts';
import { IMAGE_PRUNE_FILTERS, imagePruneOptions, pruneImages } from '../images/prune.ts';
import { containerLayerSize, imageUsage, layersSize, volumeUsage, buildCacheUsage } from '../images/disk-usage.ts';
import { conflict, invalidParameter } from '../lib/errors.ts';

const DF_TYPES = ['container', 'image', 'volume', 'build-cache'] as const;

export function registerImageHousekeepingRoutes(r: Router, d: Daemon): void {
  let pruning = false;
  r.add('POST', '/images/prune', async (ctx) => {
    const f = filtersParam(ctx.query);
    validateFilters(f, IMAGE_PRUNE_FILTERS);
    const opts = imagePruneOptions(f);
    if (pruning) throw conflict('a prune operation is already running');
    pruning = true;
    try {
      const report = await pruneImages(d.images, opts, {
        users: (id) => d.containers.usersOfImage(id), layerInUse: (c) => d.containers.layerInUse(c),
        onEvent: (action, id) => d.emitEvent('image', action, id, {}),
      });
      d.events.log('image', 'prune', { ID: '', Attributes: { reclaimed: String(report.SpaceReclaimed) } });
      sendJson(ctx, 200, report);
    } finally {
      pruning = false;
    }
  });

  r.add('GET', '/system/df', async (ctx) => sendJson(ctx, 200, await systemDataUsage(d, ctx)));
}

async function systemDataUsage(d: Daemon, ctx: Ctx): Promise<Record<string, unknown>> {
  const types = ctx.query.getAll('type');
  const want = new Set<string>();
  if (types.length === 0 || compareVersions(ctx.version, '1.42') < 0) DF_TYPES.forEach((t) => want.add(t));
  for (const t of compareVersions(ctx.version, '1.42') < 0 ? [] : types) {
    if (!(DF_TYPES as readonly string[]).includes(t)) throw invalidParameter(`unknown object type: ${t}`);
    want.add(t);
  }
  const out: Record<string, unknown> = { LayersSize: 0, Images: null, Containers: null, Volumes: null, BuildCache: null };
  if (want.has('image')) {
    out.LayersSize = layersSize(d.images);
    const virtual = compareVersions(ctx.version, '1.44') < 0;
    out.Images = imageUsage(d.images, d.containers.all().map((c) => c.Image)).map((u) => {
      const s = imageSummary(u.image, d.images, u.containers);
      s.SharedSize = u.sharedSize;
      if (virtual) s.VirtualSize = s.Size;
      return s;
    });
  }
  if (want.has('container')) {
    const list = d.containers.all().sort((a, b) => Date.parse(b.Created) - Date.parse(a.Created) || (b.ID < a.ID ? -1 : 1));
    out.Containers = await Promise.all(list.map(async (c) => {
      const s = containerSummary(c);
      const upper = path.join(d.dataRoot, 'containers', c.ID, 'fs', 'upper');
      const { sizeRw, sizeRootFs } = await containerLayerSize(d.images.layers, upper, c.TopLayer);
      // Both are omitempty in Docker's ContainerSummary.
      if (sizeRw) s.SizeRw = sizeRw;
      if (sizeRootFs) s.SizeRootFs = sizeRootFs;
      return s;
    }));
  }
  if (want.has('volume')) {
    out.Volumes = (await volumeUsage(d.volumes)).map((u) => ({ ...volumeView(u.volume), UsageData: { Size: u.size, RefCount: u.refCount } }));
  }
  // No builder yet: an empty build cache, as Docker reports one.
  if (want.has('build-cache')) out.BuildCache = buildCacheUsage(d.images);
  return out;
}
