// The few Linux syscalls Node's fs module lacks (mount, umount2, mknod, the l*xattr family), called through
// koffi on glibc. Every wrapper is synchronous and throws an Error shaped like Node's own fs errors:
// `.code` is the errno name ('EINVAL', 'EBUSY', ...), `.errno` the negative errno, `.syscall` and `.path`
// are set, and the message reads "EBUSY: resource busy or locked, umount2 '/x'".
import koffi from 'koffi';
import { constants as osConstants } from 'node:os';
import util from 'node:util';

export const MS_RDONLY = 0x1;
export const MS_NOSUID = 0x2;
export const MS_NODEV = 0x4;
export const MS_NOEXEC = 0x8;
export const MS_SYNCHRONOUS = 0x10;
export const MS_REMOUNT = 0x20;
export const MS_NOATIME = 0x400;
export const MS_NODIRATIME = 0x800;
export const MS_BIND = 0x1000;
export const MS_MOVE = 0x2000;
export const MS_REC = 0x4000;
export const MS_PRIVATE = 0x40000;
export const MS_SLAVE = 0x80000;
export const MS_SHARED = 0x100000;
export const MS_RELATIME = 0x200000;
export const MS_STRICTATIME = 0x1000000;

export const MNT_FORCE = 0x1;
export const MNT_DETACH = 0x2;
export const MNT_EXPIRE = 0x4;
export const UMOUNT_NOFOLLOW = 0x8;

export const XATTR_CREATE = 0x1;
export const XATTR_REPLACE = 0x2;

// File type bits for mknod's mode argument.
export const S_IFIFO = 0o010000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFREG = 0o100000;

type Fn = (...args: any[]) => any;
interface Libc {
  mount: Fn;
  umount2: Fn;
  mknod: Fn;
  lsetxattr: Fn;
  lgetxattr: Fn;
  llistxattr: Fn;
  lremovexattr: Fn;
}

let libc: Libc | undefined;

function lib(): Libc {
  if (libc) return libc;
  const l = koffi.load('libc.so.6');
  libc = {
    mount: l.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)'),
    umount2: l.func('int umount2(const char *target, int flags)'),
    // glibc >= 2.33 exports mknod itself; dev_t is 64 bits on every Linux glibc ABI Node supports.
    mknod: l.func('int mknod(const char *path, uint32_t mode, uint64_t dev)'),
    lsetxattr: l.func('int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags)'),
    lgetxattr: l.func('intptr_t lgetxattr(const char *path, const char *name, _Out_ void *value, size_t size)'),
    llistxattr: l.func('intptr_t llistxattr(const char *path, _Out_ void *list, size_t size)'),
    lremovexattr: l.func('int lremovexattr(const char *path, const char *name)'),
  };
  return libc;
}

function errnoName(errno: number): string {
  const name = util.getSystemErrorName(-errno);
  if (/^E[A-Z0-9]+$/.test(name)) return name;
  for (const [k, v] of Object.entries(osConstants.errno)) if (v === errno) return k;
  return `E${errno}`;
}

/** Builds an Error like Node's fs errors (code, errno, syscall, path) from a raw positive errno. */
export function errnoError(errno: number, syscall: string, path?: string, dest?: string): NodeJS.ErrnoException {
  const code = errnoName(errno);
  let text: string;
  try {
    text = util.getSystemErrorMessage(-errno);
  } catch {
    text = 'unknown error';
  }
  let msg = `${code}: ${text}, ${syscall}`;
  if (path !== undefined) msg += ` '${path}'`;
  if (dest !== undefined) msg += ` -> '${dest}'`;
  const err = new Error(msg) as NodeJS.ErrnoException & { dest?: string };
  err.errno = -errno;
  err.code = code;
  err.syscall = syscall;
  if (path !== undefined) err.path = path;
  if (dest !== undefined) err.dest = dest;
  Error.captureStackTrace?.(err, errnoError);
  return err;
}

function check(ret: number | bigint, syscall: string, path?: string, dest?: string): number {
  const n = Number(ret);
  if (n < 0) throw errnoError(koffi.errno(), syscall, path, dest);
  return n;
}

function noNul(s: string, what: string): void {
  if (s.includes('\0')) {
    const err = new TypeError(`${what} must not contain NUL bytes`) as TypeError & { code: string };
    err.code = 'ERR_INVALID_ARG_VALUE';
    throw err;
  }
}

export function mount(source: string, target: string, fstype: string | null, flags: number, data: string | null): void {
  noNul(target, 'mount target');
  check(lib().mount(source, target, fstype, flags, data), 'mount', target, source);
}

export function umount2(target: string, flags: number): void {
  noNul(target, 'umount target');
  check(lib().umount2(target, flags), 'umount2', target);
}

/** mknod(2). `mode` carries the file type (S_IFCHR, S_IFBLK, S_IFIFO, S_IFREG) and permission bits; the umask applies. */
export function mknod(path: string, mode: number, dev: number): void {
  noNul(path, 'path');
  check(lib().mknod(path, mode >>> 0, BigInt(dev)), 'mknod', path);
}

/** glibc's encoding of a device number (gnu_dev_makedev). */
export function makedev(major: number, minor: number): number {
  const ma = BigInt(major >>> 0);
  const mi = BigInt(minor >>> 0);
  const dev = (mi & 0xffn) | ((ma & 0xfffn) << 8n) | ((mi & ~0xffn) << 12n) | ((ma & ~0xfffn) << 32n);
  return Number(dev);
}

export function major(dev: number | bigint): number {
  const d = BigInt(dev);
  return Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn & 0xffffffffn));
}

export function minor(dev: number | bigint): number {
  const d = BigInt(dev);
  return Number((d & 0xffn) | ((d >> 12n) & ~0xffn & 0xffffffffn));
}

export function lsetxattr(path: string, name: string, value: Buffer, flags = 0): void {
  noNul(path, 'path');
  noNul(name, 'xattr name');
  check(lib().lsetxattr(path, name, value, value.length, flags), 'lsetxattr', path);
}

/** The value of xattr `name` on `path` (symlinks not followed), or undefined when it is not set. */
export function lgetxattr(path: string, name: string): Buffer | undefined {
  noNul(path, 'path');
  noNul(name, 'xattr name');
  const f = lib().lgetxattr;
  for (let attempt = 0; ; attempt++) {
    let n = Number(f(path, name, null, 0));
    if (n < 0) {
      const e = koffi.errno();
      if (e === osConstants.errno.ENODATA) return undefined;
      throw errnoError(e, 'lgetxattr', path);
    }
    const buf = Buffer.alloc(n);
    if (n === 0) return buf;
    n = Number(f(path, name, buf, buf.length));
    if (n >= 0) return buf.subarray(0, n);
    const e = koffi.errno();
    if (e === osConstants.errno.ENODATA) return undefined;
    // ERANGE: the value grew between the two calls; ask again.
    if (e !== osConstants.errno.ERANGE || attempt > 8) throw errnoError(e, 'lgetxattr', path);
  }
}

/** Names of the xattrs on `path` (symlinks not followed), in the order the filesystem lists them. */
export function llistxattr(path: string): string[] {
  noNul(path, 'path');
  const f = lib().llistxattr;
  for (let attempt = 0; ; attempt++) {
    const size = check(f(path, null, 0), 'llistxattr', path);
    if (size === 0) return [];
    const buf = Buffer.alloc(size);
    const n = Number(f(path, buf, buf.length));
    if (n < 0) {
      const e = koffi.errno();
      if (e !== osConstants.errno.ERANGE || attempt > 8) throw errnoError(e, 'llistxattr', path);
      continue;
    }
    return buf
      .subarray(0, n)
      .toString('utf8')
      .split('\0')
      .filter((s) => s !== '');
  }
}

export function lremovexattr(path: string, name: string): void {
  noNul(path, 'path');
  noNul(name, 'xattr name');
  check(lib().lremovexattr(path, name), 'lremovexattr', path);
}
