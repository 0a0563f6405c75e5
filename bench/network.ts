// Benchmark: the cost of a container's network, and the throughput of a published port.
//  1. `docker run --rm busybox true` on the default bridge vs `--network none` and `--network host` (the
//     difference is the network set-up: namespace, veth, address, rules, /etc files; dockerd here pays ~230 ms).
//  2. A 100 MB HTTP download from `busybox httpd` in a container: through the published port on 127.0.0.1 (the
//     userland proxy) vs straight to the container's address on the bridge (the floor).
// Prints tables; asserts nothing.   scripts/node.sh bench/network.ts [runs]
import http from 'node:http';
import { timeIt, median } from './lib.ts';
import { startDaemon, BERTH, DOCKER, run } from '../test/harness.ts';

const runs = Number(process.argv[2] ?? 20);
const d = await startDaemon();

function download(url: string): Promise<{ ms: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const t = process.hrtime.bigint();
    http.get(url, { agent: false }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => resolve({ ms: Number(process.hrtime.bigint() - t) / 1e6, bytes }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

async function docker(args: string[]): Promise<string> {
  const r = await run(DOCKER, args, { env: d.env });
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

try {
  const boot = await run(BERTH, ['image', 'bootstrap'], { env: d.env });
  if (boot.code !== 0) throw new Error(boot.stderr);

  const measure = (label: string, args: string[]) => {
    for (let i = 0; i < 3; i++) timeIt(DOCKER, args, d.env);
    const xs: number[] = [];
    for (let i = 0; i < runs; i++) xs.push(timeIt(DOCKER, args, d.env));
    return { label, median: median(xs), min: Math.min(...xs) };
  };
  const none = measure('--network none', ['run', '--rm', '--network', 'none', 'busybox', 'true']);
  const host = measure('--network host', ['run', '--rm', '--network', 'host', 'busybox', 'true']);
  const bridge = measure('default bridge', ['run', '--rm', 'busybox', 'true']);
  await docker(['network', 'create', 'benchnet']);
  const user = measure('user-defined bridge', ['run', '--rm', '--network', 'benchnet', 'busybox', 'true']);
  console.log(`\ndocker run --rm busybox true through berthd, ${runs} runs each (ms)`);
  console.log('network'.padEnd(24) + 'median'.padStart(9) + 'min'.padStart(9) + '  vs host');
  for (const r of [host, none, bridge, user]) {
    console.log(r.label.padEnd(24) + r.median.toFixed(1).padStart(9) + r.min.toFixed(1).padStart(9) + `  +${(r.median - host.median).toFixed(1)} ms`);
  }
  console.log(`network set-up cost (bridge - host): ${(bridge.median - host.median).toFixed(1)} ms (dockerd on this machine: ~230 ms)`);

  // Throughput: 100 MB served by busybox httpd, published on a free loopback port.
  const id = await docker(['run', '-d', '-p', '127.0.0.1::80', 'busybox', 'sh', '-c',
    'mkdir -p /www && dd if=/dev/zero of=/www/big bs=1M count=100 2>/dev/null && exec httpd -f -p 80 -h /www']);
  const port = (await docker(['port', id, '80/tcp'])).split(':').pop();
  const ip = await docker(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', id]);
  const get = async (url: string) => {
    for (let i = 0; i < 100; i++) {
      const r = await download(url).catch(() => undefined);
      if (r && r.bytes === 100 * 1024 * 1024) return r;
      await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error(`no 100 MB from ${url}`);
  };
  const tput = async (label: string, url: string) => {
    await get(url);
    const xs: number[] = [];
    for (let i = 0; i < 5; i++) xs.push((await get(url)).ms);
    const ms = median(xs);
    return { label, ms, mbps: 100 / (ms / 1000) };
  };
  const direct = await tput(`direct to ${ip}:80 (floor)`, `http://${ip}/big`);
  const proxied = await tput(`127.0.0.1:${port} (proxy)`, `http://127.0.0.1:${port}/big`);
  console.log('\n100 MB over HTTP from a container, median of 5');
  console.log('path'.padEnd(32) + 'ms'.padStart(9) + 'MB/s'.padStart(9) + '  x floor');
  for (const r of [direct, proxied]) console.log(r.label.padEnd(32) + r.ms.toFixed(0).padStart(9) + r.mbps.toFixed(0).padStart(9) + `  ${(r.ms / direct.ms).toFixed(2)}x`);
  await docker(['rm', '-f', id]);
  await docker(['network', 'rm', 'benchnet']);
} finally {
  await d.stop();
}
