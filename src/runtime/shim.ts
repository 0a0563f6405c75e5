// Talks to berth-shim, the small C parent of each container (see shim/berth-shim.c for the protocol).
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { BerthError } from '../lib/errors.ts';
import { PROJECT_ROOT } from '../lib/paths.ts';

export const SHIM_BINARY = path.join(PROJECT_ROOT, 'shim/berth-shim');

export interface ShimOptions {
  id: string;
  bundle: string;
  stateDir: string;
  runtime: string;
  runtimeRoot: string;
  logFile?: string;
  exec?: string; // a process.json: run it in the running container instead of creating one
  tty: boolean;
  stdin: boolean;
  stdinOnce: boolean;
  oomEventsFile?: string;
}

export interface ExitRecord {
  exitCode: number;
  signal: number;
  finishedAt: string;
  oomKilled?: boolean;
}

// Spawns the shim, which runs `runtime create`; resolves with the container's pid once it is created.
export function spawnShim(o: ShimOptions): Promise<number> {
  const args = ['--id', o.id, '--bundle', o.bundle, '--state-dir', o.stateDir, '--runtime', o.runtime, '--runtime-root', o.runtimeRoot];
  if (o.logFile) args.push('--log', o.logFile);
  if (o.exec) args.push('--exec', o.exec);
  if (o.tty) args.push('--tty');
  if (o.stdin) args.push('--stdin');
  if (o.stdinOnce) args.push('--stdin-once');
  if (o.oomEventsFile) args.push('--oom-events', o.oomEventsFile);
  return new Promise((resolve, reject) => {
    const child = spawn(SHIM_BINARY, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d) => (err += d));
    const finish = (fn: () => void) => {
      child.stdout.removeAllListeners('data');
      child.stdout.destroy();
      child.stderr.destroy();
      child.unref();
      fn();
    };
    child.stdout.on('data', (d: string) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      const line = out.slice(0, nl);
      if (line.startsWith('ok ')) finish(() => resolve(Number(line.slice(3))));
      else finish(() => reject(runtimeError(line.replace(/^error /, ''), o.exec ? 'exec' : 'create')));
    });
    child.on('error', (e) => reject(e));
    child.on('exit', (code) => {
      if (!out.includes('\n')) reject(new BerthError('internal', `shim exited with ${code}: ${err.trim()}`));
    });
  });
}

// Docker reports runtime failures with this prefix; the CLI maps "not found" to 127 and "permission denied" to 126.
export function runtimeError(msg: string, op: 'create' | 'exec' = 'create'): BerthError {
  // crun words a missing command differently from runc; clients (the docker CLI's exit code 127) match runc's.
  const m = /executable file `(.*)` not found in \$PATH/.exec(msg);
  if (m) msg = `${op === 'exec' ? 'exec' : 'runc create'} failed: unable to start container process: exec: "${m[1]}": executable file not found in $PATH`;
  if (op === 'exec') return new BerthError('invalid-parameter', `OCI runtime exec failed: ${msg}: unknown`);
  return new BerthError('invalid-parameter', `failed to create task for container: OCI runtime create failed: ${msg}: unknown`);
}

function sockPath(stateDir: string): string {
  return path.join(stateDir, 'shim.sock');
}

// Connects, sends one command line and resolves with the first reply line and the socket (still open).
export function shimCommand(stateDir: string, line: string, timeoutMs = 30000): Promise<{ reply: string; socket: net.Socket; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(sockPath(stateDir));
    let buf = Buffer.alloc(0);
    const timer = timeoutMs ? setTimeout(() => { socket.destroy(); reject(new Error(`shim did not answer ${line}`)); }, timeoutMs) : undefined;
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const nl = buf.indexOf(10);
      if (nl < 0) return;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.pause();
      resolve({ reply: buf.subarray(0, nl).toString('utf8'), socket, rest: buf.subarray(nl + 1) });
    };
    const onError = (e: Error) => { clearTimeout(timer); reject(e); };
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', () => { clearTimeout(timer); reject(new Error('shim closed the connection')); });
    socket.write(line + '\n');
  });
}

export async function shimSimple(stateDir: string, line: string): Promise<string> {
  const { reply, socket } = await shimCommand(stateDir, line);
  socket.destroy();
  if (reply.startsWith('error')) throw new Error(reply.replace(/^error ?/, ''));
  return reply;
}

// Resolves when the container exits (with the shim's exit record); rejects if the shim goes away first.
export async function shimWait(stateDir: string): Promise<ExitRecord> {
  const { reply, socket } = await shimCommand(stateDir, 'wait', 0);
  socket.destroy();
  return JSON.parse(reply) as ExitRecord;
}
