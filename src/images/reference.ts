// Docker image references: `busybox` is `docker.io/library/busybox:latest`; `localhost:5000/a/b:1@sha256:...`.
import { invalidParameter } from '../lib/errors.ts';

export interface Reference {
  domain: string; // docker.io, localhost:5000
  path: string; // library/busybox
  tag?: string;
  digest?: string; // sha256:...
}

const DEFAULT_DOMAIN = 'docker.io';
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const DOMAIN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?$|^\[[0-9a-fA-F:.]+\](?::[0-9]+)?$/;

export function isFullId(s: string): boolean {
  return /^(sha256:)?[a-f0-9]{64}$/.test(s);
}

// Parses and normalises like Docker's ParseNormalizedNamed. Throws Docker's "invalid reference format" errors.
export function parseReference(input: string): Reference {
  if (input.length === 0) throw invalidParameter('invalid reference format');
  if (/^[a-f0-9]{64}$/.test(input)) {
    throw invalidParameter(`invalid repository name (${input}), cannot specify 64-byte hexadecimal strings`);
  }
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw invalidParameter('invalid reference format');
  }
  let tag: string | undefined;
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > rest.lastIndexOf('/')) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG.test(tag)) throw invalidParameter('invalid reference format');
  }
  let domain = DEFAULT_DOMAIN;
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('[')) {
      domain = first;
      path = rest.slice(slash + 1);
    }
  }
  if (!DOMAIN.test(domain)) throw invalidParameter('invalid reference format');
  if (domain === 'index.docker.io') domain = DEFAULT_DOMAIN;
  if (path !== path.toLowerCase()) {
    throw invalidParameter('invalid reference format: repository name (' + path + ') must be lowercase');
  }
  const parts = path.split('/');
  if (parts.some((p) => !PATH_COMPONENT.test(p))) throw invalidParameter('invalid reference format');
  if (domain === DEFAULT_DOMAIN && parts.length === 1) path = `library/${path}`;
  if (domain.length + path.length + 1 > 255) throw invalidParameter('invalid reference format: repository name must not be more than 255 characters');
  return { domain, path, tag, digest };
}

// Adds `latest` when neither tag nor digest is given (Docker's TagNameOnly).
export function withDefaultTag(ref: Reference): Reference {
  return ref.tag || ref.digest ? ref : { ...ref, tag: 'latest' };
}

export function repoName(ref: Reference): string {
  return `${ref.domain}/${ref.path}`;
}

export function fullName(ref: Reference): string {
  let s = repoName(ref);
  if (ref.tag) s += `:${ref.tag}`;
  if (ref.digest) s += `@${ref.digest}`;
  return s;
}

// The short form Docker shows: docker.io/library/busybox:latest -> busybox:latest.
export function familiarName(full: string): string {
  if (full.startsWith('docker.io/library/')) return full.slice('docker.io/library/'.length);
  if (full.startsWith('docker.io/')) return full.slice('docker.io/'.length);
  return full;
}

export function familiarRepo(ref: Reference): string {
  return familiarName(repoName(ref));
}
