/**
 * `epollkit bench http`: the static HTTP benchmark (lib/lab/http-bench.ts). Progress on stderr, the
 * Markdown table on stdout, JSON + Markdown + an SVG chart in a results folder.
 * @module
 */
import { Command, Option } from 'commander';
import { httpServers, httpTable, runHttpBench, writeHttpResults } from '../lab/http-bench';
import { resultsFolder } from '../lab/report';
import { benchCommand } from './bench';
import { listOf, positiveInt, positiveNumber } from './options';

interface BenchHttpOptions {
  sizes: boolean | number[];
  servers?: string[];
  duration?: number;
  rounds: number;
  connections?: number;
  out?: string;
}

export function register(program: Command): void {
  const names = httpServers().map((s) => s.name);
  benchCommand(program)
    .command('http')
    .description('static HTTP/1.1 keep-alive under wrk beside Node http, Node net, uWebSockets.js, nginx and C: requests per server-CPU-second')
    .addOption(
      new Option('--servers <list>', `comma-separated (default: all): ${names.join(', ')}`).argParser(listOf(String, names)),
    )
    .option(
      '--sizes [bytes]',
      'instead: epollkit sending bodies from memory vs with sendfile, over file sizes (comma-separated; default 612 B to 1 MiB)',
      listOf(positiveNumber),
    )
    .option('-d, --duration <s>', 'seconds per wrk run (default 5)', positiveNumber)
    .option('-r, --rounds <n>', 'rounds per file, interleaved across servers, every other one in reverse order (medians reported; a ratio is the median of per-round ratios; from 4 rounds on, their quartiles too)', positiveInt, 3)
    .option('-c, --connections <n>', 'wrk connections (default 50)', positiveInt)
    .option('--out <dir>', 'results folder (default: results/bench-http-<time>)')
    .action(async (_options: unknown, command: Command) => {
      // `bench` has -d, -c and --out of its own and takes them wherever they stand: merge both levels.
      const o = command.optsWithGlobals<BenchHttpOptions>();
      o.duration ??= 5;
      o.connections ??= 50;
      const rows = await runHttpBench({
        mode: o.sizes ? 'sizes' : 'servers',
        sizes: Array.isArray(o.sizes) ? o.sizes : undefined,
        servers: o.servers,
        seconds: o.duration,
        rounds: o.rounds,
        connections: o.connections,
        log: (line) => process.stderr.write(`${line}\n`),
      });
      const dir = resultsFolder('bench-http', o.out);
      const files = await writeHttpResults(rows, dir, { mode: o.sizes ? 'sizes' : 'servers', seconds: o.duration, rounds: o.rounds, connections: o.connections });
      process.stdout.write(`${httpTable(rows)}\n`);
      process.stderr.write(`results: ${files.join(', ')}\n`);
    });
}
