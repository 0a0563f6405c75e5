// Image references the way docker's distribution/reference normalises them: "busybox" is
// "docker.io/library/busybox:latest", and the familiar form drops "docker.io/" and "library/" again.

export interface ImageRef {
  /** Full repository name, e.g. "docker.io/library/busybox". */
  name: string;
  tag?: string;
  digest?: string;
}

const DEFAULT_DOMAIN = 'docker.io';

export class InvalidReferenceError extends Error {}

export function parseNormalizedNamed(s: string): ImageRef {
  if (s === '') {
    throw new InvalidReferenceError('invalid reference format');
  }
  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!/^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(digest)) throw new InvalidReferenceError('invalid reference format');
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!/^[\w][\w.-]{0,127}$/.test(tag)) throw new InvalidReferenceError('invalid reference format');
  }
  let domain: string;
  let path: string;
  const slash = rest.indexOf('/');
  const first = slash >= 0 ? rest.slice(0, slash) : '';
  if (slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost' || first.toLowerCase() !== first)) {
    domain = first;
    path = rest.slice(slash + 1);
  } else {
    domain = DEFAULT_DOMAIN;
    path = rest;
  }
  if (domain === 'index.docker.io') domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = `library/${path}`;
  if (!/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/.test(path)) {
    if (/[A-Z]/.test(path)) throw new InvalidReferenceError(`invalid reference format: repository name (${path}) must be lowercase`);
    throw new InvalidReferenceError('invalid reference format');
  }
  return { name: `${domain}/${path}`, tag, digest };
}

/** "docker.io/library/busybox" → "busybox"; "docker.io/foo/bar" → "foo/bar". */
export function familiarName(name: string): string {
  if (name.startsWith(`${DEFAULT_DOMAIN}/library/`) && name.split('/').length === 3) return name.slice(`${DEFAULT_DOMAIN}/library/`.length);
  if (name.startsWith(`${DEFAULT_DOMAIN}/`)) return name.slice(DEFAULT_DOMAIN.length + 1);
  return name;
}

export function familiarString(ref: ImageRef): string {
  return familiarName(ref.name) + (ref.tag !== undefined ? `:${ref.tag}` : '') + (ref.digest ? `@${ref.digest}` : '');
}

/** reference.TagNameOnly: adds ":latest" when the reference has neither tag nor digest. */
export function withDefaultTag(ref: ImageRef): ImageRef {
  return ref.tag === undefined && ref.digest === undefined ? { ...ref, tag: 'latest' } : ref;
}
