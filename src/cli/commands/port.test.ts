import { test } from 'node:test';
import assert from 'node:assert/strict';
import { joinHostPort, naturalCompare, naturalLess, portLines, trimID, type PortMap } from './port.ts';

test('natural order: numbers by value, digits before other bytes, fewer leading zeros first', () => {
  assert.equal(naturalLess('net2', 'net10'), true);
  assert.equal(naturalLess('net10', 'net2'), false);
  assert.equal(naturalLess('2', '02'), true);
  assert.equal(naturalLess('02', '2'), false);
  assert.equal(naturalLess('Zeta', 'bridge'), true, 'bytewise: upper case first');
  assert.equal(naturalLess('80/tcp -> 0.0.0.0:1', '80/tcp -> [::]:1'), true, 'a digit sorts before "["');
  assert.equal(naturalLess('a', 'ab'), true);
  assert.equal(naturalLess('a', 'a'), false);
  assert.deepEqual(['x10', 'x9', 'x010', 'x1', 'host', 'bridge'].sort(naturalCompare), ['bridge', 'host', 'x1', 'x9', 'x10', 'x010']);
});

test('host addresses are joined like net.JoinHostPort', () => {
  assert.equal(joinHostPort('0.0.0.0', '8080'), '0.0.0.0:8080');
  assert.equal(joinHostPort('::', '8080'), '[::]:8080');
  assert.equal(joinHostPort('', '9'), ':9');
});

const ports: PortMap = {
  '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }, { HostIp: '::', HostPort: '8080' }],
  '443/tcp': null,
  '9000/tcp': [{ HostIp: '0.0.0.0', HostPort: '10000' }],
  '53/udp': [{ HostIp: '127.0.0.1', HostPort: '5353' }],
};

test('all published ports, in docker order', () => {
  assert.deepEqual(portLines(ports, 'web'), [
    '53/udp -> 127.0.0.1:5353',
    '80/tcp -> 0.0.0.0:8080',
    '80/tcp -> [::]:8080',
    '9000/tcp -> 0.0.0.0:10000',
  ]);
  assert.deepEqual(portLines({}, 'web'), []);
  assert.deepEqual(portLines(null, 'web'), []);
});

test('one private port: its host addresses; tcp unless a protocol is given', () => {
  assert.deepEqual(portLines(ports, 'web', '80'), ['0.0.0.0:8080', '[::]:8080']);
  assert.deepEqual(portLines(ports, 'web', '80/tcp'), ['0.0.0.0:8080', '[::]:8080']);
  assert.deepEqual(portLines(ports, 'web', '80/'), ['0.0.0.0:8080', '[::]:8080']);
  assert.deepEqual(portLines(ports, 'web', '53/udp'), ['127.0.0.1:5353']);
});

test("docker's errors name the port as it was typed", () => {
  const fails = (port: string, message: string) =>
    assert.throws(() => portLines(ports, 'web', port), (err: Error & { status?: number }) => err.message === message && err.status === 1);
  fails('81/tcp', "Error: No public port '81/tcp' published for web");
  fails('81', "Error: No public port '81' published for web");
  fails('443', "Error: No public port '443' published for web");
  fails('53', "Error: No public port '53' published for web");
  fails('abc', 'Error: invalid port (abc): strconv.ParseUint: parsing "abc": invalid syntax');
  fails('+80', 'Error: invalid port (+80): strconv.ParseUint: parsing "+80": invalid syntax');
  fails('/tcp', 'Error: invalid port (): strconv.ParseUint: parsing "": invalid syntax');
  fails('70000', 'Error: invalid port (70000): strconv.ParseUint: parsing "70000": value out of range');
  assert.throws(() => portLines({}, 'web', '65535'), /No public port '65535'/);
});

test('names are trimmed; an empty one is refused before any request', () => {
  assert.equal(trimID('network', ' net10 '), 'net10');
  assert.throws(() => trimID('container', ' '), /^StatusError: invalid container name or ID: value is empty$/);
});
