// Benchmark: `docker run --rm busybox true` through berthd vs the raw `crun run` floor on the same rootfs,
// plus the memory of an idle berthd and of one shim. Prints one table; asserts nothing.
//   scripts/node.sh bench/run-true.ts [runs]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync, readdirSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { timeIt, median } from './lib.ts';
import { startDaemon, BERTH, DOCKER, run } from '../test/harness.ts';

const runs = Number(process.argv[2] ?? 30);

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

const d = await startDaemon();
const bundle = mkdtempSync('/tmp/bench-crun-');
try {
  const boot = await run(BERTH, ['image', 'bootstrap'], { env: d.env });
  if (boot.code !== 0) throw new Error(boot.stderr);

  // The floors: crun's own `run` on the very layer directory berthd uses (read-only; no berthd, no shim, no
  // overlay), (a) with the OCI config berthd writes for this container (Docker's isolation: seccomp,
  // capabilities, masked paths, cgroup, namespaces), and (b) with `crun spec`'s minimal config.
  const layersDir = path.join(d.dataRoot, 'layers');
  const layer = readdirSync(layersDir).find((n) => /^[a-f0-9]{64}$/.test(n))!;
  const rootfs = { path: path.join(layersDir, layer, 'diff'), readonly: true };
  const probe = (await run(DOCKER, ['run', '-d', 'busybox', 'sleep', '60'], { env: d.env })).stdout.trim();
  const full = JSON.parse(readFileSync(path.join(d.execRoot, 'c', probe, 'config.json'), 'utf8'));
  full.process.args = ['true'];
  full.root = rootfs;
  mkdirSync(path.join(bundle, 'full'));
  mkdirSync(path.join(bundle, 'minimal'));
  writeFileSync(path.join(bundle, 'full', 'config.json'), JSON.stringify(full));
  execFileSync('crun', ['spec', '--bundle', path.join(bundle, 'minimal')]);
  const minimal = JSON.parse(readFileSync(path.join(bundle, 'minimal', 'config.json'), 'utf8'));
  minimal.process.terminal = false;
  minimal.process.args = ['true'];
  minimal.root = rootfs;
  writeFileSync(path.join(bundle, 'minimal', 'config.json'), JSON.stringify(minimal));

  const measure = (label: string, f: (i: number) => number) => {
    for (let i = 0; i < 3; i++) f(-1 - i); // warm-up
    const xs: number[] = [];
    for (let i = 0; i < runs; i++) xs.push(f(i));
    return { label, median: median(xs), min: Math.min(...xs) };
  };
  const crunRun = measure('crun run, berthd\'s config (floor)', (i) => {
    full.linux.cgroupsPath = `/berth/bench-${process.pid}-${i}`;
    writeFileSync(path.join(bundle, 'full', 'config.json'), JSON.stringify(full));
    return timeIt('crun', ['--root', path.join(bundle, 'state'), 'run', '--bundle', path.join(bundle, 'full'), `bench-${process.pid}-f${i}`]);
  });
  const crunMin = measure('crun run, minimal config', (i) => timeIt('crun', ['--root', path.join(bundle, 'state'), 'run', '--bundle', path.join(bundle, 'minimal'), `bench-${process.pid}-m${i}`]));
  await run(DOCKER, ['rm', '-f', probe], { env: d.env }); // its /etc/hosts etc. were bind sources above
  const dockerCli = measure('docker version (CLI alone)', () => timeIt(DOCKER, ['version'], d.env));
  const dockerRun = measure('docker run --rm busybox true', () => timeIt(DOCKER, ['run', '--rm', 'busybox', 'true'], d.env));
  const berthRun = measure('berth run --rm busybox true', () => timeIt(BERTH, ['run', '--rm', 'busybox', 'true'], d.env));

  // Memory: berthd idle after the runs, and one shim holding a sleeping container.
  await new Promise((r) => setTimeout(r, 500));
  const berthdRss = rssKb(d.proc.pid!);
  const sleeper = await run(DOCKER, ['run', '-d', 'busybox', 'sleep', '60'], { env: d.env });
  const id = sleeper.stdout.trim();
  const shimPid = Number(readFileSync(path.join(d.execRoot, 'c', id, 'shim.pid'), 'utf8'));
  const shimRss = rssKb(shimPid);
  await run(DOCKER, ['rm', '-f', id], { env: d.env });

  const rows = [crunRun, crunMin, dockerCli, dockerRun, berthRun];
  console.log(`\nrun --rm busybox true, ${runs} runs each (ms)`);
  console.log('what'.padEnd(34) + 'median'.padStart(9) + 'min'.padStart(9) + '  x floor');
  for (const r of rows) {
    console.log(r.label.padEnd(34) + r.median.toFixed(1).padStart(9) + r.min.toFixed(1).padStart(9) + `  ${(r.median / crunRun.median).toFixed(2)}x`);
  }
  console.log(`\nmemory: berthd idle RSS ${(berthdRss / 1024).toFixed(1)} MiB, one berth-shim RSS ${(shimRss / 1024).toFixed(2)} MiB`);
  console.log(`target: docker run through berthd under 4x the crun floor: ${dockerRun.median / crunRun.median < 4 ? 'met' : 'NOT met'} (${(dockerRun.median / crunRun.median).toFixed(2)}x)`);
} finally {
  rmSync(bundle, { recursive: true, force: true });
  await d.stop();
}
