// Restart survival: containers run under berth-shim, so they keep running (and logging) while berthd is
// stopped or killed, and a restarted berthd finds them: running ones attachable, exited ones with the right
// exit code and full logs. Two daemons side by side do not see each other.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import Docker from 'dockerode';
import { startDaemon, DOCKER, type TestDaemon } from './harness.ts';
import { api, alive, bootstrap, docker, dockerOk, waitFor } from './helpers.ts';

let d: TestDaemon;
let other: TestDaemon | undefined;

before(async () => {
  d = await startDaemon();
  await bootstrap(d);
});

after(async () => {
  await Promise.all([d?.stop(), other?.stop()]);
});

// Prints 0, 1, 2 ... every 100 ms; SIGTERM makes it say where it stopped and exit 42.
const COUNTER = 'trap \'echo stopped at $i; exit 42\' TERM; i=0; while true; do echo $i; i=$((i+1)); sleep 0.1; done';

const lines = (s: string) => s.split('\n').filter(Boolean);
const inspect = async (t: TestDaemon, ref: string) => JSON.parse(await dockerOk(t, ['inspect', ref]))[0];

/** The counter's numbers from `docker logs -t`, with their times (ms). */
async function counted(ref: string): Promise<{ n: number; at: number }[]> {
  const out = await dockerOk(d, ['logs', '-t', ref]);
  return out.split('\n').filter((l) => /^\S+ \d+$/.test(l)).map((l) => {
    const [ts, n] = l.split(' ');
    return { n: Number(n), at: Date.parse(ts) };
  });
}

/** Asserts the numbers are exactly 0..N-1: nothing lost, nothing repeated. */
function assertNoGap(nums: number[], what: string): void {
  assert.ok(nums.length > 0, `${what}: no output`);
  nums.forEach((n, i) => assert.equal(n, i, `${what}: line ${i} is ${n}`));
}

/** Everything demultiplexed from a Docker stdcopy stream so far (an incomplete last frame is left out). */
function demuxed(buf: Buffer): string {
  let out = '';
  for (let i = 0; i + 8 <= buf.length;) {
    const size = buf.readUInt32BE(i + 4);
    if (i + 8 + size > buf.length) break;
    out += buf.subarray(i + 8, i + 8 + size).toString();
    i += 8 + size;
  }
  return out;
}

/** Follows `docker logs -f --tail 0` until `count` new counter lines arrived; returns them. */
async function followNewLines(ref: string, count: number): Promise<number[]> {
  const p = spawn(DOCKER, ['logs', '-f', '--tail', '0', ref], { env: d.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (b: Buffer) => (out += b));
  try {
    await waitFor(`${count} lines from docker logs -f`, () => out.split('\n').filter(Boolean).length >= count);
  } finally {
    p.kill();
  }
  return out.split('\n').filter(Boolean).slice(0, count).map(Number);
}

/** Attaches through the API (dockerode) and takes `count` new counter lines from the live stream. */
async function attachNewLines(t: TestDaemon, ref: string, count: number): Promise<number[]> {
  const client = new Docker({ socketPath: t.socket });
  const stream = await client.getContainer(ref).attach({ stream: true, stdout: true, stderr: true });
  let raw = Buffer.alloc(0);
  stream.on('data', (b: Buffer) => (raw = Buffer.concat([raw, b])));
  try {
    await waitFor(`${count} lines from attach`, () => demuxed(raw).split('\n').filter(Boolean).length >= count);
  } finally {
    (stream as unknown as { destroy(): void }).destroy();
  }
  return demuxed(raw).split('\n').filter(Boolean).slice(0, count).map(Number);
}

test('a running container survives berthd stopped (SIGTERM) and killed (SIGKILL)', async () => {
  const id = await dockerOk(d, ['run', '-d', '--name', 'counter', 'busybox', 'sh', '-c', COUNTER]);
  await waitFor('the counter to start', async () => (await counted(id)).length >= 3);
  const { State: { Pid: pid }, LogPath: logPath } = await inspect(d, id);
  assert.ok(pid > 0 && alive(pid));
  const logLines = () => readFileSync(logPath, 'utf8').split('\n').filter(Boolean).length;

  for (const kill of [false, true]) {
    const what = kill ? 'SIGKILL' : 'SIGTERM';
    // berthd goes away; the shim keeps writing the log meanwhile.
    const exited = new Promise((resolve) => d.proc.once('exit', resolve));
    d.proc.kill(kill ? 'SIGKILL' : 'SIGTERM');
    await exited;
    const down = Date.now();
    const atDown = logLines();
    await waitFor('lines logged while berthd is down', () => logLines() >= atDown + 3);
    assert.ok(alive(pid), what);
    await d.restart(); // berthd has exited already: this starts it again
    const up = Date.now();
    // Same container, same process, still running.
    const c = await inspect(d, 'counter');
    assert.equal(c.Id, id, what);
    assert.equal(c.State.Status, 'running', what);
    assert.equal(c.State.Running, true, what);
    assert.equal(c.State.Pid, pid, what);
    assert.ok(alive(pid), what);
    assert.deepEqual(await dockerOk(d, ['ps', '--no-trunc', '--format', '{{.ID}} {{.State}}']), `${id} running`);
    const info = (await api(d.socket, 'GET', '/info')).json;
    assert.deepEqual([info.Containers, info.ContainersRunning, info.ContainersStopped], [1, 1, 0], what);

    // The log has everything, including what was printed while berthd was away, and keeps growing.
    const seen = (await counted(id)).length;
    await waitFor('more output after the restart', async () => (await counted(id)).length >= seen + 3);
    const lines = await counted(id);
    assertNoGap(lines.map((l) => l.n), what);
    assert.ok(lines.filter((l) => l.at > down && l.at < up).length >= 3, `${what}: lines written while berthd was down`);

    // Streaming still works: docker logs -f and an attach through the API both get new lines, in order.
    const followed = await followNewLines(id, 3);
    assert.deepEqual(followed, [followed[0], followed[0] + 1, followed[0] + 2], `${what}: logs -f`);
    assert.ok(followed[0] >= seen, `${what}: logs -f --tail 0 shows new lines only`);
    const attached = await attachNewLines(d, id, 3);
    assert.deepEqual(attached, [attached[0], attached[0] + 1, attached[0] + 2], `${what}: attach`);
    assert.ok(attached[0] > followed[0], `${what}: attach is live`);
  }

  // And it stops like any other container: the StopSignal reaches it, the exit is recorded.
  const t0 = Date.now();
  await dockerOk(d, ['stop', 'counter']);
  assert.ok(Date.now() - t0 < 5000, `stop took ${Date.now() - t0} ms`);
  const c = await inspect(d, id);
  assert.deepEqual([c.State.Status, c.State.ExitCode, c.State.Pid], ['exited', 42, 0]);
  await waitFor('the container process to be gone', () => !alive(pid));
  const out = (await dockerOk(d, ['logs', id])).split('\n');
  const last = Number(out.at(-2));
  assert.equal(out.at(-1), `stopped at ${last + 1}`);
  assertNoGap(out.slice(0, -1).map(Number), 'after stop');
  await dockerOk(d, ['rm', id]);
});

test('containers that exit while berthd is down show their exit code and full logs after restart', async () => {
  const trapped = await dockerOk(d, ['run', '-d', 'busybox', 'sh', '-c', 'trap "echo term received; exit 7" TERM; echo begin; echo to stderr >&2; while true; do sleep 0.1; done']);
  const killed = await dockerOk(d, ['run', '-d', 'busybox', 'sh', '-c', 'echo waiting; while true; do sleep 0.1; done']);
  const autoRemove = await dockerOk(d, ['run', '-d', '--rm', 'busybox', 'sh', '-c', 'trap "exit 3" TERM; echo up; while true; do sleep 0.1; done']);
  const survivor = await dockerOk(d, ['run', '-d', 'busybox', 'sleep', '100']);
  for (const id of [trapped, killed, autoRemove]) {
    await waitFor('the container to print', async () => (await docker(d, ['logs', id])).stdout.length > 0);
  }
  const pids = await Promise.all([trapped, killed, autoRemove].map(async (id) => (await inspect(d, id)).State.Pid as number));

  // berthd dies (SIGKILL), then the containers end on their own while nobody watches.
  const gone = new Promise((resolve) => d.proc.once('exit', resolve));
  d.proc.kill('SIGKILL');
  await gone;
  const down = Date.now();
  process.kill(pids[0], 'SIGTERM');
  process.kill(pids[1], 'SIGKILL');
  process.kill(pids[2], 'SIGTERM');
  await waitFor('the containers to exit', () => pids.every((p) => !alive(p)));
  await d.restart();

  const t = await inspect(d, trapped);
  assert.deepEqual([t.State.Status, t.State.Running, t.State.ExitCode, t.State.Pid], ['exited', false, 7, 0]);
  const finished = Date.parse(t.State.FinishedAt);
  assert.ok(finished >= down - 1000 && finished <= Date.now(), `FinishedAt ${t.State.FinishedAt}`);
  const logs = await docker(d, ['logs', trapped]);
  assert.deepEqual([logs.stdout, logs.stderr], ['begin\nterm received\n', 'to stderr\n']);
  assert.equal(await dockerOk(d, ['wait', trapped]), '7');
  const k = await inspect(d, killed);
  assert.deepEqual([k.State.Status, k.State.ExitCode], ['exited', 137]);
  assert.equal(await dockerOk(d, ['logs', killed]), 'waiting');
  // --rm is honoured for an exit berthd missed.
  await waitFor('the --rm container to be removed', async () => (await docker(d, ['inspect', autoRemove])).code === 1);
  // The one that kept running is untouched.
  assert.equal((await inspect(d, survivor)).State.Running, true);

  assert.match(await dockerOk(d, ['ps', '-a', '--filter', `id=${trapped}`, '--format', '{{.Status}}']), /^Exited \(7\) /);
  assert.deepEqual(lines(await dockerOk(d, ['ps', '-q', '--no-trunc'])), [survivor]);
  const info = (await api(d.socket, 'GET', '/info')).json;
  assert.deepEqual([info.Containers, info.ContainersRunning, info.ContainersStopped], [3, 1, 2]);
  // An exited container starts again after the restart.
  await dockerOk(d, ['start', killed]);
  assert.equal((await inspect(d, killed)).State.Running, true);
  await dockerOk(d, ['rm', '-f', trapped, killed, survivor]);
});

test('two daemons side by side do not see each other\'s containers', async () => {
  other = await startDaemon();
  await bootstrap(other);
  assert.notEqual(other.socket, d.socket);
  const mine = await dockerOk(d, ['run', '-d', '--name', 'twin', 'busybox', 'sleep', '100']);
  const theirs = await dockerOk(other, ['run', '-d', '--name', 'twin', 'busybox', 'sleep', '100']);
  assert.notEqual(mine, theirs);
  assert.deepEqual(lines(await dockerOk(d, ['ps', '-aq', '--no-trunc'])), [mine]);
  assert.deepEqual(lines(await dockerOk(other, ['ps', '-aq', '--no-trunc'])), [theirs]);
  assert.equal((await docker(d, ['inspect', theirs])).code, 1);
  assert.equal((await docker(other, ['inspect', mine])).code, 1);
  assert.equal((await api(other.socket, 'GET', '/info')).json.DockerRootDir, other.dataRoot);
  assert.equal((await api(d.socket, 'GET', '/info')).json.ContainersRunning, 1);

  // Killing and restarting one daemon, and removing its container, leaves the other's alone.
  const minePid = (await inspect(d, mine)).State.Pid as number;
  await other.restart({ kill: true });
  assert.equal((await inspect(other, 'twin')).State.Running, true);
  await dockerOk(other, ['rm', '-f', 'twin']);
  assert.equal((await inspect(d, 'twin')).State.Running, true);
  assert.equal((await inspect(d, 'twin')).State.Pid, minePid);
  assert.ok(alive(minePid));
  await dockerOk(d, ['rm', '-f', mine]);
});
