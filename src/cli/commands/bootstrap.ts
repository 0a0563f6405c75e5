// berth image bootstrap: builds the offline base image from the host's static busybox, so berth works
// with no registry. The rootfs tar is built in memory with fixed metadata so the same busybox always gives
// the same archive, and is imported with POST /images/create?fromSrc=-.
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { CommandSpec } from '../command.ts';
import { StatusError } from '../errors.ts';
import { displayJSONMessages } from '../json-progress.ts';
import { parseNormalizedNamed, familiarName } from '../reference.ts';

const MTIME = new Date(0);

const baseDirs: [string, number][] = [
  ['bin', 0o755], ['dev', 0o755], ['etc', 0o755], ['home', 0o755], ['proc', 0o755], ['root', 0o700], ['sbin', 0o755],
  ['sys', 0o755], ['tmp', 0o1777], ['usr', 0o755], ['usr/bin', 0o755], ['usr/sbin', 0o755], ['var', 0o755],
];

const files: [string, string][] = [
  ['etc/passwd', 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n'],
  ['etc/group', 'root:x:0:\nnogroup:x:65534:\n'],
];

interface TarEntry { name: string; type: 'directory' | 'file' | 'symlink'; mode: number; data?: Buffer; linkname?: string }

/** The rootfs entries for a busybox binary and its applet list ("bin/sh", "usr/bin/env", ...). */
export function rootfsEntries(busybox: Buffer, applets: string[]): TarEntry[] {
  const entries = new Map<string, TarEntry>();
  const addDir = (d: string, mode = 0o755) => {
    for (let p = d; p !== '.' && p !== ''; p = path.posix.dirname(p)) {
      if (!entries.has(p + '/')) entries.set(p + '/', { name: p + '/', type: 'directory', mode: p === d ? mode : 0o755 });
    }
  };
  for (const [d, mode] of baseDirs) entries.set(d + '/', { name: d + '/', type: 'directory', mode });
  entries.set('bin/busybox', { name: 'bin/busybox', type: 'file', mode: 0o755, data: busybox });
  for (const [name, text] of files) entries.set(name, { name, type: 'file', mode: 0o644, data: Buffer.from(text) });
  for (const raw of applets) {
    const applet = raw.trim().replace(/^\/+/, '');
    if (applet === '' || applet === 'bin/busybox' || entries.has(applet)) continue;
    const dir = path.posix.dirname(applet);
    addDir(dir);
    entries.set(applet, { name: applet, type: 'symlink', mode: 0o777, linkname: path.posix.relative(dir, 'bin/busybox') });
  }
  // Sorted names put every directory before what it contains and make the archive reproducible.
  return [...entries.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export async function buildRootfsTar(entries: TarEntry[]): Promise<Buffer> {
  const tar = await import('tar-stream');
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack) chunks.push(c as Buffer);
  })();
  for (const e of entries) {
    const header = { name: e.name, type: e.type, mode: e.mode, uid: 0, gid: 0, uname: 'root', gname: 'root', mtime: MTIME, linkname: e.linkname };
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (e.data) pack.entry(header, e.data, cb);
      else pack.entry(header, cb);
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export const bootstrapCommand: CommandSpec = {
  usage: '[OPTIONS]',
  short: "Create the offline busybox base image from the host's busybox binary",
  flags: [
    { name: 'tag', type: 'string', desc: 'Name and tag of the image', def: 'busybox:latest', defText: '"busybox:latest"' },
    { name: 'busybox', type: 'string', desc: 'Path of a statically linked busybox binary', def: '/bin/busybox', defText: '"/bin/busybox"' },
  ],
  args: { none: true },
  async run(cli, flags) {
    const bin = flags.str('busybox');
    let binary: Buffer;
    let applets: string[];
    try {
      if (!statSync(bin).isFile()) throw new Error(`${bin} is not a file`);
      binary = readFileSync(bin);
      applets = execFileSync(bin, ['--list-full'], { encoding: 'utf8' }).split('\n').filter(Boolean);
    } catch (err) {
      throw new StatusError(`cannot use ${bin} as busybox: ${(err as Error).message}`, 1);
    }
    let ref;
    try {
      ref = parseNormalizedNamed(flags.str('tag'));
    } catch (err) {
      throw new StatusError(`invalid --tag: ${(err as Error).message}`, 1);
    }
    const tar = await buildRootfsTar(rootfsEntries(binary, applets));
    const res = await cli.client().request('POST', '/images/create', {
      // The config of Docker Hub's busybox image: a PATH and sh as the command.
      query: { fromSrc: '-', repo: familiarName(ref.name), tag: ref.tag ?? 'latest', changes: ['ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'CMD ["sh"]'] },
      headers: { 'Content-Type': 'application/x-tar' },
      body: tar,
    });
    await displayJSONMessages(res, cli.out);
  },
};
