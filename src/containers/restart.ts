// Restart policies, as Docker's restart manager applies them: whether an exited container is started again,
// after which delay, and which containers come back when the daemon starts. The decisions are pure functions;
// RestartScheduler keeps the per-container state Docker keeps in memory (the current delay, "cancelled" after
// a stop or kill by the user, the pending timer).

export interface RestartPolicy {
  Name?: string;
  MaximumRetryCount?: number;
}

// Docker: the delay starts at 100 ms and doubles after each restart, up to one minute; a container that ran
// for at least 10 s starts over at 100 ms.
export const BACKOFF_START_MS = 100;
export const BACKOFF_MAX_MS = 60_000;
export const BACKOFF_RESET_RUN_MS = 10_000;

/** The delay before the next restart, given the previous one (0: none yet) and how long the container ran. */
export function nextDelay(prevMs: number, ranMs: number): number {
  const prev = ranMs >= BACKOFF_RESET_RUN_MS ? 0 : prevMs;
  if (prev <= 0) return BACKOFF_START_MS;
  return Math.min(prev * 2, BACKOFF_MAX_MS);
}

export interface ExitFacts {
  exitCode: number;
  /** Stopped or killed through the API since its last start (Docker's HasBeenManuallyStopped). */
  manuallyStopped: boolean;
  /** Restarts so far since the last start by the user (RestartCount). */
  restartCount: number;
}

/** Whether the policy restarts a container after this exit (Docker's RestartManager.ShouldRestart). */
export function policyRestarts(policy: RestartPolicy | undefined, f: ExitFacts): boolean {
  switch (policy?.Name ?? '') {
    case 'always':
      return true;
    case 'unless-stopped':
      return !f.manuallyStopped;
    case 'on-failure': {
      // MaximumRetryCount 0: no limit.
      const max = policy?.MaximumRetryCount ?? 0;
      return f.exitCode !== 0 && (max <= 0 || f.restartCount < max);
    }
    default:
      return false;
  }
}

/**
 * At daemon start, which stopped containers are started again: those that were started before and whose policy
 * would restart them now (dockerd's restore asks the same ShouldRestart question of a fresh restart manager).
 * So `always` comes back even after `docker stop`, `unless-stopped` only if the user did not stop it, and
 * `on-failure` if it last exited non-zero with retries left (the docs say on-failure containers are not
 * started at daemon start; dockerd does start them in that case, moby#47846, and we do what dockerd does).
 */
export function startsAtDaemonStart(policy: RestartPolicy | undefined, f: ExitFacts & { startedBefore: boolean }): boolean {
  return f.startedBefore && policyRestarts(policy, f);
}

/**
 * Docker's ExitOnNext: a kill (or stop) by the user disables the policy until the next start when the signal is
 * SIGKILL or the container's stop signal, or when the container has no stop signal of its own.
 */
export function killCancelsRestart(signal: number, stopSignal: number | undefined): boolean {
  return signal === 9 || stopSignal === undefined || stopSignal === signal;
}

interface Tracked {
  delayMs: number;
  cancelled: boolean;
  timer?: NodeJS.Timeout;
}

export class RestartScheduler {
  private byId = new Map<string, Tracked>();

  private get(id: string): Tracked {
    let t = this.byId.get(id);
    if (!t) {
      t = { delayMs: 0, cancelled: false };
      this.byId.set(id, t);
    }
    return t;
  }

  /**
   * At an exit: the delay before starting the container again, or undefined when it stays stopped. Like
   * Docker, the delay grows at every exit of a container with a policy, restarted or not.
   */
  onExit(id: string, policy: RestartPolicy | undefined, f: ExitFacts & { ranMs: number }): number | undefined {
    const name = policy?.Name ?? '';
    if (name === '' || name === 'no') return undefined;
    const t = this.get(id);
    if (t.cancelled || t.timer) return undefined;
    t.delayMs = nextDelay(t.delayMs, f.ranMs);
    return policyRestarts(policy, f) ? t.delayMs : undefined;
  }

  /** Runs `fn` after `delayMs`, unless cancelled first. */
  schedule(id: string, delayMs: number, fn: () => void): void {
    const t = this.get(id);
    clearTimeout(t.timer);
    t.timer = setTimeout(() => {
      t.timer = undefined;
      if (!t.cancelled) fn();
    }, delayMs);
    // A pending restart must not keep berthd alive at shutdown: the container's state on disk says
    // "restarting" and the next berthd decides again.
    t.timer.unref();
  }

  pending(id: string): boolean {
    return !!this.byId.get(id)?.timer;
  }

  cancelled(id: string): boolean {
    return !!this.byId.get(id)?.cancelled;
  }

  /** Disables restarts until reset(); returns whether a restart was pending (and is now dropped). */
  cancel(id: string): boolean {
    const t = this.get(id);
    t.cancelled = true;
    if (!t.timer) return false;
    clearTimeout(t.timer);
    t.timer = undefined;
    return true;
  }

  /** A start by the user: a fresh restart manager (delay back to 100 ms, policy enabled again). */
  reset(id: string): void {
    const t = this.byId.get(id);
    if (t) clearTimeout(t.timer);
    this.byId.delete(id);
  }

  forget(id: string): void {
    this.reset(id);
  }
}
