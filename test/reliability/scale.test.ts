// Scale: a server holds many idle HTTP keep-alive connections at a small, bounded memory cost per
// connection while active clients keep being served quickly (epoll(7): the cost of a wait does not grow
// with idle fds). Prefork spreads them over workers (20,000 fds per process here); epoll-et alone holds 19,000.
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { processTree } from '../../lib/lab/tools';
import { startCli } from '../servers/cli-server';
import { ASAN, record, SOAK } from './figures';
import { openIdle, runActive, type IdleClients } from './idle-clients';
import { kernelDelta, readKernel } from './kernel-memory';
import { readServer, servingPid, type ServerReading } from './server-probe';

/** The issue's bounds: server user-space memory per idle connection, and the active clients' p99. */
const MAX_BYTES_PER_CONN = 2048;
const MAX_P99_MS = 10;
/**
 * The short (CI) scale is too small for a robust 2 KiB assertion: V8 grows its heap in steps of ~1 MB per
 * process, a sizeable share of 2,000 connections' worth. It asserts a loose bound that still catches a
 * per-connection regression (closures per connection cost ~2 KiB more, as before the session became a class).
 */
const MAX_BYTES_PER_CONN_SHORT = 4096;

const ACTIVE = { connections: 100, seconds: SOAK ? 10 : 2, intervalMs: 10 };

async function until(ready: () => boolean, what: string, timeoutMs: number): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !ready(); await sleep(100)) {
    if (Date.now() > deadline) throw new Error(`never happened within ${timeoutMs} ms: ${what}`);
  }
}

/** The open fds of each process of the server's tree (the prefork parent first). */
function fdsPerProcess(pid: number): number[] {
  return processTree(pid).map((p) => {
    try {
      return readdirSync(`/proc/${p}/fd`).length;
    } catch {
      return 0;
    }
  });
}

/** Sockets in state LISTEN on 127.0.0.1:`port` (/proc/net/tcp: st 0A): one per worker with SO_REUSEPORT. */
function listeners(port: number): number {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .filter((line) => line.trim().split(/\s+/)[1] === local && line.trim().split(/\s+/)[3] === '0A').length;
}

/**
 * Holds `idle` connections on `model` and measures: server memory per connection (RSS and PSS of the
 * whole tree: with idle connections minus before, and the slope over the second half), kernel socket
 * memory per connection, and 100 active clients' latency while the idle ones are held. Then every idle
 * connection must still be open, and closing them must return the server's fds to where they started.
 */
async function holdIdle(name: string, model: string, idle: number, workers = 0) {
  // Prefork spreads by SO_REUSEPORT: with one shared EPOLLEXCLUSIVE listener the kernel wakes whichever
  // worker waits first, and in a 100,000-connect burst one worker reached its 20,000-fd limit while another
  // held 9,137 (then EMFILE: the listener refused the connections it could not take).
  const prefork = workers ? ['--workers', String(workers), '--balance', 'reuseport'] : [];
  const server = await startCli(model, 'http', ['--idle-timeout', '0', ...prefork]);
  const halves: IdleClients[] = [];
  try {
    const pid = servingPid(server);
    await until(() => readServer(pid).children === workers && listeners(server.port) === Math.max(1, workers), 'workers listening', 10_000);
    const fresh = readServer(pid);
    // Warm-up, not measured: code paths compiled, every worker's heap and new space grown to their working
    // size by a burst of requests, so "before" is a server that has served.
    await runActive(server.port, ACTIVE.connections, SOAK ? 3 : 1, 0);
    await until(() => readServer(pid).treeFds === fresh.treeFds, 'warm-up connections closed', 10_000);
    await sleep(300);
    const before = readServer(pid);
    const kernelBefore = readKernel();

    // Two halves, so that a step of the heap shows up as a difference between them rather than hiding.
    const readings: ServerReading[] = [];
    for (const [i, count] of [Math.floor(idle / 2), idle - Math.floor(idle / 2)].entries()) {
      const clients = await openIdle(server.port, count, { addressOffset: i * 4 });
      halves.push(clients);
      expect(clients.established, `${name}: idle connections established (errors: ${clients.errors})`).toBe(count);
      await sleep(SOAK ? 2000 : 500); // the workers finish their accepts and replies
      readings.push(readServer(pid));
    }
    const [first, held] = readings;
    const kernelAfter = readKernel();
    const perProcessFds = fdsPerProcess(pid);

    const active = await runActive(server.port, ACTIVE.connections, ACTIVE.seconds, ACTIVE.intervalMs);
    const duringActive = readServer(pid);
    const statuses = await Promise.all(halves.map((h) => h.status()));

    const figures = {
      model,
      processes: perProcessFds.length,
      idle,
      clientSetupMs: Math.max(...halves.map((h) => h.setupMs)),
      rssBeforeKb: before.rssKb,
      rssHeldKb: held.rssKb,
      rssBytesPerConn: ((held.rssKb - before.rssKb) * 1024) / idle,
      pssBytesPerConn: ((held.pssKb - before.pssKb) * 1024) / idle,
      rssSlopeBytesPerConn: ((held.rssKb - first.rssKb) * 1024) / (idle - Math.floor(idle / 2)),
      fdsPerProcess: perProcessFds.join('/'),
      maxFdsInOneProcess: Math.max(...perProcessFds),
      minFdsInOneProcess: Math.min(...perProcessFds.slice(workers ? 1 : 0)),
      ...kernelDelta(kernelBefore, kernelAfter, idle),
      activeConnections: ACTIVE.connections,
      activeIntervalMs: ACTIVE.intervalMs,
      activeRequests: active.requests,
      activeP50Ms: active.p50Us / 1000,
      activeP99Ms: active.p99Us / 1000,
      activeMaxMs: active.maxUs / 1000,
      rssDuringActiveKb: duringActive.rssKb,
    };
    record(name, figures);

    // Nothing was dropped: every idle connection is still open, the server closed none.
    expect(statuses.reduce((sum, x) => sum + x.alive, 0), `${name}: idle connections still open`).toBe(idle);
    expect(statuses.reduce((sum, x) => sum + x.closed, 0), `${name}: idle connections the server closed`).toBe(0);
    expect(active.errors, `${name}: active clients' errors`).toBe(0);
    expect(active.requests).toBeGreaterThan(0);

    // And nothing leaks: closing them all brings the server's fds back, no zombie.
    await Promise.all(halves.map((h) => h.close()));
    await until(() => readServer(pid).treeFds === before.treeFds, `${name}: server fds back to ${before.treeFds}`, SOAK ? 60_000 : 15_000);
    expect(readServer(pid).zombies).toBe(0);
    return figures;
  } finally {
    await Promise.all(halves.map((h) => h.close()));
    await server.stop();
  }
}

describe('scale: idle keep-alive connections', () => {
  it(
    `prefork holds ${SOAK ? '100,000' : '4,000'} idle connections, memory per connection bounded, active clients served`,
    async () => {
      const f = await holdIdle('scale/prefork', 'prefork', SOAK ? 100_000 : 4000, SOAK ? 8 : 2);
      expect(f.maxFdsInOneProcess, 'no worker near the 20,000-fd limit').toBeLessThan(19_500);
      if (!ASAN) expect(f.rssBytesPerConn).toBeLessThan(SOAK ? MAX_BYTES_PER_CONN : MAX_BYTES_PER_CONN_SHORT);
      if (SOAK) expect(f.activeP99Ms).toBeLessThan(MAX_P99_MS);
    },
    SOAK ? 600_000 : 30_000,
  );

  it(
    `one epoll-et process holds ${SOAK ? '19,000' : '4,000'} idle connections with the same bound`,
    async () => {
      const f = await holdIdle('scale/epoll-et', 'epoll-et', SOAK ? 19_000 : 4000);
      if (!ASAN) expect(f.rssBytesPerConn).toBeLessThan(SOAK ? MAX_BYTES_PER_CONN : MAX_BYTES_PER_CONN_SHORT);
      if (SOAK) expect(f.activeP99Ms).toBeLessThan(MAX_P99_MS);
    },
    SOAK ? 300_000 : 30_000,
  );
});
