// `lab scaling` in quick mode: every wait returns exactly the K ready fds, in one syscall, on every backend
// and size; select is refused fds at or above FD_SETSIZE. Costs are reported, never asserted.
import { beforeAll, describe, expect, it } from 'vitest';
import { runScaling, type ScalingResults } from '../../lib/lab/scaling';
import { haveStrace } from '../../lib/lab/strace';
import { FD_SETSIZE } from '../../lib/sys/select';

describe('lab scaling --quick', () => {
  let results: ScalingResults;
  let charts: Record<string, string>;
  beforeAll(async () => {
    ({ results, charts } = await runScaling({ quick: true, sizes: [10, 100, 1000, 3000], active: 5, verifyStrace: haveStrace() }));
  }, 60_000);

  it('measures every backend at every size it can hold, one syscall and K ready fds per wait', () => {
    for (const row of results.rows.filter((r) => !r.refused)) {
      expect(row.wrongReadyCounts, `${row.backend} ${row.idle}`).toBe(0);
      expect(row.callsPerWait).toBe(1);
      if (row.backend === 'epoll') expect(row.eventsPerWait).toBe(5);
      expect(row.waitUs).toBeGreaterThan(0);
    }
    for (const backend of ['poll', 'epoll']) {
      expect(results.rows.filter((r) => r.backend === backend && !r.refused).map((r) => r.idle)).toEqual([10, 100, 1000, 3000]);
    }
  });

  it('select stops below FD_SETSIZE: its largest set fits, the next size is refused with ERR_EPOLLKIT_FD_SETSIZE', () => {
    const select = results.rows.filter((r) => r.backend === 'select');
    const refused = select.filter((r) => r.refused);
    expect(refused).toHaveLength(1);
    expect(refused[0].refused).toBe('ERR_EPOLLKIT_FD_SETSIZE');
    const measured = select.filter((r) => !r.refused);
    const largest = Math.max(...measured.map((r) => r.idle));
    expect(largest + 5).toBeLessThan(FD_SETSIZE);
    expect(largest).toBeGreaterThan(100);
    expect(refused[0].idle).toBeGreaterThan(largest);
  });

  it('draws both charts', () => {
    expect(Object.keys(charts).sort()).toEqual(['scaling-register.svg', 'scaling-wait.svg']);
    for (const svg of Object.values(charts)) expect(svg).toMatch(/^<svg/);
  });

  it.runIf(haveStrace())('counts every epoll_wait, epoll_ctl, poll and select call that strace -f sees', () => {
    for (const row of results.strace!) expect(row.counters, row.what).toBe(row.strace);
    for (const what of ['epoll_wait calls', 'epoll_ctl', 'poll', 'select']) {
      expect(results.strace!.find((r) => r.what === what)!.strace, what).toBeGreaterThan(0);
    }
  });
});
