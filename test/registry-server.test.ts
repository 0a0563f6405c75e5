// The registry server (src/registry) on 127.0.0.1 with real clients: skopeo pushes generated images into it
// and copies them back out; raw HTTP plays the hostile client (wrong digests, cut-off and out-of-order uploads,
// oversized bodies, names that try to leave the storage root); a second server over the same storage asks a
// restrictive access control (401/403, catalog visibility, mounts, the upload cap). Nothing leaves loopback.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, existsSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { createRegistryServer } from '../src/registry/server.ts';
import { RegistryStorage } from '../src/registry/storage.ts';
import { collectGarbage } from '../src/registry/gc.ts';
import type { AccessControl, Principal } from '../src/registry/types.ts';
import { buildImage, buildIndex, pushImage, listFiles, sha256, MEDIA, SKOPEO, type BuiltImage, type BuiltIndex } from './registry-fixture.ts';

const execFileP = promisify(execFile);

let outer: string; // holds root and nothing else: anything escaping root would show up here
let root: string;
let storage: RegistryStorage;
let serverA: http.Server; // allows everything
let serverB: http.Server; // restrictive, small limits
let hostA = '';
let hostB = '';
const logA: Record<string, unknown>[] = [];
let img: BuiltImage;
let multi: BuiltIndex;

// Everyone may do everything, anonymously.
const allowAll: AccessControl = {
  async authenticate() {
    return { principal: { teams: [] } };
  },
  allowed: () => true,
  visible: () => true,
  challenge: () => 'Basic realm="test"',
};

// "Bearer alice" is alice (pulls all but secret/*, pushes to alice/*); anonymous callers pull team/app only.
const restricted: AccessControl = {
  async authenticate(req) {
    const h = req.headers.authorization;
    if (!h) return { principal: { teams: [] } };
    if (h === 'Bearer alice') return { principal: { user: 'alice', teams: [] } };
    return { rejected: true, challenge: 'Bearer realm="http://127.0.0.1/token",service="test",error="invalid_token"', message: 'invalid token' };
  },
  allowed(p: Principal, repo, actions) {
    if (p.user === 'alice') return actions.every((a) => (a === 'pull' && !repo.startsWith('secret/')) || repo.startsWith('alice/'));
    return repo === 'team/app' && actions.every((a) => a === 'pull');
  },
  visible(p, repo) {
    return restricted.allowed(p, repo, ['pull']);
  },
  challenge(repo, actions) {
    return `Bearer realm="http://127.0.0.1/token",service="test"${repo ? `,scope="repository:${repo}:${actions.join(',')}"` : ''}`;
  },
  async handle(req, res) {
    if (req.url?.split('?')[0] !== '/token') return false;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end('{"token":"t"}');
    return true;
  },
};

function listen(server: http.Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(`127.0.0.1:${(server.address() as net.AddressInfo).port}`));
  });
}

function close(server: http.Server | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!server) return resolve();
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

/** One request, the path sent exactly as given (no normalisation of "..", no re-encoding). */
function request(host: string, method: string, rawPath: string, opts: { headers?: Record<string, string>; body?: Buffer | string | Readable } = {}): Promise<Res> {
  const [hostname, port] = host.split(':');
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (typeof opts.body === 'string' || Buffer.isBuffer(opts.body)) headers['Content-Length'] ??= String(Buffer.byteLength(opts.body));
    const req = http.request({ host: hostname, port: Number(port), method, path: rawPath, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        let json: unknown;
        try {
          json = body.length ? JSON.parse(body.toString()) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.body instanceof Readable) opts.body.pipe(req);
    else req.end(opts.body);
  });
}

function errorCode(r: Res): string | undefined {
  return r.json?.errors?.[0]?.code;
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeout = 10000): Promise<T> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function skopeo(args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileP(SKOPEO, args, { env: { ...process.env, REGISTRY_AUTH_FILE: path.join(outer, 'none.json') }, timeout: 120000, maxBuffer: 16 << 20 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`skopeo ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}

/** Starts an upload; its Location path. */
async function startUpload(host: string, repo: string, headers: Record<string, string> = {}): Promise<string> {
  const r = await request(host, 'POST', `/v2/${repo}/blobs/uploads/`, { headers });
  assert.equal(r.status, 202, r.body.toString());
  assert.ok(r.headers['docker-upload-uuid']);
  assert.equal(r.headers.range, '0-0');
  return r.headers.location!;
}

async function pushBlob(host: string, repo: string, data: Buffer): Promise<string> {
  const digest = sha256(data);
  const r = await request(host, 'POST', `/v2/${repo}/blobs/uploads/?digest=${encodeURIComponent(digest)}`, { body: data, headers: { 'Content-Type': 'application/octet-stream' } });
  assert.equal(r.status, 201, r.body.toString());
  return digest;
}

function blobFiles(): string[] {
  return readdirSync(path.join(root, 'blobs/sha256'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name).sort();
}

function ociManifest(config: { digest: string; size: number }, layers: { digest: string; size: number }[], extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: MEDIA.ociManifest,
    config: { mediaType: MEDIA.ociConfig, ...config },
    layers: layers.map((l) => ({ mediaType: MEDIA.layerGzip, ...l })),
    ...extra,
  }));
}

before(async () => {
  const base = mkdtempSync(path.join(os.tmpdir(), 'breg-srv-'));
  outer = path.join(base, 'outer');
  root = path.join(outer, 'root');
  mkdirSync(root, { recursive: true });
  storage = new RegistryStorage(root);
  await storage.init();
  serverA = createRegistryServer({ storage, access: allowAll, log: (e) => logA.push(e as Record<string, unknown>), maxBodyBytes: 256 << 20 });
  hostA = await listen(serverA);
  serverB = createRegistryServer({ storage, access: restricted, maxBodyBytes: 1 << 20, maxConcurrentUploads: 1 });
  hostB = await listen(serverB);
  img = await buildImage({
    layers: [
      { files: [{ path: 'data/a.bin', data: randomBytes(300 * 1024) }] },
      { files: [{ path: 'data/b.bin', data: randomBytes(100 * 1024) }], compression: 'zstd' },
    ],
    labels: { 'org.opencontainers.image.description': 'generated for the registry test' },
  });
  multi = buildIndex([
    await buildImage({ layers: [{ files: [{ path: 'amd64.txt', data: randomBytes(5000) }] }], architecture: 'amd64' }),
    await buildImage({ layers: [{ files: [{ path: 'arm64.txt', data: randomBytes(5000) }] }], architecture: 'arm64' }),
  ]);
});

after(async () => {
  await close(serverA);
  await close(serverB);
  if (outer) rmSync(path.dirname(outer), { recursive: true, force: true });
});

test('GET /v2/ and /health', async () => {
  const r = await request(hostA, 'GET', '/v2/');
  assert.equal(r.status, 200);
  assert.equal(r.headers['docker-distribution-api-version'], 'registry/2.0');
  const h = await request(hostA, 'GET', '/health');
  assert.equal(h.status, 200);
  assert.equal(h.json.status, 'ok');
});

test('skopeo copies an image in, inspects it, and copies it back out unchanged', async () => {
  await pushImage({ host: hostA }, 'team/app:v1', img);
  const info = JSON.parse(await skopeo(['inspect', '--tls-verify=false', '--no-creds', `docker://${hostA}/team/app:v1`]));
  assert.equal(info.Digest, img.digest);
  assert.equal(info.Labels['org.opencontainers.image.description'], 'generated for the registry test');
  assert.deepEqual(info.Layers, img.layers.map((l) => l.digest));
  const raw = await skopeo(['inspect', '--raw', '--tls-verify=false', '--no-creds', `docker://${hostA}/team/app:v1`]);
  assert.equal(raw, img.manifest.toString());

  const out = path.join(outer, '..', 'out-oci');
  await skopeo(['--insecure-policy', 'copy', '--quiet', '--src-tls-verify=false', '--src-no-creds', `docker://${hostA}/team/app:v1`, `oci:${out}:img`]);
  for (const [digest, data] of [...img.blobs, [img.digest, img.manifest] as const]) {
    assert.deepEqual(readFileSync(path.join(out, 'blobs/sha256', digest.slice(7))), data, digest);
  }
  assert.equal(await storage.description('team/app'), 'generated for the registry test');

  // A blob GET with a Range, and HEAD.
  const layer = img.layers[0];
  const head = await request(hostA, 'HEAD', `/v2/team/app/blobs/${layer.digest}`);
  assert.equal(head.status, 200);
  assert.equal(Number(head.headers['content-length']), layer.size);
  assert.equal(head.headers['docker-content-digest'], layer.digest);
  const part = await request(hostA, 'GET', `/v2/team/app/blobs/${layer.digest}`, { headers: { Range: 'bytes=10-19' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers['content-range'], `bytes 10-19/${layer.size}`);
  assert.deepEqual(part.body, layer.blob.subarray(10, 20));
  const beyond = await request(hostA, 'GET', `/v2/team/app/blobs/${layer.digest}`, { headers: { Range: `bytes=${layer.size}-` } });
  assert.equal(beyond.status, 416);
  const man = await request(hostA, 'HEAD', `/v2/team/app/manifests/v1`);
  assert.equal(man.headers['content-type'], MEDIA.ociManifest);
  assert.equal(man.headers['docker-content-digest'], img.digest);
});

test('skopeo copies a multi-platform index in and back out (--all)', async () => {
  await pushImage({ host: hostA }, 'team/multi:latest', multi);
  const raw = await skopeo(['inspect', '--raw', '--tls-verify=false', '--no-creds', `docker://${hostA}/team/multi:latest`]);
  assert.equal(raw, multi.index.toString());
  const r = await request(hostA, 'GET', '/v2/team/multi/manifests/latest');
  assert.equal(r.headers['content-type'], MEDIA.ociIndex);
  const out = path.join(outer, '..', 'out-multi');
  await skopeo(['--insecure-policy', 'copy', '--quiet', '--all', '--src-tls-verify=false', '--src-no-creds', `docker://${hostA}/team/multi:latest`, `oci:${out}:img`]);
  for (const [digest, data] of multi.blobs) assert.deepEqual(readFileSync(path.join(out, 'blobs/sha256', digest.slice(7))), data, digest);
});

test('skopeo converts to Docker schema 2 within the registry, mounting the layers from the source repository', async () => {
  const beforeFiles = blobFiles();
  await skopeo(['--insecure-policy', 'copy', '--quiet', '--format', 'v2s2', '--src-tls-verify=false', '--dest-tls-verify=false', '--src-no-creds', '--dest-no-creds',
    `docker://${hostA}/team/multi:latest`, `docker://${hostA}/team/docker:v1`]);
  const r = await request(hostA, 'GET', '/v2/team/docker/manifests/v1');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'application/vnd.docker.distribution.manifest.v2+json');
  assert.equal(r.json.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
  const amd64 = multi.images.find((i) => i.platform.architecture === 'amd64')!;
  assert.deepEqual(r.json.layers.map((l: { digest: string }) => l.digest), amd64.layers.map((l) => l.digest));
  assert.ok(logA.some((e) => e.method === 'POST' && String(e.path).startsWith('/v2/team/docker/blobs/uploads/?') && String(e.path).includes('mount=') && e.status === 201), 'a cross-repository mount');
  // The layers are not stored again: the manifest (and a config, had it changed) is all that is new.
  const added = blobFiles().filter((f) => !beforeFiles.includes(f)).sort();
  assert.deepEqual(added, [sha256(r.body).slice(7), r.json.config.digest.slice(7)].filter((f) => !beforeFiles.includes(f)).sort());
});

test('the same image pushed to a second repository is stored once', async () => {
  const beforeFiles = blobFiles();
  for (const d of [img.digest, ...img.blobs.keys()]) assert.ok(beforeFiles.includes(d.slice(7)), d);
  await pushImage({ host: hostA }, 'team/copy:v1', img);
  assert.deepEqual(blobFiles(), beforeFiles, 'no second copy of any blob');
  const info = JSON.parse(await skopeo(['inspect', '--tls-verify=false', '--no-creds', `docker://${hostA}/team/copy:v1`]));
  assert.equal(info.Digest, img.digest);
  // Links are per repository: a repository that never got the blob cannot read it by digest.
  const r = await request(hostA, 'GET', `/v2/team/empty/blobs/${img.layers[0].digest}`);
  assert.equal(r.status, 404);
  assert.equal(errorCode(r), 'BLOB_UNKNOWN');
});

test('chunked upload: PATCH with Content-Range, status, out-of-order 416, PUT with the last chunk', async () => {
  const data = randomBytes(3000);
  const loc = await startUpload(hostA, 'raw/chunked');
  let r = await request(hostA, 'PATCH', loc, { body: data.subarray(0, 1000), headers: { 'Content-Range': '0-999', 'Content-Type': 'application/octet-stream' } });
  assert.equal(r.status, 202);
  assert.equal(r.headers.range, '0-999');
  const next = r.headers.location!;
  // Out of order: starts past the end.
  r = await request(hostA, 'PATCH', next, { body: data.subarray(2000), headers: { 'Content-Range': '2000-2999' } });
  assert.equal(r.status, 416);
  assert.equal(errorCode(r), 'BLOB_UPLOAD_INVALID');
  assert.equal(r.headers.range, '0-999');
  // Overlapping what is there is out of order too.
  r = await request(hostA, 'PATCH', next, { body: data.subarray(500, 1500), headers: { 'Content-Range': '500-1499' } });
  assert.equal(r.status, 416);
  // Streaming PATCH without Content-Range appends.
  r = await request(hostA, 'PATCH', next, { body: data.subarray(1000, 2000) });
  assert.equal(r.status, 202);
  assert.equal(r.headers.range, '0-1999');
  r = await request(hostA, 'GET', next);
  assert.equal(r.status, 204);
  assert.equal(r.headers.range, '0-1999');
  assert.equal(r.headers['docker-upload-uuid'], loc.split('/').pop());
  const digest = sha256(data);
  r = await request(hostA, 'PUT', `${next}?digest=${digest}`, { body: data.subarray(2000), headers: { 'Content-Range': '2000-2999' } });
  assert.equal(r.status, 201, r.body.toString());
  assert.equal(r.headers['docker-content-digest'], digest);
  assert.equal(r.headers.location, `/v2/raw/chunked/blobs/${digest}`);
  const got = await request(hostA, 'GET', r.headers.location!);
  assert.deepEqual(got.body, data);
  // The upload is gone once complete; a cancelled one too.
  assert.equal(errorCode(await request(hostA, 'GET', next)), 'BLOB_UPLOAD_UNKNOWN');
  const other = await startUpload(hostA, 'raw/chunked');
  assert.equal((await request(hostA, 'DELETE', other)).status, 204);
  assert.equal((await request(hostA, 'GET', other)).status, 404);
});

test('a wrong digest on PUT is DIGEST_INVALID and stores nothing', async () => {
  const data = randomBytes(2048);
  const beforeFiles = blobFiles();
  const loc = await startUpload(hostA, 'raw/wrong');
  assert.equal((await request(hostA, 'PATCH', loc, { body: data })).status, 202);
  const r = await request(hostA, 'PUT', `${loc}?digest=${sha256('not the data')}`);
  assert.equal(r.status, 400);
  assert.equal(errorCode(r), 'DIGEST_INVALID');
  assert.deepEqual(blobFiles(), beforeFiles);
  assert.equal((await request(hostA, 'HEAD', `/v2/raw/wrong/blobs/${sha256(data)}`)).status, 404);
  // Monolithic with a wrong digest, and a malformed one.
  const m = await request(hostA, 'POST', `/v2/raw/wrong/blobs/uploads/?digest=${sha256('other')}`, { body: data });
  assert.equal(errorCode(m), 'DIGEST_INVALID');
  assert.equal(errorCode(await request(hostA, 'POST', '/v2/raw/wrong/blobs/uploads/?digest=sha256:zz', { body: data })), 'DIGEST_INVALID');
  assert.deepEqual(blobFiles(), beforeFiles);
  assert.deepEqual(await listFiles(path.join(root, 'uploads')), [], 'the failed uploads are dropped');
});

test('a request cut off mid-body leaves the upload where it was', async () => {
  const data = randomBytes(100);
  const loc = await startUpload(hostA, 'raw/trunc');
  assert.equal((await request(hostA, 'PATCH', loc, { body: data })).status, 202);
  const sock = net.connect(Number(hostA.split(':')[1]), '127.0.0.1');
  await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
  sock.write(`PATCH ${loc} HTTP/1.1\r\nHost: ${hostA}\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n`);
  sock.write(randomBytes(400));
  await new Promise((r) => setTimeout(r, 100));
  sock.destroy();
  // Once the server has seen the connection go, the upload is back at 100 bytes and usable.
  await waitFor('the cut-off PATCH to be undone', async () => {
    const r = await request(hostA, 'GET', loc);
    return r.headers.range === '0-99' && logA.some((e) => e.method === 'PATCH' && e.status === 0);
  });
  const r = await request(hostA, 'PUT', `${loc}?digest=${sha256(data)}`);
  assert.equal(r.status, 201, r.body.toString());
  assert.deepEqual((await request(hostA, 'GET', `/v2/raw/trunc/blobs/${sha256(data)}`)).body, data);
});

test('bodies over the limit get a 413 (declared or streamed)', async () => {
  const loc = await startUpload(hostA, 'raw/big');
  // Declared: refused before any byte is read.
  const sock = net.connect(Number(hostA.split(':')[1]), '127.0.0.1');
  // The answer comes at once, before any of the gigabyte is sent.
  const answer = new Promise<string>((resolve) => {
    let text = '';
    sock.on('data', (d) => {
      text += d;
      if (text.includes('}]}')) resolve(text);
    });
    sock.on('close', () => resolve(text));
    sock.on('error', () => resolve(text));
  });
  sock.write(`PATCH ${loc} HTTP/1.1\r\nHost: ${hostA}\r\nContent-Length: ${1 << 30}\r\n\r\n`);
  const text = await answer;
  sock.destroy();
  assert.match(text, /^HTTP\/1\.1 413 /);
  assert.match(text, /SIZE_INVALID/);
  assert.equal((await request(hostA, 'GET', loc)).headers.range, '0-0');

  // Streamed (chunked, no length) past server B's 1 MiB: cut off with a 413, nothing kept.
  const locB = await startUpload(hostB, 'alice/big', { Authorization: 'Bearer alice' });
  const r = await request(hostB, 'PATCH', locB, { headers: { Authorization: 'Bearer alice' }, body: Readable.from((function* () {
    for (let i = 0; i < 4; i++) yield randomBytes(512 * 1024);
  })()) }).catch((err: Error) => ({ status: -1, err }));
  assert.equal(r.status, 413);
  const st = await request(hostB, 'GET', locB, { headers: { Authorization: 'Bearer alice' } });
  assert.equal(st.headers.range, '0-0');
  // A manifest over 4 MiB.
  const big = await request(hostA, 'PUT', '/v2/raw/big/manifests/huge', { body: Buffer.alloc(5 << 20, 0x20), headers: { 'Content-Type': MEDIA.ociManifest } });
  assert.equal(big.status, 413);
});

test('names that try to leave the root are refused and touch nothing outside it', async () => {
  const manifest = ociManifest({ digest: sha256('x'), size: 1 }, []);
  const attempts: [string, string][] = [
    ['POST', '/v2/../escape/blobs/uploads/'],
    ['POST', '/v2/a/../../../escape/blobs/uploads/'],
    ['POST', '/v2/%2e%2e/%2e%2e/escape/blobs/uploads/'],
    ['POST', '/v2/a%2F..%2F..%2F..%2Fescape/blobs/uploads/'],
    ['POST', `/v2/${encodeURIComponent(path.join(outer, 'escape'))}/blobs/uploads/`],
    ['PUT', '/v2/..%2f..%2fescape/manifests/latest'],
    ['PUT', '/v2/Escape/manifests/latest'],
    ['PUT', '/v2/ok/manifests/..'],
    ['PUT', '/v2/ok/manifests/%2e%2e%2f%2e%2e%2fescape'],
    ['GET', '/v2/ok/blobs/sha256:..%2f..%2fescape'],
    ['GET', '/v2/ok/blobs/uploads/..%2f..%2fescape'],
    ['GET', '/v2/%2e%2e/tags/list'],
    ['GET', '/v2/%ff/tags/list'],
    ['GET', `/v2/${'a'.repeat(256)}/tags/list`],
  ];
  for (const [method, p] of attempts) {
    const r = await request(hostA, method, p, method === 'PUT' ? { body: manifest, headers: { 'Content-Type': MEDIA.ociManifest } } : {});
    assert.ok([400, 404].includes(r.status), `${method} ${p}: ${r.status} ${r.body}`);
    assert.ok(['NAME_INVALID', 'TAG_INVALID', 'DIGEST_INVALID', 'BLOB_UPLOAD_UNKNOWN', 'UNSUPPORTED', 'MANIFEST_INVALID', 'NAME_UNKNOWN'].includes(errorCode(r)!), `${method} ${p}: ${r.body}`);
  }
  const n = await request(hostA, 'POST', '/v2/%2e%2e/%2e%2e/escape/blobs/uploads/');
  assert.equal(errorCode(n), 'NAME_INVALID');
  assert.deepEqual(readdirSync(outer), ['root'], 'nothing next to the root');
  assert.deepEqual(readdirSync(path.dirname(outer)).filter((f) => !f.startsWith('out-')), ['outer']);
  assert.ok(!(await listFiles(root)).some((f) => f.includes('escape') || f.includes('..')));
});

test('a manifest naming a blob the repository lacks is MANIFEST_BLOB_UNKNOWN and is not stored', async () => {
  const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
  const cd = await pushBlob(hostA, 'raw/mani', config);
  const missing = sha256('never pushed');
  const body = ociManifest({ digest: cd, size: config.length }, [{ digest: missing, size: 12 }]);
  let r = await request(hostA, 'PUT', '/v2/raw/mani/manifests/v1', { body, headers: { 'Content-Type': MEDIA.ociManifest } });
  assert.equal(r.status, 400);
  assert.equal(errorCode(r), 'MANIFEST_BLOB_UNKNOWN');
  assert.equal(r.json.errors[0].detail.digest, missing);
  assert.equal((await request(hostA, 'GET', '/v2/raw/mani/manifests/v1')).status, 404);
  assert.equal((await request(hostA, 'GET', `/v2/raw/mani/manifests/${sha256(body)}`)).status, 404);
  assert.ok(!existsSync(storage.blobPath(sha256(body))));
  // The layer lives in team/app, not here: still unknown to this repository.
  const elsewhere = ociManifest({ digest: cd, size: config.length }, [{ digest: img.layers[0].digest, size: img.layers[0].size }]);
  r = await request(hostA, 'PUT', '/v2/raw/mani/manifests/v1', { body: elsewhere, headers: { 'Content-Type': MEDIA.ociManifest } });
  assert.equal(errorCode(r), 'MANIFEST_BLOB_UNKNOWN');
  // An index naming a manifest the repository lacks.
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: [{ mediaType: MEDIA.ociManifest, digest: img.digest, size: img.manifest.length }] }));
  r = await request(hostA, 'PUT', '/v2/raw/mani/manifests/idx', { body: index, headers: { 'Content-Type': MEDIA.ociIndex } });
  assert.equal(r.status, 400);
  assert.equal(errorCode(r), 'MANIFEST_UNKNOWN');
  // Invalid JSON; a digest reference that does not match.
  r = await request(hostA, 'PUT', '/v2/raw/mani/manifests/v1', { body: '{', headers: { 'Content-Type': MEDIA.ociManifest } });
  assert.equal(errorCode(r), 'MANIFEST_INVALID');
  const ok = ociManifest({ digest: cd, size: config.length }, []);
  r = await request(hostA, 'PUT', `/v2/raw/mani/manifests/${sha256('other')}`, { body: ok, headers: { 'Content-Type': MEDIA.ociManifest } });
  assert.equal(errorCode(r), 'DIGEST_INVALID');
  r = await request(hostA, 'PUT', `/v2/raw/mani/manifests/${sha256(ok)}`, { body: ok, headers: { 'Content-Type': MEDIA.ociManifest } });
  assert.equal(r.status, 201);
  assert.equal(r.headers['docker-content-digest'], sha256(ok));
  assert.equal(r.headers.location, `/v2/raw/mani/manifests/${sha256(ok)}`);
});

test('tags/list pages with n, last and a Link header; the catalog too', async () => {
  const config = Buffer.from('{"architecture":"arm64","os":"linux"}');
  const cd = await pushBlob(hostA, 'team/tags', config);
  const body = ociManifest({ digest: cd, size: config.length }, []);
  const tags = ['a', 'b', 'c', 'd', 'e', 'v1.0', 'v1.1'];
  for (const t of tags) {
    assert.equal((await request(hostA, 'PUT', `/v2/team/tags/manifests/${t}`, { body, headers: { 'Content-Type': MEDIA.ociManifest } })).status, 201);
  }
  const seen: string[] = [];
  let next: string | undefined = '/v2/team/tags/tags/list?n=3';
  let pages = 0;
  while (next) {
    const r = await request(hostA, 'GET', next);
    assert.equal(r.status, 200);
    assert.equal(r.json.name, 'team/tags');
    assert.ok(r.json.tags.length <= 3);
    seen.push(...r.json.tags);
    pages++;
    const link = r.headers.link as string | undefined;
    if (link) assert.match(link, /^<\/v2\/team\/tags\/tags\/list\?n=3&last=[^>]+>; rel="next"$/);
    next = link ? /^<([^>]+)>/.exec(link)![1] : undefined;
  }
  assert.deepEqual(seen, tags);
  assert.equal(pages, 3);
  const all = await request(hostA, 'GET', '/v2/team/tags/tags/list');
  assert.deepEqual(all.json.tags, tags);
  assert.equal(all.headers.link, undefined);
  assert.equal(errorCode(await request(hostA, 'GET', '/v2/team/nothing/tags/list')), 'NAME_UNKNOWN');
  assert.equal(errorCode(await request(hostA, 'GET', '/v2/team/tags/tags/list?n=x')), 'PAGINATION_NUMBER_INVALID');

  const cat = await request(hostA, 'GET', '/v2/_catalog');
  for (const repo of ['team/app', 'team/copy', 'team/multi', 'team/tags']) assert.ok(cat.json.repositories.includes(repo), repo);
  assert.deepEqual(cat.json.repositories, [...cat.json.repositories].sort());
  const first = await request(hostA, 'GET', '/v2/_catalog?n=1');
  assert.equal(first.json.repositories.length, 1);
  assert.equal(first.headers.link, `</v2/_catalog?n=1&last=${encodeURIComponent(first.json.repositories[0])}>; rel="next"`);
  const second = await request(hostA, 'GET', `/v2/_catalog?n=1&last=${encodeURIComponent(first.json.repositories[0])}`);
  assert.equal(second.json.repositories[0], cat.json.repositories[1]);
});

test('referrers: an artifact whose subject is the image', async () => {
  const empty = Buffer.from('{}');
  const ed = await pushBlob(hostA, 'team/app', empty);
  const sig = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: MEDIA.ociManifest, artifactType: 'application/vnd.example.signature',
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: ed, size: 2 }, layers: [],
    subject: { mediaType: MEDIA.ociManifest, digest: img.digest, size: img.manifest.length },
  }));
  const put = await request(hostA, 'PUT', `/v2/team/app/manifests/${sha256(sig)}`, { body: sig, headers: { 'Content-Type': MEDIA.ociManifest } });
  assert.equal(put.status, 201);
  assert.equal(put.headers['oci-subject'], img.digest);
  const r = await request(hostA, 'GET', `/v2/team/app/referrers/${img.digest}`);
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], MEDIA.ociIndex);
  assert.deepEqual(r.json.manifests.map((m: { digest: string }) => m.digest), [sha256(sig)]);
  assert.equal(r.json.manifests[0].artifactType, 'application/vnd.example.signature');
  const f = await request(hostA, 'GET', `/v2/team/app/referrers/${img.digest}?artifactType=application/other`);
  assert.equal(f.headers['oci-filters-applied'], 'artifactType');
  assert.deepEqual(f.json.manifests, []);
});

test('access control: 401 with a challenge for anonymous callers, 403 for known users, catalog visibility, mounts', async () => {
  const alice = { Authorization: 'Bearer alice' };
  // The access module's own routes come first.
  assert.equal((await request(hostB, 'GET', '/token?scope=x')).json.token, 't');
  // Anonymous: may pull team/app, nothing else.
  assert.equal((await request(hostB, 'GET', '/v2/team/app/manifests/v1')).status, 200);
  let r = await request(hostB, 'GET', '/v2/team/copy/manifests/v1');
  assert.equal(r.status, 401);
  assert.equal(errorCode(r), 'UNAUTHORIZED');
  assert.equal(r.headers['www-authenticate'], 'Bearer realm="http://127.0.0.1/token",service="test",scope="repository:team/copy:pull"');
  r = await request(hostB, 'POST', '/v2/team/app/blobs/uploads/');
  assert.equal(r.status, 401);
  assert.match(r.headers['www-authenticate']!, /scope="repository:team\/app:pull,push"/);
  assert.equal((await request(hostB, 'DELETE', `/v2/team/app/manifests/${img.digest}`)).status, 401);
  // Wrong credentials: the access module's challenge.
  r = await request(hostB, 'GET', '/v2/', { headers: { Authorization: 'Bearer nope' } });
  assert.equal(r.status, 401);
  assert.match(r.headers['www-authenticate']!, /invalid_token/);
  // Alice: pulls, but may not push outside alice/.
  assert.equal((await request(hostB, 'GET', '/v2/team/copy/manifests/v1', { headers: alice })).status, 200);
  r = await request(hostB, 'POST', '/v2/team/app/blobs/uploads/', { headers: alice });
  assert.equal(r.status, 403);
  assert.equal(errorCode(r), 'DENIED');
  r = await request(hostB, 'DELETE', `/v2/team/app/blobs/${img.layers[0].digest}`, { headers: alice });
  assert.equal(r.status, 403);
  // The catalog lists what each caller may see.
  assert.deepEqual((await request(hostB, 'GET', '/v2/_catalog')).json.repositories, ['team/app']);
  const seen = (await request(hostB, 'GET', '/v2/_catalog', { headers: alice })).json.repositories as string[];
  assert.ok(seen.includes('team/copy') && seen.includes('team/app'));

  // Mounts: from a repository alice may pull, 201; from one she may not (or one without the blob), an upload.
  await pushBlob(hostA, 'secret/x', Buffer.from('secret blob'));
  const layer = img.layers[0].digest;
  r = await request(hostB, 'POST', `/v2/alice/app/blobs/uploads/?mount=${layer}&from=team/app`, { headers: alice });
  assert.equal(r.status, 201);
  assert.equal(r.headers.location, `/v2/alice/app/blobs/${layer}`);
  assert.equal((await request(hostB, 'HEAD', `/v2/alice/app/blobs/${layer}`, { headers: alice })).status, 200);
  r = await request(hostB, 'POST', `/v2/alice/app/blobs/uploads/?mount=${sha256('secret blob')}&from=secret/x`, { headers: alice });
  assert.equal(r.status, 202);
  assert.equal((await request(hostB, 'HEAD', `/v2/alice/app/blobs/${sha256('secret blob')}`, { headers: alice })).status, 404);
  r = await request(hostB, 'POST', `/v2/alice/app/blobs/uploads/?mount=${sha256('nowhere')}&from=team/app`, { headers: alice });
  assert.equal(r.status, 202);
  await request(hostB, 'DELETE', r.headers.location!, { headers: alice });
});

test('at most maxConcurrentUploads requests stream blob data at once (429 beyond)', async () => {
  const alice = { Authorization: 'Bearer alice' };
  const loc1 = await startUpload(hostB, 'alice/cap', alice);
  const loc2 = await startUpload(hostB, 'alice/cap', alice);
  // The first PATCH sends part of its body and waits.
  let push!: (b: Buffer | null) => void;
  const body = new Readable({ read() {} });
  push = (b) => body.push(b);
  const first = request(hostB, 'PATCH', loc1, { headers: alice, body });
  push(Buffer.from('first part '));
  await waitFor('the first upload to be under way', async () => (await request(hostB, 'GET', loc1, { headers: alice })).headers.range === '0-10');
  const second = await request(hostB, 'PATCH', loc2, { headers: alice, body: 'second' });
  assert.equal(second.status, 429);
  assert.equal(errorCode(second), 'TOOMANYREQUESTS');
  push(Buffer.from('and the rest'));
  push(null);
  assert.equal((await first).status, 202);
  assert.equal((await request(hostB, 'PATCH', loc2, { headers: alice, body: 'second' })).status, 202);
});

test('a 100 MB blob streams through without being held in memory', async () => {
  const chunk = randomBytes(1 << 20);
  const count = 100;
  const h = createHash('sha256');
  for (let i = 0; i < count; i++) h.update(chunk);
  const digest = 'sha256:' + h.digest('hex');
  global.gc?.();
  const base = process.memoryUsage().rss;
  let peak = base;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  try {
    const loc = await startUpload(hostA, 'raw/large');
    const r = await request(hostA, 'PATCH', loc, { body: Readable.from((function* () {
      for (let i = 0; i < count; i++) yield chunk;
    })()) });
    assert.equal(r.status, 202);
    assert.equal(r.headers.range, `0-${count * chunk.length - 1}`);
    const put = await request(hostA, 'PUT', `${r.headers.location}?digest=${digest}`);
    assert.equal(put.status, 201, put.body.toString());
    // Download, hashing as it comes.
    const got = await new Promise<{ digest: string; size: number }>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: Number(hostA.split(':')[1]), path: `/v2/raw/large/blobs/${digest}`, agent: false }, (res) => {
        const hh = createHash('sha256');
        let size = 0;
        res.on('data', (c: Buffer) => {
          hh.update(c);
          size += c.length;
        });
        res.on('end', () => resolve({ digest: 'sha256:' + hh.digest('hex'), size }));
        res.on('error', reject);
      }).on('error', reject);
    });
    assert.equal(got.digest, digest);
    assert.equal(got.size, count * chunk.length);
  } finally {
    clearInterval(sampler);
  }
  const grew = (peak - base) / (1 << 20);
  assert.ok(grew < 60, `memory grew by ${grew.toFixed(1)} MB moving 100 MB up and down`);
});

test('every request leaves one access-log line; query values outside the spec are masked', async () => {
  await request(hostA, 'GET', `/v2/team/app/blobs/${img.layers[0].digest}?token=s3cret&n=1`);
  const logged = `/v2/team/app/blobs/${img.layers[0].digest}?token=***&n=1`;
  const e = await waitFor('the log line', async () => logA.find((l) => l.path === logged));
  assert.equal(e.method, 'GET');
  assert.equal(e.status, 200);
  assert.ok((e.bytes as number) > img.layers[0].size);
  assert.equal(typeof e.durationMs, 'number');
  assert.equal(e.remote, '127.0.0.1');
  assert.ok(typeof e.time === 'string' && !Number.isNaN(Date.parse(e.time)));
  assert.ok(logA.some((l) => l.status === 400 && l.error === 'DIGEST_INVALID'));
  assert.ok(!JSON.stringify(logA).includes('s3cret'));
});

test('garbage collection removes unreferenced blobs and keeps every referenced one', async () => {
  const orphan = await pushBlob(hostA, 'gc/test', randomBytes(4096));
  // Untag and delete team/copy's manifest: its blobs are still team/app's, so they stay.
  assert.equal((await request(hostA, 'DELETE', `/v2/team/copy/manifests/${img.digest}`)).status, 202);
  const referenced = [img.digest, ...img.blobs.keys(), multi.digest, ...multi.blobs.keys()];
  const dry = await collectGarbage(root, { dryRun: true });
  assert.ok(dry.removedBlobs.includes(orphan));
  assert.ok(existsSync(storage.blobPath(orphan)));
  // Offline: no request is in flight here, and none comes until it is done.
  const res = await collectGarbage(root);
  assert.deepEqual(res.removedBlobs, dry.removedBlobs);
  assert.ok(res.removedBlobs.includes(orphan));
  assert.ok(res.removedBlobs.includes(sha256(Buffer.from('secret blob'))), 'blobs no manifest names go');
  for (const d of referenced) {
    assert.ok(!res.removedBlobs.includes(d), d);
    assert.ok(existsSync(storage.blobPath(d)), d);
  }
  assert.ok(res.freedBytes >= 4096);
  assert.ok(!existsSync(storage.blobPath(orphan)));
  assert.equal((await request(hostA, 'HEAD', `/v2/gc/test/blobs/${orphan}`)).status, 404);
  // What is left still copies out whole.
  const out = path.join(outer, '..', 'out-after-gc');
  await skopeo(['--insecure-policy', 'copy', '--quiet', '--all', '--src-tls-verify=false', '--src-no-creds', `docker://${hostA}/team/multi:latest`, `oci:${out}:img`]);
  await skopeo(['--insecure-policy', 'copy', '--quiet', '--src-tls-verify=false', '--src-no-creds', `docker://${hostA}/team/app:v1`, `oci:${out}:app`]);
  assert.equal((await collectGarbage(root)).removedBlobs.length, 0);
});
