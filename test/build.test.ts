// Dockerfile builds through the classic builder (POST /build) with the real docker CLI (DOCKER_BUILDKIT=0):
// each instruction's effect seen in a container of the result, the layer cache, multi-stage builds, heredocs,
// .dockerignore, errors with their lines and exit codes, and hostile contexts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync, rmSync, existsSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import tarStream from 'tar-stream';
import { startDaemon, type TestDaemon } from './harness.ts';
import { docker, dockerOk, berth, bootstrap, api } from './helpers.ts';

let d: TestDaemon;
let work: string;
const classic = { env: { DOCKER_BUILDKIT: '0' } };

before(async () => {
  d = await startDaemon();
  await bootstrap(d);
  work = mkdtempSync('/tmp/bbuild-');
});
after(async () => {
  await d?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

function context(name: string, files: Record<string, string>): string {
  const dir = path.join(work, name);
  mkdirSync(dir, { recursive: true });
  for (const [f, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    writeFileSync(path.join(dir, f), content);
  }
  return dir;
}

const runIn = (image: string, script: string, ...opts: string[]) => dockerOk(d, ['run', '--rm', ...opts, image, 'sh', '-c', script]);

test('every instruction has its effect: ENV, ARG, WORKDIR, USER, COPY --chown/--chmod, LABEL, EXPOSE, VOLUME, CMD, ENTRYPOINT, STOPSIGNAL', async () => {
  const dir = context('all', {
    Dockerfile: [
      'FROM busybox',
      'ARG GREETING=hello',
      'ENV APP_HOME=/srv/app MODE=${GREETING}-mode',
      'WORKDIR $APP_HOME',
      'RUN echo "$GREETING" > from-run.txt && echo "appuser:x:1234:1234::/home/appuser:/bin/sh" >> /etc/passwd && echo "appuser:x:1234:" >> /etc/group',
      'COPY --chown=appuser:appuser --chmod=640 conf.txt ./conf/',
      'COPY data/ /data/',
      'LABEL org.example.team="build team" version=1',
      'EXPOSE 8080 53/udp',
      'VOLUME /cache',
      'STOPSIGNAL SIGINT',
      'USER appuser',
      'ENTRYPOINT ["/bin/sh", "-c"]',
      'CMD ["echo default-cmd"]',
    ].join('\n'),
    'conf.txt': 'conf\n',
    'data/a.txt': 'a\n',
    'data/sub/b.txt': 'b\n',
  });
  const r = await docker(d, ['build', '-t', 'allinone:1', '--build-arg', 'GREETING=hi', dir], classic);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /Step 1\/14 : FROM busybox/);
  assert.match(r.stdout, /Successfully built [0-9a-f]{12}/);
  assert.match(r.stdout, /Successfully tagged allinone:1/);
  assert.equal(await dockerOk(d, ['run', '--rm', 'allinone:1']), 'default-cmd');
  const out = await dockerOk(d, ['run', '--rm', '--entrypoint', 'sh', 'allinone:1', '-c',
    'pwd; echo $MODE; cat from-run.txt; id -u; stat -c "%U:%G %a" conf/conf.txt; cat /data/a.txt /data/sub/b.txt; echo ${GREETING:-unset}']);
  assert.deepEqual(out.split('\n'), ['/srv/app', 'hi-mode', 'hi', '1234', 'appuser:appuser 640', 'a', 'b', 'unset']);
  const cfg = JSON.parse(await dockerOk(d, ['image', 'inspect', '-f', '{{json .Config}}', 'allinone:1']));
  assert.deepEqual(cfg.Labels, { 'org.example.team': 'build team', version: '1' });
  assert.deepEqual(Object.keys(cfg.ExposedPorts).sort(), ['53/udp', '8080/tcp']);
  assert.deepEqual(Object.keys(cfg.Volumes), ['/cache']);
  assert.equal(cfg.StopSignal, 'SIGINT');
  assert.equal(cfg.User, 'appuser');
  assert.ok(!cfg.Env.some((e: string) => e.startsWith('GREETING=')), 'build args are not kept in the image');
  // History: one entry per instruction, newest first.
  const hist = await dockerOk(d, ['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'allinone:1']);
  assert.match(hist.split('\n')[0], /CMD \["echo default-cmd"\]/);
  assert.ok(hist.includes("|1 GREETING=hi /bin/sh -c echo \"$GREETING\" > from-run.txt"), hist);
});

test('the cache: an unchanged rebuild uses it for every step; a changed file misses from its COPY on', async () => {
  const dir = context('cache', {
    Dockerfile: 'FROM busybox\nRUN echo one > /one\nCOPY file.txt /file.txt\nRUN cat /file.txt > /copy\nCMD ["cat", "/copy"]\n',
    'file.txt': 'v1\n',
  });
  const first = await docker(d, ['build', '-t', 'cached:1', dir], classic);
  assert.equal(first.code, 0, first.stderr);
  const again = await docker(d, ['build', '-t', 'cached:1', dir], classic);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((again.stdout.match(/Using cache/g) ?? []).length, 4);
  assert.equal(/Successfully built ([0-9a-f]{12})/.exec(again.stdout)?.[1], /Successfully built ([0-9a-f]{12})/.exec(first.stdout)?.[1]);
  writeFileSync(path.join(dir, 'file.txt'), 'v2\n');
  const changed = await docker(d, ['build', '-t', 'cached:2', dir], classic);
  assert.equal(changed.code, 0, changed.stderr);
  assert.equal((changed.stdout.match(/Using cache/g) ?? []).length, 1, 'only the step before the COPY');
  assert.equal(await dockerOk(d, ['run', '--rm', 'cached:2']), 'v2');
  // The cache survives a daemon restart; --no-cache ignores it.
  await d.restart();
  const afterRestart = await docker(d, ['build', dir], classic);
  assert.equal((afterRestart.stdout.match(/Using cache/g) ?? []).length, 4);
  const nocache = await docker(d, ['build', '--no-cache', dir], classic);
  assert.doesNotMatch(nocache.stdout, /Using cache/);
});

test('multi-stage: COPY --from a named stage, --target, and stages the target does not need are skipped', async () => {
  const dir = context('multi', {
    Dockerfile: [
      'FROM busybox AS builder',
      'RUN echo built > /artifact',
      'FROM busybox AS unused',
      'RUN echo never > /never && exit 1',
      'FROM busybox',
      'COPY --from=builder /artifact /artifact',
      'CMD ["cat", "/artifact"]',
    ].join('\n'),
  });
  const r = await docker(d, ['build', '-t', 'multi:1', dir], classic);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.doesNotMatch(r.stdout, /echo never/);
  assert.equal(await dockerOk(d, ['run', '--rm', 'multi:1']), 'built');
  const t = await docker(d, ['build', '-t', 'multi:builder', '--target', 'builder', dir], classic);
  assert.equal(t.code, 0, t.stderr);
  assert.equal(await runIn('multi:builder', 'cat /artifact'), 'built');
});

test('heredocs: RUN <<EOF runs a script; COPY <<EOF writes a file', async () => {
  const dir = context('heredoc', {
    Dockerfile: 'FROM busybox\nRUN <<EOF\necho line1 > /h.txt\necho line2 >> /h.txt\nEOF\nCOPY <<EOF /greeting.txt\nhello from heredoc\nEOF\nRUN cat > /stdin.txt <<EOT\nfed on stdin\nEOT\n',
  });
  const r = await docker(d, ['build', '-t', 'heredoc:1', dir], classic);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.equal(await runIn('heredoc:1', 'cat /h.txt /greeting.txt /stdin.txt'), 'line1\nline2\nhello from heredoc\nfed on stdin');
});

test('.dockerignore keeps files out of the context and out of COPY', async () => {
  const dir = context('ignore', {
    Dockerfile: 'FROM busybox\nCOPY . /ctx/\n',
    '.dockerignore': '*.secret\nlogs/\n!logs/keep.log\n',
    'app.txt': 'app\n',
    'key.secret': 'secret\n',
    'logs/a.log': 'a\n',
    'logs/keep.log': 'keep\n',
  });
  const r = await docker(d, ['build', '-t', 'ignore:1', dir], classic);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const files = (await runIn('ignore:1', 'cd /ctx && find . -type f | sort')).split('\n');
  assert.ok(files.includes('./app.txt'));
  assert.ok(!files.includes('./key.secret'));
  assert.ok(!files.includes('./logs/a.log'));
  assert.ok(files.includes('./logs/keep.log'));
});

test('errors: a failing RUN gives its exit code and message; a missing COPY source; an unknown instruction with its line', async () => {
  const fail = await docker(d, ['build', context('fail', { Dockerfile: 'FROM busybox\nRUN echo before; exit 3\n' })], classic);
  assert.equal(fail.code, 3);
  assert.match(fail.stderr, /The command '\/bin\/sh -c echo before; exit 3' returned a non-zero code: 3/);
  assert.match(fail.stdout, /before/);
  const missing = await docker(d, ['build', context('missing', { Dockerfile: 'FROM busybox\nCOPY nothere.txt /\n' })], classic);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /nothere\.txt/);
  const unknown = await docker(d, ['build', context('unknown', { Dockerfile: 'FROM busybox\n\n# comment\nRUUN true\n' })], classic);
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.stderr, /line 4/);
  assert.match(unknown.stderr, /unknown instruction: RUUN/i);
  // No half-made images or leftover build containers from the failures (the failed RUN container is kept only
  // when --rm=false... docker keeps it unless --force-rm; ours too).
  const none = await docker(d, ['build', '--force-rm', context('fail2', { Dockerfile: 'FROM busybox\nRUN exit 5\n' })], classic);
  assert.equal(none.code, 5);
});

test('berth build: -t, -f, --build-arg and -q print the image ID', async () => {
  const dir = context('berthcli', { 'Dockerfile.alt': 'FROM busybox\nARG V=x\nRUN echo $V > /v\n' });
  const r = await berth(d, ['build', '-q', '-f', path.join(dir, 'Dockerfile.alt'), '--build-arg', 'V=berth', '-t', 'berthbuilt:1', dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout.trim(), /^sha256:[0-9a-f]{64}$/);
  assert.equal(await runIn('berthbuilt:1', 'cat /v'), 'berth');
});

test('a hostile context tar (../ names, absolute names, a symlink out of the context) writes nothing outside it', async () => {
  const marker = `/tmp/berth-build-escape-${process.pid}`;
  rmSync(marker, { force: true });
  const pack = tarStream.pack();
  pack.entry({ name: 'Dockerfile' }, 'FROM busybox\nCOPY . /ctx/\n');
  pack.entry({ name: `../../../../..${marker}` }, 'evil');
  pack.entry({ name: marker }, 'evil');
  pack.entry({ name: 'out', type: 'symlink', linkname: '/tmp' });
  pack.entry({ name: `out/berth-build-escape-${process.pid}` }, 'evil');
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  const res = await api(d.socket, 'POST', '/build?t=hostile:1', { body: Buffer.concat(chunks), headers: { 'Content-Type': 'application/x-tar' } });
  assert.ok(res.status === 200 || res.status >= 400);
  assert.equal(existsSync(marker), false, 'nothing written outside the context');
  // A symlink inside the context that points out is copied as a link, never followed.
  const dir = context('symlink', { Dockerfile: 'FROM busybox\nCOPY . /ctx/\n' });
  symlinkSync('/etc/shadow', path.join(dir, 'shadow-link'));
  const r = await docker(d, ['build', '-t', 'symlinked:1', dir], classic);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await runIn('symlinked:1', 'readlink /ctx/shadow-link'), '/etc/shadow');
});

test('FROM scratch with COPY; ADD unpacks a local tar; SHELL, HEALTHCHECK and ONBUILD triggers', async () => {
  const tarDir = context('tarsrc', { 'inner/hello.txt': 'from tar\n' });
  const ctx = context('misc', {
    Dockerfile: [
      'FROM busybox AS base',
      'SHELL ["/bin/sh", "-ec"]',
      'ADD files.tar /unpacked/',
      'HEALTHCHECK --interval=5s --retries=2 CMD true',
      'ONBUILD RUN echo triggered > /onbuild.txt',
      'RUN echo "shell is $0" > /shell.txt',
      'FROM scratch AS bare',
      'COPY only.txt /only.txt',
    ].join('\n'),
    'only.txt': 'alone\n',
  });
  const t = await docker(d, ['run', '--rm', '-v', `${tarDir}:/src:ro`, '-v', `${ctx}:/out`, 'busybox', 'tar', '-cf', '/out/files.tar', '-C', '/src', 'inner'], {});
  assert.equal(t.code, 0, t.stderr);
  const base = await docker(d, ['build', '-t', 'misc:base', '--target', 'base', ctx], classic);
  assert.equal(base.code, 0, base.stderr + base.stdout);
  assert.equal(await runIn('misc:base', 'cat /unpacked/inner/hello.txt /shell.txt'), 'from tar\nshell is /bin/sh');
  const hc = JSON.parse(await dockerOk(d, ['image', 'inspect', '-f', '{{json .Config.Healthcheck}}', 'misc:base']));
  assert.deepEqual(hc, { Test: ['CMD-SHELL', 'true'], Interval: 5e9, Retries: 2 }); // the shell form, as Docker records it
  // A build FROM it runs the trigger.
  const child = context('onbuild', { Dockerfile: 'FROM misc:base\nRUN true\n' });
  const c = await docker(d, ['build', '-t', 'misc:child', child], classic);
  assert.equal(c.code, 0, c.stderr + c.stdout);
  assert.equal(await runIn('misc:child', 'cat /onbuild.txt'), 'triggered');
  // A scratch stage: only the copied file, one layer.
  const bare = await docker(d, ['build', '-t', 'misc:bare', '--target', 'bare', ctx], classic);
  assert.equal(bare.code, 0, bare.stderr + bare.stdout);
  assert.equal(JSON.parse(await dockerOk(d, ['image', 'inspect', '-f', '{{json .RootFS.Layers}}', 'misc:bare'])).length, 1);
  const id = await dockerOk(d, ['create', 'misc:bare', '/x']);
  assert.equal(await dockerOk(d, ['cp', `${id}:/only.txt`, '-']).then((s) => s.length > 0), true);
  await dockerOk(d, ['rm', id]);
});

test('docker build -f with a Dockerfile outside the context, and -f - from stdin (the docker CLI sends those tars unterminated)', async () => {
  const dir = context('outside-ctx', { 'in.txt': 'inside\n' });
  const df = path.join(work, 'Dockerfile.outside');
  writeFileSync(df, 'FROM busybox\nCOPY in.txt /in.txt\n');
  const r = await docker(d, ['build', '-t', 'outside:1', '-f', df, dir], classic);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.equal(await runIn('outside:1', 'cat /in.txt'), 'inside');
  const s = await docker(d, ['build', '-t', 'stdin:1', '-f', '-', dir], { ...classic, input: 'FROM busybox\nCOPY in.txt /from-stdin.txt\n' });
  assert.equal(s.code, 0, s.stderr + s.stdout);
  assert.equal(await runIn('stdin:1', 'cat /from-stdin.txt'), 'inside');
});

test('the build cache shows in system df and builder prune removes it, leaving tagged images', async () => {
  const dir = context('prune', { Dockerfile: 'FROM busybox\nRUN echo a > /a\nRUN echo b > /b\n' });
  const r = await docker(d, ['build', '--no-cache', dir], classic);
  assert.equal(r.code, 0, r.stderr);
  const untagged = /Successfully built ([0-9a-f]{12})/.exec(r.stdout)![1];
  const df = await dockerOk(d, ['system', 'df', '--format', '{{.Type}}={{.TotalCount}}']);
  const count = Number(/Build Cache=(\d+)/.exec(df)?.[1]);
  assert.ok(count >= 1, df);
  const p = await dockerOk(d, ['builder', 'prune', '-f']);
  assert.match(p, /Total reclaimed space/);
  assert.notEqual((await docker(d, ['image', 'inspect', untagged])).code, 0, 'the untagged build result is gone');
  assert.equal((await docker(d, ['image', 'inspect', 'busybox'])).code, 0, 'the base image stays');
  assert.equal((await docker(d, ['image', 'inspect', 'allinone:1'])).code, 0, 'tagged builds stay');
});
