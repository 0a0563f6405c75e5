// berthd entry point.
import { promises as fsp, existsSync, readFileSync, chmodSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { parseFlags, UsageError, USAGE } from './config.ts';
import { Daemon } from './daemon.ts';
import { buildRouter } from '../api/handlers.ts';
import { createApiServer } from '../api/server.ts';
import { ENGINE_VERSION } from '../api/router.ts';
import { writeFileAtomic } from '../lib/fsutil.ts';

function log(level: string, msg: string): void {
  process.stderr.write(`time="${new Date().toISOString()}" level=${level} msg=${JSON.stringify(msg)}\n`);
}

async function main(): Promise<void> {
  let cfg;
  try {
    cfg = parseFlags(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  if (cfg === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  if (cfg === 'version') {
    process.stdout.write(`Berth version ${ENGINE_VERSION}\n`);
    return;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('berthd needs to be started with root privileges\n');
    process.exit(1);
  }
  // One daemon per pidfile: refuse to start over a live one.
  if (existsSync(cfg.pidfile)) {
    const pid = Number(readFileSync(cfg.pidfile, 'utf8').trim());
    if (pid > 0 && pid !== process.pid) {
      try {
        process.kill(pid, 0);
        process.stderr.write(`pid file found, ensure berthd is not running or delete ${cfg.pidfile}\n`);
        process.exit(1);
      } catch { /* stale */ }
    }
  }
  mkdirSync(path.dirname(cfg.pidfile), { recursive: true });
  await writeFileAtomic(cfg.pidfile, `${process.pid}`);
  const daemon = new Daemon(cfg);
  await daemon.init();
  for (const w of daemon.warnings) log('warning', w);
  const router = buildRouter(daemon);
  const servers: { server: ReturnType<typeof createApiServer>; sock: string }[] = [];
  for (const h of cfg.hosts) {
    const sock = h.slice('unix://'.length);
    await fsp.mkdir(path.dirname(sock), { recursive: true });
    await fsp.rm(sock, { force: true });
    const server = createApiServer(router, (m) => log('error', m));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(sock, () => resolve());
    });
    chmodSync(sock, 0o660);
    servers.push({ server, sock });
    log('info', `API listen on ${sock}`);
  }
  log('info', `Daemon has completed initialization (data root ${cfg.dataRoot}, runtime ${daemon.defaultRuntime}, cgroup v${daemon.cgroups.version})`);

  // Containers keep running: they belong to their shims (live restore is the default).
  const shutdown = async (sig: string) => {
    log('info', `Processing signal '${sig}'`);
    for (const { server, sock } of servers) {
      server.close();
      server.closeAllConnections();
      await fsp.rm(sock, { force: true });
    }
    await daemon.networks.shutdown().catch((e: Error) => log('error', `network shutdown: ${e.message}`));
    await fsp.rm(cfg.pidfile, { force: true });
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('terminated'));
  process.on('SIGINT', () => void shutdown('interrupt'));
  daemon.containers.on('error', (e: Error) => log('error', e.message));
}

main().catch((err) => {
  log('fatal', err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
