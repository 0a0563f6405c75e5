// The HTTP server on the unix socket: dispatch, error mapping, hijack for Upgrade: tcp.
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Router, Ctx } from './router.ts';
import { splitVersion, commonHeaders, errorBody } from './router.ts';

export function createApiServer(router: Router, log: (msg: string) => void): http.Server {
  const server = http.createServer({ keepAliveTimeout: 60000, requestTimeout: 0, headersTimeout: 60000 });

  const dispatch = async (req: http.IncomingMessage, res: http.ServerResponse | undefined, upgrade?: { socket: Duplex; head: Buffer }) => {
    const url = new URL(req.url ?? '/', 'http://berth');
    let ctx: Ctx | undefined;
    try {
      const { version, path } = splitVersion(url.pathname);
      const m = router.match(req.method ?? 'GET', path.replace(/\/+$/, '') || '/');
      if (!m) throw Object.assign(new Error(`page not found`), { status: 404 });
      if (m === 'method') throw Object.assign(new Error(`method not allowed`), { status: 405 });
      ctx = { req, res, params: m.params, query: url.searchParams, version, upgrade };
      const t0 = performance.now();
      await m.handler(ctx);
      if (process.env.BERTH_TRACE) log(`trace: ${req.method} ${path} ${(performance.now() - t0).toFixed(1)}ms`);
    } catch (err) {
      const { status, message } = (err as { status?: number }).status && !(err instanceof Error && err.name === 'BerthError')
        ? { status: (err as { status: number }).status, message: (err as Error).message }
        : errorBody(err);
      if (status >= 500) log(`error: ${req.method} ${req.url}: ${(err as Error).stack ?? message}`);
      const body = status === 304 ? '' : JSON.stringify({ message }) + '\n';
      if (res && !res.headersSent) {
        res.writeHead(status, status === 304 ? {} : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
      } else if (upgrade && !upgrade.socket.destroyed) {
        upgrade.socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      } else if (res) {
        res.destroy();
      }
    }
  };

  server.on('request', (req, res) => {
    for (const [k, v] of Object.entries(commonHeaders())) res.setHeader(k, v);
    void dispatch(req, res);
  });
  server.on('upgrade', (req, socket, head) => void dispatch(req, undefined, { socket, head }));
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
  });
  return server;
}
