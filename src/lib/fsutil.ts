import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { promises as fsp, writeFileSync, renameSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { isErrno } from './errors.ts';

function tempName(file: string): string {
  return path.join(path.dirname(file), `.tmp-${path.basename(file)}-${randomBytes(4).toString('hex')}`);
}

// Every piece of state is written temp-then-rename so that a crash at any moment leaves either the old or
// the new content, never a torn file.
// `sync: false` skips the fsync (~1.5 ms here) for state that is re-derived after a crash anyway; ext4 still
// orders the data before the rename (auto_da_alloc), so the reader sees old or new content.
export async function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o644, opts: { sync?: boolean } = {}): Promise<void> {
  const tmp = tempName(file);
  const fh = await fsp.open(tmp, 'w', mode);
  try {
    await fh.writeFile(data);
    if (opts.sync !== false) await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
}

export function writeFileAtomicSync(file: string, data: string | Uint8Array, mode = 0o644): void {
  const tmp = tempName(file);
  writeFileSync(tmp, data, { mode });
  renameSync(tmp, file);
}

export async function writeJsonAtomic(file: string, value: unknown, opts: { sync?: boolean } = {}): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(value), 0o644, opts);
}

export async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fsp.readFile(file, 'utf8')) as T;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}

export function mkdirpSync(dir: string, mode = 0o700): void {
  mkdirSync(dir, { recursive: true, mode });
}

// Startup cleanup: temp files left by a crash in the middle of writeFileAtomic.
export async function removeTempFiles(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return;
  }
  await Promise.all(names.filter((n) => n.startsWith('.tmp-')).map((n) => fsp.rm(path.join(dir, n), { recursive: true, force: true })));
}

// lstat, or undefined when nothing is there (a missing parent counts as nothing).
export function lstatOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return undefined;
    throw err;
  }
}

// Removes what is at `p` (a directory with its contents), without following a symlink.
export function removeExisting(p: string, st: fs.Stats): void {
  if (st.isDirectory()) fs.rmSync(p, { recursive: true, force: true });
  else fs.unlinkSync(p);
}

export function replaceExisting(p: string): void {
  const st = lstatOrUndefined(p);
  if (st) removeExisting(p, st);
}
