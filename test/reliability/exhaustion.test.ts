// Exhaustion. Out of fds: a server whose RLIMIT_NOFILE is lowered while it runs (prlimit(1)) gets EMFILE from
// accept4(2); it must idle rather than spin, keep its accepted clients, and serve again once fds come back.
// Out of processes: a forking server's maxChildren holds against a connect flood. Out of memory: a forked
// child that exhausts V8's heap (or aborts) costs its own connection only. (A SIGSEGV child among healthy
// ones is test/servers/forking.test.ts's.)
import { execFileSync, spawn } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { buildC, processTree, processTreeCpuMs } from '../../lib/lab/tools';
import { startCli } from '../servers/cli-server';
import { echoClient, runClients } from '../servers/clients';
import { startServer, type ServerFixture } from '../servers/fixtures/fork-harness';
import { record, SOAK } from './figures';
import { atRest, startHostile, warmUp, type HostileClient } from './hostile-client';
import { servingPid } from './server-probe';

const FORKING_FIXTURE = path.join(__dirname, 'fixtures', 'forking-server.js');

/** Parses a `key=value ...` line (load_client's output). */
function figuresOf(line: string): Record<string, number> {
  return Object.fromEntries(line.trim().split(' ').map((kv) => kv.split('=')).map(([k, v]) => [k, Number(v)]));
}

describe('EMFILE: a server out of fds', () => {
  // Short: 16 fds to spare and 3x as many clients, CPU over 1 s. SOAK: 1,000 spare, 2,000 clients, 5 s.
  const spare = SOAK ? 1000 : 16;
  const clients = SOAK ? 2000 : 48;
  const windowMs = SOAK ? 5000 : 1000;

  // thread-pool starts its threads slowly (~1 s): SOAK only, with coroutine.
  it.each(SOAK ? ['epoll-et', 'poll', 'coroutine', 'thread-pool'] : ['epoll-et', 'poll'])(
    '%s: saturated it idles, keeps its clients, and serves again once fds come back',
    async (model) => {
      const server = await startCli(model, 'echo');
      let held: HostileClient | undefined;
      try {
        const pid = servingPid(server);
        await warmUp(server.port, 'echo');
        const before = await atRest(pid);
        // Only the soft limit: the server keeps what it has open and runs out `spare` fds from now.
        const limitFds = before.fds + spare;
        execFileSync('prlimit', ['--pid', String(pid), `--nofile=${limitFds}:`]);
        // More clients than fds: the served ones hold their connection after one round trip; the rest wait
        // in the backlog, where the server refuses one now and then (its reserve fd) and they come back.
        held = startHostile(server.port, { protocol: 'echo', held: clients });
        const saturated = await held.line('progress', (f) => f.held >= spare / 2 && f.refused >= 2);
        const cpu0 = processTreeCpuMs(pid).total;
        const t0 = performance.now();
        await sleep(windowMs);
        const cpuMs = processTreeCpuMs(pid).total - cpu0;
        const elapsedMs = performance.now() - t0;
        const later = await held.line('progress');
        held.stop();
        const result = await held.result;
        // Fds come back as the clients leave; then new clients are served.
        await atRest(pid, before);
        expect(await runClients(20, 5, () => echoClient(server.port))).toBe(0);
        const after = await atRest(pid, before);

        const cpuPctOfCore = (100 * cpuMs) / elapsedMs;
        record(`exhaustion/emfile/${model}`, {
          limitFds,
          clients,
          heldConnections: later.held,
          refusedPerSecond: ((later.refused - saturated.refused) * 1000) / elapsedMs,
          cpuPctOfCore,
          windowMs: elapsedMs,
          fdsBefore: before.fds,
          fdsAfter: after.fds,
        });
        // Served clients are never dropped for want of fds.
        expect(result.held_lost).toBe(0);
        if (SOAK) expect(cpuPctOfCore).toBeLessThan(5);
      } finally {
        held?.kill();
        await server.stop();
      }
    },
  );
});

/** Connects, sends `payload`, half-closes, collects everything until close. */
function exchange(port: number, payload: string): Promise<{ data: Buffer; error?: string; ms: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const chunks: Buffer[] = [];
    let error: string | undefined;
    const s = net.connect(port, '127.0.0.1', () => s.end(payload));
    s.on('data', (c) => chunks.push(c));
    s.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    s.on('close', () => resolve({ data: Buffer.concat(chunks), error, ms: performance.now() - t0 }));
    s.setTimeout(20_000, () => s.destroy(new Error('client timed out')));
  });
}

/** The fixture closed cleanly: exit 0, nothing left in its group, every child reaped. */
async function closeCleanly(server: ServerFixture): Promise<void> {
  const { closed, ended } = await server.close();
  expect({ code: ended.code, strays: ended.strays, timedOut: ended.timedOut }, ended.stderr).toEqual({ code: 0, strays: false, timedOut: false });
  expect({ zombies: closed.zombies, live: closed.stats.liveChildren }).toEqual({ zombies: 0, live: 0 });
  expect(closed.stats.reaped).toBe(closed.stats.accepted);
}

describe('forking: processes', () => {
  it('maxChildren holds against a connect flood; every client is served; 0 zombies', async () => {
    const maxChildren = 8;
    const holdMs = 30;
    const server = await startServer(FORKING_FIXTURE, { protocol: 'held-echo', holdMs, options: { maxChildren } });
    try {
      // Every slot of load_client connects, sends one request, waits for its echo, closes, and again: each
      // child holds its connection 30 ms, so at most 8 are served at once and the rest wait in the backlog.
      const slots = SOAK ? 400 : 200;
      const args = ['-m', 'conn', '-c', String(slots), '-d', SOAK ? '10' : '0.5', '-w', '30', String(server.port)];
      const flood = spawn(buildC('load_client'), args, { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      flood.stdout!.on('data', (c: Buffer) => (out += c.toString()));
      const done = new Promise<void>((resolve) => flood.once('close', () => resolve()));
      // Watched from outside too: the process tree never holds more than maxChildren children (live or zombie).
      let peakSeen = 0;
      let samples = 0;
      const sampler = setInterval(() => {
        peakSeen = Math.max(peakSeen, processTree(server.pid).length - 1);
        samples++;
      }, 5);
      try {
        await done;
      } finally {
        clearInterval(sampler);
      }
      const load = figuresOf(out);
      const after = await server.waitFor((e) => e.stats.liveChildren === 0 && e.zombies === 0);
      record('exhaustion/forking-max-children', {
        maxChildren,
        slots,
        served: load.answered + load.drained,
        peakChildrenStats: after.stats.peakChildren,
        peakChildrenSeen: peakSeen,
        samples,
        p99Ms: load.p99_us / 1000,
      });
      expect(load, out).toMatchObject({ wrong: 0, errors: 0, lost: 0, unanswered: 0 });
      expect(load.answered + load.drained).toBe(after.stats.accepted);
      expect(peakSeen).toBeLessThanOrEqual(maxChildren);
      expect(after.stats).toMatchObject({ peakChildren: maxChildren, crashed: 0, failed: 0, killed: 0, rejected: 0 });
      await closeCleanly(server);
    } finally {
      await server.dispose();
    }
  });

  it('a child that runs out of memory, or aborts, costs only its own connection', async () => {
    // 64 MB of old space: V8 gives up quickly; every child inherits the limit with the parent's heap.
    const server = await startServer(FORKING_FIXTURE, { protocol: 'oom-echo' }, { nodeArgs: ['--max-old-space-size=64'] });
    try {
      const healthy = SOAK ? 400 : 40;
      const doomed = Promise.all([exchange(server.port, 'OOM'), exchange(server.port, 'ABORT')]);
      const [[oom, abort], failedDuring] = await Promise.all([doomed, runClients(healthy, 10, () => echoClient(server.port))]);
      const failedAfter = await runClients(10, 5, () => echoClient(server.port));
      const after = await server.waitFor((e) => e.stats.liveChildren === 0 && e.zombies === 0);
      record('exhaustion/forking-child-oom', { healthyClients: healthy + 10, failed: failedDuring + failedAfter, oomChildMs: oom.ms, crashed: after.stats.crashed });
      // The doomed got nothing back (their child died before echoing); everyone else got every byte.
      expect([oom.data.length, abort.data.length]).toEqual([0, 0]);
      expect({ failedDuring, failedAfter }).toEqual({ failedDuring: 0, failedAfter: 0 });
      expect(after.stats).toMatchObject({ crashed: 2, failed: 0, killed: 0, accepted: healthy + 12 });
      // It was V8's heap limit, not something else, that ended the OOM child.
      expect(server.stderr()).toMatch(/heap out of memory/i);
      await closeCleanly(server);
    } finally {
      await server.dispose();
    }
  });
});
