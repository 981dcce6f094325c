/**
 * What `epollkit bench` makes of its rows: the figures issue 6 asks for (ForkingServer against the C fork
 * server and the rate Node's fork cost allows; PreforkServer's CPU per request against one epoll LT
 * reactor and its accept balance), Markdown tables, grouped bar charts, and the results folder.
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { BenchMode, BenchResult, BenchRow, ForkCost } from './bench';
import { groupedBarChart } from './chart';
import { httpTable, writeHttpResults } from './http-bench';

/** The issue-6 figures, where the rows allow them. */
export interface BenchFigures {
  forking?: {
    connPerSec: number;
    cForkConnPerSec?: number;
    /** The most connections/s that Node's fork cost allows the parent: 1e6 / (parent CPU µs per fork). */
    forkAllowedConnPerSec?: number;
    forkCost?: ForkCost;
    /**
     * ForkingServer's conn/s ÷ the rate fork allows (the goal: ≥ 0.8). Pinned to one core, its children
     * share the parent's core, so this measures the whole tree; `parentBoundRatio` is the parent's own
     * ceiling (1e6 / its CPU µs per connection) ÷ the same rate: what it would reach with the children elsewhere.
     */
    ratioToForkAllowed?: number;
    parentBoundRatio?: number;
    ratioToC?: number;
    /** The parent's own CPU per connection (the part that fork and accept cost it), and the whole tree's. */
    parentCpuUsPerConn: number;
    cpuUsPerConn: number;
    /** The parent's own memory is what each fork copies; the tree's PSS is what the children add. */
    pssKb: number;
  };
  prefork?: {
    workers: number;
    /** CPU per connection (conn mode) and per round trip (rt mode), prefork ÷ epoll-lt, echo (the goal: ≤ 1.25). */
    cpuPerConnRatio?: number;
    cpuPerRoundTripRatio?: number;
    /** Connections each worker accepted in the conn-mode run, and (max − min) / mean (the goal: ≤ 0.2). */
    acceptsPerWorker?: number[];
    acceptSpread?: number;
    /** The same for the rt-mode run's kept connections. */
    rtAcceptsPerWorker?: number[];
    rtAcceptSpread?: number;
  };
}

function find(rows: BenchRow[], server: string, mode: BenchMode, protocol = 'echo'): BenchRow | undefined {
  return rows.find((r) => r.server === server && r.mode === mode && r.protocol === protocol && !r.error);
}

function spread(counts: number[] | undefined): number | undefined {
  if (!counts || counts.length < 2) return undefined;
  const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
  return mean ? (Math.max(...counts) - Math.min(...counts)) / mean : undefined;
}

const ratio = (a: number | undefined, b: number | undefined): number | undefined => (a !== undefined && b ? a / b : undefined);

/** Derives the issue-6 figures from a result. */
export function benchFigures(result: BenchResult): BenchFigures {
  const { rows, forkCost } = result;
  const figures: BenchFigures = {};
  const forking = find(rows, 'forking', 'conn');
  if (forking) {
    const allowed = forkCost ? 1e6 / forkCost.parentCpuUs : undefined;
    const cFork = find(rows, 'c-fork', 'conn')?.perSec;
    figures.forking = {
      connPerSec: forking.perSec,
      cForkConnPerSec: cFork,
      forkAllowedConnPerSec: allowed,
      forkCost,
      ratioToForkAllowed: ratio(forking.perSec, allowed),
      parentBoundRatio: forkCost && forking.selfCpuMs > 0 ? forkCost.parentCpuUs / ((forking.selfCpuMs * 1000) / (forking.answered + forking.drained)) : undefined,
      ratioToC: ratio(forking.perSec, cFork),
      parentCpuUsPerConn: (forking.selfCpuMs * 1000) / Math.max(1, forking.answered + forking.drained),
      cpuUsPerConn: forking.cpuUsPerRequest,
      pssKb: forking.pssKb,
    };
  }
  const preConn = find(rows, 'prefork', 'conn');
  const preRt = find(rows, 'prefork', 'rt');
  if (preConn || preRt) {
    figures.prefork = {
      workers: result.options.workers,
      cpuPerConnRatio: ratio(preConn?.cpuUsPerRequest, find(rows, 'epoll-lt', 'conn')?.cpuUsPerRequest),
      cpuPerRoundTripRatio: ratio(preRt?.cpuUsPerRequest, find(rows, 'epoll-lt', 'rt')?.cpuUsPerRequest),
      acceptsPerWorker: preConn?.perWorkerAccepted,
      acceptSpread: spread(preConn?.perWorkerAccepted),
      rtAcceptsPerWorker: preRt?.perWorkerAccepted,
      rtAcceptSpread: spread(preRt?.perWorkerAccepted),
    };
  }
  return figures;
}

const int = (n: number): string => Math.round(n).toLocaleString('en');
const fixed = (n: number | undefined, digits = 2): string => (n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(digits));

/** One Markdown table per mode, servers grouped by protocol, with ratios to the C server of the same run. */
export function benchTable(result: BenchResult): string {
  const out: string[] = [];
  for (const mode of result.options.modes) {
    const rows = result.rows.filter((r) => r.mode === mode);
    if (rows.length === 0) continue;
    const unit = mode === 'rt' ? 'round trips/s' : 'connections/s';
    out.push(
      `### ${mode === 'rt' ? 'Round trips on kept connections' : 'Connections: connect, one request, close'}`,
      '',
      `| protocol | server | conns | ${unit} | p50 µs | p99 µs | server CPU | CPU µs/req | PSS MiB | ÷ C rate | ÷ C CPU/req | answered/sent |`,
      '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    );
    for (const r of rows) {
      if (r.error) {
        out.push(`| ${r.protocol} | ${r.server} | ${r.connections} | failed: ${r.error.replace(/[|\n]/g, ' ').slice(0, 120)} |||||||||`);
        continue;
      }
      const c = rows.find((x) => x.server === 'c-epoll' && x.protocol === r.protocol && !x.error);
      const answered = r.answered + r.drained;
      const flags = [r.wrong && `${r.wrong} wrong`, r.lost && `${r.lost} lost`, r.unanswered && `${r.unanswered} unanswered`].filter(Boolean).join(', ');
      out.push(
        `| ${r.protocol} | ${r.server} | ${r.connections} | ${int(r.perSec)} | ${Math.round(r.p50Us)} | ${Math.round(r.p99Us)} | ${(100 * r.cpuShare).toFixed(0)}% | ` +
          `${fixed(r.cpuUsPerRequest, 1)} | ${(r.pssKb / 1024).toFixed(1)} | ${fixed(ratio(r.perSec, c?.perSec))} | ` +
          `${fixed(ratio(r.cpuUsPerRequest, c?.cpuUsPerRequest))} | ${answered === r.sent ? 'all' : `${answered}/${r.sent}`}${flags ? ` (${flags})` : ''} |`,
      );
    }
    out.push('');
  }
  return out.join('\n');
}

/** The issue-6 figures as Markdown lines. */
export function figuresMarkdown(figures: BenchFigures): string {
  const lines: string[] = [];
  const f = figures.forking;
  if (f) {
    lines.push(
      `- **ForkingServer**: ${int(f.connPerSec)} connections/s; C fork server ${f.cForkConnPerSec ? int(f.cForkConnPerSec) : '–'} (ratio ${fixed(f.ratioToC)}); ` +
        `Node's fork cost${f.forkCost ? ` (${f.forkCost.parentCpuUs.toFixed(0)} µs of parent CPU per fork at ${(f.forkCost.rssKb / 1024).toFixed(0)} MiB RSS; the child's exit ${f.forkCost.childCpuUs.toFixed(0)} µs more)` : ''} ` +
        `allows ${f.forkAllowedConnPerSec ? int(f.forkAllowedConnPerSec) : '–'}/s: ratio ${fixed(f.ratioToForkAllowed)} (goal ≥ 0.8) with the children on the parent's core. ` +
        `ForkingServer's parent spent ${f.parentCpuUsPerConn.toFixed(0)} µs of CPU per connection (its own ceiling ÷ the fork rate: ${fixed(f.parentBoundRatio)}), ` +
        `the whole tree ${f.cpuUsPerConn.toFixed(0)} µs.`,
    );
  }
  const p = figures.prefork;
  if (p) {
    lines.push(
      `- **PreforkServer (${p.workers} workers) ÷ one EpollLtServer**, echo: CPU per connection ${fixed(p.cpuPerConnRatio)}, ` +
        `CPU per round trip ${fixed(p.cpuPerRoundTripRatio)} (goal ≤ 1.25). Accepts per worker: ${p.acceptsPerWorker?.join(' / ') ?? '–'} ` +
        `(spread ${fixed(p.acceptSpread)}, goal ≤ 0.20); kept connections per worker in the round-trip run: ${p.rtAcceptsPerWorker?.join(' / ') ?? '–'} (spread ${fixed(p.rtAcceptSpread)}).`,
    );
  }
  return lines.join('\n');
}

/** The whole report: machine, placement, tables, figures. */
export function benchMarkdown(result: BenchResult): string {
  const m = result.machine;
  const head = [
    `## epollkit bench — ${result.date}`,
    '',
    `${m.cpus} × ${m.model}, Linux ${m.kernel}, Node ${m.node}. ` +
      (result.pinned ? `Server pinned to core ${result.options.serverCpu}, load to core ${result.options.loadCpu} (taskset). ` : 'Not pinned (no taskset or one core). ') +
      `${result.options.seconds} s per run after a warm-up; echo messages of ${result.options.messageBytes} B. ` +
      'Server CPU is its whole process tree (forked children and prefork workers included); compare CPU per request, as the load generator shares the machine. ' +
      "PSS: the tree's memory with pages shared after fork divided among the sharers (bench.json has the RSS sums too), sampled mid-run.",
    '',
  ];
  const figures = figuresMarkdown(benchFigures(result));
  const http = result.http ? ['### HTTP/1.1 static keep-alive (wrk; `epollkit bench http`)', '', httpTable(result.http), ''] : [];
  return [...head, benchTable(result), ...http, ...(figures ? ['### Figures', '', figures, ''] : [])].join('\n');
}

/** Writes bench.json, bench.md and the charts into `dir`; returns the paths written. */
export async function writeBenchResults(result: BenchResult, dir: string): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const write = (name: string, text: string): void => {
    const file = path.join(dir, name);
    writeFileSync(file, text);
    files.push(file);
  };
  write('bench.json', `${JSON.stringify({ ...result, figures: benchFigures(result) }, null, 2)}\n`);
  write('bench.md', benchMarkdown(result));
  const ok = result.rows.filter((r) => !r.error);
  const charts: { name: string; mode: BenchMode; title: string; y: keyof BenchRow; yTitle: string }[] = [
    { name: 'round-trips.svg', mode: 'rt', title: 'Round trips/s on kept connections', y: 'perSec', yTitle: 'round trips/s' },
    { name: 'cpu-per-round-trip.svg', mode: 'rt', title: 'Server CPU per round trip', y: 'cpuUsPerRequest', yTitle: 'µs of server CPU' },
    { name: 'connections.svg', mode: 'conn', title: 'Connections/s (connect, one request, close)', y: 'perSec', yTitle: 'connections/s' },
  ];
  for (const chart of charts) {
    const rows = ok.filter((r) => r.mode === chart.mode).map((r) => ({ protocol: r.protocol, server: r.server, [chart.y]: Number(r[chart.y]) }));
    if (rows.length === 0) continue;
    write(chart.name, await groupedBarChart({ title: chart.title, rows, x: 'protocol', series: 'server', y: chart.y, yTitle: chart.yTitle }));
  }
  if (result.http) files.push(...(await writeHttpResults(result.http, dir, { seconds: result.options.seconds, rounds: 1 })));
  return files;
}

