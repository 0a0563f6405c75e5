// Benchmark: a 5-step Dockerfile built through berthd's classic builder (docker CLI, DOCKER_BUILDKIT=0), cold
// (--no-cache) and fully cached, beside the floor measured in the same run: its RUN steps' commands run as plain
// containers (`docker run --rm busybox sh -c ...`, one after the other) — what the build cannot avoid.
// Prints one table; asserts nothing.   scripts/node.sh bench/build.ts [runs]
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { timeIt, median } from './lib.ts';
import { startDaemon, BERTH, DOCKER, run } from '../test/harness.ts';

const runs = Number(process.argv[2] ?? 5);
const RUNS = ['echo one > /one', 'seq 1 20000 > /numbers', 'seq 1 20000 | wc -l > /count'];
const dockerfile = ['FROM busybox', `RUN ${RUNS[0]}`, 'COPY app.txt /app.txt', `RUN ${RUNS[1]}`, `RUN ${RUNS[2]}`, 'CMD ["cat", "/count"]'].join('\n');

const d = await startDaemon();
const dir = mkdtempSync('/tmp/bench-build-');
try {
  const boot = await run(BERTH, ['image', 'bootstrap'], { env: d.env });
  if (boot.code !== 0) throw new Error(boot.stderr);
  writeFileSync(path.join(dir, 'Dockerfile'), dockerfile);
  writeFileSync(path.join(dir, 'app.txt'), 'app\n');
  const env = { ...d.env, DOCKER_BUILDKIT: '0' };
  const measure = (label: string, f: () => number) => {
    f();
    const xs: number[] = [];
    for (let i = 0; i < runs; i++) xs.push(f());
    return { label, median: median(xs), min: Math.min(...xs) };
  };
  const floor = measure('RUN commands as containers (floor)', () => RUNS.reduce((t, c) => t + timeIt(DOCKER, ['run', '--rm', 'busybox', 'sh', '-c', c], d.env), 0));
  const cold = measure('docker build --no-cache', () => timeIt(DOCKER, ['build', '-q', '--no-cache', '-t', 'bench:build', dir], env));
  const cached = measure('docker build (all cached)', () => timeIt(DOCKER, ['build', '-q', '-t', 'bench:build', dir], env));
  console.log(`\n5-step Dockerfile (3 RUN, 1 COPY, CMD) through berthd, ${runs} runs each (ms)`);
  console.log('what'.padEnd(38) + 'median'.padStart(9) + 'min'.padStart(9) + '  x floor');
  for (const r of [floor, cold, cached]) console.log(r.label.padEnd(38) + r.median.toFixed(0).padStart(9) + r.min.toFixed(0).padStart(9) + `  ${(r.median / floor.median).toFixed(2)}x`);
} finally {
  rmSync(dir, { recursive: true, force: true });
  await d.stop();
}
