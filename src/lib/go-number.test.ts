import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatFloat, formatFloatV } from './go-number.ts';

// Expected values from Go's strconv.FormatFloat(x, fmt, prec, 64).
test('formatFloat matches strconv.FormatFloat', () => {
  const cases: [number, 'e' | 'f' | 'g', number, string][] = [
    [2.5, 'f', 0, '2'],
    [0.125, 'f', 2, '0.12'],
    [1.005, 'f', 2, '1.00'],
    [1234567, 'g', -1, '1.234567e+06'],
    [123456.5, 'g', -1, '123456.5'],
    [0.0001, 'g', -1, '0.0001'],
    [0.00001, 'g', -1, '1e-05'],
    [4.256, 'g', 3, '4.26'],
    [999.9, 'g', 3, '1e+03'],
    [1e21, 'f', 2, '1000000000000000000000.00'],
    [0, 'e', 6, '0.000000e+00'],
    [1.5, 'e', -1, '1.5e+00'],
    [100, 'g', 3, '100'],
    [1000, 'g', 3, '1e+03'],
    [7.8125, 'g', 4, '7.812'],
    [1, 'g', 3, '1'],
    [0.5, 'f', 0, '0'],
    [1.5, 'f', 0, '2'],
    [123.456, 'e', 2, '1.23e+02'],
    [9.9999, 'e', 2, '1.00e+01'],
  ];
  for (const [x, f, p, want] of cases) assert.equal(formatFloat(x, f, p), want, `${x} ${f} ${p}`);
  assert.equal(formatFloat(NaN, 'g', -1), 'NaN');
  assert.equal(formatFloat(-Infinity, 'f', 2), '-Inf');
  assert.equal(formatFloatV(0.1 + 0.2), '0.30000000000000004');
  assert.equal(formatFloatV(-2.5e-7), '-2.5e-07');
});
