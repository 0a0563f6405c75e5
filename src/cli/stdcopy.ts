// Docker's multiplexed stream format ("stdcopy"): each frame is an 8-byte header (stream type, 3 zero bytes,
// big-endian payload length) and the payload. Used by attach, logs and exec when the container has no TTY.
import type { Readable, Writable } from 'node:stream';

const STDOUT = 1;
const STDERR = 2;
const SYSTEMERR = 3;

/** Splits frames as they arrive; a frame may span chunks and a chunk may carry many frames. */
export class StdcopyDemuxer {
  #buf: Buffer = Buffer.alloc(0);
  readonly #write: (stream: 1 | 2, data: Buffer) => void;

  constructor(write: (stream: 1 | 2, data: Buffer) => void) {
    this.#write = write;
  }

  push(chunk: Buffer): void {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    while (this.#buf.length >= 8) {
      const size = this.#buf.readUInt32BE(4);
      if (this.#buf.length < 8 + size) break;
      const type = this.#buf[0];
      const payload = this.#buf.subarray(8, 8 + size);
      this.#buf = this.#buf.subarray(8 + size);
      if (type === SYSTEMERR) throw new Error(`error from daemon in stream: ${payload.toString('utf8')}`);
      // stdin (0) never comes from the daemon; treat it like stdout the way stdcopy does.
      this.#write(type === STDERR ? STDERR : STDOUT, payload);
    }
  }

  /** Bytes left over at end of stream: a truncated frame. */
  get pending(): number {
    return this.#buf.length;
  }
}

function writeAll(w: Writable, data: Buffer): Promise<void> | undefined {
  if (w.write(data)) return undefined;
  return new Promise((resolve) => w.once('drain', resolve));
}

/** Copies a multiplexed stream to stdout/stderr, honouring back-pressure. */
export async function demuxStream(src: AsyncIterable<Buffer> | Readable, stdout: Writable, stderr: Writable, head?: Buffer): Promise<void> {
  let wait: Promise<void> | undefined;
  const demux = new StdcopyDemuxer((stream, data) => {
    const p = writeAll(stream === STDERR ? stderr : stdout, data);
    if (p) wait = p;
  });
  if (head && head.length > 0) demux.push(head);
  for await (const chunk of src as AsyncIterable<Buffer>) {
    demux.push(chunk);
    if (wait) {
      await wait;
      wait = undefined;
    }
  }
}

/** Copies a raw (TTY) stream to stdout. */
export async function copyRaw(src: AsyncIterable<Buffer> | Readable, out: Writable, head?: Buffer): Promise<void> {
  if (head && head.length > 0) await writeAll(out, head);
  for await (const chunk of src as AsyncIterable<Buffer>) {
    const p = writeAll(out, chunk);
    if (p) await p;
  }
}
