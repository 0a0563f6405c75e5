// berth exec and berth attach: run a command in a running container, or attach to its main process.
import type { CommandSpec } from '../command.ts';
import { StatusError } from '../errors.ts';
import { readConfigFile } from '../display.ts';
import { attachContainer, attachExec, forwardSignals, monitorTtySize } from '../attach.ts';
import { registerWait } from '../container-wait.ts';
import { readKVFile } from '../container-options.ts';
import { esc } from '../client.ts';

interface ExecInspect { ExitCode: number | null; Running: boolean }

export const execCommand: CommandSpec = {
  usage: '[OPTIONS] CONTAINER COMMAND [ARG...]',
  short: 'Execute a command in a running container',
  aliases: ['container exec', 'exec'],
  flags: [
    { name: 'detach', short: 'd', type: '', desc: 'Detached mode: run command in the background' },
    { name: 'detach-keys', type: 'string', desc: 'Override the key sequence for detaching a container' },
    { name: 'env', short: 'e', type: 'list', repeat: true, desc: 'Set environment variables' },
    { name: 'env-file', type: 'list', repeat: true, desc: 'Read in a file of environment variables' },
    { name: 'interactive', short: 'i', type: '', desc: 'Keep STDIN open even if not attached' },
    { name: 'privileged', type: '', desc: 'Give extended privileges to the command' },
    { name: 'tty', short: 't', type: '', desc: 'Allocate a pseudo-TTY' },
    { name: 'user', short: 'u', type: 'string', desc: 'Username or UID (format: "<name|uid>[:<group|gid>]")' },
    { name: 'workdir', short: 'w', type: 'string', desc: 'Working directory inside the container' },
  ],
  args: { min: 2 },
  interspersed: false,
  async run(cli, flags, args) {
    const client = cli.client();
    const [container, ...cmd] = args;
    const tty = flags.bool('tty');
    const interactive = flags.bool('interactive');
    const detach = flags.bool('detach');
    if (!detach && interactive && tty && !process.stdin.isTTY) throw new StatusError('the input device is not a TTY', 1);
    const env = [...flags.list('env-file').flatMap((f) => readKVFile(f, true, 'env')), ...flags.list('env').flatMap((e) => {
      if (e.includes('=')) return [e];
      const v = process.env[e];
      return v === undefined ? [] : [`${e}=${v}`];
    })];
    const detachKeys = flags.str('detach-keys') || readConfigFile(cli.configDir).detachKeys || '';
    const consoleSize: [number, number] | undefined = tty && process.stdout.isTTY && process.stdout.rows ? [process.stdout.rows, process.stdout.columns] : undefined;
    const body: Record<string, unknown> = {
      User: flags.str('user'), Privileged: flags.bool('privileged'), Tty: tty, AttachStdin: interactive && !detach,
      AttachStdout: !detach, AttachStderr: !detach && !tty, DetachKeys: detachKeys, Env: env, WorkingDir: flags.str('workdir'), Cmd: cmd,
    };
    if (consoleSize) body.ConsoleSize = consoleSize;
    const { Id: execId } = await client.json<{ Id: string }>('POST', `/containers/${esc(container)}/exec`, { json: body });
    if (detach) {
      await client.call('POST', `/exec/${esc(execId)}/start`, { json: { Detach: true, Tty: tty } });
      return 0;
    }
    const session = await attachExec(client, execId, {
      stdin: interactive, stdout: true, stderr: !tty, tty, detachKeys: detachKeys || undefined, consoleSize,
    });
    const stopResize = tty && process.stdout.isTTY ? monitorTtySize(client, execId, () => {}, 'exec') : () => {};
    try {
      const { detached } = await session.done;
      if (detached) return 0;
    } finally {
      stopResize();
    }
    const info = await client.json<ExecInspect>('GET', `/exec/${esc(execId)}/json`);
    return info.ExitCode ?? 0;
  },
};

interface Inspect {
  Id: string;
  Config: { Tty?: boolean; OpenStdin?: boolean };
  State: { Running?: boolean; Paused?: boolean; Restarting?: boolean };
  HostConfig: { AutoRemove?: boolean };
}

export const attachCommand: CommandSpec = {
  usage: '[OPTIONS] CONTAINER',
  short: 'Attach local standard input, output, and error streams to a running container',
  aliases: ['container attach', 'attach'],
  flags: [
    { name: 'detach-keys', type: 'string', desc: 'Override the key sequence for detaching a container' },
    { name: 'no-stdin', type: '', desc: 'Do not attach STDIN' },
    { name: 'sig-proxy', type: '', def: true, defText: 'true', desc: 'Proxy all received signals to the process' },
  ],
  args: { exact: 1 },
  async run(cli, flags, args) {
    const client = cli.client();
    const c = await client.json<Inspect>('GET', `/containers/${esc(args[0])}/json`);
    // These checks are the docker CLI's own, before it attaches.
    if (!c.State.Running) throw new StatusError('You cannot attach to a stopped container, start it first', 1);
    if (c.State.Paused) throw new StatusError('You cannot attach to a paused container, unpause it first', 1);
    if (c.State.Restarting) throw new StatusError('You cannot attach to a restarting container, wait until it is running', 1);
    const tty = c.Config?.Tty === true;
    const stdin = !flags.bool('no-stdin') && c.Config?.OpenStdin === true;
    if (stdin && tty && !process.stdin.isTTY) throw new StatusError('the input device is not a TTY', 1);
    const stopForwarding = flags.bool('sig-proxy') && !tty ? forwardSignals(client, c.Id) : () => {};
    const session = await attachContainer(client, c.Id, {
      stdin, stdout: true, stderr: true, tty, detachKeys: flags.str('detach-keys') || readConfigFile(cli.configDir).detachKeys || undefined,
    });
    const wait = await registerWait(client, c.Id, false);
    const stopResize = tty && process.stdout.isTTY ? monitorTtySize(client, c.Id, () => {}) : () => {};
    try {
      const { detached } = await session.done;
      if (detached) return 0;
      return await wait.result;
    } finally {
      stopResize();
      stopForwarding();
    }
  },
};
