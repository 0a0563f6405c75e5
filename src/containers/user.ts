// Resolves `--user name[:group]` against the container's own /etc/passwd and /etc/group. The rootfs is
// untrusted: the files are opened with symlinks scoped to the rootfs, never followed onto the host.
import { promises as fsp } from 'node:fs';
import { resolveInRoot } from '../layers/archive.ts';
import { BerthError } from '../lib/errors.ts';

export interface ResolvedUser { uid: number; gid: number; additionalGids: number[]; home: string }

async function readInRoot(root: string, p: string): Promise<string> {
  try {
    const real = await resolveInRoot(root, p);
    const st = await fsp.lstat(real);
    if (!st.isFile() || st.size > 4 << 20) return '';
    return await fsp.readFile(real, 'utf8');
  } catch {
    return '';
  }
}

export async function resolveUser(root: string, spec: string, groupAdd: string[] = []): Promise<ResolvedUser> {
  const [userPart, groupPart] = (spec || '0').split(':', 2);
  const passwd = (await readInRoot(root, '/etc/passwd')).split('\n').map((l) => l.split(':')).filter((f) => f.length >= 7);
  const groups = (await readInRoot(root, '/etc/group')).split('\n').map((l) => l.split(':')).filter((f) => f.length >= 4);
  let uid: number;
  let gid = 0;
  let home = '/';
  let name: string | undefined;
  const entry = passwd.find((f) => f[0] === userPart) ?? (/^\d+$/.test(userPart) ? passwd.find((f) => f[2] === userPart) : undefined);
  if (entry) {
    uid = Number(entry[2]);
    gid = Number(entry[3]);
    home = entry[5] || '/';
    name = entry[0];
  } else if (/^\d+$/.test(userPart)) {
    uid = Number(userPart);
  } else {
    throw new BerthError('invalid-parameter', `unable to find user ${userPart}: no matching entries in passwd file`);
  }
  if (groupPart !== undefined && groupPart !== '') {
    const g = groups.find((f) => f[0] === groupPart) ?? (/^\d+$/.test(groupPart) ? groups.find((f) => f[2] === groupPart) : undefined);
    if (g) gid = Number(g[2]);
    else if (/^\d+$/.test(groupPart)) gid = Number(groupPart);
    else throw new BerthError('invalid-parameter', `unable to find group ${groupPart}: no matching entries in group file`);
  }
  const additional = new Set<number>();
  if (name && groupPart === undefined) {
    for (const g of groups) if (g[3].split(',').includes(name)) additional.add(Number(g[2]));
  }
  for (const ga of groupAdd) {
    const g = groups.find((f) => f[0] === ga);
    if (g) additional.add(Number(g[2]));
    else if (/^\d+$/.test(ga)) additional.add(Number(ga));
    else throw new BerthError('invalid-parameter', `Unable to find group ${ga}: no matching entries in group file`);
  }
  additional.delete(gid);
  return { uid, gid, additionalGids: [...additional], home };
}
