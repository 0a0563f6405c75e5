// Benchmark: push and pull throughput of a ~100 MB, 4-layer image through `berth registry serve` and through the
// Debian docker-registry (distribution 2.8), both on loopback in the same run, both driven by the same client
// (skopeo: push from an OCI layout, pull into a dir:). Median of N runs each; every push goes to a fresh
// repository of a fresh registry root so every blob is uploaded. Prints one table; asserts nothing.
//   scripts/node.sh bench/registry.ts [runs]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { median } from './lib.ts';
import { run } from '../test/harness.ts';
import { startRegistry, buildImage, writeOciLayout, freePort, httpStatus, SKOPEO, type LayerSpec } from '../test/registry-fixture.ts';

const runs = Number(process.argv[2] ?? 3);
const root = path.resolve(import.meta.dirname, '..');

function layerSpec(n: number): LayerSpec {
  const files = [];
  for (let i = 0; i < 25; i++) files.push({ path: `l${n}/f${i}`, data: Buffer.concat([randomBytes(512 * 1024), Buffer.from(randomBytes(384 * 1024).toString('base64'))]) });
  return { files: [{ path: `l${n}/`, dir: true }, ...files], compression: 'gzip' };
}

async function startBerthRegistry(dir: string): Promise<{ host: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const proc: ChildProcess = spawn(path.join(root, 'bin/berth'), ['registry', 'serve', '--addr', `127.0.0.1:${port}`, '--root', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  for (let i = 0; i < 200; i++) {
    if ((await httpStatus(`http://127.0.0.1:${port}/v2/`).catch(() => 0)) === 200) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    host: `127.0.0.1:${port}`,
    stop: () => new Promise<void>((r) => { proc.once('exit', () => r()); proc.kill('SIGTERM'); }),
  };
}

async function timed(args: string[]): Promise<number> {
  const t = process.hrtime.bigint();
  const r = await run(SKOPEO, args, { timeout: 300000 });
  if (r.code !== 0) throw new Error(`skopeo ${args.join(' ')}: ${r.stderr}`);
  return Number(process.hrtime.bigint() - t) / 1e6;
}

const tmp = mkdtempSync('/tmp/bench-registry-');
try {
  const layers: LayerSpec[] = [];
  for (let i = 0; i < 4; i++) layers.push(layerSpec(i));
  const image = await buildImage({ layers });
  const layout = path.join(tmp, 'layout');
  writeOciLayout(layout, image, 'bench');
  const mb = image.layers.reduce((a, l) => a + l.size, 0) / 1e6;
  const rows: { label: string; push: number; pull: number }[] = [];
  for (const kind of ['docker-registry (distribution 2.8)', 'berth registry serve'] as const) {
    const pushes: number[] = [];
    const pulls: number[] = [];
    for (let i = 0; i < runs; i++) {
      const dir = path.join(tmp, `root-${kind.startsWith('berth') ? 'b' : 'd'}-${i}`);
      const reg = kind.startsWith('berth') ? await startBerthRegistry(dir) : await startRegistry();
      try {
        const ref = `docker://${reg.host}/bench/img:1`;
        pushes.push(await timed(['copy', '--dest-tls-verify=false', `oci:${layout}:bench`, ref]));
        const out = path.join(tmp, `pull-${i}-${randomBytes(3).toString('hex')}`);
        pulls.push(await timed(['copy', '--src-tls-verify=false', ref, `dir:${out}`]));
        rmSync(out, { recursive: true, force: true });
      } finally {
        await reg.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    }
    rows.push({ label: kind, push: median(pushes), pull: median(pulls) });
  }
  console.log(`\n${mb.toFixed(0)} MB image (4 gzip layers) through a loopback registry with skopeo, median of ${runs} (ms, MB/s)`);
  console.log('registry'.padEnd(38) + 'push ms'.padStart(9) + 'MB/s'.padStart(7) + 'pull ms'.padStart(9) + 'MB/s'.padStart(7));
  for (const r of rows) {
    console.log(r.label.padEnd(38) + r.push.toFixed(0).padStart(9) + (mb / (r.push / 1000)).toFixed(0).padStart(7) + r.pull.toFixed(0).padStart(9) + (mb / (r.pull / 1000)).toFixed(0).padStart(7));
  }
  const [dr, br] = rows;
  console.log(`berth vs distribution: push ${(br.push / dr.push).toFixed(2)}x the time, pull ${(br.pull / dr.pull).toFixed(2)}x the time`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
