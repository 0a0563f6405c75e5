import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventsService, encodeEvent, type EventMessage } from './service.ts';
import { eventFilter } from './filter.ts';

const S = 1_000_000_000n;

test('events carry Docker fields; the ring answers since/until and stays bounded', () => {
  let now = 1000n * S;
  const ev = new EventsService({ limit: 3, maxAgeMs: 60_000, clock: () => now });
  const e = ev.log('container', 'create', { ID: 'abc', Attributes: { image: 'busybox', name: 'x' } });
  assert.equal(encodeEvent(e), '{"status":"create","id":"abc","from":"busybox","Type":"container","Action":"create","Actor":{"ID":"abc","Attributes":{"image":"busybox","name":"x"}},"scope":"local","time":1000,"timeNano":1000000000000}');
  const img = ev.log('image', 'tag', { ID: 'sha256:1', Attributes: { name: 'b:1' } });
  assert.equal(encodeEvent(img), '{"status":"tag","id":"sha256:1","Type":"image","Action":"tag","Actor":{"ID":"sha256:1","Attributes":{"name":"b:1"}},"scope":"local","time":1000,"timeNano":1000000000001}', 'same instant: still increasing');
  now = 1010n * S;
  ev.log('network', 'create', { ID: 'n', Attributes: { name: 'net', type: 'bridge' } });
  now = 1020n * S;
  ev.log('container', 'start', { ID: 'abc', Attributes: { image: 'busybox', name: 'x' } });
  const all = ev.subscribe({ since: 0n }, () => {});
  assert.deepEqual(all.buffered.map((x) => x.Action), ['tag', 'create', 'start'], 'at most 3 kept');
  all.unsubscribe();
  const window = ev.subscribe({ since: 1005n * S, until: 1015n * S }, () => {});
  assert.deepEqual(window.buffered.map((x) => x.Type), ['network']);
  window.unsubscribe();
  const none = ev.subscribe({}, () => {});
  assert.deepEqual(none.buffered, [], 'no since/until: no history');
  none.unsubscribe();
  now = 1100n * S;
  ev.log('container', 'die', { ID: 'abc', Attributes: {} });
  assert.deepEqual(ev.subscribe({ since: 0n }, () => {}).buffered.map((x) => x.Action), ['die'], 'older than maxAge dropped');
});

test('live subscribers get filtered events until they unsubscribe', () => {
  const ev = new EventsService();
  const got: EventMessage[] = [];
  const sub = ev.subscribe({ filter: eventFilter(new Map([['event', ['die']]])) }, (e) => got.push(e));
  assert.equal(ev.listenerCount(), 1);
  ev.log('container', 'start', { ID: 'a', Attributes: {} });
  ev.log('container', 'die', { ID: 'a', Attributes: { exitCode: '0' } });
  sub.unsubscribe();
  ev.log('container', 'die', { ID: 'b', Attributes: {} });
  assert.deepEqual(got.map((e) => e.Actor.ID), ['a']);
  assert.equal(ev.listenerCount(), 0);
});

function msg(type: string, action: string, id: string, attrs: Record<string, string>): EventMessage {
  return { Type: type, Action: action, Actor: { ID: id, Attributes: attrs }, scope: 'local', time: 0, timeNano: 0n };
}

test('filters match like Docker: names and IDs by prefix, images with or without tag, labels, exec actions', () => {
  const c = msg('container', 'start', 'abcdef', { image: 'busybox:latest', name: 'web-1', tier: 'front' });
  const i = msg('image', 'tag', 'sha256:1234', { name: 'busybox:latest' });
  const f = (o: Record<string, string[]>) => eventFilter(new Map(Object.entries(o)))!;
  assert.equal(eventFilter(new Map()), undefined);
  assert.ok(f({ container: ['web'] })(c), 'name prefix');
  assert.ok(f({ container: ['abc'] })(c), 'id prefix');
  assert.ok(!f({ container: ['db'] })(c));
  assert.ok(!f({ container: ['web'] })(i), 'a container filter drops image events');
  assert.ok(f({ type: ['container', 'network'] })(c));
  assert.ok(!f({ type: ['image'] })(c));
  assert.ok(f({ image: ['busybox'] })(c) && f({ image: ['busybox'] })(i), 'stripped tag, container image attribute and image name');
  assert.ok(f({ image: ['sha256:1234'] })(i));
  assert.ok(!f({ image: ['alpine'] })(c));
  assert.ok(f({ label: ['tier=front'] })(c) && f({ label: ['tier'] })(c));
  assert.ok(!f({ label: ['tier=back'] })(c) && !f({ label: ['tier', 'x'] })(c));
  assert.ok(f({ event: ['start', 'die'], scope: ['local'] })(c));
  assert.ok(!f({ scope: ['swarm'] })(c));
  const exec = msg('container', 'exec_start: sh -c true', 'abcdef', { name: 'web-1' });
  assert.ok(f({ event: ['exec_start'] })(exec), 'exec_start matches "exec_start: cmd"');
  assert.ok(!f({ event: ['start'] })(exec));
  assert.ok(f({ volume: ['data'] })(msg('volume', 'create', 'data1', {})));
});
