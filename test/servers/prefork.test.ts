// PreforkServer (seed 002's conclusion, nginx's model): N forked workers, each a blocking epoll reactor,
// sharing one port by EPOLLEXCLUSIVE or SO_REUSEPORT. The server runs in a `node --single-threaded` child
// process (fixtures/prefork-server.js, loading dist/: `npm run build:ts` first), in a process group of its
// own that a watchdog kills; real clients drive it over loopback.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { echo } from '../../lib/protocols/echo';
import { PreforkServer } from '../../lib/servers/prefork';
import { htmlRoot } from './cli-server';
import { calcClient, echoClient, httpClient, runClients } from './clients';
import { startServer, type Ended, type ServerFixture } from './fixtures/fork-harness';
import { waitUntil } from '../helpers/proc';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const MODES = ['exclusive', 'reuseport'] as const;

function expectCleanEnd(closed: { stats: any; zombies: number; children: number }, ended: Ended): void {
  expect({ code: ended.code, signal: ended.signal, timedOut: ended.timedOut, strays: ended.strays }, ended.stderr).toEqual({
    code: 0,
    signal: null,
    timedOut: false,
    strays: false,
  });
  expect(closed.stats.workers).toEqual([]);
  expect(closed.zombies).toBe(0);
  expect(closed.children).toBe(0);
}

async function withServer(config: object, body: (server: ServerFixture) => Promise<void>): Promise<void> {
  const server = await startServer('prefork-server.js', config);
  try {
    await body(server);
  } finally {
    await server.dispose();
  }
}

/** One echo exchange of `size` random bytes: true when every byte came back. */
function echoOnce(port: number, size = 1024): Promise<boolean> {
  const data = randomBytes(size);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let failed = false;
    const s = net.connect(port, '127.0.0.1', () => s.end(data));
    s.on('data', (c) => chunks.push(c));
    s.on('error', () => (failed = true));
    s.on('close', () => resolve(!failed && sha(Buffer.concat(chunks)) === sha(data)));
    s.setTimeout(10_000, () => s.destroy(new Error('client timed out')));
  });
}

/** `lanes` clients in a loop until `stop()` says so; each exchange is recorded with its start time. */
async function stream(port: number, stop: () => boolean, lanes = 4): Promise<{ start: number; ok: boolean }[]> {
  const records: { start: number; ok: boolean }[] = [];
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (!stop()) {
        const start = Date.now();
        records.push({ start, ok: await echoOnce(port) });
      }
    }),
  );
  return records;
}

function connectError(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve(undefined);
    });
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code));
  });
}

/** Whether a pid has exited (gone, or a zombie waiting for whoever adopted it). */
function exited(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

describe('PreforkServer', () => {
  it('refuses to be built without --single-threaded (here, in the vitest worker)', () => {
    expect(process.execArgv).not.toContain('--single-threaded');
    expect(() => new PreforkServer({ protocol: echo, workers: 2 })).toThrow(
      expect.objectContaining({ code: 'ERR_EPOLLKIT_FORK_NOT_SINGLE_THREADED' }),
    );
  });

  const clients: Record<string, (port: number) => Promise<boolean>> = { echo: echoClient, calc: calcClient, http: httpClient(htmlRoot) };
  describe.each(MODES)("balance '%s'", (balance) => {
    it.each(Object.keys(clients))('serves %s to 50 concurrent clients with 2 workers, bytes checked', async (protocol) => {
      await withServer({ protocol, root: htmlRoot, options: { workers: 2, balance } }, async (server) => {
        const failed = await runClients(100, 50, () => clients[protocol](server.port));
        expect(failed, server.stderr()).toBe(0);
        const { stats } = await server.stats();
        expect(stats.workers).toHaveLength(2);
        expect(stats.accepted).toBe(100);
        expect(stats.perWorker.map((w: any) => w.accepted).reduce((a: number, b: number) => a + b)).toBe(100);
        // SO_REUSEPORT hashes connections over the listeners: 100 all landing on one is a 2^-99 event.
        if (balance === 'reuseport') for (const w of stats.perWorker) expect(w.accepted).toBeGreaterThan(0);
        const { closed, ended } = await server.close();
        expectCleanEnd(closed, ended);
        expect(closed.stats).toMatchObject({ accepted: 100, respawned: 0, died: 0 });
      });
    });

    it('a killed worker is replaced; no connection started after the replacement is up fails', async () => {
      await withServer({ protocol: 'echo', options: { workers: 2, balance } }, async (server) => {
        let stop = false;
        const records = stream(server.port, () => stop);
        await sleep(300);
        const victim: number = (await server.stats()).stats.workers[0];
        process.kill(victim, 'SIGKILL');
        const replaced = await server.waitFor(
          (e) => e.stats.respawned === 1 && e.stats.workers.length === 2 && e.stats.perWorker.every((w: any) => w.ready),
          5000,
          10,
        );
        const upAt = Date.now();
        expect(replaced.stats.workers).not.toContain(victim);
        await sleep(700);
        stop = true;
        const all = await records;
        const after = all.filter((r) => r.start >= upAt);
        // Connections in flight to the killed worker (or in its own SO_REUSEPORT queue) may fail; none after.
        const before = all.filter((r) => r.start < upAt);
        expect(before.length).toBeGreaterThan(10);
        expect(after.length).toBeGreaterThan(10);
        const lost = before.filter((r) => !r.ok).length; // typically a handful, in flight at the kill
        expect(after.filter((r) => !r.ok), `${lost} of ${before.length} failed before the replacement was up`).toEqual([]);
        const { closed, ended } = await server.close();
        expectCleanEnd(closed, ended);
        expect(closed.stats).toMatchObject({ respawned: 1, died: 1 });
      });
    });

    it('graceful shutdown loses no in-flight reply: 16 MiB responses being read slowly complete', async () => {
      const root = mkdtempSync(path.join(tmpdir(), 'epollkit-prefork-'));
      try {
        const big = randomBytes(16 << 20);
        writeFileSync(path.join(root, 'big.bin'), big);
        await withServer({ protocol: 'http', root, options: { workers: 2, balance, shutdownTimeoutMs: 5000 } }, async (server) => {
          const sockets = Array.from({ length: 4 }, () => net.connect(server.port, '127.0.0.1'));
          const firstBytes: Promise<void>[] = [];
          const replies = sockets.map(
            (s) =>
              new Promise<Buffer>((resolve, reject) => {
                const chunks: Buffer[] = [];
                firstBytes.push(new Promise<void>((started) => s.once('data', () => (s.pause(), started()))));
                s.on('data', (c) => chunks.push(c));
                s.on('error', reject);
                s.on('close', () => resolve(Buffer.concat(chunks)));
                s.write('GET /big.bin HTTP/1.1\r\nHost: test\r\n\r\n');
              }),
          );
          await Promise.all(firstBytes); // every reply is under way, most of it still queued in the workers
          const closing = server.close();
          await sleep(300);
          expect(await connectError(server.port)).toBe('ECONNREFUSED'); // no longer accepting
          for (const s of sockets) s.resume();
          for (const reply of await Promise.all(replies)) {
            const split = reply.indexOf('\r\n\r\n');
            expect(reply.subarray(0, 15).toString()).toBe('HTTP/1.1 200 OK');
            expect(reply.length - split - 4).toBe(big.length);
            expect(sha(reply.subarray(split + 4))).toBe(sha(big));
          }
          const { closed, ended } = await closing;
          expectCleanEnd(closed, ended);
          expect(closed.stats.accepted).toBe(4);
        });
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    });
  });

  it('exclusive: kept connections arriving one at a time go round the workers', async () => {
    // The kernel wakes the first exclusive waiter asleep in epoll_wait; each worker moves itself to the back
    // of the line after accepting. So each connection is made once both workers sleep there (wchan), a state
    // to reach: a worker still busy (a loaded machine) would otherwise decide it.
    await withServer({ protocol: 'echo', options: { workers: 2, balance: 'exclusive' } }, async (server) => {
      const workers = (await server.stats()).stats.workers as number[];
      const asleep = (pid: number): boolean => /epoll_wait|ep_poll/.test(readFileSync(`/proc/${pid}/wchan`, 'utf8'));
      const held: net.Socket[] = [];
      try {
        for (let i = 0; i < 20; i++) {
          await waitUntil(() => workers.every(asleep), 'both workers asleep in epoll_wait');
          const socket = net.connect(server.port, '127.0.0.1');
          held.push(socket);
          await new Promise((resolve, reject) => {
            socket.once('data', resolve);
            socket.once('error', reject);
            socket.write('x');
          });
        }
        const perWorker = ((await server.stats()).stats.perWorker as any[]).map((w) => w.connections);
        expect(perWorker.sort()).toEqual([10, 10]);
      } finally {
        for (const socket of held) socket.destroy();
      }
    });
  });

  it('exclusive: a worker out of fds leaves connections to the others rather than refusing them', async () => {
    await withServer({ protocol: 'echo', options: { workers: 2, balance: 'exclusive' } }, async (server) => {
      const held: net.Socket[] = [];
      const open = async (i: number): Promise<boolean> => {
        const socket = net.connect(server.port, '127.0.0.1');
        held.push(socket);
        socket.on('error', () => {});
        const reply = await new Promise<string>((resolve) => {
          socket.once('data', (c) => resolve(c.toString()));
          socket.once('close', () => resolve(''));
          socket.write(`hello ${i}`);
        });
        return reply === `hello ${i}`;
      };
      try {
        let answered = 0;
        for (let i = 0; i < 10; i++) if (await open(i)) answered++;
        // Starve the worker that has been taking the connections (EPOLLEXCLUSIVE wakes the idle worker
        // first in the socket's wait queue) with prlimit(1) on its pid: 48 fds leave it room for a few more.
        const first = (await server.stats()).stats.perWorker as any[];
        const starved = first.reduce((a, b) => (b.connections > a.connections ? b : a)).pid as number;
        const other = first.find((w) => w.pid !== starved).pid as number;
        execFileSync('prlimit', ['--pid', String(starved), '--nofile=48:48']);
        // All at once, so that connections wait in the queue when the starved worker runs out of fds.
        const rest = await Promise.all(Array.from({ length: 190 }, (_, i) => open(10 + i)));
        answered += rest.filter(Boolean).length;
        const stats = (await server.stats()).stats;
        expect(answered).toBe(200);
        const byPid = (pid: number) => stats.perWorker.find((w: any) => w.pid === pid);
        expect(byPid(starved).connections).toBeLessThan(48); // it did run out of fds...
        expect(byPid(other).connections).toBeGreaterThan(150); // ...and the other took the rest
        expect(stats.perWorker.reduce((n: number, w: any) => n + w.rejected, 0)).toBe(0);
      } finally {
        for (const socket of held) socket.destroy();
      }
      const { closed, ended } = await server.close();
      expectCleanEnd(closed, ended);
    });
  });

  it('a worker dying young is replaced after a back-off that doubles (100, 200, 400 ms)', async () => {
    await withServer({ protocol: 'echo', options: { workers: 2, minUptimeMs: 10_000 } }, async (server) => {
      const delays: number[] = [];
      for (let i = 0; i < 3; i++) {
        const victim: number = (await server.stats()).stats.perWorker[0].pid;
        const killedAt = Date.now();
        process.kill(victim, 'SIGKILL');
        await server.waitFor((e) => e.stats.perWorker[0].pid !== victim && e.stats.perWorker[0].ready, 5000, 10);
        delays.push(Date.now() - killedAt);
        expect(await runClients(10, 5, () => echoOnce(server.port))).toBe(0);
      }
      expect(delays[0]).toBeGreaterThanOrEqual(100);
      expect(delays[1]).toBeGreaterThanOrEqual(200);
      expect(delays[2]).toBeGreaterThanOrEqual(400);
      const { closed, ended } = await server.close();
      expectCleanEnd(closed, ended);
      expect(closed.stats).toMatchObject({ respawned: 3, died: 3 });
    });
  });

  it('workers of a parent that dies stop by themselves (end of file on their control socket)', async () => {
    await withServer({ protocol: 'echo', options: { workers: 2 } }, async (server) => {
      const workers: number[] = (await server.stats()).stats.workers;
      expect(workers).toHaveLength(2);
      process.kill(server.pid, 'SIGKILL');
      const until = Date.now() + 3000;
      while (!workers.every(exited) && Date.now() < until) await sleep(20);
      expect(workers.filter((pid) => !exited(pid))).toEqual([]);
    });
  });
});
