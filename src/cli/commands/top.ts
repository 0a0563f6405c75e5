// berth top: GET /containers/{id}/top with the ps options joined by spaces, as a tabwriter table (docker's
// cli/command/container/top.go).
import type { CommandSpec } from '../command.ts';
import { tabulate } from '../format/tabwriter.ts';

import { esc as enc } from '../client.ts';

export const topCommand: CommandSpec = {
  usage: 'CONTAINER [ps OPTIONS]',
  short: 'Display the running processes of a container',
  aliases: ['container top', 'top'],
  flags: [],
  args: { min: 1 },
  // Everything after the container is ps's.
  interspersed: false,
  async run(cli, _flags, args) {
    const [container, ...ps] = args;
    const res = await cli.client().json<{ Titles?: string[] | null; Processes?: string[][] | null }>('GET', `/containers/${enc(container)}/top`, {
      query: { ps_args: ps.length ? ps.join(' ') : undefined },
    });
    let text = `${(res?.Titles ?? []).join('\t')}\n`;
    for (const p of res?.Processes ?? []) text += `${p.join('\t')}\n`;
    cli.out.write(tabulate(text, { minwidth: 20, tabwidth: 1, padding: 3, padchar: ' ' }));
  },
};
