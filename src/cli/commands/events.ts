// berth events: GET /events printed like docker's cli/command/system/events.go, one line per event (or a Go
// template per event), until the daemon ends the stream (--until) or the user interrupts.
import type { CommandSpec } from '../command.ts';
import { filterFlag, filtersJSON } from '../common-flags.ts';
import { StatusError } from '../errors.ts';
import { parseTemplate, goType, type Template } from '../format/template.ts';
import { getTimestamp } from '../../lib/timestamps.ts';
import { lines } from '../json-lines.ts';

interface WireEvent {
  status?: string;
  id?: string;
  from?: string;
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> | null };
  scope?: string;
  time?: number;
}

function p2(n: number): string {
  return String(n).padStart(2, '0');
}

/** Go's "2006-01-02T15:04:05.000000000Z07:00" in the local zone, from nanoseconds since the epoch. */
export function formatEventTime(nanos: bigint): string {
  const ms = Number(nanos / 1_000_000n);
  const frac = String(((nanos % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n).padStart(9, '0');
  const d = new Date(ms);
  const off = -d.getTimezoneOffset();
  const t = new Date(ms + off * 60000);
  const zone = off === 0 ? 'Z' : `${off < 0 ? '-' : '+'}${p2(Math.floor(Math.abs(off) / 60))}:${p2(Math.abs(off) % 60)}`;
  return `${String(t.getUTCFullYear()).padStart(4, '0')}-${p2(t.getUTCMonth() + 1)}-${p2(t.getUTCDate())}T${p2(t.getUTCHours())}:${p2(t.getUTCMinutes())}:${p2(t.getUTCSeconds())}.${frac}${zone}`;
}

/** docker's prettyPrintEvent: time, type, action, actor ID, then the sorted attributes. */
export function prettyEvent(e: WireEvent, timeNano: bigint): string {
  let s = '';
  if (timeNano !== 0n) s += `${formatEventTime(timeNano)} `;
  else if (e.time) s += `${formatEventTime(BigInt(e.time) * 1_000_000_000n)} `;
  s += `${e.Type ?? ''} ${e.Action ?? ''} ${e.Actor?.ID ?? ''}`;
  const attrs = e.Actor?.Attributes ?? {};
  const keys = Object.keys(attrs).sort();
  if (keys.length) s += ` (${keys.map((k) => `${k}=${attrs[k]}`).join(', ')})`;
  return s + '\n';
}

// events.Message as a template sees it: Go field names (an absent Attributes map reads as empty, as a nil
// Go map does), and json in the wire's field order through a hidden toJSON.
function messageStruct(e: WireEvent, timeNano: bigint, typeName = 'events.Message'): object {
  const attrs = e.Actor?.Attributes ?? null;
  const sorted = attrs && Object.fromEntries(Object.keys(attrs).sort().map((k) => [k, attrs[k]]));
  const actor = { [goType]: 'events.Actor', ID: e.Actor?.ID ?? '', Attributes: attrs ?? {} };
  const msg = {
    [goType]: typeName,
    Status: e.status ?? '', ID: e.id ?? '', From: e.from ?? '', Type: e.Type ?? '', Action: e.Action ?? '', Actor: actor,
    Scope: e.scope ?? '', Time: e.time ?? 0, TimeNano: timeNano,
  };
  Object.defineProperty(msg, 'toJSON', {
    enumerable: false,
    value: () => ({
      ...(e.status ? { status: e.status } : {}), ...(e.id ? { id: e.id } : {}), ...(e.from ? { from: e.from } : {}),
      Type: e.Type ?? '', Action: e.Action ?? '', Actor: { ID: e.Actor?.ID ?? '', Attributes: sorted },
      ...(e.scope ? { scope: e.scope } : {}), ...(e.time ? { time: e.time } : {}), ...(timeNano ? { timeNano } : {}),
    }),
  });
  Object.defineProperty(actor, 'toJSON', { enumerable: false, value: () => ({ ID: actor.ID, Attributes: sorted }) });
  return msg;
}

// docker's makeTemplate: "json" is {{json .}}; the template is tried on an empty message so that a bad
// field fails before any event arrives (status 64).
function makeTemplate(format: string): Template | undefined {
  if (format === '') return undefined;
  const src = format === 'json' ? '{{json .}}' : format;
  try {
    const t = parseTemplate(src);
    t.execute(messageStruct({}, 0n, '*events.Message'));
    return t;
  } catch (err) {
    throw new StatusError(`Error parsing format: ${(err as Error).message}`, 64);
  }
}

function timestamp(value: string): string | undefined {
  return value === '' ? undefined : getTimestamp(value, new Date());
}

export const eventsCommand: CommandSpec = {
  usage: '[OPTIONS]',
  short: 'Get real time events from the server',
  aliases: ['system events', 'events'],
  flags: [
    filterFlag(),
    {
      name: 'format', type: 'string', desc: "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates",
    },
    { name: 'since', type: 'string', desc: 'Show all events created since timestamp' },
    { name: 'until', type: 'string', desc: 'Stream events until this timestamp' },
  ],
  args: { none: true },
  async run(cli, flags) {
    const tmpl = makeTemplate(flags.str('format'));
    const res = await cli.client().request('GET', '/events', {
      query: { since: timestamp(flags.str('since')), until: timestamp(flags.str('until')), filters: filtersJSON(flags.list('filter')) },
    });
    for await (const line of lines(res)) {
      const e = JSON.parse(line) as WireEvent;
      // timeNano is past 2^53: read its digits from the text.
      const timeNano = BigInt(/"timeNano":(\d+)/.exec(line)?.[1] ?? '0');
      if (!tmpl) {
        cli.out.write(prettyEvent(e, timeNano));
        continue;
      }
      const r = tmpl.executePartial(messageStruct(e, timeNano));
      cli.out.write(r.output + '\n');
      if (r.error) throw r.error;
    }
  },
};
