// Loopback registries for the pull/push tests: the real distribution registry (/usr/bin/docker-registry, 2.8)
// with no auth, htpasswd basic auth or token auth (the token issuer is a small Node server here, signing RS256
// JWTs with an x5c certificate chain), a fake registry in Node that can misbehave on purpose (cut a blob off
// mid-way), and OCI images built from generated files (gzip, zstd or plain layers; multi-platform indexes)
// pushed with skopeo. Everything listens on 127.0.0.1 only; nothing is fetched from anywhere else.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createHash, createSign, randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, promises as fsp } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import tarStream from 'tar-stream';

const execFileP = promisify(execFile);
export const REGISTRY_BIN = '/usr/bin/docker-registry';
export const SKOPEO = '/usr/bin/skopeo';

export const MEDIA = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  layerTar: 'application/vnd.oci.image.layer.v1.tar',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  layerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
} as const;

export function sha256(data: Uint8Array | string): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

/** A free TCP port on 127.0.0.1 (bound and released: the caller binds it right after). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
  });
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

/** Status of GET url (0 when nothing answers). */
export function httpStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.setTimeout(2000, () => req.destroy());
  });
}

/** GET/HEAD against a registry: status, headers and body. */
export function httpRequest(url: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

// ---------------------------------------------------------------------------------------------------------
// The real registry

export interface Registry {
  host: string; // 127.0.0.1:PORT
  url: string; // http://127.0.0.1:PORT
  dir: string; // temp dir: config, storage (dir/data), htpasswd, certificates
  storage: string; // the registry's rootdirectory
  auth: 'none' | 'basic' | 'token';
  /** Token auth: the issuer's /token URL and the service name. */
  token?: { realm: string; service: string; issuer: string };
  log(): string;
  stop(): Promise<void>;
}

export interface RegistryOpts {
  auth?: 'none' | 'basic' | 'token';
  users?: Record<string, string>;
  /** Run inside this network namespace (see makeNetns) instead of the host's. */
  netns?: Netns;
}

/** Starts /usr/bin/docker-registry on 127.0.0.1 with a random port and a temp storage dir. */
export async function startRegistry(opts: RegistryOpts = {}): Promise<Registry> {
  const auth = opts.auth ?? 'none';
  const users = opts.users ?? {};
  const dir = mkdtempSync(path.join(os.tmpdir(), 'breg-'));
  const storage = path.join(dir, 'data');
  mkdirSync(storage);
  let output = '';
  let issuer: TokenIssuer | undefined;
  let proc: ChildProcess | undefined;
  const cleanup = async () => {
    if (proc) await stopChild(proc);
    if (issuer) await issuer.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    let authYaml = '';
    if (auth === 'basic') {
      const lines: string[] = [];
      for (const [user, password] of Object.entries(users)) {
        // -i: the password comes on stdin, never on a command line.
        const { stdout } = await execFileWithInput('htpasswd', ['-Bbin', user], password);
        lines.push(stdout.trim());
      }
      writeFileSync(path.join(dir, 'htpasswd'), lines.join('\n') + '\n');
      authYaml = `auth:\n  htpasswd:\n    realm: berth-test\n    path: ${path.join(dir, 'htpasswd')}\n`;
    } else if (auth === 'token') {
      issuer = await startTokenIssuer(dir, users);
      authYaml = `auth:\n  token:\n    realm: ${issuer.realm}\n    service: ${issuer.service}\n    issuer: ${issuer.issuer}\n    rootcertbundle: ${issuer.certFile}\n`;
    }
    // A port picked just before the registry binds it can be taken in between: retry with another.
    for (let attempt = 0; ; attempt++) {
      const port = await freePort();
      const config = [
        'version: 0.1',
        'log:',
        '  level: warn',
        '  accesslog:',
        '    disabled: true',
        'storage:',
        '  filesystem:',
        `    rootdirectory: ${storage}`,
        '  delete:',
        '    enabled: true',
        'http:',
        `  addr: 127.0.0.1:${port}`,
        `  secret: ${randomBytes(16).toString('hex')}`,
        authYaml,
      ].join('\n');
      const configFile = path.join(dir, 'config.yml');
      writeFileSync(configFile, config);
      output = '';
      const [cmd, args] = inNetns(opts.netns, REGISTRY_BIN, ['serve', configFile]);
      proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      proc.stdout!.on('data', (d) => (output += d));
      proc.stderr!.on('data', (d) => (output += d));
      const url = `http://127.0.0.1:${port}`;
      const deadline = Date.now() + 15000;
      let up = false;
      while (Date.now() < deadline && proc.exitCode === null) {
        const status = opts.netns ? await netnsHttpStatus(opts.netns, `${url}/v2/`) : await httpStatus(`${url}/v2/`);
        if (status === 200 || status === 401) {
          up = true;
          break;
        }
        await sleep(50);
      }
      if (up) {
        const child = proc;
        return {
          host: `127.0.0.1:${port}`, url, dir, storage, auth,
          token: issuer && { realm: issuer.realm, service: issuer.service, issuer: issuer.issuer },
          log: () => output + (issuer ? issuer.log() : ''),
          async stop() {
            await stopChild(child);
            proc = undefined;
            await cleanup();
          },
        };
      }
      await stopChild(proc);
      proc = undefined;
      if (attempt >= 2 || !/address already in use/.test(output)) throw new Error(`docker-registry did not start: ${output}`);
    }
  } catch (err) {
    await cleanup();
    throw err;
  }
}

async function stopChild(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const done = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
  await done;
  clearTimeout(t);
}

// ---------------------------------------------------------------------------------------------------------
// Network namespaces with nothing but loopback: whatever runs inside can reach no other host, whatever it tries.

export interface Netns {
  name: string;
  path: string; // /run/netns/NAME
  remove(): Promise<void>;
}

export async function makeNetns(): Promise<Netns> {
  const name = `berth-t-${randomBytes(4).toString('hex')}`;
  await execFileP('ip', ['netns', 'add', name]);
  try {
    await execFileP('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  } catch (err) {
    await execFileP('ip', ['netns', 'del', name]).catch(() => {});
    throw err;
  }
  return { name, path: `/run/netns/${name}`, remove: () => execFileP('ip', ['netns', 'del', name]).then(() => {}, () => {}) };
}

/** The command line that runs cmd inside the namespace (nsenter keeps the host's mounts, unlike ip netns exec). */
export function inNetns(ns: Netns | undefined, cmd: string, args: string[]): [string, string[]] {
  return ns ? ['nsenter', [`--net=${ns.path}`, '--', cmd, ...args]] : [cmd, args];
}

async function netnsHttpStatus(ns: Netns, url: string): Promise<number> {
  const probe = `require('http').get(${JSON.stringify(url)}, (r) => { console.log(r.statusCode); r.resume(); }).on('error', () => console.log(0))`;
  const [cmd, args] = inNetns(ns, process.execPath, ['-e', probe]);
  try {
    return Number((await execFileP(cmd, args, { timeout: 5000 })).stdout.trim()) || 0;
  } catch {
    return 0;
  }
}

function execFileWithInput(cmd: string, args: string[], input: string): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = execFile(cmd, args, (err, stdout, stderr) => (err ? reject(new Error(`${cmd} failed: ${stderr}`)) : resolve({ stdout, stderr })));
    p.stdin!.end(input);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The file holding a blob in a registry's filesystem storage. */
export function registryBlobPath(reg: Registry, digest: string): string {
  const hex = digest.slice('sha256:'.length);
  return path.join(reg.storage, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
}

// ---------------------------------------------------------------------------------------------------------
// Token issuer (Docker's token authentication: https://distribution.github.io/distribution/spec/auth/token/)

interface TokenIssuer {
  realm: string;
  service: string;
  issuer: string;
  certFile: string;
  log(): string;
  stop(): Promise<void>;
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

interface Access { type: string; name: string; actions: string[] }

async function startTokenIssuer(dir: string, users: Record<string, string>): Promise<TokenIssuer> {
  const keyFile = path.join(dir, 'token.key');
  const certFile = path.join(dir, 'token.crt');
  await execFileP('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile,
    '-days', '2', '-subj', '/CN=berth-test-token-issuer']);
  const key = readFileSync(keyFile, 'utf8');
  const x5c = [new X509Certificate(readFileSync(certFile)).raw.toString('base64')];
  const service = 'berth-test-registry';
  const issuer = 'berth-test-issuer';
  const lines: string[] = [];

  const sign = (sub: string, access: Access[]) => {
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'RS256', x5c };
    // distribution 2.8 reads aud as a single string.
    const claims = { iss: issuer, sub, aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(12).toString('hex'), access };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = createSign('RSA-SHA256').update(input).sign(key);
    return `${input}.${b64url(sig)}`;
  };

  // Which of the requested actions a user gets: a known user everything asked for (pull, push, delete, *);
  // anonymous callers only pull, and only on repositories under public/.
  const grant = (user: string | undefined, scopes: string[]): Access[] => {
    const out: Access[] = [];
    for (const scope of scopes) {
      const m = /^([a-z]+):(.+):([a-z*,]+)$/.exec(scope);
      if (!m) continue;
      const [, type, name, actions] = m;
      const asked = actions.split(',');
      const given = user !== undefined ? asked : asked.filter((a) => a === 'pull' && type === 'repository' && name.startsWith('public/'));
      out.push({ type, name, actions: given });
    }
    return out;
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const reply = (status: number, body: object) => {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (url.pathname !== '/token') return reply(404, { details: 'not found' });
      // GET with basic credentials (Docker's default), or the OAuth2 POST form (password grant).
      let user: string | undefined;
      let password: string | undefined;
      let scopes = url.searchParams.getAll('scope');
      if (req.method === 'POST') {
        const form = new URLSearchParams(Buffer.concat(chunks).toString());
        if (form.get('grant_type') !== 'password') return reply(400, { details: 'unsupported grant_type' });
        user = form.get('username') ?? undefined;
        password = form.get('password') ?? '';
        scopes = form.getAll('scope').flatMap((s) => s.split(' ')).filter(Boolean);
      } else {
        const m = /^Basic\s+(.+)$/i.exec(req.headers.authorization ?? '');
        if (m) {
          const plain = Buffer.from(m[1], 'base64').toString();
          const i = plain.indexOf(':');
          user = plain.slice(0, i);
          password = plain.slice(i + 1);
        }
        scopes = scopes.flatMap((s) => s.split(' ')).filter(Boolean);
      }
      if (user !== undefined && users[user] !== password) {
        lines.push(`token: ${req.method} denied ${JSON.stringify(user)} (bad credentials)`);
        return reply(401, { details: 'incorrect username or password' });
      }
      const access = grant(user, scopes);
      lines.push(`token: ${req.method} ${user ?? '(anonymous)'} scopes=${JSON.stringify(scopes)} granted=${JSON.stringify(access)}`);
      const token = sign(user ?? '', access);
      reply(200, { token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() });
    });
  });
  const port = await listen(server);
  return {
    realm: `http://127.0.0.1:${port}/token`, service, issuer, certFile,
    log: () => lines.map((l) => l + '\n').join(''),
    stop: () => closeServer(server),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Images built from generated files

export interface FileSpec {
  path: string; // without a leading slash
  data?: Buffer | string;
  mode?: number;
  link?: string; // a symlink to this target
  dir?: boolean;
}

export type Compression = 'gzip' | 'zstd' | 'none';

export interface LayerSpec {
  files: FileSpec[];
  compression?: Compression; // default gzip
  gzipLevel?: number; // 0 keeps random data at a length that depends only on the tar's length
}

export interface BuiltLayer {
  mediaType: string;
  digest: string;
  size: number;
  diffId: string;
  tar: Buffer; // uncompressed
  blob: Buffer; // as stored in a registry
}

export interface BuiltImage {
  kind: 'image';
  mediaType: string;
  manifest: Buffer;
  digest: string; // of the manifest
  config: Buffer;
  configDigest: string; // the image ID
  layers: BuiltLayer[];
  blobs: Map<string, Buffer>; // config and layers
  platform: { os: string; architecture: string };
}

export interface BuiltIndex {
  kind: 'index';
  mediaType: string;
  index: Buffer;
  digest: string;
  images: BuiltImage[];
  blobs: Map<string, Buffer>; // every child manifest, config and layer
}

/** A deterministic tar of `files` (fixed mtime, root owner). */
export async function makeTar(files: FileSpec[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  const mtime = new Date('2024-01-01T00:00:00Z');
  for (const f of files) {
    const base = { name: f.path, mtime, uid: 0, gid: 0, uname: 'root', gname: 'root' };
    if (f.dir) pack.entry({ ...base, type: 'directory', mode: f.mode ?? 0o755 });
    else if (f.link !== undefined) pack.entry({ ...base, type: 'symlink', linkname: f.link, mode: 0o777 });
    else pack.entry({ ...base, type: 'file', mode: f.mode ?? 0o644 }, typeof f.data === 'string' ? Buffer.from(f.data) : (f.data ?? Buffer.alloc(0)));
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export function compress(tar: Buffer, compression: Compression, gzipLevel = 6): Buffer {
  if (compression === 'gzip') return zlib.gzipSync(tar, { level: gzipLevel });
  if (compression === 'zstd') return zlib.zstdCompressSync(tar);
  return tar;
}

export async function buildLayer(spec: LayerSpec): Promise<BuiltLayer> {
  const compression = spec.compression ?? 'gzip';
  const tar = await makeTar(spec.files);
  const blob = compress(tar, compression, spec.gzipLevel);
  const mediaType = compression === 'gzip' ? MEDIA.layerGzip : compression === 'zstd' ? MEDIA.layerZstd : MEDIA.layerTar;
  return { mediaType, digest: sha256(blob), size: blob.length, diffId: sha256(tar), tar, blob };
}

/** busybox-static as a base layer: /bin/busybox with a few applets linked, so images can run commands. */
export function busyboxFiles(): FileSpec[] {
  const applets = ['sh', 'cat', 'ls', 'echo', 'true', 'false', 'sha256sum', 'wc', 'head', 'sleep', 'uname', 'env'];
  return [
    { path: 'bin/', dir: true },
    { path: 'bin/busybox', data: readFileSync('/bin/busybox'), mode: 0o755 },
    ...applets.map((a) => ({ path: `bin/${a}`, link: 'busybox' })),
    { path: 'tmp/', dir: true, mode: 0o1777 },
    { path: 'etc/', dir: true },
  ];
}

export interface ImageOpts {
  layers: (LayerSpec | BuiltLayer)[];
  architecture?: string; // default amd64
  os?: string;
  env?: string[];
  cmd?: string[];
  labels?: Record<string, string>;
  created?: string;
}

/** An OCI image manifest with its config and layers, all in memory. */
export async function buildImage(opts: ImageOpts): Promise<BuiltImage> {
  const layers: BuiltLayer[] = [];
  for (const l of opts.layers) layers.push('diffId' in l ? l : await buildLayer(l));
  const architecture = opts.architecture ?? 'amd64';
  const osName = opts.os ?? 'linux';
  const created = opts.created ?? '2024-01-01T00:00:00Z';
  const config = Buffer.from(JSON.stringify({
    created, architecture, os: osName,
    config: {
      Env: opts.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      Cmd: opts.cmd ?? ['sh'],
      ...(opts.labels ? { Labels: opts.labels } : {}),
    },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((_, i) => ({ created, created_by: `berth test layer ${i}` })),
  }));
  const configDigest = sha256(config);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA.ociManifest,
    config: { mediaType: MEDIA.ociConfig, digest: configDigest, size: config.length },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  }));
  const blobs = new Map<string, Buffer>([[configDigest, config]]);
  for (const l of layers) blobs.set(l.digest, l.blob);
  return {
    kind: 'image', mediaType: MEDIA.ociManifest, manifest, digest: sha256(manifest), config, configDigest, layers, blobs,
    platform: { os: osName, architecture },
  };
}

/** An OCI index over images of different platforms. */
export function buildIndex(images: BuiltImage[]): BuiltIndex {
  const index = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA.ociIndex,
    manifests: images.map((im) => ({ mediaType: im.mediaType, digest: im.digest, size: im.manifest.length, platform: im.platform })),
  }));
  const blobs = new Map<string, Buffer>();
  for (const im of images) {
    blobs.set(im.digest, im.manifest);
    for (const [d, b] of im.blobs) blobs.set(d, b);
  }
  return { kind: 'index', mediaType: MEDIA.ociIndex, index, digest: sha256(index), images, blobs };
}

/** Writes an OCI image layout holding `what` under the name `refName`. */
export function writeOciLayout(dir: string, what: BuiltImage | BuiltIndex, refName: string): void {
  mkdirSync(path.join(dir, 'blobs/sha256'), { recursive: true });
  writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const top = what.kind === 'image' ? what.manifest : what.index;
  for (const [d, b] of [...what.blobs, [what.digest, top] as const]) writeFileSync(path.join(dir, 'blobs/sha256', d.slice(7)), b);
  writeFileSync(path.join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: what.mediaType, digest: what.digest, size: top.length, annotations: { 'org.opencontainers.image.ref.name': refName } }],
  }));
}

/**
 * Copies a built image or index into a registry with skopeo (`repoTag` like team/app:1), keeping its digests.
 * `creds` (user and password) go through an auth file, never a command line.
 */
export async function pushImage(reg: { host: string }, repoTag: string, what: BuiltImage | BuiltIndex, creds?: { user: string; password: string }, netns?: Netns): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'boci-'));
  try {
    writeOciLayout(path.join(dir, 'oci'), what, 'img');
    const args = ['--insecure-policy', 'copy', '--quiet', '--all', '--preserve-digests', '--dest-tls-verify=false'];
    if (creds) {
      const authFile = path.join(dir, 'auth.json');
      writeFileSync(authFile, JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from(`${creds.user}:${creds.password}`).toString('base64') } } }), { mode: 0o600 });
      args.push('--dest-authfile', authFile);
    } else {
      args.push('--dest-no-creds');
    }
    args.push(`oci:${path.join(dir, 'oci')}:img`, `docker://${reg.host}/${repoTag}`);
    try {
      const [cmd, argv] = inNetns(netns, SKOPEO, args);
      await execFileP(cmd, argv, { env: { ...process.env, REGISTRY_AUTH_FILE: path.join(dir, 'none.json') }, timeout: 120000, maxBuffer: 16 << 20 });
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`skopeo copy to ${reg.host}/${repoTag} failed: ${e.stderr || e.message}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------
// A fake registry in Node: serves what it is given, and can misbehave.

export interface FakeRegistry {
  host: string;
  url: string;
  /** Requests seen, as "METHOD /path" (with the Range header when sent). */
  requests: string[];
  /** Blob digest → how many more GETs of it send half the bytes and then drop the connection (Infinity: always). */
  cut: Map<string, number>;
  /** Answers for GET /v1/search (Docker's search API). */
  searchResults: { name: string; description: string; star_count: number; is_official: boolean; is_automated: boolean }[];
  add(repo: string, tag: string, what: BuiltImage | BuiltIndex): void;
  stop(): Promise<void>;
}

export async function startFakeRegistry(): Promise<FakeRegistry> {
  const manifests = new Map<string, { mediaType: string; body: Buffer }>(); // repo@digest and repo:tag
  const blobs = new Map<string, Buffer>();
  const fake: FakeRegistry = {
    host: '', url: '', requests: [], cut: new Map(), searchResults: [],
    add(repo, tag, what) {
      const top = what.kind === 'image' ? what.manifest : what.index;
      manifests.set(`${repo}:${tag}`, { mediaType: what.mediaType, body: top });
      manifests.set(`${repo}@${what.digest}`, { mediaType: what.mediaType, body: top });
      if (what.kind === 'index') for (const im of what.images) manifests.set(`${repo}@${im.digest}`, { mediaType: im.mediaType, body: im.manifest });
      for (const [d, b] of what.blobs) blobs.set(d, b);
    },
    stop: () => closeServer(server),
  };
  const error = (res: http.ServerResponse, status: number, code: string, message: string) => {
    res.writeHead(status, { 'Content-Type': 'application/json', 'Docker-Distribution-API-Version': 'registry/2.0' });
    res.end(JSON.stringify({ errors: [{ code, message, detail: null }] }));
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    fake.requests.push(`${req.method} ${url.pathname}${req.headers.range ? ` (${req.headers.range})` : ''}`);
    req.resume();
    if (url.pathname === '/v1/search') {
      const q = url.searchParams.get('q') ?? '';
      const results = fake.searchResults.filter((r) => r.name.includes(q));
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ num_pages: 1, num_results: results.length, page_size: 25, page: 1, query: q, results }));
      return;
    }
    if (url.pathname === '/v2/' || url.pathname === '/v2') {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Docker-Distribution-API-Version': 'registry/2.0' });
      res.end('{}');
      return;
    }
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
    if (!m || (req.method !== 'GET' && req.method !== 'HEAD')) return error(res, 404, 'UNSUPPORTED', 'not here');
    const [, repo, kind, ref] = m;
    if (kind === 'manifests') {
      const found = manifests.get(ref.startsWith('sha256:') ? `${repo}@${ref}` : `${repo}:${ref}`);
      if (!found) return error(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown');
      res.writeHead(200, {
        'Content-Type': found.mediaType, 'Content-Length': found.body.length, 'Docker-Content-Digest': sha256(found.body),
        'Docker-Distribution-API-Version': 'registry/2.0',
      });
      res.end(req.method === 'HEAD' ? undefined : found.body);
      return;
    }
    const blob = blobs.get(ref);
    if (!blob) return error(res, 404, 'BLOB_UNKNOWN', 'blob unknown to registry');
    let start = 0;
    const range = /^bytes=(\d+)-(\d*)$/.exec(String(req.headers.range ?? ''));
    if (range) start = Number(range[1]);
    const end = range && range[2] ? Number(range[2]) + 1 : blob.length;
    const body = blob.subarray(start, end);
    const headers: http.OutgoingHttpHeaders = {
      'Content-Type': 'application/octet-stream', 'Content-Length': body.length, 'Docker-Content-Digest': ref,
      'Accept-Ranges': 'bytes', 'Docker-Distribution-API-Version': 'registry/2.0',
    };
    if (range) headers['Content-Range'] = `bytes ${start}-${end - 1}/${blob.length}`;
    res.writeHead(range ? 206 : 200, headers);
    if (req.method === 'HEAD') return res.end();
    const left = fake.cut.get(ref) ?? 0;
    if (left > 0) {
      fake.cut.set(ref, left - 1);
      // Half the bytes, flushed, then the connection goes away without finishing the response.
      res.write(body.subarray(0, Math.floor(body.length / 2)), () => setTimeout(() => res.socket?.destroy(), 50));
      return;
    }
    res.end(body);
  });
  const port = await listen(server);
  fake.host = `127.0.0.1:${port}`;
  fake.url = `http://127.0.0.1:${port}`;
  return fake;
}

// ---------------------------------------------------------------------------------------------------------
// Looking at a daemon's data root

/** Every file name under a directory, recursively (relative paths); [] when it does not exist. */
export async function listFiles(dir: string): Promise<string[]> {
  try {
    const entries = await fsp.readdir(dir, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name))).sort();
  } catch {
    return [];
  }
}
