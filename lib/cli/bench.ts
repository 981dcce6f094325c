/**
 * `epollkit bench`: the model benchmark (lib/lab/bench.ts). Progress on stderr; the Markdown table on
 * stdout; JSON, Markdown and SVG charts in a results folder.
 * @module
 */
import { SingleBar, Presets } from 'cli-progress';
import { Command, Option } from 'commander';
import { BENCH_MODES, BENCH_PROTOCOLS, REFERENCES, runBench, type BenchMode } from '../lab/bench';
import { benchMarkdown, writeBenchResults } from '../lab/bench-report';
import { resultsFolder } from '../lab/report';
import { MODELS } from '../servers/models';
import { listOf, positiveInt, positiveNumber } from './options';

interface BenchCliOptions {
  models?: string[];
  protocols?: (typeof BENCH_PROTOCOLS)[number][];
  modes?: BenchMode[];
  duration?: number;
  connections?: number;
  workers: number;
  rounds: number;
  quick: boolean;
  out?: string;
}

/** The `bench` command (found or made, so that `bench http` can hang below it whichever registers first). */
export function benchCommand(program: Command): Command {
  return program.commands.find((c) => c.name() === 'bench') ?? program.command('bench');
}

export function register(program: Command): void {
  const servers = [...Object.keys(MODELS), ...REFERENCES];
  benchCommand(program)
    .description('every server model x protocol under a C load generator: throughput, p50/p99 latency, server CPU per request, RSS')
    .addOption(new Option('--models <list>', `servers, comma-separated (default: all): ${servers.join(', ')}`).argParser(listOf(String, servers)))
    .addOption(new Option('--protocols <list>', 'protocols (default: all; http runs `bench http`\'s servers under wrk)').argParser(listOf(String, BENCH_PROTOCOLS)))
    .addOption(new Option('--modes <list>', 'rt: round trips on kept connections; conn: connect, one request, close (default: both)').argParser(listOf(String, BENCH_MODES)))
    .option('-d, --duration <s>', 'measured seconds per run (default 5, --quick 0.5)', positiveNumber)
    .option('-c, --connections <n>', 'kept connections in rt mode (default 50)', positiveNumber)
    .option('-w, --workers <n>', 'prefork worker processes', positiveInt, 2)
    .option('-r, --rounds <n>', 'passes over the whole plan; each figure is the median of its passes', positiveInt, 1)
    .option('--quick', 'short runs that check consistency, not speed', false)
    .option('--out <dir>', 'results folder (default: results/bench-<time>)')
    .action(async (o: BenchCliOptions) => {
      // Also when stderr is a file or a pipe (a CI log): a line every 5 s then.
      const bar = new SingleBar(
        { format: 'bench {bar} {value}/{total} {label}', stream: process.stderr, hideCursor: true, noTTYOutput: true, notTTYSchedule: 5000 },
        Presets.shades_classic,
      );
      let started = false;
      const result = await runBench({
        models: o.models,
        protocols: o.protocols,
        modes: o.modes,
        seconds: o.duration,
        connections: o.connections,
        workers: o.workers,
        rounds: o.rounds,
        quick: o.quick,
        onProgress: (done, total, label) => {
          if (!started) bar.start(total, done, { label });
          started = true;
          bar.update(done, { label });
        },
      });
      bar.stop();
      const dir = resultsFolder('bench', o.out);
      const files = await writeBenchResults(result, dir);
      process.stdout.write(`${benchMarkdown(result)}\n`);
      process.stderr.write(`results: ${files.join(', ')}\n`);
      const failed = result.rows.filter((r) => r.error);
      if (failed.length) {
        for (const r of failed) process.stderr.write(`failed: ${r.mode} ${r.protocol} ${r.server}: ${r.error}\n`);
        process.exitCode = 1;
      }
    });
}
