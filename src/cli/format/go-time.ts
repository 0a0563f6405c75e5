// Printing times the way Go (and so docker) prints them. All output is UTC.

import { humanDuration } from '../../lib/units.ts';

function p2(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

function yearStr(y: number): string {
  if (y < 0) return '-' + String(-y).padStart(4, '0');
  return String(y).padStart(4, '0');
}

/** Nanoseconds within the second: the Date's milliseconds plus extra sub-millisecond nanos. */
function nanosOf(date: Date, extraNanos: number): number {
  const ms = ((date.getTime() % 1000) + 1000) % 1000;
  return ms * 1e6 + Math.trunc(extraNanos);
}

function fracTrimmed(nanos: number): string {
  if (nanos === 0) return '';
  return '.' + String(nanos).padStart(9, '0').replace(/0+$/, '');
}

function datePart(d: Date): string {
  return `${yearStr(d.getUTCFullYear())}-${p2(d.getUTCMonth() + 1)}-${p2(d.getUTCDate())}`;
}

function clockPart(d: Date): string {
  return `${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}`;
}

/**
 * Go's time.RFC3339Nano layout ("2006-01-02T15:04:05.999999999Z07:00") in UTC:
 * trailing zeros of the fraction removed (no fraction at all when zero), "Z" zone.
 * extraNanos (0..999999) adds precision below the Date's milliseconds.
 */
export function formatRFC3339Nano(date: Date, extraNanos = 0): string {
  return `${datePart(date)}T${clockPart(date)}${fracTrimmed(nanosOf(date, extraNanos))}Z`;
}

/** Go's time.RFC3339 layout ("2006-01-02T15:04:05Z07:00") in UTC. */
export function formatRFC3339(date: Date): string {
  return `${datePart(date)}T${clockPart(date)}Z`;
}

/** Go's time.Time.String() in UTC: "2006-01-02 15:04:05.999999999 +0000 UTC". */
export function formatGoTimeString(date: Date, extraNanos = 0): string {
  return `${datePart(date)} ${clockPart(date)}${fracTrimmed(nanosOf(date, extraNanos))} +0000 UTC`;
}

/**
 * docker's "CREATED" column (ps/images/volumes...): go-units HumanDuration of
 * the time elapsed since `date`, followed by " ago" ("2 hours ago", "Less than a second ago").
 */
export function createdSince(date: Date, now: Date = new Date()): string {
  return `${humanDuration(now.getTime() - date.getTime())} ago`;
}

function zoneAbbrev(date: Date, offsetMin: number): string {
  const tz = process.env.TZ;
  if (offsetMin === 0 && (tz === undefined || tz === '' || /^(UTC|Etc\/UTC|UTC0|GMT|Etc\/GMT)$/i.test(tz))) return 'UTC';
  for (const locale of ['en-US', 'en-GB']) {
    try {
      const part = new Intl.DateTimeFormat(locale, { timeZoneName: 'short' })
        .formatToParts(date)
        .find((p) => p.type === 'timeZoneName')?.value;
      if (part && /^[A-Z]{2,5}$/.test(part) && !(part === 'GMT' && offsetMin !== 0)) return part;
    } catch {
      // fall through to the numeric form
    }
  }
  // tzdata's numeric abbreviations: "+03", "-0530".
  const sign = offsetMin < 0 ? '-' : '+';
  const a = Math.abs(offsetMin);
  return sign + p2(Math.floor(a / 60)) + (a % 60 ? p2(a % 60) : '');
}

/**
 * Go's time.Time.String() in the process's local time zone, as docker prints
 * CreatedAt columns (time.Unix(created, 0).String()):
 * "2006-01-02 15:04:05.999999999 -0700 MST" ("+0000 UTC" when TZ is UTC).
 */
export function formatGoTimeLocal(date: Date, extraNanos = 0): string {
  const offsetMin = -date.getTimezoneOffset();
  const shifted = new Date(date.getTime() + offsetMin * 60000);
  const sign = offsetMin < 0 ? '-' : '+';
  const a = Math.abs(offsetMin);
  const off = sign + p2(Math.floor(a / 60)) + p2(a % 60);
  return `${datePart(shifted)} ${clockPart(shifted)}${fracTrimmed(nanosOf(date, extraNanos))} ${off} ${zoneAbbrev(date, offsetMin)}`;
}
