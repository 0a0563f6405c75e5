// The DNS wire format (RFC 1035, EDNS0 from RFC 6891), only as much as the embedded DNS server needs: parse any
// query a container may send (hostile input included), build answers for A, AAAA and PTR, and map reverse names
// to addresses. Pure functions; no sockets here.
import { parseIpv4, formatIpv4, parseIpv6, formatIpv6, normalizeIp } from '../lib/ip.ts';

export const DnsType = {
  A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, OPT: 41, ANY: 255,
} as const;
export const DnsClass = { IN: 1 } as const;
export const Rcode = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

export const HEADER_SIZE = 12;
// The payload a plain UDP message may carry; EDNS0 lets the asker raise it (RFC 1035 4.2.1, RFC 6891 6.2.3).
export const MIN_UDP_SIZE = 512;
// What we advertise in our own OPT record: the size the 2020 DNS flag day settled on, safe from fragmentation.
export const ADVERTISED_UDP_SIZE = 1232;
const MAX_NAME_WIRE = 255;
const MAX_LABEL = 63;

export class DnsFormatError extends Error {
  override name = 'DnsFormatError';
}

export interface DnsHeader {
  id: number;
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  ad: boolean;
  cd: boolean;
  rcode: number;
  qdcount: number;
  ancount: number;
  nscount: number;
  arcount: number;
}

export interface DnsQuestion {
  // Presentation form without the trailing dot ('' is the root); bytes outside printable ASCII, '.' and '\'
  // inside a label are escaped as \DDD or \. so that any wire name survives a round trip.
  name: string;
  type: number;
  class: number;
}

export interface DnsRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  rdata: Buffer;
  // Decoded rdata for the types we understand: the address of A/AAAA, the target of PTR/CNAME/NS.
  data?: string;
}

export interface DnsEdns {
  udpSize: number;
  version: number;
  dnssecOk: boolean;
  extendedRcode: number;
}

export interface DnsMessage {
  header: DnsHeader;
  questions: DnsQuestion[];
  answers: DnsRecord[];
  authorities: DnsRecord[];
  additionals: DnsRecord[];
  // From the first OPT record of the additional section, when there is one.
  edns?: DnsEdns;
}

export interface DnsRecordInit {
  name: string;
  type: number;
  class?: number;
  ttl: number;
  // The address (A/AAAA) or target name (PTR/CNAME/NS); other types pass rdata instead.
  data?: string;
  rdata?: Buffer;
}

export interface DnsMessageInit {
  id: number;
  qr?: boolean;
  opcode?: number;
  aa?: boolean;
  tc?: boolean;
  rd?: boolean;
  ra?: boolean;
  ad?: boolean;
  cd?: boolean;
  rcode?: number;
  questions?: DnsQuestion[];
  answers?: DnsRecordInit[];
  authorities?: DnsRecordInit[];
  additionals?: DnsRecordInit[];
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing

export function parseHeader(buf: Uint8Array): DnsHeader | undefined {
  if (buf.length < HEADER_SIZE) return undefined;
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const flags = b.readUInt16BE(2);
  return {
    id: b.readUInt16BE(0),
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0,
    ad: (flags & 0x0020) !== 0,
    cd: (flags & 0x0010) !== 0,
    rcode: flags & 0xf,
    qdcount: b.readUInt16BE(4),
    ancount: b.readUInt16BE(6),
    nscount: b.readUInt16BE(8),
    arcount: b.readUInt16BE(10),
  };
}

function escapeLabel(buf: Uint8Array, start: number, end: number): string {
  let out = '';
  for (let i = start; i < end; i++) {
    const c = buf[i];
    if (c === 0x2e || c === 0x5c) out += '\\' + String.fromCharCode(c);
    else if (c < 0x21 || c > 0x7e) out += '\\' + String(c).padStart(3, '0');
    else out += String.fromCharCode(c);
  }
  return out;
}

// Reads a possibly compressed name. Every pointer must lead strictly before the start of the name segment it was
// found in (a compressor can only refer to what it already wrote), which rules out loops of any length without a
// jump counter; the 255-octet limit bounds the rest.
export function readName(buf: Uint8Array, offset: number): { name: string; next: number } {
  const labels: string[] = [];
  let pos = offset;
  let segmentStart = offset;
  let next = -1;
  let wireLength = 1;
  for (;;) {
    if (pos >= buf.length) throw new DnsFormatError('name runs past the end of the message');
    const len = buf[pos];
    if (len === 0) {
      if (next < 0) next = pos + 1;
      break;
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= buf.length) throw new DnsFormatError('compression pointer runs past the end of the message');
      const target = ((len & 0x3f) << 8) | buf[pos + 1];
      if (next < 0) next = pos + 2;
      if (target >= segmentStart) throw new DnsFormatError('compression pointer does not point backwards');
      pos = segmentStart = target;
      continue;
    }
    if (kind !== 0) throw new DnsFormatError('unsupported label type');
    if (pos + 1 + len > buf.length) throw new DnsFormatError('label runs past the end of the message');
    wireLength += len + 1;
    if (wireLength > MAX_NAME_WIRE) throw new DnsFormatError('name longer than 255 octets');
    labels.push(escapeLabel(buf, pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
  return { name: labels.join('.'), next };
}

function need(buf: Uint8Array, pos: number, n: number, what: string): void {
  if (pos + n > buf.length) throw new DnsFormatError(`${what} runs past the end of the message`);
}

function readQuestions(b: Buffer, header: DnsHeader): { questions: DnsQuestion[]; next: number } {
  const questions: DnsQuestion[] = [];
  let pos = HEADER_SIZE;
  for (let i = 0; i < header.qdcount; i++) {
    const { name, next } = readName(b, pos);
    need(b, next, 4, 'question');
    questions.push({ name, type: b.readUInt16BE(next), class: b.readUInt16BE(next + 2) });
    pos = next + 4;
  }
  return { questions, next: pos };
}

function readRecord(b: Buffer, pos: number): { record: DnsRecord; next: number } {
  const { name, next } = readName(b, pos);
  need(b, next, 10, 'resource record');
  const type = b.readUInt16BE(next);
  const cls = b.readUInt16BE(next + 2);
  const ttl = b.readUInt32BE(next + 4);
  const rdlength = b.readUInt16BE(next + 8);
  const start = next + 10;
  need(b, start, rdlength, 'record data');
  const rdata = b.subarray(start, start + rdlength);
  const record: DnsRecord = { name, type, class: cls, ttl, rdata };
  if (type === DnsType.A && rdlength === 4) record.data = formatIpv4(rdata);
  else if (type === DnsType.AAAA && rdlength === 16) record.data = formatIpv6(rdata);
  else if (type === DnsType.PTR || type === DnsType.CNAME || type === DnsType.NS) {
    // Names in rdata may point back into the message, so they are read against the whole buffer.
    const target = readName(b, start);
    if (target.next !== start + rdlength) throw new DnsFormatError('name does not fill its record data');
    record.data = target.name;
  }
  return { record, next: start + rdlength };
}

export function parseQuestionSection(buf: Uint8Array): DnsQuestion[] {
  const header = parseHeader(buf);
  if (!header) throw new DnsFormatError('message shorter than a DNS header');
  return readQuestions(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength), header).questions;
}

// Throws DnsFormatError for anything malformed. Bytes after the last counted record are ignored.
export function parseMessage(buf: Uint8Array): DnsMessage {
  const header = parseHeader(buf);
  if (!header) throw new DnsFormatError('message shorter than a DNS header');
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const { questions, next } = readQuestions(b, header);
  let pos = next;
  const section = (count: number): DnsRecord[] => {
    const out: DnsRecord[] = [];
    for (let i = 0; i < count; i++) {
      const r = readRecord(b, pos);
      out.push(r.record);
      pos = r.next;
    }
    return out;
  };
  const answers = section(header.ancount);
  const authorities = section(header.nscount);
  const additionals = section(header.arcount);
  const message: DnsMessage = { header, questions, answers, authorities, additionals };
  const opt = additionals.find((r) => r.type === DnsType.OPT);
  if (opt) {
    if (opt.name !== '') throw new DnsFormatError('OPT record not owned by the root');
    message.edns = {
      udpSize: opt.class,
      extendedRcode: opt.ttl >>> 24,
      version: (opt.ttl >>> 16) & 0xff,
      dnssecOk: (opt.ttl & 0x8000) !== 0,
    };
  }
  return message;
}

// ---------------------------------------------------------------------------------------------------------------
// Building

// Splits a presentation name into wire labels, undoing the escapes readName produces. A single trailing dot is
// accepted, so both 'web.mynet' and 'web.mynet.' mean the same absolute name.
export function nameToLabels(name: string): Buffer[] {
  if (name === '' || name === '.') return [];
  const labels: Buffer[] = [];
  let current: number[] = [];
  let total = 1;
  const finish = (): void => {
    if (current.length === 0) throw new DnsFormatError(`empty label in ${JSON.stringify(name)}`);
    if (current.length > MAX_LABEL) throw new DnsFormatError(`label longer than 63 octets in ${JSON.stringify(name)}`);
    total += current.length + 1;
    labels.push(Buffer.from(current));
    current = [];
  };
  for (let i = 0; i < name.length; i++) {
    const ch = name[i];
    if (ch === '.') {
      finish();
      continue;
    }
    if (ch === '\\') {
      const digits = name.slice(i + 1, i + 4);
      if (/^[0-9]{3}$/.test(digits) && Number(digits) <= 255) {
        current.push(Number(digits));
        i += 3;
      } else if (i + 1 < name.length) {
        current.push(...Buffer.from(name[i + 1], 'utf8'));
        i += 1;
      } else {
        throw new DnsFormatError(`dangling escape in ${JSON.stringify(name)}`);
      }
      continue;
    }
    current.push(...Buffer.from(ch, 'utf8'));
  }
  if (current.length > 0) finish();
  else if (!name.endsWith('.')) throw new DnsFormatError(`empty label in ${JSON.stringify(name)}`);
  if (total > MAX_NAME_WIRE) throw new DnsFormatError(`name longer than 255 octets: ${JSON.stringify(name)}`);
  return labels;
}

// Appends to a growing list of chunks, remembering where each name suffix was written so later names can point to
// it (RFC 1035 4.1.4). Suffixes are matched byte for byte, so a question's spelling (0x20 case mixing) is kept.
class Writer {
  chunks: Buffer[] = [];
  length = 0;
  #suffixes = new Map<string, number>();

  push(b: Buffer): void {
    this.chunks.push(b);
    this.length += b.length;
  }

  u16(n: number): void {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(n & 0xffff);
    this.push(b);
  }

  u32(n: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n >>> 0);
    this.push(b);
  }

  name(name: string, compress: boolean): void {
    const labels = nameToLabels(name);
    for (let i = 0; i < labels.length; i++) {
      const key = labels.slice(i).map((l) => l.toString('hex')).join('.');
      const at = compress ? this.#suffixes.get(key) : undefined;
      if (at !== undefined) {
        this.u16(0xc000 | at);
        return;
      }
      if (this.length < 0x4000) this.#suffixes.set(key, this.length);
      this.push(Buffer.from([labels[i].length]));
      this.push(labels[i]);
    }
    this.push(Buffer.from([0]));
  }

  finish(): Buffer {
    return Buffer.concat(this.chunks, this.length);
  }
}

function writeRecord(w: Writer, r: DnsRecordInit): void {
  w.name(r.name, true);
  w.u16(r.type);
  w.u16(r.class ?? DnsClass.IN);
  w.u32(r.ttl);
  if (r.rdata) {
    w.u16(r.rdata.length);
    w.push(r.rdata);
    return;
  }
  const data = r.data ?? '';
  if (r.type === DnsType.A) {
    const bytes = parseIpv4(data);
    if (!bytes) throw new DnsFormatError(`not an IPv4 address: ${JSON.stringify(data)}`);
    w.u16(4);
    w.push(bytes);
  } else if (r.type === DnsType.AAAA) {
    const bytes = parseIpv6(data);
    if (!bytes) throw new DnsFormatError(`not an IPv6 address: ${JSON.stringify(data)}`);
    w.u16(16);
    w.push(bytes);
  } else if (r.type === DnsType.PTR || r.type === DnsType.CNAME || r.type === DnsType.NS) {
    // The length is only known after the (compressed) name is written, so patch it in afterwards.
    const lengthChunk = Buffer.alloc(2);
    w.push(lengthChunk);
    const before = w.length;
    w.name(data, true);
    lengthChunk.writeUInt16BE(w.length - before);
  } else {
    throw new DnsFormatError(`no rdata for record type ${r.type}`);
  }
}

export function encodeMessage(m: DnsMessageInit): Buffer {
  const w = new Writer();
  const questions = m.questions ?? [];
  const answers = m.answers ?? [];
  const authorities = m.authorities ?? [];
  const additionals = m.additionals ?? [];
  w.u16(m.id);
  let flags = ((m.opcode ?? 0) & 0xf) << 11 | ((m.rcode ?? 0) & 0xf);
  if (m.qr) flags |= 0x8000;
  if (m.aa) flags |= 0x0400;
  if (m.tc) flags |= 0x0200;
  if (m.rd) flags |= 0x0100;
  if (m.ra) flags |= 0x0080;
  if (m.ad) flags |= 0x0020;
  if (m.cd) flags |= 0x0010;
  w.u16(flags);
  w.u16(questions.length);
  w.u16(answers.length);
  w.u16(authorities.length);
  w.u16(additionals.length);
  for (const q of questions) {
    w.name(q.name, true);
    w.u16(q.type);
    w.u16(q.class);
  }
  for (const r of answers) writeRecord(w, r);
  for (const r of authorities) writeRecord(w, r);
  for (const r of additionals) writeRecord(w, r);
  return w.finish();
}

// The largest UDP answer the asker accepts: 512 unless its OPT record says more (never less, RFC 6891 6.2.5).
export function udpSizeLimit(query: DnsMessage): number {
  if (!query.edns) return MIN_UDP_SIZE;
  return Math.min(Math.max(query.edns.udpSize, MIN_UDP_SIZE), 65535);
}

export interface ResponseOptions {
  rcode?: number;
  answers?: DnsRecordInit[];
  // The response must fit in this many bytes; answers that do not fit are dropped and TC is set.
  maxSize?: number;
  // Set TC even when everything fits (relaying an upstream answer we could not pass on whole).
  truncated?: boolean;
}

// A response to a parsed query the way Docker's resolver answers: QR and RA set, RD copied, AA clear, the
// question echoed as asked; an OPT record when the query had one (RFC 6891 7).
export function buildResponse(query: DnsMessage, opts: ResponseOptions = {}): Buffer {
  const answers = opts.answers ?? [];
  const maxSize = opts.maxSize ?? 65535;
  const additionals: DnsRecordInit[] = query.edns
    ? [{ name: '', type: DnsType.OPT, class: ADVERTISED_UDP_SIZE, ttl: 0, rdata: Buffer.alloc(0) }]
    : [];
  const build = (kept: DnsRecordInit[], tc: boolean): Buffer => encodeMessage({
    id: query.header.id,
    qr: true,
    opcode: query.header.opcode,
    rd: query.header.rd,
    ra: true,
    cd: query.header.cd,
    tc,
    rcode: opts.rcode ?? Rcode.NOERROR,
    questions: query.questions,
    answers: kept,
    additionals,
  });
  let out = build(answers, opts.truncated ?? false);
  if (out.length <= maxSize) return out;
  // Fewer answers: find the most that fit (answers compress against the question, so each costs about the same).
  let lo = 0;
  let hi = answers.length - 1;
  let best = build([], true);
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const candidate = build(answers.slice(0, mid), true);
    if (candidate.length <= maxSize) {
      best = candidate;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return best;
}

// For a query that could not be parsed past its header: FORMERR with the same id and no question.
export function formatErrorResponse(header: DnsHeader): Buffer {
  return encodeMessage({ id: header.id, qr: true, opcode: header.opcode, rd: header.rd, ra: true, rcode: Rcode.FORMERR });
}

// ---------------------------------------------------------------------------------------------------------------
// Addresses (parsing and formatting live in lib/ip.ts, shared with the CLI)

export { parseIpv4, formatIpv4, parseIpv6, formatIpv6, normalizeIp };

// '2.0.18.172.in-addr.arpa' -> '172.18.0.2'; 32 nibbles under ip6.arpa -> the RFC 5952 address. Names that are not
// a full address (a zone such as '18.172.in-addr.arpa') give undefined.
export function reverseNameToIp(name: string): string | undefined {
  const n = name.toLowerCase().replace(/\.$/, '');
  if (n.endsWith('.in-addr.arpa')) {
    const parts = n.slice(0, -'.in-addr.arpa'.length).split('.');
    if (parts.length !== 4) return undefined;
    const bytes = parseIpv4(parts.reverse().join('.'));
    return bytes ? formatIpv4(bytes) : undefined;
  }
  if (n.endsWith('.ip6.arpa')) {
    const nibbles = n.slice(0, -'.ip6.arpa'.length).split('.');
    if (nibbles.length !== 32 || !nibbles.every((x) => /^[0-9a-f]$/.test(x))) return undefined;
    const hex = nibbles.reverse().join('');
    return formatIpv6(Buffer.from(hex, 'hex'));
  }
  return undefined;
}

export function ipToReverseName(ip: string): string | undefined {
  const v4 = parseIpv4(ip);
  if (v4) return `${v4[3]}.${v4[2]}.${v4[1]}.${v4[0]}.in-addr.arpa`;
  const v6 = parseIpv6(ip);
  if (!v6) return undefined;
  return `${[...v6.toString('hex')].reverse().join('.')}.ip6.arpa`;
}
