// A client for the Registry HTTP API v2 (OCI distribution spec): endpoints (mirrors for Docker Hub, HTTPS with
// a plain-HTTP fallback for loopback and insecure registries, as dockerd), authentication (anonymous, Basic,
// Bearer tokens from the challenge's realm, scoped per repository and action), manifests, blobs and uploads.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { Readable } from 'node:stream';
import { BerthError, invalidParameter } from '../lib/errors.ts';
import { parseChallenges, basicHeader, hasCredentials, type AuthConfig } from './auth.ts';

export const DOCKER_HUB = 'docker.io';
const HUB_ENDPOINT = 'https://registry-1.docker.io';

export const MEDIA = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayer: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
} as const;

const MANIFEST_ACCEPT = [MEDIA.dockerManifest, MEDIA.dockerList, MEDIA.ociManifest, MEDIA.ociIndex].join(', ');

export interface RegistryOptions {
  mirrors: string[]; // registry-mirrors: base URLs, tried first for Docker Hub pulls
  insecure: string[]; // insecure-registries: host[:port] or CIDR
  userAgent: string;
}

export interface Endpoint {
  base: string; // scheme://host[:port]
  mirror: boolean;
  fallbackHttp: boolean; // HTTPS first, plain HTTP when the server does not speak TLS
}

// The registry host of a reference's domain; Docker Hub's API lives elsewhere.
export function endpointsFor(domain: string, opts: RegistryOptions, purpose: 'pull' | 'push'): Endpoint[] {
  const out: Endpoint[] = [];
  if (domain === DOCKER_HUB) {
    if (purpose === 'pull') {
      for (const m of opts.mirrors) out.push({ base: m.replace(/\/+$/, ''), mirror: true, fallbackHttp: false });
    }
    out.push({ base: HUB_ENDPOINT, mirror: false, fallbackHttp: false });
    return out;
  }
  const insecure = isInsecure(domain, opts.insecure);
  out.push({ base: `https://${domain}`, mirror: false, fallbackHttp: insecure });
  return out;
}

function hostOnly(domain: string): string {
  if (domain.startsWith('[')) return domain.slice(1, domain.indexOf(']'));
  const i = domain.lastIndexOf(':');
  return i > 0 && !domain.slice(0, i).includes(':') ? domain.slice(0, i) : domain;
}

// Like Docker: loopback registries may use plain HTTP, and so may those listed by host[:port] or CIDR.
export function isInsecure(domain: string, insecure: string[]): boolean {
  const host = hostOnly(domain);
  if (host === 'localhost' || host === '::1' || /^127\./.test(host)) return true;
  for (const entry of insecure) {
    const e = entry.replace(/^https?:\/\//, '').replace(/\/+$/, '');
    if (e === domain || e === host) return true;
    const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(e);
    if (m && net.isIPv4(host)) {
      const toN = (s: string) => s.split('.').reduce((a, b) => a * 256 + Number(b), 0);
      const bits = Number(m[2]);
      const mask = bits === 0 ? 0 : 2 ** 32 - 2 ** (32 - bits);
      if ((toN(host) & mask) >>> 0 === (toN(m[1]) & mask) >>> 0) return true;
    }
  }
  return false;
}

export interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Readable;
  url: string;
}

const agents = { http: new http.Agent({ keepAlive: true, maxSockets: 16 }), https: new https.Agent({ keepAlive: true, maxSockets: 16 }) };

// berthd --offline: registries, token realms and ADD URLs on loopback only. Tests run their daemons this way so
// that a missing image can never send a request (or a DNS lookup) off the machine.
let offline = false;

export function setOffline(on: boolean): void {
  offline = on;
}

export function isOffline(): boolean {
  return offline;
}

export function checkReachable(url: string): void {
  if (!offline) return;
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host === '::1' || /^127\./.test(host)) return;
  throw new BerthError('unavailable', `berthd runs offline (--offline): ${new URL(url).host} is not a loopback address`);
}

// One HTTP exchange, following redirects (blob downloads are often redirected to storage); credentials are only
// sent to the registry's own origin.
export function httpRequest(url: string, opts: { method?: string; headers?: Record<string, string>; body?: Buffer | Readable; signal?: AbortSignal; redirects?: number } = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    checkReachable(url);
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : http;
    const headers = { ...opts.headers };
    if (Buffer.isBuffer(opts.body)) headers['Content-Length'] = String(opts.body.length);
    const req = mod.request(u, { method: opts.method ?? 'GET', headers, agent: u.protocol === 'https:' ? agents.https : agents.http, signal: opts.signal }, (res) => {
      const status = res.statusCode ?? 0;
      const loc = res.headers.location;
      if ([301, 302, 303, 307, 308].includes(status) && loc && (opts.method ?? 'GET') !== 'PUT' && (opts.method ?? 'GET') !== 'PATCH' && (opts.method ?? 'GET') !== 'POST') {
        res.resume();
        if ((opts.redirects ?? 0) >= 5) {
          reject(new BerthError('internal', `${url}: too many redirects`));
          return;
        }
        const next = new URL(loc, u);
        const h = { ...opts.headers };
        if (next.origin !== u.origin) delete h.Authorization;
        httpRequest(next.href, { ...opts, headers: h, redirects: (opts.redirects ?? 0) + 1 }).then(resolve, reject);
        return;
      }
      resolve({ status, headers: res.headers, body: res, url });
    });
    req.on('error', reject);
    if (opts.body instanceof Readable) {
      opts.body.on('error', (e) => req.destroy(e));
      opts.body.pipe(req);
    } else req.end(opts.body);
  });
}

export async function readAll(r: Readable, limit = 64 << 20): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of r) {
    n += (c as Buffer).length;
    if (n > limit) throw invalidParameter(`response larger than ${limit} bytes`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

// The registry's error body ({"errors":[{"code","message","detail"}]}) as Docker prints it: "code: message".
export async function registryErrorText(res: Response): Promise<string> {
  const body = await readAll(res.body, 1 << 20).catch(() => Buffer.alloc(0));
  try {
    const j = JSON.parse(body.toString('utf8')) as { errors?: { code?: string; message?: string }[]; details?: string };
    if (j.errors?.length) return j.errors.map((e) => `${(e.code ?? '').toLowerCase().replace(/_/g, ' ')}: ${e.message ?? ''}`).join(', ');
  } catch { /* not JSON */ }
  const text = body.toString('utf8').trim();
  return text || `${res.status} ${http.STATUS_CODES[res.status] ?? ''}`.trim();
}

export async function registryErrorCodes(res: Response): Promise<{ codes: string[]; text: string }> {
  const body = await readAll(res.body, 1 << 20).catch(() => Buffer.alloc(0));
  try {
    const j = JSON.parse(body.toString('utf8')) as { errors?: { code?: string; message?: string }[] };
    if (j.errors?.length) {
      return { codes: j.errors.map((e) => e.code ?? ''), text: j.errors.map((e) => `${(e.code ?? '').toLowerCase().replace(/_/g, ' ')}: ${e.message ?? ''}`).join(', ') };
    }
  } catch { /* not JSON */ }
  return { codes: [], text: body.toString('utf8').trim() || `${res.status} ${http.STATUS_CODES[res.status] ?? ''}`.trim() };
}

// The scheme a registry host answered on, remembered for the daemon's lifetime.
const schemeOf = new Map<string, 'https' | 'http'>();

interface Token { value: string; expires: number }

// A client for one registry endpoint and one set of credentials. Tokens are cached per scope.
export class RegistryClient {
  readonly endpoint: Endpoint;
  readonly domain: string;
  private readonly auth?: AuthConfig;
  private readonly userAgent: string;
  private tokens = new Map<string, Token>();
  private basic = false; // the registry asked for Basic auth

  constructor(domain: string, endpoint: Endpoint, auth: AuthConfig | undefined, userAgent: string) {
    this.domain = domain;
    this.endpoint = endpoint;
    this.auth = auth;
    this.userAgent = userAgent;
  }

  private baseUrl(): string {
    const host = this.endpoint.base.replace(/^https?:\/\//, '');
    const scheme = schemeOf.get(host);
    return scheme ? `${scheme}://${host}` : this.endpoint.base;
  }

  // Sends a request with the right credentials: a cached token for the scope, else anonymous first, then what
  // the 401 challenge asks for (once).
  async request(method: string, path: string, opts: { scope?: string; headers?: Record<string, string>; body?: () => Buffer | Readable; signal?: AbortSignal } = {}): Promise<Response> {
    const scope = opts.scope ?? '';
    const send = async (authz?: string): Promise<Response> => {
      const headers: Record<string, string> = { 'User-Agent': this.userAgent, ...opts.headers };
      if (authz) headers.Authorization = authz;
      return this.sendWithFallback(method, path, { headers, body: opts.body?.(), signal: opts.signal });
    };
    let res = await send(this.cachedAuth(scope));
    if (res.status !== 401) return res;
    const challenges = parseChallenges(res.headers['www-authenticate']);
    res.body.resume();
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    if (bearer) {
      const token = await this.fetchToken(bearer.params, scope, opts.signal);
      res = await send(`Bearer ${token}`);
    } else if (challenges.some((c) => c.scheme === 'basic')) {
      if (!this.auth?.username) throw new BerthError('unauthorized', 'no basic auth credentials');
      this.basic = true;
      res = await send(basicHeader(this.auth.username, this.auth.password ?? ''));
    }
    return res;
  }

  private cachedAuth(scope: string): string | undefined {
    if (this.auth?.registrytoken) return `Bearer ${this.auth.registrytoken}`;
    if (this.basic && this.auth?.username) return basicHeader(this.auth.username, this.auth.password ?? '');
    const t = this.tokens.get(scope);
    return t && t.expires > Date.now() ? `Bearer ${t.value}` : undefined;
  }

  private async sendWithFallback(method: string, path: string, opts: { headers: Record<string, string>; body?: Buffer | Readable; signal?: AbortSignal }): Promise<Response> {
    const host = this.endpoint.base.replace(/^https?:\/\//, '');
    const url = `${this.baseUrl()}${path}`;
    try {
      const res = await httpRequest(url, { method, ...opts });
      if (!schemeOf.has(host)) schemeOf.set(host, url.startsWith('https:') ? 'https' : 'http');
      return res;
    } catch (err) {
      // A plain-HTTP server answers a TLS hello with garbage: Docker then retries over HTTP for insecure
      // registries. A request body that was a stream cannot be sent twice, so callers send buffers first.
      if (this.endpoint.fallbackHttp && url.startsWith('https:') && !schemeOf.has(host) && !(opts.body instanceof Readable)) {
        const res = await httpRequest(`http://${host}${path}`, { method, ...opts });
        schemeOf.set(host, 'http');
        return res;
      }
      throw connectError(url, err);
    }
  }

  // The Bearer token flow (Docker's token auth): GET realm?service=&scope= with Basic credentials when we have
  // them; the token is cached for its lifetime.
  private async fetchToken(params: Record<string, string>, scope: string, signal?: AbortSignal): Promise<string> {
    if (!params.realm) throw new BerthError('unauthorized', 'unauthorized: the registry sent a bearer challenge without a realm');
    const u = new URL(params.realm);
    if (params.service) u.searchParams.set('service', params.service);
    for (const s of (scope || params.scope || '').split(' ').filter(Boolean)) u.searchParams.append('scope', s);
    const headers: Record<string, string> = { 'User-Agent': this.userAgent };
    if (this.auth?.username) headers.Authorization = basicHeader(this.auth.username, this.auth.password ?? '');
    let res: Response;
    if (this.auth?.identitytoken) {
      // An identity token is an OAuth2 refresh token (docker login to Docker Hub).
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: this.auth.identitytoken, service: params.service ?? '', client_id: 'berth', scope });
      res = await httpRequest(params.realm, { method: 'POST', headers: { 'User-Agent': this.userAgent, 'Content-Type': 'application/x-www-form-urlencoded' }, body: Buffer.from(form.toString()), signal })
        .catch((e) => { throw connectError(params.realm, e); });
    } else {
      res = await httpRequest(u.href, { headers, signal }).catch((e) => { throw connectError(u.href, e); });
    }
    if (res.status === 401 || res.status === 403) {
      res.body.resume();
      throw new BerthError('unauthorized', hasCredentials(this.auth) ? 'unauthorized: incorrect username or password' : 'unauthorized: authentication required');
    }
    if (res.status !== 200) throw new BerthError('internal', `token request to ${u.origin} failed: ${await registryErrorText(res)}`);
    let j: { token?: string; access_token?: string; expires_in?: number };
    try {
      j = JSON.parse((await readAll(res.body, 1 << 20)).toString('utf8'));
    } catch {
      throw new BerthError('internal', `token request to ${u.origin}: the answer is not JSON`);
    }
    const value = j.token || j.access_token;
    if (!value) throw new BerthError('internal', `token request to ${u.origin}: no token in the answer`);
    // Docker's minimum: tokens without a lifetime last 60 seconds.
    this.tokens.set(scope, { value, expires: Date.now() + Math.max(60, (j.expires_in ?? 60) - 5) * 1000 });
    return value;
  }

  // GET /v2/: for login, checks the credentials (a Bearer registry gives a token only to right ones).
  async ping(signal?: AbortSignal): Promise<Response> {
    return this.request('GET', '/v2/', { signal });
  }

  async getManifest(repo: string, ref: string, signal?: AbortSignal): Promise<Response> {
    return this.request('GET', `/v2/${repo}/manifests/${ref}`, { scope: `repository:${repo}:pull`, headers: { Accept: MANIFEST_ACCEPT }, signal });
  }

  async getBlob(repo: string, digest: string, signal?: AbortSignal, from?: number): Promise<Response> {
    return this.request('GET', `/v2/${repo}/blobs/${digest}`, { scope: `repository:${repo}:pull`, signal, headers: from ? { Range: `bytes=${from}-` } : undefined });
  }

  // The URL a path has on this registry, with the scheme it answered on.
  urlFor(path: string): string {
    return `${this.baseUrl()}${path}`;
  }

  async blobExists(repo: string, digest: string, scope: string, signal?: AbortSignal): Promise<boolean> {
    const res = await this.request('HEAD', `/v2/${repo}/blobs/${digest}`, { scope, signal });
    res.body.resume();
    return res.status === 200;
  }

  // Cross-repository mount: 201 means the registry linked the blob; 202 starts an upload instead (cancelled).
  async mountBlob(repo: string, digest: string, from: string, scope: string, signal?: AbortSignal): Promise<boolean> {
    const res = await this.request('POST', `/v2/${repo}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`, { scope, signal, body: () => Buffer.alloc(0) });
    res.body.resume();
    if (res.status === 201) return true;
    if (res.status === 202 && res.headers.location) {
      await this.request('DELETE', this.relative(res.headers.location), { scope, signal }).then((r) => r.body.resume(), () => {});
    }
    return false;
  }

  relative(location: string): string {
    const u = new URL(location, this.baseUrl());
    return `${u.pathname}${u.search}`;
  }

  // Uploads a blob: POST starts the session, PATCH streams the bytes (the digest is known only at the end),
  // PUT ?digest= commits; the registry verifies the digest.
  async uploadBlob(repo: string, scope: string, body: () => Readable, digestAtEnd: () => string, signal?: AbortSignal): Promise<void> {
    const start = await this.request('POST', `/v2/${repo}/blobs/uploads/`, { scope, signal, body: () => Buffer.alloc(0) });
    if (start.status !== 202 || !start.headers.location) throw await pushError(this.domain, repo, start);
    start.body.resume();
    const patch = await this.request('PATCH', this.relative(start.headers.location), {
      scope, signal, headers: { 'Content-Type': 'application/octet-stream' }, body,
    });
    if (patch.status !== 202 || !patch.headers.location) throw await pushError(this.domain, repo, patch);
    patch.body.resume();
    const loc = this.relative(patch.headers.location);
    const put = await this.request('PUT', `${loc}${loc.includes('?') ? '&' : '?'}digest=${encodeURIComponent(digestAtEnd())}`, { scope, signal, body: () => Buffer.alloc(0) });
    if (put.status !== 201) throw await pushError(this.domain, repo, put);
    put.body.resume();
  }

  async putManifest(repo: string, ref: string, mediaType: string, body: Buffer, scope: string, signal?: AbortSignal): Promise<void> {
    const res = await this.request('PUT', `/v2/${repo}/manifests/${ref}`, { scope, signal, headers: { 'Content-Type': mediaType }, body: () => body });
    if (res.status !== 201 && res.status !== 200) throw await pushError(this.domain, repo, res);
    res.body.resume();
  }
}

function connectError(url: string, err: unknown): BerthError {
  if (err instanceof BerthError) return err;
  const e = err as NodeJS.ErrnoException;
  if (e?.name === 'AbortError') return new BerthError('internal', 'context canceled');
  const u = new URL(url);
  return new BerthError('internal', `Get "${u.origin}/v2/": ${e?.code === 'ECONNREFUSED' ? `dial tcp ${u.host}: connect: connection refused` : e?.message ?? String(err)}`);
}

async function pushError(domain: string, repo: string, res: Response): Promise<BerthError> {
  const { text } = await registryErrorCodes(res);
  if (res.status === 401 || res.status === 403) return new BerthError('unauthorized', text.includes('denied') ? text : `denied: requested access to the resource is denied`);
  return new BerthError('internal', `${domain}/${repo}: ${text}`);
}
