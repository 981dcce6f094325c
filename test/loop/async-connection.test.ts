// The async/await face: one async function per connection, over the attached loop.
import { createHash, randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import * as k from '../../lib/index';

const loops: k.EventLoop[] = [];
afterEach(() => {
  for (const loop of loops.splice(0)) loop.close();
});

describe('AsyncConnection', () => {
  it('echoes with for-await and await write(), across many concurrent clients', async () => {
    const loop = new k.EventLoop().attach();
    loops.push(loop);
    const handlers: Promise<void>[] = [];
    const listener = new k.Listener(loop, (fd) => {
      const conn = new k.AsyncConnection(loop, fd, { highWaterMark: 64 * 1024 });
      handlers.push((async () => {
        for await (const chunk of conn) await conn.write(chunk);
        await conn.end();
      })());
    });
    const hashes = await Promise.all(
      Array.from({ length: 50 }, async () => {
        const data = randomBytes(256 * 1024);
        const got = await new Promise<Buffer>((resolve, reject) => {
          const chunks: Buffer[] = [];
          const s = net.connect(listener.port, '127.0.0.1', () => s.end(data));
          s.on('data', (c) => chunks.push(c));
          s.on('close', () => resolve(Buffer.concat(chunks)));
          s.on('error', reject);
        });
        return [createHash('sha256').update(data).digest('hex'), createHash('sha256').update(got).digest('hex')];
      }),
    );
    for (const [sent, echoed] of hashes) expect(echoed).toBe(sent);
    await Promise.all(handlers);
    listener.close();
  });

  it('refuses a loop that is not attached', () => {
    const loop = new k.EventLoop();
    loops.push(loop);
    const [a, b] = k.socketpair(k.AF_UNIX, k.SOCK_STREAM | k.SOCK_NONBLOCK);
    expect(() => new k.AsyncConnection(loop, a)).toThrow(expect.objectContaining({ code: 'ERR_EPOLLKIT_LOOP_NOT_ATTACHED' }));
    k.close(a);
    k.close(b);
  });

  it('reports a reset to the reader as the error', async () => {
    const loop = new k.EventLoop().attach();
    loops.push(loop);
    let readError: unknown;
    const done = new Promise<void>((resolve) => {
      const listener = new k.Listener(loop, (fd) => {
        listener.close();
        const conn = new k.AsyncConnection(loop, fd);
        (async () => {
          try {
            for await (const chunk of conn) void chunk;
          } catch (error) {
            readError = error;
          }
          resolve();
        })();
      });
      const s = net.connect(listener.port, '127.0.0.1', () => {
        s.write('hello');
        setTimeout(() => s.resetAndDestroy(), 10);
      });
      s.on('error', () => {});
    });
    await done;
    expect(readError).toMatchObject({ code: 'ECONNRESET' });
  });
});
