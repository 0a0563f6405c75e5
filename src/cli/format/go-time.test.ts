import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createdSince, formatGoTimeLocal, formatGoTimeString, formatRFC3339, formatRFC3339Nano } from './go-time.ts';

test('RFC3339Nano trims trailing zeros like Go', () => {
  assert.equal(formatRFC3339Nano(new Date(120)), '1970-01-01T00:00:00.12Z');
  assert.equal(formatRFC3339Nano(new Date(1704164645123), 456789), '2024-01-02T03:04:05.123456789Z');
  assert.equal(formatRFC3339Nano(new Date(1704164645000)), '2024-01-02T03:04:05Z');
  assert.equal(formatRFC3339Nano(new Date(1704164645000), 1000), '2024-01-02T03:04:05.000001Z');
  const early = new Date(0);
  early.setUTCFullYear(5, 11, 31);
  assert.equal(formatRFC3339Nano(early, 1000), '0005-12-31T00:00:00.000001Z');
  assert.equal(formatRFC3339(new Date(1704164645123)), '2024-01-02T03:04:05Z');
});

test('time.Time String()', () => {
  assert.equal(formatGoTimeString(new Date(1704164645000)), '2024-01-02 03:04:05 +0000 UTC');
  assert.equal(formatGoTimeString(new Date(1704164645500)), '2024-01-02 03:04:05.5 +0000 UTC');
});

test('createdSince: the CREATED column', () => {
  const now = new Date(1700000000000);
  assert.equal(createdSince(new Date(now.getTime() - 500), now), 'Less than a second ago');
  assert.equal(createdSince(new Date(now.getTime() - 17000), now), '17 seconds ago');
  assert.equal(createdSince(new Date(now.getTime() - 90 * 60000), now), '2 hours ago');
  assert.equal(createdSince(new Date(now.getTime() - 3 * 86400000), now), '3 days ago');
  assert.equal(createdSince(new Date(now.getTime() + 5000), now), 'Less than a second ago');
  assert.match(createdSince(new Date()), /^Less than a second ago$/);
});

test('formatGoTimeLocal uses the local zone', () => {
  const d = new Date(1704164645000);
  const s = formatGoTimeLocal(d);
  if (d.getTimezoneOffset() === 0) assert.equal(s, '2024-01-02 03:04:05 +0000 UTC');
  else assert.match(s, /^2024-01-0[12] \d\d:\d\d:05 [+-]\d{4} \S+$/);
});
