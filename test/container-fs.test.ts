// The filesystem of containers: cp both ways (the archive API), diff, export, commit and container prune,
// through the real docker CLI and berth against one berthd, with hostile archives and symlinks that point at
// a canary file on the host.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { encodeHeader, END_OF_ARCHIVE, pad, ByteSource, TarReader } from '../src/layers/archive-tar.ts';
import type { WriteHeader } from '../src/layers/archive-tar.ts';
import { startDaemon, run, BERTH, DOCKER, type TestDaemon, type RunResult } from './harness.ts';

let d: TestDaemon;
let tmp: string;
let canaryDir: string;
let canary: string;
const SECRET = 'host-secret-do-not-leak\n';
let canaryMtime: number;

before(async () => {
  d = await startDaemon();
  tmp = fs.mkdtempSync('/tmp/bt-cfs-');
  canaryDir = path.join(tmp, 'host');
  canary = path.join(canaryDir, 'canary');
  fs.mkdirSync(canaryDir);
  fs.writeFileSync(canary, SECRET, { mode: 0o600 });
  canaryMtime = fs.statSync(canary).mtimeMs;
  const r = await berth(['image', 'bootstrap']);
  assert.equal(r.code, 0, r.stderr);
});

after(async () => {
  await d?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function berth(args: string[], opts: { input?: string | Buffer } = {}): Promise<RunResult> {
  return run(BERTH, args, { env: d.env, input: opts.input });
}

async function docker(args: string[], opts: { input?: string | Buffer } = {}): Promise<RunResult> {
  const r = await run(DOCKER, args, { env: d.env, input: opts.input });
  const rename = (s: string) => s.replaceAll(/\bdocker\b/g, 'berth');
  return { code: r.code, stdout: rename(r.stdout), stderr: rename(r.stderr) };
}

const cli = { docker, berth };

/** Same status and output from both CLIs (setup runs before each). */
async function same(args: string[], opts: { input?: string | Buffer; setup?: () => Promise<unknown>; normalize?: (s: string) => string } = {}): Promise<RunResult> {
  const n = opts.normalize ?? ((s: string) => s);
  await opts.setup?.();
  const b = await berth(args, opts);
  await opts.setup?.();
  const k = await docker(args, opts);
  assert.equal(n(b.stderr), n(k.stderr), `stderr of ${args.join(' ')}`);
  assert.equal(n(b.stdout), n(k.stdout), `stdout of ${args.join(' ')}`);
  assert.equal(b.code, k.code, `status of ${args.join(' ')}`);
  return b;
}

/** Runs a command and returns its stdout as bytes (tar output). */
function runBytes(cmd: string, args: string[]): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env: d.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => out.push(c));
    p.stderr.on('data', (c) => (stderr += c));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr }));
  });
}

async function tarEntries(buf: Buffer): Promise<Map<string, { type: string; mode: number; body: string; linkname: string }>> {
  const reader = new TarReader(new ByteSource((async function* () { yield buf; })()));
  const out = new Map<string, { type: string; mode: number; body: string; linkname: string }>();
  for (let h = await reader.next(); h; h = await reader.next()) {
    const parts: Buffer[] = [];
    for await (const c of reader.body()) parts.push(c);
    out.set(h.name, { type: h.type, mode: h.mode, body: Buffer.concat(parts).toString(), linkname: h.linkname });
  }
  return out;
}

function makeTar(entries: (Partial<WriteHeader> & { name: string; body?: string })[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? '');
    const type = e.type ?? 'file';
    parts.push(encodeHeader({ mode: 0o644, uid: 0, gid: 0, mtime: 1700000000, size: type === 'file' ? body.length : 0, type, ...e }));
    if (type === 'file' && body.length) parts.push(body, Buffer.alloc(pad(body.length)));
  }
  parts.push(END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

function canaryIntact(): void {
  assert.equal(fs.readFileSync(canary, 'utf8'), SECRET);
  assert.equal(fs.statSync(canary).mtimeMs, canaryMtime);
  assert.deepEqual(fs.readdirSync(canaryDir), ['canary']);
}

async function ok(p: Promise<RunResult>): Promise<RunResult> {
  const r = await p;
  assert.equal(r.code, 0, r.stderr);
  return r;
}

async function newContainer(name: string, running: boolean, script = 'true'): Promise<string> {
  if (running) return (await ok(berth(['run', '-d', '--name', name, 'busybox', 'sh', '-c', `${script}; exec sleep 600`]))).stdout.trim();
  const id = (await ok(berth(['run', '--name', name, 'busybox', 'sh', '-c', script]))).stdout;
  void id;
  return (await ok(berth(['inspect', '-f', '{{.Id}}', name]))).stdout.trim();
}

function mountsUnder(id: string): string[] {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(`/containers/${id}/`));
}

test('cp a file and a directory in and out, running and stopped, with both CLIs', async () => {
  const src = path.join(tmp, 'src');
  fs.mkdirSync(path.join(src, 'dir/sub'), { recursive: true });
  fs.writeFileSync(path.join(src, 'file.txt'), 'hello file\n', { mode: 0o640 });
  fs.chmodSync(path.join(src, 'file.txt'), 0o640);
  fs.writeFileSync(path.join(src, 'dir/sub/inner'), 'inner\n');
  fs.chmodSync(path.join(src, 'dir/sub/inner'), 0o755);
  fs.symlinkSync('sub/inner', path.join(src, 'dir/link'));
  const running = await newContainer('cfs-run', true);
  const stopped = await newContainer('cfs-stop', false);
  for (const [ctr, id] of [['cfs-run', running], ['cfs-stop', stopped]] as const) {
    for (const [tool, run] of Object.entries(cli)) {
      const dst = `/tmp/${tool}`;
      await ok(run(['cp', path.join(src, 'file.txt'), `${ctr}:/tmp/`]));
      await ok(run(['cp', path.join(src, 'dir'), `${ctr}:${dst}`]));
      await ok(run(['cp', path.join(src, 'file.txt'), `${ctr}:${dst}/renamed.txt`]));
      const out = path.join(tmp, `out-${ctr}-${tool}`);
      fs.mkdirSync(out);
      await ok(run(['cp', `${ctr}:${dst}`, path.join(out, 'copy')]));
      await ok(run(['cp', `${ctr}:/tmp/file.txt`, out]));
      await ok(run(['cp', `${ctr}:${dst}/.`, path.join(out, 'contents')]));
      assert.equal(fs.readFileSync(path.join(out, 'file.txt'), 'utf8'), 'hello file\n');
      assert.equal(fs.statSync(path.join(out, 'file.txt')).mode & 0o777, 0o640);
      assert.equal(fs.readFileSync(path.join(out, 'copy/sub/inner'), 'utf8'), 'inner\n');
      assert.equal(fs.statSync(path.join(out, 'copy/sub/inner')).mode & 0o777, 0o755);
      assert.equal(fs.readlinkSync(path.join(out, 'copy/link')), 'sub/inner');
      assert.equal(fs.readFileSync(path.join(out, 'copy/renamed.txt'), 'utf8'), 'hello file\n');
      assert.deepEqual(fs.readdirSync(path.join(out, 'contents')).sort(), ['link', 'renamed.txt', 'sub']);
    }
    // Stopping nothing was left mounted for the stopped container.
    if (id === stopped) assert.deepEqual(mountsUnder(id), []);
  }
  const r = await ok(berth(['exec', 'cfs-run', 'sh', '-c', 'cat /tmp/berth/sub/inner /tmp/docker/renamed.txt; stat -c %a /tmp/file.txt']));
  assert.equal(r.stdout, 'inner\nhello file\n640\n');
  // A tar on stdin and to stdout.
  await ok(berth(['cp', '-', 'cfs-stop:/tmp'], { input: makeTar([{ name: 'from-stdin', body: 'piped\n', mode: 0o600 }]) }));
  const t = await runBytes(BERTH, ['cp', 'cfs-stop:/tmp/from-stdin', '-']);
  assert.equal(t.code, 0, t.stderr);
  assert.deepEqual((await tarEntries(t.stdout)).get('from-stdin'), { type: 'file', mode: 0o600, body: 'piped\n', linkname: '' });
  assert.deepEqual(mountsUnder(stopped), []);
});

test('cp messages, statuses and the copy summary match docker', async () => {
  await newContainer('cfs-msg', false, 'mkdir /d; echo x > /d/f');
  const out = path.join(tmp, 'msg');
  fs.mkdirSync(out);
  fs.writeFileSync(path.join(out, 'local'), 'abc');
  const clean = () => fs.rmSync(path.join(out, 'got'), { recursive: true, force: true });
  await same(['cp', 'cfs-msg:/nope', out]);
  await same(['cp', 'cfs-msg:/d/f', path.join(out, 'missing/dir/x')]);
  await same(['cp', 'cfs-msg:/d', path.join(out, 'local')]);
  await same(['cp', 'cfs-msg:/d/f', `${path.join(out, 'newdir')}/`]);
  await same(['cp', path.join(out, 'nope'), 'cfs-msg:/tmp/']);
  await same(['cp', path.join(out, 'local'), 'cfs-msg:/nodir/x']);
  await same(['cp', '-', 'cfs-msg:/d/f'], { input: makeTar([{ name: 'x' }]) });
  await same(['cp', 'a:/x', 'b:/y']);
  await same(['cp', 'x', 'y']);
  await same(['cp', '', 'y']);
  await same(['cp', 'x']);
  await same(['cp', '--quiet=false', 'cfs-msg:/d/f', path.join(out, 'got')], { setup: async () => clean() });
  await same(['cp', '--quiet=false', path.join(out, 'local'), 'cfs-msg:/tmp/l']);
  await same(['cp', '-L', 'cfs-msg:/bin/sh', path.join(out, 'got')], { setup: async () => clean() });
  assert.equal(fs.statSync(path.join(out, 'got')).size, fs.statSync('/bin/busybox').size);
  // The files the runtime bind-mounts (hosts, hostname, resolv.conf) come out with their real content.
  const hostname = (await ok(berth(['inspect', '-f', '{{.Config.Hostname}}', 'cfs-msg']))).stdout;
  const hn = await runBytes(DOCKER, ['cp', 'cfs-msg:/etc/hostname', '-']);
  assert.equal((await tarEntries(hn.stdout)).get('hostname')?.body, hostname);
  // The daemon's own statuses: 400 for a missing path parameter, 404 for a missing container.
  const noPath = await fetchStatus('HEAD', '/containers/cfs-msg/archive');
  assert.equal(noPath, 400);
  assert.equal(await fetchStatus('HEAD', '/containers/nope/archive?path=/'), 404);
  assert.equal(await fetchStatus('HEAD', '/containers/cfs-msg/archive?path=/d/f'), 200);
});

async function fetchStatus(method: string, p: string): Promise<number> {
  const http = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: d.socket, method, path: p }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

test('hostile archives and symlinks never reach the host (canary)', async () => {
  // Links in the container that point at the host's canary, absolute and climbing.
  const climb = '../../../../../../../../../..' + canaryDir;
  await newContainer('cfs-evil', true, `ln -s ${canary} /abs-link; ln -s ${climb} /climb; ln -s / /rootlink; mkdir -p /t`);
  const id = (await ok(berth(['inspect', '-f', '{{.Id}}', 'cfs-evil']))).stdout.trim();
  for (const [tool, run] of Object.entries(cli)) {
    void tool;
    // ../ entries are refused; absolute names land inside the destination.
    const dotdot = await run(['cp', '-', 'cfs-evil:/t'], { input: makeTar([{ name: `../../../../../../..${canary}`, body: 'PWNED' }]) });
    assert.notEqual(dotdot.code, 0);
    await ok(run(['cp', '-', 'cfs-evil:/t'], { input: makeTar([{ name: canary, body: 'PWNED-abs' }]) }));
    // A link out of the container, then a file through it.
    await ok(run(['cp', '-', 'cfs-evil:/t'], { input: makeTar([{ name: 'out', type: 'symlink', linkname: canaryDir }, { name: 'out/canary', body: 'PWNED-sym' }]) }));
    await ok(run(['cp', '-', 'cfs-evil:/t'], { input: makeTar([{ name: 'up', type: 'symlink', linkname: climb }, { name: 'up/canary', body: 'PWNED-up' }]) }));
    // Extracting into a directory reached through the container's own links.
    await ok(run(['cp', '-', 'cfs-evil:/climb'], { input: makeTar([{ name: 'canary', body: 'PWNED-climb' }]) }));
    // A hard link to the host file.
    const hard = await run(['cp', '-', 'cfs-evil:/t'], { input: makeTar([{ name: 'hl', type: 'link', linkname: `../../../../../..${canary}` }]) });
    assert.notEqual(hard.code, 0);
    await run(['cp', '-', 'cfs-evil:/t'], { input: makeTar([{ name: 'hl2', type: 'link', linkname: canary }]) });
    canaryIntact();
    // Copying out through links: only the container's own files (if any) come back.
    for (const p of ['/abs-link', '/climb/canary', '/rootlink' + canary, '/climb/', '/abs-link/']) {
      const r = await runBytes(run === berth ? BERTH : DOCKER, ['cp', `cfs-evil:${p}`, '-']);
      assert.ok(!r.stdout.includes(SECRET.trim()), `${p} leaked the canary`);
      const f = await runBytes(run === berth ? BERTH : DOCKER, ['cp', '-L', `cfs-evil:${p}`, '-']);
      assert.ok(!f.stdout.includes(SECRET.trim()), `-L ${p} leaked the canary`);
    }
    const out = path.join(tmp, `evil-out-${tool}`);
    fs.mkdirSync(out);
    await run(['cp', '-L', 'cfs-evil:/abs-link', path.join(out, 'x')]);
    await run(['cp', 'cfs-evil:/climb', path.join(out, 'y')]);
    // Whatever came out (files, or links the way docker makes them) holds no host data; links are not followed.
    const walk = (dir: string): void => {
      for (const name of fs.readdirSync(dir)) {
        const full = path.join(dir, name);
        const st = fs.lstatSync(full);
        if (st.isDirectory()) walk(full);
        else if (st.isFile()) assert.ok(!fs.readFileSync(full, 'utf8').includes(SECRET.trim()), `${full} holds the canary`);
      }
    };
    walk(out);
    canaryIntact();
  }
  // What the writes did inside the container: the paths resolved in its rootfs.
  const r = await ok(berth(['exec', 'cfs-evil', 'cat', `${canary}`, `/t${canary}`]));
  assert.match(r.stdout, /PWNED/);
  assert.ok(!r.stdout.includes(SECRET.trim()));
  const stopped = await ok(berth(['stop', '-t', '0', 'cfs-evil']));
  void stopped;
  await ok(berth(['cp', '-', 'cfs-evil:/climb'], { input: makeTar([{ name: 'canary', body: 'PWNED-stopped' }]) }));
  const back = await runBytes(BERTH, ['cp', 'cfs-evil:/climb/canary', '-']);
  assert.equal((await tarEntries(back.stdout)).get('canary')?.body, 'PWNED-stopped');
  assert.deepEqual(mountsUnder(id), []);
  canaryIntact();
});

test('diff shows A, C and D like docker', async () => {
  await newContainer('cfs-diff', false, 'touch /etc/passwd; rm /etc/group; echo more >> /root/.profile; mkdir -p /new/dir');
  const r = await same(['diff', 'cfs-diff']);
  assert.equal(r.stdout, ['C /etc', 'D /etc/group', 'C /etc/passwd', 'A /new', 'A /new/dir', 'C /root', 'A /root/.profile', ''].join('\n'));
  await same(['diff', 'nope']);
  const fresh = await newContainer('cfs-diff-fresh', false, 'true');
  void fresh;
  const empty = await same(['container', 'diff', 'cfs-diff-fresh']);
  assert.equal(empty.stdout, '');
});

test('export holds the container filesystem', async () => {
  await newContainer('cfs-exp', false, 'echo exported > /hello');
  for (const cmd of [BERTH, DOCKER]) {
    const r = await runBytes(cmd, ['export', 'cfs-exp']);
    assert.equal(r.code, 0, r.stderr);
    const entries = await tarEntries(r.stdout);
    assert.equal(entries.get('hello')?.body, 'exported\n');
    assert.equal(entries.get('bin/busybox')?.type, 'file');
    assert.equal(entries.get('etc/')?.type, 'dir');
  }
  const file = path.join(tmp, 'exp.tar');
  await ok(berth(['export', '-o', file, 'cfs-exp']));
  assert.equal((await tarEntries(fs.readFileSync(file))).get('hello')?.body, 'exported\n');
  await same(['export', '-o', '/nonexistent/x.tar', 'cfs-exp']);
  await same(['export', '-o', '/dev/null', 'cfs-exp']);
  await same(['export']);
});

test('commit makes an image with the changes, config and history', async () => {
  await newContainer('cfs-commit', false, 'echo committed > /hello');
  const c = await ok(berth(['commit', '-c', 'CMD ["cat","/hello"]', '-c', 'ENV FROM_COMMIT=1', '-m', 'a message', '-a', 'Someone <s@x>', 'cfs-commit', 'committed:v1']));
  assert.match(c.stdout, /^sha256:[0-9a-f]{64}\n$/);
  const r = await ok(berth(['run', '--rm', 'committed:v1']));
  assert.equal(r.stdout, 'committed\n');
  const env = await ok(berth(['run', '--rm', 'committed:v1', 'sh', '-c', 'echo $FROM_COMMIT']));
  assert.equal(env.stdout, '1\n');
  const h = await ok(docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}|{{.Comment}}', 'committed:v1']));
  assert.equal(h.stdout.split('\n')[0], 'sh -c echo committed > /hello|a message');
  const insp = await ok(docker(['image', 'inspect', '-f', '{{.Author}} {{json .Config.Cmd}} {{len .RootFS.Layers}}', 'committed:v1']));
  assert.equal(insp.stdout, 'Someone <s@x> ["cat","/hello"] 2\n');
  // The docker CLI against the same daemon; a running container is paused while committed.
  await newContainer('cfs-commit-run', true, 'echo live > /live');
  const dk = await ok(docker(['commit', 'cfs-commit-run', 'committed:v2']));
  assert.match(dk.stdout, /^sha256:/);
  assert.equal((await ok(berth(['run', '--rm', 'committed:v2', 'cat', '/live']))).stdout, 'live\n');
  assert.equal((await ok(berth(['inspect', '-f', '{{.State.Status}}', 'cfs-commit-run']))).stdout, 'running\n');
  assert.equal((await ok(berth(['exec', 'cfs-commit-run', 'echo', 'still alive']))).stdout, 'still alive\n');
  await same(['commit', 'nope']);
  await same(['commit', '-c', 'FROM busybox', 'cfs-commit']);
  await same(['commit', 'cfs-commit', 'Bad:Ref']);
  await same(['commit']);
});

test('container prune removes only stopped containers', async () => {
  await newContainer('cfs-prune-keep', true);
  await newContainer('cfs-prune-a', false, 'echo data > /data');
  await ok(berth(['run', '--name', 'cfs-prune-l', '--label', 'keep=1', 'busybox', 'true']));
  // "no" cancels quietly.
  await same(['container', 'prune'], { input: 'n\n' });
  const labelled = await ok(berth(['container', 'prune', '-f', '--filter', 'label!=keep']));
  assert.match(labelled.stdout, /^Deleted Containers:\n([0-9a-f]{64}\n)+\nTotal reclaimed space: \d+(\.\d+)?k?B\n$/);
  const names = (await ok(berth(['ps', '-a', '--format', '{{.Names}}']))).stdout.split('\n');
  assert.ok(names.includes('cfs-prune-keep'));
  assert.ok(names.includes('cfs-prune-l'));
  assert.ok(!names.includes('cfs-prune-a'));
  await same(['container', 'prune', '-f', '--filter', 'until=2000-01-01T00:00:00Z']);
  await same(['container', 'prune', '-f', '--filter', 'bogus=1']);
  const all = await ok(docker(['container', 'prune', '-f']));
  assert.match(all.stdout, /^Deleted Containers:\n/);
  const left = (await ok(berth(['ps', '-a', '--format', '{{.Names}} {{.State}}']))).stdout.trim().split('\n');
  assert.ok(left.every((l) => l.endsWith(' running')), left.join(', '));
  await same(['container', 'prune', '-f']);
});
