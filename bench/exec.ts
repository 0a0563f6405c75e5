// Benchmark: `docker exec CONTAINER true` through berthd vs raw `crun exec` into the same container (the
// floor). Prints one table; asserts nothing.   scripts/node.sh bench/exec.ts [runs]
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { timeIt, median } from './lib.ts';
import { startDaemon, BERTH, DOCKER, run } from '../test/harness.ts';

const runs = Number(process.argv[2] ?? 30);

const d = await startDaemon();
const tmp = mkdtempSync('/tmp/bench-exec-');
try {
  if ((await run(BERTH, ['image', 'bootstrap'], { env: d.env })).code !== 0) throw new Error('bootstrap failed');
  const id = (await run(DOCKER, ['run', '-d', 'busybox', 'sleep', '600'], { env: d.env })).stdout.trim();
  // The floor: the container's own process spec with `true`, handed to crun exec directly.
  const spec = JSON.parse(readFileSync(path.join(d.execRoot, 'c', id, 'config.json'), 'utf8'));
  const proc = { ...spec.process, args: ['true'], terminal: false };
  writeFileSync(path.join(tmp, 'process.json'), JSON.stringify(proc));
  const rows: { label: string; xs: number[] }[] = [
    { label: 'crun exec (floor)', xs: [] },
    { label: 'docker exec CONTAINER true', xs: [] },
    { label: 'berth exec CONTAINER true', xs: [] },
  ];
  const fns = [
    () => timeIt('crun', ['--root', path.join(d.execRoot, 'runtime'), 'exec', '--process', path.join(tmp, 'process.json'), id]),
    () => timeIt(DOCKER, ['exec', id, 'true'], d.env),
    () => timeIt(BERTH, ['exec', id, 'true'], d.env),
  ];
  for (const f of fns) for (let i = 0; i < 3; i++) f();
  for (let i = 0; i < runs; i++) fns.forEach((f, k) => rows[k].xs.push(f()));
  const floor = median(rows[0].xs);
  console.log(`\nexec true into a running container, ${runs} runs each (ms)`);
  console.log('what'.padEnd(30) + 'median'.padStart(9) + 'min'.padStart(9) + '  x floor');
  for (const r of rows) console.log(r.label.padEnd(30) + median(r.xs).toFixed(1).padStart(9) + Math.min(...r.xs).toFixed(1).padStart(9) + `  ${(median(r.xs) / floor).toFixed(2)}x`);
  await run(DOCKER, ['rm', '-f', id], { env: d.env });
} finally {
  rmSync(tmp, { recursive: true, force: true });
  await d.stop();
}
