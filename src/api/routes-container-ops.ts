// ContainerTop, ContainerStats, ContainerPause, ContainerUnpause, ContainerRename, ContainerUpdate.
import type { Router } from './router.ts';
import { readJson, sendJson, sendEmpty, boolParam, startStream } from './router.ts';
import type { Daemon } from '../daemon/daemon.ts';
import { conflict } from '../lib/errors.ts';
import { containerTop, cgroupPids } from '../containers/top.ts';
import { statsStream, encodeStats } from '../containers/stats.ts';

export function registerContainerOpsRoutes(r: Router, d: Daemon): void {
  r.add('GET', '/containers/{id}/top', async (ctx) => {
    const c = d.containers.get(ctx.params.id);
    if (!c.State.Running) throw conflict(`Container ${c.ID} is not running`);
    if (c.State.Restarting) throw conflict(`Container ${c.ID} is restarting, wait until the container is running`);
    const res = await containerTop(cgroupPids(d.cgroups, c.ID), ctx.query.get('ps_args') ?? '');
    d.containers.emit('event', 'top', c);
    sendJson(ctx, 200, res);
  });

  r.add('GET', '/containers/{id}/stats', async (ctx) => {
    const c = d.containers.get(ctx.params.id);
    const stream = boolParam(ctx.query, 'stream', true);
    const oneShot = boolParam(ctx.query, 'one-shot');
    const res = startStream(ctx);
    const ac = new AbortController();
    const abort = () => ac.abort();
    ctx.req.socket.once('close', abort);
    try {
      for await (const s of statsStream({ cgroups: d.cgroups, stream, oneShot, current: () => d.containers.tryGet(c.ID), signal: ac.signal })) {
        res.write(encodeStats(s) + '\n');
      }
    } finally {
      ctx.req.socket.off('close', abort);
      res.end();
    }
  });

  r.add('POST', '/containers/{id}/pause', async (ctx) => {
    await d.containers.pause(ctx.params.id);
    sendEmpty(ctx);
  });
  r.add('POST', '/containers/{id}/unpause', async (ctx) => {
    await d.containers.unpause(ctx.params.id);
    sendEmpty(ctx);
  });
  r.add('POST', '/containers/{id}/rename', async (ctx) => {
    await d.containers.rename(ctx.params.id, ctx.query.get('name') ?? '');
    sendEmpty(ctx);
  });
  r.add('POST', '/containers/{id}/update', async (ctx) => {
    const body = (await readJson<Record<string, unknown>>(ctx)) ?? {};
    sendJson(ctx, 200, await d.containers.update(ctx.params.id, body));
  });
}
