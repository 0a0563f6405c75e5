import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderHosts, renderResolv, parseResolv, upstreamsFor } from './etc-files.ts';

test('hosts: defaults, extra hosts (IPv6 too), links, then the container itself', () => {
  const text = renderHosts({
    hostname: 'abc123', domainname: '', ips: ['172.17.0.5', '172.18.0.2'],
    extraHosts: ['foo:10.1.2.3', 'six:::1', 'br:[fe80::1]'], links: [{ ip: '172.17.0.9', names: ['db', 'deadbeef0000', 'mydb'] }],
  });
  const lines = text.trimEnd().split('\n');
  assert.equal(lines[0], '127.0.0.1\tlocalhost');
  assert.ok(lines.includes('10.1.2.3\tfoo'));
  assert.ok(lines.includes('::1\tsix'));
  assert.ok(lines.includes('fe80::1\tbr'));
  assert.ok(lines.includes('172.17.0.9\tdb deadbeef0000 mydb'));
  assert.equal(lines.at(-1), '172.17.0.5\tabc123');
  assert.equal(lines.filter((l) => l.includes('172.18.0.2')).length, 0);
});

test('hosts: a domain name gives the FQDN first', () => {
  assert.match(renderHosts({ hostname: 'web', domainname: 'example.test', ips: ['10.0.0.2'], extraHosts: [], links: [] }), /10\.0\.0\.2\tweb\.example\.test web\n$/);
});

const host = 'nameserver 127.0.0.53\nnameserver 10.0.0.1 # office\nsearch corp.test\noptions edns0\n';

test('resolv.conf without the embedded server: host servers minus loopback', () => {
  assert.equal(renderResolv({ host, dns: [], dnsSearch: [], dnsOptions: [] }), 'nameserver 10.0.0.1\nsearch corp.test\noptions edns0\n');
  assert.equal(renderResolv({ host: 'nameserver 127.0.0.1\n', dns: [], dnsSearch: [], dnsOptions: [] }), 'nameserver 8.8.8.8\nnameserver 8.8.4.4\n');
  assert.equal(renderResolv({ host, dns: ['10.9.9.9'], dnsSearch: ['a.test'], dnsOptions: ['ndots:2'] }), 'nameserver 10.9.9.9\nsearch a.test\noptions ndots:2\n');
});

test('resolv.conf with the embedded server: it is the only nameserver, ndots:0', () => {
  assert.equal(renderResolv({ host, embedded: '172.18.0.1', dns: ['10.9.9.9'], dnsSearch: [], dnsOptions: [] }), 'nameserver 172.18.0.1\nsearch corp.test\noptions edns0 ndots:0\n');
});

test('upstreams: --dns first, else every host server (berthd forwards from the host namespace)', () => {
  assert.deepEqual(upstreamsFor([], host), ['127.0.0.53', '10.0.0.1']);
  assert.deepEqual(upstreamsFor(['1.1.1.1'], host), ['1.1.1.1']);
  assert.deepEqual(parseResolv('domain x.test\n').search, ['x.test']);
});
