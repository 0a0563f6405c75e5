import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import dgram from 'node:dgram';
import { openProxy } from './port-proxy.ts';

// An upstream that answers only once the client has finished sending (half-close must be relayed).
function echoAfterEnd(): Promise<net.Server> {
  const s = net.createServer({ allowHalfOpen: true }, (c) => {
    const chunks: Buffer[] = [];
    c.on('data', (d: Buffer) => chunks.push(d));
    c.on('end', () => c.end(Buffer.concat([Buffer.from('got:'), ...chunks])));
  });
  return new Promise((r) => s.listen(0, '127.0.0.1', () => r(s)));
}

test('tcp: relays both ways, with half-close, on an ephemeral port', async () => {
  const up = await echoAfterEnd();
  const p = await openProxy({ proto: 'tcp', hostIp: '127.0.0.1', hostPort: 0, containerIp: '127.0.0.1', containerPort: (up.address() as net.AddressInfo).port });
  try {
    assert.ok(p.hostPort > 0);
    const reply = await new Promise<string>((resolve, reject) => {
      const c = net.connect({ host: '127.0.0.1', port: p.hostPort, allowHalfOpen: true }, () => c.end('hello'));
      let out = '';
      c.on('data', (d) => (out += d));
      c.on('end', () => resolve(out));
      c.on('error', reject);
    });
    assert.equal(reply, 'got:hello');
  } finally {
    await p.close();
    up.close();
  }
});

test('tcp: a port in use is EADDRINUSE; after close the port is free again', async () => {
  const holder = net.createServer();
  await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
  const port = (holder.address() as net.AddressInfo).port;
  await assert.rejects(openProxy({ proto: 'tcp', hostIp: '127.0.0.1', hostPort: port, containerIp: '127.0.0.1', containerPort: 1 }), { code: 'EADDRINUSE' });
  await new Promise((r) => holder.close(r));
  const p = await openProxy({ proto: 'tcp', hostIp: '127.0.0.1', hostPort: port, containerIp: '127.0.0.1', containerPort: 1 });
  await p.close();
  const again = net.createServer();
  await new Promise<void>((r, j) => { again.once('error', j); again.listen(port, '127.0.0.1', () => r()); });
  again.close();
});

test('tcp: a connection to an upstream that refuses is closed, the proxy keeps serving', async () => {
  const dead = net.createServer();
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', () => r()));
  const deadPort = (dead.address() as net.AddressInfo).port;
  await new Promise((r) => dead.close(r));
  const p = await openProxy({ proto: 'tcp', hostIp: '127.0.0.1', hostPort: 0, containerIp: '127.0.0.1', containerPort: deadPort });
  try {
    for (let i = 0; i < 2; i++) {
      await new Promise<void>((resolve) => {
        const c = net.connect({ host: '127.0.0.1', port: p.hostPort });
        c.on('close', () => resolve());
        c.on('error', () => {});
        c.resume();
      });
    }
  } finally {
    await p.close();
  }
});

test('udp: datagrams go up and replies come back to each client', async () => {
  const up = dgram.createSocket('udp4');
  up.on('message', (m, r) => up.send(Buffer.concat([Buffer.from('re:'), m]), r.port, r.address));
  await new Promise<void>((r) => up.bind(0, '127.0.0.1', () => r()));
  const p = await openProxy({ proto: 'udp', hostIp: '127.0.0.1', hostPort: 0, containerIp: '127.0.0.1', containerPort: up.address().port });
  try {
    const ask = (msg: string) => new Promise<string>((resolve, reject) => {
      const c = dgram.createSocket('udp4');
      const t = setTimeout(() => { c.close(); reject(new Error('no reply')); }, 3000);
      c.on('message', (m) => { clearTimeout(t); c.close(); resolve(String(m)); });
      c.send(msg, p.hostPort, '127.0.0.1');
    });
    assert.deepEqual(await Promise.all([ask('one'), ask('two')]), ['re:one', 're:two']);
  } finally {
    await p.close();
    up.close();
  }
});
