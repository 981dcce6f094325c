// `bench http` at a small scale, with real servers and real wrk: epollkit and the C reference serve the two
// files correctly (each server's body is checked by hash before it is measured), the rounds are interleaved,
// and a ratio between two servers is the median of their per-round ratios.
import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { cpuRatio, httpTable, runHttpBench, SPREAD_MIN_ROUNDS, type HttpBenchRow } from '../../lib/lab/http-bench';
import { quartiles } from '../../lib/lab/tools';

const row = (server: string, perRound: number[] | undefined, requestsPerCpuSec: number): HttpBenchRow => ({
  server,
  file: 'f612.html',
  bytes: 612,
  requestsPerSec: NaN,
  requestsPerCpuSec,
  cpuShare: 1,
  p50Ms: 0,
  p99Ms: 0,
  perRound,
});

describe('cpuRatio', () => {
  it('pairs rounds: a drift of the machine between rounds cancels out', () => {
    // Round 2 ran on a machine twice as fast for both: each pair says 1.25, the medians alone say 1.0.
    expect(cpuRatio(row('a', [100, 250, 110], 110), row('b', [80, 200, 110], 110))).toBeCloseTo(1.25);
  });

  it('falls back to the ratio of medians when the rounds do not pair', () => {
    expect(cpuRatio(row('a', [100, 120], 110), row('b', undefined, 100))).toBeCloseTo(1.1);
  });
});

describe('the spread of the per-round ratios', () => {
  it('quartiles are the medians of the lower and upper halves', () => {
    expect(quartiles([4, 1, 3, 2])).toEqual([1.5, 3.5]);
    expect(quartiles([5, 1, 4, 2, 3])).toEqual([1.5, 4.5]); // the middle value (3) is in neither half
    expect(quartiles([]).every(Number.isNaN)).toBe(true);
  });

  it('is tabled for epollkit rows once there are enough rounds, with the quartiles of each ratio', () => {
    const ref = row('node-net', [100, 100, 100, 100, 100], 100);
    const et = row('epollkit-epoll-et', [100, 140, 110, 130, 120], 120);
    const table = httpTable([et, ref]);
    // Ratios 1.0 1.1 1.2 1.3 1.4: median 1.2, quartiles 1.05 and 1.35.
    expect(table).toContain('Per-round ratios over 5 paired rounds');
    expect(table).toContain('| 612 B | epollkit-epoll-et | 1.20 (1.05–1.35) |');
    // The references themselves, and too few rounds, get no spread line.
    expect(table).not.toMatch(/\| 612 B \| node-net \| 1\.00 \(/);
    const few = Array.from({ length: SPREAD_MIN_ROUNDS - 1 }, (_, i) => 100 + i);
    expect(httpTable([row('epollkit-epoll-et', few, 101), row('node-net', few.map(() => 100), 100)])).not.toContain('Per-round ratios');
  });
});

describe.runIf(spawnSync('wrk', ['--version']).error === undefined)('bench http (2 servers, 2 rounds of 1 s)', () => {
  const lines: string[] = [];
  let rows: HttpBenchRow[];
  beforeAll(async () => {
    rows = await runHttpBench({ servers: ['epollkit-epoll-et', 'c-epoll'], seconds: 1, rounds: 2, log: (l) => lines.push(l) });
  }, 120_000);

  it('measures both servers on both files, in interleaved rounds', () => {
    expect(rows.map((r) => [r.server, r.bytes, r.error])).toEqual([
      ['epollkit-epoll-et', 612, undefined],
      ['c-epoll', 612, undefined],
      ['epollkit-epoll-et', 65536, undefined],
      ['c-epoll', 65536, undefined],
    ]);
    for (const r of rows) {
      expect(r.perRound).toHaveLength(2);
      expect(r.requestsPerCpuSec).toBeGreaterThan(0);
      expect(r.p99Ms).toBeGreaterThanOrEqual(r.p50Ms);
    }
    // The log shows the order: round 1 of each server before round 2 of any, the second in reverse.
    const f612 = lines.filter((l) => l.includes('f612.html')).map((l) => /^(\S+) \S+ round (\d)/.exec(l)!.slice(1).join(' '));
    expect(f612).toEqual(['epollkit-epoll-et 1', 'c-epoll 1', 'c-epoll 2', 'epollkit-epoll-et 2']);
  });

  it('tables the ratio to the C reference', () => {
    const table = httpTable(rows);
    expect(table).toContain('÷ c-epoll');
    const c = table.split('\n').find((l) => l.includes('| 612 B | c-epoll |'))!;
    expect(c.trim().endsWith('| 1.00 |')).toBe(true);
  });
});
