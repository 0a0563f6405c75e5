// Command-line flags with the semantics of spf13/pflag, which the docker CLI uses: `--name value`,
// `--name=value`, `-abc` groups of short flags, `-fvalue`, `--` to end flags, and the same error wording,
// because scripts and tests match on docker's messages.

export interface FlagDef {
  name: string;
  short?: string;
  /** Word shown after the flag in help ("string", "list", "bytes"...); empty for booleans. */
  type: string;
  desc: string;
  /** Value when the flag is not given. */
  def?: unknown;
  /** Shown as "(default ...)" in help when set. */
  defText?: string;
  /** Values accumulate in an array (docker's list, filter and map options). */
  repeat?: boolean;
  /** Converts and validates one occurrence; throw an Error with docker's wording to reject it. */
  parse?: (value: string) => unknown;
  hidden?: boolean;
}

export class FlagError extends Error {}

/** The flags of one command line after parsing. */
export class FlagValues {
  readonly #values = new Map<string, unknown>();
  readonly #changed = new Set<string>();
  readonly #defs: Map<string, FlagDef>;

  constructor(defs: Map<string, FlagDef>) {
    this.#defs = defs;
  }

  set(def: FlagDef, raw: string): void {
    let value: unknown;
    try {
      value = def.parse ? def.parse(raw) : def.type === '' ? parseBool(raw) : raw;
    } catch (err) {
      const label = def.short ? `-${def.short}, --${def.name}` : `--${def.name}`;
      throw new FlagError(`invalid argument ${goQuote(raw)} for ${goQuote(label)} flag: ${(err as Error).message}`);
    }
    if (def.repeat) {
      const prev = (this.#changed.has(def.name) ? this.#values.get(def.name) : []) as unknown[];
      this.#values.set(def.name, Array.isArray(value) ? [...prev, ...value] : [...prev, value]);
    } else {
      this.#values.set(def.name, value);
    }
    this.#changed.add(def.name);
  }

  changed(name: string): boolean {
    return this.#changed.has(name);
  }

  get(name: string): unknown {
    if (this.#changed.has(name)) return this.#values.get(name);
    const def = this.#defs.get(name);
    if (!def) throw new Error(`flag accessed but not defined: ${name}`);
    return def.def ?? (def.repeat ? [] : def.type === '' ? false : def.type === 'string' ? '' : undefined);
  }

  bool(name: string): boolean {
    return this.get(name) === true;
  }

  str(name: string): string {
    const v = this.get(name);
    return v === undefined ? '' : String(v);
  }

  num(name: string): number {
    return Number(this.get(name) ?? 0);
  }

  list(name: string): string[] {
    return (this.get(name) as string[] | undefined) ?? [];
  }
}

export interface ParsedArgs {
  flags: FlagValues;
  args: string[];
  help: boolean;
}

/**
 * Parses argv against defs. With interspersed false (docker run, create, exec) parsing stops at the first
 * positional argument so that everything after the image belongs to the container's command.
 */
export function parseFlags(defs: FlagDef[], argv: string[], opts: { interspersed?: boolean } = {}): ParsedArgs {
  const byName = new Map<string, FlagDef>();
  const byShort = new Map<string, FlagDef>();
  for (const d of defs) {
    byName.set(d.name, d);
    if (d.short) byShort.set(d.short, d);
  }
  const flags = new FlagValues(byName);
  const args: string[] = [];
  let help = false;
  const rest = [...argv];
  while (rest.length > 0) {
    const a = rest.shift()!;
    if (a === '--') {
      args.push(...rest);
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      args.push(a);
      if (opts.interspersed === false) {
        args.push(...rest);
        break;
      }
      continue;
    }
    if (a.startsWith('--')) {
      const body = a.slice(2);
      if (body === '' || body[0] === '-' || body[0] === '=') throw new FlagError(`bad flag syntax: ${a}`);
      const eq = body.indexOf('=');
      const name = eq >= 0 ? body.slice(0, eq) : body;
      const def = byName.get(name);
      if (!def) {
        if (name === 'help') {
          help = true;
          continue;
        }
        throw new FlagError(`unknown flag: --${name}`);
      }
      let value: string;
      if (eq >= 0) value = body.slice(eq + 1);
      else if (def.type === '') value = 'true';
      else if (rest.length > 0) value = rest.shift()!;
      else throw new FlagError(`flag needs an argument: ${a}`);
      flags.set(def, value);
      continue;
    }
    let shorts = a.slice(1);
    while (shorts.length > 0) {
      const c = shorts[0];
      const def = byShort.get(c);
      if (!def) {
        // pflag treats an unknown -h as a request for help (docker marks it deprecated in favour of --help).
        if (c === 'h') {
          help = true;
          shorts = shorts.slice(1);
          continue;
        }
        throw new FlagError(`unknown shorthand flag: '${c}' in -${shorts}`);
      }
      let value: string;
      let next = shorts.slice(1);
      if (shorts.length > 2 && shorts[1] === '=') {
        value = shorts.slice(2);
        next = '';
      } else if (def.type === '') {
        value = 'true';
      } else if (shorts.length > 1) {
        value = shorts.slice(1);
        next = '';
      } else if (rest.length > 0) {
        value = rest.shift()!;
      } else {
        throw new FlagError(`flag needs an argument: '${c}' in -${shorts}`);
      }
      flags.set(def, value);
      shorts = next;
    }
  }
  return { flags, args, help };
}

/** strconv.ParseBool */
export function parseBool(s: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  throw new Error(`strconv.ParseBool: parsing ${goQuote(s)}: invalid syntax`);
}

/** strconv.ParseInt(s, 0, 64), as pflag's int flags use. */
export function parseInt64(s: string): number {
  const m = /^([+-]?)(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO]?[0-7_]+|[0-9_]+)$/.exec(s);
  if (!m || /__|_$|^_/.test(m[2].replace(/^0[xXbBoO]/, ''))) throw new Error(`strconv.ParseInt: parsing ${goQuote(s)}: invalid syntax`);
  let digits = m[2].replaceAll('_', '');
  let n: bigint;
  if (/^0[oO]/.test(digits)) digits = '0o' + digits.slice(2);
  else if (/^0[0-7]+$/.test(digits)) digits = '0o' + digits.slice(1);
  n = BigInt(digits);
  if (m[1] === '-') n = -n;
  if (n > 9223372036854775807n || n < -9223372036854775808n) throw new Error(`strconv.ParseInt: parsing ${goQuote(s)}: value out of range`);
  return Number(n);
}

/** strconv.ParseUint(s, 0, bits) */
export function parseUint(s: string, bits = 64): number {
  if (s.startsWith('-') || s.startsWith('+')) throw new Error(`strconv.ParseUint: parsing ${goQuote(s)}: invalid syntax`);
  let n: number;
  try {
    n = parseInt64(s);
  } catch {
    throw new Error(`strconv.ParseUint: parsing ${goQuote(s)}: invalid syntax`);
  }
  if (n >= 2 ** bits) throw new Error(`strconv.ParseUint: parsing ${goQuote(s)}: value out of range`);
  return n;
}

/** Go's strconv.Quote, which docker uses in messages and in the COMMAND column. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\x07') out += '\\a';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\v') out += '\\v';
    else if (cp < 0x20 || cp === 0x7f) out += '\\x' + cp.toString(16).padStart(2, '0');
    else if (cp === 0xfffd && ch !== '\ufffd') out += '\\ufffd';
    else if (!isPrintable(cp)) out += cp > 0xffff ? '\\U' + cp.toString(16).padStart(8, '0') : '\\u' + cp.toString(16).padStart(4, '0');
    else out += ch;
  }
  return out + '"';
}

function isPrintable(cp: number): boolean {
  if (cp >= 0x80 && cp < 0xa0) return false;
  if (cp === 0xad) return false;
  if (cp >= 0xd800 && cp < 0xe000) return false;
  return /[\p{L}\p{M}\p{N}\p{P}\p{S}\u0020]/u.test(String.fromCodePoint(cp));
}

/**
 * Flag help in pflag's FlagUsagesWrapped layout: names padded to a common column, descriptions wrapped to cols.
 */
export function flagUsages(defs: FlagDef[], cols: number): string {
  const lines: string[] = [];
  let maxlen = 0;
  const sorted = defs.filter((d) => !d.hidden).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const d of sorted) {
    let line = d.short ? `  -${d.short}, --${d.name}` : `      --${d.name}`;
    if (d.type) line += ' ' + d.type;
    line += '\x00';
    if (line.length > maxlen) maxlen = line.length;
    line += d.desc;
    if (d.defText !== undefined) line += ` (default ${d.defText})`;
    lines.push(line);
  }
  let out = '';
  for (const line of lines) {
    const sidx = line.indexOf('\x00');
    const spacing = ' '.repeat(maxlen - sidx);
    out += `${line.slice(0, sidx)} ${spacing} ${wrap(maxlen + 2, cols, line.slice(sidx + 1))}\n`;
  }
  return out;
}

function wrapN(i: number, slop: number, s: string): [string, string] {
  if (i + slop > s.length) return [s, ''];
  const head = s.slice(0, i);
  const w = Math.max(head.lastIndexOf(' '), head.lastIndexOf('\t'), head.lastIndexOf('\n'));
  if (w <= 0) return [s, ''];
  const nl = head.lastIndexOf('\n');
  if (nl > 0 && nl < w) return [s.slice(0, nl), s.slice(nl + 1)];
  return [s.slice(0, w), s.slice(w + 1)];
}

function wrap(i: number, w: number, s: string): string {
  if (w === 0) return s.replaceAll('\n', '\n' + ' '.repeat(i));
  let width = w - i;
  let r = '';
  if (width < 24) {
    i = 16;
    width = w - i;
    r += '\n' + ' '.repeat(i);
  }
  if (width < 24) return s.replaceAll('\n', r);
  const slop = 5;
  width -= slop;
  let l: string;
  [l, s] = wrapN(width, slop, s);
  r += l.replaceAll('\n', '\n' + ' '.repeat(i));
  while (s !== '') {
    let t: string;
    [t, s] = wrapN(width, slop, s);
    r += '\n' + ' '.repeat(i) + t.replaceAll('\n', '\n' + ' '.repeat(i));
  }
  return r;
}
