import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tempImageStore, makeImage, type TestStore } from './testing.ts';
import { filterBool, untilFilter, imagePruneOptions, matchKVList, matchPruneLabels, pruneImages } from './prune.ts';

const noUsers = { users: () => [], layerInUse: () => false };

async function withStore(fn: (t: TestStore) => Promise<void>) {
  const t = await tempImageStore();
  try {
    await fn(t);
  } finally {
    t.cleanup();
  }
}

const f = (o: Record<string, string[]>) => new Map(Object.entries(o));

test('filters: dangling as Docker reads booleans, one until, labels', () => {
  assert.equal(filterBool(f({}), 'dangling', true), true);
  assert.equal(filterBool(f({ dangling: ['false'] }), 'dangling', true), false);
  assert.equal(filterBool(f({ dangling: ['0'] }), 'dangling', true), false);
  assert.equal(filterBool(f({ dangling: ['1'] }), 'dangling', false), true);
  assert.throws(() => filterBool(f({ dangling: ['maybe'] }), 'dangling', true), { message: "invalid filter 'dangling=maybe'" });
  assert.throws(() => filterBool(f({ dangling: ['true', 'false'] }), 'dangling', true), { message: "invalid filter 'dangling=true,false'" });
  const now = new Date('2024-05-06T07:08:09Z');
  assert.deepEqual(untilFilter(f({ until: ['1h'] }), now), { seconds: Date.parse('2024-05-06T06:08:09Z') / 1000, nanos: 0 });
  assert.deepEqual(untilFilter(f({ until: ['2024-01-02T03:04:05Z'] }), now), { seconds: Date.parse('2024-01-02T03:04:05Z') / 1000, nanos: 0 });
  assert.deepEqual(untilFilter(f({ until: ['1700000000.5'] }), now), { seconds: 1700000000, nanos: 500000000 });
  assert.throws(() => untilFilter(f({ until: ['1h', '2h'] }), now), { message: 'more than one until filter specified' });
  assert.throws(() => untilFilter(f({ until: ['soon'] }), now), { message: 'failed to parse value as time or duration: "soon"' });
  assert.equal(matchKVList(undefined, {}), true);
  assert.equal(matchKVList(['a'], null), false);
  assert.equal(matchKVList(['a', 'b=2'], { a: 'x', b: '2' }), true);
  assert.equal(matchKVList(['b=3'], { b: '2' }), false);
  assert.equal(matchKVList(['constructor'], { a: '1' }), false);
  // label! keeps an image that matches every label! value.
  assert.equal(matchPruneLabels({ danglingOnly: true, notLabels: ['keep'] }, { keep: '1' }), false);
  assert.equal(matchPruneLabels({ danglingOnly: true, notLabels: ['keep'] }, {}), true);
  assert.equal(matchPruneLabels({ danglingOnly: true, labels: ['a=1'], notLabels: ['b'] }, { a: '1' }), true);
});

test('dangling only: untagged leaves and their untagged parents go; tagged images and used ones stay', () => withStore(async (t) => {
  const base = await makeImage(t.store, { files: { base: 'x'.repeat(1000) }, tag: 'base' });
  const mid = await makeImage(t.store, { files: { mid: 'm'.repeat(200) }, parent: base });
  const leaf = await makeImage(t.store, { files: { leaf: 'l'.repeat(30) }, parent: mid });
  const tagged = await makeImage(t.store, { files: { t: 't' }, parent: base, tag: 'tagged' });
  const used = await makeImage(t.store, { files: { u: 'u'.repeat(7) }, parent: base });
  const events: string[] = [];
  const users = (id: string) => (id === used.id ? [{ id: 'c'.repeat(64), running: false }] : []);
  const report = await pruneImages(t.store, imagePruneOptions(f({})), { users, layerInUse: () => false, onEvent: (a, id) => events.push(`${a} ${id}`) });
  assert.deepEqual(report, { ImagesDeleted: [{ Deleted: leaf.id }, { Deleted: mid.id }], SpaceReclaimed: 230 });
  assert.deepEqual(events, [`delete ${leaf.id}`, `delete ${mid.id}`]);
  for (const r of [base, tagged, used]) assert.ok(t.store.get(r.id));
  // Nothing left to prune: ImagesDeleted is null, as Docker's empty slice encodes.
  assert.deepEqual(await pruneImages(t.store, imagePruneOptions(f({})), { users, layerInUse: () => false }), { ImagesDeleted: null, SpaceReclaimed: 0 });
}));

test('an untagged intermediate stays while a tagged child needs it', () => withStore(async (t) => {
  const mid = await makeImage(t.store, { files: { mid: 'm' } });
  const child = await makeImage(t.store, { files: { c: 'c' }, parent: mid, tag: 'child' });
  assert.deepEqual(await pruneImages(t.store, imagePruneOptions(f({})), noUsers), { ImagesDeleted: null, SpaceReclaimed: 0 });
  // -a: the child goes and takes the intermediate with it.
  const all = await pruneImages(t.store, imagePruneOptions(f({ dangling: ['false'] })), noUsers);
  assert.deepEqual(all.ImagesDeleted, [{ Untagged: 'child:latest' }, { Deleted: child.id }, { Deleted: mid.id }]);
  assert.equal(t.store.all().length, 0);
}));

test('-a: every image without a container; parents of kept images stay (untagged, as Docker leaves them)', () => withStore(async (t) => {
  const base = await makeImage(t.store, { files: { base: 'b' }, tag: 'base' });
  const used = await makeImage(t.store, { files: { u: 'u' }, parent: base, tag: 'used' });
  const free = await makeImage(t.store, { files: { f: 'f' }, tag: 'free:1' });
  await t.store.tag(free.id, 'free:2');
  const dangling = await makeImage(t.store, { files: { d: 'd' } });
  const report = await pruneImages(t.store, imagePruneOptions(f({ dangling: ['false'] })), {
    users: (id) => (id === used.id ? [{ id: 'c'.repeat(64), running: true }] : []), layerInUse: () => false,
  });
  // Docker's ImageDelete untags base (no container uses it directly) and then keeps it for its child.
  assert.deepEqual(new Set(report.ImagesDeleted), new Set([{ Untagged: 'base:latest' }, { Untagged: 'free:1' }, { Untagged: 'free:2' }, { Deleted: free.id }, { Deleted: dangling.id }]));
  assert.deepEqual(t.store.all().map((r) => r.id).sort(), [base.id, used.id].sort());
  assert.deepEqual(t.store.tagsOf(used.id), ['docker.io/library/used:latest']);
  assert.equal(report.SpaceReclaimed, 2);
}));

test('until and label filters', () => withStore(async (t) => {
  const old = await makeImage(t.store, { files: { o: 'o' }, created: '2020-01-01T00:00:00.5Z' });
  const recent = await makeImage(t.store, { files: { r: 'r' }, created: '2024-01-01T00:00:00Z' });
  const labelled = await makeImage(t.store, { files: { l: 'l' }, created: '2019-01-01T00:00:00Z', labels: { keep: 'yes' } });
  const now = new Date('2024-06-01T00:00:00Z');
  // At the exact creation time an image is pruned; a nanosecond before it is not.
  const keep = { 'label!': ['keep=yes'] };
  let report = await pruneImages(t.store, imagePruneOptions(f({ until: ['1577836800.499999999'], ...keep }), now), noUsers);
  assert.deepEqual(report.ImagesDeleted, null);
  report = await pruneImages(t.store, imagePruneOptions(f({ until: ['1577836800.5'], ...keep }), now), noUsers);
  assert.deepEqual(report.ImagesDeleted, [{ Deleted: old.id }]);
  assert.ok(t.store.get(labelled.id) && t.store.get(recent.id));
  report = await pruneImages(t.store, imagePruneOptions(f({ label: ['keep'] }), now), noUsers);
  assert.deepEqual(report.ImagesDeleted, [{ Deleted: labelled.id }]);
  report = await pruneImages(t.store, imagePruneOptions(f({ until: ['1h'] }), now), noUsers);
  assert.deepEqual(report.ImagesDeleted, [{ Deleted: recent.id }]);
}));
