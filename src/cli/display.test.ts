import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ellipsis, truncateID } from './display.ts';
import { displayablePorts } from './commands/ps.ts';
import { imageRefs } from './commands/images.ts';
import { indentJSON, compactJSON } from './commands/inspect.ts';
import { parseNormalizedNamed, familiarString } from './reference.ts';
import { StdcopyDemuxer } from './stdcopy.ts';

test('ellipsis and truncateID', () => {
  assert.equal(ellipsis('sh -c echo hello world', 20), 'sh -c echo hello wo…');
  assert.equal(ellipsis('short', 20), 'short');
  // Wide characters count double, as in docker's width-aware Ellipsis.
  assert.equal(ellipsis('echo "quoted" é世界世界世界世界', 20), 'echo "quoted" é世界…');
  assert.equal(truncateID('sha256:0123456789abcdef0123'), '0123456789ab');
});

test('displayablePorts groups ranges and lists host mappings last', () => {
  const ports = [
    { PrivatePort: 80, Type: 'tcp' }, { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
    { IP: '::', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' }, { PrivatePort: 53, Type: 'udp' }, { PrivatePort: 54, Type: 'udp' },
    { IP: '127.0.0.1', PrivatePort: 90, PublicPort: 90, Type: 'tcp' }, { IP: '127.0.0.1', PrivatePort: 91, PublicPort: 91, Type: 'tcp' },
  ];
  assert.equal(displayablePorts(ports), '53-54/udp, 80/tcp, 127.0.0.1:90-91->90-91/tcp, 0.0.0.0:8080->80/tcp, [::]:8080->80/tcp');
});

test('image rows per repository and tag', () => {
  const img = { Id: 'sha256:x', RepoTags: ['busybox:latest', 'busybox:1', 'foo/bar:2'], RepoDigests: ['busybox@sha256:' + 'd'.repeat(64)] };
  assert.deepEqual(imageRefs(img, false, false), [['busybox', 'latest', '<none>'], ['busybox', '1', '<none>'], ['foo/bar', '2', '<none>']]);
  assert.deepEqual(imageRefs(img, true, true)[0], ['busybox', 'latest', 'sha256:' + 'd'.repeat(64)]);
  assert.deepEqual(imageRefs({ Id: 'x', RepoTags: [], RepoDigests: [] }, false, false), [['<none>', '<none>', '<none>']]);
});

test('JSON re-indented like Go json.Indent, keeping the raw text', () => {
  assert.equal(indentJSON('[{"a":1,"b":[],"c":{"d":"x\\u003cy"},"e":[1,2]}]'),
    '[\n    {\n        "a": 1,\n        "b": [],\n        "c": {\n            "d": "x\\u003cy"\n        },\n        "e": [\n            1,\n            2\n        ]\n    }\n]');
  assert.equal(compactJSON('{ "a" : [ 1, "b c" ] }'), '{"a":[1,"b c"]}');
});

test('references normalise like distribution/reference', () => {
  assert.deepEqual(parseNormalizedNamed('busybox'), { name: 'docker.io/library/busybox', tag: undefined, digest: undefined });
  assert.equal(parseNormalizedNamed('localhost:5000/a/b:1').name, 'localhost:5000/a/b');
  assert.equal(familiarString(parseNormalizedNamed('docker.io/library/alpine:3')), 'alpine:3');
  assert.throws(() => parseNormalizedNamed('UPPER'), /must be lowercase/);
});

test('stdcopy frames split across chunks', () => {
  const got: [number, string][] = [];
  const d = new StdcopyDemuxer((s, data) => got.push([s, data.toString()]));
  const frame = (t: number, s: string) => Buffer.concat([Buffer.from([t, 0, 0, 0, 0, 0, 0, s.length]), Buffer.from(s)]);
  const all = Buffer.concat([frame(1, 'out'), frame(2, 'err')]);
  d.push(all.subarray(0, 5));
  d.push(all.subarray(5, 13));
  d.push(all.subarray(13));
  assert.deepEqual(got, [[1, 'out'], [2, 'err']]);
  assert.equal(d.pending, 0);
});
