// Container networking through the real docker CLI: name resolution on user-defined networks (names, aliases,
// short ids) and their isolation, connect/disconnect, the none/host/container: modes, /etc/hosts and
// resolv.conf, static addresses, address allocation across a daemon restart, cleanup of bridges and nft
// tables, and the network API's errors. Published ports are in network-ports.test.ts.
// Traffic goes only to containers on bridges made here (and loopback). Containers that look up names that do
// not exist get `--dns 127.0.0.1`, so the embedded server forwards those lookups to the host's loopback only.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { startDaemon, run, type TestDaemon, type RunResult } from './harness.ts';
import { api, bootstrap, docker, dockerOk, waitFor } from './helpers.ts';

let d: TestDaemon;

before(async () => {
  d = await startDaemon();
  await bootstrap(d);
});
after(async () => {
  await d?.stop();
});

const LOCAL_DNS = ['--dns', '127.0.0.1'];
const inspect = (ref: string, format: string, on: TestDaemon = d) => dockerOk(on, ['inspect', '--format', format, ref]);
const ipOn = (ref: string, net: string, on: TestDaemon = d) => inspect(ref, `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, on);
const exec = (ref: string, script: string, on: TestDaemon = d): Promise<RunResult> => docker(on, ['exec', ref, 'sh', '-c', script]);
async function execOk(ref: string, script: string, on: TestDaemon = d): Promise<string> {
  const r = await exec(ref, script, on);
  assert.equal(r.code, 0, `exec ${ref} ${script}: exit ${r.code}: ${r.stdout}${r.stderr}`);
  return r.stdout.trim();
}
async function runRm(opts: string[], script: string): Promise<string> {
  const r = await docker(d, ['run', '--rm', ...opts, 'busybox', 'sh', '-c', script]);
  assert.equal(r.code, 0, `run ${opts.join(' ')} ${script}: exit ${r.code}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

// A running container whose httpd on port 8080 answers its own name; returns once it serves.
async function serve(name: string, opts: string[] = [], on: TestDaemon = d): Promise<void> {
  await dockerOk(on, ['run', '-d', '--name', name, ...opts, 'busybox', 'sh', '-c',
    `mkdir -p /www && echo ${name} > /www/index.html && exec httpd -f -p 8080 -h /www`]);
  await waitFor(`${name} serving`, async () => (await exec(name, 'timeout 3 wget -qO- http://127.0.0.1:8080/', on)).stdout.trim() === name);
}

// From inside `from`: the page `target` serves (by name or address), or undefined when it cannot be reached.
async function fetchFrom(from: string, target: string, on: TestDaemon = d): Promise<string | undefined> {
  const r = await exec(from, `timeout 3 wget -qO- http://${target}:8080/`, on);
  return r.code === 0 ? r.stdout.trim() : undefined;
}
const pings = async (from: string, target: string) => (await exec(from, `ping -c1 -W2 ${target}`)).code === 0;

function linkNames(text: string): string[] {
  // "4: eth0: <...>" and "30: veth0647104@if2: <...>"
  return text.split('\n').map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1]).filter((n): n is string => !!n);
}
async function hostLinks(): Promise<string[]> {
  const r = await run('ip', ['-o', 'link']);
  assert.equal(r.code, 0, r.stderr);
  return linkNames(r.stdout);
}
async function nftTables(): Promise<string[]> {
  const r = await run('nft', ['list', 'tables']);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
}
const bridgeDevice = async (on: TestDaemon, net: string) => dockerOk(on, ['network', 'inspect', '-f', '{{index .Options "com.docker.network.bridge.name"}}', net]);

test('containers on a user network reach each other by name, alias and short id; other networks do not resolve or route', async () => {
  await dockerOk(d, ['network', 'create', 'front']);
  await dockerOk(d, ['network', 'create', 'back']);
  await serve('web1', ['--network', 'front', '--network-alias', 'site', ...LOCAL_DNS]);
  await serve('web2', ['--network', 'front', ...LOCAL_DNS]);
  await serve('hidden', ['--network', 'back', ...LOCAL_DNS]);
  const web1Id = (await inspect('web1', '{{.Id}}')).slice(0, 12);
  const web2Ip = await ipOn('web2', 'front');

  assert.ok(await pings('web2', 'web1'), 'ping web1 by name');
  assert.ok(await pings('web1', 'web2'), 'ping web2 by name');
  assert.equal(await fetchFrom('web2', 'web1'), 'web1');
  assert.equal(await fetchFrom('web1', 'web2'), 'web2');
  assert.equal(await fetchFrom('web2', 'site'), 'web1', 'by --network-alias');
  assert.equal(await fetchFrom('web2', web1Id), 'web1', 'by 12-char short id');
  const ns = await execOk('web1', 'nslookup web2');
  assert.ok(ns.includes(web2Ip), `nslookup web2 answers ${web2Ip}: ${ns}`);

  const gateway = await dockerOk(d, ['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', 'front']);
  const resolv = await execOk('web1', 'cat /etc/resolv.conf');
  assert.match(resolv, new RegExp(`^nameserver ${gateway.replaceAll('.', '\\.')}$`, 'm'));
  assert.equal(resolv.match(/^nameserver /gm)?.length, 1, `only the embedded server: ${resolv}`);
  assert.match(resolv, /^options .*ndots:0/m);

  // Another network: its container's name does not resolve and its address does not route.
  const hiddenIp = await ipOn('hidden', 'back');
  const look = await exec('web1', 'nslookup hidden');
  assert.notEqual(look.code, 0, `nslookup hidden from another network: ${look.stdout}`);
  assert.ok(!look.stdout.includes(hiddenIp));
  assert.equal(await pings('web1', hiddenIp), false, 'ping to another network\'s container');
  assert.equal(await fetchFrom('web1', hiddenIp), undefined, 'http to another network\'s container');
  assert.equal(await fetchFrom('hidden', web2Ip), undefined, 'and back');
  assert.equal(await fetchFrom('hidden', 'hidden'), 'hidden', 'a container resolves its own name');
  // Asking the other network's DNS server directly does not help either.
  const direct = await exec('hidden', `nslookup web1 ${gateway}`);
  assert.ok(!direct.stdout.includes(await ipOn('web1', 'front')), `web1 resolved through front's server from back: ${direct.stdout}`);

  // The default bridge: reachable by address, no names.
  await serve('plain1', LOCAL_DNS);
  await serve('plain2', LOCAL_DNS);
  const plain1Ip = await ipOn('plain1', 'bridge');
  assert.equal(await fetchFrom('plain2', plain1Ip), 'plain1');
  assert.equal(await fetchFrom('plain2', 'plain1'), undefined, 'no name resolution on the default bridge');
  assert.notEqual((await exec('plain2', 'nslookup plain1')).code, 0);
  const bridgeGw = await dockerOk(d, ['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', 'bridge']);
  assert.ok(!(await execOk('plain2', 'cat /etc/resolv.conf')).includes(bridgeGw), 'no embedded server on the default bridge');
  // Nor do default-bridge containers reach those on user networks.
  assert.equal(await fetchFrom('plain2', web2Ip), undefined);

  await dockerOk(d, ['rm', '-f', 'web1', 'web2', 'hidden', 'plain1', 'plain2']);
  await dockerOk(d, ['network', 'rm', 'front', 'back']);
});

test('network connect/disconnect on a running container changes what it reaches; inspect lists endpoints; rm needs no endpoints', async () => {
  await dockerOk(d, ['network', 'create', 'cn1']);
  await dockerOk(d, ['network', 'create', 'cn2']);
  await serve('cc1', ['--network', 'cn1', ...LOCAL_DNS]);
  await serve('cc3', ['--network', 'cn2', ...LOCAL_DNS]);
  const cc3Ip = await ipOn('cc3', 'cn2');
  assert.equal(await fetchFrom('cc1', 'cc3'), undefined);
  assert.equal(await fetchFrom('cc1', cc3Ip), undefined);

  await dockerOk(d, ['network', 'connect', 'cn2', 'cc1']);
  assert.equal(await fetchFrom('cc1', 'cc3'), 'cc3', 'cc1 reaches cc3 by name once connected to cn2');
  assert.equal(await fetchFrom('cc3', 'cc1'), 'cc1', 'and cc3 resolves cc1 on cn2');
  const cc1Ip2 = await ipOn('cc1', 'cn2');
  assert.match(cc1Ip2, /^\d+\.\d+\.\d+\.\d+$/);
  assert.match(await execOk('cc1', 'ip -o -4 addr'), new RegExp(`inet ${cc1Ip2.replaceAll('.', '\\.')}/`));
  const [cn2] = JSON.parse(await dockerOk(d, ['network', 'inspect', 'cn2']));
  const prefix = cn2.IPAM.Config[0].Subnet.split('/')[1];
  const eps = Object.values(cn2.Containers as Record<string, { Name: string; IPv4Address: string }>)
    .map((e) => `${e.Name} ${e.IPv4Address}`).sort();
  assert.deepEqual(eps, [`cc1 ${cc1Ip2}/${prefix}`, `cc3 ${cc3Ip}/${prefix}`]);
  assert.deepEqual(Object.keys(JSON.parse(await inspect('cc1', '{{json .NetworkSettings.Networks}}'))).sort(), ['cn1', 'cn2']);

  // connect --alias: one more name on that network only.
  await dockerOk(d, ['network', 'connect', '--alias', 'cc3-extra', 'cn1', 'cc3']);
  assert.equal(await fetchFrom('cc1', 'cc3-extra'), 'cc3');
  await dockerOk(d, ['network', 'disconnect', 'cn1', 'cc3']);

  await dockerOk(d, ['network', 'disconnect', 'cn2', 'cc1']);
  assert.equal(await fetchFrom('cc1', 'cc3'), undefined, 'disconnected: the name is gone');
  assert.equal(await fetchFrom('cc1', cc3Ip), undefined, 'disconnected: the address does not route');
  assert.doesNotMatch(await execOk('cc1', 'ip -o link'), /eth1/);
  assert.deepEqual(Object.keys(JSON.parse(await dockerOk(d, ['network', 'inspect', '-f', '{{json .Containers}}', 'cn2']))).length, 1);
  assert.deepEqual(Object.keys(JSON.parse(await inspect('cc1', '{{json .NetworkSettings.Networks}}'))), ['cn1']);

  const busy = await docker(d, ['network', 'rm', 'cn2']);
  assert.equal(busy.code, 1);
  assert.match(busy.stderr, /has active endpoints/);
  await dockerOk(d, ['rm', '-f', 'cc3']);
  await dockerOk(d, ['network', 'rm', 'cn2']);
  assert.equal((await docker(d, ['network', 'inspect', 'cn2'])).code, 1);
  await dockerOk(d, ['rm', '-f', 'cc1']);
  await dockerOk(d, ['network', 'rm', 'cn1']);
});

test('--network none, host and container:NAME', async () => {
  const none = await runRm(['--network', 'none'], 'ip -o link');
  assert.deepEqual(linkNames(none), ['lo']);
  const noneId = await dockerOk(d, ['create', '--network', 'none', 'busybox']);
  assert.equal(await inspect(noneId, '{{.HostConfig.NetworkMode}}'), 'none');
  await dockerOk(d, ['rm', noneId]);

  // The host's own namespace: its stable interfaces (not the veths and bridges tests come and go with) and
  // this daemon's default bridge are all there.
  const inHost = linkNames(await runRm(['--network', 'host'], 'ip -o link'));
  const stable = (await hostLinks()).filter((n) => !/^(veth|br-|bt)/.test(n));
  assert.ok(stable.includes('lo'));
  for (const n of stable) assert.ok(inHost.includes(n), `host interface ${n} seen with --network host: ${inHost}`);
  assert.ok(inHost.includes(await bridgeDevice(d, 'bridge')));

  await serve('shared1', ['--network', 'bridge']);
  const ownAddr = await execOk('shared1', 'ip -o -4 addr show eth0 | awk \'{print $4}\'');
  const ownIp = await ipOn('shared1', 'bridge');
  assert.equal(ownAddr.split('/')[0], ownIp);
  const joined = await runRm(['--network', 'container:shared1'], 'ip -o -4 addr show eth0 | awk \'{print $4}\'; hostname -i; timeout 3 wget -qO- http://127.0.0.1:8080/');
  assert.deepEqual(joined.trim().split('\n'), [ownAddr, ownIp, 'shared1']);
  await dockerOk(d, ['rm', '-f', 'shared1']);
});

test('run --network twice attaches both networks; a created container connected before start gets both', async () => {
  await dockerOk(d, ['network', 'create', 'two-a']);
  await dockerOk(d, ['network', 'create', 'two-b']);
  await serve('both1', ['--network', 'two-a', '--network', 'two-b']);
  const addrs = await execOk('both1', 'ip -o -4 addr show scope global | awk \'{print $2, $4}\'');
  const a = await ipOn('both1', 'two-a');
  const b = await ipOn('both1', 'two-b');
  assert.equal(addrs.split('\n').length, 2, addrs);
  assert.ok(addrs.includes(`${a}/`) && addrs.includes(`${b}/`), addrs);
  await dockerOk(d, ['create', '--name', 'late1', '--network', 'two-a', ...LOCAL_DNS, 'busybox', 'sleep', '300']);
  await dockerOk(d, ['network', 'connect', 'two-b', 'late1']);
  await dockerOk(d, ['start', 'late1']);
  assert.ok(await ipOn('late1', 'two-b'));
  assert.equal(await fetchFrom('late1', 'both1'), 'both1');
  await dockerOk(d, ['rm', '-f', 'both1', 'late1']);
  await dockerOk(d, ['network', 'rm', 'two-a', 'two-b']);
});

test('/etc/hosts and /etc/resolv.conf: --add-host (host-gateway), --dns, --dns-search, --link, own address', async () => {
  const gw = await dockerOk(d, ['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', 'bridge']);
  assert.match(gw, /^\d+\.\d+\.\d+\.\d+$/);
  const hosts = await runRm(['--add-host', 'foo:10.1.2.3', '--add-host', 'gw:host-gateway'], 'cat /etc/hosts');
  assert.match(hosts, /^10\.1\.2\.3\s+foo$/m);
  assert.match(hosts, new RegExp(`^${gw.replaceAll('.', '\\.')}\\s+gw$`, 'm'));
  assert.match(hosts, /^127\.0\.0\.1\s+localhost$/m);

  const resolv = await runRm(['--dns', '10.9.9.9', '--dns-search', 'example.test'], 'cat /etc/resolv.conf');
  assert.deepEqual(resolv.split('\n').filter((l) => /^(nameserver|search) /.test(l)), ['nameserver 10.9.9.9', 'search example.test']);

  // The container's own address and hostname.
  await dockerOk(d, ['run', '-d', '--name', 'selfc', '--hostname', 'selfhost', 'busybox', 'sleep', '300']);
  const selfIp = await ipOn('selfc', 'bridge');
  assert.match(await execOk('selfc', 'cat /etc/hosts'), new RegExp(`^${selfIp.replaceAll('.', '\\.')}\\s+selfhost$`, 'm'));
  assert.equal(await execOk('selfc', 'hostname -i'), selfIp);

  // --link on the default bridge: the alias is in /etc/hosts and reaches the other container.
  await serve('linked1');
  const linkedIp = await ipOn('linked1', 'bridge');
  const out = await runRm(['--link', 'linked1:alias1'], 'grep -w alias1 /etc/hosts; timeout 3 wget -qO- http://alias1:8080/');
  const [line, page] = out.trim().split('\n');
  assert.match(line, new RegExp(`^${linkedIp.replaceAll('.', '\\.')}\\s.*\\balias1\\b`));
  assert.ok(line.split(/\s+/).includes('linked1'), line);
  assert.equal(page, 'linked1');
  const bad = await docker(d, ['run', '--rm', '--link', 'no-such-ctr:x', 'busybox', 'true']);
  assert.equal(bad.code, 125);
  await dockerOk(d, ['rm', '-f', 'selfc', 'linked1']);
});

// Docker (libnetwork buildHostsFile/setupDNS): in the host's namespace the host's files are copied only when
// there is no --add-host / --dns / --dns-search / --dns-option; otherwise they are built from those.
test('--network host with --add-host, --dns and --dns-search writes them as Docker does', async () => {
  const hosts = await runRm(['--network', 'host', '--add-host', 'foo:10.1.2.3'], 'cat /etc/hosts');
  assert.match(hosts, /^10\.1\.2\.3\s+foo$/m, `--add-host with --network host: ${hosts}`);
  assert.match(hosts, /^127\.0\.0\.1\s+localhost/m);
  const resolv = await runRm(['--network', 'host', '--dns', '10.9.9.9', '--dns-search', 'example.test'], 'cat /etc/resolv.conf');
  assert.deepEqual(resolv.split('\n').filter((l) => /^(nameserver|search) /.test(l)), ['nameserver 10.9.9.9', 'search example.test'], resolv);
  // Without those options: the host's own files.
  assert.equal(await runRm(['--network', 'host'], 'cat /etc/resolv.conf'), readFileSync('/etc/resolv.conf', 'utf8'));
});

// A /24 in 172.31.0.0/16 that no host route covers.
function freeSubnet24(): string {
  const routes = readFileSync('/proc/net/route', 'utf8');
  const routed = (routes.split('\n').slice(1).map((l) => l.split(/\s+/)).filter((f) => f.length > 7));
  for (;;) {
    const third = 1 + Math.floor(Math.random() * 250);
    const addr = (172 << 24 >>> 0) + (31 << 16) + (third << 8);
    const clash = routed.some((f) => {
      const le = (h: string) => { const n = parseInt(h, 16) >>> 0; return (((n & 255) << 24) >>> 0) + (((n >>> 8) & 255) << 16) + (((n >>> 16) & 255) << 8) + (n >>> 24); };
      const dest = le(f[1]);
      const mask = le(f[7]);
      return mask !== 0 && ((addr & mask) >>> 0) === ((dest & mask) >>> 0);
    });
    if (!clash) return `172.31.${third}`;
  }
}

test('--ip on a user network with a subnet; the same address twice fails; --ip on the default bridge is refused', async () => {
  const sub = freeSubnet24();
  await dockerOk(d, ['network', 'create', '--subnet', `${sub}.0/24`, 'fixnet']);
  await serve('fixed1', ['--network', 'fixnet', '--ip', `${sub}.50`]);
  assert.equal(await ipOn('fixed1', 'fixnet'), `${sub}.50`);
  assert.match(await execOk('fixed1', 'ip -o -4 addr show eth0'), new RegExp(`inet ${sub.replaceAll('.', '\\.')}\\.50/24 `));
  assert.equal(await inspect('fixed1', '{{(index .NetworkSettings.Networks "fixnet").IPAMConfig.IPv4Address}}'), `${sub}.50`);

  const dup = await docker(d, ['run', '-d', '--name', 'fixed2', '--network', 'fixnet', '--ip', `${sub}.50`, 'busybox', 'sleep', '300']);
  assert.equal(dup.code, 125);
  assert.match(dup.stderr, /Address already in use/);
  assert.equal(await inspect('fixed2', '{{.State.Status}}'), 'created');
  // A dynamic address on the same network is any other one.
  await serve('dyn1', ['--network', 'fixnet']);
  const dynIp = await ipOn('dyn1', 'fixnet');
  assert.ok(dynIp.startsWith(`${sub}.`) && dynIp !== `${sub}.50` && dynIp !== `${sub}.1`, dynIp);
  assert.equal(await fetchFrom('dyn1', `${sub}.50`), 'fixed1');
  // Once the first one is gone the address is free for the second.
  await dockerOk(d, ['rm', '-f', 'fixed1']);
  await dockerOk(d, ['start', 'fixed2']);
  assert.equal(await ipOn('fixed2', 'fixnet'), `${sub}.50`);

  const outside = await docker(d, ['run', '--rm', '--network', 'fixnet', '--ip', '10.255.254.9', 'busybox', 'true']);
  assert.equal(outside.code, 125);
  const onDefault = await docker(d, ['run', '--rm', '--ip', `${sub}.51`, 'busybox', 'true']);
  assert.equal(onDefault.code, 125);
  assert.match(onDefault.stderr, /user specified IP address is supported on user defined networks only/);
  await dockerOk(d, ['rm', '-f', 'fixed2', 'dyn1']);
  await dockerOk(d, ['network', 'rm', 'fixnet']);
});

test('30 containers get distinct addresses; they keep them across a daemon restart; new ones get free ones', async () => {
  await dockerOk(d, ['network', 'create', 'many']);
  const names = Array.from({ length: 30 }, (_, i) => `many${i}`);
  // Six at a time: concurrent starts must not hand out one address twice.
  for (let i = 0; i < names.length; i += 6) {
    await Promise.all(names.slice(i, i + 6).map((n) => dockerOk(d, ['run', '-d', '--name', n, '--network', 'many', 'busybox', 'sleep', '300'])));
  }
  const ips = new Map<string, string>();
  for (const n of names) ips.set(n, await ipOn(n, 'many'));
  assert.equal(new Set(ips.values()).size, 30, `distinct: ${[...ips.values()].join(' ')}`);
  for (const ip of ips.values()) assert.match(ip, /^\d+\.\d+\.\d+\.\d+$/);
  assert.equal(Object.keys(JSON.parse(await dockerOk(d, ['network', 'inspect', '-f', '{{json .Containers}}', 'many']))).length, 30);

  await d.restart();
  for (const n of names) assert.equal(await ipOn(n, 'many'), ips.get(n), `${n} keeps its address`);
  assert.equal(await inspect('many0', '{{.State.Running}}'), 'true');
  // Still reachable, by address and (the embedded server is back) by name.
  assert.ok(await pings('many0', ips.get('many29')!), 'ping by address after restart');
  await waitFor('many29 resolves many0 after restart', async () => (await exec('many29', 'ping -c1 -W2 many0')).code === 0, { timeout: 15000 });
  assert.ok(await pings('many15', 'many3'));

  const used = new Set(ips.values());
  const fresh: string[] = [];
  for (const n of ['newer1', 'newer2', 'newer3']) {
    await dockerOk(d, ['run', '-d', '--name', n, '--network', 'many', 'busybox', 'sleep', '300']);
    fresh.push(await ipOn(n, 'many'));
  }
  for (const ip of fresh) assert.ok(!used.has(ip), `new container got ${ip}, already in use`);
  assert.equal(new Set(fresh).size, 3);
  assert.ok(await pings('newer1', 'many7'));

  // After a restart with the containers stopped, their addresses are free again: all of them are released.
  await dockerOk(d, ['rm', '-f', ...names, 'newer1', 'newer2', 'newer3']);
  assert.deepEqual(JSON.parse(await dockerOk(d, ['network', 'inspect', '-f', '{{json .Containers}}', 'many'])), {});
  await dockerOk(d, ['network', 'rm', 'many']);
});

test('cleanup: a daemon leaves no veths, bridges or nft table behind', async () => {
  const tablesBefore = new Set(await nftTables());
  const d2 = await startDaemon();
  let stopped = false;
  try {
    await bootstrap(d2);
    await dockerOk(d2, ['network', 'create', 'cleanup-net']);
    const ports = [await freePort(), await freePort()];
    await serve('cl1', ['-p', `127.0.0.1:${ports[0]}:8080`], d2);
    await serve('cl2', ['--network', 'cleanup-net', '-p', `127.0.0.1:${ports[1]}:8080`], d2);
    await serve('cl3', ['--network', 'cleanup-net'], d2);
    for (const [i, p] of ports.entries()) {
      const page = await waitFor(`port ${p}`, async () => (await fetch(`http://127.0.0.1:${p}/`)).text());
      assert.equal(page.trim(), `cl${i + 1}`);
    }
    const bridges = [await bridgeDevice(d2, 'bridge'), `br-${(await dockerOk(d2, ['network', 'inspect', '-f', '{{.Id}}', 'cleanup-net'])).slice(0, 12)}`];
    assert.match(bridges[0], /^bt/);
    const veths: string[] = [];
    for (const b of bridges) {
      const r = await run('ip', ['-o', 'link', 'show', 'master', b]);
      assert.equal(r.code, 0, r.stderr);
      veths.push(...linkNames(r.stdout));
    }
    assert.equal(veths.length, 3, `one veth per container: ${veths}`);
    const links = await hostLinks();
    for (const n of [...bridges, ...veths]) assert.ok(links.includes(n), n);
    // The daemon's table: new, and its rules name the containers' addresses.
    const cl2Ip = await ipOn('cl2', 'cleanup-net', d2);
    const ours: string[] = [];
    for (const t of (await nftTables()).filter((t) => !tablesBefore.has(t) && / berth_[0-9a-f]{8}$/.test(t))) {
      const r = await run('nft', ['list', ...t.split(' ')]);
      if (r.stdout.includes(`${cl2Ip}:8080`) && r.stdout.includes(`"${bridges[0]}"`)) ours.push(t);
    }
    assert.equal(ours.length, 1, `one nft table of this daemon: ${ours}`);

    await dockerOk(d2, ['rm', '-f', 'cl1', 'cl2', 'cl3']);
    await dockerOk(d2, ['network', 'rm', 'cleanup-net']);
    const afterRm = await hostLinks();
    for (const n of [...veths, bridges[1]]) assert.ok(!afterRm.includes(n), `${n} gone after rm`);
    await d2.stop();
    stopped = true;

    const afterStop = await hostLinks();
    for (const n of [...bridges, ...veths]) assert.ok(!afterStop.includes(n), `${n} left behind after the daemon stopped`);
    // Other daemons' (other test files') devices come and go; none of these names belong to this one.
    assert.ok(!afterStop.some((n) => n === bridges[0] || n === bridges[1]));
    assert.ok(!(await nftTables()).includes(ours[0]), `${ours[0]} left behind`);
    // The published ports are free again.
    for (const p of ports) await listenOnce(p);
  } finally {
    if (!stopped) await d2.stop();
  }
});

function listenOnce(port: number, host = '127.0.0.1'): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(port, host, () => s.close(() => resolve()));
  });
}

// A random high port nobody listens on now.
async function freePort(): Promise<number> {
  for (;;) {
    const p = 20000 + Math.floor(Math.random() * 10000);
    if (await listenOnce(p, '0.0.0.0').then(() => true, () => false)) return p;
  }
}

test('network API: duplicate name 409, predefined 403, unknown 404, prune and ls filters', async () => {
  const first = await api(d.socket, 'POST', '/networks/create', { body: { Name: 'dup-net' } });
  assert.equal(first.status, 201, first.text);
  assert.match(first.json.Id, /^[0-9a-f]{64}$/);
  const dup = await api(d.socket, 'POST', '/networks/create', { body: { Name: 'dup-net' } });
  assert.equal(dup.status, 409);
  assert.match(dup.json.message, /network with name dup-net already exists/);
  const cliDup = await docker(d, ['network', 'create', 'dup-net']);
  assert.equal(cliDup.code, 1);
  assert.match(cliDup.stderr, /already exists/);

  const rmBridge = await api(d.socket, 'DELETE', '/networks/bridge');
  assert.equal(rmBridge.status, 403);
  assert.match(rmBridge.json.message, /bridge is a pre-defined network and cannot be removed/);
  assert.equal((await docker(d, ['network', 'rm', 'host'])).code, 1);

  const missing = await api(d.socket, 'GET', '/networks/x');
  assert.equal(missing.status, 404);
  assert.equal(missing.json.message, 'network x not found');
  const cliMissing = await docker(d, ['network', 'inspect', 'x']);
  assert.equal(cliMissing.code, 1);
  assert.match(cliMissing.stderr, /network x not found/);

  // ls filters.
  await dockerOk(d, ['network', 'create', '--label', 'team=net', 'used-net']);
  await dockerOk(d, ['network', 'create', 'idle-net']);
  const ls = async (...f: string[]) => (await dockerOk(d, ['network', 'ls', '--format', '{{.Name}}', ...f.flatMap((x) => ['--filter', x])])).split('\n').filter(Boolean).sort();
  // (Networks of earlier tests that failed half-way may still be there.)
  const custom = await ls('type=custom');
  for (const n of ['dup-net', 'idle-net', 'used-net']) assert.ok(custom.includes(n), `${n} in ${custom}`);
  for (const n of ['bridge', 'host', 'none']) assert.ok(!custom.includes(n), `${n} in ${custom}`);
  assert.deepEqual(await ls('type=builtin'), ['bridge', 'host', 'none']);
  assert.deepEqual(await ls('name=idle'), ['idle-net']);
  assert.deepEqual(await ls('name=-net'), ['dup-net', 'idle-net', 'used-net']);
  assert.deepEqual(await ls('driver=null'), ['none']);
  assert.deepEqual((await ls('driver=bridge')).filter((n) => !custom.includes(n) || n.endsWith('-net')), ['bridge', 'dup-net', 'idle-net', 'used-net']);
  assert.deepEqual(await ls('driver=bridge', 'type=custom', 'label=team=net'), ['used-net']);
  const badFilter = await docker(d, ['network', 'ls', '--filter', 'type=weird']);
  assert.equal(badFilter.code, 1);

  // prune: unused custom networks only.
  await dockerOk(d, ['run', '-d', '--name', 'prune-user', '--network', 'used-net', 'busybox', 'sleep', '300']);
  const pruned = await dockerOk(d, ['network', 'prune', '-f']);
  assert.match(pruned, /dup-net/);
  assert.match(pruned, /idle-net/);
  assert.doesNotMatch(pruned, /used-net|bridge|host|none/);
  assert.deepEqual(await ls(), ['bridge', 'host', 'none', 'used-net']);
  await dockerOk(d, ['rm', '-f', 'prune-user']);
  await dockerOk(d, ['network', 'rm', 'used-net']);
});
