// berth update / rename / pause / unpause: the commands that change a container in place (docker's
// cli/command/container/{update,rename,pause,unpause}.go).
import type { Cli, CommandSpec } from '../command.ts';
import type { FlagDef } from '../flags.ts';
import { parseInt64 } from '../flags.ts';
import { StatusError } from '../errors.ts';
import { containerFlags, parseRestartPolicy } from '../container-options.ts';

import { esc as enc } from '../client.ts';

// The run/create flags update shares, with update's own wording where docker words them differently.
function updateFlags(): FlagDef[] {
  const byName = new Map(containerFlags().map((f) => [f.name, f]));
  const pick = (name: string, over: Partial<FlagDef> = {}): FlagDef => ({ ...byName.get(name)!, ...over });
  return [
    pick('blkio-weight'),
    pick('cpu-period'),
    pick('cpu-quota'),
    pick('cpu-rt-period', { desc: 'Limit the CPU real-time period in microseconds' }),
    pick('cpu-rt-runtime', { desc: 'Limit the CPU real-time runtime in microseconds' }),
    pick('cpu-shares'),
    pick('cpus'),
    pick('cpuset-cpus'),
    pick('cpuset-mems'),
    pick('kernel-memory', { hidden: true }),
    pick('memory'),
    pick('memory-reservation'),
    pick('memory-swap', { desc: 'Swap limit equal to memory plus swap: -1 to enable unlimited swap' }),
    { name: 'pids-limit', type: 'int', desc: 'Tune container pids limit (set -1 for unlimited)', parse: parseInt64, def: 0 },
    { name: 'restart', type: 'string', desc: 'Restart policy to apply when a container exits' },
  ];
}

export const updateCommand: CommandSpec = {
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  short: 'Update configuration of one or more containers',
  aliases: ['container update', 'update'],
  flags: updateFlags(),
  args: { min: 1 },
  async run(cli, flags, args) {
    const names = updateFlags().map((f) => f.name);
    if (!names.some((n) => flags.changed(n))) throw new StatusError('you must provide one or more flags when using this command', 1);
    let restartPolicy = { Name: '', MaximumRetryCount: 0 };
    if (flags.str('restart') !== '') {
      try {
        restartPolicy = parseRestartPolicy(flags.str('restart'));
      } catch (err) {
        throw new StatusError((err as Error).message, 1);
      }
    }
    const body: Record<string, unknown> = {
      BlkioWeight: flags.num('blkio-weight'), CpusetCpus: flags.str('cpuset-cpus'), CpusetMems: flags.str('cpuset-mems'),
      CpuShares: flags.num('cpu-shares'), Memory: flags.num('memory'), MemoryReservation: flags.num('memory-reservation'),
      MemorySwap: flags.num('memory-swap'), KernelMemory: flags.num('kernel-memory'), CpuPeriod: flags.num('cpu-period'),
      CpuQuota: flags.num('cpu-quota'), CpuRealtimePeriod: flags.num('cpu-rt-period'), CpuRealtimeRuntime: flags.num('cpu-rt-runtime'),
      NanoCpus: flags.num('cpus'), PidsLimit: flags.num('pids-limit') !== 0 ? flags.num('pids-limit') : null, RestartPolicy: restartPolicy,
    };
    const warnings: string[] = [];
    const errs: string[] = [];
    for (const c of args) {
      try {
        const r = await cli.client().json<{ Warnings?: string[] | null }>('POST', `/containers/${enc(c)}/update`, { json: body });
        cli.out.write(`${c}\n`);
        warnings.push(...(r?.Warnings ?? []));
      } catch (err) {
        errs.push((err as Error).message);
      }
    }
    if (warnings.length) cli.out.write(`${warnings.join('\n')}\n`);
    if (errs.length) throw new StatusError(errs.join('\n'), 1);
  },
};

export const renameCommand: CommandSpec = {
  usage: 'CONTAINER NEW_NAME',
  short: 'Rename a container',
  aliases: ['container rename', 'rename'],
  flags: [],
  args: { exact: 2 },
  async run(cli, _flags, args) {
    const oldName = args[0].trim();
    const newName = args[1].trim();
    if (oldName === '' || newName === '') throw new StatusError('Error: Neither old nor new names may be empty', 1);
    try {
      await cli.client().call('POST', `/containers/${enc(oldName)}/rename`, { query: { name: newName } });
    } catch (err) {
      cli.err.write(`${(err as Error).message}\n`);
      throw new StatusError(`Error: failed to rename container named ${oldName}`, 1);
    }
  },
};

// docker's parallelOperation: every container at once, results in argument order, errors joined at the end.
async function eachContainer(cli: Cli, names: string[], op: 'pause' | 'unpause'): Promise<void> {
  const results = names.map((n) => cli.client().call('POST', `/containers/${enc(n)}/${op}`).then(() => undefined, (err: Error) => err));
  const errs: string[] = [];
  for (let i = 0; i < names.length; i++) {
    const err = await results[i];
    if (err) errs.push(err.message);
    else cli.out.write(`${names[i]}\n`);
  }
  if (errs.length) throw new StatusError(errs.join('\n'), 1);
}

export const pauseCommand: CommandSpec = {
  usage: 'CONTAINER [CONTAINER...]',
  short: 'Pause all processes within one or more containers',
  aliases: ['container pause', 'pause'],
  flags: [],
  args: { min: 1 },
  run: (cli, _flags, args) => eachContainer(cli, args, 'pause'),
};

export const unpauseCommand: CommandSpec = {
  usage: 'CONTAINER [CONTAINER...]',
  short: 'Unpause all processes within one or more containers',
  aliases: ['container unpause', 'unpause'],
  flags: [],
  args: { min: 1 },
  run: (cli, _flags, args) => eachContainer(cli, args, 'unpause'),
};
