import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseReference, fullName, familiarName, withDefaultTag } from './reference.ts';

test('normalises short names like Docker', () => {
  assert.equal(fullName(withDefaultTag(parseReference('busybox'))), 'docker.io/library/busybox:latest');
  assert.equal(fullName(parseReference('user/app:1.0')), 'docker.io/user/app:1.0');
  assert.equal(fullName(parseReference('localhost:5000/team/app:1.0')), 'localhost:5000/team/app:1.0');
  assert.equal(fullName(parseReference('localhost/app')), 'localhost/app');
  const d = 'sha256:' + 'a'.repeat(64);
  assert.deepEqual(parseReference(`busybox@${d}`), { domain: 'docker.io', path: 'library/busybox', tag: undefined, digest: d });
  assert.equal(familiarName('docker.io/library/busybox:latest'), 'busybox:latest');
  assert.equal(familiarName('docker.io/user/x:1'), 'user/x:1');
  assert.equal(familiarName('localhost:5000/x:1'), 'localhost:5000/x:1');
});

test('rejects bad references with Docker wording', () => {
  assert.throws(() => parseReference('Busybox'), /must be lowercase/);
  assert.throws(() => parseReference('a:b:c'), /invalid reference format/);
  assert.throws(() => parseReference(''), /invalid reference format/);
  assert.throws(() => parseReference('a'.repeat(64)), /cannot specify 64-byte hexadecimal strings/);
  assert.throws(() => parseReference('x/../y'), /invalid reference format/);
  assert.throws(() => parseReference('busybox:-bad'), /invalid reference format/);
});
