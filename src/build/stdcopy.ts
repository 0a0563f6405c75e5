// Docker's multiplexed stream frames (8-byte header: stream, 3 zero bytes, big-endian length) decoded into
// the payloads, for a RUN step's output.
import { Duplex } from 'node:stream';

// A writable end for ContainerManager.attach: frames in, onData(stream, bytes) out.
export function frameSink(onData: (stream: number, data: Buffer) => void): Duplex {
  let buf: Buffer = Buffer.alloc(0);
  return new Duplex({
    read() { /* nothing goes back to the container */ },
    write(chunk: Buffer, _enc, cb) {
      buf = buf.length ? Buffer.concat([buf, chunk]) : Buffer.from(chunk);
      while (buf.length >= 8) {
        const len = buf.readUInt32BE(4);
        if (buf.length < 8 + len) break;
        onData(buf[0], buf.subarray(8, 8 + len));
        buf = buf.subarray(8 + len);
      }
      cb();
    },
  });
}
