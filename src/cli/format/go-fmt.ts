// Go `fmt` emulation for the values the template engine handles.
//
// Value model (how JS values map onto Go values):
//   string             -> string
//   number (integral)  -> int          (printed without exponent)
//   number (fraction)  -> float64      (printed like Go's %v / %g)
//   GoFloat            -> float64 even when integral (e.g. the literal 1.0)
//   bigint             -> int64
//   boolean            -> bool
//   null               -> a nil pointer/interface: prints "<nil>"
//   undefined          -> Go's invalid value (missing map key): prints "<no value>" at top level
//   Array              -> slice ([a b c])
//   Map / plain object -> map[string]interface{} (map[k:v] with sorted keys)
//   object with the goType symbol, or with function-valued properties
//                      -> a struct (fields are properties, functions are methods)
//   Date               -> time.Time
//   function           -> func

import { formatGoTimeString } from './go-time.ts';
import { formatFloat } from '../../lib/go-number.ts';

export { formatFloat, formatFloatV } from '../../lib/go-number.ts';

/** A float64 that must print as a float even when it has an integral value. */
export class GoFloat {
  readonly value: number;
  constructor(value: number) {
    this.value = value;
  }
}

/** Property naming an object's Go type; marks the object as a struct (fields error when missing). */
export const goType: unique symbol = Symbol.for('berth.goType') as never;

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  if (Array.isArray(v) || v instanceof Map || v instanceof Date || v instanceof GoFloat) return false;
  return true;
}

/** Marks an object as a docker formatter context (a row): json sorts keys and calls methods. */
export const formatterContext: unique symbol = Symbol.for('berth.formatterContext') as never;

/** On a wrapper object (see formatter.ts), the wrapped row: `this` for its methods and getters. */
export const wrappedTarget: unique symbol = Symbol.for('berth.wrappedTarget') as never;

/** The object whose methods/getters should run for `obj` (the row behind a wrapper, else obj). */
export function receiverOf(obj: object): object {
  const t = (obj as Record<symbol, unknown>)[wrappedTarget];
  return typeof t === 'object' && t !== null ? t : obj;
}

/**
 * Property names of an object as the template sees them: own enumerable keys,
 * plus methods and getters of class prototypes (not Object.prototype).
 */
export function memberKeys(obj: object): string[] {
  const keys: string[] = [];
  const seen = new Set<string>();
  for (let o: object | null = obj; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    const isClassProto = o !== obj && Object.prototype.hasOwnProperty.call(o, 'constructor');
    for (const k of Object.getOwnPropertyNames(o)) {
      if (seen.has(k) || k === 'constructor') continue;
      const desc = Object.getOwnPropertyDescriptor(o, k)!;
      if (desc.enumerable || (isClassProto && (typeof desc.value === 'function' || desc.get !== undefined))) {
        seen.add(k);
        keys.push(k);
      }
    }
  }
  return keys;
}

function hasMethods(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  if (proto !== null && proto !== Object.prototype) return true;
  for (const k of Object.keys(v)) if (typeof (v as Record<string, unknown>)[k] === 'function') return true;
  return false;
}

/** Whether a plain object behaves like a Go struct (named type, methods, or a class instance). */
export function isStructLike(v: unknown): v is Record<string, unknown> {
  if (!isPlainObject(v)) return false;
  if (typeof (v as Record<symbol, unknown>)[goType] === 'string') return true;
  return hasMethods(v);
}

/** Whether an object is a docker formatter context (row): marked, or having methods. */
export function isContextObject(v: unknown): v is Record<string, unknown> {
  if (!isPlainObject(v)) return false;
  if ((v as Record<symbol, unknown>)[formatterContext] === true) return true;
  return hasMethods(v);
}

/** Whether a JS number stands for a Go int (integral and within int64 range). */
export function isIntegral(n: number): boolean {
  return Number.isInteger(n) && Math.abs(n) < 2 ** 63;
}

export function isFloat(v: unknown): boolean {
  return v instanceof GoFloat || (typeof v === 'number' && !isIntegral(v));
}

export function isInt(v: unknown): boolean {
  return typeof v === 'bigint' || (typeof v === 'number' && isIntegral(v));
}

/** Unwrap GoFloat to a plain number; other values unchanged. */
export function unwrapNumber(v: unknown): unknown {
  return v instanceof GoFloat ? v.value : v;
}

/** Go type name of a value, as shown in error messages and %T. */
export function goTypeName(v: unknown): string {
  if (v === undefined || v === null) return '<nil>';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'bigint') return 'int64';
  if (v instanceof GoFloat) return 'float64';
  if (typeof v === 'number') return isIntegral(v) ? 'int' : 'float64';
  if (typeof v === 'function') return 'func(...interface {}) interface {}';
  if (Array.isArray(v)) {
    if (v.length > 0 && v.every((e) => typeof e === 'string')) return '[]string';
    return '[]interface {}';
  }
  if (v instanceof Date) return 'time.Time';
  if (v instanceof Map) return 'map[string]interface {}';
  if (isPlainObject(v)) {
    const t = (v as Record<symbol, unknown>)[goType];
    if (typeof t === 'string') return t;
    if (isStructLike(v)) return 'struct';
    return 'map[string]interface {}';
  }
  return typeof v;
}

// ---------------------------------------------------------------------------
// Map entries sorted like Go's internal/fmtsort.

export function compareKeys(a: unknown, b: unknown): number {
  const na = unwrapNumber(a);
  const nb = unwrapNumber(b);
  if ((typeof na === 'number' || typeof na === 'bigint') && (typeof nb === 'number' || typeof nb === 'bigint')) {
    return na < nb ? -1 : na > nb ? 1 : 0;
  }
  if (typeof na === 'boolean' && typeof nb === 'boolean') return na === nb ? 0 : na ? 1 : -1;
  const sa = String(na);
  const sb = String(nb);
  return compareStringsBytewise(sa, sb);
}

/** Compare strings by UTF-8 byte order (== code point order), as Go does. */
export function compareStringsBytewise(a: string, b: string): number {
  if (a === b) return 0;
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done) return y.done ? 0 : -1;
    if (y.done) return 1;
    const cx = x.value.codePointAt(0)!;
    const cy = y.value.codePointAt(0)!;
    if (cx !== cy) return cx < cy ? -1 : 1;
  }
}

/** Entries of a Go-map-like value (Map or plain object), sorted by key. */
export function sortedEntries(v: Map<unknown, unknown> | Record<string, unknown>): [unknown, unknown][] {
  const entries: [unknown, unknown][] = v instanceof Map ? [...v.entries()] : Object.entries(v);
  return entries.sort((a, b) => compareKeys(a[0], b[0]));
}

/** Fields of a struct-like object in declaration order (functions are methods, not fields). */
export function structFields(v: Record<string, unknown>): [string, unknown][] {
  const out: [string, unknown][] = [];
  const self = receiverOf(v);
  for (const k of memberKeys(v)) {
    const x = Reflect.get(v, k, self);
    if (typeof x !== 'function') out.push([k, x]);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Quoting (strconv.Quote).

const printableRe = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

export function isPrintRune(ch: string): boolean {
  return printableRe.test(ch);
}

function hex(n: number, width: number, upper = false): string {
  const s = n.toString(16).padStart(width, '0');
  return upper ? s.toUpperCase() : s;
}

function quoteRune(ch: string, quote: string, asciiOnly: boolean): string {
  const r = ch.codePointAt(0)!;
  if (ch === quote || ch === '\\') return '\\' + ch;
  if (r >= 0xd800 && r <= 0xdfff) return '\ufffd'; // lone surrogate: invalid UTF-16
  if (asciiOnly ? r < 0x80 && isPrintRune(ch) : isPrintRune(ch)) return ch;
  switch (ch) {
    case '\x07':
      return '\\a';
    case '\b':
      return '\\b';
    case '\f':
      return '\\f';
    case '\n':
      return '\\n';
    case '\r':
      return '\\r';
    case '\t':
      return '\\t';
    case '\v':
      return '\\v';
  }
  if (r < 0x20 || r === 0x7f) return '\\x' + hex(r, 2);
  if (r < 0x10000) return '\\u' + hex(r, 4);
  return '\\U' + hex(r, 8);
}

/** strconv.Quote / QuoteToASCII. */
export function quoteString(s: string, asciiOnly = false): string {
  let out = '"';
  for (const ch of s) out += quoteRune(ch, '"', asciiOnly);
  return out + '"';
}

/** strconv.QuoteRune. */
export function quoteRuneLiteral(r: number, asciiOnly = false): string {
  if (r > 0x10ffff || (r >= 0xd800 && r <= 0xdfff) || r < 0) r = 0xfffd;
  return "'" + quoteRune(String.fromCodePoint(r), "'", asciiOnly) + "'";
}

/** Whether strconv.CanBackquote(s). */
function canBackquote(s: string): boolean {
  for (const ch of s) {
    const r = ch.codePointAt(0)!;
    if (ch === '`' || r === 0xfeff) return false;
    if (r < 0x20 && ch !== '\t') return false;
    if (r === 0x7f) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------
// %v printing.

export interface VOpts {
  plus?: boolean; // %+v: struct field names
}

/** Go's fmt %v of a value (top-level: undefined prints "<nil>" too; the template prints "<no value>" itself). */
export function formatV(v: unknown, opts: VOpts = {}): string {
  return formatWithVerb(v, 'v', opts);
}

function formatWithVerb(v: unknown, verb: string, opts: VOpts): string {
  // Used for container elements: apply the verb element-wise.
  if (v === undefined || v === null) return '<nil>';
  if (typeof v === 'string') {
    if (verb === 'v' || verb === 's') return v;
    if (verb === 'q') return quoteString(v);
    if (verb === 'x') return bytesHex(v, false, '');
    if (verb === 'X') return bytesHex(v, true, '');
    return badVerb(verb, v);
  }
  if (typeof v === 'boolean') return verb === 'v' || verb === 't' ? String(v) : badVerb(verb, v);
  if (typeof v === 'bigint') return formatIntVerb(v, verb, {}) ?? badVerb(verb, v);
  if (v instanceof GoFloat) return formatFloatVerb(v.value, verb, {}) ?? badVerb(verb, v);
  if (typeof v === 'number') {
    if (isIntegral(v)) return formatIntVerb(v, verb, {}) ?? formatFloatVerb(v, verb, {}) ?? badVerb(verb, v);
    return formatFloatVerb(v, verb, {}) ?? badVerb(verb, v);
  }
  if (v instanceof Date) {
    const s = formatGoTimeString(v);
    return verb === 'v' || verb === 's' ? s : verb === 'q' ? quoteString(s) : badVerb(verb, v);
  }
  if (Array.isArray(v)) return '[' + v.map((e) => formatWithVerb(e, verb, opts)).join(' ') + ']';
  if (typeof v === 'function') return verb === 'v' || verb === 'p' ? '0x1' : badVerb(verb, v);
  if (v instanceof Map || (isPlainObject(v) && !isStructLike(v))) {
    const entries = sortedEntries(v as Map<unknown, unknown>);
    return 'map[' + entries.map(([k, x]) => formatWithVerb(k, verb, opts) + ':' + formatWithVerb(x, verb, opts)).join(' ') + ']';
  }
  if (isPlainObject(v)) {
    const fields = structFields(v);
    return '{' + fields.map(([k, x]) => (opts.plus ? k + ':' : '') + formatWithVerb(x, verb, opts)).join(' ') + '}';
  }
  return String(v);
}

function badVerb(verb: string, v: unknown): string {
  if (v === null || v === undefined) return '%!' + verb + '(<nil>)';
  return '%!' + verb + '(' + goTypeName(v) + '=' + formatV(v) + ')';
}

function bytesHex(s: string, upper: boolean, sep: string): string {
  const b = Buffer.from(s, 'utf8');
  const parts: string[] = [];
  for (const x of b) parts.push(hex(x, 2, upper));
  return parts.join(sep);
}

interface Flags {
  plus?: boolean;
  minus?: boolean;
  sharp?: boolean;
  space?: boolean;
  zero?: boolean;
  plusV?: boolean; // %+v: struct field names
  wid?: number;
  prec?: number;
}

function formatIntVerb(n: number | bigint, verb: string, f: Flags): string | undefined {
  const big = BigInt(n);
  const neg = big < 0n;
  const abs = neg ? -big : big;
  let digits: string;
  let prefix = '';
  switch (verb) {
    case 'v':
    case 'd':
      digits = abs.toString(10);
      break;
    case 'b':
      digits = abs.toString(2);
      if (f.sharp) prefix = '0b';
      break;
    case 'o':
    case 'O':
      digits = abs.toString(8);
      if (verb === 'O') prefix = '0o';
      break;
    case 'x':
      digits = abs.toString(16);
      if (f.sharp) prefix = '0x';
      break;
    case 'X':
      digits = abs.toString(16).toUpperCase();
      if (f.sharp) prefix = '0X';
      break;
    case 'c':
      return String.fromCodePoint(validRune(Number(big)));
    case 'q':
      return quoteRuneLiteral(Number(big), f.plus);
    case 'U': {
      const r = Number(big);
      let s = 'U+' + hex(r, 4, true);
      if (f.sharp && r >= 0 && r <= 0x10ffff && isPrintRune(String.fromCodePoint(r))) s += " '" + String.fromCodePoint(r) + "'";
      return s;
    }
    default:
      return undefined;
  }
  let prec = f.prec;
  if (prec === undefined && f.zero && !f.minus && f.wid !== undefined) {
    prec = f.wid;
    if (neg || f.plus || f.space) prec--;
    prec -= prefix.length;
  }
  if (prec !== undefined) {
    if (prec === 0 && abs === 0n) digits = '';
    else if (digits.length < prec) digits = '0'.repeat(prec - digits.length) + digits;
  }
  if (verb === 'o' && f.sharp && !digits.startsWith('0')) digits = '0' + digits;
  const sign = neg ? '-' : f.plus ? '+' : f.space ? ' ' : '';
  return sign + prefix + digits;
}

function validRune(r: number): number {
  if (r < 0 || r > 0x10ffff || (r >= 0xd800 && r <= 0xdfff)) return 0xfffd;
  return r;
}

function formatFloatVerb(x: number, verb: string, f: Flags): string | undefined {
  let s: string;
  switch (verb) {
    case 'v':
      s = formatFloat(x, 'g', f.prec ?? -1);
      break;
    case 'g':
    case 'G':
      s = formatFloat(x, verb, f.prec ?? -1);
      break;
    case 'e':
    case 'E':
      s = formatFloat(x, verb, f.prec ?? 6);
      break;
    case 'f':
    case 'F':
      s = formatFloat(x, 'f', f.prec ?? 6);
      break;
    case 'x':
    case 'X':
      s = formatHexFloat(x, f.prec ?? -1, verb === 'X');
      break;
    case 'b': {
      // strconv 'b': mantissa p exponent, e.g. 4503599627370496p-52
      if (!Number.isFinite(x) || x === 0) {
        s = x === 0 ? '0p-1074' : formatFloat(x, 'g', -1);
        break;
      }
      const { mant, exp } = float64Bits(x);
      s = (x < 0 ? '-' : '') + mant.toString() + 'p' + (exp >= 0 ? '+' : '') + exp;
      break;
    }
    default:
      return undefined;
  }
  if (f.plus && !s.startsWith('-') && !s.startsWith('+')) s = '+' + s;
  else if (f.space && !s.startsWith('-') && !s.startsWith('+')) s = ' ' + s;
  else if (!f.plus && s === '+Inf') s = f.space ? ' Inf' : '+Inf';
  return s;
}

function float64Bits(x: number): { mant: bigint; exp: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(x));
  const bits = view.getBigUint64(0);
  const biased = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n);
  let exp: number;
  if (biased === 0) exp = -1074;
  else {
    mant |= 1n << 52n;
    exp = biased - 1075;
  }
  return { mant, exp };
}

/** strconv.FormatFloat(x, 'x', prec, 64): "0x1.cp+01". */
function formatHexFloat(x: number, prec: number, upper: boolean): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : '-Inf';
  const neg = x < 0 || Object.is(x, -0);
  let mant = 0n;
  let exp = 0;
  if (x !== 0) {
    const b = float64Bits(x);
    mant = b.mant;
    exp = b.exp;
    // Normalize so the leading 1 is bit 60 (mantissa as 1.fffffffffffffff).
    while (mant < 1n << 60n) {
      mant <<= 1n;
      exp--;
    }
    exp += 60;
  }
  // mant now has 61 bits: 1 integer bit + 60 fraction bits (15 hex digits).
  if (prec >= 0 && prec < 15) {
    const shift = BigInt(60 - 4 * prec);
    const extra = mant & ((1n << shift) - 1n);
    mant >>= shift;
    const half = 1n << (shift - 1n);
    if (extra > half || (extra === half && (mant & 1n) === 1n)) mant++;
    mant <<= shift;
    if (mant >= 1n << 61n) {
      mant >>= 1n;
      exp++;
    }
  }
  let frac = (mant & ((1n << 60n) - 1n)).toString(16).padStart(15, '0');
  if (prec < 0) frac = frac.replace(/0+$/, '');
  else frac = frac.padEnd(prec, '0').slice(0, prec);
  const lead = x === 0 ? '0' : '1';
  const e = Math.abs(exp);
  let s = '0x' + lead + (frac ? '.' + frac : '') + 'p' + (exp < 0 ? '-' : '+') + (e < 10 ? '0' + e : String(e));
  if (upper) s = s.toUpperCase();
  return (neg ? '-' : '') + s;
}

function runeLen(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function pad(s: string, f: Flags, numeric: boolean): string {
  if (f.wid === undefined) return s;
  const n = f.wid - runeLen(s);
  if (n <= 0) return s;
  if (f.minus) return s + ' '.repeat(n);
  if (f.zero) {
    if (numeric) {
      const m = /^[+\- ]/.exec(s);
      if (m && !/Inf|NaN/.test(s)) return m[0] + '0'.repeat(n) + s.slice(1);
      if (/Inf|NaN/.test(s)) return ' '.repeat(n) + s;
      return '0'.repeat(n) + s;
    }
    return '0'.repeat(n) + s;
  }
  return ' '.repeat(n) + s;
}

function truncateRunes(s: string, n: number): string {
  let out = '';
  let i = 0;
  for (const ch of s) {
    if (i++ >= n) break;
    out += ch;
  }
  return out;
}

function printArg(arg: unknown, verb: string, f: Flags): string {
  if (verb === 'T') return pad(goTypeName(arg), f, false);
  if (arg === undefined || arg === null) {
    return verb === 'v' ? pad('<nil>', f, false) : badVerb(verb, arg);
  }
  if (typeof arg === 'boolean') {
    return verb === 't' || verb === 'v' ? pad(String(arg), f, false) : badVerb(verb, arg);
  }
  if (typeof arg === 'bigint' || (typeof arg === 'number' && isIntegral(arg))) {
    const s = formatIntVerb(arg as number | bigint, verb, f);
    if (s !== undefined) {
      if (verb === 'c' || verb === 'q' || verb === 'U') return pad(s, f, false);
      return f.prec !== undefined ? pad(s, { ...f, zero: false }, true) : pad(s, f, true);
    }
    if (typeof arg === 'number') {
      // Lenient: an integral JS number may stand for a float64.
      const fs = formatFloatVerb(arg, verb, f);
      if (fs !== undefined) return pad(fs, f, true);
    }
    return badVerb(verb, arg);
  }
  if (typeof arg === 'number' || arg instanceof GoFloat) {
    const x = unwrapNumber(arg) as number;
    const s = formatFloatVerb(x, verb, f);
    return s !== undefined ? pad(s, f, true) : badVerb(verb, arg);
  }
  if (typeof arg === 'string' || arg instanceof Date) {
    const str = typeof arg === 'string' ? arg : formatGoTimeString(arg);
    switch (verb) {
      case 'v':
      case 's':
        return pad(f.prec !== undefined ? truncateRunes(str, f.prec) : str, f, false);
      case 'q': {
        const t = f.prec !== undefined ? truncateRunes(str, f.prec) : str;
        if (f.sharp && canBackquote(t)) return pad('`' + t + '`', f, false);
        return pad(quoteString(t, f.plus), f, false);
      }
      case 'x':
      case 'X': {
        let t = str;
        if (f.prec !== undefined) t = Buffer.from(t, 'utf8').subarray(0, f.prec).toString('latin1');
        const bytes = f.prec !== undefined ? Buffer.from(t, 'latin1') : Buffer.from(t, 'utf8');
        const parts: string[] = [];
        for (const b of bytes) {
          let h = hex(b, 2, verb === 'X');
          if (f.sharp && (f.space || parts.length === 0)) h = (verb === 'X' ? '0X' : '0x') + h;
          parts.push(h);
        }
        return pad(parts.join(f.space ? ' ' : ''), f, false);
      }
      default:
        return badVerb(verb, arg);
    }
  }
  // Containers: the verb and its flags (width included) apply to each element.
  if (Array.isArray(arg)) {
    return '[' + arg.map((e) => printArg(e, verb, f)).join(' ') + ']';
  }
  if (typeof arg === 'function') return verb === 'v' || verb === 'p' ? pad('0x1', f, false) : badVerb(verb, arg);
  if (arg instanceof Map || (isPlainObject(arg) && !isStructLike(arg))) {
    const entries = sortedEntries(arg as Map<unknown, unknown>);
    return 'map[' + entries.map(([k, x]) => printArg(k, verb, f) + ':' + printArg(x, verb, f)).join(' ') + ']';
  }
  if (isPlainObject(arg)) {
    const fields = structFields(arg);
    return '{' + fields.map(([k, x]) => (f.plusV ? k + ':' : '') + printArg(x, verb, f)).join(' ') + '}';
  }
  return pad(String(arg), f, false);
}

/** fmt.Sprintf. */
export function sprintf(format: string, ...args: unknown[]): string {
  let out = '';
  let argNum = 0;
  let reordered = false;
  const end = format.length;
  let i = 0;
  while (i < end) {
    const pct = format.indexOf('%', i);
    if (pct < 0) {
      out += format.slice(i);
      break;
    }
    out += format.slice(i, pct);
    i = pct + 1;
    const f: Flags = {};
    // flags
    flags: while (i < end) {
      switch (format[i]) {
        case '#':
          f.sharp = true;
          break;
        case '0':
          f.zero = !f.minus;
          break;
        case '+':
          f.plus = true;
          break;
        case '-':
          f.minus = true;
          f.zero = false;
          break;
        case ' ':
          f.space = true;
          break;
        default:
          break flags;
      }
      i++;
    }
    // argument index [n]
    const argIndex = (): boolean => {
      if (format[i] !== '[') return true;
      reordered = true;
      const close = format.indexOf(']', i);
      if (close < 0) {
        i = end;
        return false;
      }
      const txt = format.slice(i + 1, close);
      i = close + 1;
      if (!/^\d+$/.test(txt)) return false;
      const n = Number(txt);
      if (n < 1 || n > args.length) return false;
      argNum = n - 1;
      return true;
    };
    let goodArgNum = argIndex();
    // width
    if (format[i] === '*') {
      i++;
      const w = args[argNum++];
      if (typeof w === 'number' && Number.isInteger(w)) {
        f.wid = w;
        if (w < 0) {
          f.minus = true;
          f.zero = false;
          f.wid = -w;
        }
      } else {
        out += '%!(BADWIDTH)';
      }
    } else {
      const m = /^\d+/.exec(format.slice(i));
      if (m) {
        f.wid = Number(m[0]);
        i += m[0].length;
      }
    }
    // precision
    if (format[i] === '.') {
      i++;
      goodArgNum = goodArgNum && argIndex();
      if (format[i] === '*') {
        i++;
        const p = args[argNum++];
        if (typeof p === 'number' && Number.isInteger(p) && p >= 0) f.prec = p;
        else out += '%!(BADPREC)';
      } else {
        const m = /^\d+/.exec(format.slice(i));
        f.prec = m ? Number(m[0]) : 0;
        if (m) i += m[0].length;
      }
    }
    if (!goodArgNum) goodArgNum = argIndex();
    if (i >= end) {
      out += '%!(NOVERB)';
      break;
    }
    const verb = String.fromCodePoint(format.codePointAt(i)!);
    i += verb.length;
    if (verb === '%') {
      out += '%';
      continue;
    }
    if (!goodArgNum) {
      out += '%!' + verb + '(BADINDEX)';
      continue;
    }
    if (argNum >= args.length) {
      out += '%!' + verb + '(MISSING)';
      continue;
    }
    const arg = args[argNum++];
    if (verb === 'v' && f.sharp) {
      out += pad(goSyntax(arg), f, false);
      continue;
    }
    out += printArg(arg, verb, verb === 'v' && f.plus ? { ...f, plus: false, plusV: true } : f);
  }
  if (!reordered && argNum < args.length) {
    out += '%!(EXTRA ';
    out += args
      .slice(argNum)
      .map((a) => (a === null || a === undefined ? '<nil>' : goTypeName(a) + '=' + formatV(a)))
      .join(', ');
    out += ')';
  }
  return out;
}

/** A best-effort %#v. */
function goSyntax(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (typeof v === 'string') return quoteString(v);
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean' || v instanceof GoFloat) return formatV(v);
  if (Array.isArray(v)) return goTypeName(v) + '{' + v.map(goSyntax).join(', ') + '}';
  if (v instanceof Map || (isPlainObject(v) && !isStructLike(v))) {
    return (
      goTypeName(v) + '{' + sortedEntries(v as Map<unknown, unknown>).map(([k, x]) => goSyntax(k) + ':' + goSyntax(x)).join(', ') + '}'
    );
  }
  if (isPlainObject(v)) return goTypeName(v) + '{' + structFields(v).map(([k, x]) => k + ':' + goSyntax(x)).join(', ') + '}';
  return formatV(v);
}

/** fmt.Sprint: spaces between operands when neither is a string. */
export function sprint(...args: unknown[]): string {
  let out = '';
  for (let i = 0; i < args.length; i++) {
    if (i > 0 && typeof args[i] !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += formatV(args[i]);
  }
  return out;
}

/** fmt.Sprintln: always spaces, trailing newline. */
export function sprintln(...args: unknown[]): string {
  return args.map((a) => formatV(a)).join(' ') + '\n';
}
