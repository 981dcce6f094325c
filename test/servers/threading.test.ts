// The worker-thread models of seed 002: a thread per connection (ThreadingServer) and a pool of reactor
// threads (ThreadPoolServer). Workers run the compiled package (dist/servers/thread-worker.js), built
// here first if lib/ is newer.
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CloseReason } from '../../lib/loop/connection';
import { ThreadPoolServer } from '../../lib/servers/thread-pool';
import { ThreadingServer, type ThreadServerOptions, type WorkerProtocolSpec } from '../../lib/servers/threading';
import { distIndex, tempDir, within } from '../helpers/net';
import { openFds } from '../helpers/proc';
import { calcClient, echoClient, httpClient, runClients, sessionClient } from './clients';

const htmlRoot = path.resolve(__dirname, '../../examples/html');
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

beforeAll(() => {
  distIndex(); // the workers load dist/: make sure it is there and current
}, 120_000);

type Model = 'threading' | 'thread-pool';
type Server = ThreadingServer | ThreadPoolServer;

function make(model: Model, protocol: WorkerProtocolSpec, options: Omit<ThreadServerOptions, 'protocol'> & { threads?: number; maxThreads?: number } = {}): Server {
  return model === 'threading' ? new ThreadingServer({ ...options, protocol }) : new ThreadPoolServer({ threads: 2, ...options, protocol });
}

/** Polls `condition` every 10 ms for up to `ms`. */
async function until(condition: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(10);
  }
}

/** A small echo round trip on a fresh connection, checked by hash. */
async function smallEcho(port: number): Promise<boolean> {
  const data = randomBytes(1024);
  const reply = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect(port, '127.0.0.1', () => s.end(data));
    s.on('data', (c) => chunks.push(c));
    s.on('close', () => resolve(Buffer.concat(chunks)));
    s.on('error', reject);
  });
  return sha(reply) === sha(data);
}

/** A client that stays connected: `send(data)` resolves with as many bytes as it sent, once they came back. */
interface Held {
  socket: net.Socket;
  received: () => Buffer;
  send(data: string): Promise<string>;
  closed: Promise<void>;
}

async function hold(port: number): Promise<Held> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const chunks: Buffer[] = [];
  let length = 0;
  let waiter: (() => void) | undefined;
  socket.on('data', (c) => {
    chunks.push(c);
    length += c.length;
    waiter?.();
  });
  socket.on('error', () => {}); // a reset is what some tests expect; they look at 'close'
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const received = (): Buffer => Buffer.concat(chunks);
  return {
    socket,
    received,
    closed,
    async send(data) {
      const want = length + Buffer.byteLength(data);
      socket.write(data);
      await within(
        new Promise<void>((resolve) => {
          waiter = () => length >= want && resolve();
          waiter();
        }),
        `echo of ${JSON.stringify(data)}`,
      );
      return received().subarray(want - Buffer.byteLength(data), want).toString();
    },
  };
}

const clients: Record<string, [WorkerProtocolSpec, (port: number) => Promise<boolean>]> = {
  echo: [{ name: 'echo' }, echoClient],
  calc: [{ name: 'calc' }, calcClient],
  session: [{ name: 'session' }, sessionClient],
  http: [{ name: 'http', root: htmlRoot }, httpClient(htmlRoot)],
};

describe.each(['threading', 'thread-pool'] as const)('%s model', (model) => {
  it.each(Object.keys(clients))('serves %s to 50 concurrent clients', async (name) => {
    const [spec, client] = clients[name];
    const errors: Error[] = [];
    const server = make(model, spec, { handleError: (e) => errors.push(e) }).start();
    try {
      // A thread per connection: 50 clients, all at once (50 thread starts). The pool: 100, 50 at a time.
      const count = model === 'threading' ? 50 : 100;
      expect(await runClients(count, 50, () => client(server.port))).toBe(0);
      await until(() => server.stats().served === count, 'every connection reported finished');
      const stats = server.stats();
      expect(stats).toMatchObject({ accepted: count, rejected: 0, served: count });
      if (server instanceof ThreadPoolServer) {
        const workers = server.stats().workers;
        expect(workers).toHaveLength(2);
        // Spread to the least loaded: both took a fair share.
        for (const w of workers) expect(w.served).toBeGreaterThan(count / 5);
      } else {
        expect(server.stats().peakThreads).toBeGreaterThan(1);
      }
    } finally {
      await server.close();
    }
    expect(errors).toEqual([]);
  });

  it('closes gracefully: a client whose request was read gets all of its reply', async () => {
    const { dir, remove } = tempDir();
    const body = randomBytes(16 * 1024 * 1024); // far more than the socket buffers hold
    writeFileSync(path.join(dir, 'big.bin'), body);
    const server = make(model, { name: 'http', root: dir }).start();
    try {
      // Each client asks, sees the reply begin (its request is in the server), and stops reading.
      const replies = await Promise.all(
        Array.from({ length: 4 }, async () => {
          const c = await hold(server.port);
          c.socket.write('GET /big.bin HTTP/1.1\r\nHost: test\r\n\r\n');
          await within(new Promise((resolve) => c.socket.once('data', resolve)), 'first bytes of the reply');
          c.socket.pause();
          return c;
        }),
      );
      const closing = server.close();
      // Accepting stopped at once.
      await expect(smallEcho(server.port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      for (const c of replies) c.socket.resume();
      await within(Promise.all(replies.map((c) => c.closed)), 'clients closed by the server', 10_000);
      for (const c of replies) {
        const reply = c.received();
        const split = reply.indexOf('\r\n\r\n');
        expect(reply.subarray(0, 15).toString()).toBe('HTTP/1.1 200 OK');
        expect(sha(reply.subarray(split + 4))).toBe(sha(body));
      }
      await within(closing, 'close() resolving', 10_000);
      expect(server.stats()).toMatchObject({ connections: 0, served: 4 });
    } finally {
      await server.close();
      remove();
    }
  });

  it('loses only the connection(s) of a worker a protocol exception kills', async () => {
    const { dir, remove } = tempDir();
    const module = path.join(dir, 'boom.js');
    // Echo, except that a chunk containing the trigger throws inside the worker.
    writeFileSync(
      module,
      `module.exports = (options) => ({ name: 'boom', open(t) { return {
         onData(c) { if (Buffer.from(c).toString().includes(options.trigger)) throw new Error('boom: protocol exception'); t.write(c); },
         onEnd() { t.end(); } }; } });`,
    );
    const errors: [Error, CloseReason][] = [];
    const server = make(model, { name: 'module', path: module, options: { trigger: 'BOOM' } }, { handleError: (e, r) => errors.push([e, r]) }).start();
    try {
      if (server instanceof ThreadPoolServer) await server.ready();
      const survivor = await hold(server.port);
      expect(await survivor.send('first')).toBe('first');
      // Least loaded: the victim goes to the other pool worker than the survivor.
      const victim = await hold(server.port);
      expect(await victim.send('hello')).toBe('hello');
      victim.socket.write('BOOM');
      await within(victim.closed, 'the victim closed with its worker');
      await until(() => errors.length > 0, 'handleError called');
      expect(errors[0][0].message).toBe('boom: protocol exception');
      expect(errors[0][1]).toBe('error');
      // The other connection and the server go on.
      expect(await survivor.send('still here')).toBe('still here');
      if (server instanceof ThreadPoolServer) {
        await until(() => server.stats().replaced === 1 && server.stats().workers.every((w) => w.ready), 'the dead worker replaced');
        expect(server.stats().threads).toBe(2);
      } else {
        await until(() => server.stats().crashed === 1, 'crash counted');
      }
      expect(await runClients(20, 10, () => smallEcho(server.port))).toBe(0);
      if (server instanceof ThreadPoolServer) for (const w of server.stats().workers) expect(w.served).toBeGreaterThan(0);
      survivor.socket.end();
      await survivor.closed;
    } finally {
      await server.close();
      remove();
    }
    expect(errors).toHaveLength(1);
  });

  it('refuses on the acceptor thread: verifyRequest and maxConnections', async () => {
    let verdict = false;
    const server = make(model, { name: 'echo' }, { verifyRequest: () => verdict, maxConnections: 2 }).start();
    try {
      const refused = await hold(server.port);
      await within(refused.closed, 'refused client closed');
      expect(refused.received().length).toBe(0);
      verdict = true;
      const a = await hold(server.port);
      const b = await hold(server.port);
      expect(await a.send('a')).toBe('a');
      expect(await b.send('b')).toBe('b');
      const third = await hold(server.port);
      await within(third.closed, 'client beyond maxConnections closed');
      expect(server.stats()).toMatchObject({ connections: 2, rejected: 2 });
      a.socket.end();
      b.socket.end();
      await Promise.all([a.closed, b.closed]);
    } finally {
      await server.close();
    }
  });
});

describe('ThreadingServer', () => {
  it('holds maxThreads: beyond it clients wait in the backlog, then are served', async () => {
    const server = new ThreadingServer({ protocol: { name: 'echo' }, maxThreads: 3 }).start();
    try {
      const held = await Promise.all(Array.from({ length: 8 }, () => hold(server.port)));
      held.forEach((c, i) => c.socket.write(`ping ${i}`));
      const answered = (): number => held.filter((c) => c.received().length > 0).length;
      await until(() => answered() === 3, 'three clients served');
      await sleep(300);
      expect(answered()).toBe(3);
      expect(server.stats()).toMatchObject({ threads: 3, peakThreads: 3 });
      // Each client that leaves frees a thread for one that waits.
      for (const c of held) c.socket.end();
      await within(Promise.all(held.map((c) => c.closed)), 'every client served', 10_000);
      held.forEach((c, i) => expect(c.received().toString()).toBe(`ping ${i}`));
      await until(() => server.stats().threads === 0, 'threads ended');
      expect(server.stats()).toMatchObject({ peakThreads: 3, served: 8, accepted: 8 });
    } finally {
      await server.close();
    }
  });

  it('closes before start, and the thread of a connection ends with it', async () => {
    await new ThreadingServer({ protocol: { name: 'echo' } }).close();
    const server = new ThreadingServer({ protocol: { name: 'echo' } }).start();
    try {
      expect(await smallEcho(server.port)).toBe(true);
      await until(() => server.stats().threads === 0, 'the thread ended with its connection');
      expect(server.stats()).toMatchObject({ served: 1, crashed: 0 });
    } finally {
      await server.close();
    }
  });
});

describe('ThreadPoolServer', () => {
  it('serves 1,000 connections with a stable fd count', async () => {
    const server = new ThreadPoolServer({ protocol: { name: 'echo' }, threads: 2 }).start();
    try {
      await server.ready();
      expect(await runClients(50, 50, () => smallEcho(server.port))).toBe(0);
      await until(() => server.stats().served === 50, 'warm-up finished');
      const before = openFds().size;
      expect(await runClients(1000, 50, () => smallEcho(server.port))).toBe(0);
      await until(() => server.stats().served === 1050, 'every connection finished');
      // Node closes a client socket's fd a turn after 'close'.
      await until(() => openFds().size <= before, `fd count back to ${before}`, 2000);
      const stats = server.stats();
      expect(stats).toMatchObject({ connections: 0, accepted: 1050, served: 1050, replaced: 0 });
      for (const w of stats.workers) expect(w.served).toBeGreaterThan(300);
    } finally {
      await server.close();
    }
  });

  it('refuses a bad protocol spec when constructed, before any thread or fd', () => {
    expect(() => new ThreadPoolServer({ protocol: { name: 'http', root: '/nonexistent/epollkit' } })).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(() => new ThreadingServer({ protocol: { name: 'module', path: '/nonexistent/epollkit/protocol.js' } })).toThrow(
      expect.objectContaining({ code: 'MODULE_NOT_FOUND' }),
    );
  });

  it('reports per-worker connection counts', async () => {
    const server = new ThreadPoolServer({ protocol: { name: 'echo' }, threads: 2 }).start();
    try {
      await server.ready();
      const held: Held[] = [];
      for (let i = 0; i < 6; i++) {
        const c = await hold(server.port);
        expect(await c.send(`c${i}`)).toBe(`c${i}`);
        held.push(c);
      }
      expect(server.stats().workers.map((w) => w.connections)).toEqual([3, 3]);
      expect(server.stats().connections).toBe(6);
      for (const c of held) c.socket.end();
      await Promise.all(held.map((c) => c.closed));
      await until(() => server.stats().connections === 0, 'counts back to 0');
      expect(server.stats().workers.map((w) => w.served)).toEqual([3, 3]);
    } finally {
      await server.close();
    }
  });
});
