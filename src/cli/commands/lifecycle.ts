// berth stop / restart / kill / rm / wait: one API call per container. Like docker, the calls run in
// parallel but results print in argument order; failures print on stderr and the exit status is 1.
import type { Cli, CommandSpec } from '../command.ts';
import { parseInt64, type FlagValues } from '../flags.ts';
import { StatusError } from '../errors.ts';
import type { Query } from '../client.ts';

import { esc as enc } from '../client.ts';

async function forEachParallel(cli: Cli, names: string[], op: (name: string) => Promise<void>): Promise<number> {
  const results = names.map((n) => op(n).then(() => undefined, (err: Error) => err));
  let failed = false;
  for (let i = 0; i < names.length; i++) {
    const err = await results[i];
    if (err) {
      failed = true;
      cli.err.write(`${err.message}\n`);
    } else {
      cli.out.write(`${names[i]}\n`);
    }
  }
  if (failed) throw new StatusError('', 1);
  return 0;
}

const signalFlag = { name: 'signal', short: 's', type: 'string', desc: 'Signal to send to the container' };
const timeoutFlags = [
  { name: 'timeout', short: 't', type: 'int', desc: 'Seconds to wait before killing the container', parse: parseInt64 },
  // docker still accepts the old name, hidden.
  { name: 'time', type: 'int', desc: 'Seconds to wait before killing the container', parse: parseInt64, hidden: true },
];

function stopQuery(flags: FlagValues): Query {
  const q: Query = { signal: flags.str('signal') || undefined };
  if (flags.changed('timeout')) q.t = flags.num('timeout');
  else if (flags.changed('time')) q.t = flags.num('time');
  return q;
}

export const stopCommand: CommandSpec = {
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  short: 'Stop one or more running containers',
  aliases: ['container stop', 'stop'],
  flags: [signalFlag, ...timeoutFlags],
  args: { min: 1 },
  async run(cli, flags, args) {
    const query = stopQuery(flags);
    return forEachParallel(cli, args, (c) => cli.client().call('POST', `/containers/${enc(c)}/stop`, { query }));
  },
};

export const restartCommand: CommandSpec = {
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  short: 'Restart one or more containers',
  aliases: ['container restart', 'restart'],
  flags: [signalFlag, ...timeoutFlags],
  args: { min: 1 },
  async run(cli, flags, args) {
    const query = stopQuery(flags);
    // docker restarts one container after the other.
    let failed = false;
    for (const c of args) {
      try {
        await cli.client().call('POST', `/containers/${enc(c)}/restart`, { query });
        cli.out.write(`${c}\n`);
      } catch (err) {
        failed = true;
        cli.err.write(`${(err as Error).message}\n`);
      }
    }
    if (failed) throw new StatusError('', 1);
  },
};

export const killCommand: CommandSpec = {
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  short: 'Kill one or more running containers',
  aliases: ['container kill', 'kill'],
  flags: [signalFlag],
  args: { min: 1 },
  async run(cli, flags, args) {
    const query = { signal: flags.str('signal') || undefined };
    return forEachParallel(cli, args, (c) => cli.client().call('POST', `/containers/${enc(c)}/kill`, { query }));
  },
};

export const rmCommand: CommandSpec = {
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  short: 'Remove one or more containers',
  aliases: ['container rm', 'container remove', 'rm'],
  flags: [
    { name: 'force', short: 'f', type: '', desc: 'Force the removal of a running container (uses SIGKILL)' },
    { name: 'link', short: 'l', type: '', desc: 'Remove the specified link' },
    { name: 'volumes', short: 'v', type: '', desc: 'Remove anonymous volumes associated with the container' },
  ],
  args: { min: 1 },
  async run(cli, flags, args) {
    const query = { force: flags.bool('force'), v: flags.bool('volumes'), link: flags.bool('link') };
    return forEachParallel(cli, args, async (c) => {
      const name = c.replace(/^\/+/, '');
      if (name === '') throw new Error('Container name cannot be empty');
      await cli.client().call('DELETE', `/containers/${enc(name)}`, { query });
    });
  },
};

export const waitCommand: CommandSpec = {
  usage: 'CONTAINER [CONTAINER...]',
  short: 'Block until one or more containers stop, then print their exit codes',
  aliases: ['container wait', 'wait'],
  flags: [],
  args: { min: 1 },
  async run(cli, _flags, args) {
    let failed = false;
    for (const c of args) {
      try {
        const res = await cli.client().json<{ StatusCode: number; Error?: { Message?: string } | null }>('POST', `/containers/${enc(c)}/wait`);
        if (res?.Error?.Message) throw new Error(res.Error.Message);
        cli.out.write(`${res?.StatusCode ?? 0}\n`);
      } catch (err) {
        failed = true;
        cli.err.write(`${(err as Error).message}\n`);
      }
    }
    if (failed) throw new StatusError('', 1);
  },
};
