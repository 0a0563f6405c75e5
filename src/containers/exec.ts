// `docker exec`: processes started in a running container by `RUNTIME exec`, each under its own berth-shim
// (in --exec mode), so they survive berthd restarts like containers do. Exec records live in memory, as in
// Docker.
import { randomBytes } from 'node:crypto';
import { promises as fsp, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import type { ContainerManager } from './manager.ts';
import { mergeEnv } from './env.ts';
import type { ContainerRecord, AnyObj } from './types.ts';
import { resolveUser } from './user.ts';
import { availableCaps } from '../runtime/spec.ts';
import { spawnShim, shimCommand, shimSimple, shimWait, type ExitRecord } from '../runtime/shim.ts';
import { conflict, invalidParameter, notFound } from '../lib/errors.ts';
import { formatGoDuration } from '../lib/units.ts';

export interface ExecRecord {
  ID: string;
  ContainerID: string;
  Config: { AttachStdin: boolean; AttachStdout: boolean; AttachStderr: boolean; Tty: boolean; Env: string[]; Cmd: string[]; Privileged: boolean; User: string; WorkingDir: string; DetachKeys: string; ConsoleSize?: [number, number] };
  Running: boolean;
  Started: boolean;
  ExitCode: number | null;
  Pid: number;
  done?: Promise<number>;
}

export class ExecManager {
  private execs = new Map<string, ExecRecord>();
  private readonly containers: ContainerManager;
  private readonly execDir: string;

  constructor(containers: ContainerManager, execRoot: string) {
    this.containers = containers;
    this.execDir = path.join(execRoot, 'x');
    // Docker drops a container's exec records when it is removed.
    containers.on('event', (action: string, c: ContainerRecord) => {
      if (action !== 'destroy') return;
      for (const [id, e] of this.execs) if (e.ContainerID === c.ID) this.execs.delete(id);
    });
  }

  get(id: string): ExecRecord {
    const e = this.execs.get(id);
    if (!e) throw notFound(`No such exec instance: ${id}`);
    return e;
  }

  // ContainerExec
  create(ref: string, body: AnyObj): string {
    const c = this.containers.get(ref);
    if (!c.State.Running) throw conflict(`container ${c.ID} is not running`);
    if (c.State.Restarting) throw conflict(`container ${c.ID} is restarting, wait until the container is running`);
    if (c.State.Paused) throw conflict(`Container ${c.ID} is paused, unpause the container before exec`);
    const cmd = body.Cmd;
    if (!Array.isArray(cmd) || cmd.length === 0) throw invalidParameter('No exec command specified');
    const id = randomBytes(32).toString('hex');
    this.execs.set(id, {
      ID: id,
      ContainerID: c.ID,
      Config: {
        AttachStdin: !!body.AttachStdin, AttachStdout: !!body.AttachStdout, AttachStderr: !!body.AttachStderr,
        Tty: !!body.Tty, Env: body.Env ?? [], Cmd: cmd.map(String), Privileged: !!body.Privileged, User: body.User ?? '',
        WorkingDir: body.WorkingDir ?? '', DetachKeys: body.DetachKeys ?? '',
        ConsoleSize: Array.isArray(body.ConsoleSize) ? [Number(body.ConsoleSize[0]), Number(body.ConsoleSize[1])] : undefined,
      },
      Running: false, Started: false, ExitCode: null, Pid: 0,
    });
    this.containers.emit('event', `exec_create: ${cmd.join(' ')}`, c);
    return id;
  }

  private stateDir(id: string): string {
    return path.join(this.execDir, id);
  }

  // The process spec: the container's own (capabilities, rlimits, seccomp stay those of the container, as
  // Docker does), with the exec's command, env, user and working directory.
  private async processSpec(c: ContainerRecord, e: ExecRecord): Promise<AnyObj> {
    const spec = JSON.parse(readFileSync(path.join(this.containers.stateDir(c.ID), 'config.json'), 'utf8')) as AnyObj;
    const proc: AnyObj = { ...spec.process };
    const user = await resolveUser(this.containers.rootfsOf(c), e.Config.User || c.Config.User || '', c.HostConfig.GroupAdd ?? []);
    proc.user = { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids.length ? user.additionalGids : undefined };
    proc.args = e.Config.Cmd;
    proc.env = mergeEnv(proc.env ?? [], e.Config.Env);
    proc.cwd = e.Config.WorkingDir || proc.cwd || '/';
    proc.terminal = e.Config.Tty;
    if (e.Config.Tty && e.Config.ConsoleSize && e.Config.ConsoleSize[0] > 0) {
      proc.consoleSize = { height: e.Config.ConsoleSize[0], width: e.Config.ConsoleSize[1] };
    } else delete proc.consoleSize;
    if (e.Config.Privileged) {
      const all = availableCaps();
      proc.capabilities = { bounding: all, effective: all, permitted: all };
    }
    return proc;
  }

  // ContainerExecStart: spawns the process; with `attach` the client's hijacked stream is connected before
  // any output is read. Resolves once the process runs; `done` resolves with its exit code.
  checkStart(id: string): { e: ExecRecord; c: ContainerRecord } {
    const e = this.get(id);
    if (e.Started) throw conflict(`Error: Exec command ${id} is already running`);
    const c = this.containers.get(e.ContainerID);
    if (!c.State.Running) throw conflict(`container ${c.ID} is not running`);
    return { e, c };
  }

  async start(id: string, opts: { detach: boolean; tty?: boolean; socket?: Duplex }): Promise<void> {
    const { e, c } = this.checkStart(id);
    e.Started = true;
    const sd = this.stateDir(id);
    try {
      await fsp.mkdir(sd, { recursive: true, mode: 0o700 });
      const procFile = path.join(sd, 'process.json');
      await fsp.writeFile(procFile, JSON.stringify(await this.processSpec(c, e)));
      const rt = this.containers.runtimeOf(c);
      e.Pid = await spawnShim({
        id: c.ID, bundle: sd, stateDir: sd, runtime: rt.path, runtimeRoot: rt.root, exec: procFile,
        tty: e.Config.Tty, stdin: e.Config.AttachStdin && !opts.detach, stdinOnce: !e.Config.Tty,
      });
    } catch (err) {
      const msg = (err as Error).message ?? '';
      e.ExitCode = /not found|no such file/i.test(msg) ? 127 : 126;
      await fsp.rm(sd, { recursive: true, force: true });
      throw err;
    }
    e.Running = true;
    e.done = shimWait(sd)
      .catch(async (): Promise<ExitRecord> => JSON.parse(await fsp.readFile(path.join(sd, 'exit.json'), 'utf8')) as ExitRecord)
      .catch((): ExitRecord => ({ exitCode: 255, signal: 0, finishedAt: new Date().toISOString() }))
      .then((rec) => {
        e.Running = false;
        e.ExitCode = rec.exitCode;
        e.Pid = 0;
        void removeWhenGone(sd);
        this.containers.emit('event', 'exec_die', c, { execID: e.ID, exitCode: String(rec.exitCode) });
        return rec.exitCode;
      });
    this.containers.emit('event', `exec_start: ${e.Config.Cmd.join(' ')}`, c);
    if (opts.detach || !opts.socket) {
      await shimSimple(sd, 'start');
      return;
    }
    const client = opts.socket;
    const { reply, socket: shim, rest } = await shimCommand(sd, `attach ${e.Config.AttachStdin ? 1 : 0} ${e.Config.AttachStdout ? 1 : 0} ${e.Config.AttachStderr ? 1 : 0}`);
    if (!reply.startsWith('ok')) {
      shim.destroy();
      client.destroy();
      return;
    }
    if (rest.length) client.write(rest);
    shim.on('data', (d: Buffer) => client.write(d));
    // The CLI reads ExitCode from exec inspect as soon as the stream ends: end it only once that is known.
    shim.on('end', () => void e.done!.then(() => client.end()));
    shim.on('error', () => client.destroy());
    shim.resume();
    if (e.Config.AttachStdin) client.pipe(shim);
    else client.resume();
    client.on('error', () => shim.destroy());
  }

  async resize(id: string, h: number, w: number): Promise<void> {
    const e = this.get(id);
    if (!e.Running) throw conflict(`Exec ${id} is not running`);
    await shimSimple(this.stateDir(id), `resize ${h} ${w}`).catch(() => {});
  }

  inspect(id: string): AnyObj {
    const e = this.get(id);
    return {
      CanRemove: false,
      ContainerID: e.ContainerID,
      DetachKeys: e.Config.DetachKeys,
      ExitCode: e.ExitCode,
      ID: e.ID,
      OpenStderr: e.Config.AttachStderr,
      OpenStdin: e.Config.AttachStdin,
      OpenStdout: e.Config.AttachStdout,
      ProcessConfig: {
        arguments: e.Config.Cmd.slice(1), entrypoint: e.Config.Cmd[0], privileged: e.Config.Privileged, tty: e.Config.Tty, user: e.Config.User,
      },
      Running: e.Running,
      Pid: e.Pid,
    };
  }

  // For healthchecks: runs cmd in the container, collecting up to 4 KiB of output (Docker's limit).
  async runProbe(containerId: string, cmd: string[], opts: { timeoutMs: number }): Promise<{ exitCode: number; output: string }> {
    const id = this.create(containerId, { Cmd: cmd, AttachStdout: true, AttachStderr: true });
    const e = this.get(id);
    const chunks: Buffer[] = [];
    let size = 0;
    const { PassThrough } = await import('node:stream');
    const sink = new PassThrough();
    sink.on('data', (d: Buffer) => {
      if (size < 8192) chunks.push(d);
      size += d.length;
    });
    try {
      await this.start(id, { detach: false, socket: sink });
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), opts.timeoutMs)));
      const r = await Promise.race([e.done!, timedOut]);
      clearTimeout(timer);
      if (r === 'timeout') {
        try {
          if (e.Pid) process.kill(e.Pid, 'SIGKILL');
        } catch { /* gone */ }
        return { exitCode: -1, output: `Health check exceeded timeout (${formatGoDuration(opts.timeoutMs * 1e6)})` };
      }
      await new Promise((res) => sink.once('end', res).once('close', res));
      // Docker keeps 4 KiB of a probe's output and marks the cut.
      const out = demux(Buffer.concat(chunks));
      return { exitCode: r, output: out.length > 4096 ? `${out.subarray(0, 4096).toString('utf8')}...` : out.toString('utf8') };
    } finally {
      this.execs.delete(id);
    }
  }
}


// Strips Docker's 8-byte stdcopy frame headers, keeping stdout and stderr in order.
export function demux(buf: Buffer): Buffer {
  const out: Buffer[] = [];
  let i = 0;
  while (i + 8 <= buf.length) {
    const n = buf.readUInt32BE(i + 4);
    out.push(buf.subarray(i + 8, Math.min(buf.length, i + 8 + n)));
    i += 8 + n;
  }
  return Buffer.concat(out);
}

async function removeWhenGone(sd: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    try {
      const pid = Number(readFileSync(path.join(sd, 'shim.pid'), 'utf8'));
      process.kill(pid, 0);
    } catch {
      break;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  await fsp.rm(sd, { recursive: true, force: true });
}
