// Starts a real berthd with its own socket, data root and exec root, for integration tests.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import http from 'node:http';
import path from 'node:path';
import os from 'node:os';

const root = path.resolve(import.meta.dirname, '..');
export const BERTHD = path.join(root, 'bin/berthd');
export const BERTH = path.join(root, 'bin/berth');
export const DOCKER = '/usr/local/bin/docker';
const execFileP = promisify(execFile);

export interface TestDaemon {
  socket: string;
  host: string; // unix:///...
  dataRoot: string;
  execRoot: string;
  dir: string;
  proc: ChildProcess;
  env: NodeJS.ProcessEnv; // DOCKER_HOST set, docker config dir isolated
  log: () => string;
  restart(opts?: { kill?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

export async function ping(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.request({ socketPath: socket, path: '/_ping', method: 'GET' }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.end();
  });
}

export async function startDaemon(extraArgs: string[] = [], opts: { config?: Record<string, unknown> } = {}): Promise<TestDaemon> {
  // Short path: unix socket paths must stay under 108 bytes.
  const dir = mkdtempSync('/tmp/bt-');
  if (opts.config) writeFileSync(path.join(dir, 'daemon.json'), JSON.stringify(opts.config));
  const socket = path.join(dir, 'd.sock');
  const dataRoot = path.join(dir, 'data');
  const execRoot = path.join(dir, 'exec');
  const bridgeName = `bt${path.basename(dir).slice(3)}`;
  let output = '';
  const launch = async () => {
    const proc = spawn(BERTHD, ['-H', `unix://${socket}`, '--data-root', dataRoot, '--exec-root', execRoot,
      '--pidfile', path.join(dir, 'berthd.pid'), '--config-file', path.join(dir, 'daemon.json'),
      // Daemons run side by side: each gets its own default bridge device. Offline: a missing image is never
      // looked for on Docker Hub (no request, no DNS lookup leaves the machine).
      ...(extraArgs.some((a) => a === '-b' || a.startsWith('--bridge')) ? [] : ['--bridge', bridgeName]), '--offline', ...extraArgs], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout!.on('data', (d) => (output += d));
    proc.stderr!.on('data', (d) => (output += d));
    const deadline = Date.now() + 20000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`berthd exited ${proc.exitCode}: ${output}`);
      if (existsSync(socket) && (await ping(socket))) return proc;
      await new Promise((r) => setTimeout(r, 50));
    }
    proc.kill('SIGKILL');
    throw new Error(`berthd did not start: ${output}`);
  };
  const d: TestDaemon = {
    socket, dataRoot, execRoot, dir,
    host: `unix://${socket}`,
    proc: await launch(),
    env: { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: path.join(dir, 'docker-config'), NO_COLOR: '1' },
    log: () => output,
    async restart(opts = {}) {
      await stopProc(d.proc, opts.kill ? 'SIGKILL' : 'SIGTERM');
      d.proc = await launch();
    },
    async stop() {
      // Remove every container this daemon made (their shims, mounts, cgroups), then the daemon and its folders.
      try {
        const { stdout } = await execFileP(DOCKER, ['ps', '-aq'], { env: d.env });
        const ids = stdout.split('\n').filter(Boolean);
        if (ids.length) await execFileP(DOCKER, ['rm', '-f', ...ids], { env: d.env }).catch(() => {});
      } catch { /* daemon may be dead already */ }
      await stopProc(d.proc, 'SIGTERM');
      await execFileP('umount', ['-R', '-l', dataRoot]).catch(() => {});
      // A shim may still be finishing its runtime delete in the exec root: retry on ENOTEMPTY/EBUSY.
      rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
    },
  };
  return d;
}

async function stopProc(proc: ChildProcess, sig: NodeJS.Signals): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const done = new Promise((r) => proc.once('exit', r));
  proc.kill(sig);
  const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
  await done;
  clearTimeout(t);
}

export interface RunResult { code: number; stdout: string; stderr: string }

// Runs a command (docker CLI or berth) and returns its exit code and output; never throws on non-zero exit.
export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string | Buffer; timeout?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => p.kill('SIGKILL'), opts.timeout ?? 60000);
    p.on('error', reject);
    p.on('close', (code, signal) => {
      clearTimeout(t);
      resolve({ code: code ?? (signal ? 128 + os.constants.signals[signal] : -1), stdout, stderr });
    });
    // A command may exit before reading all its input (docker load of a bad archive): not an error here.
    p.stdin.on('error', () => {});
    if (opts.input !== undefined) p.stdin.end(opts.input);
    else p.stdin.end();
  });
}
