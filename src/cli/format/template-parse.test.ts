import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TemplateError, nodeString, parseTrees } from './template-parse.ts';

const funcs = new Set(['printf', 'index', 'eq', 'and', 'not', 'len', 'json']);
const parse = (s: string) => parseTrees(s, (n) => funcs.has(n));

test('nodeString renders nodes like Go (used in "at <...>" error contexts)', () => {
  const src =
    '{{if and .A (not .B)}}x{{else}}y{{end}}{{range $i, $e := .L}}{{$e.Name}}{{end}}{{printf "%d" (len .S) | json}}{{`raw`}}{{with $x := .W}}{{$x}}{{end}}';
  const root = parse(src).trees.get('')!;
  assert.deepEqual(root.nodes.map(nodeString), [
    '{{if and .A (not .B)}}x{{else}}y{{end}}',
    '{{range $i, $e := .L}}{{$e.Name}}{{end}}',
    '{{printf "%d" (len .S) | json}}',
    '{{`raw`}}',
    '{{with $x := .W}}{{$x}}{{end}}',
  ]);
});

test('trim markers and comments', () => {
  const root = parse('a \n {{- .X -}} \n b {{/* c */}} {{- /* d */ -}} e').trees.get('')!;
  assert.deepEqual(
    root.nodes.map((n) => (n.type === 'text' ? JSON.stringify(n.text) : nodeString(n))),
    // The space between the two comments is trimmed away by the second's "{{-".
    ['"a"', '{{.X}}', '"b "', '"e"'],
  );
});

test('define and block add named trees', () => {
  const p = parse('{{define "a"}}A{{end}}{{block "b" .}}B{{end}}main');
  assert.deepEqual([...p.trees.keys()].sort(), ['', 'a', 'b']);
  assert.equal(nodeString(p.trees.get('a')!), 'A');
});

// Messages identical to Go's text/template parser.
test('parse errors', () => {
  const cases: [string, string][] = [
    ['{{.A}', "template: :1: bad character U+007D '}'"],
    ['{{.A', 'template: :1: unclosed action'],
    ['{{end}}', 'template: :1: unexpected {{end}}'],
    ['{{else}}', 'template: :1: unexpected {{else}}'],
    ['{{if .A}}', 'template: :1: unexpected EOF'],
    ['{{if}}{{end}}', 'template: :1: missing value for if'],
    ['{{ }}', 'template: :1: missing value for command'],
    ['{{|}}', 'template: :1: unexpected "|" in command'],
    ['{{foo}}', 'template: :1: function "foo" not defined'],
    ['{{$x}}', 'template: :1: undefined variable "$x"'],
    ['{{break}}', 'template: :1: {{break}} outside {{range}}'],
    ['{{.A | 3}}', 'template: :1: non executable command in pipeline stage 2'],
    ['{{1.A}}', 'template: :1: bad number syntax: "1.A"'],
    ['{{"x".A}}', 'template: :1: unexpected . after term "\\"x\\""'],
    ['{{"unterminated}}', 'template: :1: unterminated quoted string'],
    ['{{/* x }}', 'template: :1: unclosed comment'],
    ['{{/* x */ .A}}', 'template: :1: comment ends before closing delimiter'],
    ['{{.A!}}', "template: :1: bad character U+0021 '!'"],
    ['{{(.A}}', 'template: :1: unclosed left paren'],
    ['{{.A)}}', 'template: :1: unexpected ")" in command'],
    ['{{3abc}}', 'template: :1: bad number syntax: "3a"'],
    ['{{99999999999999999999}}', 'template: :1: integer overflow: "99999999999999999999"'],
    ["{{'ab'}}", "template: :1: malformed character constant: 'ab'"],
    ['{{"\\q"}}', 'template: :1: invalid syntax'],
    ['{{range $i, $e, $f := .L}}{{end}}', 'template: :1: too many declarations in range'],
    ['{{range $i, 3 := .L}}{{end}}', 'template: :1: range can only initialize variables'],
    ['{{$a, $b := .L}}', 'template: :1: too many declarations in command'],
    ['{{if .A}}x{{else}}y{{else}}z{{end}}', 'template: :1: expected end; found {{else}}'],
    ['{{range .A}}{{else if .B}}{{end}}', 'template: :1: unexpected <if> in input'],
    ['{{template 3}}', 'template: :1: unexpected "3" in template clause'],
    ['{{block "x"}}{{end}}', 'template: :1: missing value for block clause'],
    ['{{define "x"}}a{{end}}{{define "x"}}b{{end}}', 'template: :1: template: multiple definition of template "x"'],
    ['a\nb\n{{.A\n\n', 'template: :5: unclosed action started at :3'],
  ];
  for (const [src, msg] of cases) {
    assert.throws(() => parse(src), (e: unknown) => e instanceof TemplateError && e.kind === 'parse' && e.message === msg, src);
  }
});
