import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeAuthHeader, parseChallenges, basicHeader } from './auth.ts';
import { isInsecure, endpointsFor } from './client.ts';
import { selectPlatform, parsePlatform } from './pull.ts';
import { registryDomain } from './service.ts';

test('X-Registry-Auth: base64url or standard, padded or not; auth field split; empty means anonymous', () => {
  const json = JSON.stringify({ username: 'u', password: 'p+/?', serveraddress: '127.0.0.1:5000' });
  const std = Buffer.from(json).toString('base64');
  const url = Buffer.from(json).toString('base64url');
  assert.deepEqual(decodeAuthHeader(std), { username: 'u', password: 'p+/?', serveraddress: '127.0.0.1:5000' });
  assert.deepEqual(decodeAuthHeader(url), decodeAuthHeader(std));
  assert.deepEqual(decodeAuthHeader(Buffer.from(JSON.stringify({ auth: Buffer.from('me:se:cret').toString('base64') })).toString('base64')), {
    auth: Buffer.from('me:se:cret').toString('base64'), username: 'me', password: 'se:cret',
  });
  assert.equal(decodeAuthHeader(Buffer.from('{}').toString('base64')), undefined);
  assert.equal(decodeAuthHeader(''), undefined);
  assert.throws(() => decodeAuthHeader(Buffer.from('not json').toString('base64')), /X-Registry-Auth/);
});

test('WWW-Authenticate: bearer with quoted commas, basic, several challenges', () => {
  const c = parseChallenges('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"');
  assert.deepEqual(c, [{ scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' } }]);
  const two = parseChallenges(['Basic realm="Registry Realm"', 'Bearer realm="x\\"y"']);
  assert.equal(two.length, 2);
  assert.equal(two[0].scheme, 'basic');
  assert.equal(two[1].params.realm, 'x"y');
  assert.deepEqual(parseChallenges(undefined), []);
  assert.equal(basicHeader('u', 'p'), `Basic ${Buffer.from('u:p').toString('base64')}`);
});

test('insecure registries: loopback always, host[:port] and CIDR entries', () => {
  assert.ok(isInsecure('localhost:5000', []));
  assert.ok(isInsecure('127.0.0.1:5000', []));
  assert.ok(isInsecure('[::1]:5000', []));
  assert.ok(!isInsecure('registry.example:5000', []));
  assert.ok(isInsecure('registry.example:5000', ['registry.example:5000']));
  assert.ok(isInsecure('10.1.2.3:5000', ['10.0.0.0/8']));
  assert.ok(!isInsecure('11.1.2.3:5000', ['10.0.0.0/8']));
});

test('endpoints: mirrors first for Docker Hub pulls only; HTTP fallback only where allowed', () => {
  const opts = { mirrors: ['http://127.0.0.1:5001/'], insecure: [], userAgent: 'x' };
  assert.deepEqual(endpointsFor('docker.io', opts, 'pull').map((e) => e.base), ['http://127.0.0.1:5001', 'https://registry-1.docker.io']);
  assert.deepEqual(endpointsFor('docker.io', opts, 'push').map((e) => e.base), ['https://registry-1.docker.io']);
  assert.deepEqual(endpointsFor('127.0.0.1:5000', opts, 'pull'), [{ base: 'https://127.0.0.1:5000', mirror: false, fallbackHttp: true }]);
  assert.equal(endpointsFor('quay.example', opts, 'pull')[0].fallbackHttp, false);
});

test('platform selection from an index', () => {
  const list = [
    { mediaType: 'm', digest: 'sha256:a', size: 1, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    { mediaType: 'm', digest: 'sha256:b', size: 1, platform: { os: 'linux', architecture: 'amd64' } },
    { mediaType: 'm', digest: 'sha256:c', size: 1, platform: { os: 'linux', architecture: 'arm', variant: 'v6' } },
    { mediaType: 'm', digest: 'sha256:d', size: 1, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
  ];
  assert.equal(selectPlatform(list, parsePlatform('linux/amd64'))?.digest, 'sha256:b');
  assert.equal(selectPlatform(list, parsePlatform('linux/arm64'))?.digest, 'sha256:a');
  assert.equal(selectPlatform(list, parsePlatform('linux/arm/v7'))?.digest, 'sha256:d');
  assert.equal(selectPlatform(list, parsePlatform('linux/aarch64/v8'))?.digest, 'sha256:a');
  assert.equal(selectPlatform(list, parsePlatform('windows/amd64')), undefined);
  assert.throws(() => parsePlatform('linux'), /unknown operating system or architecture/);
});

test('login server addresses map to registry domains', () => {
  assert.equal(registryDomain(undefined), 'docker.io');
  assert.equal(registryDomain('https://index.docker.io/v1/'), 'docker.io');
  assert.equal(registryDomain('127.0.0.1:5000'), '127.0.0.1:5000');
  assert.equal(registryDomain('http://localhost:5000/v2/'), 'localhost:5000');
});

test('offline mode: only loopback registries, token realms and URLs', async () => {
  const { setOffline, checkReachable, httpRequest } = await import('./client.ts');
  setOffline(true);
  try {
    assert.doesNotThrow(() => checkReachable('http://127.0.0.1:5000/v2/'));
    assert.doesNotThrow(() => checkReachable('https://localhost/v2/'));
    assert.doesNotThrow(() => checkReachable('http://[::1]:5000/v2/'));
    assert.throws(() => checkReachable('https://registry-1.docker.io/v2/'), /offline.*registry-1\.docker\.io/);
    // The request is refused before any connection or name lookup.
    await assert.rejects(httpRequest('https://registry-1.docker.io/v2/'), /offline/);
  } finally {
    setOffline(false);
  }
  assert.doesNotThrow(() => checkReachable('https://registry-1.docker.io/v2/'));
});
