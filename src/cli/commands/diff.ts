// berth diff: the changes of a container's filesystem as docker prints them ("A /path", "C /path", "D /path").
import type { CommandSpec } from '../command.ts';
import { esc } from '../client.ts';

interface Change { Path: string; Kind: number }

const KIND = ['C', 'A', 'D'];

export const diffCommand: CommandSpec = {
  usage: 'CONTAINER',
  short: "Inspect changes to files or directories on a container's filesystem",
  aliases: ['container diff', 'diff'],
  flags: [],
  args: { exact: 1 },
  async run(cli, _flags, args) {
    const changes = await cli.client().json<Change[] | null>('GET', `/containers/${esc(args[0]!)}/changes`);
    let out = '';
    for (const c of changes ?? []) out += `${KIND[c.Kind] ?? '?'} ${c.Path}\n`;
    cli.out.write(out);
  },
};
