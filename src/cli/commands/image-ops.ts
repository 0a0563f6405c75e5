// berth rmi and berth tag.
import type { CommandSpec } from '../command.ts';
import { ApiError, StatusError } from '../errors.ts';
import { parseNormalizedNamed, withDefaultTag } from '../reference.ts';

import { esc as enc } from '../client.ts';

export const rmiCommand: CommandSpec = {
  usage: '[OPTIONS] IMAGE [IMAGE...]',
  short: 'Remove one or more images',
  aliases: ['image rm', 'image remove', 'rmi'],
  flags: [
    { name: 'force', short: 'f', type: '', desc: 'Force removal of the image' },
    { name: 'no-prune', type: '', desc: 'Do not delete untagged parents' },
    { name: 'platform', type: 'strings', desc: 'Remove only the given platform variant. Formatted as "os[/arch[/variant]]" (e.g., "linux/amd64")', repeat: true, hidden: true },
  ],
  args: { min: 1 },
  async run(cli, flags, args) {
    const force = flags.bool('force');
    const errors: string[] = [];
    let fatal = false;
    for (const img of args) {
      try {
        const dels = await cli.client().json<{ Untagged?: string; Deleted?: string }[]>('DELETE', `/images/${enc(img)}`, {
          query: { force, noprune: flags.bool('no-prune') },
        });
        for (const d of dels ?? []) cli.out.write(d.Deleted ? `Deleted: ${d.Deleted}\n` : `Untagged: ${d.Untagged}\n`);
      } catch (err) {
        if (!(err instanceof ApiError && err.statusCode === 404)) fatal = true;
        errors.push((err as Error).message);
      }
    }
    if (errors.length > 0) {
      // With -f, images that do not exist are not a failure (docker prints them and exits 0).
      if (!force || fatal) throw new StatusError(errors.join('\n'), 1);
      cli.err.write(errors.join('\n') + '\n');
    }
  },
};

export const tagCommand: CommandSpec = {
  usage: 'SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]',
  short: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE',
  aliases: ['image tag', 'tag'],
  flags: [],
  args: { exact: 2 },
  async run(cli, _flags, [source, target]) {
    try {
      if (!/^[a-f0-9]{64}$/.test(source) && !/^sha256:[a-f0-9]{64}$/.test(source)) parseNormalizedNamed(source);
    } catch (err) {
      throw new StatusError(`Error parsing reference: "${source}" is not a valid repository/tag: ${(err as Error).message}`, 1);
    }
    let ref;
    try {
      ref = parseNormalizedNamed(target);
    } catch (err) {
      throw new StatusError(`Error parsing reference: "${target}" is not a valid repository/tag: ${(err as Error).message}`, 1);
    }
    if (ref.digest) throw new StatusError('refusing to create a tag with a digest reference', 1);
    ref = withDefaultTag(ref);
    await cli.client().call('POST', `/images/${enc(source)}/tag`, { query: { repo: ref.name, tag: ref.tag } });
  },
};
