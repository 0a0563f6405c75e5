// Docker's word expansion for Dockerfile instructions (the builder's, not a shell's): ADD, COPY, ENV, EXPOSE,
// FROM, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR and ONBUILD's triggers are expanded with the build's ARG/ENV
// values before use; RUN, CMD and ENTRYPOINT are left to the shell. Supported, as in the Dockerfile reference:
// $VAR, ${VAR}, ${VAR:-w}, ${VAR-w}, ${VAR:+w}, ${VAR+w}, ${VAR:?msg}, ${VAR?msg} and the pattern forms
// ${VAR#p}, ${VAR##p}, ${VAR%p}, ${VAR%%p}, ${VAR/p/r}, ${VAR//p/r}; single quotes are literal, double quotes
// expand; the escape character (\ or the `# escape=` one) makes the next character literal. An unset variable
// expands to ''.

/** An expansion the builder must refuse: `${VAR:?msg}`, a bad substitution, an unterminated quote. */
export class ShellWordsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShellWordsError';
  }
}

export interface LexOptions {
  /** Keep quote characters in the output (only their meaning applies). */
  rawQuotes?: boolean;
  /** Keep the escape character in the output. */
  rawEscapes?: boolean;
  /** Leave `$VAR` / `${VAR}` as written when VAR is unset (used to find heredoc names without expanding). */
  skipUnset?: boolean;
}

const SPECIAL_PARAMS = '@*#?-$!0';

class WordCollector {
  words: string[] = [];
  private cur = '';
  private inWord = false;

  // Characters from unquoted text and from expansions: whitespace ends a word (Docker splits $VAR's value too).
  addSplit(s: string): void {
    for (const ch of s) {
      if (isSpace(ch)) {
        if (this.inWord) this.words.push(this.cur);
        this.cur = '';
        this.inWord = false;
      } else {
        this.cur += ch;
        this.inWord = true;
      }
    }
  }

  // Quoted or escaped text: never splits, and `""` alone still makes an (empty) word.
  addRaw(s: string): void {
    this.cur += s;
    this.inWord = true;
  }

  finish(): string[] {
    if (this.inWord) this.words.push(this.cur);
    return this.words;
  }
}

function isSpace(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ch === '\v' || ch === '\f';
}

function isNameChar(ch: string | undefined): boolean {
  return ch !== undefined && /^[A-Za-z0-9_]$/.test(ch);
}

class Lexer {
  private pos = 0;
  private readonly src: string;
  private readonly env: Record<string, string>;
  private readonly esc: string;
  private readonly opts: LexOptions;

  constructor(src: string, env: Record<string, string>, esc: string, opts: LexOptions) {
    this.src = src;
    this.env = env;
    this.esc = esc;
    this.opts = opts;
  }

  /** The whole input: the expanded text and its words. */
  run(): { text: string; words: string[] } {
    const r = this.until(null);
    return { text: r.text, words: r.words };
  }

  // Reads up to `stop` (consumed) or the end; `found` says whether `stop` was seen.
  private until(stop: string | null): { text: string; words: string[]; found: boolean } {
    const wc = new WordCollector();
    let text = '';
    let found = false;
    while (this.pos < this.src.length) {
      const ch = this.src[this.pos];
      if (stop !== null && ch === stop) {
        this.pos++;
        found = true;
        break;
      }
      if (ch === "'") {
        const s = this.singleQuoted();
        text += s;
        wc.addRaw(s);
      } else if (ch === '"') {
        const s = this.doubleQuoted();
        text += s;
        wc.addRaw(s);
      } else if (ch === '$') {
        const s = this.dollar();
        text += s;
        wc.addSplit(s);
      } else if (ch === this.esc) {
        this.pos++;
        // An escape at the very end is dropped, as Docker does.
        if (this.pos >= this.src.length) break;
        const next = this.src[this.pos++];
        const s = this.opts.rawEscapes ? ch + next : next;
        text += s;
        wc.addRaw(s);
      } else {
        this.pos++;
        text += ch;
        wc.addSplit(ch);
      }
    }
    return { text, words: wc.finish(), found };
  }

  private singleQuoted(): string {
    const start = this.pos;
    const end = this.src.indexOf("'", start + 1);
    if (end < 0) throw new ShellWordsError('unexpected end of statement while looking for matching single-quote');
    this.pos = end + 1;
    const body = this.src.slice(start + 1, end);
    return this.opts.rawQuotes ? `'${body}'` : body;
  }

  private doubleQuoted(): string {
    this.pos++;
    let out = this.opts.rawQuotes ? '"' : '';
    for (;;) {
      if (this.pos >= this.src.length) throw new ShellWordsError('unexpected end of statement while looking for matching double-quote');
      const ch = this.src[this.pos];
      if (ch === '"') {
        this.pos++;
        if (this.opts.rawQuotes) out += '"';
        return out;
      }
      if (ch === '$') {
        out += this.dollar();
        continue;
      }
      this.pos++;
      if (ch === this.esc) {
        const next = this.src[this.pos];
        if (next === undefined) continue;
        // Inside double quotes only ", $ and the escape itself can be escaped; other escapes stay as written.
        if (next === '"' || next === '$' || next === this.esc) {
          this.pos++;
          out += this.opts.rawEscapes ? ch + next : next;
          continue;
        }
      }
      out += ch;
    }
  }

  private lookup(name: string): string | undefined {
    return Object.hasOwn(this.env, name) ? this.env[name] : undefined;
  }

  private readName(): string {
    const start = this.pos;
    if (this.src[this.pos] !== undefined && /[0-9]/.test(this.src[this.pos])) {
      // Positional parameters are one digit, as in sh ($10 is $1 then 0).
      this.pos++;
      return this.src.slice(start, this.pos);
    }
    while (isNameChar(this.src[this.pos])) this.pos++;
    return this.src.slice(start, this.pos);
  }

  private dollar(): string {
    const start = this.pos;
    this.pos++;
    const c = this.src[this.pos];
    if (c === undefined) return '$';
    if (c === '{') {
      this.pos++;
      let name: string;
      if (this.src[this.pos] !== undefined && SPECIAL_PARAMS.includes(this.src[this.pos]) && this.src[this.pos + 1] === '}') {
        name = this.src[this.pos++];
      } else {
        name = this.readName();
      }
      const op = this.src[this.pos];
      if (op === undefined) throw new ShellWordsError("syntax error: missing '}'");
      if (name === '' && op !== '}') throw new ShellWordsError(`bad substitution: ${this.src.slice(start)}`);
      const value = this.lookup(name);
      if (op === '}') {
        this.pos++;
        if (value === undefined && this.opts.skipUnset) return this.src.slice(start, this.pos);
        return value ?? '';
      }
      if (op === ':') {
        this.pos++;
        const mod = this.src[this.pos];
        if (mod !== '-' && mod !== '+' && mod !== '?') {
          throw new ShellWordsError(`unsupported modifier (:${mod ?? ''}) in substitution`);
        }
        this.pos++;
        const word = this.bracedWord();
        return applyModifier(name, value, mod, word, true);
      }
      if (op === '-' || op === '+' || op === '?') {
        this.pos++;
        const word = this.bracedWord();
        return applyModifier(name, value, op, word, false);
      }
      if (op === '#' || op === '%') {
        this.pos++;
        const longest = this.src[this.pos] === op;
        if (longest) this.pos++;
        const pattern = this.bracedWord();
        const v = value ?? '';
        return op === '#' ? trimPrefix(v, pattern, longest) : trimSuffix(v, pattern, longest);
      }
      if (op === '/') {
        this.pos++;
        const all = this.src[this.pos] === '/';
        if (all) this.pos++;
        const pat = this.until('/');
        let replacement = '';
        if (pat.found) {
          const rep = this.until('}');
          if (!rep.found) throw new ShellWordsError("syntax error: missing '}'");
          replacement = rep.text;
        } else {
          // `${v/p}` (no replacement): until('/') ran to the end, so the closing brace was inside the pattern.
          throw new ShellWordsError("syntax error: missing '}'");
        }
        return replacePattern(value ?? '', pat.text, replacement, all);
      }
      throw new ShellWordsError(`unsupported modifier (${op}) in substitution`);
    }
    if (SPECIAL_PARAMS.includes(c) && !/[0-9]/.test(c)) {
      this.pos++;
      const v = this.lookup(c);
      if (v === undefined && this.opts.skipUnset) return this.src.slice(start, this.pos);
      return v ?? '';
    }
    if (isNameChar(c)) {
      const name = this.readName();
      const v = this.lookup(name);
      if (v === undefined && this.opts.skipUnset) return this.src.slice(start, this.pos);
      return v ?? '';
    }
    // `$` before anything else (space, `/`, end of a quoted string...) is a literal dollar.
    return '$';
  }

  private bracedWord(): string {
    const r = this.until('}');
    if (!r.found) throw new ShellWordsError("syntax error: missing '}'");
    return r.text;
  }
}

function applyModifier(name: string, value: string | undefined, mod: string, word: string, colon: boolean): string {
  // With the colon, an empty value counts as unset.
  const set = colon ? value !== undefined && value !== '' : value !== undefined;
  switch (mod) {
    case '-':
      return set ? value! : word;
    case '+':
      return set ? word : '';
    default: // '?'
      if (set) return value!;
      throw new ShellWordsError(`${name}: ${word || (colon ? 'is not allowed to be empty' : 'is not allowed to be unset')}`);
  }
}

// The pattern of ${v#p} and friends: `*` any run, `?` any one character, `\*` / `\?` literal.
function globRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '\\' && i + 1 < pattern.length) re += escapeRegExp(pattern[++i]);
    else if (ch === '*') re += '[\\s\\S]*';
    else if (ch === '?') re += '[\\s\\S]';
    else re += escapeRegExp(ch);
  }
  return new RegExp(`^${re}$`);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function trimPrefix(v: string, pattern: string, longest: boolean): string {
  const re = globRegExp(pattern);
  if (longest) {
    for (let n = v.length; n >= 0; n--) if (re.test(v.slice(0, n))) return v.slice(n);
  } else {
    for (let n = 0; n <= v.length; n++) if (re.test(v.slice(0, n))) return v.slice(n);
  }
  return v;
}

function trimSuffix(v: string, pattern: string, longest: boolean): string {
  const re = globRegExp(pattern);
  if (longest) {
    for (let n = 0; n <= v.length; n++) if (re.test(v.slice(n))) return v.slice(0, n);
  } else {
    for (let n = v.length; n >= 0; n--) if (re.test(v.slice(n))) return v.slice(0, n);
  }
  return v;
}

function replacePattern(v: string, pattern: string, replacement: string, all: boolean): string {
  if (pattern === '') return v;
  const re = globRegExp(pattern);
  let out = '';
  let i = 0;
  while (i <= v.length) {
    let matched = -1;
    // Longest match at the leftmost position, as sh does.
    for (let j = v.length; j > i; j--) {
      if (re.test(v.slice(i, j))) {
        matched = j;
        break;
      }
    }
    if (matched < 0) {
      if (i < v.length) out += v[i];
      i++;
      continue;
    }
    out += replacement;
    i = matched;
    if (!all) return out + v.slice(i);
  }
  return out;
}

/** Lower-level access: the expanded text and its words under the given options. */
export function lexWords(text: string, env: Record<string, string>, escape = '\\', opts: LexOptions = {}): { text: string; words: string[] } {
  return new Lexer(text, env, escape, opts).run();
}

/** One word, variables expanded and quotes/escapes removed; whitespace is kept (`ENV a="x  y"` → `x  y`). */
export function expandWord(word: string, env: Record<string, string>, escape = '\\'): string {
  return new Lexer(word, env, escape, {}).run().text;
}

/**
 * Words split on unquoted whitespace (including whitespace that an unquoted `$VAR` expands to), each expanded
 * and unquoted: COPY/ADD sources, EXPOSE, VOLUME's shell form.
 */
export function expandWords(text: string, env: Record<string, string>, escape = '\\'): string[] {
  return new Lexer(text, env, escape, {}).run().words;
}

/**
 * Heredoc content whose delimiter was not quoted (`COPY <<EOF`): variables expand but quotes stay literal, and
 * the escape character only escapes `$`, itself and a newline, like a shell's here-document.
 */
export function expandHeredoc(content: string, env: Record<string, string>, escape = '\\'): string {
  let out = '';
  let i = 0;
  while (i < content.length) {
    const ch = content[i];
    if (ch === escape && i + 1 < content.length) {
      const next = content[i + 1];
      if (next === '$' || next === escape) {
        out += next;
        i += 2;
        continue;
      }
      if (next === '\n') {
        i += 2;
        continue;
      }
      out += ch;
      i++;
      continue;
    }
    if (ch === '$') {
      // Reuse the word lexer on just the `$...` expansion so that all forms behave the same.
      const end = dollarEnd(content, i);
      out += new Lexer(content.slice(i, end), env, escape, {}).run().text;
      i = end;
      continue;
    }
    out += ch;
    i++;
  }
  return out;
}

// The end (exclusive) of the `$...` expansion starting at i.
function dollarEnd(s: string, i: number): number {
  const c = s[i + 1];
  if (c === '{') {
    let depth = 0;
    for (let j = i + 1; j < s.length; j++) {
      if (s[j] === '{') depth++;
      else if (s[j] === '}' && --depth === 0) return j + 1;
    }
    return s.length;
  }
  if (c !== undefined && /[0-9]/.test(c)) return i + 2;
  if (c !== undefined && SPECIAL_PARAMS.includes(c)) return i + 2;
  let j = i + 1;
  while (isNameChar(s[j])) j++;
  return j;
}
