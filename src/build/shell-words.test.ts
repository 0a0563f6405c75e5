import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expandWord, expandWords, expandHeredoc, lexWords, ShellWordsError } from './shell-words.ts';

const env = { FOO: '/bar', EMPTY: '', SP: 'a b  c', X: 'foobarbaz' };

test('plain and braced variables; unset expands to nothing', () => {
  assert.equal(expandWord('$FOO', env), '/bar');
  assert.equal(expandWord('${FOO}_x', env), '/bar_x');
  assert.equal(expandWord('$FOO_x', env), '');
  assert.equal(expandWord('pre$NOPE-post', env), 'pre-post');
  assert.equal(expandWord('${NOPE}', env), '');
  assert.equal(expandWord('a$', env), 'a$');
  assert.equal(expandWord('$ x $/', env), '$ x $/');
});

test('default, alternative and error modifiers, with and without the colon', () => {
  assert.equal(expandWord('${NOPE:-def}', env), 'def');
  assert.equal(expandWord('${EMPTY:-def}', env), 'def');
  assert.equal(expandWord('${EMPTY-def}', env), '');
  assert.equal(expandWord('${NOPE-def}', env), 'def');
  assert.equal(expandWord('${FOO:-def}', env), '/bar');
  assert.equal(expandWord('${FOO:+alt}', env), 'alt');
  assert.equal(expandWord('${EMPTY:+alt}', env), '');
  assert.equal(expandWord('${EMPTY+alt}', env), 'alt');
  assert.equal(expandWord('${NOPE+alt}', env), '');
  assert.equal(expandWord('${NOPE:-$FOO/x}', env), '/bar/x');
  assert.equal(expandWord('${NOPE:-${EMPTY:-deep}}', env), 'deep');
  assert.equal(expandWord('${FOO:?must}', env), '/bar');
  assert.throws(() => expandWord('${NOPE:?must be set}', env), (e: unknown) => e instanceof ShellWordsError && e.message === 'NOPE: must be set');
  assert.throws(() => expandWord('${EMPTY:?}', env), { message: 'EMPTY: is not allowed to be empty' });
  assert.equal(expandWord('${EMPTY?}', env), '');
  assert.throws(() => expandWord('${NOPE?}', env), { message: 'NOPE: is not allowed to be unset' });
});

test('pattern removal and replacement', () => {
  assert.equal(expandWord('${X#f*b}', env), 'arbaz');
  assert.equal(expandWord('${X##f*b}', env), 'az');
  assert.equal(expandWord('${X%b*}', env), 'foobar');
  assert.equal(expandWord('${X%%b*}', env), 'foo');
  assert.equal(expandWord('${X/ba/fo}', env), 'fooforbaz');
  assert.equal(expandWord('${X//ba/fo}', env), 'fooforfoz');
  assert.equal(expandWord('${X#nomatch}', env), 'foobarbaz');
});

test('bad substitutions are errors', () => {
  assert.throws(() => expandWord('${FOO', env), { message: "syntax error: missing '}'" });
  assert.throws(() => expandWord('${FOO:-x', env), { message: "syntax error: missing '}'" });
  assert.throws(() => expandWord('${FOO:x}', env), { message: 'unsupported modifier (:x) in substitution' });
  assert.throws(() => expandWord('"abc', env), { message: 'unexpected end of statement while looking for matching double-quote' });
  assert.throws(() => expandWord("'abc", env), { message: 'unexpected end of statement while looking for matching single-quote' });
});

test('quotes: single literal, double expanding, both removed', () => {
  assert.equal(expandWord("'$FOO'", env), '$FOO');
  assert.equal(expandWord('"$FOO"', env), '/bar');
  assert.equal(expandWord('"a  b"c\'d e\'', env), 'a  bcd e');
  assert.equal(expandWord('"it\'s"', env), "it's");
  assert.equal(expandWord('\'say "hi"\'', env), 'say "hi"');
  assert.equal(expandWord('a b', env), 'a b');
});

test('escapes: \\$ stays a literal dollar, other characters lose the escape outside quotes', () => {
  assert.equal(expandWord('\\$FOO', env), '$FOO');
  assert.equal(expandWord('\\${FOO}', env), '${FOO}');
  assert.equal(expandWord('a\\ b', env), 'a b');
  assert.equal(expandWord('\\"q\\"', env), '"q"');
  assert.equal(expandWord('c:\\\\dir', env), 'c:\\dir');
  assert.equal(expandWord('end\\', env), 'end');
  // Inside double quotes only " $ and the escape itself are escapable.
  assert.equal(expandWord('"\\$FOO \\" \\\\ \\n"', env), '$FOO " \\ \\n');
  // Single quotes do not know escapes.
  assert.equal(expandWord("'a\\b'", env), 'a\\b');
});

test('the backtick escape directive', () => {
  assert.equal(expandWord('`$FOO', env, '`'), '$FOO');
  assert.equal(expandWord('c:\\dir\\$FOO', env, '`'), 'c:\\dir\\/bar');
  assert.deepEqual(expandWords('a` b c', env, '`'), ['a b', 'c']);
});

test('expandWords splits on unquoted whitespace, including inside unquoted values', () => {
  assert.deepEqual(expandWords('  src1 src2\t/dst  ', env), ['src1', 'src2', '/dst']);
  assert.deepEqual(expandWords('"a b" c', env), ['a b', 'c']);
  assert.deepEqual(expandWords('$SP "$SP"', env), ['a', 'b', 'c', 'a b  c']);
  assert.deepEqual(expandWords('"" x', env), ['', 'x']);
  assert.deepEqual(expandWords('$NOPE x', env), ['x']);
  assert.deepEqual(expandWords('80/tcp ${P:-443}', env), ['80/tcp', '443']);
  assert.deepEqual(expandWords('', env), []);
});

test('expandHeredoc keeps quotes and expands variables', () => {
  assert.equal(expandHeredoc('echo "$FOO" \'${FOO}\' \\$FOO ${NOPE:-d}\n', env), 'echo "/bar" \'/bar\' $FOO d\n');
});

test('lexWords raw modes keep quotes and escapes', () => {
  assert.deepEqual(lexWords('a "b c" \\d $U', {}, '\\', { rawQuotes: true, rawEscapes: true, skipUnset: true }).words, ['a', '"b c"', '\\d', '$U']);
});
