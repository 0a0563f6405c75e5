import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateUpdate, mergeUpdate, linuxResources, liftPidsLimit } from './update.ts';

const ID = 'c'.repeat(64);
const MiB = 1024 * 1024;

test('update requests are checked like Docker verifyContainerSettings', () => {
  assert.deepEqual(validateUpdate({ Memory: 64 * MiB }, 2), []);
  assert.throws(() => validateUpdate({ Memory: MiB }, 2), /^BerthError: Minimum memory limit allowed is 6MB$/);
  assert.throws(() => validateUpdate({ Memory: 64 * MiB, MemorySwap: 32 * MiB }, 2), /Minimum memoryswap limit should be larger than memory limit/);
  assert.throws(() => validateUpdate({ NanoCpus: 5e9 }, 2), /Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available/);
  assert.throws(() => validateUpdate({ NanoCpus: 1e9, CpuQuota: 50000 }, 2), /Nano CPUs and CPU Quota cannot both be set/);
  assert.throws(() => validateUpdate({ CpuPeriod: 100 }, 2), /CPU cfs period can not be less than 1ms/);
  assert.throws(() => validateUpdate({ CpusetCpus: '0-7' }, 2), /Requested CPUs are not available - requested 0-7, available: 0-1/);
  assert.throws(() => validateUpdate({ CpusetCpus: 'x' }, 2), /Invalid value x for cpuset cpus/);
  assert.throws(() => validateUpdate({ RestartPolicy: { Name: 'always', MaximumRetryCount: 2 } }, 2), /maximum retry count can only be used with 'on-failure'/);
  assert.throws(() => validateUpdate({ RestartPolicy: { Name: 'bogus' } }, 2), /unknown policy 'bogus'/);
  assert.throws(() => validateUpdate({ Memory: 'x' }, 2), /invalid Memory/);
});

test('merge: zero leaves a value, Docker conflicts refused with its words', () => {
  const hc = { Memory: 64 * MiB, MemorySwap: 0, NanoCpus: 0, CpuShares: 0, RestartPolicy: { Name: 'no', MaximumRetryCount: 0 } };
  const next = mergeUpdate(ID, hc, { Memory: 100 * MiB, CpuShares: 512, PidsLimit: 20, RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 } });
  assert.equal(next.Memory, 100 * MiB);
  assert.equal(next.MemorySwap, 128 * MiB, "Docker's default swap (twice the first memory limit) stays");
  assert.equal(next.CpuShares, 512);
  assert.equal(next.PidsLimit, 20);
  assert.deepEqual(next.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 3 });
  assert.equal(hc.Memory, 64 * MiB, 'the old HostConfig is untouched');
  assert.throws(() => mergeUpdate(ID, hc, { Memory: 256 * MiB }), new RegExp(`^BerthError: Cannot update container ${ID}: Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time$`));
  assert.equal(mergeUpdate(ID, hc, { Memory: 256 * MiB, MemorySwap: 512 * MiB }).MemorySwap, 512 * MiB);
  assert.throws(() => mergeUpdate(ID, { NanoCpus: 1e9 }, { CpuQuota: 5000 }), /CPU Quota cannot be updated as NanoCPUs has already been set/);
  assert.throws(() => mergeUpdate(ID, { CpuPeriod: 50000 }, { NanoCpus: 1e9 }), /Nano CPUs cannot be updated as CPU Period has already been set/);
  assert.throws(() => mergeUpdate(ID, { AutoRemove: true }, { RestartPolicy: { Name: 'always' } }), /Restart policy cannot be updated because AutoRemove is enabled for the container/);
  assert.equal(mergeUpdate(ID, { CpusetCpus: '0' }, { CpusetCpus: '' }).CpusetCpus, '0');
});

test('the OCI resources a running container gets', () => {
  assert.deepEqual(linuxResources({ Memory: 100 * MiB, MemorySwap: 128 * MiB, NanoCpus: 1.5e9, CpuShares: 256, CpusetCpus: '0', PidsLimit: 20 }), {
    memory: { limit: 100 * MiB, swap: 128 * MiB }, cpu: { shares: 256, period: 100000, quota: 150000, cpus: '0' }, pids: { limit: 20 },
  });
  assert.deepEqual(linuxResources({ CpuPeriod: 50000, CpuQuota: 25000, MemorySwap: -1, PidsLimit: 0 }), { memory: { swap: -1 }, cpu: { period: 50000, quota: 25000 } });
  assert.equal(liftPidsLimit({ PidsLimit: -1 }, 1, ID), `/sys/fs/cgroup/pids/berth/${ID}/pids.max`);
  assert.equal(liftPidsLimit({ PidsLimit: 0 }, 2, ID), `/sys/fs/cgroup/berth/${ID}/pids.max`);
  assert.equal(liftPidsLimit({ PidsLimit: 5 }, 2, ID), undefined);
  assert.equal(liftPidsLimit({}, 2, ID), undefined);
});
