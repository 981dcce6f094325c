/**
 * `epollkit lab herd`: prefork workers (processes, see herd-worker.ts) blocked in epoll_wait on one port,
 * and one connection at a time, each arriving when every worker is asleep. How many workers does a
 * connection wake — with one plain shared listener, with EPOLLEXCLUSIVE, with one SO_REUSEPORT listener
 * per worker — and how are the accepts spread?
 * @module
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { packageRoot } from '../binding';
import { Listener } from '../loop/listener';
import type { Counters } from '../sys/counters';
import * as sys from '../sys/socket';
import { groupedBarChart } from './chart';
import { ControlledProcess } from './control';
import type { HerdMode, HerdWorkerReport } from './herd-worker';
import { markdownTable, num, type LabProgress, type LabReport } from './report';
import { compareAll, straceArgv, straceMarkdown, type StraceRow } from './strace';

export const HERD_MODES: readonly HerdMode[] = ['shared', 'exclusive', 'reuseport'];
const LABELS: Record<HerdMode, string> = {
  shared: 'one shared listener',
  exclusive: 'shared, EPOLLEXCLUSIVE',
  reuseport: 'SO_REUSEPORT, one each',
};
const SHORT: Record<HerdMode, string> = { shared: 'shared', exclusive: 'EPOLLEXCLUSIVE', reuseport: 'SO_REUSEPORT' };

/** Options of {@link runHerd}. */
export interface HerdOptions {
  /** Worker processes (default 4). */
  workers?: number;
  /** Connections per mode, made one at a time (default 200; quick 30). */
  connections?: number;
  modes?: HerdMode[];
  /** Also run 10 connections per mode with every worker under strace, and compare (default false). */
  verifyStrace?: boolean;
  quick?: boolean;
  progress?: LabProgress;
}

/** One mode's figures. */
export interface HerdRow {
  mode: HerdMode;
  connections: number;
  /** Per connection, summed over workers: kernel wakeups (sleeps ended), epoll_wait returns with the listener, accept4 calls. */
  wokenPerConnection: number;
  returnsPerConnection: number;
  accept4PerConnection: number;
  acceptsPerWorker: number[];
  workers: HerdWorkerReport[];
}

export interface HerdResults {
  options: Required<Omit<HerdOptions, 'progress' | 'quick' | 'verifyStrace'>>;
  rows: HerdRow[];
  /** With `verifyStrace`: per mode, the workers' counters (summed) beside their traces. */
  strace?: { mode: HerdMode; rows: StraceRow[] }[];
}

/** True when the main thread of every pid is asleep (state S: here, blocked in epoll_wait). */
function asleep(pids: number[]): boolean {
  return pids.every((pid) => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'S';
  });
}

async function untilAsleep(pids: number[], timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!asleep(pids) && Date.now() < deadline) await sleep(1);
}

/** Connects, and resolves when the server has accepted and closed the connection. */
function connectOnce(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', reject);
    socket.on('close', () => resolve());
    socket.resume();
  });
}

/** A bound, not listening, SO_REUSEPORT socket: reserves a port that the workers' listeners then share. */
function reservePort(): number {
  const fd = sys.socket(sys.AF_INET, sys.SOCK_STREAM | sys.SOCK_NONBLOCK);
  try {
    sys.setsockopt(fd, sys.SOL_SOCKET, sys.SO_REUSEADDR, 1);
    sys.setsockopt(fd, sys.SOL_SOCKET, sys.SO_REUSEPORT, 1);
    sys.bind(fd, '127.0.0.1', 0);
    return fd;
  } catch (error) {
    sys.close(fd);
    throw error;
  }
}

/**
 * One mode: start the workers (each under strace into `traceDir`, if given), connect one at a time, collect
 * the reports; traced workers then report their whole life's counters, compared with their traces.
 */
async function runMode(mode: HerdMode, o: HerdResults['options'], step: (what: string) => void, traceDir?: string): Promise<{ row: HerdRow; strace?: StraceRow[] }> {
  const script = path.join(packageRoot, 'dist', 'lab', 'herd-worker.js');
  const trace = (i: number): string[] => (traceDir ? straceArgv(path.join(traceDir, `${mode}-${i}`)) : []);
  const fd = mode === 'reuseport' ? reservePort() : Listener.open({ host: '127.0.0.1', port: 0 });
  const port = sys.getsockname(fd).port!;
  const workers: ControlledProcess[] = [];
  try {
    for (let i = 0; i < o.workers; i++) {
      workers.push(await ControlledProcess.start([...trace(i), process.execPath, script, mode, String(port)], mode === 'reuseport' ? [] : [fd]));
    }
    sys.close(fd); // the workers hold the listener (or their own): the parent's copy would only keep it alive
    const pids = workers.map((w) => w.pid);
    await untilAsleep(pids);
    await Promise.all(workers.map((w) => w.command('r')));
    await untilAsleep(pids);
    for (let i = 0; i < o.connections; i++) {
      if (i % 10 === 0) step(`${LABELS[mode]}: connection ${i + 1} of ${o.connections}`);
      await connectOnce(port);
      await untilAsleep(pids);
    }
    const reports = await Promise.all(workers.map((w) => w.command<HerdWorkerReport>('s')));
    const sum = (f: (r: HerdWorkerReport) => number): number => reports.reduce((s, r) => s + f(r), 0) / o.connections;
    const row: HerdRow = {
      mode,
      connections: o.connections,
      wokenPerConnection: sum((r) => r.sleeps),
      returnsPerConnection: sum((r) => r.listenerWakeups),
      accept4PerConnection: sum((r) => r.accept4),
      acceptsPerWorker: reports.map((r) => r.accepted),
      workers: reports,
    };
    if (!traceDir) return { row };
    const lives = await Promise.all(workers.map((w) => w.command<{ pid: number; counters: Counters }>('f')));
    await Promise.all(workers.map((w) => w.exited()));
    return { row, strace: compareAll(lives.map((l, i) => ({ ...l, file: path.join(traceDir, `${mode}-${i}`) }))) };
  } finally {
    if (workers.length < o.workers) sys.close(fd);
    await Promise.all(workers.map((w) => w.stop('q')));
  }
}

/**
 * Runs the lab and returns its report.
 * @example
 * const { markdown } = await runHerd({ quick: true });
 */
export async function runHerd(options: HerdOptions = {}): Promise<LabReport<HerdResults>> {
  const o: HerdResults['options'] = {
    workers: options.workers ?? 4,
    connections: options.connections ?? (options.quick ? 30 : 200),
    modes: options.modes ?? [...HERD_MODES],
  };
  const steps = Math.ceil(o.connections / 10);
  const total = o.modes.length * (steps + (options.verifyStrace ? 1 : 0));
  let done = 0;
  const step = (what: string): void => options.progress?.(done++, total, what);
  const results: HerdResults = { options: o, rows: [] };
  for (const mode of o.modes) results.rows.push((await runMode(mode, o, step)).row);
  if (options.verifyStrace) {
    // A short run of its own: strace slows the workers, and the figures above are not to be traced.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'epollkit-strace-'));
    try {
      results.strace = [];
      for (const mode of o.modes) {
        const traced = await runMode(mode, { ...o, connections: Math.min(o.connections, 10) }, () => {}, dir);
        step(`strace: ${LABELS[mode]}`);
        results.strace.push({ mode, rows: traced.strace! });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  options.progress?.(total, total, 'done');
  return { lab: 'herd', markdown: herdMarkdown(results), results, charts: await herdCharts(results) };
}

/** Per-connection wakeups by mode, and accepts per worker. */
export async function herdCharts(results: HerdResults): Promise<Record<string, string>> {
  const measures: [string, (r: HerdRow) => number][] = [
    ['workers woken', (r) => r.wokenPerConnection],
    ['epoll_wait returns', (r) => r.returnsPerConnection],
    ['accept4 calls', (r) => r.accept4PerConnection],
  ];
  const perConnection = results.rows.flatMap((r) => measures.map(([measure, f]) => ({ measure, listener: SHORT[r.mode], perConnection: f(r) })));
  const spread = results.rows.flatMap((r) => r.acceptsPerWorker.map((accepts, i) => ({ worker: `worker ${i + 1}`, listener: SHORT[r.mode], accepts })));
  return {
    'herd.svg': await groupedBarChart({
      title: `${results.options.workers} workers blocked in epoll_wait: per connection`,
      rows: perConnection, x: 'measure', series: 'listener', y: 'perConnection', yTitle: 'per accepted connection',
    }),
    'herd-accepts.svg': await groupedBarChart({
      title: `accepts per worker (${results.options.connections} connections)`,
      rows: spread, x: 'worker', series: 'listener', y: 'accepts',
    }),
  };
}

/** The lab's Markdown. */
export function herdMarkdown(results: HerdResults): string {
  const o = results.options;
  const table = markdownTable(
    ['listener', 'workers woken', 'epoll_wait returns', 'accept4 calls', 'accepts per worker'],
    results.rows.map((r) => [LABELS[r.mode], num(r.wokenPerConnection), num(r.returnsPerConnection), num(r.accept4PerConnection), r.acceptsPerWorker.join(' / ')]),
  );
  return [
    `### The thundering herd: ${o.workers} prefork workers in epoll_wait (level-triggered), ${o.connections} connections one at a time; figures per connection`,
    '',
    table,
    '',
    '"Workers woken" counts the kernel waking a worker (its voluntary context switches); "epoll_wait returns"',
    'counts the wakeups the program saw. With one shared listener every worker\'s epoll instance waits on the',
    'listening socket, so each connection wakes them all; the kernel re-checks readiness before returning, so',
    'most sleep again unseen, and the few that return race for one accept4 and lose with EAGAIN. EPOLLEXCLUSIVE',
    'wakes one: the first exclusive waiter in the listener\'s queue that is blocked in epoll_wait, so with one',
    'connection at a time it is always the same worker (a busy one passes the wakeup on). SO_REUSEPORT gives',
    'every worker its own accept queue and the kernel hashes each connection to one of them: one wakeup too, and',
    'an even spread, but by hash, not by which worker is idle.',
    ...(results.strace
      ? ['', '### Counters beside `strace -f` (every worker\'s main thread, whole lives, summed; 10 connections)', '',
          straceMarkdown(results.strace.map((s) => ({ label: SHORT[s.mode], rows: s.rows })))]
      : []),
  ].join('\n');
}
