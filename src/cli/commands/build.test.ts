import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFlags } from '../flags.ts';
import { encodeQuery } from '../client.ts';
import {
  buildFlags, buildPruneFilters, buildPruneOutput, buildQuery, isGitURL, isURL, kvMap, sendingLine,
  validateBuildArg, validateExtraHost, withProxyArgs,
} from './build.ts';

function query(argv: string[], relDockerfile = 'Dockerfile'): string {
  const { flags } = parseFlags(buildFlags, argv);
  return decodeURIComponent(encodeQuery(buildQuery(flags, relDockerfile, kvMap(flags.list('build-arg'), null))));
}

test('flags → POST /build query: only what is set, as docker 28 sends it', () => {
  assert.equal(query([]), '?dockerfile=Dockerfile&version=1');
  assert.equal(query(['-t', 'foo:1', '-t', 'bar', '--build-arg', 'B=2', '--build-arg', 'A', '--label', 'x=y', '--label', 'z']),
    '?buildargs={"A":null,"B":"2"}&dockerfile=Dockerfile&labels={"x":"y","z":""}&t=foo:1&t=bar&version=1');
  assert.equal(query([
    '--no-cache', '--pull', '--rm=false', '--force-rm', '-q', '--network', 'host', '--add-host', 'a:1.2.3.4', '--add-host', 'b=::1',
    '--platform', 'Linux/AMD64', '--cache-from', 'x,y', '--cache-from', 'z', '--shm-size', '64m', '-m', '128m', '--memory-swap', '-1',
    '-c', '5', '--cpuset-cpus', '0-1', '--cpuset-mems', '0', '--cpu-period', '1000', '--cpu-quota', '500', '--target', 't1',
    '--cgroup-parent', 'cg', '--isolation', 'default', '--security-opt', 'a=b', '--ulimit', 'nofile=10:20',
  ]),
  '?cachefrom=["x","y","z"]&cgroupparent=cg&cpuperiod=1000&cpuquota=500&cpusetcpus=0-1&cpusetmems=0&cpushares=5'
    + '&dockerfile=Dockerfile&extrahosts=a:1.2.3.4&extrahosts=b:::1&forcerm=1&memory=134217728&memswap=-1&networkmode=host'
    + '&nocache=1&platform=linux/amd64&pull=1&q=1&rm=0&securityopt=a=b&shmsize=67108864&target=t1'
    + '&ulimits=[{"Name":"nofile","Hard":20,"Soft":10}]&version=1');
  assert.equal(query(['--isolation', 'hyperv', '--network', 'default'], '.dockerfile.abc'), '?dockerfile=.dockerfile.abc&isolation=hyperv&version=1');
});

test('flag validation with docker\'s messages', () => {
  assert.equal(validateExtraHost('a=1.2.3.4'), 'a:1.2.3.4');
  assert.equal(validateExtraHost('b:[::1]'), 'b:::1');
  assert.equal(validateExtraHost('gw:host-gateway'), 'gw:host-gateway');
  assert.throws(() => validateExtraHost('foo'), { message: 'bad format for add-host: "foo"' });
  assert.throws(() => validateExtraHost('foo:1.2.3'), { message: 'invalid IP address in add-host: "1.2.3"' });
  assert.equal(validateBuildArg('A', { A: 'from-env' }), 'A=from-env');
  assert.equal(validateBuildArg('A', {}), 'A');
  assert.equal(validateBuildArg('A=', {}), 'A=');
  assert.throws(() => validateBuildArg('=x'), { message: 'invalid environment variable: =x' });
  assert.throws(() => parseFlags(buildFlags, ['-t', 'BAD:tag']), { message: 'invalid argument "BAD:tag" for "-t, --tag" flag: invalid reference format: repository name (library/BAD) must be lowercase' });
  assert.throws(() => parseFlags(buildFlags, ['--label', ' a b=c']), { message: 'invalid argument " a b=c" for "--label" flag: label \'a b\' contains whitespaces' });
});

test('proxies from config.json become build args unless already given', () => {
  const proxies = { default: { httpProxy: 'http://p:3128', noProxy: 'x' }, 'unix:///other.sock': { httpProxy: 'http://o' } };
  const args = withProxyArgs(kvMap(['http_proxy=mine'], null), proxies, 'unix:///run/berth.sock');
  assert.deepEqual(Object.fromEntries(args), { http_proxy: 'mine', HTTP_PROXY: 'http://p:3128', NO_PROXY: 'x', no_proxy: 'x' });
  assert.equal(withProxyArgs(new Map(), proxies, 'unix:///other.sock').get('HTTP_PROXY'), 'http://o');
  assert.equal(withProxyArgs(new Map(), undefined, 'x').size, 0);
});

test('remote contexts: URLs and Git URLs', () => {
  assert.ok(isURL('https://example.com/ctx.tar'));
  assert.ok(!isURL('example.com/ctx.tar'));
  assert.ok(isGitURL('https://example.com/repo.git'));
  assert.ok(isGitURL('https://example.com/repo.git#main:sub'));
  assert.ok(isGitURL('github.com/docker/cli'));
  assert.ok(isGitURL('git@github.com:docker/cli.git'));
  assert.ok(!isGitURL('https://example.com/ctx.tar'));
});

test('upload progress line', () => {
  assert.equal(sendingLine(4608), 'Sending build context to Docker daemon  4.608kB');
  assert.equal(sendingLine(10240), 'Sending build context to Docker daemon  10.24kB');
  assert.equal(sendingLine(123_456_789), 'Sending build context to Docker daemon  123.5MB');
});

test('builder prune: filters and report', () => {
  assert.equal(buildPruneFilters([]), '');
  assert.equal(buildPruneFilters(['until=24h', 'label=b', 'label=a']), '{"label":{"a":true,"b":true},"until":{"24h":true}}');
  assert.equal(buildPruneFilters(['label!=keep'], ['label=keep', 'until=1h']), '{"label!":{"keep":true},"until":{"1h":true}}');
  assert.equal(buildPruneOutput({ CachesDeleted: null, SpaceReclaimed: 0 }), 'Total reclaimed space: 0B\n');
  assert.equal(buildPruneOutput({ CachesDeleted: ['abc', 'def'], SpaceReclaimed: 12345 }),
    'Deleted build cache objects:\nabc\ndef\n\nTotal reclaimed space: 12.35kB\n');
});
