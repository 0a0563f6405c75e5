// A hijacked attach session: the container's output copied to our stdout/stderr (demultiplexed unless it
// has a TTY), our stdin copied to the container, the terminal in raw mode while a TTY is attached, and
// docker's client-side detach keys (ctrl-p ctrl-q by default).
import type { Duplex } from 'node:stream';
import { esc, type ApiClient } from './client.ts';
import { demuxStream, copyRaw } from './stdcopy.ts';

export interface AttachOptions {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
  detachKeys?: string;
  /** Set to also ask for the logs written before attaching (docker start -a uses this only for replay). */
  logs?: boolean;
}

export interface AttachSession {
  /** Settles when the output stream ends (or the user detached); rejects on a stream error. */
  done: Promise<{ detached: boolean }>;
  /** Ends the session early (start failed); restores the terminal. */
  close(): void;
}

const DEFAULT_DETACH = [0x10, 0x11]; // ctrl-p, ctrl-q

/** term.ToBytes: "ctrl-p,ctrl-q" → [16, 17]. */
export function detachKeyBytes(keys: string): number[] {
  const out: number[] = [];
  for (const raw of keys.split(',')) {
    const k = raw.trim();
    if (k.length > 1 && k.startsWith('ctrl-')) {
      const c = k.slice(5);
      if (c.length !== 1) throw new Error(`Unknown character: '${k}'`);
      const code = c.toLowerCase().charCodeAt(0);
      if (code >= 0x61 && code <= 0x7a) out.push(code - 0x60);
      else if (c === '@') out.push(0);
      else if (c === '[') out.push(27);
      else if (c === '\\') out.push(28);
      else if (c === ']') out.push(29);
      else if (c === '^') out.push(30);
      else if (c === '_') out.push(31);
      else throw new Error(`Unknown character: '${k}'`);
    } else if (k.length === 1) {
      out.push(k.charCodeAt(0));
    } else {
      throw new Error(`Unknown character: '${k}'`);
    }
  }
  return out;
}

/**
 * Raw mode like Go's term.MakeRaw (cfmakeraw), which docker uses. Node's setRawMode keeps output
 * post-processing (ONLCR) on, so the container's "\r\n" would reach the screen as "\r\r\n"; stty sets
 * the same flags as cfmakeraw and gives back the previous settings to restore.
 */
let savedTty: string | undefined;
function setRaw(on: boolean): void {
  const stdin = process.stdin;
  if (!stdin.isTTY) return;
  const { execFileSync } = process.getBuiltinModule('node:child_process');
  const stty = (args: string[]) => execFileSync('stty', args, { stdio: ['inherit', 'pipe', 'ignore'], encoding: 'utf8' }).trim();
  if (on && savedTty === undefined) {
    try {
      savedTty = stty(['-g']);
      stty(['raw', '-echo']);
    } catch {
      savedTty = '';
      stdin.setRawMode(true);
    }
    process.once('exit', () => setRaw(false));
  } else if (!on && savedTty !== undefined) {
    if (savedTty === '') stdin.setRawMode(false);
    else {
      try {
        stty([savedTty]);
      } catch { /* the terminal is gone */ }
    }
    savedTty = undefined;
  }
}

export async function attachContainer(client: ApiClient, id: string, opts: AttachOptions): Promise<AttachSession> {
  const query: Record<string, boolean | string> = { stream: true, stdin: opts.stdin, stdout: opts.stdout, stderr: opts.stderr };
  if (opts.logs) query.logs = true;
  if (opts.detachKeys) query.detachKeys = opts.detachKeys;
  const { socket, head } = await client.hijack(`/containers/${esc(id)}/attach`, query);
  return startSession(socket, head, opts);
}

/** docker exec without -d: the exec's start call is itself the hijacked stream. */
export async function attachExec(client: ApiClient, execId: string, opts: AttachOptions & { consoleSize?: [number, number] }): Promise<AttachSession> {
  const body: Record<string, unknown> = { Detach: false, Tty: opts.tty };
  if (opts.consoleSize) body.ConsoleSize = opts.consoleSize;
  const { socket, head } = await client.hijack(`/exec/${esc(execId)}/start`, {}, body);
  return startSession(socket, head, opts);
}

function startSession(socket: Duplex, head: Buffer, opts: AttachOptions): AttachSession {
  const stdin = process.stdin;
  let detached = false;
  let closed = false;
  let resolveDetach!: () => void;
  const detach = new Promise<void>((r) => (resolveDetach = r));

  const cleanupInput = () => {
    stdin.removeListener('data', onData);
    stdin.removeListener('end', onEnd);
    stdin.pause();
    setRaw(false);
  };

  // Detach keys are matched client-side only with a TTY, as docker's EscapeProxy does.
  let keys = DEFAULT_DETACH;
  if (opts.detachKeys) {
    try {
      keys = detachKeyBytes(opts.detachKeys);
    } catch { /* docker warns and keeps the default */ }
  }
  let matched = 0;
  const onData = (chunk: Buffer) => {
    if (!opts.tty) {
      socket.write(chunk);
      return;
    }
    const out: number[] = [];
    for (const b of chunk) {
      if (b === keys[matched]) {
        matched++;
        if (matched === keys.length) {
          if (out.length > 0) socket.write(Buffer.from(out));
          detached = true;
          cleanupInput();
          resolveDetach();
          return;
        }
        continue;
      }
      // Not the sequence after all: pass on what was held back.
      if (matched > 0) out.push(...keys.slice(0, matched));
      matched = 0;
      if (b === keys[0]) matched = 1;
      else out.push(b);
    }
    if (out.length > 0) socket.write(Buffer.from(out));
  };
  const onEnd = () => {
    cleanupInput();
    socket.end();
  };

  if (opts.stdin) {
    if (opts.tty) setRaw(true);
    stdin.on('data', onData);
    stdin.on('end', onEnd);
    stdin.resume();
  } else {
    // docker closes the write side at once when it has no input to send.
    socket.end();
  }

  const output = opts.tty
    ? copyRaw(socket, process.stdout, head)
    : demuxStream(socket, process.stdout, process.stderr, head);
  const done = Promise.race([
    output.then(() => ({ detached: false })),
    detach.then(() => ({ detached: true })),
  ]).finally(() => {
    cleanupInput();
    if (detached || closed) socket.destroy();
  });
  socket.on('error', () => { /* surfaced through the output copy */ });
  return {
    done,
    close() {
      // The copy loop fails with "premature close" once the socket is destroyed; nobody waits for it then.
      done.catch(() => {});
      closed = true;
      cleanupInput();
      socket.destroy();
    },
  };
}

/** POST /containers/{id}/resize with the terminal's size; docker retries while the process starts. */
export async function resizeTty(client: ApiClient, id: string, retries = 0, kind: 'containers' | 'exec' = 'containers'): Promise<void> {
  const out = process.stdout;
  if (!out.isTTY) return;
  const h = out.rows;
  const w = out.columns;
  if (!h || !w) return;
  for (let attempt = 0; ; attempt++) {
    try {
      await client.call('POST', `/${kind}/${esc(id)}/resize`, { query: { h, w } });
      return;
    } catch (err) {
      if (attempt >= retries) throw err;
      await new Promise((r) => setTimeout(r, (attempt + 1) * 10));
    }
  }
}

/** Resizes now and on every SIGWINCH; returns the function that stops watching. */
export function monitorTtySize(client: ApiClient, id: string, onError: (err: Error) => void, kind: 'containers' | 'exec' = 'containers'): () => void {
  resizeTty(client, id, 10, kind).catch(onError);
  const onWinch = () => {
    resizeTty(client, id, 0, kind).catch(() => {});
  };
  process.on('SIGWINCH', onWinch);
  return () => process.removeListener('SIGWINCH', onWinch);
}

const forwarded: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGALRM', 'SIGWINCH', 'SIGCONT', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU', 'SIGVTALRM', 'SIGPROF', 'SIGIO', 'SIGPWR', 'SIGSYS', 'SIGXCPU', 'SIGXFSZ', 'SIGTRAP', 'SIGABRT'];

/**
 * docker's sig-proxy: signals the CLI receives are sent to the container with POST /kill?signal=NAME
 * (the name without "SIG", as docker's signal map spells it). Returns the function that stops forwarding.
 */
export function forwardSignals(client: ApiClient, id: string): () => void {
  const handlers = new Map<NodeJS.Signals, () => void>();
  for (const sig of forwarded) {
    const h = () => {
      client.call('POST', `/containers/${esc(id)}/kill`, { query: { signal: sig.slice(3) } }).catch((err) => {
        process.stderr.write(`Error sending signal: ${(err as Error).message}\n`);
      });
    };
    try {
      process.on(sig, h);
      handlers.set(sig, h);
    } catch { /* signal not supported here */ }
  }
  return () => {
    for (const [sig, h] of handlers) process.removeListener(sig, h);
  };
}
