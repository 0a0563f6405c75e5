import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRange, parseContentRange, loggedPath } from './server.ts';

test('parseRange: single byte ranges of a blob GET', () => {
  assert.equal(parseRange(undefined, 10), undefined);
  assert.deepEqual(parseRange('bytes=0-4', 10), { start: 0, end: 4 });
  assert.deepEqual(parseRange('bytes=5-', 10), { start: 5, end: 9 });
  assert.deepEqual(parseRange('bytes=5-100', 10), { start: 5, end: 9 });
  assert.deepEqual(parseRange('bytes=-3', 10), { start: 7, end: 9 });
  assert.deepEqual(parseRange('bytes=-30', 10), { start: 0, end: 9 });
  assert.deepEqual(parseRange('BYTES = 2 - 3', 10), { start: 2, end: 3 });
  // Unsatisfiable: 416.
  assert.equal(parseRange('bytes=10-', 10), null);
  assert.equal(parseRange('bytes=10-20', 10), null);
  assert.equal(parseRange('bytes=-0', 10), null);
  assert.equal(parseRange('bytes=0-', 0), null);
  // Ignored (the whole blob is served): malformed, backwards, several ranges, other units, absurd numbers.
  for (const h of ['bytes=4-2', 'bytes=-', 'bytes=0-1,3-4', 'items=0-1', 'bytes=a-b', '0-4', 'bytes=99999999999999999999-']) {
    assert.equal(parseRange(h, 10), undefined, h);
  }
});

test('parseContentRange: upload chunks', () => {
  assert.deepEqual(parseContentRange('0-99'), { start: 0, end: 99 });
  assert.deepEqual(parseContentRange('bytes 100-199/*'), { start: 100, end: 199 });
  assert.deepEqual(parseContentRange('bytes=5-5'), { start: 5, end: 5 });
  for (const h of ['', '5', '9-4', 'a-b', '-4', '0-', '1-2-3']) assert.equal(parseContentRange(h), undefined, h);
});

test('loggedPath keeps the spec parameters and masks other values', () => {
  assert.equal(loggedPath('/v2/a/blobs/uploads/'), '/v2/a/blobs/uploads/');
  assert.equal(loggedPath('/v2/a/blobs/uploads/x?digest=sha256%3Aab'), '/v2/a/blobs/uploads/x?digest=sha256%3Aab');
  assert.equal(loggedPath('/token?scope=repository%3Aa%3Apull&password=hunter2&_state=s3cret'), '/token?scope=repository%3Aa%3Apull&password=***&_state=***');
});
