/**
 * `epollkit bench http`: static HTTP/1.1 keep-alive under wrk (-t1 -c50), the server pinned to one core
 * and wrk to the other, on a 612-byte and a 64 KiB file, in one run beside the references — Node's http, a
 * hand-written responder on Node's net, uWebSockets.js, nginx with one worker and a C epoll server. On two
 * cores wrk is often the bound, so the figure that counts is **requests per server-CPU-second** (the
 * server's user + system time from /proc, all its threads and processes); requests/s and p50/p99 latency
 * are reported beside it. `sizes` mode measures epollkit's two ways of sending a body — from memory with
 * send(2) and from the file with sendfile(2) — over a range of sizes, which is what set the crossover of
 * the file cache.
 * @module
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { packageRoot } from '../binding';
import { groupedBarChart } from './chart';
import { freePort, stopServer, waitListening } from './echo-bench';
import { buildC, median, pinned, processTreeCpuMs, quartiles } from './tools';

/** The files served: the two sizes. */
export const HTTP_FILES = { small: 612, large: 64 * 1024 } as const;
/** Sizes for `sizes` mode (memory vs sendfile). */
export const CROSSOVER_SIZES = [612, 4096, 16384, 32768, 65536, 262144, 1048576];

/** One server under test: how to start it for `file` in `root` on `port`. */
export interface HttpServerSpec {
  name: string;
  start(root: string, file: string, port: number, cpu: number | undefined): ChildProcess;
  /** Whether it can run here (a missing package or program is reported, not fatal). */
  available(): string | undefined;
}

/** What one server achieved on one file (medians over rounds). */
export interface HttpBenchRow {
  server: string;
  file: string;
  bytes: number;
  requestsPerSec: number;
  /** Requests per second of server CPU time: the figure that counts on two cores. */
  requestsPerCpuSec: number;
  /** Server CPU utilisation during the run (1 = one full core). */
  cpuShare: number;
  p50Ms: number;
  p99Ms: number;
  /** Requests per CPU-second of each round (rounds are interleaved across servers). */
  perRound?: number[];
  error?: string;
}

export interface HttpBenchOptions {
  /** 'servers' (default): every server on the two files; 'sizes': epollkit memory vs sendfile by size. */
  mode?: 'servers' | 'sizes';
  /** File sizes of `sizes` mode (default {@link CROSSOVER_SIZES}). */
  sizes?: number[];
  servers?: string[];
  connections?: number;
  seconds?: number;
  rounds?: number;
  serverCpu?: number;
  loadCpu?: number;
  log?: (line: string) => void;
}

const node = process.execPath;
const bench = (file: string) => path.join(packageRoot, 'bench', file);
const has = (command: string, args: string[]) => spawnSync(command, args, { stdio: 'ignore' }).status === 0;
const nginxPath = () => ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));

function run(argv: string[], cpu: number | undefined, env?: NodeJS.ProcessEnv): ChildProcess {
  const full = [...pinned(cpu), ...argv];
  return spawn(full[0], full.slice(1), { stdio: ['ignore', 'ignore', 'inherit'], env: env ?? process.env });
}

/** epollkit's server on a blocking loop; `maxCached` moves the memory/sendfile crossover. */
function epollkit(name: string, backend: string, maxCached?: number): HttpServerSpec {
  const script = path.join(packageRoot, 'dist', 'lab', 'http-server.js');
  return {
    name,
    available: () => undefined,
    start: (root, _file, port, cpu) => run([node, script, backend, root, String(port), ...(maxCached === undefined ? [] : [String(maxCached)])], cpu),
  };
}

/** The servers this benchmark knows, in table order. */
export function httpServers(): HttpServerSpec[] {
  const fileServer = (name: string, script: string, check?: () => string | undefined): HttpServerSpec => ({
    name,
    available: check ?? (() => undefined),
    start: (root, file, port, cpu) => run([node, bench(script), path.join(root, file), String(port)], cpu),
  });
  return [
    epollkit('epollkit-epoll-et', 'epoll-et'),
    epollkit('epollkit-epoll-lt', 'epoll-lt'),
    {
      // What `epollkit serve` runs: the same server attached to Node's loop (a uv_poll on the epoll fd).
      name: 'epollkit-cli-et',
      available: () => undefined,
      start: (root, _file, port, cpu) =>
        run([node, path.join(packageRoot, 'dist', 'cli.js'), 'serve', '--model', 'epoll-et', '--protocol', 'http', '--root', root, '--port', String(port)], cpu),
    },
    {
      name: 'c-epoll',
      available: () => (has('cc', ['--version']) ? undefined : 'no C compiler (cc)'),
      start: (root, file, port, cpu) => run([buildC('c_epoll_http'), path.join(root, file), String(port)], cpu),
    },
    fileServer('uwebsockets.js', 'uws_http.js', () => {
      try {
        require.resolve('@trufflesuite/uws-js-unofficial');
        return undefined;
      } catch {
        return 'npm package @trufflesuite/uws-js-unofficial is not installed (a devDependency)';
      }
    }),
    fileServer('node-net', 'node_net_http.js'),
    fileServer('node-http', 'node_http.js'),
    {
      name: 'nginx',
      available: () => (nginxPath() ? undefined : 'nginx is not installed (apt-get install nginx-light)'),
      start: (root, _file, port, cpu) => {
        const conf = path.join(root, '..', `nginx-${port}.conf`);
        writeFileSync(conf, nginxConf(root, port));
        return run([nginxPath()!, '-p', path.dirname(conf), '-c', conf, '-g', 'daemon off;'], cpu);
      },
    },
  ];
}

/** One nginx worker, as in shared/research/baselines.md (keepalive_requests raised so no run reconnects). */
function nginxConf(root: string, port: number): string {
  const dir = path.dirname(root);
  return `worker_processes 1;
pid ${dir}/nginx-${port}.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 4096; use epoll; }
http {
  access_log off; sendfile on; tcp_nopush on; keepalive_timeout 65; keepalive_requests 1000000000;
  types { text/html html; } default_type application/octet-stream;
  client_body_temp_path ${dir}/ngx; proxy_temp_path ${dir}/ngx; fastcgi_temp_path ${dir}/ngx;
  uwsgi_temp_path ${dir}/ngx; scgi_temp_path ${dir}/ngx;
  server { listen 127.0.0.1:${port}; root ${root}; }
}
`;
}

/** A document root with one file per size, readable by nginx's unprivileged worker. */
function makeRoot(sizes: number[]): { dir: string; root: string; files: Map<number, string> } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'epollkit-bench-http-'));
  const root = path.join(dir, 'www');
  mkdirSync(root);
  mkdirSync(path.join(dir, 'ngx'));
  chmodSync(dir, 0o755);
  const files = new Map<number, string>();
  for (const size of sizes) {
    const name = `f${size}.html`;
    const line = '<p>epollkit static file benchmark, the same bytes for every server.</p>\n';
    writeFileSync(path.join(root, name), Buffer.from(line.repeat(Math.ceil(size / line.length)).slice(0, size)));
    files.set(size, name);
  }
  return { dir, root, files };
}

/** GETs `url` and checks the body is `expected`: a server that answers wrongly is not measured. */
function check(url: string, expected: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        const hash = createHash('sha256');
        res.on('data', (c) => hash.update(c));
        res.on('end', () => {
          const ok = res.statusCode === 200 && hash.digest('hex') === createHash('sha256').update(expected).digest('hex');
          if (ok) resolve();
          else reject(new Error(`${url}: status ${res.statusCode} or wrong body`));
        });
      })
      .on('error', reject);
  });
}

const UNIT_MS: Record<string, number> = { us: 1e-3, ms: 1, s: 1000 };

/** Runs wrk once; returns requests, seconds, req/s, p50 and p99 in ms. */
function wrk(url: string, connections: number, seconds: number, cpu: number | undefined) {
  const argv = [...pinned(cpu), 'wrk', '-t1', `-c${connections}`, `-d${seconds}s`, '--latency', url];
  const out = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
  if (out.error) throw new Error(`cannot run wrk: ${out.error.message} (apt-get install wrk)`);
  const text = out.stdout;
  const requests = /(\d+) requests in ([\d.]+)(us|ms|s)/.exec(text);
  const rate = /Requests\/sec:\s+([\d.]+)/.exec(text);
  const pct = (p: string) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(text);
    return m ? Number(m[1]) * UNIT_MS[m[2]] : NaN;
  };
  if (!requests || !rate) throw new Error(`wrk failed: ${text}${out.stderr}`);
  // Timeouts (a reply slower than wrk's 2 s on a loaded machine) are not wrong answers; anything else is.
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+)/.exec(text);
  if (/Non-2xx/.test(text) || (socket && socket.slice(1).some((n) => n !== '0'))) throw new Error(`wrk saw errors: ${text}`);
  return { requests: Number(requests[1]), secs: Number(requests[2]) * UNIT_MS[requests[3]] / 1000, rate: Number(rate[1]), p50: pct('50'), p99: pct('99') };
}

/** A server started, checked and warmed up for one file; `error` if it could not be. */
interface Running {
  spec: HttpServerSpec;
  child?: ChildProcess;
  url: string;
  error?: string;
  rounds: HttpBenchRow[];
}

async function launch(spec: HttpServerSpec, root: string, file: string, o: { serverCpu?: number; loadCpu?: number; connections: number }): Promise<Running> {
  const running: Running = { spec, url: '', rounds: [] };
  const missing = spec.available();
  if (missing) return { ...running, error: missing };
  const port = await freePort();
  running.child = spec.start(root, file, port, o.serverCpu);
  running.url = `http://127.0.0.1:${port}/${file}`;
  try {
    await waitListening(port, running.child);
    await check(running.url, readFileSync(path.join(root, file)));
    wrk(running.url, o.connections, 1, o.loadCpu); // warm-up: JIT, page faults, socket buffers
  } catch (error) {
    running.error = (error as Error).message.split('\n')[0];
  }
  return running;
}

/** One wrk run against a running server: its req/s, latency and server CPU over the run. */
function measureRound(r: Running, row: HttpBenchRow, o: { seconds: number; connections: number; loadCpu?: number }): HttpBenchRow {
  const cpu0 = processTreeCpuMs(r.child!.pid!).total;
  const w = wrk(r.url, o.connections, o.seconds, o.loadCpu);
  const cpuMs = processTreeCpuMs(r.child!.pid!).total - cpu0;
  return { ...row, requestsPerSec: w.rate, requestsPerCpuSec: w.requests / (cpuMs / 1000), cpuShare: cpuMs / (w.secs * 1000), p50Ms: w.p50, p99Ms: w.p99 };
}

/**
 * Measures every server on one file. All of them are started (pinned to the server core, idle but one at a
 * time) and the rounds are interleaved — round 1 of every server, then round 2, … — so that the ratios
 * between servers compare runs minutes apart at most: on this shared host the same server's figure drifts
 * by ±20% over a quarter of an hour, which consecutive rounds per server turned into ratios of 0.8 or 1.15
 * for the same code. Every other round runs the servers in reverse order (A B C, C B A, …): over a pair of
 * rounds each server's mean place in time is the same, so a steady drift does not favour the first ones.
 */
async function measureFile(specs: HttpServerSpec[], root: string, file: string, bytes: number, o: Required<Omit<HttpBenchOptions, 'servers' | 'mode' | 'sizes'>>): Promise<HttpBenchRow[]> {
  const blank = (server: string): HttpBenchRow => ({ server, file, bytes, requestsPerSec: NaN, requestsPerCpuSec: NaN, cpuShare: NaN, p50Ms: NaN, p99Ms: NaN });
  const servers: Running[] = [];
  try {
    for (const spec of specs) servers.push(await launch(spec, root, file, o));
    for (let round = 0; round < o.rounds; round++) {
      const order = round % 2 === 0 ? servers : [...servers].reverse();
      for (const r of order.filter((x) => !x.error)) {
        try {
          r.rounds.push(measureRound(r, blank(r.spec.name), o));
          o.log(`${r.spec.name} ${file} round ${round + 1}: ${Math.round(r.rounds[round].requestsPerSec)} req/s, ${Math.round(r.rounds[round].requestsPerCpuSec)} req/CPU-s`);
        } catch (error) {
          r.error = (error as Error).message.split('\n')[0];
        }
      }
    }
  } finally {
    await Promise.all(servers.filter((r) => r.child).map((r) => stopServer(r.child!)));
  }
  return servers.map((r) => {
    if (r.error) return { ...blank(r.spec.name), error: r.error };
    const pick = (f: (x: HttpBenchRow) => number) => median(r.rounds.map(f));
    return {
      ...blank(r.spec.name),
      requestsPerSec: pick((x) => x.requestsPerSec),
      requestsPerCpuSec: pick((x) => x.requestsPerCpuSec),
      cpuShare: pick((x) => x.cpuShare),
      p50Ms: pick((x) => x.p50Ms),
      p99Ms: pick((x) => x.p99Ms),
      perRound: r.rounds.map((x) => x.requestsPerCpuSec),
    };
  });
}

/** Runs the benchmark; one row per server and file. */
export async function runHttpBench(options: HttpBenchOptions = {}): Promise<HttpBenchRow[]> {
  const o = { connections: 50, seconds: 5, rounds: 3, serverCpu: 1, loadCpu: 0, log: () => {}, ...options };
  const sizes = options.mode === 'sizes' ? (options.sizes ?? CROSSOVER_SIZES) : Object.values(HTTP_FILES);
  const specs =
    options.mode === 'sizes'
      ? [epollkit('epollkit-memory', 'epoll-et', 1 << 30), epollkit('epollkit-sendfile', 'epoll-et', 0)]
      : httpServers().filter((s) => !options.servers || options.servers.includes(s.name));
  const { dir, root, files } = makeRoot(sizes);
  const rows: HttpBenchRow[] = [];
  try {
    for (const size of sizes) rows.push(...(await measureFile(specs, root, files.get(size)!, size, o)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

/**
 * `x`'s requests per CPU-second over `ref`'s: the median of the per-round ratios when both ran the same
 * interleaved rounds (each pair measured minutes apart), else the ratio of the medians.
 */
export function cpuRatio(x: HttpBenchRow, ref: HttpBenchRow): number {
  const paired = roundRatios(x, ref);
  return paired ? median(paired) : x.requestsPerCpuSec / ref.requestsPerCpuSec;
}

// `x`'s per-round requests per CPU-second over `ref`'s, when both ran the same interleaved rounds.
function roundRatios(x: HttpBenchRow, ref: HttpBenchRow): number[] | undefined {
  if (!x.perRound || !ref.perRound || x.perRound.length !== ref.perRound.length || x.perRound.length === 0) return undefined;
  return x.perRound.map((v, i) => v / ref.perRound![i]);
}

/** Rounds needed before {@link httpTable} shows how the per-round ratios spread (quartiles of fewer mean little). */
export const SPREAD_MIN_ROUNDS = 4;

const kib = (bytes: number) => (bytes < 1024 ? `${bytes} B` : `${bytes / 1024} KiB`);
const fmt = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en') : '–');

/**
 * The rows as a Markdown table, with each server's requests per CPU-second as a ratio to the references; then,
 * when the rounds were enough to tell, a second table with the quartiles of epollkit's per-round ratios. On a
 * shared host one server's rounds can move by 20% while another's hold, and a median alone hides whether a
 * ratio of 1.05 is a lead or noise.
 */
export function httpTable(rows: HttpBenchRow[]): string {
  const refs = ['uwebsockets.js', 'c-epoll', 'node-net'].filter((r) => rows.some((x) => x.server === r && !x.error));
  const refOf = (x: HttpBenchRow, r: string) => rows.find((y) => y.server === r && y.file === x.file && !y.error);
  // The ratio columns' heads and rule, which both tables end with.
  const refHeads = refs.map((r) => ` ÷ ${r} |`).join('');
  const refRule = refs.map(() => '---:|').join('');
  const lines = [`| file | server | req/s | p50 ms | p99 ms | server CPU | req per CPU-s |${refHeads}`, `|---|---|---:|---:|---:|---:|---:|${refRule}`];
  for (const x of rows) {
    if (x.error) {
      lines.push(`| ${kib(x.bytes)} | ${x.server} | not run: ${x.error} |||||${refs.map(() => '|').join('')}`);
      continue;
    }
    const ratios = refs.map((r) => {
      const ref = refOf(x, r);
      return ` ${ref ? cpuRatio(x, ref).toFixed(2) : '–'} |`;
    });
    lines.push(
      `| ${kib(x.bytes)} | ${x.server} | ${fmt(x.requestsPerSec)} | ${x.p50Ms.toFixed(2)} | ${x.p99Ms.toFixed(2)} | ${(100 * x.cpuShare).toFixed(0)}% | ${fmt(x.requestsPerCpuSec)} |${ratios.join('')}`,
    );
  }
  const spread = rows.filter((x) => x.server.startsWith('epollkit') && !x.error && (x.perRound?.length ?? 0) >= SPREAD_MIN_ROUNDS);
  if (spread.length > 0 && refs.length > 0) {
    lines.push(
      '',
      `Per-round ratios over ${spread[0].perRound!.length} paired rounds: median (lower–upper quartile).`,
      '',
      `| file | server |${refHeads}`,
      `|---|---|${refRule}`,
    );
    for (const x of spread) {
      const cells = refs.map((r) => {
        const ref = refOf(x, r);
        const paired = ref && roundRatios(x, ref);
        if (!paired) return ' – |';
        const [q1, q3] = quartiles(paired);
        return ` ${median(paired).toFixed(2)} (${q1.toFixed(2)}–${q3.toFixed(2)}) |`;
      });
      lines.push(`| ${kib(x.bytes)} | ${x.server} |${cells.join('')}`);
    }
  }
  return lines.join('\n');
}

/** Writes rows.json, table.md and a chart (requests per CPU-second) into `dir`; returns the paths. */
export async function writeHttpResults(rows: HttpBenchRow[], dir: string, meta: object = {}): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const json = path.join(dir, 'http-bench.json');
  const md = path.join(dir, 'http-bench.md');
  const svg = path.join(dir, 'http-bench.svg');
  writeFileSync(json, `${JSON.stringify({ ...meta, cpus: os.cpus().length, node: process.version, rows }, null, 2)}\n`);
  writeFileSync(md, `${httpTable(rows)}\n`);
  const data = rows.filter((r) => !r.error).map((r) => ({ file: kib(r.bytes), server: r.server, rps: Math.round(r.requestsPerCpuSec) }));
  writeFileSync(svg, await groupedBarChart({ title: 'static HTTP/1.1 keep-alive: requests per server-CPU-second', rows: data, x: 'file', series: 'server', y: 'rps', yTitle: 'requests per CPU-second' }));
  return [json, md, svg];
}
