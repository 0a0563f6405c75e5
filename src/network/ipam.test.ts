import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allocate, checkStatic, DEFAULT_POOLS, formatIp, macFor, overlaps, parseCidr, parseIp, parseProcRoutes, pickSubnet } from './ipam.ts';

test('parseIp/formatIp round trip and reject bad addresses', () => {
  assert.equal(formatIp(parseIp('172.17.0.2')!), '172.17.0.2');
  assert.equal(formatIp(parseIp('255.255.255.255')!), '255.255.255.255');
  for (const bad of ['256.1.1.1', '1.2.3', '01.2.3.4', 'a.b.c.d', '1.2.3.4/8']) assert.equal(parseIp(bad), undefined, bad);
});

test('parseCidr refuses host bits in a subnet, keeps them when asked (bip)', () => {
  assert.throws(() => parseCidr('10.1.2.3/16'), /it should be 10\.1\.0\.0\/16/);
  const bip = parseCidr('10.1.2.3/16', { strict: false });
  assert.equal(formatIp(bip.addr), '10.1.0.0');
  assert.equal(formatIp(bip.ip), '10.1.2.3');
  assert.throws(() => parseCidr('10.0.0.0/33'), /invalid CIDR/);
});

test('pickSubnet takes the first pool subnet that overlaps nothing in use', () => {
  assert.equal(formatIp(pickSubnet(DEFAULT_POOLS, []).addr), '172.17.0.0');
  const used = [parseCidr('172.17.0.0/16'), parseCidr('172.18.5.0/24')];
  const s = pickSubnet(DEFAULT_POOLS, used);
  assert.equal(`${formatIp(s.addr)}/${s.prefix}`, '172.19.0.0/16');
  // A host route covering 172.16.0.0/12 pushes new networks into 192.168.0.0/16 in /20 steps.
  const s2 = pickSubnet(DEFAULT_POOLS, [parseCidr('172.16.0.0/12'), parseCidr('192.168.0.0/20')]);
  assert.equal(`${formatIp(s2.addr)}/${s2.prefix}`, '192.168.16.0/20');
  assert.throws(() => pickSubnet([{ base: '10.0.0.0/24', size: 24 }], [parseCidr('10.0.0.0/8')]), /fully subnetted/);
});

test('overlaps is symmetric and prefix aware', () => {
  assert.ok(overlaps(parseCidr('10.0.0.0/8'), parseCidr('10.3.0.0/16')));
  assert.ok(overlaps(parseCidr('10.3.0.0/16'), parseCidr('10.0.0.0/8')));
  assert.ok(!overlaps(parseCidr('10.3.0.0/16'), parseCidr('10.4.0.0/16')));
});

test('allocate skips network, gateway, broadcast, taken and reserved addresses, round robin after the last', () => {
  const s = { subnet: parseCidr('10.0.0.0/29'), gateway: parseIp('10.0.0.1')!, reserved: [parseIp('10.0.0.3')!] };
  const taken = new Set<number>();
  const got: string[] = [];
  let last: number | undefined;
  for (let i = 0; i < 4; i++) {
    last = allocate(s, taken, last);
    taken.add(last);
    got.push(formatIp(last));
  }
  assert.deepEqual(got, ['10.0.0.2', '10.0.0.4', '10.0.0.5', '10.0.0.6']);
  assert.throws(() => allocate(s, taken, last), /no available IPv4 addresses/);
  // A released address is not handed out again at once: the cursor moves on and wraps.
  taken.delete(parseIp('10.0.0.4')!);
  taken.delete(parseIp('10.0.0.6')!);
  assert.equal(formatIp(allocate(s, taken, parseIp('10.0.0.4'))), '10.0.0.6');
});

test('allocate stays inside --ip-range', () => {
  const s = { subnet: parseCidr('10.0.0.0/16'), gateway: parseIp('10.0.0.1')!, range: parseCidr('10.0.5.0/30') };
  const taken = new Set<number>();
  const a = allocate(s, taken);
  taken.add(a);
  const b = allocate(s, taken, a);
  taken.add(b);
  assert.deepEqual([a, b].map(formatIp), ['10.0.5.0', '10.0.5.1']);
});

test('checkStatic refuses addresses outside the subnet, special or in use', () => {
  const s = { subnet: parseCidr('10.0.0.0/24'), gateway: parseIp('10.0.0.1')! };
  const taken = new Set([parseIp('10.0.0.9')!]);
  assert.doesNotThrow(() => checkStatic(s, parseIp('10.0.0.50')!, taken));
  assert.throws(() => checkStatic(s, parseIp('10.0.1.5')!, taken), /no configured subnet/);
  for (const ip of ['10.0.0.0', '10.0.0.1', '10.0.0.255', '10.0.0.9']) assert.throws(() => checkStatic(s, parseIp(ip)!, taken), /Address already in use/, ip);
});

test('macFor is Docker 02:42 plus the address', () => {
  assert.equal(macFor(parseIp('172.17.0.2')!), '02:42:ac:11:00:02');
});

test('parseProcRoutes reads little-endian destinations and masks, ignoring the default route', () => {
  const text = [
    'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
    'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0',
    'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
    'br0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0',
  ].join('\n');
  const r = parseProcRoutes(text).map((c) => `${formatIp(c.addr)}/${c.prefix}`);
  assert.deepEqual(r, ['192.0.2.0/24', '172.17.0.0/16']);
});
