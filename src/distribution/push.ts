// docker push: each layer is found on the registry (already there, or mounted from another repository that has
// it), else gzip-compressed and uploaded while its digest is computed; then the config, then a Docker schema 2
// manifest under the tag. gzip of the same bytes with the same settings gives the same blob, so pushing an
// image twice gives the same digests.
import { createHash } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import zlib from 'node:zlib';
import type { ImageStore, ImageRecord } from '../images/store.ts';
import { fullName, familiarName, repoName, type Reference } from '../images/reference.ts';
import { BerthError, notFound } from '../lib/errors.ts';
import { progressMessage, progressCounter, type Report } from '../lib/progress.ts';
import { RegistryClient, endpointsFor, MEDIA, type RegistryOptions } from './client.ts';
import type { AuthConfig } from './auth.ts';
import type { LayerMetadata, BlobSource } from './metadata.ts';

export interface PushContext {
  store: ImageStore;
  meta: LayerMetadata;
  registry: RegistryOptions;
  maxConcurrentUploads: number;
}

export interface PushOptions {
  auth?: AuthConfig;
  report: Report;
  signal?: AbortSignal;
}

export interface PushResult {
  Tag: string;
  Digest: string;
  Size: number;
}

// Pushes every tag of `ref`'s repository that `tags` names (one, or all with `docker push -a`).
export async function pushImage(ctx: PushContext, ref: Reference, tags: string[], opts: PushOptions): Promise<PushResult[]> {
  const ep = endpointsFor(ref.domain, ctx.registry, 'push')[0];
  const client = new RegistryClient(ref.domain, ep, opts.auth, ctx.registry.userAgent);
  opts.report({ status: `The push refers to repository [${repoName(ref)}]` });
  const out: PushResult[] = [];
  for (const tag of tags) {
    const rec = ctx.store.tryResolve(fullName({ ...ref, tag, digest: undefined }));
    if (!rec) throw notFound(`tag does not exist: ${familiarName(fullName({ ...ref, tag, digest: undefined }))}`);
    out.push(await pushOne(ctx, client, ref, tag, rec, opts));
  }
  return out;
}

async function pushOne(ctx: PushContext, client: RegistryClient, ref: Reference, tag: string, rec: ImageRecord, opts: PushOptions): Promise<PushResult> {
  const { report, signal } = opts;
  const repo = ref.path;
  const target = repoName(ref);
  const scope = `repository:${repo}:pull,push`;
  const diffIds = rec.config.rootfs.diff_ids;
  const short = (d: string) => d.slice(7, 19);
  // Docker lists the top layer first.
  const order = diffIds.map((_, i) => i).reverse();
  for (const i of order) report({ status: 'Preparing', id: short(diffIds[i]), progressDetail: {} });
  for (const i of order.slice(ctx.maxConcurrentUploads)) report({ status: 'Waiting', id: short(diffIds[i]), progressDetail: {} });

  const descriptors: { mediaType: string; size: number; digest: string }[] = new Array(diffIds.length);
  let next = 0;
  const worker = async () => {
    while (next < order.length) {
      const i = order[next++];
      descriptors[i] = await pushLayer(ctx, client, ref, diffIds[i], report, signal);
    }
  };
  await Promise.all(Array.from({ length: Math.min(ctx.maxConcurrentUploads, order.length) }, worker));

  // The config as stored (its digest is the image ID).
  const configBytes = await ctx.store.content.read(rec.id);
  if (!(await client.blobExists(repo, rec.id, scope, signal))) {
    await client.uploadBlob(repo, scope, () => bufferStream(configBytes), () => rec.id, signal);
  }
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA.dockerManifest,
    config: { mediaType: MEDIA.dockerConfig, size: configBytes.length, digest: rec.id },
    layers: descriptors,
  };
  const body = Buffer.from(JSON.stringify(manifest, null, 3));
  const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
  await client.putManifest(repo, tag, MEDIA.dockerManifest, body, scope, signal);
  await ctx.store.addImage(configBytes, { repoDigest: `${target}@${digest}` });
  report({ status: `${tag}: digest: ${digest} size: ${body.length}` });
  report({ progressDetail: {}, aux: { Tag: tag, Digest: digest, Size: body.length } });
  return { Tag: tag, Digest: digest, Size: body.length };
}

function bufferStream(b: Buffer): Readable {
  return Readable.from([b]);
}

async function pushLayer(ctx: PushContext, client: RegistryClient, ref: Reference, diffId: string, report: Report, signal?: AbortSignal): Promise<{ mediaType: string; size: number; digest: string }> {
  const repo = ref.path;
  const target = repoName(ref);
  const scope = `repository:${repo}:pull,push`;
  const id = diffId.slice(7, 19);
  // A blob this layer was pulled from or pushed as, on the same registry: there already, or mountable.
  // Only gzip blobs go into a Docker schema 2 manifest; zstd or plain ones are compressed again.
  const known = ctx.meta.sources(diffId).filter((s) => s.repo.split('/')[0] === ref.domain && (s.mediaType === MEDIA.dockerLayer || s.mediaType === MEDIA.ociLayerGzip));
  for (const src of known) {
    const desc = { mediaType: layerMediaType(src), size: src.size, digest: src.digest };
    if (src.repo === target) {
      if (await client.blobExists(repo, src.digest, scope, signal)) {
        report({ status: 'Layer already exists', id, progressDetail: {} });
        return desc;
      }
      continue;
    }
    const from = src.repo.slice(ref.domain.length + 1);
    if (await client.mountBlob(repo, src.digest, from, `${scope} repository:${from}:pull`, signal).catch(() => false)) {
      report({ status: `Mounted from ${from}`, id, progressDetail: {} });
      await ctx.meta.add(diffId, { ...src, repo: target });
      return desc;
    }
  }
  // Upload: the uncompressed layer kept in the content store, gzip-compressed on the way.
  const total = await ctx.store.content.size(diffId).catch(() => {
    throw new BerthError('not-found', `layer ${diffId} is missing from the content store`);
  });
  let digest = '';
  let size = 0;
  const make = () => {
    const hash = createHash('sha256');
    size = 0;
    const counter = progressCounter(total, (n) => report(progressMessage('Pushing', id, n, total)));
    const hasher = new Transform({
      transform(chunk: Buffer, _e, cb) {
        hash.update(chunk);
        size += chunk.length;
        cb(null, chunk);
      },
      flush(cb) {
        digest = `sha256:${hash.digest('hex')}`;
        cb();
      },
    });
    const src = ctx.store.content.stream(diffId);
    const gz = zlib.createGzip({ level: 6 });
    src.on('error', (e) => hasher.destroy(e));
    return src.pipe(counter).pipe(gz).pipe(hasher);
  };
  await client.uploadBlob(repo, scope, make, () => digest, signal);
  report({ status: 'Pushed', id, progressDetail: {} });
  const desc = { mediaType: MEDIA.dockerLayer, size, digest };
  await ctx.meta.add(diffId, { digest, size, mediaType: MEDIA.dockerLayer, repo: target });
  return desc;
}

// A Docker schema 2 manifest lists gzip layers with Docker's type.
function layerMediaType(_s: BlobSource): string {
  return MEDIA.dockerLayer;
}
