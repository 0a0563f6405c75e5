// The registry's HTTP API: the OCI distribution spec (Docker's registry API v2) over RegistryStorage, asking an
// AccessControl before every operation. Blobs stream to and from disk; only manifests (4 MiB at most) are
// read into memory.
import http from 'node:http';
import type { Socket } from 'node:net';
import { pipeline } from 'node:stream/promises';
import type { AccessControl, Action, Principal } from './types.ts';
import { RegistryError, blobUnknown, digestInvalid, nameInvalid } from './errors.ts';
import { MAX_MANIFEST_BYTES, MEDIA_TYPES, checkDigest, checkRepositoryName, isDigest, isValidRepositoryName, rangeHeader, type RegistryStorage } from './storage.ts';

export interface RegistryServerOptions {
  storage: RegistryStorage;
  access: AccessControl;
  /** Receives one access-log entry per request (see AccessLogEntry). */
  log?: (entry: object) => void;
  /** The largest request body, and the largest blob an upload may grow to (413 beyond). Default 8 GiB. */
  maxBodyBytes?: number;
  /** Requests sending blob data at the same time; more get a 429. Default 64. */
  maxConcurrentUploads?: number;
}

export interface AccessLogEntry {
  time: string;
  method: string;
  path: string; // query values other than the spec's parameters are masked
  status: number;
  bytes: number; // sent, headers included
  received: number; // read from the client, headers included
  durationMs: number;
  user?: string;
  remote?: string;
  error?: string; // the registry error code, or the message of an internal error
}

const DEFAULT_MAX_BODY = 8 * 1024 ** 3;
const DEFAULT_MAX_UPLOADS = 64;
const CATALOG_PAGE = 1000; // the most repositories or tags one page holds
const API_VERSION = { 'Docker-Distribution-API-Version': 'registry/2.0' };
// Query parameters the spec defines (and the token endpoint's): logged as sent; any other value is masked.
const LOGGED_PARAMS = new Set(['n', 'last', 'digest', 'mount', 'from', 'artifactType', 'scope', 'service', 'q', 'page']);

interface Ctx {
  user?: string;
  error?: string;
}

/**
 * Range of a blob GET. undefined: serve the whole blob (no header, or one the server may ignore: several
 * ranges, another unit, a malformed one); null: unsatisfiable (416); else the inclusive byte range.
 */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | null | undefined {
  if (!header) return undefined;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (!Number.isSafeInteger(suffix)) return undefined;
    if (suffix === 0 || size === 0) return null;
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const last = m[2] === '' ? Infinity : Number(m[2]);
  if (!Number.isSafeInteger(start) || (m[2] !== '' && !Number.isSafeInteger(last)) || last < start) return undefined;
  if (start >= size) return null;
  return { start, end: Math.min(last, size - 1) };
}

/** Content-Range of an upload chunk: "<start>-<end>" inclusive (a "bytes " prefix and "/total" are tolerated). */
export function parseContentRange(header: string): { start: number; end: number } | undefined {
  const m = /^\s*(?:bytes[ =])?\s*(\d+)-(\d+)(?:\/(?:\d+|\*))?\s*$/i.exec(header);
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return undefined;
  return { start, end };
}

/** The path of a request for the access log: the spec's query parameters kept, any other value masked. */
export function loggedPath(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const parts: string[] = [];
  for (const [k, v] of new URLSearchParams(url.slice(q + 1))) parts.push(`${encodeURIComponent(k)}=${LOGGED_PARAMS.has(k) ? encodeURIComponent(v) : '***'}`);
  return `${url.slice(0, q)}${parts.length ? '?' + parts.join('&') : ''}`;
}

export function createRegistryServer(opts: RegistryServerOptions): http.Server {
  const { storage, access } = opts;
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const maxUploads = opts.maxConcurrentUploads ?? DEFAULT_MAX_UPLOADS;
  let activeUploads = 0;

  async function authorize(req: http.IncomingMessage, ctx: Ctx, repo: string, actions: Action[]): Promise<Principal> {
    const principal = await authenticate(req, ctx);
    if (!access.allowed(principal, repo, actions)) {
      // Anonymous callers are told how to log in; a known user asking for more than they have is refused.
      if (principal.user === undefined) {
        throw new RegistryError('UNAUTHORIZED', 'authentication required', {
          detail: actions.map((a) => ({ Type: 'repository', Name: repo, Action: a })),
          headers: { 'WWW-Authenticate': access.challenge(repo, actions) },
        });
      }
      throw new RegistryError('DENIED', 'requested access to the resource is denied', { detail: { name: repo, actions } });
    }
    return principal;
  }

  async function authenticate(req: http.IncomingMessage, ctx: Ctx): Promise<Principal> {
    const result = await access.authenticate(req);
    if ('rejected' in result) throw new RegistryError('UNAUTHORIZED', result.message, { headers: { 'WWW-Authenticate': result.challenge } });
    ctx.user = result.principal.user;
    return result.principal;
  }

  // Requests that write blob data hold one of a fixed number of slots while they stream.
  async function uploadSlot<T>(fn: () => Promise<T>): Promise<T> {
    if (activeUploads >= maxUploads) throw new RegistryError('TOOMANYREQUESTS', 'too many concurrent uploads', { headers: { 'Retry-After': '1' } });
    activeUploads++;
    try {
      return await fn();
    } finally {
      activeUploads--;
    }
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, ctx: Ctx): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    // Never through URL(): it would resolve "..", "%2e%2e" and friends before the name is checked.
    const rawPath = q < 0 ? url : url.slice(0, q);
    const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
    const method = req.method ?? 'GET';

    if (rawPath === '/health') {
      if (method !== 'GET' && method !== 'HEAD') throw unsupported(method);
      return reply(res, 200, { 'Content-Type': 'application/json' }, '{"status":"ok"}');
    }
    if (access.handle && (await access.handle(req, res))) return;
    if (rawPath === '/v2' || rawPath === '/v2/') {
      if (method !== 'GET' && method !== 'HEAD') throw unsupported(method);
      await authenticate(req, ctx);
      return reply(res, 200, { 'Content-Type': 'application/json', ...API_VERSION }, '{}');
    }
    if (rawPath === '/v2/_catalog') return catalog(req, res, ctx, method, query);
    if (!rawPath.startsWith('/v2/')) throw new RegistryError('UNSUPPORTED', 'not found', { status: 404 });

    const length = contentLength(req);
    if (length !== undefined && length > maxBody) throw new RegistryError('SIZE_INVALID', `request body larger than ${maxBody} bytes`, { status: 413 });

    let m: RegExpExecArray | null;
    if ((m = /^\/v2\/(.+)\/blobs\/uploads\/?$/.exec(rawPath))) {
      if (method !== 'POST') throw unsupported(method);
      return startUpload(req, res, ctx, repoName(m[1]), query);
    }
    if ((m = /^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/.exec(rawPath))) {
      return upload(req, res, ctx, method, repoName(m[1]), segment(m[2]), query);
    }
    if ((m = /^\/v2\/(.+)\/blobs\/([^/]+)$/.exec(rawPath))) return blob(req, res, ctx, method, repoName(m[1]), segment(m[2]));
    if ((m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(rawPath))) return manifest(req, res, ctx, method, repoName(m[1]), segment(m[2]));
    if ((m = /^\/v2\/(.+)\/tags\/list$/.exec(rawPath))) {
      if (method !== 'GET' && method !== 'HEAD') throw unsupported(method);
      const name = repoName(m[1]);
      await authorize(req, ctx, name, ['pull']);
      const tags = await storage.tags(name);
      const page = paginate(tags, query, Infinity);
      const headers: http.OutgoingHttpHeaders = { 'Content-Type': 'application/json' };
      if (page.next !== undefined) headers.Link = `</v2/${name}/tags/list?n=${page.n}&last=${encodeURIComponent(page.next)}>; rel="next"`;
      return reply(res, 200, headers, JSON.stringify({ name, tags: page.items }));
    }
    if ((m = /^\/v2\/(.+)\/referrers\/([^/]+)$/.exec(rawPath))) {
      if (method !== 'GET' && method !== 'HEAD') throw unsupported(method);
      const name = repoName(m[1]);
      const digest = checkDigest(segment(m[2]));
      await authorize(req, ctx, name, ['pull']);
      const artifactType = query.get('artifactType') ?? undefined;
      const manifests = await storage.referrers(name, digest, artifactType);
      const headers: http.OutgoingHttpHeaders = { 'Content-Type': MEDIA_TYPES.ociIndex };
      if (artifactType !== undefined) headers['OCI-Filters-Applied'] = 'artifactType';
      return reply(res, 200, headers, JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests }));
    }
    throw new RegistryError('UNSUPPORTED', 'not found', { status: 404 });
  }

  async function catalog(req: http.IncomingMessage, res: http.ServerResponse, ctx: Ctx, method: string, query: URLSearchParams): Promise<void> {
    if (method !== 'GET' && method !== 'HEAD') throw unsupported(method);
    const principal = await authenticate(req, ctx);
    const repos = (await storage.repositories()).filter((r) => access.visible(principal, r));
    const page = paginate(repos, query, CATALOG_PAGE);
    const headers: http.OutgoingHttpHeaders = { 'Content-Type': 'application/json' };
    if (page.next !== undefined) headers.Link = `</v2/_catalog?n=${page.n}&last=${encodeURIComponent(page.next)}>; rel="next"`;
    reply(res, 200, headers, JSON.stringify({ repositories: page.items }));
  }

  async function blob(req: http.IncomingMessage, res: http.ServerResponse, ctx: Ctx, method: string, name: string, ref: string): Promise<void> {
    if (method === 'DELETE') {
      const digest = checkDigest(ref);
      await authorize(req, ctx, name, ['delete']);
      if (!(await storage.unlinkBlob(name, digest))) throw blobUnknown(digest);
      return reply(res, 202, { 'Docker-Content-Digest': digest });
    }
    if (method !== 'GET' && method !== 'HEAD') throw unsupported(method);
    const digest = checkDigest(ref);
    await authorize(req, ctx, name, ['pull']);
    const size = await storage.statBlob(name, digest);
    if (size === undefined) throw blobUnknown(digest);
    const headers: http.OutgoingHttpHeaders = {
      'Content-Type': 'application/octet-stream',
      'Docker-Content-Digest': digest,
      'Accept-Ranges': 'bytes',
      ETag: `"${digest}"`,
      'Cache-Control': 'max-age=31536000',
    };
    const range = method === 'GET' ? parseRange(req.headers.range, size) : undefined;
    if (range === null) return reply(res, 416, { ...headers, 'Content-Range': `bytes */${size}` });
    if (range) {
      headers['Content-Range'] = `bytes ${range.start}-${range.end}/${size}`;
      headers['Content-Length'] = range.end - range.start + 1;
    } else {
      headers['Content-Length'] = size;
    }
    res.writeHead(range ? 206 : 200, headers);
    if (method === 'HEAD' || size === 0) return void res.end();
    // A client that goes away mid-way ends the pipeline with an error: the response is already under way.
    await pipeline(storage.openBlob(digest, range ?? undefined), res).catch(() => res.destroy());
  }

  async function startUpload(req: http.IncomingMessage, res: http.ServerResponse, ctx: Ctx, name: string, query: URLSearchParams): Promise<void> {
    const principal = await authorize(req, ctx, name, ['pull', 'push']);
    const mount = query.get('mount');
    const from = query.get('from');
    if (mount !== null) {
      // A mount needs pull access to the source; when it cannot happen the client gets a plain upload (202).
      if (from !== null && isValidRepositoryName(from) && isDigest(mount) && access.allowed(principal, from, ['pull'])) {
        const size = await storage.mountBlob(name, from, mount);
        if (size !== undefined) return reply(res, 201, { Location: `/v2/${name}/blobs/${mount}`, 'Docker-Content-Digest': mount });
      }
    } else {
      const digest = query.get('digest');
      if (digest !== null) {
        // Monolithic upload: the whole blob in this request's body.
        checkDigest(digest);
        return uploadSlot(async () => {
          const uuid = await storage.startUpload(name);
          try {
            await storage.appendUpload(name, uuid, body(req), { maxBytes: maxBody });
            await storage.completeUpload(name, uuid, digest);
          } catch (err) {
            await storage.cancelUpload(name, uuid).catch(() => {});
            throw err;
          }
          reply(res, 201, { Location: `/v2/${name}/blobs/${digest}`, 'Docker-Content-Digest': digest });
        });
      }
    }
    req.resume();
    const uuid = await storage.startUpload(name);
    reply(res, 202, uploadHeaders(name, uuid, 0));
  }

  async function upload(req: http.IncomingMessage, res: http.ServerResponse, ctx: Ctx, method: string, name: string, uuid: string, query: URLSearchParams): Promise<void> {
    if (method === 'GET' || method === 'HEAD') {
      await authorize(req, ctx, name, ['pull', 'push']);
      const { offset } = await storage.uploadStatus(name, uuid);
      return reply(res, 204, uploadHeaders(name, uuid, offset));
    }
    if (method === 'DELETE') {
      await authorize(req, ctx, name, ['pull', 'push']);
      await storage.cancelUpload(name, uuid);
      return reply(res, 204, {});
    }
    if (method !== 'PATCH' && method !== 'PUT') throw unsupported(method);
    let digest: string | undefined;
    if (method === 'PUT') {
      const d = query.get('digest');
      if (d === null) throw digestInvalid('the digest parameter is required');
      digest = checkDigest(d);
    }
    await authorize(req, ctx, name, ['pull', 'push']);
    let start: number | undefined;
    let length: number | undefined;
    const cr = req.headers['content-range'];
    if (cr !== undefined) {
      const r = parseContentRange(cr);
      if (!r) {
        const { offset } = await storage.uploadStatus(name, uuid);
        throw new RegistryError('BLOB_UPLOAD_INVALID', `invalid Content-Range: ${cr}`, { status: 416, headers: { ...uploadHeaders(name, uuid, offset) } });
      }
      start = r.start;
      length = r.end - r.start + 1;
      const declared = contentLength(req);
      if (declared !== undefined && declared !== length) throw new RegistryError('BLOB_UPLOAD_INVALID', `Content-Range ${cr} does not match Content-Length ${declared}`);
    }
    await uploadSlot(async () => {
      const offset = await storage.appendUpload(name, uuid, body(req), { start, length, maxBytes: maxBody });
      if (digest === undefined) return reply(res, 202, uploadHeaders(name, uuid, offset));
      await storage.completeUpload(name, uuid, digest);
      reply(res, 201, { Location: `/v2/${name}/blobs/${digest}`, 'Docker-Content-Digest': digest });
    });
  }

  async function manifest(req: http.IncomingMessage, res: http.ServerResponse, ctx: Ctx, method: string, name: string, ref: string): Promise<void> {
    if (method === 'GET' || method === 'HEAD') {
      await authorize(req, ctx, name, ['pull']);
      const m = await storage.getManifest(name, ref);
      res.writeHead(200, { 'Content-Type': m.mediaType, 'Content-Length': m.body.length, 'Docker-Content-Digest': m.digest, ETag: `"${m.digest}"` });
      return void res.end(method === 'HEAD' ? undefined : m.body);
    }
    if (method === 'PUT') {
      await authorize(req, ctx, name, ['pull', 'push']);
      const put = await storage.putManifest(name, ref, await readBody(req, MAX_MANIFEST_BYTES), req.headers['content-type']);
      const headers: http.OutgoingHttpHeaders = { Location: `/v2/${name}/manifests/${put.digest}`, 'Docker-Content-Digest': put.digest };
      if (put.subject) headers['OCI-Subject'] = put.subject;
      return reply(res, 201, headers);
    }
    if (method === 'DELETE') {
      await authorize(req, ctx, name, ['delete']);
      await storage.deleteManifest(name, ref);
      return reply(res, 202, {});
    }
    throw unsupported(method);
  }

  const server = http.createServer({ requestTimeout: 0, headersTimeout: 60_000 }, (req, res) => {
    const started = performance.now();
    const socket = req.socket;
    const written0 = socket.bytesWritten;
    const read0 = socket.bytesRead;
    const ctx: Ctx = {};
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    if (opts.log) {
      const log = opts.log;
      res.once('close', () => {
        const entry: AccessLogEntry = {
          time: new Date().toISOString(),
          method: req.method ?? '',
          path: loggedPath(req.url ?? ''),
          status: res.headersSent ? res.statusCode : 0,
          bytes: socket.bytesWritten - written0,
          received: socket.bytesRead - read0,
          durationMs: Math.round((performance.now() - started) * 10) / 10,
          user: ctx.user,
          remote: socket.remoteAddress,
        };
        if (ctx.error) entry.error = ctx.error;
        try {
          log(entry);
        } catch {
          // A broken logger must not take requests down with it.
        }
      });
    }
    handle(req, res, ctx).catch((err: unknown) => {
      const e = err instanceof RegistryError ? err : new RegistryError('UNKNOWN', 'internal server error');
      ctx.error = err instanceof RegistryError ? e.code : String((err as Error)?.message ?? err);
      if (res.headersSent || res.destroyed || socket.destroyed) return void res.destroy();
      reply(res, e.status, { 'Content-Type': 'application/json', ...e.headers }, JSON.stringify(e.body()));
      if (!req.complete) discardRest(req, socket);
    });
  });
  // Idle connections (a client that stops sending mid-upload) are closed after five minutes.
  server.setTimeout(5 * 60_000);
  return server;
}

// The client of a refused request may still be sending its body. Closing the connection at once, with its
// bytes unread, makes the kernel answer with a reset that can destroy our reply before the client reads it;
// so the rest is read and dropped for a while (the connection stays usable if it ends), then the connection
// is closed.
const DISCARD_BYTES = 64 << 20;
const DISCARD_MS = 10_000;
function discardRest(req: http.IncomingMessage, socket: Socket): void {
  if (req.destroyed) return void socket.destroy();
  let seen = 0;
  const timer = setTimeout(() => socket.destroy(), DISCARD_MS);
  timer.unref();
  req.on('data', (c: Buffer) => {
    seen += c.length;
    if (seen > DISCARD_BYTES) socket.destroy();
  });
  req.once('end', () => clearTimeout(timer));
  req.once('close', () => clearTimeout(timer));
  req.on('error', () => {});
  req.resume();
}

// The request body as an iterable that leaves the request alive when the consumer stops early (a refused
// chunk), so that the error can still be answered on the same connection.
function body(req: http.IncomingMessage): AsyncIterable<Buffer> {
  return req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>;
}

function reply(res: http.ServerResponse, status: number, headers: http.OutgoingHttpHeaders, text?: string): void {
  res.writeHead(status, { ...headers, 'Content-Length': text === undefined ? 0 : Buffer.byteLength(text) });
  res.end(res.req.method === 'HEAD' ? undefined : text);
}

function uploadHeaders(name: string, uuid: string, offset: number): Record<string, string> {
  return { Location: `/v2/${name}/blobs/uploads/${uuid}`, Range: rangeHeader(offset), 'Docker-Upload-UUID': uuid };
}

function unsupported(method: string): RegistryError {
  return new RegistryError('UNSUPPORTED', `method ${method} not allowed here`);
}

function segment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new RegistryError('UNSUPPORTED', 'not found', { status: 404 });
  }
}

// A repository name from the path: percent-decoded first, so "%2e%2e" is checked as the ".." it means.
function repoName(raw: string): string {
  let name: string;
  try {
    name = decodeURIComponent(raw);
  } catch {
    throw nameInvalid(raw);
  }
  return checkRepositoryName(name);
}

function contentLength(req: http.IncomingMessage): number | undefined {
  const v = req.headers['content-length'];
  if (v === undefined) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

async function readBody(req: http.IncomingMessage, max: number): Promise<Buffer> {
  const declared = contentLength(req);
  if (declared !== undefined && declared > max) throw new RegistryError('SIZE_INVALID', `body larger than ${max} bytes`, { status: 413 });
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body(req)) {
    total += chunk.length;
    if (total > max) throw new RegistryError('SIZE_INVALID', `body larger than ${max} bytes`, { status: 413 });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

// n and last of the spec's pagination: the items after `last`, at most n of them (capped at `cap`), and the
// `last` of the next page when there is one.
function paginate(items: string[], query: URLSearchParams, cap: number): { items: string[]; n: number; next?: string } {
  const rawN = query.get('n');
  let n = cap;
  if (rawN !== null && rawN !== '') {
    if (!/^\d+$/.test(rawN)) throw new RegistryError('PAGINATION_NUMBER_INVALID', 'invalid number of results requested', { detail: { n: rawN } });
    n = Math.min(Number(rawN), CATALOG_PAGE);
  }
  const last = query.get('last');
  const rest = last ? items.filter((i) => i > last) : items;
  const page = rest.slice(0, n);
  const next = rest.length > page.length && page.length > 0 ? page[page.length - 1] : undefined;
  return { items: page, n: Number.isFinite(n) ? n : page.length, next };
}
