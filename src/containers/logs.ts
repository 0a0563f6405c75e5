// Reads a container's json-file log (written by berth-shim) for GET /containers/{id}/logs.
import { createReadStream, promises as fsp, watch } from 'node:fs';
import readline from 'node:readline';
import type { Writable } from 'node:stream';

export interface LogOptions {
  stdout: boolean;
  stderr: boolean;
  since?: number; // unix seconds (fractional)
  until?: number;
  timestamps: boolean;
  tail?: number; // undefined = all
  follow: boolean;
  tty: boolean;
  details: boolean;
  signal: AbortSignal;
  isRunning: () => boolean;
  onExit: (cb: () => void) => () => void;
}

interface Entry { log: string; stream: 'stdout' | 'stderr'; time: string; attrs?: Record<string, string> }

// Docker's stdcopy frame: [stream, 0, 0, 0, size(be32)] + payload.
export function frame(stream: 1 | 2, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

function timeOf(t: string): number {
  // RFC3339Nano: keep sub-millisecond ordering good enough for since/until filtering.
  const m = /^(.*?)(\.\d+)?(Z|[+-]\d\d:\d\d)$/.exec(t);
  if (!m) return Date.parse(t) / 1000;
  return Date.parse(m[1] + m[3]) / 1000 + (m[2] ? Number(`0${m[2]}`) : 0);
}

export async function streamLogs(file: string, out: Writable, o: LogOptions): Promise<void> {
  const accept = (e: Entry) => {
    if (e.stream === 'stdout' && !o.stdout) return false;
    if (e.stream === 'stderr' && !o.stderr) return false;
    const t = timeOf(e.time);
    if (o.since !== undefined && t < o.since) return false;
    if (o.until !== undefined && o.until > 0 && t > o.until) return false;
    return true;
  };
  const render = (e: Entry): Buffer => {
    let text = e.log;
    if (o.details && e.attrs) text = Object.entries(e.attrs).map(([k, v]) => `${k}=${v}`).join(',') + ' ' + text;
    if (o.timestamps) text = `${e.time} ${text}`;
    const buf = Buffer.from(text, 'utf8');
    return o.tty ? buf : frame(e.stream === 'stderr' ? 2 : 1, buf);
  };
  const write = (b: Buffer) => new Promise<void>((res) => (out.write(b) ? res() : out.once('drain', res)));

  let offset = 0;
  const readFrom = async (start: number, collect?: Entry[]): Promise<number> => {
    let st;
    try {
      st = await fsp.stat(file);
    } catch {
      return start;
    }
    if (st.size <= start) return start;
    const rl = readline.createInterface({ input: createReadStream(file, { start, end: st.size - 1 }), crlfDelay: Infinity });
    let consumed = start;
    for await (const line of rl) {
      consumed += Buffer.byteLength(line) + 1;
      if (!line) continue;
      let e: Entry;
      try {
        e = JSON.parse(line) as Entry;
      } catch {
        continue; // a line being written right now; we stop before it below
      }
      if (!accept(e)) continue;
      if (collect) collect.push(e);
      else await write(render(e));
      if (o.signal.aborted) break;
    }
    return Math.min(consumed, st.size);
  };

  if (o.tail !== undefined && o.tail >= 0) {
    const all: Entry[] = [];
    offset = await readFrom(0, all);
    for (const e of all.slice(Math.max(0, all.length - o.tail))) await write(render(e));
  } else {
    offset = await readFrom(0);
  }
  if (!o.follow || !o.isRunning() || o.signal.aborted) return;

  await new Promise<void>((resolve) => {
    let busy = false;
    let again = false;
    let finished = false;
    const pump = async () => {
      if (busy) {
        again = true;
        return;
      }
      busy = true;
      do {
        again = false;
        offset = await readFrom(offset);
      } while (again);
      busy = false;
    };
    const watcher = watch(file, () => void pump());
    const poll = setInterval(() => void pump(), 250);
    const stop = async () => {
      if (finished) return;
      finished = true;
      // The shim writes the last lines before it records the exit: read what is left, then end.
      await pump();
      watcher.close();
      clearInterval(poll);
      unsubscribe();
      resolve();
    };
    const unsubscribe = o.onExit(() => void stop());
    o.signal.addEventListener('abort', () => void stop());
    if (!o.isRunning()) void stop();
  });
}
