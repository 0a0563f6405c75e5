import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GoFloat, formatV, goType, goTypeName, quoteString, sprint, sprintf, sprintln } from './go-fmt.ts';

// Expected strings produced by Go's fmt with the same arguments.
test('sprintf matches Go fmt.Sprintf', () => {
  const cases: [string, unknown[], string][] = [
    ['%s-%d', ['a', 7], 'a-7'],
    ['%5s|%-6s|%q|%t|%x|%X', ['a', 'b', 'c\n', true, 'hi', 255], '    a|b     |"c\\n"|true|6869|FF'],
    [
      '%05d|%+d|% d|%-5d|%.3d|%x|%#x|%o|%#o|%O|%b|%c|%U|%#U',
      [42, 3, 5, 7, 9, -255, 255, 8, 8, 8, 5, 0x263a, 0x263a, 0x263a],
      "00042|+3| 5|7    |009|-ff|0xff|10|010|0o10|101|☺|U+263A|U+263A '☺'",
    ],
    [
      '%.2f|%e|%g|%8.3f|%-8.2e|%+.1f|%G|%E',
      [3.14159, 1234.5, 0.000012, -3.14159, 1234.5, 2.0, 1e-10, 123456.0],
      '3.14|1.234500e+03|1.2e-05|  -3.142|1.23e+03|+2.0|1E-10|1.234560E+05',
    ],
    ['%v|%v|%v|%v|%v', [new GoFloat(1), new GoFloat(1e6), new GoFloat(1e20), 1e21, new GoFloat(123456789)], '1|1e+06|1e+20|1e+21|1.23456789e+08'],
    ['%d %s', ['x', 5], '%!d(string=x) %!s(int=5)'],
    ['%d', [], '%!d(MISSING)'],
    ['%d', [1, 2], '1%!(EXTRA int=2)'],
    ['%!|%|%%', [], '%!!(MISSING)|%!|(MISSING)%'],
    ['%*d|%-*d|%.*f', [5, 1, 4, 2, 2, 3.14159], '    1|2   |3.14'],
    ['%[2]s %[1]s %s', ['a', 'b'], 'b a b'],
    ['%.3v|%10.4v|%.2s|%5.1q', [3.14159, 'abcdefgh', 'héllo', 'abc'], '3.14|      abcd|hé|  "a"'],
    ['%q|%+q|%#q|%#q', ['é\x01"', 'é', 'back', 'has`tick'], '"é\\x01\\""|"\\u00e9"|`back`|"has`tick"'],
    ['%v|%s|%d', [[1, 'x', true], ['a', 1], [1, 2]], '[1 x true]|[a %!s(int=1)]|[1 2]'],
    ['%v|%d|%s', [null, null, null], '<nil>|%!d(<nil>)|%!s(<nil>)'],
    ['%T|%T|%T|%T|%T', [1, 1.5, 's', true, null], 'int|float64|string|bool|<nil>'],
    ['%x|% x|%X|%#x', ['héllo', 'abc', 'abc', 'ab'], '68c3a96c6c6f|61 62 63|616263|0x6162'],
    [
      '%6.2v|%-6v|%06d|%-06d|%+.1e|%06.2f|%+06d|%x',
      [3.14159, 'ab', -42, 42, 12345.678, -1.5, 42, 3.5],
      '   3.1|ab    |-00042|42    |+1.2e+04|-01.50|+00042|0x1.cp+01',
    ],
    ['%.0f %.0f %.0f %.1f %.2f', [0.5, 1.5, 2.5, 0.05, 1.005], '0 2 2 0.1 1.00'],
    ['%t|%5t|%d', [false, true, true], 'false| true|%!d(bool=true)'],
    ['%c|%q|%q', [65, 65, 0x1f600], "A|'A'|'😀'"],
    ['%3c|%-4q|%x', [65, 66, ''], "  A|'B' |"],
    ['%s', [{ b: 1, a: 'x' }], 'map[a:x b:%!s(int=1)]'],
    ['%v', [{ b: [1, 2], a: { z: null } }], 'map[a:map[z:<nil>] b:[1 2]]'],
    ['%10v|%-10v|', [[1, 2], 'x'], '[         1          2]|x         |'],
    [
      '%g|%g|%g|%.3g|%.3g|%.10g',
      [new GoFloat(100000), new GoFloat(1000000), 0.0001, 1234.5678, 0.00012345, 1 / 3],
      '100000|1e+06|0.0001|1.23e+03|0.000123|0.3333333333',
    ],
    ['%e|%.0e|%E', [0, 5, 1e100], '0.000000e+00|5e+00|1.000000E+100'],
    ['%f|%.1f', [1e21, 1e-7], '1000000000000000000000.000000|0.0'],
    ['%x|%X|%.3x|%x', [new GoFloat(1), -0.1, 3.14159, new GoFloat(0)], '0x1p+00|-0X1.999999999999AP-04|0x1.922p+01|0x0p+00'],
  ];
  for (const [f, args, want] of cases) assert.equal(sprintf(f, ...args), want, f);
});

test('an integral JS number may be printed with float verbs', () => {
  assert.equal(sprintf('%.2f%%', 50), '50.00%');
  assert.equal(sprintf('%d', 1.5), '%!d(float64=1.5)');
});

test('sprint / sprintln spacing rules', () => {
  assert.equal(sprint('a', 1, 2, 'b', 'c', 3.5, true, null), 'a1 2bc3.5 true <nil>');
  assert.equal(sprintln('a', 1, null), 'a 1 <nil>\n');
  assert.equal(sprint(), '');
});

test('strconv.Quote', () => {
  assert.equal(
    quoteString('a"\\\x07\b\f\n\r\t\v\x00\x7fé\u00ad\u200b\u{1F600}\u2028'),
    '"a\\"\\\\\\a\\b\\f\\n\\r\\t\\v\\x00\\x7fé\\u00ad\\u200b😀\\u2028"',
  );
  assert.equal(quoteString('é\u{1F600}', true), '"\\u00e9\\U0001f600"');
});

test('formatV and type names', () => {
  assert.equal(formatV([1, 'a', null, { k: [true] }]), '[1 a <nil> map[k:[true]]]');
  assert.equal(formatV(new Map([['b', 1], ['a', 2]])), 'map[a:2 b:1]');
  assert.equal(formatV({ [goType]: 'T', A: 1, M: () => 1, B: 'x' }), '{1 x}');
  assert.equal(formatV(-0.5), '-0.5');
  assert.equal(formatV(2 ** 64), '1.8446744073709552e+19');
  assert.equal(goTypeName(['a']), '[]string');
  assert.equal(goTypeName([1]), '[]interface {}');
  assert.equal(goTypeName({}), 'map[string]interface {}');
  assert.equal(goTypeName({ [goType]: '*formatter.ContainerContext' }), '*formatter.ContainerContext');
  assert.equal(goTypeName(new Date(0)), 'time.Time');
});
