// berth login / logout: POST /auth checks credentials with the registry (through the daemon); they are then
// kept in config.json like docker's file credential store keeps them. The password never reaches a log or
// the terminal: it is read without echo, sent in the request body and stored only base64-encoded in the file.
import type { Cli, CommandSpec } from '../command.ts';
import { ApiError, StatusError } from '../errors.ts';
import { CliConfigFile, INDEX_SERVER, INDEX_NAME, convertToHostname, type AuthConfig } from '../auth-config.ts';
import { defaultAuthConfig, promptUserForCredentials } from './registry-auth.ts';

interface AuthenticateOKBody { Status?: string; IdentityToken?: string }

/** docker's hint line (tui PrintNote): " Info -> " when piped, a coloured "i Info →" on a terminal. */
export function note(tty: boolean, msg: string): string {
  if (!tty) return ` Info -> ${msg}\n`;
  return `\x1b[1m\x1b[106m\x1b[30mi\x1b[0m\x1b[0m \x1b[96mInfo \u2192 \x1b[0m\x1b[0m\x1b[3m${msg}\x1b[0m\n`;
}

async function readAll(input: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of input) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(chunks).toString('utf8');
}

/** RegistryLogin: POST /auth with the credentials as JSON (only the fields docker sends). */
async function registryLogin(cli: Cli, a: AuthConfig): Promise<AuthenticateOKBody> {
  const body: Record<string, string> = {};
  for (const k of ['username', 'password', 'auth', 'email', 'serveraddress', 'identitytoken', 'registrytoken'] as const) {
    if (a[k]) body[k] = a[k]!;
  }
  return (await cli.client().json<AuthenticateOKBody>('POST', '/auth', { json: body })) ?? {};
}

/** Stores what the daemon accepted: an identity token replaces the password when the registry issued one. */
function storeCredentials(cli: Cli, cfg: CliConfigFile, a: AuthConfig, res: AuthenticateOKBody): void {
  const stored = { ...a };
  if (res.IdentityToken) {
    stored.password = '';
    stored.identitytoken = res.IdentityToken;
  }
  try {
    cfg.storeAuth(stored, cli.err);
  } catch (err) {
    throw new StatusError(`Error saving credentials: ${(err as Error).message}`, 1);
  }
}

export const loginCommand: CommandSpec = {
  usage: '[OPTIONS] [SERVER]',
  short: 'Authenticate to a registry.\nDefaults to Docker Hub if no server is specified.',
  flags: [
    { name: 'password', short: 'p', type: 'string', desc: 'Password or Personal Access Token (PAT)' },
    { name: 'password-stdin', type: '', desc: 'Take the Password or Personal Access Token (PAT) from stdin' },
    { name: 'username', short: 'u', type: 'string', desc: 'Username' },
  ],
  args: { max: 1 },
  async run(cli, flags, args) {
    const user = flags.str('username');
    let password = flags.str('password');
    const passwordStdin = flags.bool('password-stdin');
    // verifyLoginOptions
    if (password !== '' && passwordStdin) throw new StatusError('conflicting options: cannot specify both --password and --password-stdin', 1);
    if (passwordStdin && user === '') throw new StatusError('the --password-stdin option requires --username to be set', 1);
    if (password !== '') cli.err.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
    if (passwordStdin) password = (await readAll(cli.in)).replace(/\n$/, '').replace(/\r$/, '');

    const server = args[0] ?? '';
    const serverAddress = server !== '' && server !== INDEX_NAME ? server : INDEX_SERVER;
    const isDefaultRegistry = serverAddress === INDEX_SERVER;
    const cfg = CliConfigFile.loadOrWarn(cli.configDir, cli.err);

    // Stored credentials are tried first when none are given on the command line.
    const authConfig = defaultAuthConfig(cfg, user === '' && password === '', serverAddress, isDefaultRegistry);
    let msg: string | undefined;
    let storedOK = false;
    if (authConfig.username && authConfig.password) {
      cli.out.write(`Authenticating with existing credentials... [Username: ${authConfig.username}]\n\n`
        + note(cli.out.isTTY === true, "To login with a different account, run 'docker logout' followed by 'docker login'") + '\n\n');
      let res: AuthenticateOKBody = {};
      let failure: unknown;
      try {
        res = await registryLogin(cli, authConfig);
      } catch (err) {
        failure = err;
        if (err instanceof ApiError && err.statusCode === 401) cli.err.write('Stored credentials invalid or expired\n');
        else cli.err.write(`Login did not succeed, error: ${(err as Error).message}\n`);
      }
      storeCredentials(cli, cfg, authConfig, res);
      storedOK = failure === undefined;
      msg = res.Status;
    }

    if (!storedOK) {
      const key = authConfig.serveraddress ?? serverAddress;
      if ((user === '' || password === '') && !cli.in.isTTY) {
        throw new StatusError('Error: Cannot perform an interactive login from a non TTY device', 1);
      }
      // docker offers Docker Hub's web (device code) login here; berth asks for a username and password.
      const creds = await promptUserForCredentials(cli, user, password, authConfig.username ?? '', key);
      const res = await registryLogin(cli, creds);
      storeCredentials(cli, cfg, creds, res);
      msg = res.Status;
    }
    if (msg) cli.out.write(`${msg}\n`);
  },
};

export const logoutCommand: CommandSpec = {
  usage: '[SERVER]',
  short: 'Log out from a registry.\nIf no server is specified, the default is defined by the daemon.',
  flags: [],
  args: { max: 1 },
  async run(cli, _flags, args) {
    let serverAddress = args[0] ?? '';
    const isDefaultRegistry = serverAddress === '';
    if (isDefaultRegistry) serverAddress = INDEX_SERVER;
    let hostname = serverAddress;
    const keys = [serverAddress];
    if (!isDefaultRegistry) {
      // Older configs kept the credentials under a URL; those keys go too.
      hostname = convertToHostname(serverAddress);
      keys.push(hostname, `http://${hostname}`, `https://${hostname}`);
    }
    cli.out.write(`Removing login credentials for ${hostname}\n`);
    const cfg = CliConfigFile.loadOrWarn(cli.configDir, cli.err);
    const errors: [string, string][] = [];
    for (const key of keys) {
      try {
        cfg.eraseAuth(key);
      } catch (err) {
        errors.push([key, (err as Error).message]);
      }
    }
    if (errors.length === keys.length) {
      cli.err.write('WARNING: could not erase credentials:\n');
      for (const [k, e] of errors) cli.err.write(`${k}: ${e}\n`);
    }
  },
};
