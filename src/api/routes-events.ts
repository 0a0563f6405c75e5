// SystemEvents: past events from the ring (with since/until), then live ones until `until` or the client
// goes away, one JSON object per line.
import type { Router, Ctx } from './router.ts';
import { startStream, filtersParam } from './router.ts';
import type { Daemon } from '../daemon/daemon.ts';
import { parseTimestampParam } from '../lib/timestamps.ts';
import { invalidParameter } from '../lib/errors.ts';
import { eventFilter } from '../events/filter.ts';
import { encodeEvent } from '../events/service.ts';

// Docker's eventTime: "<seconds>[.<nanos>]"; absent or empty means no bound.
function eventTime(q: URLSearchParams, name: string): bigint | undefined {
  const v = q.get(name);
  if (!v) return undefined;
  let t;
  try {
    t = parseTimestampParam(v, -1);
  } catch (err) {
    throw invalidParameter((err as Error).message);
  }
  return BigInt(t.seconds) * 1_000_000_000n + BigInt(t.nanos);
}

function systemEvents(d: Daemon, ctx: Ctx): void {
  const q = ctx.query;
  const since = eventTime(q, 'since');
  const until = eventTime(q, 'until');
  if (until !== undefined && since !== undefined && until < since) {
    throw invalidParameter(`\`since\` time (${q.get('since')}) cannot be after \`until\` time (${q.get('until')})`);
  }
  const filter = eventFilter(filtersParam(q));
  const res = startStream(ctx);
  const sub = d.events.subscribe({ since, until, filter }, (e) => res.write(encodeEvent(e) + '\n'));
  for (const e of sub.buffered) res.write(encodeEvent(e) + '\n');
  let timer: NodeJS.Timeout | undefined;
  const close = () => {
    sub.unsubscribe();
    clearTimeout(timer);
    ctx.req.socket.off('close', close);
    res.end();
  };
  ctx.req.socket.on('close', close);
  if (until === undefined) return;
  // An `until` in the past returns only history; setTimeout takes at most 2^31-1 ms, so wait in steps.
  const wait = () => {
    const ms = Number((until - BigInt(Date.now()) * 1_000_000n) / 1_000_000n);
    if (ms <= 0) close();
    else timer = setTimeout(wait, Math.min(ms, 2 ** 31 - 1));
  };
  wait();
}

export function registerEventRoutes(r: Router, d: Daemon): void {
  r.add('GET', '/events', (ctx) => systemEvents(d, ctx));
}
