// ContainerExec, ExecStart, ExecInspect, ExecResize.
import type { Router } from './router.ts';
import { readJson, sendJson, sendEmpty, sendText, intParam, hijack } from './router.ts';
import type { Daemon } from '../daemon/daemon.ts';
import { frame } from '../containers/logs.ts';

export function registerExecRoutes(r: Router, d: Daemon): void {
  const execs = d.containers.execs;
  r.add('POST', '/containers/{id}/exec', async (ctx) => {
    const body = (await readJson<Record<string, unknown>>(ctx, true))!;
    sendJson(ctx, 201, { Id: execs.create(ctx.params.id, body) });
  });
  r.add('POST', '/exec/{id}/start', async (ctx) => {
    const body = (await readJson<{ Detach?: boolean; Tty?: boolean; ConsoleSize?: [number, number] }>(ctx)) ?? {};
    const e = execs.get(ctx.params.id);
    // The docker CLI sends the terminal size with start (API >= 1.42), so the process starts at that size.
    if (Array.isArray(body.ConsoleSize) && body.ConsoleSize.length === 2) e.Config.ConsoleSize = [Number(body.ConsoleSize[0]), Number(body.ConsoleSize[1])];
    if (body.Detach) {
      await execs.start(e.ID, { detach: true });
      sendEmpty(ctx, 200);
      return;
    }
    execs.checkStart(e.ID);
    const sock = hijack(ctx, e.Config.Tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream');
    try {
      await execs.start(e.ID, { detach: false, socket: sock });
    } catch (err) {
      // Like dockerd: once hijacked, a failure to start is written into the stream; the exit code (126/127)
      // is in the exec's inspect, where the CLI reads it.
      const msg = Buffer.from(`${(err as Error).message}\r\n`);
      sock.end(e.Config.Tty ? msg : frame(1, msg));
    }
  });
  r.add('GET', '/exec/{id}/json', (ctx) => sendJson(ctx, 200, execs.inspect(ctx.params.id)));
  r.add('POST', '/exec/{id}/resize', async (ctx) => {
    await execs.resize(ctx.params.id, intParam(ctx.query, 'h') ?? 0, intParam(ctx.query, 'w') ?? 0);
    sendText(ctx, 200, '');
  });
}
