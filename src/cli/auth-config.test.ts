import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync, symlinkSync, chmodSync, readdirSync, lstatSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CliConfigFile, ConfigLoadError, INDEX_SERVER, authKeyForRepository, convertToHostname, decodeAuth, decodeAuthConfig,
  encodeAuth, encodeAuthConfig, registryAuthHeader, searchIndexName,
} from './auth-config.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'berth-auth-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const dir = () => path.join(tmp, `c${n++}`);

test('X-Registry-Auth: Go field order, empty fields left out, base64url with padding', () => {
  const h = encodeAuthConfig({ serveraddress: '127.0.0.1:5000', password: 'p', username: 'u' });
  assert.equal(Buffer.from(h, 'base64').toString(), '{"username":"u","password":"p","serveraddress":"127.0.0.1:5000"}');
  assert.equal(encodeAuthConfig({}), 'e30=');
  assert.equal(Buffer.from(encodeAuthConfig({ identitytoken: 'tok', username: 'u', serveraddress: 's' }), 'base64').toString(),
    '{"username":"u","serveraddress":"s","identitytoken":"tok"}');
  // Bytes that base64 would encode with "+" and "/" use "-" and "_"; Go's encoder escapes <, > and &.
  const odd = encodeAuthConfig({ password: '>>>???<&' });
  assert.match(odd, /^[A-Za-z0-9_=-]+$/);
  assert.equal(Buffer.from(odd, 'base64url').toString(), '{"password":"\\u003e\\u003e\\u003e???\\u003c\\u0026"}');
  assert.deepEqual(decodeAuthConfig(odd), { password: '>>>???<&' });
});

test('auth strings: base64 user:password, password may hold colons', () => {
  assert.equal(encodeAuth('user', 'pa:ss'), Buffer.from('user:pa:ss').toString('base64'));
  assert.equal(encodeAuth('', ''), '');
  assert.equal(encodeAuth('user', ''), Buffer.from('user:').toString('base64'));
  assert.deepEqual(decodeAuth(encodeAuth('user', 'pa:ss')), ['user', 'pa:ss']);
  assert.deepEqual(decodeAuth(''), ['', '']);
  assert.throws(() => decodeAuth(Buffer.from('nocolon').toString('base64')), /Invalid auth configuration file/);
  assert.throws(() => decodeAuth(Buffer.from(':pw').toString('base64')), /Invalid auth configuration file/);
  assert.throws(() => decodeAuth('***'), /illegal base64/);
});

test('registry keys: Docker Hub under its v1 URL, others by host', () => {
  assert.equal(convertToHostname('https://127.0.0.1:5000/v2/'), '127.0.0.1:5000');
  assert.equal(convertToHostname('http://user@reg.example:8080'), 'reg.example:8080');
  assert.equal(convertToHostname('https://[::1]/'), '::1');
  assert.equal(convertToHostname('https://[::1]:5000/x'), '[::1]:5000');
  assert.equal(convertToHostname('reg.example/path'), 'reg.example');
  assert.equal(convertToHostname('localhost:5000'), 'localhost:5000');
  assert.equal(authKeyForRepository('docker.io/library/busybox'), INDEX_SERVER);
  assert.equal(authKeyForRepository('127.0.0.1:5000/app'), '127.0.0.1:5000');
  assert.equal(searchIndexName('busybox'), 'docker.io');
  assert.equal(searchIndexName('someone/app'), 'docker.io');
  assert.equal(searchIndexName('localhost/app'), 'localhost');
  assert.equal(searchIndexName('127.0.0.1:5000/app'), '127.0.0.1:5000');
});

test('a missing config is empty; a broken one is an error with docker wording', () => {
  const d = dir();
  const cfg = CliConfigFile.load(d);
  assert.equal(cfg.auths.size, 0);
  assert.deepEqual(cfg.getAuthConfig(INDEX_SERVER), {});
  const bad = dir();
  CliConfigFile.load(bad); // creates nothing
  assert.equal(existsSync(bad), false);
  const d2 = dir();
  new CliConfigFile(path.join(d2, 'config.json')).save();
  writeFileSync(path.join(d2, 'config.json'), '{nope');
  assert.throws(() => CliConfigFile.load(d2), (e: Error) => e instanceof ConfigLoadError && e.message.startsWith(`parsing config file (${path.join(d2, 'config.json')}): `));
  const warnings: string[] = [];
  const c = CliConfigFile.loadOrWarn(d2, { write: (s: string) => warnings.push(s) });
  assert.equal(c.auths.size, 0);
  assert.match(warnings.join(''), /^WARNING: Error parsing config file \(/);
});

test('stored credentials are decoded, and found under an older URL key by hostname', () => {
  const d = dir();
  const cfg = new CliConfigFile(path.join(d, 'config.json'));
  cfg.parse(JSON.stringify({
    auths: {
      'https://index.docker.io/v1/': { auth: encodeAuth('hub', 'secret') },
      'https://127.0.0.1:5001/v2/': { auth: encodeAuth('old', 'pw') },
      'tok.example': { auth: encodeAuth('t', ''), identitytoken: 'IDT' },
    },
  }));
  assert.deepEqual(cfg.getAuthConfig(INDEX_SERVER), { username: 'hub', password: 'secret', serveraddress: INDEX_SERVER });
  assert.deepEqual(cfg.getAuthConfig('127.0.0.1:5001'), { username: 'old', password: 'pw', serveraddress: 'https://127.0.0.1:5001/v2/' });
  assert.deepEqual(cfg.getAuthConfig('tok.example'), { username: 't', password: '', identitytoken: 'IDT', serveraddress: 'tok.example' });
  assert.deepEqual(cfg.getAuthConfig('other:1'), {});
  const header = decodeAuthConfig(registryAuthHeader(cfg, 'docker.io/library/busybox'));
  assert.deepEqual(header, { username: 'hub', password: 'secret', serveraddress: INDEX_SERVER });
  assert.deepEqual(decodeAuthConfig(registryAuthHeader(cfg, 'tok.example/app')), { username: 't', serveraddress: 'tok.example', identitytoken: 'IDT' });
});

test('storing writes config.json like docker: 0600, tabs, sorted auths, fields in docker order, no newline', () => {
  const d = dir();
  const cfg = CliConfigFile.load(d);
  const warnings: string[] = [];
  const err = { write: (s: string) => warnings.push(s) };
  cfg.storeAuth({ username: 'u', password: 'p', serveraddress: '127.0.0.1:5000' }, err);
  const file = path.join(d, 'config.json');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(statSync(d).mode & 0o777, 0o700);
  assert.equal(readFileSync(file, 'utf8'), '{\n\t"auths": {\n\t\t"127.0.0.1:5000": {\n\t\t\t"auth": "dTpw"\n\t\t}\n\t}\n}');
  assert.equal(warnings.join(''), `\nWARNING! Your credentials are stored unencrypted in '${file}'.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n\n`);
  // An identity token replaces the password: "auth" keeps the user name only; the warning is not repeated.
  cfg.storeAuth({ username: 'a', password: '', identitytoken: 'tok', serveraddress: 'a.example' }, err);
  assert.equal(warnings.length, 1);
  const again = CliConfigFile.load(d);
  assert.deepEqual(again.getAuthConfig('a.example'), { username: 'a', password: '', identitytoken: 'tok', serveraddress: 'a.example' });
  assert.deepEqual(Object.keys(JSON.parse(readFileSync(file, 'utf8')).auths), ['127.0.0.1:5000', 'a.example']);
  assert.deepEqual(readdirSync(d), ['config.json'], 'no temporary file is left');
});

test('other settings survive a save, in docker order, unknown ones after them; the file mode is kept', () => {
  const d = dir();
  const file = path.join(d, 'config.json');
  new CliConfigFile(file).save();
  writeFileSync(file, JSON.stringify({ zzz: 1, detachKeys: 'ctrl-x', psFormat: 'table {{.ID}}', auths: {}, aliases: { builder: 'buildx' }, currentContext: '' }));
  chmodSync(file, 0o644);
  const cfg = CliConfigFile.load(d);
  cfg.storeAuth({ username: 'u', password: 'p', serveraddress: 'r.example' });
  assert.equal(statSync(file).mode & 0o777, 0o644);
  const text = readFileSync(file, 'utf8');
  assert.deepEqual(Object.keys(JSON.parse(text)), ['auths', 'psFormat', 'detachKeys', 'aliases', 'zzz']);
  assert.match(text, /"aliases": \{\n\t\t"builder": "buildx"\n\t\}/);
});

test('erasing: only an existing entry rewrites the file; a symlinked config is written through', () => {
  const d = dir();
  const cfg = CliConfigFile.load(d);
  assert.equal(cfg.eraseAuth(INDEX_SERVER), false);
  assert.equal(existsSync(path.join(d, 'config.json')), false);
  cfg.storeAuth({ username: 'u', password: 'p', serveraddress: 'r.example' });
  const real = path.join(tmp, `real-${n}.json`);
  writeFileSync(real, readFileSync(path.join(d, 'config.json')));
  rmSync(path.join(d, 'config.json'));
  symlinkSync(real, path.join(d, 'config.json'));
  const linked = CliConfigFile.load(d);
  assert.equal(linked.eraseAuth('r.example'), true);
  assert.ok(lstatSync(path.join(d, 'config.json')).isSymbolicLink());
  assert.equal(readFileSync(real, 'utf8'), '{\n\t"auths": {}\n}');
});
