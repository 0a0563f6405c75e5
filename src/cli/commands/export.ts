// berth export: the container's filesystem as a tar, to stdout or to a file (written under a temporary name
// and renamed, like docker's command.CopyToFile).
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { CommandSpec } from '../command.ts';
import { copyToFile } from '../output-file.ts';
import { StatusError } from '../errors.ts';
import { esc } from '../client.ts';

/** docker 28's command.ValidateOutputPath, wrapped as docker export wraps it. */
function validateOutputPath(p: string): void {
  if (p === '') return;
  const fail = (why: string) => new StatusError(`failed to export container: ${why}`, 1);
  const dir = path.dirname(path.normalize(p));
  if (!existsSync(dir)) throw fail(`invalid output path: stat ${dir}: no such file or directory`);
  if (!statSync(dir).isDirectory()) throw fail(`invalid output path: stat ${dir}: not a directory`);
  if (!existsSync(p)) return;
  const st = statSync(p);
  if (st.isDirectory()) throw fail('cannot write to a directory');
  if (st.isCharacterDevice()) throw fail('cannot write to a character device file');
  if (st.isBlockDevice()) throw fail('cannot write to a block device file');
}

export const exportCommand: CommandSpec = {
  usage: '[OPTIONS] CONTAINER',
  short: "Export a container's filesystem as a tar archive",
  aliases: ['container export', 'export'],
  flags: [{ name: 'output', short: 'o', type: 'string', desc: 'Write to a file, instead of STDOUT' }],
  args: { exact: 1 },
  async run(cli, flags, args) {
    const output = flags.str('output');
    if (output === '' && cli.out.isTTY) throw new StatusError('cowardly refusing to save to a terminal. Use the -o flag or redirect', 1);
    validateOutputPath(output);
    const res = await cli.client().request('GET', `/containers/${esc(args[0]!)}/export`);
    if (output === '') {
      await pipeline(res, cli.out, { end: false });
      return;
    }
    await copyToFile(res, output);
  },
};
