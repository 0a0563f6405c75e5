import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePsOutput, validatePsArgs, containerTop } from './top.ts';

test('ps output keeps the container processes, merges long commands, keeps threads', () => {
  const out = `UID        PID  PPID  C STIME TTY          TIME CMD
root         1     0  0 07:00 ?        00:00:01 /sbin/init
root       812   800  0 07:49 ?        00:00:00 sh -c while true; do sleep 1; done
root       900   812  0 07:50 ?        00:00:00 sleep 1
`;
  const r = parsePsOutput(out, [812, 900]);
  assert.deepEqual(r.Titles, ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD']);
  assert.deepEqual(r.Processes, [
    ['root', '812', '800', '0', '07:49', '?', '00:00:00', 'sh -c while true; do sleep 1; done'],
    ['root', '900', '812', '0', '07:50', '?', '00:00:00', 'sleep 1'],
  ]);
  // Thread lines ("-" as PID) follow once a process was kept, as in Docker (ps -q lists only ours anyway).
  const threads = parsePsOutput('PID LWP CMD\n1 - init\n- 2 kthread\n812 - sh\n- 813 worker\n', [812]);
  assert.deepEqual(threads.Processes, [['812', '-', 'sh'], ['-', '813', 'worker']]);
  assert.throws(() => parsePsOutput('USER COMMAND\nroot x\n', [1]), /Couldn't find PID field in ps output/);
});

test('ps options that rename the PID column are refused, like Docker', () => {
  assert.throws(() => validatePsArgs('-o user=PID'), /^BerthError: specifying "user=PID" is not allowed$/);
  validatePsArgs('-o pid=PID');
  validatePsArgs('aux');
});

test('containerTop runs the host ps on the given pids', async () => {
  const r = await containerTop([process.pid], '-o pid,comm');
  assert.deepEqual(r.Titles, ['PID', 'COMMAND']);
  assert.deepEqual(r.Processes.map((p) => p[0]), [String(process.pid)]);
  await assert.rejects(containerTop([process.pid], '--bogus-option'), /^BerthError: ps: /);
});
