// ContainerTop: the host's ps with the caller's options, keeping the container's processes (those in its
// cgroup), as Docker's daemon/top_unix.go does.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { controllerDir, type CgroupInfo } from '../runtime/cgroups.ts';
import { BerthError } from '../lib/errors.ts';

export interface TopResult {
  Titles: string[];
  Processes: string[][];
}

/** The pids in a container's cgroup (on v1, every controller's cgroup holds all of them). */
export function cgroupPids(cg: CgroupInfo, id: string): number[] {
  for (const controller of ['pids', 'memory', 'cpu']) {
    try {
      return readFileSync(`${controllerDir(cg, controller, id)}/cgroup.procs`, 'utf8').split('\n').filter(Boolean).map(Number);
    } catch { /* controller not mounted, or the container is gone */ }
  }
  return [];
}

// Docker refuses ps options that title another column "PID" ("-o user=PID"), which would fool the filter
// (a plain error there, so a 500).
export function validatePsArgs(psArgs: string): void {
  for (const m of psArgs.matchAll(/\s+(\S*)=\s*(PID\S*)/g)) {
    if (m[1] !== 'pid') throw new BerthError('internal', `specifying "${m[1]}=${m[2]}" is not allowed`);
  }
}

// strings.Fields over ASCII white space only (ps pads with spaces; a command may hold other bytes).
function fieldsASCII(s: string): string[] {
  return s.split(/[\t\n\f\r ]+/).filter(Boolean);
}

/** Docker's parsePSOutput: the header's titles, and the rows whose PID is the container's (threads follow their process). */
export function parsePsOutput(output: string, pids: number[]): TopResult {
  const lines = output.split('\n');
  const titles = fieldsASCII(lines[0] ?? '');
  const pidIndex = titles.indexOf('PID');
  if (pidIndex < 0) throw new BerthError('internal', "Couldn't find PID field in ps output");
  const want = new Set(pids);
  const processes: string[][] = [];
  // Extra fields (a command with spaces) merge into the last column.
  const row = (f: string[]) => [...f.slice(0, titles.length - 1), f.slice(titles.length - 1).join(' ')];
  for (const line of lines.slice(1)) {
    if (!line) continue;
    const f = fieldsASCII(line);
    if (f[pidIndex] === '-') {
      if (processes.length) processes.push(row(f));
      continue;
    }
    const pid = Number(f[pidIndex]);
    if (!Number.isInteger(pid)) throw new BerthError('internal', `Unexpected pid '${f[pidIndex]}': strconv.Atoi: parsing "${f[pidIndex]}": invalid syntax`);
    if (want.has(pid)) processes.push(row(f));
  }
  return { Titles: titles, Processes: processes };
}

function ps(args: string[]): Promise<{ ok: boolean; stdout: string; stderr: string; error?: Error }> {
  return new Promise((resolve) => {
    execFile('ps', args, { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => resolve({ ok: !err, stdout, stderr, error: err ?? undefined }));
  });
}

/** Runs ps with the caller's options (default -ef) restricted to `pids` with -q, like Docker. */
export async function containerTop(pids: number[], psArgs = ''): Promise<TopResult> {
  const opts = psArgs === '' ? '-ef' : psArgs;
  validatePsArgs(opts);
  const args = opts.split(' ');
  let r = await ps([...args, `-q${pids.join(',')}`]);
  // Some options (such as f) cannot be combined with q: Docker retries without it, filtering itself.
  if (!r.ok) r = await ps(args);
  if (!r.ok) {
    const first = r.stderr.split('\n')[0];
    throw new BerthError('internal', `ps: ${first || r.error?.message}`);
  }
  return parsePsOutput(r.stdout, pids);
}
