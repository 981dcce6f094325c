// The header-read timeout, distinct from the keep-alive idle timeout: a slowloris that sends one byte of
// its request head every 100 ms is never idle, yet is closed once its head has taken --header-timeout,
// on every server model (the real CLI in a child process), while a well-behaved client is served.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import * as k from '../../lib/index';
import { htmlRoot, startCli, type CliServer } from '../servers/cli-server';
import { getHash, sha256, slowloris } from './slow-clients';

const index = sha256(readFileSync(path.join(htmlRoot, 'index.html')));
let server: CliServer | undefined;

afterEach(async () => {
  await server?.stop();
  server = undefined;
});

// The CLI's idle timeout is 60 s: a close within the test's bound can only be the header timeout.
const MODELS = ['epoll-et', 'epoll-lt', 'poll', 'select', 'busy-poll', 'coroutine', 'iterative', 'threading', 'thread-pool', 'forking', 'prefork'];

describe('header-read timeout', () => {
  it.each(MODELS)('%s: a slowloris is closed (408), a well-behaved client is served meanwhile', async (model) => {
    server = await startCli(model, 'http', ['--header-timeout', '800']);
    const port = server.port;
    const limit = AbortSignal.timeout(30_000);
    const loris = slowloris(port, 100, limit);
    // The iterative model serves one connection at a time: the good client waits in the backlog until
    // the slowloris is gone, and is served then. Every other model serves it at once.
    const good = await getHash(port, '/');
    expect(good).toEqual({ status: 200, sha256: index });
    const outcome = await loris;
    expect(outcome.bytesSent).toBeGreaterThan(1); // it was dripping, so never idle
    // A reset can drop the 408 on its way (the slowloris keeps sending); what arrived must be the 408.
    if (outcome.received.length > 0) expect(outcome.received).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n[^]*Connection: close\r\n/);
    expect((await getHash(port, '/')).status).toBe(200);
  });
});

describe('header timeout during a graceful shutdown', () => {
  it('a connection the shutdown has ended takes the timeout quietly', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'epollkit-shutdown-'));
    writeFileSync(path.join(root, 'big.bin'), Buffer.alloc(8 << 20, 1)); // far more than the socket buffers hold
    const loop = new k.EventLoop({ selector: new k.EpollSelector({ trigger: 'edge' }) }).attach();
    const local = new k.ReactorServer({ loop, protocol: k.httpStatic({ root, headerTimeoutMs: 200 }), shutdownTimeoutMs: 30_000 });
    const client = net.connect(local.port, '127.0.0.1');
    try {
      // A big reply the client never reads (so output stays queued), then the start of another head.
      await new Promise<void>((resolve) => client.on('connect', resolve));
      client.pause();
      client.write('GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\nGET / HTT');
      await new Promise((r) => setTimeout(r, 50));
      const closed = local.close(); // graceful: waits for the queued reply, which never drains
      // The header timer fires on the ended connection: no exception may escape the loop. Reading now
      // lets the queued reply drain, and the shutdown completes.
      await new Promise((r) => setTimeout(r, 400));
      client.resume();
      client.on('data', () => {});
      await closed;
    } finally {
      client.destroy();
      loop.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
