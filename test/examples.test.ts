// Every file in examples/ runs as written (`node examples/<file>`, forking ones with --single-threaded),
// serves real clients with every byte checked, and stops on SIGTERM by pid: gracefully with exit code 0,
// or, for the servers that block the thread, by the signal itself. No process it forked outlives it.
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import * as k from '../lib/index';
import { unusedPort } from './helpers/net';
import { alive, childrenOf, waitUntil } from './helpers/proc';
import { calcClient, echoClient, httpClient, runClients } from './servers/clients';
import { htmlRoot } from './servers/cli-server';

const EXAMPLES = path.resolve(__dirname, '../examples');

/** A seed-004 client over UDP: a handle, three ADDs by handle, a duplicated datagram answered from the cache. */
async function udpSessionClient(port: number): Promise<boolean> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const ask = async (request: Buffer): Promise<k.SessionReply> => {
    const reply = once(socket, 'message');
    socket.send(request, port, '127.0.0.1');
    return k.decodeSessionReply((await reply)[0] as Buffer);
  };
  try {
    let requestId = k.firstRequestId();
    const { handle } = await ask(k.encodeSessionRequest({ op: k.SessionOp.OPEN, flags: 0, handle: 0, requestId: requestId++, value: 0 }));
    const values = [randomInt(-1000, 1000), randomInt(-1000, 1000), randomInt(-1000, 1000)];
    let total = 0;
    let last: Buffer | undefined;
    for (const value of values) {
      last = k.encodeSessionRequest({ op: k.SessionOp.ADD, flags: k.BY_HANDLE, handle, requestId: requestId++, value });
      const reply = await ask(last);
      total = (total + value) | 0;
      if (reply.status !== k.SessionStatus.OK || reply.total !== total) return false;
    }
    const retry = await ask(last!);
    return handle !== 0 && retry.status === k.SessionStatus.REPLAYED && retry.total === total;
  } finally {
    socket.close();
  }
}

interface Example {
  client: (port: number) => Promise<boolean>;
  /** Arguments after the port. */
  args?: string[];
  fork?: boolean;
  /** Serves one client at a time. */
  sequential?: boolean;
  /** Blocks the thread, so SIGTERM ends it by default action. */
  blocking?: boolean;
  /** Prints no port: it is given one and talked to once it answers. */
  silent?: boolean;
}

const examples: Record<string, Example> = {
  'iterative-echo.js': { client: echoClient, sequential: true },
  'epoll-et-echo.js': { client: echoClient },
  'raw-epoll-echo.js': { client: echoClient, blocking: true, silent: true },
  'select-echo.js': { client: echoClient, blocking: true },
  'busy-poll-echo.js': { client: echoClient, blocking: true },
  'coroutine-echo.js': { client: echoClient },
  'thread-pool-echo.js': { client: echoClient, args: ['2'] },
  'threading-calculator.js': { client: calcClient },
  'forking-calculator.js': { client: calcClient, fork: true },
  'prefork-http.js': { client: httpClient(htmlRoot), args: ['2'], fork: true },
  'udp-session.js': { client: udpSessionClient },
};

describe('examples/', () => {
  it('every example is in this test', () => {
    expect(readdirSync(EXAMPLES).filter((f) => f.endsWith('.js')).sort()).toEqual(Object.keys(examples).sort());
  });

  it.each(Object.keys(examples))('%s serves real clients and stops on SIGTERM', async (file) => {
    const example = examples[file];
    const givenPort = example.silent ? await unusedPort() : 0;
    const nodeArgs = example.fork ? ['--single-threaded'] : [];
    const child = spawn(process.execPath, [...nodeArgs, path.join(EXAMPLES, file), String(givenPort), ...(example.args ?? [])], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = once(child, 'exit');
    try {
      let port = givenPort;
      if (example.silent) {
        await waitUntil(() => example.client(port).catch(() => false), `${file} answers on ${port}`);
      } else {
        port = await new Promise<number>((resolve, reject) => {
          const lines = createInterface({ input: child.stdout! });
          lines.on('line', (line) => {
            const m = /127\.0\.0\.1:(\d+)/.exec(line);
            if (m) resolve(Number(m[1]));
          });
          child.once('exit', (code) => reject(new Error(`${file} exited with ${code} before printing its port`)));
        });
      }
      expect(await runClients(20, example.sequential ? 1 : 5, () => example.client(port))).toBe(0);
      const forked = childrenOf(child.pid!);
      child.kill('SIGTERM');
      const [code, signal] = await exited;
      expect({ code, signal }).toEqual(example.blocking ? { code: null, signal: 'SIGTERM' } : { code: 0, signal: null });
      for (const pid of forked) expect(alive(pid), `pid ${pid} forked by ${file}`).toBe(false);
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    }
  });
});
