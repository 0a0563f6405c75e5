import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, linkSync, rmSync } from 'node:fs';
import path from 'node:path';
import { tempImageStore, makeImage } from './testing.ts';
import { directorySize, layersSize, imageUsage, topImages, containerLayerSize } from './disk-usage.ts';

test('directorySize: lstat sizes of non-directories, hard links once, symlinks not followed', async () => {
  const dir = mkdtempSync('/tmp/bt-du-');
  try {
    mkdirSync(path.join(dir, 'a/b'), { recursive: true });
    writeFileSync(path.join(dir, 'a/b/f'), 'x'.repeat(1000));
    writeFileSync(path.join(dir, 'g'), 'y'.repeat(24));
    writeFileSync(path.join(dir, 'empty'), '');
    linkSync(path.join(dir, 'g'), path.join(dir, 'g-hard'));
    symlinkSync('/usr/bin/env-is-not-followed', path.join(dir, 'link')); // 28 bytes of target
    assert.equal(await directorySize(dir), 1000 + 24 + 28);
    assert.equal(await directorySize(path.join(dir, 'g')), 24);
    await assert.rejects(directorySize(path.join(dir, 'missing')), { code: 'ENOENT' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('image usage: top images, shared sizes, container counts, layers size', async () => {
  const t = await tempImageStore();
  try {
    const s = t.store;
    const base = await makeImage(s, { files: { base: 'b'.repeat(100) }, tag: 'base', created: '2024-01-01T00:00:00Z' });
    const mid = await makeImage(s, { files: { mid: 'm'.repeat(20) }, parent: base, created: '2024-01-02T00:00:00Z' });
    const app = await makeImage(s, { files: { app: 'a'.repeat(3) }, parent: mid, tag: 'app', created: '2024-01-03T00:00:00Z' });
    const other = await makeImage(s, { files: { o: 'o'.repeat(5) }, created: '2024-01-04T00:00:00Z' });
    // mid is an untagged intermediate: not listed, and its layers count through app.
    assert.deepEqual(topImages(s).map((r) => r.id).sort(), [base.id, app.id, other.id].sort());
    assert.equal(layersSize(s), 100 + 20 + 3 + 5);
    const usage = imageUsage(s, [app.id, app.id, base.id]);
    assert.deepEqual(usage.map((u) => [u.image.id, u.containers, u.sharedSize]), [
      [other.id, 0, 0],
      [app.id, 2, 120], // the base and mid layers are shared (with base and mid)
      [base.id, 1, 100],
    ]);
    assert.equal(mid.size, 120);
    assert.equal(app.size, 123);
  } finally {
    t.cleanup();
  }
});

test('container layer size: SizeRw from the upper dir, SizeRootFs with the image layers', async () => {
  const t = await tempImageStore();
  const upper = mkdtempSync('/tmp/bt-upper-');
  try {
    const img = await makeImage(t.store, { files: { a: 'a'.repeat(40) } });
    writeFileSync(path.join(upper, 'new'), 'n'.repeat(7));
    assert.deepEqual(await containerLayerSize(t.store.layers, upper, t.store.topLayer(img)), { sizeRw: 7, sizeRootFs: 47 });
    assert.deepEqual(await containerLayerSize(t.store.layers, path.join(upper, 'gone'), t.store.topLayer(img)), { sizeRw: -1, sizeRootFs: 40 });
    assert.deepEqual(await containerLayerSize(t.store.layers, upper, undefined), { sizeRw: 7, sizeRootFs: 0 });
  } finally {
    t.cleanup();
    rmSync(upper, { recursive: true, force: true });
  }
});
