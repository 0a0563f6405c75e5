import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBind, parseApiMount, parseVolumesFrom, checkDuplicates } from './mounts.ts';

test('-v specs: named volumes, host paths, modes', () => {
  assert.deepEqual(parseBind('data:/var/lib/x:ro'), { Type: 'volume', Name: 'data', Source: '', Destination: '/var/lib/x', Driver: 'local', Mode: 'ro', RW: false, Propagation: '', NoCopy: false });
  const b = parseBind('/srv/www:/usr/share/www/');
  assert.equal(b.Type, 'bind');
  assert.equal(b.Destination, '/usr/share/www');
  assert.equal(b.RW, true);
  assert.equal(parseBind('vv:/d:nocopy').NoCopy, true);
  assert.throws(() => parseBind('a/b:/d'), /includes invalid characters for a local volume name/);
  assert.throws(() => parseBind('vv:rel'), /must be absolute/);
  assert.throws(() => parseBind('vv:/d:bogus'), /invalid mode: bogus/);
  assert.throws(() => parseBind('/a:/'), /destination can't be '\/'/);
});

test('--mount entries and --volumes-from', () => {
  assert.equal(parseApiMount({ Type: 'bind', Source: '/x', Target: '/y', ReadOnly: true }).RW, false);
  assert.equal(parseApiMount({ Type: 'volume', Target: '/y' }).Anonymous, true);
  assert.deepEqual(parseApiMount({ Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1024 } }).TmpfsOptions, { SizeBytes: 1024 });
  assert.throws(() => parseApiMount({ Type: 'bind', Target: '/y' }), /Source must not be empty/);
  assert.throws(() => parseApiMount({ Type: 'nfs', Target: '/y' }), /mount type unknown/);
  assert.deepEqual(parseVolumesFrom('web:ro'), { container: 'web', mode: 'ro' });
  assert.throws(() => parseVolumesFrom('web:xx'), /invalid mode/);
  assert.throws(() => checkDuplicates([parseBind('aa:/d'), parseBind('/x:/d')]), /Duplicate mount point: \/d/);
});

test('cp paths inside mounts resolve to the mount source', async () => {
  const { mountHolding } = await import('./mounts.ts');
  const pts = [parseBind('/srv/a:/data'), parseBind('/srv/b:/data/sub')];
  assert.deepEqual(mountHolding(pts, '/data/x/y'), { root: '/srv/a', rel: '/x/y', topName: undefined });
  assert.deepEqual(mountHolding(pts, '/data/sub/z'), { root: '/srv/b', rel: '/z', topName: undefined });
  assert.deepEqual(mountHolding(pts, '/data'), { root: '/srv/a', rel: '/', topName: 'data' });
  assert.deepEqual(mountHolding(pts, '/data/.'), { root: '/srv/a', rel: '/.', topName: undefined });
  assert.equal(mountHolding(pts, '/database'), undefined);
  assert.equal(mountHolding(pts, '/etc'), undefined);
});
