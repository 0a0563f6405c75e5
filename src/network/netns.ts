// Network namespaces and the links inside them. berthd never enters a namespace itself (it is multi-threaded):
// `unshare --net=FILE` makes a namespace kept alive by a bind mount on FILE, `ip -batch` configures it (run
// inside it through unshare/nsenter), so a container's network costs two short spawns (~5 ms each here).
import { spawn } from 'node:child_process';
import { promises as fsp, existsSync } from 'node:fs';
import { umount2, MNT_DETACH } from '../platform/syscalls.ts';
import { isErrno } from '../lib/errors.ts';

export interface LinkConfig {
  ifname: string; // eth0, eth1 ... inside the namespace
  hostIfname: string; // the veth end left on the host and put on the bridge
  bridge: string;
  mac: string;
  address: string; // CIDR, 172.18.0.2/16
  gateway?: string; // the default route goes through the first link's gateway
  mtu?: number;
}

function run(cmd: string, args: string[], input?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'] });
    let err = '';
    p.stderr!.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')}: ${err.trim() || `exit ${code}`}`))));
    if (input !== undefined) p.stdin!.end(input);
  });
}

export function ipBatch(lines: string[]): Promise<void> {
  return lines.length ? run('ip', ['-batch', '-'], lines.join('\n') + '\n') : Promise.resolve();
}

// The commands that give a namespace its links: run inside the namespace, each veth's peer is sent to the
// daemon's own namespace, where hostSideLines puts it on its bridge.
export function insideLines(links: LinkConfig[], opts: { loopback: boolean }): string[] {
  const hostNs = `/proc/${process.pid}/ns/net`;
  const lines = opts.loopback ? ['link set lo up'] : [];
  for (const l of links) {
    lines.push(`link add ${l.ifname} ${l.mtu ? `mtu ${l.mtu} ` : ''}address ${l.mac} type veth peer name ${l.hostIfname} netns ${hostNs}`);
    lines.push(`addr add ${l.address} brd + dev ${l.ifname}`);
    lines.push(`link set ${l.ifname} up`);
  }
  const gw = links.find((l) => l.gateway);
  if (gw) lines.push(`route add default via ${gw.gateway} dev ${gw.ifname}`);
  return lines;
}

export function hostSideLines(links: LinkConfig[]): string[] {
  return links.map((l) => `link set ${l.hostIfname} master ${l.bridge} up`);
}

// Creates the namespace at `file` (which must not exist yet) with lo up and the given links.
export async function createNetns(file: string, links: LinkConfig[]): Promise<void> {
  await fsp.writeFile(file, '', { flag: 'wx', mode: 0o444 });
  try {
    await run('unshare', [`--net=${file}`, 'ip', '-batch', '-'], insideLines(links, { loopback: true }).join('\n') + '\n');
    await ipBatch(hostSideLines(links));
  } catch (err) {
    await destroyNetns(file);
    throw err;
  }
}

// Adds links to an existing namespace (network connect on a running container).
export async function addLinks(file: string, links: LinkConfig[]): Promise<void> {
  await run('nsenter', [`--net=${file}`, 'ip', '-batch', '-'], insideLines(links, { loopback: false }).join('\n') + '\n');
  await ipBatch(hostSideLines(links));
}

export async function removeLink(file: string, ifname: string): Promise<void> {
  await run('nsenter', [`--net=${file}`, 'ip', 'link', 'del', ifname]);
}

// Unmounting the last reference ends the namespace; the kernel then deletes its veths (and their host ends).
export async function destroyNetns(file: string): Promise<void> {
  try {
    umount2(file, MNT_DETACH);
  } catch (err) {
    if (!isErrno(err, 'EINVAL') && !isErrno(err, 'ENOENT')) throw err;
  }
  await fsp.rm(file, { force: true });
}

export function netnsExists(file: string): boolean {
  return existsSync(file);
}

export async function linkExists(name: string): Promise<boolean> {
  return existsSync(`/sys/class/net/${name}`);
}

export async function ensureBridge(name: string, address: string, mtu?: number): Promise<void> {
  if (existsSync(`/sys/class/net/${name}`)) {
    // Address may be missing after someone flushed it; "replace" is idempotent.
    await ipBatch([`addr replace ${address} dev ${name}`, `link set ${name} up`]);
    return;
  }
  await ipBatch([`link add ${name} ${mtu ? `mtu ${mtu} ` : ''}type bridge`, `addr add ${address} dev ${name}`, `link set ${name} up`]);
}

export async function deleteLink(name: string): Promise<void> {
  if (!existsSync(`/sys/class/net/${name}`)) return;
  await ipBatch([`link del ${name}`]);
}
