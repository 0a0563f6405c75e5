// Registry credentials in the CLI's config.json, the way docker's configfile and file credential store keep
// them: an "auths" map keyed by registry (Docker Hub under https://index.docker.io/v1/), each entry holding
// base64 "user:password" under "auth" or an "identitytoken". The X-Registry-Auth header of pull, push and
// search is the base64url JSON of one such entry. Credential helpers (credsStore, credHelpers) are not run:
// credentials always live in the file.
import { chmodSync, chownSync, lstatSync, mkdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import path from 'node:path';
import { marshalJSON } from './format/go-json.ts';

/** registry.IndexServer: the config key of Docker Hub's credentials. */
export const INDEX_SERVER = 'https://index.docker.io/v1/';
/** registry.IndexName */
export const INDEX_NAME = 'docker.io';

/** types.AuthConfig, JSON field names as docker writes them. */
export interface AuthConfig {
  username?: string;
  password?: string;
  auth?: string;
  email?: string;
  serveraddress?: string;
  identitytoken?: string;
  registrytoken?: string;
}

/** The fields of an AuthConfig in Go's struct order, empty ones left out (omitempty). */
function orderedAuth(a: AuthConfig): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of ['username', 'password', 'auth', 'email', 'serveraddress', 'identitytoken', 'registrytoken'] as const) {
    const v = a[k];
    if (v) out[k] = v;
  }
  return out;
}

/** registrytypes.EncodeAuthConfig: JSON, then base64 with the URL alphabet (padded), for X-Registry-Auth. */
export function encodeAuthConfig(a: AuthConfig): string {
  return Buffer.from(marshalJSON(orderedAuth(a)), 'utf8').toString('base64').replaceAll('+', '-').replaceAll('/', '_');
}

/** The inverse of encodeAuthConfig (accepts either base64 alphabet, as the daemon does). */
export function decodeAuthConfig(header: string): AuthConfig {
  return JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as AuthConfig;
}

/** configfile's encodeAuth: base64("user:password"), or "" when both are empty. */
export function encodeAuth(username: string, password: string): string {
  if (username === '' && password === '') return '';
  return Buffer.from(`${username}:${password}`, 'utf8').toString('base64');
}

/** configfile's decodeAuth: [username, password] from base64("user:password"). */
export function decodeAuth(auth: string): [string, string] {
  if (auth === '') return ['', ''];
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(auth) || auth.length % 4 !== 0) throw new Error('illegal base64 data at input byte 0');
  const decoded = Buffer.from(auth, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) throw new Error('Invalid auth configuration file');
  return [decoded.slice(0, colon), decoded.slice(colon + 1).replace(/^\0+|\0+$/g, '')];
}

/** credentials.ConvertToHostname: "https://host:port/v2/" → "host:port"; anything else up to the first "/". */
export function convertToHostname(s: string): string {
  const scheme = s.indexOf('://');
  if (scheme >= 0) {
    let authority = s.slice(scheme + 3).split(/[/?#]/, 1)[0];
    const at = authority.lastIndexOf('@');
    if (at >= 0) authority = authority.slice(at + 1);
    // url.Hostname() drops the brackets of an IPv6 address without a port.
    if (/^\[[^\]]*\]$/.test(authority)) authority = authority.slice(1, -1);
    if (authority !== '') return authority;
  }
  return s.split('/', 1)[0];
}

/** The config key of a registry by its index name (ResolveAuthConfig): Docker Hub's is INDEX_SERVER. */
export function authKeyForIndex(indexName: string): string {
  return indexName === INDEX_NAME || indexName === 'index.docker.io' ? INDEX_SERVER : indexName;
}

/** The config key for a normalized repository name ("docker.io/library/busybox", "127.0.0.1:5000/app"). */
export function authKeyForRepository(fullName: string): string {
  return authKeyForIndex(fullName.split('/', 1)[0]);
}

/** registry.ParseSearchIndexInfo: the registry a search term names ("host:5000/term"), else Docker Hub. */
export function searchIndexName(term: string): string {
  const slash = term.indexOf('/');
  if (slash < 0) return INDEX_NAME;
  const first = term.slice(0, slash);
  if (!first.includes('.') && !first.includes(':') && first !== 'localhost') return INDEX_NAME;
  return first === 'index.docker.io' ? INDEX_NAME : first;
}

export class ConfigLoadError extends Error {}

// configfile.ConfigFile's JSON fields in struct order; map-typed ones are written with sorted keys.
const KNOWN_FIELDS: [string, 'string' | 'map' | 'list' | 'proxies' | 'plugins'][] = [
  ['HttpHeaders', 'map'], ['psFormat', 'string'], ['imagesFormat', 'string'], ['networksFormat', 'string'],
  ['pluginsFormat', 'string'], ['volumesFormat', 'string'], ['statsFormat', 'string'], ['detachKeys', 'string'],
  ['credsStore', 'string'], ['credHelpers', 'map'], ['serviceInspectFormat', 'string'], ['servicesFormat', 'string'],
  ['tasksFormat', 'string'], ['secretFormat', 'string'], ['configFormat', 'string'], ['nodesFormat', 'string'],
  ['pruneFilters', 'list'], ['proxies', 'proxies'], ['experimental', 'string'], ['currentContext', 'string'],
  ['cliPluginsExtraDirs', 'list'], ['plugins', 'plugins'], ['aliases', 'map'], ['features', 'map'],
];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function sortedMap(v: Record<string, unknown>, each: (x: unknown) => unknown = (x) => x): Map<string, unknown> {
  return new Map(Object.keys(v).map((k) => [k, each(v[k])]));
}

/** One known field as Go would marshal it, or undefined when omitempty drops it. */
function knownField(kind: string, v: unknown): unknown {
  if (v === undefined || v === null) return undefined;
  switch (kind) {
    case 'string':
      return v === '' ? undefined : v;
    case 'list':
      return Array.isArray(v) && v.length > 0 ? v : undefined;
    case 'map':
      return isObject(v) && Object.keys(v).length > 0 ? sortedMap(v) : undefined;
    case 'plugins':
      return isObject(v) && Object.keys(v).length > 0 ? sortedMap(v, (x) => (isObject(x) ? sortedMap(x) : x)) : undefined;
    case 'proxies':
      return isObject(v) && Object.keys(v).length > 0
        ? sortedMap(v, (x) => {
          if (!isObject(x)) return x;
          const p: Record<string, unknown> = {};
          for (const k of ['httpProxy', 'httpsProxy', 'noProxy', 'ftpProxy', 'allProxy']) if (x[k]) p[k] = x[k];
          return p;
        })
        : undefined;
  }
  return v;
}

/**
 * config.json with its credentials decoded. Fields berth does not know are kept (docker would drop them) and
 * written after docker's own.
 */
export class CliConfigFile {
  readonly filename: string;
  /** Registry key → credentials, username/password decoded and serveraddress set to the key. */
  readonly auths = new Map<string, AuthConfig>();
  #fields: Record<string, unknown> = {};
  #warned = false;

  constructor(filename: string) {
    this.filename = filename;
  }

  /** config.Load: a missing file is an empty config; throws ConfigLoadError with docker's wording otherwise. */
  static load(configDir: string): CliConfigFile {
    const cfg = new CliConfigFile(path.join(configDir, 'config.json'));
    let text: string;
    try {
      text = readFileSync(cfg.filename, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return cfg;
      throw new ConfigLoadError(`loading config file: ${(err as Error).message}`);
    }
    try {
      cfg.parse(text);
    } catch (err) {
      throw new ConfigLoadError(`parsing config file (${cfg.filename}): ${(err as Error).message}`);
    }
    return cfg;
  }

  /** LoadDefaultConfigFile: load, or warn on stderr and go on with an empty config, as docker does. */
  static loadOrWarn(configDir: string, err: { write(s: string): unknown }): CliConfigFile {
    try {
      return CliConfigFile.load(configDir);
    } catch (e) {
      if (!(e instanceof ConfigLoadError)) throw e;
      err.write(`WARNING: Error ${e.message}\n`);
      return new CliConfigFile(path.join(configDir, 'config.json'));
    }
  }

  parse(text: string): void {
    if (text.trim() === '') return;
    const data = JSON.parse(text) as unknown;
    if (!isObject(data)) throw new Error('json: cannot unmarshal into Go value of type configfile.ConfigFile');
    const { auths, ...rest } = data;
    this.#fields = rest;
    if (isObject(auths)) {
      for (const [key, value] of Object.entries(auths)) {
        const a: AuthConfig = {};
        if (isObject(value)) {
          for (const k of ['username', 'password', 'auth', 'email', 'identitytoken', 'registrytoken'] as const) {
            if (typeof value[k] === 'string') a[k] = value[k] as string;
          }
        }
        if (a.auth) [a.username, a.password] = decodeAuth(a.auth);
        delete a.auth;
        a.serveraddress = key;
        this.auths.set(key, a);
      }
    }
  }

  /** A plain config field (psFormat, credsStore, ...). */
  field(name: string): unknown {
    return this.#fields[name];
  }

  /** fileStore.Get: the entry under key, else one whose key has key as its hostname (older configs), else {}. */
  getAuthConfig(key: string): AuthConfig {
    const exact = this.auths.get(key);
    if (exact) return { ...exact };
    for (const [k, a] of this.auths) if (convertToHostname(k) === key) return { ...a };
    return {};
  }

  /** fileStore.Store: saves the credentials under their serveraddress; warns once when a password is written. */
  storeAuth(a: AuthConfig, err?: { write(s: string): unknown }): void {
    const key = a.serveraddress ?? '';
    const entry = { ...a, auth: undefined };
    const old = this.auths.get(key);
    const fields = ['username', 'password', 'email', 'serveraddress', 'identitytoken', 'registrytoken'] as const;
    // Unchanged credentials leave the file alone (and print no warning), as docker 28 does.
    if (old && fields.every((f) => (old[f] ?? '') === (entry[f] ?? ''))) return;
    this.auths.set(key, entry);
    this.save();
    if (err && a.password && !this.#warned) {
      this.#warned = true;
      err.write(`\nWARNING! Your credentials are stored unencrypted in '${this.filename}'.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n\n`);
    }
  }

  /** fileStore.Erase: removes key and saves; nothing is written when there was nothing to remove. */
  eraseAuth(key: string): boolean {
    if (!this.auths.delete(key)) return false;
    this.save();
    return true;
  }

  /** SaveToWriter: tab-indented JSON, credentials re-encoded under "auth", no trailing newline. */
  serialize(): string {
    const auths = new Map<string, Record<string, string>>();
    for (const [key, a] of this.auths) {
      auths.set(key, orderedAuth({ auth: encodeAuth(a.username ?? '', a.password ?? ''), email: a.email, identitytoken: a.identitytoken, registrytoken: a.registrytoken }));
    }
    const out: Record<string, unknown> = { auths };
    const known = new Set<string>(['auths']);
    for (const [name, kind] of KNOWN_FIELDS) {
      known.add(name);
      const v = knownField(kind, this.#fields[name]);
      if (v !== undefined) out[name] = v;
    }
    for (const [name, v] of Object.entries(this.#fields)) if (!known.has(name)) out[name] = v;
    return marshalJSON(out, { indent: '\t' });
  }

  /**
   * ConfigFile.Save: a temporary file in the same directory renamed over config.json (or over the target of a
   * config.json symlink). A new file gets mode 0600; an existing one keeps its mode and owner.
   */
  save(): void {
    const dir = path.dirname(this.filename);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    let target = this.filename;
    try {
      if (lstatSync(target).isSymbolicLink()) target = path.resolve(dir, readlinkSync(target));
    } catch { /* no file yet */ }
    const temp = path.join(dir, `${path.basename(this.filename)}${randomInt(1e9)}`);
    writeFileSync(temp, this.serialize(), { mode: 0o600, flag: 'wx' });
    try {
      try {
        const st = statSync(target);
        chmodSync(temp, st.mode & 0o7777);
        if (process.getuid?.() === 0) chownSync(temp, st.uid, st.gid);
      } catch { /* no previous file: keep 0600 */ }
      renameSync(temp, target);
    } catch (err) {
      rmSync(temp, { force: true });
      throw err;
    }
  }
}

/** command.RetrieveAuthTokenFromImage for a normalized repository name: the X-Registry-Auth header value. */
export function registryAuthHeader(cfg: CliConfigFile, fullName: string): string {
  return encodeAuthConfig(cfg.getAuthConfig(authKeyForRepository(fullName)));
}
