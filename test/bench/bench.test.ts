// `epollkit bench --quick` through the real CLI on three servers: every request answered, the counts of the
// load generator and of the servers agree, and the JSON, Markdown and SVG results are written. Never speed.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { benchPlan, combineRounds, type BenchResult, type BenchRow } from '../../lib/lab/bench';

const cli = path.resolve(__dirname, '../../dist/cli.js');
const out = mkdtempSync(path.join(os.tmpdir(), 'epollkit-bench-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('benchPlan', () => {
  it('runs the C fork server only where it can answer (echo, one request per connection)', () => {
    const plan = benchPlan(['epoll-lt', 'c-fork'], ['echo', 'calc'], ['rt', 'conn']);
    expect(plan.filter((p) => p.server === 'c-fork')).toEqual([{ mode: 'conn', protocol: 'echo', server: 'c-fork' }]);
    expect(plan.filter((p) => p.server === 'epoll-lt')).toHaveLength(4);
  });

  it('refuses a server it does not know', () => {
    expect(() => benchPlan(['nginx'], ['echo'], ['rt'])).toThrow(TypeError);
  });
});

describe('combineRounds', () => {
  it('takes the median of rates and sums the counts, so that a combined row still adds up', () => {
    const row = (perSec: number, sent: number, workers: number[]): BenchRow =>
      ({ mode: 'conn', protocol: 'echo', server: 'prefork', perSec, sent, answered: sent, drained: 0, accepted: sent, perWorkerAccepted: workers }) as BenchRow;
    const combined = combineRounds([row(10, 100, [60, 40]), row(30, 300, [140, 160]), row(20, 200, [100, 100])]);
    expect(combined).toMatchObject({ perSec: 20, sent: 600, answered: 600, accepted: 600, perWorkerAccepted: [300, 300] });
    expect(combineRounds([row(1, 1, [1]), { ...row(2, 2, [2]), error: 'boom' }]).error).toBe('boom');
  });
});

describe('epollkit bench --quick', () => {
  it('answers every request on every server and writes its results', () => {
    const run = spawnSync(
      process.execPath,
      [cli, 'bench', '--quick', '--models', 'epoll-lt,prefork,c-epoll', '--protocols', 'echo,session', '--out', out],
      { encoding: 'utf8', timeout: 50_000 },
    );
    expect(run.stderr).not.toMatch(/failed:/);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/\| echo \| prefork \|/);

    const result = JSON.parse(readFileSync(path.join(out, 'bench.json'), 'utf8')) as BenchResult & { figures: { prefork?: object } };
    expect(result.rows.map((r) => `${r.mode} ${r.protocol} ${r.server}`).sort()).toEqual(
      benchPlan(['epoll-lt', 'prefork', 'c-epoll'], ['echo', 'session'], ['rt', 'conn']).map((p) => `${p.mode} ${p.protocol} ${p.server}`).sort(),
    );
    for (const r of result.rows) {
      const where = `${r.mode} ${r.protocol} ${r.server}`;
      expect(r.error, where).toBeUndefined();
      // Every request sent was answered, right, by the deadline or while draining after it.
      expect({ where, wrong: r.wrong, lost: r.lost, unanswered: r.unanswered, errors: r.errors }).toEqual({ where, wrong: 0, lost: 0, unanswered: 0, errors: 0 });
      expect(r.answered, where).toBeGreaterThan(0);
      expect(r.answered + r.drained, where).toBe(r.sent);
      // Round trips keep their connections; in conn mode each request had a connection of its own.
      expect(r.connects, where).toBe(r.mode === 'rt' ? r.connections : r.sent);
      expect(r.cpuMs, where).toBeGreaterThanOrEqual(0);
      expect(r.pssKb, where).toBeGreaterThan(0);
      // The servers that can say how many connections they accepted agree with the client.
      if (r.server !== 'c-epoll') expect(r.accepted, where).toBe(r.connects);
      if (r.server === 'prefork') {
        expect(r.perWorkerAccepted, where).toHaveLength(2);
        expect(r.perWorkerAccepted!.reduce((a, b) => a + b, 0), where).toBe(r.accepted);
      }
    }
    expect(result.figures.prefork).toBeDefined();

    expect(readFileSync(path.join(out, 'bench.md'), 'utf8')).toMatch(/\| protocol \| server \|/);
    for (const svg of ['round-trips.svg', 'cpu-per-round-trip.svg', 'connections.svg']) {
      expect(readFileSync(path.join(out, svg), 'utf8')).toMatch(/^<svg[^>]*>[\s\S]*<\/svg>\s*$/);
    }
  });
});
