// Printing times the way Go (and so docker) prints them. All output is UTC.

import { humanDuration } from './units.ts';

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
