import os from 'node:os';
import { invalidParameter } from '../lib/errors.ts';

// "TERM", "SIGTERM", "sigterm", "15" -> 15, as Docker's ParseSignal.
export function parseSignal(s: string | number | undefined, dflt = 'SIGKILL'): number {
  const v = s === undefined || s === '' ? dflt : String(s);
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    if (n <= 0 || n > 64) throw invalidParameter(`Invalid signal: ${v}`);
    return n;
  }
  const up = v.toUpperCase();
  const name = (up.startsWith('SIG') ? up : `SIG${up}`) as keyof typeof os.constants.signals;
  const n = os.constants.signals[name];
  if (n === undefined) {
    const rt = /^SIGRTMIN(?:\+(\d+))?$/.exec(name) ?? /^SIGRTMAX(?:-(\d+))?$/.exec(name);
    if (rt) return name.startsWith('SIGRTMIN') ? 34 + Number(rt[1] ?? 0) : 64 - Number(rt[1] ?? 0);
    throw invalidParameter(`Invalid signal: ${v}`);
  }
  return n;
}
