// Restart policies with real containers and the docker CLI: on-failure's retry limit, always's growing delays,
// a stop or kill by the user that sticks, rm -f of a container waiting for its restart, and which containers
// a restarted berthd starts again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { startDaemon, type TestDaemon } from './harness.ts';
import { bootstrap, docker, dockerOk, berth, waitFor } from './helpers.ts';

let d: TestDaemon;

before(async () => {
  d = await startDaemon();
  await bootstrap(d);
});

after(async () => {
  await d?.stop();
});

/* eslint-disable-next-line @typescript-eslint/no-explicit-any */
const inspect = async (ref: string): Promise<any> => JSON.parse(await dockerOk(d, ['inspect', ref]))[0];
const psStatus = (id: string) => dockerOk(d, ['ps', '-a', '--filter', `id=${id}`, '--format', '{{.Status}}']);

/** The container's events since `since` (seconds), as [action, time in ms]. */
async function events(id: string, since: number): Promise<[string, number][]> {
  const out = await dockerOk(d, ['events', '--since', String(since), '--until', String(Date.now() / 1000), '--filter', `container=${id}`, '--format', '{{.Action}} {{.TimeNano}}']);
  return out.split('\n').filter(Boolean).map((l) => {
    const [action, t] = l.split(' ');
    return [action, Number(BigInt(t) / 1_000_000n)];
  });
}

test('on-failure:2: two restarts, then exited (3) with RestartCount 2; die and start events, no restart event', async () => {
  const since = Math.floor(Date.now() / 1000) - 1;
  const id = await dockerOk(d, ['run', '-d', '--restart', 'on-failure:2', 'busybox', 'sh', '-c', 'exit 3']);
  const c = await waitFor('the last exit', async () => {
    const c = await inspect(id);
    return c.State.Status === 'exited' ? c : undefined;
  });
  assert.equal(c.RestartCount, 2);
  assert.equal(c.State.ExitCode, 3);
  assert.equal(c.State.Running, false);
  assert.equal(c.State.Restarting, false);
  assert.deepEqual(c.HostConfig.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 2 });
  assert.match(await psStatus(id), /^Exited \(3\) /);
  const actions = (await events(id, since)).map(([a]) => a).filter((a) => ['start', 'die', 'restart'].includes(a));
  assert.deepEqual(actions, ['start', 'die', 'start', 'die', 'start', 'die']);
  // A start by the user resets the count (Docker's ResetRestartManager).
  await dockerOk(d, ['start', id]);
  await waitFor('exited again', async () => (await inspect(id)).State.Status === 'exited' && (await inspect(id)).RestartCount === 2);
  await dockerOk(d, ['rm', id]);
});

test('on-failure does not restart a clean exit', async () => {
  const id = await dockerOk(d, ['run', '-d', '--restart', 'on-failure', 'busybox', 'true']);
  await waitFor('exited', async () => (await inspect(id)).State.Status === 'exited');
  await new Promise((r) => setTimeout(r, 300));
  const c = await inspect(id);
  assert.equal(c.State.Status, 'exited');
  assert.equal(c.RestartCount, 0);
  await dockerOk(d, ['rm', id]);
});

test('always: a crashing container keeps coming back with doubling delays; ps says Restarting; stop ends it', async () => {
  const since = Math.floor(Date.now() / 1000) - 1;
  const t0 = Date.now();
  const id = await dockerOk(d, ['run', '-d', '--restart', 'always', 'busybox', 'sh', '-c', 'exit 1']);
  // While it waits: running and restarting in inspect, "Restarting (1) ... ago" in ps.
  const waiting = await waitFor('restarting', async () => {
    const c = await inspect(id);
    return c.State.Restarting ? c : undefined;
  }, { interval: 10 });
  assert.equal(waiting.State.Status, 'restarting');
  assert.equal(waiting.State.Running, true);
  assert.equal(waiting.State.Pid, 0);
  await waitFor('ps Restarting', async () => /^Restarting \(1\) (Less than a second|\d+ seconds?) ago$/.test(await psStatus(id)), { interval: 10 });
  assert.match(await dockerOk(d, ['ps', '--filter', 'status=restarting', '--format', '{{.ID}}']), new RegExp(id.slice(0, 12)));

  await new Promise((r) => setTimeout(r, Math.max(0, 2300 - (Date.now() - t0))));
  const count = (await inspect(id)).RestartCount;
  // 100 + 200 + 400 + 800 ms of delays (plus each start) fit in ~2 s; without backoff it would be dozens.
  assert.ok(count >= 3 && count <= 6, `RestartCount after ~2 s: ${count}`);

  const ev = await events(id, since);
  const gaps: number[] = [];
  for (let i = 0; i < ev.length - 1; i++) if (ev[i][0] === 'die' && ev[i + 1][0] === 'start') gaps.push(ev[i + 1][1] - ev[i][1]);
  assert.ok(gaps.length >= 3, `die->start gaps: ${gaps}`);
  gaps.forEach((g, k) => assert.ok(g >= 90 * 2 ** k, `gap ${k} is ${g} ms: ${gaps}`));
  for (let k = 1; k < gaps.length; k++) assert.ok(gaps[k] > gaps[k - 1], `gaps grow: ${gaps}`);

  // docker stop (the container is either waiting for its restart or just started): it stays stopped.
  await dockerOk(d, ['stop', '-t', '1', id]);
  const stopped = await inspect(id);
  assert.equal(stopped.State.Status, 'exited');
  assert.equal(stopped.State.Restarting, false);
  await new Promise((r) => setTimeout(r, 500));
  const later = await inspect(id);
  assert.equal(later.State.Status, 'exited');
  assert.equal(later.RestartCount, stopped.RestartCount);
  await dockerOk(d, ['rm', id]);
});

test('always: docker stop and docker kill of a running container are not undone by the policy', async () => {
  const a = await dockerOk(d, ['run', '-d', '--restart', 'always', 'busybox', 'sleep', '1000']);
  const b = await dockerOk(d, ['run', '-d', '--restart', 'unless-stopped', 'busybox', 'sleep', '1000']);
  await dockerOk(d, ['stop', '-t', '0', a]);
  await dockerOk(d, ['kill', b]);
  await waitFor('b exited', async () => (await inspect(b)).State.Status === 'exited');
  await new Promise((r) => setTimeout(r, 400)); // the first restart would come after 100 ms
  for (const id of [a, b]) {
    const c = await inspect(id);
    assert.equal(c.State.Status, 'exited', id);
    assert.equal(c.RestartCount, 0);
  }
  // docker restart: a restart event; the policy is on again (a crash now would be restarted).
  const since = Math.floor(Date.now() / 1000) - 1;
  await dockerOk(d, ['restart', '-t', '0', a]);
  assert.equal((await inspect(a)).State.Status, 'running');
  assert.ok((await events(a, since)).some(([x]) => x === 'restart'));
  await dockerOk(d, ['rm', '-f', a, b]);
});

test('rm -f of a container waiting for its restart cancels the restart', async () => {
  const id = await dockerOk(d, ['run', '-d', '--restart', 'always', 'busybox', 'sh', '-c', 'exit 2']);
  await waitFor('restarting', async () => (await inspect(id)).State.Restarting, { interval: 10 });
  const r = await docker(d, ['rm', id]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /container is (restarting|running): stop the container before removing or force remove/);
  await dockerOk(d, ['rm', '-f', id]);
  await new Promise((res) => setTimeout(res, 400));
  assert.equal(await dockerOk(d, ['ps', '-aq', '--filter', `id=${id}`]), '');
  // berth renders the same list.
  assert.equal((await berth(d, ['ps', '-aq', '--filter', `id=${id}`])).stdout.trim(), '');
});

test('berthd restart: always comes back (even after a stop), unless-stopped only when not stopped by the user', async () => {
  const run = (policy: string) => dockerOk(d, ['run', '-d', '--restart', policy, 'busybox', 'sleep', '1000']);
  const running = await run('always'); // keeps running through the restart (live restore)
  const alwaysStopped = await run('always');
  const unlessStopped = await run('unless-stopped');
  const alwaysDied = await run('always'); // its process dies while berthd is down
  const unlessDied = await run('unless-stopped');
  const noDied = await run('no');
  await dockerOk(d, ['stop', '-t', '0', alwaysStopped, unlessStopped]);
  const before = Object.fromEntries(await Promise.all([running, alwaysDied, unlessDied, noDied].map(async (id) => [id, await inspect(id)])));

  d.proc.kill('SIGTERM');
  await once(d.proc, 'exit');
  for (const id of [alwaysDied, unlessDied, noDied]) process.kill(before[id].State.Pid, 'SIGKILL');
  await d.restart();

  const after = Object.fromEntries(await Promise.all([running, alwaysStopped, unlessStopped, alwaysDied, unlessDied, noDied].map(async (id) => [id, await inspect(id)])));
  assert.equal(after[running].State.Status, 'running');
  assert.equal(after[running].State.StartedAt, before[running].State.StartedAt, 'not restarted, still the same process');
  assert.equal(after[running].State.Pid, before[running].State.Pid);
  assert.equal(after[alwaysStopped].State.Status, 'running');
  assert.equal(after[unlessStopped].State.Status, 'exited');
  for (const id of [alwaysDied, unlessDied]) {
    assert.equal(after[id].State.Status, 'running', id);
    assert.notEqual(after[id].State.StartedAt, before[id].State.StartedAt);
    assert.equal(after[id].RestartCount, 0);
  }
  assert.equal(after[noDied].State.Status, 'exited');
  assert.equal(after[noDied].State.ExitCode, 137);
  // Stopping after the daemon restart still sticks.
  await dockerOk(d, ['stop', '-t', '0', alwaysStopped]);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await inspect(alwaysStopped)).State.Status, 'exited');
  await dockerOk(d, ['rm', '-f', running, alwaysStopped, unlessStopped, alwaysDied, unlessDied, noDied]);
});
