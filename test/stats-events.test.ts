// top, stats, pause/unpause, rename, update and events against real containers, with the real docker CLI
// and berth side by side.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { startDaemon, type TestDaemon } from './harness.ts';
import { api, waitFor, docker, berth, dockerOk, bootstrap } from './helpers.ts';

let d: TestDaemon;
const cgroupV2 = (() => {
  try {
    readFileSync('/sys/fs/cgroup/cgroup.controllers');
    return true;
  } catch {
    return false;
  }
})();

before(async () => {
  d = await startDaemon();
  await bootstrap(d);
});

after(async () => {
  await d?.stop();
});

const COUNTER = 'i=0; while true; do i=$((i+1)); echo $i; sleep 0.1; done';

async function lastLine(name: string): Promise<number> {
  const out = await dockerOk(d, ['logs', name]);
  return Number(out.split('\n').at(-1));
}

/** Reads `n` JSON lines of a streaming GET, then closes it. */
function streamLines(path: string, n: number): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath: d.socket, path }, (res) => {
      let buf = '';
      const out: unknown[] = [];
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        buf += c;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          out.push(JSON.parse(buf.slice(0, nl)));
          buf = buf.slice(nl + 1);
          if (out.length === n) {
            req.destroy();
            resolve(out);
            return;
          }
        }
      });
      res.on('end', () => resolve(out));
    });
    req.on('error', reject);
  });
}

test('stats: the memory limit, usage and Docker shape; zeros for a stopped container', async () => {
  await dockerOk(d, ['run', '-d', '--name', 'st1', '-m', '64m', 'busybox', 'sh', '-c', COUNTER]);
  const out = await dockerOk(d, ['stats', '--no-stream', 'st1']);
  const [head, row] = out.split('\n');
  assert.match(head, /^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET I\/O\s+BLOCK I\/O\s+PIDS$/);
  const m = /^([0-9a-f]{12})\s+st1\s+(\d+\.\d\d)%\s+([\d.]+)(B|KiB|MiB) \/ 64MiB\s+(\d+\.\d\d)%\s+\S+ \/ \S+\s+\S+ \/ \S+\s+(\d+)$/.exec(row);
  assert.ok(m, row);
  assert.ok(Number(m[3]) > 0, 'memory usage is not zero');
  assert.ok(Number(m[6]) >= 1, 'pids');
  const mine = await berth(d, ['stats', '--no-stream', '--format', '{{.Name}} {{.MemUsage}}', 'st1']);
  assert.equal(mine.code, 0, mine.stderr);
  assert.match(mine.stdout, /^st1 [\d.]+(B|KiB|MiB) \/ 64MiB\n$/);
  const json = await berth(d, ['stats', '--no-stream', '--format', 'json', 'st1']);
  assert.deepEqual(Object.keys(JSON.parse(json.stdout)), ['BlockIO', 'CPUPerc', 'Container', 'ID', 'MemPerc', 'MemUsage', 'Name', 'NetIO', 'PIDs']);

  const r = await api(d.socket, 'GET', '/containers/st1/stats?stream=false');
  assert.equal(r.status, 200);
  const s = r.json;
  assert.deepEqual(Object.keys(s).slice(0, 9), ['read', 'preread', 'pids_stats', 'blkio_stats', 'num_procs', 'storage_stats', 'cpu_stats', 'precpu_stats', 'memory_stats']);
  assert.equal(s.name, '/st1');
  assert.equal(s.memory_stats.limit, 64 * 1024 * 1024);
  assert.ok(s.memory_stats.usage > 0);
  assert.ok(s.cpu_stats.cpu_usage.total_usage > 0);
  assert.ok(s.cpu_stats.system_cpu_usage > s.precpu_stats.system_cpu_usage, 'precpu is a sample taken earlier');
  assert.ok(s.cpu_stats.online_cpus >= 1);
  assert.notEqual(s.preread, '0001-01-01T00:00:00Z');
  assert.ok(cgroupV2 ? 'inactive_file' in s.memory_stats.stats : 'total_inactive_file' in s.memory_stats.stats);
  if (!cgroupV2) assert.ok(Array.isArray(s.cpu_stats.cpu_usage.percpu_usage));
  const one = (await api(d.socket, 'GET', '/containers/st1/stats?stream=false&one-shot=true')).json;
  assert.equal(one.preread, '0001-01-01T00:00:00Z');

  const [a, b] = await streamLines('/containers/st1/stats', 2) as { read: string; preread: string }[];
  assert.equal(b.preread, a.read, 'each streamed sample carries the previous one');

  await dockerOk(d, ['rm', '-f', 'st1']);
  await dockerOk(d, ['create', '--name', 'st2', 'busybox', 'true']);
  const z = (await api(d.socket, 'GET', '/containers/st2/stats?stream=false')).json;
  assert.equal(z.read, '0001-01-01T00:00:00Z');
  assert.deepEqual(z.memory_stats, {});
  assert.equal(z.blkio_stats.io_service_bytes_recursive, null);
  const zs = await streamLines('/containers/st2/stats?stream=true', 2);
  assert.equal(zs.length, 2, 'a stopped container streams zeros');
  const all = await docker(d, ['stats', '-a', '--no-stream', '--format', '{{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.PIDs}}']);
  assert.equal(all.stdout, 'st2 0.00% 0B / 0B 0\n');
  assert.equal((await api(d.socket, 'GET', '/containers/nosuch/stats?stream=false')).status, 404);
  await dockerOk(d, ['rm', 'st2']);
});

test('top: only the container processes, with ps options', async () => {
  await dockerOk(d, ['run', '-d', '--name', 'tp1', 'busybox', 'sh', '-c', 'sleep 1000 & sleep 2000']);
  const id = await dockerOk(d, ['inspect', '-f', '{{.Id}}', 'tp1']);
  const pid = Number(await dockerOk(d, ['inspect', '-f', '{{.State.Pid}}', 'tp1']));
  const procsFile = cgroupV2 ? `/sys/fs/cgroup/berth/${id}/cgroup.procs` : `/sys/fs/cgroup/pids/berth/${id}/cgroup.procs`;
  const procs = () => readFileSync(procsFile, 'utf8').split('\n').filter(Boolean).sort();
  await waitFor('both sleeps', () => procs().length >= 2);
  const out = await dockerOk(d, ['top', 'tp1', '-o', 'pid,comm']);
  const lines = out.split('\n');
  assert.match(lines[0], /^PID\s+COMMAND$/);
  const rows = lines.slice(1).map((l) => l.split(/\s+/));
  assert.deepEqual(rows.map((r) => r[0]).sort(), procs(), "exactly the processes of the container's cgroup");
  assert.ok(rows.some((r) => Number(r[0]) === pid), 'the container init is listed');
  assert.ok(rows.every((r) => ['sh', 'sleep'].includes(r[1])), out);
  const full = await dockerOk(d, ['top', 'tp1']);
  assert.match(full.split('\n')[0], /^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD$/);
  assert.match(full, /sleep 2000/);
  const mine = await berth(d, ['top', 'tp1', '-o', 'pid,comm']);
  assert.equal(mine.stdout.split('\n')[0], lines[0]);
  const r = (await api(d.socket, 'GET', '/containers/tp1/top?ps_args=aux')).json;
  assert.equal(r.Titles[1], 'PID');
  assert.equal(r.Processes.length, procs().length);
  await dockerOk(d, ['stop', '-t', '0', 'tp1']);
  const stopped = await docker(d, ['top', 'tp1']);
  assert.equal(stopped.code, 1);
  assert.match(stopped.stderr, /^Error response from daemon: Container [0-9a-f]{64} is not running\n$/);
  assert.equal((await api(d.socket, 'GET', '/containers/tp1/top')).status, 409);
  await dockerOk(d, ['rm', 'tp1']);
});

test('pause freezes the processes, unpause resumes them; stop and kill still work when paused', async () => {
  await dockerOk(d, ['run', '-d', '--name', 'pz1', 'busybox', 'sh', '-c', COUNTER]);
  await waitFor('counting', async () => (await lastLine('pz1')) > 2);
  assert.equal(await dockerOk(d, ['pause', 'pz1']), 'pz1');
  const ps = await dockerOk(d, ['ps', '--filter', 'name=pz1', '--format', '{{.Status}}|{{.State}}']);
  assert.match(ps, /^Up .* \(Paused\)\|paused$/);
  assert.equal(await dockerOk(d, ['inspect', '-f', '{{.State.Status}} {{.State.Paused}} {{.State.Running}}', 'pz1']), 'paused true true');
  const frozen = await lastLine('pz1');
  await new Promise((r) => setTimeout(r, 600));
  assert.equal(await lastLine('pz1'), frozen, 'the counter stopped');
  const again = await docker(d, ['pause', 'pz1']);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^Error response from daemon: Container [0-9a-f]{64} is already paused\n$/);
  assert.equal((await api(d.socket, 'POST', '/containers/pz1/pause')).status, 409);
  const start = await api(d.socket, 'POST', '/containers/pz1/start');
  assert.equal(start.status, 409);
  assert.equal(start.json.message, 'cannot start a paused container, try unpause instead');
  assert.equal((await berth(d, ['unpause', 'pz1'])).stdout, 'pz1\n');
  await waitFor('counting again', async () => (await lastLine('pz1')) > frozen + 2);
  assert.equal(await dockerOk(d, ['inspect', '-f', '{{.State.Status}} {{.State.Paused}}', 'pz1']), 'running false');
  const notPaused = await berth(d, ['unpause', 'pz1']);
  assert.equal(notPaused.code, 1);
  assert.match(notPaused.stderr, /^Error response from daemon: Container [0-9a-f]{64} is not paused\n$/);

  await dockerOk(d, ['pause', 'pz1']);
  assert.equal(await dockerOk(d, ['stop', '-t', '1', 'pz1']), 'pz1');
  assert.equal(await dockerOk(d, ['inspect', '-f', '{{.State.Status}} {{.State.Paused}}', 'pz1']), 'exited false');
  const stoppedPause = await docker(d, ['pause', 'pz1']);
  assert.match(stoppedPause.stderr, /^Error response from daemon: Container [0-9a-f]{64} is not running\n$/);

  await dockerOk(d, ['start', 'pz1']);
  await dockerOk(d, ['pause', 'pz1']);
  await dockerOk(d, ['kill', 'pz1']);
  assert.equal(await dockerOk(d, ['wait', 'pz1']), '137');
  await dockerOk(d, ['start', 'pz1']);
  await dockerOk(d, ['pause', 'pz1']);
  await dockerOk(d, ['rm', '-f', 'pz1']);
});

test('rename changes the name everywhere; conflicts and bad names fail like Docker', async () => {
  await dockerOk(d, ['run', '-d', '--name', 'rn1', 'busybox', 'sleep', '1000']);
  await dockerOk(d, ['create', '--name', 'rn2', 'busybox', 'true']);
  assert.equal((await berth(d, ['rename', 'rn1', 'rn3'])).code, 0);
  assert.equal(await dockerOk(d, ['inspect', '-f', '{{.Name}}', 'rn3']), '/rn3');
  assert.equal(await dockerOk(d, ['ps', '--format', '{{.Names}}', '--filter', 'name=rn']), 'rn3');
  assert.equal((await api(d.socket, 'GET', '/containers/rn1/json')).status, 404);
  const taken = await api(d.socket, 'POST', '/containers/rn3/rename?name=rn2');
  assert.equal(taken.status, 409);
  assert.match(taken.json.message, /^Error when allocating new name: Conflict\. The container name "\/rn2" is already in use by container "[0-9a-f]{64}"\. You have to remove \(or rename\) that container to be able to reuse that name\.$/);
  assert.equal((await api(d.socket, 'POST', '/containers/rn3/rename?name=b%40d')).status, 400);
  const cli = await docker(d, ['rename', 'rn3', 'rn2']);
  assert.equal(cli.code, 1);
  assert.match(cli.stderr, /Error: failed to rename container named rn3\n$/);
  await dockerOk(d, ['rename', 'rn3', 'rn1']);
  assert.equal(await dockerOk(d, ['inspect', '-f', '{{.Name}}', 'rn1']), '/rn1');
  await dockerOk(d, ['rm', '-f', 'rn1', 'rn2']);
});

test('update changes the limits of a running container, and the HostConfig of a stopped one', async () => {
  await dockerOk(d, ['run', '-d', '--name', 'up1', '-m', '64m', 'busybox', 'sleep', '1000']);
  const limitFile = cgroupV2 ? '/sys/fs/cgroup/memory.max' : '/sys/fs/cgroup/memory/memory.limit_in_bytes';
  const pidsFile = cgroupV2 ? '/sys/fs/cgroup/pids.max' : '/sys/fs/cgroup/pids/pids.max';
  assert.equal(await dockerOk(d, ['exec', 'up1', 'cat', limitFile]), String(64 * 1024 * 1024));
  assert.equal(await dockerOk(d, ['update', '-m', '100m', 'up1']), 'up1');
  assert.equal(await dockerOk(d, ['exec', 'up1', 'cat', limitFile]), String(100 * 1024 * 1024));
  assert.equal((await berth(d, ['update', '--pids-limit', '20', '--cpus', '0.5', '--restart', 'on-failure:2', 'up1'])).stdout, 'up1\n');
  assert.equal(await dockerOk(d, ['exec', 'up1', 'cat', pidsFile]), '20');
  assert.equal(await dockerOk(d, ['inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.NanoCpus}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}', 'up1']),
    `${100 * 1024 * 1024} 20 500000000 on-failure:2`);
  const stats = await dockerOk(d, ['stats', '--no-stream', '--format', '{{.MemUsage}}', 'up1']);
  assert.match(stats, / \/ 100MiB$/);
  await dockerOk(d, ['update', '--pids-limit', '-1', 'up1']);
  assert.equal(await dockerOk(d, ['exec', 'up1', 'cat', pidsFile]), 'max');
  const r = await api(d.socket, 'POST', '/containers/up1/update', { body: { Memory: 1024 } });
  assert.equal(r.status, 400);
  assert.equal(r.json.message, 'Minimum memory limit allowed is 6MB');
  const tooBig = await docker(d, ['update', '-m', '1g', 'up1']);
  assert.match(tooBig.stderr, /Cannot update container [0-9a-f]{64}: Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time/);
  const ok = await api(d.socket, 'POST', '/containers/up1/update', { body: { CpuShares: 512 } });
  assert.deepEqual([ok.status, ok.json], [200, { Warnings: [] }]);

  await dockerOk(d, ['stop', '-t', '0', 'up1']);
  await dockerOk(d, ['update', '-m', '80m', 'up1']);
  await dockerOk(d, ['start', 'up1']);
  assert.equal(await dockerOk(d, ['exec', 'up1', 'cat', limitFile]), String(80 * 1024 * 1024));
  await dockerOk(d, ['rm', '-f', 'up1']);
});

test('events: the lifecycle of a container between since and until, filtered; berth prints what docker prints', async () => {
  await new Promise((r) => setTimeout(r, 20)); // the previous test's last events stay before `since`
  const since = (Date.now() / 1000).toFixed(3);
  await dockerOk(d, ['run', '--name', 'ev1', '-l', 'team=a', 'busybox', 'sh', '-c', 'exit 3']).catch(() => {});
  await dockerOk(d, ['run', '-d', '--name', 'ev2', 'busybox', 'sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.1; done']);
  await dockerOk(d, ['pause', 'ev2']);
  await dockerOk(d, ['unpause', 'ev2']);
  await dockerOk(d, ['rename', 'ev2', 'ev3']);
  await dockerOk(d, ['update', '--cpu-shares', '512', 'ev3']);
  await dockerOk(d, ['stop', '-t', '5', 'ev3']);
  await dockerOk(d, ['rm', 'ev1', 'ev3']);
  await dockerOk(d, ['tag', 'busybox', 'evimg:1']);
  await dockerOk(d, ['rmi', 'evimg:1']);
  const until = (Date.now() / 1000 + 0.001).toFixed(3);
  const range = ['--since', since, '--until', until];

  const out = await dockerOk(d, ['events', ...range]);
  const lines = out.split('\n');
  const line = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d) (\w+) (\S+) (\S+)(?: \((.*)\))?$/;
  for (const l of lines) assert.match(l, line);
  const actions = (name: string) => lines.filter((l) => l.includes(`name=${name}`) || l.includes(`name=${name},`)).map((l) => line.exec(l)![3]);
  assert.deepEqual(actions('ev1'), ['create', 'attach', 'start', 'die', 'destroy']);
  assert.deepEqual(lines.filter((l) => / container \w+ /.test(l) && !l.includes('name=ev1')).map((l) => line.exec(l)![3]),
    ['create', 'start', 'pause', 'unpause', 'rename', 'update', 'kill', 'die', 'stop', 'destroy']);
  assert.match(out, / container die [0-9a-f]{64} \(execDuration=\d+, exitCode=3, image=busybox, name=ev1, team=a\)/);
  assert.match(out, / container kill [0-9a-f]{64} \(image=busybox, name=ev3, signal=15\)/);
  assert.match(out, / container rename [0-9a-f]{64} \(image=busybox, name=ev3, oldName=\/ev2\)/);
  assert.match(out, / image tag sha256:[0-9a-f]{64} \(name=evimg:1\)/);
  assert.match(out, / image untag sha256:[0-9a-f]{64} /);

  const dies = await dockerOk(d, ['events', ...range, '--filter', 'event=die']);
  assert.deepEqual(dies.split('\n').map((l) => line.exec(l)![3]), ['die', 'die']);
  const one = await dockerOk(d, ['events', ...range, '--filter', 'container=ev1', '--format', '{{.Action}} {{.Actor.Attributes.name}}']);
  assert.equal(one, 'create ev1\nattach ev1\nstart ev1\ndie ev1\ndestroy ev1');
  const labelled = await dockerOk(d, ['events', ...range, '--filter', 'label=team=a', '--filter', 'event=start']);
  assert.equal(labelled.split('\n').length, 1);
  const images = await dockerOk(d, ['events', ...range, '--filter', 'type=image', '--format', '{{.Type}} {{.Action}}']);
  assert.equal(images, 'image tag\nimage untag');

  for (const args of [range, [...range, '--filter', 'event=die'], [...range, '--format', 'json'], [...range, '--filter', 'container=ev3', '--format', '{{json .Actor}}']]) {
    const theirs = await docker(d, ['events', ...args]);
    const ours = await berth(d, ['events', ...args]);
    assert.equal(ours.stdout, theirs.stdout, `events ${args.join(' ')}`);
    assert.equal(ours.code, 0, ours.stderr);
  }
  const bad = await berth(d, ['events', '--format', '{{.Nope}}']);
  assert.equal(bad.code, 64);
  assert.equal(bad.stderr, 'Error parsing format: template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope in type *events.Message\n');
  const r = await api(d.socket, 'GET', `/events?since=${until}&until=${since}`);
  assert.equal(r.status, 400);
});

test('events stream live until the client goes away or until passes', async () => {
  const got = streamLines('/events?filters=' + encodeURIComponent(JSON.stringify({ container: { ev5: true } })), 2);
  await new Promise((r) => setTimeout(r, 100));
  await dockerOk(d, ['create', '--name', 'ev5', 'busybox', 'true']);
  await dockerOk(d, ['rm', 'ev5']);
  const evs = await got as { Action: string; status: string; from: string; scope: string; Actor: { Attributes: Record<string, string> } }[];
  assert.deepEqual(evs.map((e) => e.Action), ['create', 'destroy']);
  assert.deepEqual([evs[0].status, evs[0].from, evs[0].scope, evs[0].Actor.Attributes.name], ['create', 'busybox', 'local', 'ev5']);
  const t0 = Date.now();
  const until = ((Date.now() + 700) / 1000).toFixed(3);
  const r = await api(d.socket, 'GET', `/events?until=${until}`);
  assert.equal(r.status, 200);
  assert.ok(Date.now() - t0 >= 500, 'ended at until');
  const info = (await api(d.socket, 'GET', '/info')).json;
  assert.equal(typeof info.NEventsListener, 'number');
});
