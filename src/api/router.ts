// HTTP plumbing for the Docker Engine API: routes with the optional /vX.Y prefix, version negotiation,
// request bodies, Docker-style errors and connection hijacking. No domain logic lives here.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { BerthError, invalidParameter } from '../lib/errors.ts';

export const API_VERSION = '1.47';
export const MIN_API_VERSION = '1.24';
export const ENGINE_VERSION = '27.5.0-berth';

export interface Ctx {
  req: IncomingMessage;
  /** undefined for upgraded (hijacked) requests */
  res?: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
  version: string;
  /** the raw socket, for Upgrade: tcp requests */
  upgrade?: { socket: Duplex; head: Buffer };
}

export type Handler = (ctx: Ctx) => Promise<void> | void;

interface Route {
  method: string;
  re: RegExp;
  names: string[];
  handler: Handler;
}

export class Router {
  private routes: Route[] = [];

  add(method: string, pattern: string, handler: Handler): void {
    const names: string[] = [];
    // `{name}` matches one segment; `{name*}` the rest (image names contain slashes).
    const src = pattern.replace(/\{(\w+)(\*?)\}/g, (_m, name: string, star: string) => {
      names.push(name);
      return star ? '(.+?)' : '([^/]+)';
    });
    this.routes.push({ method, re: new RegExp(`^${src}$`), names, handler });
  }

  match(method: string, path: string): { handler: Handler; params: Record<string, string> } | 'method' | undefined {
    let pathMatched = false;
    for (const r of this.routes) {
      const m = r.re.exec(path);
      if (!m) continue;
      pathMatched = true;
      if (r.method !== method && !(method === 'HEAD' && r.method === 'GET')) continue;
      const params: Record<string, string> = {};
      r.names.forEach((n, i) => (params[n] = decodeURIComponent(m[i + 1])));
      return { handler: r.handler, params };
    }
    return pathMatched ? 'method' : undefined;
  }
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return Math.sign(d);
  }
  return 0;
}

export function splitVersion(rawPath: string): { version: string; path: string } {
  const m = /^\/v([0-9]+\.[0-9]+)(\/.*)$/.exec(rawPath);
  if (!m) return { version: API_VERSION, path: rawPath };
  const version = m[1];
  if (compareVersions(version, MIN_API_VERSION) < 0) {
    throw invalidParameter(`client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`);
  }
  if (compareVersions(version, API_VERSION) > 0) {
    throw invalidParameter(`client version ${version} is too new. Maximum supported API version is ${API_VERSION}`);
  }
  return { version, path: m[2] };
}

export function commonHeaders(): Record<string, string> {
  return {
    'Api-Version': API_VERSION,
    'Docker-Experimental': 'false',
    Ostype: 'linux',
    Server: `Docker/${ENGINE_VERSION} (linux)`,
  };
}

const MAX_JSON_BODY = 16 * 1024 * 1024;

export async function readBody(req: IncomingMessage, limit = MAX_JSON_BODY): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit) throw invalidParameter('request body too large');
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

// For an upgraded (hijacked) request Node hands us the raw socket: its body (Content-Length bytes) is at the
// start of `head` and the socket, and must be taken off before the stream carries stdin.
async function readUpgradeBody(ctx: Ctx): Promise<Buffer> {
  const up = ctx.upgrade!;
  const len = Number(ctx.req.headers['content-length'] ?? 0);
  if (!len) return Buffer.alloc(0);
  if (len > MAX_JSON_BODY) throw invalidParameter('request body too large');
  let buf = up.head;
  while (buf.length < len) {
    const chunk = await new Promise<Buffer | null>((resolve) => {
      const onData = (d: Buffer) => { cleanup(); resolve(d); };
      const onEnd = () => { cleanup(); resolve(null); };
      const cleanup = () => { up.socket.off('data', onData); up.socket.off('end', onEnd); up.socket.pause(); };
      up.socket.on('data', onData);
      up.socket.once('end', onEnd);
      up.socket.resume();
    });
    if (!chunk) break;
    buf = Buffer.concat([buf, chunk]);
  }
  up.head = buf.subarray(len);
  return buf.subarray(0, len);
}

// Docker accepts an empty body as "no config"; a non-empty one must be JSON.
export async function readJson<T>(ctx: Ctx, required = false): Promise<T | undefined> {
  const ct = ctx.req.headers['content-type'];
  const body = ctx.upgrade ? await readUpgradeBody(ctx) : await readBody(ctx.req);
  if (body.length === 0 || body.toString().trim() === '') {
    if (required) throw invalidParameter('invalid JSON: request body is empty');
    return undefined;
  }
  if (ct && !/^application\/json\b/.test(ct) && !/\+json\b/.test(ct)) {
    throw invalidParameter(`unsupported Content-Type header (${ct}): must be 'application/json'`);
  }
  try {
    return JSON.parse(body.toString('utf8')) as T;
  } catch (err) {
    throw invalidParameter(`invalid JSON: ${(err as Error).message}`);
  }
}

export function sendJson(ctx: Ctx, status: number, value: unknown): void {
  const res = ctx.res!;
  const body = JSON.stringify(value) + '\n';
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(ctx.req.method === 'HEAD' ? undefined : body);
}

export function sendEmpty(ctx: Ctx, status = 204): void {
  ctx.res!.writeHead(status);
  ctx.res!.end();
}

export function sendText(ctx: Ctx, status: number, text: string, type = 'text/plain; charset=utf-8'): void {
  ctx.res!.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(text) });
  ctx.res!.end(ctx.req.method === 'HEAD' ? undefined : text);
}

export function errorBody(err: unknown): { status: number; message: string } {
  if (err instanceof BerthError) return { status: err.status, message: err.message };
  return { status: 500, message: err instanceof Error ? err.message : String(err) };
}

export function boolParam(q: URLSearchParams, name: string, dflt = false): boolean {
  const v = q.get(name);
  if (v === null || v === '') return dflt;
  return !['0', 'false', 'False', 'FALSE', 'no'].includes(v);
}

export function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw invalidParameter(`invalid value for ${name}: ${v}`);
  return n;
}

// Docker's filters query parameter: JSON {"name": {"value": true}} or the older {"name": ["value"]}.
export function filtersParam(q: URLSearchParams): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const raw = q.get('filters');
  if (!raw) return out;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw invalidParameter(`invalid filter '${raw}'`);
  }
  if (typeof parsed !== 'object' || parsed === null) throw invalidParameter(`invalid filter '${raw}'`);
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (Array.isArray(v)) out.set(k, v.map(String));
    else if (v && typeof v === 'object') out.set(k, Object.keys(v as object).filter((x) => (v as Record<string, unknown>)[x]));
    else throw invalidParameter(`invalid filter '${raw}'`);
  }
  return out;
}

export function validateFilters(f: Map<string, string[]>, allowed: string[]): void {
  for (const k of f.keys()) if (!allowed.includes(k)) throw invalidParameter(`invalid filter '${k}'`);
}

// Long streams (progress, logs -f): JSON lines flushed as they come.
export function startStream(ctx: Ctx, contentType = 'application/json'): ServerResponse {
  const res = ctx.res!;
  res.writeHead(200, { 'Content-Type': contentType });
  res.flushHeaders();
  return res;
}

// Hijacks the connection like Docker: 101 UPGRADED for `Upgrade: tcp`, else 200 with the raw socket.
export function hijack(ctx: Ctx, contentType: string): Duplex {
  if (ctx.upgrade) {
    const { socket, head } = ctx.upgrade;
    socket.write(`HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n` +
      Object.entries(commonHeaders()).map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n');
    if (head.length) socket.unshift(head);
    return socket;
  }
  const socket = ctx.req.socket;
  const res = ctx.res!;
  // Write the status line ourselves and take the socket from Node's HTTP machinery.
  res.detachSocket(socket);
  socket.write(`HTTP/1.1 200 OK\r\nContent-Type: ${contentType}\r\n` +
    Object.entries(commonHeaders()).map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n');
  return socket;
}
