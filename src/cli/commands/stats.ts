// berth stats: docker's cli/command/container/stats.go. One stats stream per container; a table of the latest
// values, printed once (--no-stream) or redrawn every half second with docker's escape sequences. Without
// container arguments the running (or, with -a, all) containers are shown, and events add and drop them.
import type { IncomingMessage } from 'node:http';
import type { Cli, CommandSpec } from '../command.ts';
import type { ApiClient } from '../client.ts';
import { formatFlag } from '../common-flags.ts';
import { StatusError } from '../errors.ts';
import { readConfigFile, truncateID } from '../display.ts';
import { renderRows } from '../format/formatter.ts';
import { formatterContext } from '../format/go-fmt.ts';
import { formatFloat } from '../../lib/go-number.ts';
import { bytesSize, humanSizeWithPrecision } from '../../lib/units.ts';
import { lines } from '../json-lines.ts';

import { esc as enc } from '../client.ts';

/** The parts of a stats sample the CLI uses. */
export interface StatsSample {
  name?: string;
  id?: string;
  precpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number };
  cpu_stats?: { cpu_usage?: { total_usage?: number; percpu_usage?: number[] }; system_cpu_usage?: number; online_cpus?: number };
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> };
  blkio_stats?: { io_service_bytes_recursive?: { op?: string; value?: number }[] | null };
  networks?: Record<string, { rx_bytes?: number; tx_bytes?: number }>;
  pids_stats?: { current?: number };
}

export interface StatsEntry {
  Name: string;
  ID: string;
  CPUPercentage: number;
  Memory: number;
  MemoryLimit: number;
  MemoryPercentage: number;
  NetworkRx: number;
  NetworkTx: number;
  BlockRead: number;
  BlockWrite: number;
  PidsCurrent: number;
}

/** docker's calculateCPUPercentUnix: the container's share of the host's CPU time since the previous sample. */
export function cpuPercent(v: StatsSample): number {
  const cpuDelta = (v.cpu_stats?.cpu_usage?.total_usage ?? 0) - (v.precpu_stats?.cpu_usage?.total_usage ?? 0);
  const systemDelta = (v.cpu_stats?.system_cpu_usage ?? 0) - (v.precpu_stats?.system_cpu_usage ?? 0);
  let online = v.cpu_stats?.online_cpus ?? 0;
  if (online === 0) online = v.cpu_stats?.cpu_usage?.percpu_usage?.length ?? 0;
  return systemDelta > 0 && cpuDelta > 0 ? (cpuDelta / systemDelta) * online * 100 : 0;
}

/** docker's calculateMemUsageUnixNoCache: usage without the inactive page cache (v1 total_inactive_file, v2 inactive_file). */
export function memUsageNoCache(m: StatsSample['memory_stats']): number {
  const usage = m?.usage ?? 0;
  const stats = m?.stats ?? {};
  if ('total_inactive_file' in stats && stats.total_inactive_file < usage) return usage - stats.total_inactive_file;
  const inactive = stats.inactive_file ?? 0;
  return inactive < usage ? usage - inactive : usage;
}

/** One sample as docker's StatsEntry. */
export function statsEntry(v: StatsSample): StatsEntry {
  let read = 0;
  let write = 0;
  for (const e of v.blkio_stats?.io_service_bytes_recursive ?? []) {
    const op = (e.op ?? '')[0];
    if (op === 'r' || op === 'R') read += e.value ?? 0;
    else if (op === 'w' || op === 'W') write += e.value ?? 0;
  }
  let rx = 0;
  let tx = 0;
  for (const n of Object.values(v.networks ?? {})) {
    rx += n.rx_bytes ?? 0;
    tx += n.tx_bytes ?? 0;
  }
  const mem = memUsageNoCache(v.memory_stats);
  const limit = v.memory_stats?.limit ?? 0;
  return {
    Name: v.name ?? '', ID: v.id ?? '', CPUPercentage: cpuPercent(v), Memory: mem, MemoryLimit: limit,
    MemoryPercentage: limit !== 0 ? (mem / limit) * 100 : 0, NetworkRx: rx, NetworkTx: tx, BlockRead: read, BlockWrite: write,
    PidsCurrent: v.pids_stats?.current ?? 0,
  };
}

const header = {
  Container: 'CONTAINER', Name: 'NAME', ID: 'CONTAINER ID', CPUPerc: 'CPU %', MemUsage: 'MEM USAGE / LIMIT', MemPerc: 'MEM %',
  NetIO: 'NET I/O', BlockIO: 'BLOCK I/O', PIDs: 'PIDS',
};
const defaultTable = 'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';

/** docker's statsContext: the columns of one container ("--" where the last sample failed or is missing). */
export function statsRow(container: string, s: StatsEntry | undefined, trunc: boolean, invalid = !s) {
  const e = s ?? { Name: '', ID: '', CPUPercentage: 0, Memory: 0, MemoryLimit: 0, MemoryPercentage: 0, NetworkRx: 0, NetworkTx: 0, BlockRead: 0, BlockWrite: 0, PidsCurrent: 0 };
  const pct = (x: number) => `${formatFloat(x, 'f', 2)}%`;
  const io = (a: number, b: number) => `${humanSizeWithPrecision(a, 3)} / ${humanSizeWithPrecision(b, 3)}`;
  return {
    [formatterContext]: true,
    Container: container,
    Name: e.Name.length > 1 ? e.Name.slice(1) : '--',
    ID: trunc ? truncateID(e.ID) : e.ID,
    CPUPerc: invalid ? '--' : pct(e.CPUPercentage),
    MemUsage: invalid ? '-- / --' : `${bytesSize(e.Memory)} / ${bytesSize(e.MemoryLimit)}`,
    MemPerc: invalid ? '--' : pct(e.MemoryPercentage),
    NetIO: invalid ? '--' : io(e.NetworkRx, e.NetworkTx),
    BlockIO: invalid ? '--' : io(e.BlockRead, e.BlockWrite),
    PIDs: invalid ? '--' : String(e.PidsCurrent),
  };
}

/** One container's stream of samples: the latest entry, or none while the last read failed or timed out. */
class ContainerStats {
  readonly container: string;
  entry: StatsEntry | undefined;
  /** The last entry even when invalid (its name and ID stay in the table). */
  private last: StatsEntry | undefined;
  err: Error | undefined;
  private res: IncomingMessage | undefined;
  private closed = false;

  constructor(container: string) {
    this.container = container;
  }

  // Like docker's SetErrorAndReset, a failed read keeps the name and ID of the last sample.
  row(trunc: boolean) {
    return statsRow(this.container, this.entry ?? this.last, trunc, !this.entry);
  }

  // docker's collect(): resolves once the first sample (or an error, or 2 s of silence) is in; with stream
  // the samples keep coming, and 2 s without one blank the row.
  collect(client: ApiClient, stream: boolean): Promise<void> {
    return new Promise((first) => {
      let timer: NodeJS.Timeout | undefined;
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          this.invalidate(new Error('timeout waiting for stats'));
          first();
          if (stream && !this.closed) arm();
        }, 2000);
      };
      arm();
      void (async () => {
        try {
          const res = await client.request('GET', `/containers/${enc(this.container)}/stats`, { query: { stream: stream ? '1' : '0' } });
          this.res = res;
          for await (const line of lines(res)) {
            this.entry = this.last = statsEntry(JSON.parse(line) as StatsSample);
            this.err = undefined;
            first();
            if (stream) arm();
          }
          // The daemon ended a stream (the container was removed): docker shows the row as invalid.
          if (stream && !this.closed) this.invalidate(new Error('EOF'));
        } catch (err) {
          if (!this.closed) this.invalidate(err as Error);
        } finally {
          clearTimeout(timer);
          first();
        }
      })();
    });
  }

  private invalidate(err: Error): void {
    this.entry = undefined;
    this.err = err;
  }

  close(): void {
    this.closed = true;
    this.res?.destroy();
  }
}

interface ListedContainer { Id: string }

export const statsCommand: CommandSpec = {
  usage: '[OPTIONS] [CONTAINER...]',
  short: 'Display a live stream of container(s) resource usage statistics',
  aliases: ['container stats', 'stats'],
  flags: [
    { name: 'all', short: 'a', type: '', desc: 'Show all containers (default shows just running)' },
    formatFlag({ table: true }),
    { name: 'no-stream', type: '', desc: 'Disable streaming stats and only pull the first result' },
    { name: 'no-trunc', type: '', desc: 'Do not truncate output' },
  ],
  async run(cli: Cli, flags, args) {
    const client = cli.client();
    const all = flags.bool('all');
    const stream = !flags.bool('no-stream');
    const showAll = args.length === 0;
    const list: ContainerStats[] = [];
    const add = (id: string): Promise<void> | undefined => {
      if (list.some((s) => s.container === id)) return undefined;
      const s = new ContainerStats(id);
      list.push(s);
      return s.collect(client, stream);
    };
    const remove = (id: string) => {
      const i = list.findIndex((s) => s.container === id);
      if (i >= 0) list.splice(i, 1)[0].close();
    };
    const firsts: Promise<void>[] = [];
    if (showAll) {
      // Subscribed before listing, so no start is missed between the two.
      if (stream) void followEvents(client, all, (action, id) => {
        if (action === 'die') remove(id);
        else void add(id);
      });
      const cs = await client.json<ListedContainer[]>('GET', '/containers/json', { query: { all } });
      for (const c of cs ?? []) {
        const p = add(c.Id.slice(0, 12));
        if (p) firsts.push(p);
      }
      await Promise.all(firsts);
    } else {
      for (const c of args) {
        const p = add(c);
        if (p) firsts.push(p);
      }
      await Promise.all(firsts);
      const errs = list.map((s) => s.err?.message).filter(Boolean);
      if (errs.length) {
        for (const s of list) s.close();
        throw new StatusError(errs.join('\n'), 1);
      }
    }
    let format = flags.str('format');
    if (format === '') format = (readConfigFile(cli.configDir) as { statsFormat?: string }).statsFormat || 'table';
    if (format === 'table') format = defaultTable;
    const trunc = !flags.bool('no-trunc');
    const render = () => renderRows(format, list.map((s) => s.row(trunc)), header, { typeName: '*container.statsContext' });
    if (!stream) {
      cli.out.write(render());
      for (const s of list) s.close();
      return;
    }
    for (;;) {
      await new Promise((r) => setTimeout(r, 500));
      // docker 28's redraw, byte for byte: home, the table, the same lines again each followed by an
      // erase-to-end-of-line, then erase-below; all in one write.
      let text = '\x1b[H' + render();
      for (const line of text.split('\n')) text += `${line} \x1b[K\n`;
      cli.out.write(text + '\x1b[J');
      if (list.length === 0 && !showAll) return;
    }
  },
};

// Containers coming and going while `stats` streams without names: start adds one (create too with -a),
// die drops one (without -a).
async function followEvents(client: ApiClient, all: boolean, on: (action: string, id: string) => void): Promise<void> {
  const events = all ? ['create', 'start'] : ['start', 'die'];
  const filters = JSON.stringify({ type: { container: true }, event: Object.fromEntries(events.map((e) => [e, true])) });
  try {
    const res = await client.request('GET', '/events', { query: { filters } });
    for await (const line of lines(res)) {
      const e = JSON.parse(line) as { Action?: string; Actor?: { ID?: string } };
      if (e.Action && e.Actor?.ID) on(e.Action, e.Actor.ID.slice(0, 12));
    }
  } catch { /* events unavailable: the initial list stays */ }
}
