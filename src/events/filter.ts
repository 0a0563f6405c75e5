// Docker's events filter (daemon/events/filter.go) over filters.Args semantics: every given key must match;
// values of one key are alternatives. Names and IDs match by prefix ("fuzzy"), the rest exactly.
import { parseReference, repoName, familiarName } from '../images/reference.ts';
import type { EventMessage, EventPredicate } from './service.ts';

type Filters = Map<string, string[]>;

function exact(f: Filters, key: string, source: string): boolean {
  const vals = f.get(key);
  if (!vals?.length) return true;
  return vals.includes(source);
}

function fuzzy(f: Filters, key: string, source: string): boolean {
  const vals = f.get(key);
  if (!vals?.length) return true;
  return vals.some((v) => v === source || source.startsWith(v));
}

// filters.Args.MatchKVList: every "k" or "k=v" must be among the attributes.
function kvList(f: Filters, key: string, attrs: Record<string, string>): boolean {
  const vals = f.get(key);
  if (!vals?.length) return true;
  if (Object.keys(attrs).length === 0) return false;
  return vals.every((v) => {
    const i = v.indexOf('=');
    const k = i < 0 ? v : v.slice(0, i);
    if (!(k in attrs)) return false;
    return i < 0 || attrs[k] === v.slice(i + 1);
  });
}

function fuzzyName(f: Filters, type: string, e: EventMessage): boolean {
  return fuzzy(f, type, e.Actor.ID) || fuzzy(f, type, e.Actor.Attributes.name ?? '');
}

// The image's familiar repository without its tag: "busybox:latest" -> "busybox".
function stripTag(image: string): string {
  try {
    return familiarName(repoName(parseReference(image)));
  } catch {
    return image;
  }
}

function matchImage(f: Filters, e: EventMessage): boolean {
  const id = e.Actor.ID;
  const name = e.Actor.Attributes[e.Type === 'image' ? 'name' : 'image'] ?? '';
  return exact(f, 'image', id) || exact(f, 'image', name) || exact(f, 'image', stripTag(id)) || exact(f, 'image', stripTag(name));
}

// health_status, exec_create and exec_start carry a suffix ("exec_start: sh -c ..."): Docker matches them
// by prefix when the filter names one of them.
const FUZZY_ACTIONS = new Set(['health_status', 'exec_create', 'exec_start']);

/** The predicate for a `filters` query parameter; undefined when nothing is filtered. */
export function eventFilter(f: Filters): EventPredicate | undefined {
  if ([...f.values()].every((v) => v.length === 0)) return undefined;
  const fuzzyEvent = (f.get('event') ?? []).some((v) => FUZZY_ACTIONS.has(v));
  return (e) =>
    (fuzzyEvent ? fuzzy(f, 'event', e.Action) : exact(f, 'event', e.Action)) &&
    exact(f, 'type', e.Type) &&
    exact(f, 'scope', e.scope) &&
    ['daemon', 'container', 'plugin', 'volume', 'network', 'node', 'service', 'secret', 'config'].every((t) => fuzzyName(f, t, e)) &&
    matchImage(f, e) &&
    kvList(f, 'label', e.Actor.Attributes);
}
