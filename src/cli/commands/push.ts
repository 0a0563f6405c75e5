// berth push: POST /images/{name}/push?tag=TAG with the stored credentials in X-Registry-Auth, the progress
// stream rendered like docker's.
import type { CommandSpec } from '../command.ts';
import { StatusError } from '../errors.ts';
import { esc } from '../client.ts';
import { displayJSONMessages } from '../json-progress.ts';
import { CliConfigFile, authKeyForRepository } from '../auth-config.ts';
import { withRegistryAuth } from './registry-auth.ts';
import { discard, parseRef, referenceString, resolveTag } from './pull.ts';

const OSES = new Set(['aix', 'android', 'darwin', 'dragonfly', 'freebsd', 'illumos', 'ios', 'js', 'linux', 'netbsd', 'openbsd', 'plan9', 'solaris', 'wasip1', 'windows']);
const ARCH_ALIASES: Record<string, string> = { x86_64: 'amd64', 'x86-64': 'amd64', aarch64: 'arm64', armhf: 'arm', armel: 'arm', i386: '386' };

/** platforms.Parse, roughly: "os[/arch[/variant]]" or a bare architecture (Linux), as the OCI platform JSON. */
export function parsePlatform(s: string): { architecture: string; os: string; variant?: string } | undefined {
  const parts = s.toLowerCase().split('/');
  if (parts.length > 3 || parts.some((x) => !/^[a-z0-9_.-]+$/.test(x))) return undefined;
  const arch = (a: string) => ARCH_ALIASES[a] ?? a;
  if (parts.length === 1) {
    if (OSES.has(parts[0])) return { architecture: goArch(), os: parts[0] };
    return { architecture: arch(parts[0]), os: 'linux' };
  }
  if (!OSES.has(parts[0])) return undefined;
  const [os, a, variant] = parts;
  return { architecture: arch(a), os, ...(variant ? { variant } : {}) };
}

function goArch(): string {
  return ({ x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm' } as Record<string, string>)[process.arch] ?? process.arch;
}

export const pushCommand: CommandSpec = {
  usage: '[OPTIONS] NAME[:TAG]',
  short: 'Upload an image to a registry',
  aliases: ['image push', 'push'],
  flags: [
    { name: 'all-tags', short: 'a', type: '', desc: 'Push all tags of an image to the repository' },
    { name: 'disable-content-trust', type: '', desc: 'Skip image signing', def: true, defText: 'true' },
    {
      name: 'platform', type: 'string',
      desc: "Push a platform-specific manifest as a single-platform image to the registry.\nImage index won't be pushed, meaning that other manifests, including attestations won't be preserved.\n'os[/arch[/variant]]': Explicit platform (eg. linux/amd64)",
    },
    { name: 'quiet', short: 'q', type: '', desc: 'Suppress verbose output' },
  ],
  args: { exact: 1 },
  async run(cli, flags, args) {
    const all = flags.bool('all-tags');
    const quiet = flags.bool('quiet');
    let platform: string | undefined;
    const p = flags.str('platform');
    if (p !== '') {
      const parsed = parsePlatform(p);
      if (!parsed) {
        cli.err.write(`Invalid platform ${p}`);
        throw new StatusError(`"${p}": unknown operating system or architecture: invalid argument`, 1);
      }
      platform = JSON.stringify(parsed);
    }
    const ref = resolveTag(cli, parseRef(args[0]), all, quiet);
    if (ref.digest) throw new StatusError('cannot push a digest reference', 1);
    const cfg = CliConfigFile.loadOrWarn(cli.configDir, cli.err);
    const res = await withRegistryAuth(cli, cfg, authKeyForRepository(ref.name), 'push', (auth) =>
      cli.client().request('POST', `/images/${esc(ref.name)}/push`, {
        query: { tag: all ? undefined : ref.tag, platform },
        headers: { 'X-Registry-Auth': auth },
        // docker always sends a body ("{}") for the sake of old daemons.
        json: {},
      }));
    // "The push refers to repository [...]" and "TAG: digest: ... size: N" are status lines of the stream;
    // the aux message carrying the same digest is not printed.
    await displayJSONMessages(res, quiet ? discard : cli.out, { onAux: () => {} });
    if (quiet) cli.out.write(`${referenceString(ref)}\n`);
  },
};
