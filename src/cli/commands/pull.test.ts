import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRef, referenceString, resolveTag } from './pull.ts';
import { parsePlatform } from './push.ts';

function out() {
  const lines: string[] = [];
  return { lines, out: { write: (s: string) => lines.push(s) } as unknown as NodeJS.WritableStream };
}

test('default tag: added and announced unless -q, refused with -a when a tag or digest is given', () => {
  const o = out();
  const ref = resolveTag(o, parseRef('busybox'), false, false);
  assert.deepEqual(o.lines, ['Using default tag: latest\n']);
  assert.equal(referenceString(ref), 'docker.io/library/busybox:latest');
  const q = out();
  resolveTag(q, parseRef('busybox'), false, true);
  assert.deepEqual(q.lines, []);
  assert.equal(referenceString(resolveTag(q, parseRef('127.0.0.1:5000/app'), true, false)), '127.0.0.1:5000/app');
  assert.throws(() => resolveTag(q, parseRef('busybox:1'), true, false), { message: "tag can't be used with --all-tags/-a" });
  const digest = 'sha256:' + 'a'.repeat(64);
  assert.equal(referenceString(resolveTag(q, parseRef(`busybox@${digest}`), false, false)), `docker.io/library/busybox@${digest}`);
  assert.throws(() => parseRef('Busybox'), /invalid reference format/);
});

test('push --platform: os[/arch[/variant]] as the OCI platform', () => {
  assert.deepEqual(parsePlatform('linux/amd64'), { architecture: 'amd64', os: 'linux' });
  assert.deepEqual(parsePlatform('linux/arm/v7'), { architecture: 'arm', os: 'linux', variant: 'v7' });
  assert.deepEqual(parsePlatform('Linux/X86_64'), { architecture: 'amd64', os: 'linux' });
  assert.deepEqual(parsePlatform('arm64'), { architecture: 'arm64', os: 'linux' });
  assert.equal(parsePlatform('nope/amd64'), undefined);
  assert.equal(parsePlatform('linux/a/b/c'), undefined);
});
