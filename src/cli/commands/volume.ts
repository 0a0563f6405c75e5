// berth volume create|ls|inspect|rm|prune, with docker's flags and output.
import type { CommandSpec } from '../command.ts';
import { filterFlag, filtersJSON, formatFlag } from '../common-flags.ts';
import { renderRows } from '../format/formatter.ts';
import { StatusError } from '../errors.ts';
import { esc } from '../client.ts';
import { inspectAll, templateCheck, getRaw } from './inspect.ts';
import { promptForConfirmation } from './prune.ts';
import { humanSizeWithPrecision } from '../../lib/units.ts';

interface Volume { Name: string; Driver: string; Mountpoint: string; Labels: Record<string, string> | null; Scope: string; CreatedAt: string; Options: Record<string, string> | null }

export const volumeCreateCommand: CommandSpec = {
  usage: '[OPTIONS] [VOLUME]',
  short: 'Create a volume',
  flags: [
    { name: 'driver', short: 'd', type: 'string', desc: 'Specify volume driver name', def: 'local', defText: '"local"' },
    { name: 'label', type: 'list', repeat: true, desc: 'Set metadata for a volume' },
    { name: 'name', type: 'string', desc: 'Specify volume name', hidden: true },
    { name: 'opt', short: 'o', type: 'map', repeat: true, desc: 'Set driver specific options', defText: 'map[]' },
  ],
  args: { max: 1 },
  async run(cli, flags, args) {
    if (args[0] && flags.str('name') && args[0] !== flags.str('name')) {
      throw new StatusError(`conflicting options: cannot specify a volume-name through both --name and as a positional arg`, 1);
    }
    const kv = (list: string[]) => Object.fromEntries(list.map((l) => {
      const i = l.indexOf('=');
      return i < 0 ? [l, ''] : [l.slice(0, i), l.slice(i + 1)];
    }));
    const v = await cli.client().json<Volume>('POST', '/volumes/create', {
      json: { Name: args[0] ?? flags.str('name'), Driver: flags.str('driver') || 'local', DriverOpts: kv(flags.list('opt')), Labels: kv(flags.list('label')) },
    });
    cli.out.write(`${v.Name}\n`);
  },
};

const header = { Name: 'VOLUME NAME', Driver: 'DRIVER', Scope: 'SCOPE', Mountpoint: 'MOUNTPOINT', Labels: 'LABELS', CreatedAt: 'CREATED' };

export const volumeLsCommand: CommandSpec = {
  usage: '[OPTIONS]',
  short: 'List volumes',
  flags: [
    { name: 'cluster', type: '', desc: 'Display only cluster volumes, and use cluster volume list formatting', hidden: true },
    filterFlag(),
    formatFlag({ table: true }),
    { name: 'quiet', short: 'q', type: '', desc: 'Only display volume names' },
  ],
  args: { none: true },
  async run(cli, flags) {
    const res = await cli.client().json<{ Volumes: Volume[] | null }>('GET', '/volumes', { query: { filters: filtersJSON(flags.list('filter')) } });
    let format = flags.str('format');
    if (format === '' || format === 'table') format = flags.bool('quiet') ? '{{.Name}}' : 'table {{.Driver}}\t{{.Name}}';
    const rows = (res.Volumes ?? []).map((v) => ({
      Name: v.Name, Driver: v.Driver, Scope: v.Scope, Mountpoint: v.Mountpoint, CreatedAt: v.CreatedAt,
      Labels: Object.entries(v.Labels ?? {}).map(([k, val]) => `${k}=${val}`).join(','),
      Label: (k: string) => v.Labels?.[k] ?? '',
    }));
    cli.out.write(renderRows(format, rows, header, { typeName: '*formatter.volumeContext' }));
  },
};

export const volumeInspectCommand: CommandSpec = {
  usage: '[OPTIONS] VOLUME [VOLUME...]',
  short: 'Display detailed information on one or more volumes',
  flags: [formatFlag({ table: false, short: true })],
  args: { min: 1 },
  async run(cli, flags, args) {
    templateCheck(flags.str('format'));
    await inspectAll(cli, args, flags.str('format'), (ref) => getRaw(cli, `/volumes/${esc(ref)}`));
  },
};

export const volumeRmCommand: CommandSpec = {
  usage: '[OPTIONS] VOLUME [VOLUME...]',
  short: 'Remove one or more volumes',
  flags: [{ name: 'force', short: 'f', type: '', desc: 'Force the removal of one or more volumes' }],
  args: { min: 1 },
  async run(cli, flags, args) {
    const errors: string[] = [];
    for (const name of args) {
      try {
        await cli.client().call('DELETE', `/volumes/${esc(name)}`, { query: { force: flags.bool('force') || undefined } });
        cli.out.write(`${name}\n`);
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
    if (errors.length) throw new StatusError(errors.join('\n'), 1);
  },
};

export const volumePruneCommand: CommandSpec = {
  usage: '[OPTIONS]',
  short: 'Remove unused local volumes',
  flags: [
    { name: 'all', short: 'a', type: '', desc: 'Remove all unused volumes, not just anonymous ones' },
    { ...filterFlag(), short: undefined, desc: 'Provide filter values (e.g. "label=<label>")' },
    { name: 'force', short: 'f', type: '', desc: 'Do not prompt for confirmation' },
  ],
  args: { none: true },
  async run(cli, flags) {
    const all = flags.bool('all');
    const warning = all
      ? 'WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue?'
      : 'WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue?';
    if (!flags.bool('force') && !(await promptForConfirmation(cli, warning))) return 0;
    const filters = flags.list('filter');
    if (all) filters.push('all=true');
    const report = await cli.client().json<{ VolumesDeleted: string[] | null; SpaceReclaimed: number }>('POST', '/volumes/prune', { query: { filters: filtersJSON(filters) } });
    let out = '';
    if (report.VolumesDeleted?.length) out = 'Deleted Volumes:\n' + report.VolumesDeleted.map((n) => `${n}\n`).join('') + '\n';
    cli.out.write(`${out}Total reclaimed space: ${humanSizeWithPrecision(report.SpaceReclaimed ?? 0, 4)}\n`);
    return 0;
  },
};
