import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TabWriter, dockerTable, displayWidth, runeWidth, tabulate } from './tabwriter.ts';

// Expected outputs were produced by Go's text/tabwriter with the same input and settings.
test('column blocks, trailing cells and padding like Go text/tabwriter', () => {
  assert.equal(
    tabulate('aaaa\tbbb\td\naa\tb\tdd\na\t\naa\tcccc\teee\n', { minwidth: 0, tabwidth: 8, padding: 1, padchar: '.' }),
    'aaaa.bbb.d\naa...b...dd\na....\naa...cccc.eee\n',
  );
  assert.equal(
    tabulate('a\tb\tc\nxxx\tyyyyy\tz\n\nlong cell here\tq\n', { minwidth: 10, tabwidth: 1, padding: 3 }),
    'a         b         c\nxxx       yyyyy     z\n\nlong cell here   q\n',
  );
  // A line without tabs ends the column block.
  assert.equal(tabulate('x\ty\nno tabs\nlonger\tz\n', { minwidth: 10, tabwidth: 1, padding: 3 }), 'x         y\nno tabs\nlonger    z\n');
  // Text without a final newline is flushed as is.
  assert.equal(tabulate('a\tb\nccc\td', { minwidth: 5, tabwidth: 1, padding: 2, padchar: '-' }), 'a----b\nccc--d');
  assert.equal(tabulate('a\tbb\tccc\nddd\te\tf\n', { minwidth: 0, tabwidth: 4, padding: 1, alignRight: true }), '   a bbccc\n ddd  ef\n');
  assert.equal(tabulate('\v\va\n\v\vb\n', { minwidth: 2, tabwidth: 1, padding: 1, padchar: '.', discardEmptyColumns: true }), 'a\nb\n');
  assert.equal(tabulate('a\tb\nc\td\n', { minwidth: 0, tabwidth: 1, padding: 1, debug: true }), 'a |b\nc |d\n');
});

test('padding with tabs', () => {
  assert.equal(tabulate('a\tb\nlonger\tc\n', { minwidth: 0, tabwidth: 8, padding: 1, padchar: '\t' }), 'a\tb\nlonger\tc\n');
  assert.equal(tabulate('a\tb\nlonger text\tc\n', { minwidth: 0, tabwidth: 4, padding: 1, padchar: '\t' }), 'a\t\t\tb\nlonger text\tc\n');
});

test('writes may split cells anywhere; flush returns output since last flush', () => {
  const w = new TabWriter({ minwidth: 0, tabwidth: 1, padding: 1 });
  for (const part of ['ab', 'c\td', '\n', 'e', '\t', 'f\n']) w.write(part);
  assert.equal(w.flush(), 'abc d\ne   f\n');
  assert.equal(w.flush(), '');
  w.write('x\ty\n');
  assert.equal(w.flush(), 'x y\n');
});

test('dockerTable: docker ps header with no rows', () => {
  const w = dockerTable();
  w.write('CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES\n');
  assert.equal(w.flush(), 'CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n');
});

test('dockerTable: long and short cells', () => {
  const w = dockerTable();
  w.write('CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES\n');
  w.write('4c01db0b339c\tubuntu:22.04\t"bash"\t17 seconds ago\tUp 16 seconds\t0.0.0.0:3300->9999/tcp\twebapp\n');
  w.write('d7886598dbe2\tcrosbymichael/redis:latest\t"/redis-server --dir"\t33 minutes ago\tUp 33 minutes\t6379/tcp\tredis,webapp/db\n');
  assert.equal(
    w.flush(),
    [
      'CONTAINER ID   IMAGE                        COMMAND                 CREATED          STATUS          PORTS                    NAMES',
      '4c01db0b339c   ubuntu:22.04                 "bash"                  17 seconds ago   Up 16 seconds   0.0.0.0:3300->9999/tcp   webapp',
      'd7886598dbe2   crosbymichael/redis:latest   "/redis-server --dir"   33 minutes ago   Up 33 minutes   6379/tcp                 redis,webapp/db',
      '',
    ].join('\n'),
  );
});

test('dockerTable measures terminal width (checked against the docker CLI)', () => {
  const w = dockerTable();
  const line = '日本語テキスト\té́\t👍🏽x\t👨‍👩‍👧\ta\u200bb\t|\n';
  w.write(line);
  w.write(line);
  const row = '日本語テキスト   é́         👍🏽x       👨‍👩‍👧        a\u200bb        |\n';
  assert.equal(w.flush(), row + row);
});

test('display width', () => {
  assert.equal(displayWidth('abc'), 3);
  assert.equal(displayWidth('日本'), 4);
  assert.equal(displayWidth('e\u0301'), 1);
  assert.equal(displayWidth('👍🏽'), 2);
  assert.equal(displayWidth('a\u200bb'), 2);
  assert.equal(runeWidth(0x1f600), 2);
  assert.equal(runeWidth(0x07), 0);
  assert.equal(runeWidth(0xff21), 2);
});
