// Containers through the real docker CLI: lifecycle (run/create/start/stop/kill/wait/rm), logs, ps, inspect,
// run options, and the isolation Docker gives by default (namespaces, capabilities, seccomp, masked paths,
// cgroup limits).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDaemon, run, DOCKER, type TestDaemon, type RunResult } from './harness.ts';
import { bootstrap, docker, dockerOk, waitFor } from './helpers.ts';
import { buildRootfsTar, rootfsEntries } from '../src/cli/commands/bootstrap.ts';

let d: TestDaemon;
let tmp: string;
let imageId: string;
const cgroupV2 = existsSync('/sys/fs/cgroup/cgroup.controllers');

before(async () => {
  d = await startDaemon();
  tmp = mkdtempSync('/tmp/bt-ctr-');
  imageId = await bootstrap(d);
  // An image with its own ENV, to see how a container's environment merges with it.
  const rootfs = path.join(tmp, 'rootfs.tar');
  writeFileSync(rootfs, await buildRootfsTar(rootfsEntries(readFileSync('/bin/busybox'), ['bin/sh', 'bin/env', 'bin/echo'])));
  await dockerOk(d, ['import', '-c', 'ENV PATH=/bin IMG_VAR=image SHARED=from-image', '-c', 'CMD ["env"]', rootfs, 'ctr-env:1']);
});

after(async () => {
  await d?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const sh = (script: string, ...opts: string[]) => docker(d, ['run', '--rm', ...opts, 'busybox', 'sh', '-c', script]);
async function shOk(script: string, ...opts: string[]): Promise<string> {
  const r = await sh(script, ...opts);
  assert.equal(r.code, 0, `${opts.join(' ')} ${script}: ${r.stderr}`);
  return r.stdout;
}
const inspect = (ref: string, format: string) => dockerOk(d, ['inspect', '--format', format, ref]);

/** The "Name:\tvalue" fields of /proc/self/status as the container's process sees them. */
async function procStatus(...opts: string[]): Promise<Record<string, string>> {
  const out = await shOk('cat /proc/self/status', ...opts);
  return Object.fromEntries(out.split('\n').filter((l) => l.includes(':')).map((l) => {
    const i = l.indexOf(':');
    return [l.slice(0, i), l.slice(i + 1).trim()];
  }));
}

// Docker's 14 default capabilities: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP
// NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP.
const DEFAULT_CAPS = [0, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 27, 29, 31].reduce((m, b) => m | (1n << BigInt(b)), 0n);
const capMask = (hex: string) => BigInt(`0x${hex}`);

test('create, start, stop with the StopSignal, stop -t, kill -s and wait', async () => {
  // create leaves a container that start runs; start -a gives its output and exit status.
  const created = await dockerOk(d, ['create', '--name', 'ct-created', 'busybox', 'sh', '-c', 'echo started; exit 9']);
  assert.match(created, /^[0-9a-f]{64}$/);
  assert.equal(await inspect(created, '{{.State.Status}} {{.State.Pid}} {{.State.StartedAt}}'), 'created 0 0001-01-01T00:00:00Z');
  const started = await docker(d, ['start', '-a', 'ct-created']);
  assert.deepEqual([started.code, started.stdout], [9, 'started\n']);
  assert.equal(await inspect(created, '{{.State.Status}} {{.State.ExitCode}}'), 'exited 9');

  // stop sends the container's StopSignal (from --stop-signal) and returns as soon as it exits.
  const trap = 'trap "echo got $SIG; exit $CODE" $SIG; echo ready; while true; do sleep 0.05; done';
  const usr1 = await dockerOk(d, ['run', '-d', '--stop-signal', 'SIGUSR1', '-e', 'SIG=USR1', '-e', 'CODE=5', 'busybox', 'sh', '-c', trap]);
  assert.equal(await inspect(usr1, '{{.Config.StopSignal}}'), 'SIGUSR1');
  await waitFor('ready', async () => (await docker(d, ['logs', usr1])).stdout.includes('ready'));
  let t0 = Date.now();
  assert.equal(await dockerOk(d, ['stop', usr1]), usr1);
  assert.ok(Date.now() - t0 < 5000, `stop took ${Date.now() - t0} ms`);
  assert.equal(await inspect(usr1, '{{.State.ExitCode}}'), '5');
  assert.equal((await docker(d, ['logs', usr1])).stdout, 'ready\ngot USR1\n');

  // A process that ignores the signal (PID 1 without a handler ignores SIGTERM) is killed after -t seconds.
  const stubborn = await dockerOk(d, ['run', '-d', 'busybox', 'sleep', '100']);
  t0 = Date.now();
  await dockerOk(d, ['stop', '-t', '1', stubborn]);
  const took = Date.now() - t0;
  assert.ok(took >= 900 && took < 6000, `stop -t 1 took ${took} ms`);
  assert.equal(await inspect(stubborn, '{{.State.Status}} {{.State.ExitCode}}'), 'exited 137');

  // kill -s delivers the named signal; plain kill is SIGKILL.
  const usr2 = await dockerOk(d, ['run', '-d', '-e', 'SIG=USR2', '-e', 'CODE=12', 'busybox', 'sh', '-c', trap]);
  const killed = await dockerOk(d, ['run', '-d', 'busybox', 'sleep', '100']);
  await waitFor('ready', async () => (await docker(d, ['logs', usr2])).stdout.includes('ready'));
  assert.equal(await dockerOk(d, ['kill', '-s', 'USR2', usr2]), usr2);
  assert.equal(await dockerOk(d, ['kill', killed]), killed);
  // wait prints each container's exit status, in order.
  assert.equal(await dockerOk(d, ['wait', usr2, killed, 'ct-created']), '12\n137\n9');
  assert.equal((await docker(d, ['logs', usr2])).stdout, 'ready\ngot USR2\n');
  const notRunning = await docker(d, ['kill', killed]);
  assert.equal(notRunning.code, 1);
  assert.match(notRunning.stderr, /is not running/);
  const noSuch = await docker(d, ['stop', 'ct-no-such']);
  assert.equal(noSuch.code, 1);
  assert.match(noSuch.stderr, /No such container: ct-no-such/);
  await dockerOk(d, ['rm', created, usr1, stubborn, usr2, killed]);
});

test('logs: -f follows a running container, --tail, --since, --until, -t', async () => {
  const id = await dockerOk(d, ['run', '-d', 'busybox', 'sh', '-c', 'for i in 1 2 3 4 5 6 7 8 9 10; do echo line$i; sleep 0.1; done; echo err >&2']);
  // Follow from the start, while it runs: lines arrive as they are written, and -f ends with the container.
  const chunks: { at: number; data: string }[] = [];
  const follower = spawn(DOCKER, ['logs', '-f', id], { env: d.env, stdio: ['ignore', 'pipe', 'pipe'] });
  follower.stdout.on('data', (b: Buffer) => chunks.push({ at: Date.now(), data: b.toString() }));
  let followErr = '';
  follower.stderr.on('data', (b: Buffer) => (followErr += b));
  const code = await new Promise<number | null>((resolve) => follower.on('close', resolve));
  assert.equal(code, 0);
  const lines = Array.from({ length: 10 }, (_, i) => `line${i + 1}\n`).join('');
  assert.equal(chunks.map((c) => c.data).join(''), lines);
  assert.equal(followErr, 'err\n');
  const finished = Date.parse(await inspect(id, '{{.State.FinishedAt}}'));
  assert.ok(chunks.length > 1, 'output came in several pieces');
  assert.ok(chunks[0].at < finished - 300, `first line came ${finished - chunks[0].at} ms before the exit`);

  const all = await docker(d, ['logs', id]);
  assert.deepEqual([all.stdout, all.stderr], [lines, 'err\n']);
  // --tail counts lines of both streams together.
  const tail = await docker(d, ['logs', '--tail', '2', id]);
  assert.deepEqual([tail.stdout, tail.stderr], ['line10\n', 'err\n']);
  const none = await docker(d, ['logs', '--tail', '0', id]);
  assert.deepEqual([none.stdout, none.stderr], ['', '']);

  // -t: each line with its RFC 3339 nanosecond time, in order.
  const stamped = (await docker(d, ['logs', '-t', id])).stdout.trimEnd().split('\n');
  assert.equal(stamped.length, 10);
  const times = stamped.map((l, i) => {
    const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) line(\d+)$/.exec(l);
    assert.ok(m, l);
    assert.equal(Number(m[2]), i + 1);
    return m[1];
  });
  assert.deepEqual([...times].sort(), times);
  // --since is inclusive, --until too; a relative --since takes everything here.
  assert.equal((await docker(d, ['logs', '--since', times[6], id])).stdout, 'line7\nline8\nline9\nline10\n');
  assert.equal((await docker(d, ['logs', '--until', times[1], id])).stdout, 'line1\nline2\n');
  assert.equal((await docker(d, ['logs', '--since', '1h', id])).stdout, lines);
  const future = new Date(Date.now() + 3600_000).toISOString();
  assert.deepEqual(await docker(d, ['logs', '--since', future, id]).then((r) => [r.stdout, r.stderr]), ['', '']);
  await dockerOk(d, ['rm', id]);
});

test('rm refuses a running container; rm -f kills and removes it', async () => {
  const id = await dockerOk(d, ['run', '-d', '--name', 'ct-rm', 'busybox', 'sleep', '100']);
  const pid = Number(await inspect(id, '{{.State.Pid}}'));
  assert.ok(pid > 0);
  const refused = await docker(d, ['rm', 'ct-rm']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /container is running: stop the container before removing or force remove/);
  assert.equal(await inspect(id, '{{.State.Running}}'), 'true');
  assert.equal(await dockerOk(d, ['rm', '-f', 'ct-rm']), 'ct-rm');
  assert.equal((await docker(d, ['inspect', id])).code, 1);
  await waitFor('the container process to go', () => !existsSync(`/proc/${pid}`) || readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2] === 'Z');
  assert.doesNotMatch(readFileSync('/proc/self/mountinfo', 'utf8'), new RegExp(id));
  assert.equal(existsSync(path.join(d.dataRoot, 'containers', id)), false);
});

test('ps: -a, -q, -n, filters, --no-trunc and --format', async () => {
  const runningId = await dockerOk(d, ['run', '-d', '--name', 'ct-ps-run', '-l', 'tier=web', '-l', 'team=a', 'busybox', 'sleep', '100']);
  const exitedId = await dockerOk(d, ['run', '-d', '--name', 'ct-ps-exit', '-l', 'tier=db', 'busybox', 'sh', '-c', 'exit 3']);
  await dockerOk(d, ['wait', exitedId]);
  const createdId = await dockerOk(d, ['create', '--name', 'ct-ps-new', 'ctr-env:1']);
  const short = (id: string) => id.slice(0, 12);
  const ps = async (...args: string[]) => (await dockerOk(d, ['ps', ...args])).split('\n').filter(Boolean);
  try {
    assert.deepEqual(await ps('-q'), [short(runningId)]);
    assert.deepEqual(await ps('-aq'), [createdId, exitedId, runningId].map(short));
    assert.deepEqual(await ps('-q', '-n', '1'), [short(createdId)]);
    assert.deepEqual(await ps('-q', '-n', '2'), [createdId, exitedId].map(short));
    assert.deepEqual(await ps('-aq', '--no-trunc'), [createdId, exitedId, runningId]);

    const f = (...filters: string[]) => ps('-aq', ...filters.flatMap((x) => ['--filter', x]));
    assert.deepEqual(await f('status=running'), [short(runningId)]);
    assert.deepEqual(await f('status=exited'), [short(exitedId)]);
    assert.deepEqual(await f('status=created'), [short(createdId)]);
    assert.deepEqual(await f('status=created', 'status=exited'), [createdId, exitedId].map(short));
    assert.deepEqual(await f('exited=3'), [short(exitedId)]);
    assert.deepEqual(await f('name=ct-ps-exit'), [short(exitedId)]);
    assert.deepEqual(await f('name=ct-ps-'), [createdId, exitedId, runningId].map(short));
    assert.deepEqual(await f('label=tier'), [exitedId, runningId].map(short));
    assert.deepEqual(await f('label=tier=web'), [short(runningId)]);
    assert.deepEqual(await f('label=tier=web', 'label=team=a'), [short(runningId)]);
    assert.deepEqual(await f('label=tier=nope'), []);
    assert.deepEqual(await f(`id=${runningId.slice(0, 8)}`), [short(runningId)]);
    assert.deepEqual(await f('ancestor=busybox'), [exitedId, runningId].map(short));
    assert.deepEqual(await f(`ancestor=${imageId}`), [exitedId, runningId].map(short));
    assert.deepEqual(await f('ancestor=ctr-env:1'), [short(createdId)]);
    const bad = await docker(d, ['ps', '--filter', 'status=bogus']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /invalid filter 'status=bogus'/);

    assert.deepEqual(await ps('-a', '--filter', 'name=ct-ps-', '--format', '{{.Names}}|{{.Image}}|{{.Command}}|{{.State}}'), [
      // Docker joins Path and Args with spaces, unquoted.
      'ct-ps-new|ctr-env:1|"env"|created', 'ct-ps-exit|busybox|"sh -c exit 3"|exited', 'ct-ps-run|busybox|"sleep 100"|running',
    ]);
    assert.match((await ps('-a', '--filter', 'name=ct-ps-exit', '--format', '{{.Status}}'))[0], /^Exited \(3\) /);
    assert.match((await ps('--format', '{{.Status}}'))[0], /^Up /);
    assert.deepEqual(await ps('--no-trunc', '--format', '{{.ID}} {{.Labels}}'), [`${runningId} team=a,tier=web`]);
    assert.equal(await ps('--format', '{{.Label "tier"}}').then((x) => x[0]), 'web');
    const json = JSON.parse((await ps('--format', '{{json .}}'))[0]);
    assert.equal(json.Names, 'ct-ps-run');
    assert.equal(json.ID, short(runningId));
    assert.equal(json.State, 'running');
    const table = await ps('-a', '--filter', 'name=ct-ps-run', '--format', 'table {{.Names}}\t{{.State}}');
    assert.equal(table.length, 2);
    assert.match(table[0], /^NAMES\s+STATE$/);
    assert.match(table[1], /^ct-ps-run\s+running$/);
  } finally {
    await docker(d, ['rm', '-f', runningId, exitedId, createdId]);
  }
});

test('inspect: --format, Config.Env merged with the image ENV, HostConfig limits', async () => {
  const envFile = path.join(tmp, 'ct.env');
  writeFileSync(envFile, '# a comment\nFILE_VAR=from-file\nSHARED=from-file\n');
  const id = await dockerOk(d, ['create', '--name', 'ct-inspect', '--env-file', envFile, '-e', 'SHARED=from-cli', '-e', 'NEW=1',
    '-m', '64m', '--cpus', '0.5', '--cpu-shares', '512', '--pids-limit', '50', '--hostname', 'ct-host', '-l', 'a=b', 'ctr-env:1']);
  const c = JSON.parse(await dockerOk(d, ['inspect', id]))[0];
  assert.equal(c.Id, id);
  assert.equal(c.Name, '/ct-inspect');
  assert.equal(c.Image, (await dockerOk(d, ['image', 'inspect', '--format', '{{.Id}}', 'ctr-env:1'])));
  // The image's variables keep their place, the container's replace them by name or come after.
  assert.deepEqual(c.Config.Env, ['PATH=/bin', 'IMG_VAR=image', 'SHARED=from-cli', 'FILE_VAR=from-file', 'NEW=1']);
  assert.deepEqual(c.Config.Cmd, ['env']);
  assert.equal(c.Config.Image, 'ctr-env:1');
  assert.equal(c.Config.Hostname, 'ct-host');
  assert.deepEqual(c.Config.Labels, { a: 'b' });
  assert.equal(c.HostConfig.Memory, 64 * 1024 * 1024);
  assert.equal(c.HostConfig.NanoCpus, 500_000_000);
  assert.equal(c.HostConfig.CpuShares, 512);
  assert.equal(c.HostConfig.PidsLimit, 50);
  assert.equal(c.HostConfig.NetworkMode, 'bridge');
  assert.deepEqual(c.HostConfig.RestartPolicy, { Name: 'no', MaximumRetryCount: 0 });
  assert.equal(c.State.Status, 'created');
  assert.equal(c.State.ExitCode, 0);
  assert.equal(c.Path, 'env');
  assert.deepEqual(c.Args, []);
  assert.equal(c.Driver, 'overlay2');
  assert.ok(c.LogPath.startsWith(d.dataRoot), c.LogPath);
  assert.match(c.Created, /^\d{4}-\d\d-\d\dT/);
  assert.equal(await inspect(id, '{{.State.ExitCode}} {{json .Config.Cmd}} {{.HostConfig.Memory}}'), '0 ["env"] 67108864');
  // What the process gets: the merged variables plus PATH from the image, HOSTNAME and HOME.
  const out = (await docker(d, ['start', '-a', id])).stdout.split('\n').filter(Boolean).sort();
  assert.deepEqual(out, ['FILE_VAR=from-file', 'HOME=/root', 'HOSTNAME=ct-host', 'IMG_VAR=image', 'NEW=1', 'PATH=/bin', 'SHARED=from-cli']);
  assert.equal(await inspect(id, '{{.State.ExitCode}}'), '0');
  await dockerOk(d, ['rm', id]);
});

test('exit statuses: the container\'s own, 125, 126 and 127', async () => {
  const own = await sh('echo out; exit 42');
  assert.deepEqual([own.code, own.stdout], [42, 'out\n']);
  const missing = await docker(d, ['run', '--rm', 'busybox', '/no/such/binary']);
  assert.equal(missing.code, 127);
  assert.match(missing.stderr, /no such file or directory/);
  const notInPath = await docker(d, ['run', '--rm', 'busybox', 'nosuchcommand']);
  assert.equal(notInPath.code, 127);
  const directory = await docker(d, ['run', '--rm', 'busybox', '/etc']);
  assert.equal(directory.code, 126);
  assert.match(directory.stderr, /permission denied/);
  const tooManyCpus = await docker(d, ['run', '--rm', '--cpus', String(os.cpus().length + 1), 'busybox', 'true']);
  assert.equal(tooManyCpus.code, 125);
  assert.match(tooManyCpus.stderr, /Range of CPUs is from 0\.01 to/);
  const badName = await docker(d, ['run', '--rm', '--name', 'bad/name', 'busybox', 'true']);
  assert.equal(badName.code, 125);
  // None of the failed runs with --rm left a container behind.
  assert.equal(await dockerOk(d, ['ps', '-aq', '--filter', `ancestor=${imageId}`]), '');
});

test('run options: -w, -u, --entrypoint, --hostname, -l, -e', async () => {
  assert.equal(await shOk('pwd; stat -c "%U %a" .', '-w', '/made/for/you', '-u', 'nobody'), '/made/for/you\nnobody 755\n');
  assert.equal(await shOk('pwd', '-w', '/etc'), '/etc\n');
  assert.equal(await shOk('id', '-u', 'nobody'), 'uid=65534(nobody) gid=65534(nogroup)\n');
  assert.equal(await shOk('id -u; id -g', '-u', '1234:1234'), '1234\n1234\n');
  assert.equal(await shOk('id -u; id -g', '-u', '0:1234'), '0\n1234\n');
  const noUser = await sh('true', '-u', 'no-such-user');
  assert.notEqual(noUser.code, 0);
  assert.match(noUser.stderr, /no-such-user/);
  const ep = await docker(d, ['run', '--rm', '--entrypoint', 'echo', 'busybox', 'from', 'entrypoint']);
  assert.deepEqual([ep.code, ep.stdout], [0, 'from entrypoint\n']);
  // --entrypoint replaces the image's CMD too (ctr-env:1 would run env).
  assert.equal((await dockerOk(d, ['run', '--rm', '--entrypoint', '/bin/echo', 'ctr-env:1'])), '');
  assert.equal(await shOk('hostname; cat /etc/hostname', '--hostname', 'ct-named'), 'ct-named\nct-named\n');
  // The default hostname is the short container id.
  const id = await dockerOk(d, ['run', '-d', 'busybox', 'hostname']);
  await dockerOk(d, ['wait', id]);
  assert.equal((await docker(d, ['logs', id])).stdout, `${id.slice(0, 12)}\n`);
  await dockerOk(d, ['rm', id]);
  const labelled = await dockerOk(d, ['create', '-l', 'x=1', '--label', 'y', 'busybox']);
  assert.equal(await inspect(labelled, '{{json .Config.Labels}}'), '{"x":"1","y":""}');
  await dockerOk(d, ['rm', labelled]);
  assert.equal(await shOk('echo "$A|$B"', '-e', 'A=1', '-e', 'B=two words'), '1|two words\n');
});

test('--read-only root filesystem', async () => {
  const r = await sh('touch /x', '--read-only');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /Read-only file system/);
  // The rest of the filesystem stays writable where Docker keeps it so.
  assert.equal(await shOk('touch /dev/shm/ok && echo ok', '--read-only'), 'ok\n');
  assert.equal(await shOk('touch /x && echo ok'), 'ok\n');
});

test('capabilities: defaults, --cap-add/--cap-drop, --privileged', async () => {
  const dflt = await procStatus();
  assert.equal(capMask(dflt.CapEff), DEFAULT_CAPS);
  assert.equal(capMask(dflt.CapBnd), DEFAULT_CAPS);
  const netAdminOnly = await procStatus('--cap-drop', 'ALL', '--cap-add', 'NET_ADMIN');
  assert.equal(capMask(netAdminOnly.CapEff), 1n << 12n);
  const noChown = await procStatus('--cap-drop', 'chown', '--cap-add', 'SYS_ADMIN');
  assert.equal(capMask(noChown.CapEff), (DEFAULT_CAPS & ~1n) | (1n << 21n));
  // Without CAP_CHOWN, chown fails; with the default set it works.
  assert.notEqual((await sh('chown nobody /tmp', '--cap-drop', 'CHOWN')).code, 0);
  assert.equal((await sh('chown nobody /tmp')).code, 0);
  const unknown = await sh('true', '--cap-add', 'NOT_A_CAP');
  assert.equal(unknown.code, 125);
  assert.match(unknown.stderr, /unknown capability: "CAP_NOT_A_CAP"/);
  // --privileged: every capability berthd itself may grant, no seccomp, writable /sys.
  const hostBounding = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${d.proc.pid}/status`, 'utf8'))![1];
  const priv = await procStatus('--privileged');
  assert.equal(capMask(priv.CapEff), capMask(hostBounding));
  assert.equal(priv.Seccomp, '0');
  assert.equal(await shOk('grep " /sys " /proc/self/mounts | grep -c rw,', '--privileged'), '1\n');
});

test('seccomp and no-new-privileges', async () => {
  const dflt = await procStatus();
  assert.equal(dflt.Seccomp, '2');
  assert.equal(dflt.NoNewPrivs, '0');
  const nnp = await procStatus('--security-opt', 'no-new-privileges');
  assert.equal(nnp.NoNewPrivs, '1');
  assert.equal(nnp.Seccomp, '2');
  const unconfined = await procStatus('--security-opt', 'seccomp=unconfined');
  assert.equal(unconfined.Seccomp, '0');
  // The default profile is in force: unshare(2) of a user namespace needs CAP_SYS_ADMIN under it.
  const blocked = await sh('unshare -U true');
  assert.notEqual(blocked.code, 0);
  assert.match(blocked.stderr, /Operation not permitted/);
  assert.equal((await sh('unshare -U true', '--security-opt', 'seccomp=unconfined')).code, 0);
  const bad = await sh('true', '--security-opt', 'bogus=1');
  assert.equal(bad.code, 125);
});

test('networking: --network none has only lo, --network host sees the host interfaces', async () => {
  assert.equal(await shOk('ls /sys/class/net', '--network', 'none'), 'lo\n');
  // Other daemons (tests run side by side) add and remove their bridges and veths meanwhile: compare the rest.
  const stable = (names: string[]) => names.filter((n) => !/^(veth|br-|bt)/.test(n)).sort();
  const host = stable(readdirSync('/sys/class/net'));
  assert.deepEqual(stable((await shOk('ls /sys/class/net', '--network', 'host')).split('\n').filter(Boolean)), host);
  assert.equal(await shOk('hostname', '--network', 'host'), `${os.hostname()}\n`);
  const none = await dockerOk(d, ['create', '--network', 'none', 'busybox']);
  assert.equal(await inspect(none, '{{.HostConfig.NetworkMode}}'), 'none');
  await dockerOk(d, ['rm', none]);
  // Like Docker, an unknown network fails the start (not the create, which the CLI would answer with a pull).
  const unknown = await docker(d, ['run', '--rm', '--network', 'no-such-net', 'busybox', 'true']);
  assert.equal(unknown.code, 125);
  assert.match(unknown.stderr, /network no-such-net not found/);
  assert.doesNotMatch(unknown.stderr, /Unable to find image/);
  assert.equal(await dockerOk(d, ['ps', '-aq', '--filter', 'status=created']), '');
});

test('isolation: pid, uts, ipc, mount and net namespaces', async () => {
  const other = await dockerOk(d, ['run', '-d', 'busybox', 'sleep', '100']);
  try {
    // Only its own processes; the command is PID 1.
    const ps = (await dockerOk(d, ['run', '--rm', 'busybox', 'ps', '-o', 'pid,args'])).trim().split('\n').slice(1).map((l) => l.trim());
    assert.deepEqual(ps, ['1 ps -o pid,args']);
    const kinds = ['ipc', 'mnt', 'uts', 'pid', 'net'];
    const script = kinds.map((k) => `readlink /proc/self/ns/${k}`).join('; ');
    const inA = (await shOk(script)).trim().split('\n');
    const host = kinds.map((k) => readlinkSync(`/proc/self/ns/${k}`));
    // The other container is still running, so its namespaces are alive and their numbers not reused.
    const otherPid = Number(await inspect(other, '{{.State.Pid}}'));
    const inOther = kinds.map((k) => readlinkSync(`/proc/${otherPid}/ns/${k}`));
    kinds.forEach((k, i) => {
      assert.match(inA[i], new RegExp(`^${k}:\\[\\d+\\]$`));
      assert.notEqual(inA[i], host[i], `${k} namespace differs from the host's`);
      assert.notEqual(inOther[i], host[i], `${k} namespace differs from the host's`);
      assert.notEqual(inA[i], inOther[i], `${k} namespace differs between containers`);
    });
    // uts: the container's hostname change stays inside.
    assert.equal(await shOk('hostname changed && hostname', '--cap-add', 'SYS_ADMIN'), 'changed\n');
    assert.equal(os.hostname() === 'changed', false);
    // mount: the root is the overlay, and a mount made inside never shows on the host.
    assert.match(await shOk('grep " / / " /proc/self/mountinfo'), / - overlay overlay /);
    assert.equal(await shOk('mount -t tmpfs berth-ct-mnt /tmp && grep -c berth-ct-mnt /proc/self/mountinfo', '--cap-add', 'SYS_ADMIN'), '1\n');
    assert.doesNotMatch(readFileSync('/proc/self/mountinfo', 'utf8'), /berth-ct-mnt/);
    // ipc: a shared-memory file in one container is not in another's /dev/shm.
    assert.equal(await shOk('echo x > /dev/shm/seg && ls /dev/shm'), 'seg\n');
    assert.equal(await shOk('ls /dev/shm'), '');
  } finally {
    await docker(d, ['rm', '-f', other]);
  }
});

test('masked paths are empty and /proc/sys is read-only', async () => {
  const maskedFiles = ['/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug']
    .filter((p) => existsSync(p));
  const maskedDirs = ['/proc/acpi', '/proc/scsi', '/sys/firmware'].filter((p) => existsSync(p) && statSync(p).isDirectory());
  assert.ok(maskedFiles.length > 0, 'the host has some of the masked files');
  const out = await shOk([...maskedFiles.map((f) => `echo "${f} $(cat ${f} | wc -c)"`), ...maskedDirs.map((p) => `echo "${p} $(ls -A ${p} | wc -l)"`)].join('; '));
  assert.deepEqual(out.trim().split('\n'), [...maskedFiles, ...maskedDirs].map((p) => `${p} 0`));
  // Some of the same files have content on the host, so the zeros above are the masking.
  assert.ok(maskedFiles.some((f) => readFileSync(f).length > 0), 'a masked file has content on the host');
  const sys = await sh('echo ct-x > /proc/sys/kernel/hostname');
  assert.notEqual(sys.code, 0);
  assert.match(sys.stderr, /Read-only file system/);
  assert.notEqual(os.hostname(), 'ct-x');
  const sysrq = await sh('echo h > /proc/sysrq-trigger');
  assert.notEqual(sysrq.code, 0);
  // /sys is read-only too.
  assert.match((await sh('touch /sys/kernel/x')).stderr, /Read-only file system/);
});

test('cgroup limits are in force and visible inside the container', async () => {
  const files = cgroupV2
    ? { mem: '/sys/fs/cgroup/memory.max', pids: '/sys/fs/cgroup/pids.max', cpu: '/sys/fs/cgroup/cpu.max' }
    : { mem: '/sys/fs/cgroup/memory/memory.limit_in_bytes', pids: '/sys/fs/cgroup/pids/pids.max', cpu: '/sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/cpu/cpu.shares' };
  const out = await shOk(`cat ${files.mem} ${files.pids} ${files.cpu}`, '-m', '64m', '--pids-limit', '50', '--cpus', '0.5', '--cpu-shares', '512');
  assert.deepEqual(out.trim().split('\n'), cgroupV2 ? ['67108864', '50', '50000 100000'] : ['67108864', '50', '50000', '100000', '512']);
  // Unlimited by default.
  const dflt = await shOk(`cat ${files.mem} ${files.pids}`);
  const [mem, pids] = dflt.trim().split('\n');
  assert.ok(cgroupV2 ? mem === 'max' : Number(mem) > 2 ** 40, mem);
  assert.equal(pids, 'max');
  // pids: forks beyond the limit fail.
  const forks = await sh('for i in 1 2 3 4 5 6 7 8; do sleep 1 & done; wait', '--pids-limit', '5');
  assert.notEqual(forks.code, 0);
  assert.match(forks.stderr, /can't fork/);
  // memory: going over the limit gets the container OOM-killed.
  const id = await dockerOk(d, ['run', '-d', '-m', '16m', 'busybox', 'sh', '-c', 'x=$(head -c 100000000 /dev/zero | tr "\\0" a); echo survived']);
  assert.equal(await dockerOk(d, ['wait', id]), '137');
  assert.equal((await docker(d, ['logs', id])).stdout, '');
  assert.equal(await inspect(id, '{{.State.OOMKilled}}'), 'true');
  await dockerOk(d, ['rm', id]);
});

test('-i pipes stdin, -t gives the caller\'s terminal size', async () => {
  const data = Buffer.alloc(1 << 20);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7919) & 0xff;
  const piped = await docker(d, ['run', '--rm', '-i', 'busybox', 'sh', '-c', 'wc -c; echo end >&2'], { input: data });
  assert.deepEqual([piped.code, piped.stdout.trim(), piped.stderr], [0, String(data.length), 'end\n']);
  const md5 = await docker(d, ['run', '--rm', '-i', 'busybox', 'md5sum'], { input: data });
  const { createHash } = await import('node:crypto');
  assert.equal(md5.stdout.split(' ')[0], createHash('md5').update(data).digest('hex'));
  // Without -i the container's stdin is empty.
  assert.equal((await docker(d, ['run', '--rm', 'busybox', 'wc', '-c'], { input: 'ignored' })).stdout.trim(), '0');

  const pty = (cmd: string): Promise<RunResult> => run('/usr/bin/script', ['-qec', cmd, '/dev/null'], { env: d.env });
  const sized = await pty(`stty cols 123 rows 45; ${DOCKER} run --rm -it busybox sh -c 'stty size; tty; echo "TERM=$TERM"'`);
  assert.equal(sized.code, 0, sized.stderr);
  const lines = sized.stdout.replaceAll('^@', '').replaceAll('\0', '').split('\r\n').filter(Boolean);
  assert.equal(lines.length, 3, sized.stdout);
  assert.equal(lines[0], '45 123');
  assert.match(lines[1], /^\/dev\/(pts\/\d+|console)$/);
  assert.equal(lines[2], 'TERM=xterm');
  const code = await pty(`${DOCKER} run --rm -it busybox sh -c 'exit 7'`);
  assert.equal(code.code, 7);
});

test('run --rm leaves nothing behind, also with -d and on failure', async () => {
  const count = async () => (await dockerOk(d, ['ps', '-aq'])).split('\n').filter(Boolean).length;
  const before = await count();
  assert.equal((await sh('exit 4')).code, 4);
  const id = await dockerOk(d, ['run', '-d', '--rm', 'busybox', 'sh', '-c', 'sleep 0.2']);
  await waitFor('the -d --rm container to be removed', async () => (await docker(d, ['inspect', id])).code === 1);
  const stopped = await dockerOk(d, ['run', '-d', '--rm', 'busybox', 'sleep', '100']);
  await dockerOk(d, ['stop', '-t', '0', stopped]);
  await waitFor('the stopped --rm container to be removed', async () => (await docker(d, ['inspect', stopped])).code === 1);
  assert.equal(await count(), before);
  for (const c of [id, stopped]) assert.equal(existsSync(path.join(d.dataRoot, 'containers', c)), false);
});
