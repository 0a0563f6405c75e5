// ImageCreate (fromImage: pull), ImagePush, SystemAuth, ImageSearch.
import type { Router, Ctx } from './router.ts';
import { readJson, sendJson, filtersParam, validateFilters, intParam } from './router.ts';
import { progressStream } from './progress-stream.ts';
import type { Daemon } from '../daemon/daemon.ts';
import { decodeAuthHeader, type AuthConfig } from '../distribution/auth.ts';
import { parseReference, fullName, familiarName, repoName } from '../images/reference.ts';
import { invalidParameter, notFound } from '../lib/errors.ts';
import { RegistryClient, endpointsFor, readAll } from '../distribution/client.ts';

function authOf(ctx: Ctx): AuthConfig | undefined {
  const h = ctx.req.headers['x-registry-auth'];
  return decodeAuthHeader(Array.isArray(h) ? h[0] : h);
}

// POST /images/create?fromImage=NAME&tag=TAG: the tag may be a digest; no tag at all pulls every tag.
export async function imagePull(d: Daemon, ctx: Ctx, fromImage: string): Promise<void> {
  const q = ctx.query;
  const tagParam = q.get('tag') ?? '';
  const base = parseReference(fromImage);
  const auth = authOf(ctx);
  const platform = q.get('platform') || undefined;
  let refs: string[];
  if (tagParam) {
    const isDigest = /^[a-z0-9]+:[a-f0-9]{32,}$/.test(tagParam);
    refs = [fullName(isDigest ? { ...base, tag: undefined, digest: tagParam } : { ...base, tag: tagParam, digest: undefined })];
  } else if (base.tag || base.digest) {
    refs = [fullName(base)];
  } else {
    refs = [];
  }
  await progressStream(ctx, async (report, signal) => {
    if (!refs.length) refs = (await listTags(d, base.domain, base.path, auth, signal)).map((t) => fullName({ ...base, tag: t }));
    for (const r of refs) {
      await d.distribution.pull(r, { auth, platform, report, signal });
      d.emitEvent('image', 'pull', familiarName(r), { name: familiarName(r) });
    }
  });
}

async function listTags(d: Daemon, domain: string, repo: string, auth: AuthConfig | undefined, signal: AbortSignal): Promise<string[]> {
  const ep = endpointsFor(domain, d.distribution.registry, 'pull').at(-1)!;
  const client = new RegistryClient(domain, ep, auth, d.distribution.registry.userAgent);
  const res = await client.request('GET', `/v2/${repo}/tags/list`, { scope: `repository:${repo}:pull`, signal });
  if (res.status !== 200) {
    res.body.resume();
    throw notFound(`pull access denied for ${familiarName(`${domain}/${repo}`)}, repository does not exist or may require 'docker login'`);
  }
  const j = JSON.parse((await readAll(res.body, 8 << 20)).toString('utf8')) as { tags?: string[] };
  return j.tags ?? [];
}

export function registerDistributionRoutes(r: Router, d: Daemon): void {
  r.add('POST', '/images/{name*}/push', async (ctx) => {
    const name = ctx.params.name;
    const ref = parseReference(name);
    const tag = ctx.query.get('tag') || ref.tag;
    const target = { ...ref, tag: undefined, digest: undefined };
    let tags: string[];
    if (tag) tags = [tag];
    else {
      // No tag: every tag of the repository (docker push -a).
      const repo = repoName(target);
      tags = d.images.all().flatMap((i) => d.images.tagsOf(i.id)).filter((t) => t.startsWith(`${repo}:`)).map((t) => t.slice(repo.length + 1)).sort();
      if (!tags.length) throw notFound(`An image does not exist locally with the tag: ${familiarName(repo)}`);
    }
    if (tags.length === 1 && !d.images.tryResolve(fullName({ ...target, tag: tags[0] }))) {
      throw notFound(`No such image: ${familiarName(fullName({ ...target, tag: tags[0] }))}`);
    }
    const auth = authOf(ctx);
    await progressStream(ctx, async (report, signal) => {
      await d.distribution.push(target, tags, { auth, report, signal });
      for (const t of tags) d.emitEvent('image', 'push', familiarName(fullName({ ...target, tag: t })), { name: familiarName(fullName({ ...target, tag: t })) });
    });
  });

  r.add('POST', '/auth', async (ctx) => {
    const body = (await readJson<AuthConfig>(ctx, true)) ?? {};
    sendJson(ctx, 200, await d.distribution.login(body));
  });

  r.add('GET', '/images/search', async (ctx) => {
    const f = filtersParam(ctx.query);
    validateFilters(f, ['is-automated', 'is-official', 'stars']);
    const term = ctx.query.get('term') ?? '';
    const limit = intParam(ctx.query, 'limit') ?? 25;
    let results = await d.distribution.search(term, limit, authOf(ctx));
    const official = f.get('is-official')?.[0];
    if (official !== undefined) {
      if (!['true', 'false', '1', '0'].includes(official)) throw invalidParameter(`invalid filter 'is-official=${official}'`);
      results = results.filter((x) => x.is_official === (official === 'true' || official === '1'));
    }
    const automated = f.get('is-automated')?.[0];
    if (automated !== undefined) results = results.filter((x) => x.is_automated === (automated === 'true' || automated === '1'));
    const stars = f.get('stars')?.[0];
    if (stars !== undefined) {
      const n = Number(stars);
      if (!Number.isInteger(n)) throw invalidParameter(`invalid filter 'stars=${stars}'`);
      results = results.filter((x) => x.star_count >= n);
    }
    sendJson(ctx, 200, results);
  });
}
