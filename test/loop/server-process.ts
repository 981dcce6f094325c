// Runs test/loop/fixtures/echo-server.js in a child process and talks to it over its stdio.
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { createInterface } from 'node:readline';

export interface ServerProcess {
  port: number;
  pid: number;
  child: ChildProcess;
  stats(): Promise<{ connections: number; accepted: number; rejected: number; peakQueuedBytes: number; rss: number }>;
  stop(): Promise<number | null>;
}

const fixture = path.join(__dirname, 'fixtures/echo-server.js');

/** Starts the echo server; `prefix` is a command to run it under (e.g. prlimit). */
export async function startEchoServer(backend: string, options: object = {}, prefix: string[] = []): Promise<ServerProcess> {
  const argv = [...prefix, process.execPath, fixture, backend, JSON.stringify(options)];
  const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async (): Promise<any> => {
    const { value, done } = await lines.next();
    if (done) throw new Error(`echo server (${backend}) exited early`);
    return JSON.parse(value);
  };
  const { port, pid } = await next();
  return {
    port,
    pid,
    child,
    stats: async () => {
      child.stdin!.write('stats\n');
      return next();
    },
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', (code) => resolve(code));
        child.stdin!.end('exit\n');
      }),
  };
}
