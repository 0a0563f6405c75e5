import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import type { Cli } from '../command.ts';
import { ApiError, StatusError } from '../errors.ts';
import { CliConfigFile, INDEX_SERVER, decodeAuthConfig, encodeAuth } from '../auth-config.ts';
import { defaultAuthConfig, promptUserForCredentials, readLine, withRegistryAuth } from './registry-auth.ts';

function fakeCli(input: string) {
  const stdin = new PassThrough();
  stdin.end(input);
  let out = '';
  const cli = {
    in: stdin as unknown as NodeJS.ReadStream,
    out: { write: (s: string) => { out += s; return true; } } as unknown as NodeJS.WriteStream,
    err: { write: () => true } as unknown as NodeJS.WriteStream,
    configDir: '/nonexistent',
    client: () => { throw new Error('no client'); },
  } as Cli;
  return { cli, output: () => out };
}

test('readLine: one line at a time, CRLF trimmed, the rest kept for the next read', async () => {
  const s = new PassThrough();
  s.end('alice\r\nsecret\nlast');
  assert.equal(await readLine(s), 'alice');
  assert.equal(await readLine(s), 'secret');
  assert.equal(await readLine(s), 'last');
  assert.equal(await readLine(s), null);
});

test('credential prompts: Docker Hub hint, default user name, errors for empty answers', async () => {
  const a = fakeCli('\n s3cret \n');
  const creds = await promptUserForCredentials(a.cli, '', '', 'bob', INDEX_SERVER);
  assert.deepEqual(creds, { username: 'bob', password: 's3cret', serveraddress: INDEX_SERVER });
  assert.equal(a.output(), "Log in with your Docker ID or email address to push and pull images from Docker Hub. If you don't have a Docker ID, head over to https://hub.docker.com/ to create one.\nUsername (bob): Password: \n");
  const b = fakeCli('\n');
  await assert.rejects(promptUserForCredentials(b.cli, '', '', '', 'r.example'), (e: Error) => e instanceof StatusError && e.message === 'Error: Non-null Username Required');
  assert.equal(b.output(), 'Username: ');
  const c = fakeCli('');
  await assert.rejects(promptUserForCredentials(c.cli, 'u', '', '', 'r.example'), { message: 'Error: Password Required' });
  const d = fakeCli('');
  assert.deepEqual(await promptUserForCredentials(d.cli, ' u ', 'p', '', 'r.example'), { username: 'u', password: 'p', serveraddress: 'r.example' });
  assert.equal(d.output(), '');
});

test('stored credentials for login: hostname key, identity token dropped, store skipped with -u/-p', () => {
  const cfg = new CliConfigFile('/nonexistent/config.json');
  cfg.parse(JSON.stringify({ auths: { 'r.example:5000': { auth: encodeAuth('u', 'p'), identitytoken: 'x' } } }));
  assert.deepEqual(defaultAuthConfig(cfg, true, 'https://r.example:5000/v2/', false), { username: 'u', password: 'p', serveraddress: 'r.example:5000', identitytoken: undefined });
  assert.deepEqual(defaultAuthConfig(cfg, false, 'r.example:5000', false), { serveraddress: 'r.example:5000', identitytoken: undefined });
});

test('a 401 from the daemon asks for credentials and retries once with them', async () => {
  const cfg = new CliConfigFile('/nonexistent/config.json');
  cfg.parse(JSON.stringify({ auths: { 'r.example': { auth: encodeAuth('old', 'stale') } } }));
  const f = fakeCli('new\npw\n');
  const headers: string[] = [];
  const result = await withRegistryAuth(f.cli, cfg, 'r.example', 'pull', async (h) => {
    headers.push(h);
    if (headers.length === 1) throw new ApiError(401, 'unauthorized');
    return 'ok';
  });
  assert.equal(result, 'ok');
  assert.deepEqual(decodeAuthConfig(headers[0]), { username: 'old', password: 'stale', serveraddress: 'r.example' });
  assert.deepEqual(decodeAuthConfig(headers[1]), { username: 'new', password: 'pw', serveraddress: 'r.example' });
  assert.equal(f.output(), '\nLogin prior to pull:\nUsername (old): Password: \n');
  const g = fakeCli('');
  await assert.rejects(withRegistryAuth(g.cli, cfg, 'r.example', 'push', async () => { throw new ApiError(404, 'nope'); }), { message: 'Error response from daemon: nope' });
  assert.equal(g.output(), '');
});
