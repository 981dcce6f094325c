// lib/sys/watch.ts: an epoll fd attached to Node's own loop (uv_poll_t). The callback runs beside Node's
// timers; close is idempotent; ref/unref after close is misuse; it works inside worker threads, and a
// worker or process that ends with a watch still open neither crashes nor leaks. A throwing callback is
// an uncaughtException (checked in child processes).
import { writeFileSync, openSync } from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import * as k from '../lib/index';
import { drain, lastJson, runNode, startWorker, tempDir, unixPair, useFds, within } from './helpers/net';

const fds = useFds();
const watches: k.Watch[] = [];
afterEach(() => {
  for (const w of watches.splice(0)) w.close(); // before useFds closes the fds they watch
});

/** libuv's UV_READABLE, the bit the callback receives. */
const UV_READABLE = 1;

function epollOn(fd: number, token: number): number {
  const epfd = fds.track(k.epollCreate1());
  k.epollCtl(epfd, k.EPOLL_CTL_ADD, fd, k.EPOLLIN, token);
  return epfd;
}

function track(w: k.Watch): k.Watch {
  watches.push(w);
  return w;
}

describe('watch in the main thread', () => {
  it('calls back when a socket in the epoll becomes readable, beside a Node setTimeout', async () => {
    const [a, b] = unixPair(fds);
    const epfd = epollOn(a, 77);
    const events = new Int32Array(2 * 8);
    const log: string[] = [];
    let calls = 0;
    let resolve!: (v: { uv: number; tokens: number[]; bytes: number }) => void;
    const fired = new Promise<{ uv: number; tokens: number[]; bytes: number }>((r) => (resolve = r));
    const w = track(
      k.watch(epfd, (uv) => {
        calls++;
        log.push('watch');
        const n = k.epollWait(epfd, events, 0);
        const tokens = Array.from({ length: n }, (_, i) => events[2 * i]);
        resolve({ uv, tokens, bytes: drain(a) });
      }),
    );
    expect(w.fd).toBe(epfd);
    expect(w.closed).toBe(false);
    setTimeout(() => {
      log.push('timer');
      k.send(b, Buffer.from('hello'));
    }, 10);
    const result = await within(fired, 'watch callback');
    expect(result).toEqual({ uv: UV_READABLE, tokens: [77], bytes: 5 });
    expect(log).toEqual(['timer', 'watch']);
    // Drained: no more calls until new data; after close, none at all.
    await sleep(20);
    expect(calls).toBe(1);
    w.close();
    expect(w.closed).toBe(true);
    k.send(b, Buffer.from('ignored'));
    await sleep(20);
    expect(calls).toBe(1);
  });

  it('is called again while the fd stays readable (level-triggered), until it is consumed', async () => {
    const [a, b] = unixPair(fds);
    const epfd = epollOn(a, a);
    k.send(b, Buffer.from('x'));
    let calls = 0;
    await within(new Promise<void>((resolve) => {
      track(
        k.watch(epfd, () => {
          if (++calls === 3) {
            drain(a); // consume: epoll's ready list empties, the epoll fd stops being readable
            resolve();
          }
        }),
      );
    }), 'three callbacks');
    await sleep(20);
    expect(calls).toBe(3);
  });

  it('close is idempotent; ref and unref after close throw ERR_EPOLLKIT_WATCH_CLOSED', () => {
    const [a] = unixPair(fds);
    const w = k.watch(epollOn(a, a), () => {});
    expect(w.unref()).toBe(w);
    expect(w.ref()).toBe(w);
    w.close();
    w.close();
    expect(w.closed).toBe(true);
    const closed = expect.objectContaining({ code: 'ERR_EPOLLKIT_WATCH_CLOSED' });
    expect(() => w.ref()).toThrow(closed);
    expect(() => w.unref()).toThrow(closed);
    expect(() => w.ref()).toThrow(k.EpollkitError);
  });

  it('errors: a regular file (EPERM), an fd already watched (EEXIST), bad arguments', () => {
    const t = tempDir();
    try {
      const file = path.join(t.dir, 'plain');
      writeFileSync(file, 'x');
      const ffd = fds.track(openSync(file, 'r'));
      expect(() => k.watch(ffd, () => {})).toThrow(
        expect.objectContaining({ code: 'EPERM', errno: -k.errno.EPERM, syscall: 'uv_poll_init', fd: ffd }),
      );
    } finally {
      t.remove();
    }
    const [a] = unixPair(fds);
    const epfd = epollOn(a, a);
    track(k.watch(epfd, () => {}));
    expect(() => k.watch(epfd, () => {})).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(() => k.watch(-1, () => {})).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => k.watch(epfd, 'callback' as unknown as () => void)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
  });
});

describe('watch in a worker thread', () => {
  it('works on the worker loop and posts a message', async () => {
    const w = startWorker(`
      const [a, b] = k.socketpair(k.AF_UNIX, k.SOCK_STREAM | k.SOCK_NONBLOCK);
      const epfd = k.epollCreate1();
      k.epollCtl(epfd, k.EPOLL_CTL_ADD, a, k.EPOLLIN, 4242);
      const events = new Int32Array(16);
      const w = k.watch(epfd, (uv) => {
        const n = k.epollWait(epfd, events, 0);
        const buf = Buffer.alloc(64);
        const got = k.recv(a, buf);
        w.close();
        k.close(epfd); k.close(a); k.close(b);
        parentPort.postMessage({ uv, n, token: events[0], text: buf.toString('utf8', 0, got) });
      });
      setTimeout(() => k.send(b, Buffer.from('from the worker')), 5);
    `);
    const message = await w.firstMessage();
    const code = await w.exited();
    const errors = w.errors;
    expect(message).toEqual({ uv: UV_READABLE, n: 1, token: 4242, text: 'from the worker' });
    expect(code).toBe(0);
    expect(errors).toEqual([]);
  });

  // The fds belong to the main thread (fds are per process): the worker only watches them, then ends
  // without closing its watch. The main thread checks it still works, and the leak check that nothing
  // of the worker's stays open.
  const ending: Record<string, { script: string; terminate?: boolean; exitCode: number }> = {
    'process.exit() right after starting the watch': {
      script: `k.watch(workerData.epfd, () => {}); process.exit(0);`,
      exitCode: 0,
    },
    'process.exit() inside the watch callback': {
      script: `k.watch(workerData.epfd, () => process.exit(3));`,
      exitCode: 3,
    },
    'the script ending while the watch is unref\u2019d': {
      script: `k.watch(workerData.epfd, () => {}).unref(); parentPort.postMessage('ready');`,
      exitCode: 0,
    },
    'worker.terminate() while the callback keeps firing': {
      script: `let calls = 0; k.watch(workerData.epfd, () => { if (++calls === 5) parentPort.postMessage('ready'); });`,
      terminate: true,
      exitCode: 1,
    },
  };

  for (const [name, { script, terminate, exitCode }] of Object.entries(ending)) {
    it(`a worker that ends by ${name} neither crashes nor leaks`, async () => {
      const [a, b] = unixPair(fds);
      const epfd = epollOn(a, 9);
      k.send(b, Buffer.from('pending')); // readable from the start: callbacks fire, and keep firing
      const w = startWorker(script, { epfd });
      if (terminate) {
        await w.firstMessage();
        await w.worker.terminate();
      }
      expect(await w.exited()).toBe(exitCode);
      expect(w.errors).toEqual([]);
      // The main thread's epoll and sockets are untouched and still work.
      const events = new Int32Array(4);
      expect(k.epollWait(epfd, events, 0)).toBe(1);
      expect(events[0]).toBe(9);
      expect(drain(a)).toBe(7);
      // And a watch on the same epoll fd works in the main thread afterwards.
      const fired = new Promise<void>((resolve) => track(k.watch(epfd, () => (drain(a), resolve()))));
      k.send(b, Buffer.from('again'));
      await within(fired, 'watch callback in the main thread');
    });
  }
});

describe('watch in a child process', () => {
  const setup = `
    const k = require(process.env.EPOLLKIT);
    const [a, b] = k.socketpair(k.AF_UNIX, k.SOCK_STREAM | k.SOCK_NONBLOCK);
    const epfd = k.epollCreate1();
    k.epollCtl(epfd, k.EPOLL_CTL_ADD, a, k.EPOLLIN);
    const cleanup = () => { w.close(); k.close(a); k.close(b); k.close(epfd); };
  `;

  it('a throwing callback becomes an uncaughtException, and the loop goes on', () => {
    const result = runNode(`
      ${setup}
      let calls = 0;
      const w = k.watch(epfd, () => {
        calls++;
        const e = new Error('thrown in the watch callback');
        e.code = 'EBOOM';
        throw e;
      });
      const caught = [];
      process.on('uncaughtException', (err, origin) => {
        caught.push({ code: err.code, origin });
        cleanup();
        setTimeout(() => console.log(JSON.stringify({ caught, calls, timerRan: true })), 10);
      });
      k.send(b, Buffer.from('x'));
    `);
    expect(result.status, result.stderr).toBe(0);
    expect(lastJson(result.stdout)).toEqual({
      caught: [{ code: 'EBOOM', origin: 'uncaughtException' }],
      calls: 1,
      timerRan: true,
    });
  });

  it('without a handler the throw ends the process like any uncaught exception (exit code 1)', () => {
    const result = runNode(`
      ${setup}
      const w = k.watch(epfd, () => { console.log('called'); throw new Error('unhandled'); });
      k.send(b, Buffer.from('x'));
    `);
    expect(result.signal).toBeNull();
    expect(result.status).toBe(1);
    expect(result.stdout.trim()).toBe('called');
  });

  it('a ref\u2019d watch keeps the process alive; an unref\u2019d one does not', () => {
    // The timer is unref'd: it can only fire while something else keeps the loop alive.
    const script = (unref: boolean) => `
      ${setup}
      const w = k.watch(epfd, () => {});
      ${unref ? 'w.unref();' : ''}
      setTimeout(() => { console.log('alive'); cleanup(); }, 50).unref();
      process.on('exit', (code) => console.log('exit ' + code));
    `;
    const kept = runNode(script(false));
    expect(kept.status, kept.stderr).toBe(0);
    expect(kept.stdout.trim().split('\n')).toEqual(['alive', 'exit 0']);
    const let_go = runNode(script(true));
    expect(let_go.status, let_go.stderr).toBe(0);
    expect(let_go.signal).toBeNull();
    expect(let_go.stdout.trim().split('\n')).toEqual(['exit 0']); // left with the watch open, cleanly
  });
});
