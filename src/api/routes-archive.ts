// The filesystem of containers: ContainerArchiveInfo (HEAD), ContainerArchive (GET), PutContainerArchive,
// ContainerChanges, ContainerExport, ImageCommit, ContainerPrune.
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { Router, Ctx } from './router.ts';
import { readJson, sendJson, sendEmpty, filtersParam, validateFilters } from './router.ts';
import type { Daemon } from '../daemon/daemon.ts';
import {
  archivePath, containerChanges, containerLayers, exportRootfs, extractToDir, openContainerFs, pathStatHeader, statPath,
  upperSize, withFrozen,
} from '../containers/archive.ts';
import { commitContainer } from '../containers/commit.ts';
import { mountHolding } from '../containers/mounts.ts';
import { resolveUser } from '../containers/user.ts';
import type { AnyObj, ContainerRecord } from '../containers/types.ts';
import { familiarName } from '../images/reference.ts';
import { BerthError, conflict, invalidParameter } from '../lib/errors.ts';
import { getTimestamp, parseTimestampParam } from '../lib/timestamps.ts';

const STAT_HEADER = 'X-Docker-Container-Path-Stat';

function pathParam(ctx: Ctx): string {
  const p = ctx.query.get('path');
  if (!p) throw invalidParameter('bad parameter: path cannot be empty');
  return p;
}

// Docker's httputils.BoolValue: present and not "", "0", "no", "false" or "none".
function goBool(q: URLSearchParams, name: string, dflt: boolean): boolean {
  const v = q.get(name);
  if (v === null) return dflt;
  return !['', '0', 'no', 'false', 'none'].includes(v.trim().toLowerCase());
}

function containerEvent(d: Daemon, c: ContainerRecord, action: string, extra: Record<string, string> = {}): void {
  d.emitEvent('container', action, c.ID, { ...extra, image: c.Config.Image, name: c.Name.slice(1), ...(c.Config.Labels ?? {}) });
}

/** Streams a tar as the response body; a failure after the headers went out just cuts the connection. */
async function sendTar(ctx: Ctx, tar: Readable, headers: Record<string, string>): Promise<void> {
  const res = ctx.res!;
  res.writeHead(200, headers);
  try {
    await pipeline(tar, res);
  } catch (err) {
    // Headers are out: the only way left to tell the client is to cut the response short.
    process.stderr.write(`time="${new Date().toISOString()}" level=error msg=${JSON.stringify(`tar stream failed: ${(err as Error).message}`)}\n`);
    tar.destroy();
    res.destroy();
  }
}

// What the runtime bind-mounts over the rootfs; Docker's cp sees these (its view of the container has the
// mounts), so GET and HEAD serve them instead of the empty mount points.
function mountedFiles(c: ContainerRecord): Record<string, string> {
  return { 'etc/hosts': c.HostsPath, 'etc/hostname': c.HostnamePath, 'etc/resolv.conf': c.ResolvConfPath };
}

let pruneRunning = false;

export function registerArchiveRoutes(r: Router, d: Daemon): void {
  const layers = d.images.layers;

  // HEAD and GET share the route (the router sends HEAD to GET handlers).
  r.add('GET', '/containers/{id}/archive', async (ctx) => {
    const name = ctx.params.id;
    const c = d.containers.get(name);
    const p = pathParam(ctx);
    const cfs = openContainerFs(d.containers, layers, c);
    // A path in a volume or bind mount is served from there, as the container sees it.
    const m = mountHolding(c.MountPoints ?? [], p);
    const [root, rel, files] = m ? [m.root, m.rel, {}] : [cfs.merged, p, mountedFiles(c)];
    try {
      if (ctx.req.method === 'HEAD') {
        const stat = statPath(root, rel, name, files);
        if (m?.topName) stat.name = m.topName;
        ctx.res!.writeHead(200, { [STAT_HEADER]: pathStatHeader(stat) });
        ctx.res!.end();
        return;
      }
      const { stat, tar } = archivePath(root, rel, name, files, { topName: m?.topName });
      containerEvent(d, c, 'archive-path');
      await sendTar(ctx, tar, { 'Content-Type': 'application/x-tar', [STAT_HEADER]: pathStatHeader(stat) });
    } finally {
      cfs.release();
    }
  });

  r.add('PUT', '/containers/{id}/archive', async (ctx) => {
    const name = ctx.params.id;
    const c = d.containers.get(name);
    const p = pathParam(ctx);
    const noOverwriteDirNonDir = goBool(ctx.query, 'noOverwriteDirNonDir', false);
    const copyUIDGID = goBool(ctx.query, 'copyUIDGID', false);
    const ac = new AbortController();
    ctx.req.on('close', () => { if (!ctx.req.complete) ac.abort(); });
    const cfs = openContainerFs(d.containers, layers, c);
    try {
      await withFrozen(d.containers, c, async () => {
        // copyUIDGID: everything is owned by the container's user (as found in its own /etc/passwd); without a
        // user Docker keeps the archive's ownership.
        const owner = copyUIDGID && c.Config.User ? await resolveUser(cfs.merged, String(c.Config.User)) : undefined;
        const m = mountHolding(c.MountPoints ?? [], p);
        if (m && !(c.MountPoints ?? []).find((x) => x.Source === m.root)?.RW) throw invalidParameter('mounted volume is marked read-only');
        await extractToDir(m ? m.root : cfs.merged, m ? m.rel : p, ctx.req, name, {
          noOverwriteDirNonDir, owner, readonlyRootfs: !m && !!c.HostConfig.ReadonlyRootfs, signal: ac.signal,
        });
      });
    } finally {
      cfs.release();
    }
    containerEvent(d, c, 'extract-to-dir');
    sendEmpty(ctx, 200);
  });

  r.add('GET', '/containers/{id}/changes', (ctx) => {
    const c = d.containers.get(ctx.params.id);
    const { upper, lowers } = containerLayers(d.containers, layers, c);
    const changes = containerChanges(upper, lowers);
    // Docker answers null rather than [] when nothing changed.
    sendJson(ctx, 200, changes.length ? changes : null);
  });

  r.add('GET', '/containers/{id}/export', async (ctx) => {
    const c = d.containers.get(ctx.params.id);
    const cfs = openContainerFs(d.containers, layers, c);
    try {
      containerEvent(d, c, 'export');
      await sendTar(ctx, exportRootfs(cfs.merged), { 'Content-Type': 'application/x-tar' });
    } finally {
      cfs.release();
    }
  });

  r.add('POST', '/commit', async (ctx) => {
    const q = ctx.query;
    const body = await readJson<AnyObj | null>(ctx);
    const ref = q.get('container') ?? '';
    const c = d.containers.get(ref);
    const changes = q.getAll('changes').flatMap((x) => x.split('\n')).filter((x) => x.trim() !== '');
    const { image, ref: tagged } = await commitContainer(d.containers, d.images, c, {
      repo: q.get('repo') || undefined,
      tag: q.get('tag') || undefined,
      comment: q.get('comment') ?? '',
      author: q.get('author') ?? '',
      pause: goBool(q, 'pause', true),
      changes,
      config: body && typeof body === 'object' ? body : undefined,
    });
    if (tagged) d.emitEvent('image', 'tag', image.id, { name: tagged });
    containerEvent(d, c, 'commit', { comment: q.get('comment') ?? '', imageID: image.id, imageRef: tagged ? familiarName(tagged) : '' });
    sendJson(ctx, 201, { Id: image.id });
  });

  r.add('POST', '/containers/prune', async (ctx) => {
    const f = filtersParam(ctx.query);
    validateFilters(f, ['label', 'label!', 'until']);
    let until: number | undefined;
    const untilValues = f.get('until') ?? [];
    if (untilValues.length > 1) throw invalidParameter('more than one until filter specified');
    if (untilValues.length === 1) {
      try {
        const t = parseTimestampParam(getTimestamp(untilValues[0]!, new Date()));
        until = t.seconds * 1000 + t.nanos / 1e6;
      } catch (err) {
        throw invalidParameter((err as Error).message);
      }
    }
    if (pruneRunning) throw conflict('a prune operation is already running');
    pruneRunning = true;
    try {
      const deleted: string[] = [];
      let reclaimed = 0;
      for (const c of d.containers.all()) {
        if (c.State.Running) continue;
        if (until !== undefined && Date.parse(c.Created) > until) continue;
        if (!matchLabels(f, c.Config.Labels ?? {})) continue;
        const size = upperSize(containerLayers(d.containers, layers, c).upper);
        try {
          await d.containers.remove(c.ID, { force: false, volumes: false });
        } catch (err) {
          if (err instanceof BerthError) continue;
          throw err;
        }
        deleted.push(c.ID);
        reclaimed += size;
      }
      d.emitEvent('container', 'prune', '', { reclaimed: String(reclaimed) });
      sendJson(ctx, 200, { ContainersDeleted: deleted.length ? deleted : null, SpaceReclaimed: reclaimed });
    } finally {
      pruneRunning = false;
    }
  });
}

// filters.MatchKVList: every `label` filter must match; with `label!` filters, a container matching all of
// them is left alone.
function matchKV(filters: string[], labels: Record<string, string>): boolean {
  return filters.every((l) => {
    const i = l.indexOf('=');
    if (i < 0) return l in labels;
    return labels[l.slice(0, i)] === l.slice(i + 1);
  });
}

function matchLabels(f: Map<string, string[]>, labels: Record<string, string>): boolean {
  if (!matchKV(f.get('label') ?? [], labels)) return false;
  const not = f.get('label!');
  if (not?.length && matchKV(not, labels)) return false;
  return true;
}
