import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readdirSync, existsSync, utimesSync, writeFileSync, mkdirSync } from 'node:fs';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { RegistryStorage, isValidRepositoryName, isValidTag, checkDigest, sha256, rangeHeader, MEDIA_TYPES } from './storage.ts';
import { RegistryError } from './errors.ts';
import { collectGarbage } from './gc.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function fresh(): Promise<RegistryStorage> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'breg-st-'));
  dirs.push(dir);
  const s = new RegistryStorage(dir);
  await s.init();
  return s;
}

function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

async function pushBlob(s: RegistryStorage, repo: string, data: Buffer): Promise<string> {
  const uuid = await s.startUpload(repo);
  await s.appendUpload(repo, uuid, Readable.from([data]));
  const digest = sha256(data);
  await s.completeUpload(repo, uuid, digest);
  return digest;
}

async function rejectsWith(p: Promise<unknown>, code: string, status?: number): Promise<RegistryError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof RegistryError, `expected a RegistryError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (status !== undefined) assert.equal(err.status, status);
    return err;
  }
  assert.fail(`expected ${code}`);
}

test('repository names follow the distribution grammar and cannot leave the root', () => {
  for (const ok of ['a', 'library/busybox', 'a.b', 'a_b', 'a__b', 'a---b', 'team/app/sub', 'x9/y-8.z', 'a'.repeat(255)]) {
    assert.ok(isValidRepositoryName(ok), ok);
  }
  for (const bad of ['', 'A', 'Library/x', '..', '../x', 'a/../b', 'a/./b', '/a', 'a/', 'a//b', '.a', 'a.', '_a', 'a_', 'a___b', 'a..b',
    'a._b', '-a', 'a-', 'a b', 'a%2e%2e', 'a\\b', 'a\0b', 'a'.repeat(256), 'a/_blobs', 'é']) {
    assert.ok(!isValidRepositoryName(bad), bad);
  }
  // A long run of separators is still linear work.
  assert.ok(!isValidRepositoryName('a' + '-'.repeat(200) + '!'));
});

test('tags and digests', () => {
  assert.ok(isValidTag('latest') && isValidTag('v1.2.3-rc_1') && isValidTag('_x') && isValidTag('A'.repeat(128)));
  assert.ok(!isValidTag('') && !isValidTag('.x') && !isValidTag('-x') && !isValidTag('..') && !isValidTag('a/b') && !isValidTag('A'.repeat(129)));
  const d = sha256('x');
  assert.equal(checkDigest(d), d);
  assert.throws(() => checkDigest('sha256:abc'), (e: RegistryError) => e.code === 'DIGEST_INVALID');
  assert.throws(() => checkDigest(d.toUpperCase()), (e: RegistryError) => e.code === 'DIGEST_INVALID');
  assert.throws(() => checkDigest('sha512:' + 'a'.repeat(128)), (e: RegistryError) => e.code === 'DIGEST_INVALID' && /unsupported/.test(e.message));
  assert.equal(rangeHeader(0), '0-0');
  assert.equal(rangeHeader(10), '0-9');
});

test('an upload becomes a blob only once its digest is verified; a wrong digest keeps nothing', async () => {
  const s = await fresh();
  const data = Buffer.from('hello registry');
  const uuid = await s.startUpload('team/app');
  assert.equal(await s.appendUpload('team/app', uuid, Readable.from([data.subarray(0, 5)])), 5);
  assert.equal((await s.uploadStatus('team/app', uuid)).offset, 5);
  assert.equal(await s.appendUpload('team/app', uuid, Readable.from([data.subarray(5)]), { start: 5, length: data.length - 5 }), data.length);
  assert.deepEqual(files(path.join(s.root, 'blobs')), [], 'nothing in the blob store while uploading');
  await rejectsWith(s.completeUpload('team/app', uuid, sha256('something else')), 'DIGEST_INVALID', 400);
  assert.deepEqual(files(path.join(s.root, 'blobs')), []);
  assert.deepEqual(files(path.join(s.root, 'uploads')), [], 'the failed upload is dropped');
  await rejectsWith(s.uploadStatus('team/app', uuid), 'BLOB_UPLOAD_UNKNOWN', 404);

  const digest = await pushBlob(s, 'team/app', data);
  assert.equal(await s.statBlob('team/app', digest), data.length);
  const hex = digest.slice(7);
  assert.deepEqual(files(path.join(s.root, 'blobs')), [`sha256/${hex.slice(0, 2)}/${hex}`]);
  assert.deepEqual(files(path.join(s.root, 'uploads')), []);
});

test('blobs are stored once and served only by repositories linked to them', async () => {
  const s = await fresh();
  const data = Buffer.from('shared layer');
  const d = await pushBlob(s, 'one', data);
  assert.equal(await s.statBlob('two', d), undefined, 'another repository cannot read it by digest');
  await pushBlob(s, 'two', data);
  assert.equal(files(path.join(s.root, 'blobs')).length, 1);
  assert.equal(await s.mountBlob('three', 'one', d), data.length);
  assert.equal(await s.statBlob('three', d), data.length);
  assert.equal(await s.mountBlob('four', 'nobody', d), undefined);
  assert.ok(await s.unlinkBlob('one', d));
  assert.equal(await s.statBlob('one', d), undefined);
  assert.equal(await s.statBlob('two', d), data.length, 'unlinking leaves the content for the others');
});

test('a chunk that fails part-way is cut back: the upload holds whole chunks, and the hash stays right', async () => {
  const s = await fresh();
  const uuid = await s.startUpload('r');
  await s.appendUpload('r', uuid, Readable.from([Buffer.from('abc')]));
  async function* broken(): AsyncGenerator<Buffer> {
    yield Buffer.from('XXXX');
    throw new Error('client went away');
  }
  await assert.rejects(s.appendUpload('r', uuid, broken()), /client went away/);
  assert.equal((await s.uploadStatus('r', uuid)).offset, 3);
  // Over the upload's size limit: refused with 413, cut back too.
  await rejectsWith(s.appendUpload('r', uuid, Readable.from([Buffer.alloc(10)]), { maxBytes: 8 }), 'SIZE_INVALID', 413);
  assert.equal((await s.uploadStatus('r', uuid)).offset, 3);
  // Out of order: 416 with the current range.
  const e = await rejectsWith(s.appendUpload('r', uuid, Readable.from([Buffer.from('z')]), { start: 7 }), 'BLOB_UPLOAD_INVALID', 416);
  assert.equal(e.headers.Range, '0-2');
  // Fewer bytes than the Content-Range promised.
  await rejectsWith(s.appendUpload('r', uuid, Readable.from([Buffer.from('de')]), { start: 3, length: 5 }), 'SIZE_INVALID', 400);
  assert.equal((await s.uploadStatus('r', uuid)).offset, 3);
  await s.appendUpload('r', uuid, Readable.from([Buffer.from('def')]), { start: 3, length: 3 });
  await s.completeUpload('r', uuid, sha256('abcdef'));
  assert.equal(await s.statBlob('r', sha256('abcdef')), 6);
});

test('one request at a time per upload; uploads belong to their repository', async () => {
  const s = await fresh();
  const uuid = await s.startUpload('r');
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  async function* slow(): AsyncGenerator<Buffer> {
    yield Buffer.from('a');
    await gate;
    yield Buffer.from('b');
  }
  const first = s.appendUpload('r', uuid, slow());
  await new Promise((r) => setTimeout(r, 20));
  await rejectsWith(s.appendUpload('r', uuid, Readable.from([Buffer.from('c')])), 'BLOB_UPLOAD_INVALID', 416);
  release();
  assert.equal(await first, 2);
  await rejectsWith(s.uploadStatus('other', uuid), 'BLOB_UPLOAD_UNKNOWN');
  await rejectsWith(s.completeUpload('other', uuid, sha256('ab')), 'BLOB_UPLOAD_UNKNOWN');
  await rejectsWith(s.uploadStatus('r', '../../etc'), 'BLOB_UPLOAD_UNKNOWN');
  await s.cancelUpload('r', uuid);
  assert.deepEqual(files(path.join(s.root, 'uploads')), []);
});

test('after a restart the upload is re-hashed at completion', async () => {
  const s = await fresh();
  const uuid = await s.startUpload('r');
  await s.appendUpload('r', uuid, Readable.from([Buffer.from('part one, ')]));
  const again = new RegistryStorage(s.root); // no hash in memory
  await again.appendUpload('r', uuid, Readable.from([Buffer.from('part two')]));
  await rejectsWith(again.completeUpload('r', uuid, sha256('wrong')), 'DIGEST_INVALID');
  const uuid2 = await s.startUpload('r');
  await s.appendUpload('r', uuid2, Readable.from([Buffer.from('part one, ')]));
  await new RegistryStorage(s.root).appendUpload('r', uuid2, Readable.from([Buffer.from('part two')]));
  await new RegistryStorage(s.root).completeUpload('r', uuid2, sha256('part one, part two'));
  assert.equal(await s.statBlob('r', sha256('part one, part two')), 18);
});

async function image(s: RegistryStorage, repo: string, tag: string, opts: { label?: string; extra?: Record<string, unknown> } = {}) {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: opts.label ? { Labels: { 'org.opencontainers.image.description': opts.label } } : {} }));
  const layer = Buffer.from(`layer of ${repo}:${tag}`);
  const cd = await pushBlob(s, repo, config);
  const ld = await pushBlob(s, repo, layer);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: MEDIA_TYPES.ociManifest,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cd, size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: ld, size: layer.length }],
    ...opts.extra,
  }));
  const put = await s.putManifest(repo, tag, manifest, MEDIA_TYPES.ociManifest);
  return { manifest, digest: put.digest, config: cd, layer: ld };
}

test('manifests: tags, digests, validation, and nothing stored when invalid', async () => {
  const s = await fresh();
  const img = await image(s, 'app', 'v1');
  assert.equal(img.digest, sha256(img.manifest));
  const got = await s.getManifest('app', 'v1');
  assert.equal(got.digest, img.digest);
  assert.equal(got.mediaType, MEDIA_TYPES.ociManifest);
  assert.deepEqual(got.body, img.manifest);
  assert.deepEqual((await s.getManifest('app', img.digest)).body, img.manifest);
  assert.deepEqual(await s.tags('app'), ['v1']);
  assert.deepEqual(await s.repositories(), ['app']);

  await image(s, 'other', 'x');
  const before = files(s.root);
  const missing = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: MEDIA_TYPES.ociManifest,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: img.config, size: (await s.statBlob('app', img.config))! },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256('not pushed'), size: 10 }],
  }));
  const e = await rejectsWith(s.putManifest('app', 'v2', missing, MEDIA_TYPES.ociManifest), 'MANIFEST_BLOB_UNKNOWN', 400);
  assert.deepEqual(e.detail, { digest: sha256('not pushed') });
  // A blob another repository holds is no better.
  await rejectsWith(s.putManifest('app', 'v3', Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: MEDIA_TYPES.dockerManifest,
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: img.config, size: (await s.statBlob('app', img.config))! },
    layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: (await s.getManifest('other', 'x')).digest, size: 1 }],
  })), MEDIA_TYPES.dockerManifest), 'MANIFEST_BLOB_UNKNOWN');
  await rejectsWith(s.putManifest('app', 'v2', Buffer.from('{not json'), MEDIA_TYPES.ociManifest), 'MANIFEST_INVALID');
  await rejectsWith(s.putManifest('app', 'v2', img.manifest, 'application/vnd.docker.distribution.manifest.v1+prettyjws'), 'MANIFEST_INVALID');
  await rejectsWith(s.putManifest('app', 'v2', img.manifest, MEDIA_TYPES.dockerManifest), 'MANIFEST_INVALID'); // body says OCI
  await rejectsWith(s.putManifest('app', sha256('other bytes'), img.manifest, MEDIA_TYPES.ociManifest), 'DIGEST_INVALID');
  await rejectsWith(s.putManifest('app', '-bad', img.manifest, MEDIA_TYPES.ociManifest), 'TAG_INVALID');
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: [{ mediaType: MEDIA_TYPES.ociManifest, digest: sha256('no such manifest'), size: 3 }] }));
  await rejectsWith(s.putManifest('app', 'multi', index, MEDIA_TYPES.ociIndex), 'MANIFEST_UNKNOWN', 400);
  assert.deepEqual(files(s.root), before, 'nothing stored by the refused manifests');

  // An index over manifests the repository holds; Content-Type absent: the body's mediaType decides.
  const good = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: [{ mediaType: MEDIA_TYPES.ociManifest, digest: img.digest, size: img.manifest.length }] }));
  const put = await s.putManifest('app', 'multi', good);
  assert.equal((await s.getManifest('app', 'multi')).mediaType, MEDIA_TYPES.ociIndex);
  assert.equal(put.digest, sha256(good));

  // Deleting a tag keeps the manifest; deleting a manifest removes its tags.
  await s.putManifest('app', 'v1-again', img.manifest, MEDIA_TYPES.ociManifest);
  await s.deleteManifest('app', 'v1-again');
  assert.deepEqual((await s.getManifest('app', img.digest)).digest, img.digest);
  await s.deleteManifest('app', img.digest);
  await rejectsWith(s.getManifest('app', 'v1'), 'MANIFEST_UNKNOWN', 404);
  assert.deepEqual(await s.tags('app'), ['multi']);
  await rejectsWith(s.getManifest('nothing', 'v1'), 'NAME_UNKNOWN', 404);
  await rejectsWith(s.tags('nothing'), 'NAME_UNKNOWN', 404);
  assert.deepEqual(files(s.root).filter((f) => f.includes('.tmp-')), [], 'no temp files left behind');
});

test('referrers: manifests with a subject, filtered by artifact type', async () => {
  const s = await fresh();
  const img = await image(s, 'app', 'v1');
  const subject = { mediaType: MEDIA_TYPES.ociManifest, digest: img.digest, size: img.manifest.length };
  const empty = Buffer.from('{}');
  const ed = await pushBlob(s, 'app', empty);
  const sig = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: MEDIA_TYPES.ociManifest, artifactType: 'application/vnd.example.sig',
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: ed, size: 2 }, layers: [], subject, annotations: { who: 'me' },
  }));
  const put = await s.putManifest('app', sha256(sig), sig, MEDIA_TYPES.ociManifest);
  assert.equal(put.subject, img.digest);
  const all = await s.referrers('app', img.digest);
  assert.deepEqual(all, [{ mediaType: MEDIA_TYPES.ociManifest, digest: sha256(sig), size: sig.length, artifactType: 'application/vnd.example.sig', annotations: { who: 'me' } }]);
  assert.equal((await s.referrers('app', img.digest, 'application/other')).length, 0);
  assert.equal((await s.referrers('app', sha256('nothing'))).length, 0);
  await s.deleteManifest('app', sha256(sig));
  assert.equal((await s.referrers('app', img.digest)).length, 0);
});

test('descriptions: the admin text, else the label of the newest tag', async () => {
  const s = await fresh();
  await image(s, 'app', 'old', { label: 'the old one' });
  const oldTag = path.join(s.root, 'repositories/app/_manifests/tags/old');
  utimesSync(oldTag, new Date(Date.now() - 60000), new Date(Date.now() - 60000));
  await image(s, 'app', 'new', { label: 'the new one' });
  assert.equal(await s.description('app'), 'the new one');
  await s.setDescription('app', 'Set by the admin\n');
  assert.equal(await s.description('app'), 'Set by the admin');
  await s.setDescription('app', '');
  assert.equal(await s.description('app'), 'the new one');
  assert.equal(await s.description('none'), '');
  assert.equal(await s.description('../etc'), '');
});

test('repositories nest without colliding with their own entries', async () => {
  const s = await fresh();
  await image(s, 'a', '1');
  await image(s, 'a/b', '1');
  await image(s, 'a/b/c', '2');
  await pushBlob(s, 'blobs-only', Buffer.from('x'));
  assert.deepEqual(await s.repositories(), ['a', 'a/b', 'a/b/c']);
  assert.deepEqual(await s.tags('a/b'), ['1']);
});

test('gc sweeps blobs no manifest reaches, follows indexes, keeps untagged manifests, drops stale uploads', async () => {
  const s = await fresh();
  const kept = await image(s, 'app', 'v1');
  const child = await image(s, 'multi', 'child');
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: [{ mediaType: MEDIA_TYPES.ociManifest, digest: child.digest, size: child.manifest.length }] }));
  await s.putManifest('multi', 'idx', index, MEDIA_TYPES.ociIndex);
  await s.deleteManifest('multi', 'child'); // the child is reached through the index only (and its revision)
  const untagged = await image(s, 'app', 'tmp');
  await s.deleteManifest('app', 'tmp'); // untagged, still linked: kept
  const dropped = await image(s, 'gone', 'v1');
  await s.deleteManifest('gone', dropped.digest);
  const orphan = await pushBlob(s, 'app', Buffer.from('uploaded, never referenced'));

  const stale = await s.startUpload('app');
  await s.appendUpload('app', stale, Readable.from([Buffer.from('stale')]));
  for (const f of readdirSync(path.join(s.root, 'uploads', stale))) utimesSync(path.join(s.root, 'uploads', stale, f), new Date(Date.now() - 2 * 86400000), new Date(Date.now() - 2 * 86400000));
  const young = await s.startUpload('app');
  // A temp file left by a crash.
  mkdirSync(path.join(s.root, 'blobs/sha256/00'), { recursive: true });
  writeFileSync(path.join(s.root, 'blobs/sha256/00/.tmp-crashed'), 'junk');

  // The config of 'gone' has the same bytes as the others': shared, so kept.
  const expected = [dropped.digest, dropped.layer, orphan].sort();
  const dry = await collectGarbage(s.root, { dryRun: true });
  assert.deepEqual(dry.removedBlobs, expected);
  assert.deepEqual(dry.removedUploads, [stale]);
  assert.ok(existsSync(s.blobPath(orphan)), 'a dry run removes nothing');

  const res = await collectGarbage(s.root);
  assert.deepEqual(res.removedBlobs, expected);
  assert.deepEqual(res.removedUploads, [stale]);
  assert.ok(res.freedBytes > 0);
  for (const d of expected) assert.ok(!existsSync(s.blobPath(d)), d);
  for (const d of [kept.digest, kept.config, kept.layer, child.digest, child.config, child.layer, untagged.digest, untagged.layer, sha256(index)]) {
    assert.ok(existsSync(s.blobPath(d)), `kept ${d}`);
  }
  assert.ok(!existsSync(path.join(s.root, 'blobs/sha256/00')));
  assert.equal(await s.statBlob('app', orphan), undefined);
  assert.ok(!existsSync(path.join(s.root, 'repositories/app/_blobs/sha256', orphan.slice(7))), 'the dangling link goes too');
  assert.equal((await s.uploadStatus('app', young)).offset, 0);
  assert.deepEqual((await s.getManifest('multi', 'idx')).body, index);
  assert.deepEqual((await collectGarbage(s.root)).removedBlobs, [], 'a second run finds nothing');
  await fsp.access(s.blobPath(kept.layer));
});
