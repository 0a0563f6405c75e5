// The access configuration of `berth registry`: a JSON file of our own, read at start and whenever it changes,
// and written by `berth registry user|repo ...`. Every key is optional:
//
//   {
//     "auth": "token",                  // "none" (default): everyone is anonymous; "basic": HTTP Basic on every
//                                       // request; "token": Docker's Bearer token flow with our /token endpoint
//     "realm": "https://reg.example/token", // Basic: the realm name; token: the token endpoint's URL (default:
//                                       // <the registry's own URL>/token)
//     "service": "berth-registry",      // the token audience, and the `service` of the challenge
//     "issuer": "berth-registry",       // the token `iss` (default: the service)
//     "tokenTtlSeconds": 300,           // lifetime of an access token
//     "refreshTokenTtlSeconds": 2592000,// lifetime of the refresh token `docker login` keeps (30 days)
//     "tokenKey": "/path/key.pem",      // signing key (PEM, EC P-256 or RSA); default <registry root>/token-key.pem,
//                                       // made at first start
//     "users": { "alice": { "hash": "$argon2id$v=19$...", "teams": ["dev"] } },
//     "repositories": {
//       "team/app": { "visibility": "private", "pull": ["bob", "team:qa"], "push": ["alice"], "description": "..." }
//     },
//     "defaultVisibility": "public",    // of repositories without their own "visibility"
//     "admins": ["root", "team:ops"]    // may pull, push and delete everything
//   }
//
// Grants name users ("alice") or teams ("team:dev"); push implies pull. With no config file the registry is
// open: anonymous push and pull, every repository public, like distribution's default.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../lib/fsutil.ts';
import { hashPassword, isPasswordHash } from './users.ts';

export type AuthMode = 'none' | 'basic' | 'token';
export type Visibility = 'public' | 'private';
export type GrantAction = 'pull' | 'push';

export interface UserEntry {
  hash: string;
  teams: string[];
}

export interface RepoEntry {
  visibility?: Visibility;
  pull: string[];
  push: string[];
  description?: string;
}

export interface RegistryConfig {
  auth: AuthMode;
  realm?: string;
  service: string;
  issuer?: string;
  tokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  tokenKey?: string;
  users: Record<string, UserEntry>;
  repositories: Record<string, RepoEntry>;
  defaultVisibility: Visibility;
  admins: string[];
}

export const DEFAULT_REGISTRY_CONFIG = '/etc/berth/registry.json';
export const DEFAULT_SERVICE = 'berth-registry';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** The configuration of a registry without a config file: open to everyone. */
export function defaultConfig(): RegistryConfig {
  return {
    auth: 'none', service: DEFAULT_SERVICE, tokenTtlSeconds: 300, refreshTokenTtlSeconds: 30 * 86400,
    users: {}, repositories: {}, defaultVisibility: 'public', admins: [],
  };
}

// User and team names: no colon (Basic credentials split on the first one), no quotes or spaces.
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
// distribution's repository name grammar: lowercase path components joined by slashes.
const COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

export function isUserName(s: string): boolean {
  return typeof s === 'string' && NAME_RE.test(s);
}

export function isRepositoryName(s: string): boolean {
  return typeof s === 'string' && s.length > 0 && s.length <= 255 && s.split('/').every((c) => COMPONENT_RE.test(c));
}

/** "alice" or "team:dev": whether the text names a user or a team. */
export function parsePrincipalRef(s: string): { user: string } | { team: string } | undefined {
  if (typeof s !== 'string') return undefined;
  if (s.startsWith('team:')) return isUserName(s.slice(5)) ? { team: s.slice(5) } : undefined;
  return isUserName(s) ? { user: s } : undefined;
}

const TOP_KEYS = new Set(['auth', 'realm', 'service', 'issuer', 'tokenTtlSeconds', 'refreshTokenTtlSeconds', 'tokenKey', 'users', 'repositories', 'defaultVisibility', 'admins']);

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

// Text that goes between the quotes of a WWW-Authenticate parameter.
function headerSafe(s: string): boolean {
  return !/["\\\x00-\x1f\x7f]/.test(s);
}

/** Checks a parsed config and fills in the defaults; throws ConfigError naming the first bad field. */
export function validateConfig(raw: unknown, source = 'registry config'): RegistryConfig {
  const fail = (field: string, msg: string): never => {
    throw new ConfigError(`${source}: ${field}: ${msg}`);
  };
  if (!isObject(raw)) fail('(top level)', 'must be a JSON object');
  const r = raw as Record<string, unknown>;
  for (const k of Object.keys(r)) if (!TOP_KEYS.has(k)) fail(k, `unknown key (known: ${[...TOP_KEYS].join(', ')})`);
  const cfg = defaultConfig();

  if (r.auth !== undefined) {
    if (r.auth !== 'none' && r.auth !== 'basic' && r.auth !== 'token') fail('auth', `must be "none", "basic" or "token", not ${JSON.stringify(r.auth)}`);
    cfg.auth = r.auth as AuthMode;
  }
  const str = (k: string): string | undefined => {
    if (r[k] === undefined) return undefined;
    if (typeof r[k] !== 'string' || r[k] === '') fail(k, 'must be a non-empty string');
    return r[k] as string;
  };
  const realm = str('realm');
  if (realm !== undefined) cfg.realm = realm;
  if (cfg.realm !== undefined) {
    if (!headerSafe(cfg.realm)) fail('realm', 'must not contain quotes, backslashes or control characters');
    if (cfg.auth === 'token') {
      let u: URL | undefined;
      try { u = new URL(cfg.realm); } catch { /* reported below */ }
      if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) fail('realm', 'with "auth": "token", must be the http(s) URL of the token endpoint');
    }
  }
  cfg.service = str('service') ?? cfg.service;
  if (!headerSafe(cfg.service)) fail('service', 'must not contain quotes, backslashes or control characters');
  const issuer = str('issuer');
  if (issuer !== undefined) cfg.issuer = issuer;
  const tokenKey = str('tokenKey');
  if (tokenKey !== undefined) cfg.tokenKey = tokenKey;
  if (cfg.tokenKey !== undefined && !path.isAbsolute(cfg.tokenKey)) fail('tokenKey', 'must be an absolute path');
  for (const [k, max] of [['tokenTtlSeconds', 86400], ['refreshTokenTtlSeconds', 365 * 86400]] as const) {
    if (r[k] === undefined) continue;
    if (!Number.isInteger(r[k]) || (r[k] as number) < 1 || (r[k] as number) > max) fail(k, `must be a whole number of seconds from 1 to ${max}`);
    cfg[k] = r[k] as number;
  }
  if (r.defaultVisibility !== undefined) {
    if (r.defaultVisibility !== 'public' && r.defaultVisibility !== 'private') fail('defaultVisibility', 'must be "public" or "private"');
    cfg.defaultVisibility = r.defaultVisibility as Visibility;
  }

  const nameList = (v: unknown, field: string, check: (s: string) => string | undefined): string[] => {
    if (v === undefined) return [];
    if (!Array.isArray(v)) return fail(field, 'must be an array of strings');
    const out: string[] = [];
    for (const [i, s] of (v as unknown[]).entries()) {
      if (typeof s !== 'string') fail(`${field}[${i}]`, 'must be a string');
      const why = check(s as string);
      if (why) fail(`${field}[${i}]`, why);
      if (!out.includes(s as string)) out.push(s as string);
    }
    return out;
  };

  if (r.users !== undefined) {
    if (!isObject(r.users)) fail('users', 'must be an object of user name to { "hash", "teams" }');
    for (const [name, u] of Object.entries(r.users as Record<string, unknown>)) {
      const f = `users.${name}`;
      if (!isUserName(name)) fail(f, 'a user name is 1 to 64 letters, digits, ".", "_", "@" or "-", starting with a letter or digit');
      if (!isObject(u)) fail(f, 'must be an object with "hash" and "teams"');
      const ur = u as Record<string, unknown>;
      for (const k of Object.keys(ur)) if (k !== 'hash' && k !== 'teams') fail(`${f}.${k}`, 'unknown key (known: hash, teams)');
      if (typeof ur.hash !== 'string' || !isPasswordHash(ur.hash)) fail(`${f}.hash`, 'must be an argon2id or scrypt PHC string (set it with `berth registry user passwd`)');
      const teams = nameList(ur.teams, `${f}.teams`, (t) => (isUserName(t) ? undefined : `"${t}" is not a valid team name`));
      cfg.users[name] = { hash: ur.hash as string, teams };
    }
  }

  const ref = (s: string): string | undefined => {
    const p = parsePrincipalRef(s);
    if (!p) return `"${s}" is neither a user name nor "team:NAME"`;
    if ('user' in p && !Object.hasOwn(cfg.users, p.user)) return `no user "${p.user}" in "users"`;
    return undefined;
  };
  cfg.admins = nameList(r.admins, 'admins', ref);

  if (r.repositories !== undefined) {
    if (!isObject(r.repositories)) fail('repositories', 'must be an object of repository name to its settings');
    for (const [name, e] of Object.entries(r.repositories as Record<string, unknown>)) {
      const f = `repositories.${name}`;
      if (!isRepositoryName(name)) fail(f, 'not a valid repository name (lowercase path components like "team/app")');
      if (!isObject(e)) fail(f, 'must be an object');
      const er = e as Record<string, unknown>;
      for (const k of Object.keys(er)) if (!['visibility', 'pull', 'push', 'description'].includes(k)) fail(`${f}.${k}`, 'unknown key (known: visibility, pull, push, description)');
      const entry: RepoEntry = { pull: nameList(er.pull, `${f}.pull`, ref), push: nameList(er.push, `${f}.push`, ref) };
      if (er.visibility !== undefined) {
        if (er.visibility !== 'public' && er.visibility !== 'private') fail(`${f}.visibility`, 'must be "public" or "private"');
        entry.visibility = er.visibility as Visibility;
      }
      if (er.description !== undefined) {
        if (typeof er.description !== 'string' || er.description.length > 1000) fail(`${f}.description`, 'must be a string of at most 1000 characters');
        entry.description = er.description as string;
      }
      cfg.repositories[name] = entry;
    }
  }
  return cfg;
}

export function parseConfig(text: string, source = 'registry config'): RegistryConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${source}: not valid JSON: ${(err as Error).message}`);
  }
  return validateConfig(raw, source);
}

export async function loadConfig(file: string): Promise<RegistryConfig> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`registry config ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  return parseConfig(text, `registry config ${file}`);
}

// The file form: defaults left out, keys in the documented order, so hand edits and diffs stay readable.
export function serializeConfig(cfg: RegistryConfig): string {
  const d = defaultConfig();
  const out: Record<string, unknown> = { auth: cfg.auth };
  if (cfg.realm !== undefined) out.realm = cfg.realm;
  if (cfg.service !== d.service) out.service = cfg.service;
  if (cfg.issuer !== undefined) out.issuer = cfg.issuer;
  if (cfg.tokenTtlSeconds !== d.tokenTtlSeconds) out.tokenTtlSeconds = cfg.tokenTtlSeconds;
  if (cfg.refreshTokenTtlSeconds !== d.refreshTokenTtlSeconds) out.refreshTokenTtlSeconds = cfg.refreshTokenTtlSeconds;
  if (cfg.tokenKey !== undefined) out.tokenKey = cfg.tokenKey;
  out.users = cfg.users;
  out.repositories = Object.fromEntries(Object.entries(cfg.repositories).map(([name, e]) => {
    const o: Record<string, unknown> = {};
    if (e.visibility) o.visibility = e.visibility;
    o.pull = e.pull;
    o.push = e.push;
    if (e.description !== undefined) o.description = e.description;
    return [name, o];
  }));
  out.defaultVisibility = cfg.defaultVisibility;
  out.admins = cfg.admins;
  return JSON.stringify(out, null, 2) + '\n';
}

// Writes within this process are queued per file, so a claim made by the running registry and an admin change
// never interleave their read-modify-write.
const queues = new Map<string, Promise<unknown>>();

function queued<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const prev = queues.get(file) ?? Promise.resolve();
  const next = prev.then(fn, fn);
  const settled = next.then(() => {}, () => {});
  queues.set(file, settled);
  void settled.then(() => { if (queues.get(file) === settled) queues.delete(file); });
  return next;
}

/** Writes the config temp-then-rename, mode 0600 (it holds password hashes). */
export async function saveConfig(file: string, cfg: RegistryConfig): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFileAtomic(file, serializeConfig(cfg), 0o600);
}

function entryOf(cfg: RegistryConfig, repo: string): RepoEntry {
  if (!isRepositoryName(repo)) throw new ConfigError(`invalid repository name "${repo}" (lowercase path components like "team/app")`);
  cfg.repositories[repo] ??= { pull: [], push: [] };
  return cfg.repositories[repo];
}

function checkPassword(password: string): void {
  if (password === '') throw new ConfigError('the password must not be empty');
  if (/[\r\n]/.test(password)) throw new ConfigError('the password must be a single line');
}

// The admin operations on one config file. Each one reads the file afresh, changes it, validates the result and
// writes it back atomically, so a running registry (which reloads on change) never sees a half-written file.
// A missing file is started as { "auth": "basic" }: adding users to an open registry would otherwise do nothing.
export class ConfigStore {
  readonly file: string;

  constructor(file: string) {
    this.file = file;
  }

  async loadOrNew(): Promise<RegistryConfig> {
    try {
      return parseConfig(await fsp.readFile(this.file, 'utf8'), `registry config ${this.file}`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      return { ...defaultConfig(), auth: 'basic' };
    }
  }

  update(mutate: (cfg: RegistryConfig) => void): Promise<RegistryConfig> {
    return queued(this.file, async () => {
      const cfg = await this.loadOrNew();
      mutate(cfg);
      const checked = validateConfig(JSON.parse(serializeConfig(cfg)), `registry config ${this.file}`);
      await saveConfig(this.file, checked);
      return checked;
    });
  }

  async addUser(name: string, password: string, teams: string[] = []): Promise<void> {
    if (!isUserName(name)) throw new ConfigError(`invalid user name "${name}" (1 to 64 letters, digits, ".", "_", "@" or "-")`);
    for (const t of teams) if (!isUserName(t)) throw new ConfigError(`invalid team name "${t}"`);
    checkPassword(password);
    const hash = await hashPassword(password);
    await this.update((cfg) => {
      if (Object.hasOwn(cfg.users, name)) throw new ConfigError(`user "${name}" already exists`);
      cfg.users[name] = { hash, teams: [...new Set(teams)] };
    });
  }

  // Also takes the user out of every grant and of the admins, so that a later user of the same name does not
  // inherit them.
  async removeUser(name: string): Promise<void> {
    await this.update((cfg) => {
      if (!Object.hasOwn(cfg.users, name)) throw new ConfigError(`no such user: ${name}`);
      delete cfg.users[name];
      cfg.admins = cfg.admins.filter((a) => a !== name);
      for (const e of Object.values(cfg.repositories)) {
        e.pull = e.pull.filter((a) => a !== name);
        e.push = e.push.filter((a) => a !== name);
      }
    });
  }

  async setPassword(name: string, password: string): Promise<void> {
    checkPassword(password);
    const hash = await hashPassword(password);
    await this.update((cfg) => {
      if (!Object.hasOwn(cfg.users, name)) throw new ConfigError(`no such user: ${name}`);
      cfg.users[name].hash = hash;
    });
  }

  async setVisibility(repo: string, visibility: Visibility): Promise<void> {
    if (visibility !== 'public' && visibility !== 'private') throw new ConfigError(`visibility must be "public" or "private", not "${visibility}"`);
    await this.update((cfg) => { entryOf(cfg, repo).visibility = visibility; });
  }

  async grant(repo: string, principal: string, actions: GrantAction[]): Promise<void> {
    await this.update((cfg) => {
      const e = entryOf(cfg, repo);
      const p = parsePrincipalRef(principal);
      if (!p) throw new ConfigError(`"${principal}" is neither a user name nor "team:NAME"`);
      if ('user' in p && !Object.hasOwn(cfg.users, p.user)) throw new ConfigError(`no such user: ${p.user}`);
      for (const a of actions) if (!e[a].includes(principal)) e[a].push(principal);
    });
  }

  async revoke(repo: string, principal: string, actions: GrantAction[] = ['pull', 'push']): Promise<void> {
    await this.update((cfg) => {
      const e = entryOf(cfg, repo);
      for (const a of actions) e[a] = e[a].filter((x) => x !== principal);
    });
  }

  async setDescription(repo: string, text: string): Promise<void> {
    if (text.length > 1000) throw new ConfigError('the description must be at most 1000 characters');
    await this.update((cfg) => {
      const e = entryOf(cfg, repo);
      if (text === '') delete e.description;
      else e.description = text;
    });
  }
}

// ---- the `berth registry user|repo ...` subcommands ----

export interface AdminIo {
  in: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

export const ADMIN_USAGE = `Usage:  berth registry COMMAND [--config FILE]

Manage the users and repository access of a berth registry (default config: ${DEFAULT_REGISTRY_CONFIG})

Commands:
  user add NAME [--team TEAM]... [--password-stdin]   Add a user (password from stdin or a prompt)
  user rm NAME                                        Remove a user and their grants
  user passwd NAME [--password-stdin]                 Change a user's password
  repo visibility NAME public|private                 Make a repository public or private
  repo grant NAME USER|team:TEAM pull|push|pull,push  Let a user or team pull and/or push
  repo revoke NAME USER|team:TEAM [pull|push|pull,push]
  repo describe NAME TEXT                             Set the description search shows ("" clears it)
`;

class UsageError extends Error {}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

// A line typed on the terminal without echo (the password prompt); Ctrl-C or Ctrl-D abort.
function readHidden(io: AdminIo, prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    io.out.write(prompt);
    io.in.setRawMode?.(true);
    io.in.resume();
    let line = '';
    const done = (err?: Error) => {
      io.in.setRawMode?.(false);
      io.in.pause();
      io.in.removeListener('data', onData);
      io.out.write('\n');
      if (err) reject(err);
      else resolve(line);
    };
    const onData = (chunk: Buffer | string) => {
      for (const ch of chunk.toString()) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\x03' || ch === '\x04') return done(new Error('aborted'));
        if (ch === '\x7f' || ch === '\b') line = line.slice(0, -1);
        else line += ch;
      }
    };
    io.in.on('data', onData);
  });
}

async function readPassword(io: AdminIo, fromStdin: boolean): Promise<string> {
  if (fromStdin) {
    // Like docker login --password-stdin: one trailing newline is not part of the password.
    return (await readAll(io.in)).replace(/\r?\n$/, '');
  }
  if (!io.in.isTTY) throw new ConfigError('cannot prompt for a password: stdin is not a terminal (use --password-stdin)');
  const pw = await readHidden(io, 'Password: ');
  const again = await readHidden(io, 'Confirm password: ');
  if (pw !== again) throw new ConfigError('the passwords do not match');
  return pw;
}

function parseActions(s: string): GrantAction[] {
  const parts = s.split(',');
  if (parts.length === 0 || !parts.every((a) => a === 'pull' || a === 'push')) throw new UsageError(`actions must be pull, push or pull,push, not "${s}"`);
  return [...new Set(parts)] as GrantAction[];
}

/** Runs `berth registry <args>`; returns the exit status (0, 1 on failure, 125 on bad usage). */
export async function registryAdmin(args: string[], io: AdminIo): Promise<number> {
  let file = DEFAULT_REGISTRY_CONFIG;
  const teams: string[] = [];
  let passwordStdin = false;
  const pos: string[] = [];
  try {
    for (let i = 0; i < args.length; i++) {
      const a = args[i];
      const value = (flag: string): string => {
        if (a.startsWith(`${flag}=`)) return a.slice(flag.length + 1);
        if (i + 1 >= args.length) throw new UsageError(`flag needs an argument: ${flag}`);
        return args[++i];
      };
      if (a === '--help' || a === '-h') {
        io.out.write(ADMIN_USAGE);
        return 0;
      }
      if (a === '--') {
        pos.push(...args.slice(i + 1));
        break;
      }
      if (a === '--config' || a.startsWith('--config=')) file = value('--config');
      else if (a === '--team' || a.startsWith('--team=')) teams.push(value('--team'));
      else if (a === '--password-stdin') passwordStdin = true;
      else if (a === '--password' || a.startsWith('--password=') || a === '-p') throw new UsageError('passwords are read from stdin (--password-stdin) or a prompt, never from the command line');
      else if (a.startsWith('-') && a !== '-') throw new UsageError(`unknown flag: ${a}`);
      else pos.push(a);
    }
    const [group, cmd, ...rest] = pos;
    const want = (n: number, usage: string, max = n) => {
      if (rest.length < n || rest.length > max) throw new UsageError(`usage: berth registry ${group} ${cmd} ${usage}`);
    };
    const onlyFor = (ok: boolean, flag: string) => { if (!ok) throw new UsageError(`${flag} is not an option of "${group} ${cmd}"`); };
    onlyFor(teams.length === 0 || (group === 'user' && cmd === 'add'), '--team');
    onlyFor(!passwordStdin || (group === 'user' && (cmd === 'add' || cmd === 'passwd')), '--password-stdin');
    const store = new ConfigStore(path.resolve(file));
    const key = `${group ?? ''} ${cmd ?? ''}`;
    switch (key) {
      case 'user add':
        want(1, 'NAME [--team TEAM]... [--password-stdin]');
        if (!isUserName(rest[0])) throw new ConfigError(`invalid user name "${rest[0]}" (1 to 64 letters, digits, ".", "_", "@" or "-")`);
        // Checked before asking for a password, so a typo does not cost a prompt.
        if (Object.hasOwn((await store.loadOrNew()).users, rest[0])) throw new ConfigError(`user "${rest[0]}" already exists`);
        await store.addUser(rest[0], await readPassword(io, passwordStdin), teams);
        break;
      case 'user rm':
        want(1, 'NAME');
        await store.removeUser(rest[0]);
        break;
      case 'user passwd':
        want(1, 'NAME [--password-stdin]');
        if (!Object.hasOwn((await store.loadOrNew()).users, rest[0])) throw new ConfigError(`no such user: ${rest[0]}`);
        await store.setPassword(rest[0], await readPassword(io, passwordStdin));
        break;
      case 'repo visibility':
        want(2, 'NAME public|private');
        if (rest[1] !== 'public' && rest[1] !== 'private') throw new UsageError(`visibility must be public or private, not "${rest[1]}"`);
        await store.setVisibility(rest[0], rest[1]);
        break;
      case 'repo grant':
        want(3, 'NAME USER|team:TEAM pull|push|pull,push');
        await store.grant(rest[0], rest[1], parseActions(rest[2]));
        break;
      case 'repo revoke':
        want(2, 'NAME USER|team:TEAM [pull|push|pull,push]', 3);
        await store.revoke(rest[0], rest[1], rest[2] === undefined ? undefined : parseActions(rest[2]));
        break;
      case 'repo describe':
        want(2, 'NAME TEXT');
        await store.setDescription(rest[0], rest[1]);
        break;
      default:
        throw new UsageError(group === undefined ? 'a command is required' : `unknown command: ${pos.join(' ')}`);
    }
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      io.err.write(`berth registry: ${err.message}\n\n${ADMIN_USAGE}`);
      return 125;
    }
    io.err.write(`berth registry: ${(err as Error).message}\n`);
    return 1;
  }
}
