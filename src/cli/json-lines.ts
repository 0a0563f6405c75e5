// The lines of a streamed response (events, stats: one JSON object per line), as they arrive.
import type { Readable } from 'node:stream';

export async function* lines(res: Readable): AsyncGenerator<string> {
  res.setEncoding('utf8');
  let buf = '';
  for await (const chunk of res) {
    buf += chunk as string;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.trim()) yield line;
    }
  }
  if (buf.trim()) yield buf;
}
