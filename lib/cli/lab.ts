/**
 * `epollkit lab et-vs-lt | scaling | herd`: one experiment each (lib/lab). Progress on stderr, the Markdown
 * tables on stdout, and report.md, results.json and the SVG charts in a results folder
 * (results/<lab>-<time> unless `--out`).
 * @module
 */
import { Presets, SingleBar } from 'cli-progress';
import { Command, Option } from 'commander';
import { runEtVsLt } from '../lab/et-vs-lt';
import { HERD_MODES, runHerd } from '../lab/herd';
import { resultsFolder, saveReport, type LabProgress, type LabReport } from '../lab/report';
import { SCALING_BACKENDS, runScaling } from '../lab/scaling';
import { haveStrace } from '../lab/strace';
import { listOf, positiveInt, positiveNumber } from './options';

/** Runs a lab with a progress bar on stderr, prints its Markdown and saves its files. */
async function run<T>(lab: string, out: string | undefined, body: (progress: LabProgress) => Promise<LabReport<T>>): Promise<void> {
  const bar = new SingleBar({ format: `${lab} {bar} {value}/{total} {step}`, stream: process.stderr, hideCursor: true }, Presets.shades_classic);
  let started = false;
  let report: LabReport<T>;
  try {
    report = await body((done, total, step) => {
      if (!started) bar.start(total, done, { step });
      started = true;
      bar.setTotal(total);
      bar.update(done, { step });
    });
  } finally {
    bar.stop();
  }
  process.stdout.write(`${report.markdown}\n`);
  const files = saveReport(report, resultsFolder(lab, out));
  process.stderr.write(`results: ${files.join(', ')}\n`);
}

/** A lab's command, with the flags every lab has. */
function labCommand(parent: Command, name: string, description: string): Command {
  return parent
    .command(name)
    .description(description)
    .option('--quick', 'a few-second run', false)
    .option('--verify-strace', 'also run a small workload under strace -f and print its counts beside the counters', false)
    .option('--out <dir>', `results folder (default: results/${name}-<time>)`)
    .hook('preAction', (command) => {
      if (command.opts().verifyStrace && !haveStrace()) throw new Error('--verify-strace needs strace, allowed to trace (apt-get install strace)');
    });
}

export function register(program: Command): void {
  const lab = program.command('lab').description('experiments with a table and a chart: et-vs-lt, scaling, herd');

  labCommand(lab, 'et-vs-lt', 'one echo workload served level- and edge-triggered (and LT + ONESHOT), counted per request; the ET hazards run live')
    .option('-c, --connections <n>', 'connections (default 50; --quick 8)', positiveInt)
    .option('-m, --message-size <bytes>', 'request size (default 4096)', positiveInt)
    .option('--chunk-size <bytes>', 'the client writes each request in write()s of this size (default 1024)', positiveInt)
    .option('-b, --read-buffer <bytes>', 'the server\'s recv size (default 65536)', positiveInt)
    .option('-n, --messages <n>', 'requests per connection (default 400; --quick 40)', positiveInt)
    .option('--strand-read <bytes>', 'stranding demo: recv size; each request is 4 times this (default 4096)', positiveInt)
    .option('--starve-seconds <s>', 'starvation demo: seconds per server (default 2; --quick 0.4)', positiveNumber)
    .option('--read-budget <bytes>', 'starvation demo: the ET read budget (default 65536)', positiveInt)
    .option('--counter-rounds <n>', 'pairs of phases with the counters on and off, per variant: what counting costs (default 6; --quick 0)', (v) => (v === '0' ? 0 : positiveInt(v)))
    .action(async (o) => {
      await run('et-vs-lt', o.out, (progress) =>
        runEtVsLt({
          connections: o.connections,
          messageBytes: o.messageSize,
          chunkBytes: o.chunkSize,
          readBufferBytes: o.readBuffer,
          messages: o.messages,
          strandReadBytes: o.strandRead,
          starveSeconds: o.starveSeconds,
          readBudgetBytes: o.readBudget,
          counterCostRounds: o.counterRounds,
          verifyStrace: o.verifyStrace,
          quick: o.quick,
          progress,
        }),
      );
    });

  labCommand(lab, 'scaling', 'the cost of one wait against idle registered fds, for select, poll and epoll; register/unregister cost')
    .option('-s, --sizes <list>', 'idle fd counts (default 10,30,100,300,1000,3000,10000; the process may hold 20000 fds)', listOf(positiveInt))
    .option('-k, --active <n>', 'fds always ready (default 10)', positiveInt)
    .addOption(new Option('--backends <list>', 'default: all').argParser(listOf(String, SCALING_BACKENDS as readonly string[])))
    .action(async (o) => {
      await run('scaling', o.out, (progress) => runScaling({ sizes: o.sizes, active: o.active, backends: o.backends, verifyStrace: o.verifyStrace, quick: o.quick, progress }));
    });

  labCommand(lab, 'herd', 'prefork workers in epoll_wait on one port: wakeups per connection with a shared listener, EPOLLEXCLUSIVE, SO_REUSEPORT')
    .option('-w, --workers <n>', 'worker processes (default 4)', positiveInt)
    .option('-c, --connections <n>', 'connections per mode, one at a time (default 200; --quick 30)', positiveInt)
    .addOption(new Option('--modes <list>', 'default: all').argParser(listOf(String, HERD_MODES as readonly string[])))
    .action(async (o) => {
      await run('herd', o.out, (progress) => runHerd({ workers: o.workers, connections: o.connections, modes: o.modes, verifyStrace: o.verifyStrace, quick: o.quick, progress }));
    });
}
