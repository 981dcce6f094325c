// ForkingServer (seeds 000, 001, 003): one child per connection. The server runs in a `node
// --single-threaded` child process (fixtures/fork-server.js, loading dist/: `npm run build:ts` first),
// in a process group of its own that a watchdog kills; real clients drive it over loopback.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import * as k from '../../lib/index';
import { calculator, encodeCalcRequest, CalcOp } from '../../lib/protocols/calculator';
import { echo } from '../../lib/protocols/echo';
import { httpStatic } from '../../lib/protocols/http/static';
import { serveBlocking } from '../../lib/servers/blocking-transport';
import { ForkingServer } from '../../lib/servers/forking';
import { htmlRoot } from './cli-server';
import { calcClient, echoClient, httpClient, runClients } from './clients';
import { startServer, type Ended, type ServerFixture } from './fixtures/fork-harness';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface Reply {
  data: Buffer;
  error?: string;
  /** ms from connect to close. */
  ms: number;
}

/** Connects, sends `payload` (then half-closes, after `holdMs`), and collects everything until close. */
function exchange(port: number, payload: Buffer | undefined, { holdMs = 0, end = true } = {}): Promise<Reply> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const chunks: Buffer[] = [];
    let error: string | undefined;
    const s = net.connect(port, '127.0.0.1', () => {
      if (payload) s.write(payload);
      if (end) setTimeout(() => s.end(), holdMs);
    });
    s.on('data', (c) => chunks.push(c));
    s.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    s.on('close', () => resolve({ data: Buffer.concat(chunks), error, ms: Date.now() - t0 }));
    s.setTimeout(15_000, () => s.destroy(new Error('client timed out')));
  });
}

async function echoOnce(port: number, size = 1024, holdMs = 0): Promise<boolean> {
  const data = randomBytes(size);
  const reply = await exchange(port, data, { holdMs });
  return !reply.error && sha(reply.data) === sha(data);
}

/** The fixture exited cleanly after close: code 0, nothing left in its group, no zombie, no live child. */
function expectCleanEnd(closed: { stats: any; zombies: number }, ended: Ended): void {
  expect({ code: ended.code, signal: ended.signal, timedOut: ended.timedOut, strays: ended.strays }, ended.stderr).toEqual({
    code: 0,
    signal: null,
    timedOut: false,
    strays: false,
  });
  expect(closed.zombies).toBe(0);
  expect(closed.stats.liveChildren).toBe(0);
  expect(closed.stats.reaped).toBe(closed.stats.accepted);
}

async function withServer(config: object, body: (server: ServerFixture) => Promise<void>): Promise<void> {
  const server = await startServer('fork-server.js', config);
  try {
    await body(server);
  } finally {
    await server.dispose();
  }
}

describe('ForkingServer', () => {
  it('refuses to be built without --single-threaded (here, in the vitest worker)', () => {
    expect(process.execArgv).not.toContain('--single-threaded');
    expect(() => new ForkingServer({ protocol: echo })).toThrow(expect.objectContaining({ code: 'ERR_EPOLLKIT_FORK_NOT_SINGLE_THREADED' }));
  });

  const clients: Record<string, (port: number) => Promise<boolean>> = { echo: echoClient, calc: calcClient, http: httpClient(htmlRoot) };
  it.each(Object.keys(clients))('serves %s to 50 concurrent clients, bytes checked', async (protocol) => {
    await withServer({ protocol, root: htmlRoot }, async (server) => {
      const failed = await runClients(100, 50, () => clients[protocol](server.port));
      expect(failed, server.stderr()).toBe(0);
      const { closed, ended } = await server.close();
      expectCleanEnd(closed, ended);
      expect(closed.stats).toMatchObject({ accepted: 100, crashed: 0, killed: 0, failed: 0, rejected: 0 });
      // Live = not yet reaped: children whose client has gone count until SIGCHLD is handled, up to the default cap.
      expect(closed.stats.peakChildren).toBeLessThanOrEqual(64);
    });
  });

  it('rehearses the protocol\'s sample in the parent at start; clients never see a rehearsal', async () => {
    await withServer({ protocol: 'probe' }, async (server) => {
      expect((await server.stats()).stats.rehearsed).toBe(16);
      expect((await exchange(server.port, Buffer.from('hi'))).data.toString()).toBe('client:hi');
      const { closed, ended } = await server.close();
      expectCleanEnd(closed, ended);
      expect(closed.stats).toMatchObject({ accepted: 1, failed: 0, rehearsed: 16 });
    });
  });

  it('rehearsals: 0 rehearses nothing; a sample too large for one thread to play both ends stops them, leaking nothing', async () => {
    let fds = 0;
    await withServer({ protocol: 'probe', options: { rehearsals: 0 } }, async (server) => {
      fds = server.listening.fds;
      expect((await server.stats()).stats.rehearsed).toBe(0);
      expect((await exchange(server.port, Buffer.from('hi'))).data.toString()).toBe('client:hi');
    });
    await withServer({ protocol: 'probe', sampleBytes: 4 << 20 }, async (server) => {
      expect(server.listening.fds).toBe(fds);
      expect((await server.stats()).stats.rehearsed).toBe(0);
      expect((await exchange(server.port, Buffer.from('hi'))).data.toString()).toBe('client:hi');
      const { closed, ended } = await server.close();
      expectCleanEnd(closed, ended);
    });
  });

  it('a reply is not lost when the client sent more than the session read (lingering close)', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'epollkit-forking-'));
    try {
      const big = randomBytes(8 << 20);
      writeFileSync(path.join(root, 'big.bin'), big);
      await withServer({ protocol: 'http', root }, async (server) => {
        // The client pipelines junk after a "Connection: close" request and reads its reply only later. A
        // close(2) with that junk unread would send a reset and drop the part of the reply still queued.
        const request = Buffer.from('GET /big.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
        const replies = await Promise.all(
          Array.from(
            { length: 4 },
            () =>
              new Promise<{ data: Buffer; error?: string }>((resolve) => {
                const chunks: Buffer[] = [];
                let error: string | undefined;
                const s = net.connect(server.port, '127.0.0.1', () => s.write(Buffer.concat([request, randomBytes(64 * 1024)])));
                setTimeout(() => s.on('data', (c) => chunks.push(c)), 300);
                s.on('error', (e: NodeJS.ErrnoException) => (error = e.code));
                s.on('close', () => resolve({ data: Buffer.concat(chunks), error }));
              }),
          ),
        );
        for (const reply of replies) {
          expect(reply.error).toBeUndefined();
          const split = reply.data.indexOf('\r\n\r\n');
          expect(reply.data.subarray(0, 15).toString()).toBe('HTTP/1.1 200 OK');
          expect(reply.data.length - split - 4).toBe(big.length);
          expect(sha(reply.data.subarray(split + 4))).toBe(sha(big));
        }
        const { closed, ended } = await server.close();
        expectCleanEnd(closed, ended);
        expect(closed.stats).toMatchObject({ accepted: 4, failed: 0, killed: 0 });
      });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('1,000 connections: every child reaped, 0 zombies, the same fd count in the server', async () => {
    await withServer({ protocol: 'echo' }, async (server) => {
      expect(await echoOnce(server.port)).toBe(true); // warm-up: what the first connection opens for good exists now
      const before = await server.waitFor((e) => e.stats.liveChildren === 0);
      const failed = await runClients(1000, 50, () => echoOnce(server.port, 4096));
      expect(failed).toBe(0);
      const after = await server.waitFor((e) => e.stats.liveChildren === 0);
      expect(after.stats).toMatchObject({ accepted: 1001, reaped: 1001, crashed: 0, failed: 0, killed: 0 });
      // Reaped by pidfd, not by signal: no SIGCHLD handler, and every pidfd released (the fd count below).
      expect(after.stats.sigchldListeners).toBe(0);
      expect(after.zombies).toBe(0);
      expect(after.children).toBe(0);
      expect(after.fds).toBe(before.fds);
      const { closed, ended } = await server.close();
      expectCleanEnd(closed, ended);
    });
  });

  it('at the fd limit children go unwatched (the sweep reaps them) rather than clients refused', async () => {
    await withServer({ protocol: 'echo' }, async (server) => {
      expect(await echoOnce(server.port)).toBe(true); // warm-up: what the first connection opens for good exists now
      const before = await server.waitFor((e) => e.stats.liveChildren === 0);
      // Room for 8 more fds, and 20 children alive at once: a pidfd each would take 20.
      execFileSync('prlimit', ['--pid', String(server.pid), `--nofile=${before.fds + 8}:`]);
      const served = await Promise.all(Array.from({ length: 20 }, () => echoOnce(server.port, 1024, 300)));
      expect(served.filter(Boolean).length).toBe(20);
      await sleep(500); // the last children reaped: the fixture needs fds of its own to report
      const after = await server.waitFor((e) => e.stats.liveChildren === 0);
      expect(after.stats).toMatchObject({ accepted: 21, reaped: 21, rejected: 0, crashed: 0 });
      expect(after.zombies).toBe(0);
      expect(after.fds).toBe(before.fds);
      const { closed, ended } = await server.close();
      expectCleanEnd(closed, ended);
    });
  });

  it('a child that crashes costs only its own connection; the others complete and the server keeps serving', async () => {
    await withServer({ protocol: 'crashy' }, async (server) => {
      const crash = exchange(server.port, Buffer.from('please CRASH now'));
      const others = runClients(40, 20, () => echoOnce(server.port, 8192, 20));
      const [crashReply, failed] = await Promise.all([crash, others]);
      expect(crashReply.data.length).toBe(0); // no echo: the child died first
      expect(failed).toBe(0);
      expect(await runClients(20, 10, () => echoOnce(server.port))).toBe(0);
      const { closed, ended } = await server.close();
      expectCleanEnd(closed, ended);
      expect(closed.stats).toMatchObject({ accepted: 61, crashed: 1, killed: 0, failed: 0 });
    });
  });

  it('maxChildren holds against a flood of 200 connections; the rest wait in the backlog and are served', async () => {
    await withServer({ protocol: 'echo', options: { maxChildren: 8 } }, async (server) => {
      // Every connection is held open 40 ms: without the cap, dozens of children would overlap.
      const failed = await runClients(200, 200, () => echoOnce(server.port, 1024, 40));
      expect(failed).toBe(0);
      const { closed, ended } = await server.close();
      expectCleanEnd(closed, ended);
      expect(closed.stats).toMatchObject({ accepted: 200, peakChildren: 8, rejected: 0, crashed: 0 });
    });
  });

  it('verifyRequest is asked about each client before its fork (connections taken one at a time)', async () => {
    await withServer({ protocol: 'echo', refuseEverySecond: true }, async (server) => {
      const served: boolean[] = [];
      for (let i = 0; i < 10; i++) served.push(await echoOnce(server.port)); // in turn: the verdicts alternate
      expect(served).toEqual([true, false, true, false, true, false, true, false, true, false]);
      const { closed, ended } = await server.close();
      expectCleanEnd(closed, ended);
      expect(closed.stats).toMatchObject({ accepted: 5, rejected: 5, crashed: 0, failed: 0 });
    });
  });

  it('maxConnections refuses the clients beyond it (connections accepted and forked in batches)', async () => {
    await withServer({ protocol: 'echo', options: { maxConnections: 2 } }, async (server) => {
      // Ten at once, each held 300 ms: two are served while the others arrive, and those are refused.
      const served = (await Promise.all(Array.from({ length: 10 }, () => echoOnce(server.port, 1024, 300)))).filter(Boolean).length;
      expect(served).toBeGreaterThanOrEqual(2);
      expect(served).toBeLessThan(10);
      // Room again once they ended and were reaped (a client's last byte may come before its child's exit).
      await server.waitFor((e) => e.stats.liveChildren === 0);
      expect(await echoOnce(server.port)).toBe(true);
      const { closed, ended } = await server.close();
      expectCleanEnd(closed, ended);
      expect(closed.stats).toMatchObject({ accepted: served + 1, rejected: 10 - served, crashed: 0 });
      expect(closed.stats.peakChildren).toBeLessThanOrEqual(2);
    });
  });

  it('a child past childTimeoutMs is killed (or ends itself at its deadline) and reaped', async () => {
    await withServer({ protocol: 'crashy', options: { childTimeoutMs: 400 } }, async (server) => {
      // HANG blocks the child forever (only the parent's SIGKILL ends it); a silent client makes the
      // child's own read deadline (capped by childTimeoutMs) end it.
      const [hung, silent] = await Promise.all([
        exchange(server.port, Buffer.from('HANG'), { end: false }),
        exchange(server.port, undefined, { end: false }),
      ]);
      for (const reply of [hung, silent]) {
        expect(reply.ms).toBeGreaterThanOrEqual(350);
        expect(reply.ms).toBeLessThan(3000);
      }
      const after = await server.waitFor((e) => e.stats.liveChildren === 0);
      expect(after.stats.killed).toBeGreaterThanOrEqual(1);
      expect(after.stats.killed + after.stats.failed).toBe(2);
      expect(after.zombies).toBe(0);
      const { closed, ended } = await server.close();
      expectCleanEnd(closed, ended);
    });
  });

  it('close() stops accepting, lets a child in flight finish, and kills a straggler after shutdownTimeoutMs', async () => {
    await withServer({ protocol: 'echo', options: { shutdownTimeoutMs: 600 } }, async (server) => {
      // In flight: half of its message sent and echoed before close(), the rest after.
      const inFlight = new net.Socket();
      const received: Buffer[] = [];
      inFlight.on('data', (c) => received.push(c));
      const inFlightDone = new Promise<void>((resolve) => inFlight.on('close', () => resolve()));
      await new Promise<void>((resolve) => inFlight.connect(server.port, '127.0.0.1', resolve));
      inFlight.write('first half;');
      // The straggler connects and never sends.
      const straggler = exchange(server.port, undefined, { end: false });
      await server.waitFor((e) => e.stats.liveChildren === 2 && Buffer.concat(received).length === 11);
      const closing = server.close();
      await sleep(150);
      inFlight.end('second half');
      await inFlightDone;
      expect(Buffer.concat(received).toString()).toBe('first half;second half');
      const refused = await exchange(server.port, Buffer.from('late'));
      expect(refused.error).toBe('ECONNREFUSED');
      const { closed, ended } = await closing;
      expect((await straggler).data.length).toBe(0);
      expectCleanEnd(closed, ended);
      expect(closed.stats).toMatchObject({ accepted: 2, killed: 1, crashed: 0, failed: 0 });
      expect(closed.ms).toBeGreaterThanOrEqual(550);
      expect(closed.ms).toBeLessThan(3000);
    });
  });
});

// The child's half, without forking: serveBlocking over a socketpair whose peer has sent everything already.
describe('serveBlocking (the blocking transport)', () => {
  /** Runs `protocol` over one end of a pair: `input` is sent and half-closed first; returns what came back. */
  function serve(protocol: k.Protocol, input: Buffer, options: Parameters<typeof serveBlocking>[2] = {}, halfClose = true) {
    const [peer, fd] = k.socketpair(k.AF_UNIX, k.SOCK_STREAM | k.SOCK_NONBLOCK);
    try {
      if (input.length > 0) expect(k.send(peer, input)).toBe(input.length);
      if (halfClose) k.shutdown(peer, k.SHUT_WR);
      const outcome = serveBlocking(fd, protocol, options); // closes fd
      const out: Buffer[] = [];
      const buf = Buffer.alloc(65536);
      for (let n; (n = k.recv(peer, buf)) > 0; ) out.push(Buffer.from(buf.subarray(0, n)));
      return { outcome, output: Buffer.concat(out) };
    } finally {
      k.close(peer);
    }
  }

  it('echo: every byte back, our half-close answers the peer\'s', () => {
    const data = randomBytes(100_000);
    const { outcome, output } = serve(echo, data);
    expect(sha(output)).toBe(sha(data));
    expect(outcome).toMatchObject({ reason: 'end', error: undefined, bytesRead: data.length, bytesWritten: data.length });
  });

  it('calculator: frames answered in order; QUIT closes (the pipelined rest is drained, not reset)', () => {
    const wire = Buffer.concat([
      encodeCalcRequest(CalcOp.ADD, 2, 3),
      encodeCalcRequest(CalcOp.DIV, 7, 0),
      encodeCalcRequest(CalcOp.QUIT, 0, 0),
      encodeCalcRequest(CalcOp.MUL, 6, 7),
    ]);
    const { outcome, output } = serve(calculator, wire);
    expect([output.readInt32LE(0), output.readInt32LE(4), output.length]).toEqual([5, 0, 8]);
    expect(outcome).toMatchObject({ reason: 'local', error: undefined });
  });

  it('http: sendFile runs sendfile(2) to the end and releases the file', () => {
    const index = readFileSync(path.join(htmlRoot, 'index.html'));
    const { outcome, output } = serve(httpStatic({ root: htmlRoot }), Buffer.from('GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'));
    expect(output.subarray(0, 15).toString()).toBe('HTTP/1.1 200 OK');
    expect(sha(output.subarray(output.indexOf('\r\n\r\n') + 4))).toBe(sha(index));
    expect(outcome.error).toBeUndefined();
  });

  it('a silent peer ends the session at the read deadline (ETIMEDOUT, read-timeout)', () => {
    const t0 = Date.now();
    const { outcome } = serve(echo, Buffer.alloc(0), { ioTimeoutMs: 100 }, false);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(95);
    expect(outcome.reason).toBe('read-timeout');
    expect(outcome.error).toMatchObject({ code: 'ETIMEDOUT' });
  });

  it('the overall deadline caps every wait', () => {
    const { outcome } = serve(echo, Buffer.from('x'), { ioTimeoutMs: 10_000, deadline: performance.now() + 100 }, false);
    expect(outcome.error).toMatchObject({ code: 'ETIMEDOUT' });
  });

  it('an exception of the protocol propagates, after the fd is closed and onClose ran', () => {
    let closed = false;
    const broken: k.Protocol = {
      name: 'broken',
      open: () => ({
        onData: () => {
          throw new Error('protocol bug');
        },
        onClose: () => (closed = true),
      }),
    };
    expect(() => serve(broken, Buffer.from('x'))).toThrow('protocol bug');
    expect(closed).toBe(true);
  });
});
