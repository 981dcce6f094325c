/**
 * `epollkit lab scaling`: what one wait costs against the number of registered fds that are idle, with K
 * fds always ready, for select(2), poll(2) and epoll(7) — and what registering and deregistering an fd
 * costs. Measured in this thread through the lib/loop selectors (what a server on them pays), on UDP
 * sockets: the idle ones have nothing queued, the K active ones hold one datagram each that is never read,
 * so every level-triggered wait reports exactly K. select is refused fds ≥ FD_SETSIZE (1024), which the
 * lab shows by trying.
 * @module
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { packageRoot } from '../binding';
import { EpollSelector } from '../loop/epoll-selector';
import { PollSelector } from '../loop/poll-selector';
import { SelectSelector } from '../loop/select-selector';
import { Interest, type Selector } from '../loop/selector';
import { readCounters, type Counters } from '../sys/counters';
import { FD_SETSIZE } from '../sys/select';
import * as sys from '../sys/socket';
import { lineChart } from './chart';
import { markdownTable, num, type LabProgress, type LabReport } from './report';
import { compareAll, straceArgv, straceMarkdown, type StraceRow } from './strace';
import { median } from './tools';

export const SCALING_BACKENDS = ['select', 'poll', 'epoll'] as const;
export type ScalingBackend = (typeof SCALING_BACKENDS)[number];

/** Options of {@link runScaling}. */
export interface ScalingOptions {
  /** Idle fd counts (default 10, 30, 100, 300, 1000, 3000, 10000; quick 10, 100, 1000, 10000). */
  sizes?: number[];
  /** Always-ready fds (default 10). */
  active?: number;
  backends?: ScalingBackend[];
  /** Each timing sample lasts at least this long (default 30 ms; quick 3) and there are `samples` (default 5; quick 3). */
  minSampleMs?: number;
  samples?: number;
  /** Also run a small sample in a child process under strace and compare (default false). */
  verifyStrace?: boolean;
  quick?: boolean;
  progress?: LabProgress;
}

/** One backend at one size. */
export interface ScalingRow {
  backend: ScalingBackend;
  idle: number;
  active: number;
  /** Set when the backend refused the fds (select beyond FD_SETSIZE): the error's code. */
  refused?: string;
  /** Median cost of one wait (timeout 0), in microseconds. */
  waitUs?: number;
  /** Cost per fd of register and of unregister, in microseconds. */
  registerUs?: number;
  unregisterUs?: number;
  /** From the counters: syscalls per wait, and (epoll) events per wait. */
  callsPerWait?: number;
  eventsPerWait?: number;
  /** Waits that did not return exactly `active` keys (0 when all is well). */
  wrongReadyCounts?: number;
}

export interface ScalingResults {
  options: Required<Omit<ScalingOptions, 'progress' | 'quick' | 'verifyStrace'>>;
  rows: ScalingRow[];
  /** With `verifyStrace`: a sample's counters beside its trace. */
  strace?: StraceRow[];
}

function selectorOf(backend: ScalingBackend): Selector<null> {
  return backend === 'epoll' ? new EpollSelector<null>() : backend === 'poll' ? new PollSelector<null>() : new SelectSelector<null>();
}

/** Milliseconds of `fn` run `times` times. */
function time(times: number, fn: () => void): number {
  const t0 = performance.now();
  for (let i = 0; i < times; i++) fn();
  return performance.now() - t0;
}

function measure(backend: ScalingBackend, fds: number[], active: number, o: ScalingResults['options']): ScalingRow {
  const idle = fds.length - active;
  const row: ScalingRow = { backend, idle, active };
  // Register and unregister as many times as it takes to last a sample, to see below a microsecond.
  const cycles = Math.max(1, Math.ceil(2000 / fds.length));
  let registerMs = 0;
  let unregisterMs = 0;
  for (let c = 0; c < cycles; c++) {
    const selector = selectorOf(backend);
    try {
      registerMs += time(1, () => fds.forEach((fd) => selector.register(fd, Interest.READABLE, null)));
      unregisterMs += time(1, () => fds.forEach((fd) => selector.unregister(fd)));
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code !== 'ERR_EPOLLKIT_FD_SETSIZE') throw error;
      return { ...row, refused: code };
    } finally {
      selector.close();
    }
  }
  row.registerUs = (1000 * registerMs) / (cycles * fds.length);
  row.unregisterUs = (1000 * unregisterMs) / (cycles * fds.length);

  const selector = selectorOf(backend);
  try {
    for (const fd of fds) selector.register(fd, Interest.READABLE, null);
    let wrong = 0;
    const wait = (): void => {
      if (selector.select(0).length !== active) wrong++;
    };
    let times = 1;
    while (time(times, wait) < o.minSampleMs) times *= 2;
    wrong = 0;
    // Deltas, not a reset: the caller's counters (and a traced sample's whole-life total) stay intact.
    const c0 = readCounters();
    const samples = Array.from({ length: o.samples }, () => (1000 * time(times, wait)) / times);
    const c1 = readCounters();
    const c = { epollWait: c1.epollWait - c0.epollWait, poll: c1.poll - c0.poll, select: c1.select - c0.select, epollEvents: c1.epollEvents - c0.epollEvents };
    const waits = times * o.samples;
    row.waitUs = median(samples);
    row.callsPerWait = (c.epollWait + c.poll + c.select) / waits;
    row.eventsPerWait = backend === 'epoll' ? c.epollEvents / waits : undefined;
    row.wrongReadyCounts = wrong;
  } finally {
    selector.close();
  }
  return row;
}

/** Opens `idle` + `active` UDP sockets, the active ones first (lowest fds) each holding one datagram. */
function openSockets(idle: number, active: number): number[] {
  const fds: number[] = [];
  try {
    const sender = sys.socket(sys.AF_INET, sys.SOCK_DGRAM | sys.SOCK_NONBLOCK);
    fds.push(sender);
    for (let i = 0; i < active + idle; i++) fds.push(sys.socket(sys.AF_INET, sys.SOCK_DGRAM | sys.SOCK_NONBLOCK));
    const datagram = Buffer.from('ready');
    for (const fd of fds.slice(1, 1 + active)) {
      sys.bind(fd, '127.0.0.1', 0);
      const n = sys.sendto(sender, datagram, 0, datagram.length, '127.0.0.1', sys.getsockname(fd).port!);
      if (n !== datagram.length) throw new Error(`sendto to an active socket returned ${n}`);
    }
    sys.close(fds.shift()!);
    return fds;
  } catch (error) {
    for (const fd of fds) sys.close(fd);
    throw error;
  }
}

function defaults(options: ScalingOptions): ScalingResults['options'] {
  const q = options.quick === true;
  return {
    sizes: options.sizes ?? (q ? [10, 100, 1000, 10000] : [10, 30, 100, 300, 1000, 3000, 10000]),
    active: options.active ?? 10,
    backends: options.backends ?? [...SCALING_BACKENDS],
    minSampleMs: options.minSampleMs ?? (q ? 3 : 30),
    samples: options.samples ?? (q ? 3 : 5),
  };
}

/**
 * Runs the lab in this thread (it opens up to max(sizes) + active sockets) and returns its report.
 * @example
 * const { markdown } = await runScaling({ quick: true });
 */
export async function runScaling(options: ScalingOptions = {}): Promise<LabReport<ScalingResults>> {
  const o = defaults(options);
  const sizes = [...o.sizes].sort((a, b) => a - b);
  const fds = openSockets(sizes[sizes.length - 1], o.active);
  const rows: ScalingRow[] = [];
  try {
    // select's last measurable size: every fd it is given below FD_SETSIZE (the active ones come first).
    const selectMax = fds.filter((fd) => fd < FD_SETSIZE).length - o.active;
    const plan = o.backends.flatMap((backend): [ScalingBackend, number][] => {
      if (backend !== 'select') return sizes.map((n) => [backend, n]);
      const fit = sizes.filter((n) => n <= selectMax);
      const over = sizes.filter((n) => n > selectMax);
      if (over.length > 0 && selectMax > (fit[fit.length - 1] ?? 0)) fit.push(selectMax);
      return [...fit, ...over.slice(0, 1)].map((n) => [backend, n]);
    });
    // A throwaway pass per backend first, so that the smallest size is not the one paying for the JIT.
    for (const backend of o.backends) measure(backend, fds.slice(0, o.active + sizes[0]), o.active, { ...o, samples: 1, minSampleMs: 1 });
    for (const [i, [backend, n]] of plan.entries()) {
      options.progress?.(i, plan.length, `${backend}, ${n} idle fds`);
      rows.push(measure(backend, fds.slice(0, o.active + n), o.active, o));
      await new Promise((resolve) => setImmediate(resolve)); // let a progress bar draw
    }
    options.progress?.(plan.length, plan.length, 'done');
  } finally {
    for (const fd of fds) sys.close(fd);
  }
  const results: ScalingResults = { options: o, rows };
  if (options.verifyStrace) results.strace = await verifyWithStrace(o.active);
  return { lab: 'scaling', markdown: scalingMarkdown(results), results, charts: await scalingCharts(results) };
}

/**
 * The traced sample of `verifyStrace`, run in a child process under strace: every backend at 10 and 100
 * idle fds (register, waits, unregister), then one JSON line with this thread's counters of its whole life.
 */
function traceSample(active: number): void {
  const fds = openSockets(100, active);
  try {
    const o = { sizes: [], active, backends: [], minSampleMs: 1, samples: 2 };
    for (const backend of SCALING_BACKENDS) for (const n of [10, 100]) measure(backend, fds.slice(0, active + n), active, o);
  } finally {
    for (const fd of fds) sys.close(fd);
  }
  process.stdout.write(`${JSON.stringify({ pid: process.pid, counters: readCounters() })}\n`);
}

/** Runs {@link traceSample} under strace and compares. */
async function verifyWithStrace(active: number): Promise<StraceRow[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'epollkit-strace-'));
  const file = path.join(dir, 'trace');
  try {
    const argv = [...straceArgv(file), process.execPath, path.join(packageRoot, 'dist', 'lab', 'scaling.js'), String(active)];
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const code = await new Promise((resolve) => child.once('close', resolve));
    if (code !== 0) throw new Error(`the traced scaling sample failed (${code})`);
    const { pid, counters } = JSON.parse(out) as { pid: number; counters: Counters };
    return compareAll([{ counters, file, pid }]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Two log-log charts: the cost of one wait, and of registering and deregistering one fd. */
export async function scalingCharts(results: ScalingResults): Promise<Record<string, string>> {
  const measured = results.rows.filter((r) => !r.refused);
  const waits = measured.map((r) => ({ backend: r.backend, fds: r.idle, us: r.waitUs! }));
  const registers = measured.flatMap((r) => [
    { op: `${r.backend} register`, fds: r.idle + r.active, us: r.registerUs! },
    { op: `${r.backend} unregister`, fds: r.idle + r.active, us: r.unregisterUs! },
  ]);
  return {
    'scaling-wait.svg': await lineChart({
      title: `one wait (timeout 0) with ${results.options.active} ready fds`,
      rows: waits, x: 'fds', y: 'us', series: 'backend', logX: true, logY: true,
      xTitle: 'idle fds registered', yTitle: 'µs per wait',
    }),
    'scaling-register.svg': await lineChart({
      title: 'register and unregister one fd',
      rows: registers, x: 'fds', y: 'us', series: 'op', logX: true, logY: true,
      xTitle: 'fds registered', yTitle: 'µs per fd',
    }),
  };
}

/** The lab's Markdown. */
export function scalingMarkdown(results: ScalingResults): string {
  const o = results.options;
  const sizes = [...new Set(results.rows.map((r) => r.idle))].sort((a, b) => a - b);
  const cell = (backend: ScalingBackend, n: number, f: (r: ScalingRow) => string): string => {
    const r = results.rows.find((x) => x.backend === backend && x.idle === n);
    return !r ? '' : r.refused ? `refused (${r.refused})` : f(r);
  };
  const wait = markdownTable(
    ['idle fds', ...o.backends.map((b) => `${b} µs/wait`)],
    sizes.map((n) => [n, ...o.backends.map((b) => cell(b, n, (r) => num(r.waitUs!, 2)))]),
  );
  const reg = markdownTable(
    ['idle fds', ...o.backends.map((b) => `${b} register / unregister µs`)],
    sizes.map((n) => [n, ...o.backends.map((b) => cell(b, n, (r) => `${num(r.registerUs!, 3)} / ${num(r.unregisterUs!, 3)}`))]),
  );
  return [
    `### The cost of one wait against idle registered fds (${o.active} always ready; timeout 0; median of ${o.samples} samples)`,
    '',
    wait,
    '',
    'select and poll hand the kernel the whole set on every call, and the kernel polls every fd in it: their',
    'cost grows with the idle fds. epoll keeps the set in the kernel and a ready list beside it: a wait costs',
    'the same with 10 or 10,000 idle fds. select also cannot hold an fd at or above FD_SETSIZE (1024).',
    '',
    '### Register and unregister, per fd',
    '',
    reg,
    '',
    'epoll pays here instead: one epoll_ctl per change. For poll and select it is bookkeeping in JavaScript.',
    ...(results.strace
      ? ['', '### Counters beside `strace -f` (a sample: each backend at 10 and 100 idle fds, in a process of its own)', '',
          straceMarkdown([{ label: 'sample', rows: results.strace }])]
      : []),
  ].join('\n');
}

if (require.main === module) traceSample(Number(process.argv[2] ?? 10));
