// The seed-004 session service: why handles and idempotence matter, shown over real UDP and TCP.
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import * as k from '../../lib/index';

const loops: k.EventLoop[] = [];
const sockets: dgram.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) await new Promise<void>((resolve) => s.close(() => resolve()));
  for (const loop of loops.splice(0)) loop.close();
});

function udpServer(store: k.SessionStore): k.IterativeUdpServer {
  const loop = new k.EventLoop().attach();
  loops.push(loop);
  return new k.IterativeUdpServer(loop, {
    handler: (datagram, peer) => k.sessionDatagram(store, datagram, `${peer.address}:${peer.port}`),
  });
}

async function udpClient(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  sockets.push(s);
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()));
  return s;
}

/** Sends one request and waits for its reply (UDP on loopback does not lose datagrams by itself). */
function ask(s: dgram.Socket, port: number, request: Parameters<typeof k.encodeSessionRequest>[0]): Promise<k.SessionReply> {
  return new Promise((resolve) => {
    s.once('message', (m) => resolve(k.decodeSessionReply(m)));
    s.send(k.encodeSessionRequest(request), port, '127.0.0.1');
  });
}

describe('session over UDP', () => {
  it('a retried request (a lost reply) is answered from the cache, not applied twice', async () => {
    const store = new k.SessionStore();
    const server = udpServer(store);
    const c = await udpClient();
    const add = { op: k.SessionOp.ADD, flags: 0, handle: 0, requestId: 41, value: 5 };
    expect(await ask(c, server.port, add)).toMatchObject({ status: k.SessionStatus.OK, total: 5 });
    // The client never saw that reply, so it sends the same request again.
    expect(await ask(c, server.port, add)).toMatchObject({ status: k.SessionStatus.REPLAYED, total: 5 });
    expect(await ask(c, server.port, { ...add, requestId: 42 })).toMatchObject({ total: 10 });
    expect(store.replayed).toBe(1);
  });

  it('duplicated datagrams are applied once', async () => {
    const store = new k.SessionStore();
    const server = udpServer(store);
    const c = await udpClient();
    const frame = k.encodeSessionRequest({ op: k.SessionOp.ADD, flags: 0, handle: 0, requestId: 7, value: 3 });
    const replies: k.SessionReply[] = [];
    await new Promise<void>((resolve) => {
      c.on('message', (m) => {
        replies.push(k.decodeSessionReply(m));
        if (replies.length === 5) resolve();
      });
      for (let i = 0; i < 5; i++) c.send(frame, server.port, '127.0.0.1');
    });
    expect(replies.map((r) => r.total)).toEqual([3, 3, 3, 3, 3]);
    expect(replies.filter((r) => r.status === k.SessionStatus.OK)).toHaveLength(1);
  });

  it('a client whose port changes loses endpoint state but keeps handle state', async () => {
    const store = new k.SessionStore();
    const server = udpServer(store);
    const before = await udpClient();
    const opened = await ask(before, server.port, { op: k.SessionOp.OPEN, flags: 0, handle: 0, requestId: 1, value: 0 });
    expect(opened.status).toBe(k.SessionStatus.OK);
    const handle = opened.handle;
    await ask(before, server.port, { op: k.SessionOp.ADD, flags: k.BY_HANDLE, handle, requestId: 2, value: 100 });
    await ask(before, server.port, { op: k.SessionOp.ADD, flags: 0, handle: 0, requestId: 3, value: 100 });
    // The same client, rebound to another port (a restart, a NAT remapping).
    const after = await udpClient();
    expect(await ask(after, server.port, { op: k.SessionOp.GET, flags: k.BY_HANDLE, handle, requestId: 4, value: 0 })).toMatchObject({ total: 100 });
    expect(await ask(after, server.port, { op: k.SessionOp.GET, flags: 0, handle: 0, requestId: 5, value: 0 })).toMatchObject({ total: 0 });
  });

  it('state expires (finite state), and unknown handles and bad requests get their status', async () => {
    let now = 1_000_000;
    const store = new k.SessionStore({ ttlMs: 1000, now: () => now });
    const server = udpServer(store);
    const c = await udpClient();
    const { handle } = await ask(c, server.port, { op: k.SessionOp.OPEN, flags: 0, handle: 0, requestId: 1, value: 0 });
    await ask(c, server.port, { op: k.SessionOp.ADD, flags: k.BY_HANDLE, handle, requestId: 2, value: 9 });
    now += 1001;
    expect(await ask(c, server.port, { op: k.SessionOp.GET, flags: k.BY_HANDLE, handle, requestId: 3, value: 0 })).toMatchObject({ status: k.SessionStatus.NO_STATE });
    expect(await ask(c, server.port, { op: 9, flags: 0, handle: 0, requestId: 4, value: 0 })).toMatchObject({ status: k.SessionStatus.BAD_REQUEST });
    expect(await ask(c, server.port, { version: 2, op: 1, flags: 0, handle: 0, requestId: 5, value: 0 })).toMatchObject({ status: k.SessionStatus.BAD_REQUEST });
    expect(server.received).toBe(5);
  });
});

describe('session over TCP', () => {
  it('answers frames split across writes; endpoint state ends with the connection', async () => {
    const loop = new k.EventLoop().attach();
    loops.push(loop);
    const store = new k.SessionStore();
    const server = new k.ReactorServer({ loop, protocol: k.sessionProtocol(store) });
    const frames = Buffer.concat([1, 2, 3].map((i) => k.encodeSessionRequest({ op: k.SessionOp.ADD, flags: 0, handle: 0, requestId: i, value: i })));
    const replies = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const s = net.connect(server.port, '127.0.0.1', async () => {
        for (let off = 0; off < frames.length; off += 5) {
          s.write(frames.subarray(off, off + 5));
          await new Promise((r) => setTimeout(r, 2));
        }
        s.end();
      });
      s.on('data', (c) => chunks.push(c));
      s.on('close', () => resolve(Buffer.concat(chunks)));
      s.on('error', reject);
    });
    expect([0, 1, 2].map((i) => k.decodeSessionReply(replies, 16 * i).total)).toEqual([1, 3, 6]);
    await new Promise((r) => setTimeout(r, 20));
    expect(store.size).toBe(0);
    server.close();
  });
});
