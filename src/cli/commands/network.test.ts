import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFlags, FlagError } from '../flags.ts';
import {
  connectRequest, createRequest, goTimeString, ipamConfig, kvMap, networkConnectCommand, networkCreateCommand, parseIP,
  readAsCSV, renderNetworks, validateLabel, type IpamOptions, type NetworkSummary,
} from './network.ts';

const createFlags = (argv: string[]) => parseFlags(networkCreateCommand.flags, argv).flags;
const connectFlags = (argv: string[]) => parseFlags(networkConnectCommand.flags, argv).flags;

test('string-slice flags read one CSV record per occurrence', () => {
  assert.deepEqual(readAsCSV(''), []);
  assert.deepEqual(readAsCSV('a,b'), ['a', 'b']);
  assert.deepEqual(readAsCSV(' a, b'), [' a', ' b']);
  assert.deepEqual(readAsCSV('a,,b'), ['a', '', 'b']);
  assert.deepEqual(readAsCSV('"a,b",c'), ['a,b', 'c']);
  assert.deepEqual(readAsCSV('"a""b"'), ['a"b']);
  assert.throws(() => readAsCSV('a"b'), /^Error: parse error on line 1, column 2: bare " in non-quoted-field$/);
  assert.throws(() => readAsCSV('a,"b'), /column 5: extraneous or missing " in quoted-field$/);
  assert.throws(() => readAsCSV('"a"x'), /column 3: extraneous or missing " in quoted-field$/);
  assert.deepEqual(createFlags(['--subnet', '10.1.0.0/16,fd00::/64', '--subnet', '10.2.0.0/16']).list('subnet'), ['10.1.0.0/16', 'fd00::/64', '10.2.0.0/16']);
  assert.throws(() => createFlags(['--subnet', 'a"b']), (err: Error) => err instanceof FlagError
    && err.message === 'invalid argument "a\\"b" for "--subnet" flag: parse error on line 1, column 2: bare " in non-quoted-field');
});

test('labels need a key without blanks; key=value maps keep the last value and sort keys', () => {
  assert.equal(validateLabel('a=1'), 'a=1');
  assert.equal(validateLabel('a'), 'a');
  assert.throws(() => validateLabel('=x'), /invalid label '=x': empty name/);
  assert.throws(() => validateLabel('a b=1'), /label 'a b' contains whitespaces/);
  assert.deepEqual(Object.entries(kvMap(['z=1', 'a', 'z=2', 'm=x=y'])), [['a', ''], ['m', 'x=y'], ['z', '2']]);
});

test('addresses parse like netip.ParseAddr', () => {
  assert.deepEqual([...parseIP('10.1.2.3')!.bytes.subarray(10)], [0xff, 0xff, 10, 1, 2, 3]);
  assert.equal(parseIP('10.1.2.3')!.is4, true);
  assert.deepEqual([...parseIP('fd00::1')!.bytes], [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  assert.deepEqual([...parseIP('::ffff:1.2.3.4')!.bytes.subarray(10)], [0xff, 0xff, 1, 2, 3, 4]);
  assert.equal(parseIP('::ffff:1.2.3.4')!.is4, false);
  for (const bad of ['01.2.3.4', '1.2.3', '256.1.1.1', 'zz', '', '1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7:8::', 'fe80::1%eth0', '12345::']) {
    assert.equal(parseIP(bad), undefined, bad);
  }
  assert.ok(parseIP('::'));
  assert.ok(parseIP('1:2:3:4:5:6:7:8'));
});

const ipam = (o: Partial<IpamOptions>) => ipamConfig({ driver: 'default', subnets: [], ipRanges: [], gateways: [], auxAddresses: [], options: {}, ...o });

test('IPAM config: ranges, gateways and aux addresses go with the subnet containing them', () => {
  assert.deepEqual(ipam({}), { Driver: 'default', Options: {}, Config: [] });
  assert.deepEqual(ipam({
    subnets: ['10.1.0.0/16', '10.2.0.0/16', 'fd00::/64'], gateways: ['fd00::1', '10.1.0.1'], ipRanges: ['10.1.2.0/24'],
    auxAddresses: ['b=10.1.0.7', 'a=10.2.0.5', 'c=10.1.0.8'],
  }).Config, [
    { Subnet: '10.1.0.0/16', IPRange: '10.1.2.0/24', Gateway: '10.1.0.1', AuxiliaryAddresses: { b: '10.1.0.7', c: '10.1.0.8' } },
    { Subnet: '10.2.0.0/16', AuxiliaryAddresses: { a: '10.2.0.5' } },
    { Subnet: 'fd00::/64', Gateway: 'fd00::1' },
  ]);
  // One subnet is never parsed by the CLI: the daemon judges it.
  assert.deepEqual(ipam({ subnets: ['foo'] }).Config, [{ Subnet: 'foo' }]);
  // An IPv4 gateway fits an IPv4-mapped IPv6 subnet, as with Go's IPNet.Contains.
  assert.deepEqual(ipam({ subnets: ['::ffff:10.0.0.0/104'], gateways: ['10.0.0.1'] }).Config, [{ Subnet: '::ffff:10.0.0.0/104', Gateway: '10.0.0.1' }]);
  assert.equal(ipam({ subnets: ['10.0.0.0/8', '::/0'] }).Config.length, 2, 'different families never overlap');
});

test("IPAM config errors are docker's", () => {
  const fails = (o: Partial<IpamOptions>, message: string) => assert.throws(() => ipam(o), (err: Error) => err.message === message);
  fails({ gateways: ['10.2.0.1'] }, 'every ip-range or gateway must have a corresponding subnet');
  fails({ subnets: ['10.1.0.0/16'], ipRanges: ['10.1.0.0/24', '10.1.1.0/24'] }, 'every ip-range or gateway must have a corresponding subnet');
  fails({ subnets: ['10.1.0.0/16'], gateways: ['10.2.0.1'] }, 'no matching subnet for gateway 10.2.0.1');
  fails({ subnets: ['10.1.0.0/16'], gateways: ['zz'] }, 'no matching subnet for gateway zz');
  fails({ subnets: ['10.1.0.0/16'], ipRanges: ['zz/8'] }, 'invalid CIDR address: zz/8');
  fails({ subnets: ['10.1.0.0/16'], ipRanges: ['10.3.0.0/24'] }, 'no matching subnet for range 10.3.0.0/24');
  fails({ subnets: ['10.1.0.0/16'], auxAddresses: ['a=10.3.0.1'] }, 'no matching subnet for aux-address 10.3.0.1');
  fails({ subnets: ['10.1.0.0/16', '10.1.2.0/24'] }, 'multiple overlapping subnet configuration is not supported');
  fails({ subnets: ['fd00::/64', 'fd00::1/60'] }, 'multiple overlapping subnet configuration is not supported');
  fails({ subnets: ['a,b', 'c'] }, 'invalid subnet: invalid CIDR address: c');
  fails({ subnets: ['10.1.0.0/16', '10.1.0.0/33'] }, 'invalid subnet: invalid CIDR address: 10.1.0.0/33');
  fails({ subnets: ['10.1.0.0/16', '10.2.0.0/16'], ipRanges: ['10.1.0.0/24', '10.1.1.0/24'] },
    'cannot configure multiple ranges (10.1.1.0/24, 10.1.0.0/24) on the same subnet (10.1.0.0/16)');
  fails({ subnets: ['10.1.0.0/16', '10.2.0.0/16'], gateways: ['10.1.0.1', '10.1.0.2'] },
    'cannot configure multiple gateways (10.1.0.2, 10.1.0.1) for the same subnet (10.1.0.0/16)');
});

test('network create flags become the body docker sends', () => {
  assert.equal(JSON.stringify(createRequest('foo', createFlags([]))),
    '{"Driver":"bridge","Scope":"","IPAM":{"Driver":"default","Options":{},"Config":[]},"Internal":false,"Attachable":false,'
    + '"Ingress":false,"ConfigOnly":false,"ConfigFrom":null,"Options":{},"Labels":{},"Name":"foo"}');
  const body = createRequest('bar', createFlags([
    '-d', 'macvlan', '--subnet', '10.1.0.0/16', '--gateway', '10.1.0.1', '--ip-range', '10.1.2.0/24', '--aux-address', 'b=10.1.0.7',
    '--internal', '--attachable', '--label', 'y', '--label', 'x=1', '-o', 'com.a=b', '-o', 'c', '--ipv6', '--ipam-driver', 'foo',
    '--ipam-opt', 'q=r', '--scope', 'local', '--config-from', 'cf', '--ingress',
  ]));
  assert.equal(JSON.stringify(body),
    '{"Driver":"macvlan","Scope":"local","EnableIPv6":true,"IPAM":{"Driver":"foo","Options":{"q":"r"},"Config":[{"Subnet":"10.1.0.0/16",'
    + '"IPRange":"10.1.2.0/24","Gateway":"10.1.0.1","AuxiliaryAddresses":{"b":"10.1.0.7"}}]},"Internal":true,"Attachable":true,'
    + '"Ingress":true,"ConfigOnly":false,"ConfigFrom":{"Network":"cf"},"Options":{"c":"","com.a":"b"},"Labels":{"x":"1","y":""},"Name":"bar"}');
  const off = createRequest('baz', createFlags(['--ipv4=false', '--ipv6=false', '--config-only']));
  assert.equal(off.EnableIPv4, false);
  assert.equal(off.EnableIPv6, false);
  assert.equal(off.ConfigOnly, true);
});

test('network connect flags become a whole EndpointSettings', () => {
  assert.equal(JSON.stringify(connectRequest('web', connectFlags([]))),
    '{"Container":"web","EndpointConfig":{"IPAMConfig":{},"Links":null,"Aliases":[],"MacAddress":"","DriverOpts":{},"GwPriority":0,'
    + '"NetworkID":"","EndpointID":"","Gateway":"","IPAddress":"","IPPrefixLen":0,"IPv6Gateway":"","GlobalIPv6Address":"",'
    + '"GlobalIPv6PrefixLen":0,"DNSNames":null}}');
  const ep = connectRequest('web', connectFlags([
    '--alias', 'a,b', '--alias', 'c', '--ip', '10.0.0.5', '--ip6', 'fd00::05', '--link', 'x:y', '--link', 'z',
    '--driver-opt', 'k2=v2, k = v ', '--link-local-ip', '169.254.1.1', '--gw-priority', '-3',
  ])).EndpointConfig as Record<string, unknown>;
  assert.deepEqual(ep.IPAMConfig, { IPv4Address: '10.0.0.5', IPv6Address: 'fd00::05', LinkLocalIPs: ['169.254.1.1'] });
  assert.deepEqual(ep.Aliases, ['a', 'b', 'c']);
  assert.deepEqual(ep.Links, ['x:y', 'z']);
  assert.equal(JSON.stringify(ep.DriverOpts), '{"k":"v","k2":"v2"}');
  assert.equal(ep.GwPriority, -3);
  assert.throws(() => connectRequest('web', connectFlags(['--driver-opt', 'kv'])), /^Error: invalid key\/value pair format in driver options$/);
  assert.throws(() => connectRequest('web', connectFlags(['--driver-opt', '=v'])), /invalid key\/value pair format/);
  assert.throws(() => connectFlags(['--link', 'a:b:c']), /invalid argument "a:b:c" for "--link" flag: bad format for links: a:b:c/);
});

test('CreatedAt prints like Go prints the decoded time', () => {
  const old = process.env.TZ;
  process.env.TZ = 'UTC';
  try {
    assert.equal(goTimeString('2025-03-01T10:11:12.123456789Z'), '2025-03-01 10:11:12.123456789 +0000 UTC');
    assert.equal(goTimeString('2025-03-01T10:11:12.5Z'), '2025-03-01 10:11:12.5 +0000 UTC');
    assert.equal(goTimeString('2025-03-01T10:11:12.000001Z'), '2025-03-01 10:11:12.000001 +0000 UTC');
    assert.equal(goTimeString('0001-01-01T00:00:00Z'), '0001-01-01 00:00:00 +0000 UTC');
    assert.equal(goTimeString('2025-03-01T10:11:12+02:00'), '2025-03-01 10:11:12 +0200 +0200', 'an offset that is not local');
    assert.equal(goTimeString('2025-03-01T10:11:12+00:00'), '2025-03-01 10:11:12 +0000 UTC', 'the local offset');
    assert.equal(goTimeString(undefined), '0001-01-01 00:00:00 +0000 UTC');
  } finally {
    if (old === undefined) delete process.env.TZ;
    else process.env.TZ = old;
  }
});

const nets: NetworkSummary[] = [
  { Name: 'net10', Id: 'a1b2c3d4e5f60718293a4b5c6d7e8f90', Created: '2025-03-01T10:11:12Z', Scope: 'local', Driver: 'bridge', EnableIPv4: true, Labels: { b: '2', 'com.x-y': '1' } },
  { Name: 'net2', Id: '0000c3d4e5f60718293a', Scope: 'local', Driver: 'bridge', EnableIPv4: true, EnableIPv6: true, Internal: true, Labels: {} },
  { Name: 'bridge', Id: 'ffffc3d4e5f60718293a', Scope: 'local', Driver: 'bridge', Labels: null },
  { Name: 'Zeta', Id: 'eeee', Scope: 'local', Driver: 'null' },
];

test('network ls: the default table, sorted by name in natural order', () => {
  assert.equal(renderNetworks(nets, 'table', { quiet: false, trunc: true }), [
    'NETWORK ID     NAME      DRIVER    SCOPE',
    'eeee           Zeta      null      local',
    'ffffc3d4e5f6   bridge    bridge    local',
    '0000c3d4e5f6   net2      bridge    local',
    'a1b2c3d4e5f6   net10     bridge    local',
    '',
  ].join('\n'));
  assert.equal(renderNetworks(nets, 'table', { quiet: true, trunc: false }), 'eeee\nffffc3d4e5f60718293a\n0000c3d4e5f60718293a\na1b2c3d4e5f60718293a4b5c6d7e8f90\n');
  assert.equal(renderNetworks([], 'table', { quiet: false, trunc: true }), 'NETWORK ID   NAME      DRIVER    SCOPE\n');
});

test('network ls: templates, json and raw', () => {
  assert.equal(renderNetworks(nets.slice(0, 1), 'json', { quiet: false, trunc: true }),
    '{"CreatedAt":"2025-03-01 10:11:12 +0000 UTC","Driver":"bridge","ID":"a1b2c3d4e5f6","IPv4":"true","IPv6":"false",'
    + '"Internal":"false","Labels":"b=2,com.x-y=1","Name":"net10","Scope":"local"}\n');
  assert.equal(renderNetworks(nets, 'table {{.Label "com.x-y"}}|{{.Internal}}|{{.IPv6}}', { quiet: false, trunc: true }),
    'x y|INTERNAL|IPV6\n|false|false\n|false|false\n|true|true\n1|false|false\n');
  assert.equal(renderNetworks(nets.slice(1, 2), 'raw', { quiet: false, trunc: true }), 'network_id: 0000c3d4e5f6\nname: net2\ndriver: bridge\nscope: local\n\n');
  assert.equal(renderNetworks(nets.slice(1, 2), 'raw', { quiet: true, trunc: true }), 'network_id: 0000c3d4e5f6\n');
  assert.throws(() => renderNetworks(nets, '{{.Foo}}', { quiet: false, trunc: true }),
    /template parsing error: template: :1:2: executing "" at <.Foo>: can't evaluate field Foo in type \*network.networkContext/);
});
