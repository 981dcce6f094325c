#!/usr/bin/env node
/**
 * The command line: `epollkit serve | client`. (`lab` and `bench` arrive with the labs.)
 * @module
 */
import { Command, Option } from 'commander';
import * as path from 'node:path';
import { EventLoop } from './loop/event-loop';
import { selectorFor } from './lab/echo-server';
import { calculator, CALC_PORT } from './protocols/calculator';
import { echo } from './protocols/echo';
import { httpStatic } from './protocols/http/static';
import type { Protocol } from './protocols/protocol';
import { SessionStore, sessionProtocol } from './protocols/session';
import { ReactorServer } from './servers/reactor';

const MODELS = ['epoll-et', 'epoll-lt', 'poll', 'select'] as const;
const PROTOCOLS = ['echo', 'calc', 'session', 'http'] as const;

interface ServeOptions {
  model: (typeof MODELS)[number];
  protocol: (typeof PROTOCOLS)[number];
  host: string;
  port?: number;
  root: string;
  accessLog: boolean;
}

function protocolFor(options: ServeOptions): Protocol {
  switch (options.protocol) {
    case 'echo':
      return echo;
    case 'calc':
      return calculator;
    case 'session':
      return sessionProtocol(new SessionStore());
    case 'http':
      return httpStatic({ root: options.root, accessLog: options.accessLog ? (line) => process.stdout.write(line + '\n') : undefined });
  }
}

function defaultPort(protocol: ServeOptions['protocol']): number {
  return protocol === 'calc' ? CALC_PORT : protocol === 'http' ? 8080 : 7000;
}

function serve(options: ServeOptions): void {
  const loop = new EventLoop({ selector: selectorFor(options.model) }).attach();
  const server = new ReactorServer({ loop,
    protocol: protocolFor(options),
    host: options.host,
    port: options.port ?? defaultPort(options.protocol),
    // A keep-alive connection idle this long is closed (also what ends a slowloris).
    connection: { idleTimeoutMs: 60_000 },
  });
  const { address, port } = server.listener.address();
  const where = options.protocol === 'http' ? `http://${address.includes(':') ? `[${address}]` : address}:${port}/` : `${address}:${port}`;
  process.stdout.write(`epollkit ${options.protocol} server (${options.model}) listening on ${where}\n`);
  const stop = (): void => {
    void server.close().then(() => loop.close());
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

const program = new Command('epollkit').description('Linux readiness I/O and classic server models').version('0.1.0');

program
  .command('serve')
  .description('serve a protocol on one of the server models')
  .addOption(new Option('-m, --model <model>', 'server model').choices(MODELS).default('epoll-et'))
  .addOption(new Option('-P, --protocol <protocol>', 'protocol').choices(PROTOCOLS).default('echo'))
  .option('-H, --host <host>', 'address to listen on', '127.0.0.1')
  .option('-p, --port <port>', 'port (default: 7070 for calc, 8080 for http, else 7000)', (v) => Number.parseInt(v, 10))
  .option('-r, --root <dir>', 'document root for http', path.join(process.cwd(), 'examples', 'html'))
  .option('--access-log', 'print an access log line per response (Common Log Format)', false)
  .action((options: ServeOptions) => serve(options));

program.parseAsync(process.argv).catch((error: Error & { code?: string }) => {
  process.stderr.write(`epollkit: ${error.message}\n`);
  process.exitCode = 1;
});
