import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tempImageStore, makeImage, type TestStore } from './testing.ts';
import { isSingleReference, isImageIdPrefix, repositoryOf, type DeleteOptions } from './delete.ts';
import type { ImageRecord } from './store.ts';

const short = (r: ImageRecord) => r.id.slice(7, 19);

// Container users by image ID, and the events logged.
function hooks(users: Record<string, { id: string; running: boolean }[]> = {}) {
  const events: string[] = [];
  const opts: DeleteOptions = {
    force: false, noprune: false, users: (id) => users[id] ?? [], layerInUse: () => false,
    onEvent: (action, id) => events.push(`${action} ${id.slice(7, 19)}`),
  };
  return { opts, events };
}

async function withStore(fn: (t: TestStore) => Promise<void>) {
  const t = await tempImageStore();
  try {
    await fn(t);
  } finally {
    t.cleanup();
  }
}

// base (tagged) <- parent <- child: the chain `docker commit` makes.
async function chain(t: TestStore, parentTag?: string) {
  const base = await makeImage(t.store, { files: { base: 'b'.repeat(100) }, tag: 'base' });
  const parent = await makeImage(t.store, { files: { p: 'p'.repeat(10) }, parent: base, tag: parentTag });
  const child = await makeImage(t.store, { files: { c: 'c' }, parent, tag: 'child' });
  return { base, parent, child };
}

test('reference helpers: single reference, ID prefix, repository', () => {
  assert.equal(isSingleReference([]), false);
  assert.equal(isSingleReference(['docker.io/library/a:1']), true);
  assert.equal(isSingleReference(['docker.io/library/a:1', 'docker.io/library/a:2']), false);
  assert.equal(isSingleReference(['docker.io/library/a:1', `docker.io/library/a@sha256:${'1'.repeat(64)}`]), true);
  assert.equal(isSingleReference(['docker.io/library/a:1', `docker.io/library/b@sha256:${'1'.repeat(64)}`]), false);
  assert.equal(isImageIdPrefix(`sha256:${'ab'.repeat(32)}`, 'abab'), true);
  assert.equal(isImageIdPrefix(`sha256:${'ab'.repeat(32)}`, 'sha256:abab'), true);
  assert.equal(isImageIdPrefix(`sha256:${'ab'.repeat(32)}`, 'busybox'), false);
  assert.equal(repositoryOf('localhost:5000/a/b:1'), 'localhost:5000/a/b');
  assert.equal(repositoryOf('localhost:5000/a/b'), 'localhost:5000/a/b');
  assert.equal(repositoryOf(`docker.io/library/a@sha256:${'1'.repeat(64)}`), 'docker.io/library/a');
});

test('an image with dependent children cannot be deleted, not even forced', () => withStore(async (t) => {
  const { parent } = await chain(t, 'parent');
  const { opts } = hooks();
  const msg = `conflict: unable to delete ${short(parent)} (cannot be forced) - image has dependent child images`;
  await assert.rejects(t.store.remove(parent.id, opts), (e: Error & { status?: number }) => e.message === msg && e.status === 409);
  await assert.rejects(t.store.remove(parent.id.slice(7, 19), { ...opts, force: true }), { message: msg });
  // By its tag it is only untagged: the child still needs it.
  assert.deepEqual(await t.store.remove('parent', opts), [{ Untagged: 'parent:latest' }]);
  assert.ok(t.store.get(parent.id));
  // Untagged, it still cannot go.
  await assert.rejects(t.store.remove(parent.id, opts), { message: msg });
}));

test('deleting a child deletes its untagged parent chain, up to a tagged image', () => withStore(async (t) => {
  const { base, parent, child } = await chain(t);
  const { opts, events } = hooks();
  const layersBefore = t.store.layers.all().length;
  assert.deepEqual(await t.store.remove('child', opts), [{ Untagged: 'child:latest' }, { Deleted: child.id }, { Deleted: parent.id }]);
  assert.deepEqual(events, [`untag ${short(child)}`, `delete ${short(child)}`, `delete ${short(parent)}`]);
  assert.equal(t.store.get(child.id), undefined);
  assert.equal(t.store.get(parent.id), undefined);
  assert.ok(t.store.get(base.id));
  assert.equal(t.store.layers.all().length, layersBefore - 2, 'the two layers of the deleted images go, the base layer stays');
}));

test('the parent stays when it is tagged, used by a container, has another child, or with noprune', () => withStore(async (t) => {
  {
    const { parent } = await chain(t, 'tagged-parent');
    await t.store.remove('child', hooks().opts);
    assert.ok(t.store.get(parent.id), 'tagged parent');
  }
  {
    const { parent, child } = await chain(t);
    const { opts } = hooks({ [parent.id]: [{ id: 'f'.repeat(64), running: false }] });
    assert.deepEqual(await t.store.remove('child', opts), [{ Untagged: 'child:latest' }, { Deleted: child.id }]);
    assert.ok(t.store.get(parent.id), 'parent used by a stopped container');
    assert.deepEqual(await t.store.remove(parent.id, { ...opts, force: true }), [{ Deleted: parent.id }]);
  }
  {
    const { parent, child } = await chain(t);
    const sibling = await makeImage(t.store, { files: { s: 's' }, parent, tag: 'sibling' });
    assert.deepEqual(await t.store.remove('child', hooks().opts), [{ Untagged: 'child:latest' }, { Deleted: child.id }]);
    assert.ok(t.store.get(parent.id), 'parent of another child');
    // The last child takes the parent with it.
    assert.deepEqual(await t.store.remove('sibling', hooks().opts), [{ Untagged: 'sibling:latest' }, { Deleted: sibling.id }, { Deleted: parent.id }]);
  }
  {
    const { parent, child } = await chain(t);
    assert.deepEqual(await t.store.remove('child', { ...hooks().opts, noprune: true }), [{ Untagged: 'child:latest' }, { Deleted: child.id }]);
    assert.ok(t.store.get(parent.id), 'noprune');
  }
}));

test('containers: by reference needs force; by ID stopped must be forced, running cannot', () => withStore(async (t) => {
  const img = await makeImage(t.store, { files: { a: 'a' }, tag: 'used' });
  const stopped = hooks({ [img.id]: [{ id: 'a'.repeat(64), running: false }] }).opts;
  await assert.rejects(t.store.remove('used', stopped), { message: `conflict: unable to remove repository reference "used" (must force) - container aaaaaaaaaaaa is using its referenced image ${short(img)}` });
  await assert.rejects(t.store.remove(img.id, stopped), { message: `conflict: unable to delete ${short(img)} (must be forced) - image is being used by stopped container aaaaaaaaaaaa` });
  const running = hooks({ [img.id]: [{ id: 'b'.repeat(64), running: true }] }).opts;
  await assert.rejects(t.store.remove(img.id, { ...running, force: true }), { message: `conflict: unable to delete ${short(img)} (cannot be forced) - image is being used by running container bbbbbbbbbbbb` });
  // Forced by reference with a running container: Docker only untags.
  assert.deepEqual(await t.store.remove('used', { ...running, force: true }), [{ Untagged: 'used:latest' }]);
  assert.ok(t.store.get(img.id));
  // Forced by ID with a stopped container: deleted.
  assert.deepEqual(await t.store.remove(img.id, { ...stopped, force: true }), [{ Deleted: img.id }]);
}));

test('several tags: by tag untags, by ID must be forced and then removes every tag', () => withStore(async (t) => {
  const img = await makeImage(t.store, { files: { a: 'a' }, tag: 'x:1' });
  await t.store.tag(img.id, 'x:2');
  await t.store.tag(img.id, 'localhost:5000/y');
  const { opts, events } = hooks();
  await assert.rejects(t.store.remove(img.id, opts), { message: `conflict: unable to delete ${short(img)} (must be forced) - image is referenced in multiple repositories` });
  assert.deepEqual(await t.store.remove(img.id, { ...opts, force: true }), [
    { Untagged: 'localhost:5000/y:latest' }, { Untagged: 'x:1' }, { Untagged: 'x:2' }, { Deleted: img.id },
  ]);
  assert.equal(events.length, 4);
}));

test('digests go with the last tag of their repository', () => withStore(async (t) => {
  const digest = `sha256:${'d'.repeat(64)}`;
  const img = await makeImage(t.store, { files: { a: 'a' }, tag: 'busybox:1', repoDigest: `docker.io/library/busybox@${digest}` });
  await t.store.tag(img.id, 'other:1');
  assert.deepEqual(await t.store.remove('busybox:1', hooks().opts), [{ Untagged: 'busybox:1' }, { Untagged: `busybox@${digest}` }]);
  assert.deepEqual(t.store.get(img.id)?.repoDigests, []);
  assert.deepEqual(await t.store.remove('other:1', hooks().opts), [{ Untagged: 'other:1' }, { Deleted: img.id }]);
}));

test('by ID with one tag and its digest: both go with the image', () => withStore(async (t) => {
  const digest = `sha256:${'e'.repeat(64)}`;
  const img = await makeImage(t.store, { files: { a: 'a' }, tag: 'busybox:1', repoDigest: `docker.io/library/busybox@${digest}` });
  assert.deepEqual(await t.store.remove(img.id.slice(7, 15), hooks().opts), [{ Untagged: 'busybox:1' }, { Untagged: `busybox@${digest}` }, { Deleted: img.id }]);
}));

test('layers shared with another image or a container stay', () => withStore(async (t) => {
  const base = await makeImage(t.store, { files: { base: 'b' }, tag: 'base' });
  const a = await makeImage(t.store, { files: { a: 'a' }, parent: base, unlinked: true, tag: 'a' });
  const baseLayer = t.store.topLayer(base)!;
  const aLayer = t.store.topLayer(a)!;
  const { opts } = hooks();
  assert.deepEqual(await t.store.remove('base', opts), [{ Untagged: 'base:latest' }, { Deleted: base.id }]);
  assert.ok(t.store.layers.get(baseLayer), 'needed by a');
  await t.store.remove('a', { ...opts, layerInUse: (c) => c === aLayer });
  assert.ok(t.store.layers.get(aLayer), 'needed by a container');
}));
