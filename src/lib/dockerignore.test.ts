import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canSkipDir, isIgnored, matchGlob, parseDockerignore } from './dockerignore.ts';

test('parseDockerignore: comments, blanks, whitespace, exceptions, cleaning, leading slash', () => {
  const text = '\uFEFF# comment\n\n  *.md  \n!README.md\r\n/abs\ndir/\n./a/../b//c\n! keep\n  # not a comment\n/\n';
  assert.deepEqual(parseDockerignore(text), [
    { pattern: '*.md', negate: false },
    { pattern: 'README.md', negate: true },
    { pattern: 'abs', negate: false },
    { pattern: 'dir', negate: false },
    { pattern: 'b/c', negate: false },
    { pattern: 'keep', negate: true },
    { pattern: '# not a comment', negate: false },
    { pattern: '/', negate: false },
  ]);
  assert.throws(() => parseDockerignore('!\n'), /illegal exclusion pattern/);
  assert.throws(() => parseDockerignore('[a\n'), /syntax error in pattern/);
});

test('isIgnored: the matrix', () => {
  const p = parseDockerignore(['*.md', '!README.md', '**/*.log', 'dir/', '/abs', 'temp?', 'x/[a-c]*.txt', 'y/[^a]'].join('\n'));
  const cases: [string, boolean][] = [
    ['notes.md', true],
    ['README.md', false],
    ['docs/notes.md', false], // `*` does not cross '/'
    ['a.log', true], // `**/` matches no directory too
    ['deep/er/a.log', true],
    ['a.logx', false],
    ['dir', true],
    ['dir/sub/file', true], // a matching parent excludes the subtree
    ['dirx', false],
    ['abs', true],
    ['abs/inner', true],
    ['sub/abs', false], // anchored at the root
    ['temp1', true],
    ['temp12', false],
    ['x/b.txt', true],
    ['x/d.txt', false],
    ['y/b', true],
    ['y/a', false],
    ['src/main.ts', false],
  ];
  for (const [rel, want] of cases) assert.equal(isIgnored(rel, p), want, rel);
});

test('isIgnored: last match wins, exceptions re-include under an excluded dir', () => {
  const p = parseDockerignore('docs\n!docs/keep.md\n*.tmp\n!*.tmp\nlate.txt\n!late.txt\nlate.txt\n');
  assert.equal(isIgnored('docs/other.md', p), true);
  assert.equal(isIgnored('docs/keep.md', p), false);
  assert.equal(isIgnored('a.tmp', p), false);
  assert.equal(isIgnored('late.txt', p), true);
  assert.equal(canSkipDir('docs', p), false);
  assert.equal(canSkipDir('other', parseDockerignore('other\n!docs/keep.md\n')), true);
  assert.equal(canSkipDir('docs', parseDockerignore('docs\n')), true);

  const q = parseDockerignore('*\n!src\n!package.json\n');
  assert.equal(isIgnored('src/a/b.ts', q), false);
  assert.equal(isIgnored('package.json', q), false);
  assert.equal(isIgnored('node_modules/x', q), true);
  assert.equal(isIgnored('.git/HEAD', q), true);
});

test('isIgnored: ** forms and escapes', () => {
  const p = parseDockerignore('a/**/b\nlogs/**\n**\n');
  assert.equal(isIgnored('anything', p), true);
  const q = parseDockerignore('a/**/b\nlogs/**\n');
  assert.equal(isIgnored('a/b', q), true);
  assert.equal(isIgnored('a/x/y/b', q), true);
  assert.equal(isIgnored('a/xb', q), false);
  assert.equal(isIgnored('logs/x/y', q), true);
  assert.equal(isIgnored('logs', q), false);
  const r = parseDockerignore('\\*.txt\nfile.(1)\n');
  assert.equal(isIgnored('*.txt', r), true);
  assert.equal(isIgnored('a.txt', r), false);
  assert.equal(isIgnored('file.(1)', r), true);
  assert.equal(isIgnored('filex(1)', r), false);
  assert.equal(isIgnored('', r), false);
});

test('matchGlob: one path component, filepath.Match rules', () => {
  assert.equal(matchGlob('*.txt', 'a.txt'), true);
  assert.equal(matchGlob('*.txt', '.hidden.txt'), true);
  assert.equal(matchGlob('?.txt', 'ab.txt'), false);
  assert.equal(matchGlob('[ab].txt', 'b.txt'), true);
  assert.equal(matchGlob('[^ab].txt', 'b.txt'), false);
  assert.equal(matchGlob('**.txt', 'a.txt'), true);
});
