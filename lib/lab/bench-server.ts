/**
 * A server for `epollkit bench`: `node [--single-threaded] dist/lab/bench-server.js MODEL PROTOCOL PORT
 * [WORKERS]`, where MODEL is one of the server models (what `epollkit serve` builds) or `node-net` (the same
 * sans-IO protocol over Node's own `net`). Prints `listening PORT` once ready, `listening PORT stats` when
 * it answers a `stats` line on stdin with one line of JSON (models that serve on Node's loop: the prefork
 * workers' accepts come from here); blocking models own their thread and answer nothing. SIGTERM ends it.
 * @module
 */
import * as net from 'node:net';
import * as readline from 'node:readline';
import { protocolFromSpec, type ProtocolSpec } from '../protocols/index';
import type { Protocol } from '../protocols/protocol';
import { createServer, type ServerHandle } from '../servers/models';

/** Runs a sans-IO protocol over Node's `net`: the "what Node alone does" row of the benchmark. */
export function netServer(protocol: Protocol, port: number): net.Server {
  return net
    .createServer({ noDelay: true }, (socket) => {
      const session = protocol.open({
        write: (data) => void socket.write(Buffer.from(data)), // the contract: the transport copies
        sendFile: () => {
          throw new Error('sendFile is not supported over node-net');
        },
        end: () => void socket.end(),
        close: () => void socket.end(() => socket.destroy()),
      });
      socket.on('data', (chunk) => session.onData(chunk));
      socket.on('end', () => (session.onEnd ? session.onEnd() : socket.end()));
      socket.on('close', () => session.onClose?.());
      socket.on('error', () => socket.destroy());
      session.onOpen?.();
    })
    .listen(port, '127.0.0.1');
}

async function main(): Promise<void> {
  const [model, protocolName, portText, workers] = process.argv.slice(2);
  const spec = { name: protocolName } as ProtocolSpec;
  const port = Number(portText);
  if (model === 'node-net') {
    const server = netServer(protocolFromSpec(spec), port);
    server.once('listening', () => process.stdout.write(`listening ${port}\n`));
    process.once('SIGTERM', () => server.close(() => process.exit(0)));
    return;
  }
  // As `epollkit serve` builds it, plus the worker count for prefork.
  const options = { host: '127.0.0.1', port, connection: { idleTimeoutMs: 60_000 }, ...(workers ? { workers: Number(workers) } : {}) };
  const server: ServerHandle & { refreshStats?: () => Promise<object>; ready?: () => Promise<unknown> } = createServer(model, spec, options);
  if (!server.attachable || !server.start) {
    process.stdout.write(`listening ${server.port}\n`);
    server.serveForever!();
    return;
  }
  server.start();
  await server.ready?.();
  process.stdout.write(`listening ${server.port} stats\n`);
  readline.createInterface({ input: process.stdin }).on('line', async (line) => {
    if (line.trim() !== 'stats') return;
    const stats = server.refreshStats ? await server.refreshStats() : server.stats();
    process.stdout.write(`${JSON.stringify(stats)}\n`);
  });
  process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
}

if (require.main === module) {
  main().catch((error) => {
    process.stderr.write(`bench-server: ${(error as Error).stack ?? error}\n`);
    process.exit(1);
  });
}
