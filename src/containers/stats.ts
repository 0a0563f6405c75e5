// ContainerStats: samples of a container's cgroup (v1 or v2), the host's CPU time and the container's network
// counters, in the shape of Docker's StatsJSON (daemon/stats_unix.go statsV1/statsV2 and the stats collector).
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { controllerDir, type CgroupInfo } from '../runtime/cgroups.ts';
import type { ContainerRecord } from './types.ts';
import { wallClockNanos, rfc3339Nano } from '../lib/clock.ts';

type U64 = number | bigint;
export type Obj = Record<string, unknown>;

const ZERO_TIME = '0001-01-01T00:00:00Z';
const CLOCK_TICKS = 100; // USER_HZ: the unit of /proc/stat and cpuacct.stat
const NS = 1e9;

// memory.stat keys Docker reports, v1 and v2 (a missing key reads 0, as in Docker).
const MEMORY_V1_KEYS = ['cache', 'rss', 'rss_huge', 'mapped_file', 'dirty', 'writeback', 'pgpgin', 'pgpgout', 'pgfault',
  'pgmajfault', 'inactive_anon', 'active_anon', 'inactive_file', 'active_file', 'unevictable', 'hierarchical_memory_limit',
  'hierarchical_memsw_limit', 'total_cache', 'total_rss', 'total_rss_huge', 'total_mapped_file', 'total_dirty',
  'total_writeback', 'total_pgpgin', 'total_pgpgout', 'total_pgfault', 'total_pgmajfault', 'total_inactive_anon',
  'total_active_anon', 'total_inactive_file', 'total_active_file', 'total_unevictable'];
const MEMORY_V2_KEYS = ['anon', 'file', 'kernel_stack', 'slab', 'sock', 'shmem', 'file_mapped', 'file_dirty', 'file_writeback',
  'anon_thp', 'inactive_anon', 'active_anon', 'inactive_file', 'active_file', 'unevictable', 'slab_reclaimable',
  'slab_unreclaimable', 'pgfault', 'pgmajfault', 'workingset_refault', 'workingset_activate', 'workingset_nodereclaim',
  'pgrefill', 'pgscan', 'pgsteal', 'pgactivate', 'pgdeactivate', 'pglazyfree', 'pglazyfreed', 'thp_fault_alloc',
  'thp_collapse_alloc'];

/** Reads one cgroup file of a controller (v1) or of the container's unified directory (v2); undefined if absent. */
export type CgroupRead = (controller: string, file: string) => string | undefined;

// ---- parsing (pure: unit-tested on sample file contents) ----------------------------------------

/** A cgroup integer; values past 2^53 (unlimited limits) stay exact as bigints. */
export function u64(s: string | undefined): U64 {
  const t = (s ?? '').trim();
  if (!/^\d+$/.test(t)) return 0;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : BigInt(t);
}

const num = (v: U64): number => Number(v);

/** "key value" lines (memory.stat, cpu.stat, cpuacct.stat). */
export function parseFlatKeyed(text: string | undefined): Map<string, U64> {
  const m = new Map<string, U64>();
  for (const line of (text ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined) m.set(k, u64(v));
  }
  return m;
}

const UNLIMITED = 2n ** 64n - 1n;

/** A limit file: "max" or an integer. */
function limitOf(s: string | undefined): U64 {
  const t = (s ?? '').trim();
  return t === 'max' ? UNLIMITED : u64(t);
}

/** Docker's PidsStats.Limit: 0 for no limit. */
function pidsLimit(s: string | undefined): U64 {
  const l = limitOf(s);
  return l === UNLIMITED ? 0 : l;
}

/** Docker's MemoryStats.Limit: the host's memory when the cgroup's is larger (unlimited). */
function memoryLimit(s: string | undefined, machineMemory: number): U64 {
  const l = limitOf(s);
  return machineMemory > 0 && BigInt(l) > BigInt(machineMemory) ? machineMemory : l;
}

function memoryStats(keys: string[], stat: Map<string, U64>): Obj {
  const out: Obj = {};
  for (const k of [...keys].sort()) out[k] = stat.get(k) ?? 0;
  return out;
}

// v1 blkio lines: "8:0 Read 4096", "8:0 4096" (time, sectors), "Total 4096" (skipped), as containerd reads them.
// Docker copies every v1 list, so an empty one is [] (v2 leaves all but one null).
export function parseBlkioV1(text: string | undefined): Obj[] {
  const out: Obj[] = [];
  for (const line of (text ?? '').split('\n')) {
    const f = line.split(/[ :]+/).filter(Boolean);
    if (f.length < 3) continue;
    const [major, minor] = [Number(f[0]), Number(f[1])];
    const op = f.length === 4 ? f[2] : '';
    out.push({ major, minor, op, value: u64(f[f.length - 1]) });
  }
  return out;
}

// v2 io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0" -> Docker's read/write entries.
export function parseIoStatV2(text: string | undefined): Obj[] | null {
  const out: Obj[] = [];
  for (const line of (text ?? '').split('\n')) {
    const [dev, ...kvs] = line.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(dev ?? '');
    if (!m) continue;
    const kv = new Map(kvs.map((x) => x.split('=') as [string, string]));
    const major = Number(m[1]);
    const minor = Number(m[2]);
    out.push({ major, minor, op: 'read', value: u64(kv.get('rbytes')) }, { major, minor, op: 'write', value: u64(kv.get('wbytes')) });
  }
  return out.length ? out : null;
}

function blkio(serviceBytes: Obj[] | null, rest: Partial<Record<string, Obj[] | null>> = {}): Obj {
  return {
    io_service_bytes_recursive: serviceBytes, io_serviced_recursive: rest.serviced ?? null, io_queue_recursive: rest.queued ?? null,
    io_service_time_recursive: rest.serviceTime ?? null, io_wait_time_recursive: rest.waitTime ?? null,
    io_merged_recursive: rest.merged ?? null, io_time_recursive: rest.time ?? null, sectors_recursive: rest.sectors ?? null,
  };
}

function throttling(periods: U64, throttled: U64, time: U64): Obj {
  return { periods, throttled_periods: throttled, throttled_time: time };
}

function omitZero(o: Obj): Obj {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== 0 && v !== 0n && v !== undefined));
}

/** Docker's statsV1 from the v1 controllers' files. */
export function statsV1(read: CgroupRead, machineMemory: number): Obj {
  const acct = parseFlatKeyed(read('cpuacct', 'cpuacct.stat'));
  const percpu = (read('cpuacct', 'cpuacct.usage_percpu') ?? '').trim().split(/\s+/).filter(Boolean).map(u64);
  const cpuStat = parseFlatKeyed(read('cpu', 'cpu.stat'));
  const cpuUsage: Obj = { total_usage: u64(read('cpuacct', 'cpuacct.usage')) };
  if (percpu.length) cpuUsage.percpu_usage = percpu;
  cpuUsage.usage_in_kernelmode = (num(acct.get('system') ?? 0) * NS) / CLOCK_TICKS;
  cpuUsage.usage_in_usermode = (num(acct.get('user') ?? 0) * NS) / CLOCK_TICKS;
  // containerd reads the CFQ files when the kernel has them and they are not empty, else the throttle ones.
  const b = (f: string) => parseBlkioV1(read('blkio', `blkio.${f}`));
  let blk = blkio(b('io_service_bytes_recursive'), {
    serviced: b('io_serviced_recursive'), queued: b('io_queued_recursive'), serviceTime: b('io_service_time_recursive'),
    waitTime: b('io_wait_time_recursive'), merged: b('io_merged_recursive'), time: b('time_recursive'), sectors: b('sectors_recursive'),
  });
  if (Object.values(blk).every((v) => (v as Obj[]).length === 0)) {
    blk = blkio(b('throttle.io_service_bytes_recursive'), {
      serviced: b('throttle.io_serviced_recursive'), queued: [], serviceTime: [], waitTime: [], merged: [], time: [], sectors: [],
    });
  }
  const stat = parseFlatKeyed(read('memory', 'memory.stat'));
  return {
    pids_stats: omitZero({ current: u64(read('pids', 'pids.current')), limit: pidsLimit(read('pids', 'pids.max')) }),
    blkio_stats: blk,
    cpu_stats: { cpu_usage: cpuUsage, throttling_data: throttling(cpuStat.get('nr_periods') ?? 0, cpuStat.get('nr_throttled') ?? 0, cpuStat.get('throttled_time') ?? 0) },
    memory_stats: omitZero({
      usage: u64(read('memory', 'memory.usage_in_bytes')),
      max_usage: u64(read('memory', 'memory.max_usage_in_bytes')),
      stats: memoryStats(MEMORY_V1_KEYS, stat),
      failcnt: u64(read('memory', 'memory.failcnt')),
      limit: memoryLimit(read('memory', 'memory.limit_in_bytes'), machineMemory),
    }),
  };
}

/** Docker's statsV2 from the unified directory's files (the controller argument is ignored). */
export function statsV2(read: CgroupRead, machineMemory: number): Obj {
  const r = (f: string) => read('', f);
  const cpu = parseFlatKeyed(r('cpu.stat'));
  const us = (k: string) => num(cpu.get(k) ?? 0) * 1000;
  const stat = parseFlatKeyed(r('memory.stat'));
  return {
    pids_stats: omitZero({ current: u64(r('pids.current')), limit: pidsLimit(r('pids.max')) }),
    blkio_stats: blkio(parseIoStatV2(r('io.stat'))),
    cpu_stats: {
      cpu_usage: { total_usage: us('usage_usec'), usage_in_kernelmode: us('system_usec'), usage_in_usermode: us('user_usec') },
      throttling_data: throttling(cpu.get('nr_periods') ?? 0, cpu.get('nr_throttled') ?? 0, us('throttled_usec')),
    },
    memory_stats: omitZero({
      usage: u64(r('memory.current')),
      stats: memoryStats(MEMORY_V2_KEYS, stat),
      limit: memoryLimit(r('memory.max'), machineMemory),
    }),
  };
}

/** The host's CPU time in nanoseconds (the first seven fields of /proc/stat's "cpu" line) and its CPU count. */
export function systemCpu(procStat: string): { usage: number; online: number } {
  let usage = 0;
  let online = 0;
  for (const line of procStat.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[0] === 'cpu' && f.length >= 8) usage = (f.slice(1, 8).reduce((a, x) => a + Number(x), 0) * NS) / CLOCK_TICKS;
    else if (/^cpu\d+$/.test(f[0])) online++;
  }
  return { usage, online };
}

/** /proc/<pid>/net/dev as Docker's per-interface counters; the loopback is not reported (as in Docker). */
export function parseNetDev(text: string): Record<string, Obj> {
  const out: Record<string, Obj> = {};
  for (const line of text.split('\n').slice(2)) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const name = line.slice(0, i).trim();
    const f = line.slice(i + 1).trim().split(/\s+/).map(u64);
    if (name === 'lo' || f.length < 12) continue;
    out[name] = {
      rx_bytes: f[0], rx_packets: f[1], rx_errors: f[2], rx_dropped: f[3],
      tx_bytes: f[8], tx_packets: f[9], tx_errors: f[10], tx_dropped: f[11],
    };
  }
  return out;
}

// ---- sampling ---------------------------------------------------------------------------------

function readOr(p: string): string | undefined {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return undefined;
  }
}

function zeroCpu(): Obj {
  return { cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, throttling_data: throttling(0, 0, 0) };
}

/** What Docker sends for a container that is not running: zero values, with its name and ID. */
export function emptyStats(c: ContainerRecord): Obj {
  return {
    read: ZERO_TIME, preread: ZERO_TIME, pids_stats: {}, blkio_stats: blkio(null), num_procs: 0, storage_stats: {},
    cpu_stats: zeroCpu(), precpu_stats: zeroCpu(), memory_stats: {}, name: c.Name, id: c.ID,
  };
}

export interface StatsSource {
  cgroups: CgroupInfo;
  machineMemory?: number;
  /** Overrides for tests. */
  procStat?: () => string;
}

/** One sample of a running container (precpu_stats and preread are the caller's). */
export function sampleStats(c: ContainerRecord, src: StatsSource): Obj {
  const read: CgroupRead = (controller, file) => readOr(`${controllerDir(src.cgroups, controller, c.ID)}/${file}`);
  const machineMemory = src.machineMemory ?? os.totalmem();
  const cg = src.cgroups.version === 2 ? statsV2(read, machineMemory) : statsV1(read, machineMemory);
  const sys = systemCpu(src.procStat?.() ?? readOr('/proc/stat') ?? '');
  const cpu = cg.cpu_stats as Obj;
  const cpuStats: Obj = { cpu_usage: cpu.cpu_usage, system_cpu_usage: sys.usage, online_cpus: sys.online || os.cpus().length, throttling_data: cpu.throttling_data };
  const out: Obj = {
    read: rfc3339Nano(wallClockNanos()), preread: ZERO_TIME, pids_stats: cg.pids_stats, blkio_stats: cg.blkio_stats, num_procs: 0, storage_stats: {},
    cpu_stats: cpuStats, precpu_stats: zeroCpu(), memory_stats: cg.memory_stats, name: c.Name, id: c.ID,
  };
  if (c.HostConfig.NetworkMode !== 'host' && c.State.Pid > 0) {
    const nets = parseNetDev(readOr(`/proc/${c.State.Pid}/net/dev`) ?? '');
    if (Object.keys(nets).length) out.networks = nets;
  }
  return out;
}

export interface StatsStreamOptions extends StatsSource {
  stream: boolean;
  oneShot: boolean;
  /** The container's current record, undefined once it is removed (the stream then ends, as in Docker). */
  current: () => ContainerRecord | undefined;
  signal: AbortSignal;
  intervalMs?: number;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}

/**
 * The samples Docker's ContainerStats sends: with stream, one per interval (zeros while the container is not
 * running); without, one sample whose precpu_stats comes from a sample an interval earlier, or with one-shot
 * a single immediate sample.
 */
export async function* statsStream(o: StatsStreamOptions): AsyncGenerator<Obj> {
  const interval = o.intervalMs ?? 1000;
  const take = (): Obj | undefined => {
    const c = o.current();
    if (!c) return undefined;
    if (!c.State.Running) return emptyStats(c);
    try {
      return sampleStats(c, o);
    } catch {
      return emptyStats(c); // exited while we read
    }
  };
  const first = o.current();
  if (!first) return;
  if (!o.stream && !first.State.Running) {
    yield emptyStats(first);
    return;
  }
  if (!o.stream && o.oneShot) {
    const s = take();
    if (s) yield s;
    return;
  }
  let pre = zeroCpu();
  let preRead = ZERO_TIME;
  let primed = o.stream;
  while (!o.signal.aborted) {
    const s = take();
    if (!s) return;
    s.precpu_stats = pre;
    s.preread = preRead;
    pre = s.cpu_stats as Obj;
    preRead = s.read as string;
    if (primed) {
      yield s;
      if (!o.stream) return;
    }
    primed = true;
    await sleep(interval, o.signal);
  }
}

/** JSON with the bigints (limits past 2^53) written as exact integers. */
export function encodeStats(s: Obj): string {
  return JSON.stringify(s, (_k, v) => (typeof v === 'bigint' ? `\u0000big${v}` : v)).replace(/"\\u0000big(\d+)"/g, '$1');
}
