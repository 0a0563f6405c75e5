// Renders the daemon's JSON message streams (pull, load, import, push) like docker's jsonmessage package:
// progress bars redrawn in place on a terminal, plain status lines when the output is piped.
import type { Readable } from 'node:stream';
import { humanSizeWithPrecision } from '../lib/units.ts';

// go-units HumanSize (precision 4), as jsonmessage uses.
const humanSize = (n: number) => humanSizeWithPrecision(n, 4);

export interface JSONMessage {
  stream?: string;
  status?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number; start?: number; units?: string; hidecounts?: boolean };
  id?: string;
  from?: string;
  time?: number;
  timeNano?: number;
  error?: string;
  errorDetail?: { code?: number; message?: string };
  aux?: unknown;
}

export class JSONMessageError extends Error {
  readonly code: number | undefined;
  constructor(message: string, code?: number) {
    super(message);
    this.code = code;
  }
}

interface Out {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

function goDuration(seconds: number): string {
  if (seconds === 0) return '0s';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return (h ? `${h}h` : '') + (h || m ? `${m}m` : '') + `${s}s`;
}

/** JSONProgress.String() */
export function progressString(p: NonNullable<JSONMessage['progressDetail']>, width: number, now = Date.now()): string {
  const current = p.current ?? 0;
  const total = p.total ?? 0;
  if (current <= 0 && total <= 0) return '';
  if (total <= 0) return p.units ? `${current} ${p.units}` : humanSize(current).padStart(8);
  let percentage = Math.trunc(Math.trunc((current / total) * 100) / 2);
  if (percentage > 50) percentage = 50;
  let bar = '';
  if (width > 110) bar = `[${'='.repeat(percentage)}>${' '.repeat(Math.max(0, 50 - percentage))}] `;
  let numbers = '';
  if (!p.hidecounts) {
    if (!p.units) numbers = current > total ? humanSize(current).padStart(8) : `${humanSize(current).padStart(8)}/${humanSize(total)}`;
    else numbers = current > total ? `${current} ${p.units}` : `${current}/${total} ${p.units}`;
  }
  let left = '';
  if (current > 0 && p.start && p.start > 0 && percentage < 50) {
    const fromStartMs = now - p.start * 1000;
    const perEntry = fromStartMs / current;
    left = ' ' + goDuration(Math.round(((total - current) * perEntry) / 1000));
  }
  return bar + numbers + left;
}

function rfc3339NanoFixed(ms: number, nanos?: bigint): string {
  const d = new Date(ms);
  const frac = nanos !== undefined ? String(nanos % 1_000_000_000n).padStart(9, '0') : '000000000';
  return d.toISOString().replace(/\.\d{3}Z$/, `.${frac}Z`).replace(/Z$/, 'Z');
}

function display(jm: JSONMessage, out: Out, isTerminal: boolean, width: number): void {
  if (jm.error !== undefined || jm.errorDetail !== undefined) {
    const code = jm.errorDetail?.code;
    if (code === 401) throw new JSONMessageError('authentication is required', code);
    throw new JSONMessageError(jm.errorDetail?.message ?? jm.error ?? '', code);
  }
  let endl = '';
  const progress = jm.progressDetail ? progressString(jm.progressDetail, width) : undefined;
  if (isTerminal && !jm.stream && jm.progressDetail) {
    out.write('\x1b[2K\r');
    endl = '\r';
  } else if (progress) {
    // Progress bars are not shown when the output is not a terminal.
    return;
  }
  if (jm.timeNano) out.write(`${rfc3339NanoFixed(Number(BigInt(jm.timeNano) / 1_000_000n), BigInt(jm.timeNano))} `);
  else if (jm.time) out.write(`${rfc3339NanoFixed(jm.time * 1000)} `);
  if (jm.id) out.write(`${jm.id}: `);
  if (jm.from) out.write(`(from ${jm.from}) `);
  if (jm.progressDetail && isTerminal) out.write(`${jm.status ?? ''} ${progress}${endl}`);
  else if (jm.progress) out.write(`${jm.status ?? ''} ${jm.progress}${endl}`);
  else if (jm.stream) out.write(`${jm.stream}${endl}`);
  else out.write(`${jm.status ?? ''}${endl}\n`);
}

/** Reads newline- or concatenation-delimited JSON values from a stream. */
export async function* jsonValues<T = unknown>(src: Readable | AsyncIterable<Buffer>): AsyncGenerator<T> {
  let buf = '';
  const decoder = new TextDecoder();
  for await (const chunk of src as AsyncIterable<Buffer>) {
    buf += decoder.decode(chunk, { stream: true });
    let start: number;
    while ((start = buf.search(/\S/)) >= 0) {
      const end = jsonEnd(buf, start);
      if (end < 0) break;
      yield JSON.parse(buf.slice(start, end)) as T;
      buf = buf.slice(end);
    }
    if (start! < 0) buf = '';
  }
  if (buf.trim() !== '') yield JSON.parse(buf) as T;
}

/** Index just past the JSON value starting at start, or -1 when it is not complete yet. */
function jsonEnd(s: string, start: number): number {
  let depth = 0;
  let inStr = false;
  for (let i = start; i < s.length; i++) {
    const c = s[i];
    if (inStr) {
      if (c === '\\') i++;
      else if (c === '"') inStr = false;
      continue;
    }
    if (c === '"') inStr = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) return i + 1;
    } else if (depth === 0 && /\s/.test(c)) return i;
  }
  return -1;
}

/**
 * DisplayJSONMessagesStream. aux messages go to onAux instead of being printed. Throws JSONMessageError on
 * the first error message in the stream.
 */
export async function displayJSONMessages(src: Readable, out: Out, opts: { onAux?: (jm: JSONMessage) => void } = {}): Promise<void> {
  const isTerminal = out.isTTY === true;
  const width = isTerminal ? (out.columns || 200) : 200;
  let ids = new Map<string, number>();
  for await (const jm of jsonValues<JSONMessage>(src)) {
    if (jm.aux !== undefined) {
      opts.onAux?.(jm);
      continue;
    }
    let diff = 0;
    if (jm.id && (jm.progressDetail || jm.progress)) {
      let line = ids.get(jm.id);
      if (line === undefined) {
        line = ids.size;
        ids.set(jm.id, line);
        if (isTerminal) out.write('\n');
      }
      diff = ids.size - line;
      if (isTerminal && diff > 0) out.write(`\x1b[${diff}A`);
    } else {
      ids = new Map();
    }
    try {
      display(jm, out, isTerminal, width);
    } finally {
      if (jm.id && isTerminal && diff > 0) out.write(`\x1b[${diff}B`);
    }
  }
}
