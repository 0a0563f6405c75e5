import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statsV1, statsV2, systemCpu, parseNetDev, parseBlkioV1, parseIoStatV2, encodeStats, emptyStats, statsStream, type Obj } from './stats.ts';
import type { ContainerRecord } from './types.ts';
import { newState } from './types.ts';

const GiB = 1024 ** 3;

function reader(files: Record<string, string>) {
  return (controller: string, file: string) => files[controller ? `${controller}/${file}` : file];
}

test('cgroup v2 files become Docker statsV2', () => {
  const s = statsV2(reader({
    'cpu.stat': 'usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\nnr_periods 10\nnr_throttled 2\nthrottled_usec 500\n',
    'memory.current': '8388608\n',
    'memory.max': 'max\n',
    'memory.stat': 'anon 4194304\nfile 2097152\ninactive_file 1048576\nactive_file 1048576\nworkingset_refault_anon 0\n',
    'pids.current': '3\n',
    'pids.max': 'max\n',
    'io.stat': '8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n',
  }), 24 * GiB);
  assert.deepEqual(s.cpu_stats, {
    cpu_usage: { total_usage: 123456000, usage_in_kernelmode: 23456000, usage_in_usermode: 100000000 },
    throttling_data: { periods: 10, throttled_periods: 2, throttled_time: 500000 },
  });
  const mem = s.memory_stats as Obj;
  assert.equal(mem.usage, 8388608);
  assert.equal(mem.limit, 24 * GiB, 'no limit: the host memory');
  assert.equal(mem.max_usage, undefined, 'v2 has no max_usage');
  const stats = mem.stats as Record<string, number>;
  assert.equal(stats.inactive_file, 1048576);
  assert.equal(stats.anon, 4194304);
  assert.equal(stats.pgfault, 0, 'missing keys read 0');
  assert.deepEqual(Object.keys(stats), [...Object.keys(stats)].sort(), 'keys sorted like a Go map');
  assert.deepEqual(s.pids_stats, { current: 3 });
  const blk = s.blkio_stats as Obj;
  assert.deepEqual(blk.io_service_bytes_recursive, [
    { major: 8, minor: 0, op: 'read', value: 4096 }, { major: 8, minor: 0, op: 'write', value: 8192 },
  ]);
  assert.equal(blk.io_serviced_recursive, null);
});

test('cgroup v2 with limits: memory.max and pids.max', () => {
  const s = statsV2(reader({ 'memory.max': '67108864\n', 'pids.max': '50\n', 'pids.current': '1\n', 'memory.current': '1024\n' }), 24 * GiB);
  assert.equal((s.memory_stats as Obj).limit, 67108864);
  assert.deepEqual(s.pids_stats, { current: 1, limit: 50 });
  assert.equal((s.blkio_stats as Obj).io_service_bytes_recursive, null);
});

test('cgroup v1 files become Docker statsV1', () => {
  const s = statsV1(reader({
    'cpuacct/cpuacct.usage': '2000000000\n',
    'cpuacct/cpuacct.usage_percpu': '1500000000 500000000 \n',
    'cpuacct/cpuacct.stat': 'user 150\nsystem 50\n',
    'cpu/cpu.stat': 'nr_periods 4\nnr_throttled 1\nthrottled_time 999\n',
    'memory/memory.usage_in_bytes': '1048576\n',
    'memory/memory.max_usage_in_bytes': '2097152\n',
    'memory/memory.limit_in_bytes': '9223372036854771712\n',
    'memory/memory.failcnt': '0\n',
    'memory/memory.stat': 'cache 4096\nrss 8192\ntotal_inactive_file 4096\nhierarchical_memory_limit 9223372036854771712\nshmem 0\n',
    'pids/pids.current': '2\n',
    'pids/pids.max': '100\n',
    'blkio/blkio.throttle.io_service_bytes_recursive': '8:0 Read 512\n8:0 Write 1024\n8:0 Sync 0\nTotal 1536\n',
    'blkio/blkio.throttle.io_serviced_recursive': '8:0 Read 1\n8:0 Write 2\nTotal 3\n',
  }), 24 * GiB);
  const cpu = s.cpu_stats as Obj;
  assert.deepEqual(cpu.cpu_usage, { total_usage: 2000000000, percpu_usage: [1500000000, 500000000], usage_in_kernelmode: 500000000, usage_in_usermode: 1500000000 });
  assert.deepEqual(cpu.throttling_data, { periods: 4, throttled_periods: 1, throttled_time: 999 });
  const mem = s.memory_stats as Obj;
  assert.equal(mem.usage, 1048576);
  assert.equal(mem.max_usage, 2097152);
  assert.equal(mem.failcnt, undefined, 'a zero failcnt is omitted');
  assert.equal(mem.limit, 24 * GiB);
  const stats = mem.stats as Record<string, unknown>;
  assert.equal(stats.total_inactive_file, 4096);
  assert.equal(stats.hierarchical_memory_limit, 9223372036854771712n, 'exact past 2^53');
  assert.equal(stats.shmem, undefined, 'only the keys Docker reports');
  assert.deepEqual(s.pids_stats, { current: 2, limit: 100 });
  const blk = s.blkio_stats as Obj;
  assert.deepEqual(blk.io_service_bytes_recursive, [
    { major: 8, minor: 0, op: 'Read', value: 512 }, { major: 8, minor: 0, op: 'Write', value: 1024 }, { major: 8, minor: 0, op: 'Sync', value: 0 },
  ]);
  assert.equal((blk.io_serviced_recursive as Obj[]).length, 2);
  assert.deepEqual(blk.io_time_recursive, [], 'v1 lists are never null');
  assert.match(encodeStats(s), /"hierarchical_memory_limit":9223372036854771712[,}]/);
});

test('cgroup v1 CFQ files win over the throttle ones when they have entries', () => {
  assert.deepEqual(parseBlkioV1('8:16 1234\n'), [{ major: 8, minor: 16, op: '', value: 1234 }]);
  const s = statsV1(reader({
    'blkio/blkio.io_service_bytes_recursive': '8:0 Read 7\nTotal 7\n',
    'blkio/blkio.throttle.io_service_bytes_recursive': '8:0 Read 99\n',
  }), GiB);
  assert.deepEqual((s.blkio_stats as Obj).io_service_bytes_recursive, [{ major: 8, minor: 0, op: 'Read', value: 7 }]);
  assert.equal(parseIoStatV2(''), null);
});

test('host CPU time from /proc/stat, in nanoseconds', () => {
  const r = systemCpu('cpu  100 0 50 800 10 5 5 0 0 0\ncpu0 50 0 25 400 5 2 3 0 0 0\ncpu1 50 0 25 400 5 3 2 0 0 0\nintr 1\n');
  assert.deepEqual(r, { usage: 9700000000, online: 2 });
});

test('network counters from /proc/<pid>/net/dev, without the loopback', () => {
  const text = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0
  eth0:    5338      36    1    2    0     0          0         0      648       8    3    4    0     0       0          0
`;
  assert.deepEqual(parseNetDev(text), {
    eth0: { rx_bytes: 5338, rx_packets: 36, rx_errors: 1, rx_dropped: 2, tx_bytes: 648, tx_packets: 8, tx_errors: 3, tx_dropped: 4 },
  });
});

function record(running: boolean): ContainerRecord {
  return {
    ID: 'a'.repeat(64), Name: '/x', Created: '', Path: 'sh', Args: [], Config: {}, HostConfig: { NetworkMode: 'bridge' },
    Image: '', State: { ...newState(), Running: running }, RestartCount: 0, LogPath: '', ResolvConfPath: '', HostnamePath: '',
    HostsPath: '', NetworkMode: 'bridge',
  };
}

test('a container that is not running gets Docker zero stats', () => {
  const json = encodeStats(emptyStats(record(false)));
  assert.equal(json, '{"read":"0001-01-01T00:00:00Z","preread":"0001-01-01T00:00:00Z","pids_stats":{},"blkio_stats":{"io_service_bytes_recursive":null,"io_serviced_recursive":null,"io_queue_recursive":null,"io_service_time_recursive":null,"io_wait_time_recursive":null,"io_merged_recursive":null,"io_time_recursive":null,"sectors_recursive":null},"num_procs":0,"storage_stats":{},"cpu_stats":{"cpu_usage":{"total_usage":0,"usage_in_kernelmode":0,"usage_in_usermode":0},"throttling_data":{"periods":0,"throttled_periods":0,"throttled_time":0}},"precpu_stats":{"cpu_usage":{"total_usage":0,"usage_in_kernelmode":0,"usage_in_usermode":0},"throttling_data":{"periods":0,"throttled_periods":0,"throttled_time":0}},"memory_stats":{},"name":"/x","id":"' + 'a'.repeat(64) + '"}');
});

test('stream of a stopped container: zeros each interval, until the container is gone', async () => {
  let c: ContainerRecord | undefined = record(false);
  const ac = new AbortController();
  const seen: Obj[] = [];
  for await (const s of statsStream({ cgroups: { version: 2, hybrid: false, warnings: [], crunUsable: true }, stream: true, oneShot: false, current: () => c, signal: ac.signal, intervalMs: 5 })) {
    seen.push(s);
    if (seen.length === 3) c = undefined;
  }
  assert.equal(seen.length, 3);
  assert.equal(seen[2].read, '0001-01-01T00:00:00Z');
});
