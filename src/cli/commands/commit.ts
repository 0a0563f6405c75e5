// berth commit: a new image from a container's changes (POST /commit), printing its ID.
import type { CommandSpec } from '../command.ts';
import { StatusError } from '../errors.ts';
import { familiarName, parseNormalizedNamed } from '../reference.ts';

export const commitCommand: CommandSpec = {
  usage: '[OPTIONS] CONTAINER [REPOSITORY[:TAG]]',
  short: "Create a new image from a container's changes",
  aliases: ['container commit', 'commit'],
  flags: [
    { name: 'author', short: 'a', type: 'string', desc: 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")' },
    { name: 'change', short: 'c', type: 'list', desc: 'Apply Dockerfile instruction to the created image', repeat: true },
    { name: 'message', short: 'm', type: 'string', desc: 'Commit message' },
    { name: 'pause', short: 'p', type: '', desc: 'Pause container during commit', def: true, defText: 'true' },
  ],
  args: { min: 1, max: 2 },
  interspersed: false,
  async run(cli, flags, args) {
    const [container, reference] = args;
    let repo = '';
    let tag = '';
    if (reference) {
      // The client splits REPOSITORY[:TAG] like docker's (reference.ParseNormalizedNamed, TagNameOnly).
      let ref;
      try {
        ref = parseNormalizedNamed(reference);
      } catch (err) {
        throw new StatusError((err as Error).message, 1);
      }
      if (ref.digest) throw new StatusError('refusing to create a tag with a digest reference', 1);
      tag = ref.tag ?? 'latest';
      repo = familiarName(ref.name);
    }
    const res = await cli.client().json<{ Id: string }>('POST', '/commit', {
      query: {
        author: flags.str('author'), changes: flags.list('change'), comment: flags.str('message'), container: container!,
        pause: flags.bool('pause') ? undefined : '0', repo, tag,
      },
      json: null,
    });
    cli.out.write(`${res.Id}\n`);
  },
};
