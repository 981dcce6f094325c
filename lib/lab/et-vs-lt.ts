/**
 * `epollkit lab et-vs-lt`: one echo workload served level- and edge-triggered (and level-triggered with
 * EPOLLONESHOT), counted by the addon in the server's own process, plus the three hazards run live: ET
 * without draining strands bytes, ET draining one large sender starves the others, and what ONESHOT costs.
 * The load comes from bench/lab_client.c. Every figure is checked against the identities it must obey
 * (`checks`), and with `verifyStrace` against `strace -f` of the same run.
 * @module
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { packageRoot } from '../binding';
import { setCountersEnabled } from '../sys/counters';
import * as sys from '../sys/socket';
import { groupedBarChart } from './chart';
import { ControlledProcess } from './control';
import type { LabServerConfig, LabServerReport } from './lab-server';
import { markdownTable, num, type LabProgress, type LabReport } from './report';
import { compareWithStrace, straceArgv, straceMarkdown, sumTrace, type StraceRow } from './strace';
import { buildC, median, pinned } from './tools';

/** Options of {@link runEtVsLt}; every size is in bytes. */
export interface EtVsLtOptions {
  /** Connections (default 50; quick 8). */
  connections?: number;
  /** Request size (default 4096). */
  messageBytes?: number;
  /** The client writes each request in write()s of this size (default 1024). */
  chunkBytes?: number;
  /** The server's recv size (default 65536). */
  readBufferBytes?: number;
  /** Requests per connection (default 400; quick 40). */
  messages?: number;
  /** The stranding demo: recv size and request size (default 4096 and 4 × that). */
  strandReadBytes?: number;
  /** How long the stranding client waits for an echo that does not come (default 500 ms; quick 200). */
  strandWaitMs?: number;
  /** The starvation demo: seconds per variant (default 2; quick 0.4) and ET's read budget (default 65536). */
  starveSeconds?: number;
  readBudgetBytes?: number;
  /** Pairs of phases, counters on and off, per variant, for what counting costs (default 6; quick 0: not measured). */
  counterCostRounds?: number;
  /** Also run a small workload under strace and compare (default false). */
  verifyStrace?: boolean;
  /** Cores for the server and the load generator (default 1 and 0; ignored without taskset). */
  serverCpu?: number;
  loadCpu?: number;
  quick?: boolean;
  progress?: LabProgress;
}

/** The server variants of the main table. */
export const ET_VS_LT_VARIANTS = {
  lt: { label: 'LT, 1 recv per event', short: 'LT', config: { trigger: 'level' } },
  et: { label: 'ET, recv until EAGAIN', short: 'ET', config: { trigger: 'edge', edgeDrain: 'eagain' } },
  'et-short': { label: 'ET, until a short read (nginx)', short: 'ET short-read', config: { trigger: 'edge', edgeDrain: 'short-read' } },
  'lt-oneshot': { label: 'LT + ONESHOT, re-armed per event', short: 'LT + ONESHOT', config: { trigger: 'level', oneshot: true } },
} as const satisfies Record<string, { label: string; short: string; config: LabServerConfig }>;
export type EtVsLtVariant = keyof typeof ET_VS_LT_VARIANTS;

/** One identity the counts must obey. */
export interface Check {
  what: string;
  left: number;
  right: number;
  ok: boolean;
}

/** Per-request figures of one variant. */
export interface EtVsLtRow {
  variant: EtVsLtVariant;
  label: string;
  requests: number;
  perRequest: { epollWait: number; events: number; recv: number; eagain: number; epollCtl: number; send: number; cpuUs: number };
  requestsPerSec: number;
  server: LabServerReport;
  checks: Check[];
}

export interface EtVsLtResults {
  options: Required<Omit<EtVsLtOptions, 'progress' | 'verifyStrace' | 'quick'>>;
  rows: EtVsLtRow[];
  strand: { variant: string; sentBytes: number; strandedBytes: number; strandedConnections: number; connections: number }[];
  starve: { variant: string; bulkMBps: number; smallMinBps: number; smallMedianBps: number; maxOverMin: number }[];
  /**
   * What counting costs: server CPU per request on and off (medians of paired phases), the median ratio and
   * its spread, in percent; and the same from the cost of one counted call (recv to EAGAIN, in ns), times the
   * counter updates per request of the LT run, over its CPU per request.
   */
  counterCost?: {
    cpuUsOn: number;
    cpuUsOff: number;
    overheadPct: number;
    spreadPct: [number, number];
    rounds: number;
    recvNsOn: number;
    recvNsOff: number;
    updatesPerRequest: number;
    estimatedPct: number;
  };
  strace?: { variant: EtVsLtVariant; rows: StraceRow[] }[];
}

type Opts = EtVsLtResults['options'];

function serverArgv(config: LabServerConfig, o: Opts, trace?: string): string[] {
  const script = path.join(packageRoot, 'dist', 'lab', 'lab-server.js');
  return [...pinned(o.serverCpu), ...(trace ? straceArgv(trace) : []), process.execPath, script, JSON.stringify(config)];
}

/** Runs bench/lab_client.c and parses its key=value line. */
async function client(args: (string | number)[], o: Opts): Promise<Record<string, string>> {
  const argv = [...pinned(o.loadCpu), buildC('lab_client'), ...args.map(String)];
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  if (code !== 0) throw new Error(`lab_client ${args.join(' ')} failed (${code}): ${err}${out}`);
  return Object.fromEntries(out.trim().split(/\s+/).map((kv) => kv.split('=') as [string, string]));
}

/** Starts a server with `config`, runs `body` against it, always stops it. */
async function withServer<T>(config: LabServerConfig, o: Opts, body: (s: ControlledProcess) => Promise<T>, trace?: string): Promise<T> {
  const server = await ControlledProcess.start(serverArgv({ readBufferSize: o.readBufferBytes, ...config }, o, trace));
  try {
    return await body(server);
  } finally {
    await server.kill();
  }
}

/** The identities of one run (see the README's "Experiments"). */
export function checksOf(variant: EtVsLtVariant, r: LabServerReport): Check[] {
  const c = r.counters;
  const t = r.tally;
  const check = (what: string, left: number, right: number): Check => ({ what, left, right, ok: left === right });
  // The EAGAIN counter also counts the accept4 that ends each accept loop; the recv ones are the rest.
  const recvEagain = c.eagain - (c.accept4 - t.accepted);
  const checks = [
    check('epoll events = events tallied by kind', c.epollEvents, t.listenerEvents + t.controlEvents + t.readableEvents + t.writableOnlyEvents),
    check('recv = reads with data + reads at EOF + recv EAGAINs', c.recv, t.dataReads + t.eofReads + recvEagain),
    // With nothing ever queued, no send met EAGAIN, so the EAGAINs above are all recv's and accept4's.
    check('queued output bytes (peak) = 0', r.peakQueuedBytes, 0),
    // Writes of one connection within one round leave in one send (the loop's send batch).
    check('send = echo writes − writes coalesced in a round', c.send + c.writev, t.writes - t.coalescedWrites),
    // ADD per accept, DEL per close; level-triggered connections also drop EPOLLIN at EOF (one MOD), which
    // under ONESHOT is one of the MODs counted as re-arms.
    check('epoll_ctl = accepts + closes (+ EOF MODs under LT) + re-arms', c.epollCtl,
      t.accepted + t.closed + (variant === 'lt' ? t.eofReads : 0) + t.rearms),
  ];
  if (variant === 'et') checks.push(check('ET: recv EAGAINs + EOF reads = readable events (each drained once)', recvEagain + t.eofReads, t.readableEvents));
  else if (variant === 'et-short') {
    checks.push(check('ET short-read: short reads + recv EAGAINs + EOF reads = readable events', t.shortReads + recvEagain + t.eofReads, t.readableEvents));
  } else checks.push(check('LT: recv = readable events (one read per event)', c.recv, t.readableEvents));
  return checks;
}

async function measure(variant: EtVsLtVariant, o: Opts): Promise<EtVsLtRow> {
  const { label, config } = ET_VS_LT_VARIANTS[variant];
  return withServer(config, o, async (server) => {
    // Warm-up (JIT, socket buffers), not counted.
    await client(['pingpong', server.port, o.connections, o.messageBytes, o.chunkBytes, Math.max(1, o.messages >> 3)], o);
    await server.command('r');
    const run = await client(['pingpong', server.port, o.connections, o.messageBytes, o.chunkBytes, o.messages], o);
    const report = await server.command<LabServerReport>('s');
    const requests = Number(run.requests);
    const c = report.counters;
    const t = report.tally;
    // The command that asked for this report brought one event (and maybe a wait of its own): not workload.
    const per = (n: number): number => n / requests;
    return {
      variant,
      label,
      requests,
      requestsPerSec: requests / Number(run.secs),
      perRequest: {
        epollWait: per(c.epollWait - t.controlOnlyWaits),
        events: per(c.epollEvents - t.controlEvents),
        recv: per(c.recv),
        eagain: per(c.eagain - (c.accept4 - t.accepted)),
        epollCtl: per(c.epollCtl),
        send: per(c.send + c.writev),
        cpuUs: per(report.cpuUs),
      },
      server: report,
      checks: checksOf(variant, report),
    };
  });
}

/**
 * Server CPU per request with the counters on and off, in pairs of phases on one warm server (same process,
 * same JIT state); the order alternates (on-off, off-on...) so that drift of a shared machine cancels out.
 */
async function counterCost(variant: EtVsLtVariant, o: Opts): Promise<{ on: number; off: number }[]> {
  return withServer(ET_VS_LT_VARIANTS[variant].config, o, async (server) => {
    const phase = async (on: boolean): Promise<number> => {
      await server.command(on ? '1' : '0');
      await server.command('r');
      const run = await client(['pingpong', server.port, o.connections, o.messageBytes, o.chunkBytes, o.messages], o);
      return (await server.command<LabServerReport>('s')).cpuUs / Number(run.requests);
    };
    await phase(true); // warm-up
    const pairs = [];
    for (let r = 0; r < o.counterCostRounds; r++) {
      const first = await phase(r % 2 === 0);
      const second = await phase(r % 2 !== 0);
      pairs.push(r % 2 === 0 ? { on: first, off: second } : { on: second, off: first });
    }
    return pairs;
  });
}

/**
 * What one counted call costs more with the counters on: recv on an empty socketpair (two counter updates:
 * the call and its EAGAIN), timed in this thread in alternating blocks, by CPU time. Each side keeps its
 * fastest block, the one other processes disturbed least: on a shared machine the median of blocks
 * wanders by more than the few nanoseconds being measured.
 */
function countedCallNs(blocks = 20, calls = 100_000): { onNs: number; offNs: number } {
  const [a, b] = sys.socketpair(sys.AF_UNIX, sys.SOCK_STREAM | sys.SOCK_NONBLOCK);
  const buf = Buffer.alloc(64);
  const was = setCountersEnabled(true);
  const samples: Record<'on' | 'off', number[]> = { on: [], off: [] };
  try {
    for (let r = 0; r < 2 * blocks + 1; r++) {
      const on = r % 2 === 0;
      setCountersEnabled(on);
      const t0 = process.cpuUsage();
      for (let i = 0; i < calls; i++) sys.recv(a, buf, 0, 64);
      const t = process.cpuUsage(t0);
      if (r > 0) samples[on ? 'on' : 'off'].push(((t.user + t.system) * 1000) / calls); // r = 0 warms up
    }
  } finally {
    setCountersEnabled(was);
    sys.close(a);
    sys.close(b);
  }
  return { onNs: Math.min(...samples.on), offNs: Math.min(...samples.off) };
}

async function strand(variant: 'et' | 'lt', o: Opts): Promise<EtVsLtResults['strand'][number]> {
  const config: LabServerConfig = { trigger: variant === 'et' ? 'edge' : 'level', readMode: 'level', readsPerEvent: 1, readBufferSize: o.strandReadBytes };
  return withServer(config, o, async (server) => {
    const r = await client(['strand', server.port, o.connections, 4 * o.strandReadBytes, o.strandWaitMs], o);
    await server.command('k');
    return {
      variant: variant === 'et' ? `ET, one ${o.strandReadBytes}-byte recv per event (not drained)` : `LT, one ${o.strandReadBytes}-byte recv per event`,
      sentBytes: Number(r.sent_bytes),
      strandedBytes: Number(r.stranded_bytes),
      strandedConnections: Number(r.stranded_conns),
      connections: o.connections,
    };
  });
}

async function starve(label: string, config: LabServerConfig, o: Opts): Promise<EtVsLtResults['starve'][number]> {
  return withServer(config, o, async (server) => {
    const r = await client(['starve', server.port, Math.max(2, o.connections), o.messageBytes, o.starveSeconds], o);
    await server.command('k');
    const secs = Number(r.secs);
    const bytes = r.bytes.split(',').map((b) => Number(b) / secs);
    const small = bytes.slice(1);
    return {
      variant: label,
      bulkMBps: bytes[0] / 1e6,
      smallMinBps: Math.min(...small),
      smallMedianBps: median(small),
      maxOverMin: Math.max(...bytes) / Math.max(1, Math.min(...bytes)),
    };
  });
}

async function underStrace(variant: EtVsLtVariant, o: Opts): Promise<{ variant: EtVsLtVariant; rows: StraceRow[] }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'epollkit-strace-'));
  const file = path.join(dir, 'trace');
  try {
    const report = await withServer(
      ET_VS_LT_VARIANTS[variant].config,
      o,
      async (server) => {
        await client(['pingpong', server.port, Math.min(o.connections, 4), o.messageBytes, o.chunkBytes, Math.min(o.messages, 50)], o);
        // 'q': report once every connection has closed, then exit: strace's count ends where the counters' does.
        const r = await server.command<LabServerReport>('q');
        await server.exited();
        return { r, pid: server.pid };
      },
      file,
    );
    return { variant, rows: compareWithStrace(report.r.counters, sumTrace(file, report.pid)) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function defaults(options: EtVsLtOptions): Opts {
  const q = options.quick === true;
  return {
    connections: options.connections ?? (q ? 8 : 50),
    messageBytes: options.messageBytes ?? 4096,
    chunkBytes: options.chunkBytes ?? 1024,
    readBufferBytes: options.readBufferBytes ?? 65536,
    messages: options.messages ?? (q ? 40 : 400),
    strandReadBytes: options.strandReadBytes ?? 4096,
    strandWaitMs: options.strandWaitMs ?? (q ? 200 : 500),
    starveSeconds: options.starveSeconds ?? (q ? 0.4 : 2),
    readBudgetBytes: options.readBudgetBytes ?? 65536,
    counterCostRounds: options.counterCostRounds ?? (q ? 0 : 6),
    serverCpu: options.serverCpu ?? 1,
    loadCpu: options.loadCpu ?? 0,
  };
}

/**
 * Runs the lab and returns its report (tables, results, charts).
 * @example
 * const report = await runEtVsLt({ quick: true });
 * console.log(report.markdown);
 */
export async function runEtVsLt(options: EtVsLtOptions = {}): Promise<LabReport<EtVsLtResults>> {
  const o = defaults(options);
  // The client writes a whole request before it reads: past what the socket buffers and the server's
  // write queue hold (the queue pauses reading at 1 MiB), both sides would wait for each other.
  if (o.messageBytes > 1 << 20) {
    throw Object.assign(new RangeError(`messageBytes must be at most 1 MiB, not ${o.messageBytes}`), { code: 'ERR_OUT_OF_RANGE' });
  }
  const variants = Object.keys(ET_VS_LT_VARIANTS) as EtVsLtVariant[];
  const starveVariants: [string, LabServerConfig][] = [
    ['ET, drain to EAGAIN', { trigger: 'edge', edgeDrain: 'eagain' }],
    [`ET, read budget ${o.readBudgetBytes} B per turn`, { trigger: 'edge', edgeDrain: 'eagain', readBudget: o.readBudgetBytes }],
    ['LT, 1 recv per event', { trigger: 'level' }],
  ];
  const total = variants.length + 2 + starveVariants.length + (o.counterCostRounds > 0 ? 2 : 0) + (options.verifyStrace ? 3 : 0);
  let done = 0;
  const step = (what: string): void => options.progress?.(done++, total, what);
  buildC('lab_client');

  const rows: EtVsLtRow[] = [];
  for (const v of variants) {
    step(`workload: ${v}`);
    rows.push(await measure(v, o));
  }
  const strandRows = [];
  for (const v of ['et', 'lt'] as const) {
    step(`stranding: ${v}`);
    strandRows.push(await strand(v, o));
  }
  const starveRows = [];
  for (const [label, config] of starveVariants) {
    step(`starvation: ${label}`);
    starveRows.push(await starve(label, config, o));
  }
  const results: EtVsLtResults = { options: o, rows, strand: strandRows, starve: starveRows };
  if (o.counterCostRounds > 0) {
    const ratios: number[] = [];
    const cpu: Record<'on' | 'off', number[]> = { on: [], off: [] };
    for (const v of ['lt', 'et'] as const) {
      step(`counters on vs off: ${v}`);
      for (const pair of await counterCost(v, o)) {
        ratios.push(pair.on / pair.off);
        cpu.on.push(pair.on);
        cpu.off.push(pair.off);
      }
    }
    // Each recv above updates two counters; a request updates about two per syscall (the call, and its bytes,
    // events or EAGAIN), plus one per epoll_ctl and accept4.
    const call = countedCallNs();
    const lt = rows[0].server.counters;
    const updates = (2 * (lt.epollWait + lt.recv + lt.send + lt.writev) + lt.epollCtl + lt.accept4) / rows[0].requests;
    const perUpdateNs = (call.onNs - call.offNs) / 2;
    results.counterCost = {
      cpuUsOn: median(cpu.on),
      cpuUsOff: median(cpu.off),
      overheadPct: 100 * (median(ratios) - 1),
      spreadPct: [100 * (Math.min(...ratios) - 1), 100 * (Math.max(...ratios) - 1)],
      rounds: o.counterCostRounds,
      recvNsOn: call.onNs,
      recvNsOff: call.offNs,
      updatesPerRequest: updates,
      estimatedPct: (100 * updates * perUpdateNs) / (1000 * rows[0].perRequest.cpuUs),
    };
  }
  if (options.verifyStrace) {
    results.strace = [];
    for (const v of ['lt', 'et', 'et-short'] as const) {
      step(`strace: ${v}`);
      results.strace.push(await underStrace(v, o));
    }
  }
  options.progress?.(total, total, 'done');
  return { lab: 'et-vs-lt', markdown: etVsLtMarkdown(results), results, charts: { 'et-vs-lt.svg': await etVsLtChart(results) } };
}

/** The per-request bar chart: syscalls per request, one group per syscall, one bar per variant. */
export function etVsLtChart(results: EtVsLtResults): Promise<string> {
  const metrics = ['epollWait', 'events', 'recv', 'eagain', 'epollCtl', 'send'] as const;
  const names = { epollWait: 'epoll_wait', events: 'events', recv: 'recv', eagain: 'EAGAIN', epollCtl: 'epoll_ctl', send: 'send' };
  const rows = results.rows.flatMap((r) => metrics.map((m) => ({ syscall: names[m], server: ET_VS_LT_VARIANTS[r.variant].short, perRequest: r.perRequest[m] })));
  const o = results.options;
  return groupedBarChart({
    title: `per request: ${o.connections} connections, ${o.messageBytes} B requests in ${o.chunkBytes} B writes, ${o.readBufferBytes} B reads`,
    rows,
    x: 'syscall',
    series: 'server',
    y: 'perRequest',
    yTitle: 'calls (events) per request',
  });
}

function signed(pct: number): string {
  return `${pct >= 0 ? '+' : ''}${pct.toFixed(2)}%`;
}

/** The lab's Markdown: the main table with its explanation, the hazards, the counters' cost, strace. */
export function etVsLtMarkdown(results: EtVsLtResults): string {
  const o = results.options;
  const main = markdownTable(
    ['server', 'epoll_wait', 'events', 'recv', 'recv EAGAIN', 'epoll_ctl', 'send', 'CPU µs', 'requests/s', 'checks'],
    results.rows.map((r) => {
      const p = r.perRequest;
      const failed = r.checks.filter((c) => !c.ok).length;
      return [r.label, num(p.epollWait), num(p.events), num(p.recv), num(p.eagain), num(p.epollCtl), num(p.send), num(p.cpuUs, 1),
        num(r.requestsPerSec), failed ? `${failed} FAILED` : `${r.checks.length} ok`];
    }),
  );
  const strand = markdownTable(
    ['server', 'sent', 'never echoed', 'connections stuck'],
    results.strand.map((s) => [s.variant, `${s.sentBytes} B`, `${s.strandedBytes} B`, `${s.strandedConnections} of ${s.connections}`]),
  );
  const starve = markdownTable(
    ['server', 'bulk sender MB/s', 'slowest small B/s', 'median small B/s', 'max/min per connection'],
    results.starve.map((s) => [s.variant, num(s.bulkMBps, 1), num(s.smallMinBps, 0), num(s.smallMedianBps, 0), num(s.maxOverMin, 1)]),
  );
  const parts = [
    `### ET vs LT: per request (${o.connections} connections × ${o.messages} requests of ${o.messageBytes} B, written in ${o.chunkBytes} B chunks, read ${o.readBufferBytes} B at a time)`,
    '',
    main,
    '',
    'Counted by the addon in the server process. **LT** reads once per event: recv = events, and it never sees',
    'EAGAIN, but a request that arrives in pieces can cost several wakeups. **ET** read until EAGAIN pays one',
    'recv more per readable event than it has data for; an edge-triggered connection is also registered for both',
    'directions once, so it gets an EPOLLOUT event at the start. **ET until a short read** (nginx\'s rule, this',
    'library\'s default) skips that EAGAIN recv: a stream socket\'s recv stops short only when its queue is empty,',
    'and bytes arriving later raise a new edge. **ONESHOT** adds one epoll_ctl per event (the re-arm): the price',
    'of handing each event to exactly one thread.',
    '',
    `### Hazard 1: edge-triggered without draining (a ${4 * o.strandReadBytes} B request per connection)`,
    '',
    strand,
    '',
    'Under ET an event is reported when data *arrives*; bytes left in the socket after one short read produce',
    'no further event, so they stay there until the peer sends more. LT reports the fd again while bytes remain.',
    '',
    `### Hazard 2: one bulk sender among ${Math.max(2, o.connections) - 1} ping-pong clients (${o.starveSeconds} s each)`,
    '',
    starve,
    '',
    'Draining to EAGAIN serves a fast sender for as long as it keeps its socket full; a read budget (or LT\'s',
    'one read per event) gives the other connections their turn between reads.',
  ];
  if (results.counterCost) {
    const cc = results.counterCost;
    parts.push(
      '',
      '### What counting costs',
      '',
      `Server CPU per request, counters on ${num(cc.cpuUsOn, 2)} µs, off ${num(cc.cpuUsOff, 2)} µs: median of ${2 * cc.rounds} on/off pairs`,
      `(LT and ET, one warm server each) ${signed(cc.overheadPct)}, single pairs from ${signed(cc.spreadPct[0])} to ${signed(cc.spreadPct[1])} —`,
      `run-to-run noise of a shared machine. Counted directly: a recv that meets EAGAIN takes ${num(cc.recvNsOn, 1)} ns`,
      `with the counters on and ${num(cc.recvNsOff, 1)} ns off (two counter updates; fastest of 20 blocks each): at`,
      `${num(cc.updatesPerRequest, 1)} updates per request, that is ${signed(cc.estimatedPct)} of the server's CPU per request.`,
    );
  }
  if (results.strace) {
    parts.push('', '### Counters beside `strace -f` (the server thread, the whole run)', '',
      straceMarkdown(results.strace.map((s) => ({ label: s.variant, rows: s.rows }))));
  }
  return parts.join('\n');
}
