// docker pull: the manifest (an index picks the host's platform), the config, then the layers: downloaded a
// few at a time into temp files, each verified by digest before it is used, and unpacked in order. Only a
// complete image becomes visible; a failure or a client that goes away leaves no temp file and no image.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ImageStore, ImageRecord } from '../images/store.ts';
import { chainIds } from '../layers/snapshots.ts';
import { importLayer } from '../images/transfer.ts';
import { fullName, familiarName, repoName, type Reference } from '../images/reference.ts';
import { BerthError, invalidParameter, notFound } from '../lib/errors.ts';
import { progressMessage, progressCounter, type Report } from '../lib/progress.ts';
import { RegistryClient, endpointsFor, MEDIA, readAll, registryErrorCodes, DOCKER_HUB, type RegistryOptions, type Response } from './client.ts';
import type { AuthConfig } from './auth.ts';
import type { LayerMetadata } from './metadata.ts';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os?: string; architecture?: string; variant?: string };
}

interface Manifest {
  schemaVersion?: number;
  mediaType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
}

export interface PullOptions {
  auth?: AuthConfig;
  platform?: string;
  report: Report;
  signal?: AbortSignal;
}

export interface PullContext {
  store: ImageStore;
  meta: LayerMetadata;
  registry: RegistryOptions;
  tmpDir: string;
  maxConcurrentDownloads: number;
}

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

export function hostPlatform(): { os: string; architecture: string; variant?: string } {
  const arch = ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' } as Record<string, string>)[os.arch()] ?? os.arch();
  return { os: 'linux', architecture: arch, variant: arch === 'arm64' ? 'v8' : arch === 'arm' ? 'v7' : undefined };
}

export function parsePlatform(s: string | undefined): { os: string; architecture: string; variant?: string } {
  if (!s) return hostPlatform();
  const [o, a, v] = s.toLowerCase().split('/');
  if (!o || !a) throw invalidParameter(`"${s}": unknown operating system or architecture: invalid argument`);
  const arch = a === 'x86_64' ? 'amd64' : a === 'aarch64' ? 'arm64' : a;
  return { os: o, architecture: arch, variant: v };
}

// The manifest of an index for a platform: same OS and architecture, the variant when both give one (arm64
// images without a variant are v8).
export function selectPlatform(list: Descriptor[], want: { os: string; architecture: string; variant?: string }): Descriptor | undefined {
  const cands = list.filter((m) => (m.platform?.os ?? '') === want.os && (m.platform?.architecture ?? '') === want.architecture);
  if (!want.variant) return cands[0];
  return cands.find((m) => (m.platform?.variant ?? (want.architecture === 'arm64' ? 'v8' : '')) === want.variant) ?? cands.find((m) => !m.platform?.variant);
}

export function checkDescriptor(d: Descriptor | undefined, what: string): Descriptor {
  if (!d || typeof d.digest !== 'string' || !DIGEST_RE.test(d.digest) || typeof d.size !== 'number' || d.size < 0) {
    throw invalidParameter(`invalid manifest: bad ${what} descriptor`);
  }
  return d;
}

function sha256(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

// Docker's name for what it pulls: "busybox", "localhost:5000/team/app".
function shownRepo(ref: Reference): string {
  return familiarName(repoName(ref));
}

export async function pullImage(ctx: PullContext, ref: Reference, opts: PullOptions): Promise<ImageRecord> {
  try {
    return await pullFromEndpoints(ctx, ref, opts);
  } catch (err) {
    // dockerd answers a pull without the credentials a registry wants with a 500 ("no basic auth credentials"):
    // a 401 would make the docker CLI prompt for a login in the middle of `docker pull`.
    if (err instanceof BerthError && err.code === 'unauthorized') throw new BerthError('internal', err.message);
    throw err;
  }
}

async function pullFromEndpoints(ctx: PullContext, ref: Reference, opts: PullOptions): Promise<ImageRecord> {
  const endpoints = endpointsFor(ref.domain, ctx.registry, 'pull');
  let lastErr: unknown;
  for (const ep of endpoints) {
    const client = new RegistryClient(ref.domain, ep, ep.mirror ? undefined : opts.auth, ctx.registry.userAgent);
    let resolved;
    try {
      resolved = await resolveManifest(client, ref, opts);
    } catch (err) {
      lastErr = err;
      // A mirror that fails is skipped (Docker falls back to the next endpoint); the registry itself is final.
      if (ep.mirror && opts.signal?.aborted !== true) continue;
      throw err;
    }
    return pullResolved(ctx, client, ref, resolved, opts);
  }
  throw lastErr ?? new BerthError('internal', 'no registry endpoint');
}

interface Resolved { manifest: Manifest; digest: string; configBytes?: Buffer }

async function resolveManifest(client: RegistryClient, ref: Reference, opts: PullOptions): Promise<Resolved> {
  const wantRef = ref.digest ?? ref.tag ?? 'latest';
  let { body, digest } = await fetchManifest(client, ref, wantRef, opts.signal);
  let manifest = parseManifest(body);
  if (manifest.manifests) {
    const want = parsePlatform(opts.platform);
    const pick = selectPlatform(manifest.manifests, want);
    if (!pick) {
      throw notFound(`no matching manifest for ${want.os}/${want.architecture}${want.variant ? `/${want.variant}` : ''} in the manifest list entries`);
    }
    checkDescriptor(pick, 'manifest');
    ({ body } = await fetchManifest(client, ref, pick.digest, opts.signal));
    manifest = parseManifest(body);
    if (manifest.manifests) throw invalidParameter('invalid manifest: an index inside an index');
    // The digest Docker records for a multi-platform image is the index's (what the user pulled).
  }
  if (!manifest.config || !Array.isArray(manifest.layers)) throw invalidParameter(`unsupported manifest format: ${manifest.mediaType ?? 'schema ' + manifest.schemaVersion}`);
  checkDescriptor(manifest.config, 'config');
  manifest.layers.forEach((l, i) => checkDescriptor(l, `layer ${i}`));
  return { manifest, digest };
}

async function fetchManifest(client: RegistryClient, ref: Reference, wantRef: string, signal?: AbortSignal): Promise<{ body: Buffer; digest: string }> {
  const res = await client.getManifest(ref.path, wantRef, signal);
  if (res.status !== 200) throw await pullError(ref, wantRef, res);
  const body = await readAll(res.body, 4 << 20);
  const digest = sha256(body);
  // By digest, the bytes must hash to it; by tag, the registry's Docker-Content-Digest must agree.
  if (DIGEST_RE.test(wantRef) && digest !== wantRef) throw invalidParameter(`manifest verification failed for digest ${wantRef}`);
  const claimed = res.headers['docker-content-digest'];
  if (typeof claimed === 'string' && DIGEST_RE.test(claimed) && claimed !== digest) {
    throw invalidParameter(`manifest verification failed for digest ${claimed}`);
  }
  return { body, digest };
}

function parseManifest(body: Buffer): Manifest {
  let m: Manifest;
  try {
    m = JSON.parse(body.toString('utf8')) as Manifest;
  } catch {
    throw invalidParameter('invalid manifest: not JSON');
  }
  if (typeof m !== 'object' || m === null) throw invalidParameter('invalid manifest');
  if (m.schemaVersion === 1) throw invalidParameter('Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been removed');
  return m;
}

async function pullError(ref: Reference, wantRef: string, res: Response): Promise<BerthError> {
  const { codes, text } = await registryErrorCodes(res);
  const name = shownRepo(ref);
  if (res.status === 401 || res.status === 403 || (res.status === 404 && codes.includes('NAME_UNKNOWN'))) {
    return notFound(`pull access denied for ${name}, repository does not exist or may require 'docker login': ${text.includes('denied') ? text : 'denied: requested access to the resource is denied'}`);
  }
  if (res.status === 404) {
    const shown = DIGEST_RE.test(wantRef) ? `${name}@${wantRef}` : `${name}:${wantRef}`;
    return notFound(`manifest for ${shown} not found: manifest unknown: ${text.replace(/^manifest unknown: /, '') || 'manifest unknown'}`);
  }
  return new BerthError('internal', `${text} (${res.status} from ${res.url})`);
}

async function pullResolved(ctx: PullContext, client: RegistryClient, ref: Reference, r: Resolved, opts: PullOptions): Promise<ImageRecord> {
  const { report, signal } = opts;
  const repo = ref.path;
  const manifest = r.manifest;
  const layers = manifest.layers!;
  const tagShown = ref.digest ?? ref.tag ?? 'latest';
  report({ status: `Pulling from ${ref.path}`, id: tagShown });

  // The config first: it names the uncompressed layers (diff IDs), so layers already here are skipped.
  const cfgRes = await client.getBlob(repo, manifest.config!.digest, signal);
  if (cfgRes.status !== 200) throw await pullError(ref, tagShown, cfgRes);
  const configBytes = await readAll(cfgRes.body, 16 << 20);
  if (sha256(configBytes) !== manifest.config!.digest) throw invalidParameter(`image config verification failed for digest ${manifest.config!.digest}`);
  let config: { rootfs?: { diff_ids?: string[] } };
  try {
    config = JSON.parse(configBytes.toString('utf8'));
  } catch {
    throw invalidParameter('invalid image config: not JSON');
  }
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== layers.length) throw invalidParameter(`invalid image: ${layers.length} layers in the manifest, ${diffIds.length} in the config`);
  const chains = chainIds(diffIds);
  const existing = ctx.store.get(sha256(configBytes));

  const short = (d: string) => d.slice(7, 19);
  const need = layers.map((l, i) => !ctx.store.layers.has(chains[i]));
  for (let i = 0; i < layers.length; i++) {
    if (!need[i]) report({ status: 'Already exists', id: short(layers[i].digest), progressDetail: {} });
    else report({ status: 'Pulling fs layer', id: short(layers[i].digest), progressDetail: {} });
  }
  for (const l of layers) {
    if (l.mediaType === MEDIA.dockerForeignLayer) throw invalidParameter('foreign (non-distributable) layers are not supported');
  }

  await fsp.mkdir(ctx.tmpDir, { recursive: true });
  // One failure stops the other downloads too.
  const local = new AbortController();
  const onAbort = () => local.abort();
  signal?.addEventListener('abort', onAbort);
  const dlSignal = local.signal;
  const started = new Set<number>();
  const files = new Map<number, string>();
  const downloaded = new Map<number, Promise<void>>();
  const cleanup = async () => { for (const f of files.values()) await fsp.rm(f, { force: true }); };
  try {
    // Downloads run a few at a time (Docker's max-concurrent-downloads, 3); the rest wait for a slot.
    let next = 0;
    const queue = layers.map((_, i) => i).filter((i) => need[i]);
    const slots: Promise<void>[] = [];
    for (const i of queue.slice(ctx.maxConcurrentDownloads)) report({ status: 'Waiting', id: short(layers[i].digest), progressDetail: {} });
    const starters = new Map<number, () => void>();
    for (const i of queue) downloaded.set(i, new Promise<void>((resolve, reject) => starters.set(i, () => {
      const file = path.join(ctx.tmpDir, `pull-${randomBytes(8).toString('hex')}`);
      files.set(i, file);
      started.add(i);
      downloadWithRetry(client, repo, layers[i], file, (n) => report(progressMessage('Downloading', short(layers[i].digest), n, layers[i].size)),
        (sec) => report({ status: `Retrying in ${sec} second${sec === 1 ? '' : 's'}`, id: short(layers[i].digest), progressDetail: {} }), dlSignal)
        .then(() => {
          report({ status: 'Verifying Checksum', id: short(layers[i].digest), progressDetail: {} });
          report({ status: 'Download complete', id: short(layers[i].digest), progressDetail: {} });
          resolve();
        }, reject);
    })));
    const runSlot = async () => {
      while (next < queue.length && !dlSignal.aborted) {
        const i = queue[next++];
        starters.get(i)!();
        await downloaded.get(i)!.catch(() => {});
      }
    };
    for (let k = 0; k < Math.min(ctx.maxConcurrentDownloads, queue.length); k++) slots.push(runSlot());
    // Each layer unpacks into its own directory (overlay keeps them apart), so unpacking does not wait for the
    // layer below: a layer is unpacked as soon as it is downloaded, as many at once as there are cores. Docker
    // unpacks in order, one at a time.
    const unpackSlots = Math.max(1, Math.min(2, os.cpus().length));
    let running = 0;
    const waiters: (() => void)[] = [];
    const acquire = async () => {
      while (running >= unpackSlots) await new Promise<void>((r) => waiters.push(r));
      running++;
    };
    const release = () => {
      running--;
      waiters.shift()?.();
    };
    const unpack = async (i: number) => {
      await downloaded.get(i)!;
      await acquire();
      try {
        if (dlSignal.aborted) throw new BerthError('internal', 'context canceled');
        const file = files.get(i)!;
        const id = short(layers[i].digest);
        const total = layers[i].size;
        const src = createReadStream(file, { highWaterMark: 1 << 20 }).pipe(progressCounter(total, (n) => report(progressMessage('Extracting', id, n, total))));
        const { diffId } = await importLayer(ctx.store, i === 0 ? undefined : chains[i - 1], src, dlSignal);
        if (diffId !== diffIds[i]) throw invalidParameter(`layer ${layers[i].digest}: its content does not match the image config (diff ID ${diffId}, expected ${diffIds[i]})`);
        await fsp.rm(file, { force: true });
        files.delete(i);
        report({ status: 'Pull complete', id, progressDetail: {} });
        await ctx.meta.add(diffId, { digest: layers[i].digest, size: layers[i].size, mediaType: layers[i].mediaType, repo: repoName(ref) });
      } finally {
        release();
      }
    };
    // The first failure is the one reported; the others are the cancellations it caused.
    let firstErr: unknown;
    const unpacks = layers.map((_, i) => i).filter((i) => need[i]).map((i) => unpack(i).catch((err) => {
      firstErr ??= err;
      local.abort();
    }));
    await Promise.all(unpacks);
    if (firstErr) throw firstErr;
    await Promise.all(slots);
  } catch (err) {
    local.abort();
    await Promise.allSettled([...started].map((i) => downloaded.get(i)));
    await cleanup();
    // Layers this pull unpacked belong to no image yet: they go, so a failed pull stores nothing.
    const made = chains.filter((c, i) => need[i] && ctx.store.layers.has(c));
    await ctx.store.pruneLayers(made, () => false).catch(() => {});
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  for (let i = 0; i < layers.length; i++) {
    if (!need[i]) await ctx.meta.add(diffIds[i], { digest: layers[i].digest, size: layers[i].size, mediaType: layers[i].mediaType, repo: repoName(ref) });
  }
  const rec = await ctx.store.addImage(configBytes, { repoDigest: `${repoName(ref)}@${r.digest}` });
  if (!ref.digest || ref.tag) await ctx.store.tag(rec.id, fullName({ ...ref, digest: undefined, tag: ref.tag ?? 'latest' }));
  report({ status: `Digest: ${r.digest}` });
  const shown = familiarName(fullName(ref.digest && !ref.tag ? ref : { ...ref, tag: ref.tag ?? 'latest' }));
  report({ status: existing ? `Status: Image is up to date for ${shown}` : `Status: Downloaded newer image for ${shown}` });
  return rec;
}

// A download cut off by the network is tried again, resuming where it stopped (a Range request; from the
// start when the registry ignores it), like dockerd's retries; a wrong digest or a refusal is final.
const RETRIES = 5;

export async function downloadWithRetry(client: RegistryClient, repo: string, d: Descriptor, file: string, onProgress: (n: number) => void, onRetry: (seconds: number) => void, signal?: AbortSignal): Promise<void> {
  const state: DownloadState = { hash: createHash('sha256'), n: 0 };
  for (let attempt = 1; ; attempt++) {
    try {
      await downloadBlob(client, repo, d, file, state, onProgress, signal);
      return;
    } catch (err) {
      const retryable = err instanceof DownloadCut;
      if (!retryable || attempt > RETRIES || signal?.aborted) throw retryable ? new BerthError('internal', err.message) : err;
      // Docker waits 5 s times the attempt; shorter here, counted down the same way.
      for (let s = attempt; s > 0; s--) {
        onRetry(s);
        await new Promise((r) => setTimeout(r, 1000));
        if (signal?.aborted) throw new BerthError('internal', 'context canceled');
      }
    }
  }
}

interface DownloadState { hash: ReturnType<typeof createHash>; n: number }

class DownloadCut extends Error {}

// One blob into a temp file, its digest and size checked while it streams.
async function downloadBlob(client: RegistryClient, repo: string, d: Descriptor, file: string, state: DownloadState, onProgress: (n: number) => void, signal?: AbortSignal): Promise<void> {
  let res: Response;
  try {
    res = await client.getBlob(repo, d.digest, signal, state.n > 0 ? state.n : undefined);
  } catch (err) {
    if (signal?.aborted || (err instanceof BerthError && err.code === 'unauthorized')) throw err;
    throw new DownloadCut(`error pulling blob ${d.digest}: ${(err as Error).message}`);
  }
  if (res.status === 200 && state.n > 0) {
    // No range support: start again.
    state.hash = createHash('sha256');
    state.n = 0;
  } else if (res.status !== 200 && !(res.status === 206 && state.n > 0)) {
    const { text } = await registryErrorCodes(res);
    throw new BerthError(res.status === 404 ? 'not-found' : 'internal', `error pulling blob ${d.digest}: ${text}`);
  }
  let last = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _e, cb) {
      state.n += chunk.length;
      if (state.n > d.size) {
        cb(invalidParameter(`filesystem layer verification failed for digest ${d.digest}: more bytes than the manifest says`));
        return;
      }
      state.hash.update(chunk);
      const now = Date.now();
      if (now - last > 100) {
        last = now;
        onProgress(state.n);
      }
      cb(null, chunk);
    },
  });
  try {
    await pipeline(res.body, tap, createWriteStream(file, { flags: state.n > 0 ? 'a' : 'w' }), { signal });
  } catch (err) {
    if ((err as Error).name === 'AbortError' || signal?.aborted) throw new BerthError('internal', 'context canceled');
    if (err instanceof BerthError) throw err;
    throw new DownloadCut(`error pulling blob ${d.digest}: ${(err as Error).message === 'aborted' ? 'unexpected EOF' : (err as Error).message}`);
  }
  onProgress(state.n);
  if (state.n !== d.size) throw new DownloadCut(`error pulling blob ${d.digest}: unexpected EOF (${state.n} of ${d.size} bytes)`);
  if (`sha256:${state.hash.digest('hex')}` !== d.digest) throw invalidParameter(`filesystem layer verification failed for digest ${d.digest}`);
}

export { DOCKER_HUB };
