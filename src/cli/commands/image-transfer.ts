// berth load / save / import: image tarballs streamed to and from the daemon.
import { createReadStream, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { CommandSpec } from '../command.ts';
import { copyToFile } from '../output-file.ts';
import { StatusError } from '../errors.ts';
import { displayJSONMessages } from '../json-progress.ts';
import { parseNormalizedNamed } from '../reference.ts';

/** Opens a file for reading, failing with Go's "open X: no such file or directory" wording. */
async function openInput(file: string): Promise<Readable> {
  const stream = createReadStream(file);
  await new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'ENOENT' ? 'no such file or directory' : err.code === 'EACCES' ? 'permission denied' : err.code === 'EISDIR' ? 'is a directory' : err.message;
      reject(new StatusError(`open ${file}: ${why}`, 1));
    });
  });
  return stream;
}

export const loadCommand: CommandSpec = {
  usage: '[OPTIONS]',
  short: 'Load an image from a tar archive or STDIN',
  aliases: ['image load', 'load'],
  flags: [
    { name: 'input', short: 'i', type: 'string', desc: 'Read from tar archive file, instead of STDIN' },
    { name: 'platform', type: 'string', desc: 'Load only the given platform variant. Formatted as "os[/arch[/variant]]" (e.g., "linux/amd64")', hidden: true },
    { name: 'quiet', short: 'q', type: '', desc: 'Suppress the load output' },
  ],
  args: { none: true },
  async run(cli, flags) {
    let input: Readable = cli.in;
    const file = flags.str('input');
    if (file === '') {
      if (cli.in.isTTY) throw new StatusError('requested load from stdin, but stdin is empty', 1);
    } else {
      input = await openInput(file);
    }
    // docker asks for quiet output whenever its stdout is not a terminal (no progress bars to draw).
    const quiet = flags.bool('quiet') || !cli.out.isTTY;
    const res = await cli.client().request('POST', '/images/load', {
      query: { quiet: quiet ? '1' : '0', platform: flags.str('platform') || undefined },
      headers: { 'Content-Type': 'application/x-tar' },
      body: input,
    });
    if (String(res.headers['content-type'] ?? '').startsWith('application/json')) {
      await displayJSONMessages(res, cli.out);
    } else {
      await pipeline(res, cli.out, { end: false });
    }
  },
};

export const saveCommand: CommandSpec = {
  usage: '[OPTIONS] IMAGE [IMAGE...]',
  short: 'Save one or more images to a tar archive (streamed to STDOUT by default)',
  aliases: ['image save', 'save'],
  flags: [
    { name: 'output', short: 'o', type: 'string', desc: 'Write to a file, instead of STDOUT' },
    { name: 'platform', type: 'string', desc: 'Save only the given platform variant. Formatted as "os[/arch[/variant]]" (e.g., "linux/amd64")', hidden: true },
  ],
  args: { min: 1 },
  async run(cli, flags, args) {
    const output = flags.str('output');
    if (output === '' && cli.out.isTTY) {
      throw new StatusError('cowardly refusing to save to a terminal. Use the -o flag or redirect', 1);
    }
    if (output !== '') {
      const dir = path.dirname(output);
      // command.ValidateOutputPath
      if (!existsSync(dir)) throw new StatusError(`failed to save image: invalid output path: stat ${dir}: no such file or directory`, 1);
      if (!statSync(dir).isDirectory()) throw new StatusError(`failed to save image: invalid output path: ${dir} is not a directory`, 1);
    }
    const res = await cli.client().request('GET', '/images/get', {
      query: { names: args, platform: flags.str('platform') || undefined },
    });
    if (output === '') {
      await pipeline(res, cli.out, { end: false });
      return;
    }
    await copyToFile(res, output);
  },
};

export const importCommand: CommandSpec = {
  usage: '[OPTIONS] file|URL|- [REPOSITORY[:TAG]]',
  short: 'Import the contents from a tarball to create a filesystem image',
  aliases: ['image import', 'import'],
  flags: [
    { name: 'change', short: 'c', type: 'list', desc: 'Apply Dockerfile instruction to the created image', repeat: true },
    { name: 'message', short: 'm', type: 'string', desc: 'Set commit message for imported image' },
    { name: 'platform', type: 'string', desc: 'Set platform if server is multi-platform capable', def: process.env.DOCKER_DEFAULT_PLATFORM ?? '' },
  ],
  args: { min: 1 },
  async run(cli, flags, args) {
    const [src, repo] = args;
    let body: Readable | undefined;
    let fromSrc: string;
    if (src === '-') {
      body = cli.in;
      fromSrc = '-';
    } else if (src.startsWith('http://') || src.startsWith('https://')) {
      fromSrc = src;
    } else {
      body = await openInput(src);
      fromSrc = '-';
    }
    if (repo) {
      try {
        parseNormalizedNamed(repo);
      } catch (err) {
        throw new StatusError((err as Error).message, 1);
      }
    }
    const res = await cli.client().request('POST', '/images/create', {
      query: {
        fromSrc,
        repo: repo || undefined,
        message: flags.str('message') || undefined,
        platform: flags.str('platform') || undefined,
        changes: flags.list('change'),
      },
      headers: { 'Content-Type': 'text/plain' },
      body: body ?? '',
    });
    await displayJSONMessages(res, cli.out);
  },
};
