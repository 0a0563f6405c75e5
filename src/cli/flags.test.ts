import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFlags, flagUsages, goQuote, parseInt64, FlagError, type FlagDef } from './flags.ts';

const defs: FlagDef[] = [
  { name: 'detach', short: 'd', type: '', desc: 'Run in background' },
  { name: 'interactive', short: 'i', type: '', desc: 'Keep STDIN open' },
  { name: 'tty', short: 't', type: '', desc: 'Allocate a pseudo-TTY' },
  { name: 'env', short: 'e', type: 'list', desc: 'Set environment variables', repeat: true },
  { name: 'name', type: 'string', desc: 'Assign a name' },
  { name: 'last', short: 'n', type: 'int', desc: 'Show n last', parse: parseInt64, def: -1, defText: '-1' },
];

test('pflag syntax: groups, attached values, = forms, --', () => {
  const p = parseFlags(defs, ['-itd', '-eA=1', '-e', 'B=2', '--env=C=3', '--name', 'x', '-n=5', 'img', '--', '-x']);
  assert.equal(p.flags.bool('interactive'), true);
  assert.equal(p.flags.bool('tty'), true);
  assert.equal(p.flags.bool('detach'), true);
  assert.deepEqual(p.flags.list('env'), ['A=1', 'B=2', 'C=3']);
  assert.equal(p.flags.str('name'), 'x');
  assert.equal(p.flags.num('last'), 5);
  assert.deepEqual(p.args, ['img', '-x']);
  assert.equal(parseFlags(defs, []).flags.num('last'), -1);
  assert.equal(parseFlags(defs, ['--detach=false']).flags.bool('detach'), false);
});

test('non-interspersed parsing stops at the first positional argument', () => {
  const p = parseFlags(defs, ['-d', 'busybox', 'sh', '-c', '-d'], { interspersed: false });
  assert.deepEqual(p.args, ['busybox', 'sh', '-c', '-d']);
  const q = parseFlags(defs, ['busybox', '-d']);
  assert.equal(q.flags.bool('detach'), true);
});

test('errors use pflag wording', () => {
  const msg = (argv: string[]) => {
    try {
      parseFlags(defs, argv);
    } catch (err) {
      assert.ok(err instanceof FlagError);
      return err.message;
    }
    return '';
  };
  assert.equal(msg(['--bogus']), 'unknown flag: --bogus');
  assert.equal(msg(['-x']), "unknown shorthand flag: 'x' in -x");
  assert.equal(msg(['-dx']), "unknown shorthand flag: 'x' in -x");
  assert.equal(msg(['-e']), "flag needs an argument: 'e' in -e");
  assert.equal(msg(['--name']), 'flag needs an argument: --name');
  assert.equal(msg(['-n', 'abc']), 'invalid argument "abc" for "-n, --last" flag: strconv.ParseInt: parsing "abc": invalid syntax');
  assert.equal(msg(['--detach=maybe']), 'invalid argument "maybe" for "-d, --detach" flag: strconv.ParseBool: parsing "maybe": invalid syntax');
  assert.equal(parseFlags(defs, ['--help']).help, true);
  assert.equal(parseFlags(defs, ['-h']).help, true);
});

test('help layout follows pflag FlagUsagesWrapped', () => {
  const text = flagUsages(defs, 79);
  assert.equal(text.split('\n')[0], '  -d, --detach        Run in background');
  assert.match(text, /^ {2}-n, --last int      Show n last \(default -1\)$/m);
  assert.match(text, /^ {6}--name string   Assign a name$/m);
});

test('goQuote and parseInt64 behave like Go', () => {
  assert.equal(goQuote('a"b\\c\n\x01é'), '"a\\"b\\\\c\\n\\x01é"');
  assert.equal(parseInt64('0x10'), 16);
  assert.equal(parseInt64('-12'), -12);
  assert.throws(() => parseInt64('1.5'), /invalid syntax/);
});
