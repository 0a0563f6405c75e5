// Who may do what in `berth registry`: the AccessControl the v2 server asks before every operation, plus the
// routes this module answers itself: the token endpoint of Docker's token authentication and Docker Hub's
// /v1/search.
//
// The policy (decide()):
// - "auth": "none": every caller is anonymous and may pull and push public repositories; private ones are
//   closed to everyone.
// - Admins may do everything.
// - Public repositories: anyone pulls. Private ones: only users and teams named in "pull" or "push".
// - Push (and delete) needs a grant in "push"; push implies pull.
// - A repository nobody may push to yet and that holds no manifests is unclaimed: any authenticated user may
//   push to it, and the first push makes it theirs (they are added to its "pull" and "push", written to the
//   config file). Anonymous callers never claim. A repository that exists without any pusher (pushed while the
//   registry was open) stays closed to pushes except for admins.
//
// Credentials: Basic (checked against the users' password hashes, in "basic" and also "token" mode, for curl and
// search) or, in "token" mode, a Bearer token we issued: its signature, expiry, audience and issuer are checked
// and its `access` claims bound what the request may do, on top of the policy as it is now (so a revoked grant
// takes effect before the token expires).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { AccessControl, Action, AuthResult, Principal, RepositoryLister } from './types.ts';
import { ConfigError, ConfigStore, defaultConfig, isRepositoryName, loadConfig, type RegistryConfig } from './config.ts';
import { LoginThrottle, PasswordChecker } from './users.ts';
import { TokenError, TokenKey, newClaims, parseScopes, type AccessClaim, type TokenClaims } from './token.ts';
import { parseSearchRequest, searchRepositories } from './search.ts';

export type Decision = 'allow' | 'claim' | 'deny';

const ALL_ACTIONS: Action[] = ['pull', 'push', 'delete'];

function member(list: string[] | undefined, p: Principal): boolean {
  if (!list) return false;
  if (p.user !== undefined && list.includes(p.user)) return true;
  return p.teams.some((t) => list.includes(`team:${t}`));
}

export function isAdmin(cfg: RegistryConfig, p: Principal): boolean {
  return p.user !== undefined && member(cfg.admins, p);
}

/**
 * The policy for one action: allow, deny, or claim (allowed, and the repository becomes the user's). `exists`:
 * whether the repository holds manifests.
 */
export function decide(cfg: RegistryConfig, p: Principal, repo: string, action: Action, exists: boolean): Decision {
  const e = Object.hasOwn(cfg.repositories, repo) ? cfg.repositories[repo] : undefined;
  const isPublic = (e?.visibility ?? cfg.defaultVisibility) === 'public';
  if (cfg.auth === 'none') return isPublic ? 'allow' : 'deny';
  if (p.user !== undefined && !exists && !(e && e.push.length > 0)) return action === 'push' ? 'claim' : 'allow';
  if (isAdmin(cfg, p)) return 'allow';
  if (action === 'pull') return isPublic || member(e?.pull, p) || member(e?.push, p) ? 'allow' : 'deny';
  return member(e?.push, p) ? 'allow' : 'deny';
}

/** The requested scopes cut down to what the principal may do (the `access` claim of its token). */
export function grantedAccess(cfg: RegistryConfig, p: Principal, scope: string[], exists: (repo: string) => boolean): AccessClaim[] {
  const repos = new Map<string, Set<string>>();
  const registry = new Map<string, Set<string>>();
  for (const s of parseScopes(scope.join(' '))) {
    if (s.type === 'repository' && !s.class && isRepositoryName(s.name)) {
      const wanted = s.actions.includes('*') ? ALL_ACTIONS : ALL_ACTIONS.filter((a) => s.actions.includes(a));
      const set = repos.get(s.name) ?? new Set();
      for (const a of wanted) if (decide(cfg, p, s.name, a, exists(s.name)) !== 'deny') set.add(a);
      repos.set(s.name, set);
    } else if (s.type === 'registry' && s.name === 'catalog') {
      // The catalog and search list only what the caller may see, so asking for them is never refused.
      const set = registry.get(s.name) ?? new Set();
      for (const a of s.actions) if (a === '*' || a === 'search') set.add(a);
      registry.set(s.name, set);
    }
  }
  const out: AccessClaim[] = [];
  for (const [name, set] of repos) if (set.size > 0) out.push({ type: 'repository', name, actions: ALL_ACTIONS.filter((a) => set.has(a)) });
  for (const [name, set] of registry) if (set.size > 0) out.push({ type: 'registry', name, actions: [...set] });
  return out;
}

export interface AccessOptions {
  /** The config file: reloaded when it changes; claims of new repositories are written back to it. */
  configFile?: string;
  /** The registry root: the token signing key lives in <root>/token-key.pem unless the config names one. */
  root?: string;
  /** The registry's own URL ("http://127.0.0.1:5000"): the default token realm is <publicUrl>/token. */
  publicUrl?: string;
  /** The signing key to use (tests); otherwise loaded or made as above (in memory when there is no root). */
  key?: TokenKey;
  now?: () => number;
  throttle?: LoginThrottle;
  /** Problems that must not stop the registry (a bad config edit, a failed claim write). Default: stderr. */
  onError?: (message: string) => void;
}

const ANONYMOUS = (): Principal => ({ teams: [] });

// Bearer principals carry the grants of their token; the Principal type stays what the server sees.
const tokenGrants = new WeakMap<Principal, Map<string, Set<string>>>();

function parseBasic(value: string): { user: string; password: string } | undefined {
  const text = Buffer.from(value.trim(), 'base64').toString('utf8');
  const i = text.indexOf(':');
  if (i <= 0) return undefined;
  return { user: text.slice(0, i), password: text.slice(i + 1) };
}

// The refresh token is only good while the password it was obtained with is: it carries a digest of the hash.
function fingerprint(hash: string): string {
  return createHash('sha256').update(hash).digest('base64url').slice(0, 22);
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const data = JSON.stringify(body) + '\n';
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data), 'Cache-Control': 'no-store', ...headers });
  res.end(data);
}

const errorBody = (code: string, message: string) => ({ errors: [{ code, message }] });

class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > 64 * 1024) throw new HttpError(413, 'SIZE_INVALID', 'request body too large');
    chunks.push(c as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

export class RegistryAccess implements AccessControl {
  private cfg: RegistryConfig;
  private readonly lister: RepositoryLister;
  private readonly opts: AccessOptions;
  private readonly now: () => number;
  private readonly throttle: LoginThrottle;
  private readonly passwords: PasswordChecker;
  private readonly store?: ConfigStore;
  private key?: TokenKey;
  private existing = new Set<string>();
  private existingAt = -Infinity;
  private existingLoad?: Promise<void>;
  private fileStamp = '';
  private configLoad?: Promise<void>;
  private readonly pendingClaims = new Map<string, string>();
  private readonly checking = new Map<string, Promise<void>>();
  private writes: Promise<void> = Promise.resolve();

  constructor(cfg: RegistryConfig, lister: RepositoryLister, opts: AccessOptions = {}) {
    this.lister = lister;
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.throttle = opts.throttle ?? new LoginThrottle({ now: this.now });
    this.passwords = new PasswordChecker({ now: this.now });
    if (opts.configFile) this.store = new ConfigStore(opts.configFile);
    this.checkUsable(cfg);
    this.cfg = cfg;
    // Made (or read) at start, so that an unwritable root or a bad key file shows up now, not at the first login.
    if (cfg.auth === 'token') this.signingKey();
  }

  get config(): RegistryConfig {
    return this.cfg;
  }

  // A config the running registry can serve with: token mode needs a realm (or our URL to make one).
  private checkUsable(cfg: RegistryConfig): void {
    if (cfg.auth === 'token' && !cfg.realm && !this.opts.publicUrl) {
      throw new ConfigError('registry config: "auth": "token" needs a "realm" (the URL of the token endpoint, e.g. "https://registry.example/token")');
    }
  }

  private realm(): string {
    if (this.cfg.realm) return this.cfg.realm;
    if (this.cfg.auth === 'token') return `${this.opts.publicUrl!.replace(/\/+$/, '')}/token`;
    return 'berth-registry';
  }

  private tokenPath(): string {
    return this.cfg.auth === 'token' ? new URL(this.realm()).pathname : '';
  }

  private issuer(): string {
    return this.cfg.issuer ?? this.cfg.service;
  }

  private signingKey(): TokenKey {
    if (!this.key) {
      if (this.opts.key) this.key = this.opts.key;
      else if (this.cfg.tokenKey) this.key = TokenKey.loadOrCreate(this.cfg.tokenKey);
      else if (this.opts.root) this.key = TokenKey.loadOrCreate(path.join(this.opts.root, 'token-key.pem'));
      // Without a root the key lives as long as the process: tokens die with it, which is all they need.
      else this.key = TokenKey.generate();
    }
    return this.key;
  }

  private report(message: string): void {
    if (this.opts.onError) this.opts.onError(message);
    else process.stderr.write(`berth registry: ${message}\n`);
  }

  // Picks up edits of the config file (berth registry user|repo ... or by hand). A file that fails to load
  // is reported and the previous config kept: a typo must not open or close the registry.
  private async refreshConfig(): Promise<void> {
    const file = this.opts.configFile;
    if (!file) return;
    this.configLoad ??= (async () => {
      try {
        let stamp: string;
        try {
          const st = await fsp.stat(file, { bigint: true });
          stamp = `${st.ino}:${st.size}:${st.mtimeNs}`;
        } catch (err) {
          stamp = `missing:${(err as NodeJS.ErrnoException).code}`;
        }
        if (stamp === this.fileStamp) return;
        try {
          const cfg = await loadConfig(file);
          this.checkUsable(cfg);
          if (cfg.tokenKey !== this.cfg.tokenKey) this.key = undefined;
          this.cfg = cfg;
          for (const [repo, user] of this.pendingClaims) this.applyClaim(this.cfg, repo, user);
        } catch (err) {
          this.report(`${(err as Error).message} (keeping the previous configuration)`);
        }
        this.fileStamp = stamp;
      } finally {
        this.configLoad = undefined;
      }
    })();
    await this.configLoad;
  }

  // Which repositories hold manifests, for the unclaimed-repository rule; listed at most once a second.
  private async refreshExisting(): Promise<void> {
    if (this.cfg.auth === 'none' || this.now() - this.existingAt < 1000) return;
    this.existingLoad ??= (async () => {
      try {
        this.existing = new Set(await this.lister.repositories());
        this.existingAt = this.now();
      } catch (err) {
        this.report(`listing repositories: ${(err as Error).message}`);
      } finally {
        this.existingLoad = undefined;
      }
    })();
    await this.existingLoad;
  }

  /** Rereads the config file if it changed since the last look (every request does this too). */
  async reload(): Promise<void> {
    await this.refreshConfig();
  }

  /** Resolves once every claim made so far is in the config file. */
  settled(): Promise<void> {
    return this.writes;
  }

  private applyClaim(cfg: RegistryConfig, repo: string, user: string): boolean {
    if (!Object.hasOwn(cfg.users, user)) return false;
    const e = (cfg.repositories[repo] ??= { pull: [], push: [] });
    if (e.push.length > 0 && !e.push.includes(user)) return false;
    if (!e.pull.includes(user)) e.pull.push(user);
    if (!e.push.includes(user)) e.push.push(user);
    return true;
  }

  // Made synchronously in memory, so two pushers racing for a new name cannot both get it; written to the
  // file in the background.
  private claim(repo: string, user: string): boolean {
    if (!this.applyClaim(this.cfg, repo, user)) return false;
    const store = this.store;
    if (!store) return true;
    this.pendingClaims.set(repo, user);
    this.writes = this.writes.then(async () => {
      try {
        await store.update((cfg) => { this.applyClaim(cfg, repo, user); });
      } catch (err) {
        this.report(`recording ${user} as the owner of ${repo}: ${(err as Error).message}`);
      } finally {
        if (this.pendingClaims.get(repo) === user) this.pendingClaims.delete(repo);
      }
    });
    return true;
  }

  private challengeFor(error?: string): string {
    if (this.cfg.auth === 'token') return `Bearer realm="${this.realm()}",service="${this.cfg.service}"${error ? `,error="${error}"` : ''}`;
    return `Basic realm="${this.realm()}"`;
  }

  // Checks of one name from one address run one after another: guesses sent in parallel would otherwise all
  // pass the throttle before the first failure is counted. A client's parallel requests with the right
  // password cost one hash check; the rest are answered from the checker's cache.
  private checkPassword(req: IncomingMessage, user: string, password: string): Promise<{ ok: true } | { ok: false; message: string }> {
    const key = `${req.socket.remoteAddress ?? ''}\0${user}`;
    const run = (this.checking.get(key) ?? Promise.resolve()).then(async () => {
      const wait = this.throttle.blockedFor(key);
      if (wait > 0) return { ok: false as const, message: `too many failed login attempts, try again in ${Math.ceil(wait / 1000)} seconds` };
      // The user may be gone from a config reloaded meanwhile.
      if ((await this.passwords.check(this.cfg.users, user, password)) && Object.hasOwn(this.cfg.users, user)) {
        this.throttle.success(key);
        return { ok: true as const };
      }
      this.throttle.failure(key);
      return { ok: false as const, message: 'incorrect username or password' };
    });
    const tail = run.then(() => {}, () => {});
    this.checking.set(key, tail);
    void tail.then(() => { if (this.checking.get(key) === tail) this.checking.delete(key); });
    return run;
  }

  private userPrincipal(user: string): Principal {
    return { user, teams: [...(this.cfg.users[user]?.teams ?? [])] };
  }

  async authenticate(req: IncomingMessage): Promise<AuthResult> {
    await this.refreshConfig();
    const header = req.headers.authorization;
    // Only callers with credentials can claim a repository, so only they need the list of existing ones.
    if (header) await this.refreshExisting();
    if (this.cfg.auth === 'none') return { principal: ANONYMOUS() };
    if (!header) {
      // The API base is how clients learn the auth scheme (docker, skopeo and distribution's client all ping it
      // first): with auth on it answers 401 and the challenge to anonymous callers, as distribution does; were it
      // 200, clients would never fetch a token or send their credentials.
      const p = (req.url ?? '').split('?')[0];
      if (p === '/v2/' || p === '/v2') return { rejected: true, challenge: this.challengeFor(), message: 'authentication required' };
      return { principal: ANONYMOUS() };
    }
    const sp = header.indexOf(' ');
    const scheme = (sp < 0 ? header : header.slice(0, sp)).toLowerCase();
    const value = sp < 0 ? '' : header.slice(sp + 1).trim();
    if (scheme === 'basic') {
      const creds = parseBasic(value);
      if (!creds) return { rejected: true, challenge: this.challengeFor(), message: 'malformed Basic credentials' };
      const r = await this.checkPassword(req, creds.user, creds.password);
      if (!r.ok) return { rejected: true, challenge: this.challengeFor(), message: r.message };
      return { principal: this.userPrincipal(creds.user) };
    }
    if (scheme === 'bearer' && this.cfg.auth === 'token') {
      try {
        return { principal: this.bearerPrincipal(value) };
      } catch (err) {
        return { rejected: true, challenge: this.challengeFor('invalid_token'), message: (err as Error).message };
      }
    }
    return { rejected: true, challenge: this.challengeFor(), message: `unsupported authorization scheme "${scheme}"` };
  }

  private bearerPrincipal(token: string): Principal {
    const claims = this.signingKey().verify(token, { issuer: this.issuer(), audience: this.cfg.service, now: this.now() });
    if (claims.typ !== undefined) throw new TokenError('not an access token');
    let p: Principal;
    if (claims.sub === '') p = ANONYMOUS();
    else if (Object.hasOwn(this.cfg.users, claims.sub)) p = this.userPrincipal(claims.sub);
    else throw new TokenError('the token names an unknown user');
    const grants = new Map<string, Set<string>>();
    for (const a of claims.access ?? []) {
      if (a.type !== 'repository') continue;
      const set = grants.get(a.name) ?? new Set();
      for (const x of a.actions) set.add(x);
      grants.set(a.name, set);
    }
    tokenGrants.set(p, grants);
    return p;
  }

  allowed(p: Principal, repo: string, actions: Action[]): boolean {
    if (!isRepositoryName(repo) || actions.length === 0) return false;
    const grants = tokenGrants.get(p);
    if (grants && !actions.every((a) => grants.get(repo)?.has(a))) return false;
    const exists = this.existing.has(repo);
    const decisions = actions.map((a) => decide(this.cfg, p, repo, a, exists));
    if (decisions.includes('deny')) return false;
    if (decisions.includes('claim')) return this.claim(repo, p.user!);
    return true;
  }

  visible(p: Principal, repo: string): boolean {
    return decide(this.cfg, p, repo, 'pull', true) === 'allow';
  }

  challenge(repo: string | undefined, actions: Action[]): string {
    if (this.cfg.auth === 'token' && repo) return `${this.challengeFor()},scope="repository:${repo}:${actions.join(',')}"`;
    return this.challengeFor();
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? '/', 'http://registry.invalid');
    const ours = (): 'search' | 'token' | undefined => {
      if (url.pathname === '/v1/search') return 'search';
      if (this.cfg.auth === 'token' && url.pathname === this.tokenPath()) return 'token';
      return undefined;
    };
    // The config is reloaded (a change of mode may add or drop the token route) only for paths that may be
    // ours: every other request is the v2 server's, and authenticate() reloads for it.
    if (!ours() && url.pathname !== '/token') return false;
    await this.refreshConfig();
    const route = ours();
    if (!route) return false;
    try {
      if (route === 'search') {
        if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'UNSUPPORTED', 'method not allowed');
        await this.serveSearch(req, res, url);
      } else {
        if (req.method !== 'GET' && req.method !== 'POST') throw new HttpError(405, 'UNSUPPORTED', 'method not allowed');
        await this.serveToken(req, res, url);
      }
    } catch (err) {
      if (res.headersSent) res.destroy();
      else if (err instanceof HttpError) sendJson(res, err.status, errorBody(err.code, err.message), err.status === 401 ? { 'WWW-Authenticate': this.tokenEndpointChallenge() } : {});
      else sendJson(res, 500, errorBody('UNKNOWN', (err as Error).message));
    }
    return true;
  }

  private tokenEndpointChallenge(): string {
    return `Basic realm="${this.cfg.service}"`;
  }

  private async serveSearch(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const auth = await this.authenticate(req);
    if ('rejected' in auth) {
      sendJson(res, 401, errorBody('UNAUTHORIZED', auth.message), { 'WWW-Authenticate': auth.challenge });
      return;
    }
    // A description set with `berth registry repo describe` wins over the storage's.
    const cfg = this.cfg;
    const lister: RepositoryLister = {
      repositories: () => this.lister.repositories(),
      description: async (repo) => (Object.hasOwn(cfg.repositories, repo) ? cfg.repositories[repo].description : undefined) ?? this.lister.description(repo),
    };
    const result = await searchRepositories(lister, (repo) => this.visible(auth.principal, repo), parseSearchRequest(url.searchParams));
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end();
    } else {
      sendJson(res, 200, result);
    }
  }

  // GET <realm>?service=&scope=&offline_token= with optional Basic credentials (the token flow of docker pull and
  // push), or POST <realm> with an OAuth2 form: grant_type=password (username, password) or refresh_token
  // (the identity token docker login keeps). Scopes the caller may not have are cut down, not refused.
  private async serveToken(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    await this.refreshExisting();
    const post = req.method === 'POST';
    const params = post ? await readForm(req) : url.searchParams;
    const service = params.get('service');
    if (service && service !== this.cfg.service) throw new HttpError(400, 'UNSUPPORTED', `unknown service "${service}"`);
    let user: string | undefined;
    let refresh: string | undefined;
    if (post) {
      const grant = params.get('grant_type');
      if (grant === 'password') {
        const name = params.get('username') ?? '';
        const r = await this.checkPassword(req, name, params.get('password') ?? '');
        if (!r.ok) throw new HttpError(401, 'UNAUTHORIZED', r.message);
        user = name;
      } else if (grant === 'refresh_token') {
        refresh = params.get('refresh_token') ?? '';
        user = this.refreshUser(refresh);
      } else {
        throw new HttpError(400, 'UNSUPPORTED', `unsupported grant_type "${grant ?? ''}"`);
      }
    } else {
      const header = req.headers.authorization;
      if (header) {
        const sp = header.indexOf(' ');
        const creds = sp > 0 && header.slice(0, sp).toLowerCase() === 'basic' ? parseBasic(header.slice(sp + 1)) : undefined;
        if (!creds) throw new HttpError(401, 'UNAUTHORIZED', 'the token endpoint takes Basic credentials');
        const r = await this.checkPassword(req, creds.user, creds.password);
        if (!r.ok) throw new HttpError(401, 'UNAUTHORIZED', r.message);
        user = creds.user;
      }
    }
    const p = user === undefined ? ANONYMOUS() : this.userPrincipal(user);
    const access = grantedAccess(this.cfg, p, params.getAll('scope'), (r) => this.existing.has(r));
    const now = this.now();
    const claims: TokenClaims = {
      ...newClaims({ issuer: this.issuer(), subject: user ?? '', audience: this.cfg.service, ttlSeconds: this.cfg.tokenTtlSeconds, now }),
      access,
    };
    const token = this.signingKey().sign(claims);
    const body: Record<string, unknown> = {
      token, access_token: token, expires_in: this.cfg.tokenTtlSeconds, issued_at: new Date(claims.iat * 1000).toISOString(),
    };
    if (post) body.scope = access.map((a) => `${a.type}:${a.name}:${a.actions.join(',')}`).join(' ');
    const offline = post ? params.get('access_type') === 'offline' : params.get('offline_token') === 'true';
    if (offline && user !== undefined) body.refresh_token = refresh ?? this.refreshToken(user, now);
    sendJson(res, 200, body);
  }

  private refreshToken(user: string, now: number): string {
    return this.signingKey().sign({
      ...newClaims({ issuer: this.issuer(), subject: user, audience: this.cfg.service, ttlSeconds: this.cfg.refreshTokenTtlSeconds, now }),
      typ: 'refresh', pwd: fingerprint(this.cfg.users[user].hash),
    });
  }

  private refreshUser(token: string): string {
    let claims: TokenClaims;
    try {
      claims = this.signingKey().verify(token, { issuer: this.issuer(), audience: this.cfg.service, now: this.now() });
    } catch {
      throw new HttpError(401, 'UNAUTHORIZED', 'invalid refresh token');
    }
    const u = Object.hasOwn(this.cfg.users, claims.sub) ? this.cfg.users[claims.sub] : undefined;
    if (claims.typ !== 'refresh' || !u || claims.pwd !== fingerprint(u.hash)) throw new HttpError(401, 'UNAUTHORIZED', 'invalid refresh token');
    return claims.sub;
  }
}

export function createAccessControl(cfg: RegistryConfig, lister: RepositoryLister, opts: AccessOptions = {}): RegistryAccess {
  return new RegistryAccess(cfg, lister, opts);
}

/**
 * The access control of a registry started with `--config FILE` (which must exist: a mistyped path must not
 * leave the registry open) or without one (open to everyone).
 */
export async function openAccessControl(lister: RepositoryLister, opts: AccessOptions = {}): Promise<RegistryAccess> {
  const cfg = opts.configFile ? await loadConfig(opts.configFile) : defaultConfig();
  const access = new RegistryAccess(cfg, lister, opts);
  await access.reload();
  return access;
}
