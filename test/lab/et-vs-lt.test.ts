// `lab et-vs-lt` in quick mode: every count obeys its identity (ET: each readable event drained once, to
// EAGAIN or EOF; LT: one recv per event), ET without draining strands bytes that LT delivers, and a small
// run's counters equal strace's. Nothing here depends on speed: the rates are reported, never asserted.
import { beforeAll, describe, expect, it } from 'vitest';
import { runEtVsLt, type EtVsLtResults } from '../../lib/lab/et-vs-lt';
import { haveStrace } from '../../lib/lab/strace';

describe('lab et-vs-lt --quick', () => {
  let results: EtVsLtResults;
  let markdown: string;
  let svg: string;
  beforeAll(async () => {
    // A generous wait for the echo that LT does deliver, so that a busy machine cannot fake a stranding.
    const report = await runEtVsLt({ quick: true, starveSeconds: 0.3, strandWaitMs: 1000, verifyStrace: haveStrace() });
    ({ results, markdown } = report);
    svg = report.charts['et-vs-lt.svg'];
  }, 60_000);

  it('serves every request of every variant, and every identity holds exactly', () => {
    const o = results.options;
    expect(results.rows.map((r) => r.variant)).toEqual(['lt', 'et', 'et-short', 'lt-oneshot']);
    for (const row of results.rows) {
      expect(row.requests).toBe(o.connections * o.messages);
      expect(row.server.tally.accepted).toBe(o.connections);
      expect(row.server.tally.closed).toBe(o.connections);
      expect(row.server.counters.recvBytes).toBe(o.connections * o.messages * o.messageBytes);
      expect(row.server.counters.sendBytes).toBe(row.server.counters.recvBytes);
      for (const check of row.checks) expect(check.left, `${row.variant}: ${check.what}`).toBe(check.right);
    }
  });

  it('ET: recv calls = data reads + one EAGAIN (or EOF) per readable event; LT: recv calls = events', () => {
    const row = (v: string) => results.rows.find((r) => r.variant === v)!;
    const [lt, et, short, oneshot] = ['lt', 'et', 'et-short', 'lt-oneshot'].map(row);
    const recvEagain = (r: typeof et): number => r.server.counters.eagain - (r.server.counters.accept4 - r.server.tally.accepted);
    expect(et.server.counters.recv).toBe(et.server.tally.dataReads + et.server.tally.readableEvents);
    expect(recvEagain(et) + et.server.tally.eofReads).toBe(et.server.tally.readableEvents);
    // Ended by a short read instead, an event mostly costs no EAGAIN at all.
    expect(short.server.tally.shortReads + recvEagain(short) + short.server.tally.eofReads).toBe(short.server.tally.readableEvents);
    expect(recvEagain(short)).toBeLessThan(recvEagain(et));
    for (const r of [lt, oneshot]) {
      expect(r.server.counters.recv).toBe(r.server.tally.readableEvents);
      expect(recvEagain(r)).toBe(0);
    }
    // ONESHOT re-arms every key it was handed, except those that closed.
    expect(oneshot.server.tally.rearms).toBeGreaterThan(0);
    expect(lt.server.tally.rearms + et.server.tally.rearms).toBe(0);
  });

  it('ET without draining strands bytes on every connection; LT delivers them all', () => {
    const [et, lt] = results.strand;
    expect(et.strandedConnections).toBe(et.connections);
    expect(et.strandedBytes).toBeGreaterThan(0);
    expect(lt.strandedBytes).toBe(0);
  });

  it('reports the starvation figures and renders a chart and a table', () => {
    expect(results.starve).toHaveLength(3);
    for (const s of results.starve) expect(s.bulkMBps).toBeGreaterThan(0);
    expect(svg).toMatch(/^<svg/);
    expect(markdown).toContain('| LT, 1 recv per event |');
  });

  it.runIf(haveStrace())('counters equal strace -f of the same run, syscall by syscall', () => {
    expect(results.strace).toHaveLength(3);
    for (const { variant, rows } of results.strace!) {
      for (const row of rows) expect(row.counters, `${variant}: ${row.what}`).toBe(row.strace);
      expect(rows.find((r) => r.what === 'recv → recvfrom')!.strace).toBeGreaterThan(0);
    }
  });
});
