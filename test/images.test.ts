// Images through the real docker CLI: the offline bootstrap image, listing and filters, inspect, tag and rmi
// (with Docker's conflict rules), save/load between two daemons, OCI layout and import, and hostile archives.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import tarStream from 'tar-stream';
import { startDaemon, type TestDaemon } from './harness.ts';
import { api, bootstrap, docker, dockerOk } from './helpers.ts';
import { buildRootfsTar, rootfsEntries } from '../src/cli/commands/bootstrap.ts';

let d: TestDaemon;
let d2: TestDaemon;
let tmp: string;
let busyboxId: string;
let rootfs: Buffer; // a small busybox root filesystem tar (sh, echo, cat, ls)

before(async () => {
  [d, d2] = await Promise.all([startDaemon(), startDaemon()]);
  tmp = mkdtempSync('/tmp/bt-img-');
  busyboxId = await bootstrap(d);
  rootfs = await buildRootfsTar(rootfsEntries(readFileSync('/bin/busybox'), ['bin/sh', 'bin/echo', 'bin/cat', 'bin/ls', 'bin/true']));
});

after(async () => {
  await Promise.all([d?.stop(), d2?.stop()]);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const lines = (s: string) => s.split('\n').filter(Boolean);
const imageIdOf = (t: TestDaemon, ref: string) => dockerOk(t, ['image', 'inspect', '--format', '{{.Id}}', ref]);

interface Entry { name: string; type?: 'file' | 'directory' | 'symlink' | 'link'; linkname?: string; data?: Buffer | string; mode?: number }

/** A tar with exactly these entries (names written as given, hostile ones included). */
async function tarOf(entries: Entry[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve) => pack.on('end', () => resolve()));
  for (const e of entries) {
    const type = e.type ?? 'file';
    await new Promise<void>((resolve, reject) => {
      const header = { name: e.name, type, linkname: e.linkname, mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644), mtime: new Date(0) };
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      pack.entry(header, type === 'file' ? Buffer.from(e.data ?? '') : Buffer.alloc(0), cb);
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

function imageConfig(diffIds: string[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    architecture: 'amd64', os: 'linux', created: '2024-01-02T03:04:05Z', config: { Cmd: ['sh'], Env: ['PATH=/bin'] },
    rootfs: { type: 'layers', diff_ids: diffIds }, history: diffIds.map(() => ({ created: '2024-01-02T03:04:05Z', created_by: 'test' })), ...extra,
  });
}

/**
 * A docker-archive (`docker save` format): <hex>/layer.tar, <hex>.json config, manifest.json. `layers` are
 * uncompressed tars; `mangle` may rewrite the entries before packing.
 */
async function dockerArchive(layers: Buffer[], tags: string[], opts: { diffIds?: string[]; mangle?: (e: Entry[]) => Entry[] } = {}): Promise<{ tar: Buffer; id: string }> {
  const diffIds = opts.diffIds ?? layers.map((l) => sha256(l));
  const config = imageConfig(diffIds);
  const id = sha256(config);
  const entries: Entry[] = layers.map((l, i) => ({ name: `${sha256(l).slice(7)}-${i}/layer.tar`, data: l }));
  entries.push({ name: `${id.slice(7)}.json`, data: config });
  entries.push({ name: 'manifest.json', data: JSON.stringify([{ Config: `${id.slice(7)}.json`, RepoTags: tags, Layers: layers.map((l, i) => `${sha256(l).slice(7)}-${i}/layer.tar`) }]) });
  return { tar: await tarOf(opts.mangle ? opts.mangle(entries) : entries), id };
}

/** What the data root holds besides finished state: temp files of loads, ingests and unpacking. */
function leftovers(t: TestDaemon): string[] {
  const found: string[] = [];
  const tmpDir = path.join(t.dataRoot, 'tmp');
  if (existsSync(tmpDir)) found.push(...readdirSync(tmpDir).map((f) => `tmp/${f}`));
  const ingest = path.join(t.dataRoot, 'content', 'ingest');
  if (existsSync(ingest)) found.push(...readdirSync(ingest).map((f) => `content/ingest/${f}`));
  found.push(...readdirSync(path.join(t.dataRoot, 'layers')).filter((f) => f.startsWith('tmp-')).map((f) => `layers/${f}`));
  found.push(...readdirSync(path.join(t.dataRoot, 'images')).filter((f) => f.startsWith('.tmp-')).map((f) => `images/${f}`));
  return found;
}

/** Layer directories and blobs on disk, to see what an operation added or removed. */
function storeContents(t: TestDaemon): { layers: string[]; blobs: string[] } {
  return {
    layers: readdirSync(path.join(t.dataRoot, 'layers')).filter((f) => /^[0-9a-f]{64}$/.test(f)).sort(),
    blobs: readdirSync(path.join(t.dataRoot, 'content', 'blobs', 'sha256')).sort(),
  };
}

async function importImage(tag: string, tar: Buffer = rootfs, ...changes: string[]): Promise<string> {
  const file = path.join(tmp, `import-${Math.random().toString(36).slice(2)}.tar`);
  writeFileSync(file, tar);
  return dockerOk(d, ['import', ...changes.flatMap((c) => ['-c', c]), file, ...(tag ? [tag] : [])]);
}

test('bootstrap makes busybox:latest from the host busybox, reproducibly', async () => {
  const img = JSON.parse(await dockerOk(d, ['image', 'inspect', 'busybox']))[0];
  assert.equal(img.Id, busyboxId);
  assert.deepEqual(img.RepoTags, ['busybox:latest']);
  assert.equal(img.Os, 'linux');
  assert.equal(img.Architecture, 'amd64');
  assert.equal(img.RootFS.Type, 'layers');
  assert.equal(img.RootFS.Layers.length, 1);
  assert.match(img.RootFS.Layers[0], /^sha256:[0-9a-f]{64}$/);
  assert.deepEqual(img.Config.Cmd, ['sh']);
  assert.ok(img.Config.Env.some((e: string) => e.startsWith('PATH=')));
  assert.ok(img.Size >= readFileSync('/bin/busybox').length, `size ${img.Size}`);
  assert.equal(img.GraphDriver.Name, 'overlay2');
  // The applets are all there and run the host's busybox.
  const applets = lines(await dockerOk(d, ['run', '--rm', 'busybox', 'ls', '/bin']));
  for (const a of ['sh', 'ls', 'cat', 'echo', 'ps', 'sleep', 'hostname']) assert.ok(applets.includes(a), `applet ${a}`);
  assert.match(await dockerOk(d, ['run', '--rm', 'busybox', 'busybox']), /BusyBox v/);
  // The same host binary gives the same layer (DiffID), in another daemon too.
  const otherId = await bootstrap(d2);
  assert.equal(await dockerOk(d2, ['image', 'inspect', '--format', '{{json .RootFS.Layers}}', otherId]), JSON.stringify(img.RootFS.Layers));
  await dockerOk(d2, ['rmi', otherId]);
});

test('images: -a, -q, --filter reference= and dangling=, --format', async () => {
  await dockerOk(d, ['tag', 'busybox', 'img-ref:a']);
  await dockerOk(d, ['tag', 'busybox', 'img-ref:b']);
  const dangling = await importImage('');
  try {
    const q = lines(await dockerOk(d, ['images', '-q']));
    // One line per tag; an untagged image once.
    assert.deepEqual(q.sort(), [busyboxId, busyboxId, busyboxId, dangling].map((i) => i.slice(7, 19)).sort());
    assert.deepEqual(lines(await dockerOk(d, ['images', '-aq', '--no-trunc'])).sort(), [busyboxId, busyboxId, busyboxId, dangling].sort());
    assert.deepEqual(lines(await dockerOk(d, ['images', '-q', '--filter', 'dangling=true', '--no-trunc'])), [dangling]);
    assert.deepEqual(lines(await dockerOk(d, ['images', '--filter', 'dangling=false', '--format', '{{.Repository}}:{{.Tag}}'])).sort(),
      ['busybox:latest', 'img-ref:a', 'img-ref:b']);
    assert.deepEqual(lines(await dockerOk(d, ['images', '--filter', 'dangling=true', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}'])),
      [`<none>:<none> ${dangling.slice(7, 19)}`]);
    // A reference filter shows only the matching tags of an image, not all of them.
    const ref = (pattern: string) => dockerOk(d, ['images', '--filter', `reference=${pattern}`, '--format', '{{.Repository}}:{{.Tag}}']).then((s) => lines(s).sort());
    assert.deepEqual(await ref('img-ref'), ['img-ref:a', 'img-ref:b']);
    assert.deepEqual(await ref('img-ref:a'), ['img-ref:a']);
    assert.deepEqual(await ref('img-*'), ['img-ref:a', 'img-ref:b']);
    assert.deepEqual(await ref('*:b'), ['img-ref:b']);
    assert.deepEqual(await ref('busybox'), ['busybox:latest']);
    assert.deepEqual(await ref('nothing-like-this'), []);
    assert.deepEqual(lines(await dockerOk(d, ['images', 'img-ref', '--format', '{{.Tag}}'])).sort(), ['a', 'b']);
    const json = JSON.parse(lines(await dockerOk(d, ['images', '--filter', 'reference=img-ref:a', '--format', '{{json .}}']))[0]);
    assert.equal(json.Repository, 'img-ref');
    assert.equal(json.Tag, 'a');
    assert.equal(json.ID, busyboxId.slice(7, 19));
    const bad = await docker(d, ['images', '--filter', 'bogus=1']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /invalid filter 'bogus'/);
  } finally {
    await docker(d, ['rmi', 'img-ref:a', 'img-ref:b', dangling]);
  }
});

test('image inspect shape and --format', async () => {
  const id = await importImage('img-insp:1', rootfs, 'CMD ["echo", "x"]', 'ENV A=1', 'WORKDIR /w', 'LABEL k=v');
  const img = JSON.parse(await dockerOk(d, ['image', 'inspect', 'img-insp:1']))[0];
  assert.equal(img.Id, id);
  assert.deepEqual(img.RepoTags, ['img-insp:1']);
  assert.deepEqual(img.RepoDigests, []);
  assert.deepEqual(img.RootFS, { Type: 'layers', Layers: [sha256(rootfs)] });
  assert.deepEqual(img.Config.Cmd, ['echo', 'x']);
  assert.deepEqual(img.Config.Env, ['A=1']);
  assert.equal(img.Config.WorkingDir, '/w');
  assert.deepEqual(img.Config.Labels, { k: 'v' });
  assert.match(img.Created, /^\d{4}-\d\d-\d\dT/);
  assert.equal(typeof img.Size, 'number');
  assert.equal(await dockerOk(d, ['image', 'inspect', '--format', '{{json .Config.Cmd}} {{index .RootFS.Layers 0}}', id]), `["echo","x"] ${sha256(rootfs)}`);
  // The config blob is the image ID.
  assert.equal(sha256(readFileSync(path.join(d.dataRoot, 'content', 'blobs', 'sha256', id.slice(7)))), id);
  const missing = await docker(d, ['image', 'inspect', 'img-insp:2']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /No such image: img-insp:2/);
  await dockerOk(d, ['rmi', id]);
});

test('tag, and rmi by tag, ID, short ID and sha256: ID; rmi removes layers and blobs', async () => {
  const store0 = storeContents(d);
  await dockerOk(d, ['tag', 'busybox', 'rmi-t:1']);
  await dockerOk(d, ['tag', busyboxId.slice(7, 15), 'localhost:5000/team/rmi-t']);
  assert.equal(await imageIdOf(d, 'rmi-t:1'), busyboxId);
  assert.equal(await imageIdOf(d, 'localhost:5000/team/rmi-t:latest'), busyboxId);
  assert.equal(await dockerOk(d, ['rmi', 'rmi-t:1']), 'Untagged: rmi-t:1');
  assert.equal(await dockerOk(d, ['rmi', 'localhost:5000/team/rmi-t']), 'Untagged: localhost:5000/team/rmi-t:latest');
  assert.equal(await imageIdOf(d, 'busybox'), busyboxId);

  // Images with their own layer, removed by each kind of ID: the layer and its blobs go with the last user.
  const tars = await Promise.all([1, 2, 3].map((n) => tarOf([{ name: `only-${n}`, data: `layer ${n}` }])));
  const ids = [];
  for (const [i, t] of tars.entries()) ids.push(await importImage(`rmi-x:${i}`, t));
  const store1 = storeContents(d);
  assert.equal(store1.layers.length, store0.layers.length + 3);
  assert.equal(await dockerOk(d, ['rmi', ids[0].slice(7, 19)]), `Untagged: rmi-x:0\nDeleted: ${ids[0]}`);
  assert.equal(await dockerOk(d, ['rmi', ids[1]]), `Untagged: rmi-x:1\nDeleted: ${ids[1]}`);
  assert.equal(await dockerOk(d, ['rmi', ids[2].slice(7)]), `Untagged: rmi-x:2\nDeleted: ${ids[2]}`);
  for (const id of ids) assert.equal((await docker(d, ['image', 'inspect', id])).code, 1);
  assert.deepEqual(storeContents(d), store0);

  // Errors, in Docker's words.
  const noImage = await docker(d, ['rmi', 'rmi-nosuch']);
  assert.equal(noImage.code, 1);
  assert.match(noImage.stderr, /No such image: rmi-nosuch:latest/);
  const noDigest = await docker(d, ['rmi', `busybox@sha256:${'0'.repeat(64)}`]);
  assert.equal(noDigest.code, 1);
  assert.match(noDigest.stderr, /No such image/);
  const tagMissing = await docker(d, ['tag', 'rmi-nosuch', 'x']);
  assert.equal(tagMissing.code, 1);
  assert.match(tagMissing.stderr, /No such image: rmi-nosuch:latest/);
  const badRef = await docker(d, ['tag', 'busybox', 'Bad/Name']);
  assert.notEqual(badRef.code, 0);
  assert.match(badRef.stderr, /invalid reference format/);
  // Two tags: removing the image by ID needs -f.
  await dockerOk(d, ['tag', 'busybox', 'rmi-t:2']);
  const twoRefs = await docker(d, ['rmi', busyboxId.slice(7, 19)]);
  assert.equal(twoRefs.code, 1);
  assert.match(twoRefs.stderr, new RegExp(`conflict: unable to delete ${busyboxId.slice(7, 19)} \\(must be forced\\) - image is referenced in multiple repositories`));
  await dockerOk(d, ['rmi', 'rmi-t:2']);
});

test('rmi is refused while a container uses the image; -f semantics', async () => {
  const shImage = await importImage('rmi-use:sh', rootfs);
  const stopped = await dockerOk(d, ['create', 'rmi-use:sh', 'echo', 'still runs']);
  const short = (x: string) => x.replace('sha256:', '').slice(0, 12);
  try {
    const byTag = await docker(d, ['rmi', 'rmi-use:sh']);
    assert.equal(byTag.code, 1);
    assert.match(byTag.stderr, new RegExp(`conflict: unable to remove repository reference "rmi-use:sh" \\(must force\\) - container ${short(stopped)} is using its referenced image ${short(shImage)}`));
    const byId = await api(d.socket, 'DELETE', `/images/${shImage}`);
    assert.equal(byId.status, 409);
    assert.equal(byId.json.message, `conflict: unable to delete ${short(shImage)} (must be forced) - image is being used by stopped container ${short(stopped)}`);

    const running = await dockerOk(d, ['run', '-d', 'rmi-use:sh', 'sh', '-c', 'while true; do sleep 1; done']);
    const forced = await api(d.socket, 'DELETE', `/images/${shImage}?force=1`);
    assert.equal(forced.status, 409);
    assert.equal(forced.json.message, `conflict: unable to delete ${short(shImage)} (cannot be forced) - image is being used by running container ${short(running)}`);
    await dockerOk(d, ['rm', '-f', running]);

    // With only the stopped container left, -f deletes the image; the container keeps its layers and runs.
    assert.equal(await dockerOk(d, ['rmi', '-f', 'rmi-use:sh']), `Untagged: rmi-use:sh\nDeleted: ${shImage}`);
    assert.equal((await docker(d, ['image', 'inspect', shImage])).code, 1);
    const out = await docker(d, ['start', '-a', stopped]);
    assert.deepEqual([out.code, out.stdout], [0, 'still runs\n']);
    // Once the container is gone too, so is the layer only it kept.
    const layerDir = path.join(d.dataRoot, 'layers', sha256(rootfs).slice(7));
    assert.ok(existsSync(layerDir));
    await dockerOk(d, ['rm', stopped]);
    assert.equal(existsSync(layerDir), false, 'the image layer went with its last container');
  } finally {
    await docker(d, ['rm', '-f', stopped]);
    await docker(d, ['rmi', '-f', shImage]);
  }
});

test('save one or several images, load them into a second berthd: same IDs and tags', async () => {
  const other = await importImage('img-save:1', rootfs, 'CMD ["echo", "from saved"]');
  await dockerOk(d, ['tag', 'img-save:1', 'img-save:2']);
  const untagged = await importImage('', await tarOf([{ name: 'just-a-file', data: 'x' }]));
  const single = path.join(tmp, 'single.tar');
  const multi = path.join(tmp, 'multi.tar');
  try {
    await dockerOk(d, ['save', '-o', single, 'busybox']);
    await dockerOk(d, ['save', '-o', multi, 'busybox', 'img-save', untagged]);
    const loaded1 = await dockerOk(d2, ['load', '-i', single]);
    assert.equal(loaded1, 'Loaded image: busybox:latest');
    assert.equal(await imageIdOf(d2, 'busybox'), busyboxId);
    const loaded = lines(await dockerOk(d2, ['load', '-i', multi])).sort();
    assert.deepEqual(loaded, ['Loaded image ID: ' + untagged, 'Loaded image: busybox:latest', 'Loaded image: img-save:1', 'Loaded image: img-save:2']);
    const tagsIn = async (t: TestDaemon) => lines(await dockerOk(t, ['images', '-a', '--no-trunc', '--format', '{{.ID}} {{.Repository}}:{{.Tag}}'])).sort();
    const wanted = [`${busyboxId} busybox:latest`, `${other} img-save:1`, `${other} img-save:2`, `${untagged} <none>:<none>`].sort();
    assert.deepEqual(await tagsIn(d2), wanted);
    // Same configs: the image inspects match apart from the tag time.
    const strip = (s: string) => { const x = JSON.parse(s)[0]; delete x.Metadata; delete x.GraphDriver; return x; };
    assert.deepEqual(strip(await dockerOk(d2, ['image', 'inspect', 'img-save:1'])), strip(await dockerOk(d, ['image', 'inspect', 'img-save:1'])));
    assert.equal(await dockerOk(d2, ['run', '--rm', 'img-save:2']), 'from saved');
    // From stdin as well, again (already present: same result).
    const again = await docker(d2, ['load'], { input: readFileSync(single) });
    assert.deepEqual([again.code, again.stdout.trim()], [0, 'Loaded image: busybox:latest']);
    // The archive is a docker-archive and an OCI layout at once.
    const names = await tarNames(readFileSync(multi));
    for (const n of ['manifest.json', 'index.json', 'oci-layout', `blobs/sha256/${other.slice(7)}`]) assert.ok(names.includes(n), n);
  } finally {
    await docker(d, ['rmi', 'img-save:1', 'img-save:2', untagged]);
    await docker(d2, ['rmi', '-f', 'img-save:1', 'img-save:2', untagged, 'busybox']);
  }
});

async function tarNames(tar: Buffer): Promise<string[]> {
  const names: string[] = [];
  const extract = tarStream.extract();
  extract.on('entry', (h, stream, next) => { names.push(h.name); stream.on('end', next); stream.resume(); });
  const done = new Promise<void>((resolve, reject) => { extract.on('finish', () => resolve()); extract.on('error', reject); });
  extract.end(tar);
  await done;
  return names;
}

test('load of an OCI image layout (gzip layer, named and unnamed manifests)', async () => {
  const gz = zlib.gzipSync(rootfs);
  const blobs = new Map<string, Buffer>();
  const put = (b: Buffer | string) => { const buf = Buffer.from(b); const dg = sha256(buf); blobs.set(dg, buf); return { digest: dg, size: buf.length }; };
  const layer = put(gz);
  const mkImage = (cmd: string[]) => {
    const config = put(imageConfig([sha256(rootfs)], { config: { Cmd: cmd, Env: ['PATH=/bin'] } }));
    const manifest = put(JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
    }));
    return { config: config.digest, manifest };
  };
  const named = mkImage(['echo', 'oci named']);
  const unnamed = mkImage(['echo', 'oci unnamed']);
  const index = {
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', ...named.manifest, annotations: { 'io.containerd.image.name': 'docker.io/library/oci-test:1', 'org.opencontainers.image.ref.name': '1' } },
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', ...unnamed.manifest },
    ],
  };
  const tar = await tarOf([
    { name: 'oci-layout', data: '{"imageLayoutVersion":"1.0.0"}' },
    { name: 'index.json', data: JSON.stringify(index) },
    { name: 'blobs/', type: 'directory' }, { name: 'blobs/sha256/', type: 'directory' },
    ...[...blobs].map(([dg, b]) => ({ name: `blobs/sha256/${dg.slice(7)}`, data: b })),
  ]);
  const r = await docker(d, ['load'], { input: tar });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(lines(r.stdout).sort(), ['Loaded image ID: ' + unnamed.config, 'Loaded image: oci-test:1']);
  assert.equal(await imageIdOf(d, 'oci-test:1'), named.config);
  assert.deepEqual(JSON.parse(await dockerOk(d, ['image', 'inspect', '--format', '{{json .RootFS.Layers}}', unnamed.config])), [sha256(rootfs)]);
  assert.equal(await dockerOk(d, ['run', '--rm', 'oci-test:1']), 'oci named');
  assert.equal(await dockerOk(d, ['run', '--rm', unnamed.config]), 'oci unnamed');
  // A digest that does not match its blob is refused.
  const tampered = await tarOf([
    { name: 'oci-layout', data: '{"imageLayoutVersion":"1.0.0"}' },
    { name: 'index.json', data: JSON.stringify({ ...index, manifests: [{ ...index.manifests[0], digest: sha256('not the manifest') }] }) },
    ...[...blobs].map(([, b]) => ({ name: `blobs/sha256/${sha256('not the manifest').slice(7)}`, data: b })).slice(0, 1),
  ]);
  const bad = await docker(d, ['load'], { input: tampered });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /digest mismatch/);
  await dockerOk(d, ['rmi', 'oci-test:1', unnamed.config]);
});

test('import from a file and from stdin, with --change and -m', async () => {
  const file = path.join(tmp, 'imp.tar');
  writeFileSync(file, rootfs);
  const id = await dockerOk(d, ['import', '--change', 'CMD ["echo","x"]', '-m', 'imported by the test', file, 'img-imp:1']);
  assert.match(id, /^sha256:[0-9a-f]{64}$/);
  assert.equal(await dockerOk(d, ['run', '--rm', 'img-imp:1']), 'x');
  assert.equal(await dockerOk(d, ['image', 'inspect', '--format', '{{.Comment}}|{{json .Config.Cmd}}|{{json .RootFS.Layers}}', id]),
    `imported by the test|["echo","x"]|["${sha256(rootfs)}"]`);
  assert.equal(lines(await dockerOk(d, ['history', '--format', '{{.Comment}}', 'img-imp:1']))[0], 'imported by the test');
  // stdin, gzip-compressed, several changes.
  const fromStdin = await docker(d, ['import', '-c', 'ENV GREETING=hi', '-c', 'CMD ["sh","-c","echo $GREETING"]', '-', 'img-imp:2'], { input: zlib.gzipSync(rootfs) });
  assert.equal(fromStdin.code, 0, fromStdin.stderr);
  assert.equal(await dockerOk(d, ['run', '--rm', 'img-imp:2']), 'hi');
  // Same layer both times: stored once.
  assert.equal(await dockerOk(d, ['image', 'inspect', '--format', '{{index .RootFS.Layers 0}}', 'img-imp:2']), sha256(rootfs));
  const badChange = await docker(d, ['import', '-c', 'FROM busybox', file]);
  assert.equal(badChange.code, 1);
  assert.match(badChange.stderr, /FROM/);
  const notTar = await docker(d, ['import', '-'], { input: 'this is not a tar archive, not at all, not even close' });
  assert.equal(notTar.code, 1);
  await dockerOk(d, ['rmi', 'img-imp:1', 'img-imp:2']);
  assert.deepEqual(leftovers(d), []);
});

test('hostile archives fail cleanly and touch nothing outside the data root', async () => {
  const canary = mkdtempSync('/tmp/bt-canary-');
  writeFileSync(path.join(canary, 'keep'), 'canary');
  const canaryRel = `../../../../../../../../..${canary}`;
  // A valid layer kept on the host: an archive that reads it through a link would load.
  const hostLayer = path.join(canary, 'layer.tar');
  writeFileSync(hostLayer, rootfs);
  const hostLayerHex = sha256(rootfs).slice(7);
  const imagesBefore = await dockerOk(d, ['images', '-aq', '--no-trunc']);
  const storeBefore = storeContents(d);

  // status: what POST /images/load?quiet=1 answers (nothing was streamed yet, so the error is the status).
  const cases: { what: string; tar: () => Promise<Buffer>; message: RegExp; status: number }[] = [
    {
      what: '../ entries in the archive',
      tar: async () => (await dockerArchive([rootfs], ['hostile:dotdot'], { mangle: (es) => [{ name: `${canaryRel}/evil`, data: 'pwned' }, ...es] })).tar,
      message: /escapes the archive|outside/,
      status: 400,
    },
    {
      what: 'the layer is a symlink to a host file (absolute)',
      tar: async () => (await dockerArchive([rootfs], ['hostile:abslink'], {
        mangle: (es) => es.map((e) => (e.name.endsWith('layer.tar') ? { name: e.name, type: 'symlink', linkname: hostLayer } : e)),
      })).tar,
      message: /missing/,
      status: 400,
    },
    {
      what: 'the layer is a symlink out of the archive (relative)',
      tar: async () => (await dockerArchive([rootfs], ['hostile:rellink'], {
        mangle: (es) => es.map((e) => (e.name.endsWith('layer.tar') ? { name: e.name, type: 'symlink', linkname: `../${canaryRel}/layer.tar` } : e)),
      })).tar,
      message: /missing/,
      status: 400,
    },
    {
      what: 'manifest.json is a symlink out of the archive',
      tar: async () => {
        writeFileSync(path.join(canary, 'manifest.json'), JSON.stringify([{ Config: `${hostLayerHex}.json`, RepoTags: ['hostile:manifest'], Layers: [] }]));
        return (await dockerArchive([rootfs], [], { mangle: (es) => [...es.filter((e) => e.name !== 'manifest.json'), { name: 'manifest.json', type: 'symlink', linkname: `${canaryRel}/manifest.json` }] })).tar;
      },
      message: /neither manifest\.json nor index\.json|missing/,
      status: 400,
    },
    {
      what: 'a layer entry ../../etc/x',
      tar: async () => (await dockerArchive([await tarOf([{ name: 'ok', data: 'x' }, { name: `../..${canary}/x`, data: 'pwned' }])], ['hostile:layerdotdot'])).tar,
      message: /outside the destination/,
      status: 400,
    },
    {
      what: 'a layer hard link to a path outside',
      tar: async () => (await dockerArchive([await tarOf([{ name: 'passwd', type: 'link', linkname: `../../../../../../../..${canary}/keep` }])], ['hostile:hardlink'])).tar,
      message: /outside the destination/,
      status: 400,
    },
    {
      what: 'a layer whose DiffID does not match the config',
      tar: async () => (await dockerArchive([rootfs], ['hostile:diffid'], { diffIds: [sha256('something else')] })).tar,
      message: /DiffID|digest mismatch/,
      status: 400,
    },
    {
      what: 'a truncated archive',
      tar: async () => (await dockerArchive([rootfs], ['hostile:truncated'])).tar.subarray(0, 3000),
      message: /./,
      status: 500,
    },
  ];
  try {
    for (const c of cases) {
      const tar = await c.tar();
      const r = await docker(d, ['load'], { input: tar });
      assert.equal(r.code, 1, `${c.what}: ${r.stdout}`);
      assert.match(r.stderr, c.message, c.what);
      assert.doesNotMatch(r.stderr, /EACCES|ENOENT|stack|at .*\.ts/, `${c.what}: a clean message`);
      // Straight through the API: an error status with Docker's {"message"} body.
      const res = await api(d.socket, 'POST', '/images/load?quiet=1', { body: tar, headers: { 'Content-Type': 'application/x-tar' } });
      assert.equal(res.status, c.status, `${c.what}: ${res.text}`);
      assert.deepEqual(Object.keys(res.json), ['message'], c.what);
      assert.match(res.json.message, c.message, c.what);
      assert.deepEqual(readdirSync(canary).sort(), ['keep', 'layer.tar', ...(existsSync(path.join(canary, 'manifest.json')) ? ['manifest.json'] : [])].sort(), c.what);
      assert.equal(readFileSync(path.join(canary, 'keep'), 'utf8'), 'canary', c.what);
      assert.deepEqual(leftovers(d), [], c.what);
      assert.equal(await dockerOk(d, ['images', '-aq', '--no-trunc']), imagesBefore, `${c.what}: no image`);
      assert.deepEqual(storeContents(d), storeBefore, `${c.what}: no layer or blob left behind`);
    }
    // Absolute names inside the archive are relative to it (as with Docker's chrooted extraction): it loads,
    // and the host path named is not written.
    const abs = await dockerArchive([rootfs], ['hostile:absnames'], { mangle: (es) => [...es.map((e) => ({ ...e, name: `/${e.name}` })), { name: `${canary}/abs`, data: 'pwned' }] });
    const absLoad = await docker(d, ['load'], { input: abs.tar });
    assert.equal(absLoad.code, 0, absLoad.stderr);
    assert.equal(await imageIdOf(d, 'hostile:absnames'), abs.id);
    assert.equal(existsSync(path.join(canary, 'abs')), false);
    // A symlink then a file through it: the write stays inside the layer (the link is resolved as inside the
    // container), whether the link is absolute or climbs with ../.
    const through = await dockerArchive([rootfs, await tarOf([
      { name: 'rel-escape', type: 'symlink', linkname: canaryRel }, { name: 'rel-escape/pwned-rel', data: 'pwned' },
      { name: 'abs-escape', type: 'symlink', linkname: canary }, { name: 'abs-escape/pwned-abs', data: 'pwned' },
    ])], ['hostile:through']);
    const throughLoad = await docker(d, ['load'], { input: through.tar });
    if (throughLoad.code === 0) {
      assert.equal(await dockerOk(d, ['run', '--rm', 'hostile:through', 'cat', `${canary}/pwned-rel`, `${canary}/pwned-abs`]), 'pwnedpwned');
      await dockerOk(d, ['rmi', 'hostile:through']);
    } else {
      assert.match(throughLoad.stderr, /symlink|outside/);
    }
    assert.deepEqual(readdirSync(canary).sort(), ['keep', 'layer.tar', 'manifest.json']);
    assert.deepEqual(leftovers(d), []);
    await dockerOk(d, ['rmi', 'hostile:absnames']);
    assert.deepEqual(storeContents(d), storeBefore);
  } finally {
    rmSync(canary, { recursive: true, force: true });
  }
});
