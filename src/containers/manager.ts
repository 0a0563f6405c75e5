// Container lifecycle: create, start, stop, kill, wait, remove, logs and attach. Containers run under
// berth-shim, so they outlive berthd; on start-up we reconnect to every shim that is still there.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { promises as fsp, existsSync, readFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { noSuchImage, type ImageStore, type ImageRecord } from '../images/store.ts';
import { familiarName } from '../images/reference.ts';
import { unmount, isMounted } from '../layers/snapshots.ts';
import { resolveInRoot } from '../layers/archive.ts';
import { buildSpec, effectiveCaps } from '../runtime/spec.ts';
import type { DockerProfile } from '../runtime/seccomp.ts';
import { cgroupPath } from '../runtime/cgroups.ts';
import { SeccompCache } from '../runtime/seccomp-cache.ts';
import { spawnShim, shimCommand, shimWait, shimSimple, runtimeError, type ExitRecord } from '../runtime/shim.ts';
import { writeJsonAtomic, readJson, writeFileAtomic } from '../lib/fsutil.ts';
import { BerthError, conflict, invalidParameter, notFound, notModified, isErrno, internal } from '../lib/errors.ts';
import { randomName, NAME_RE } from './names.ts';
import { parseSignal } from './signals.ts';
import { PROJECT_ROOT } from '../lib/paths.ts';
import { resolveUser } from './user.ts';
import { newState, ZERO_TIME, type ContainerRecord, type AnyObj } from './types.ts';
import { mergeEnv } from './env.ts';
import { ExecManager } from './exec.ts';
import { VolumeMounts } from './volume-mounts.ts';
import { RestartScheduler, startsAtDaemonStart, killCancelsRestart } from './restart.ts';
import { HealthMonitor, mergeHealthcheck, validateHealthcheck, type HealthConfig } from './health.ts';
import { runtimeCommand } from '../runtime/runtime-cli.ts';
import { validateUpdate, mergeUpdate, linuxResources, liftPidsLimit } from './update.ts';
import type { NetworkManager, Sandbox } from '../network/manager.ts';

export interface RuntimeConfig {
  runtimes: Record<string, { path: string }>;
  defaultRuntime: string;
  nofileLimit: number;
  cgroupVersion: 1 | 2;
}

interface PendingAttach {
  socket: Duplex;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

const INIT_BINARY = path.join(PROJECT_ROOT, 'shim/berth-init');
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const MIN_MEMORY = 6 * 1024 * 1024;

export class ContainerManager extends EventEmitter {
  private byId = new Map<string, ContainerRecord>();
  private pendingAttach = new Map<string, PendingAttach[]>();
  private starting = new Set<string>();
  readonly dataDir: string;
  readonly execDir: string;

  private readonly root: { data: string; exec: string };
  private readonly images: ImageStore;
  private readonly rt: RuntimeConfig;
  private readonly seccompCache: SeccompCache;
  readonly execs: ExecManager;
  readonly mounts = new VolumeMounts();
  private readonly restarts = new RestartScheduler();
  readonly health: HealthMonitor;
  network!: NetworkManager; // set by the daemon before init

  constructor(root: { data: string; exec: string }, images: ImageStore, rt: RuntimeConfig) {
    super();
    this.root = root;
    this.images = images;
    this.rt = rt;
    this.dataDir = path.join(root.data, 'containers');
    this.execDir = path.join(root.exec, 'c');
    this.seccompCache = new SeccompCache(path.join(root.data, 'seccomp-cache'));
    this.execs = new ExecManager(this, root.exec);
    this.health = new HealthMonitor({
      probe: (id, cmd, o) => this.runProbe(id, cmd, o),
      changed: (c) => { if (this.byId.has(c.ID)) this.save(c).catch((e) => this.emit('error', e)); },
      event: (action, c) => this.emit('event', action, c),
    });
    this.health.follow(this);
  }

  // ---- state on disk -------------------------------------------------------------------------

  private dir(id: string): string {
    return path.join(this.dataDir, id);
  }

  // Runs a command in a running container and collects its output (healthchecks).
  runProbe(id: string, cmd: string[], opts: { timeoutMs: number }): Promise<{ exitCode: number; output: string }> {
    return this.execs.runProbe(id, cmd, opts);
  }

  // For exec: the runtime binary and state root a container was started with, and its root filesystem.
  runtimeOf(c: ContainerRecord): { path: string; root: string } {
    const name = this.rt.runtimes[c.HostConfig.Runtime] ? c.HostConfig.Runtime : this.rt.defaultRuntime;
    return { path: this.rt.runtimes[name].path, root: path.join(this.root.exec, 'runtime') };
  }

  rootfsOf(c: ContainerRecord): string {
    return this.fsDirs(c).merged;
  }

  // cp, export, diff and commit use the merged rootfs of stopped containers too: it is mounted for them and
  // stays mounted while any of them holds it (an exit does not unmount it under them; the last release of a
  // container that is not running does).
  private fsHolds = new Map<string, number>();

  holdRootfs(c: ContainerRecord): { merged: string; upper: string; release: () => void } {
    const dirs = this.fsDirs(c);
    if (!isMounted(dirs.merged)) this.images.layers.mountOverlay(c.TopLayer, dirs);
    this.fsHolds.set(c.ID, (this.fsHolds.get(c.ID) ?? 0) + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const n = (this.fsHolds.get(c.ID) ?? 1) - 1;
      if (n > 0) this.fsHolds.set(c.ID, n);
      else this.fsHolds.delete(c.ID);
      if (n <= 0 && !c.State.Running && !this.starting.has(c.ID) && this.byId.has(c.ID)) unmount(dirs.merged);
    };
    return { merged: dirs.merged, upper: dirs.upper, release };
  }

  stateDir(id: string): string {
    return path.join(this.execDir, id);
  }

  // The configuration is synced when the container is created; later state changes are not, since after a
  // crash the state is re-derived from the shims and their exit.json.
  private save(c: ContainerRecord, sync = false): Promise<void> {
    // One write at a time per container, each of the latest state: health probes and lifecycle changes save
    // the same record concurrently, and an older snapshot must not land last.
    const prev = this.saving.get(c.ID) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(() => this.byId.has(c.ID) ? writeJsonAtomic(path.join(this.dir(c.ID), 'container.json'), c, { sync }) : undefined);
    this.saving.set(c.ID, next);
    next.then(() => {}, () => {}).finally(() => { if (this.saving.get(c.ID) === next) this.saving.delete(c.ID); });
    return next;
  }

  private saving = new Map<string, Promise<void>>();

  persist(c: ContainerRecord): Promise<void> {
    return this.save(c);
  }

  async init(): Promise<void> {
    mkdirSync(this.dataDir, { recursive: true, mode: 0o710 });
    mkdirSync(this.execDir, { recursive: true, mode: 0o700 });
    for (const id of await fsp.readdir(this.dataDir)) {
      const c = await readJson<ContainerRecord>(path.join(this.dir(id), 'container.json'));
      if (!c) {
        await fsp.rm(this.dir(id), { recursive: true, force: true });
        continue;
      }
      this.byId.set(c.ID, c);
    }
    // The network comes back first: proxies and rules of running containers, addresses of the others freed.
    await this.network.init();
    await Promise.all([...this.byId.values()].map((c) => this.reconcile(c)));
    // Docker's restore: the restart policy decides which stopped containers come back with the daemon (a
    // failed start is left in State.Error, as for any start).
    const back = this.all().filter((c) => !c.State.Running && startsAtDaemonStart(c.HostConfig.RestartPolicy, {
      exitCode: c.State.ExitCode, manuallyStopped: !!c.HasBeenManuallyStopped, restartCount: c.RestartCount, startedBefore: c.State.StartedAt !== ZERO_TIME,
    }));
    await Promise.all(back.map((c) => this.start(c.ID).catch(() => {})));
  }

  // After a daemon restart: a running container either still has its shim (reattach) or exited meanwhile
  // (the shim left exit.json behind).
  private async reconcile(c: ContainerRecord): Promise<void> {
    if (c.State.Restarting) {
      // berthd went away while a restart was pending: the container is stopped, and the restart policy decides
      // at daemon start (init) like for any stopped container.
      c.State = { ...c.State, Status: 'exited', Running: false, Restarting: false, Pid: 0 };
      await this.save(c);
      return;
    }
    if (!c.State.Running) return;
    try {
      const reply = await shimSimple(this.stateDir(c.ID), 'state');
      if (reply.startsWith('running') || reply.startsWith('created')) {
        this.watchExit(c);
        this.health.start(c);
        return;
      }
    } catch { /* no shim: it is gone */ }
    await this.recordExit(c, await this.readExitFile(c.ID), { restore: true });
  }

  private async readExitFile(id: string): Promise<ExitRecord> {
    const rec = await readJson<ExitRecord>(path.join(this.stateDir(id), 'exit.json'));
    return rec ?? { exitCode: 255, signal: 0, finishedAt: new Date().toISOString() };
  }

  // ---- lookup ---------------------------------------------------------------------------------

  all(): ContainerRecord[] {
    return [...this.byId.values()];
  }

  tryGet(ref: string): ContainerRecord | undefined {
    const full = this.byId.get(ref);
    if (full) return full;
    const name = ref.startsWith('/') ? ref : `/${ref}`;
    for (const c of this.byId.values()) if (c.Name === name) return c;
    if (/^[a-f0-9]+$/.test(ref)) {
      const m = [...this.byId.values()].filter((c) => c.ID.startsWith(ref));
      if (m.length > 1) throw new BerthError('invalid-parameter', `multiple IDs found with provided prefix: ${ref}`);
      return m[0];
    }
    return undefined;
  }

  get(ref: string): ContainerRecord {
    const c = this.tryGet(ref);
    if (!c) throw notFound(`No such container: ${ref}`);
    return c;
  }

  usersOfImage(imageId: string): { id: string; running: boolean }[] {
    return this.all().filter((c) => c.Image === imageId).map((c) => ({ id: c.ID, running: c.State.Running }));
  }

  layerInUse(chainId: string): boolean {
    for (const c of this.byId.values()) {
      const img = this.images.get(c.Image);
      if (img && this.images.chainIdsOf(img).includes(chainId)) return true;
      if (!img && c.TopLayer === chainId) return true;
    }
    return false;
  }

  // ---- create ---------------------------------------------------------------------------------

  async create(body: AnyObj, name: string | undefined, opts: { platform?: string } = {}): Promise<{ Id: string; Warnings: string[] }> {
    if (typeof body !== 'object' || body === null) throw invalidParameter('config cannot be empty in order to create a container');
    if (!body.Image) throw invalidParameter('invalid reference format');
    void opts;
    if (name !== undefined && name !== '') {
      if (!NAME_RE.test(name)) throw invalidParameter(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
      const existing = this.tryGetByName(name);
      if (existing) {
        throw conflict(`Conflict. The container name "/${name.replace(/^\//, '')}" is already in use by container "${existing.ID}". You have to remove (or rename) that container to be able to reuse that name.`);
      }
    }
    const image = this.images.tryResolve(body.Image);
    if (!image) throw noSuchImage(String(body.Image));
    const hc: AnyObj = { ...(body.HostConfig ?? {}) };
    const warnings = this.validateHostConfig(hc);
    const config = this.mergeImageConfig(body, image);
    validateHealthcheck(config.Healthcheck);
    if (!config.Entrypoint?.length && !config.Cmd?.length) throw invalidParameter('no command specified');
    const mountPoints = await this.mounts.plan(config, hc, (r) => this.tryGet(r));
    this.network.checkLinks(hc);

    const id = randomBytes(32).toString('hex');
    const finalName = name ? `/${name.replace(/^\//, '')}` : `/${randomName((n) => !!this.tryGetByName(n))}`;
    if (!config.Hostname) config.Hostname = hc.NetworkMode === 'host' ? os.hostname() : id.slice(0, 12);
    const [pathArg, ...args] = [...(config.Entrypoint ?? []), ...(config.Cmd ?? [])];
    const dir = this.dir(id);
    const c: ContainerRecord = {
      ID: id,
      Name: finalName,
      Created: new Date().toISOString(),
      Path: pathArg,
      Args: args,
      Config: config,
      HostConfig: hc,
      Image: image.id,
      State: newState(),
      RestartCount: 0,
      LogPath: path.join(dir, `${id}-json.log`),
      ResolvConfPath: path.join(dir, 'resolv.conf'),
      HostnamePath: path.join(dir, 'hostname'),
      HostsPath: path.join(dir, 'hosts'),
      TopLayer: this.images.topLayer(image),
      NetworkMode: hc.NetworkMode,
      MountPoints: mountPoints,
    };
    this.network.planEndpoints(c, body.NetworkingConfig);
    await fsp.mkdir(path.join(dir, 'fs', 'upper'), { recursive: true, mode: 0o755 });
    await fsp.mkdir(path.join(dir, 'fs', 'work'), { recursive: true, mode: 0o700 });
    await fsp.mkdir(path.join(dir, 'fs', 'merged'), { recursive: true, mode: 0o755 });
    await this.writeEtcFiles(c);
    this.byId.set(id, c);
    try {
      await this.save(c, true);
    } catch (err) {
      this.byId.delete(id);
      await fsp.rm(dir, { recursive: true, force: true });
      throw err;
    }
    this.emit('event', 'create', c);
    return { Id: id, Warnings: warnings };
  }

  private tryGetByName(name: string): ContainerRecord | undefined {
    const n = name.startsWith('/') ? name : `/${name}`;
    for (const c of this.byId.values()) if (c.Name === n) return c;
    return undefined;
  }

  private validateHostConfig(hc: AnyObj): string[] {
    const warnings: string[] = [];
    const num = (k: string) => {
      const v = hc[k];
      if (v !== undefined && v !== null && typeof v !== 'number') throw invalidParameter(`invalid ${k}: must be a number`);
      return (v as number | undefined) ?? 0;
    };
    const memory = num('Memory');
    if (memory < 0) throw invalidParameter('invalid memory limit: must be a positive number');
    if (memory > 0 && memory < MIN_MEMORY) throw invalidParameter('Minimum memory limit allowed is 6MB');
    const swap = num('MemorySwap');
    if (memory > 0 && swap > 0 && swap < memory) throw invalidParameter('Minimum memoryswap limit should be larger than memory limit, see usage');
    if (memory === 0 && swap > 0) throw invalidParameter('You should always set the Memory limit when using Memoryswap limit, see usage');
    // Docker records the implied swap limit (twice the memory) when only --memory is given.
    if (memory > 0 && swap === 0) hc.MemorySwap = memory * 2;
    const cpus = os.cpus().length;
    const nano = num('NanoCpus');
    if (nano < 0 || nano > cpus * 1e9) throw invalidParameter(`Range of CPUs is from 0.01 to ${cpus}.00, as there are only ${cpus} CPUs available`);
    if (nano > 0 && (num('CpuQuota') > 0 || num('CpuPeriod') > 0)) throw invalidParameter('Conflicting options: Nano CPUs and CPU Period cannot both be set');
    if (num('CpuShares') < 0) throw invalidParameter('invalid CPU shares: must be a positive number');
    const pids = hc.PidsLimit;
    if (pids !== undefined && pids !== null && typeof pids !== 'number') throw invalidParameter('invalid PidsLimit');
    if (hc.CpusetCpus && !/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(hc.CpusetCpus)) throw invalidParameter(`Invalid value ${hc.CpusetCpus} for cpuset cpus`);
    const mode = (hc.NetworkMode as string | undefined) || 'default';
    hc.NetworkMode = mode === 'default' ? 'bridge' : mode;
    // An unknown network is Docker's start error, not create's: a 404 from create makes the docker CLI
    // think the image is missing and try to pull it.
    if (hc.NetworkMode.startsWith('container:')) {
      if (!this.tryGet(hc.NetworkMode.slice(10))) throw notFound(`No such container: ${hc.NetworkMode.slice(10)}`);
      if (hc.PortBindings && Object.keys(hc.PortBindings).length) throw invalidParameter('conflicting options: port publishing and the container type network mode');
      if (hc.ExtraHosts?.length) throw invalidParameter('conflicting options: custom host-to-IP mapping and the network mode');
      if (hc.Dns?.length) throw invalidParameter('conflicting options: dns and the network mode');
    }
    if (hc.NetworkMode === 'host' && hc.Links?.length) throw invalidParameter('conflicting options: host type networking can\'t be used with links. This would result in undefined behavior');
    const rp = hc.RestartPolicy ?? { Name: 'no' };
    if (!['', 'no', 'always', 'unless-stopped', 'on-failure'].includes(rp.Name ?? '')) throw invalidParameter(`invalid restart policy: unknown policy '${rp.Name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`);
    if (rp.MaximumRetryCount && rp.Name !== 'on-failure') throw invalidParameter(`invalid restart policy: maximum retry count can only be used with 'on-failure'`);
    if (hc.AutoRemove && rp.Name && rp.Name !== 'no') throw invalidParameter("conflicting options: cannot specify both --restart and --rm");
    hc.RestartPolicy = { Name: rp.Name || 'no', MaximumRetryCount: rp.MaximumRetryCount ?? 0 };
    effectiveCaps(hc.CapAdd ?? [], hc.CapDrop ?? [], !!hc.Privileged); // validates the names
    for (const opt of hc.SecurityOpt ?? []) this.parseSecurityOpt(String(opt));
    const runtime = hc.Runtime || this.rt.defaultRuntime;
    if (!this.rt.runtimes[runtime]) throw invalidParameter(`unknown or invalid runtime name: ${runtime}`);
    hc.Runtime = runtime;
    hc.LogConfig ??= { Type: 'json-file', Config: {} };
    if (hc.LogConfig.Type && hc.LogConfig.Type !== 'json-file') throw invalidParameter(`logging driver ${hc.LogConfig.Type} is not supported; only json-file`);
    hc.LogConfig.Type = 'json-file';
    hc.LogConfig.Config ??= {};
    return warnings;
  }

  private parseSecurityOpt(opt: string): { seccomp?: 'unconfined' | DockerProfile; noNewPrivileges?: boolean } {
    const i = opt.search(/[=:]/);
    const key = i < 0 ? opt : opt.slice(0, i);
    const value = i < 0 ? '' : opt.slice(i + 1);
    if (key === 'no-new-privileges') return { noNewPrivileges: value === '' || value === 'true' };
    if (key === 'seccomp') {
      if (value === 'unconfined') return { seccomp: 'unconfined' };
      try {
        return { seccomp: JSON.parse(value) as DockerProfile };
      } catch {
        throw invalidParameter(`invalid --security-opt: seccomp profile is not valid JSON (the CLI sends the file's content)`);
      }
    }
    if (key === 'apparmor' || key === 'label') return {};
    throw invalidParameter(`invalid --security-opt 1: "${opt}"`);
  }

  private mergeImageConfig(body: AnyObj, image: ImageRecord): AnyObj {
    const ic = image.config.config ?? {};
    const cfg: AnyObj = {
      Hostname: body.Hostname ?? '',
      Domainname: body.Domainname ?? '',
      User: body.User || ic.User || '',
      AttachStdin: !!body.AttachStdin,
      AttachStdout: !!body.AttachStdout,
      AttachStderr: !!body.AttachStderr,
      // Docker merges the image's EXPOSE with the container's own --expose.
      ExposedPorts: body.ExposedPorts || ic.ExposedPorts ? { ...(ic.ExposedPorts ?? {}), ...(body.ExposedPorts ?? {}) } : undefined,
      Tty: !!body.Tty,
      OpenStdin: !!body.OpenStdin,
      StdinOnce: !!body.StdinOnce,
      Env: mergeEnv(ic.Env ?? [], body.Env ?? []),
      Cmd: body.Cmd ?? null,
      Image: body.Image,
      // The image's VOLUMEs and the container's own anonymous volumes together, as Docker merges them.
      Volumes: body.Volumes || ic.Volumes ? { ...(ic.Volumes ?? {}), ...(body.Volumes ?? {}) } : null,
      WorkingDir: body.WorkingDir || ic.WorkingDir || '',
      Entrypoint: body.Entrypoint ?? null,
      OnBuild: null,
      Labels: { ...(ic.Labels ?? {}), ...(body.Labels ?? {}) },
    };
    if (typeof cfg.Cmd === 'string') cfg.Cmd = [cfg.Cmd];
    if (typeof cfg.Entrypoint === 'string') cfg.Entrypoint = [cfg.Entrypoint];
    // Docker: an explicit entrypoint (even "") discards the image's CMD unless a command is given too.
    if (body.Entrypoint === undefined || body.Entrypoint === null) {
      cfg.Entrypoint = ic.Entrypoint ?? null;
      if (!cfg.Cmd || cfg.Cmd.length === 0) cfg.Cmd = ic.Cmd ?? null;
    } else if (Array.isArray(cfg.Entrypoint) && cfg.Entrypoint.length === 1 && cfg.Entrypoint[0] === '') {
      cfg.Entrypoint = null;
    }
    if (body.StopSignal || ic.StopSignal) cfg.StopSignal = body.StopSignal || ic.StopSignal;
    if (body.StopTimeout !== undefined) cfg.StopTimeout = body.StopTimeout;
    const healthcheck = mergeHealthcheck(body.Healthcheck, ic.Healthcheck as HealthConfig | undefined);
    if (healthcheck) cfg.Healthcheck = healthcheck;
    // The shell of CMD-SHELL healthchecks (and of a Dockerfile's shell form).
    const shell = (body.Shell?.length ? body.Shell : ic.Shell) as string[] | undefined;
    if (shell?.length) cfg.Shell = shell;
    if (body.NetworkDisabled) cfg.NetworkDisabled = true;
    return cfg;
  }

  private async writeEtcFiles(c: ContainerRecord): Promise<void> {
    const hostname = c.Config.Hostname as string;
    const { hosts, resolv } = this.network.etcFor(c);
    const noSync = { sync: false };
    await Promise.all([
      writeFileAtomic(c.HostsPath, hosts, 0o644, noSync),
      writeFileAtomic(c.HostnamePath, `${hostname}\n`, 0o644, noSync),
      writeFileAtomic(c.ResolvConfPath, resolv, 0o644, noSync),
    ]);
  }

  // ---- start ----------------------------------------------------------------------------------

  async start(ref: string): Promise<void> {
    const c = this.get(ref);
    if (c.State.Paused) throw conflict('cannot start a paused container, try unpause instead');
    if (c.State.Running) throw notModified();
    if (this.starting.has(c.ID)) throw conflict(`container ${c.ID} is already starting`);
    if (c.State.Status === 'removing') throw conflict(`container is marked for removal and cannot be started`);
    this.starting.add(c.ID);
    try {
      // A start by the user (or at daemon start) resets the restart policy: the count, the delay and the
      // manual stop (Docker's ResetRestartManager).
      this.restarts.reset(c.ID);
      c.RestartCount = 0;
      c.HasBeenManuallyStopped = false;
      await this.startLocked(c);
    } finally {
      this.starting.delete(c.ID);
    }
  }

  // ContainerRestart: stop (when running) and start again, then Docker's "restart" event. The stop does not
  // remove an AutoRemove container (Docker's HasBeenManuallyRestarted).
  async restart(ref: string, opts: { timeout?: number; signal?: string } = {}): Promise<void> {
    const c = this.get(ref);
    if (c.State.Running) {
      this.manuallyRestarting.add(c.ID);
      try {
        await this.stop(c.ID, opts).catch((e) => {
          if (!(e instanceof BerthError && e.status === 304)) throw e;
        });
      } finally {
        this.manuallyRestarting.delete(c.ID);
      }
    }
    await this.start(c.ID);
    this.emit('event', 'restart', c);
  }

  private manuallyRestarting = new Set<string>();

  // A start by the restart policy, once its delay is over. A failure leaves the container exited, with the error.
  private async autoRestart(c: ContainerRecord): Promise<void> {
    if (!this.byId.has(c.ID) || !c.State.Restarting) return;
    this.starting.add(c.ID);
    try {
      await this.startLocked(c);
      // Stopped or killed while it was starting: the stop found nothing to signal yet.
      if (this.restarts.cancelled(c.ID)) await this.signal(c, 9).catch(() => {});
    } catch {
      c.State = { ...c.State, Status: 'exited', Running: false, Restarting: false, Pid: 0 };
      if (this.byId.has(c.ID)) await this.save(c).catch(() => {});
      this.emit(`exit:${c.ID}`, c.State.ExitCode);
    } finally {
      this.starting.delete(c.ID);
    }
  }

  // Docker's ExitOnNext: the policy is off until the next start, and a pending restart ends here (the
  // container is then simply exited).
  private exitOnNext(c: ContainerRecord): void {
    if (!this.restarts.cancel(c.ID) || !c.State.Restarting) return;
    c.State = { ...c.State, Status: 'exited', Running: false, Restarting: false, Pid: 0 };
    if (this.byId.has(c.ID)) this.save(c).catch((e) => this.emit('error', e));
    this.emit(`exit:${c.ID}`, c.State.ExitCode);
  }

  private fsDirs(c: ContainerRecord) {
    const base = path.join(this.dir(c.ID), 'fs');
    return { upper: path.join(base, 'upper'), work: path.join(base, 'work'), merged: path.join(base, 'merged') };
  }

  private async startLocked(c: ContainerRecord): Promise<void> {
    const dirs = this.fsDirs(c);
    const sd = this.stateDir(c.ID);
    const trace = process.env.BERTH_TRACE ? (m: string) => process.stderr.write(`start ${m} ${(performance.now() - t0).toFixed(1)}\n`) : () => {};
    const t0 = performance.now();
    let sandbox: Sandbox | undefined;
    try {
      if (!isMounted(dirs.merged)) this.images.layers.mountOverlay(c.TopLayer, dirs);
      trace('mounted');
      await waitForShimGone(sd);
      await fsp.rm(sd, { recursive: true, force: true });
      await fsp.mkdir(sd, { recursive: true, mode: 0o700 });
      sandbox = await this.network.attach(c);
      trace('network');
      const spec = await this.buildContainerSpec(c, dirs.merged, sandbox);
      const hc = c.HostConfig;
      const runtimeName = this.rt.runtimes[hc.Runtime] ? hc.Runtime : this.rt.defaultRuntime;
      const runtime = this.rt.runtimes[runtimeName];
      const learnSeccomp = runtimeName === 'crun' ? this.seccompCache.apply(spec) : undefined;
      await fsp.writeFile(path.join(sd, 'config.json'), JSON.stringify(spec));
      trace('spec');
      const pid = await spawnShim({
        id: c.ID, bundle: sd, stateDir: sd, runtime: runtime.path, runtimeRoot: path.join(this.root.exec, 'runtime'),
        // Docker closes a container's stdin when the attached client goes away only without a TTY (a TTY
        // client may detach with ctrl-p ctrl-q and attach again).
        logFile: c.LogPath, tty: !!c.Config.Tty, stdin: !!c.Config.OpenStdin, stdinOnce: !!c.Config.StdinOnce && !c.Config.Tty,
        oomEventsFile: this.rt.cgroupVersion === 2 ? `/sys/fs/cgroup${cgroupPath(c.ID)}/memory.events` : `/sys/fs/cgroup/memory${cgroupPath(c.ID)}/memory.oom_control`,
      });
      trace('created');
      if (learnSeccomp) this.seccompCache.learn(learnSeccomp, path.join(this.root.exec, 'runtime', c.ID));
      const attaches = this.pendingAttach.get(c.ID) ?? [];
      this.pendingAttach.delete(c.ID);
      await Promise.all(attaches.map((a) => this.connectAttach(c, a)));
      // Taken before the start: a quick process can exit (the shim stamps FinishedAt) before the reply comes.
      const startedAt = new Date().toISOString();
      await shimSimple(sd, 'start').catch((e: Error) => { throw runtimeError(e.message); });
      trace('started');
      c.State = { ...c.State, Status: 'running', Running: true, Paused: false, Restarting: false, OOMKilled: false, Dead: false, Pid: pid, ExitCode: 0, Error: '', StartedAt: startedAt, FinishedAt: c.State.FinishedAt };
      await this.save(c);
      this.watchExit(c);
      this.emit('event', 'start', c);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      c.State.Error = msg;
      c.State.ExitCode = /not found|no such file/i.test(msg) ? 127 : /permission denied/i.test(msg) ? 126 : 128;
      await this.save(c).catch(() => {});
      if (!this.fsHolds.has(c.ID)) unmount(dirs.merged);
      if (sandbox) await this.network.detach(c).catch(() => {});
      for (const a of this.pendingAttach.get(c.ID) ?? []) a.socket.destroy();
      this.pendingAttach.delete(c.ID);
      // Like dockerd: an AutoRemove container that failed to start is removed (run --rm waits for that).
      if (c.HostConfig.AutoRemove) await this.remove(c.ID, { force: true, volumes: true }).catch(() => {});
      throw err;
    }
  }

  private async buildContainerSpec(c: ContainerRecord, rootfs: string, sandbox: Sandbox): Promise<Record<string, unknown>> {
    const hc = c.HostConfig;
    const cfg = c.Config;
    const user = await resolveUser(rootfs, cfg.User, hc.GroupAdd ?? []);
    let args = [c.Path, ...c.Args];
    await this.checkExecutable(rootfs, args[0]);
    const extraMounts = [];
    if (hc.Init) {
      // Docker's --init: a small init bind-mounted at /sbin/docker-init runs the command as its child.
      args = ['/sbin/docker-init', '--', ...args];
      extraMounts.push({ destination: '/sbin/docker-init', type: 'bind', source: INIT_BINARY, options: ['bind', 'ro'] });
    }
    const cwd = cfg.WorkingDir || '/';
    if (cfg.WorkingDir) {
      // Docker creates a missing working directory, owned by the container's user.
      const p = await resolveInRoot(rootfs, cwd, { followFinal: true });
      if (!existsSync(p)) {
        await fsp.mkdir(p, { recursive: true, mode: 0o755 });
        await fsp.chown(p, user.uid, user.gid).catch(() => {});
      }
    }
    const hostname = sandbox.hostname ?? cfg.Hostname;
    const env = [`PATH=${DEFAULT_PATH}`, `HOSTNAME=${hostname}`];
    if (cfg.Tty) env.push('TERM=xterm');
    const finalEnv = mergeEnv(env, cfg.Env ?? []);
    if (!finalEnv.some((e) => e.startsWith('HOME='))) finalEnv.push(`HOME=${user.home}`);
    let seccomp: 'default' | 'unconfined' | DockerProfile = 'default';
    let noNewPrivileges = false;
    for (const opt of hc.SecurityOpt ?? []) {
      const o = this.parseSecurityOpt(String(opt));
      if (o.seccomp) seccomp = o.seccomp;
      if (o.noNewPrivileges !== undefined) noNewPrivileges = o.noNewPrivileges;
    }
    const caps = effectiveCaps(hc.CapAdd ?? [], hc.CapDrop ?? [], !!hc.Privileged);
    return buildSpec({
      id: c.ID, cgroupsPath: cgroupPath(c.ID), rootfs, readonlyRootfs: !!hc.ReadonlyRootfs, args, env: finalEnv, cwd,
      uid: user.uid, gid: user.gid, additionalGids: user.additionalGids, terminal: !!cfg.Tty, hostname,
      consoleSize: Array.isArray(hc.ConsoleSize) ? [Number(hc.ConsoleSize[0]), Number(hc.ConsoleSize[1])] : undefined,
      caps, privileged: !!hc.Privileged, noNewPrivileges, seccomp,
      hostNetwork: sandbox.hostNetwork, netnsPath: sandbox.netnsPath, hostPid: hc.PidMode === 'host', hostIpc: hc.IpcMode === 'host',
      // container:<id> mode shares the other container's files, as Docker does.
      etcFiles: sandbox.etcFrom
        ? { hosts: sandbox.etcFrom.HostsPath, hostname: sandbox.etcFrom.HostnamePath, resolvConf: sandbox.etcFrom.ResolvConfPath }
        : { hosts: c.HostsPath, hostname: c.HostnamePath, resolvConf: c.ResolvConfPath },
      memory: hc.Memory || undefined, memorySwap: hc.MemorySwap || undefined, memoryReservation: hc.MemoryReservation || undefined,
      nanoCpus: hc.NanoCpus || undefined, cpuShares: hc.CpuShares || undefined, cpuPeriod: hc.CpuPeriod || undefined,
      cpuQuota: hc.CpuQuota || undefined, cpusetCpus: hc.CpusetCpus || undefined, cpusetMems: hc.CpusetMems || undefined,
      pidsLimit: hc.PidsLimit || undefined, shmSize: hc.ShmSize || undefined, nofileLimit: this.rt.nofileLimit,
      ulimits: hc.Ulimits ?? undefined, oomScoreAdj: hc.OomScoreAdj || undefined, sysctls: hc.Sysctls ?? undefined,
      extraMounts: [...extraMounts, ...(await this.mounts.prepare(c, rootfs)), ...(hc.Tmpfs ? Object.entries(hc.Tmpfs as Record<string, string>) : []).map(([dst, o]) => ({
        destination: dst, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'noexec', ...(o ? o.split(',') : [])],
      }))],
    });
  }

  // runc and crun disagree on how to report a non-executable path; Docker users expect "permission denied"
  // (exit 126) for a directory or a file without x bits, and "no such file or directory" (127) for none.
  private async checkExecutable(rootfs: string, prog: string): Promise<void> {
    if (!prog.includes('/')) return;
    const p = await resolveInRoot(rootfs, prog, { followFinal: true });
    let st;
    try {
      st = await fsp.stat(p);
    } catch {
      throw runtimeError(`runc create failed: unable to start container process: exec: "${prog}": stat ${prog}: no such file or directory`);
    }
    if (st.isDirectory() || (st.mode & 0o111) === 0) {
      throw runtimeError(`runc create failed: unable to start container process: exec: "${prog}": permission denied`);
    }
  }

  // ---- exit -----------------------------------------------------------------------------------

  private watchExit(c: ContainerRecord): void {
    const sd = this.stateDir(c.ID);
    shimWait(sd)
      .then((rec) => this.recordExit(c, rec))
      .catch(async () => this.recordExit(c, await this.readExitFile(c.ID)))
      .catch((err) => this.emit('error', err));
  }

  private async recordExit(c: ContainerRecord, rec: ExitRecord, opts: { restore?: boolean } = {}): Promise<void> {
    if (!c.State.Running || c.State.Restarting) return;
    // The restart policy (restart.ts); an exit found at daemon start is left to init's restore rule instead.
    const delay = opts.restore || !this.byId.has(c.ID) ? undefined : this.restarts.onExit(c.ID, c.HostConfig.RestartPolicy, {
      exitCode: rec.exitCode, manuallyStopped: !!c.HasBeenManuallyStopped, restartCount: c.RestartCount, ranMs: Date.now() - Date.parse(c.State.StartedAt),
    });
    c.State = { ...c.State, Status: 'exited', Running: false, Paused: false, Restarting: false, Pid: 0, ExitCode: rec.exitCode, FinishedAt: rec.finishedAt, OOMKilled: !!rec.oomKilled };
    if (delay !== undefined) {
      // Docker shows a container waiting for its restart as running and restarting, without a process.
      c.RestartCount++;
      c.State = { ...c.State, Status: 'restarting', Running: true, Restarting: true };
      this.restarts.schedule(c.ID, delay, () => void this.autoRestart(c));
    }
    if (!this.fsHolds.has(c.ID)) unmount(this.fsDirs(c).merged);
    await this.mounts.release(c);
    await this.network.detach(c).catch((e) => this.emit('error', e));
    // The state dir stays until the next start or the removal: the shim is still finishing there.
    if (this.byId.has(c.ID)) await this.save(c);
    if (c.State.OOMKilled) this.emit('event', 'oom', c);
    this.emit('event', 'die', c);
    this.emit(`exit:${c.ID}`, rec.exitCode);
    if (delay === undefined && c.HostConfig.AutoRemove && !this.manuallyRestarting.has(c.ID) && this.byId.has(c.ID)) await this.remove(c.ID, { force: true, volumes: true }).catch(() => {});
  }

  // ---- stop / kill ----------------------------------------------------------------------------

  async kill(ref: string, signal?: string): Promise<void> {
    const c = this.get(ref);
    const sig = parseSignal(signal, 'SIGKILL');
    if (!c.State.Running) throw conflict(`Container ${c.ID} is not running`);
    await this.signal(c, sig);
  }

  // Docker's killWithSignal: a kill event with the signal, and a paused container thawed when the signal is
  // meant to end it (SIGKILL, its stop signal, or any signal when it has none), since frozen processes do
  // not act on signals.
  private async signal(c: ContainerRecord, sig: number): Promise<void> {
    // Restart policies: the user stopped it (unless-stopped stays down at daemon start), and SIGKILL or the stop
    // signal ends the policy until the next start; a container waiting for its restart has nothing to signal.
    c.HasBeenManuallyStopped = true; // saved with the exit
    if (killCancelsRestart(sig, c.Config.StopSignal ? parseSignal(c.Config.StopSignal, 'SIGTERM') : undefined)) this.exitOnNext(c);
    if (c.State.Restarting || !(c.State.Pid > 0)) return;
    try {
      process.kill(c.State.Pid, sig);
    } catch (err) {
      if (!isErrno(err, 'ESRCH')) throw err;
    }
    this.emit('event', 'kill', c, { signal: String(sig) });
    const stopSignal = c.Config.StopSignal ? parseSignal(c.Config.StopSignal, 'SIGTERM') : undefined;
    if (c.State.Paused && (sig === 9 || stopSignal === undefined || sig === stopSignal)) await this.resume(c).catch(() => {});
  }

  private exited(c: ContainerRecord, timeoutMs: number): Promise<boolean> {
    if (!c.State.Running) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = timeoutMs >= 0 ? setTimeout(() => { this.off(`exit:${c.ID}`, done); resolve(false); }, timeoutMs) : undefined;
      const done = () => { clearTimeout(t); resolve(true); };
      this.once(`exit:${c.ID}`, done);
    });
  }

  async stop(ref: string, opts: { timeout?: number; signal?: string } = {}): Promise<void> {
    const c = this.get(ref);
    if (!c.State.Running) throw notModified();
    const sig = parseSignal(opts.signal || c.Config.StopSignal, 'SIGTERM');
    const timeout = opts.timeout ?? c.Config.StopTimeout ?? 10;
    await this.signal(c, sig);
    if (!(await this.exited(c, timeout < 0 ? -1 : timeout * 1000))) {
      if (c.State.Running) await this.signal(c, 9);
      await this.exited(c, -1);
    }
    this.emit('event', 'stop', c);
  }

  // ---- wait -----------------------------------------------------------------------------------

  // Registers the wait synchronously (so a wait sent before start sees the exit), resolves later.
  wait(ref: string, condition: string): Promise<number> {
    const c = this.get(ref);
    if (!['', 'not-running', 'next-exit', 'removed'].includes(condition)) throw invalidParameter(`invalid condition: "${condition}"`);
    if (condition === 'removed') {
      return new Promise((resolve) => {
        const onExit = (code: number) => (last = code);
        let last = c.State.ExitCode;
        this.on(`exit:${c.ID}`, onExit);
        this.once(`removed:${c.ID}`, () => { this.off(`exit:${c.ID}`, onExit); resolve(last); });
      });
    }
    if ((condition === '' || condition === 'not-running') && !c.State.Running && !this.starting.has(c.ID)) {
      return Promise.resolve(c.State.ExitCode);
    }
    return new Promise((resolve) => this.once(`exit:${c.ID}`, (code: number) => resolve(code)));
  }

  // ---- remove ---------------------------------------------------------------------------------

  async remove(ref: string, opts: { force: boolean; volumes: boolean }): Promise<void> {
    const c = this.get(ref);
    if (c.State.Running) {
      if (!opts.force) throw conflict(`cannot remove container "${c.Name}": container is ${c.State.Restarting ? 'restarting' : 'running'}: stop the container before removing or force remove`);
      await this.signal(c, 9);
      await this.exited(c, -1);
    }
    if (!this.byId.has(c.ID)) return; // removed meanwhile (AutoRemove)
    this.byId.delete(c.ID);
    this.restarts.forget(c.ID);
    try {
      unmount(this.fsDirs(c).merged);
      await fsp.rm(this.dir(c.ID), { recursive: true, force: true });
      if (opts.volumes) await this.mounts.removeAnonymous(c);
      // An image deleted under the container (rmi -f) left its layers to the container: they go with it.
      if (c.TopLayer && !this.images.get(c.Image)) {
        const chain: string[] = [];
        for (let l: string | undefined = c.TopLayer; l; l = this.images.layers.get(l)?.parent) chain.unshift(l);
        await this.images.pruneLayers(chain, (ch) => this.layerInUse(ch));
      }
    } finally {
      for (const a of this.pendingAttach.get(c.ID) ?? []) a.socket.destroy();
      this.pendingAttach.delete(c.ID);
      this.emit('event', 'destroy', c);
      this.emit(`removed:${c.ID}`);
    }
    // The exec-root state goes once the shim has finished its runtime delete (it still writes there).
    const sd = this.stateDir(c.ID);
    void waitForShimGone(sd).then(() => fsp.rm(sd, { recursive: true, force: true })).catch((e) => this.emit('error', e));
  }

  // ---- attach ---------------------------------------------------------------------------------

  // Attaches a hijacked client connection. Before start it is queued and connected to the shim between
  // `create` and `start`, so no output is missed (docker run attaches first, then starts).
  async attach(ref: string, socket: Duplex, streams: { stdin: boolean; stdout: boolean; stderr: boolean }): Promise<void> {
    const c = this.get(ref);
    this.emit('event', 'attach', c);
    const a: PendingAttach = { socket, ...streams };
    if (c.State.Running && !this.starting.has(c.ID)) {
      await this.connectAttach(c, a);
      return;
    }
    const list = this.pendingAttach.get(c.ID) ?? [];
    list.push(a);
    this.pendingAttach.set(c.ID, list);
    socket.on('close', () => {
      const l = this.pendingAttach.get(c.ID);
      if (l) this.pendingAttach.set(c.ID, l.filter((x) => x !== a));
    });
  }

  private async connectAttach(c: ContainerRecord, a: PendingAttach): Promise<void> {
    const stdin = a.stdin && !!c.Config.OpenStdin;
    const { reply, socket: shim, rest } = await shimCommand(this.stateDir(c.ID), `attach ${stdin ? 1 : 0} ${a.stdout ? 1 : 0} ${a.stderr ? 1 : 0}`);
    if (!reply.startsWith('ok')) {
      shim.destroy();
      a.socket.destroy();
      return;
    }
    if (rest.length) a.socket.write(rest);
    shim.pipe(a.socket);
    shim.resume();
    if (stdin) {
      a.socket.pipe(shim);
    } else {
      a.socket.resume();
      a.socket.on('end', () => { /* client closed stdin; keep streaming output */ });
    }
    a.socket.on('error', () => shim.destroy());
    a.socket.on('close', () => shim.destroy());
    shim.on('error', () => a.socket.destroy());
  }

  async resize(ref: string, h: number, w: number): Promise<void> {
    const c = this.get(ref);
    if (!c.State.Running) throw conflict(`Container ${c.ID} is not running`);
    // The container may be exiting right now; a resize that misses it is not an error for the client.
    if (c.Config.Tty) await shimSimple(this.stateDir(c.ID), `resize ${h} ${w}`).catch(() => {});
    this.emit('event', 'resize', c, { height: String(h), width: String(w) });
  }

  // ---- pause / rename / update ----------------------------------------------------------------

  async pause(ref: string): Promise<void> {
    const c = this.get(ref);
    if (!c.State.Running) throw conflict(`Container ${c.ID} is not running`);
    if (c.State.Paused) throw conflict(`Container ${c.ID} is already paused`);
    await runtimeCommand(this.runtimeOf(c), ['pause', c.ID]).catch((e: Error) => {
      throw internal(`cannot pause container ${c.ID}: ${e.message}`);
    });
    c.State = { ...c.State, Status: 'paused', Paused: true };
    await this.save(c);
    this.emit('event', 'pause', c);
  }

  async unpause(ref: string): Promise<void> {
    const c = this.get(ref);
    if (!c.State.Paused) throw conflict(`Container ${c.ID} is not paused`);
    await this.resume(c).catch((e: Error) => {
      throw internal(`Cannot unpause container ${c.ID}: ${e.message}`);
    });
    this.emit('event', 'unpause', c);
  }

  private async resume(c: ContainerRecord): Promise<void> {
    await runtimeCommand(this.runtimeOf(c), ['resume', c.ID]);
    if (c.State.Running) c.State = { ...c.State, Status: 'running', Paused: false };
    await this.save(c);
  }

  async rename(ref: string, newName: string): Promise<void> {
    if (!ref || !newName) throw invalidParameter('Neither old nor new names may be empty');
    const name = newName.startsWith('/') ? newName : `/${newName}`;
    const c = this.get(ref);
    if ((ref.startsWith('/') ? ref : `/${ref}`) === name) throw invalidParameter('Renaming a container with the same name as its current name');
    if (!NAME_RE.test(name)) {
      throw invalidParameter(`Error when allocating new name: Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    }
    const other = this.tryGetByName(name);
    if (other) {
      throw conflict(`Error when allocating new name: Conflict. The container name "${name}" is already in use by container "${other.ID}". You have to remove (or rename) that container to be able to reuse that name.`);
    }
    const oldName = c.Name;
    c.Name = name;
    try {
      await this.save(c);
    } catch (err) {
      c.Name = oldName;
      throw err;
    }
    this.emit('event', 'rename', c, { oldName });
  }

  // Docker's ContainerUpdate: the new resources go into the HostConfig, and into the cgroup of a running
  // (or paused) container through the runtime; a runtime failure leaves the HostConfig as it was.
  async update(ref: string, body: AnyObj): Promise<{ Warnings: string[] }> {
    const warnings = validateUpdate(body);
    const c = this.get(ref);
    const next = mergeUpdate(c.ID, c.HostConfig, body);
    if (c.State.Running && !c.State.Restarting) {
      const file = path.join(this.stateDir(c.ID), 'resources.json');
      await fsp.writeFile(file, JSON.stringify(linuxResources(next)));
      try {
        await runtimeCommand(this.runtimeOf(c), ['update', '--resources', file, c.ID]);
        const pidsMax = liftPidsLimit(body, this.rt.cgroupVersion, c.ID);
        if (pidsMax) await fsp.writeFile(pidsMax, 'max');
      } catch (err) {
        throw internal(`Cannot update container ${c.ID}: ${(err as Error).message}`);
      } finally {
        await fsp.rm(file, { force: true });
      }
    }
    c.HostConfig = next;
    await this.save(c);
    this.emit('event', 'update', c);
    return { Warnings: warnings };
  }

  imageName(c: ContainerRecord): string {
    return c.Config.Image ?? familiarName(c.Image);
  }
}

// The previous shim of a container deletes the runtime's state after it reported the exit; a new start must
// not race it.
async function waitForShimGone(stateDir: string): Promise<void> {
  let pid: number;
  try {
    pid = Number(readFileSync(path.join(stateDir, 'shim.pid'), 'utf8'));
  } catch {
    return;
  }
  for (let i = 0; i < 500 && pid > 0; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}


export { ZERO_TIME };
