// Hostile clients, all at once, against a real `epollkit serve` in its own process: slowloris, connect and
// never send, send and never read, reset (SO_LINGER 0) mid-response, half-close (shutdown(2) SHUT_WR) after
// the request, and a flood of connects, while well-behaved clients keep making requests. The invariant:
// every well-behaved reply is right, memory stays bounded by backpressure, and afterwards the server holds the
// fds it started with and no zombie. Clients are bench/hostile_client.c (see its head for each role).
import { describe, expect, it } from 'vitest';
import { startCli } from '../servers/cli-server';
import { ASAN, record, SOAK } from './figures';
import { atRest, patternRoot, sampleServer, startHostile, warmUp, type HostileClient, type HostileOptions } from './hostile-client';
import { readServer, servingPid } from './server-probe';

type Scale = Omit<HostileOptions, 'protocol'> & { headerTimeoutMs: number };

const MiB = 1024 * 1024;

// Short: a second of everything, small counts (CI). SOAK: the issue's flood of 10,000 and a slowloris that
// drips one byte every 2 s against a 3 s header timeout.
const BASE: Scale = SOAK
  ? { seconds: 12, slow: 50, slowIntervalMs: 2000, headerTimeoutMs: 3000, idle: 200, noread: 16, reset: 8, halfClose: 8, flood: 10_000, floodConcurrency: 200, good: 16, thinkMs: 5, bigBytes: 8 * MiB }
  : { seconds: 1, slow: 4, slowIntervalMs: 100, headerTimeoutMs: 300, idle: 4, noread: 4, reset: 2, halfClose: 2, flood: 1000, floodConcurrency: 100, good: 4, thinkMs: 5, bigBytes: 8 * MiB };

// The other models get the same mix with a smaller flood. Forking gives every hostile connection a process
// of its own, and the CLI caps live children at 64: past the cap everyone waits in the backlog, so 64 clients
// that never send would hold a forking server until their children's I/O timeout (60 s in the CLI) — the
// model's nature, not what is tested here. Its hostile counts stay well below the cap, and its flood is small
// (every connect is a fork).
const SECONDARY: Partial<Scale> = { flood: SOAK ? 2000 : 300 };
const FORKING: Partial<Scale> = SOAK
  ? { slow: 8, idle: 8, noread: 8, reset: 4, halfClose: 4, good: 8, flood: 500 }
  : { slow: 3, idle: 3, noread: 3, reset: 1, halfClose: 1, good: 3, flood: 100 };

interface Case {
  model: string;
  protocol: 'echo' | 'http';
  scale: Partial<Scale>;
}

const PRIMARY: Case[] = [
  { model: 'epoll-et', protocol: 'echo', scale: {} },
  { model: 'epoll-et', protocol: 'http', scale: {} },
];
const OTHERS: Case[] = [
  { model: 'poll', protocol: 'http', scale: SECONDARY },
  { model: 'coroutine', protocol: 'echo', scale: SECONDARY },
  { model: 'thread-pool', protocol: 'http', scale: SECONDARY },
  { model: 'prefork', protocol: 'echo', scale: SECONDARY },
  { model: 'forking', protocol: 'http', scale: FORKING },
];

/** One model and protocol under the whole mix at once; records its figures and asserts on behaviour. */
async function scenario({ model, protocol, scale }: Case): Promise<void> {
  const o: Scale = { ...BASE, ...scale };
  const http = protocol === 'http';
  const root = http ? patternRoot(o.bigBytes!) : undefined;
  const server = await startCli(model, protocol, root ? ['--root', root.dir, '--header-timeout', String(o.headerTimeoutMs)] : []);
  const clients: HostileClient[] = [];
  const run = (options: Omit<HostileOptions, 'protocol'>): HostileClient => {
    const client = startHostile(server.port, { protocol, bigBytes: o.bigBytes, ...options });
    clients.push(client);
    return client;
  };
  try {
    const pid = servingPid(server);
    await warmUp(server.port, protocol, o.bigBytes);
    const before = await atRest(pid);
    const sampler = sampleServer(pid);
    const { seconds, good, thinkMs, headerTimeoutMs: _, ...mix } = o;
    // The well-behaved run for as long as the hostile do (which is `seconds`, and until each role has had its effect).
    const polite = run({ good, thinkMs });
    const hostile = run({ seconds, ...mix });
    // Once every never-reading client is stuck, the server holds all it will ever hold for them.
    const stalled = await hostile.line('stalled');
    const atStall = readServer(pid);
    const h = await hostile.result;
    polite.stop();
    const g = await polite.result;
    const peaks = sampler.stop();
    const after = await atRest(pid, before);

    const growthMiB = (Math.max(peaks.peakPssKb, atStall.pssKb) - before.pssKb) / 1024;
    record(`hostile/${model}/${protocol}`, {
      seconds: o.seconds!,
      goodRequests: g.good_done,
      goodP50Ms: g.p50_us / 1000,
      goodP99Ms: g.p99_us / 1000,
      slowloris: o.slow!,
      slowClosed408: h.slow_408,
      idle: o.idle!,
      noread: o.noread!,
      noreadPushedMiB: stalled.pushed / MiB,
      pssGrowthMiB: growthMiB,
      resets: h.resets,
      halfCloses: h.half_ok,
      floodConnects: h.flood_ok,
      peakChildren: peaks.peakChildren,
      fdsBefore: before.treeFds,
      fdsAfter: after.treeFds,
    });

    // The well-behaved: every reply right, none refused or cut.
    expect(g.good_done).toBeGreaterThan(0);
    expect({ errors: g.good_errors, wrong: g.good_wrong }).toEqual({ errors: 0, wrong: 0 });
    // Half-closed requests got their whole reply; resets came mid-reply (never after the server gave up).
    expect(h.half_ok).toBeGreaterThan(0);
    expect(h.half_bad).toBe(0);
    expect(h.resets).toBeGreaterThan(0);
    expect(h.reset_early).toBe(0);
    expect({ flood: h.flood_ok, errors: h.flood_errors }).toEqual({ flood: o.flood, errors: 0 });
    // HTTP's header timeout ends every slowloris (with a 408); echo has no head to time, so they stay,
    // like the clients that never send (the CLI's idle timeout is a minute).
    if (http) {
      expect(h.slow_408).toBeGreaterThanOrEqual(o.slow!);
      expect(h.slow_closed).toBe(h.slow_408);
    } else {
      expect(h.slow_open).toBe(o.slow);
    }
    expect(h.idle_open).toBe(o.idle);
    expect(h.noread_open).toBe(o.noread);
    // Backpressure: per never-reading connection the server queues at most its high-water mark (1 MiB) of
    // output plus the reply that crossed it (HTTP stops answering pipelined requests there: Session.onDrain;
    // before that, ~1,700 replies to one 64 KiB read were queued, ~4.7 MiB); the coroutine model also buffers
    // up to 1 MiB of input. Measured alone: ~1.1 MiB per connection on epoll-et echo, ~2.6 on coroutine echo.
    // The constant is allowance for a Node heap under load. Forked children are processes of their own, each
    // bounded alike: their sum is reported, not bounded here.
    if (model !== 'forking' && !ASAN) expect(growthMiB).toBeLessThan(o.noread! * (http ? 6 : 3) + 48);
  } finally {
    for (const c of clients) c.kill();
    await server.stop();
    root?.remove();
  }
}

describe('hostile clients', () => {
  it.each(PRIMARY)('$model/$protocol: the well-behaved are served right, memory is bounded, nothing leaks', scenario);
  if (SOAK) {
    it.each(OTHERS)('$model/$protocol: the same mix', scenario);
  } else {
    // Short scale: the other models side by side (each in its own processes), to keep CI's wall time down.
    it(`${OTHERS.map((c) => `${c.model}/${c.protocol}`).join(', ')}: the same mix, side by side`, async () => {
      const outcomes = await Promise.allSettled(OTHERS.map(scenario));
      const failed = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [`${OTHERS[i].model}/${OTHERS[i].protocol}: ${o.reason?.stack ?? o.reason}`] : []));
      expect(failed, failed.join('\n\n')).toEqual([]);
    });
  }
});
