// 1,000 connections x 64 KiB of random bytes through the echo server on every backend (and epoll with
// EPOLLONESHOT), hashes equal;
// and 64 MiB through a deliberately slow reader, intact, with the server's queue bounded by backpressure.
import { createHash, randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import { backends } from './backends';
import { startEchoServer } from './server-process';

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Sends `data`, half-closes, and resolves with the hash of everything echoed back. */
function echoThrough(port: number, data: Buffer, slowReader = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    const socket = net.connect(port, '127.0.0.1');
    socket.on('connect', () => socket.end(data));
    socket.on('data', (chunk) => {
      hash.update(chunk);
      if (slowReader) {
        socket.pause();
        setTimeout(() => socket.resume(), 1);
      }
    });
    socket.on('close', () => resolve(hash.digest('hex')));
    socket.on('error', reject);
  });
}

async function pool<T>(count: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      results[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return results;
}

// EPOLLONESHOT disarms an fd at each event: the Connection and the Listener re-arm theirs.
const oneshot = [{ name: 'epoll-lt-oneshot' }, { name: 'epoll-et-oneshot' }];

describe.each([...backends, ...oneshot])('$name echo server', (backend) => {
  it('echoes 1,000 connections x 64 KiB intact', async () => {
    const server = await startEchoServer(backend.name);
    try {
      const payloads = Array.from({ length: 1000 }, () => randomBytes(64 * 1024));
      // 400 at a time keeps the select server's fds under FD_SETSIZE.
      const hashes = await pool(1000, 400, (i) => echoThrough(server.port, payloads[i]));
      const wrong = hashes.filter((h, i) => h !== sha256(payloads[i])).length;
      expect(wrong).toBe(0);
      const stats = await server.stats();
      expect(stats.accepted).toBe(1000);
      expect(stats.connections).toBe(0);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});

describe('backpressure', () => {
  it.each(['epoll-lt', 'epoll-et'])('64 MiB through a slow reader arrive intact with a bounded queue (%s)', async (backend) => {
    const highWaterMark = 256 * 1024;
    const server = await startEchoServer(backend, { connection: { highWaterMark } });
    try {
      const before = await server.stats();
      const data = randomBytes(64 * 1024 * 1024);
      expect(await echoThrough(server.port, data, true)).toBe(sha256(data));
      const after = await server.stats();
      // One read (64 KiB) can land above the mark before reading pauses; never more.
      expect(after.peakQueuedBytes).toBeGreaterThan(0);
      expect(after.peakQueuedBytes).toBeLessThanOrEqual(highWaterMark + 64 * 1024);
      expect(after.rss - before.rss).toBeLessThan(48 * 1024 * 1024);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});
