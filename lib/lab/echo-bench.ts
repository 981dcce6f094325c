/**
 * Echo benchmark (`npm run bench:echo`): 64-byte ping-pong over 50 connections, driven by bench/echo_client.c,
 * against the epollkit echo server on each backend, the C epoll echo server (bench/c_echo.c, LT and ET)
 * and an echo server on Node's `net` — all in one run, the server pinned to core 1 and the load to core 0
 * when taskset exists. Reports round trips/s, latency, and the server's CPU time per round trip, which is
 * the fair comparison when the load generator shares the machine.
 * @module
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { packageRoot } from '../binding';
import { buildC, median, pinned, processCpuMs } from './tools';

/** One server under test. */
export interface EchoServerSpec {
  name: string;
  /** argv, with `{port}` replaced. */
  command: string[];
}

/** What one server achieved (medians over rounds). */
export interface EchoBenchRow {
  name: string;
  roundTripsPerSec: number;
  p50Us: number;
  p99Us: number;
  /** Server CPU time per round trip, in microseconds. */
  cpuUsPerRoundTrip: number;
  /** Server CPU utilisation during the run (1 = one full core). */
  cpuShare: number;
}

export interface EchoBenchOptions {
  /** Which servers (default: all of {@link echoServers}). */
  servers?: string[];
  connections?: number;
  messageBytes?: number;
  seconds?: number;
  rounds?: number;
  /** Core for the server and for the load (default 1 and 0; ignored without taskset). */
  serverCpu?: number;
  loadCpu?: number;
  log?: (line: string) => void;
}

/** The servers this benchmark knows. */
export function echoServers(): EchoServerSpec[] {
  const node = process.execPath;
  const script = path.join(packageRoot, 'dist', 'lab', 'echo-server.js');
  const cEcho = buildC('c_echo');
  return [
    { name: 'c-epoll-lt', command: [cEcho, 'lt', '{port}'] },
    { name: 'c-epoll-et', command: [cEcho, 'et', '{port}'] },
    { name: 'epollkit-epoll-lt', command: [node, script, 'epoll-lt', '{port}'] },
    { name: 'epollkit-epoll-et', command: [node, script, 'epoll-et', '{port}'] },
    { name: 'epollkit-poll', command: [node, script, 'poll', '{port}'] },
    { name: 'epollkit-select', command: [node, script, 'select', '{port}'] },
    { name: 'node-net', command: [node, path.join(packageRoot, 'bench', 'node_echo.js'), '{port}'] },
  ];
}

/** A port that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** Waits until something accepts connections on `port`. */
export async function waitListening(port: number, child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode} before listening`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Stops a server by pid and waits for it. */
export async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

function runClient(client: string, port: number, options: Required<Pick<EchoBenchOptions, 'connections' | 'messageBytes'>>, seconds: number, cpu?: number) {
  const argv = [...pinned(cpu), client, String(port), String(options.connections), String(options.messageBytes), String(seconds)];
  const out = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
  const m = /roundtrips=(\d+) secs=([\d.]+) rate=(\d+) rt\/s p50_us=(\d+) p99_us=(\d+)/.exec(out.stdout);
  if (!m) throw new Error(`echo_client failed: ${out.stdout}${out.stderr}`);
  return { roundTrips: Number(m[1]), secs: Number(m[2]), rate: Number(m[3]), p50: Number(m[4]), p99: Number(m[5]) };
}

/** Runs the benchmark and returns one row per server. */
export async function runEchoBench(options: EchoBenchOptions = {}): Promise<EchoBenchRow[]> {
  const o = { connections: 50, messageBytes: 64, seconds: 5, rounds: 3, serverCpu: 1, loadCpu: 0, log: () => {}, ...options };
  const client = buildC('echo_client');
  const specs = echoServers().filter((s) => !options.servers || options.servers.includes(s.name));
  const rows: EchoBenchRow[] = [];
  for (const spec of specs) {
    const port = await freePort();
    const argv = [...pinned(o.serverCpu), ...spec.command.map((a) => a.replace('{port}', String(port)))];
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'inherit'] });
    try {
      await waitListening(port, child);
      runClient(client, port, o, 1, o.loadCpu); // warm-up: JIT, page faults, socket buffers
      const rounds: EchoBenchRow[] = [];
      for (let r = 0; r < o.rounds; r++) {
        const cpu0 = processCpuMs(child.pid!);
        const result = runClient(client, port, o, o.seconds, o.loadCpu);
        const cpuMs = processCpuMs(child.pid!) - cpu0;
        rounds.push({
          name: spec.name,
          roundTripsPerSec: result.rate,
          p50Us: result.p50,
          p99Us: result.p99,
          cpuUsPerRoundTrip: (cpuMs * 1000) / result.roundTrips,
          cpuShare: cpuMs / (result.secs * 1000),
        });
        o.log(`${spec.name} round ${r + 1}: ${result.rate} rt/s, ${rounds[r].cpuUsPerRoundTrip.toFixed(2)} µs CPU/rt`);
      }
      const pick = (f: (row: EchoBenchRow) => number) => median(rounds.map(f));
      rows.push({
        name: spec.name,
        roundTripsPerSec: pick((r) => r.roundTripsPerSec),
        p50Us: pick((r) => r.p50Us),
        p99Us: pick((r) => r.p99Us),
        cpuUsPerRoundTrip: pick((r) => r.cpuUsPerRoundTrip),
        cpuShare: pick((r) => r.cpuShare),
      });
    } finally {
      await stopServer(child);
    }
  }
  return rows;
}

/** The rows as a Markdown table, with ratios to the C LT server and to Node's net where present. */
export function echoTable(rows: EchoBenchRow[]): string {
  const c = rows.find((r) => r.name === 'c-epoll-lt');
  const node = rows.find((r) => r.name === 'node-net');
  const lines = [
    '| server | round trips/s | p50 µs | p99 µs | server CPU | CPU µs/rt | rt/s ÷ C LT | rt/s ÷ Node net | CPU/rt ÷ C LT |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const ratio = (a: number, b: number | undefined) => (b ? (a / b).toFixed(2) : '–');
    lines.push(
      `| ${r.name} | ${Math.round(r.roundTripsPerSec).toLocaleString('en')} | ${r.p50Us} | ${r.p99Us} | ${(100 * r.cpuShare).toFixed(0)}% | ${r.cpuUsPerRoundTrip.toFixed(2)} | ${ratio(r.roundTripsPerSec, c?.roundTripsPerSec)} | ${ratio(r.roundTripsPerSec, node?.roundTripsPerSec)} | ${ratio(r.cpuUsPerRoundTrip, c?.cpuUsPerRoundTrip)} |`,
    );
  }
  return lines.join('\n');
}

if (require.main === module) {
  const seconds = Number(process.argv[2] ?? 5);
  runEchoBench({ seconds, log: (line) => process.stderr.write(line + '\n') })
    .then((rows) => console.log(echoTable(rows)))
    .catch((error) => {
      console.error(error);
      process.exitCode = 1;
    });
}
