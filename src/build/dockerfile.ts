// The Dockerfile parser, following Docker's reference and its parser's observable behaviour: parser directives
// (`# syntax=`, `# escape=`, `# check=`) only at the very top; `#` comment lines and empty lines dropped, also
// inside continued instructions; the escape character at the end of a line (trailing blanks allowed) continues
// the instruction; keywords are case-insensitive; `[...]` is the exec form only when it decodes as a JSON array
// (of strings only, else an error); heredocs (`<<EOF`, `<<-EOF`, `<<'EOF'`) for RUN, COPY and ADD. Values are
// not expanded here: the builder expands them (shell-words.ts) with the ARG/ENV values of the step.
import { lexWords } from './shell-words.ts';
import { parseGoDurationNanos } from '../lib/units.ts';

export class DockerfileError extends Error {
  readonly line: number;
  /** The message without the `Dockerfile:N: ` prefix (Docker's own wording). */
  readonly detail: string;

  constructor(detail: string, line: number, file = 'Dockerfile') {
    super(line > 0 ? `${file}:${line}: ${detail}` : detail);
    this.name = 'DockerfileError';
    this.line = line;
    this.detail = detail;
  }
}

export interface Heredoc {
  name: string;
  /** Lines up to the terminator, each ending in \n; for `<<-` the leading tabs are already removed. */
  content: string;
  expand: boolean;
  chomp: boolean;
}

export interface Instruction {
  cmd: string;
  line: number;
  endLine: number;
  original: string;
  /** The last value of each flag ('' for a bare boolean flag). */
  flags: Record<string, string>;
  /** Every value of each flag in order: `RUN --mount=a --mount=b`, `COPY --exclude=x --exclude=y`. */
  flagValues: Record<string, string[]>;
  args: string[];
  json: boolean;
  kv?: [string, string | undefined][];
  heredocs: Heredoc[];
  /** ONBUILD's trigger instruction; for HEALTHCHECK CMD, the command as a CMD instruction (json or shell form). */
  sub?: Instruction;
}

export interface Stage {
  index: number;
  name?: string;
  from: Instruction;
  instructions: Instruction[];
}

export interface Dockerfile {
  escape: string;
  syntax?: string;
  metaArgs: Instruction[];
  stages: Stage[];
}

export interface ParseOptions {
  /** The Dockerfile's name for messages (`the Dockerfile (x) cannot be empty`, `x:7: ...`). */
  name?: string;
}

const KNOWN = new Set([
  'ADD', 'ARG', 'CMD', 'COPY', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'FROM', 'HEALTHCHECK', 'LABEL', 'MAINTAINER',
  'ONBUILD', 'RUN', 'SHELL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR',
]);

type FlagKind = 'bool' | 'string' | 'strings';
const FLAGS: Record<string, Record<string, FlagKind>> = {
  FROM: { platform: 'string' },
  RUN: { mount: 'strings', network: 'string', security: 'string', device: 'strings' },
  COPY: { from: 'string', chown: 'string', chmod: 'string', link: 'bool', parents: 'bool', exclude: 'strings' },
  ADD: {
    chown: 'string', chmod: 'string', link: 'bool', 'keep-git-dir': 'bool', checksum: 'string', exclude: 'strings',
    unpack: 'bool',
  },
  HEALTHCHECK: { interval: 'string', timeout: 'string', 'start-period': 'string', 'start-interval': 'string', retries: 'string' },
};

const HEREDOC_CMDS = new Set(['RUN', 'COPY', 'ADD']);
const DIRECTIVES = new Set(['syntax', 'escape', 'check']);
// Go's \s (what Docker's regular expressions use) is [\t\n\f\r ]; the instruction splitter also takes \v.
const DIRECTIVE_RE = /^#[\t\f\r ]*([a-zA-Z][a-zA-Z0-9]*)[\t\f\r ]*=[\t\f\r ]*(.+?)[\t\f\r ]*$/;
const HEREDOC_RE = /^(\d*)<<(-?)([^<]*)$/;
const STAGE_NAME_RE = /^[a-z][a-z0-9-_.]*$/;
const WS = /[\t\v\f\r ]+/;

function isSpace(ch: string | undefined): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ch === '\v' || ch === '\f';
}

function isComment(line: string): boolean {
  return line.trimStart().startsWith('#');
}

function splitWhitespace(s: string): string[] {
  const t = s.trim();
  return t === '' ? [] : t.split(WS);
}

function goQuote(s: string): string {
  return JSON.stringify(s);
}

class Fail extends Error {}

// Errors raised while reading one instruction carry no line yet; parseDockerfile adds the instruction's.
function fail(message: string): never {
  throw new Fail(message);
}

export function parseDockerfile(text: string, options: ParseOptions = {}): Dockerfile {
  const file = options.name ?? 'Dockerfile';
  if (text.length === 0) throw new DockerfileError(`the Dockerfile (${file}) cannot be empty`, 0, file);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lines = text.split(/\r?\n/);
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();

  // Parser directives: only while every line so far was one (a `#!` first line is allowed).
  let escape = '\\';
  let syntax: string | undefined;
  const seen = new Set<string>();
  for (let i = 0; i < lines.length; i++) {
    const t = lines[i].trimStart();
    if (i === 0 && t.startsWith('#!')) continue;
    const m = DIRECTIVE_RE.exec(t);
    if (!m) break;
    const key = m[1].toLowerCase();
    if (!DIRECTIVES.has(key)) break;
    if (seen.has(key)) throw new DockerfileError(`only one ${key} parser directive can be used`, i + 1, file);
    seen.add(key);
    if (key === 'escape') {
      if (m[2] !== '`' && m[2] !== '\\') throw new DockerfileError(`invalid escape token '${m[2]}' does not match \` or \\`, i + 1, file);
      escape = m[2];
    } else if (key === 'syntax') {
      syntax = m[2];
    }
  }

  const continuation = new RegExp(`${escape === '\\' ? '\\\\' : '`'}[ \\t]*$`);
  const trimContinuation = (s: string): [string, boolean] => {
    const m = continuation.exec(s);
    return m ? [s.slice(0, m.index), false] : [s, true];
  };

  const all: Instruction[] = [];
  for (let i = 0; i < lines.length; i++) {
    const first = lines[i].trimStart();
    let [line, end] = trimContinuation(isComment(first) ? '' : first);
    if (end && line === '') continue;
    const startLine = i + 1;
    // Comment and blank lines inside a continued instruction are skipped; other lines keep their indentation.
    while (!end && i + 1 < lines.length) {
      i++;
      const raw = lines[i];
      if (isComment(raw) || raw.trim() === '') continue;
      const [part, e] = trimContinuation(raw);
      line += part;
      end = e;
    }
    let ins: Instruction;
    try {
      ins = parseInstruction(line, startLine, escape);
    } catch (err) {
      if (err instanceof Fail) throw new DockerfileError(err.message, startLine, file);
      throw err;
    }
    ins.endLine = i + 1;

    // Heredoc bodies follow the instruction's (continued) line, in the order the names appear.
    const target = ins.cmd === 'ONBUILD' ? ins.sub : ins;
    if (target && HEREDOC_CMDS.has(target.cmd) && !target.json && line.includes('<<')) {
      let docs: Heredoc[];
      try {
        docs = heredocsFromLine(line);
      } catch (err) {
        if (err instanceof Fail) throw new DockerfileError(err.message, startLine, file);
        throw err;
      }
      for (const doc of docs) {
        let terminated = false;
        let content = '';
        while (i + 1 < lines.length) {
          i++;
          const raw = lines[i];
          const candidate = doc.chomp ? raw.replace(/^\t+/, '') : raw;
          if (candidate === doc.name) {
            terminated = true;
            break;
          }
          content += (doc.chomp ? raw.replace(/^\t+/, '') : raw) + '\n';
        }
        if (!terminated) throw new DockerfileError('unterminated heredoc', startLine, file);
        doc.content = content;
      }
      target.heredocs = docs;
      if (target !== ins) ins.heredocs = docs;
      ins.endLine = i + 1;
      if (target !== ins) target.endLine = i + 1;
    }
    all.push(ins);
  }

  if (all.length === 0) throw new DockerfileError('file with no instructions', 0, file);

  const metaArgs: Instruction[] = [];
  const stages: Stage[] = [];
  const names = new Set<string>();
  for (const ins of all) {
    if (ins.cmd === 'FROM') {
      const name = ins.args.length === 3 ? ins.args[2].toLowerCase() : undefined;
      if (name !== undefined) {
        if (names.has(name)) throw new DockerfileError(`duplicate stage name ${goQuote(name)}`, ins.line, file);
        names.add(name);
      }
      stages.push({ index: stages.length, ...(name !== undefined ? { name } : {}), from: ins, instructions: [] });
    } else if (stages.length === 0) {
      if (ins.cmd !== 'ARG') throw new DockerfileError('no build stage in current context', ins.line, file);
      metaArgs.push(ins);
    } else {
      stages[stages.length - 1].instructions.push(ins);
    }
  }
  return { escape, ...(syntax !== undefined ? { syntax } : {}), metaArgs, stages };
}

function parseInstruction(line: string, startLine: number, escape: string): Instruction {
  const trimmed = line.trim();
  const m = /^(\S+)(?:[\t\v\f\r ]+([\s\S]*))?$/.exec(trimmed)!;
  const word = m[1];
  const cmd = word.toUpperCase();
  const { rest, flagWords } = m[2] === undefined ? { rest: '', flagWords: [] } : extractFlags(m[2]);
  if (!KNOWN.has(cmd)) fail(`unknown instruction: ${cmd}`);

  const ins: Instruction = {
    cmd, line: startLine, endLine: startLine, original: line.trimEnd(), flags: {}, flagValues: {},
    args: rest === '' ? [] : [rest], json: false, heredocs: [],
  };
  // HEALTHCHECK NONE ignores flags (Docker never looks at them there).
  const checkFlags = !(cmd === 'HEALTHCHECK' && rest.split(WS)[0]?.toUpperCase() === 'NONE');
  if (checkFlags) parseFlags(ins, flagWords);

  switch (cmd) {
    case 'FROM': {
      ins.args = splitWhitespace(rest);
      const a = ins.args;
      if (a.length === 3 && a[1].toLowerCase() === 'as') {
        if (!STAGE_NAME_RE.test(a[2].toLowerCase())) {
          fail(`invalid name for build stage: ${goQuote(a[2])}, name can't start with a number or contain symbols`);
        }
      } else if (a.length !== 1) {
        fail('FROM requires either one or three arguments');
      }
      break;
    }
    case 'RUN':
    case 'CMD':
    case 'ENTRYPOINT':
    case 'SHELL': {
      Object.assign(ins, maybeJSON(rest));
      if (cmd === 'SHELL') {
        if (ins.args.length === 0) fail('SHELL requires at least one argument');
        if (!ins.json) fail('SHELL requires the arguments to be in JSON form');
      }
      break;
    }
    case 'ADD':
    case 'COPY': {
      Object.assign(ins, maybeJSON(rest));
      const words = ins.json ? ins.args : splitWhitespace(rest);
      if (words.length < 2) fail(`${cmd} requires at least two arguments, but only one was provided. Destination could not be determined`);
      if (!ins.json && HEREDOC_RE.test(words[words.length - 1]) && heredocName(words[words.length - 1]) !== undefined) {
        fail(`${cmd} cannot accept a heredoc as a destination`);
      }
      break;
    }
    case 'VOLUME': {
      Object.assign(ins, maybeJSON(rest));
      if (ins.args.length === 0) fail('VOLUME requires at least one argument');
      if (ins.json && ins.args.some((v) => v.trim() === '')) fail('VOLUME specified can not be an empty string');
      break;
    }
    case 'ENV':
    case 'LABEL': {
      ins.kv = nameValues(rest, cmd, escape);
      if (ins.kv.length === 0) fail(`${cmd} requires at least one argument`);
      if (ins.kv.some(([k]) => k === '')) fail(`${cmd} names can not be blank`);
      break;
    }
    case 'ARG': {
      const words = parseWords(rest, escape);
      if (words.length === 0) fail('ARG requires at least one argument');
      ins.kv = words.map((w): [string, string | undefined] => {
        const eq = w.indexOf('=');
        if (eq < 0) return [w, undefined];
        if (eq === 0) fail('ARG names can not be blank');
        return [w.slice(0, eq), w.slice(eq + 1)];
      });
      break;
    }
    case 'MAINTAINER':
    case 'USER':
    case 'WORKDIR':
    case 'STOPSIGNAL':
      if (ins.args.length !== 1) fail(`${cmd} requires exactly one argument`);
      break;
    case 'EXPOSE':
      if (ins.args.length === 0) fail('EXPOSE requires at least one argument');
      break;
    case 'HEALTHCHECK': {
      if (rest === '') fail('HEALTHCHECK requires at least one argument');
      const sep = /[\t\v\f\r ]+/.exec(rest);
      const type = (sep ? rest.slice(0, sep.index) : rest).toUpperCase();
      const after = sep ? rest.slice(sep.index + sep[0].length) : '';
      const sub = maybeJSON(after);
      ins.json = sub.json;
      if (type === 'NONE') {
        if (sub.args.length > 0) fail('HEALTHCHECK NONE takes no arguments');
        break;
      }
      if (type !== 'CMD') fail(`Unknown type ${goQuote(type)} in HEALTHCHECK (try CMD)`);
      if (sub.args.length === 0) fail('Missing command after HEALTHCHECK CMD');
      for (const k of ['interval', 'timeout', 'start-period', 'start-interval']) {
        const v = ins.flags[k];
        if (!v) continue;
        let ns: bigint;
        try {
          ns = parseGoDurationNanos(v);
        } catch (err) {
          fail((err as Error).message);
        }
        if (ns !== 0n && ns < 1_000_000n) fail(`Interval ${goQuote(k)} cannot be less than 1ms`);
      }
      const retries = ins.flags.retries;
      if (retries) {
        if (!/^[+-]?\d+$/.test(retries) || Math.abs(Number(retries)) > 2 ** 31 - 1) {
          fail(`strconv.ParseInt: parsing ${goQuote(retries)}: ${/^[+-]?\d+$/.test(retries) ? 'value out of range' : 'invalid syntax'}`);
        }
        if (Number(retries) < 0) fail(`--retries cannot be negative (${Number(retries)})`);
      }
      ins.sub = {
        cmd: 'CMD', line: startLine, endLine: startLine, original: after, flags: {}, flagValues: {}, args: sub.args,
        json: sub.json, heredocs: [],
      };
      break;
    }
    case 'ONBUILD': {
      if (rest === '') fail('ONBUILD requires at least one argument');
      const trigger = rest.split(WS)[0].toUpperCase();
      if (trigger === 'ONBUILD') fail('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
      if (trigger === 'MAINTAINER' || trigger === 'FROM') fail(`${trigger} isn't allowed as an ONBUILD trigger`);
      ins.sub = parseInstruction(rest, startLine, escape);
      break;
    }
  }
  return ins;
}

// Leading `--name[=value]` words (quotes and backslashes removed inside them), then the rest as written.
function extractFlags(s: string): { rest: string; flagWords: string[] } {
  const flagWords: string[] = [];
  let pos = 0;
  for (;;) {
    while (pos < s.length && isSpace(s[pos])) pos++;
    if (pos >= s.length) return { rest: '', flagWords };
    if (!(s[pos] === '-' && s[pos + 1] === '-')) return { rest: s.slice(pos).trimEnd(), flagWords };
    let word = '';
    let quote = '';
    let blankOK = false;
    for (; pos < s.length; pos++) {
      let ch = s[pos];
      if (quote) {
        if (ch === quote) {
          quote = '';
          continue;
        }
      } else {
        if (isSpace(ch)) break;
        if (ch === "'" || ch === '"') {
          quote = ch;
          blankOK = true;
          continue;
        }
      }
      if (ch === '\\') {
        if (pos + 1 === s.length) continue;
        ch = s[++pos];
      }
      word += ch;
    }
    // A lone `--` ends the flags.
    if (word === '--') {
      while (pos < s.length && isSpace(s[pos])) pos++;
      return { rest: s.slice(pos).trimEnd(), flagWords };
    }
    if (blankOK || word.length > 0) flagWords.push(word);
  }
}

function parseFlags(ins: Instruction, words: string[]): void {
  const known = FLAGS[ins.cmd] ?? {};
  for (const w of words) {
    let name = w.slice(2);
    let value = '';
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    const kind = Object.hasOwn(known, name) ? known[name] : undefined;
    if (kind === undefined) fail(`unknown flag: ${name}`);
    if (kind !== 'strings' && Object.hasOwn(ins.flags, name)) fail(`duplicate flag specified: ${name}`);
    if (kind === 'bool') {
      if (eq >= 0 && value === '') fail(`missing a value on flag: ${name}`);
      const lower = value.toLowerCase();
      if (lower !== '' && lower !== 'true' && lower !== 'false') fail(`expecting boolean value for flag ${name}, not: ${value}`);
      value = lower;
    } else if (eq < 0) {
      fail(`missing a value on flag: ${name}`);
    }
    ins.flags[name] = value;
    (ins.flagValues[name] ??= []).push(value);
  }
}

// Docker decodes the first JSON value after `[` and ignores anything after it; a value that does not decode
// means the shell form, but a decoded array with a non-string element is an error.
function maybeJSON(rest: string): { args: string[]; json: boolean } {
  if (rest === '') return { args: [], json: false };
  const t = rest.trimStart();
  if (t.startsWith('[')) {
    const end = jsonValueEnd(t);
    if (end > 0) {
      let value: unknown;
      let ok = true;
      try {
        value = JSON.parse(t.slice(0, end));
      } catch {
        ok = false;
      }
      if (ok && Array.isArray(value)) {
        if (!value.every((v) => typeof v === 'string')) fail('when using JSON array syntax, arrays must be comprised of strings only');
        return { args: value as string[], json: true };
      }
    }
  }
  return { args: [rest], json: false };
}

// The end (exclusive) of the bracketed JSON value starting at 0, or -1 when it never closes.
function jsonValueEnd(s: string): number {
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch === '"') {
      for (i++; i < s.length && s[i] !== '"'; i++) if (s[i] === '\\') i++;
      if (i >= s.length) return -1;
    } else if (ch === '[' || ch === '{') {
      depth++;
    } else if (ch === ']' || ch === '}') {
      if (--depth === 0) return i + 1;
    }
  }
  return -1;
}

// Splits on unquoted whitespace keeping quotes and escapes as written (ENV, LABEL, ARG); the builder's
// expansion removes them later.
function parseWords(s: string, escape: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote = '';
  let blankOK = false;
  for (let pos = 0; pos < s.length; pos++) {
    const ch = s[pos];
    if (!inWord) {
      if (isSpace(ch)) continue;
      inWord = true;
    }
    if (quote) {
      if (ch === quote) quote = '';
      else if (ch === escape && quote !== "'") {
        if (pos + 1 === s.length) continue;
        word += ch + s[++pos];
        continue;
      }
      word += ch;
      continue;
    }
    if (isSpace(ch)) {
      if (blankOK || word.length > 0) words.push(word);
      word = '';
      inWord = false;
      blankOK = false;
      continue;
    }
    if (ch === "'" || ch === '"') {
      quote = ch;
      blankOK = true;
    } else if (ch === escape) {
      if (pos + 1 === s.length) continue;
      word += ch + s[++pos];
      continue;
    }
    word += ch;
  }
  if (inWord && (blankOK || word.length > 0)) words.push(word);
  return words;
}

// ENV/LABEL: `key=value ...`, or the legacy `key value` (value = the rest of the line) when the first word has
// no `=`.
function nameValues(rest: string, cmd: string, escape: string): [string, string | undefined][] {
  const words = parseWords(rest, escape);
  if (words.length === 0) return [];
  if (!words[0].includes('=')) {
    const m = WS.exec(rest);
    if (!m) fail(`${cmd} must have two arguments`);
    return [[rest.slice(0, m.index), rest.slice(m.index + m[0].length)]];
  }
  return words.map((w): [string, string] => {
    const eq = w.indexOf('=');
    if (eq < 0) fail(`Syntax error - can't find = in ${goQuote(w)}. Must be of the form: name=value`);
    return [w.slice(0, eq), w.slice(eq + 1)];
  });
}

// A heredoc word's name with its quotes removed, or undefined when it is not a heredoc (`<<` alone, several
// words).
function heredocName(word: string): string | undefined {
  const m = HEREDOC_RE.exec(word);
  if (!m || m[3] === '') return undefined;
  try {
    const words = lexWords(m[3], {}, '\\', { skipUnset: true }).words;
    return words.length === 1 ? words[0] : undefined;
  } catch {
    return undefined;
  }
}

// Heredocs named on the instruction line, in order. Docker finds them with its default `\` escape whatever the
// escape directive says; a quoted delimiter (any quote in it) turns expansion off.
function heredocsFromLine(line: string): Heredoc[] {
  let words: string[];
  try {
    words = lexWords(line, {}, '\\', { rawQuotes: true, rawEscapes: true, skipUnset: true }).words;
  } catch {
    return [];
  }
  const docs: Heredoc[] = [];
  for (const w of words) {
    const m = HEREDOC_RE.exec(w);
    if (!m || m[3] === '') continue;
    let plain: string[];
    let raw: string[];
    try {
      plain = lexWords(m[3], {}, '\\', { skipUnset: true }).words;
      raw = lexWords(m[3], {}, '\\', { rawQuotes: true, skipUnset: true }).words;
    } catch {
      continue;
    }
    if (plain.length !== 1) continue;
    if (raw.length !== 1) fail(`internal lexing of heredoc produced inconsistent results: ${m[3]}`);
    const quotes = (s: string) => (s.match(/['"]/g) ?? []).length;
    docs.push({ name: plain[0], content: '', expand: quotes(plain[0]) === quotes(raw[0]), chomp: m[2] === '-' });
  }
  return docs;
}
