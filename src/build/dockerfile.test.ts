import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDockerfile, DockerfileError, type Instruction } from './dockerfile.ts';

const only = (text: string): Instruction => parseDockerfile(`FROM scratch\n${text}\n`).stages[0].instructions[0];

function fails(text: string, message: string, line?: number): void {
  assert.throws(() => parseDockerfile(text), (e: unknown) => {
    assert.ok(e instanceof DockerfileError, String(e));
    assert.equal(e.message, message);
    if (line !== undefined) assert.equal(e.line, line);
    return true;
  });
}

test('stages, FROM AS (lower-cased), ARGs before FROM, line numbers', () => {
  const df = parseDockerfile('ARG BASE=alpine\nARG V\n\nfrom --platform=linux/amd64 $BASE AS Build\nrun make\nFROM scratch\nCOPY --from=build /out /\n');
  assert.equal(df.escape, '\\');
  assert.equal(df.syntax, undefined);
  assert.deepEqual(df.metaArgs.map((a) => a.kv), [[['BASE', 'alpine']], [['V', undefined]]]);
  assert.equal(df.stages.length, 2);
  const [s0, s1] = df.stages;
  assert.equal(s0.index, 0);
  assert.equal(s0.name, 'build');
  assert.equal(s0.from.cmd, 'FROM');
  assert.equal(s0.from.line, 4);
  assert.deepEqual(s0.from.args, ['$BASE', 'AS', 'Build']);
  assert.deepEqual(s0.from.flags, { platform: 'linux/amd64' });
  assert.equal(s0.from.original, 'from --platform=linux/amd64 $BASE AS Build');
  assert.deepEqual(s0.instructions.map((i) => [i.cmd, i.line, i.args]), [['RUN', 5, ['make']]]);
  assert.equal(s1.name, undefined);
  assert.equal(s1.index, 1);
  assert.deepEqual(s1.instructions[0].flags, { from: 'build' });
  assert.deepEqual(s1.instructions[0].args, ['/out /']);
});

test('comments, blank lines and leading whitespace; # inside a line is an argument', () => {
  const df = parseDockerfile('# a comment\n\n   FROM scratch\n  # indented comment\n\tRUN echo hi # not a comment\n');
  const ins = df.stages[0].instructions[0];
  assert.equal(ins.line, 5);
  assert.deepEqual(ins.args, ['echo hi # not a comment']);
});

test('line continuation: comments and empty lines inside, trailing blanks after the escape, indentation kept', () => {
  const df = parseDockerfile('FROM scratch\nRUN echo hello \\\n# comment\n\n  \\\n    world \\  \n  && true\nUSER x\n');
  const [run, user] = df.stages[0].instructions;
  assert.equal(run.line, 2);
  assert.equal(run.endLine, 7);
  assert.deepEqual(run.args, ['echo hello       world   && true']);
  assert.equal(run.original, 'RUN echo hello       world   && true');
  assert.equal(user.line, 8);
  // An escaped escape at the end of a line still continues it (Docker's documented Windows pitfall).
  assert.deepEqual(parseDockerfile('FROM scratch\nCOPY a c:\\\\\nRUN dir\n').stages[0].instructions[0].args, ['a c:\\RUN dir']);
  // CRLF line ends.
  assert.deepEqual(parseDockerfile('FROM scratch\r\nRUN a \\\r\n b\r\n').stages[0].instructions[0].args, ['a  b']);
});

test('parser directives: escape and syntax at the top only', () => {
  const df = parseDockerfile('# syntax=docker/dockerfile:1\n#  ESCAPE = `\n\nFROM scratch\nCOPY a c:\\ `\n  d:\\\nRUN dir c:\\\n');
  assert.equal(df.escape, '`');
  assert.equal(df.syntax, 'docker/dockerfile:1');
  const [copy, run] = df.stages[0].instructions;
  assert.deepEqual(copy.args, ['a c:\\   d:\\']);
  assert.deepEqual(run.args, ['dir c:\\']);
  // After a comment, an instruction or a blank line, directives are plain comments.
  assert.equal(parseDockerfile('# hello\n# escape=`\nFROM scratch\n').escape, '\\');
  assert.equal(parseDockerfile('\n# escape=`\nFROM scratch\n').escape, '\\');
  assert.equal(parseDockerfile('# unknown=1\n# escape=`\nFROM scratch\n').escape, '\\');
  assert.equal(parseDockerfile('FROM scratch\n# escape=`\n').escape, '\\');
  assert.equal(parseDockerfile('#!/usr/bin/env dockerfile\n# escape=`\nFROM scratch\n').escape, '`');
  fails('# escape=`\n# escape=\\\nFROM scratch\n', 'Dockerfile:2: only one escape parser directive can be used', 2);
  fails('# escape=x\nFROM scratch\n', "Dockerfile:1: invalid escape token 'x' does not match ` or \\", 1);
});

test('keywords are case-insensitive', () => {
  const df = parseDockerfile('From scratch\nrUn x\nworkdir /a\n');
  assert.deepEqual(df.stages[0].instructions.map((i) => i.cmd), ['RUN', 'WORKDIR']);
});

test('JSON (exec) form versus shell form', () => {
  let ins = only('CMD ["echo", "a b", "\\u0041"]');
  assert.equal(ins.json, true);
  assert.deepEqual(ins.args, ['echo', 'a b', 'A']);
  ins = only('ENTRYPOINT []');
  assert.equal(ins.json, true);
  assert.deepEqual(ins.args, []);
  ins = only('RUN   [ "sh",\\\n  "-c", "x" ]');
  assert.equal(ins.json, true);
  assert.deepEqual(ins.args, ['sh', '-c', 'x']);
  // Invalid JSON falls back to the shell form, as written.
  for (const bad of ["['single', 'quotes']", '["unterminated"', '[ "a", ]', '[a]', 'echo ["x"]']) {
    ins = only(`CMD ${bad}`);
    assert.equal(ins.json, false, bad);
    assert.deepEqual(ins.args, [bad]);
  }
  // Docker decodes the first JSON value only.
  assert.deepEqual(only('CMD ["a"] trailing').args, ['a']);
  fails('FROM scratch\nCMD ["a", 1]\n', 'Dockerfile:2: when using JSON array syntax, arrays must be comprised of strings only', 2);
  // VOLUME/COPY/ADD take either form too; other instructions never parse JSON.
  assert.deepEqual(only('VOLUME ["/a", "/b"]').args, ['/a', '/b']);
  assert.deepEqual(only('VOLUME /a /b').args, ['/a /b']);
  assert.deepEqual(only('COPY ["a b", "/c/"]').args, ['a b', '/c/']);
  ins = only('USER ["x"]');
  assert.equal(ins.json, false);
  assert.deepEqual(ins.args, ['["x"]']);
  assert.deepEqual(only('SHELL ["/bin/bash", "-c"]').args, ['/bin/bash', '-c']);
  fails('FROM scratch\nSHELL /bin/bash -c\n', 'Dockerfile:2: SHELL requires the arguments to be in JSON form', 2);
  fails('FROM scratch\nSHELL []\n', 'Dockerfile:2: SHELL requires at least one argument', 2);
});

test('ENV and LABEL: key=value pairs, legacy form, quotes kept', () => {
  let ins = only('ENV A=1 B="two words" C=\'x\' D=a\\ b E=');
  assert.deepEqual(ins.kv, [['A', '1'], ['B', '"two words"'], ['C', "'x'"], ['D', 'a\\ b'], ['E', '']]);
  ins = only('ENV PATH /usr/local/bin:$PATH and more');
  assert.deepEqual(ins.kv, [['PATH', '/usr/local/bin:$PATH and more']]);
  ins = only('LABEL "com.example.vendor"="ACME Inc" version=1.0 multi="a \\\n  b"');
  assert.deepEqual(ins.kv, [['"com.example.vendor"', '"ACME Inc"'], ['version', '1.0'], ['multi', '"a   b"']]);
  assert.deepEqual(only('LABEL legacy some value').kv, [['legacy', 'some value']]);
  fails('FROM scratch\nENV FOO\n', 'Dockerfile:2: ENV must have two arguments', 2);
  fails('FROM scratch\nENV\n', 'Dockerfile:2: ENV requires at least one argument', 2);
  fails('FROM scratch\nENV A=1 B\n', 'Dockerfile:2: Syntax error - can\'t find = in "B". Must be of the form: name=value', 2);
  fails('FROM scratch\nLABEL =x\n', 'Dockerfile:2: LABEL names can not be blank', 2);
});

test('ARG: names with and without defaults, several per line', () => {
  assert.deepEqual(only('ARG A B=2 C="x y"').kv, [['A', undefined], ['B', '2'], ['C', '"x y"']]);
  fails('FROM scratch\nARG\n', 'Dockerfile:2: ARG requires at least one argument', 2);
  fails('FROM scratch\nARG =1\n', 'Dockerfile:2: ARG names can not be blank', 2);
});

test('flags: values, bare booleans, repeated flags, unknown and malformed ones', () => {
  let ins = only('COPY --chown=1:2 --chmod=755 --link --from="st" a b');
  assert.deepEqual(ins.flags, { chown: '1:2', chmod: '755', link: '', from: 'st' });
  assert.deepEqual(ins.args, ['a b']);
  ins = only('RUN --mount=type=cache,target=/c --mount=type=secret,id=s --network=none echo --not-a-flag');
  assert.deepEqual(ins.flags, { mount: 'type=secret,id=s', network: 'none' });
  assert.deepEqual(ins.flagValues.mount, ['type=cache,target=/c', 'type=secret,id=s']);
  assert.deepEqual(ins.args, ['echo --not-a-flag']);
  assert.deepEqual(only('ADD --link=FALSE --checksum=sha256:00 http://x/y /z').flags, { link: 'false', checksum: 'sha256:00' });
  assert.deepEqual(only('COPY -- --weird /d').args, ['--weird /d']);
  fails('FROM scratch\nCOPY --foo=1 a b\n', 'Dockerfile:2: unknown flag: foo', 2);
  fails('FROM scratch\nUSER --x bob\n', 'Dockerfile:2: unknown flag: x', 2);
  fails('FROM scratch\nCOPY --from a b\n', 'Dockerfile:2: missing a value on flag: from', 2);
  fails('FROM scratch\nCOPY --from=a --from=b a b\n', 'Dockerfile:2: duplicate flag specified: from', 2);
  fails('FROM scratch\nCOPY --link=maybe a b\n', 'Dockerfile:2: expecting boolean value for flag link, not: maybe', 2);
  fails('FROM --foo=bar scratch\n', 'Dockerfile:1: unknown flag: foo', 1);
});

test('heredocs: several, quoted (no expansion), chomp, the terminator and line numbers', () => {
  const text = [
    'FROM scratch',
    'RUN <<EOF',
    'echo $HOME',
    '# kept: not a comment here',
    'EOF',
    "COPY <<-'ONE' <<\"TWO\" /dst/",
    '\t\tfirst',
    '\tONE',
    'second \\',
    'TWO',
    'RUN python3 <<PY > /out && cat /out',
    'print(1)',
    'PY',
    'USER u',
  ].join('\n');
  const [run, copy, py, user] = parseDockerfile(text).stages[0].instructions;
  assert.deepEqual(run.heredocs, [{ name: 'EOF', content: 'echo $HOME\n# kept: not a comment here\n', expand: true, chomp: false }]);
  assert.deepEqual(run.args, ['<<EOF']);
  assert.equal(run.line, 2);
  assert.equal(run.endLine, 5);
  assert.deepEqual(copy.heredocs, [
    { name: 'ONE', content: 'first\n', expand: false, chomp: true },
    { name: 'TWO', content: 'second \\\n', expand: false, chomp: false },
  ]);
  assert.equal(copy.endLine, 10);
  assert.deepEqual(py.heredocs, [{ name: 'PY', content: 'print(1)\n', expand: true, chomp: false }]);
  assert.deepEqual(py.args, ['python3 <<PY > /out && cat /out']);
  assert.equal(user.line, 14);
  // Not heredocs: quoted `<<`, the JSON form, other instructions.
  assert.deepEqual(only('RUN echo "<<EOF"').heredocs, []);
  assert.deepEqual(only('RUN ["sh", "-c", "cat <<EOF"]').heredocs, []);
  assert.deepEqual(only('ENV A=<<EOF').heredocs, []);
  fails('FROM scratch\nRUN <<EOF\nno end\n', 'Dockerfile:2: unterminated heredoc', 2);
  fails('FROM scratch\nCOPY a <<EOF\nx\nEOF\n', 'Dockerfile:2: COPY cannot accept a heredoc as a destination', 2);
});

test('ONBUILD keeps its trigger as a sub-instruction', () => {
  const ins = only('ONBUILD COPY --chown=1 . /app');
  assert.equal(ins.cmd, 'ONBUILD');
  assert.deepEqual(ins.args, ['COPY --chown=1 . /app']);
  assert.equal(ins.sub?.cmd, 'COPY');
  assert.deepEqual(ins.sub?.flags, { chown: '1' });
  assert.deepEqual(ins.sub?.args, ['. /app']);
  assert.equal(ins.sub?.original, 'COPY --chown=1 . /app');
  const hd = parseDockerfile('FROM scratch\nONBUILD RUN <<EOF\necho hi\nEOF\n').stages[0].instructions[0];
  assert.deepEqual(hd.sub?.heredocs.map((h) => h.content), ['echo hi\n']);
  assert.equal(hd.endLine, 4);
  fails('FROM scratch\nONBUILD ONBUILD RUN x\n', 'Dockerfile:2: Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed', 2);
  fails('FROM scratch\nONBUILD from x\n', "Dockerfile:2: FROM isn't allowed as an ONBUILD trigger", 2);
  fails('FROM scratch\nONBUILD\n', 'Dockerfile:2: ONBUILD requires at least one argument', 2);
});

test('HEALTHCHECK: flags, CMD in both forms, NONE', () => {
  let ins = only('HEALTHCHECK --interval=30s --retries=3 CMD curl -f http://localhost/');
  assert.deepEqual(ins.flags, { interval: '30s', retries: '3' });
  assert.deepEqual(ins.args, ['CMD curl -f http://localhost/']);
  assert.deepEqual([ins.sub?.json, ins.sub?.args], [false, ['curl -f http://localhost/']]);
  ins = only('HEALTHCHECK cmd ["true"]');
  assert.equal(ins.json, true);
  assert.deepEqual(ins.sub?.args, ['true']);
  ins = only('HEALTHCHECK NONE');
  assert.deepEqual([ins.args, ins.sub], [['NONE'], undefined]);
  fails('FROM scratch\nHEALTHCHECK NONE x\n', 'Dockerfile:2: HEALTHCHECK NONE takes no arguments', 2);
  fails('FROM scratch\nHEALTHCHECK RUN x\n', 'Dockerfile:2: Unknown type "RUN" in HEALTHCHECK (try CMD)', 2);
  fails('FROM scratch\nHEALTHCHECK CMD\n', 'Dockerfile:2: Missing command after HEALTHCHECK CMD', 2);
  fails('FROM scratch\nHEALTHCHECK --interval=abc CMD x\n', 'Dockerfile:2: time: invalid duration "abc"', 2);
  fails('FROM scratch\nHEALTHCHECK --timeout=10us CMD x\n', 'Dockerfile:2: Interval "timeout" cannot be less than 1ms', 2);
  fails('FROM scratch\nHEALTHCHECK --retries=-1 CMD x\n', 'Dockerfile:2: --retries cannot be negative (-1)', 2);
});

test('single-argument instructions and argument counts', () => {
  assert.deepEqual(only('WORKDIR /a b').args, ['/a b']);
  assert.deepEqual(only('MAINTAINER Jane Doe <j@d>').args, ['Jane Doe <j@d>']);
  assert.deepEqual(only('EXPOSE 80/tcp 443').args, ['80/tcp 443']);
  assert.deepEqual(only('STOPSIGNAL SIGKILL').args, ['SIGKILL']);
  assert.deepEqual(only('RUN').args, []);
  fails('FROM scratch\nWORKDIR\n', 'Dockerfile:2: WORKDIR requires exactly one argument', 2);
  fails('FROM scratch\nEXPOSE\n', 'Dockerfile:2: EXPOSE requires at least one argument', 2);
  fails('FROM scratch\nCOPY onlyone\n', 'Dockerfile:2: COPY requires at least two arguments, but only one was provided. Destination could not be determined', 2);
  fails('FROM scratch\nVOLUME ["/a", " "]\n', 'Dockerfile:2: VOLUME specified can not be an empty string', 2);
  fails('FROM\n', 'Dockerfile:1: FROM requires either one or three arguments', 1);
  fails('FROM a b\n', 'Dockerfile:1: FROM requires either one or three arguments', 1);
  fails('FROM a AS 1x\n', 'Dockerfile:1: invalid name for build stage: "1x", name can\'t start with a number or contain symbols', 1);
  fails('FROM a AS x\nFROM b AS X\n', 'Dockerfile:2: duplicate stage name "x"', 2);
});

test('file-level errors: empty, no instructions, unknown instruction, instruction before FROM', () => {
  fails('', 'the Dockerfile (Dockerfile) cannot be empty', 0);
  assert.throws(() => parseDockerfile('', { name: 'build.Dockerfile' }), { message: 'the Dockerfile (build.Dockerfile) cannot be empty' });
  fails('# only a comment\n\n', 'file with no instructions', 0);
  fails('FROM scratch\nRUN a\n\n\n\n\nRUUN b\n', 'Dockerfile:7: unknown instruction: RUUN', 7);
  fails('FROM scratch\nRUN a &&\n  b\n', 'Dockerfile:3: unknown instruction: B', 3);
  fails('ARG X\nENV A=1\nFROM scratch\n', 'Dockerfile:2: no build stage in current context', 2);
  // A file of ARGs has no stage: the builder reports that.
  assert.deepEqual(parseDockerfile('ARG A\n').stages, []);
});
