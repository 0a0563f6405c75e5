import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyChanges } from './changes.ts';

test('applies Dockerfile-style changes like docker import --change', () => {
  const c = applyChanges({ Env: ['A=1'] }, ['CMD ["sh"]', 'ENV A=2 B="x y"', 'EXPOSE 80 53/udp', 'WORKDIR /w', 'ENTRYPOINT echo hi', 'LABEL a=b', 'USER nobody', 'VOLUME /data']);
  assert.deepEqual(c.Cmd, ['sh']);
  assert.deepEqual(c.Env, ['A=2', 'B=x y']);
  assert.deepEqual(c.ExposedPorts, { '80/tcp': {}, '53/udp': {} });
  assert.equal(c.WorkingDir, '/w');
  assert.deepEqual(c.Entrypoint, ['/bin/sh', '-c', 'echo hi']);
  assert.deepEqual(c.Labels, { a: 'b' });
  assert.equal(c.User, 'nobody');
  assert.deepEqual(c.Volumes, { '/data': {} });
  assert.throws(() => applyChanges({}, ['RUN rm -rf /']), /RUN is not a valid change command/);
});
