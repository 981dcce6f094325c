// A client that pipelines many requests and does not read costs the server its high-water mark of queued
// output, not one reply per request sent: the HTTP session stops answering while the transport is above the
// mark and goes on when it drains (Session.onDrain). Every reply still arrives, in order, once the client
// reads — also when it half-closed right after sending. In-process epoll ET server, raw socket client.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as k from '../../lib/index';
import { waitUntil } from '../helpers/proc';

const HIGH_WATER = 256 * 1024;
const BODY = Buffer.alloc(16 * 1024, 'x'); // 2,000 replies: 32 MiB, far more than loopback's buffers hold

let loop: k.EventLoop;
let server: k.ReactorServer;
let root: string;

beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'epollkit-pipeline-'));
  writeFileSync(path.join(root, 'f.txt'), BODY);
  loop = new k.EventLoop({ selector: new k.EpollSelector({ trigger: 'edge' }) }).attach();
  server = new k.ReactorServer({ loop, protocol: k.httpStatic({ root }), connection: { highWaterMark: HIGH_WATER } });
});

afterEach(async () => {
  await server.close();
  loop.close();
  rmSync(root, { recursive: true, force: true });
});

describe('HTTP pipelining under backpressure', () => {
  it.each([false, true])('2,000 pipelined GETs, not read for a while (half-closed: %s): output bounded, every reply in order', async (halfClose) => {
    const requests = Array.from({ length: 2000 }, (_, i) => `GET /f.txt?${i} HTTP/1.1\r\nHost: x\r\n\r\n`).join('');
    const socket = net.connect(server.port, '127.0.0.1');
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.pause(); // read nothing yet: the kernel's buffers fill, then the server's queue
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(requests);
    if (halfClose) socket.end();
    // A state to reach: the server stopped with its queue above the mark (the kernel buffers hold the rest).
    await waitUntil(() => server.stats().peakQueuedBytes > HIGH_WATER, 'the server queue reached its high-water mark');
    await new Promise((resolve) => setTimeout(resolve, 100)); // time for more answers, if they were coming
    const reply = BODY.length + 200;
    expect(server.stats().peakQueuedBytes).toBeLessThan(HIGH_WATER + 2 * reply);
    const chunks: Buffer[] = [];
    let received = 0;
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      received += c.length;
    });
    socket.resume();
    // Every reply is the same head and body (one file): all bytes are in when 2,000 of them are.
    const perReply = (): number => {
      const first = Buffer.concat(chunks.slice(0, 2)).indexOf('\r\n\r\n');
      return first < 0 ? Infinity : first + 4 + BODY.length;
    };
    await waitUntil(() => received >= 2000 * perReply(), 'all 2,000 replies');
    const text = Buffer.concat(chunks).toString('latin1');
    expect(text.split('HTTP/1.1 200 OK\r\n').length - 1).toBe(2000);
    expect(text.split(BODY.toString()).length - 1).toBe(2000);
    expect(text.length).toBeGreaterThan(2000 * BODY.length);
    expect(server.stats().peakQueuedBytes).toBeLessThan(HIGH_WATER + 2 * reply);
    // Having answered everything, the server ends the half-closed connection; the other one is ours to end.
    if (!halfClose) socket.destroy();
    await closed;
  });
});
