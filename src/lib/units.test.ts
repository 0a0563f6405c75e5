import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bytesSize,
  formatGoDuration,
  fromHumanSize,
  humanDuration,
  humanSize,
  humanSizeWithPrecision,
  parseGoDuration,
  parseGoDurationNanos,
  parseGoFloat,
  ramInBytes,
} from './units.ts';

// Expectations come from running docker/go-units (v0.5) and Go's time package.
test('humanSize (precision 3, as docker ps/images), HumanSize (4) and BytesSize', () => {
  const cases: [number, string, string, string][] = [
    [0, '0B', '0B', '0B'],
    [999, '999B', '999B', '999B'],
    [1000, '1kB', '1kB', '1000B'],
    [1499, '1.5kB', '1.499kB', '1.464KiB'],
    [4256000, '4.26MB', '4.256MB', '4.059MiB'],
    [999999, '1e+03kB', '1000kB', '976.6KiB'],
    [1234567890, '1.23GB', '1.235GB', '1.15GiB'],
    [1023, '1.02kB', '1.023kB', '1023B'],
    [1024, '1.02kB', '1.024kB', '1KiB'],
    [8192000, '8.19MB', '8.192MB', '7.812MiB'],
    [1e30, '1e+06YB', '1e+06YB', '8.272e+05YiB'],
    [123.456, '123B', '123.5B', '123.5B'],
  ];
  for (const [n, h3, h4, b] of cases) {
    assert.equal(humanSize(n), h3, `humanSize(${n})`);
    assert.equal(humanSize(n, 4), h4, `humanSize(${n}, 4)`);
    assert.equal(humanSizeWithPrecision(n, 4), h4);
    assert.equal(bytesSize(n), b, `bytesSize(${n})`);
  }
});

test('ramInBytes / fromHumanSize', () => {
  const ok: [string, number][] = [
    ['512m', 536870912],
    ['1g', 1073741824],
    ['1024', 1024],
    ['1.5k', 1536],
    ['1.5K', 1536],
    ['2GiB', 2147483648],
    ['2gib', 2147483648],
    ['3 mb', 3145728],
    ['1e3k', 1024000],
    ['1_000', 1000],
    ['10b', 10],
    ['5TiB', 5 * 1024 ** 4],
  ];
  for (const [s, n] of ok) assert.equal(ramInBytes(s), n, s);
  const bad: [string, string][] = [
    ['', "invalid size: ''"],
    ['k', "invalid size: 'k'"],
    ['abc', "invalid size: 'abc'"],
    ['-1', "invalid size: '-1'"],
    ['1x', "invalid suffix: 'x'"],
    ['1kbb', "invalid suffix: 'kbb'"],
    ['1bb', "invalid suffix: 'bb'"],
    ['1.2.3', 'strconv.ParseFloat: parsing "1.2.3": invalid syntax'],
  ];
  for (const [s, msg] of bad) assert.throws(() => ramInBytes(s), { message: msg }, s);
  assert.equal(fromHumanSize('1kB'), 1000);
  assert.equal(fromHumanSize('1.5GB'), 1500000000);
  assert.equal(fromHumanSize('5MiB'), 5000000);
  assert.equal(fromHumanSize('2p'), 2e15);
  assert.equal(parseGoFloat('0x1p-2'), 0.25);
  assert.equal(parseGoFloat('-Inf'), -Infinity);
});

test('humanDuration', () => {
  const cases: [number, string][] = [
    [-5, 'Less than a second'],
    [999, 'Less than a second'],
    [1000, '1 second'],
    [2000, '2 seconds'],
    [59999, '59 seconds'],
    [60000, 'About a minute'],
    [119999, 'About a minute'],
    [120000, '2 minutes'],
    [3599999, '59 minutes'],
    [5399999, 'About an hour'],
    [5400000, '2 hours'],
    [86400000, '24 hours'],
    [172800000, '2 days'],
    [1209599999, '2 weeks'],
    [5184000000, '2 months'],
    [63072000000, '2 years'],
    [173448000000, '5 years'],
  ];
  for (const [ms, s] of cases) assert.equal(humanDuration(ms), s, String(ms));
});

test('parseGoDuration (time.ParseDuration)', () => {
  const ok: [string, bigint, string][] = [
    ['1h2m3.5s', 3723500000000n, '1h2m3.5s'],
    ['300ms', 300000000n, '300ms'],
    ['-1.5h', -5400000000000n, '-1h30m0s'],
    ['0', 0n, '0s'],
    ['.5s', 500000000n, '500ms'],
    ['1.s', 1000000000n, '1s'],
    ['+5m', 300000000000n, '5m0s'],
    ['1µs', 1000n, '1µs'],
    ['1us', 1000n, '1µs'],
    ['0.333333333333333333333h', 1200000000000n, '20m0s'],
  ];
  for (const [s, ns, str] of ok) {
    assert.equal(parseGoDurationNanos(s), ns, s);
    assert.equal(formatGoDuration(ns), str, s);
  }
  assert.equal(parseGoDuration('1h2m3.5s'), 3723500);
  assert.equal(parseGoDuration('1500ns'), 0.0015);
  const bad: [string, string][] = [
    ['', 'time: invalid duration ""'],
    ['1', 'time: missing unit in duration "1"'],
    ['1x', 'time: unknown unit "x" in duration "1x"'],
    ['.s', 'time: invalid duration ".s"'],
    ['x', 'time: invalid duration "x"'],
    ['9223372036854775808ns', 'time: invalid duration "9223372036854775808ns"'],
    ['é', 'time: invalid duration "\\xc3\\xa9"'],
  ];
  for (const [s, msg] of bad) assert.throws(() => parseGoDuration(s), { message: msg }, s);
});
