#!/usr/bin/env node
/**
 * The command line: `epollkit serve | client`. (`lab` and `bench` arrive with the labs.)
 * @module
 */
import { spawn } from 'node:child_process';
import { Command, Option } from 'commander';
import { constants } from 'node:os';
import * as path from 'node:path';
import { positiveInt } from './cli/options';
import { CALC_PORT } from './protocols/calculator';
import { PROTOCOL_NAMES, type ProtocolSpec } from './protocols/index';
import { childLog } from './servers/forking';
import { FORK_NODE_FLAGS, MODELS, createServer } from './servers/models';

interface ServeOptions {
  model: string;
  protocol: (typeof PROTOCOL_NAMES)[number];
  host: string;
  port?: number;
  root: string;
  accessLog: boolean;
  workers?: number;
  headerTimeout?: number;
  idleTimeout?: number;
  balance?: 'exclusive' | 'reuseport';
}

function defaultPort(protocol: ServeOptions['protocol']): number {
  return protocol === 'calc' ? CALC_PORT : protocol === 'http' ? 8080 : 7000;
}

function specOf(options: ServeOptions): ProtocolSpec {
  if (options.protocol !== 'http') return { name: options.protocol };
  return { name: 'http', root: path.resolve(options.root), accessLog: options.accessLog, headerTimeoutMs: options.headerTimeout };
}

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Runs this command again as `node --single-threaded --use-largepages=silent ...` (FORK_NODE_FLAGS) and
 * becomes its shadow: the signals that stop a server are passed on, and this process ends as the inner one
 * did (its exit code, or its signal raised again). Asynchronous, so that a SIGTERM to this pid — all a supervisor knows — does not orphan the server.
 */
function reexecSingleThreaded(): void {
  const inner = spawn(process.execPath, [...FORK_NODE_FLAGS, ...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit' });
  // A Ctrl-C reaches both processes (one process group); the inner one takes a repeat as the same request.
  const forward = (signal: NodeJS.Signals): void => void inner.kill(signal);
  for (const signal of STOP_SIGNALS) process.on(signal, forward);
  inner.once('error', (error) => {
    process.stderr.write(`epollkit: cannot run node again with --single-threaded: ${error.message}\n`);
    process.exit(1);
  });
  inner.once('exit', (code, signal) => {
    for (const s of STOP_SIGNALS) process.off(s, forward);
    if (signal === null) process.exit(code ?? 1);
    // With no listener left the default action applies: this process dies by the same signal.
    process.exitCode = 128 + (constants.signals[signal] ?? 0);
    process.kill(process.pid, signal);
  });
}

function serve(options: ServeOptions): void {
  // Fork-based models need V8 without helper threads, which only the node command line can ask for.
  if (MODELS[options.model].needsSingleThreaded && !process.execArgv.includes('--single-threaded')) return reexecSingleThreaded();
  const server = createServer(options.model, specOf(options), {
    host: options.host,
    port: options.port ?? defaultPort(options.protocol),
    workers: options.workers,
    balance: options.balance,
    // A keep-alive connection idle this long is closed (also what ends a slowloris); 0: never.
    connection: { idleTimeoutMs: options.idleTimeout ?? 60_000 },
    // A peer's reset or timeout is its own business; a crashed child or worker, or a protocol's exception,
    // is said (with a blocking write: this may run in a forked child).
    handleError: (error, reason) => {
      if (reason === 'error') childLog(`epollkit: ${error.stack ?? error}`);
    },
  });
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const where = options.protocol === 'http' ? `http://${host}:${server.port}/` : `${host}:${server.port}`;
  process.stdout.write(`epollkit ${options.protocol} server (${options.model}) listening on ${where}\n`);
  if (server.attachable && server.start) {
    server.start();
    // Kept installed: a repeated signal (Ctrl-C reaches this process and, forwarded, again) must not
    // kill the process mid-shutdown. Signal listeners do not keep Node's loop alive.
    let closing: Promise<void> | undefined;
    const stop = (): void => void (closing ??= server.close());
    for (const signal of STOP_SIGNALS) process.on(signal, stop);
  } else {
    // A blocking model owns the thread: Node's signal handlers cannot run, and SIGINT/SIGTERM end it.
    server.serveForever!();
  }
}

const program = new Command('epollkit').description('Linux readiness I/O and classic server models').version('0.1.0');

program
  .command('serve')
  .description('serve a protocol on one of the server models')
  .addOption(new Option('-m, --model <model>', 'server model').choices(Object.keys(MODELS)).default('epoll-et'))
  .addOption(new Option('-P, --protocol <protocol>', 'protocol').choices(PROTOCOL_NAMES).default('echo'))
  .option('-H, --host <host>', 'address to listen on', '127.0.0.1')
  .option('-p, --port <port>', 'port (default: 7070 for calc, 8080 for http, else 7000)', (v) => Number.parseInt(v, 10))
  .option('-r, --root <dir>', 'document root for http', path.join(process.cwd(), 'examples', 'html'))
  .option('--access-log', 'print an access log line per response (Common Log Format)', false)
  .option('--header-timeout <ms>', 'http: a request head must arrive within this long of its first byte (default 10000)', (v) => Number.parseInt(v, 10))
  .option('--idle-timeout <ms>', 'close a connection after this long without I/O (default 60000; 0: never)', (v) => (v.trim() === '0' ? 0 : positiveInt(v)))
  .option('-w, --workers <n>', 'worker processes (prefork) or threads (thread-pool); default: one per CPU', positiveInt)
  .addOption(
    new Option('--balance <how>', 'prefork: one shared listener woken with EPOLLEXCLUSIVE, or a listener per worker (SO_REUSEPORT)').choices([
      'exclusive',
      'reuseport',
    ]),
  )
  .action((options: ServeOptions) => serve(options));

/**
 * The other commands, loaded only when the command is not `serve`: a server's process keeps whatever it
 * loaded, and a forking parent pays for every page of it in every fork(2) (page tables copied). Left out,
 * the forking echo server's V8 heap is 2 MB smaller under load (old space 5.6 → 4.9 MB, young generation
 * 3.6 → 2.3 MB resident) and its parent's CPU per connection 524 → 500 µs (issue 6; pinned, 4 interleaved
 * runs, medians).
 */
async function registerOthers(): Promise<void> {
  if (process.argv.slice(2).find((arg) => !arg.startsWith('-')) === 'serve') return;
  for (const loading of [import('./cli/client'), import('./cli/bench'), import('./cli/bench-http'), import('./cli/lab')]) {
    (await loading).register(program);
  }
}

registerOthers()
  .then(() => program.parseAsync(process.argv))
  .catch((error: Error & { code?: string }) => {
    process.stderr.write(`epollkit: ${error.message}\n`);
    process.exitCode = 1;
  });
