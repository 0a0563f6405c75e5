// Passwords of `berth registry` users: hashed with argon2id (scrypt hashes are accepted too, for configs written
// by other tools) and kept as PHC strings, the self-describing format other password tools read and write:
//   $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>        $scrypt$ln=15,r=8,p=1$<salt>$<hash>
// (salt and hash in base64 without padding). Checking is constant-time and costs the same for unknown users,
// so timing tells nothing about which names exist; repeated failures from one address for one name are slowed
// down by LoginThrottle.
import { argon2, createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

// OWASP's argon2id recommendation (19 MiB, 2 passes, 1 lane): about 40 ms here, cheap enough per login and
// expensive enough per guess.
export const ARGON2_DEFAULTS = { memory: 19456, passes: 2, parallelism: 1, tagLength: 32 } as const;

export interface PhcHash {
  alg: 'argon2id' | 'scrypt';
  params: Record<string, number>;
  salt: Buffer;
  hash: Buffer;
}

const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '');
const B64_RE = /^[A-Za-z0-9+/]+$/;

function decodeB64(s: string): Buffer | undefined {
  if (!B64_RE.test(s)) return undefined;
  return Buffer.from(s, 'base64');
}

function parseParams(s: string): Record<string, number> | undefined {
  const out: Record<string, number> = {};
  for (const kv of s.split(',')) {
    const m = /^([a-z]+)=(\d{1,10})$/.exec(kv);
    if (!m || m[1] in out) return undefined;
    out[m[1]] = Number(m[2]);
  }
  return out;
}

// Bounds that keep a hand-edited hash from asking for gigabytes or minutes per check.
function paramsOk(p: PhcHash): boolean {
  const { params } = p;
  if (p.salt.length < 8 || p.hash.length < 16 || p.hash.length > 128) return false;
  if (p.alg === 'argon2id') {
    const keys = Object.keys(params).sort().join(',');
    return keys === 'm,p,t' && params.p >= 1 && params.p <= 64 && params.m >= 8 * params.p && params.m <= 1 << 21
      && params.t >= 1 && params.t <= 64;
  }
  const keys = Object.keys(params).sort().join(',');
  return keys === 'ln,p,r' && params.ln >= 1 && params.ln <= 22 && params.r >= 1 && params.r <= 32
    && params.p >= 1 && params.p <= 16;
}

/** Parses a PHC string of argon2id (version 19) or scrypt; undefined when it is neither or out of bounds. */
export function parsePhc(s: string): PhcHash | undefined {
  if (typeof s !== 'string') return undefined;
  const parts = s.split('$');
  let phc: PhcHash | undefined;
  if (parts.length === 6 && parts[0] === '' && parts[1] === 'argon2id' && parts[2] === 'v=19') {
    const params = parseParams(parts[3]);
    const salt = decodeB64(parts[4]);
    const hash = decodeB64(parts[5]);
    if (params && salt && hash) phc = { alg: 'argon2id', params, salt, hash };
  } else if (parts.length === 5 && parts[0] === '' && parts[1] === 'scrypt') {
    const params = parseParams(parts[2]);
    const salt = decodeB64(parts[3]);
    const hash = decodeB64(parts[4]);
    if (params && salt && hash) phc = { alg: 'scrypt', params, salt, hash };
  }
  return phc && paramsOk(phc) ? phc : undefined;
}

export function isPasswordHash(s: string): boolean {
  return parsePhc(s) !== undefined;
}

function derive(phc: Omit<PhcHash, 'hash'>, password: string, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const message = Buffer.from(password, 'utf8');
    if (phc.alg === 'argon2id') {
      argon2('argon2id', {
        message, nonce: phc.salt, memory: phc.params.m, passes: phc.params.t, parallelism: phc.params.p, tagLength: length,
      }, (err, key) => (err ? reject(err) : resolve(key)));
    } else {
      const N = 2 ** phc.params.ln;
      scrypt(message, phc.salt, length, { N, r: phc.params.r, p: phc.params.p, maxmem: 256 * N * phc.params.r + (1 << 20) },
        (err, key) => (err ? reject(err) : resolve(key)));
    }
  });
}

/** An argon2id PHC string for the password, with a fresh 16-byte salt. */
export async function hashPassword(password: string, opts: { memory?: number; passes?: number; parallelism?: number } = {}): Promise<string> {
  const m = opts.memory ?? ARGON2_DEFAULTS.memory;
  const t = opts.passes ?? ARGON2_DEFAULTS.passes;
  const p = opts.parallelism ?? ARGON2_DEFAULTS.parallelism;
  const salt = randomBytes(16);
  const hash = await derive({ alg: 'argon2id', params: { m, t, p }, salt }, password, ARGON2_DEFAULTS.tagLength);
  return `$argon2id$v=19$m=${m},t=${t},p=${p}$${b64(salt)}$${b64(hash)}`;
}

/** Whether the password matches the PHC string (false for a string that is not one). */
export async function verifyPassword(password: string, phcString: string): Promise<boolean> {
  const phc = parsePhc(phcString);
  if (!phc) return false;
  const got = await derive(phc, password, phc.hash.length);
  return timingSafeEqual(got, phc.hash);
}

// A hash of a random password with the default cost: unknown users are checked against it so that a miss costs
// as much as a wrong password.
let dummyHash: Promise<string> | undefined;

export interface UserRecord { hash: string; teams: string[] }

// Checks user names and passwords against the configured users. Docker clients send Basic credentials on every
// registry request, and an argon2 check per blob would dominate a pull, so a success is remembered for a minute
// under a keyed digest of name, password and stored hash (a changed password or hash misses at once).
export class PasswordChecker {
  private readonly secret = randomBytes(32);
  private readonly ok = new Map<string, number>();
  private readonly now: () => number;
  private readonly ttlMs: number;

  constructor(opts: { now?: () => number; cacheMs?: number } = {}) {
    this.now = opts.now ?? Date.now;
    this.ttlMs = opts.cacheMs ?? 60_000;
  }

  private key(name: string, password: string, hash: string): string {
    return createHash('sha256').update(this.secret).update(`${name}\0${password}\0${hash}`).digest('base64');
  }

  async check(users: Record<string, UserRecord>, name: string, password: string): Promise<boolean> {
    const user = Object.hasOwn(users, name) ? users[name] : undefined;
    if (!user) {
      dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
      await verifyPassword(password, await dummyHash);
      return false;
    }
    const key = this.key(name, password, user.hash);
    const until = this.ok.get(key);
    const now = this.now();
    if (until !== undefined && until > now) return true;
    const good = await verifyPassword(password, user.hash);
    if (good) {
      if (this.ok.size > 10_000) this.ok.clear();
      this.ok.set(key, now + this.ttlMs);
    } else {
      this.ok.delete(key);
    }
    return good;
  }
}

// Failed logins per key (the caller's address and the user name): after `free` failures in a row the key is
// refused for a delay that doubles with each further failure, up to `maxDelayMs`. Keying on the address too means
// someone guessing from elsewhere cannot lock a user out; a success clears the key.
export class LoginThrottle {
  private readonly entries = new Map<string, { failures: number; until: number; last: number }>();
  private readonly free: number;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly now: () => number;

  constructor(opts: { free?: number; baseDelayMs?: number; maxDelayMs?: number; now?: () => number } = {}) {
    this.free = opts.free ?? 5;
    this.baseMs = opts.baseDelayMs ?? 1000;
    this.maxMs = opts.maxDelayMs ?? 5 * 60_000;
    this.now = opts.now ?? Date.now;
  }

  /** Milliseconds until the key may try again (0: now). */
  blockedFor(key: string): number {
    const e = this.entries.get(key);
    if (!e) return 0;
    return Math.max(0, e.until - this.now());
  }

  failure(key: string): void {
    const now = this.now();
    let e = this.entries.get(key);
    // A key quiet for longer than the longest delay starts over.
    if (e && now - e.last > this.maxMs) e = undefined;
    e ??= { failures: 0, until: 0, last: now };
    e.failures++;
    e.last = now;
    if (e.failures > this.free) e.until = now + Math.min(this.maxMs, this.baseMs * 2 ** Math.min(30, e.failures - this.free - 1));
    this.entries.set(key, e);
    if (this.entries.size > 10_000) this.prune(now);
  }

  success(key: string): void {
    this.entries.delete(key);
  }

  private prune(now: number): void {
    for (const [k, e] of this.entries) if (now - e.last > this.maxMs) this.entries.delete(k);
  }
}
