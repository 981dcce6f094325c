/**
 * `npm run bench:sys`: what recv, send, epollWait and a bare syscall cost through the addon, as a ratio
 * to the same loop written in C (bench/sys_loop.c, built here with the system `cc`), on socketpairs.
 *
 * Each round runs the C program twice (single-threaded, and with one idle thread as Node always has; each
 * run warms up, then times one pass per loop) and then the JS loops twice, with the addon's counters on
 * and off in alternating order, so that slow drift of a shared machine moves every side alike; every
 * figure is the median over the rounds, by CPU time unless asked otherwise. The counters-on passes also
 * record the counter deltas per iteration, which is how the table shows that `epollWait` returning 64
 * events is one crossing. Speed is never asserted here: the targets are printed next to the figures.
 * @module
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { errno } from '../errors';
import {
  AF_UNIX, COUNTER_NAMES, EPOLL_CTL_ADD, EPOLLIN, SOCK_NONBLOCK, SOCK_STREAM, close, epollCreate1, epollCtl,
  epollWait, getppid, readCountersInto, recv, send, setCountersEnabled, socketpair, type CounterName,
} from '../sys/index';
import { buildC, canPin, median } from './tools';

/** The loops, in table order (the C program's argument order). */
export const SYS_BENCH_OPS = ['ping', 'eagain', 'epoll64', 'epoll1', 'getppid'] as const;
export type SysBenchOp = (typeof SYS_BENCH_OPS)[number];

const LABELS: Record<SysBenchOp, string> = {
  ping: 'send 64 B + recv 64 B (socketpair ping)',
  eagain: 'recv on an empty socket (-EAGAIN)',
  epoll64: 'epollWait, 64 ready fds (LT)',
  epoll1: 'epollWait, 1 ready fd (LT)',
  getppid: 'getppid() (bare syscall)',
};

/** Iterations per timed pass, chosen so that each pass takes about 0.1-0.3 s on a 2-core guest. */
export const SYS_BENCH_ITERATIONS: Readonly<Record<SysBenchOp, number>> = {
  ping: 150_000, eagain: 300_000, epoll64: 30_000, epoll1: 300_000, getppid: 400_000,
};

/**
 * `cpu`: the process's CPU time, which other processes on a busy machine do not inflate (the default);
 * `wall`: the monotonic clock. Both are always recorded.
 */
export type SysBenchClock = 'cpu' | 'wall';

/**
 * The series timed for every loop: the C program single-threaded (`c`), the C program with one idle thread
 * (`cThreaded`: a multithreaded process pays for a file reference on every fd syscall, as Node always
 * does), and the addon with counters on and off.
 */
export type SysBenchSeries = 'c' | 'cThreaded' | 'addon' | 'addonCountersOff';
const SERIES: readonly SysBenchSeries[] = ['c', 'cThreaded', 'addon', 'addonCountersOff'];

export interface SysBenchOptions {
  /** Iterations per timed pass, per loop (default {@link SYS_BENCH_ITERATIONS} times `scale`). */
  iterations?: Partial<Record<SysBenchOp, number>>;
  /** Multiplies the default iteration counts (default 1). */
  scale?: number;
  /** Rounds; each figure is the median over them (default 7). */
  rounds?: number;
  /** Warm-up iterations of each JS loop, as a fraction of its timed pass, run 3 times (default 0.25). */
  warmupFraction?: number;
  /** The clock the row figures use (default `cpu`). */
  clock?: SysBenchClock;
  /** Pin this process (all its threads) and the C program to this CPU with taskset(1) during the run. */
  pin?: number | false;
  /** The C compiler (default `$CC`, else `cc`); bench/sys_loop.c is built once into the labs' cache. */
  cc?: string;
}

export interface SysBenchRow {
  op: SysBenchOp;
  label: string;
  iterations: number;
  /** Medians by the chosen clock, ns per iteration. */
  cNs: number;
  cThreadedNs: number;
  addonNs: number;
  addonNsCountersOff: number;
  /** addon / C (single-threaded), with counters on and off: the benchmark's figure of merit. */
  ratio: number;
  ratioCountersOff: number;
  /** addon (counters on) / C with an idle thread: the part of the ratio the addon itself can act on. */
  ratioToThreaded: number;
  /** Median over rounds of on / off - 1: what counting costs on this loop (noise included). */
  countersCost: number;
  /** Counter deltas per iteration in the counters-on passes (nonzero ones only): the crossings made. */
  perIteration: Partial<Record<CounterName, number>>;
  /** Medians and raw ns per iteration for both clocks. */
  medians: Record<SysBenchClock, Record<SysBenchSeries, number>>;
  samples: Record<SysBenchClock, Record<SysBenchSeries, number[]>>;
}

export interface SysBenchResult {
  date: string;
  node: string;
  kernel: string;
  cpu: string;
  cpus: number;
  /** The addon file this process loaded (a prebuild or build/Release). */
  addon: string;
  /** The CPU the run was pinned to, or null. */
  pinnedCpu: number | null;
  clock: SysBenchClock;
  rounds: number;
  /** /proc/loadavg's 1-minute figure before and after the run: above ~0.5 per CPU, distrust wall times. */
  loadavg: [number, number];
  cc: string;
  rows: SysBenchRow[];
}

const MSG = 64;
const READY = 64;
const EAGAIN = errno.EAGAIN;

function fail(what: string, got: number): never {
  throw new Error(`sys-bench: ${what} returned ${got}`);
}

// The JS loops: each the twin of its C loop, checking every result the same way.
function loopPing(n: number, a: number, b: number, out: Buffer, into: Buffer): void {
  for (let i = 0; i < n; i++) {
    const s = send(a, out, 0, MSG);
    if (s !== MSG) fail('send', s);
    const r = recv(b, into, 0, MSG);
    if (r !== MSG) fail('recv', r);
  }
}

function loopEagain(n: number, fd: number, into: Buffer): void {
  for (let i = 0; i < n; i++) {
    const r = recv(fd, into, 0, MSG);
    if (r !== -EAGAIN) fail('recv on an empty socket', r);
  }
}

let sink = 0;
function loopEpoll(n: number, epfd: number, events: Int32Array, expect: number): void {
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const got = epollWait(epfd, events, 0);
    if (got !== expect) fail('epollWait', got);
    for (let j = 0; j < got; j++) sum += events[2 * j];
  }
  sink += sum;
}

function loopGetppid(n: number): void {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += getppid();
  sink += sum;
}

interface Fixture {
  run: Record<SysBenchOp, (n: number) => void>;
  close(): void;
}

// Socketpairs and epoll instances for every loop; level-triggered fds stay readable (one byte, never read).
function makeFixture(): Fixture {
  const fds: number[] = [];
  const pair = (): [number, number] => {
    const p = socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK);
    fds.push(...p);
    return p;
  };
  const readyEpoll = (count: number): number => {
    const epfd = epollCreate1();
    fds.push(epfd);
    for (let i = 0; i < count; i++) {
      const [r, w] = pair();
      const sent = send(w, Buffer.from('x'));
      if (sent !== 1) fail('send', sent);
      epollCtl(epfd, EPOLL_CTL_ADD, r, EPOLLIN);
    }
    return epfd;
  };
  try {
    const [a, b] = pair();
    const [empty] = pair();
    const ep64 = readyEpoll(READY);
    const ep1 = readyEpoll(1);
    const out = Buffer.alloc(MSG, 1);
    const into = Buffer.alloc(MSG);
    const events = new Int32Array(2 * READY);
    return {
      run: {
        ping: (n) => loopPing(n, a, b, out, into),
        eagain: (n) => loopEagain(n, empty, into),
        epoll64: (n) => loopEpoll(n, ep64, events, READY),
        epoll1: (n) => loopEpoll(n, ep1, events, 1),
        getppid: (n) => loopGetppid(n),
      },
      close: () => fds.splice(0).forEach((fd) => close(fd)),
    };
  } catch (err) {
    fds.splice(0).forEach((fd) => close(fd));
    throw err;
  }
}

type Timing = Record<SysBenchClock, number>;

// One timed pass of the C program per loop (after its own warm-up); ns/op by loop and clock.
function runC(exe: string, iterations: Record<SysBenchOp, number>, idleThreads: number): Record<SysBenchOp, Timing> {
  const args = [...SYS_BENCH_OPS.map((op) => String(iterations[op])), '1', '10', String(idleThreads)];
  const child = spawnSync(exe, args, { encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`sys-bench: ${exe} failed (${child.status}): ${child.stderr}`);
  const parsed = JSON.parse(child.stdout) as Record<SysBenchClock, Record<SysBenchOp, number[]>>;
  return Object.fromEntries(
    SYS_BENCH_OPS.map((op) => [op, { cpu: parsed.cpu[op][0], wall: parsed.wall[op][0] }]),
  ) as Record<SysBenchOp, Timing>;
}

// ns per iteration of fn(n) by both clocks. process.cpuUsage() counts every thread of the process, but
// the loops allocate nothing, so Node's helper threads stay asleep while they run.
function time(fn: (n: number) => void, n: number): Timing {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  fn(n);
  const wall = Number(process.hrtime.bigint() - t0);
  const c = process.cpuUsage(c0);
  return { cpu: ((c.user + c.system) * 1000) / n, wall: wall / n };
}

function loadavg(): number {
  try {
    return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  } catch {
    return NaN;
  }
}

// The addon this process mapped: a prebuild and build/Release can differ in compiler flags.
function loadedAddon(): string {
  try {
    const maps = readFileSync('/proc/self/maps', 'utf8').split('\n');
    return maps.map((l) => l.split(/\s+/)[5] ?? '').find((f) => /epollkit.*\.node$/.test(f)) ?? '?';
  } catch {
    return '?';
  }
}

// Pins every thread of this process to `cpu` and returns a function that restores the previous mask.
function pinSelf(cpu: number): () => void {
  const pid = String(process.pid);
  const shown = execFileSync('taskset', ['-p', pid], { encoding: 'utf8' });
  const mask = /mask:\s*([0-9a-f,]+)/i.exec(shown)?.[1];
  if (!mask) throw new Error(`sys-bench: cannot read this process's affinity from "${shown.trim()}"`);
  execFileSync('taskset', ['-a', '-p', '-c', String(cpu), pid], { stdio: 'ignore' });
  return () => execFileSync('taskset', ['-a', '-p', mask, pid], { stdio: 'ignore' });
}

/**
 * Runs the benchmark and returns every figure; prints nothing. Needs a C compiler.
 * @example
 * const { rows } = runSysBench({ rounds: 3, pin: 1 });
 * console.log(rows.find((r) => r.op === 'ping')!.ratio);
 */
export function runSysBench(options: SysBenchOptions = {}): SysBenchResult {
  const scale = options.scale ?? 1;
  const rounds = Math.max(1, Math.floor(options.rounds ?? 7));
  const clock = options.clock ?? 'cpu';
  const iterations = Object.fromEntries(
    SYS_BENCH_OPS.map((op) => [
      op,
      Math.max(1, Math.round(options.iterations?.[op] ?? SYS_BENCH_ITERATIONS[op] * scale)),
    ]),
  ) as Record<SysBenchOp, number>;
  const cc = options.cc ?? process.env.CC ?? 'cc';
  const exe = buildC('sys_loop', ['-Wextra', '-pthread'], cc);

  const empty = (): Record<SysBenchSeries, number[]> => ({ c: [], cThreaded: [], addon: [], addonCountersOff: [] });
  const samples = Object.fromEntries(
    SYS_BENCH_OPS.map((op) => [op, { cpu: empty(), wall: empty() }]),
  ) as Record<SysBenchOp, SysBenchRow['samples']>;
  const record = (op: SysBenchOp, series: SysBenchSeries, t: Timing): void => {
    samples[op].cpu[series].push(t.cpu);
    samples[op].wall[series].push(t.wall);
  };
  const perIteration = {} as Record<SysBenchOp, Partial<Record<CounterName, number>>>;
  const before = new Float64Array(COUNTER_NAMES.length);
  const after = new Float64Array(COUNTER_NAMES.length);

  const load0 = loadavg();
  const unpin = options.pin === undefined || options.pin === false ? null : pinSelf(options.pin);
  const countersWere = setCountersEnabled(true);
  const fixture = makeFixture();
  // One timed pass of the JS loop, with the counter deltas per iteration (nonzero ones only).
  const pass = (op: SysBenchOp, n: number): { t: Timing; deltas: Partial<Record<CounterName, number>> } => {
    readCountersInto(before);
    const t = time(fixture.run[op], n);
    readCountersInto(after);
    const deltas: Partial<Record<CounterName, number>> = {};
    COUNTER_NAMES.forEach((name, i) => {
      if (after[i] !== before[i]) deltas[name] = (after[i] - before[i]) / n;
    });
    return { t, deltas };
  };
  try {
    // Warm up through the same code as the timed passes, so that no harness function is still being
    // optimised on a V8 helper thread (whose CPU time process.cpuUsage() would count) while a loop is timed.
    const warmupFraction = options.warmupFraction ?? 0.25;
    for (let k = 0; k < 3; k++) {
      for (const counting of [true, false]) {
        setCountersEnabled(counting);
        for (const op of SYS_BENCH_OPS) pass(op, Math.max(1, Math.ceil(iterations[op] * warmupFraction)));
      }
    }
    for (let round = 0; round < rounds; round++) {
      for (const idle of [0, 1]) {
        const c = runC(exe, iterations, idle);
        for (const op of SYS_BENCH_OPS) record(op, idle ? 'cThreaded' : 'c', c[op]);
      }
      // Alternate which counters setting goes first, so neither always runs on a warmer cache.
      for (const counting of round % 2 ? [false, true] : [true, false]) {
        setCountersEnabled(counting);
        for (const op of SYS_BENCH_OPS) {
          const { t, deltas } = pass(op, iterations[op]);
          record(op, counting ? 'addon' : 'addonCountersOff', t);
          if (counting) perIteration[op] = deltas;
        }
      }
    }
  } finally {
    fixture.close();
    setCountersEnabled(countersWere);
    unpin?.();
  }

  const rows = SYS_BENCH_OPS.map((op): SysBenchRow => {
    const s = samples[op];
    const medians = {
      cpu: Object.fromEntries(SERIES.map((k) => [k, median(s.cpu[k])])),
      wall: Object.fromEntries(SERIES.map((k) => [k, median(s.wall[k])])),
    } as SysBenchRow['medians'];
    const m = medians[clock];
    return {
      op, label: LABELS[op], iterations: iterations[op],
      cNs: m.c, cThreadedNs: m.cThreaded, addonNs: m.addon, addonNsCountersOff: m.addonCountersOff,
      ratio: m.addon / m.c, ratioCountersOff: m.addonCountersOff / m.c, ratioToThreaded: m.addon / m.cThreaded,
      // Paired by round (on and off run back to back), which cancels drift that separate medians keep.
      countersCost: median(s[clock].addon.map((on, i) => on / s[clock].addonCountersOff[i] - 1)),
      perIteration: perIteration[op] ?? {}, medians, samples: s,
    };
  });
  return {
    date: new Date().toISOString(), node: process.version, kernel: os.release(), cpu: os.cpus()[0]?.model ?? '?',
    cpus: os.cpus().length, addon: loadedAddon(), pinnedCpu: unpin ? (options.pin as number) : null, clock,
    rounds, loadavg: [load0, loadavg()], cc, rows,
  };
}

const fmtNs = (ns: number): string => (ns >= 100 ? ns.toFixed(0) : ns.toFixed(1));
const fmtRatio = (x: number): string => `${x.toFixed(2)}×`;
const fmtPct = (x: number): string => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}%`;
const fmtCalls = (per: Partial<Record<CounterName, number>>): string =>
  Object.entries(per).map(([name, v]) => `${name} ${Number(v.toFixed(3))}`).join(', ') || '—';

/**
 * The result as Markdown: one row per loop, then the targets.
 * @example
 * console.log(formatSysBench(runSysBench()));
 */
export function formatSysBench(result: SysBenchResult): string {
  const lines = [
    `sys-bench: ${result.cpu}, ${result.cpus} CPUs, Linux ${result.kernel}, Node ${result.node}, ` +
      `${result.pinnedCpu === null ? 'not pinned' : `pinned to CPU ${result.pinnedCpu}`}, ` +
      `${result.clock === 'cpu' ? 'CPU time' : 'wall clock'}, median of ${result.rounds} rounds, ` +
      `loadavg ${result.loadavg[0]} → ${result.loadavg[1]}, ${result.date}`,
    `addon: ${result.addon}`,
    '',
    '| operation | C ns/op | C +1 idle thread | addon ns/op, counters on | ratio | addon ns/op, counters off | ratio | ' +
      'counters cost | addon calls per iteration (counted) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of result.rows) {
    lines.push(
      `| ${r.label} | ${fmtNs(r.cNs)} | ${fmtNs(r.cThreadedNs)} | ${fmtNs(r.addonNs)} | ${fmtRatio(r.ratio)} | ` +
        `${fmtNs(r.addonNsCountersOff)} | ${fmtRatio(r.ratioCountersOff)} | ${fmtPct(r.countersCost)} | ` +
        `${fmtCalls(r.perIteration)} |`,
    );
  }
  const row = (op: SysBenchOp): SysBenchRow => result.rows.find((r) => r.op === op)!;
  const ok = (good: boolean): string => (good ? 'met' : 'NOT met');
  const e64 = row('epoll64').perIteration;
  const other: SysBenchClock = result.clock === 'cpu' ? 'wall' : 'cpu';
  const ratio = (r: SysBenchRow, clock: SysBenchClock): number => r.medians[clock].addon / r.medians[clock].c;
  lines.push(
    '',
    `- recv/send ≤ 1.5× C: ping ${fmtRatio(row('ping').ratio)}, EAGAIN ${fmtRatio(row('eagain').ratio)} ` +
      `(${ok(row('ping').ratio <= 1.5 && row('eagain').ratio <= 1.5)}); against C with an idle thread: ` +
      `ping ${fmtRatio(row('ping').ratioToThreaded)}, EAGAIN ${fmtRatio(row('eagain').ratioToThreaded)}.`,
    `- epollWait with 64 ready fds: ${e64.epollWait ?? 0} epollWait call per iteration returning ` +
      `${e64.epollEvents ?? 0} events (${ok(e64.epollWait === 1 && e64.epollEvents === READY)}: one JS→native ` +
      `crossing per batch).`,
    `- counters cost (on vs off): ${result.rows.map((r) => `${r.op} ${fmtPct(r.countersCost)}`).join(', ')}; ` +
      'getppid counts nothing, so its figure is the noise floor.',
    `- addon minus C, ns per iteration: ${result.rows.map((r) => `${r.op} ${fmtNs(r.addonNs - r.cNs)}`).join(', ')}.`,
    `- ratios by the ${other === 'wall' ? 'wall clock' : 'CPU time'} instead: ` +
      `${result.rows.map((r) => `${r.op} ${fmtRatio(ratio(r, other))}`).join(', ')}.`,
  );
  return lines.join('\n');
}

function parseArgs(argv: string[]): SysBenchOptions & { out?: string; json?: boolean } {
  const opts: SysBenchOptions & { out?: string; json?: boolean } = {};
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2) as [string, string | undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`sys-bench: ${flag} needs a value`);
      return v;
    };
    if (flag === '--pin') {
      // --pin alone takes the last CPU (core 1 on a 2-core machine, where the baselines ran servers).
      const next = inline ?? (/^\d+$/.test(argv[i + 1] ?? '') ? argv[++i] : undefined);
      opts.pin = next !== undefined ? Number(next) : os.cpus().length - 1;
    } else if (flag === '--rounds') {
      opts.rounds = Number(value());
    } else if (flag === '--scale') {
      opts.scale = Number(value());
    } else if (flag === '--clock') {
      const clock = value();
      if (clock !== 'cpu' && clock !== 'wall') throw new Error(`sys-bench: --clock is cpu or wall, not ${clock}`);
      opts.clock = clock;
    } else if (flag === '--cc') {
      opts.cc = value();
    } else if (flag === '--out') {
      opts.out = value();
    } else if (flag === '--json') {
      opts.json = true;
    } else {
      throw new Error(
        `sys-bench: unknown argument ${argv[i]}\n` +
          'usage: sys-bench [--pin[=CPU]] [--rounds N] [--scale X] [--clock cpu|wall] [--cc CC] [--out DIR] [--json]',
      );
    }
  }
  return opts;
}

/**
 * The command line: `node dist/lab/sys-bench.js [--pin[=CPU]] [--rounds N] [--scale X] [--clock cpu|wall]
 * [--cc CC] [--out DIR] [--json]`. `--pin` alone pins to the last CPU; `--out` also writes the JSON there.
 */
export function main(argv: string[] = process.argv.slice(2)): void {
  const opts = parseArgs(argv);
  if (opts.pin !== undefined && opts.pin !== false && !canPin()) {
    console.error('sys-bench: taskset or a second CPU is missing; running unpinned');
    opts.pin = false;
  }
  const result = runSysBench(opts);
  console.log(opts.json ? JSON.stringify(result, null, 2) : formatSysBench(result));
  if (opts.out) {
    mkdirSync(opts.out, { recursive: true });
    const file = path.join(opts.out, `sys-bench-${result.date.replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
    console.error(`sys-bench: results written to ${file}`);
  }
}

if (require.main === module) {
  try {
    main();
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  }
}
