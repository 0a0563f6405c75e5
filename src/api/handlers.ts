// The Docker Engine API routes. Handlers translate HTTP to domain calls, named after Docker's operation ids.
import os from 'node:os';
import path from 'node:path';
import type { Daemon } from '../daemon/daemon.ts';
import {
  Router, API_VERSION, MIN_API_VERSION, ENGINE_VERSION, readJson, sendJson, sendEmpty, sendText, boolParam, intParam,
  filtersParam, validateFilters, startStream, hijack, type Ctx,
} from './router.ts';
import { containerInspect, containerSummary, imageInspect, imageSummary, imageHistory } from './views.ts';
import { invalidParameter, conflict, BerthError } from '../lib/errors.ts';
import { loadImages, saveImages, importImage } from '../images/transfer.ts';
import { parseReference, fullName, withDefaultTag, familiarName } from '../images/reference.ts';
import { streamLogs } from '../containers/logs.ts';
import { HEALTH_FILTER_VALUES, healthFilterValue } from '../containers/health.ts';
import type { ContainerRecord } from '../containers/types.ts';
import { parseTimestampParam } from '../lib/timestamps.ts';
import { registerExecRoutes } from './routes-exec.ts';
import { registerVolumeRoutes } from './routes-volumes.ts';
import { registerNetworkRoutes } from './routes-networks.ts';
import { goArch } from '../lib/system.ts';
import { registerArchiveRoutes } from './routes-archive.ts';
import { acceptWebSocket } from './websocket.ts';
import { Duplex, Writable } from 'node:stream';
import { registerEventRoutes } from './routes-events.ts';
import { registerContainerOpsRoutes } from './routes-container-ops.ts';
import { registerImageHousekeepingRoutes } from './routes-image-housekeeping.ts';
import { progressStream } from './progress-stream.ts';
import { containerLayerSize } from '../images/disk-usage.ts';
import { registerDistributionRoutes, imagePull } from './routes-distribution.ts';
import { registerBuildRoutes } from './routes-build.ts';

export function buildRouter(d: Daemon): Router {
  const r = new Router();

  // ---- system ----
  const ping = (ctx: Ctx) => {
    ctx.res!.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Builder-Version': '1', 'Swarm': 'inactive', 'Cache-Control': 'no-cache, no-store, must-revalidate', Pragma: 'no-cache' });
    ctx.res!.end(ctx.req.method === 'HEAD' ? undefined : 'OK');
  };
  r.add('GET', '/_ping', ping);
  r.add('HEAD', '/_ping', ping);
  r.add('GET', '/version', (ctx) => sendJson(ctx, 200, systemVersion()));
  r.add('GET', '/info', (ctx) => sendJson(ctx, 200, d.info()));
  registerEventRoutes(r, d);

  // ---- images ----
  r.add('GET', '/images/json', (ctx) => {
    const f = filtersParam(ctx.query);
    validateFilters(f, ['dangling', 'label', 'reference', 'before', 'since', 'until']);
    const all = boolParam(ctx.query, 'all');
    let list = d.images.all();
    const dangling = f.get('dangling');
    if (dangling?.length) {
      const want = dangling[0] === 'true' || dangling[0] === '1';
      list = list.filter((i) => d.images.isDangling(i) === want);
    } else if (!all) {
      // Without -a, intermediate images (untagged parents of other images) are hidden.
      const parents = new Set(d.images.all().map((i) => i.parent).filter(Boolean));
      list = list.filter((i) => !(d.images.isDangling(i) && parents.has(i.id)));
    }
    for (const l of f.get('label') ?? []) {
      const [k, v] = splitKV(l);
      list = list.filter((i) => { const labels = i.config.config?.Labels ?? {}; return v === undefined ? k in labels : labels[k] === v; });
    }
    const refs = f.get('reference');
    const matchesRef = refs?.length ? (t: string) => refs.some((pat) => matchReference(pat, t)) : undefined;
    if (matchesRef) list = list.filter((i) => [...d.images.tagsOf(i.id), ...i.repoDigests].some(matchesRef));
    for (const key of ['before', 'since'] as const) {
      for (const v of f.get(key) ?? []) {
        const ref = d.images.resolve(v);
        const t = Date.parse(ref.config.created ?? '');
        list = list.filter((i) => (key === 'before' ? Date.parse(i.config.created ?? '') < t : Date.parse(i.config.created ?? '') > t));
      }
    }
    const counts = new Map<string, number>();
    for (const c of d.containers.all()) counts.set(c.Image, (counts.get(c.Image) ?? 0) + 1);
    list.sort((a, b) => Date.parse(b.config.created ?? '') - Date.parse(a.config.created ?? ''));
    sendJson(ctx, 200, list.map((i) => imageSummary(i, d.images, boolParam(ctx.query, 'shared-size') || ctx.query.has('containers') ? counts.get(i.id) ?? 0 : -1, matchesRef)));
  });
  r.add('POST', '/images/create', (ctx) => imageCreate(d, ctx));
  r.add('POST', '/images/load', (ctx) => imageLoad(d, ctx));
  r.add('GET', '/images/get', (ctx) => imageGet(d, ctx, ctx.query.getAll('names')));
  r.add('GET', '/images/{name*}/get', (ctx) => imageGet(d, ctx, [ctx.params.name]));
  r.add('GET', '/images/{name*}/json', (ctx) => sendJson(ctx, 200, imageInspect(d.images.resolve(ctx.params.name), d.images)));
  r.add('GET', '/images/{name*}/history', (ctx) => sendJson(ctx, 200, imageHistory(d.images.resolve(ctx.params.name), d.images)));
  r.add('POST', '/images/{name*}/tag', async (ctx) => {
    const rec = d.images.resolve(ctx.params.name);
    const repo = ctx.query.get('repo');
    if (!repo) throw invalidParameter('repository name must have at least one component');
    const tag = ctx.query.get('tag') || undefined;
    const ref = parseReference(repo);
    if (tag && (ref.tag || ref.digest)) throw invalidParameter('refusing to create an ambiguous tag using digest algorithm as name');
    await d.images.tag(rec.id, tag ? `${repo}:${tag}` : repo);
    d.emitEvent('image', 'tag', rec.id, { name: familiarName(fullName(withDefaultTag({ ...ref, tag: tag ?? ref.tag }))) });
    sendEmpty(ctx, 201);
  });
  r.add('DELETE', '/images/{name*}', async (ctx) => {
    const items = await d.images.remove(ctx.params.name, {
      force: boolParam(ctx.query, 'force'), noprune: boolParam(ctx.query, 'noprune'),
      users: (id) => d.containers.usersOfImage(id), layerInUse: (c) => d.containers.layerInUse(c),
      onEvent: (action, id) => d.emitEvent('image', action, id, {}),
    });
    sendJson(ctx, 200, items);
  });

  // ---- containers ----
  r.add('POST', '/containers/create', async (ctx) => {
    const body = await readJson<Record<string, unknown>>(ctx, true);
    const res = await d.containers.create(body!, ctx.query.get('name') ?? undefined, { platform: ctx.query.get('platform') ?? undefined });
    sendJson(ctx, 201, res);
  });
  r.add('GET', '/containers/json', async (ctx) => sendJson(ctx, 200, await containerList(d, ctx)));
  r.add('GET', '/containers/{id}/json', (ctx) => sendJson(ctx, 200, containerInspect(d.containers.get(ctx.params.id), d.images, d.dataRoot)));
  r.add('POST', '/containers/{id}/start', async (ctx) => {
    if (ctx.query.get('detachKeys')) { /* accepted; detach keys are handled by the client side of attach */ }
    await d.containers.start(ctx.params.id);
    sendEmpty(ctx);
  });
  r.add('POST', '/containers/{id}/stop', async (ctx) => {
    await d.containers.stop(ctx.params.id, { timeout: intParam(ctx.query, 't'), signal: ctx.query.get('signal') ?? undefined });
    sendEmpty(ctx);
  });
  r.add('POST', '/containers/{id}/restart', async (ctx) => {
    await d.containers.restart(ctx.params.id, { timeout: intParam(ctx.query, 't'), signal: ctx.query.get('signal') ?? undefined });
    sendEmpty(ctx);
  });
  r.add('POST', '/containers/{id}/kill', async (ctx) => {
    await d.containers.kill(ctx.params.id, ctx.query.get('signal') ?? undefined);
    sendEmpty(ctx);
  });
  r.add('POST', '/containers/{id}/wait', async (ctx) => {
    const p = d.containers.wait(ctx.params.id, ctx.query.get('condition') ?? '');
    // Headers go out at once: the docker CLI sends wait before start and blocks until the headers arrive.
    const res = startStream(ctx);
    const close = () => res.destroy();
    ctx.req.socket.on('close', close);
    const code = await p;
    ctx.req.socket.off('close', close);
    res.end(JSON.stringify({ StatusCode: code, Error: null }) + '\n');
  });
  r.add('DELETE', '/containers/{id}', async (ctx) => {
    await d.containers.remove(ctx.params.id, { force: boolParam(ctx.query, 'force'), volumes: boolParam(ctx.query, 'v') });
    sendEmpty(ctx);
  });
  r.add('POST', '/containers/{id}/resize', async (ctx) => {
    const h = intParam(ctx.query, 'h') ?? 0;
    const w = intParam(ctx.query, 'w') ?? 0;
    await d.containers.resize(ctx.params.id, h, w);
    sendText(ctx, 200, '');
  });
  r.add('POST', '/containers/{id}/attach', async (ctx) => {
    const c = d.containers.get(ctx.params.id);
    if (c.State.Restarting) throw conflict(`container ${c.ID} is restarting, wait until the container is running`);
    const stream = boolParam(ctx.query, 'stream');
    const logs = boolParam(ctx.query, 'logs');
    const streams = { stdin: boolParam(ctx.query, 'stdin'), stdout: boolParam(ctx.query, 'stdout'), stderr: boolParam(ctx.query, 'stderr') };
    const sock = hijack(ctx, c.Config.Tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream');
    if (logs) {
      const ac = new AbortController();
      await streamLogs(c.LogPath, sock, logOptions(d, c, { stdout: streams.stdout, stderr: streams.stderr, follow: false, timestamps: false, signal: ac.signal }));
    }
    if (!stream) {
      sock.end();
      return;
    }
    await d.containers.attach(c.ID, sock, streams);
  });
  // ContainerAttachWebsocket: the same streams over a websocket, unmultiplexed (each frame is raw output).
  r.add('GET', '/containers/{id}/attach/ws', async (ctx) => {
    const c = d.containers.get(ctx.params.id);
    if (c.State.Restarting) throw conflict(`container ${c.ID} is restarting, wait until the container is running`);
    const streams = { stdin: boolParam(ctx.query, 'stdin'), stdout: boolParam(ctx.query, 'stdout'), stderr: boolParam(ctx.query, 'stderr') };
    const ws = acceptWebSocket(ctx);
    if (boolParam(ctx.query, 'logs')) {
      const ac = new AbortController();
      const plain = c.Config.Tty ? ws : demuxTo(ws);
      await streamLogs(c.LogPath, plain, logOptions(d, c, { stdout: streams.stdout, stderr: streams.stderr, follow: false, timestamps: false, signal: ac.signal }));
    }
    if (!boolParam(ctx.query, 'stream')) {
      ws.end();
      return;
    }
    await d.containers.attach(c.ID, c.Config.Tty ? ws : duplexWithDemux(ws), streams);
  });
  r.add('GET', '/containers/{id}/logs', async (ctx) => {
    const c = d.containers.get(ctx.params.id);
    const q = ctx.query;
    const stdout = boolParam(q, 'stdout');
    const stderr = boolParam(q, 'stderr');
    if (!stdout && !stderr) throw invalidParameter('Bad parameters: you must choose at least one stream');
    const tailRaw = q.get('tail');
    const tail = tailRaw === null || tailRaw === '' || tailRaw === 'all' ? undefined : Number(tailRaw);
    if (tail !== undefined && !Number.isFinite(tail)) throw invalidParameter(`invalid value for tail: ${tailRaw}`);
    const ts = (name: string) => {
      const v = q.get(name);
      if (!v) return undefined;
      const t = parseTimestampParam(v);
      return t.seconds + t.nanos / 1e9;
    };
    const res = startStream(ctx, c.Config.Tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream');
    const ac = new AbortController();
    ctx.req.socket.on('close', () => ac.abort());
    await streamLogs(c.LogPath, res, logOptions(d, c, {
      stdout, stderr, follow: boolParam(q, 'follow'), timestamps: boolParam(q, 'timestamps'), tail, since: ts('since'),
      until: ts('until'), details: boolParam(q, 'details'), signal: ac.signal,
    }));
    res.end();
  });
  registerExecRoutes(r, d);
  registerVolumeRoutes(r, d);
  registerNetworkRoutes(r, d);
  registerDistributionRoutes(r, d);
  registerBuildRoutes(r, d);
  registerArchiveRoutes(r, d);
  registerContainerOpsRoutes(r, d);
  registerImageHousekeepingRoutes(r, d);
  return r;
}

// Writes that arrive in Docker's stdcopy frames go on to `out` as their bare payloads.
function demuxTo(out: Writable): Writable {
  let pending: Buffer = Buffer.alloc(0);
  return new Writable({
    write(chunk: Buffer, _e, cb) {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      while (pending.length >= 8) {
        const n = pending.readUInt32BE(4);
        if (pending.length < 8 + n) break;
        out.write(pending.subarray(8, 8 + n));
        pending = pending.subarray(8 + n);
      }
      cb();
    },
    final(cb) {
      out.end();
      cb();
    },
  });
}

// A Duplex for the attach plumbing: reads come from `ws`, framed writes reach it demultiplexed.
function duplexWithDemux(ws: Duplex): Duplex {
  const sink = demuxTo(ws);
  const d = new Duplex({
    read() {
      ws.resume();
    },
    write(chunk, enc, cb) {
      sink.write(chunk, enc, cb);
    },
    final(cb) {
      sink.end();
      cb();
    },
  });
  ws.on('data', (c: Buffer) => { if (!d.push(c)) ws.pause(); });
  ws.on('end', () => d.push(null));
  ws.on('close', () => d.destroy());
  return d;
}

function logOptions(d: Daemon, c: ContainerRecord, o: { stdout: boolean; stderr: boolean; follow: boolean; timestamps: boolean; signal: AbortSignal; tail?: number; since?: number; until?: number; details?: boolean }) {
  return {
    ...o, details: !!o.details, tty: !!c.Config.Tty,
    isRunning: () => c.State.Running,
    onExit: (cb: () => void) => {
      d.containers.on(`exit:${c.ID}`, cb);
      return () => d.containers.off(`exit:${c.ID}`, cb);
    },
  };
}

function splitKV(s: string): [string, string | undefined] {
  const i = s.indexOf('=');
  return i < 0 ? [s, undefined] : [s.slice(0, i), s.slice(i + 1)];
}

// `reference` filter: a glob against the familiar or full name, with or without tag.
function matchReference(pattern: string, full: string): boolean {
  const toRe = (p: string) => new RegExp('^' + p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]') + '$');
  // Docker's FamiliarMatch: the pattern against the reference, and against its name alone (without the tag or
  // the @digest).
  const familiar = full.replace(/^docker\.io\/(library\/)?/, '');
  const bare = (r: string) => (r.includes('@') ? r.slice(0, r.indexOf('@')) : r.replace(/:[^:/]+$/, ''));
  const candidates = [full, familiar, bare(full), bare(familiar)];
  return candidates.some((c) => toRe(pattern).test(c));
}

function systemVersion() {
  return {
    Platform: { Name: 'Berth Engine' },
    Components: [{ Name: 'Engine', Version: ENGINE_VERSION, Details: { ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, Os: 'linux', Arch: goArch(), KernelVersion: os.release() } }],
    Version: ENGINE_VERSION,
    ApiVersion: API_VERSION,
    MinAPIVersion: MIN_API_VERSION,
    GitCommit: 'berth',
    GoVersion: `node${process.versions.node}`,
    Os: 'linux',
    Arch: goArch(),
    KernelVersion: os.release(),
    BuildTime: new Date(0).toISOString(),
  };
}


function containerList(d: Daemon, ctx: Ctx) {
  const q = ctx.query;
  const f = filtersParam(q);
  validateFilters(f, ['status', 'name', 'label', 'id', 'ancestor', 'exited', 'before', 'since', 'network', 'volume', 'health', 'isolation', 'is-task', 'publish', 'expose']);
  const all = boolParam(q, 'all');
  let limit = intParam(q, 'limit') ?? -1;
  let list = d.containers.all().sort((a, b) => Date.parse(b.Created) - Date.parse(a.Created) || (b.ID < a.ID ? -1 : 1));
  for (const s of f.get('status') ?? []) {
    if (!['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'].includes(s)) throw invalidParameter(`invalid filter 'status=${s}'`);
  }
  for (const h of f.get('health') ?? []) {
    if (!HEALTH_FILTER_VALUES.includes(h)) throw invalidParameter(`Unrecognised filter value for health: ${h}`);
  }
  const statuses = f.get('status');
  if (!all && !statuses?.length && limit <= 0 && !f.has('exited') && !f.has('before') && !f.has('since')) list = list.filter((c) => c.State.Running);
  if (statuses?.length) list = list.filter((c) => statuses.includes(c.State.Status));
  const names = f.get('name');
  if (names?.length) list = list.filter((c) => names.some((n) => new RegExp(n).test(c.Name.slice(1)) || new RegExp(n).test(c.Name)));
  const ids = f.get('id');
  if (ids?.length) list = list.filter((c) => ids.some((i) => c.ID.startsWith(i)));
  for (const l of f.get('label') ?? []) {
    const [k, v] = splitKV(l);
    list = list.filter((c) => { const labels = c.Config.Labels ?? {}; return v === undefined ? k in labels : labels[k] === v; });
  }
  const exited = f.get('exited');
  if (exited?.length) list = list.filter((c) => c.State.Status === 'exited' && exited.includes(String(c.State.ExitCode)));
  const ancestors = f.get('ancestor');
  if (ancestors?.length) {
    const ids2 = new Set(ancestors.map((a) => d.images.tryResolve(a)?.id).filter(Boolean));
    list = list.filter((c) => ids2.has(c.Image) || ancestors.includes(c.Config.Image));
  }
  for (const key of ['before', 'since'] as const) {
    for (const v of f.get(key) ?? []) {
      const ref = d.containers.get(v);
      const t = Date.parse(ref.Created);
      list = list.filter((c) => (key === 'before' ? Date.parse(c.Created) < t : Date.parse(c.Created) > t));
    }
  }
  const nets = f.get('network');
  // network=NAME or ID of any network the container is configured on.
  if (nets?.length) {
    list = list.filter((c) => nets.includes(c.HostConfig.NetworkMode) || Object.entries(c.NetworkSettings?.Networks ?? {}).some(([n, e]) => nets.includes(n) || (e.NetworkID && nets.some((x) => e.NetworkID.startsWith(x)))));
  }
  // publish=PORT[/PROTO] and expose=PORT[/PROTO].
  for (const key of ['publish', 'expose'] as const) {
    const want = f.get(key);
    if (!want?.length) continue;
    const norm = want.map((w) => (w.includes('/') ? w : `${w}/tcp`));
    list = list.filter((c) => {
      const ports = key === 'publish'
        ? Object.entries(c.NetworkSettings?.Ports ?? {}).filter(([, b]) => b?.length).map(([k]) => k)
        : Object.keys(c.Config.ExposedPorts ?? {});
      return norm.some((w) => ports.includes(w));
    });
  }
  // volume=NAME or a mount destination, as Docker matches it.
  const vols = f.get('volume');
  if (vols?.length) list = list.filter((c) => (c.MountPoints ?? []).some((m) => vols.includes(m.Name ?? '') || vols.includes(m.Destination)));
  const health = f.get('health');
  if (health?.length) list = list.filter((c) => health.includes(healthFilterValue(c)));
  if (boolParam(q, 'latest')) limit = 1;
  if (limit > 0) list = list.slice(0, limit);
  const withSize = boolParam(q, 'size');
  return Promise.all(list.map(async (c) => {
    const s = containerSummary(c);
    if (withSize) {
      // docker ps -s: the container's own changes (its upper dir) and the whole root filesystem.
      const upper = path.join(d.dataRoot, 'containers', c.ID, 'fs', 'upper');
      const { sizeRw, sizeRootFs } = await containerLayerSize(d.images.layers, upper, c.TopLayer);
      Object.assign(s, { SizeRw: Math.max(0, sizeRw), SizeRootFs: sizeRootFs });
    }
    return s;
  }));
}

async function imageLoad(d: Daemon, ctx: Ctx) {
  const quiet = boolParam(ctx.query, 'quiet');
  await progressStream(ctx, async (report, signal) => {
    const loaded = await loadImages(d.images, d.tmpDir, ctx.req, (m) => { if (!quiet || m.stream) report(m); }, signal);
    for (const l of loaded) d.emitEvent('image', 'load', l, {});
  });
}

function imageGet(d: Daemon, ctx: Ctx, names: string[]) {
  if (names.length === 0) throw invalidParameter('no images specified');
  const tar = saveImages(d.images, names);
  ctx.res!.writeHead(200, { 'Content-Type': 'application/x-tar' });
  tar.pipe(ctx.res!);
  tar.on('error', () => ctx.res!.destroy());
  for (const n of names) d.emitEvent('image', 'save', d.images.tryResolve(n)?.id ?? n, {});
}

async function imageCreate(d: Daemon, ctx: Ctx) {
  const q = ctx.query;
  const fromSrc = q.get('fromSrc');
  const fromImage = q.get('fromImage');
  if (fromSrc !== null) {
    if (fromSrc !== '-') throw invalidParameter('importing from a URL is not supported; send the tar as the request body (fromSrc=-)');
    const changes = q.getAll('changes').flatMap((c) => c.split('\n')).filter((c) => c.trim());
    await progressStream(ctx, async (report) => {
      const rec = await importImage(d.images, ctx.req, { repo: q.get('repo') || undefined, tag: q.get('tag') || undefined, message: q.get('message') || undefined, changes }, () => {});
      d.emitEvent('image', 'import', rec.id, {});
      report({ status: rec.id });
    });
    return;
  }
  if (fromImage) {
    await imagePull(d, ctx, fromImage);
    return;
  }
  throw invalidParameter('either fromSrc or fromImage must be given');
}
