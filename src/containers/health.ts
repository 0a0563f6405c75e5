// Healthchecks, as dockerd runs them: a probe command run inside the running container every interval; its
// exit status makes the container healthy (0) or, after `retries` failures in a row, unhealthy. The state
// (State.Health in inspect) is a small machine in pure functions; HealthMonitor runs one probe loop per
// running container with an injected probe function (an exec in the container).
import type { EventEmitter } from 'node:events';
import { invalidParameter } from '../lib/errors.ts';
import type { AnyObj, ContainerRecord, HealthLogEntry, HealthState } from './types.ts';

/** Config.Healthcheck; durations in nanoseconds, 0 meaning "inherit / default". */
export interface HealthConfig {
  Test?: string[] | null;
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

export interface ProbeResult {
  exitCode: number;
  output: string;
}

export type ProbeFn = (id: string, cmd: string[], opts: { timeoutMs: number }) => Promise<ProbeResult>;

// Docker's defaults (daemon/health.go and the HEALTHCHECK reference).
export const DEFAULT_INTERVAL_MS = 30_000;
export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_START_PERIOD_MS = 0;
export const DEFAULT_START_INTERVAL_MS = 5_000;
export const DEFAULT_RETRIES = 3;
export const MAX_LOG_ENTRIES = 5;

const MS = 1e6; // nanoseconds per millisecond

/**
 * Docker's merge of the image's healthcheck into the create body's: no healthcheck in the body takes the
 * image's; one without a test or with zero fields takes those fields from the image.
 */
export function mergeHealthcheck(user: HealthConfig | null | undefined, image: HealthConfig | null | undefined): HealthConfig | undefined {
  if (!user) return image ? { ...image } : undefined;
  const out: HealthConfig = { ...user };
  if (image) {
    if (!out.Test?.length) out.Test = image.Test;
    if (!out.Interval) out.Interval = image.Interval;
    if (!out.Timeout) out.Timeout = image.Timeout;
    if (!out.StartPeriod) out.StartPeriod = image.StartPeriod;
    if (!out.StartInterval) out.StartInterval = image.StartInterval;
    if (!out.Retries) out.Retries = image.Retries;
  }
  return out;
}

/** Docker's validateHealthCheck at create (durations of at least 1ms, retries not negative). */
export function validateHealthcheck(hc: AnyObj | null | undefined): void {
  if (!hc) return;
  for (const k of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval']) {
    const v = hc[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number') throw invalidParameter(`invalid ${k} in Healthcheck: must be a number`);
    if (v !== 0 && v < MS) throw invalidParameter(`${k} in Healthcheck cannot be less than 1ms`);
  }
  if (hc.Retries !== undefined && hc.Retries !== null && (typeof hc.Retries !== 'number' || hc.Retries < 0)) {
    throw invalidParameter('Retries in Healthcheck cannot be negative');
  }
  if (hc.Test !== undefined && hc.Test !== null && !(Array.isArray(hc.Test) && hc.Test.every((t: unknown) => typeof t === 'string'))) {
    throw invalidParameter('invalid Test in Healthcheck: must be a list of strings');
  }
}

/**
 * The command a probe runs, or undefined when there is no probe: no healthcheck, ["NONE"], an empty test or an
 * unknown kind. ["CMD", args...] runs args; ["CMD-SHELL", cmd] runs the container's shell (Config.Shell,
 * /bin/sh -c by default) with cmd.
 */
export function probeCommand(hc: HealthConfig | null | undefined, shell?: string[] | null): string[] | undefined {
  const test = hc?.Test;
  if (!test?.length) return undefined;
  const args = test.slice(1);
  if (test[0] === 'CMD') return args.length ? args : undefined;
  if (test[0] === 'CMD-SHELL') return [...(shell?.length ? shell : ['/bin/sh', '-c']), ...args];
  return undefined;
}

export interface HealthTimings {
  intervalMs: number;
  timeoutMs: number;
  startPeriodMs: number;
  startIntervalMs: number;
  retries: number;
}

export function healthTimings(hc: HealthConfig): HealthTimings {
  const ms = (ns: number | undefined, dflt: number) => (ns && ns > 0 ? ns / MS : dflt);
  return {
    intervalMs: ms(hc.Interval, DEFAULT_INTERVAL_MS),
    timeoutMs: ms(hc.Timeout, DEFAULT_TIMEOUT_MS),
    startPeriodMs: ms(hc.StartPeriod, DEFAULT_START_PERIOD_MS),
    startIntervalMs: ms(hc.StartInterval, DEFAULT_START_INTERVAL_MS),
    retries: hc.Retries && hc.Retries > 0 ? hc.Retries : DEFAULT_RETRIES,
  };
}

/** The wait before the next probe: the start interval while still starting within the start period. */
export function nextInterval(t: HealthTimings, startedAtMs: number, nowMs: number, status: HealthState['Status']): number {
  if (nowMs - startedAtMs >= t.startPeriodMs) return t.intervalMs;
  return status === 'starting' ? t.startIntervalMs : t.intervalMs;
}

/** A fresh or restarted container's health: starting, no failures, the old log kept (Docker's initHealthMonitor). */
export function resetHealth(h: HealthState | undefined): HealthState {
  return { Status: 'starting', FailingStreak: 0, Log: h?.Log ?? [] };
}

/**
 * Records one probe result (Docker's handleProbeResult): success makes the container healthy; a failure adds to
 * the failing streak (not while still starting within the start period) and `retries` of them make it
 * unhealthy. Returns the new status when it changed.
 */
export function applyProbeResult(h: HealthState, r: HealthLogEntry, o: { retries: number; startPeriodMs: number; startedAtMs: number }): HealthState['Status'] | undefined {
  const before = h.Status;
  h.Log = [...h.Log, r].slice(-MAX_LOG_ENTRIES);
  if (r.ExitCode === 0) {
    h.FailingStreak = 0;
    h.Status = 'healthy';
  } else {
    const withinStart = h.Status === 'starting' && Date.parse(r.Start) - o.startedAtMs < o.startPeriodMs;
    if (!withinStart) {
      h.FailingStreak++;
      if (h.FailingStreak >= o.retries) h.Status = 'unhealthy';
    }
  }
  return h.Status !== before ? h.Status : undefined;
}

/** The health part of `docker ps`'s STATUS ("Up 5 seconds (health: starting)"). */
export function healthString(h: HealthState): string {
  return h.Status === 'starting' ? 'health: starting' : h.Status;
}

/** The value the `health` filter of GET /containers/json matches. */
export function healthFilterValue(c: ContainerRecord): string {
  return c.State.Health?.Status ?? 'none';
}

export const HEALTH_FILTER_VALUES = ['starting', 'healthy', 'unhealthy', 'none'];

export interface HealthHost {
  probe: ProbeFn;
  /** The health state changed (persist it). */
  changed(c: ContainerRecord): void;
  /** Emits a container event ("health_status: healthy"). */
  event(action: string, c: ContainerRecord): void;
}

interface Loop {
  stopped: boolean;
  timer?: NodeJS.Timeout;
}

export class HealthMonitor {
  private loops = new Map<string, Loop>();
  private readonly host: HealthHost;

  constructor(host: HealthHost) {
    this.host = host;
  }

  /**
   * Follows a container manager's lifecycle events: a start resets the health to starting and runs the checks,
   * an exit, a pause or a removal stops them, an unpause resumes them.
   */
  follow(events: EventEmitter): void {
    events.on('event', (action: string, c: ContainerRecord) => {
      if (action === 'start') this.start(c);
      else if (action === 'die' || action === 'destroy' || action === 'pause') this.stop(c.ID);
      else if (action === 'unpause') this.resume(c);
    });
  }

  /** A container started, restarted, or found running at daemon start. */
  start(c: ContainerRecord): void {
    this.stop(c.ID);
    const cmd = probeCommand(c.Config.Healthcheck, c.Config.Shell);
    if (!cmd) return;
    c.State.Health = resetHealth(c.State.Health);
    this.host.changed(c);
    this.run(c, cmd);
  }

  /** Probes again after an unpause, keeping the status. */
  resume(c: ContainerRecord): void {
    const cmd = probeCommand(c.Config.Healthcheck, c.Config.Shell);
    if (!cmd || !c.State.Health || this.loops.has(c.ID)) return;
    this.run(c, cmd);
  }

  stop(id: string): void {
    const loop = this.loops.get(id);
    if (!loop) return;
    loop.stopped = true;
    clearTimeout(loop.timer);
    this.loops.delete(id);
  }

  running(id: string): boolean {
    return this.loops.has(id);
  }

  stopAll(): void {
    for (const id of [...this.loops.keys()]) this.stop(id);
  }

  private run(c: ContainerRecord, cmd: string[]): void {
    const t = healthTimings(c.Config.Healthcheck);
    const startedAtMs = Date.parse(c.State.StartedAt);
    const loop: Loop = { stopped: false };
    this.loops.set(c.ID, loop);
    const schedule = () => {
      const status = c.State.Health?.Status ?? 'starting';
      loop.timer = setTimeout(() => void probe(), nextInterval(t, startedAtMs, Date.now(), status));
      loop.timer.unref();
    };
    const probe = async () => {
      const start = new Date();
      let r: ProbeResult;
      try {
        r = await this.host.probe(c.ID, cmd, { timeoutMs: t.timeoutMs });
      } catch (err) {
        // Docker records a probe that could not run as a failure with the error as its output.
        r = { exitCode: -1, output: err instanceof Error ? err.message : String(err) };
      }
      // Stopped while probing (exit, pause, removal): the result is dropped, as dockerd does.
      if (loop.stopped || !c.State.Health) return;
      const entry: HealthLogEntry = { Start: start.toISOString(), End: new Date().toISOString(), ExitCode: r.exitCode, Output: r.output };
      const changed = applyProbeResult(c.State.Health, entry, { retries: t.retries, startPeriodMs: t.startPeriodMs, startedAtMs });
      this.host.changed(c);
      if (changed) this.host.event(`health_status: ${changed}`, c);
      schedule();
    };
    schedule();
  }
}
