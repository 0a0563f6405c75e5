// .dockerignore: parsing and matching, shared by the CLI (which leaves ignored files out of the context tar) and
// the daemon (which applies the same rules to COPY/ADD sources).
//
// Rules, as Docker documents them: one pattern a line; lines starting with `#` are comments; surrounding
// whitespace is dropped; `!` makes an exception; patterns are cleaned like Go's filepath.Clean and a leading `/`
// is dropped (everything is relative to the context root). Matching follows Go's filepath.Match (`*` and `?`
// never cross a `/`, `[...]` classes with `^` negation, `\` escapes) plus `**`, which matches any number of
// directories, including none. A pattern that matches a parent directory excludes everything below it, and the
// last pattern that matches a path decides.
import { invalidParameter } from './errors.ts';

export interface IgnorePattern {
  pattern: string;
  negate: boolean;
}

/** Go's path.Clean for '/'-separated paths ('' becomes '.'). */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const abs = p.startsWith('/');
  const out: string[] = [];
  for (const c of p.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!abs) out.push('..');
      continue;
    }
    out.push(c);
  }
  const s = out.join('/');
  if (abs) return `/${s}`;
  return s === '' ? '.' : s;
}

export function parseDockerignore(text: string): IgnorePattern[] {
  const out: IgnorePattern[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (const line of lines) {
    // A comment only when `#` is the very first character, as in Docker (indented `#` is a pattern).
    if (line.startsWith('#')) continue;
    let p = line.trim();
    if (p === '') continue;
    const negate = p.startsWith('!');
    if (negate) p = p.slice(1).trim();
    if (p === '') throw invalidParameter('illegal exclusion pattern: "!"');
    p = cleanPath(p);
    if (p.length > 1 && p.startsWith('/')) p = p.slice(1);
    compile(p); // reject malformed patterns here rather than on first use
    out.push({ pattern: p, negate });
  }
  return out;
}

const compiled = new Map<string, RegExp>();

/** Translates a (cleaned) pattern into an anchored regular expression. */
function compile(pattern: string, doubleStar = true): RegExp {
  const key = doubleStar ? pattern : `\0${pattern}`;
  const cached = compiled.get(key);
  if (cached) return cached;
  let re = '^';
  let i = 0;
  while (i < pattern.length) {
    const ch = pattern[i]!;
    if (ch === '*') {
      if (doubleStar && pattern[i + 1] === '*') {
        i += 2;
        if (pattern[i] === '/') i++; // `**/` is `**`
        // At the end, `**` takes everything; elsewhere it stands for any number of whole directories.
        re += i >= pattern.length ? '.*' : '(?:.*/)?';
        continue;
      }
      re += '[^/]*';
      i++;
      continue;
    }
    if (ch === '?') {
      re += '[^/]';
      i++;
      continue;
    }
    if (ch === '[') {
      const cls = parseClass(pattern, i);
      re += cls.re;
      i = cls.end;
      continue;
    }
    if (ch === '\\') {
      // A trailing backslash matches itself, as in Docker.
      const next = pattern[i + 1];
      re += escapeRe(next ?? '\\');
      i += next === undefined ? 1 : 2;
      continue;
    }
    re += escapeRe(ch);
    i++;
  }
  let r: RegExp;
  try {
    r = new RegExp(re + '$', 's');
  } catch {
    throw invalidParameter(`syntax error in pattern: ${pattern}`);
  }
  if (compiled.size > 10_000) compiled.clear();
  compiled.set(key, r);
  return r;
}

/** A `[...]` class starting at `start` (filepath.Match syntax: `^` negates, `\` escapes, `a-z` ranges). */
function parseClass(pattern: string, start: number): { re: string; end: number } {
  let i = start + 1;
  let re = '[';
  if (pattern[i] === '^') {
    re += '^/';
    i++;
  }
  let n = 0;
  for (;;) {
    if (i >= pattern.length) throw invalidParameter(`syntax error in pattern: ${pattern}`);
    let ch = pattern[i]!;
    if (ch === ']' && n > 0) break;
    if (ch === '\\') {
      i++;
      if (i >= pattern.length) throw invalidParameter(`syntax error in pattern: ${pattern}`);
      ch = pattern[i]!;
    }
    re += escapeClass(ch);
    i++;
    n++;
    if (pattern[i] === '-' && pattern[i + 1] !== ']' && i + 1 < pattern.length) {
      let hi = pattern[i + 1]!;
      i += 2;
      if (hi === '\\') {
        if (i >= pattern.length) throw invalidParameter(`syntax error in pattern: ${pattern}`);
        hi = pattern[i]!;
        i++;
      }
      if (hi < ch) throw invalidParameter(`syntax error in pattern: ${pattern}`);
      re += '-' + escapeClass(hi);
    }
  }
  return { re: re + ']', end: i + 1 };
}

function escapeRe(ch: string): string {
  return /[.*+?^${}()|[\]\\/]/.test(ch) ? `\\${ch}` : ch;
}

function escapeClass(ch: string): string {
  return /[\]\\^\-[]/.test(ch) ? `\\${ch}` : ch;
}

function matches(pattern: string, relPath: string): boolean {
  return compile(pattern).test(relPath);
}

/**
 * Whether `relPath` ('/'-separated, relative to the context root, no leading './') is excluded: the last
 * pattern that matches it or one of its parent directories decides.
 */
export function isIgnored(relPath: string, patterns: IgnorePattern[]): boolean {
  const p = cleanPath(relPath);
  if (p === '.' || patterns.length === 0) return false;
  const parents: string[] = [];
  for (let i = p.indexOf('/'); i !== -1; i = p.indexOf('/', i + 1)) parents.push(p.slice(0, i));
  let ignored = false;
  for (const pat of patterns) {
    // Only a pattern that could change the outcome needs evaluating.
    if (pat.negate !== ignored) continue;
    if (matches(pat.pattern, p) || parents.some((d) => matches(pat.pattern, d))) ignored = !pat.negate;
  }
  return ignored;
}

/**
 * Whether an ignored directory's whole subtree can be left out without looking inside it: false when an
 * exception could re-include something below it (Docker's rule: an exception pattern that starts with the
 * directory's path). Callers walking a tree use this to prune.
 */
export function canSkipDir(relDir: string, patterns: IgnorePattern[]): boolean {
  const dirSlash = `${cleanPath(relDir)}/`;
  return !patterns.some((p) => p.negate && `${p.pattern}/`.startsWith(dirSlash));
}

/** filepath.Match for a single path component (COPY/ADD source globs): `*`, `?`, `[...]`, `\` escapes. */
export function matchGlob(pattern: string, name: string): boolean {
  // `**` has no special meaning in a COPY source: it is two `*`.
  return compile(pattern, false).test(name);
}

/** Whether a COPY/ADD source contains glob metacharacters. */
export function hasGlob(s: string): boolean {
  return /[*?[]/.test(s);
}
