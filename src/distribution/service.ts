// The daemon's registry side in one place: pull, push, login (POST /auth) and search, with the daemon's
// registry settings (mirrors, insecure registries) and the layer metadata that lets pushes reuse blobs.
import path from 'node:path';
import type { ImageStore, ImageRecord } from '../images/store.ts';
import { parseReference, withDefaultTag, type Reference } from '../images/reference.ts';
import { BerthError, invalidParameter } from '../lib/errors.ts';
import type { Report } from '../lib/progress.ts';
import { RegistryClient, endpointsFor, readAll, registryErrorText, DOCKER_HUB, type RegistryOptions } from './client.ts';
import { basicHeader, type AuthConfig } from './auth.ts';
import { LayerMetadata } from './metadata.ts';
import { pullImage } from './pull.ts';
import { pushImage, type PushResult } from './push.ts';

export interface DistributionConfig {
  mirrors: string[];
  insecure: string[];
  maxConcurrentDownloads?: number;
  maxConcurrentUploads?: number;
  userAgent: string;
}

export interface SearchResult {
  name: string;
  description: string;
  star_count: number;
  is_official: boolean;
  is_automated: boolean;
}

const HUB_ADDRESSES = new Set(['https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'registry-1.docker.io', 'https://index.docker.io/v1', 'https://registry-1.docker.io']);

// "https://index.docker.io/v1/" → docker.io; "http://127.0.0.1:5000/v2/" → 127.0.0.1:5000.
export function registryDomain(serverAddress: string | undefined): string {
  const s = (serverAddress ?? '').trim();
  if (!s || HUB_ADDRESSES.has(s)) return DOCKER_HUB;
  const host = s.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? DOCKER_HUB : host;
}

export class DistributionService {
  readonly meta: LayerMetadata;
  private readonly store: ImageStore;
  private readonly cfg: DistributionConfig;
  private readonly tmpDir: string;
  // One pull per reference at a time: a second asker waits for the first and then finds the image.
  private inflight = new Map<string, Promise<ImageRecord>>();

  constructor(store: ImageStore, dataRoot: string, tmpDir: string, cfg: DistributionConfig) {
    this.store = store;
    this.cfg = cfg;
    this.tmpDir = tmpDir;
    this.meta = new LayerMetadata(path.join(dataRoot, 'distribution'));
  }

  init(): Promise<void> {
    return this.meta.init();
  }

  get registry(): RegistryOptions {
    return { mirrors: this.cfg.mirrors, insecure: this.cfg.insecure, userAgent: this.cfg.userAgent };
  }

  async pull(refText: string, opts: { auth?: AuthConfig; platform?: string; report: Report; signal?: AbortSignal }): Promise<ImageRecord> {
    const ref = withDefaultTag(parseReference(refText));
    const key = `${ref.domain}/${ref.path}:${ref.tag ?? ''}@${ref.digest ?? ''}|${opts.platform ?? ''}`;
    const running = this.inflight.get(key);
    if (running) {
      await running.catch(() => {});
    }
    const p = pullImage({ store: this.store, meta: this.meta, registry: this.registry, tmpDir: this.tmpDir, maxConcurrentDownloads: this.cfg.maxConcurrentDownloads ?? 3 }, ref, opts);
    this.inflight.set(key, p);
    try {
      return await p;
    } finally {
      if (this.inflight.get(key) === p) this.inflight.delete(key);
    }
  }

  async push(ref: Reference, tags: string[], opts: { auth?: AuthConfig; report: Report; signal?: AbortSignal }): Promise<PushResult[]> {
    return pushImage({ store: this.store, meta: this.meta, registry: this.registry, maxConcurrentUploads: this.cfg.maxConcurrentUploads ?? 5 }, ref, tags, opts);
  }

  // POST /auth: the credentials must open the registry's /v2/ (Basic) or get a token (Bearer).
  async login(auth: AuthConfig): Promise<{ Status: string; IdentityToken: string }> {
    if (!auth.username && !auth.identitytoken) throw invalidParameter('Username cannot be empty');
    const domain = registryDomain(auth.serveraddress);
    const ep = endpointsFor(domain, this.registry, 'push')[0];
    const client = new RegistryClient(domain, ep, auth, this.cfg.userAgent);
    let res;
    try {
      res = await client.ping();
    } catch (err) {
      // dockerd: `Get "http://host/v2/": unauthorized: incorrect username or password` from a token realm.
      if (err instanceof BerthError && err.code === 'unauthorized') throw new BerthError('unauthorized', `Get "${client.urlFor('/v2/')}": ${err.message}`);
      throw err;
    }
    res.body.resume();
    if (res.status === 401 || res.status === 403) throw new BerthError('unauthorized', `login attempt to ${res.url} failed with status: ${res.status} ${res.status === 401 ? 'Unauthorized' : 'Forbidden'}`);
    if (res.status !== 200) throw new BerthError('internal', `login attempt to ${res.url} failed with status: ${res.status}`);
    return { Status: 'Login Succeeded', IdentityToken: '' };
  }

  // GET /images/search: the registry's v1 search (Docker Hub's shape), "host/term" for other registries.
  async search(term: string, limit: number, auth: AuthConfig | undefined, signal?: AbortSignal): Promise<SearchResult[]> {
    if (!term) throw invalidParameter('term is required');
    let domain = DOCKER_HUB;
    let q = term;
    const slash = term.indexOf('/');
    if (slash > 0) {
      const first = term.slice(0, slash);
      if (first.includes('.') || first.includes(':') || first === 'localhost') {
        domain = first;
        q = term.slice(slash + 1);
      }
    }
    if (limit < 1 || limit > 100) throw invalidParameter(`limit ${limit} is outside the range of [1, 100]`);
    const base = domain === DOCKER_HUB ? { base: 'https://index.docker.io', mirror: false, fallbackHttp: false } : endpointsFor(domain, this.registry, 'pull')[0];
    const client = new RegistryClient(domain, base, auth, this.cfg.userAgent);
    // Search answers anonymous callers with public repositories only: send the credentials at once.
    const headers: Record<string, string> = auth?.username ? { Authorization: basicHeader(auth.username, auth.password ?? '') } : {};
    const res = await client.request('GET', `/v1/search?q=${encodeURIComponent(q)}&n=${limit}`, { signal, headers });
    if (res.status === 404) {
      res.body.resume();
      throw new BerthError('not-found', `Unexpected status code 404: ${domain} does not support search (no /v1/search endpoint)`);
    }
    if (res.status !== 200) throw new BerthError(res.status === 401 ? 'unauthorized' : 'internal', `Unexpected status code ${res.status}: ${await registryErrorText(res)}`);
    let j: { results?: SearchResult[] };
    try {
      j = JSON.parse((await readAll(res.body, 8 << 20)).toString('utf8'));
    } catch {
      throw new BerthError('internal', `${domain}: the search answer is not JSON`);
    }
    return (j.results ?? []).slice(0, limit).map((r) => ({
      name: String(r.name ?? ''), description: String(r.description ?? ''), star_count: Number(r.star_count ?? 0),
      is_official: !!r.is_official, is_automated: !!r.is_automated,
    }));
  }
}
