// The sys benchmark's plumbing at tiny iteration counts: every row measured on both sides, and the
// epollWait-64 loop counted as one crossing per 64 events. No timing is asserted (speed lives in
// `npm run bench:sys`, never in a test).
import { beforeAll, describe, expect, it } from 'vitest';
import { SYS_BENCH_OPS, runSysBench, type SysBenchResult } from '../lib/lab/sys-bench';

describe('runSysBench', () => {
  let result: SysBenchResult;
  beforeAll(() => {
    result = runSysBench({
      iterations: { ping: 200, eagain: 200, epoll64: 20, epoll1: 200, getppid: 200 },
      rounds: 1,
      warmupFraction: 0.1,
    });
  });

  it('returns a finite positive figure for every row, side and clock', () => {
    expect(result.rows.map((r) => r.op)).toEqual([...SYS_BENCH_OPS]);
    for (const r of result.rows) {
      const figures = [r.cNs, r.cThreadedNs, r.addonNs, r.addonNsCountersOff, r.ratio, r.ratioCountersOff,
        ...Object.values(r.medians.cpu), ...Object.values(r.medians.wall)];
      for (const value of figures) {
        expect(Number.isFinite(value), `${r.op}: ${value}`).toBe(true);
        expect(value, r.op).toBeGreaterThan(0);
      }
    }
  });

  it('counts one epollWait call and 64 events per iteration of the epollWait-64 loop', () => {
    const e64 = result.rows.find((r) => r.op === 'epoll64')!;
    expect(e64.perIteration).toEqual({ epollWait: 1, epollEvents: 64 });
  });

  it('counts one recv and one send per ping, and one EAGAIN per empty recv', () => {
    const rows = Object.fromEntries(result.rows.map((r) => [r.op, r.perIteration]));
    expect(rows.ping).toEqual({ recv: 1, recvBytes: 64, send: 1, sendBytes: 64 });
    expect(rows.eagain).toEqual({ recv: 1, eagain: 1 });
  });
});
