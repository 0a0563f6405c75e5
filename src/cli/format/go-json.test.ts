import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dockerJSON, marshalJSON, quoteJSONString } from './go-json.ts';
import { GoFloat, goType } from './go-fmt.ts';

test('strings are escaped like encoding/json', () => {
  // Go >= 1.22 writes \b and \f as short escapes (docker 28 is built with Go 1.24).
  assert.equal(
    quoteJSONString('<a&b>\u2028\u2029\x01\b\f\n\r\t"\\\x7fé😀'),
    '"\\u003ca\\u0026b\\u003e\\u2028\\u2029\\u0001\\b\\f\\n\\r\\t\\"\\\\\x7fé😀"',
  );
  assert.equal(quoteJSONString('<a&b>', false), '"<a&b>"');
  assert.equal(quoteJSONString('\ud800x'), '"\\ufffdx"');
});

test('numbers, containers and ordering', () => {
  assert.equal(
    marshalJSON([1e21, 1e-7, 0.1, 123456789.125, 1e20, 5e-324, new GoFloat(2), 10n ** 19n]),
    '[1e+21,1e-7,0.1,123456789.125,100000000000000000000,5e-324,2,10000000000000000000]',
  );
  // Plain objects keep insertion order (struct fields); Maps are sorted (Go maps).
  assert.equal(marshalJSON({ b: 1, a: [], c: {}, u: undefined }), '{"b":1,"a":[],"c":{}}');
  assert.equal(marshalJSON(new Map<string, unknown>([['b', 1], ['a', null]])), '{"a":null,"b":1}');
  assert.equal(marshalJSON(new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 120))), '"2024-01-02T03:04:05.12Z"');
  assert.equal(marshalJSON({ [goType]: 'T', A: 1 }), '{"A":1}');
  assert.throws(() => marshalJSON(NaN), { message: 'json: unsupported value: NaN' });
  const cyc: Record<string, unknown> = {};
  cyc.self = cyc;
  assert.throws(() => marshalJSON(cyc), /cycle/);
});

test('MarshalIndent layout', () => {
  assert.equal(
    marshalJSON(new Map<string, unknown>([['b', [1, { x: null }]], ['a', {}]]), { indent: '  ', prefix: '>' }),
    '{\n>  "a": {},\n>  "b": [\n>    1,\n>    {\n>      "x": null\n>    }\n>  ]\n>}',
  );
});

test('docker formatter contexts: methods without arguments, sorted keys', () => {
  const row = { Names: () => 'web', ID: 'abc', Label: (k: string) => k, lower: () => 'skip', Size: () => 5 };
  assert.equal(marshalJSON(row), '{"ID":"abc","Names":"web","Size":5}');
});

test('dockerJSON never escapes HTML and returns "" on error', () => {
  assert.equal(dockerJSON({ a: '<&>' }), '{"a":"<&>"}');
  assert.equal(dockerJSON(Infinity), '');
});
