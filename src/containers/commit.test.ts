import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commitConfig, commitReference, mergeCommitConfig } from './commit.ts';

const container = {
  Hostname: 'abc', User: 'app', Env: ['PATH=/bin', 'A=1'], Cmd: ['sh', '-c', 'run'], Entrypoint: null, WorkingDir: '/w',
  Labels: { l: '1' }, ExposedPorts: { '80/tcp': {} }, Image: 'busybox', Tty: false,
};

test('commit config: the container config with the changes applied', () => {
  const c = commitConfig(container, undefined, ['CMD ["cat","/hello"]', 'ENV B=2', 'LABEL m=2']);
  assert.deepEqual(c.Cmd, ['cat', '/hello']);
  assert.deepEqual(c.Env, ['PATH=/bin', 'A=1', 'B=2']);
  assert.deepEqual(c.Labels, { l: '1', m: '2' });
  assert.equal(c.User, 'app');
  assert.equal(c.WorkingDir, '/w');
  assert.equal(c.Hostname, 'abc');
});

test('commit config: ENTRYPOINT without CMD resets the command', () => {
  assert.equal(commitConfig(container, undefined, ['ENTRYPOINT ["x"]']).Cmd, null);
  assert.deepEqual(commitConfig(container, undefined, ['ENTRYPOINT ["x"]', 'CMD ["y"]']).Cmd, ['y']);
});

test('commit config: a request config is completed from the container (merge)', () => {
  const m = mergeCommitConfig({ Env: ['A=9'], ExposedPorts: { '443/tcp': {} } }, { Env: ['PATH=/bin', 'A=1'], Cmd: ['c'], User: 'u', ExposedPorts: { '80/tcp': {} } });
  assert.deepEqual(m.Env, ['A=9', 'PATH=/bin']);
  assert.deepEqual(m.Cmd, ['c']);
  assert.equal(m.User, 'u');
  assert.deepEqual(Object.keys(m.ExposedPorts ?? {}).sort(), ['443/tcp', '80/tcp']);
});

test('commit reference: RepoTagReference', () => {
  assert.equal(commitReference(undefined, 'x'), undefined);
  assert.equal(commitReference('foo', undefined), 'docker.io/library/foo:latest');
  assert.equal(commitReference('foo', 'v1'), 'docker.io/library/foo:v1');
  assert.equal(commitReference('foo:a', 'b'), 'docker.io/library/foo:b');
  assert.throws(() => commitReference('Foo', undefined), /invalid reference format/);
});
