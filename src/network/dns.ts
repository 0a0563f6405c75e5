// The embedded DNS server of user-defined networks, Docker's 127.0.0.11 done Berth's way: one UDP+TCP listener per
// network on its gateway address. Containers' names, aliases and short ids are answered from the DnsLookup callback
// (chosen by the asker's source address); every other name is relayed verbatim to that container's upstream
// resolvers. The socket handlers never throw: a bad packet is dropped or answered FORMERR.
import dgram from 'node:dgram';
import net from 'node:net';
import {
  DnsClass, DnsType, Rcode, buildResponse, formatErrorResponse, normalizeIp, parseHeader, parseMessage,
  parseQuestionSection, reverseNameToIp, udpSizeLimit,
  type DnsMessage, type DnsQuestion, type DnsRecordInit,
} from './dns-message.ts';

export interface DnsLookup {
  // Names as containers see them: container name, network alias, short id (12 hex). `name` is lower-cased and has
  // no trailing dot. Return undefined when the name is not Berth's (then the query is forwarded upstream); return
  // {v4:[],v6:[]} when it is ours but has no address of that family (answer NOERROR with no records, not NXDOMAIN).
  lookup(clientIp: string, name: string): { v4: string[]; v6: string[] } | undefined;
  // PTR: names for an address on a network the client shares; undefined = not ours (forward).
  reverse(clientIp: string, ip: string): string[] | undefined;
  // Upstream resolvers for this client ("1.2.3.4", "1.2.3.4:5353", "[::1]:53" or "::1"); empty → SERVFAIL for
  // names that are not ours.
  upstreams(clientIp: string): string[];
}

export interface EmbeddedDnsOptions {
  log?: (msg: string) => void;
  forwardTimeoutMs?: number;
}

// Docker's resolver answers its own names with this TTL.
export const ANSWER_TTL = 600;
const DEFAULT_FORWARD_TIMEOUT_MS = 2000;
// Like Docker's resolver: past this many queries waiting on upstreams, answer SERVFAIL rather than open more sockets.
const MAX_CONCURRENT_FORWARDS = 1024;
// A TCP client that says nothing for this long is dropped, as is one with too many unanswered queries.
const TCP_IDLE_MS = 30_000;
const MAX_TCP_PIPELINE = 64;
const MAX_TCP_CONNECTIONS = 256;

export interface Upstream {
  host: string;
  port: number;
  family: 4 | 6;
}

// "1.2.3.4", "1.2.3.4:5353", "[::1]:53", "[::1]" or "::1"; undefined for anything else.
export function parseUpstream(spec: string): Upstream | undefined {
  const s = spec.trim();
  const port = (p: string | undefined): number | undefined => {
    if (p === undefined) return 53;
    if (!/^[0-9]{1,5}$/.test(p)) return undefined;
    const n = Number(p);
    return n >= 1 && n <= 65535 ? n : undefined;
  };
  if (net.isIPv4(s)) return { host: s, port: 53, family: 4 };
  if (net.isIPv6(s)) return { host: s, port: 53, family: 6 };
  const v4 = /^([0-9.]+):([^:]*)$/.exec(s);
  if (v4 && net.isIPv4(v4[1])) {
    const p = port(v4[2]);
    return p === undefined ? undefined : { host: v4[1], port: p, family: 4 };
  }
  const v6 = /^\[([^\]]+)\](?::([^:]*))?$/.exec(s);
  if (v6 && net.isIPv6(v6[1])) {
    const p = port(v6[2]);
    return p === undefined ? undefined : { host: v6[1], port: p, family: 6 };
  }
  return undefined;
}

// The asker as DnsLookup sees it: plain dotted quad even when a dual-stack socket reports ::ffff:a.b.c.d.
function clientAddress(raw: string): string {
  const mapped = /^::ffff:([0-9.]+)$/i.exec(raw);
  if (mapped && net.isIPv4(mapped[1])) return mapped[1];
  return normalizeIp(raw) ?? raw;
}

function sameHost(a: string, b: string): boolean {
  return (normalizeIp(a) ?? a) === (normalizeIp(b) ?? b);
}

interface Listener {
  address: string;
  port: number;
  udp: dgram.Socket;
  tcp: net.Server;
  connections: Set<net.Socket>;
  // Upstream exchanges in flight, so that closing the listener does not wait for their timeouts.
  forwards: Set<AbortController>;
  closed: boolean;
}

type Transport = 'udp' | 'tcp';

export class EmbeddedDns {
  #lookup: DnsLookup;
  #log: (msg: string) => void;
  #forwardTimeoutMs: number;
  #listeners = new Map<string, Listener>();
  #opening = new Map<string, Promise<void>>();
  #forwarding = 0;

  constructor(lookup: DnsLookup, opts: EmbeddedDnsOptions = {}) {
    this.#lookup = lookup;
    this.#log = opts.log ?? (() => {});
    this.#forwardTimeoutMs = opts.forwardTimeoutMs ?? DEFAULT_FORWARD_TIMEOUT_MS;
  }

  get addresses(): string[] {
    return [...this.#listeners.keys()];
  }

  // Listening twice on an address is a no-op (the first port wins); concurrent calls share one bind.
  listen(address: string, port = 53): Promise<void> {
    if (this.#listeners.has(address)) return Promise.resolve();
    const opening = this.#opening.get(address);
    if (opening) return opening;
    const p = this.#open(address, port).finally(() => this.#opening.delete(address));
    this.#opening.set(address, p);
    return p;
  }

  async close(address: string): Promise<void> {
    const opening = this.#opening.get(address);
    if (opening) await opening.catch(() => {});
    const l = this.#listeners.get(address);
    if (!l) return;
    this.#listeners.delete(address);
    l.closed = true;
    for (const c of l.forwards) c.abort();
    for (const s of l.connections) s.destroy();
    await Promise.all([
      new Promise<void>((resolve) => {
        try {
          l.udp.close(() => resolve());
        } catch {
          resolve();
        }
      }),
      new Promise<void>((resolve) => l.tcp.close(() => resolve())),
    ]);
  }

  async closeAll(): Promise<void> {
    const all = new Set([...this.#listeners.keys(), ...this.#opening.keys()]);
    await Promise.all([...all].map((a) => this.close(a)));
  }

  async #open(address: string, port: number): Promise<void> {
    const udp = dgram.createSocket({ type: net.isIPv6(address) ? 'udp6' : 'udp4' });
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind({ address, port, exclusive: true }, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    const tcp = net.createServer();
    tcp.maxConnections = MAX_TCP_CONNECTIONS;
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen({ host: address, port, exclusive: true }, () => {
          tcp.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      await new Promise<void>((resolve) => udp.close(() => resolve()));
      throw err;
    }
    const l: Listener = { address, port, udp, tcp, connections: new Set(), forwards: new Set(), closed: false };
    udp.on('error', (err) => this.#log(`dns ${address}: udp: ${err.message}`));
    tcp.on('error', (err) => this.#log(`dns ${address}: tcp: ${err.message}`));
    udp.on('message', (msg, rinfo) => this.#onDatagram(l, msg, rinfo));
    tcp.on('connection', (sock) => this.#onConnection(l, sock));
    this.#listeners.set(address, l);
  }

  #onDatagram(l: Listener, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (rinfo.port === 0) return;
    this.#answer(l, msg, clientAddress(rinfo.address), 'udp').then((resp) => {
      if (!resp || l.closed) return;
      l.udp.send(resp, rinfo.port, rinfo.address, (err) => {
        if (err) this.#log(`dns ${l.address}: reply to ${rinfo.address}:${rinfo.port}: ${err.message}`);
      });
    }, (err: unknown) => this.#log(`dns ${l.address}: ${String(err)}`));
  }

  // TCP carries each message behind a 2-byte length (RFC 1035 4.2.2); a client may pipeline several and the answers
  // may come back in any order (RFC 7766 6.2.1.1), each with its own id.
  #onConnection(l: Listener, sock: net.Socket): void {
    if (l.closed) {
      sock.destroy();
      return;
    }
    l.connections.add(sock);
    sock.on('close', () => l.connections.delete(sock));
    sock.on('error', () => {}); // resets by the peer are routine; 'close' follows
    sock.setNoDelay(true);
    sock.setTimeout(TCP_IDLE_MS, () => sock.destroy());
    const client = clientAddress(sock.remoteAddress ?? '');
    let pending: Buffer = Buffer.alloc(0);
    let unanswered = 0;
    sock.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 2) {
        const len = pending.readUInt16BE(0);
        if (pending.length < 2 + len) break;
        const msg = pending.subarray(2, 2 + len);
        pending = pending.subarray(2 + len);
        if (++unanswered > MAX_TCP_PIPELINE) {
          sock.destroy();
          return;
        }
        this.#answer(l, msg, client, 'tcp').then((resp) => {
          unanswered--;
          if (!resp || sock.destroyed || !sock.writable) return;
          const framed = Buffer.alloc(2 + resp.length);
          framed.writeUInt16BE(resp.length);
          resp.copy(framed, 2);
          sock.write(framed);
        }, (err: unknown) => this.#log(`dns ${l.address}: ${String(err)}`));
      }
    });
  }

  // The answer to one raw message, or undefined to stay silent (not a query, or too broken to reply to).
  async #answer(l: Listener, raw: Buffer, client: string, transport: Transport): Promise<Buffer | undefined> {
    const header = parseHeader(raw);
    // Never answer responses: that would let two resolvers bounce packets at each other forever.
    if (!header || header.qr) return undefined;
    let query: DnsMessage;
    try {
      query = parseMessage(raw);
    } catch {
      return formatErrorResponse(header);
    }
    const maxSize = transport === 'udp' ? udpSizeLimit(query) : 65535;
    try {
      if (header.opcode !== 0) return buildResponse(query, { rcode: Rcode.NOTIMP, maxSize });
      if (query.questions.length !== 1) return formatErrorResponse(header);
      const local = this.#resolveLocal(client, query.questions[0]);
      if (local) return buildResponse(query, { answers: local, maxSize });
      return await this.#forward(l, raw, query, client, transport, maxSize);
    } catch (err) {
      this.#log(`dns ${l.address}: query from ${client}: ${err instanceof Error ? err.message : String(err)}`);
      return buildResponse(query, { rcode: Rcode.SERVFAIL, maxSize });
    }
  }

  // Our answer records (possibly none) when the name is Berth's, undefined when it belongs upstream.
  #resolveLocal(client: string, q: DnsQuestion): DnsRecordInit[] | undefined {
    if (q.class !== DnsClass.IN) return undefined;
    const name = q.name.toLowerCase();
    if (name === '') return undefined;
    if (q.type === DnsType.PTR) {
      const ip = reverseNameToIp(name);
      if (ip !== undefined) {
        const names = this.#lookup.reverse(client, ip);
        if (names === undefined) return undefined;
        return names.map((target) => ({ name: q.name, type: DnsType.PTR, ttl: ANSWER_TTL, data: target }));
      }
    }
    const found = this.#lookup.lookup(client, name);
    if (!found) return undefined;
    // The answer carries the name as asked (not lower-cased): resolvers that mix case (0x20) check it.
    const records = (type: number, addresses: string[], valid: (a: string) => boolean): DnsRecordInit[] =>
      addresses.filter((a) => {
        if (valid(a)) return true;
        this.#log(`dns: ignoring bad address ${JSON.stringify(a)} for ${name}`);
        return false;
      }).map((a) => ({ name: q.name, type, ttl: ANSWER_TTL, data: a }));
    if (q.type === DnsType.A) return records(DnsType.A, found.v4, net.isIPv4);
    if (q.type === DnsType.AAAA) return records(DnsType.AAAA, found.v6, net.isIPv6);
    // Our name, some other type (MX, TXT, SRV, ...): it exists, so NOERROR with nothing rather than NXDOMAIN.
    return [];
  }

  async #forward(
    l: Listener, raw: Buffer, query: DnsMessage, client: string, transport: Transport, maxSize: number,
  ): Promise<Buffer | undefined> {
    const servfail = (): Buffer => buildResponse(query, { rcode: Rcode.SERVFAIL, maxSize });
    let specs: string[];
    try {
      specs = this.#lookup.upstreams(client);
    } catch (err) {
      this.#log(`dns: upstreams for ${client}: ${err instanceof Error ? err.message : String(err)}`);
      specs = [];
    }
    const upstreams: Upstream[] = [];
    for (const spec of specs) {
      const u = parseUpstream(spec);
      if (!u) {
        this.#log(`dns: ignoring bad upstream ${JSON.stringify(spec)}`);
        continue;
      }
      // Forwarding to one of our own listeners would loop until every socket timed out.
      if ([...this.#listeners.values()].some((x) => x.port === u.port && sameHost(x.address, u.host))) continue;
      upstreams.push(u);
    }
    if (upstreams.length === 0) return servfail();
    if (this.#forwarding >= MAX_CONCURRENT_FORWARDS) {
      this.#log(`dns: more than ${MAX_CONCURRENT_FORWARDS} concurrent queries, answering SERVFAIL`);
      return servfail();
    }
    this.#forwarding++;
    try {
      for (const u of upstreams) {
        if (l.closed) return undefined;
        const ctl = new AbortController();
        l.forwards.add(ctl);
        let resp: Buffer | undefined;
        try {
          resp = transport === 'udp'
            ? await exchangeUdp(u, raw, this.#forwardTimeoutMs, ctl.signal)
            : await exchangeTcp(u, raw, this.#forwardTimeoutMs, ctl.signal);
        } finally {
          l.forwards.delete(ctl);
        }
        const where = `${transport}:${u.family === 6 ? `[${u.host}]` : u.host}:${u.port}`;
        if (!resp) {
          if (!l.closed) this.#log(`dns: upstream ${where} did not answer`);
          continue;
        }
        const h = parseHeader(resp);
        if (!h || !answersQuery(resp, query)) {
          this.#log(`dns: upstream ${where} sent an answer to another question`);
          continue;
        }
        // As Docker does: SERVFAIL may be one server's trouble and REFUSED is often transient, so try the next.
        if (h.rcode === Rcode.SERVFAIL || h.rcode === Rcode.REFUSED) {
          this.#log(`dns: upstream ${where} answered rcode ${h.rcode}`);
          continue;
        }
        if (resp.length <= maxSize) return resp;
        // Too big for the asker's UDP buffer and we cannot trim records we do not understand: TC tells it to
        // ask again over TCP, where the upstream answer is relayed whole.
        return buildResponse(query, { rcode: h.rcode, maxSize, truncated: true });
      }
      return l.closed ? undefined : servfail();
    } finally {
      this.#forwarding--;
    }
  }
}

// The upstream's response belongs to this query: same id, a response, and (when it echoes one) the same question.
function answersQuery(resp: Buffer, query: DnsMessage): boolean {
  const h = parseHeader(resp);
  if (!h || !h.qr || h.id !== query.header.id) return false;
  if (h.qdcount === 0) return h.rcode !== Rcode.NOERROR;
  let questions: DnsQuestion[];
  try {
    questions = parseQuestionSection(resp);
  } catch {
    return false;
  }
  const [a, b] = [questions[0], query.questions[0]];
  return a.type === b.type && a.class === b.class && a.name.toLowerCase() === b.name.toLowerCase();
}

// One UDP exchange from a fresh socket (a new random source port per query), accepting only a datagram from the
// upstream's address and port with the query's id.
function exchangeUdp(u: Upstream, query: Buffer, timeoutMs: number, signal: AbortSignal): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket(u.family === 6 ? 'udp6' : 'udp4');
    const id = query.readUInt16BE(0);
    let done = false;
    const finish = (resp: Buffer | undefined): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      try {
        sock.close();
      } catch {
        // already closed
      }
      resolve(resp);
    };
    const onAbort = (): void => finish(undefined);
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    signal.addEventListener('abort', onAbort);
    sock.on('error', () => finish(undefined));
    sock.on('message', (msg, rinfo) => {
      if (rinfo.port !== u.port || !sameHost(rinfo.address, u.host)) return;
      if (msg.length < 12 || msg.readUInt16BE(0) !== id) return;
      finish(msg);
    });
    if (signal.aborted) {
      finish(undefined);
      return;
    }
    // Connected, so that an upstream with nothing listening fails at once (ICMP port unreachable becomes
    // ECONNREFUSED) instead of after the timeout, as with Docker's resolver.
    sock.connect(u.port, u.host, () => {
      if (done) return;
      sock.send(query, (err) => {
        if (err) finish(undefined);
      });
    });
  });
}

function exchangeTcp(u: Upstream, query: Buffer, timeoutMs: number, signal: AbortSignal): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve(undefined);
      return;
    }
    const sock = net.connect({ host: u.host, port: u.port, family: u.family });
    let received: Buffer = Buffer.alloc(0);
    let done = false;
    const finish = (resp: Buffer | undefined): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      sock.destroy();
      resolve(resp);
    };
    const onAbort = (): void => finish(undefined);
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    signal.addEventListener('abort', onAbort);
    sock.on('error', () => finish(undefined));
    sock.on('close', () => finish(undefined));
    sock.on('connect', () => {
      const framed = Buffer.alloc(2 + query.length);
      framed.writeUInt16BE(query.length);
      query.copy(framed, 2);
      sock.write(framed);
    });
    sock.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 2) return;
      const len = received.readUInt16BE(0);
      if (received.length < 2 + len) return;
      const resp = received.subarray(2, 2 + len);
      finish(resp.length >= 12 && resp.readUInt16BE(0) === query.readUInt16BE(0) ? resp : undefined);
    });
  });
}
