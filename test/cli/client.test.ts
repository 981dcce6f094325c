// `epollkit client echo|calc|session` over a pipe: lines in, replies out, exit 0 at end of input; bad input
// reported on stderr without ending the client; a server that is down is exit code 1. Servers are the real
// CLI in a child process and seed 001's own C server. Every child is asynchronous (a synchronous one would
// block this thread) and waited for.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as net from 'node:net';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { buildC } from '../../lib/lab/tools';
import { unusedPort } from '../helpers/net';
import { startCli } from '../servers/cli-server';

const cli = path.resolve(__dirname, '../../dist/cli.js');

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `epollkit client ...args` with `input` piped to its stdin; resolves once it has exited. */
async function client(args: string[], input: string): Promise<Ran> {
  const child = spawn(process.execPath, [cli, 'client', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  child.stdin.on('error', () => {}); // a client that quits before reading all its input closes the pipe
  child.stdin.end(input);
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  return { code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

const lines = (text: string): string[] => text.split('\n').filter((line) => line !== '');

const CALC_SCRIPT = [
  'add', // the seed's way: the command, then the operands on the next line
  '3, 4',
  'sub 10, 20', // or both on one line
  'mul 65536, 65536', // wraps modulo 2^32
  'div -7, 2', // truncates toward zero
  'div 1, 0', // refused and asked again, as the seed's client does
  '9, 3',
  'frobnicate 1, 2',
  'add 1',
  'add 3000000000, 1',
  'help',
  'add 2147483647, 1',
  '',
].join('\n');
const CALC_RESULTS = ['result = 7', 'result = -10', 'result = 0', 'result = -3', 'result = 3', 'result = -2147483648'];

function expectCalcRun(ran: Ran): void {
  expect(ran.code, ran.stderr).toBe(0);
  expect(lines(ran.stdout).filter((l) => l.startsWith('result'))).toEqual(CALC_RESULTS);
  expect(lines(ran.stdout).filter((l) => !l.startsWith('result'))).toHaveLength(1); // help, and no prompts
  expect(lines(ran.stderr)).toHaveLength(4); // division by zero, unknown command, one operand, out of range
}

describe('epollkit client calc', () => {
  it('runs seed 001 commands from a pipe against `epollkit serve --protocol calc`', async () => {
    const server = await startCli('epoll-et', 'calc');
    try {
      expectCalcRun(await client(['calc', '127.0.0.1', String(server.port)], CALC_SCRIPT));
      // quit ends the session early; what follows it is not read. A lone number is the port.
      const quit = await client(['calc', String(server.port)], 'add 1, 1\nquit\nadd 2, 2\n');
      expect(quit).toMatchObject({ code: 0, stdout: 'result = 2\n', stderr: '' });
    } finally {
      await server.stop();
    }
  });

  it("runs against seed 001's own C server (fork per connection)", async () => {
    const exe = buildC('seed001/server');
    let server: ChildProcess | undefined;
    let port = 0;
    // The C server takes a port number; one freed just before may be taken again by then: try another.
    for (let attempt = 0; attempt < 5 && !server; attempt++) {
      port = await unusedPort();
      const child = spawn(exe, [String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
      const first = await new Promise<string | null>((resolve) => {
        createInterface({ input: child.stdout! }).once('line', resolve);
        child.once('exit', () => resolve(null));
      });
      if (first === `listening ${port}`) server = child;
      else if (child.exitCode === null) child.kill('SIGKILL');
    }
    expect(server, 'the C server did not start').toBeDefined();
    try {
      expectCalcRun(await client(['calc', '127.0.0.1', String(port)], CALC_SCRIPT));
    } finally {
      const exited = once(server!, 'close');
      server!.kill('SIGTERM');
      await exited;
    }
  });

  it('exits 1 with a message when no server listens, and on a bad port', async () => {
    const down = await client(['calc', '127.0.0.1', String(await unusedPort())], 'add 1, 2\n');
    expect(down.code).toBe(1);
    expect(down.stdout).toBe('');
    expect(down.stderr).toContain('ECONNREFUSED');
    const badPort = await client(['calc', '127.0.0.1', 'seventy'], '');
    expect(badPort.code).toBe(1);
    expect(badPort.stderr).not.toBe('');
  });

  it('exits 1 when the server closes the connection in the middle of a request', async () => {
    const server = net.createServer((socket) => socket.once('data', () => socket.destroy())).listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const ran = await client(['calc', String((server.address() as net.AddressInfo).port)], 'add 1, 2\nadd 3, 4\n');
      expect(ran.code).toBe(1);
      expect(ran.stdout).toBe('');
      expect(ran.stderr).not.toBe('');
    } finally {
      server.close();
      await once(server, 'close');
    }
  });
});

describe('epollkit client echo', () => {
  it('sends each line as typed and prints the echo', async () => {
    const server = await startCli('epoll-lt', 'echo');
    try {
      const input = 'hello\n  spaced  out  \n\nünïcödé ✓\nlast line without a newline';
      const ran = await client(['echo', '127.0.0.1', String(server.port)], input);
      expect(ran).toEqual({ code: 0, signal: null, stdout: `${input}\n`, stderr: '' });
    } finally {
      await server.stop();
    }
  });
});

describe('epollkit client session', () => {
  it('keeps a running total by connection or by handle; a retry is answered from the reply cache', async () => {
    const server = await startCli('coroutine', 'session');
    try {
      const script = ['add 5', 'add 7', 'get', 'retry', 'add x', 'open', 'add 3', 'retry', 'get', 'close', 'get', 'bogus', 'quit'];
      const ran = await client(['session', '127.0.0.1', String(server.port)], script.join('\n') + '\n');
      expect(ran.code, ran.stderr).toBe(0);
      const out = lines(ran.stdout);
      expect(out[4]).toMatch(/^handle = [1-9]\d*$/);
      out[4] = 'handle = H';
      expect(out).toEqual([
        'total = 5',
        'total = 12',
        'total = 12',
        'total = 12 (replayed: answered from the reply cache)',
        'handle = H',
        'total = 3', // the handle's own total, not the connection's
        'total = 3 (replayed: answered from the reply cache)',
        'total = 3',
        'closed, total was 3',
        'total = 12', // back to the connection's state
      ]);
      expect(lines(ran.stderr)).toHaveLength(2); // add x, bogus
    } finally {
      await server.stop();
    }
  });
});
