// Docker's JSON progress messages (jsonmessage): what `docker pull/load/push` clients parse to draw bars.
import { Transform } from 'node:stream';

export interface ProgressMessage {
  status?: string;
  id?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  stream?: string;
  error?: string;
  errorDetail?: { message: string };
  aux?: unknown;
}

export type Report = (m: ProgressMessage) => void;

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];

// go-units HumanSize: decimal units, 4 significant digits as Docker's progress bars print them ("4.439MB").
export function progressSize(n: number): string {
  let i = 0;
  let v = n;
  while (v >= 1000 && i < UNITS.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(4))}${UNITS[i]}`;
}

// The `progress` string of a JSON message, as Docker renders it: a 50-wide bar then current/total.
export function progressBar(current: number, total: number): string {
  if (total <= 0) return progressSize(current);
  const width = 50;
  const filled = Math.min(width, Math.floor((width * current) / total));
  const bar = filled >= width ? '='.repeat(width) : '='.repeat(filled) + '>' + ' '.repeat(width - filled - 1);
  return `[${bar}] ${progressSize(current).padStart(8)}/${progressSize(total)}`;
}

export function progressMessage(status: string, id: string, current: number, total: number): ProgressMessage {
  return { status, id, progressDetail: { current, total }, progress: progressBar(current, total) };
}

// Counts the bytes flowing through, reporting at most every 100 ms (and at the total).
export function progressCounter(total: number, onProgress: (n: number) => void): Transform {
  let n = 0;
  let last = 0;
  return new Transform({
    transform(chunk: Buffer, _e, cb) {
      n += chunk.length;
      const now = Date.now();
      if (now - last > 100 || n === total) {
        last = now;
        onProgress(n);
      }
      cb(null, chunk);
    },
  });
}
