import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFlags } from './flags.ts';
import { buildCreateRequest, containerFlags, parseNanoCpus, parsePortSpecs, parseUlimit, OptionsError } from './container-options.ts';

function build(argv: string[]) {
  const p = parseFlags(containerFlags(), argv, { interspersed: false });
  return buildCreateRequest(p.flags, p.args).body as Record<string, any>;
}

test('defaults match the body docker sends', () => {
  const b = build(['busybox']);
  assert.equal(b.Image, 'busybox');
  assert.equal(b.Cmd, null);
  assert.equal(b.Entrypoint, null);
  assert.equal(b.AttachStdout, true);
  assert.equal(b.HostConfig.NetworkMode, 'default');
  assert.deepEqual(b.HostConfig.RestartPolicy, { Name: 'no', MaximumRetryCount: 0 });
  assert.equal(b.HostConfig.MemorySwappiness, -1);
  assert.deepEqual(Object.keys(b.NetworkingConfig.EndpointsConfig), ['default']);
});

test('flags map onto Config and HostConfig', () => {
  const b = build(['-i', '-t', '--rm', '-m', '64m', '--cpus', '1.5', '--entrypoint', '', '-l', 'a=b', '-l', 'c',
    '--cap-add', 'net_admin', '--network', 'none', '--init', '--stop-timeout', '5', '--ulimit', 'nofile=100:200',
    '-v', '/h:/c:ro', '-v', '/anon', '--tmpfs', '/t:size=1m', 'busybox', 'sh', '-c', 'x']);
  assert.deepEqual(b.Cmd, ['sh', '-c', 'x']);
  assert.deepEqual(b.Entrypoint, ['']);
  assert.equal(b.OpenStdin, true);
  assert.equal(b.StdinOnce, true);
  assert.equal(b.Tty, true);
  assert.deepEqual(b.Labels, { a: 'b', c: '' });
  assert.equal(b.StopTimeout, 5);
  assert.deepEqual(b.Volumes, { '/anon': {} });
  const h = b.HostConfig;
  assert.equal(h.AutoRemove, true);
  assert.equal(h.Memory, 64 * 1024 * 1024);
  assert.equal(h.NanoCpus, 1_500_000_000);
  assert.deepEqual(h.CapAdd, ['CAP_NET_ADMIN']);
  assert.equal(h.NetworkMode, 'none');
  assert.equal(h.Init, true);
  assert.deepEqual(h.Ulimits, [{ Name: 'nofile', Hard: 200, Soft: 100 }]);
  assert.deepEqual(h.Binds, ['/h:/c:ro']);
  assert.deepEqual(h.Tmpfs, { '/t': 'size=1m' });
});

test('-e VAR takes the value from the environment', () => {
  process.env.BERTH_TEST_VAR = 'v';
  assert.deepEqual(build(['-e', 'BERTH_TEST_VAR', '-e', 'BERTH_UNSET_VAR', 'busybox']).Env, ['BERTH_TEST_VAR=v', 'BERTH_UNSET_VAR']);
});

test('invalid combinations fail with docker messages', () => {
  assert.throws(() => build(['--rm', '--restart', 'always', 'busybox']), new OptionsError('conflicting options: cannot specify both --restart and --rm'));
  assert.throws(() => build(['--restart', 'on-failure:x', 'busybox']), /maximum retry count must be an integer/);
  assert.throws(() => build(['--security-opt', 'foo', 'busybox']), /Invalid --security-opt: "foo"/);
  assert.throws(() => build(['-p', 'abc', 'busybox']), /invalid containerPort: abc/);
});

test('value parsers', () => {
  assert.equal(parseNanoCpus('0.5'), 500_000_000);
  assert.equal(parseNanoCpus('1/4'), 250_000_000);
  assert.throws(() => parseNanoCpus('abc'), /failed to parse abc as a rational number/);
  assert.throws(() => parseNanoCpus('0.0000000001'), /value is too precise/);
  assert.deepEqual(parseUlimit('nproc=5'), { Name: 'nproc', Hard: 5, Soft: 5 });
  assert.throws(() => parseUlimit('foo=1'), /invalid ulimit type: foo/);
  const { exposed, bindings } = parsePortSpecs(['8080:80', '127.0.0.1::53/udp', '9000-9001:9000-9001', '[::1]:5000:5000']);
  assert.deepEqual(Object.keys(exposed).sort(), ['5000/tcp', '53/udp', '80/tcp', '9000/tcp', '9001/tcp']);
  assert.deepEqual(bindings['80/tcp'], [{ HostIp: '', HostPort: '8080' }]);
  assert.deepEqual(bindings['53/udp'], [{ HostIp: '127.0.0.1', HostPort: '' }]);
  assert.deepEqual(bindings['9001/tcp'], [{ HostIp: '', HostPort: '9001' }]);
  assert.deepEqual(bindings['5000/tcp'], [{ HostIp: '::1', HostPort: '5000' }]);
});
