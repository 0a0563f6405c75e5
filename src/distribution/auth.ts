// Registry credentials and challenges: the X-Registry-Auth header clients send (base64url JSON), and the
// WWW-Authenticate challenges registries answer with (Basic, or Bearer with a token realm, as Docker Hub).
import { invalidParameter } from '../lib/errors.ts';

export interface AuthConfig {
  username?: string;
  password?: string;
  auth?: string; // base64 "user:pass", as config.json stores it
  serveraddress?: string;
  identitytoken?: string; // a refresh token from an earlier login
  registrytoken?: string; // a bearer token to use as it is
}

// Docker accepts base64url or standard base64, padded or not; an empty or "{}" header means anonymous.
export function decodeAuthHeader(value: string | undefined | null): AuthConfig | undefined {
  if (!value) return undefined;
  let text: string;
  try {
    text = Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');
  } catch {
    throw invalidParameter('invalid X-Registry-Auth header');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalidParameter('invalid X-Registry-Auth header: not base64-encoded JSON');
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const a = parsed as AuthConfig;
  const out: AuthConfig = {};
  for (const k of ['username', 'password', 'auth', 'serveraddress', 'identitytoken', 'registrytoken'] as const) {
    if (typeof a[k] === 'string' && a[k]) out[k] = a[k];
  }
  if (!out.username && out.auth) {
    const plain = Buffer.from(out.auth, 'base64').toString('utf8');
    const i = plain.indexOf(':');
    if (i > 0) {
      out.username = plain.slice(0, i);
      out.password = plain.slice(i + 1);
    }
  }
  return Object.keys(out).length ? out : undefined;
}

export function hasCredentials(a: AuthConfig | undefined): boolean {
  return !!(a && ((a.username && a.password !== undefined) || a.identitytoken || a.registrytoken));
}

export interface Challenge {
  scheme: string; // lower case: basic, bearer
  params: Record<string, string>;
}

// RFC 7235 challenges: `Bearer realm="https://auth/token",service="registry",scope="repository:a:pull"`.
// Several challenges may share one header; quoted strings may contain commas and escaped quotes.
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  const text = Array.isArray(header) ? header.join(', ') : header ?? '';
  const out: Challenge[] = [];
  let i = 0;
  const skipWs = () => { while (i < text.length && /[\s,]/.test(text[i])) i++; };
  const token = () => {
    const m = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+/.exec(text.slice(i));
    if (!m) return '';
    i += m[0].length;
    return m[0];
  };
  while (i < text.length) {
    skipWs();
    const scheme = token();
    if (!scheme) break;
    const ch: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(ch);
    for (;;) {
      const save = i;
      while (i < text.length && (text[i] === ' ' || text[i] === ',')) i++;
      const key = token();
      if (!key || text[i] !== '=') {
        i = save;
        break;
      }
      i++;
      let value = '';
      if (text[i] === '"') {
        i++;
        while (i < text.length && text[i] !== '"') {
          if (text[i] === '\\' && i + 1 < text.length) i++;
          value += text[i++];
        }
        i++;
      } else {
        value = token();
      }
      ch.params[key.toLowerCase()] = value;
    }
  }
  return out;
}

export function basicHeader(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}
