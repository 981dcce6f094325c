// Connection and Listener behaviour in-process: the ET starvation hazard, read modes, timeouts, close
// reasons (exactly once), half-close; and a listener that runs out of fds without spinning.
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import * as k from '../../lib/index';
import { startEchoServer } from './server-process';

const loops: k.EventLoop[] = [];
const fds: number[] = [];
afterEach(() => {
  for (const loop of loops.splice(0)) loop.close();
  for (const fd of fds.splice(0)) k.close(fd);
});

function loopWith(selector: k.Selector<k.Registration>): k.EventLoop {
  const loop = new k.EventLoop({ selector });
  loops.push(loop);
  return loop;
}

/** A connection over a socketpair: the server end in a Connection, the client end raw. */
function pairConnection(loop: k.EventLoop, handlers: Partial<k.ConnectionHandlers>, options: k.ConnectionOptions = {}) {
  const [server, client] = k.socketpair(k.AF_UNIX, k.SOCK_STREAM | k.SOCK_NONBLOCK);
  fds.push(client);
  const connection = new k.Connection(loop, server, { onData: () => {}, ...handlers }, options);
  return { connection, client };
}

const peekBuffer = Buffer.alloc(1 << 16);
function bytesWaiting(fd: number): number {
  return Math.max(0, k.recv(fd, peekBuffer, 0, peekBuffer.length, k.MSG_PEEK | k.MSG_DONTWAIT));
}

describe('read modes', () => {
  it('ET without draining strands bytes: no further event while data waits', () => {
    const loop = loopWith(new k.EpollSelector({ trigger: 'edge' }));
    let received = 0;
    const { connection, client } = pairConnection(loop, { onData: (c) => (received += c.length) }, { readMode: 'level', readBufferSize: 1024 });
    k.send(client, Buffer.alloc(10 * 1024, 1));
    loop.runOnce(100);
    expect(received).toBe(1024);
    for (let round = 0; round < 5; round++) expect(loop.runOnce(20)).toBe(0);
    expect(received).toBe(1024);
    expect(bytesWaiting(connection.fd)).toBe(9 * 1024);
    // A new arrival is a new edge: one more read, and still 9 KiB stranded.
    k.send(client, Buffer.alloc(1024, 2));
    expect(loop.runOnce(100)).toBe(1);
    expect(received).toBe(2048);
    expect(bytesWaiting(connection.fd)).toBe(9 * 1024);
  });

  it('ET draining reads everything at one event; LT reads once per event and is reported again', () => {
    const et = loopWith(new k.EpollSelector({ trigger: 'edge' }));
    let etReads = 0;
    const a = pairConnection(et, { onData: () => etReads++ }, { readBufferSize: 1024 });
    k.send(a.client, Buffer.alloc(10 * 1024));
    expect(et.runOnce(100)).toBe(1);
    expect(etReads).toBe(10);
    expect(bytesWaiting(a.connection.fd)).toBe(0);

    const lt = loopWith(new k.EpollSelector({ trigger: 'level' }));
    let ltReads = 0;
    const b = pairConnection(lt, { onData: () => ltReads++ }, { readBufferSize: 1024 });
    k.send(b.client, Buffer.alloc(10 * 1024));
    let events = 0;
    while (ltReads < 10) events += lt.runOnce(100);
    expect(events).toBe(10);
    expect(lt.runOnce(0)).toBe(0);
  });

  it('ET with the default short-read rule: one recv per event for a small message, the textbook rule two', () => {
    const counts: Record<string, number> = {};
    for (const edgeDrain of ['short-read', 'eagain'] as const) {
      const loop = loopWith(new k.EpollSelector({ trigger: 'edge' }));
      const chunks: string[] = [];
      const { client } = pairConnection(loop, { onData: (c) => chunks.push(c.toString()) }, { edgeDrain, readBufferSize: 1024 });
      k.setCountersEnabled(true);
      k.resetCounters();
      k.send(client, Buffer.from('small'));
      expect(loop.runOnce(100)).toBe(1);
      const c = k.readCounters();
      k.setCountersEnabled(false);
      expect(chunks).toEqual(['small']);
      counts[edgeDrain] = c.recv;
      expect(c.eagain).toBe(edgeDrain === 'eagain' ? 1 : 0);
    }
    expect(counts).toEqual({ 'short-read': 1, eagain: 2 });
  });

  it('ET short-read: data and the end of stream queued together are both read (EPOLLRDHUP makes it drain)', () => {
    const loop = loopWith(new k.EpollSelector({ trigger: 'edge' }));
    const events: string[] = [];
    const { connection, client } = pairConnection(loop, {
      onData: (c) => events.push(c.toString()),
      onEnd: (c) => {
        events.push('end');
        c.end();
      },
    });
    k.send(client, Buffer.from('last words'));
    k.shutdown(client, k.SHUT_WR);
    for (let i = 0; i < 5 && !connection.closed; i++) loop.runOnce(100);
    expect(events).toEqual(['last words', 'end']);
    expect(connection.closed).toBe(true);
  });

  it('ET short-read: TCP urgent data stops a recv short, and EPOLLPRI makes the reader go on (no stranded bytes)', async () => {
    const listener = k.socket(k.AF_INET, k.SOCK_STREAM | k.SOCK_NONBLOCK);
    fds.push(listener);
    k.bind(listener, '127.0.0.1', 0);
    k.listen(listener, 8);
    const { port } = k.getsockname(listener);
    // Python sends "abc", an urgent "X", then "def" and keeps the connection open (no FIN to force a drain).
    const script = `
import socket, sys, time
s = socket.create_connection(("127.0.0.1", ${port}))
s.sendall(b"abc"); s.send(b"X", socket.MSG_OOB); s.sendall(b"def")
print("sent", flush=True)
time.sleep(10)
`;
    const child = spawn('python3', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (d) => String(d).includes('sent') && resolve());
        child.on('exit', (code) => reject(new Error(`python exited ${code}`)));
      });
      const fd = k.accept4(listener, k.SOCK_NONBLOCK | k.SOCK_CLOEXEC);
      expect(fd).toBeGreaterThan(0);
      fds.push(fd);
      // Loopback delivers within the sender's send(): everything is queued before the first event, so
      // there is one edge for all of it. (A MSG_PEEK would stop at the urgent mark too.)
      const loop = loopWith(new k.EpollSelector({ trigger: 'edge' }));
      const chunks: string[] = [];
      const connection = new k.Connection(loop, fd, { onData: (c) => chunks.push(c.toString()) });
      for (let i = 0; i < 3; i++) loop.runOnce(50);
      expect(chunks.join('')).toBe('abcdef');
      expect(bytesWaiting(connection.fd)).toBe(0);
      loop.remove(fd); // the test's fd list closes it
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('an ET read budget lets other connections in before finishing a large sender', () => {
    const loop = loopWith(new k.EpollSelector({ trigger: 'edge' }));
    const order: string[] = [];
    const big = pairConnection(loop, { onData: () => order.push('big') }, { readBufferSize: 1024, readBudget: 2048 });
    const small = pairConnection(loop, { onData: () => order.push('small') }, { readBufferSize: 1024, readBudget: 2048 });
    k.send(big.client, Buffer.alloc(8 * 1024));
    k.send(small.client, Buffer.alloc(100));
    loop.runOnce(100);
    while (bytesWaiting(big.connection.fd) > 0) loop.runOnce(0);
    expect(order.filter((x) => x === 'big')).toHaveLength(8);
    expect(order.indexOf('small')).toBeLessThan(order.lastIndexOf('big'));
  });
});

describe('closing', () => {
  it('closes exactly once, with the reason', () => {
    const loop = loopWith(new k.EpollSelector());
    const reasons: k.CloseReason[] = [];
    const { connection } = pairConnection(loop, { onClose: (reason) => reasons.push(reason) });
    connection.close();
    connection.close('error');
    expect(reasons).toEqual(['local']);
    expect(() => connection.write(Buffer.from('x'))).toThrow(expect.objectContaining({ code: 'ERR_EPOLLKIT_CONNECTION_CLOSED' }));
  });

  it('a half-close from the peer is answered after the queued output, then closes with "end"', () => {
    const loop = loopWith(new k.EpollSelector());
    const reasons: k.CloseReason[] = [];
    const { connection, client } = pairConnection(loop, {
      onData: (chunk, c) => c.write(chunk),
      onClose: (reason) => reasons.push(reason),
    });
    k.send(client, Buffer.from('last words'));
    k.shutdown(client, k.SHUT_WR);
    for (let i = 0; i < 5 && !connection.closed; i++) loop.runOnce(100);
    expect(reasons).toEqual(['end']);
    const buf = Buffer.alloc(64);
    expect(buf.toString('utf8', 0, k.recv(client, buf))).toBe('last words');
    expect(k.recv(client, buf)).toBe(0);
  });

  it('a reset peer closes with "reset" and an ECONNRESET error', async () => {
    const loop = loopWith(new k.EpollSelector()).attach();
    const closed = new Promise<[k.CloseReason, Error | undefined]>((resolve) => {
      const server = new k.ReactorServer({ loop,
        protocol: k.echo,
        handleError: (error, reason) => {
          server.close();
          resolve([reason, error]);
        },
      });
      const socket = net.connect(server.port, '127.0.0.1', () => {
        socket.write('x'.repeat(10));
        // Unread echoed bytes plus SO_LINGER 0: the close becomes an RST.
        setTimeout(() => socket.resetAndDestroy(), 20);
      });
      socket.on('error', () => {});
    });
    const [reason, error] = await closed;
    expect(reason).toBe('reset');
    expect(error).toMatchObject({ code: 'ECONNRESET', syscall: 'recv' });
  });

  it('idle and read timeouts close with their reason', async () => {
    const loop = loopWith(new k.EpollSelector()).attach();
    const reasons: k.CloseReason[] = [];
    const idle = pairConnection(loop, { onClose: (r) => reasons.push(r) }, { idleTimeoutMs: 30 });
    const read = pairConnection(loop, { onClose: (r) => reasons.push(r) }, { readTimeoutMs: 60 });
    // Keep the read-timeout one alive past the idle one's deadline by writing to it (not reading).
    read.connection.write(Buffer.from('out'));
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(reasons).toEqual(['idle-timeout', 'read-timeout']);
    expect(idle.connection.closed && read.connection.closed).toBe(true);
  });
});

describe('batched I/O: the selector\'s read-ahead and the loop\'s send batch', () => {
  const drain = (fd: number): Buffer => {
    const parts: Buffer[] = [];
    const buf = Buffer.alloc(1 << 16);
    for (let n; (n = k.recv(fd, buf)) > 0; ) parts.push(Buffer.from(buf.subarray(0, n)));
    return Buffer.concat(parts);
  };

  for (const trigger of ['level', 'edge'] as const) {
    it(`bytes read ahead for a reader paused earlier in the same batch are kept and delivered on resume (${trigger})`, () => {
      const loop = loopWith(new k.EpollSelector({ trigger }));
      const got = new Map<k.Connection, string>();
      const all: k.Connection[] = [];
      // Whichever connection the batch serves first pauses the other, whose bytes the wait already read.
      const onData = (chunk: Buffer, c: k.Connection): void => {
        got.set(c, (got.get(c) ?? '') + chunk.toString('latin1'));
        for (const other of all) if (other !== c && !got.has(other)) other.pause();
      };
      const a = pairConnection(loop, { onData });
      const b = pairConnection(loop, { onData });
      all.push(a.connection, b.connection);
      k.send(a.client, Buffer.from('from a'));
      k.send(b.client, Buffer.from('from b'));
      expect(loop.runOnce(100)).toBe(2);
      expect(got.size).toBe(1);
      const paused = all.find((c) => c.paused)!;
      expect(paused).toBeDefined();
      // Nothing is left in the socket: the kept bytes will not be reported again by the kernel.
      expect(bytesWaiting(paused.fd)).toBe(0);
      for (let i = 0; i < 3; i++) loop.runOnce(10);
      expect(got.has(paused)).toBe(false);
      paused.resume();
      for (let i = 0; i < 3 && !got.has(paused); i++) loop.runOnce(10);
      expect(got.get(a.connection)).toBe('from a');
      expect(got.get(b.connection)).toBe('from b');
    });
  }

  it('a round\'s small writes go out in order, also when the kernel takes only part (the rest queues)', () => {
    const loop = loopWith(new k.EpollSelector({ trigger: 'edge' }));
    // 600 writes of 1,000 bytes in one round: more than the batch holds and than a socketpair buffers.
    const expected: Buffer[] = [];
    for (let i = 0; i < 600; i++) expected.push(Buffer.alloc(1000, i % 251));
    const { connection, client } = pairConnection(loop, {
      onData: (_chunk, c) => {
        for (const part of expected) c.write(part);
      },
    });
    k.send(client, Buffer.from('go'));
    loop.runOnce(100);
    expect(connection.writableLength).toBeGreaterThan(0);
    const received: Buffer[] = [];
    for (let i = 0; i < 200 && Buffer.concat(received).length < 600_000; i++) {
      received.push(drain(client));
      loop.runOnce(10);
    }
    expect(Buffer.concat(received).equals(Buffer.concat(expected))).toBe(true);
    expect(connection.writableLength).toBe(0);
  });

  it('end() and gracefulClose() right after a write in the same round: the bytes, then the end of stream', () => {
    const loop = loopWith(new k.EpollSelector());
    const reasons: k.CloseReason[] = [];
    const ending = pairConnection(loop, { onData: (chunk, c) => (c.write(chunk), c.end()) });
    const closing = pairConnection(loop, { onData: (chunk, c) => (c.write(chunk), c.gracefulClose()), onClose: (r) => reasons.push(r) });
    k.send(ending.client, Buffer.from('bye'));
    k.send(closing.client, Buffer.from('see you'));
    loop.runOnce(100);
    const buf = Buffer.alloc(64);
    expect(buf.toString('latin1', 0, k.recv(ending.client, buf))).toBe('bye');
    expect(k.recv(ending.client, buf)).toBe(0);
    expect(buf.toString('latin1', 0, k.recv(closing.client, buf))).toBe('see you');
    expect(k.recv(closing.client, buf)).toBe(0);
    expect(reasons).toEqual(['end']);
  });

  it('close() after a write in the same round drops the bytes, even when a new connection takes the fd number', () => {
    const loop = loopWith(new k.EpollSelector());
    let successor: { connection: k.Connection; client: number } | undefined;
    const first = pairConnection(loop, {
      onData: (_chunk, c) => {
        c.write(Buffer.from('for the first client only'));
        const fd = c.fd;
        c.close();
        successor = pairConnection(loop, {});
        expect(successor.connection.fd).toBe(fd); // the lowest free number: the one just closed
        successor.connection.write(Buffer.from('hello, second'));
      },
    });
    k.send(first.client, Buffer.from('x'));
    loop.runOnce(100);
    const buf = Buffer.alloc(64);
    expect(k.recv(first.client, buf)).toBe(0); // closed, nothing sent
    expect(buf.toString('latin1', 0, k.recv(successor!.client, buf))).toBe('hello, second');
  });

  it('writes outside a round go straight out; a handler that throws still gets the round\'s writes sent', () => {
    const loop = loopWith(new k.EpollSelector());
    const quiet = pairConnection(loop, {});
    quiet.connection.write(Buffer.from('now'));
    const buf = Buffer.alloc(64);
    expect(buf.toString('latin1', 0, k.recv(quiet.client, buf))).toBe('now');
    const loud = pairConnection(loop, {
      onData: (chunk, c) => {
        c.write(chunk);
        throw new Error('handler failed');
      },
    });
    k.send(loud.client, Buffer.from('echo me'));
    expect(() => loop.runOnce(100)).toThrow('handler failed');
    expect(buf.toString('latin1', 0, k.recv(loud.client, buf))).toBe('echo me');
  });
});

describe('listener out of fds', () => {
  it('EMFILE neither spins nor stops the server; service resumes when fds come back', async () => {
    const server = await startEchoServer('epoll-lt', { emfileBackoffMs: 50 }, ['prlimit', '--nofile=48:48']);
    const clients: net.Socket[] = [];
    try {
      const opened = await Promise.all(
        Array.from({ length: 80 }, () => new Promise<net.Socket>((resolve) => {
          const s = net.connect(server.port, '127.0.0.1', () => resolve(s));
          s.on('error', () => resolve(s));
          clients.push(s);
        })),
      );
      expect(opened).toHaveLength(80);
      const cpuBefore = processCpuMs(server.pid);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const cpuMs = processCpuMs(server.pid) - cpuBefore;
      // Saturated for a second: a spinning accept loop would burn ~1000 ms of CPU.
      expect(cpuMs).toBeLessThan(200);
      const stats = await server.stats();
      expect(stats.rejected).toBeGreaterThan(0);
      expect(stats.connections).toBeLessThan(48);
      for (const s of clients) s.destroy();
      await new Promise((resolve) => setTimeout(resolve, 200));
      const reply = await new Promise<string>((resolve, reject) => {
        const s = net.connect(server.port, '127.0.0.1', () => s.end('after'));
        let text = '';
        s.on('data', (c) => (text += c));
        s.on('close', () => resolve(text));
        s.on('error', reject);
      });
      expect(reply).toBe('after');
    } finally {
      for (const s of clients) s.destroy();
      expect(await server.stop()).toBe(0);
    }
  });
});

function processCpuMs(pid: number): number {
  const stat = require('node:fs').readFileSync(`/proc/${pid}/stat`, 'utf8') as string;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
  return (ticks * 1000) / 100;
}
