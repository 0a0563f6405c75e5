// Docker's JSON progress streams (pull, push, load, import).
import type { ServerResponse } from 'node:http';
import { startStream, type Ctx } from './router.ts';
import type { ProgressMessage } from '../lib/progress.ts';

// Progress streams: JSON lines; a failure after the headers went out becomes an {"error"} line, as Docker does.
// The headers go out with the first message: a failure before it is the response's status (400 for a bad
// archive), as Docker's flush-on-first-write does.
export async function progressStream(ctx: Ctx, work: (report: (m: ProgressMessage) => void, signal: AbortSignal) => Promise<void>) {
  let res: ServerResponse | undefined;
  const ac = new AbortController();
  ctx.req.socket.on('close', () => { if (!res?.writableFinished) ac.abort(); });
  const report = (m: ProgressMessage) => {
    res ??= startStream(ctx);
    res.write(JSON.stringify(m) + '\r\n');
  };
  try {
    await work(report, ac.signal);
  } catch (err) {
    if (!res) throw err;
    const message = err instanceof Error ? err.message : String(err);
    report({ errorDetail: { message }, error: message });
  }
  (res ?? startStream(ctx)).end();
}
