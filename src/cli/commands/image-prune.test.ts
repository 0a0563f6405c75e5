import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pruneFilters, pruneOutput } from './image-prune.ts';

test('prune filters: dangling from -a, config pruneFilters added unless the command line says the opposite', () => {
  assert.equal(pruneFilters([], false), '{"dangling":{"true":true}}');
  assert.equal(pruneFilters(['until=24h', 'label=a=b'], true), '{"dangling":{"false":true},"label":{"a=b":true},"until":{"24h":true}}');
  assert.equal(pruneFilters(['label!=keep'], false, ['label=keep', 'label=x', 'until=1h', 'bogus']),
    '{"dangling":{"true":true},"label":{"x":true},"label!":{"keep":true},"until":{"1h":true}}');
});

test('report: untagged and deleted lines, a blank line, then the space reclaimed', () => {
  assert.equal(pruneOutput({ ImagesDeleted: null, SpaceReclaimed: 0 }), 'Total reclaimed space: 0B\n');
  assert.equal(pruneOutput({ ImagesDeleted: [{ Untagged: 'busybox:old' }, { Deleted: 'sha256:abc' }], SpaceReclaimed: 4_400_000 }),
    'Deleted Images:\nuntagged: busybox:old\ndeleted: sha256:abc\n\nTotal reclaimed space: 4.4MB\n');
});
