import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpuPercent, memUsageNoCache, statsEntry, statsRow } from './stats.ts';
import { prettyEvent, formatEventTime } from './events.ts';

test("docker's CPU % and memory-without-cache formulas", () => {
  const v = {
    precpu_stats: { cpu_usage: { total_usage: 1_000_000_000 }, system_cpu_usage: 100_000_000_000 },
    cpu_stats: { cpu_usage: { total_usage: 1_500_000_000 }, system_cpu_usage: 102_000_000_000, online_cpus: 2 },
  };
  assert.equal(cpuPercent(v), 50);
  assert.equal(cpuPercent({ ...v, cpu_stats: { ...v.cpu_stats, online_cpus: 0, cpu_usage: { total_usage: 1_500_000_000, percpu_usage: [1, 2, 3, 4] } } }), 100);
  assert.equal(cpuPercent({ ...v, cpu_stats: { ...v.cpu_stats, cpu_usage: { total_usage: 1_000_000_000 } } }), 0, 'no CPU used since the last sample');
  assert.equal(memUsageNoCache({ usage: 1000, stats: { total_inactive_file: 300 } }), 700);
  assert.equal(memUsageNoCache({ usage: 1000, stats: { inactive_file: 100 } }), 900);
  assert.equal(memUsageNoCache({ usage: 1000, stats: { total_inactive_file: 2000 } }), 1000);
});

test('stats rows read like docker stats', () => {
  const e = statsEntry({
    name: '/web', id: 'f'.repeat(64),
    precpu_stats: { cpu_usage: { total_usage: 0 }, system_cpu_usage: 0 },
    cpu_stats: { cpu_usage: { total_usage: 1 }, system_cpu_usage: 400, online_cpus: 2 },
    memory_stats: { usage: 2 * 1024 * 1024, limit: 64 * 1024 * 1024, stats: { inactive_file: 0 } },
    blkio_stats: { io_service_bytes_recursive: [{ op: 'Read', value: 4096 }, { op: 'write', value: 1500000 }, { op: 'Total', value: 1 }] },
    networks: { eth0: { rx_bytes: 1000, tx_bytes: 2500 }, eth1: { rx_bytes: 24, tx_bytes: 0 } },
    pids_stats: { current: 3 },
  });
  const r = statsRow('web', e, true);
  assert.deepEqual(Object.fromEntries(Object.entries(r)), {
    Container: 'web', Name: 'web', ID: 'ffffffffffff', CPUPerc: '0.50%', MemUsage: '2MiB / 64MiB', MemPerc: '3.12%',
    NetIO: '1.02kB / 2.5kB', BlockIO: '4.1kB / 1.5MB', PIDs: '3',
  });
  const bad = statsRow('gone', undefined, true);
  assert.deepEqual([bad.Name, bad.ID, bad.CPUPerc, bad.MemUsage, bad.MemPerc, bad.NetIO, bad.PIDs], ['--', '', '--', '-- / --', '--', '--', '--']);
});

test("events print in docker's default line format", () => {
  const old = process.env.TZ;
  process.env.TZ = 'UTC';
  try {
    assert.equal(formatEventTime(1795507104000000001n), '2026-11-24T07:58:24.000000001Z');
    assert.equal(
      prettyEvent({ Type: 'container', Action: 'create', Actor: { ID: 'abc', Attributes: { name: 'x', image: 'busybox' } } }, 1795507104270375521n),
      '2026-11-24T07:58:24.270375521Z container create abc (image=busybox, name=x)\n',
    );
    assert.equal(prettyEvent({ Type: 'image', Action: 'delete', Actor: { ID: 'sha256:1', Attributes: {} }, time: 1795507104 }, 0n), '2026-11-24T07:58:24.000000000Z image delete sha256:1\n');
  } finally {
    if (old === undefined) delete process.env.TZ;
    else process.env.TZ = old;
  }
});
