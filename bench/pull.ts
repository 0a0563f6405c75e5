// Benchmark: `docker pull` of a ~100 MB, 4-layer gzip image from a loopback docker-registry into berthd, beside
// the floor measured in the same run: `skopeo copy docker://... dir:TMP` plus unpacking its layers with
// `tar -xzf` (one after the other, timed as one). The image is removed before each pull, so every layer is
// downloaded, verified and unpacked again. Prints one table; asserts nothing.
//   scripts/node.sh bench/pull.ts [runs]
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { timeIt, median } from './lib.ts';
import { startDaemon, DOCKER, run } from '../test/harness.ts';
import { startRegistry, buildImage, pushImage, SKOPEO, type LayerSpec } from '../test/registry-fixture.ts';

const runs = Number(process.argv[2] ?? 3);
const LAYERS = 4;
const LAYER_MB = 25;

// Data that gzip shrinks somewhat, like binaries and text in real images: per 1 MiB file, half random bytes and
// half base64 text of random bytes.
function layerSpec(n: number): LayerSpec {
  const files = [];
  for (let i = 0; i < LAYER_MB; i++) {
    const text = Buffer.from(randomBytes(384 * 1024).toString('base64'));
    files.push({ path: `layer${n}/file${i}`, data: Buffer.concat([randomBytes(512 * 1024), text]) });
  }
  return { files: [{ path: `layer${n}/`, dir: true }, ...files], compression: 'gzip' };
}

const d = await startDaemon();
const reg = await startRegistry();
const tmp = mkdtempSync('/tmp/bench-pull-');
try {
  const layers: LayerSpec[] = [];
  for (let i = 0; i < LAYERS; i++) layers.push(layerSpec(i));
  const image = await buildImage({ layers });
  const ref = `${reg.host}/bench/big:1`;
  await pushImage(reg, 'bench/big:1', image);
  const compressed = image.layers.reduce((a, l) => a + l.size, 0);
  const unpacked = image.layers.reduce((a, l) => a + l.tar.length, 0);

  // The floor: skopeo fetches the blobs (digests checked), then tar unpacks each gzip layer.
  const floorOnce = () => {
    const dir = path.join(tmp, 'dir');
    const root = path.join(tmp, 'rootfs');
    rmSync(dir, { recursive: true, force: true });
    rmSync(root, { recursive: true, force: true });
    mkdirSync(root);
    const t = process.hrtime.bigint();
    timeIt(SKOPEO, ['--insecure-policy', 'copy', '--quiet', '--src-tls-verify=false', '--src-no-creds', `docker://${ref}`, `dir:${dir}`]);
    const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { layers: { digest: string }[] };
    for (const l of manifest.layers) timeIt('tar', ['-xzf', path.join(dir, l.digest.slice(7)), '-C', root]);
    return Number(process.hrtime.bigint() - t) / 1e6;
  };
  const pullOnce = async () => {
    await run(DOCKER, ['rmi', '-f', image.configDigest], { env: d.env });
    return timeIt(DOCKER, ['pull', '-q', ref], d.env);
  };

  const measure = async (label: string, f: () => number | Promise<number>) => {
    await f(); // warm-up (page cache, registry)
    const xs: number[] = [];
    for (let i = 0; i < runs; i++) xs.push(await f());
    return { label, median: median(xs), min: Math.min(...xs) };
  };
  const floor = await measure('skopeo copy + tar -xzf (floor)', floorOnce);
  const pull = await measure('docker pull through berthd', pullOnce);

  console.log(`\npull of ${LAYERS} gzip layers, ${(compressed / 1e6).toFixed(0)} MB compressed, ${(unpacked / 1e6).toFixed(0)} MB unpacked, from a loopback docker-registry; median of ${runs} (ms)`);
  console.log('what'.padEnd(34) + 'median'.padStart(9) + 'min'.padStart(9) + '  x floor');
  for (const r of [floor, pull]) {
    console.log(r.label.padEnd(34) + r.median.toFixed(0).padStart(9) + r.min.toFixed(0).padStart(9) + `  ${(r.median / floor.median).toFixed(2)}x`);
  }
  const ratio = pull.median / floor.median;
  console.log(`dockerd on this machine: 1.14x the floor; target for berthd: at most 1.1x: ${ratio <= 1.1 ? 'met' : 'NOT met'} (${ratio.toFixed(2)}x)`);
  await run(DOCKER, ['rmi', '-f', image.configDigest], { env: d.env });
} finally {
  rmSync(tmp, { recursive: true, force: true });
  await reg.stop();
  await d.stop();
}
