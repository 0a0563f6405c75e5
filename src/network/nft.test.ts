import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderRuleset, quote } from './nft.ts';

const bridges = [
  { device: 'berth0', subnet: '172.17.0.0/16', internal: false, masquerade: true },
  { device: 'br-1', subnet: '172.18.0.0/16', internal: true, masquerade: true },
];

test('the ruleset replaces the table in one transaction', () => {
  const text = renderRuleset('berth_t', bridges, []);
  const lines = text.split('\n');
  assert.equal(lines[0], 'add table ip berth_t');
  assert.equal(lines[1], 'delete table ip berth_t');
  assert.equal(lines[2], 'table ip berth_t {');
});

test('published ports become DNAT rules, with the host address when one is given', () => {
  const text = renderRuleset('t', bridges, [
    { proto: 'tcp', hostIp: '0.0.0.0', hostPort: 8080, containerIp: '172.17.0.2', containerPort: 80, bridge: 'berth0' },
    { proto: 'udp', hostIp: '127.0.0.1', hostPort: 5353, containerIp: '172.17.0.3', containerPort: 53, bridge: 'berth0' },
  ]);
  assert.match(text, /^ {4}tcp dport 8080 dnat to 172\.17\.0\.2:80$/m);
  assert.match(text, /^ {4}ip daddr 127\.0\.0\.1 udp dport 5353 dnat to 172\.17\.0\.3:53$/m);
  // Loopback is the proxy's: the output chain leaves 127/8 alone.
  assert.match(text, /ip daddr != 127\.0\.0\.0\/8 fib daddr type local jump ports/);
});

test('internal networks are neither masqueraded nor forwarded; bridges are isolated from each other', () => {
  const text = renderRuleset('t', bridges, []);
  assert.match(text, /ip saddr 172\.17\.0\.0\/16 oifname != "berth0" masquerade/);
  assert.doesNotMatch(text, /172\.18\.0\.0\/16 oifname/);
  assert.match(text, /iifname "berth0" oifname \{ "br-1" \} drop/);
  assert.match(text, /iifname "br-1" oifname \{ "berth0" \} drop/);
  assert.match(text, /iifname "br-1" oifname != "br-1" drop/);
  assert.match(text, /oifname "br-1" iifname != "br-1" drop/);
});

test('interface names are checked before they reach nft', () => {
  assert.throws(() => quote('a"; flush ruleset'), /invalid interface name/);
  assert.throws(() => quote('much-too-long-name0'), /invalid interface name/);
  assert.equal(quote('br-0123456789a'), '"br-0123456789a"');
});
