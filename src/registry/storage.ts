// The registry's storage on disk. Blobs (layers, configs and manifests alike) are content-addressed and kept
// once for the whole registry; each repository holds links to the blobs it may serve, so knowing a digest is
// not enough to read another repository's content (a cross-repository mount needs pull access to the source).
//
//   root/blobs/sha256/<2 hex>/<hex>                        the content
//   root/repositories/<name>/_blobs/sha256/<hex>            link: the repository holds this blob
//   root/repositories/<name>/_manifests/revisions/sha256/<hex>  link: {digest, mediaType} of a manifest
//   root/repositories/<name>/_manifests/tags/<tag>          the digest the tag points at
//   root/repositories/<name>/_referrers/sha256/<subject hex>/<hex>  descriptor of a manifest whose subject it is
//   root/repositories/<name>/_description                   set by an admin
//   root/uploads/<uuid>/{data,state.json}                   uploads in progress
//
// Repository names may nest (a/b is a repository inside a's directory); the entries of a repository all start
// with "_", which no name component can, so a nested repository never collides with them.
// Every file is written temp-then-rename, and an upload becomes a blob only after its digest is verified.
import { createHash, randomUUID, type Hash } from 'node:crypto';
import { createReadStream, promises as fsp, type Dirent } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { writeFileAtomic } from '../lib/fsutil.ts';
import { isErrno } from '../lib/errors.ts';
import type { RepositoryLister } from './types.ts';
import { RegistryError, digestInvalid, manifestUnknown, nameInvalid, nameUnknown, uploadUnknown } from './errors.ts';

export const MEDIA_TYPES = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
} as const;

const SCHEMA1_TYPES = new Set([
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
]);

// Layers a manifest may name without the registry holding them (they are fetched from their urls).
const FOREIGN_LAYER_TYPES = new Set([
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
]);

// The distribution grammar: path components of lowercase alphanumerics joined by ".", "_", "__" or dashes.
// No component can be "." or "..", start with "_" or hold a "/" of its own, so a valid name is a safe path.
const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const NAME_RE = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
export const MAX_NAME_LENGTH = 255;
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;
// Any algorithm the OCI grammar allows; only sha256 is stored, the rest are refused as unsupported.
const ANY_DIGEST_RE = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// The largest manifest accepted or read (distribution's limit too): manifests are held in memory.
export const MAX_MANIFEST_BYTES = 4 << 20;

export function isValidRepositoryName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_NAME_LENGTH && NAME_RE.test(name);
}

export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

export function isDigest(ref: string): boolean {
  return DIGEST_RE.test(ref);
}

/** Throws DIGEST_INVALID unless `d` is a sha256 digest (another well-formed algorithm is named as unsupported). */
export function checkDigest(d: string): string {
  if (DIGEST_RE.test(d)) return d;
  if (ANY_DIGEST_RE.test(d) && !d.startsWith('sha256:')) throw digestInvalid(`unsupported digest algorithm: ${d.slice(0, d.indexOf(':'))}`, { digest: d });
  throw digestInvalid('invalid digest', { digest: d });
}

export function checkRepositoryName(name: string): string {
  if (!isValidRepositoryName(name)) throw nameInvalid(name);
  return name;
}

export function sha256(data: Uint8Array | string): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

export async function hashFile(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return 'sha256:' + h.digest('hex');
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  urls?: string[];
  platform?: unknown;
}

export interface StoredManifest {
  digest: string;
  mediaType: string;
  body: Buffer;
}

export interface UploadStatus {
  uuid: string;
  offset: number;
}

export interface AppendOptions {
  /** The offset the chunk claims to start at (Content-Range): anything else is a 416. */
  start?: number;
  /** The number of bytes the chunk claims to hold: fewer or more is refused and nothing is kept. */
  length?: number;
  /** The largest the whole upload may grow to (413 SIZE_INVALID beyond). */
  maxBytes?: number;
}

interface UploadState {
  repo: string;
  started: string;
}

interface RevisionLink {
  digest: string;
  mediaType: string;
}

// Per upload, in memory: the running sha256 of the data so far (Node cannot serialise a hash's state, so after
// a restart the data is hashed again at completion), and whether a request is writing to it right now.
interface Session {
  hash?: Hash;
  hashed: number; // bytes the hash has seen
  busy: boolean;
}

type Json = Record<string, unknown>;

export class RegistryStorage implements RepositoryLister {
  readonly root: string;
  private readonly sessions = new Map<string, Session>();

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  async init(): Promise<void> {
    for (const d of ['blobs/sha256', 'repositories', 'uploads']) await fsp.mkdir(path.join(this.root, d), { recursive: true, mode: 0o700 });
  }

  // ---------------------------------------------------------------------------------------------------------
  // Paths

  blobPath(digest: string): string {
    const hex = checkDigest(digest).slice(7);
    return path.join(this.root, 'blobs', 'sha256', hex.slice(0, 2), hex);
  }

  repositoryDir(name: string): string {
    checkRepositoryName(name);
    const dir = path.join(this.root, 'repositories', name);
    // The grammar already rules out escapes; this is the belt to its braces.
    if (!dir.startsWith(path.join(this.root, 'repositories') + path.sep)) throw nameInvalid(name);
    return dir;
  }

  private blobLink(repo: string, digest: string): string {
    return path.join(this.repositoryDir(repo), '_blobs', 'sha256', checkDigest(digest).slice(7));
  }

  private revisionLink(repo: string, digest: string): string {
    return path.join(this.repositoryDir(repo), '_manifests', 'revisions', 'sha256', checkDigest(digest).slice(7));
  }

  private tagsDir(repo: string): string {
    return path.join(this.repositoryDir(repo), '_manifests', 'tags');
  }

  private tagFile(repo: string, tag: string): string {
    if (!isValidTag(tag)) throw new RegistryError('TAG_INVALID', 'invalid tag', { detail: { tag } });
    return path.join(this.tagsDir(repo), tag);
  }

  private referrersDir(repo: string, subject: string): string {
    return path.join(this.repositoryDir(repo), '_referrers', 'sha256', checkDigest(subject).slice(7));
  }

  private uploadDir(uuid: string): string {
    if (!UUID_RE.test(uuid)) throw uploadUnknown(uuid);
    return path.join(this.root, 'uploads', uuid);
  }

  // ---------------------------------------------------------------------------------------------------------
  // Repositories

  /** Whether the repository holds anything (a blob or a manifest). */
  async hasRepository(repo: string): Promise<boolean> {
    const dir = this.repositoryDir(repo);
    return (await exists(path.join(dir, '_manifests'))) || (await exists(path.join(dir, '_blobs')));
  }

  /** Every repository with at least one manifest, sorted. */
  async repositories(): Promise<string[]> {
    const out: string[] = [];
    for (const repo of await this.allRepositories()) {
      if ((await readdirOr(path.join(this.repositoryDir(repo), '_manifests', 'revisions', 'sha256'))).some((n) => !n.startsWith('.'))) out.push(repo);
    }
    return out;
  }

  /** Every repository directory holding anything at all (manifests, blob links, a description), sorted. */
  async allRepositories(): Promise<string[]> {
    const out: string[] = [];
    const base = path.join(this.root, 'repositories');
    const walk = async (rel: string): Promise<void> => {
      const entries = await readdirOr(path.join(base, rel), true);
      if (rel && entries.some((e) => e.name.startsWith('_'))) out.push(rel);
      for (const e of entries) {
        if (!e.isDirectory() || e.name.startsWith('_') || e.name.startsWith('.')) continue;
        const child = rel ? `${rel}/${e.name}` : e.name;
        if (isValidRepositoryName(child)) await walk(child);
      }
    };
    await walk('');
    return out.sort();
  }

  /** The admin's description, else the description label of the most recently pushed tag's image, else ''. */
  async description(repo: string): Promise<string> {
    if (!isValidRepositoryName(repo)) return '';
    try {
      return (await fsp.readFile(path.join(this.repositoryDir(repo), '_description'), 'utf8')).trim();
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
    let newest: { tag: string; mtime: number } | undefined;
    for (const tag of await this.tagNames(repo)) {
      try {
        const st = await fsp.stat(this.tagFile(repo, tag));
        if (!newest || st.mtimeMs > newest.mtime) newest = { tag, mtime: st.mtimeMs };
      } catch {
        // Deleted while we looked.
      }
    }
    if (!newest) return '';
    try {
      return await this.imageDescription(repo, (await this.getManifest(repo, newest.tag)).body, 0);
    } catch {
      return '';
    }
  }

  private async imageDescription(repo: string, body: Buffer, depth: number): Promise<string> {
    const m = JSON.parse(body.toString('utf8')) as Json;
    const annotations = (m.annotations ?? {}) as Record<string, unknown>;
    const own = annotations['org.opencontainers.image.description'];
    if (Array.isArray(m.manifests)) {
      if (typeof own === 'string') return own;
      const first = m.manifests[0] as Json | undefined;
      if (!first || depth > 2 || typeof first.digest !== 'string') return '';
      return this.imageDescription(repo, (await this.getManifest(repo, first.digest)).body, depth + 1);
    }
    const config = m.config as Json | undefined;
    if (config && typeof config.digest === 'string' && (await this.statBlob(repo, config.digest)) !== undefined) {
      const size = (await fsp.stat(this.blobPath(config.digest))).size;
      if (size <= MAX_MANIFEST_BYTES) {
        const c = JSON.parse(await fsp.readFile(this.blobPath(config.digest), 'utf8')) as Json;
        const labels = ((c.config as Json | undefined)?.Labels ?? {}) as Record<string, unknown>;
        const label = labels['org.opencontainers.image.description'];
        if (typeof label === 'string') return label;
      }
    }
    return typeof own === 'string' ? own : '';
  }

  /** Sets (or, with '', removes) the admin's description of a repository. */
  async setDescription(repo: string, text: string): Promise<void> {
    const file = path.join(this.repositoryDir(repo), '_description');
    if (!text) return void (await fsp.rm(file, { force: true }));
    await fsp.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    await writeFileAtomic(file, text, 0o600);
  }

  // ---------------------------------------------------------------------------------------------------------
  // Blobs

  /** The size of a blob this repository holds, undefined when it holds none by that digest. */
  async statBlob(repo: string, digest: string): Promise<number | undefined> {
    if (!(await exists(this.blobLink(repo, digest)))) return undefined;
    try {
      return (await fsp.stat(this.blobPath(digest))).size;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return undefined;
      throw err;
    }
  }

  /** The bytes start..end (inclusive) of a blob; the caller has checked the repository holds it. */
  openBlob(digest: string, range?: { start: number; end: number }): Readable {
    // 1 MiB reads: with the default 64 KiB, a 100 MB pull spent its time in per-chunk overhead.
    return createReadStream(this.blobPath(digest), { highWaterMark: 1 << 20, ...(range ? { start: range.start, end: range.end } : {}) });
  }

  /** Removes the repository's link to a blob (the content goes at the next garbage collection). */
  async unlinkBlob(repo: string, digest: string): Promise<boolean> {
    const link = this.blobLink(repo, digest);
    if (!(await exists(link))) return false;
    await fsp.rm(link, { force: true });
    return true;
  }

  private async linkBlob(repo: string, digest: string): Promise<void> {
    const link = this.blobLink(repo, digest);
    if (await exists(link)) return;
    await fsp.mkdir(path.dirname(link), { recursive: true, mode: 0o700 });
    await writeFileAtomic(link, digest, 0o600, { sync: false });
  }

  /** Links a blob `from` holds into `repo`; its size, or undefined when `from` does not hold it. */
  async mountBlob(repo: string, from: string, digest: string): Promise<number | undefined> {
    const size = await this.statBlob(from, digest);
    if (size === undefined) return undefined;
    await this.linkBlob(repo, digest);
    return size;
  }

  // Moves a verified file into the blob store (or drops it when the content is already there).
  private async commitBlobFile(file: string, digest: string): Promise<void> {
    const dst = this.blobPath(digest);
    if (await exists(dst)) {
      await fsp.rm(file, { force: true });
      return;
    }
    await fsp.mkdir(path.dirname(dst), { recursive: true, mode: 0o700 });
    await fsp.rename(file, dst);
  }

  private async writeBlob(data: Buffer): Promise<string> {
    const digest = sha256(data);
    const dst = this.blobPath(digest);
    if (!(await exists(dst))) {
      await fsp.mkdir(path.dirname(dst), { recursive: true, mode: 0o700 });
      await writeFileAtomic(dst, data, 0o600);
    }
    return digest;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Uploads

  async startUpload(repo: string): Promise<string> {
    checkRepositoryName(repo);
    const uuid = randomUUID();
    const dir = this.uploadDir(uuid);
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    await fsp.writeFile(path.join(dir, 'data'), '', { mode: 0o600 });
    await writeFileAtomic(path.join(dir, 'state.json'), JSON.stringify({ repo, started: new Date().toISOString() } satisfies UploadState), 0o600, { sync: false });
    this.sessions.set(uuid, { hash: createHash('sha256'), hashed: 0, busy: false });
    return uuid;
  }

  private async uploadState(repo: string, uuid: string): Promise<UploadState> {
    let state: UploadState;
    try {
      state = JSON.parse(await fsp.readFile(path.join(this.uploadDir(uuid), 'state.json'), 'utf8')) as UploadState;
    } catch {
      this.sessions.delete(uuid);
      throw uploadUnknown(uuid);
    }
    // An upload belongs to the repository it was started in: no other can finish it.
    if (state.repo !== repo) throw uploadUnknown(uuid);
    return state;
  }

  private session(uuid: string): Session {
    let s = this.sessions.get(uuid);
    if (!s) {
      s = { hashed: -1, busy: false };
      this.sessions.set(uuid, s);
    }
    return s;
  }

  // One request at a time per upload: a second one could not know where the first will end.
  private async acquire(repo: string, uuid: string): Promise<{ session: Session; offset: number; data: string }> {
    await this.uploadState(repo, uuid);
    const session = this.session(uuid);
    const data = path.join(this.uploadDir(uuid), 'data');
    let offset: number;
    try {
      offset = (await fsp.stat(data)).size;
    } catch {
      throw uploadUnknown(uuid);
    }
    if (session.busy) {
      throw new RegistryError('BLOB_UPLOAD_INVALID', 'another request is writing to this upload', { status: 416, headers: { Range: rangeHeader(offset) } });
    }
    session.busy = true;
    return { session, offset, data };
  }

  async uploadStatus(repo: string, uuid: string): Promise<UploadStatus> {
    await this.uploadState(repo, uuid);
    try {
      return { uuid, offset: (await fsp.stat(path.join(this.uploadDir(uuid), 'data'))).size };
    } catch {
      throw uploadUnknown(uuid);
    }
  }

  /**
   * Appends a stream to an upload and returns the new offset. When the stream fails or breaks a limit part-way
   * (a client that goes away, a body over the limit), the upload is cut back to where the chunk started, so the
   * upload only ever holds whole chunks.
   */
  async appendUpload(repo: string, uuid: string, source: AsyncIterable<Buffer | string>, opts: AppendOptions = {}): Promise<number> {
    const { session, offset, data } = await this.acquire(repo, uuid);
    let pos = offset;
    try {
      if (opts.start !== undefined && opts.start !== offset) {
        throw new RegistryError('BLOB_UPLOAD_INVALID', `chunk starts at ${opts.start}, the upload is at ${offset}`, { status: 416, headers: { Range: rangeHeader(offset) } });
      }
      const max = opts.maxBytes ?? Infinity;
      if (offset + (opts.length ?? 0) > max) throw tooLarge(max);
      // Hash on a copy: a failed chunk leaves the session's hash as it was, matching the cut-back data.
      const hash = session.hash && session.hashed === offset ? session.hash.copy() : undefined;
      const fh = await fsp.open(data, 'r+');
      try {
        for await (const raw of source) {
          const chunk = typeof raw === 'string' ? Buffer.from(raw) : raw;
          if (pos + chunk.length > max) throw tooLarge(max);
          if (opts.length !== undefined && pos + chunk.length - offset > opts.length) throw lengthMismatch(opts.length);
          hash?.update(chunk);
          let done = 0;
          while (done < chunk.length) done += (await fh.write(chunk, done, chunk.length - done, pos + done)).bytesWritten;
          pos += chunk.length;
        }
      } finally {
        await fh.close();
      }
      if (opts.length !== undefined && pos - offset !== opts.length) throw lengthMismatch(opts.length);
      if (hash) {
        session.hash = hash;
        session.hashed = pos;
      }
      return pos;
    } catch (err) {
      if (pos !== offset) await fsp.truncate(data, offset).catch(() => {});
      throw err;
    } finally {
      session.busy = false;
    }
  }

  /**
   * Completes an upload: the data must hash to `digest`, else the upload is dropped and DIGEST_INVALID thrown
   * with nothing stored. Returns the blob's size.
   */
  async completeUpload(repo: string, uuid: string, digest: string): Promise<number> {
    checkDigest(digest);
    const { session, offset, data } = await this.acquire(repo, uuid);
    try {
      const actual = session.hash && session.hashed === offset ? 'sha256:' + session.hash.digest('hex') : await hashFile(data);
      session.hash = undefined;
      session.hashed = -1;
      if (actual !== digest) {
        await this.removeUpload(uuid);
        throw digestInvalid('provided digest did not match uploaded content', { digest, actual });
      }
      const fh = await fsp.open(data, 'r');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      await this.commitBlobFile(data, digest);
      await this.linkBlob(repo, digest);
      await this.removeUpload(uuid);
      return offset;
    } finally {
      session.busy = false;
    }
  }

  async cancelUpload(repo: string, uuid: string): Promise<void> {
    const { session } = await this.acquire(repo, uuid);
    try {
      await this.removeUpload(uuid);
    } finally {
      session.busy = false;
    }
  }

  private async removeUpload(uuid: string): Promise<void> {
    this.sessions.delete(uuid);
    await fsp.rm(this.uploadDir(uuid), { recursive: true, force: true });
  }

  // ---------------------------------------------------------------------------------------------------------
  // Manifests

  /**
   * Stores a manifest under a tag or its digest. Everything it names must already be in the repository (config
   * and layers as blobs, the children of an index as manifests); nothing is stored otherwise.
   */
  async putManifest(repo: string, reference: string, body: Buffer, contentType?: string): Promise<{ digest: string; mediaType: string; subject?: string }> {
    checkRepositoryName(repo);
    const digest = sha256(body);
    let tag: string | undefined;
    if (isDigest(reference)) {
      if (reference !== digest) throw digestInvalid('manifest digest did not match the reference', { digest: reference, actual: digest });
    } else if (isValidTag(reference)) {
      tag = reference;
    } else if (reference.includes(':')) {
      checkDigest(reference);
    } else {
      throw new RegistryError('TAG_INVALID', 'invalid tag', { detail: { tag: reference } });
    }
    if (body.length > MAX_MANIFEST_BYTES) throw new RegistryError('SIZE_INVALID', `manifest larger than ${MAX_MANIFEST_BYTES} bytes`, { status: 413 });

    let m: Json;
    try {
      m = JSON.parse(body.toString('utf8')) as Json;
    } catch {
      throw manifestInvalid('manifest is not valid JSON');
    }
    if (!m || typeof m !== 'object' || Array.isArray(m)) throw manifestInvalid('manifest is not a JSON object');
    const mediaType = manifestMediaType(m, contentType);
    if (m.schemaVersion !== 2) throw manifestInvalid('schemaVersion must be 2');

    if (mediaType === MEDIA_TYPES.ociIndex || mediaType === MEDIA_TYPES.dockerManifestList) {
      if (!Array.isArray(m.manifests)) throw manifestInvalid('an index needs a manifests array');
      for (const child of m.manifests) {
        const d = descriptor(child, 'manifests[]');
        if (!(await exists(this.revisionLink(repo, d.digest)))) {
          throw new RegistryError('MANIFEST_UNKNOWN', `manifest ${d.digest} named by the index is unknown to the repository`, { status: 400, detail: { digest: d.digest } });
        }
      }
    } else {
      const config = descriptor(m.config, 'config');
      if (!Array.isArray(m.layers)) throw manifestInvalid('a manifest needs a layers array');
      const layers = m.layers.map((l) => descriptor(l, 'layers[]'));
      for (const d of [config, ...layers]) {
        if (FOREIGN_LAYER_TYPES.has(d.mediaType) && Array.isArray(d.urls) && d.urls.length > 0) continue;
        const size = await this.statBlob(repo, d.digest);
        if (size === undefined) throw new RegistryError('MANIFEST_BLOB_UNKNOWN', 'blob unknown to registry', { detail: { digest: d.digest } });
        if (size !== d.size) throw manifestInvalid(`descriptor of ${d.digest} says ${d.size} bytes, the blob has ${size}`);
      }
    }
    let subject: string | undefined;
    if (m.subject !== undefined) subject = descriptor(m.subject, 'subject').digest;

    await this.writeBlob(body);
    const link = this.revisionLink(repo, digest);
    await fsp.mkdir(path.dirname(link), { recursive: true, mode: 0o700 });
    await writeFileAtomic(link, JSON.stringify({ digest, mediaType } satisfies RevisionLink), 0o600);
    if (subject) {
      const referrer: Descriptor = { mediaType, digest, size: body.length };
      const artifactType = typeof m.artifactType === 'string' ? m.artifactType : (m.config as Json | undefined)?.mediaType;
      if (typeof artifactType === 'string') referrer.artifactType = artifactType;
      if (m.annotations && typeof m.annotations === 'object') referrer.annotations = m.annotations as Record<string, string>;
      const dir = this.referrersDir(repo, subject);
      await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
      await writeFileAtomic(path.join(dir, digest.slice(7)), JSON.stringify(referrer), 0o600, { sync: false });
    }
    if (tag) {
      await fsp.mkdir(this.tagsDir(repo), { recursive: true, mode: 0o700 });
      await writeFileAtomic(this.tagFile(repo, tag), digest, 0o600);
    }
    return { digest, mediaType, subject };
  }

  /** The digest a tag or digest reference resolves to in the repository. */
  async resolve(repo: string, reference: string): Promise<string> {
    if (!(await this.hasRepository(repo))) throw nameUnknown(repo);
    let digest = reference;
    if (!isDigest(reference)) {
      if (reference.includes(':')) checkDigest(reference);
      try {
        digest = (await fsp.readFile(this.tagFile(repo, reference), 'utf8')).trim();
      } catch (err) {
        if (err instanceof RegistryError || isErrno(err, 'ENOENT')) throw manifestUnknown(reference);
        throw err;
      }
    }
    return digest;
  }

  async getManifest(repo: string, reference: string): Promise<StoredManifest> {
    const digest = await this.resolve(repo, reference);
    let link: RevisionLink;
    try {
      link = JSON.parse(await fsp.readFile(this.revisionLink(repo, digest), 'utf8')) as RevisionLink;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw manifestUnknown(reference);
      throw err;
    }
    try {
      return { digest, mediaType: link.mediaType, body: await fsp.readFile(this.blobPath(digest)) };
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw manifestUnknown(reference);
      throw err;
    }
  }

  /**
   * Deletes a tag (the manifest stays), or a manifest by digest with every tag pointing at it and its entry
   * among its subject's referrers.
   */
  async deleteManifest(repo: string, reference: string): Promise<void> {
    if (!(await this.hasRepository(repo))) throw nameUnknown(repo);
    if (!isDigest(reference)) {
      if (reference.includes(':')) checkDigest(reference);
      const file = this.tagFile(repo, reference);
      if (!(await exists(file))) throw manifestUnknown(reference);
      await fsp.rm(file, { force: true });
      return;
    }
    const { body } = await this.getManifest(repo, reference);
    for (const tag of await this.tagNames(repo)) {
      const file = this.tagFile(repo, tag);
      const target = await fsp.readFile(file, 'utf8').catch(() => '');
      if (target.trim() === reference) await fsp.rm(file, { force: true });
    }
    try {
      const subject = (JSON.parse(body.toString('utf8')) as Json).subject as Json | undefined;
      if (subject && typeof subject.digest === 'string' && isDigest(subject.digest)) {
        await fsp.rm(path.join(this.referrersDir(repo, subject.digest), reference.slice(7)), { force: true });
      }
    } catch {
      // Stored manifests parsed when they were put; nothing to undo for one that does not.
    }
    await fsp.rm(this.revisionLink(repo, reference), { force: true });
  }

  /** Digests of every manifest the repository holds (tagged or not). */
  async manifestDigests(repo: string): Promise<string[]> {
    const names = await readdirOr(path.join(this.repositoryDir(repo), '_manifests', 'revisions', 'sha256'));
    return names.filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}`);
  }

  /** Digests of every blob linked into the repository. */
  async blobDigests(repo: string): Promise<string[]> {
    const names = await readdirOr(path.join(this.repositoryDir(repo), '_blobs', 'sha256'));
    return names.filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}`);
  }

  private async tagNames(repo: string): Promise<string[]> {
    return (await readdirOr(this.tagsDir(repo))).filter(isValidTag).sort();
  }

  /** The repository's tags, sorted; NAME_UNKNOWN when it holds no manifest. */
  async tags(repo: string): Promise<string[]> {
    if (!(await exists(path.join(this.repositoryDir(repo), '_manifests')))) throw nameUnknown(repo);
    return this.tagNames(repo);
  }

  /** Descriptors of the manifests whose subject is `subject`, optionally only those of one artifact type. */
  async referrers(repo: string, subject: string, artifactType?: string): Promise<Descriptor[]> {
    if (!(await this.hasRepository(repo))) throw nameUnknown(repo);
    const dir = this.referrersDir(repo, subject);
    const out: Descriptor[] = [];
    for (const name of (await readdirOr(dir)).filter((n) => /^[a-f0-9]{64}$/.test(n)).sort()) {
      try {
        const d = JSON.parse(await fsp.readFile(path.join(dir, name), 'utf8')) as Descriptor;
        if (!(await exists(this.revisionLink(repo, d.digest)))) continue;
        if (artifactType === undefined || d.artifactType === artifactType) out.push(d);
      } catch {
        // Removed while we read.
      }
    }
    return out;
  }
}

function manifestInvalid(message: string): RegistryError {
  return new RegistryError('MANIFEST_INVALID', message);
}

function tooLarge(max: number): RegistryError {
  return new RegistryError('SIZE_INVALID', `upload larger than ${max} bytes`, { status: 413 });
}

function lengthMismatch(length: number): RegistryError {
  return new RegistryError('SIZE_INVALID', `chunk does not hold the ${length} bytes its Content-Range says`);
}

/** The Range header of an upload at `offset` bytes: "0-<last byte>" ("0-0" while empty, as distribution says). */
export function rangeHeader(offset: number): string {
  return `0-${Math.max(0, offset - 1)}`;
}

// The media type of a manifest being put: the Content-Type, checked against the body's own mediaType field;
// without a usable Content-Type, the body's field or its shape.
function manifestMediaType(m: Json, contentType: string | undefined): string {
  const header = (contentType ?? '').split(';')[0].trim().toLowerCase();
  const field = typeof m.mediaType === 'string' ? m.mediaType : undefined;
  const generic = header === '' || header === 'application/json' || header === 'application/octet-stream';
  const type = generic ? (field ?? (Array.isArray(m.manifests) ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.ociManifest)) : header;
  if (SCHEMA1_TYPES.has(type) || m.schemaVersion === 1) throw manifestInvalid('schema 1 manifests are not supported');
  if (!(Object.values(MEDIA_TYPES) as string[]).includes(type)) throw manifestInvalid(`unsupported manifest media type: ${type}`);
  if (field !== undefined && field !== type) throw manifestInvalid(`mediaType ${field} in the manifest does not match ${type}`);
  const index = type === MEDIA_TYPES.ociIndex || type === MEDIA_TYPES.dockerManifestList;
  if (index && m.config !== undefined) throw manifestInvalid('an index has no config');
  if (!index && m.manifests !== undefined) throw manifestInvalid('an image manifest has no manifests');
  return type;
}

function descriptor(v: unknown, where: string): Descriptor {
  const d = v as Descriptor | undefined;
  if (!d || typeof d !== 'object' || typeof d.mediaType !== 'string' || typeof d.digest !== 'string' || !Number.isSafeInteger(d.size) || d.size < 0) {
    throw manifestInvalid(`${where}: a descriptor needs mediaType, digest and size`);
  }
  if (!isDigest(d.digest)) {
    // A digest the store cannot hold cannot name anything in it.
    if (ANY_DIGEST_RE.test(d.digest)) throw new RegistryError('MANIFEST_BLOB_UNKNOWN', 'blob unknown to registry', { detail: { digest: d.digest } });
    throw manifestInvalid(`${where}: invalid digest ${d.digest}`);
  }
  return d;
}

async function exists(p: string): Promise<boolean> {
  try {
    await fsp.access(p);
    return true;
  } catch {
    return false;
  }
}

async function readdirOr(dir: string): Promise<string[]>;
async function readdirOr(dir: string, withTypes: true): Promise<Dirent[]>;
async function readdirOr(dir: string, withTypes?: true): Promise<string[] | Dirent[]> {
  try {
    return withTypes ? await fsp.readdir(dir, { withFileTypes: true }) : await fsp.readdir(dir);
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return [];
    throw err;
  }
}

