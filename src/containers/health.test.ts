import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import {
  mergeHealthcheck, validateHealthcheck, probeCommand, healthTimings, nextInterval, applyProbeResult, resetHealth,
  healthString, healthFilterValue, HealthMonitor, type ProbeResult,
} from './health.ts';
import { newState, type ContainerRecord, type HealthState } from './types.ts';

const ms = 1e6;

test('merge: the body overrides the image field by field; no body healthcheck takes the image one', () => {
  const image = { Test: ['CMD', 'true'], Interval: 5000 * ms, Retries: 7 };
  assert.deepEqual(mergeHealthcheck(undefined, image), image);
  assert.equal(mergeHealthcheck(undefined, undefined), undefined);
  assert.deepEqual(mergeHealthcheck({ Test: ['NONE'] }, image), { Test: ['NONE'], Interval: 5000 * ms, Retries: 7, Timeout: undefined, StartPeriod: undefined, StartInterval: undefined });
  const m = mergeHealthcheck({ Test: null, Interval: 200 * ms }, image);
  assert.deepEqual(m?.Test, ['CMD', 'true']);
  assert.equal(m?.Interval, 200 * ms);
  assert.equal(m?.Retries, 7);
  assert.deepEqual(mergeHealthcheck({ Test: ['CMD-SHELL', 'x'] }, null), { Test: ['CMD-SHELL', 'x'] });
});

test('validate: Docker messages', () => {
  assert.doesNotThrow(() => validateHealthcheck({ Test: ['CMD', 'x'], Interval: 0, Retries: 0 }));
  assert.throws(() => validateHealthcheck({ Interval: 1000 }), /Interval in Healthcheck cannot be less than 1ms/);
  assert.throws(() => validateHealthcheck({ Timeout: 5 }), /Timeout in Healthcheck cannot be less than 1ms/);
  assert.throws(() => validateHealthcheck({ StartPeriod: 5 }), /StartPeriod in Healthcheck cannot be less than 1ms/);
  assert.throws(() => validateHealthcheck({ StartInterval: 5 }), /StartInterval in Healthcheck cannot be less than 1ms/);
  assert.throws(() => validateHealthcheck({ Retries: -1 }), /Retries in Healthcheck cannot be negative/);
});

test('probe command: NONE, CMD, CMD-SHELL with the default or the container shell', () => {
  assert.equal(probeCommand(undefined), undefined);
  assert.equal(probeCommand({ Test: ['NONE'] }), undefined);
  assert.equal(probeCommand({ Test: [] }), undefined);
  assert.equal(probeCommand({ Test: ['BOGUS', 'x'] }), undefined);
  assert.deepEqual(probeCommand({ Test: ['CMD', 'test', '-f', '/ok'] }), ['test', '-f', '/ok']);
  assert.deepEqual(probeCommand({ Test: ['CMD-SHELL', 'test -f /ok'] }), ['/bin/sh', '-c', 'test -f /ok']);
  assert.deepEqual(probeCommand({ Test: ['CMD-SHELL', 'x'] }, ['/bin/bash', '-ec']), ['/bin/bash', '-ec', 'x']);
});

test('timings: defaults 30s interval and timeout, 3 retries, no start period, 5s start interval', () => {
  assert.deepEqual(healthTimings({}), { intervalMs: 30000, timeoutMs: 30000, startPeriodMs: 0, startIntervalMs: 5000, retries: 3 });
  assert.deepEqual(healthTimings({ Interval: 200 * ms, Timeout: 1500 * ms, StartPeriod: 10000 * ms, StartInterval: 100 * ms, Retries: 2 }),
    { intervalMs: 200, timeoutMs: 1500, startPeriodMs: 10000, startIntervalMs: 100, retries: 2 });
  const t = healthTimings({ Interval: 1000 * ms, StartPeriod: 5000 * ms, StartInterval: 100 * ms });
  assert.equal(nextInterval(t, 0, 1000, 'starting'), 100);
  assert.equal(nextInterval(t, 0, 1000, 'healthy'), 1000);
  assert.equal(nextInterval(t, 0, 5000, 'starting'), 1000);
});

function entry(code: number, atMs = 0): { Start: string; End: string; ExitCode: number; Output: string } {
  return { Start: new Date(atMs).toISOString(), End: new Date(atMs + 1).toISOString(), ExitCode: code, Output: `out ${code}` };
}

test('state machine: starting -> unhealthy after retries failures -> healthy on success; log keeps 5', () => {
  const h: HealthState = resetHealth(undefined);
  const o = { retries: 2, startPeriodMs: 0, startedAtMs: 0 };
  assert.equal(applyProbeResult(h, entry(1), o), undefined);
  assert.equal(h.Status, 'starting');
  assert.equal(h.FailingStreak, 1);
  assert.equal(applyProbeResult(h, entry(1), o), 'unhealthy');
  assert.equal(applyProbeResult(h, entry(-1), o), undefined);
  assert.equal(h.FailingStreak, 3);
  assert.equal(applyProbeResult(h, entry(0), o), 'healthy');
  assert.equal(h.FailingStreak, 0);
  assert.equal(applyProbeResult(h, entry(0), o), undefined);
  assert.equal(applyProbeResult(h, entry(2), o), undefined);
  assert.equal(h.Status, 'healthy');
  assert.equal(h.Log.length, 5);
  assert.deepEqual(h.Log.map((l) => l.ExitCode), [1, -1, 0, 0, 2]);
  const again = resetHealth(h);
  assert.equal(again.Status, 'starting');
  assert.equal(again.FailingStreak, 0);
  assert.equal(again.Log.length, 5);
});

test('state machine: failures within the start period do not count while starting', () => {
  const h = resetHealth(undefined);
  const o = { retries: 1, startPeriodMs: 1000, startedAtMs: 0 };
  assert.equal(applyProbeResult(h, entry(1, 500), o), undefined);
  assert.equal(h.FailingStreak, 0);
  assert.equal(applyProbeResult(h, entry(0, 600), o), 'healthy');
  // Once healthy, failures count even within the start period.
  assert.equal(applyProbeResult(h, entry(1, 700), o), 'unhealthy');
  assert.equal(applyProbeResult(h, entry(1, 1500), o), undefined);
  assert.equal(h.FailingStreak, 2);
});

test('ps and filter strings', () => {
  assert.equal(healthString({ Status: 'starting', FailingStreak: 0, Log: [] }), 'health: starting');
  assert.equal(healthString({ Status: 'healthy', FailingStreak: 0, Log: [] }), 'healthy');
  const c = container(undefined);
  assert.equal(healthFilterValue(c), 'none');
  c.State.Health = { Status: 'unhealthy', FailingStreak: 3, Log: [] };
  assert.equal(healthFilterValue(c), 'unhealthy');
});

function container(healthcheck: unknown): ContainerRecord {
  return {
    ID: 'c1', Name: '/c1', Created: new Date().toISOString(), Path: 'sh', Args: [], Config: { Healthcheck: healthcheck }, HostConfig: {},
    Image: 'sha256:x', State: { ...newState(), Running: true, Status: 'running', StartedAt: new Date().toISOString() }, RestartCount: 0,
    LogPath: '', ResolvConfPath: '', HostnamePath: '', HostsPath: '', NetworkMode: 'bridge',
  };
}

async function until(what: string, fn: () => boolean, timeout = 3000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('monitor: probes with an injected function, emits health_status on changes, stops with the container', async () => {
  const events = new EventEmitter();
  const seen: string[] = [];
  const calls: { cmd: string[]; timeoutMs: number }[] = [];
  let ok = false;
  let saves = 0;
  const mon = new HealthMonitor({
    probe: async (_id, cmd, o): Promise<ProbeResult> => {
      calls.push({ cmd, timeoutMs: o.timeoutMs });
      return ok ? { exitCode: 0, output: '' } : { exitCode: 1, output: 'no file\n' };
    },
    changed: () => saves++,
    event: (action) => seen.push(action),
  });
  mon.follow(events);
  const c = container({ Test: ['CMD-SHELL', 'test -f /tmp/ok'], Interval: 10 * ms, Retries: 2, Timeout: 250 * ms });
  events.emit('event', 'start', c);
  assert.equal(c.State.Health?.Status, 'starting');
  await until('unhealthy', () => c.State.Health?.Status === 'unhealthy');
  assert.deepEqual(calls[0], { cmd: ['/bin/sh', '-c', 'test -f /tmp/ok'], timeoutMs: 250 });
  assert.equal(c.State.Health?.Log[0].Output, 'no file\n');
  ok = true;
  await until('healthy', () => c.State.Health?.Status === 'healthy');
  assert.deepEqual(seen, ['health_status: unhealthy', 'health_status: healthy']);
  assert.ok(saves >= 3);

  // Paused: no probes; unpaused: probing again without a reset.
  events.emit('event', 'pause', c);
  assert.equal(mon.running(c.ID), false);
  const n = calls.length;
  await new Promise((r) => setTimeout(r, 40));
  assert.ok(calls.length <= n + 1, 'no probes while paused');
  events.emit('event', 'unpause', c);
  assert.equal(c.State.Health?.Status, 'healthy');
  await until('probing again', () => calls.length > n + 2);

  events.emit('event', 'die', c);
  assert.equal(mon.running(c.ID), false);
  const m = calls.length;
  await new Promise((r) => setTimeout(r, 40));
  assert.ok(calls.length <= m + 1);
  // The last status stays visible after the exit, as in Docker.
  assert.equal(c.State.Health?.Status, 'healthy');

  // Started again: starting, the streak reset, the log kept.
  ok = false;
  events.emit('event', 'start', c);
  assert.equal(c.State.Health?.Status, 'starting');
  assert.ok((c.State.Health?.Log.length ?? 0) > 0);
  mon.stopAll();
});

test('monitor: a probe that throws is a failure with its message; NONE means no health at all', async () => {
  const mon = new HealthMonitor({
    probe: async () => { throw new Error('container abc is not running'); },
    changed: () => {},
    event: () => {},
  });
  const c = container({ Test: ['CMD', 'true'], Interval: 5 * ms, Retries: 1 });
  mon.start(c);
  await until('unhealthy', () => c.State.Health?.Status === 'unhealthy');
  assert.equal(c.State.Health?.Log[0].ExitCode, -1);
  assert.equal(c.State.Health?.Log[0].Output, 'container abc is not running');
  mon.stop(c.ID);

  const none = container({ Test: ['NONE'] });
  mon.start(none);
  assert.equal(none.State.Health, undefined);
  assert.equal(mon.running(none.ID), false);
});

test('monitor: a result arriving after the stop is dropped', async () => {
  let release: (r: ProbeResult) => void = () => {};
  const mon = new HealthMonitor({
    probe: () => new Promise<ProbeResult>((r) => (release = r)),
    changed: () => {},
    event: () => {},
  });
  const c = container({ Test: ['CMD', 'true'], Interval: 1 * ms });
  mon.start(c);
  await new Promise((r) => setTimeout(r, 20));
  mon.stop(c.ID);
  release({ exitCode: 0, output: '' });
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(c.State.Health?.Status, 'starting');
  assert.equal(c.State.Health?.Log.length, 0);
});
