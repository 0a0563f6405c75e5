// Prompting for registry credentials (docker's command.PromptUserForCredentials) and the retry docker does
// when the daemon answers 401 to a pull, push or search (RegistryAuthenticationPrivilegedFunc).
import { spawnSync } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { Cli } from '../command.ts';
import { ApiError, StatusError } from '../errors.ts';
import { CliConfigFile, INDEX_SERVER, convertToHostname, encodeAuthConfig, type AuthConfig } from '../auth-config.ts';

const REGISTER_SUGGEST = "Log in with your Docker ID or email address to push and pull images from Docker Hub. If you don't have a Docker ID, head over to https://hub.docker.com/ to create one.";

/** Reads one line (without its "\n" or "\r\n") and leaves the rest of the input unread; null at end of input. */
export function readLine(input: NodeJS.ReadableStream): Promise<string | null> {
  if ((input as Readable).readableEnded) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    let buf = '';
    const cleanup = () => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.off('error', onError);
      input.pause();
    };
    const onData = (chunk: Buffer | string) => {
      buf += String(chunk);
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      cleanup();
      const rest = buf.slice(nl + 1);
      if (rest !== '') input.unshift(Buffer.from(rest));
      resolve(buf.slice(0, nl).replace(/\r$/, ''));
    };
    const onEnd = () => {
      cleanup();
      resolve(buf === '' ? null : buf);
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    input.on('data', onData);
    input.once('end', onEnd);
    input.once('error', onError);
    input.resume();
  });
}

/** command.PromptForInput: prints the message, reads a line, trims spaces. */
export async function promptForInput(cli: Cli, message: string): Promise<string> {
  cli.out.write(message);
  return ((await readLine(cli.in)) ?? '').trim();
}

/** Runs stty on our stdin; false when it cannot (not a terminal). */
function stty(args: string[]): string | undefined {
  const r = spawnSync('stty', args, { stdio: ['inherit', 'pipe', 'ignore'], encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/**
 * Reads a line with the terminal's echo off (DisableInputEcho), restoring the terminal afterwards, also when
 * the prompt is interrupted.
 */
async function readHidden(cli: Cli, message: string): Promise<string> {
  const saved = cli.in.isTTY ? stty(['-g']) : undefined;
  if (saved !== undefined) stty(['-echo']);
  const restore = () => {
    if (saved !== undefined) stty([saved]);
  };
  const onSigint = () => {
    restore();
    cli.out.write('\n');
    process.exit(130);
  };
  if (saved !== undefined) process.on('SIGINT', onSigint);
  try {
    return await promptForInput(cli, message);
  } finally {
    if (saved !== undefined) process.off('SIGINT', onSigint);
    restore();
  }
}

/** command.PromptUserForCredentials: asks for what is missing; the password without echo. */
export async function promptUserForCredentials(cli: Cli, argUser: string, argPassword: string, defaultUsername: string, serverAddress: string): Promise<AuthConfig> {
  let username = argUser.trim();
  if (username === '') {
    if (serverAddress === INDEX_SERVER) cli.out.write(`${REGISTER_SUGGEST}\n`);
    const def = defaultUsername.trim();
    username = await promptForInput(cli, def === '' ? 'Username: ' : `Username (${def}): `);
    if (username === '') username = def;
    if (username === '') throw new StatusError('Error: Non-null Username Required', 1);
  }
  let password = argPassword.trim();
  if (password === '') {
    password = await readHidden(cli, 'Password: ');
    cli.out.write('\n');
    if (password === '') throw new StatusError('Error: Password Required', 1);
  }
  return { username, password, serveraddress: serverAddress };
}

/** command.GetDefaultAuthConfig */
export function defaultAuthConfig(cfg: CliConfigFile, checkStore: boolean, serverAddress: string, isDefaultRegistry: boolean): AuthConfig {
  const key = isDefaultRegistry ? serverAddress : convertToHostname(serverAddress);
  const a = checkStore ? cfg.getAuthConfig(key) : {};
  return { ...a, serveraddress: key, identitytoken: undefined };
}

/**
 * Sends a request with the stored credentials; on a 401 from the daemon asks for credentials, as docker's
 * PrivilegeFunc does ("Login prior to pull:"), and sends it once more with them.
 */
export async function withRegistryAuth<T>(cli: Cli, cfg: CliConfigFile, authKey: string, cmdName: string, send: (header: string) => Promise<T>): Promise<T> {
  try {
    return await send(encodeAuthConfig(cfg.getAuthConfig(authKey)));
  } catch (err) {
    if (!(err instanceof ApiError && err.statusCode === 401)) throw err;
  }
  cli.out.write(`\nLogin prior to ${cmdName}:\n`);
  const stored = defaultAuthConfig(cfg, true, authKey, authKey === INDEX_SERVER);
  const auth = await promptUserForCredentials(cli, '', '', stored.username ?? '', authKey);
  return send(encodeAuthConfig(auth));
}
