import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import {
  DnsFormatError, DnsType, Rcode, buildResponse, encodeMessage, formatIpv6, ipToReverseName, nameToLabels,
  parseIpv6, parseMessage, readName, reverseNameToIp, udpSizeLimit,
  type DnsMessage,
} from './dns-message.ts';
import { EmbeddedDns, parseUpstream, type DnsLookup } from './dns.ts';

// Only loopback is ever used: servers bind 127.0.0.1 on random high ports, and every packet goes there.
const LOOPBACK = '127.0.0.1';

function query(name: string, type: number, opts: { id?: number; rd?: boolean; edns?: number } = {}): Buffer {
  return encodeMessage({
    id: opts.id ?? 0x1234,
    rd: opts.rd ?? true,
    questions: [{ name, type, class: 1 }],
    additionals: opts.edns ? [{ name: '', type: DnsType.OPT, class: opts.edns, ttl: 0, rdata: Buffer.alloc(0) }] : [],
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Codec

test('codec: a hand-written response with compressed names parses', () => {
  const msg = Buffer.from([
    0xab, 0xcd, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0,
    // question: web.mynet A IN, at offset 12
    3, 0x77, 0x65, 0x62, 5, 0x6d, 0x79, 0x6e, 0x65, 0x74, 0, 0, 1, 0, 1,
    // answer 1: pointer to 12, A, IN, TTL 600, 172.18.0.2
    0xc0, 12, 0, 1, 0, 1, 0, 0, 0x02, 0x58, 0, 4, 172, 18, 0, 2,
    // answer 2: "db" + pointer to "mynet" at 16, CNAME -> pointer to 12
    2, 0x64, 0x62, 0xc0, 16, 0, 5, 0, 1, 0, 0, 0, 60, 0, 2, 0xc0, 12,
  ]);
  const m = parseMessage(msg);
  assert.equal(m.header.id, 0xabcd);
  assert.equal(m.header.qr, true);
  assert.equal(m.header.rd, true);
  assert.equal(m.header.ra, true);
  assert.deepEqual(m.questions, [{ name: 'web.mynet', type: 1, class: 1 }]);
  assert.equal(m.answers[0].name, 'web.mynet');
  assert.equal(m.answers[0].ttl, 600);
  assert.equal(m.answers[0].data, '172.18.0.2');
  assert.equal(m.answers[1].name, 'db.mynet');
  assert.equal(m.answers[1].data, 'web.mynet');
});

test('codec: encode and parse round trip, with compression against the question as spelt', () => {
  const q = parseMessage(query('WeB.MyNet', DnsType.AAAA, { id: 7, edns: 4096 }));
  assert.equal(q.edns?.udpSize, 4096);
  assert.equal(udpSizeLimit(q), 4096);
  const out = buildResponse(q, { answers: [{ name: 'WeB.MyNet', type: DnsType.AAAA, ttl: 600, data: 'fd00::2' }] });
  const r = parseMessage(out);
  assert.equal(r.header.id, 7);
  assert.equal(r.header.qr, true);
  assert.equal(r.header.aa, false);
  assert.equal(r.header.ra, true);
  assert.equal(r.header.rd, true);
  assert.deepEqual(r.questions, [{ name: 'WeB.MyNet', type: DnsType.AAAA, class: 1 }]);
  assert.equal(r.answers[0].name, 'WeB.MyNet');
  assert.equal(r.answers[0].data, 'fd00::2');
  assert.equal(r.edns?.udpSize, 1232, 'an OPT record answers an OPT record');
  // The answer's owner is a 2-byte pointer: 12 header + 15 question + (2+2+2+4+2+16) answer + 11 OPT.
  assert.equal(out.length, 12 + 15 + 28 + 11);
});

test('codec: escaped labels survive a round trip', () => {
  const wire = Buffer.from([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 0x61, 0x2e, 0x00, 1, 0x5c, 0, 0, 1, 0, 1]);
  const m = parseMessage(wire);
  assert.equal(m.questions[0].name, 'a\\.\\000.\\\\');
  const again = encodeMessage({ id: 0, questions: m.questions });
  assert.deepEqual(again, wire);
  assert.deepEqual(nameToLabels('web.mynet.').map(String), ['web', 'mynet']);
  assert.deepEqual(nameToLabels('.'), []);
  assert.throws(() => nameToLabels('a..b'), DnsFormatError);
  assert.throws(() => nameToLabels('x'.repeat(64)), DnsFormatError);
  assert.throws(() => nameToLabels(Array(128).fill('a').join('.')), DnsFormatError);
});

test('codec: hostile names are rejected, never looped on', () => {
  const header = [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
  const bad: [string, number[]][] = [
    ['pointer to itself', [0xc0, 12, 0, 1, 0, 1]],
    ['pointer forwards', [0xc0, 14, 0, 0, 1, 0, 1]],
    ['two-step loop', [1, 0x61, 0xc0, 16, 1, 0x62, 0xc0, 12, 0, 1, 0, 1]],
    ['label past the end', [10, 0x61, 0x62]],
    ['name without its end', [1, 0x61]],
    ['cut pointer', [0xc0]],
    ['reserved label type 0x40', [0x41, 0x61, 0, 0, 1, 0, 1]],
    ['reserved label type 0x80', [0x81, 0x61, 0, 0, 1, 0, 1]],
    ['question cut short', [1, 0x61, 0, 0, 1]],
  ];
  for (const [what, body] of bad) {
    assert.throws(() => parseMessage(Buffer.from([...header, ...body])), DnsFormatError, what);
  }
  // 5 labels of 63 make 321 octets: over the 255 limit even when built from pointers.
  const long: number[] = [];
  for (let i = 0; i < 5; i++) long.push(63, ...Array(63).fill(0x61));
  assert.throws(() => parseMessage(Buffer.from([...header, ...long, 0, 0, 1, 0, 1])), /255/);
  assert.throws(() => parseMessage(Buffer.from([1, 2, 3])), DnsFormatError);
  // Counts far beyond the bytes present.
  assert.throws(() => parseMessage(Buffer.from([0, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0])), DnsFormatError);
  assert.throws(() => readName(Buffer.from([]), 0), DnsFormatError);
  // Fuzz: random and bit-flipped packets only ever throw DnsFormatError.
  const good = query('web.mynet', DnsType.A, { edns: 1232 });
  let seed = 42;
  const rand = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  for (let i = 0; i < 5000; i++) {
    const b = i % 2 ? Buffer.from(good) : Buffer.alloc(Math.floor(rand() * 64));
    for (let j = 0; j < 1 + rand() * 6; j++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
    try {
      parseMessage(b);
    } catch (err) {
      assert.ok(err instanceof DnsFormatError, String(err));
    }
  }
});

test('codec: truncation keeps what fits and sets TC', () => {
  const q = parseMessage(query('many', DnsType.A));
  const answers = Array.from({ length: 100 }, (_, i) => ({ name: 'many', type: DnsType.A, ttl: 600, data: `10.0.0.${i}` }));
  const small = buildResponse(q, { answers, maxSize: 512 });
  assert.ok(small.length <= 512);
  const r = parseMessage(small);
  assert.equal(r.header.tc, true);
  assert.ok(r.answers.length > 20 && r.answers.length < 100, String(r.answers.length));
  assert.equal(parseMessage(buildResponse(q, { answers, maxSize: 65535 })).header.tc, false);
});

test('addresses: reverse names, RFC 5952 formatting, upstream specs', () => {
  assert.equal(reverseNameToIp('2.0.18.172.in-addr.arpa'), '172.18.0.2');
  assert.equal(reverseNameToIp('2.0.18.172.IN-ADDR.ARPA.'), '172.18.0.2');
  assert.equal(reverseNameToIp('18.172.in-addr.arpa'), undefined);
  assert.equal(reverseNameToIp('256.0.18.172.in-addr.arpa'), undefined);
  assert.equal(reverseNameToIp('web.mynet'), undefined);
  const v6 = ipToReverseName('fd00::2');
  assert.equal(v6, '2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa');
  assert.equal(reverseNameToIp(v6 ?? ''), 'fd00::2');
  assert.equal(ipToReverseName('172.18.0.2'), '2.0.18.172.in-addr.arpa');
  const fmt = (s: string): string | undefined => {
    const b = parseIpv6(s);
    return b && formatIpv6(b);
  };
  assert.equal(fmt('2001:0db8:0000:0000:0000:0000:0000:0001'), '2001:db8::1');
  assert.equal(fmt('2001:db8:0:1:0:0:0:1'), '2001:db8:0:1::1');
  assert.equal(fmt('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1');
  assert.equal(fmt('2001:db8:1:1:1:1:0:1'), '2001:db8:1:1:1:1:0:1');
  assert.equal(fmt('::'), '::');
  assert.equal(fmt('::ffff:1.2.3.4'), '::ffff:102:304');
  assert.equal(fmt('1::2::3'), undefined);
  assert.equal(fmt('1.2.3.4::'), undefined);
  assert.equal(fmt('1:2:3:4:5:6:7'), undefined);
  assert.deepEqual(parseUpstream('1.2.3.4'), { host: '1.2.3.4', port: 53, family: 4 });
  assert.deepEqual(parseUpstream('1.2.3.4:5353'), { host: '1.2.3.4', port: 5353, family: 4 });
  assert.deepEqual(parseUpstream('[::1]:53'), { host: '::1', port: 53, family: 6 });
  assert.deepEqual(parseUpstream('[::1]'), { host: '::1', port: 53, family: 6 });
  assert.deepEqual(parseUpstream('::1'), { host: '::1', port: 53, family: 6 });
  assert.equal(parseUpstream('1.2.3.4:0'), undefined);
  assert.equal(parseUpstream('1.2.3.4:99999'), undefined);
  assert.equal(parseUpstream('dns.example'), undefined);
});

// ---------------------------------------------------------------------------------------------------------------
// Real sockets on 127.0.0.1

function randomPort(): number {
  return 20000 + Math.floor(Math.random() * 40000);
}

// Binds on a random high port, trying another when one is taken.
async function onFreePort(bind: (port: number) => Promise<void>): Promise<number> {
  for (let i = 0; ; i++) {
    const port = randomPort();
    try {
      await bind(port);
      return port;
    } catch (err) {
      if (i >= 20 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    }
  }
}

function askUdp(port: number, msg: Buffer, timeoutMs = 3000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error('no answer'));
    }, timeoutMs);
    sock.on('message', (resp) => {
      clearTimeout(timer);
      sock.close();
      resolve(resp);
    });
    sock.send(msg, port, LOOPBACK);
  });
}

// Sends the messages on one TCP connection (each behind its 2-byte length, written in awkward pieces) and collects
// as many answers.
function askTcp(port: number, msgs: Buffer[]): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: LOOPBACK, port });
    const answers: Buffer[] = [];
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`only ${answers.length} answers`));
    }, 5000);
    sock.on('error', reject);
    sock.on('connect', () => {
      const all = Buffer.concat(msgs.map((m) => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(m.length);
        return Buffer.concat([len, m]);
      }));
      sock.write(all.subarray(0, 1));
      setTimeout(() => sock.write(all.subarray(1, 7)), 20);
      setTimeout(() => sock.write(all.subarray(7)), 40);
    });
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        answers.push(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        buf = buf.subarray(2 + buf.readUInt16BE(0));
      }
      if (answers.length === msgs.length) {
        clearTimeout(timer);
        sock.destroy();
        resolve(answers);
      }
    });
  });
}

// A stand-in for the outside resolver: answers every A question with 9.9.9.9 (or a chosen rcode), on UDP and TCP.
interface FakeUpstream {
  port: number;
  seen: { transport: string; msg: DnsMessage; raw: Buffer }[];
  close(): Promise<void>;
}

async function fakeUpstream(opts: { rcode?: number; silent?: boolean; bigAnswer?: boolean } = {}): Promise<FakeUpstream> {
  const seen: { transport: string; msg: DnsMessage; raw: Buffer }[] = [];
  const respond = (raw: Buffer): Buffer => {
    const q = parseMessage(raw);
    const count = opts.bigAnswer ? 60 : 1;
    const answers = opts.rcode ? [] : Array.from({ length: count }, (_, i) => ({
      name: q.questions[0].name, type: DnsType.A, ttl: 42, data: `9.9.9.${9 + i}`,
    }));
    return encodeMessage({
      id: q.header.id, qr: true, rd: q.header.rd, ra: true, aa: true, rcode: opts.rcode ?? 0,
      questions: q.questions, answers,
    });
  };
  const udp = dgram.createSocket('udp4');
  const tcp = net.createServer((sock) => {
    let buf = Buffer.alloc(0);
    sock.on('error', () => {});
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
      const raw = buf.subarray(2, 2 + buf.readUInt16BE(0));
      seen.push({ transport: 'tcp', msg: parseMessage(raw), raw: Buffer.from(raw) });
      if (opts.silent) return;
      const resp = respond(raw);
      const len = Buffer.alloc(2);
      len.writeUInt16BE(resp.length);
      sock.end(Buffer.concat([len, resp]));
    });
  });
  udp.on('message', (raw, rinfo) => {
    seen.push({ transport: 'udp', msg: parseMessage(raw), raw });
    if (!opts.silent) udp.send(respond(raw), rinfo.port, rinfo.address);
  });
  const port = await onFreePort(async (p) => {
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(p, LOOPBACK, () => resolve());
    });
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', (err) => {
        udp.close();
        reject(err);
      });
      tcp.listen(p, LOOPBACK, () => resolve());
    });
  });
  return {
    port,
    seen,
    close: async () => {
      await new Promise<void>((r) => udp.close(() => r()));
      await new Promise<void>((r) => tcp.close(() => r()));
    },
  };
}

// The fake Berth: 127.0.0.1 plays a container on 'mynet' with web (v4+v6), db (v4 only) and a name with many
// addresses.
let upstreamList: string[] = [];
const lookups: string[] = [];
const fakeLookup: DnsLookup = {
  lookup(clientIp, name) {
    assert.equal(clientIp, LOOPBACK);
    lookups.push(name);
    if (name === 'web' || name === 'web.mynet') return { v4: ['172.18.0.2'], v6: ['fd00::2'] };
    if (name === 'db') return { v4: ['172.18.0.3'], v6: [] };
    if (name === 'many') return { v4: Array.from({ length: 60 }, (_, i) => `172.18.1.${i}`), v6: [] };
    if (name === 'boom') throw new Error('lookup exploded');
    return undefined;
  },
  reverse(_clientIp, ip) {
    if (ip === '172.18.0.2' || ip === 'fd00::2') return ['web.mynet'];
    return undefined;
  },
  upstreams: () => upstreamList,
};

const logs: string[] = [];
const dns = new EmbeddedDns(fakeLookup, { log: (m) => logs.push(m), forwardTimeoutMs: 300 });
const upstreams: FakeUpstream[] = [];
after(async () => {
  await dns.closeAll();
  await Promise.all(upstreams.map((u) => u.close()));
});

let dnsPort = 0;
async function server(): Promise<number> {
  if (!dnsPort) dnsPort = await onFreePort((p) => dns.listen(LOOPBACK, p));
  return dnsPort;
}

test('server: A and AAAA for our names, TTL 600, RD copied, RA set, AA clear, question echoed', async () => {
  const port = await server();
  assert.deepEqual(dns.addresses, [LOOPBACK]);
  const a = parseMessage(await askUdp(port, query('WEB', DnsType.A, { id: 99 })));
  assert.equal(a.header.id, 99);
  assert.equal(a.header.qr, true);
  assert.equal(a.header.rd, true);
  assert.equal(a.header.ra, true);
  assert.equal(a.header.aa, false);
  assert.equal(a.header.rcode, Rcode.NOERROR);
  assert.deepEqual(a.questions, [{ name: 'WEB', type: DnsType.A, class: 1 }]);
  assert.deepEqual(a.answers.map((r) => [r.name, r.type, r.ttl, r.data]), [['WEB', DnsType.A, 600, '172.18.0.2']]);
  assert.ok(lookups.includes('web'), 'the lookup sees the name lower-cased');

  const aaaa = parseMessage(await askUdp(port, query('web.mynet.', DnsType.AAAA, { rd: false })));
  assert.equal(aaaa.header.rd, false);
  assert.deepEqual(aaaa.answers.map((r) => r.data), ['fd00::2']);
});

test('server: our name without an address of that family, or asked another type: NOERROR, no answers', async () => {
  const port = await server();
  for (const type of [DnsType.AAAA, DnsType.MX, DnsType.TXT, DnsType.SRV]) {
    const r = parseMessage(await askUdp(port, query('db', type)));
    assert.equal(r.header.rcode, Rcode.NOERROR, `type ${type}`);
    assert.equal(r.answers.length, 0);
  }
});

test('server: PTR for IPv4 and IPv6 addresses', async () => {
  const port = await server();
  const v4 = parseMessage(await askUdp(port, query('2.0.18.172.in-addr.arpa', DnsType.PTR)));
  assert.deepEqual(v4.answers.map((r) => [r.name, r.type, r.ttl, r.data]),
    [['2.0.18.172.in-addr.arpa', DnsType.PTR, 600, 'web.mynet']]);
  const v6 = parseMessage(await askUdp(port, query(ipToReverseName('fd00::2') ?? '', DnsType.PTR)));
  assert.deepEqual(v6.answers.map((r) => r.data), ['web.mynet']);
});

test('server: names that are not ours are forwarded verbatim; a silent upstream is skipped; none answering is SERVFAIL', async () => {
  const port = await server();
  const silent = await fakeUpstream({ silent: true });
  const refusing = await fakeUpstream({ rcode: Rcode.REFUSED });
  const good = await fakeUpstream();
  upstreams.push(silent, refusing, good);

  upstreamList = [`${LOOPBACK}:${silent.port}`, `${LOOPBACK}:${refusing.port}`, `${LOOPBACK}:${good.port}`];
  const sent = query('example.com', DnsType.A, { id: 0x4242 });
  const r = parseMessage(await askUdp(port, sent));
  assert.equal(r.header.id, 0x4242);
  assert.equal(r.header.aa, true, 'the upstream answer is relayed as it came');
  assert.deepEqual(r.answers.map((x) => [x.data, x.ttl]), [['9.9.9.9', 42]]);
  for (const u of [silent, refusing, good]) {
    assert.equal(u.seen.length, 1, 'each upstream is asked once, in order');
    assert.deepEqual(u.seen[0].raw, sent, 'the query goes upstream byte for byte');
  }
  // Other types for names that are not ours go upstream too.
  const mx = parseMessage(await askUdp(port, query('example.com', DnsType.MX)));
  assert.equal(mx.header.rcode, Rcode.NOERROR);
  assert.equal(good.seen.at(-1)?.msg.questions[0].type, DnsType.MX);
  // A PTR for an address that is not ours as well.
  await askUdp(port, query('8.8.8.8.in-addr.arpa', DnsType.PTR));
  assert.equal(good.seen.at(-1)?.msg.questions[0].name, '8.8.8.8.in-addr.arpa');

  upstreamList = [`${LOOPBACK}:${silent.port}`, `${LOOPBACK}:${refusing.port}`];
  const fail = parseMessage(await askUdp(port, query('example.org', DnsType.A, { id: 5 })));
  assert.equal(fail.header.id, 5);
  assert.equal(fail.header.rcode, Rcode.SERVFAIL);
  assert.deepEqual(fail.questions, [{ name: 'example.org', type: DnsType.A, class: 1 }]);

  upstreamList = [];
  assert.equal(parseMessage(await askUdp(port, query('example.net', DnsType.A))).header.rcode, Rcode.SERVFAIL);
  // Our own listener is never an upstream (it would loop).
  upstreamList = [`${LOOPBACK}:${port}`];
  assert.equal(parseMessage(await askUdp(port, query('example.net', DnsType.A))).header.rcode, Rcode.SERVFAIL);
  assert.ok(logs.some((l) => l.includes('did not answer')));
});

test('server: TCP, several queries on one connection, forwarded over TCP', async () => {
  const port = await server();
  const good = await fakeUpstream();
  upstreams.push(good);
  upstreamList = [`${LOOPBACK}:${good.port}`];
  const answers = await askTcp(port, [
    query('web', DnsType.A, { id: 1 }),
    query('example.com', DnsType.A, { id: 2 }),
    query('many', DnsType.A, { id: 3 }),
  ]);
  const byId = new Map(answers.map((b) => {
    const m = parseMessage(b);
    return [m.header.id, m];
  }));
  assert.deepEqual(byId.get(1)?.answers.map((r) => r.data), ['172.18.0.2']);
  assert.deepEqual(byId.get(2)?.answers.map((r) => r.data), ['9.9.9.9']);
  assert.equal(byId.get(3)?.answers.length, 60, 'TCP carries the whole answer');
  assert.equal(byId.get(3)?.header.tc, false);
  assert.deepEqual(good.seen.map((s) => s.transport), ['tcp']);
});

test('server: UDP answers over 512 bytes (or the EDNS size) are truncated with TC', async () => {
  const port = await server();
  const raw = await askUdp(port, query('many', DnsType.A));
  assert.ok(raw.length <= 512);
  const small = parseMessage(raw);
  assert.equal(small.header.tc, true);
  assert.ok(small.answers.length > 0 && small.answers.length < 60);
  const big = parseMessage(await askUdp(port, query('many', DnsType.A, { edns: 4096 })));
  assert.equal(big.header.tc, false);
  assert.equal(big.answers.length, 60);
  assert.equal(big.edns?.udpSize, 1232);

  // A relayed answer too big for the asker: TC and the question, so it asks again over TCP.
  const bigUpstream = await fakeUpstream({ bigAnswer: true });
  upstreams.push(bigUpstream);
  upstreamList = [`${LOOPBACK}:${bigUpstream.port}`];
  const relayed = parseMessage(await askUdp(port, query('big.example', DnsType.A, { id: 77 })));
  assert.equal(relayed.header.id, 77);
  assert.equal(relayed.header.tc, true);
  assert.deepEqual(relayed.questions, [{ name: 'big.example', type: DnsType.A, class: 1 }]);
  const whole = parseMessage((await askTcp(port, [query('big.example', DnsType.A, { id: 78 })]))[0]);
  assert.equal(whole.answers.length, 60);
});

test('server: hostile packets are dropped or answered FORMERR and the server keeps going', async () => {
  const port = await server();
  // Too short for a header, and a response rather than a query: no answer at all.
  await assert.rejects(askUdp(port, Buffer.from([1, 2, 3]), 300), /no answer/);
  const response = encodeMessage({ id: 3, qr: true, questions: [{ name: 'web', type: 1, class: 1 }] });
  await assert.rejects(askUdp(port, response, 300), /no answer/);
  // A compression loop: FORMERR with the id.
  const loop = Buffer.from([0, 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
  const r = parseMessage(await askUdp(port, loop));
  assert.equal(r.header.id, 9);
  assert.equal(r.header.rcode, Rcode.FORMERR);
  // Two questions: FORMERR; an unknown opcode: NOTIMP.
  const two = encodeMessage({ id: 10, questions: [{ name: 'a', type: 1, class: 1 }, { name: 'b', type: 1, class: 1 }] });
  assert.equal(parseMessage(await askUdp(port, two)).header.rcode, Rcode.FORMERR);
  const status = encodeMessage({ id: 11, opcode: 2, questions: [{ name: 'web', type: 1, class: 1 }] });
  assert.equal(parseMessage(await askUdp(port, status)).header.rcode, Rcode.NOTIMP);
  // A DnsLookup that throws: SERVFAIL, logged.
  assert.equal(parseMessage(await askUdp(port, query('boom', DnsType.A))).header.rcode, Rcode.SERVFAIL);
  assert.ok(logs.some((l) => l.includes('lookup exploded')));
  // Garbage over TCP, then a proper query on a new connection.
  await new Promise<void>((resolve) => {
    const s = net.connect({ host: LOOPBACK, port }, () => s.end(Buffer.from([0, 3, 1, 2, 3, 0xff])));
    s.on('close', () => resolve());
    s.on('error', () => resolve());
    s.resume();
  });
  // Random datagrams, fire and forget: nothing may escape the handler.
  const fuzz = dgram.createSocket('udp4');
  let seed = 7;
  const rand = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const base = query('web', DnsType.A, { edns: 1232 });
  for (let i = 0; i < 300; i++) {
    const b = i % 2 ? Buffer.from(base) : Buffer.alloc(Math.floor(rand() * 40));
    for (let j = 0; j < 1 + rand() * 4; j++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
    b[2] &= 0x7f; // keep them queries (QR clear), so they reach the parser
    if (b.length >= 4) b[3] &= 0xf0;
    await new Promise<void>((r) => fuzz.send(b, port, LOOPBACK, () => r()));
    // Send callbacks for literal addresses come back on nextTick; without a turn of the event loop the server
    // would never read, its socket buffer would overflow and the kernel would drop the rest.
    await new Promise((r) => setImmediate(r));
  }
  fuzz.close();
  // UDP may lose a datagram on a loaded machine; a resolver retries, and so does this check.
  let reply: Buffer | undefined;
  for (let i = 0; i < 3 && !reply; i++) reply = await askUdp(port, query('web', DnsType.A)).catch(() => undefined);
  assert.ok(reply, 'the server still answers after the fuzzing');
  const ok = parseMessage(reply);
  assert.deepEqual(ok.answers.map((x) => x.data), ['172.18.0.2']);
});

test('server: listen is idempotent per address, a taken port rejects, close stops answering', async () => {
  const port = await server();
  await dns.listen(LOOPBACK, port);
  await dns.listen(LOOPBACK);
  assert.deepEqual(dns.addresses, [LOOPBACK]);
  const other = new EmbeddedDns(fakeLookup);
  await assert.rejects(other.listen(LOOPBACK, port), { code: 'EADDRINUSE' });
  assert.deepEqual(other.addresses, []);

  const second = new EmbeddedDns(fakeLookup);
  const p = await onFreePort((x) => second.listen(LOOPBACK, x));
  assert.equal(parseMessage(await askUdp(p, query('db', DnsType.A))).answers[0].data, '172.18.0.3');
  // Closing does not wait for a forward in flight (the default timeout is 2 s).
  const silent = await fakeUpstream({ silent: true });
  upstreams.push(silent);
  upstreamList = [`${LOOPBACK}:${silent.port}`];
  const unanswered = askUdp(p, query('slow.example', DnsType.A), 300).catch(() => undefined);
  while (silent.seen.length === 0) await new Promise((r) => setTimeout(r, 10));
  const started = Date.now();
  await second.close(LOOPBACK);
  assert.ok(Date.now() - started < 1000, `close took ${Date.now() - started} ms`);
  assert.equal(await unanswered, undefined);
  assert.deepEqual(second.addresses, []);
  await assert.rejects(askUdp(p, query('db', DnsType.A), 300), /no answer/);
  await second.close(LOOPBACK);
  // The port is free again.
  await second.listen(LOOPBACK, p);
  await second.closeAll();
});
