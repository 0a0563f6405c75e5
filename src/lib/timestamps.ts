import { invalidParameter } from './errors.ts';

// The wire form of since/until parameters: "<seconds>[.<nanoseconds>]" (the docker CLI converts other forms).
export function parseTimestampParam(s: string): { seconds: number; nanos: number } {
  const m = /^(-?\d+)(?:\.(\d{1,9}))?$/.exec(s.trim());
  if (!m) throw invalidParameter(`invalid timestamp: ${s}`);
  return { seconds: Number(m[1]), nanos: m[2] ? Number(m[2].padEnd(9, '0')) : 0 };
}
