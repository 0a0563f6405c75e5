// berth start: start containers, or with -a/-i attach to one, start it and exit with its status.
import type { CommandSpec } from '../command.ts';
import { StatusError } from '../errors.ts';
import { readConfigFile } from '../display.ts';
import { attachContainer, forwardSignals, monitorTtySize } from '../attach.ts';
import { registerWait } from '../container-wait.ts';

import { esc as enc } from '../client.ts';

interface Inspect {
  Id: string;
  Config: { Tty?: boolean; OpenStdin?: boolean };
  HostConfig: { AutoRemove?: boolean };
}

export const startCommand: CommandSpec = {
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  short: 'Start one or more stopped containers',
  aliases: ['container start', 'start'],
  flags: [
    { name: 'attach', short: 'a', type: '', desc: 'Attach STDOUT/STDERR and forward signals' },
    { name: 'checkpoint', type: 'string', desc: 'Restore from this checkpoint', hidden: true },
    { name: 'checkpoint-dir', type: 'string', desc: 'Use a custom checkpoint storage directory', hidden: true },
    { name: 'detach-keys', type: 'string', desc: 'Override the key sequence for detaching a container' },
    { name: 'interactive', short: 'i', type: '', desc: "Attach container's STDIN" },
  ],
  args: { min: 1 },
  async run(cli, flags, args) {
    const client = cli.client();
    if (flags.bool('attach') || flags.bool('interactive')) {
      if (args.length > 1) throw new StatusError('you cannot start and attach multiple containers at once', 1);
      const c = await client.json<Inspect>('GET', `/containers/${enc(args[0])}/json`);
      const tty = c.Config?.Tty === true;
      const stopForwarding = tty ? () => {} : forwardSignals(client, c.Id);
      const stdin = flags.bool('interactive') && c.Config?.OpenStdin === true;
      const session = await attachContainer(client, c.Id, {
        stdin, stdout: true, stderr: true, tty, detachKeys: flags.str('detach-keys') || readConfigFile(cli.configDir).detachKeys || undefined,
      });
      const wait = await registerWait(client, c.Id, c.HostConfig?.AutoRemove === true);
      try {
        await client.call('POST', `/containers/${enc(c.Id)}/start`, {
          query: { checkpoint: flags.str('checkpoint') || undefined, 'checkpoint-dir': flags.str('checkpoint-dir') || undefined },
        });
      } catch (err) {
        session.close();
        stopForwarding();
        throw err;
      }
      const stopResize = tty && process.stdout.isTTY
        ? monitorTtySize(client, c.Id, (err) => cli.err.write(`Error monitoring TTY size: ${err.message}\n`))
        : () => {};
      try {
        const { detached } = await session.done;
        if (detached) return 0;
        return await wait.result;
      } finally {
        stopResize();
        stopForwarding();
      }
    }

    const failed: string[] = [];
    for (const name of args) {
      try {
        await client.call('POST', `/containers/${enc(name)}/start`, {
          query: { checkpoint: flags.str('checkpoint') || undefined, 'checkpoint-dir': flags.str('checkpoint-dir') || undefined },
        });
        cli.out.write(`${name}\n`);
      } catch (err) {
        cli.err.write(`${(err as Error).message}\n`);
        failed.push(name);
      }
    }
    if (failed.length > 0) throw new StatusError(`Error: failed to start containers: ${failed.join(', ')}`, 1);
  },
};
