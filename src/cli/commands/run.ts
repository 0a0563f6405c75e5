// berth run / berth create: ContainerCreate (pulling a missing image first), then for run: attach, wait,
// start and exit with the container's status, in the order the docker CLI uses.
import { writeFileSync, existsSync } from 'node:fs';
import { BIN, type Cli, type CommandSpec } from '../command.ts';
import { esc, type ApiClient } from '../client.ts';
import type { FlagValues } from '../flags.ts';
import { ApiError, StatusError } from '../errors.ts';
import { buildCreateRequest, containerFlags, pullFlag, OptionsError, type CreateRequest } from '../container-options.ts';
import { parseNormalizedNamed, familiarString, withDefaultTag, type ImageRef } from '../reference.ts';
import { readConfigFile } from '../display.ts';
import { attachContainer, forwardSignals, monitorTtySize, type AttachSession } from '../attach.ts';
import { displayJSONMessages } from '../json-progress.ts';
import { registerWait } from '../container-wait.ts';
import { CliConfigFile, registryAuthHeader } from '../auth-config.ts';

const runFlags = [
  ...containerFlags(),
  { name: 'detach', short: 'd', type: '', desc: 'Run container in background and print container ID' },
  { name: 'detach-keys', type: 'string', desc: 'Override the key sequence for detaching a container' },
  { name: 'sig-proxy', type: '', desc: 'Proxy received signals to the process', def: true, defText: 'true' },
  pullFlag('running'),
];

/** docker's reportError for run/create: "berth: <msg>" plus the help hint, exit status 125. */
function usageFailure(cmd: string, msg: string, status = 125): StatusError {
  return new StatusError(`${BIN}: ${msg}\n\nRun '${BIN} ${cmd} --help' for more information`, status);
}

function validatePull(p: string, cmd: string): void {
  if (p !== 'always' && p !== 'missing' && p !== 'never' && p !== '') {
    throw usageFailure(cmd, `invalid pull option: '${p}': must be one of "always", "missing" or "never"`);
  }
}

/** pullImage in docker's create.go: ImageCreate with the stored credentials of the image's registry. */
async function pullImage(cli: Cli, ref: ImageRef, platform: string, quiet: boolean): Promise<void> {
  const client = cli.client();
  const auth = registryAuthHeader(CliConfigFile.loadOrWarn(cli.configDir, cli.err), ref.name);
  const res = await client.request('POST', '/images/create', {
    query: { fromImage: ref.name, tag: ref.digest ?? ref.tag ?? 'latest', platform: platform.toLowerCase() || undefined },
    headers: { 'X-Registry-Auth': auth },
  });
  const sink = quiet ? { write: () => true } : cli.err;
  await displayJSONMessages(res, sink);
}

/** createContainer in docker's create.go: --pull always, or pull on a 404 and retry once. */
export async function createContainer(cli: Cli, req: CreateRequest, opts: { pull: string; quiet: boolean; cidfile: string }): Promise<string> {
  const client = cli.client();
  let ref: ImageRef | undefined;
  try {
    ref = withDefaultTag(parseNormalizedNamed(req.body.Image));
  } catch {
    ref = undefined;
  }
  if (opts.cidfile && existsSync(opts.cidfile)) {
    throw new Error(`container ID file found, make sure the other container isn't running or delete ${opts.cidfile}`);
  }
  const create = () => client.json<{ Id: string; Warnings?: string[] | null }>('POST', '/containers/create', {
    query: { name: req.name || undefined, platform: req.platform || undefined },
    json: req.body,
  });
  if (opts.pull === 'always' && ref) await pullImage(cli, ref, req.platform, opts.quiet);
  let res;
  try {
    res = await create();
  } catch (err) {
    if (!(err instanceof ApiError && err.statusCode === 404 && ref && opts.pull === 'missing')) throw err;
    if (!opts.quiet) cli.err.write(`Unable to find image '${familiarString(ref)}' locally\n`);
    await pullImage(cli, ref, req.platform, opts.quiet);
    res = await create();
  }
  for (const w of res.Warnings ?? []) cli.err.write(`WARNING: ${w}\n`);
  if (opts.cidfile) writeFileSync(opts.cidfile, res.Id);
  return res.Id;
}

function consoleSize(flags: FlagValues): [number, number] | undefined {
  const out = process.stdout;
  if (flags.bool('tty') && out.isTTY && out.rows && out.columns) return [out.rows, out.columns];
  return undefined;
}

function buildRequest(flags: FlagValues, args: string[], cmd: string): CreateRequest {
  try {
    return buildCreateRequest(flags, args, { consoleSize: consoleSize(flags) });
  } catch (err) {
    if (err instanceof OptionsError) throw usageFailure(cmd, err.message);
    throw err;
  }
}

export const createCommand: CommandSpec = {
  usage: '[OPTIONS] IMAGE [COMMAND] [ARG...]',
  short: 'Create a new container',
  aliases: ['container create', 'create'],
  flags: [...containerFlags(), pullFlag('creating')],
  args: { min: 1 },
  interspersed: false,
  async run(cli, flags, args) {
    validatePull(flags.str('pull'), 'create');
    const req = buildRequest(flags, args, 'create');
    // Unlike run, create reports daemon and pull errors plainly, with status 1.
    const id = await createContainer(cli, req, { pull: flags.str('pull'), quiet: flags.bool('quiet'), cidfile: flags.str('cidfile') });
    cli.out.write(`${id}\n`);
  },
};

/** runStartContainerErr: the exit status docker derives from the daemon's start error. */
export function startErrorStatus(message: string): number {
  if (/executable file not found|no such file or directory|system cannot find the file specified/.test(message)) return 127;
  if (/permission denied|is a directory|cannot execute/.test(message)) return 126;
  return 125;
}

export const runCommand: CommandSpec = {
  usage: '[OPTIONS] IMAGE [COMMAND] [ARG...]',
  short: 'Create and run a new container from an image',
  aliases: ['container run', 'run'],
  flags: runFlags,
  args: { min: 1 },
  interspersed: false,
  async run(cli, flags, args) {
    validatePull(flags.str('pull'), 'run');
    const req = buildRequest(flags, args, 'run');
    const body = req.body as Record<string, unknown>;
    const detach = flags.bool('detach');
    const tty = flags.bool('tty');
    if (!detach) {
      if (body.AttachStdin && tty && !process.stdin.isTTY) throw new StatusError('the input device is not a TTY', 1);
    } else {
      if (flags.list('attach').length > 0) throw new StatusError('conflicting options: cannot specify both --attach and --detach', 1);
      body.AttachStdin = false;
      body.AttachStdout = false;
      body.AttachStderr = false;
      body.StdinOnce = false;
    }
    const sigProxy = flags.bool('sig-proxy') && !tty;

    let id: string;
    try {
      id = await createContainer(cli, req, { pull: flags.str('pull'), quiet: flags.bool('quiet'), cidfile: flags.str('cidfile') });
    } catch (err) {
      throw usageFailure('run', (err as Error).message);
    }
    const client = cli.client();
    const stopForwarding = sigProxy && !detach ? forwardSignals(client, id) : () => {};
    const attachStdout = body.AttachStdout === true;
    const attachStderr = body.AttachStderr === true;
    const attachStdin = body.AttachStdin === true;
    const autoRemove = flags.bool('rm');

    // Without stdout/stderr attached (-d, or -a stdin) the id is printed before starting, as docker does.
    if (!attachStdout && !attachStderr) cli.out.write(`${id}\n`);

    let session: AttachSession | undefined;
    try {
      if (attachStdin || attachStdout || attachStderr) {
        session = await attachContainer(client, id, {
          stdin: attachStdin, stdout: attachStdout, stderr: attachStderr, tty, detachKeys: flags.str('detach-keys') || readConfigFile(cli.configDir).detachKeys || undefined,
        });
      }
    } catch (err) {
      throw usageFailure('run', (err as Error).message);
    }
    const wait = detach ? undefined : await registerWait(client, id, autoRemove);

    try {
      await client.call('POST', `/containers/${esc(id)}/start`);
    } catch (err) {
      session?.close();
      const msg = (err as Error).message;
      cli.err.write(`${BIN}: ${msg}\n\nRun '${BIN} run --help' for more information\n`);
      if (autoRemove) {
        // dockerd removes an AutoRemove container whose start failed; make sure it is gone all the same.
        await client.call('DELETE', `/containers/${esc(id)}`, { query: { force: true } }).catch(() => {});
      }
      stopForwarding();
      return startErrorStatus(err instanceof ApiError ? err.detail : msg);
    }
    if (detach) return 0;

    let stopResize = () => {};
    if ((attachStdin || attachStdout || attachStderr) && tty && process.stdout.isTTY) {
      stopResize = monitorTtySize(client, id, (err) => cli.err.write(`Error monitoring TTY size: ${err.message}\n`));
    }
    try {
      if (session) {
        const { detached } = await session.done;
        if (detached) return 0;
      }
      if (!attachStdout && !attachStderr) return 0;
      return await wait!.result;
    } finally {
      stopResize();
      stopForwarding();
    }
  },
};
