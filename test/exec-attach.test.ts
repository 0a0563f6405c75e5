// docker exec / berth exec, attach and attach over websocket, against a real berthd and real containers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { startDaemon, type TestDaemon } from './harness.ts';
import { api, docker, berth, dockerOk, bootstrap, waitFor } from './helpers.ts';

let d: TestDaemon;
let box: string;

before(async () => {
  d = await startDaemon();
  await bootstrap(d);
  box = (await dockerOk(d, ['run', '-d', '--name', 'box', '-e', 'FROM_RUN=1', 'busybox', 'sleep', '600'])).trim();
});
after(async () => {
  await d?.stop();
});

for (const [name, cli] of [['docker', docker], ['berth', berth]] as const) {
  test(`${name} exec: output, exit codes, env, user, workdir`, async () => {
    const r = await cli(d, ['exec', 'box', 'sh', '-c', 'echo out; echo err >&2; exit 5']);
    assert.equal(r.code, 5);
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
    const env = await cli(d, ['exec', '-e', 'X=y', '-u', 'nobody', '-w', '/tmp', 'box', 'sh', '-c', 'echo $X $FROM_RUN $(id -u) $(pwd)']);
    assert.equal(env.stdout, 'y 1 65534 /tmp\n');
    const missing = await cli(d, ['exec', 'box', 'nosuch']);
    assert.equal(missing.code, 127);
    assert.match(missing.stdout + missing.stderr, /executable file not found in \$PATH/);
    const notExec = await cli(d, ['exec', 'box', '/etc/passwd']);
    assert.equal(notExec.code, 126);
  });

  test(`${name} exec -i pipes stdin, -d runs in the background`, async () => {
    const r = await cli(d, ['exec', '-i', 'box', 'sh', '-c', 'wc -l'], { input: 'a\nb\nc\n' });
    assert.equal(r.stdout.trim(), '3');
    const marker = `/tmp/detached-${name}`;
    const det = await cli(d, ['exec', '-d', 'box', 'sh', '-c', `sleep 0.2; touch ${marker}`]);
    assert.equal(det.code, 0);
    assert.equal(det.stdout, '');
    await waitFor('detached exec', async () => (await docker(d, ['exec', 'box', 'test', '-f', marker])).code === 0);
  });
}

test('exec -t gets a terminal of the caller size', { skip: !existsSync('/usr/bin/script') && 'needs script(1)' }, async () => {
  const { run } = await import('./harness.ts');
  // The size reaches the process at start (ConsoleSize) and by the CLI's resize right after; a short pause
  // lets either land, as with Docker.
  const r = await run('/usr/bin/script', ['-qec', `stty rows 33 cols 99; docker exec -it box sh -c 'sleep 0.3; stty size'`, '/dev/null'], { env: d.env });
  assert.match(r.stdout, /33 99/);
});

test('exec into a stopped container is a 409 with Docker’s message', async () => {
  await dockerOk(d, ['create', '--name', 'stopped', 'busybox', 'true']);
  const res = await api(d.socket, 'POST', '/v1.47/containers/stopped/exec', { body: { Cmd: ['true'] } });
  assert.equal(res.status, 409);
  assert.match(res.json.message, /^container [0-9a-f]{64} is not running$/);
  const r = await docker(d, ['exec', 'stopped', 'true']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /is not running/);
  const bad = await api(d.socket, 'POST', '/v1.47/containers/box/exec', { body: { Cmd: [] } });
  assert.equal(bad.status, 400);
  const none = await api(d.socket, 'GET', '/v1.47/exec/nosuch/json');
  assert.equal(none.status, 404);
});

test('exec inspect shows the exit code; a second start is refused', async () => {
  const created = await api(d.socket, 'POST', '/v1.47/containers/box/exec', { body: { Cmd: ['sh', '-c', 'exit 9'] } });
  assert.equal(created.status, 201);
  const id = created.json.Id as string;
  const start = await api(d.socket, 'POST', `/v1.47/exec/${id}/start`, { body: { Detach: true } });
  assert.equal(start.status, 200);
  const info = await waitFor('exec exit', async () => {
    const r = await api(d.socket, 'GET', `/v1.47/exec/${id}/json`);
    return r.json.Running === false && r.json.ExitCode !== null ? r.json : undefined;
  });
  assert.equal(info.ExitCode, 9);
  assert.equal(info.ContainerID, box);
  assert.deepEqual(info.ProcessConfig, { arguments: ['-c', 'exit 9'], entrypoint: 'sh', privileged: false, tty: false, user: '' });
  const again = await api(d.socket, 'POST', `/v1.47/exec/${id}/start`, { body: { Detach: true } });
  assert.equal(again.status, 409);
});

test('exec works after a berthd restart, and a running exec survives it', async () => {
  const long = await api(d.socket, 'POST', '/v1.47/containers/box/exec', { body: { Cmd: ['sh', '-c', 'sleep 1; touch /tmp/after-restart'] } });
  await api(d.socket, 'POST', `/v1.47/exec/${long.json.Id}/start`, { body: { Detach: true } });
  await d.restart({ kill: true });
  const r = await docker(d, ['exec', 'box', 'echo', 'still here']);
  assert.equal(r.stdout, 'still here\n');
  await waitFor('exec that outlived berthd', async () => (await docker(d, ['exec', 'box', 'test', '-f', '/tmp/after-restart'])).code === 0);
});

test('attach to a running container streams its output and stdin (docker and berth)', async () => {
  await dockerOk(d, ['run', '-d', '-i', '--name', 'echoer', 'busybox', 'sh', '-c', 'while read l; do echo "got $l"; [ "$l" = bye ] && exit 3; done']);
  const r = await docker(d, ['attach', 'echoer'], { input: 'hello\nbye\n' });
  assert.equal(r.stdout, 'got hello\ngot bye\n');
  assert.equal(r.code, 3);
  const stopped = await berth(d, ['attach', 'echoer']);
  assert.equal(stopped.code, 1);
  assert.match(stopped.stderr, /You cannot attach to a stopped container, start it first/);
});

test('attach over websocket: raw frames both ways', async () => {
  await dockerOk(d, ['run', '-d', '-i', '--name', 'ws', 'busybox', 'sh', '-c', 'while read l; do echo "got $l"; echo "err $l" >&2; done']);
  const frames: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const req = http.request({
      socketPath: d.socket, path: '/v1.47/containers/ws/attach/ws?stream=1&stdin=1&stdout=1&stderr=1',
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Key': randomBytes(16).toString('base64'), 'Sec-WebSocket-Version': '13' },
    });
    req.on('upgrade', (res, sock, head) => {
      assert.equal(res.statusCode, 101);
      let buf = head;
      sock.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        while (buf.length >= 2 && buf.length >= 2 + (buf[1] & 0x7f)) {
          const n = buf[1] & 0x7f;
          frames.push(buf.subarray(2, 2 + n).toString());
          buf = buf.subarray(2 + n);
        }
        if (frames.join('').includes('err ping')) {
          sock.destroy();
          resolve();
        }
      });
      const payload = Buffer.from('ping\n');
      const mask = randomBytes(4);
      sock.write(Buffer.concat([Buffer.from([0x82, 0x80 | payload.length]), mask, Buffer.from(payload.map((b, i) => b ^ mask[i & 3]))]));
    });
    req.on('error', reject);
    req.end();
    setTimeout(() => reject(new Error(`no websocket output: ${JSON.stringify(frames)}`)), 10000).unref();
  });
  assert.ok(frames.includes('got ping\n'), JSON.stringify(frames));
  assert.ok(frames.includes('err ping\n'), JSON.stringify(frames));
});
