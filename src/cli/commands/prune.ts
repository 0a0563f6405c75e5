// berth container prune: removes stopped containers after a confirmation (or with -f), and reports them with
// the space reclaimed, as docker does.
import type { Cli, CommandSpec } from '../command.ts';
import { filterFlag, filtersJSON } from '../common-flags.ts';
import { humanSizeWithPrecision } from '../../lib/units.ts';

const WARNING = 'WARNING! This will remove all stopped containers.\nAre you sure you want to continue?';

/** command.PromptForConfirmation: "[y/N] ", true only for a "y" (any case) line. */
export async function promptForConfirmation(cli: Cli, message: string): Promise<boolean> {
  cli.out.write(`${message} [y/N] `);
  let line = '';
  for await (const chunk of cli.in) {
    line += String(chunk);
    const nl = line.indexOf('\n');
    if (nl >= 0) {
      line = line.slice(0, nl);
      break;
    }
  }
  cli.in.pause();
  return line.trim().toLowerCase() === 'y';
}

interface PruneReport { ContainersDeleted: string[] | null; SpaceReclaimed: number }

export const containerPruneCommand: CommandSpec = {
  usage: '[OPTIONS]',
  short: 'Remove all stopped containers',
  flags: [
    { ...filterFlag(), short: undefined, desc: 'Provide filter values (e.g. "until=<timestamp>")' },
    { name: 'force', short: 'f', type: '', desc: 'Do not prompt for confirmation' },
  ],
  args: { none: true },
  async run(cli, flags) {
    // A "no" ends the command quietly with status 0, like docker 28.
    if (!flags.bool('force') && !(await promptForConfirmation(cli, WARNING))) return 0;
    const report = await cli.client().json<PruneReport>('POST', '/containers/prune', { query: { filters: filtersJSON(flags.list('filter')) } });
    let out = '';
    let reclaimed = 0;
    if (report.ContainersDeleted?.length) {
      out = 'Deleted Containers:\n' + report.ContainersDeleted.map((id) => `${id}\n`).join('') + '\n';
      reclaimed = report.SpaceReclaimed;
    }
    cli.out.write(`${out}Total reclaimed space: ${humanSizeWithPrecision(reclaimed, 4)}\n`);
    return 0;
  },
};
