import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  lgetxattr,
  llistxattr,
  lsetxattr,
  lremovexattr,
  major,
  makedev,
  minor,
  mknod,
  mount,
  MNT_DETACH,
  MS_NODEV,
  MS_NOSUID,
  S_IFCHR,
  S_IFIFO,
  umount2,
} from './syscalls.ts';

function isMountPoint(p: string): boolean {
  const target = fs.realpathSync(p);
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[4] === target);
}

async function withTmp(fn: (dir: string) => void | Promise<void>): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-sys-'));
  try {
    await fn(dir);
  } finally {
    if (isMountPoint(dir)) umount2(dir, MNT_DETACH);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('tmpfs mount, write, umount2', async () => {
  await withTmp((dir) => {
    mount('tmpfs', dir, 'tmpfs', MS_NOSUID | MS_NODEV, 'size=1m,mode=0755');
    assert.ok(isMountPoint(dir));
    fs.writeFileSync(path.join(dir, 'hello'), 'world');
    assert.equal(fs.readFileSync(path.join(dir, 'hello'), 'utf8'), 'world');
    umount2(dir, 0);
    assert.ok(!isMountPoint(dir));
    assert.deepEqual(fs.readdirSync(dir), []); // the file lived on the tmpfs
  });
});

test('errors carry code, errno, syscall and path like fs errors', async () => {
  await withTmp((dir) => {
    const err = (() => {
      try {
        umount2(dir, 0); // not a mount point
      } catch (e) {
        return e as NodeJS.ErrnoException;
      }
      assert.fail('umount2 of a non-mount point succeeded');
    })();
    assert.equal(err.code, 'EINVAL');
    assert.equal(err.errno, -22);
    assert.equal(err.syscall, 'umount2');
    assert.equal(err.path, dir);
    assert.match(err.message, /^EINVAL: .*, umount2 '/);
    assert.throws(() => mount('tmpfs', path.join(dir, 'missing'), 'tmpfs', 0, null), { code: 'ENOENT', syscall: 'mount' });
    assert.throws(() => mount('none', dir, 'no-such-fs', 0, null), { code: 'ENODEV' });
  });
});

test('mknod makes a 0:0 char device (overlay whiteout) and a fifo', async () => {
  await withTmp((dir) => {
    const wh = path.join(dir, 'wh');
    mknod(wh, S_IFCHR | 0o600, makedev(0, 0));
    const st = fs.lstatSync(wh);
    assert.ok(st.isCharacterDevice());
    assert.equal(st.rdev, 0);
    const fifo = path.join(dir, 'fifo');
    mknod(fifo, S_IFIFO | 0o644, 0);
    assert.ok(fs.lstatSync(fifo).isFIFO());
    assert.throws(() => mknod(wh, S_IFCHR, 0), { code: 'EEXIST', syscall: 'mknod' });
  });
});

test('makedev/major/minor match glibc encoding', () => {
  assert.equal(makedev(0, 0), 0);
  assert.equal(makedev(1, 3), 0x103);
  assert.equal(makedev(8, 1), 2049);
  const d = makedev(259, 70000);
  assert.equal(major(d), 259);
  assert.equal(minor(d), 70000);
  assert.equal(major(BigInt(makedev(4095, 255))), 4095);
});

test('xattr round trip in the trusted. namespace', async () => {
  await withTmp((dir) => {
    const f = path.join(dir, 'f');
    fs.writeFileSync(f, '');
    const value = Buffer.from([0, 1, 2, 0xff, 0x80]);
    lsetxattr(f, 'trusted.berth.test', value);
    lsetxattr(f, 'trusted.overlay.opaque', Buffer.from('y'));
    assert.deepEqual(lgetxattr(f, 'trusted.berth.test'), value);
    assert.equal(lgetxattr(f, 'trusted.overlay.opaque')?.toString(), 'y');
    assert.equal(lgetxattr(f, 'trusted.berth.absent'), undefined);
    assert.deepEqual(llistxattr(f).filter((n) => n.startsWith('trusted.')).sort(), ['trusted.berth.test', 'trusted.overlay.opaque']);
    lsetxattr(f, 'trusted.berth.empty', Buffer.alloc(0));
    assert.deepEqual(lgetxattr(f, 'trusted.berth.empty'), Buffer.alloc(0));
    lremovexattr(f, 'trusted.berth.test');
    assert.equal(lgetxattr(f, 'trusted.berth.test'), undefined);
    // l* variants act on the symlink itself, not its target.
    const l = path.join(dir, 'l');
    fs.symlinkSync('f', l);
    lsetxattr(l, 'trusted.berth.link', Buffer.from('L'));
    assert.equal(lgetxattr(l, 'trusted.berth.link')?.toString(), 'L');
    assert.equal(lgetxattr(f, 'trusted.berth.link'), undefined);
    assert.throws(() => lgetxattr(path.join(dir, 'missing'), 'trusted.x'), { code: 'ENOENT', syscall: 'lgetxattr' });
  });
});
