// The userland proxy of a published port: it holds the host port (so a port in use is found before anything is
// set up, and no other program can take it meanwhile) and relays connections made to loopback, which the DNAT
// rules do not see. One per published port and protocol, owned by the container's endpoint.
import net from 'node:net';
import dgram from 'node:dgram';

export interface ProxyTarget {
  proto: 'tcp' | 'udp';
  hostIp: string; // '' = every address
  hostPort: number; // 0 = an ephemeral port
  containerIp: string;
  containerPort: number;
}

export interface PortProxy {
  readonly hostPort: number;
  close(): Promise<void>;
}

export async function openProxy(t: ProxyTarget): Promise<PortProxy> {
  return t.proto === 'udp' ? openUdp(t) : openTcp(t);
}

function openTcp(t: ProxyTarget): Promise<PortProxy> {
  const conns = new Set<net.Socket>();
  const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (client) => {
    const upstream = net.connect({ host: t.containerIp, port: t.containerPort, allowHalfOpen: true });
    conns.add(client);
    conns.add(upstream);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    // Half-close is relayed both ways (an HTTP client that shuts down its write side still gets the reply).
    client.pipe(upstream);
    upstream.pipe(client);
    upstream.once('connect', () => client.resume());
    const done = () => {
      client.destroy();
      upstream.destroy();
      conns.delete(client);
      conns.delete(upstream);
    };
    client.on('error', done);
    upstream.on('error', done);
    client.on('close', done);
    upstream.on('close', done);
  });
  server.on('error', () => {});
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: t.hostIp || '0.0.0.0', port: t.hostPort, exclusive: true }, () => {
      server.off('error', reject);
      resolve({
        hostPort: (server.address() as net.AddressInfo).port,
        close: () => new Promise<void>((r) => {
          for (const c of conns) c.destroy();
          server.close(() => r());
        }),
      });
    });
  });
}

const UDP_IDLE_MS = 90_000;

function openUdp(t: ProxyTarget): Promise<PortProxy> {
  const sock = dgram.createSocket({ type: 'udp4', reuseAddr: false });
  // One upstream socket per client address, so replies find their way back; idle ones are closed.
  const flows = new Map<string, { up: dgram.Socket; timer: NodeJS.Timeout }>();
  sock.on('message', (msg, rinfo) => {
    const key = `${rinfo.address}:${rinfo.port}`;
    let f = flows.get(key);
    if (!f) {
      const up = dgram.createSocket('udp4');
      up.on('message', (reply) => {
        sock.send(reply, rinfo.port, rinfo.address);
        refresh();
      });
      up.on('error', () => close());
      const close = () => {
        clearTimeout(f!.timer);
        flows.delete(key);
        up.close();
      };
      f = { up, timer: setTimeout(close, UDP_IDLE_MS) };
      const refresh = () => { clearTimeout(f!.timer); f!.timer = setTimeout(close, UDP_IDLE_MS); };
      flows.set(key, f);
    }
    f.up.send(msg, t.containerPort, t.containerIp);
  });
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind({ address: t.hostIp || '0.0.0.0', port: t.hostPort, exclusive: true }, () => {
      sock.off('error', reject);
      sock.on('error', () => {});
      resolve({
        hostPort: sock.address().port,
        close: () => new Promise<void>((r) => {
          for (const f of flows.values()) {
            clearTimeout(f.timer);
            f.up.close();
          }
          flows.clear();
          sock.close(() => r());
        }),
      });
    });
  });
}
