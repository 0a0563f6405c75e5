// Healthchecks with real containers and the docker CLI: starting -> unhealthy -> healthy as the container
// makes the checked file, State.Health in inspect, health_status events, the ps STATUS suffix and the health
// filter (both CLIs), the checker stopping with the container and resuming after a berthd restart.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tarStream from 'tar-stream';
import { buildRootfsTar, rootfsEntries } from '../src/cli/commands/bootstrap.ts';
import { startDaemon, type TestDaemon } from './harness.ts';
import { api, bootstrap, docker, dockerOk, berth, waitFor } from './helpers.ts';

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
const health = async (ref: string) => (await inspect(ref)).State.Health;
const psNames = async (filter: string) => (await dockerOk(d, ['ps', '-a', '--filter', filter, '--format', '{{.Names}}'])).split('\n').filter(Boolean).sort();

test('health-cmd: starting, unhealthy after 2 failures, healthy once the container makes the file', async () => {
  const since = Math.floor(Date.now() / 1000) - 1;
  const id = await dockerOk(d, ['run', '-d', '--name', 'hc', '--health-cmd', 'test -f /tmp/ok', '--health-interval', '200ms', '--health-retries', '2',
    'busybox', 'sh', '-c', 'sleep 3; echo > /tmp/ok; exec sleep 1000']);
  const c = await inspect(id);
  assert.deepEqual(c.Config.Healthcheck, { Test: ['CMD-SHELL', 'test -f /tmp/ok'], Interval: 200_000_000, Retries: 2 });
  assert.equal(c.State.Health.Status, 'starting');
  assert.equal(c.State.Health.FailingStreak, 0);
  assert.match(await dockerOk(d, ['ps', '--filter', 'name=hc', '--format', '{{.Status}}']), /^Up (Less than a second|\d+ seconds?) \(health: starting\)$/);
  assert.deepEqual(await psNames('health=starting'), ['hc']);

  const sick = await waitFor('unhealthy', async () => {
    const h = await health(id);
    return h.Status === 'unhealthy' ? h : undefined;
  }, { timeout: 2900 });
  assert.ok(sick.FailingStreak >= 2);
  assert.equal(sick.Log.at(-1).ExitCode, 1);
  assert.ok(Date.parse(sick.Log.at(-1).End) >= Date.parse(sick.Log.at(-1).Start));
  assert.match(await dockerOk(d, ['ps', '--filter', 'name=hc', '--format', '{{.Status}}']), /^Up (Less than a second|\d+ seconds?) \(unhealthy\)$/);
  assert.deepEqual(await psNames('health=unhealthy'), ['hc']);
  assert.deepEqual(await psNames('health=healthy'), []);

  const well = await waitFor('healthy', async () => {
    const h = await health(id);
    return h.Status === 'healthy' ? h : undefined;
  }, { timeout: 8000 });
  assert.equal(well.FailingStreak, 0);
  assert.equal(well.Log.at(-1).ExitCode, 0);
  assert.ok(well.Log.length <= 5);
  await waitFor('log of 5', async () => (await health(id)).Log.length === 5);
  assert.match(await dockerOk(d, ['ps', '--filter', 'name=hc', '--format', '{{.Status}}']), /^Up \d+ seconds? \(healthy\)$/);
  assert.deepEqual(await psNames('health=healthy'), ['hc']);
  // berth renders the same STATUS and filters the same way.
  const b = await berth(d, ['ps', '--filter', 'health=healthy', '--format', '{{.Names}} {{.Status}}']);
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stdout, /^hc Up \d+ seconds? \(healthy\)\n$/);
  assert.match((await berth(d, ['ps'])).stdout, /Up \d+ seconds? \(healthy\)/);

  const actions = (await dockerOk(d, ['events', '--since', String(since), '--until', String(Date.now() / 1000), '--filter', `container=${id}`, '--filter', 'event=health_status', '--format', '{{.Action}}']))
    .split('\n').filter(Boolean);
  assert.deepEqual(actions, ['health_status: unhealthy', 'health_status: healthy']);
});

test('the checker stops with the container, starts again with it, and resumes after a berthd restart', async () => {
  await dockerOk(d, ['stop', '-t', '0', 'hc']);
  const stopped = await health('hc');
  await new Promise((r) => setTimeout(r, 500));
  const later = await health('hc');
  assert.deepEqual(later.Log, stopped.Log, 'no probes while stopped');
  assert.match(await dockerOk(d, ['ps', '-a', '--filter', 'name=hc', '--format', '{{.Status}}']), /^Exited \(137\) /);

  await dockerOk(d, ['start', 'hc']);
  assert.equal((await health('hc')).Status, 'starting');
  await waitFor('healthy after start', async () => (await health('hc')).Status === 'healthy', { timeout: 8000 });

  await d.restart();
  // Docker resets a restored container's health to starting; the checks go on.
  const h = await health('hc');
  assert.ok(['starting', 'healthy'].includes(h.Status), h.Status);
  const n = h.Log.at(-1).End;
  await waitFor('probing after the daemon restart', async () => {
    const x = await health('hc');
    return x.Status === 'healthy' && x.Log.at(-1).End !== n;
  }, { timeout: 8000 });
  await dockerOk(d, ['rm', '-f', 'hc']);
});

test('--no-healthcheck and no healthcheck: no State.Health, health=none; CMD exec form; bad filter values', async () => {
  const none = await dockerOk(d, ['run', '-d', '--name', 'hc-none', '--no-healthcheck', 'busybox', 'sleep', '1000']);
  const plain = await dockerOk(d, ['run', '-d', '--name', 'hc-plain', 'busybox', 'sleep', '1000']);
  assert.deepEqual((await inspect(none)).Config.Healthcheck, { Test: ['NONE'] });
  assert.equal((await inspect(none)).State.Health, undefined);
  assert.equal((await inspect(plain)).State.Health, undefined);
  assert.deepEqual(await psNames('health=none'), ['hc-none', 'hc-plain']);
  assert.match(await dockerOk(d, ['ps', '--filter', 'name=hc-none', '--format', '{{.Status}}']), /^Up (Less than a second|\d+ seconds?)$/);

  // The exec form through the API (the CLI only makes CMD-SHELL), with a timeout that fails the probe.
  const r = await api(d.socket, 'POST', '/containers/create?name=hc-exec', {
    body: { Image: 'busybox', Cmd: ['sleep', '1000'], Healthcheck: { Test: ['CMD', 'sleep', '5'], Interval: 100e6, Timeout: 300e6, Retries: 1 } },
  });
  assert.equal(r.status, 201, r.text);
  await dockerOk(d, ['start', 'hc-exec']);
  const h = await waitFor('unhealthy by timeout', async () => {
    const x = await health('hc-exec');
    return x.Status === 'unhealthy' ? x : undefined;
  }, { timeout: 5000 });
  assert.equal(h.Log[0].ExitCode, -1);
  // Docker prints the timeout as a Go duration ("300ms"); runProbe (exec.ts) still says "0.3s".
  assert.match(h.Log[0].Output, /^Health check exceeded timeout \(300ms\)/);

  // Both CLIs map every health flag the same way (nanoseconds, zero fields left out).
  const flags = ['--health-cmd', 'true', '--health-interval', '1m30s', '--health-timeout', '2s', '--health-start-period', '500ms', '--health-start-interval', '1s', '--health-retries', '4'];
  const viaDocker = await dockerOk(d, ['create', ...flags, 'busybox']);
  const viaBerth = await berth(d, ['create', ...flags, 'busybox']);
  assert.equal(viaBerth.code, 0, viaBerth.stderr);
  const expected = { Test: ['CMD-SHELL', 'true'], Interval: 90e9, Timeout: 2e9, StartPeriod: 500e6, StartInterval: 1e9, Retries: 4 };
  assert.deepEqual((await inspect(viaDocker)).Config.Healthcheck, expected);
  assert.deepEqual((await inspect(viaBerth.stdout.trim())).Config.Healthcheck, expected);
  const noCheck = await berth(d, ['create', '--no-healthcheck', 'busybox']);
  assert.deepEqual((await inspect(noCheck.stdout.trim())).Config.Healthcheck, { Test: ['NONE'] });
  const conflicting = await berth(d, ['create', '--no-healthcheck', '--health-retries', '2', 'busybox']);
  assert.notEqual(conflicting.code, 0);
  assert.match(conflicting.stderr, /--no-healthcheck conflicts with --health-\* options/);
  await dockerOk(d, ['rm', viaDocker, viaBerth.stdout.trim(), noCheck.stdout.trim()]);

  const bad = await docker(d, ['ps', '--filter', 'health=bogus']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /Unrecognised filter value for health: bogus/);
  const short = await api(d.socket, 'POST', '/containers/create', { body: { Image: 'busybox', Cmd: ['true'], Healthcheck: { Test: ['CMD', 'true'], Interval: 1000 } } });
  assert.equal(short.status, 400);
  assert.match(short.json.message, /Interval in Healthcheck cannot be less than 1ms/);
  await dockerOk(d, ['rm', '-f', 'hc-none', 'hc-plain', 'hc-exec']);
});

const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A `docker save` archive of a one-layer busybox image whose config has this HEALTHCHECK. */
async function imageWithHealthcheck(tag: string, healthcheck: Record<string, unknown>): Promise<Buffer> {
  const layer = await buildRootfsTar(rootfsEntries(readFileSync('/bin/busybox'), ['bin/sh', 'bin/test', 'bin/sleep', 'bin/touch']));
  const config = JSON.stringify({
    architecture: 'amd64', os: 'linux', created: '2024-01-02T03:04:05Z',
    config: { Cmd: ['sleep', '1000'], Env: ['PATH=/bin'], Healthcheck: healthcheck },
    rootfs: { type: 'layers', diff_ids: [sha256(layer)] }, history: [{ created: '2024-01-02T03:04:05Z', created_by: 'HEALTHCHECK test' }],
  });
  const id = sha256(config).slice(7);
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c) => chunks.push(c as Buffer));
  const done = new Promise<void>((r) => pack.on('end', () => r()));
  const entries: [string, Buffer | string][] = [['l/layer.tar', layer], [`${id}.json`, config], ['manifest.json', JSON.stringify([{ Config: `${id}.json`, RepoTags: [tag], Layers: ['l/layer.tar'] }])]];
  for (const [name, data] of entries) await new Promise<void>((res, rej) => pack.entry({ name, mode: 0o644 }, Buffer.from(data), (e) => (e ? rej(e) : res())));
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

test('the image HEALTHCHECK applies, merged field by field with the create flags; --no-healthcheck disables it', async () => {
  const load = await docker(d, ['load'], { input: await imageWithHealthcheck('hc-image:1', { Test: ['CMD-SHELL', 'test -f /tmp/ok'], Interval: 100e6, Retries: 5 }) });
  assert.equal(load.code, 0, load.stderr);
  const id = await dockerOk(d, ['run', '-d', '--health-retries', '1', 'hc-image:1']);
  assert.deepEqual((await inspect(id)).Config.Healthcheck, { Test: ['CMD-SHELL', 'test -f /tmp/ok'], Interval: 100e6, Retries: 1 });
  await waitFor('unhealthy after one failure', async () => (await health(id)).Status === 'unhealthy');
  await dockerOk(d, ['exec', id, 'touch', '/tmp/ok']);
  await waitFor('healthy', async () => (await health(id)).Status === 'healthy');
  const off = await dockerOk(d, ['run', '-d', '--no-healthcheck', 'hc-image:1']);
  assert.equal((await inspect(off)).State.Health, undefined);
  await dockerOk(d, ['rm', '-f', id, off]);
  await dockerOk(d, ['rmi', 'hc-image:1']);
});
