import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GoFloat, Template, TemplateError, goType, parseTemplate } from './template.ts';

type Expect = string | { error: string };

// Cases checked against Go's text/template (with docker's functions) on
// map[string]interface{} data decoded from the same JSON.
const goVerified: [string, unknown, Expect][] = [
  ["hello", null, "hello"],
  ["{{.A}} {{.B.C}} {{.Missing}} {{.Missing.X}}", {"A":"x","B":{"C":3}}, "x 3 <no value> <no value>"],
  ["{{.A}}", {"A":[1,"x",2.5,true]}, "[1 x 2.5 true]"],
  ["{{.}}", {"b":1,"a":{"z":1,"y":[1,2]}}, "map[a:map[y:[1 2] z:1] b:1]"],
  ["{{range .L}}[{{.}}]{{else}}empty{{end}}", {"L":[1,2,3]}, "[1][2][3]"],
  ["{{range .L}}[{{.}}]{{else}}empty{{end}}", {"L":[]}, "empty"],
  ["{{range $i, $e := .L}}{{$i}}={{$e}};{{end}}", {"L":["a","b"]}, "0=a;1=b;"],
  ["{{range $k, $v := .M}}{{$k}}={{$v}};{{end}}", {"M":{"b":2,"a":1,"c":3}}, "a=1;b=2;c=3;"],
  ["{{range .M}}{{.}},{{end}}", {"M":{"b":2,"a":1,"c":3}}, "1,2,3,"],
  ["{{range $e := .L}}{{$e}}{{end}}", {"L":["a","b"]}, "ab"],
  ["{{if and .A (not .B)}}yes{{else}}no{{end}}", {"A":1,"B":0}, "yes"],
  ["{{if and .A (not .B)}}yes{{else}}no{{end}}", {"A":1,"B":"x"}, "no"],
  ["{{if .A}}a{{else if .B}}b{{else}}c{{end}}", {"A":"","B":[1]}, "b"],
  ["{{if .A}}a{{else if .B}}b{{else}}c{{end}}", {"A":"","B":[]}, "c"],
  ["{{with .A}}{{.B}}{{else}}none{{end}}", {"A":{"B":"in"}}, "in"],
  ["{{with .A}}{{.B}}{{else}}none{{end}}", {"A":{}}, "none"],
  ["{{$x := .A}}{{$x}} {{$x = \"y\"}}{{$x}}", {"A":"x"}, "x y"],
  ["{{$}}", {"A":"x"}, "map[A:x]"],
  ["a  {{- .A -}}  b", {"A":"x"}, "axb"],
  ["a  {{- /* comment */ -}}  b", {}, "ab"],
  ["a {{/* c */}} b", {}, "a  b"],
  ["{{.A | printf \"%s-%d\" \"q\"}}", {"A":5}, "q-5"],
  ["{{printf \"%s-%d\" .A .B}}", {"A":"s","B":7}, "s-7"],
  ["{{printf \"%5s|%-6s|%q|%t|%x|%X|%v|%05d|%+d|%.2f|%e|%g\" \"a\" \"b\" \"c\" true \"hi\" 255 .L 42 3 3.14159 1234.5 0.000012}}", {"L":[1,2]}, "    a|b     |\"c\"|true|6869|FF|[1 2]|00042|+3|3.14|1.234500e+03|1.2e-05"],
  ["{{printf \"%d %s\" \"x\" 5}}", {}, "%!d(string=x) %!s(int=5)"],
  ["{{printf \"%d\"}}", {}, "%!d(MISSING)"],
  ["{{printf \"%d\" 1 2}}", {}, "1%!(EXTRA int=2)"],
  ["{{printf \"%!\"}}|{{printf \"%\"}}|{{printf \"%%\"}}", {}, "%!!(MISSING)|%!(NOVERB)|%"],
  ["{{index .M \"k\"}} {{index .L 1}} {{index .N \"a\" 0}}", {"M":{"k":"v"},"L":[10,20],"N":{"a":["deep"]}}, "v 20 deep"],
  ["{{index .L 5}}", {"L":[10,20]}, { error: "template: :1:2: executing \"\" at <index .L 5>: error calling index: index out of range: 5" }],
  ["{{index .L 2}}", {"L":[10,20]}, { error: "template: :1:2: executing \"\" at <index .L 2>: error calling index: reflect: slice index out of range" }],
  ["{{len .L}} {{len .S}} {{len .M}}", {"L":[1,2,3],"S":"héllo","M":{"a":1}}, "3 6 1"],
  ["{{len 3}}", {}, { error: "template: :1:2: executing \"\" at <len 3>: error calling len: len of type int" }],
  ["{{slice .S 1 3}} {{slice .L 1}}", {"S":"abcdef","L":[1,2,3]}, "bc [2 3]"],
  ["{{print 1 2 \"a\" 3 true}} {{println \"x\" 1}}", {}, "1 2a3 true x 1\n"],
  ["{{eq 1 1}} {{eq 1 2 3 1}} {{eq \"a\" \"b\"}} {{ne 1 2}} {{lt 1 2}} {{le 2 2}} {{gt \"b\" \"a\"}} {{ge 1 2}}", {}, "true true false true true true true false"],
  ["{{eq .A \"x\"}}", {"A":"x"}, "true"],
  ["{{eq 1 \"x\"}}", {}, { error: "template: :1:2: executing \"\" at <eq 1 \"x\">: error calling eq: incompatible types for comparison" }],
  ["{{lt true false}}", {}, { error: "template: :1:2: executing \"\" at <lt true false>: error calling lt: invalid type for comparison" }],
  ["{{html \"<a href='x'>&\\\"\"}} {{js \"a'b\\\"<=>\"}} {{urlquery \"a b&c=d/é\"}}", {}, "&lt;a href=&#39;x&#39;&gt;&amp;&#34; a\\'b\\\"\\u003C\\u003D\\u003E a+b%26c%3Dd%2F%C3%A9"],
  ["{{json .A}}", {"A":"line\nbreak\ttab\u0001"}, "\"line\\nbreak\\ttab\\u0001\""],
  ["{{split .S \",\"}}", {"S":"a,b,,c"}, "[a b  c]"],
  ["{{title .S}} {{lower .S}} {{upper .S}}", {"S":"hello wORLD foo_bar x-y"}, "Hello WORLD Foo_bar X-Y hello world foo_bar x-y HELLO WORLD FOO_BAR X-Y"],
  ["[{{pad .S 2 3}}] [{{pad .E 2 3}}]", {"S":"x","E":""}, "[  x   ] []"],
  ["{{truncate .S 3}} {{truncate .S 10}}", {"S":"abcdef"}, "abc abcdef"],
  ["{{.A.B}}", {"A":"str"}, { error: "template: :1:4: executing \"\" at <.A.B>: can't evaluate field B in type interface {}" }],
  ["{{.A.B}}", {"A":5}, { error: "template: :1:4: executing \"\" at <.A.B>: can't evaluate field B in type interface {}" }],
  ["{{.A.B}}", {"A":1.5}, { error: "template: :1:4: executing \"\" at <.A.B>: can't evaluate field B in type interface {}" }],
  ["{{.A.B}}", {"A":[1]}, { error: "template: :1:4: executing \"\" at <.A.B>: can't evaluate field B in type interface {}" }],
  ["{{.A \"x\"}}", {"A":"str"}, { error: "template: :1:2: executing \"\" at <.A>: A is not a method but has arguments" }],
  ["{{1.0}} {{1e6}} {{0x1F}} {{'a'}} {{-5}} {{1.5}} {{07}} {{0b101}} {{1_000}}", {}, "1 1e+06 31 97 -5 1.5 7 5 1000"],
  ["{{.}", {}, { error: "template: :1: bad character U+007D '}'" }],
  ["{{.A", {}, { error: "template: :1: unclosed action" }],
  ["{{end}}", {}, { error: "template: :1: unexpected {{end}}" }],
  ["{{if .A}}", {}, { error: "template: :1: unexpected EOF" }],
  ["{{foo}}", {}, { error: "template: :1: function \"foo\" not defined" }],
  ["{{$x}}", {}, { error: "template: :1: undefined variable \"$x\"" }],
  ["{{range .L}}{{break}}{{end}}{{break}}", {}, { error: "template: :1: {{break}} outside {{range}}" }],
  ["{{range .L}}{{if eq . 2}}{{continue}}{{end}}{{if eq . 4}}{{break}}{{end}}{{.}}{{end}}", {"L":[1,2,3,4,5]}, "13"],
  ["{{(.A).B}} {{(index .L 0).X}}", {"A":{"B":"b"},"L":[{"X":"x"}]}, "b x"],
  ["{{define \"T\"}}[{{.}}]{{end}}{{template \"T\" .A}}{{template \"T\" \"lit\"}}", {"A":"a"}, "[a][lit]"],
  ["{{block \"B\" .A}}<{{.}}>{{end}}", {"A":"a"}, "<a>"],
  ["{{template \"nope\"}}", {}, { error: "template: :1:11: executing \"\" at <{{template \"nope\"}}>: template \"nope\" not defined" }],
  ["{{`raw\\n`}} {{\"esc\\n\"}}", {}, "raw\\n esc\n"],
  ["{{.A | len}} {{.A | printf \"%q\"}}", {"A":"abc"}, "3 \"abc\""],
  ["{{\"x\" | .A}}", {"A":"abc"}, { error: "template: :1:8: executing \"\" at <.A>: A is not a method but has arguments" }],
  ["{{or .A .B \"def\"}} {{and .A .B}} {{or 0 \"\"}}", {"A":"","B":"b"}, "b  "],
  ["{{nil}}", {}, { error: "template: :1:2: executing \"\" at <nil>: nil is not a command" }],
  ["{{.A 1}}", {"A":{"x":1}}, { error: "template: :1:2: executing \"\" at <.A>: A is not a method but has arguments" }],
  ["{{range .S}}{{.}}{{end}}", {"S":"abc"}, { error: "template: :1:8: executing \"\" at <.S>: range can't iterate over abc" }],
  ["{{range .N}}{{.}}{{end}}", {"N":1.5}, { error: "template: :1:8: executing \"\" at <.N>: range can't iterate over 1.5" }],
  ["{{printf \"%T %T %T %T %T\" 1 1.5 \"s\" true .M}}", {"M":{"a":1}}, "int float64 string bool map[string]interface {}"],
  ["{{printf \"%v|%s|%d\" .M .M .M}}", {"M":{"a":1,"b":"x"}}, "map[a:1 b:x]|map[a:%!s(int=1) b:x]|map[%!d(string=a):1 %!d(string=b):%!d(string=x)]"],
  ["{{printf \"%6.2f|%-8.3s|%08.3f|%x|%o|%b|%c|%U|%#x|%#o\" 3.14159 \"abcdef\" -3.14159 -255 8 5 65 9731 255 8}}", {}, "  3.14|abc     |-003.142|-ff|10|101|A|U+2603|0xff|010"],
  ["{{printf \"%q %q %+q %#q\" \"é\\u0001\\\"\" 65 \"é\" \"back\"}}", {}, "\"é\\x01\\\"\" 'A' \"\\u00e9\" `back`"],
  ["{{printf \"%5t|%-5t|%v\" true false nil}}", {}, " true|false|<nil>"],
  ["{{printf \"%s\" nil}} {{printf \"%d\" nil}}", {}, "%!s(<nil>) %!d(<nil>)"],
  ["{{printf \"%3c|%-4q|%x\" 65 66 \"\"}}", {}, "  A|'B' |"],
  ["{{printf \"%*d|%-*d|%.*f\" 5 1 4 2 2 3.14159}}", {}, "    1|2   |3.14"],
  ["{{printf \"%[2]s %[1]s\" \"a\" \"b\"}}", {}, "b a"],
  ["{{printf \"%.3v %10.4v|\" 3.14159 \"abcdefgh\"}}", {}, "3.14       abcd|"],
  ["{{printf \"%x % x %X\" \"héllo\" \"abc\" .L}}", {"L":[10,255]}, "68c3a96c6c6f 61 62 63 [A FF]"],
  ["{{.A}}  {{.B}}", {"A":12345678901234,"B":-0.5}, "12345678901234  -0.5"],
  ["{{.A}}", {"A":1e+21}, "1e+21"],
  ["{{.A}}", {"A":123456789.125}, "1.23456789125e+08"],
  ["{{.A}", {}, { error: "template: :1: bad character U+007D '}'" }],
  ["{{.A}}}", {"A":1}, "1}"],
  ["{{if}}{{end}}", {}, { error: "template: :1: missing value for if" }],
  ["{{range}}{{end}}", {}, { error: "template: :1: missing value for range" }],
  ["{{else}}", {}, { error: "template: :1: unexpected {{else}}" }],
  ["{{if .A}}x{{else}}y{{else}}z{{end}}", {}, { error: "template: :1: expected end; found {{else}}" }],
  ["{{range .A}}{{else if .B}}{{end}}", {}, { error: "template: :1: unexpected <if> in input" }],
  ["{{.A | 3}}", {}, { error: "template: :1: non executable command in pipeline stage 2" }],
  ["{{3 | .A}}", {"A":1}, { error: "template: :1:6: executing \"\" at <.A>: A is not a method but has arguments" }],
  ["{{(1)}} {{(.A)}}", {"A":"p"}, "1 p"],
  ["{{1.A}}", {}, { error: "template: :1: bad number syntax: \"1.A\"" }],
  ["{{\"x\".A}}", {}, { error: "template: :1: unexpected . after term \"\\\"x\\\"\"" }],
  ["{{$x := 1}}{{$x := 2}}{{$x}}", {}, "2"],
  ["{{if true}}{{$x := 1}}{{end}}{{$x}}", {}, { error: "template: :1: undefined variable \"$x\"" }],
  ["{{range $i, $e, $f := .L}}{{end}}", {}, { error: "template: :1: too many declarations in range" }],
  ["{{range $i, 3 := .L}}{{end}}", {}, { error: "template: :1: range can only initialize variables" }],
  ["{{$a, $b := .L}}", {}, { error: "template: :1: too many declarations in command" }],
  ["{{\"unterminated}}", {}, { error: "template: :1: unterminated quoted string" }],
  ["{{`raw}}", {}, { error: "template: :1: unterminated raw quoted string" }],
  ["{{'ab'}}", {}, { error: "template: :1: malformed character constant: 'ab'" }],
  ["{{/* unclosed }}", {}, { error: "template: :1: unclosed comment" }],
  ["{{/* c */ .A}}", {}, { error: "template: :1: comment ends before closing delimiter" }],
  ["{{.A.}}", {}, { error: "template: :1: unexpected <.> in operand" }],
  ["{{.A!}}", {}, { error: "template: :1: bad character U+0021 '!'" }],
  ["{{ .A }}{{- .B }}", {"A":1,"B":2}, "12"],
  ["x \n\t {{- 3}}", {}, "x3"],
  ["{{3 -}} \n y", {}, "3y"],
  ["{{-3}}", {}, "-3"],
  ["{{- 3 -}}", {}, "3"],
  ["{{3-}}", {}, { error: "template: :1: bad number syntax: \"3-\"" }],
  ["{{.A\n}}", {"A":1}, "1"],
  ["{{.A\n.B}}", {"A":1}, { error: "template: :1:2: executing \"\" at <.A>: A is not a method but has arguments" }],
  ["a\nb{{.A.B}}", {"A":"s"}, { error: "template: :2:5: executing \"\" at <.A.B>: can't evaluate field B in type interface {}" }],
  ["a\nb{{.A\n\n", {"A":"s"}, { error: "template: :4: unclosed action started at :2" }],
  ["{{(.A}}", {}, { error: "template: :1: unclosed left paren" }],
  ["{{.A)}}", {}, { error: "template: :1: unexpected \")\" in command" }],
  ["{{index}}", {}, { error: "template: :1:2: executing \"\" at <index>: wrong number of args for index: want at least 1 got 0" }],
  ["{{not 1 2}}", {}, { error: "template: :1:2: executing \"\" at <not>: wrong number of args for not: want 1 got 2" }],
  ["{{printf}}", {}, { error: "template: :1:2: executing \"\" at <printf>: wrong number of args for printf: want at least 1 got 0" }],
  ["{{printf 3}}", {}, { error: "template: :1:9: executing \"\" at <3>: expected string; found 3" }],
  ["{{printf .A}}", {"A":3}, { error: "template: :1:9: executing \"\" at <.A>: wrong type for value; expected string; got int" }],
  ["{{upper 3}}", {}, { error: "template: :1:8: executing \"\" at <3>: expected string; found 3" }],
  ["{{upper .A}}", {"A":3}, { error: "template: :1:8: executing \"\" at <.A>: wrong type for value; expected string; got int" }],
  ["{{truncate \"abc\" 1.5}}", {}, { error: "template: :1:17: executing \"\" at <1.5>: expected integer; found 1.5" }],
  ["{{truncate \"abc\" \"x\"}}", {}, { error: "template: :1:17: executing \"\" at <\"x\">: expected integer; found \"x\"" }],
  ["{{truncate \"abc\" .N}}", {"N":2}, "ab"],
  ["{{pad \"abc\" 1 true}}", {}, { error: "template: :1:14: executing \"\" at <true>: expected integer; found true" }],
  ["{{.A.B.C}}", {"A":{"B":null}}, { error: "template: :1:4: executing \"\" at <.A.B.C>: nil pointer evaluating interface {}.C" }],
  ["{{print .A.B}}", {"A":{"B":null}}, "<nil>"],
  ["{{len .Missing}}", {}, { error: "template: :1:2: executing \"\" at <len .Missing>: error calling len: reflect: call of reflect.Value.Type on zero Value" }],
  ["{{index .Missing 1}}", {}, { error: "template: :1:2: executing \"\" at <index .Missing 1>: error calling index: index of untyped nil" }],
  ["{{index .M 1}}", {"M":{"a":"b"}}, { error: "template: :1:2: executing \"\" at <index .M 1>: error calling index: value has type int; should be string" }],
  ["{{index .M \"zz\"}}|", {"M":{"a":1}}, "<no value>|"],
  ["{{index \"abc\" 1}}", {}, "98"],
  ["{{slice .L 2 1}}", {"L":[1,2,3]}, { error: "template: :1:2: executing \"\" at <slice .L 2 1>: error calling slice: invalid slice index: 2 > 1" }],
  ["{{slice .L 1 2 3}}", {"L":[1,2,3]}, "[2]"],
  ["{{slice .L 5}}", {"L":[1,2,3]}, { error: "template: :1:2: executing \"\" at <slice .L 5>: error calling slice: index out of range: 5" }],
  ["{{eq .L .L}}", {"L":[1]}, { error: "template: :1:2: executing \"\" at <eq .L .L>: error calling eq: non-comparable type [%!s(int=1)]: []interface {}" }],
  ["{{eq .A .B}}", {"A":1}, "false"],
  ["{{eq .B .A}}", {"A":"x"}, "false"],
  ["{{eq}}", {}, { error: "template: :1:2: executing \"\" at <eq>: wrong number of args for eq: want at least 1 got 0" }],
  ["{{eq 1}}", {}, { error: "template: :1:2: executing \"\" at <eq 1>: error calling eq: missing argument for comparison" }],
  ["{{and}}", {}, { error: "template: :1:2: executing \"\" at <and>: wrong number of args for and: want at least 1 got 0" }],
  ["{{and 1 0 2}} {{or 0 \"\" 3}} {{and 1 2}}", {}, "0 3 2"],
  ["{{not .Missing}}", {}, "true"],
  ["{{if .Missing}}y{{else}}n{{end}}", {}, "n"],
  ["{{with $x := .A}}{{$x}}{{.}}{{end}}", {"A":"v"}, "vv"],
  ["{{range $i, $e := .M}}{{$i}}{{$e}}{{end}}{{$i}}", {"M":{"a":1}}, { error: "template: :1: undefined variable \"$i\"" }],
  ["{{template \"x\" .}}{{define \"x\"}}{{.A}}{{$}}{{end}}", {"A":1}, "1map[A:1]"],
  ["{{define \"x\"}}a{{end}}{{define \"x\"}}b{{end}}", {}, { error: "template: :1: template: multiple definition of template \"x\"" }],
  ["{{define \"x\"}}{{$y}}{{end}}", {}, { error: "template: :1: undefined variable \"$y\"" }],
  ["{{break}}", {}, { error: "template: :1: {{break}} outside {{range}}" }],
  ["{{range .L}}{{break 1}}{{end}}", {}, { error: "template: :1: unexpected \"1\" in {{break}}" }],
  ["{{printf \"%v\" .}}", {"L":[{"a":[1,{"b":"c"}]}]}, "map[L:[map[a:[1 map[b:c]]]]]"],
  ["{{printf \"%s %d\" .L .L}}", {"L":["a",1]}, "[a %!s(int=1)] [%!d(string=a) 1]"],
  ["{{printf \"%6.2v|%-6v|%06d|%-06d|% d|%+.1e\" 3.14159 \"ab\" -42 42 5 12345.678}}", {}, "   3.1|ab    |-00042|42    | 5|+1.2e+04"],
  ["{{printf \"%.0f %.0f %.0f %.1f\" 0.5 1.5 2.5 0.05}}", {}, "0 2 2 0.1"],
  ["{{printf \"%g %g %g %G\" 100000.0 1000000.0 1e-5 1e-5}}", {}, "100000 1e+06 1e-05 1E-05"],
  ["{{printf \"%v %v\" 1e20 123456789.0}}", {}, "1e+20 1.23456789e+08"],
  ["{{printf \"%x %X %o %b\" 3.5 -1 -8 -3}}", {}, "0x1.cp+01 -1 -10 -11"],
  ["{{printf \"%q\" \"\\u00ff\\u2028\\U0001F600\\x7f\"}}", {}, "\"ÿ\\u2028😀\\x7f\""],
  ["{{printf \"%10.3q|\" \"abcdef\"}}", {}, "     \"abc\"|"],
  ["{{printf \"%d%%\" 50}}", {}, "50%"],
  ["{{printf \"%.2s\" \"héllo\"}}", {}, "hé"],
  ["{{println}}{{print}}", {}, "\n"],
  ["{{print \"a\" \"b\" 1 2 \"c\" nil}}", {}, "ab1 2c<nil>"],
  ["{{print .Missing}}", {}, "<nil>"],
  ["{{json .Missing}}", {}, "null"],
  ["{{html .A 1}} {{js 1 2}} {{urlquery}}", {"A":"<x>"}, "&lt;x&gt;1 1 2 "],
  ["{{.A.B.C.D}}", {"A":{"B":{"C":{"D":"deep"}}}}, "deep"],
  ["{{$.A}} {{with .B}}{{$.A}}{{end}}", {"A":"root","B":1}, "root root"],
  ["{{$x := .A}}{{$x.B}}", {"A":{"B":"vb"}}, "vb"],
  ["{{$x := .A}}{{$x.B}}", {"A":"str"}, { error: "template: :1:16: executing \"\" at <$x.B>: can't evaluate field B in type string" }],
  ["{{range .L}}{{.N}}{{end}}", {"L":[{"N":1},{"M":2}]}, "1<no value>"],
  ["{{- range .L}}\n  {{.}}\n{{- end}}", {"L":[1,2]}, "\n  1\n  2"],
  ["{{range $i, $e := .L}}{{if $i}}, {{end}}{{$e}}{{end}}", {"L":["a","b","c"]}, "a, b, c"],
  ["{{range .L}}{{$v := .}}{{$v}}{{end}}", {"L":[1,2]}, "12"],
  ["{{$x := 0}}{{range .L}}{{$x = .}}{{end}}{{$x}}", {"L":[1,2]}, "2"],
  ["{{len (split \"a,b\" \",\")}} {{index (split \"a,b\" \",\") 1}}", {}, "2 b"],
  ["{{join (split \"a,b\" \",\") \"-\"}}", {}, "a-b"],
  ["{{.A | upper | printf \"%s!\"}}", {"A":"hi"}, "HI!"],
  ["{{ .A|upper }}", {"A":"hi"}, "HI"],
  ["{{\"\\t\\x41\\101\\u00e9\"}}", {}, "\tAAé"],
  ["{{\"\\'\"}}", {}, { error: "template: :1: invalid syntax" }],
  ["{{'\\''}} {{'\\n'}}", {}, "39 10"],
  ["{{0x1E}} {{-0x1E}} {{1e3}} {{0x1p4}} {{.5}} {{5.}}", {}, "30 -30 1000 16 0.5 5"],
  ["{{99999999999999999999}}", {}, { error: "template: :1: integer overflow: \"99999999999999999999\"" }],
  ["{{089}}", {}, { error: "template: :1: integer overflow: \"089\"" }],
  ["{{1e400}}", {}, { error: "template: :1: illegal number syntax: \"1e400\"" }],
  ["{{3abc}}", {}, { error: "template: :1: bad number syntax: \"3a\"" }],
  ["{{+}}", {}, { error: "template: :1: illegal number syntax: \"+\"" }],
  ["{{@}}", {}, { error: "template: :1: unexpected \"@\" in command" }],
  ["{{é}}", {}, { error: "template: :1: function \"é\" not defined" }],
  ["{{.A | .B}}", {"A":1,"B":{"x":1}}, { error: "template: :1:7: executing \"\" at <.B>: B is not a method but has arguments" }],
  ["{{printf \"%x %X %.2x %x %x %b\" 3.5 0.1 1.0 0.0 1e-310 2.5}}", {}, "0x1.cp+01 0X1.999999999999AP-04 0x1.00p+00 0x0p+00 0x1.2688b70e62bp-1030 5629499534213120p-51"],
  ["{{printf \"%s %v %d\" .L .L .L}}", {"L":[1.5,"x",true]}, "[%!s(float64=1.5) x %!s(bool=true)] [1.5 x true] [%!d(float64=1.5) %!d(string=x) %!d(bool=true)]"],
  ["{{printf \"%5.1f|%-7.2e|%+g|%08.2f|% .3f\" 2.25 1234.5 3.0 -1.5 2.0}}", {}, "  2.2|1.23e+03|+3|-0001.50| 2.000"],
];

test('matches Go text/template on map data', () => {
  for (const [tpl, data, want] of goVerified) {
    if (typeof want === 'string') {
      assert.equal(parseTemplate(tpl).execute(data), want, tpl);
    } else {
      assert.throws(
        () => parseTemplate(tpl).execute(data),
        (e: unknown) => e instanceof TemplateError && e.message === want.error,
        tpl,
      );
    }
  }
});

// Behaviour of docker 28 (built with Go 1.24), checked with the docker CLI.
test('Go 1.22+/1.23+ features docker has: range over int, else with', () => {
  assert.equal(parseTemplate('{{range 3}}{{.}}{{end}}').execute({}), '012');
  assert.equal(parseTemplate('{{range $i := 2}}<{{$i}}>{{end}}').execute({}), '<0><1>');
  assert.equal(parseTemplate('{{range 0}}x{{else}}none{{end}}').execute({}), 'none');
  assert.equal(parseTemplate('{{with ""}}a{{else with .Name}}b{{.}}{{end}}').execute({ Name: 'default' }), 'bdefault');
  assert.equal(parseTemplate('{{with .A}}a{{else with .B}}b{{else}}c{{end}}').execute({}), 'c');
});

test('json is encoding/json without HTML escaping and without trailing newline', () => {
  assert.equal(parseTemplate('{{json .}}').execute('<a&b>\u2028'), '"<a&b>\\u2028"');
  assert.equal(parseTemplate('{{json .}}').execute('\b\f\x7f\x01'), '"\\b\\f\x7f\\u0001"');
  // Plain objects keep insertion order (Go struct field order); Maps are sorted like Go maps.
  assert.equal(parseTemplate('{{json .}}').execute({ b: 1, a: [1, 2.5, 'x'], c: null }), '{"b":1,"a":[1,2.5,"x"],"c":null}');
  assert.equal(
    parseTemplate('{{json .}}').execute(
      new Map<string, unknown>([
        ['b', 1],
        ['a', 2],
      ]),
    ),
    '{"a":2,"b":1}',
  );
  assert.equal(parseTemplate('{{json .Missing}}').execute({}), 'null');
  assert.equal(parseTemplate('{{json .}}').execute([]), '[]');
  assert.equal(parseTemplate('{{json .}}').execute({}), '{}');
});

test('printing values like fmt %v', () => {
  const t = (s: string, d: unknown) => parseTemplate(s).execute(d);
  assert.equal(t('{{.A}}|{{.B}}|{{.C}}', { A: null, C: undefined }), '<nil>|<no value>|<no value>');
  assert.equal(t('{{.}}', [1, 'a', null, [true, false]]), '[1 a <nil> [true false]]');
  assert.equal(t('{{.}}', { z: 1, a: { y: 'b', x: 'c' } }), 'map[a:map[x:c y:b] z:1]');
  assert.equal(t('{{.}}', new Map([[10, 'x'], [2, 'y']])), 'map[2:y 10:x]');
  assert.equal(t('{{.N}} {{.F}} {{.Big}} {{.Neg}}', { N: 1234567890123, F: 0.1, Big: 1e21, Neg: -2.5e-7 }), '1234567890123 0.1 1e+21 -2.5e-07');
  assert.equal(t('{{.}}', new GoFloat(3)), '3');
  assert.equal(t('{{.}}', new GoFloat(1e6)), '1e+06');
  assert.equal(t('{{.}}', 10n ** 18n), '1000000000000000000');
  assert.equal(t('{{.}}', new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 120))), '2024-01-02 03:04:05.12 +0000 UTC');
  assert.equal(t('{{.}}', { [goType]: 'main.T', A: 1, B: 'x' }), '{1 x}');
  assert.equal(t('{{printf "%+v" .}}', { [goType]: 'main.T', A: 1, B: 'x' }), '{A:1 B:x}');
});

test('truthiness', () => {
  const t = parseTemplate('{{if .}}T{{else}}F{{end}}');
  for (const v of ['', 0, false, null, undefined, [], {}, new Map(), new GoFloat(0), 0n]) assert.equal(t.execute(v), 'F', String(v));
  for (const v of ['x', 1, -1, 0.5, true, [0], { a: 0 }, new Map([[1, 1]]), new Date(0), { [goType]: 'T' }]) {
    assert.equal(t.execute(v), 'T', String(v));
  }
});

// Rows as the CLI builds them: objects with methods.
function containerRow() {
  return {
    [goType]: '*formatter.ContainerContext',
    ID: () => 'abc123',
    Names: () => 'web',
    Labels: () => 'a=1,b=2',
    Label: (name: string) => ({ 'com.example': 'ex', a: '1' })[name] ?? '',
    Size: '0B',
  };
}

test('methods and fields of struct-like rows', () => {
  const row = containerRow();
  assert.equal(parseTemplate('{{.ID}} {{.Names}} {{.Size}}').execute(row), 'abc123 web 0B');
  assert.equal(parseTemplate('{{.Label "com.example"}}|{{.Label "nope"}}|{{"a" | .Label}}').execute(row), 'ex||1');
  assert.equal(parseTemplate('{{if eq (.Label "a") "1"}}one{{end}}').execute(row), 'one');
  assert.throws(
    () => parseTemplate('{{.Foo}}').execute(row),
    { message: 'template: :1:2: executing "" at <.Foo>: can\'t evaluate field Foo in type *formatter.ContainerContext' },
  );
  assert.throws(
    () => parseTemplate('{{.ID.Foo}}').execute(row),
    { message: 'template: :1:5: executing "" at <.ID.Foo>: can\'t evaluate field Foo in type string' },
  );
  assert.throws(() => parseTemplate('{{.Label}}').execute(row), {
    message: 'template: :1:2: executing "" at <.Label>: wrong number of args for Label: want 1 got 0',
  });
  assert.throws(() => parseTemplate('{{.ID 1}}').execute(row), {
    message: 'template: :1:2: executing "" at <.ID>: wrong number of args for ID: want 0 got 1',
  });
  assert.throws(() => parseTemplate('{{.Size 1}}').execute(row), {
    message: 'template: :1:2: executing "" at <.Size>: Size has arguments but cannot be invoked as function',
  });
  // A method that throws reports "error calling".
  const bad = { Boom: () => { throw new Error('kaput'); } };
  assert.throws(() => parseTemplate('{{.Boom}}').execute(bad), {
    message: 'template: :1:2: executing "" at <.Boom>: error calling Boom: kaput',
  });
  // json of a row: docker's MarshalJSON (argument-less methods, sorted keys).
  assert.equal(parseTemplate('{{json .}}').execute(row), '{"ID":"abc123","Labels":"a=1,b=2","Names":"web","Size":"0B"}');
});

test('class instances: getters and prototype methods are fields and methods', () => {
  class Row {
    readonly id: string;
    constructor(id: string) {
      this.id = id;
    }
    get ID(): string {
      return this.id.toUpperCase();
    }
    Short(n: number): string {
      return this.id.slice(0, n);
    }
  }
  const r = new Row('abcdef');
  assert.equal(parseTemplate('{{.ID}} {{.Short 3}}').execute(r), 'ABCDEF abc');
  assert.throws(() => parseTemplate('{{.Nope}}').execute(r), /can't evaluate field Nope in type struct/);
});

test('maps: missing keys and index', () => {
  const t = (s: string, d: unknown) => parseTemplate(s).execute(d);
  assert.equal(t('{{.Missing}}|{{.M.Missing}}', { M: {} }), '<no value>|<no value>');
  // index on a map of strings gives "" for a missing key (map[string]string, like Labels).
  assert.equal(t('[{{index .Labels "nope"}}]', { Labels: { a: 'b' } }), '[]');
  assert.equal(t('[{{index .Labels "nope"}}]', { Labels: {} }), '[]');
  assert.equal(t('[{{index .Labels "a"}}]', { Labels: { a: 'b' } }), '[b]');
  assert.equal(t('[{{index .M "nope"}}]', { M: { a: 1 } }), '[<no value>]');
  assert.equal(t('{{index .M "k"}}', { M: new Map([['k', 'v']]) }), 'v');
  assert.equal(t('{{range $k, $v := .}}{{$k}}={{$v}} {{end}}', { b: 2, a: 1, C: 3 }), 'C=3 a=1 b=2 ');
});

test('functions: docker extras, custom funcs, overrides', () => {
  const t = (s: string, d: unknown = {}) => parseTemplate(s).execute(d);
  assert.equal(t('{{join .L ","}}', { L: ['a', 'b'] }), 'a,b');
  assert.equal(t('{{join .L ","}}', { L: [1, 'b'] }), '1,b');
  assert.equal(t('{{split "a,b" ","}}'), '[a b]');
  assert.equal(t('{{split "héllo" ""}}'), '[h é l l o]');
  assert.equal(t('{{title "hello wORLD"}}|{{upper "abc"}}|{{lower "ABC"}}'), 'Hello WORLD|ABC|abc');
  assert.equal(t('[{{pad "x" 1 2}}][{{pad "" 1 2}}]'), '[ x  ][]');
  assert.equal(t('{{truncate "abcdef" 3}}|{{truncate "ab" 3}}|{{truncate "abc" 3}}'), 'abc|ab|abc');
  assert.equal(t('{{println "a" 1}}'), 'a 1\n');
  const tpl = parseTemplate('{{double .N}} {{greet "x" "y"}}', {
    double: (n: number) => n * 2,
    greet: (...names: string[]) => names.join('+'),
  });
  assert.equal(tpl.execute({ N: 21 }), '42 x+y');
  assert.equal(parseTemplate('{{json .}}', { json: () => 'mine' }).execute(1), 'mine');
  // Function values held in a Map are values, not methods: use them with call.
  assert.equal(parseTemplate('{{call .F 2 3}}').execute(new Map([['F', (a: number, b: number) => a + b]])), '5');
  assert.throws(() => t('{{upper 3}}'), { message: 'template: :1:8: executing "" at <3>: expected string; found 3' });
  assert.throws(() => t('{{nope}}'), { message: 'template: :1: function "nope" not defined' });
});

test('withFuncs and withHeaderFuncs return re-bound copies', () => {
  const base = parseTemplate('{{upper .Names}}|{{json .Names}}|{{pad .Names 1 0}}|{{truncate .Names 2}}');
  assert.equal(base.execute({ Names: 'web' }), 'WEB|"web"| web|we');
  const header = base.withHeaderFuncs();
  assert.ok(header instanceof Template);
  assert.equal(header.execute({ Names: 'NAMES' }), 'NAMES|NAMES| NAMES|NAMES');
  assert.equal(base.withFuncs({ upper: () => 'U' }).execute({ Names: 'web' }), 'U|"web"| web|we');
});

test('executePartial keeps output written before an error', () => {
  const r = parseTemplate('a{{.X}}b{{.Y.Z 1}}c').executePartial({ X: 1, Y: { Z: 2 } });
  assert.equal(r.output, 'a1b');
  assert.ok(r.error instanceof TemplateError);
  assert.equal(r.error?.message, 'template: :1:12: executing "" at <.Y.Z>: Z is not a method but has arguments');
  assert.deepEqual(parseTemplate('ok').executePartial({}), { output: 'ok' });
});

test('error positions count bytes and lines like Go', () => {
  assert.throws(() => parseTemplate('é{{.A.B}}').execute({ A: 's' }), { message: /^template: :1:6: / });
  assert.throws(() => parseTemplate('a\nbc{{.A.B}}').execute({ A: 's' }), { message: /^template: :2:6: / });
  assert.throws(() => parseTemplate('{{define "T"}}{{.X.Y}}{{end}}{{template "T" .}}').execute({ X: 1 }), {
    message: 'template: :1:18: executing "T" at <.X.Y>: can\'t evaluate field Y in type interface {}',
  });
  assert.throws(() => parseTemplate('{{.A\n\n'), { message: 'template: :3: unclosed action started at :1' });
});

test('templateNames lists define and block', () => {
  assert.deepEqual(parseTemplate('{{define "a"}}x{{end}}{{block "b" .}}y{{end}}').templateNames().sort(), ['', 'a', 'b']);
});
