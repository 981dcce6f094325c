/**
 * The model benchmark (`epollkit bench`): every server model × protocol (echo, the seed-001 calculator,
 * the seed-004 session service) under load from bench/load_client.c, beside the same protocols on Node's
 * `net` and in C (bench/c_echo.c; bench/fork_echo.c for connections). Two modes:
 * - `rt`, round trips: N kept connections, one request in flight on each (ping-pong);
 * - `conn`, connections: connect, one request, close, from 8 slots over spread source addresses.
 * Each server runs pinned to one core and the load to another when taskset exists; the server's CPU is read
 * from /proc for its whole process tree (forked children and prefork workers included), so CPU per request
 * is the fair comparison on a machine the load generator shares. Every reply is checked by the client.
 * The `http` protocol is measured with wrk by lib/lab/http-bench.ts (`epollkit bench http`), whose own
 * servers — epollkit's epoll reactor beside Node's http and net, uWebSockets.js, nginx and C — are run once
 * (one round, the same duration) and reported beside the rest.
 * @module
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { packageRoot } from '../binding';
import { FORK_NODE_FLAGS, MODELS } from '../servers/models';
import { freePort, waitListening } from './echo-bench';
import { runHttpBench, type HttpBenchRow } from './http-bench';
import { buildC, canPin, median, pinned, processStartTicks, processTree, processTreeCpuMs, processTreeMemoryKb } from './tools';

export const BENCH_PROTOCOLS = ['echo', 'calc', 'session', 'http'] as const;
/** The protocols bench/load_client.c speaks. */
export type BenchProtocol = 'echo' | 'calc' | 'session';
export const BENCH_MODES = ['rt', 'conn'] as const;
export type BenchMode = (typeof BENCH_MODES)[number];
/** The servers beside the models: C epoll (LT), C fork per connection (echo, conn mode), Node's net. */
export const REFERENCES = ['c-epoll', 'c-fork', 'node-net'] as const;

/** Options of {@link runBench}. */
export interface BenchOptions {
  /** Models and references to run (default: every model of MODELS, then REFERENCES). */
  models?: string[];
  protocols?: (typeof BENCH_PROTOCOLS)[number][];
  modes?: BenchMode[];
  /** Measured seconds per run (default 5; 0.5 with `quick`). */
  seconds?: number;
  /** Kept connections in `rt` mode (default 50; the iterative model gets 1, as it serves one at a time). */
  connections?: number;
  /** Concurrent connect-request-close slots in `conn` mode (default 8). */
  connSlots?: number;
  /** Echo message size (default 64 bytes). */
  messageBytes?: number;
  /** Prefork worker processes (default 2). */
  workers?: number;
  /**
   * Passes over the whole plan (default 1); a row is then the median of its passes (counts summed). Passes
   * rather than repeats in a row, so that a change in the machine's load hits every server alike.
   */
  rounds?: number;
  /** Short runs, for CI: checks consistency, measures nothing worth quoting. */
  quick?: boolean;
  /** Cores for the server and the load generator (default 1 and 0; ignored without taskset). */
  serverCpu?: number;
  loadCpu?: number;
  onProgress?: (done: number, total: number, label: string) => void;
}

/** One server × protocol × mode. Counts are the load generator's, CPU and RSS the server's. */
export interface BenchRow {
  mode: BenchMode;
  protocol: BenchProtocol;
  server: string;
  kind: 'model' | 'reference';
  connections: number;
  /** Requests sent; every one is answered in time, answered while draining after the deadline, lost with a broken connection, or unanswered. */
  sent: number;
  answered: number;
  drained: number;
  lost: number;
  unanswered: number;
  /** Replies with the wrong bytes. */
  wrong: number;
  /** Connections that failed (refused, reset, closed early). */
  errors: number;
  /** Connections the client opened (rt: all before the measured part, each with one round trip not counted). */
  connects: number;
  seconds: number;
  /** Requests (rt) or connections (conn) answered per second. */
  perSec: number;
  p50Us: number;
  p99Us: number;
  /** Server CPU over the run, whole process tree, and the root process alone. */
  cpuMs: number;
  selfCpuMs: number;
  cpuUsPerRequest: number;
  /** Server CPU time ÷ the measured part's elapsed time (1 = one core busy). */
  cpuShare: number;
  /** Memory of the server's process tree, sampled mid-run: RSS summed, and PSS summed (shared pages divided among sharers). */
  rssKb: number;
  pssKb: number;
  /** Connections the server says it accepted during the run, where it says (attached models). */
  accepted?: number;
  /** Prefork: connections each worker accepted during the run. */
  perWorkerAccepted?: number[];
  error?: string;
}

/** What one fork costs a Node process of the forking server's size (lib/lab/fork-cost.ts), per fork. */
export interface ForkCost {
  forks: number;
  /** fork + the child's `_exit` + waitpid, elapsed. */
  wallUs: number;
  /** The parent's CPU: the fork call (page tables copied) and the reaping. */
  parentCpuUs: number;
  /** The child's CPU, from the parent's cutime + cstime: mostly tearing down its copy at exit. */
  childCpuUs: number;
  rssKb: number;
}

/** A whole run. */
export interface BenchResult {
  date: string;
  machine: { cpus: number; model: string; kernel: string; node: string };
  pinned: boolean;
  options: Required<Omit<BenchOptions, 'onProgress' | 'models' | 'protocols' | 'modes'>> & {
    models: string[];
    protocols: (typeof BENCH_PROTOCOLS)[number][];
    modes: BenchMode[];
  };
  rows: BenchRow[];
  forkCost?: ForkCost;
  /** The rows of `epollkit bench http`, when http was asked for. */
  http?: HttpBenchRow[];
}

/** The server runs that a selection makes (c-fork serves one echo per connection, so conn mode only). */
export function benchPlan(
  models: string[],
  protocols: readonly (typeof BENCH_PROTOCOLS)[number][],
  modes: readonly BenchMode[],
): { mode: BenchMode; protocol: BenchProtocol; server: string }[] {
  for (const m of models) {
    if (!MODELS[m] && !(REFERENCES as readonly string[]).includes(m)) {
      throw new TypeError(`unknown model "${m}" (${[...Object.keys(MODELS), ...REFERENCES].join(', ')})`);
    }
  }
  const plan = [];
  for (const mode of modes)
    for (const protocol of protocols.filter((p): p is BenchProtocol => p !== 'http'))
      for (const server of models) if (server !== 'c-fork' || (mode === 'conn' && protocol === 'echo')) plan.push({ mode, protocol, server });
  return plan;
}

function serverArgv(server: string, protocol: BenchProtocol, port: number, workers: number): string[] {
  const script = path.join(packageRoot, 'dist', 'lab', 'bench-server.js');
  if (server === 'c-epoll') return [buildC('c_echo'), 'lt', String(port), protocol];
  if (server === 'c-fork') return [buildC('fork_echo'), String(port)];
  const flags = MODELS[server]?.needsSingleThreaded ? FORK_NODE_FLAGS : [];
  return [process.execPath, ...flags, script, server, protocol, String(port), ...(server === 'prefork' ? [String(workers)] : [])];
}

/** A server under test: its process, its stdout lines (`listening PORT [stats]`, stats JSON), its stderr tail. */
class ServerProcess {
  readonly child: ChildProcessWithoutNullStreams;
  answersStats = false;
  #lines: string[] = [];
  #waiter: (() => void) | undefined;
  stderr = '';

  constructor(argv: string[]) {
    this.child = spawn(argv[0], argv.slice(1), { stdio: 'pipe' });
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      this.#lines.push(line);
      this.#waiter?.();
    });
    this.child.stderr.setEncoding('utf8').on('data', (text: string) => (this.stderr = (this.stderr + text).slice(-2000)));
    this.child.on('exit', () => this.#waiter?.());
  }

  async nextLine(timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.#lines.length === 0) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`server exited: ${this.stderr.trim()}`);
      if (Date.now() > deadline) throw new Error(`no answer from the server in ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.#waiter = () => (clearTimeout(timer), resolve());
      });
    }
    return this.#lines.shift()!;
  }

  /** Waits until the server listens: its own `listening` line, or (C servers) a connection that succeeds. */
  async ready(port: number, announces: boolean): Promise<void> {
    if (!announces) return waitListening(port, this.child);
    const line = await this.nextLine(15_000);
    this.answersStats = / stats$/.test(line);
  }

  async stats(): Promise<{ accepted?: number; perWorker?: { slot: number; accepted: number }[] } | undefined> {
    if (!this.answersStats) return undefined;
    this.child.stdin.write('stats\n');
    return JSON.parse(await this.nextLine(5000));
  }

  /** SIGTERM, SIGKILL after 5 s, then any process of its tree still alive (a fork child of a killed parent). */
  async stop(): Promise<void> {
    // Start times too: a pid that ended meanwhile may be some other process's by now.
    const tree = (this.child.pid ? processTree(this.child.pid).slice(1) : []).map((pid) => ({ pid, started: processStartTicks(pid) }));
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    for (const { pid, started } of tree) {
      if (started === undefined || processStartTicks(pid) !== started) continue; // gone, as it should be
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // it ended between the look and the kill
      }
    }
  }
}

/**
 * Runs bench/load_client once; resolves with its key=value line as numbers. `onReady` runs when the client
 * says `ready` (rt mode: every connection has made its first round trip, and the measured part begins).
 */
function runClient(argv: string[], onReady?: () => void): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => {
      out += t;
      if (onReady && /^ready$/m.test(out)) {
        onReady();
        onReady = undefined;
      }
    });
    child.stderr.setEncoding('utf8').on('data', (t: string) => (out += t));
    child.on('error', reject);
    child.on('exit', (code) => {
      const fields = Object.fromEntries([...out.matchAll(/(\w+)=([\d.]+)/g)].map((m) => [m[1], Number(m[2])]));
      if (code !== 0 || fields.sent === undefined) reject(new Error(`load_client failed (${code}): ${out.trim()}`));
      else resolve(fields);
    });
  });
}

async function runOne(o: BenchResult['options'], client: string, run: { mode: BenchMode; protocol: BenchProtocol; server: string }): Promise<BenchRow> {
  const { mode, protocol, server } = run;
  const connections = mode === 'conn' ? o.connSlots : server === 'iterative' ? 1 : o.connections;
  const row: BenchRow = {
    ...run,
    kind: MODELS[server] ? 'model' : 'reference',
    connections,
    ...{ sent: 0, answered: 0, drained: 0, lost: 0, unanswered: 0, wrong: 0, errors: 0, connects: 0 },
    ...{ seconds: o.seconds, perSec: 0, p50Us: 0, p99Us: 0, cpuMs: 0, selfCpuMs: 0, cpuUsPerRequest: 0, cpuShare: 0, rssKb: 0, pssKb: 0 },
  };
  const port = await freePort();
  const proc = new ServerProcess([...pinned(o.serverCpu), ...serverArgv(server, protocol, port, o.workers)]);
  const load = (seconds: number): string[] => [
    ...pinned(o.loadCpu),
    ...[client, '-p', protocol, '-m', mode, '-c', String(connections), '-s', String(o.messageBytes), '-d', String(seconds), String(port)],
  ];
  try {
    await proc.ready(port, !server.startsWith('c-'));
    await runClient(load(o.quick ? 0.2 : 1)); // warm-up: JIT, page faults, socket buffers, thread and worker starts
    const before = await proc.stats();
    const pid = proc.child.pid!;
    // The measured part runs from the client's `ready` (rt: after each connection's first round trip; conn:
    // its start) to its end; memory is sampled halfway through.
    let cpu0 = processTreeCpuMs(pid);
    let t0 = performance.now();
    let memory: { rss: number; pss: number } | undefined;
    let sample: NodeJS.Timeout | undefined;
    const begin = (): void => {
      cpu0 = processTreeCpuMs(pid);
      t0 = performance.now();
      clearTimeout(sample);
      sample = setTimeout(() => (memory = processTreeMemoryKb(pid)), (o.seconds * 1000) / 2);
    };
    begin();
    const result = await runClient(load(o.seconds), begin);
    clearTimeout(sample);
    const cpu1 = processTreeCpuMs(pid);
    const wallMs = performance.now() - t0;
    memory ??= processTreeMemoryKb(pid);
    const after = await proc.stats();
    const served = result.answered + result.drained;
    Object.assign(row, {
      ...{ sent: result.sent, answered: result.answered, drained: result.drained, lost: result.lost, unanswered: result.unanswered },
      ...{ wrong: result.wrong, errors: result.errors, connects: result.connects, perSec: result.rate, p50Us: result.p50_us, p99Us: result.p99_us },
      cpuMs: cpu1.total - cpu0.total,
      selfCpuMs: cpu1.self - cpu0.self,
      cpuUsPerRequest: served ? ((cpu1.total - cpu0.total) * 1000) / served : 0,
      cpuShare: (cpu1.total - cpu0.total) / wallMs,
      rssKb: memory.rss,
      pssKb: memory.pss,
    });
    if (typeof before?.accepted === 'number' && typeof after?.accepted === 'number') row.accepted = after.accepted - before.accepted;
    if (before?.perWorker && after?.perWorker) {
      row.perWorkerAccepted = after.perWorker.map((w) => w.accepted - (before.perWorker!.find((b) => b.slot === w.slot)?.accepted ?? 0));
    }
  } catch (error) {
    row.error = (error as Error).message;
  } finally {
    await proc.stop();
  }
  return row;
}

const COUNTS = ['sent', 'answered', 'drained', 'lost', 'unanswered', 'wrong', 'errors', 'connects', 'accepted'] as const;

/** One row from the passes of a run: medians of rates, latencies, CPU and memory; counts summed; any error kept. */
export function combineRounds(rounds: BenchRow[]): BenchRow {
  if (rounds.length === 1) return rounds[0];
  const failed = rounds.find((r) => r.error);
  if (failed) return failed;
  const row: BenchRow = { ...rounds[0], seconds: rounds.reduce((sum, r) => sum + r.seconds, 0) };
  for (const key of ['perSec', 'p50Us', 'p99Us', 'cpuUsPerRequest', 'cpuShare', 'rssKb', 'pssKb'] as const) row[key] = median(rounds.map((r) => r[key]));
  for (const key of ['cpuMs', 'selfCpuMs', ...COUNTS] as const) {
    if (rounds.every((r) => r[key] !== undefined)) row[key] = rounds.reduce((sum, r) => sum + (r[key] ?? 0), 0);
  }
  if (row.perWorkerAccepted) row.perWorkerAccepted = row.perWorkerAccepted.map((_, i) => rounds.reduce((sum, r) => sum + (r.perWorkerAccepted?.[i] ?? 0), 0));
  return row;
}

/** Times forks in a Node process like the forking server's parent, pinned where the server runs. */
export function measureForkCost(forks: number, cpu?: number): ForkCost {
  const argv = [...pinned(cpu), process.execPath, ...FORK_NODE_FLAGS, path.join(packageRoot, 'dist', 'lab', 'fork-cost.js'), String(forks)];
  const out = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 60_000 });
  if (out.status !== 0) throw new Error(`fork-cost failed: ${out.stderr}`);
  return JSON.parse(out.stdout) as ForkCost;
}

/**
 * Runs the benchmark: each server started afresh per protocol and mode, warmed up, measured, stopped.
 * A run that fails becomes a row with `error` rather than ending the benchmark.
 * @example
 * const result = await runBench({ models: ['epoll-lt', 'prefork', 'c-epoll'], protocols: ['echo'], quick: true });
 * console.log(benchTable(result));
 */
export async function runBench(options: BenchOptions = {}): Promise<BenchResult> {
  const quick = options.quick ?? false;
  const o: BenchResult['options'] = {
    seconds: quick ? 0.5 : 5,
    connections: 50,
    connSlots: 8,
    messageBytes: 64,
    workers: 2,
    rounds: 1,
    quick,
    serverCpu: 1,
    loadCpu: 0,
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
    models: options.models ?? [...Object.keys(MODELS), ...REFERENCES],
    protocols: options.protocols ?? [...BENCH_PROTOCOLS],
    modes: options.modes ?? [...BENCH_MODES],
  };
  delete (o as BenchOptions).onProgress;
  const plan = benchPlan(o.models, o.protocols, o.modes);
  const client = buildC('load_client');
  const passes: BenchRow[][] = [];
  const withForkCost = o.models.includes('forking') && o.modes.includes('conn');
  const withHttp = o.protocols.includes('http');
  const total = plan.length * o.rounds + (withForkCost ? 1 : 0) + (withHttp ? 1 : 0);
  let done = 0;
  for (let round = 1; round <= o.rounds; round++) {
    const rows: BenchRow[] = [];
    for (const run of plan) {
      options.onProgress?.(done++, total, `${o.rounds > 1 ? `round ${round}: ` : ''}${run.mode} ${run.protocol} ${run.server}`);
      rows.push(await runOne(o, client, run));
    }
    passes.push(rows);
  }
  const rows = plan.map((_, i) => combineRounds(passes.map((pass) => pass[i])));
  let forkCost: ForkCost | undefined;
  if (withForkCost) {
    options.onProgress?.(done++, total, 'fork cost');
    forkCost = measureForkCost(quick ? 20 : 500, o.serverCpu);
  }
  let http: HttpBenchRow[] | undefined;
  if (withHttp) {
    options.onProgress?.(done++, total, 'http (wrk)');
    http = await runHttpBench({ seconds: o.seconds, rounds: 1, serverCpu: o.serverCpu, loadCpu: o.loadCpu });
  }
  options.onProgress?.(total, total, 'done');
  const cpus = os.cpus();
  return {
    date: new Date().toISOString(),
    machine: { cpus: cpus.length, model: cpus[0]?.model ?? '', kernel: os.release(), node: process.version },
    pinned: canPin(),
    options: o,
    rows,
    forkCost,
    http,
  };
}
