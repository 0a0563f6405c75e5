// berth logs: GET /containers/{id}/logs, demultiplexed unless the container has a TTY.
import type { CommandSpec } from '../command.ts';
import { getTimestamp } from '../../lib/timestamps.ts';
import { demuxStream, copyRaw } from '../stdcopy.ts';

import { esc as enc } from '../client.ts';

function timestamp(value: string, name: string): string | undefined {
  if (value === '') return undefined;
  try {
    return getTimestamp(value, new Date());
  } catch (err) {
    throw new Error(`invalid value for "${name}": ${(err as Error).message}`);
  }
}

export const logsCommand: CommandSpec = {
  usage: '[OPTIONS] CONTAINER',
  short: 'Fetch the logs of a container',
  aliases: ['container logs', 'logs'],
  flags: [
    { name: 'details', type: '', desc: 'Show extra details provided to logs' },
    { name: 'follow', short: 'f', type: '', desc: 'Follow log output' },
    { name: 'since', type: 'string', desc: 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)' },
    { name: 'tail', short: 'n', type: 'string', desc: 'Number of lines to show from the end of the logs', def: 'all', defText: '"all"' },
    { name: 'timestamps', short: 't', type: '', desc: 'Show timestamps' },
    { name: 'until', type: 'string', desc: 'Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)' },
  ],
  args: { exact: 1 },
  async run(cli, flags, args) {
    const client = cli.client();
    const c = await client.json<{ Id: string; Config?: { Tty?: boolean } }>('GET', `/containers/${enc(args[0])}/json`);
    const res = await client.request('GET', `/containers/${enc(c.Id)}/logs`, {
      query: {
        stdout: true,
        stderr: true,
        since: timestamp(flags.str('since'), 'since'),
        until: timestamp(flags.str('until'), 'until'),
        timestamps: flags.bool('timestamps'),
        follow: flags.bool('follow'),
        tail: flags.str('tail'),
        details: flags.bool('details'),
      },
    });
    if (c.Config?.Tty) await copyRaw(res, cli.out);
    else await demuxStream(res, cli.out, cli.err);
  },
};
