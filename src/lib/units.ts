// docker/go-units (v0.5.x) behaviour: human readable sizes and durations, and
// Go's time.ParseDuration.

import { formatFloat } from './go-number.ts';

const decimalAbbrs = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
const binaryAbbrs = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

function sizeAndUnit(size: number, base: number, abbrs: string[]): [number, string] {
  let i = 0;
  while (size >= base && i < abbrs.length - 1) {
    size /= base;
    i++;
  }
  return [size, abbrs[i]];
}

/** go-units HumanSizeWithPrecision: fmt "%.*g%s" with decimal (1000) units. */
export function humanSizeWithPrecision(bytes: number, precision: number): string {
  const [size, unit] = sizeAndUnit(bytes, 1000, decimalAbbrs);
  return formatFloat(size, 'g', precision) + unit;
}

/**
 * Size as docker's ps/images/system df tables print it: go-units
 * HumanSizeWithPrecision(size, 3) ("0B", "999B", "1kB", "4.26MB").
 * Pass precision 4 to get go-units HumanSize.
 */
export function humanSize(bytes: number, precision = 3): string {
  return humanSizeWithPrecision(bytes, precision);
}

/** go-units BytesSize: "%.4g%s" with binary (1024) units ("1KiB", "7.813MiB"). */
export function bytesSize(bytes: number): string {
  const [size, unit] = sizeAndUnit(bytes, 1024, binaryAbbrs);
  return formatFloat(size, 'g', 4) + unit;
}

const decimalMap: Record<string, number> = { k: 1e3, m: 1e6, g: 1e9, t: 1e12, p: 1e15 };
const binaryMap: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** strconv.ParseFloat(s, 64); throws Go's error text. */
export function parseGoFloat(s: string): number {
  const bad = () => new Error(`strconv.ParseFloat: parsing ${JSON.stringify(s)}: invalid syntax`);
  let t = s;
  let sign = 1;
  if (t.startsWith('+') || t.startsWith('-')) {
    if (t[0] === '-') sign = -1;
    t = t.slice(1);
  }
  const lower = t.toLowerCase();
  if (lower === 'inf' || lower === 'infinity') return sign * Infinity;
  if (lower === 'nan' && sign === 1 && s === t) return NaN;
  if (/^0x/i.test(t)) {
    const m = /^0x((?:_?[0-9a-f])*)(?:\.((?:[0-9a-f]_?)*))?p([+-]?\d+(?:_?\d)*)$/i.exec(t);
    if (!m || (m[1] === '' && (m[2] ?? '') === '')) throw bad();
    const intPart = m[1].replace(/_/g, '');
    const frac = (m[2] ?? '').replace(/_/g, '');
    let mant = 0;
    for (const c of intPart + frac) mant = mant * 16 + parseInt(c, 16);
    const exp = Number(m[3].replace(/_/g, '')) - 4 * frac.length;
    return sign * mant * 2 ** exp;
  }
  if (t.includes('_')) {
    // Underscores may only separate digits (Go literal syntax).
    if (!/^\d+(_\d+)*(\.(\d+(_\d+)*)?)?([eE][+-]?\d+(_\d+)*)?$/.test(t)) throw bad();
    t = t.replace(/_/g, '');
  }
  if (!/^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) throw bad();
  const v = Number(t);
  if (!Number.isFinite(v)) throw new Error(`strconv.ParseFloat: parsing ${JSON.stringify(s)}: value out of range`);
  return sign * v;
}

function parseSize(sizeStr: string, map: Record<string, number>): number {
  let sep = -1;
  for (let i = sizeStr.length - 1; i >= 0; i--) {
    if ('0123456789. '.includes(sizeStr[i])) {
      sep = i;
      break;
    }
  }
  if (sep === -1) throw new Error(`invalid size: '${sizeStr}'`);
  let num: string;
  let sfx: string;
  if (sizeStr[sep] !== ' ') {
    num = sizeStr.slice(0, sep + 1);
    sfx = sizeStr.slice(sep + 1);
  } else {
    num = sizeStr.slice(0, sep);
    sfx = sizeStr.slice(sep + 1);
  }
  let size = parseGoFloat(num);
  if (size < 0) throw new Error(`invalid size: '${sizeStr}'`);
  if (sfx.length === 0) return Math.trunc(size);
  const badSuffix = () => new Error(`invalid suffix: '${sfx}'`);
  if (sfx.length > 3) throw badSuffix();
  sfx = sfx.toLowerCase();
  if (sfx[0] === 'b') {
    if (sfx.length > 1) throw badSuffix();
    return Math.trunc(size);
  }
  const mul = map[sfx[0]];
  if (mul === undefined) throw badSuffix();
  size *= mul;
  if (sfx.length === 2 && sfx[1] !== 'b') throw badSuffix();
  if (sfx.length === 3 && sfx.slice(1) !== 'ib') throw badSuffix();
  return Math.trunc(size);
}

/**
 * go-units RAMInBytes: "512m", "1g", "1.5k", "1024", "2GiB", "3 mb"; binary
 * multipliers. Throws "invalid size: '...'", "invalid suffix: '...'" or a
 * strconv.ParseFloat error, like go-units.
 */
export function ramInBytes(s: string): number {
  return parseSize(s, binaryMap);
}

/** go-units FromHumanSize: like ramInBytes with decimal multipliers ("1kB" = 1000). */
export function fromHumanSize(s: string): number {
  return parseSize(s, decimalMap);
}

/** go-units HumanDuration for a duration in milliseconds. */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.trunc(ms / 3600000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(Math.trunc(ms / 3600000) / 24 / 365)} years`;
}

const durationUnits: Record<string, bigint> = {
  ns: 1n,
  us: 1000n,
  'µs': 1000n, // U+00B5 micro sign
  'μs': 1000n, // U+03BC Greek mu
  ms: 1000000n,
  s: 1000000000n,
  m: 60n * 1000000000n,
  h: 3600n * 1000000000n,
};

const MAX_DURATION = (1n << 63n) - 1n;

/** The time package's quote(): ASCII as is (with \" and \\ escaped), other bytes as \xNN. */
export function goTimeQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c >= 0x80 || c < 0x20) {
      for (const b of Buffer.from(ch, 'utf8')) out += '\\x' + b.toString(16).padStart(2, '0');
    } else {
      if (ch === '"' || ch === '\\') out += '\\';
      out += ch;
    }
  }
  return out + '"';
}

/** Go time.ParseDuration, returning nanoseconds. */
export function parseGoDurationNanos(str: string): bigint {
  const orig = str;
  const invalid = () => new Error(`time: invalid duration ${goTimeQuote(orig)}`);
  let s = str;
  let neg = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') throw invalid();
  let d = 0n;
  const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
  while (s !== '') {
    if (!(s[0] === '.' || isDigit(s[0]))) throw invalid();
    let i = 0;
    while (isDigit(s[i])) i++;
    const pre = i > 0;
    let v = i > 0 ? BigInt(s.slice(0, i)) : 0n;
    if (v > 1n << 63n) throw invalid();
    s = s.slice(i);
    let post = false;
    let f = 0n;
    let scale = 1;
    let overflow = false;
    if (s[0] === '.') {
      s = s.slice(1);
      let j = 0;
      while (isDigit(s[j])) {
        if (!overflow) {
          const y = f * 10n + BigInt(s.charCodeAt(j) - 48);
          if (y > 1n << 63n) overflow = true;
          else {
            f = y;
            scale *= 10;
          }
        }
        j++;
      }
      post = j > 0;
      s = s.slice(j);
    }
    if (!pre && !post) throw invalid();
    let k = 0;
    while (k < s.length && !(s[k] === '.' || isDigit(s[k]))) k++;
    if (k === 0) throw new Error(`time: missing unit in duration ${goTimeQuote(orig)}`);
    const u = s.slice(0, k);
    s = s.slice(k);
    const unit = durationUnits[u];
    if (unit === undefined) throw new Error(`time: unknown unit ${goTimeQuote(u)} in duration ${goTimeQuote(orig)}`);
    if (v > (1n << 63n) / unit) throw invalid();
    v *= unit;
    if (f > 0n) {
      v += BigInt(Math.trunc(Number(f) * (Number(unit) / scale)));
      if (v > 1n << 63n) throw invalid();
    }
    d += v;
    if (d > 1n << 63n) throw invalid();
  }
  if (neg) return -d;
  if (d > MAX_DURATION) throw invalid();
  return d;
}

/**
 * Go time.ParseDuration ("1h2m3.5s", "300ms", "-1.5h"; units ns us µs ms s m h),
 * returning milliseconds (fractional for sub-millisecond parts).
 * Throws `time: invalid duration "x"` (or Go's missing/unknown unit errors).
 */
export function parseGoDuration(s: string): number {
  const ns = parseGoDurationNanos(s);
  const ms = ns / 1000000n;
  const rem = ns % 1000000n;
  return Number(ms) + Number(rem) / 1e6;
}

/** Go's time.Duration.String() for a duration in nanoseconds ("1h2m3.5s", "300ms", "0s"). */
export function formatGoDuration(nanos: bigint | number): string {
  let d = BigInt(nanos);
  if (d === 0n) return '0s';
  const neg = d < 0n;
  if (neg) d = -d;
  let out: string;
  const frac = (v: bigint, digits: number): string => {
    // v split into integer and `digits` fractional digits, trailing zeros removed.
    const p = 10n ** BigInt(digits);
    const i = v / p;
    const fr = (v % p).toString().padStart(digits, '0').replace(/0+$/, '');
    return fr ? `${i}.${fr}` : `${i}`;
  };
  if (d < 1000000000n) {
    if (d < 1000n) out = `${d}ns`;
    else if (d < 1000000n) out = frac(d, 3) + 'µs';
    else out = frac(d, 6) + 'ms';
  } else {
    const h = d / 3600000000000n;
    const rest = d % 3600000000000n;
    const m = rest / 60000000000n;
    const sNanos = rest % 60000000000n;
    out = frac(sNanos, 9) + 's';
    if (h > 0n || m > 0n) out = `${m}m` + out;
    if (h > 0n) out = `${h}h` + out;
  }
  return (neg ? '-' : '') + out;
}
