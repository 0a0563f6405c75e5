// Integration test of berth-shim (shim/berth-shim.c) against the real crun: needs root.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, copyFileSync, symlinkSync, readFileSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const SHIM = path.join(root, 'shim/berth-shim');
const CRUN = '/usr/bin/crun';
const skip = process.getuid?.() !== 0 ? 'needs root' : !existsSync(CRUN) ? 'needs crun' : false;

let tmp = '';
let rootfs = '';
let rtRoot = '';
let baseSpec: any;
const ids: string[] = [];
const shimPids: number[] = [];
const mounted: string[] = [];

interface Shim {
  id: string;
  state: string; // state dir
  sock: string;
  log: string;
  proc: ChildProcess;
  ready: string; // first line of the ready pipe
  readyEof: Promise<void>; // the shim let go of the ready pipe
  exit: Promise<number | null>;
}

interface Opts { tty?: boolean; stdin?: boolean; once?: boolean }

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, rej) => { t = setTimeout(() => rej(new Error(`timeout: ${what}`)), ms); })])
    .finally(() => clearTimeout(t));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let seq = 0;
function bundle(args: string[], terminal = false): { id: string; dir: string } {
  const id = `bshim-${process.pid}-${++seq}`;
  const dir = path.join(tmp, `b${seq}`);
  mkdirSync(dir);
  mkdirSync(path.join(dir, 'st'));
  const spec = structuredClone(baseSpec);
  spec.process.terminal = terminal;
  spec.process.args = args;
  spec.root = { path: rootfs, readonly: true };
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec));
  return { id, dir };
}

function shimArgs(id: string, dir: string, o: Opts): string[] {
  return ['--id', id, '--bundle', dir, '--state-dir', path.join(dir, 'st'), '--runtime', CRUN, '--runtime-root', rtRoot,
    '--log', path.join(dir, 'ctr.log'), ...(o.tty ? ['--tty'] : []), ...(o.stdin ? ['--stdin'] : []), ...(o.once ? ['--stdin-once'] : [])];
}

async function launch(args: string[], o: Opts = {}): Promise<Shim> {
  const { id, dir } = bundle(args, o.tty);
  ids.push(id);
  const proc = spawn(SHIM, shimArgs(id, dir, o), { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  shimPids.push(proc.pid!);
  const exit = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  let out = '';
  const readyEof = new Promise<void>((r) => proc.stdout!.on('end', () => r()));
  const ready = await withTimeout(new Promise<string>((resolve) => {
    proc.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
    });
    proc.stdout!.on('end', () => resolve(out));
  }), 10000, 'ready line');
  proc.stderr!.resume();
  const st = path.join(dir, 'st');
  return { id, state: st, sock: path.join(st, 'shim.sock'), log: path.join(dir, 'ctr.log'), proc, ready, readyEof, exit };
}

// Sends one command line and returns everything the shim answers until it closes.
function request(sock: string, line: string): Promise<string> {
  return withTimeout(new Promise((resolve, reject) => {
    const c = net.createConnection(sock);
    let data = '';
    c.on('data', (d) => (data += d));
    c.on('error', reject);
    c.on('close', () => resolve(data));
    c.write(line + '\n');
  }), 15000, line);
}

interface Attach { conn: net.Socket; done: Promise<Buffer>; data(): Buffer }

// Attaches and resolves once the shim said ok; `done` gives the streamed bytes once the shim closes.
async function attach(sock: string, line: string, first = ''): Promise<Attach> {
  const conn = net.createConnection(sock);
  let buf = Buffer.alloc(0);
  const done = new Promise<Buffer>((resolve, reject) => {
    conn.on('error', reject);
    conn.on('close', () => resolve(buf.subarray(3)));
  });
  conn.on('data', (d) => (buf = Buffer.concat([buf, d])));
  conn.write(line + '\n' + first);
  await withTimeout((async () => { while (buf.length < 3 && !conn.closed) await sleep(5); })(), 5000, line);
  assert.equal(buf.subarray(0, 3).toString(), 'ok\n');
  return { conn, done: withTimeout(done, 15000, `${line} stream`), data: () => buf.subarray(3) };
}

function demux(b: Buffer): { stdout: string; stderr: string; streams: Set<number> } {
  const parts: Buffer[][] = [[], [], []];
  const streams = new Set<number>();
  for (let i = 0; i < b.length;) {
    assert.ok(i + 8 <= b.length, 'truncated frame header');
    const stream = b[i];
    assert.ok(stream === 1 || stream === 2, `bad stream ${stream}`);
    assert.deepEqual([...b.subarray(i + 1, i + 4)], [0, 0, 0]);
    const len = b.readUInt32BE(i + 4);
    parts[stream].push(b.subarray(i + 8, i + 8 + len));
    streams.add(stream);
    i += 8 + len;
  }
  return { stdout: Buffer.concat(parts[1]).toString('latin1'), stderr: Buffer.concat(parts[2]).toString('latin1'), streams };
}

interface LogEntry { log: string; stream: string; time: string }
const readLog = (f: string): LogEntry[] =>
  readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as LogEntry);

const waitJson = async (s: Shim) => JSON.parse(await request(s.sock, 'wait'));

function crunKnows(id: string): boolean {
  try {
    execFileSync(CRUN, ['--root', rtRoot, 'state', id], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

before(() => {
  if (skip) return;
  execFileSync('make', ['-s', '-C', path.join(root, 'shim')], { stdio: 'inherit' });
  // crun 1.8 refuses hybrid cgroups when a controller is left to the (empty) cgroup2 tree: bind it to v1.
  const ctl = '/sys/fs/cgroup/unified/cgroup.controllers';
  const missing = existsSync(ctl) ? readFileSync(ctl, 'utf8').split(/\s+/).filter(Boolean) : [];
  for (const c of missing) {
    mkdirSync(`/sys/fs/cgroup/${c}`, { recursive: true });
    execFileSync('mount', ['-t', 'cgroup', '-o', c, 'cgroup', `/sys/fs/cgroup/${c}`]);
    mounted.push(`/sys/fs/cgroup/${c}`);
  }
  tmp = mkdtempSync('/tmp/bs-');
  rootfs = path.join(tmp, 'rootfs');
  rtRoot = path.join(tmp, 'rt');
  mkdirSync(path.join(rootfs, 'bin'), { recursive: true });
  mkdirSync(rtRoot);
  copyFileSync('/bin/busybox', path.join(rootfs, 'bin/busybox'));
  for (const applet of execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).split('\n')) {
    if (applet && applet !== 'busybox') symlinkSync('busybox', path.join(rootfs, 'bin', applet));
  }
  const specDir = path.join(tmp, 'spec');
  mkdirSync(specDir);
  execFileSync(CRUN, ['spec'], { cwd: specDir });
  baseSpec = JSON.parse(readFileSync(path.join(specDir, 'config.json'), 'utf8'));
});

after(async () => {
  if (skip) return;
  for (const id of ids) {
    try { execFileSync(CRUN, ['--root', rtRoot, 'delete', '-f', id], { stdio: 'ignore' }); } catch { /* gone already */ }
  }
  for (const pid of shimPids) {
    // Only our own shims: check the command line so a recycled pid is left alone.
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(tmp)) process.kill(pid, 'SIGKILL');
    } catch { /* exited */ }
  }
  for (const m of mounted) {
    try { execFileSync('umount', [m]); } catch { /* still in use by someone else's cgroups */ }
  }
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('output goes to attach clients (framed per stream) and to the json log', { skip, timeout: 30000 }, async () => {
  const s = await launch(['sh', '-c', `echo out1; echo err1 >&2; echo out2; sleep 0.2; printf 'tab\\t"q" \\001 x\\377y partial'`]);
  assert.match(s.ready, /^ok \d+$/);
  const pid = Number(s.ready.split(' ')[1]);
  await withTimeout(s.readyEof, 5000, 'ready pipe EOF');
  assert.equal(readFileSync(path.join(s.state, 'pid'), 'utf8').trim(), String(pid));
  assert.equal(readFileSync(path.join(s.state, 'shim.pid'), 'utf8').trim(), String(s.proc.pid));
  assert.equal(await request(s.sock, 'state'), `created ${pid}\n`);
  assert.equal(await request(s.sock, 'bogus'), 'error unknown command\n');
  assert.match(await request(s.sock, 'resize 10 10'), /^error /);

  const both = await attach(s.sock, 'attach 0 1 1');
  const outOnly = await attach(s.sock, 'attach 0 1 0');
  const waited = request(s.sock, 'wait');
  assert.equal(await request(s.sock, 'start'), 'ok\n');
  assert.equal(await request(s.sock, 'start'), 'error already started\n');

  const partial = 'tab\t"q" \x01 x\xffy partial';
  const b = demux(await both.done);
  assert.equal(b.stdout, `out1\nout2\n${partial}`);
  assert.equal(b.stderr, 'err1\n');
  const o = demux(await outOnly.done);
  assert.deepEqual([...o.streams], [1]);
  assert.equal(o.stdout, `out1\nout2\n${partial}`);

  const w = await waited;
  assert.equal(w, readFileSync(path.join(s.state, 'exit.json'), 'utf8') + '\n');
  const ex = JSON.parse(w);
  assert.equal(ex.exitCode, 0);
  assert.equal(ex.signal, 0);
  assert.match(ex.finishedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);

  const log = readLog(s.log);
  for (const e of log) assert.match(e.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  assert.deepEqual(log.filter((e) => e.stream === 'stdout').map((e) => e.log), ['out1\n', 'out2\n', 'tab\t"q" \x01 x\ufffdy partial']);
  assert.deepEqual(log.filter((e) => e.stream === 'stderr').map((e) => e.log), ['err1\n']);
  assert.ok(readFileSync(s.log, 'utf8').includes('\\u0001'));

  assert.equal(await s.exit, 0);
  assert.ok(!existsSync(s.sock) && !existsSync(path.join(s.state, 'shim.pid')));
  assert.ok(!crunKnows(s.id), 'runtime state deleted');
});

test('wait reports the exit code', { skip, timeout: 30000 }, async () => {
  const s = await launch(['sh', '-c', 'exit 3']);
  const waited = request(s.sock, 'wait');
  assert.equal(await request(s.sock, 'start'), 'ok\n');
  const ex = JSON.parse(await waited);
  assert.equal(ex.exitCode, 3);
  assert.equal(ex.signal, 0);
  assert.equal(await s.exit, 0);
  assert.deepEqual(JSON.parse(readFileSync(path.join(s.state, 'exit.json'), 'utf8')), ex);
});

test('stdin through attach, closed by stdin-once when the client half-closes', { skip, timeout: 30000 }, async () => {
  const s = await launch(['cat'], { stdin: true, once: true });
  // Stdin that arrives in the same packet as the command line must not be lost either.
  const a = await attach(s.sock, 'attach 1 1 1', 'hello ');
  const waited = request(s.sock, 'wait');
  assert.equal(await request(s.sock, 'start'), 'ok\n');
  a.conn.end('stdin\n');
  assert.equal(demux(await a.done).stdout, 'hello stdin\n');
  assert.equal(JSON.parse(await waited).exitCode, 0);
  assert.deepEqual(readLog(s.log).map((e) => e.log), ['hello stdin\n']);
});

test('closestdin ends the container stdin', { skip, timeout: 30000 }, async () => {
  const s = await launch(['sh', '-c', 'cat; echo eof'], { stdin: true });
  const a = await attach(s.sock, 'attach 1 1 0');
  assert.equal(await request(s.sock, 'start'), 'ok\n');
  a.conn.write('abc\n');
  assert.equal(await request(s.sock, 'closestdin'), 'ok\n');
  assert.equal(demux(await a.done).stdout, 'abc\neof\n');
  assert.equal(await s.exit, 0);
});

test('a client that stops reading is dropped, and does not stall the others or the log', { skip, timeout: 60000 }, async () => {
  const size = 3_000_000;
  const s = await launch(['sh', '-c', `head -c ${size} /dev/zero | tr '\\0' a`]);
  const stuck = await attach(s.sock, 'attach 0 1 1');
  stuck.conn.pause(); // its socket buffer and then its 1 MiB queue in the shim fill up
  const live = await attach(s.sock, 'attach 0 1 1');
  const waited = request(s.sock, 'wait');
  assert.equal(await request(s.sock, 'start'), 'ok\n');
  assert.equal(demux(await live.done).stdout.length, size);
  assert.equal(JSON.parse(await waited).exitCode, 0);
  assert.ok(stuck.data().length < size);
  stuck.conn.destroy();
  assert.equal(readLog(s.log).reduce((n, e) => n + e.log.length, 0), size);
});

test('tty: raw output and resize before and after start', { skip, timeout: 30000 }, async () => {
  const go = `go${seq + 1}`;
  const s = await launch(['sh', '-c', `stty size; while [ ! -e /${go} ]; do sleep 0.05; done; stty size; echo done`], { tty: true });
  assert.match(s.ready, /^ok \d+$/);
  assert.ok(!existsSync(path.join(s.state, 'console.sock')));
  assert.equal(await request(s.sock, 'resize 30 100'), 'ok\n');
  const a = await attach(s.sock, 'attach 0 1 1');
  const waited = request(s.sock, 'wait');
  assert.equal(await request(s.sock, 'start'), 'ok\n');
  await withTimeout((async () => { while (!a.data().toString().includes('30 100')) await sleep(20); })(), 10000, 'first stty');
  assert.equal(await request(s.sock, 'resize 40 120'), 'ok\n');
  writeFileSync(path.join(rootfs, go), '');
  try {
    assert.equal((await a.done).toString(), '30 100\r\n40 120\r\ndone\r\n');
  } finally {
    rmSync(path.join(rootfs, go), { force: true });
  }
  assert.equal(JSON.parse(await waited).exitCode, 0);
  const log = readLog(s.log);
  assert.deepEqual(log.map((e) => e.log), ['30 100\r\n', '40 120\r\n', 'done\r\n']);
  assert.ok(log.every((e) => e.stream === 'stdout'));
});

test('SIGKILL to the container gives 137; SIGTERM to the shim is ignored', { skip, timeout: 30000 }, async () => {
  const s = await launch(['sleep', '1000']);
  const pid = Number(s.ready.split(' ')[1]);
  assert.equal(await request(s.sock, 'start'), 'ok\n');
  process.kill(s.proc.pid!, 'SIGTERM');
  await sleep(100);
  assert.equal(await request(s.sock, 'state'), `running ${pid}\n`);
  const waited = waitJson(s);
  process.kill(pid, 'SIGKILL');
  const ex = await waited;
  assert.equal(ex.exitCode, 137);
  assert.equal(ex.signal, 9);
  assert.equal(await s.exit, 0);
});

test('create failure is reported on the ready pipe', { skip, timeout: 30000 }, async () => {
  const s = await launch(['nosuch']);
  assert.match(s.ready, /^error .*not found/);
  assert.equal(await s.exit, 1);
  assert.ok(!crunKnows(s.id), 'runtime state deleted');
  assert.ok(!existsSync(s.sock) && !existsSync(path.join(s.state, 'shim.pid')));
});

test('the container outlives the process that spawned the shim', { skip, timeout: 30000 }, async () => {
  const { id, dir } = bundle(['sh', '-c', 'while true; do echo tick; sleep 0.1; done']);
  ids.push(id);
  // An intermediate process spawns the shim in its own process group (no detached: the shim must setsid
  // itself), forwards the ready line, then dies by SIGKILL; then we kill whatever is left in its group.
  const script = `import { spawn } from 'node:child_process';
    const [shim, ...args] = JSON.parse(process.argv[1]);
    const p = spawn(shim, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    p.stdout.once('data', (d) => process.stdout.write(d, () => process.kill(process.pid, 'SIGKILL')));`;
  const mid = spawn(process.execPath, ['--input-type=module', '-e', script, JSON.stringify([SHIM, ...shimArgs(id, dir, {})])],
    { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
  let ready = '';
  mid.stdout!.on('data', (d) => (ready += d));
  await withTimeout(new Promise((r) => mid.on('exit', r)), 10000, 'intermediate exit');
  assert.match(ready, /^ok \d+\n$/);
  const st = path.join(dir, 'st');
  const shimPid = Number(readFileSync(path.join(st, 'shim.pid'), 'utf8'));
  shimPids.push(shimPid);
  try { process.kill(-mid.pid!, 'SIGKILL'); } catch { /* group already empty */ }
  const sock = path.join(st, 'shim.sock');
  assert.equal(await request(sock, 'start'), 'ok\n');
  await sleep(500);
  const pid = Number(ready.trim().split(' ')[1]);
  assert.equal(await request(sock, 'state'), `running ${pid}\n`);
  const n = readLog(path.join(dir, 'ctr.log')).length;
  assert.ok(n >= 2, `log has ${n} entries`);
  const waited = request(sock, 'wait');
  process.kill(pid, 'SIGKILL');
  assert.equal(JSON.parse(await waited).exitCode, 137);
  assert.ok(readLog(path.join(dir, 'ctr.log')).every((e) => e.log === 'tick\n' && e.stream === 'stdout'));
});
