import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getTimestamp, goTimeParse, parseRFC3339Nano, parseTimestampParam } from './timestamps.ts';

// Expectations come from docker's GetTimestamp / ParseTimestamps run with the
// same reference time (in UTC; zone-less values follow the local zone).
const now = new Date(1700000000123);
const localOffset = -now.getTimezoneOffset() * 60;
/** A zone-less wall time is read in now's zone: shift the UTC answer. */
const local = (utcSeconds: number, frac: string) => `${utcSeconds - localOffset}.${frac}`;

test('durations are relative to now and give whole seconds', () => {
  assert.equal(getTimestamp('10m', now), '1699999400');
  assert.equal(getTimestamp('1h', now), '1699996400');
  assert.equal(getTimestamp('-5m', now), '1700000300');
  assert.equal(getTimestamp('1.5s', now), '1699999998');
});

test('Unix timestamps pass through unchanged', () => {
  assert.equal(getTimestamp('0', now), '0');
  assert.equal(getTimestamp('1500000000', now), '1500000000');
  assert.equal(getTimestamp('1500000000.123456789', now), '1500000000.123456789');
});

test('RFC 3339 and shortened dates', () => {
  const cases: [string, string][] = [
    ['2006-01-02T15:04:05Z', '1136214245.000000000'],
    ['2006-01-02T15:04:05.123456789Z', '1136214245.123456789'],
    ['2006-01-02T15:04:05+07:00', '1136189045.000000000'],
    ['2006-01-02T15:04:05.5-03:30', '1136226845.500000000'],
    ['2006-01-02Z', '1136160000.000000000'],
    ['2006-01-02+01:00', '1136156400.000000000'],
    ['2006-01-02T15Z', '1136214000.000000000'],
    ['2006-01-02T15:04+01:00', '1136210640.000000000'],
    ['1969-12-31T23:59:59.5Z', '-1.500000000'],
  ];
  for (const [v, want] of cases) assert.equal(getTimestamp(v, now), want, v);
});

test('zone-less times are in the local zone of now', () => {
  assert.equal(getTimestamp('2006-01-02', now), local(1136160000, '000000000'));
  assert.equal(getTimestamp('2006-01-02T15', now), local(1136214000, '000000000'));
  assert.equal(getTimestamp('2006-01-02T15:04', now), local(1136214240, '000000000'));
  assert.equal(getTimestamp('2006-01-02T15:04:05', now), local(1136214245, '000000000'));
  assert.equal(getTimestamp('2006-01-02T15:04:05.123', now), local(1136214245, '123000000'));
});

test('errors', () => {
  const cases: [string, string][] = [
    ['2006-13-02', 'parsing time "2006-13-02": month out of range'],
    ['2006-02-30', 'parsing time "2006-02-30": day out of range'],
    ['2006-01-02T25:00', 'parsing time "2006-01-02T25:00": hour out of range'],
    ['garbage', 'failed to parse value as time or duration: "garbage"'],
    ['12abc', 'failed to parse value as time or duration: "12abc"'],
    ['1e3', 'failed to parse value as time or duration: "1e3"'],
    ['2006-01-02 15:04:05', 'parsing time "2006-01-02 15:04:05": extra text: " 15:04:05"'],
    ['2006-1-2', 'parsing time "2006-1-2" as "2006-01-02": cannot parse "1-2" as "01"'],
    ['2006-01-02T15:04:05Zjunk', 'parsing time "2006-01-02T15:04:05Zjunk": extra text: "junk"'],
  ];
  for (const [v, msg] of cases) assert.throws(() => getTimestamp(v, now), { message: msg }, v);
});

test('parseTimestampParam (daemon side)', () => {
  assert.deepEqual(parseTimestampParam('1500000000'), { seconds: 1500000000, nanos: 0 });
  assert.deepEqual(parseTimestampParam('1500000000.123456789'), { seconds: 1500000000, nanos: 123456789 });
  assert.deepEqual(parseTimestampParam('1500000000.1'), { seconds: 1500000000, nanos: 100000000 });
  assert.deepEqual(parseTimestampParam('1.12345678912'), { seconds: 1, nanos: 123456789 });
  assert.deepEqual(parseTimestampParam('-5.5'), { seconds: -5, nanos: 500000000 });
  assert.deepEqual(parseTimestampParam('', 42), { seconds: 42, nanos: 0 });
  assert.throws(() => parseTimestampParam('x'), { message: 'strconv.ParseInt: parsing "x": invalid syntax' });
  assert.throws(() => parseTimestampParam('1.x'), { message: 'strconv.ParseInt: parsing "x": invalid syntax' });
  // Round trip with the CLI side.
  const wire = getTimestamp('2006-01-02T15:04:05.5Z', now);
  assert.deepEqual(parseTimestampParam(wire), { seconds: 1136214245, nanos: 500000000 });
});

test('goTimeParse / parseRFC3339Nano', () => {
  assert.deepEqual(parseRFC3339Nano('2024-01-02T03:04:05.123456789Z'), { seconds: 1704164645, nanos: 123456789 });
  assert.deepEqual(parseRFC3339Nano('2024-01-02T03:04:05+01:00'), { seconds: 1704164645 - 3600, nanos: 0 });
  assert.deepEqual(goTimeParse('2006-01-02', '2000-02-29', 3600), { seconds: 951778800, nanos: 0 });
  assert.throws(() => goTimeParse('2006-01-02', '2001-02-29'), { message: 'parsing time "2001-02-29": day out of range' });
});
