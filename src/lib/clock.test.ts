import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wallClockNanos, rfc3339Nano } from './clock.ts';

test('the fine wall clock stays with Date.now() and prints like Go', () => {
  const before = BigInt(Date.now()) * 1_000_000n;
  const ns = wallClockNanos();
  const after = BigInt(Date.now() + 1) * 1_000_000n;
  assert.ok(ns >= before && ns <= after, `${before} <= ${ns} <= ${after}`);
  assert.equal(rfc3339Nano(1700000000123456789n), '2023-11-14T22:13:20.123456789Z');
  assert.equal(rfc3339Nano(1700000000120000000n), '2023-11-14T22:13:20.12Z');
  assert.equal(rfc3339Nano(1700000000000000000n), '2023-11-14T22:13:20Z');
});
