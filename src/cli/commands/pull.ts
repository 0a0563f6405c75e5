// berth pull: POST /images/create?fromImage=NAME&tag=TAG with the stored credentials in X-Registry-Auth, the
// daemon's progress stream rendered as docker renders it (bars on a terminal, status lines otherwise).
import type { CommandSpec } from '../command.ts';
import { StatusError } from '../errors.ts';
import { displayJSONMessages } from '../json-progress.ts';
import { parseNormalizedNamed, familiarName, type ImageRef } from '../reference.ts';
import { CliConfigFile, authKeyForRepository } from '../auth-config.ts';
import { withRegistryAuth } from './registry-auth.ts';

export const discard = { write: () => true };

/** reference.String(): the full name with its tag and/or digest. */
export function referenceString(ref: ImageRef): string {
  return ref.name + (ref.tag !== undefined ? `:${ref.tag}` : '') + (ref.digest ? `@${ref.digest}` : '');
}

export function parseRef(s: string): ImageRef {
  try {
    return parseNormalizedNamed(s);
  } catch (err) {
    throw new StatusError((err as Error).message, 1);
  }
}

/** The tag and "Using default tag" handling pull and push share (runPull / runPush). */
export function resolveTag(cli: { out: NodeJS.WritableStream }, ref: ImageRef, all: boolean, quiet: boolean): ImageRef {
  const nameOnly = ref.tag === undefined && ref.digest === undefined;
  if (all && !nameOnly) throw new StatusError("tag can't be used with --all-tags/-a", 1);
  if (!all && nameOnly) {
    if (!quiet) cli.out.write('Using default tag: latest\n');
    return { ...ref, tag: 'latest' };
  }
  return ref;
}

export const pullCommand: CommandSpec = {
  usage: '[OPTIONS] NAME[:TAG|@DIGEST]',
  short: 'Download an image from a registry',
  aliases: ['image pull', 'pull'],
  flags: [
    { name: 'all-tags', short: 'a', type: '', desc: 'Download all tagged images in the repository' },
    { name: 'disable-content-trust', type: '', desc: 'Skip image verification', def: true, defText: 'true' },
    { name: 'platform', type: 'string', desc: 'Set platform if server is multi-platform capable', def: process.env.DOCKER_DEFAULT_PLATFORM ?? '' },
    { name: 'quiet', short: 'q', type: '', desc: 'Suppress verbose output' },
  ],
  args: { exact: 1 },
  async run(cli, flags, args) {
    const all = flags.bool('all-tags');
    const quiet = flags.bool('quiet');
    const ref = resolveTag(cli, parseRef(args[0]), all, quiet);
    const cfg = CliConfigFile.loadOrWarn(cli.configDir, cli.err);
    const platform = flags.str('platform').toLowerCase();
    // ImagePull sends the familiar name and the tag (or digest) apart; -a sends no tag at all.
    const res = await withRegistryAuth(cli, cfg, authKeyForRepository(ref.name), 'pull', (auth) =>
      cli.client().request('POST', '/images/create', {
        query: { fromImage: familiarName(ref.name), tag: all ? undefined : (ref.digest ?? ref.tag), platform: platform || undefined },
        headers: { 'X-Registry-Auth': auth },
      }));
    await displayJSONMessages(res, quiet ? discard : cli.out);
    cli.out.write(`${referenceString(ref)}\n`);
  },
};
