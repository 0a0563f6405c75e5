// Small helpers shared by the integration tests: raw API requests over the daemon's unix socket, polling,
// and the two CLIs bound to one test daemon.
import http from 'node:http';
import { run, BERTH, DOCKER, type TestDaemon, type RunResult } from './harness.ts';

export interface ApiResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  body: Buffer;
  /* eslint-disable-next-line @typescript-eslint/no-explicit-any */
  json: any; // the parsed body, undefined when it is not JSON
}

/** One HTTP request to the Engine API; an object body is sent as JSON. Never throws on an HTTP error status. */
export function api(socket: string, method: string, path: string, opts: { body?: string | Buffer | object; headers?: Record<string, string> } = {}): Promise<ApiResponse> {
  return new Promise((resolve, reject) => {
    let payload: Buffer | undefined;
    const headers: Record<string, string> = { ...opts.headers };
    if (Buffer.isBuffer(opts.body) || typeof opts.body === 'string') payload = Buffer.from(opts.body);
    else if (opts.body !== undefined) {
      payload = Buffer.from(JSON.stringify(opts.body));
      headers['Content-Type'] ??= 'application/json';
    }
    if (payload) headers['Content-Length'] = String(payload.length);
    const req = http.request({ socketPath: socket, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        const text = body.toString('utf8');
        let json: unknown;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** Polls `fn` until it returns a truthy value (returned), failing with `what` after `timeout` ms. */
export async function waitFor<T>(what: string, fn: () => T | Promise<T>, opts: { timeout?: number; interval?: number } = {}): Promise<NonNullable<T>> {
  const deadline = Date.now() + (opts.timeout ?? 10000);
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, opts.interval ?? 50));
  }
}

export interface CliOpts { input?: string | Buffer; env?: NodeJS.ProcessEnv; timeout?: number }

/** The real docker CLI against this daemon. */
export function docker(d: TestDaemon, args: string[], opts: CliOpts = {}): Promise<RunResult> {
  return run(DOCKER, args, { env: { ...d.env, ...opts.env }, input: opts.input, timeout: opts.timeout });
}

/** bin/berth against this daemon. */
export function berth(d: TestDaemon, args: string[], opts: CliOpts = {}): Promise<RunResult> {
  return run(BERTH, args, { env: { ...d.env, ...opts.env }, input: opts.input, timeout: opts.timeout });
}

/** Like docker() but fails the test unless the command succeeds; returns trimmed stdout. */
export async function dockerOk(d: TestDaemon, args: string[], opts: CliOpts = {}): Promise<string> {
  const r = await docker(d, args, opts);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout.trim();
}

/** Makes busybox:latest in the daemon with `berth image bootstrap`; returns its image ID. */
export async function bootstrap(d: TestDaemon): Promise<string> {
  const r = await berth(d, ['image', 'bootstrap']);
  if (r.code !== 0) throw new Error(`berth image bootstrap exited ${r.code}: ${r.stderr}`);
  const id = r.stdout.trim();
  if (!/^sha256:[0-9a-f]{64}$/.test(id)) throw new Error(`berth image bootstrap printed ${JSON.stringify(r.stdout)}`);
  return id;
}

/** Whether a process exists (signal 0). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
