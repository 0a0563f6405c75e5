// berth against the real docker CLI: both talk to the same berthd, so any difference in output or exit
// status is the berth CLI's.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import path from 'node:path';
import { startDaemon, run, BERTH, DOCKER, type TestDaemon, type RunResult } from './harness.ts';
import { rootfsEntries, buildRootfsTar } from '../src/cli/commands/bootstrap.ts';
import { startErrorStatus } from '../src/cli/commands/run.ts';

let d: TestDaemon;
let tmp: string;

before(async () => {
  d = await startDaemon();
  tmp = mkdtempSync('/tmp/bt-cli-');
  const r = await berth(['image', 'bootstrap']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^sha256:[0-9a-f]{64}\n$/);
});

after(async () => {
  await d?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function berth(args: string[], opts: { input?: string | Buffer; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return run(BERTH, args, { env: { ...d.env, ...opts.env }, input: opts.input });
}

async function docker(args: string[], opts: { input?: string | Buffer; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  const r = await run(DOCKER, args, { env: { ...d.env, ...opts.env }, input: opts.input });
  // docker names itself in messages; berth says "berth" in the same places.
  const rename = (s: string) => s.replaceAll(/\bdocker\b/g, 'berth');
  return { code: r.code, stdout: rename(r.stdout), stderr: rename(r.stderr) };
}

/**
 * Both CLIs, same arguments: same status, stdout and stderr. setup (if any) runs before each of the two,
 * for commands that change state.
 */
async function same(args: string[], opts: { input?: string | Buffer; normalize?: (s: string) => string; env?: NodeJS.ProcessEnv; setup?: () => Promise<unknown> } = {}): Promise<RunResult> {
  const n = opts.normalize ?? ((s: string) => s);
  await opts.setup?.();
  const b = await berth(args, opts);
  await opts.setup?.();
  const dk = await docker(args, opts);
  assert.equal(n(b.stdout), n(dk.stdout), `stdout of ${args.join(' ')}`);
  assert.equal(n(b.stderr), n(dk.stderr), `stderr of ${args.join(' ')}`);
  assert.equal(b.code, dk.code, `exit status of ${args.join(' ')}: ${b.stderr}`);
  return b;
}

/** Table output with the relative times ("5 seconds ago") masked and the columns split, so clock ticks between the two runs do not matter. */
function tableCells(s: string): string {
  return s
    .replace(/(Less than a second|About a minute|About an hour|\d+ (seconds?|minutes?|hours?|days?|weeks?|months?|years?)) ago/g, 'AGO')
    .split('\n')
    .map((l) => l.split(/ {3,}/).join(' | '))
    .join('\n');
}

test('version -v and usage errors match docker wording', async () => {
  const v = await berth(['-v']);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^Berth version /);
  await same(['run']);
  await same(['tag', 'a']);
  await same(['ps', '--bogus']);
  await same(['run', '--bogus', 'busybox']);
  await same(['ps', '-n', 'abc']);
  await same(['bogus']);
  await same(['images', 'a', 'b']);
});

test('bad memory value is rejected like docker (125)', async () => {
  const r = await same(['run', '-m', 'x', 'busybox', 'true']);
  assert.equal(r.code, 125);
  assert.match(r.stderr, /^invalid argument "x" for "-m, --memory" flag: invalid size: 'x'/);
});

test('images table and --format output', async () => {
  await same(['images'], { normalize: tableCells });
  await same(['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}']);
  await same(['images', '--format', 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}']);
  await same(['images', '-q']);
  await same(['images', '--no-trunc', '--format', '{{.ID}}']);
  await same(['images', '--filter', 'reference=busybox', '--format', '{{.Repository}}']);
  await same(['image', 'ls', 'busybox', '--format', '{{.Repository}}']);
});

test('run -d, logs, wait, inspect, rm', async () => {
  const r = await berth(['run', '-d', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 4']);
  assert.equal(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  const w = await berth(['wait', id]);
  assert.deepEqual([w.code, w.stdout], [0, '4\n']);
  const logs = await same(['logs', id]);
  assert.equal(logs.stdout, 'out\n');
  assert.equal(logs.stderr, 'err\n');
  await same(['logs', '--tail', '1', id]);
  const code = await same(['inspect', '--format', '{{.State.ExitCode}}', id]);
  assert.equal(code.stdout, '4\n');
  await same(['inspect', id]);
  await same(['container', 'inspect', '--format', '{{.Config.Cmd}}', id]);
  await same(['inspect', 'no-such-thing']);
  await same(['ps', '-a'], { normalize: tableCells });
  await same(['ps', '-a', '--no-trunc', '--format', '{{.ID}} {{.Image}} {{.Command}} {{.Names}} {{.State}}']);
  await same(['ps', '-aq']);
  await same(['ps', '-a', '--format', 'json'], { normalize: (s) => s.replace(/"RunningFor":"[^"]*"|"Status":"[^"]*"/g, '') });
  const rm = await berth(['rm', id]);
  assert.deepEqual([rm.code, rm.stdout], [0, `${id}\n`]);
  await same(['rm', id]);
});

test('run exit statuses: container status, 125, 126, 127', async () => {
  const three = await same(['run', '--rm', 'busybox', 'sh', '-c', 'echo hi; exit 3']);
  assert.deepEqual([three.code, three.stdout], [3, 'hi\n']);
  const noImage = await same(['run', '--pull', 'never', 'nosuchimage']);
  assert.equal(noImage.code, 125);
  const notExec = await same(['run', 'busybox', '/etc/passwd']);
  assert.equal(notExec.code, 126);
  await same(['run', 'busybox', 'no-such-command']);
  // With --rm a failed start still leaves no container behind.
  const before = (await berth(['ps', '-aq'])).stdout;
  const rmFail = await berth(['run', '--rm', 'busybox', '/etc/passwd']);
  assert.equal(rmFail.code, 126);
  assert.equal((await berth(['ps', '-aq'])).stdout, before);
  // docker's mapping of start errors to statuses.
  assert.equal(startErrorStatus('failed to create task: exec: "nope": executable file not found in $PATH'), 127);
  assert.equal(startErrorStatus('exec: "/etc": is a directory'), 126);
  assert.equal(startErrorStatus('exec: "/etc/passwd": permission denied'), 126);
  assert.equal(startErrorStatus('something else'), 125);
});

test('-e and --env-file reach the container', async () => {
  const env = { FROM_CLI: 'cli-value' };
  const file = path.join(tmp, 'env');
  writeFileSync(file, '# comment\nFILE_VAR=from-file\nFROM_CLI\n');
  const r = await same(['run', '--rm', '-e', 'A=1', '-e', 'FROM_CLI', '-e', 'UNSET_VAR', '--env-file', file, 'busybox', 'sh', '-c', 'echo "$A $FROM_CLI $FILE_VAR ${UNSET_VAR-unset}"'], { env });
  assert.equal(r.stdout, '1 cli-value from-file unset\n');
});

test('-i pipes stdin into the container', async () => {
  const r = await same(['run', '--rm', '-i', 'busybox', 'sh', '-c', 'cat; echo done'], { input: 'line1\nline2\n' });
  assert.equal(r.stdout, 'line1\nline2\ndone\n');
});

test('--rm removes the container', async () => {
  const before = (await berth(['ps', '-aq'])).stdout;
  const r = await berth(['run', '--rm', '--name', 'cli-rm-test', 'busybox', 'true']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await berth(['ps', '-aq'])).stdout, before);
  const gone = await same(['inspect', 'cli-rm-test']);
  assert.equal(gone.code, 1);
});

test('save and load round trip', async () => {
  const file = path.join(tmp, 'busybox.tar');
  const id = (await berth(['image', 'inspect', '--format', '{{.Id}}', 'busybox'])).stdout;
  const s = await berth(['save', '-o', file, 'busybox']);
  assert.equal(s.code, 0, s.stderr);
  const rmi = await same(['rmi', 'cli-saved:1'], { setup: () => berth(['tag', 'busybox', 'cli-saved:1']) });
  assert.equal(rmi.stdout, 'Untagged: cli-saved:1\n');
  const loaded = await same(['load', '-i', file]);
  assert.equal(loaded.stdout, 'Loaded image: busybox:latest\n');
  await same(['load'], { input: await import('node:fs').then((fs) => fs.readFileSync(file)) });
  assert.equal((await berth(['image', 'inspect', '--format', '{{.Id}}', 'busybox'])).stdout, id);
  await same(['load', '-i', path.join(tmp, 'missing.tar')]);
  const toPipe = await berth(['save', 'busybox']);
  assert.equal(toPipe.code, 0);
  assert.ok(toPipe.stdout.length > 0);
});

test('import with --change', async () => {
  const tar = await buildRootfsTar(rootfsEntries(await import('node:fs').then((fs) => fs.readFileSync('/bin/busybox')), ['bin/sh', 'bin/echo']));
  const file = path.join(tmp, 'rootfs.tar');
  writeFileSync(file, tar);
  const r = await berth(['import', '-c', 'CMD ["echo", "imported"]', '-c', 'ENV IMPORTED=yes', '-m', 'from test', file, 'cli-imported:1']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^sha256:[0-9a-f]{64}\n$/);
  const out = await same(['run', '--rm', 'cli-imported:1']);
  assert.equal(out.stdout, 'imported\n');
  await same(['image', 'inspect', '--format', '{{json .Config.Cmd}} {{.Config.Env}}', 'cli-imported:1']);
  const stdin = await berth(['import', '-', 'cli-imported:2'], { input: tar });
  assert.equal(stdin.code, 0, stdin.stderr);
  await same(['import', path.join(tmp, 'missing.tar')]);
});

test('bootstrap archive is reproducible', async () => {
  const fs = await import('node:fs');
  const bin = fs.readFileSync('/bin/busybox');
  const applets = ['bin/sh', 'usr/bin/env', 'sbin/init', 'usr/sbin/httpd'];
  const a = await buildRootfsTar(rootfsEntries(bin, applets));
  const b = await buildRootfsTar(rootfsEntries(bin, [...applets].reverse()));
  assert.ok(a.equals(b));
  const entries = rootfsEntries(bin, applets);
  const byName = new Map(entries.map((e) => [e.name, e]));
  assert.equal(byName.get('bin/sh')?.linkname, 'busybox');
  assert.equal(byName.get('usr/bin/env')?.linkname, '../../bin/busybox');
  assert.equal(byName.get('tmp/')?.mode, 0o1777);
  assert.equal(byName.get('bin/busybox')?.mode, 0o755);
});

test('-t with a terminal: raw output, exit status', { skip: !existsSync('/usr/bin/script') && 'needs script(1) for a pty' }, async () => {
  // script(1) gives the CLI a pseudo-terminal on stdin and stdout.
  const inPty = (cli: string) => run('/usr/bin/script', ['-qec', `${cli} run --rm -it busybox sh -c 'echo hi; exit 2'`, '/dev/null'], { env: d.env });
  const [b, dk] = [await inPty(BERTH), await inPty(DOCKER)];
  // script(1) passes the end of its (empty) stdin on as a NUL, which the terminal echoes as "^@" (before or
  // after the output, depending on timing).
  const clean = (s: string) => s.replace(/\^@|\0/g, '');
  assert.equal(clean(b.stdout), clean(dk.stdout));
  assert.equal(clean(b.stdout), 'hi\r\n');
  assert.equal(b.code, dk.code);
});

test('--env-file with a missing file', async () => {
  await same(['run', '--rm', '--env-file', path.join(tmp, 'no-such-env'), 'busybox', 'true']);
});
