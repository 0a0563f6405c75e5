import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextDelay, policyRestarts, startsAtDaemonStart, killCancelsRestart, RestartScheduler, BACKOFF_MAX_MS } from './restart.ts';

const exit = (exitCode: number, o: { manuallyStopped?: boolean; restartCount?: number } = {}) =>
  ({ exitCode, manuallyStopped: o.manuallyStopped ?? false, restartCount: o.restartCount ?? 0 });

test('backoff: 100 ms doubling up to one minute, back to 100 ms after a run of 10 s', () => {
  const seq: number[] = [];
  let d = 0;
  for (let i = 0; i < 13; i++) seq.push((d = nextDelay(d, 50)));
  assert.deepEqual(seq, [100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000, 60000]);
  assert.equal(nextDelay(BACKOFF_MAX_MS, 10_000), 100);
  assert.equal(nextDelay(800, 9_999), 1600);
});

test('policies: no, always, unless-stopped, on-failure[:N]', () => {
  assert.equal(policyRestarts({ Name: 'no' }, exit(1)), false);
  assert.equal(policyRestarts({ Name: '' }, exit(1)), false);
  assert.equal(policyRestarts(undefined, exit(1)), false);
  assert.equal(policyRestarts({ Name: 'always' }, exit(0)), true);
  assert.equal(policyRestarts({ Name: 'always' }, exit(0, { manuallyStopped: true })), true);
  assert.equal(policyRestarts({ Name: 'unless-stopped' }, exit(0)), true);
  assert.equal(policyRestarts({ Name: 'unless-stopped' }, exit(137, { manuallyStopped: true })), false);
  assert.equal(policyRestarts({ Name: 'on-failure' }, exit(0)), false);
  assert.equal(policyRestarts({ Name: 'on-failure' }, exit(3, { restartCount: 1000 })), true);
  assert.equal(policyRestarts({ Name: 'on-failure', MaximumRetryCount: 2 }, exit(3, { restartCount: 1 })), true);
  assert.equal(policyRestarts({ Name: 'on-failure', MaximumRetryCount: 2 }, exit(3, { restartCount: 2 })), false);
});

test('daemon start: always comes back even after a stop, unless-stopped only when not stopped by the user', () => {
  const facts = (o: Partial<{ exitCode: number; manuallyStopped: boolean; restartCount: number; startedBefore: boolean }>) =>
    ({ exitCode: 0, manuallyStopped: false, restartCount: 0, startedBefore: true, ...o });
  assert.equal(startsAtDaemonStart({ Name: 'always' }, facts({ manuallyStopped: true, exitCode: 137 })), true);
  assert.equal(startsAtDaemonStart({ Name: 'always' }, facts({ startedBefore: false })), false);
  assert.equal(startsAtDaemonStart({ Name: 'unless-stopped' }, facts({ manuallyStopped: true })), false);
  assert.equal(startsAtDaemonStart({ Name: 'unless-stopped' }, facts({ exitCode: 1 })), true);
  assert.equal(startsAtDaemonStart({ Name: 'no' }, facts({ exitCode: 1 })), false);
  assert.equal(startsAtDaemonStart({ Name: 'on-failure' }, facts({ exitCode: 0 })), false);
  assert.equal(startsAtDaemonStart({ Name: 'on-failure', MaximumRetryCount: 1 }, facts({ exitCode: 2, restartCount: 1 })), false);
});

test('kill: SIGKILL or the stop signal cancels the policy; any signal does without a stop signal', () => {
  assert.equal(killCancelsRestart(9, 15), true);
  assert.equal(killCancelsRestart(15, 15), true);
  assert.equal(killCancelsRestart(1, 15), false);
  assert.equal(killCancelsRestart(1, undefined), true);
});

test('scheduler: delays grow per exit, cancel drops a pending restart and disables until reset', async () => {
  const s = new RestartScheduler();
  const always = { Name: 'always' };
  assert.equal(s.onExit('a', always, { ...exit(1), ranMs: 5 }), 100);
  assert.equal(s.onExit('a', always, { ...exit(1), ranMs: 5 }), 200);
  assert.equal(s.onExit('a', { Name: 'no' }, { ...exit(1), ranMs: 5 }), undefined);
  // on-failure with exit 0: no restart, but the delay still grows (Docker computes it first).
  assert.equal(s.onExit('b', { Name: 'on-failure' }, { ...exit(0), ranMs: 5 }), undefined);
  assert.equal(s.onExit('b', { Name: 'on-failure' }, { ...exit(1), ranMs: 5 }), 200);

  let fired = 0;
  s.schedule('a', 10, () => fired++);
  assert.equal(s.pending('a'), true);
  // No second decision while one is pending.
  assert.equal(s.onExit('a', always, { ...exit(1), ranMs: 5 }), undefined);
  assert.equal(s.cancel('a'), true);
  assert.equal(s.pending('a'), false);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(fired, 0);
  assert.equal(s.cancelled('a'), true);
  assert.equal(s.onExit('a', always, { ...exit(1), ranMs: 5 }), undefined);
  s.reset('a');
  assert.equal(s.cancelled('a'), false);
  assert.equal(s.onExit('a', always, { ...exit(1), ranMs: 5 }), 100);
  s.schedule('a', 5, () => fired++);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(fired, 1);
  assert.equal(s.pending('a'), false);
  // A stop of a running container (nothing pending) still disables the next restart.
  assert.equal(s.cancel('a'), false);
  assert.equal(s.onExit('a', always, { ...exit(137), ranMs: 5 }), undefined);
});
