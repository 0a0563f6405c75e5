// `berth registry`: serve (the registry server, also runnable on its own: bin/berth-registry), gc (offline
// garbage collection) and the admin commands (users, visibility, grants, descriptions).
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { RegistryStorage } from './storage.ts';
import { createRegistryServer } from './server.ts';
import { openAccessControl } from './access.ts';
import { collectGarbage } from './gc.ts';
import { registryAdmin, ConfigError, type AdminIo } from './config.ts';

export const REGISTRY_USAGE = `Usage:  berth registry COMMAND

Run and manage a Berth image registry

Commands:
  serve       Serve the registry HTTP API v2 (with token auth and search)
  gc          Remove blobs no manifest references (run it with the registry stopped)
  user        Add, remove or change the password of users (berth registry user --help)
  repo        Set a repository's visibility, grants and description

serve options:
      --addr string        Address to listen on (default "127.0.0.1:5000")
      --root string        Storage directory (default "/var/lib/berth-registry")
      --config string      Access control file (JSON; none: anonymous push and pull, every repository public)
      --tls-cert string    TLS certificate (PEM); serve HTTPS with --tls-key
      --tls-key string     TLS private key (PEM)
      --max-body string    Largest request body in bytes (default 8 GiB)
      --max-uploads int    Concurrent blob uploads before 429 (default 64)
gc options:
      --root string        Storage directory
      --dry-run            Only list what would be removed
`;

interface Opts { [k: string]: string | boolean | undefined }

function parseOpts(args: string[], takes: string[], bools: string[] = []): { opts: Opts; rest: string[] } {
  const opts: Opts = {};
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const eq = a.indexOf('=');
    const name = a.startsWith('--') ? (eq > 0 ? a.slice(2, eq) : a.slice(2)) : undefined;
    if (name && takes.includes(name)) {
      if (eq > 0) opts[name] = a.slice(eq + 1);
      else if (i + 1 < args.length) opts[name] = args[++i];
      else throw new ConfigError(`flag needs an argument: --${name}`);
    } else if (name && bools.includes(name)) opts[name] = true;
    else if (name) throw new ConfigError(`unknown flag: --${name}`);
    else rest.push(a);
  }
  return { opts, rest };
}

export async function registryMain(args: string[], io: AdminIo): Promise<number> {
  const [cmd, ...rest] = args;
  try {
    if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
      io.out.write(REGISTRY_USAGE);
      return cmd ? 0 : 1;
    }
    if (cmd === 'serve') return await serve(rest, io);
    if (cmd === 'gc') {
      const { opts } = parseOpts(rest, ['root'], ['dry-run']);
      const root = String(opts.root ?? '/var/lib/berth-registry');
      const r = await collectGarbage(root, { dryRun: !!opts['dry-run'] });
      for (const d of r.removedBlobs) io.out.write(`${opts['dry-run'] ? 'would remove' : 'removed'} blob ${d}\n`);
      for (const u of r.removedUploads) io.out.write(`${opts['dry-run'] ? 'would remove' : 'removed'} upload ${u}\n`);
      io.out.write(`${r.removedBlobs.length} blobs, ${r.removedUploads.length} uploads, ${r.freedBytes} bytes ${opts['dry-run'] ? 'reclaimable' : 'freed'}\n`);
      return 0;
    }
    return await registryAdmin(args, io);
  } catch (err) {
    io.err.write(`berth registry: ${(err as Error).message}\n`);
    return err instanceof ConfigError ? 125 : 1;
  }
}

async function serve(args: string[], io: AdminIo): Promise<number> {
  const { opts } = parseOpts(args, ['addr', 'root', 'config', 'tls-cert', 'tls-key', 'max-body', 'max-uploads']);
  const addr = String(opts.addr ?? '127.0.0.1:5000');
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr);
  if (!m) throw new ConfigError(`invalid --addr ${addr}: want HOST:PORT`);
  const host = m[1] ?? (m[2] || '0.0.0.0');
  const port = Number(m[3]);
  if ((opts['tls-cert'] === undefined) !== (opts['tls-key'] === undefined)) throw new ConfigError('--tls-cert and --tls-key go together');
  const storage = new RegistryStorage(String(opts.root ?? '/var/lib/berth-registry'));
  await storage.init();
  const tls = opts['tls-cert'] !== undefined;
  const shownHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  const access = await openAccessControl(storage, {
    configFile: opts.config === undefined ? undefined : String(opts.config), root: storage.root,
    publicUrl: `${tls ? 'https' : 'http'}://${shownHost}:${port}`,
    onError: (msg) => io.err.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'error', msg })}\n`),
  });
  // Structured access log: one JSON line per request on stdout.
  const log = (entry: object) => io.out.write(`${JSON.stringify(entry)}\n`);
  let server = createRegistryServer({
    storage, access, log,
    maxBodyBytes: opts['max-body'] === undefined ? undefined : Number(opts['max-body']),
    maxConcurrentUploads: opts['max-uploads'] === undefined ? undefined : Number(opts['max-uploads']),
  });
  if (tls) {
    // The same request handler behind TLS.
    const handler = server.listeners('request')[0] as http.RequestListener;
    server = https.createServer({ cert: readFileSync(String(opts['tls-cert'])), key: readFileSync(String(opts['tls-key'])) }, handler) as unknown as http.Server;
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  io.err.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'info', msg: `registry listening on ${tls ? 'https' : 'http'}://${shownHost}:${bound.port}`, root: storage.root, auth: access.config.auth })}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      server.close(() => resolve());
      server.closeAllConnections();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  return 0;
}
