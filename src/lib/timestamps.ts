// docker's api/types/time: GetTimestamp (CLI side of --since/--until) and
// ParseTimestamps (daemon side).

import { goTimeQuote, parseGoDurationNanos } from './units.ts';

/** A parsed wall-clock time: seconds since the epoch plus nanoseconds (0..999999999). */
export interface Timestamp {
  seconds: number;
  nanos: number;
}

const quote = goTimeQuote;

class ParseError extends Error {}

function parseErr(layout: string, value: string, layoutElem: string, valueElem: string, message = ''): ParseError {
  if (message) return new ParseError(`parsing time ${quote(value)}${message}`);
  return new ParseError(
    `parsing time ${quote(value)} as ${quote(layout)}: cannot parse ${quote(valueElem)} as ${quote(layoutElem)}`,
  );
}

const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';

function daysIn(month: number, year: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** Days since 1970-01-01 of a proleptic Gregorian date (works for any year). */
function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/**
 * Go's time.Parse for the layouts GetTimestamp uses (made of 2006 01 02 15 04
 * 05 .999999999 Z07:00 and literal text). `localOffset` (seconds east of UTC)
 * applies when the layout has no zone (ParseInLocation with a fixed zone).
 */
export function goTimeParse(layout: string, value: string, localOffset = 0): Timestamp {
  const elems = ['2006', '01', '02', '15', '04', '05', '.999999999', 'Z07:00'];
  let l = layout;
  let v = value;
  let year = 0;
  let month = 1;
  let day = 1;
  let hour = 0;
  let min = 0;
  let sec = 0;
  let nsec = 0;
  let offset: number | null = null;
  let rangeErr = '';
  const getnum = (fixed: boolean): number | null => {
    if (!isDigit(v[0])) return null;
    if (!isDigit(v[1])) {
      if (fixed) return null;
      const n = v.charCodeAt(0) - 48;
      v = v.slice(1);
      return n;
    }
    const n = (v.charCodeAt(0) - 48) * 10 + (v.charCodeAt(1) - 48);
    v = v.slice(2);
    return n;
  };
  const parseFrac = (): boolean => {
    // v starts with '.' or ',' followed by a digit.
    let i = 1;
    while (isDigit(v[i])) i++;
    let digits = v.slice(1, i);
    if (digits.length > 9) digits = digits.slice(0, 9);
    nsec = Number(digits.padEnd(9, '0'));
    v = v.slice(i);
    return true;
  };
  while (l.length > 0) {
    const idx = Math.min(...elems.map((e) => (l.indexOf(e) < 0 ? Infinity : l.indexOf(e))));
    const prefix = idx === Infinity ? l : l.slice(0, idx);
    if (!v.startsWith(prefix)) throw parseErr(layout, value, prefix, v);
    v = v.slice(prefix.length);
    if (idx === Infinity) break;
    l = l.slice(idx);
    const elem = elems.find((e) => l.startsWith(e))!;
    l = l.slice(elem.length);
    const valueBefore = v;
    switch (elem) {
      case '2006': {
        if (v.length < 4 || !/^\d{4}/.test(v)) throw parseErr(layout, value, elem, valueBefore);
        year = Number(v.slice(0, 4));
        v = v.slice(4);
        break;
      }
      case '01': {
        const n = getnum(true);
        if (n === null) throw parseErr(layout, value, elem, valueBefore);
        if (n <= 0 || n > 12) rangeErr ||= 'month';
        month = n;
        break;
      }
      case '02': {
        const n = getnum(true);
        if (n === null) throw parseErr(layout, value, elem, valueBefore);
        day = n;
        break;
      }
      case '15': {
        const n = getnum(false);
        if (n === null) throw parseErr(layout, value, elem, valueBefore);
        if (n < 0 || n >= 24) rangeErr ||= 'hour';
        hour = n;
        break;
      }
      case '04': {
        const n = getnum(true);
        if (n === null) throw parseErr(layout, value, elem, valueBefore);
        if (n >= 60) rangeErr ||= 'minute';
        min = n;
        break;
      }
      case '05': {
        const n = getnum(true);
        if (n === null) throw parseErr(layout, value, elem, valueBefore);
        if (n >= 60) rangeErr ||= 'second';
        sec = n;
        // A fractional second may follow even if the layout has none.
        if ((v[0] === '.' || v[0] === ',') && isDigit(v[1]) && !l.startsWith('.999999999')) parseFrac();
        break;
      }
      case '.999999999': {
        if ((v[0] === '.' || v[0] === ',') && isDigit(v[1])) parseFrac();
        break;
      }
      case 'Z07:00': {
        if (v[0] === 'Z') {
          v = v.slice(1);
          offset = 0;
          break;
        }
        const m = /^([+-])(\d\d):(\d\d)/.exec(v);
        if (!m) throw parseErr(layout, value, elem, valueBefore);
        const hh = Number(m[2]);
        const mm = Number(m[3]);
        if (hh > 24) rangeErr ||= 'time zone offset hour';
        if (mm > 60) rangeErr ||= 'time zone offset minute';
        offset = (m[1] === '-' ? -1 : 1) * (hh * 3600 + mm * 60);
        v = v.slice(6);
        break;
      }
    }
    if (rangeErr) throw parseErr(layout, value, '', '', `: ${rangeErr} out of range`);
  }
  if (v.length > 0) throw parseErr(layout, value, '', '', `: extra text: ${quote(v)}`);
  if (day < 1 || day > daysIn(month, year)) throw parseErr(layout, value, '', '', ': day out of range');
  const days = daysFromCivil(year, month, day);
  const seconds = days * 86400 + hour * 3600 + min * 60 + sec - (offset ?? localOffset);
  return { seconds, nanos: nsec };
}

const RFC3339 = '2006-01-02T15:04:05Z07:00';
const RFC3339Nano = '2006-01-02T15:04:05.999999999Z07:00';

/** strconv.ParseInt(s, 10, 64) (returns a Number; throws Go's error text). */
function parseInt64(s: string): bigint {
  if (!/^[+-]?\d+$/.test(s)) throw new Error(`strconv.ParseInt: parsing ${quote(s)}: invalid syntax`);
  const v = BigInt(s);
  if (v > 0x7fffffffffffffffn || v < -0x8000000000000000n) {
    throw new Error(`strconv.ParseInt: parsing ${quote(s)}: value out of range`);
  }
  return v;
}

function parseTimestamp(value: string): Timestamp {
  const dot = value.indexOf('.');
  const s = dot < 0 ? value : value.slice(0, dot);
  const seconds = Number(parseInt64(s));
  if (dot < 0) return { seconds, nanos: 0 };
  const n = value.slice(dot + 1);
  const nsec = parseInt64(n);
  // "should already be in nanoseconds but just in case convert n to nanoseconds"
  const nanos = Math.trunc(Number(nsec) * Math.pow(10, 9 - n.length));
  return { seconds, nanos };
}

/**
 * Daemon side of --since/--until (ParseTimestamps): parses "<seconds>" or
 * "<seconds>.<nanoseconds>" (a shorter fraction is scaled to nanoseconds).
 * An empty value gives { seconds: defaultSeconds, nanos: 0 }.
 * Throws strconv.ParseInt's error text on bad input.
 */
export function parseTimestampParam(s: string, defaultSeconds = 0): Timestamp {
  if (s === '') return { seconds: defaultSeconds, nanos: 0 };
  return parseTimestamp(s);
}

/**
 * docker's GetTimestamp(value, reference): turns a --since/--until value into
 * the form sent to the daemon:
 *  - a Go duration ("10m", "1h30m") means that long before `now`; the result
 *    is whole Unix seconds, e.g. "1700000000" (no fraction);
 *  - an RFC 3339 time, with or without fractional seconds or zone, or a
 *    shortened form ("2006-01-02", "2006-01-02T15", "2006-01-02T15:04",
 *    "2006-01-02Z07:00"...) gives "<seconds>.<9-digit nanos>". Without a zone
 *    the time is in `now`'s local zone offset;
 *  - a Unix timestamp ("1500000000", "1500000000.123") is returned unchanged.
 * Throws Go's time.Parse error for a malformed date containing "-", else
 * `failed to parse value as time or duration: "x"`.
 */
export function getTimestamp(value: string, now: Date): string {
  if (value !== '0') {
    let d: bigint | null = null;
    try {
      d = parseGoDurationNanos(value);
    } catch {
      d = null;
    }
    if (d !== null) {
      const t = BigInt(now.getTime()) * 1000000n - d;
      let secs = t / 1000000000n;
      if (t % 1000000000n < 0n) secs -= 1n;
      return secs.toString();
    }
  }

  const parseInLocation = !/[zZ+]/.test(value) && value.split('-').length - 1 !== 3;
  let format: string;
  if (value.includes('.')) {
    format = parseInLocation ? '2006-01-02T15:04:05.999999999' : RFC3339Nano;
  } else if (value.includes('T')) {
    let tcolons = value.split(':').length - 1;
    if (!parseInLocation && !/[zZ]/.test(value) && tcolons > 0) tcolons--;
    if (parseInLocation) {
      format = tcolons === 0 ? '2006-01-02T15' : tcolons === 1 ? '2006-01-02T15:04' : '2006-01-02T15:04:05';
    } else {
      format = tcolons === 0 ? '2006-01-02T15Z07:00' : tcolons === 1 ? '2006-01-02T15:04Z07:00' : RFC3339;
    }
  } else {
    format = parseInLocation ? '2006-01-02' : '2006-01-02Z07:00';
  }

  let t: Timestamp;
  try {
    const localOffset = -now.getTimezoneOffset() * 60;
    t = goTimeParse(format, value, parseInLocation ? localOffset : 0);
  } catch (e) {
    if (value.includes('-')) throw e;
    try {
      parseTimestamp(value);
    } catch {
      throw new Error(`failed to parse value as time or duration: ${quote(value)}`);
    }
    return value;
  }
  return `${t.seconds}.${String(t.nanos).padStart(9, '0')}`;
}

/** Parse an RFC 3339 time as the API returns it ("2024-01-02T03:04:05.123456789Z"). */
export function parseRFC3339Nano(s: string): Timestamp {
  return goTimeParse(RFC3339Nano, s);
}
