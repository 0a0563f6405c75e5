// The daemon's events: a bounded ring of recent events (for `since`) and live subscribers, in Docker's
// events.Message shape. Knows nothing of HTTP: the API encodes and streams what it is handed.
import { EventEmitter } from 'node:events';
import { wallClockNanos } from '../lib/clock.ts';

export interface EventActor {
  ID: string;
  Attributes: Record<string, string>;
}

export interface EventMessage {
  /** Legacy fields (containers and images): the action, the actor's ID and, for containers, the image. */
  status?: string;
  id?: string;
  from?: string;
  Type: string;
  Action: string;
  Actor: EventActor;
  scope: 'local' | 'swarm';
  time: number;
  /** Nanoseconds since the epoch: past 2^53, so a bigint. */
  timeNano: bigint;
}

export interface EventsOptions {
  /** Most events kept for `since` (Docker keeps 256; we keep more, bounded). */
  limit?: number;
  /** Events older than this are dropped from the ring. */
  maxAgeMs?: number;
  /** The wall clock in nanoseconds (tests). Times are kept strictly increasing, so `since` never splits
   * two events of the same instant in a surprising order. */
  clock?: () => bigint;
}

export type EventPredicate = (e: EventMessage) => boolean;

export interface Subscription {
  /** Events from the ring within [since, until] that pass the filter, oldest first. */
  buffered: EventMessage[];
  unsubscribe(): void;
}

export class EventsService {
  private ring: EventMessage[] = [];
  private readonly bus = new EventEmitter();
  private readonly limit: number;
  private readonly maxAgeNs: bigint;
  private readonly clock: () => bigint;
  private last = 0n;

  constructor(opts: EventsOptions = {}) {
    this.limit = opts.limit ?? 1024;
    this.maxAgeNs = BigInt(opts.maxAgeMs ?? 15 * 60 * 1000) * 1_000_000n;
    this.clock = opts.clock ?? wallClockNanos;
    this.bus.setMaxListeners(0);
  }

  /** Records and publishes one event (Docker's Events.Log). */
  log(type: string, action: string, actor: EventActor): EventMessage {
    let ns = this.clock();
    if (ns <= this.last) ns = this.last + 1n;
    this.last = ns;
    const e: EventMessage = {
      Type: type, Action: action, Actor: { ID: actor.ID, Attributes: { ...actor.Attributes } }, scope: 'local',
      time: Number(ns / 1_000_000_000n), timeNano: ns,
    };
    // Docker fills the deprecated fields for containers and images only.
    if (type === 'container') Object.assign(e, { status: action, id: actor.ID, from: actor.Attributes.image });
    else if (type === 'image') Object.assign(e, { status: action, id: actor.ID });
    this.ring.push(e);
    const oldest = ns - this.maxAgeNs;
    let drop = Math.max(0, this.ring.length - this.limit);
    while (drop < this.ring.length && this.ring[drop].timeNano < oldest) drop++;
    if (drop) this.ring.splice(0, drop);
    this.bus.emit('event', e);
    return e;
  }

  /**
   * Subscribes to live events. With a since or until, the matching events of the ring come back first
   * (Docker's loadBufferedEvents: none when both are absent).
   */
  subscribe(opts: { since?: bigint; until?: bigint; filter?: EventPredicate }, onEvent: (e: EventMessage) => void): Subscription {
    const { since, until, filter } = opts;
    const buffered: EventMessage[] = [];
    if (since !== undefined || until !== undefined) {
      for (const e of this.ring) {
        if (since !== undefined && e.timeNano < since) continue;
        if (until !== undefined && e.timeNano > until) continue;
        if (!filter || filter(e)) buffered.push(e);
      }
    }
    const listener = (e: EventMessage) => {
      if (!filter || filter(e)) onEvent(e);
    };
    this.bus.on('event', listener);
    return { buffered, unsubscribe: () => this.bus.off('event', listener) };
  }

  /** Live subscribers (Info's NEventsListener). */
  listenerCount(): number {
    return this.bus.listenerCount('event');
  }
}

/** One event as the API sends it: Go's field order, attributes sorted like a Go map, timeNano exact. */
export function encodeEvent(e: EventMessage): string {
  const attrs: Record<string, string> = {};
  for (const k of Object.keys(e.Actor.Attributes).sort()) attrs[k] = e.Actor.Attributes[k];
  const head: Record<string, unknown> = {};
  if (e.status) head.status = e.status;
  if (e.id) head.id = e.id;
  if (e.from) head.from = e.from;
  const json = JSON.stringify({ ...head, Type: e.Type, Action: e.Action, Actor: { ID: e.Actor.ID, Attributes: attrs }, scope: e.scope, time: e.time });
  return `${json.slice(0, -1)},"timeNano":${e.timeNano}}`;
}
