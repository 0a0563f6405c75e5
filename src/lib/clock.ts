// The wall clock with more than Date.now()'s millisecond resolution, for event times and stats samples.

// The monotonic clock gives the digits below the millisecond, anchored to the wall clock and re-anchored
// whenever it leaves Date.now()'s millisecond (drift, a clock step): a time is never before Date.now().
let anchor = Date.now() - performance.now();

/** Nanoseconds since the epoch (microsecond resolution). */
export function wallClockNanos(): bigint {
  const now = Date.now();
  let t = anchor + performance.now();
  if (t < now || t >= now + 1) {
    anchor = now - performance.now();
    t = now;
  }
  return BigInt(Math.floor(t * 1000)) * 1000n;
}

/** Go's time.Time JSON form in UTC ("2006-01-02T15:04:05.999999999Z", trailing zeros dropped). */
export function rfc3339Nano(ns: bigint): string {
  const iso = new Date(Number(ns / 1_000_000n)).toISOString();
  const frac = String(ns % 1_000_000_000n).padStart(9, '0').replace(/0+$/, '');
  return `${iso.slice(0, 19)}${frac ? '.' + frac : ''}Z`;
}
