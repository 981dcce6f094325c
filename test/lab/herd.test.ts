// `lab herd` in quick mode, with real worker processes: every connection is accepted exactly once, and a
// shared listener with EPOLLEXCLUSIVE wakes fewer workers per connection than without it.
import { beforeAll, describe, expect, it } from 'vitest';
import { runHerd, type HerdResults } from '../../lib/lab/herd';
import { haveStrace } from '../../lib/lab/strace';

describe('lab herd --quick', () => {
  let results: HerdResults;
  beforeAll(async () => {
    ({ results } = await runHerd({ quick: true, workers: 3, connections: 20, verifyStrace: haveStrace() }));
  }, 60_000);

  it('accepts every connection exactly once, after at least one wakeup each', () => {
    expect(results.rows.map((r) => r.mode)).toEqual(['shared', 'exclusive', 'reuseport']);
    for (const row of results.rows) {
      expect(row.acceptsPerWorker.reduce((a, b) => a + b, 0), row.mode).toBe(20);
      expect(row.returnsPerConnection, row.mode).toBeGreaterThanOrEqual(1);
      expect(row.wokenPerConnection, row.mode).toBeGreaterThanOrEqual(1);
      // Every accept loop ends with the accept4 that finds the queue empty.
      expect(row.accept4PerConnection, row.mode).toBeGreaterThanOrEqual(2);
    }
  });

  it('EPOLLEXCLUSIVE wakes fewer workers per connection than a plain shared listener', () => {
    const [shared, exclusive] = results.rows;
    expect(exclusive.wokenPerConnection).toBeLessThan(shared.wokenPerConnection);
  });

  it.runIf(haveStrace())('the workers\' counters equal strace -f of their main threads', () => {
    expect(results.strace!.map((s) => s.mode)).toEqual(['shared', 'exclusive', 'reuseport']);
    for (const { mode, rows } of results.strace!) {
      for (const row of rows) expect(row.counters, `${mode}: ${row.what}`).toBe(row.strace);
    }
  });
});
