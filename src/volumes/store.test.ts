import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkVolumeName, matchLabels } from './store.ts';

test('volume names follow Docker\'s local driver pattern', () => {
  for (const ok of ['ab', 'my-vol', 'a.b_c-1', '0x']) checkVolumeName(ok);
  for (const bad of ['x/y', '-lead', '.hidden', '/abs/path', 'sp ace', '']) {
    assert.throws(() => checkVolumeName(bad), /includes invalid characters for a local volume name/, bad);
  }
});

test('label filters: key, key=value, and negation', () => {
  const l = { a: '1', b: '' };
  assert.ok(matchLabels(l, []));
  assert.ok(matchLabels(l, ['a']));
  assert.ok(matchLabels(l, ['a=1', 'b']));
  assert.ok(!matchLabels(l, ['a=2']));
  assert.ok(!matchLabels(l, ['c']));
  assert.ok(matchLabels(l, ['!c']));
  assert.ok(!matchLabels(l, ['!a=1']));
});
