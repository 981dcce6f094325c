#!/usr/bin/env node
/**
 * The command line: `epollkit serve | client`. (`lab` and `bench` arrive with the labs.)
 * @module
 */
import { spawnSync } from 'node:child_process';
import { Command, Option } from 'commander';
import * as path from 'node:path';
import { CALC_PORT } from './protocols/calculator';
import { PROTOCOL_NAMES, type ProtocolSpec } from './protocols/index';
import { MODELS, createServer } from './servers/models';

interface ServeOptions {
  model: string;
  protocol: (typeof PROTOCOL_NAMES)[number];
  host: string;
  port?: number;
  root: string;
  accessLog: boolean;
}

function defaultPort(protocol: ServeOptions['protocol']): number {
  return protocol === 'calc' ? CALC_PORT : protocol === 'http' ? 8080 : 7000;
}

function specOf(options: ServeOptions): ProtocolSpec {
  return options.protocol === 'http' ? { name: 'http', root: path.resolve(options.root), accessLog: options.accessLog } : { name: options.protocol };
}

function serve(options: ServeOptions): void {
  // Fork-based models need V8 without helper threads, which only the node command line can ask for.
  if (MODELS[options.model].needsSingleThreaded && !process.execArgv.includes('--single-threaded')) {
    const again = spawnSync(process.execPath, ['--single-threaded', ...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit' });
    process.exit(again.status ?? 1);
  }
  const server = createServer(options.model, specOf(options), {
    host: options.host,
    port: options.port ?? defaultPort(options.protocol),
    // A keep-alive connection idle this long is closed (also what ends a slowloris).
    connection: { idleTimeoutMs: 60_000 },
  });
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const where = options.protocol === 'http' ? `http://${host}:${server.port}/` : `${host}:${server.port}`;
  process.stdout.write(`epollkit ${options.protocol} server (${options.model}) listening on ${where}\n`);
  if (server.attachable && server.start) {
    server.start();
    const stop = (): void => void server.close();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
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
  .action((options: ServeOptions) => serve(options));

program.parseAsync(process.argv).catch((error: Error & { code?: string }) => {
  process.stderr.write(`epollkit: ${error.message}\n`);
  process.exitCode = 1;
});
