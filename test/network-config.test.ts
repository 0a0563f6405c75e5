// Daemon-level network settings and the less common network kinds: --bip and default-address-pools, the
// embedded DNS server forwarding what is not ours, internal networks, a named bridge device, --ip-range.
// Real berthd, crun and the docker CLI; the only DNS upstream is a fake one on 127.0.0.77.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { startDaemon, type TestDaemon } from './harness.ts';
import { docker, dockerOk, bootstrap } from './helpers.ts';
import { parseMessage, buildResponse } from '../src/network/dns-message.ts';

let d: TestDaemon;
let upstream: dgram.Socket | undefined;
const asked: string[] = [];

before(async () => {
  d = await startDaemon(['--bip', '10.213.7.1/24'], { config: { 'default-address-pools': [{ base: '10.214.0.0/16', size: 24 }] } });
  await bootstrap(d);
});
after(async () => {
  upstream?.close();
  await d?.stop();
});

const inspect = (ref: string, fmt: string) => dockerOk(d, ['inspect', '-f', fmt, ref]);

test('--bip sets the default bridge; new networks come from default-address-pools', async () => {
  assert.equal(await dockerOk(d, ['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Subnet}} {{(index .IPAM.Config 0).Gateway}}', 'bridge']), '10.213.7.0/24 10.213.7.1');
  const ip = await dockerOk(d, ['run', '--rm', 'busybox', 'sh', '-c', "ip -o -4 addr show eth0 | awk '{print $4}'"]);
  assert.match(ip, /^10\.213\.7\.\d+\/24$/);
  await dockerOk(d, ['network', 'create', 'pool1']);
  await dockerOk(d, ['network', 'create', 'pool2']);
  try {
    const subnets = await Promise.all(['pool1', 'pool2'].map((n) => dockerOk(d, ['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Subnet}}', n])));
    assert.deepEqual(subnets, ['10.214.0.0/24', '10.214.1.0/24']);
  } finally {
    await docker(d, ['network', 'rm', 'pool1', 'pool2']);
  }
});

test('the embedded DNS server forwards names that are not containers to the --dns upstream', async () => {
  upstream = dgram.createSocket('udp4');
  upstream.on('message', (msg, rinfo) => {
    const q = parseMessage(msg);
    asked.push(q.questions[0]?.name ?? '');
    const answers = q.questions[0]?.type === 1 ? [{ name: q.questions[0].name, type: 1, ttl: 60, data: '10.1.2.3' }] : [];
    upstream!.send(buildResponse(q, { answers }), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve, reject) => {
    upstream!.once('error', reject);
    upstream!.bind(53, '127.0.0.77', () => resolve());
  });
  await dockerOk(d, ['network', 'create', 'fwd']);
  try {
    await dockerOk(d, ['run', '-d', '--name', 'fwd-peer', '--network', 'fwd', 'busybox', 'sleep', '300']);
    const out = await dockerOk(d, ['run', '--rm', '--network', 'fwd', '--dns', '127.0.0.77', 'busybox', 'sh', '-c',
      'cat /etc/resolv.conf; nslookup outside.example.test; nslookup fwd-peer']);
    const gw = await dockerOk(d, ['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', 'fwd']);
    // The container asks the embedded server only; the upstream is berthd's business.
    assert.match(out, new RegExp(`^nameserver ${gw.replace(/\./g, '\\.')}$`, 'm'));
    assert.doesNotMatch(out, /nameserver 127\.0\.0\.77/);
    assert.match(out, /Name:\s+outside\.example\.test\s+Address:\s+10\.1\.2\.3/);
    const peerIp = await inspect('fwd-peer', '{{.NetworkSettings.Networks.fwd.IPAddress}}');
    assert.match(out, new RegExp(`Name:\\s+fwd-peer\\s+Address:\\s+${peerIp.replace(/\./g, '\\.')}`));
    assert.ok(asked.includes('outside.example.test'));
    assert.ok(!asked.some((n) => n.startsWith('fwd-peer')), 'container names are answered, not forwarded');
  } finally {
    await docker(d, ['rm', '-f', 'fwd-peer']);
    await docker(d, ['network', 'rm', 'fwd']);
  }
});

test('an internal network: its containers reach each other but nothing outside, and have no default route', async () => {
  await dockerOk(d, ['network', 'create', '--internal', 'inner']);
  try {
    await dockerOk(d, ['run', '-d', '--name', 'in-a', '--network', 'inner', 'busybox', 'sleep', '300']);
    await dockerOk(d, ['run', '-d', '--name', 'out-b', 'busybox', 'sleep', '300']);
    const outIp = await inspect('out-b', '{{.NetworkSettings.IPAddress}}');
    const routes = await dockerOk(d, ['exec', 'in-a', 'ip', 'route']);
    assert.doesNotMatch(routes, /default/);
    assert.equal((await docker(d, ['run', '--rm', '--network', 'inner', 'busybox', 'ping', '-c1', '-W1', 'in-a'])).code, 0);
    assert.notEqual((await docker(d, ['exec', 'in-a', 'ping', '-c1', '-W1', outIp])).code, 0);
    assert.equal(await inspect('inner', '{{.Internal}}'), 'true');
  } finally {
    await docker(d, ['rm', '-f', 'in-a', 'out-b']);
    await docker(d, ['network', 'rm', 'inner']);
  }
});

test('-o com.docker.network.bridge.name names the device; --ip-range bounds the addresses; --gateway is used', async () => {
  const dev = `btn${process.pid % 100000}`;
  await dockerOk(d, ['network', 'create', '-o', `com.docker.network.bridge.name=${dev}`, '--subnet', '10.215.0.0/16', '--ip-range', '10.215.9.0/24', '--gateway', '10.215.0.254', '--label', 'team=net', 'ranged']);
  try {
    assert.ok(existsSync(`/sys/class/net/${dev}`));
    assert.equal(await dockerOk(d, ['network', 'ls', '--filter', 'label=team=net', '--format', '{{.Name}}']), 'ranged');
    const out = await dockerOk(d, ['run', '--rm', '--network', 'ranged', 'busybox', 'sh', '-c', "ip -o -4 addr show eth0 | awk '{print $4}'; ip route | grep default"]);
    assert.match(out, /^10\.215\.9\.\d+\/16$/m);
    assert.match(out, /default via 10\.215\.0\.254/);
    const dup = await docker(d, ['network', 'create', '-o', `com.docker.network.bridge.name=${dev}`, 'ranged2']);
    assert.notEqual(dup.code, 0);
    const overlap = await docker(d, ['network', 'create', '--subnet', '10.215.128.0/17', 'ranged3']);
    assert.notEqual(overlap.code, 0);
    assert.match(overlap.stderr, /overlaps/);
    const hostBits = await docker(d, ['network', 'create', '--subnet', '10.216.1.1/16', 'ranged4']);
    assert.match(hostBits.stderr, /it should be 10\.216\.0\.0\/16/);
  } finally {
    await docker(d, ['network', 'rm', 'ranged']);
  }
  assert.ok(!existsSync(`/sys/class/net/${dev}`), 'network rm deletes the bridge device');
});
