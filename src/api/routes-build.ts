// ImageBuild (the classic builder protocol: a tar context in, JSON lines out) and BuildPrune.
import { PassThrough } from 'node:stream';
import type { Router, Ctx } from './router.ts';
import { sendJson, boolParam, intParam } from './router.ts';
import { progressStream } from './progress-stream.ts';
import type { Daemon } from '../daemon/daemon.ts';
import { runBuild, BuildError, type BuildOptions } from '../build/builder.ts';
import { decodeAuthHeader, type AuthConfig } from '../distribution/auth.ts';
import { parseReference, fullName, withDefaultTag } from '../images/reference.ts';
import { invalidParameter } from '../lib/errors.ts';
import { buildCacheUsage } from '../images/disk-usage.ts';

function jsonParam<T>(q: URLSearchParams, name: string, dflt: T): T {
  const v = q.get(name);
  if (!v) return dflt;
  try {
    return JSON.parse(v) as T;
  } catch {
    throw invalidParameter(`invalid ${name}: not JSON`);
  }
}

// X-Registry-Config: base64 JSON of registry → credentials, for the pulls of FROM lines.
function registryConfig(ctx: Ctx): Record<string, AuthConfig> {
  const h = ctx.req.headers['x-registry-config'];
  const v = Array.isArray(h) ? h[0] : h;
  if (!v) return {};
  try {
    return JSON.parse(Buffer.from(v.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8')) as Record<string, AuthConfig>;
  } catch {
    return {};
  }
}

export function registerBuildRoutes(r: Router, d: Daemon): void {
  r.add('POST', '/build', async (ctx) => {
    const q = ctx.query;
    const tags = q.getAll('t').filter(Boolean).map((t) => {
      const ref = withDefaultTag(parseReference(t));
      if (ref.digest) throw invalidParameter(`invalid tag ${JSON.stringify(t)}: tags cannot contain a digest`);
      return fullName(ref);
    });
    const num = (k: string) => intParam(q, k) || undefined;
    const o: BuildOptions = {
      dockerfile: q.get('dockerfile') || 'Dockerfile',
      tags,
      buildArgs: jsonParam<Record<string, string | null>>(q, 'buildargs', {}),
      target: q.get('target') || undefined,
      noCache: boolParam(q, 'nocache'),
      pull: boolParam(q, 'pull'),
      rm: boolParam(q, 'rm', true),
      forceRm: boolParam(q, 'forcerm'),
      labels: jsonParam<Record<string, string>>(q, 'labels', {}),
      networkMode: q.get('networkmode') || undefined,
      extraHosts: (q.get('extrahosts') ?? '').split(',').filter(Boolean),
      platform: q.get('platform') || undefined,
      quiet: boolParam(q, 'q'),
      shmSize: num('shmsize'), memory: num('memory'), memorySwap: num('memswap'), cpuShares: num('cpushares'),
      cpusetCpus: q.get('cpusetcpus') || undefined, cpuPeriod: num('cpuperiod'), cpuQuota: num('cpuquota'),
    };
    const auths = registryConfig(ctx);
    // The context goes through a pass-through: a hostile or broken tar makes the unpacker destroy its input,
    // which must not be the request (that would close the connection before the error reaches the client).
    const body = new PassThrough();
    ctx.req.pipe(body);
    await progressStream(ctx, async (report, signal) => {
      try {
        const { id } = await runBuild({
          images: d.images,
          containers: d.containers,
          tmpDir: d.tmpDir,
          pull: (ref, rep, sig) => {
            const domain = parseReference(ref).domain;
            const auth = auths[domain] ?? auths[`https://${domain}`] ?? (domain === 'docker.io' ? auths['https://index.docker.io/v1/'] : undefined);
            return d.distribution.pull(ref, { auth: auth ? decodeAuthHeader(Buffer.from(JSON.stringify(auth)).toString('base64')) : undefined, report: rep, signal: sig });
          },
          tag: async (id, ref) => {
            const key = await d.images.tag(id, ref);
            d.emitEvent('image', 'tag', id, { name: key });
          },
        }, body, o, report, signal);
        if (o.quiet) report({ stream: `${id}\n` });
      } catch (err) {
        ctx.req.unpipe(body);
        ctx.req.resume();
        // Docker's error line carries the failing RUN's exit code, which the docker CLI exits with.
        const message = err instanceof Error ? err.message : String(err);
        const code = err instanceof BuildError ? err.exitCode : undefined;
        report({ errorDetail: { message, ...(code ? { code } : {}) }, error: message });
      }
    });
  });

  // The build cache is the builder's step images: untagged, unused, and (after their children went) leaves.
  // Tagged images, their parents and images of containers stay, with or without -a.
  r.add('POST', '/build/prune', async (ctx) => {
    const deleted: string[] = [];
    let reclaimed = 0;
    for (;;) {
      const steps = buildCacheUsage(d.images).filter((b) => !b.InUse);
      const leaves = d.images.all().filter((i) => steps.some((b) => b.ID === i.id.slice(7, 19)) && d.containers.usersOfImage(i.id).length === 0);
      if (!leaves.length) break;
      for (const img of leaves) {
        const size = Number(steps.find((b) => b.ID === img.id.slice(7, 19))?.Size ?? 0);
        const items = await d.images.remove(img.id, { force: false, noprune: false, users: (id) => d.containers.usersOfImage(id), layerInUse: (c) => d.containers.layerInUse(c) }).catch(() => []);
        // Its untagged parents that are left without children go with it.
        for (const x of items) if (x.Deleted && !deleted.includes(x.Deleted)) deleted.push(x.Deleted);
        if (items.some((x) => x.Deleted === img.id)) reclaimed += size;
      }
      if (!leaves.some((l) => deleted.includes(l.id))) break;
    }
    sendJson(ctx, 200, { CachesDeleted: deleted.length ? deleted : null, SpaceReclaimed: reclaimed });
  });
}
