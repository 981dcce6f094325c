// Leaks: N connections through every server model leave the server as it was after warm-up — the same open
// fds (accept4(2)'d sockets all closed), no zombies (every fork(2)ed child reaped with waitpid(2)), and RSS
// within 10% (judged by its trend over rounds in a soak run: see leakRun). Servers run in their own process
// (startCli), read from /proc (server-probe.ts); the load is bench/load_client.c -m conn (connect, one
// request, reply checked, close), or a Node client for HTTP and UDP.
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MODELS } from '../../lib/servers/models';
import { htmlRoot, startCli, startServerProcess, type CliServer } from '../servers/cli-server';
import { ASAN, record, SOAK } from './figures';
import { cClient, nodeScript, runClient } from './run-client';
import { readServer, servingPid, type ServerReading } from './server-probe';

/**
 * How each run is sized. A fork or a Node worker per connection costs milliseconds (forking ~3 ms, threading
 * ~35 ms: a worker is a whole JS environment), so those get fewer connections: forking 10,000 as the issue
 * says, threading the same (100,000 would take an hour). The iterative server serves one client at a time.
 */
function connections(model: string): number {
  if (model === 'forking' || model === 'threading') return SOAK ? 10_000 : model === 'forking' ? 300 : 30;
  return SOAK ? 100_000 : 2_000;
}
const slots = (model: string): number => (model === 'iterative' ? 1 : model === 'threading' ? 2 : 8);
/**
 * Connections before the first reading: what a server opens once is open, and under SOAK V8's heap has grown
 * to its working size (a tenth of the run: an epoll-et server went 55.7 -> 62.4 MiB over its first 50,000
 * connections, then stayed within 0.3 MiB for 350,000 more; after only 300 the 100,000 looked like +11%).
 */
const warmCount = (count: number): number => (SOAK ? count / 10 : Math.min(300, Math.ceil(count / 10)));
/**
 * RSS may grow 10% past the warm reading. The short version gets 8 MiB more: after a few hundred connections
 * V8 is still growing its heap and compiling (a Node server settles at ~60 MiB only after ~10,000), which is
 * not a leak and would be noise of the same size as the 10%.
 */
const RSS_SLACK_KB = SOAK ? 0 : 8 * 1024;
/**
 * How the connections are pushed: in rounds, the server read after each — 10 in a soak run, so that RSS is
 * judged by its trend (see leakRun); one in the short run, except threading, whose RSS first climbs to a
 * working level and then stays there: each connection runs a whole
 * V8 isolate (~10 MB) on a thread of its own, the main thread's heap holds the garbage of finished workers
 * until V8 collects it, and an allocator arena per thread keeps its high-water mark (~8.5 MB free but
 * resident in 10 arenas). A soak run, warm at 68.0 MB after 1,000 connections, then rounds of 1,000: 79.8,
 * 80.4, 93.0, 93.4, 96.1, 94.9, 95.0, 95.0, 94.9, 94.9 MB — +40% over the warm reading, flat for the last
 * 5,000. With a forced GC before each reading (a helper's run) it stays at 64–68 MB: malloc in use +14 B
 * per connection, the main heap +50 B. So with rounds the test judges RSS against the reading half-way
 * (the working level: the floor of the last third within 10% of it) and asks the second half's slope to
 * stay under 1 KiB per connection (a leak of that size adds 10% per 10,000 connections; the rounds' noise
 * is ~0.3 KiB per connection). The growth to the working level is recorded, not asserted.
 */
const rounds = (model: string): number => (SOAK ? SOAK_ROUNDS : model === 'threading' ? 3 : 1);
const SOAK_ROUNDS = 10;
const clientTimeoutMs = SOAK ? 3_600_000 : 60_000;

/** A load: pushes `count` connections through the server on `port`; the client's counters. */
type Load = (port: number, count: number) => Promise<Record<string, number>>;

const loadClient =
  (model: string): Load =>
  async (port, count) =>
    (await runClient([...cClient('load_client'), '-m', 'conn', '-c', String(slots(model)), '-n', String(count), '-d', String(clientTimeoutMs / 1000), String(port)], clientTimeoutMs + 10_000)).figures;
const httpLoad: Load = async (port, count) => (await runClient([...nodeScript('http-client.js'), String(port), String(count), '8', htmlRoot], clientTimeoutMs)).figures;
const udpLoad: Load = async (port, count) => (await runClient([...nodeScript('udp-client.js'), String(port), String(count), '8'], clientTimeoutMs)).figures;

/** The least-squares slope of `ys` over their indices (per step). */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function slope(ys: number[]): number {
  const n = ys.length;
  if (n < 2) return 0;
  const mx = (n - 1) / 2;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  ys.forEach((y, x) => {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  });
  return num / den;
}

/** Every connection made, answered right, nothing broken. */
function expectAllServed(figures: Record<string, number>, count: number): void {
  expect({ connects: figures.connects, served: figures.answered + figures.drained, wrong: figures.wrong, errors: figures.errors, lost: figures.lost }).toEqual({
    connects: count,
    served: count,
    wrong: 0,
    errors: 0,
    lost: 0,
  });
}

const same = (a: ServerReading, b: ServerReading): boolean =>
  a.fds === b.fds && a.treeFds === b.treeFds && a.children === b.children && a.zombies === b.zombies;

/**
 * Polls the server until it is quiescent — a state to reach, not a time to wait: `done(reading)` holds, or
 * without `done`, the same fds and children in four readings 100 ms apart and no zombie. Returns the last
 * reading either way (the caller's assertions say what is wrong), after at most `boundMs`.
 */
async function quiescent(pid: number, done?: (r: ServerReading) => boolean, boundMs = SOAK ? 60_000 : 10_000): Promise<ServerReading> {
  let last = readServer(pid);
  let steady = 0;
  for (const end = Date.now() + boundMs; Date.now() < end; ) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const now = readServer(pid);
    steady = same(now, last) && now.zombies === 0 ? steady + 1 : 0;
    last = now;
    if (done ? done(now) : steady >= 3) return now;
  }
  return last;
}

/**
 * Warms the server, reads it, pushes `count` connections through it in `roundCount` rounds, waits for
 * quiescence after each, and compares: fds, children and zombies after every round as after warm-up. RSS:
 * - one round (the short run): its floor within 10% of the warm reading (plus the short run's slack);
 * - `fromWorkingLevel` (threading, whose RSS first climbs by ~40%: see `rounds`): the floor of the last
 *   third within 10% of the reading half-way, and with six rounds or more the second half's least-squares
 *   slope under 1 KiB per connection;
 * - six rounds or more otherwise (a soak run): by its trend. V8 grows its young generation in steps when it
 *   sees many objects survive (a scavenge's committed heap 10.5 → 14.5 MB: the coroutine server's RSS went
 *   61.6 → 67.5 MB in one step between two rounds of 10,000 connections and was flat before and after, its
 *   live heap 5.9 MB throughout), at a point of the run that varies from run to run. Bounded, not a leak,
 *   yet 10% of a 60 MB server. So the leak test is the median of the round-to-round growths (one step is
 *   one growth of ten), times the rounds, within 10% of the warm reading — the "RSS back within 10%"
 *   for the steady trend — with the second half's slope under 1 KiB per connection and the end at most 50%
 *   above the warm reading. The raw growth is recorded.
 */
async function leakRun(
  name: string,
  server: CliServer,
  load: Load,
  count: number,
  roundCount = SOAK ? SOAK_ROUNDS : 1,
  fromWorkingLevel = false,
): Promise<void> {
  try {
    const pid = servingPid(server);
    const warmUp = warmCount(count);
    expectAllServed(await load(server.port, warmUp), warmUp);
    const warm = await quiescent(pid);
    const started = Date.now();
    const readings: ServerReading[] = [];
    let p99Us = -1;
    for (let round = 0; round < roundCount; round++) {
      const share = Math.floor(count / roundCount) + (round < count % roundCount ? 1 : 0);
      const figures = await load(server.port, share);
      expectAllServed(figures, share);
      p99Us = Math.max(p99Us, figures.p99_us ?? -1);
      // Back where it was: the connections' fds closed and children reaped (RSS is not part of the state to
      // reach: it is read once the rest is back).
      readings.push(await quiescent(pid, (r) => r.fds <= warm.fds && r.treeFds <= warm.treeFds && r.zombies === 0 && r.children <= warm.children));
    }
    const seconds = (Date.now() - started) / 1000;
    const after = readings[readings.length - 1];
    const floorKb = Math.min(...readings.slice(-Math.ceil(readings.length / 3)).map((r) => r.rssKb));
    // With rounds: the working level is the reading half-way, and the second half's trend is the leak test.
    const halfWay = Math.floor(roundCount / 2) - 1;
    const baseKb = fromWorkingLevel ? readings[halfWay].rssKb : warm.rssKb;
    const secondHalf = readings.slice(halfWay).map((r) => r.rssKb);
    const slopeBytesPerConnection = (slope(secondHalf) * 1024) / (count / roundCount);
    const growthsKb = readings.map((r, i) => r.rssKb - (i === 0 ? warm : readings[i - 1]).rssKb);
    const trendPct = (100 * median(growthsKb) * roundCount) / warm.rssKb;
    record(name, {
      connections: count,
      rounds: roundCount,
      connPerSec: Math.round(count / seconds),
      fdsBefore: warm.fds,
      fdsAfter: after.fds,
      treeFdsBefore: warm.treeFds,
      treeFdsAfter: after.treeFds,
      childrenBefore: warm.children,
      childrenAfter: after.children,
      zombies: after.zombies,
      rssKbBefore: warm.rssKb,
      rssKbAfter: after.rssKb,
      rssKbRounds: readings.map((r) => r.rssKb),
      rssGrowthPct: (100 * (after.rssKb - warm.rssKb)) / warm.rssKb,
      rssKbBase: baseKb,
      rssFloorGrowthPct: (100 * (floorKb - baseKb)) / baseKb,
      rssSlopeBytesPerConnection: roundCount >= 6 ? slopeBytesPerConnection : null,
      rssTrendPct: roundCount >= 6 ? trendPct : null,
      pssKbBefore: warm.pssKb,
      pssKbAfter: after.pssKb,
      p99Us,
    });
    for (const r of readings) {
      expect({ fds: r.fds, treeFds: r.treeFds, children: r.children, zombies: r.zombies }).toEqual({
        fds: warm.fds,
        treeFds: warm.treeFds,
        children: warm.children,
        zombies: 0,
      });
    }
    if (ASAN) return;
    if (roundCount >= 6) expect(slopeBytesPerConnection).toBeLessThan(1024);
    if (roundCount >= 6 && !fromWorkingLevel) {
      expect(trendPct).toBeLessThan(10);
      expect(floorKb).toBeLessThanOrEqual(warm.rssKb * 1.5);
    } else {
      expect(floorKb).toBeLessThanOrEqual(baseKb * 1.1 + RSS_SLACK_KB);
    }
  } finally {
    await server.stop();
  }
}

const timeout = (count: number): number => (SOAK ? 600_000 + count * 50 : 60_000);

describe('leaks: connections through a server leave its fds, children and memory as they were', () => {
  for (const model of Object.keys(MODELS)) {
    const count = connections(model);
    it(`${model}/echo: ${count} connections`, async () => leakRun(`leaks/${model}/echo`, await startCli(model, 'echo'), loadClient(model), count, rounds(model), model === 'threading'), timeout(count));
  }

  // HTTP on a reactor and on forked children (a different transport: blocking, with sendfile).
  for (const model of ['epoll-et', 'forking']) {
    const count = model === 'forking' ? (SOAK ? 10_000 : 100) : SOAK ? 100_000 : 500;
    it(`${model}/http: ${count} connections`, async () => leakRun(`leaks/${model}/http`, await startCli(model, 'http'), httpLoad, count), timeout(count));
  }

  // UDP has no connections: each "connection" is one datagram from a fresh socket (a new endpoint), echoed.
  // The server keeps no per-peer state, so its one socket, its memory and its (absent) children must stay put.
  const datagrams = SOAK ? 100_000 : 2_000;
  it(`iterative-udp/echo: ${datagrams} datagrams from as many endpoints`, async () => {
    const server = await startServerProcess([path.join(__dirname, 'udp-echo-server.js')]);
    await leakRun('leaks/iterative-udp/echo', server, udpLoad, datagrams);
  }, timeout(datagrams));
});
