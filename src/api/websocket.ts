// A minimal RFC 6455 server side, for /containers/{id}/attach/ws: the handshake, then a Duplex whose writes
// go out as binary frames and whose reads are the client's (masked) data frames. Ping, pong and close are
// handled here; fragmented messages are joined by simply passing each fragment's payload on.
import { createHash } from 'node:crypto';
import { Duplex } from 'node:stream';
import type { Ctx } from './router.ts';
import { commonHeaders } from './router.ts';
import { invalidParameter } from '../lib/errors.ts';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

function encodeFrame(opcode: number, payload: Buffer): Buffer {
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0x80 | opcode, n]) : n < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  if (n >= 126) {
    head[0] = 0x80 | opcode;
    if (n < 65536) {
      head[1] = 126;
      head.writeUInt16BE(n, 2);
    } else {
      head[1] = 127;
      head.writeBigUInt64BE(BigInt(n), 2);
    }
  }
  return Buffer.concat([head, payload]);
}

export function acceptWebSocket(ctx: Ctx): Duplex {
  const up = ctx.upgrade;
  const key = ctx.req.headers['sec-websocket-key'];
  if (!up || String(ctx.req.headers.upgrade).toLowerCase() !== 'websocket' || typeof key !== 'string') {
    throw invalidParameter('websocket upgrade required');
  }
  const accept = createHash('sha1').update(key + GUID).digest('base64');
  const socket = up.socket;
  socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    `Sec-WebSocket-Accept: ${accept}\r\n` + Object.entries(commonHeaders()).map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n');

  let buf: Buffer = up.head;
  let closed = false;
  const duplex = new Duplex({
    write(chunk: Buffer, _enc, cb) {
      if (closed) return cb();
      socket.write(encodeFrame(2, chunk), cb);
    },
    final(cb) {
      if (!closed) socket.end(encodeFrame(8, Buffer.from([0x03, 0xe8])));
      closed = true;
      cb();
    },
    read() {
      socket.resume();
    },
  });
  const parse = () => {
    for (;;) {
      if (buf.length < 2) return;
      const opcode = buf[0] & 0x0f;
      const masked = (buf[1] & 0x80) !== 0;
      let len = buf[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (buf.length < 10) return;
        len = Number(buf.readBigUInt64BE(2));
        off = 10;
      }
      if (len > 16 << 20) {
        socket.destroy();
        return;
      }
      const maskOff = off;
      if (masked) off += 4;
      if (buf.length < off + len) return;
      const payload = Buffer.from(buf.subarray(off, off + len));
      if (masked) for (let i = 0; i < payload.length; i++) payload[i] ^= buf[maskOff + (i & 3)];
      buf = buf.subarray(off + len);
      if (opcode === 8) {
        if (!closed) socket.end(encodeFrame(8, payload.subarray(0, 2)));
        closed = true;
        duplex.push(null);
        return;
      }
      if (opcode === 9) socket.write(encodeFrame(10, payload));
      else if (opcode === 0 || opcode === 1 || opcode === 2) {
        if (!duplex.push(payload)) socket.pause();
      }
    }
  };
  socket.on('data', (d: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    parse();
  });
  socket.on('end', () => duplex.push(null));
  socket.on('close', () => {
    closed = true;
    duplex.destroy();
  });
  socket.on('error', () => duplex.destroy());
  parse();
  return duplex;
}
