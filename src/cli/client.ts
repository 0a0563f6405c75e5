// HTTP client for the Docker Engine API over a unix socket, negotiating the API version the way the docker
// CLI does: HEAD /_ping once, then every path is prefixed with /v<min(client, server)>.
import type * as Http from 'node:http';
import type { Duplex, Readable } from 'node:stream';
import { ApiError, ConnectError } from './errors.ts';

// process.getBuiltinModule rather than an ESM import: building the ESM namespace of node:http runs its lazy
// getters, which load undici (about 20 ms of start-up).
const http = process.getBuiltinModule('node:http') as typeof Http;

export const CLIENT_API_VERSION = '1.47';
export const DEFAULT_HOST = 'unix:///run/berth.sock';

export type Query = Record<string, string | number | boolean | string[] | undefined | null>;

export interface RequestOptions {
  query?: Query;
  /** A JSON-serialisable value, sent as application/json. */
  json?: unknown;
  /** A raw body: a buffer or a stream piped into the request. */
  body?: Buffer | string | Readable;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export interface Hijacked {
  socket: Duplex;
  /** Bytes of the stream that arrived together with the 101 response. */
  head: Buffer;
}

export class ApiClient {
  readonly host: string;
  readonly socketPath: string;
  #version: string | undefined;
  #negotiated: Promise<void> | undefined;
  #agent = new http.Agent({ keepAlive: true });

  /** host: "unix:///path/to.sock" (dispatch.ts resolves -H and DOCKER_HOST). */
  constructor(host: string, opts: { version?: string } = {}) {
    this.host = host;
    this.socketPath = host.slice('unix://'.length);
    // DOCKER_API_VERSION pins the version and skips negotiation, as in docker.
    this.#version = opts.version;
  }

  /** The negotiated API version (after the first request). */
  get version(): string {
    return this.#version ?? CLIENT_API_VERSION;
  }

  async negotiate(): Promise<void> {
    if (this.#version) return;
    this.#negotiated ??= this.#ping().then((server) => {
      this.#version = server && compareVersions(server, CLIENT_API_VERSION) < 0 ? server : CLIENT_API_VERSION;
    });
    return this.#negotiated;
  }

  async #ping(): Promise<string | undefined> {
    let res = await this.#send('HEAD', '/_ping', {});
    // Old daemons answer HEAD with 405; docker retries with GET.
    if (res.statusCode === 405) {
      res.resume();
      res = await this.#send('GET', '/_ping', {});
    }
    res.resume();
    const v = res.headers['api-version'];
    return typeof v === 'string' && v !== '' ? v : undefined;
  }

  /** Sends a request and returns the response once its status is below 400; throws ApiError otherwise. */
  async request(method: string, path: string, opts: RequestOptions = {}): Promise<Http.IncomingMessage> {
    await this.negotiate();
    const res = await this.#send(method, this.#versioned(path), opts);
    if ((res.statusCode ?? 500) >= 400) throw await responseError(res, `http://${encodeURIComponent(this.socketPath)}${this.#versioned(path)}`);
    return res;
  }

  /** request() then the parsed JSON body (undefined for an empty body). */
  async json<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.request(method, path, opts);
    const text = await readText(res);
    return (text.trim() === '' ? undefined : JSON.parse(text)) as T;
  }

  /** request() discarding the body. */
  async call(method: string, path: string, opts: RequestOptions = {}): Promise<void> {
    const res = await this.request(method, path, opts);
    await readText(res);
  }

  /**
   * POST with `Connection: Upgrade` / `Upgrade: tcp`; the daemon answers 101 and the socket then carries the
   * container's raw (TTY) or multiplexed stream in both directions.
   */
  async hijack(path: string, query: Query = {}, body?: unknown): Promise<Hijacked> {
    await this.negotiate();
    const fullPath = this.#versioned(path) + encodeQuery(query);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise<Hijacked>((resolve, reject) => {
      const req = http.request({
        socketPath: this.socketPath,
        method: 'POST',
        path: fullPath,
        headers: {
          Host: 'api.moby.localhost', 'User-Agent': userAgent(), Connection: 'Upgrade', Upgrade: 'tcp',
          ...(payload === undefined ? { 'Content-Type': 'text/plain' } : { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(payload)) }),
        },
      });
      req.on('upgrade', (res, socket, head) => {
        res.resume();
        resolve({ socket, head });
      });
      req.on('response', (res) => {
        // An answer without the upgrade: either an error or a daemon that streams over plain HTTP.
        if ((res.statusCode ?? 500) >= 400) {
          responseError(res, fullPath).then(reject, reject);
          return;
        }
        resolve({ socket: res as unknown as Duplex, head: Buffer.alloc(0) });
      });
      req.on('error', (err) => reject(this.#connectError(err)));
      req.end(payload);
    });
  }

  close(): void {
    this.#agent.destroy();
  }

  #versioned(path: string): string {
    return `/v${this.version}${path}`;
  }

  #send(method: string, path: string, opts: RequestOptions): Promise<Http.IncomingMessage> {
    const headers: Record<string, string> = { Host: 'api.moby.localhost', 'User-Agent': userAgent(), ...opts.headers };
    let body: Buffer | string | Readable | undefined = opts.body;
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers['Content-Type'] = 'application/json';
    }
    if (typeof body === 'string' || Buffer.isBuffer(body)) headers['Content-Length'] = String(Buffer.byteLength(body));
    return new Promise((resolve, reject) => {
      const req = http.request({
        socketPath: this.socketPath,
        agent: this.#agent,
        method,
        path: path + encodeQuery(opts.query ?? {}),
        headers,
        signal: opts.signal,
      });
      req.on('response', resolve);
      req.on('error', (err) => reject(this.#connectError(err)));
      if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) req.end(body);
      else {
        body.on('error', (err) => req.destroy(err));
        body.pipe(req);
      }
    });
  }

  #connectError(err: Error): Error {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ECONNREFUSED') {
      return new ConnectError(`Cannot connect to the Docker daemon at ${this.host}. Is the docker daemon running?`);
    }
    if (code === 'EACCES') {
      return new ConnectError(`permission denied while trying to connect to the Docker daemon socket at ${this.host}: dial unix ${this.socketPath}: connect: permission denied`);
    }
    return err;
  }
}

let ua: string | undefined;
function userAgent(): string {
  ua ??= `Berth-Client/0.1.0 (${process.platform})`;
  return ua;
}

/** Query string with keys sorted, like Go's url.Values.Encode; undefined, null and false are left out. */
export function encodeQuery(q: Query): string {
  const keys = Object.keys(q).filter((k) => q[k] !== undefined && q[k] !== null && q[k] !== false).sort();
  const parts: string[] = [];
  for (const k of keys) {
    const v = q[k];
    const values = Array.isArray(v) ? v : [v === true ? '1' : String(v)];
    for (const one of values) parts.push(`${queryEscape(k)}=${queryEscape(one)}`);
  }
  return parts.length === 0 ? '' : '?' + parts.join('&');
}

/** Go's url.QueryEscape: space as "+", everything but letters, digits and -_.~ escaped. */
function queryEscape(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase()).replaceAll('%20', '+');
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

export async function readText(res: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function responseError(res: Http.IncomingMessage, url: string): Promise<ApiError> {
  const status = res.statusCode ?? 500;
  const text = await readText(res);
  if (text.length === 0) {
    return new ApiError(status, http.STATUS_CODES[status] ?? String(status),
      `request returned ${http.STATUS_CODES[status] ?? status} for API route and version ${url}, check if the server supports the requested API version`);
  }
  let detail = text.trim();
  if (String(res.headers['content-type'] ?? '').startsWith('application/json')) {
    try {
      const parsed = JSON.parse(text) as { message?: unknown };
      if (typeof parsed.message === 'string') detail = parsed.message.trim();
    } catch { /* keep the raw text */ }
  }
  return new ApiError(status, detail);
}

/** Escapes a name for a URL path the way Go's url.URL does (docker sends "/images/foo/bar:1.0/json"). */
export function esc(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~$&+,/:;=@]/.test(c)) out += c;
    else out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}
