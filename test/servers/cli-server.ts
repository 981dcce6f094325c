// Starts `epollkit serve` (the real CLI) in a child process and stops it by pid.
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { createInterface } from 'node:readline';

export interface CliServer {
  port: number;
  child: ChildProcess;
  /** SIGTERM, then SIGKILL after 3 s; resolves with the exit code or signal. */
  stop(): Promise<number | string | null>;
}

const cli = path.resolve(__dirname, '../../dist/cli.js');
export const htmlRoot = path.resolve(__dirname, '../../examples/html');

export async function startCli(model: string, protocol: string, extra: string[] = []): Promise<CliServer> {
  return startServerProcess([cli, 'serve', '--model', model, '--protocol', protocol, '--port', '0', ...(protocol === 'http' ? ['--root', htmlRoot] : []), ...extra]);
}

/** Runs `node ...args`, a server that prints "... listening on host:port" first, as {@link startCli} does the CLI. */
export async function startServerProcess(args: string[]): Promise<CliServer> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    lines.once('line', (line) => {
      const m = /listening on (?:http:\/\/)?[^\s]*:(\d+)\/?$/.exec(line);
      if (m) resolve(Number(m[1]));
      else reject(new Error(`unexpected first line: ${line}`));
    });
    child.once('exit', (code) => reject(new Error(`epollkit serve exited with ${code}`)));
  });
  return {
    port,
    child,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode ?? child.signalCode);
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        child.once('exit', (code, signal) => (clearTimeout(timer), resolve(code ?? signal)));
        child.kill('SIGTERM');
      }),
  };
}
