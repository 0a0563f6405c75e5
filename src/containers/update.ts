// ContainerUpdate: Docker's checks of the new resources (verifyContainerSettings with update=true), its merge
// into the HostConfig (container.UpdateContainer) and the OCI LinuxResources a running container gets.
import os from 'node:os';
import { BerthError, conflict, invalidParameter } from '../lib/errors.ts';
import type { AnyObj } from './types.ts';
import { cgroupPath } from '../runtime/cgroups.ts';

const MIN_MEMORY = 6 * 1024 * 1024;
const RESOURCE_KEYS = ['BlkioWeight', 'CpuShares', 'NanoCpus', 'CpuPeriod', 'CpuQuota', 'CpusetCpus', 'CpusetMems', 'Memory',
  'MemorySwap', 'MemoryReservation', 'KernelMemory', 'CpuRealtimePeriod', 'CpuRealtimeRuntime', 'PidsLimit'] as const;

function num(body: AnyObj, k: string): number {
  const v = body[k];
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalidParameter(`invalid ${k}: must be a number`);
  return v;
}

// "0-3,5" -> the CPU numbers; throws on bad syntax (Docker's parsers.ParseUintList).
function parseCpuList(s: string): number[] {
  const out: number[] = [];
  for (const part of s.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new Error(`invalid format: ${s}`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) throw new Error(`invalid range: ${part}`);
    for (let i = a; i <= b; i++) out.push(i);
  }
  return out;
}

function validateRestartPolicy(rp: AnyObj | undefined): void {
  if (!rp) return;
  const name = rp.Name ?? '';
  const max = Number(rp.MaximumRetryCount ?? 0);
  if (name === 'always' || name === 'unless-stopped' || name === 'no') {
    if (max !== 0) {
      throw invalidParameter(`invalid restart policy: maximum retry count can only be used with 'on-failure'${max < 0 ? ' and cannot be negative' : ''}`);
    }
  } else if (name === 'on-failure') {
    if (max < 0) throw invalidParameter('invalid restart policy: maximum retry count cannot be negative');
  } else if (name !== '') {
    throw invalidParameter(`invalid restart policy: unknown policy '${name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`);
  }
}

/** The checks Docker makes of an update request before touching the container; returns its warnings. */
export function validateUpdate(body: AnyObj, ncpu = os.cpus().length): string[] {
  const memory = num(body, 'Memory');
  const swap = num(body, 'MemorySwap');
  const reservation = num(body, 'MemoryReservation');
  if (memory !== 0 && memory < MIN_MEMORY) throw invalidParameter('Minimum memory limit allowed is 6MB');
  if (memory > 0 && swap > 0 && swap < memory) throw invalidParameter('Minimum memoryswap limit should be larger than memory limit, see usage');
  if (reservation !== 0 && reservation < MIN_MEMORY) throw invalidParameter('Minimum memory reservation allowed is 6MB');
  if (memory > 0 && reservation > 0 && memory < reservation) throw invalidParameter('Minimum memory limit can not be less than memory reservation limit, see usage');
  const nano = num(body, 'NanoCpus');
  const period = num(body, 'CpuPeriod');
  const quota = num(body, 'CpuQuota');
  if (nano > 0 && period > 0) throw invalidParameter('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  if (nano > 0 && quota > 0) throw invalidParameter('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  if (nano < 0 || nano > ncpu * 1e9) throw invalidParameter(`Range of CPUs is from 0.01 to ${ncpu}.00, as there are only ${ncpu} CPUs available`);
  if (num(body, 'CpuShares') < 0) throw invalidParameter('invalid CPU shares: must be a positive number');
  if (period !== 0 && (period < 1000 || period > 1000000)) throw invalidParameter('CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
  if (quota > 0 && quota < 1000) throw invalidParameter('CPU cfs quota can not be less than 1ms (i.e. 1000)');
  const blkio = num(body, 'BlkioWeight');
  if (blkio > 0 && (blkio < 10 || blkio > 1000)) throw invalidParameter('Range of blkio weight is from 10 to 1000');
  const cpus = body.CpusetCpus;
  if (cpus) {
    let list: number[];
    try {
      list = parseCpuList(String(cpus));
    } catch (err) {
      throw invalidParameter(`Invalid value ${cpus} for cpuset cpus: ${(err as Error).message}`);
    }
    if (list.some((n) => n >= ncpu)) throw invalidParameter(`Requested CPUs are not available - requested ${cpus}, available: ${ncpu === 1 ? '0' : `0-${ncpu - 1}`}`);
  }
  if (body.PidsLimit !== undefined && body.PidsLimit !== null && typeof body.PidsLimit !== 'number') throw invalidParameter('invalid PidsLimit');
  validateRestartPolicy(body.RestartPolicy);
  return [];
}

// Docker's conflictingUpdateOptions: a 409, wrapped like every merge failure.
function cannotUpdate(id: string, msg: string): BerthError {
  return conflict(`Cannot update container ${id}: ${msg}`);
}

/**
 * container.UpdateContainer: a zero (or absent) field leaves the current value; the result is a new
 * HostConfig (the caller keeps the old one until the runtime took the change).
 */
export function mergeUpdate(id: string, hc: AnyObj, body: AnyObj): AnyObj {
  const cur: AnyObj = { ...hc };
  // Docker stores the default swap limit (twice the memory) at create time; derive it where we did not.
  if (!cur.MemorySwap && cur.Memory > 0) cur.MemorySwap = cur.Memory * 2;
  const n = (k: string) => num(body, k);
  if (n('NanoCpus') > 0 && (cur.CpuPeriod ?? 0) > 0) throw cannotUpdate(id, 'Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set');
  if (n('NanoCpus') > 0 && (cur.CpuQuota ?? 0) > 0) throw cannotUpdate(id, 'Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set');
  if (n('CpuPeriod') > 0 && (cur.NanoCpus ?? 0) > 0) throw cannotUpdate(id, 'Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set');
  if (n('CpuQuota') > 0 && (cur.NanoCpus ?? 0) > 0) throw cannotUpdate(id, 'Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set');
  if (n('Memory') !== 0 && n('Memory') > (cur.MemorySwap ?? 0) && n('MemorySwap') === 0) {
    throw cannotUpdate(id, 'Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time');
  }
  for (const k of RESOURCE_KEYS) {
    if (k === 'PidsLimit') {
      if (body.PidsLimit !== undefined && body.PidsLimit !== null) cur.PidsLimit = body.PidsLimit;
    } else if (k === 'CpusetCpus' || k === 'CpusetMems') {
      if (body[k]) cur[k] = body[k];
    } else if (n(k) !== 0) {
      cur[k] = n(k);
    }
  }
  const rp = body.RestartPolicy;
  if (rp?.Name) {
    if (hc.AutoRemove && rp.Name !== 'no') throw cannotUpdate(id, 'Restart policy cannot be updated because AutoRemove is enabled for the container');
    cur.RestartPolicy = { Name: rp.Name, MaximumRetryCount: rp.MaximumRetryCount ?? 0 };
  }
  return cur;
}

/**
 * The OCI LinuxResources for `runtime update --resources` (Docker's toContainerdResources). Zero means
 * "unchanged" to Docker, so zeros are left out rather than written to the cgroup.
 */
export function linuxResources(hc: AnyObj): Record<string, unknown> {
  const r: Record<string, unknown> = {};
  const memory: Record<string, number> = {};
  if (hc.Memory > 0) memory.limit = hc.Memory;
  if (hc.MemorySwap > 0 || hc.MemorySwap === -1) memory.swap = hc.MemorySwap;
  if (hc.MemoryReservation > 0) memory.reservation = hc.MemoryReservation;
  if (Object.keys(memory).length) r.memory = memory;
  const cpu: Record<string, unknown> = {};
  if (hc.CpuShares > 0) cpu.shares = hc.CpuShares;
  let period = 0;
  let quota = 0;
  if (hc.NanoCpus > 0) {
    period = 100000;
    quota = Math.floor((hc.NanoCpus * period) / 1e9);
  }
  if (quota === 0 && hc.CpuQuota) quota = hc.CpuQuota;
  if (period === 0 && hc.CpuPeriod) period = hc.CpuPeriod;
  if (period) cpu.period = period;
  if (quota) cpu.quota = quota;
  if (hc.CpusetCpus) cpu.cpus = hc.CpusetCpus;
  if (hc.CpusetMems) cpu.mems = hc.CpusetMems;
  if (Object.keys(cpu).length) r.cpu = cpu;
  // "Unlimited" (0 or negative in the API) is not here: see liftPidsLimit.
  if (hc.PidsLimit > 0) r.pids = { limit: hc.PidsLimit };
  return r;
}

/**
 * The pids.max file to set to "max" when an update lifts the limit (0 or negative), else undefined: runc
 * takes -1 for that, but crun (1.8) writes -1 to the file literally, which the kernel refuses.
 */
export function liftPidsLimit(body: AnyObj, cgroupVersion: 1 | 2, id: string): string | undefined {
  if (typeof body.PidsLimit !== 'number' || body.PidsLimit > 0) return undefined;
  return cgroupVersion === 2 ? `/sys/fs/cgroup${cgroupPath(id)}/pids.max` : `/sys/fs/cgroup/pids${cgroupPath(id)}/pids.max`;
}
