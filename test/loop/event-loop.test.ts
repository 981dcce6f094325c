// EventLoop: timers, callSoon, stop, abort, close, over every backend; the attached flavour beside
// Node's own timers and sockets.
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import * as k from '../../lib/index';
import { openFds } from '../helpers/proc';
import { backends } from './backends';

const loops: k.EventLoop[] = [];
afterEach(() => {
  for (const loop of loops.splice(0)) loop.close();
});

describe.each(backends)('$name loop', (backend) => {
  function make(options: Omit<k.EventLoopOptions, 'selector'> = {}): k.EventLoop {
    const loop = new k.EventLoop({ ...options, selector: backend.make() });
    loops.push(loop);
    return loop;
  }

  it('runs timers in deadline order, then creation order, and returns when idle', () => {
    const loop = make();
    const order: string[] = [];
    const t0 = performance.now(); // before the timers are set: their deadlines count from then
    loop.setTimeout(() => order.push('30'), 30);
    loop.setTimeout(() => order.push('10a'), 10);
    loop.setTimeout(() => order.push('10b'), 10);
    const cancelled = loop.setTimeout(() => order.push('never'), 5);
    loop.setTimeout(() => order.push('0'), 0);
    loop.clearTimer(cancelled);
    loop.run();
    expect(order).toEqual(['0', '10a', '10b', '30']);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(29);
    expect(loop.alive).toBe(false);
  });

  it('a timer that falls due while a round runs fires in the next round, without waiting for I/O', () => {
    const loop = make();
    const order: string[] = [];
    loop.setTimeout(() => {
      order.push('first');
      loop.setTimeout(() => order.push('second'), 0);
      const until = performance.now() + 3;
      while (performance.now() < until); // the round outlasts the time it started at
    }, 0);
    const t0 = performance.now();
    loop.runOnce(5000);
    loop.runOnce(5000);
    expect(order).toEqual(['first', 'second']);
    expect(performance.now() - t0).toBeLessThan(2500); // not the 5 s timeout: the due timer made it 0
  });

  it('repeats intervals until cleared, and stop() from a timer ends run()', () => {
    const loop = make();
    let ticks = 0;
    const interval = loop.setInterval(() => {
      ticks++;
      if (ticks < 3) return;
      loop.clearTimer(interval);
      // Stopped from a later timer, not from a fixed time: a loaded machine may run late ticks together.
      loop.setTimeout(() => loop.stop(), 5);
    }, 2);
    loop.setTimeout(() => {
      throw new Error('stop() did not stop the loop');
    }, 5000);
    loop.run();
    expect(ticks).toBe(3);
    expect(loop.alive).toBe(true); // the 5 s timer is still pending: stop, not idleness, ended run()
  });

  it('runs callSoon callbacks after the round, in order, and later rounds for ones they add', () => {
    const loop = make();
    const order: number[] = [];
    loop.callSoon(() => {
      order.push(1);
      loop.callSoon(() => order.push(3));
    });
    loop.callSoon(() => order.push(2));
    expect(loop.runOnce(0)).toBe(0);
    expect(order).toEqual([1, 2]);
    loop.runOnce(0);
    expect(order).toEqual([1, 2, 3]);
  });

  it('stops when its AbortSignal aborts', () => {
    const controller = new AbortController();
    const loop = make({ signal: controller.signal });
    const [a, b] = k.socketpair(k.AF_UNIX, k.SOCK_STREAM | k.SOCK_NONBLOCK);
    let reads = 0;
    loop.add(a, k.Interest.READABLE, () => {
      k.recv(a, Buffer.alloc(16));
      if (++reads === 2) controller.abort();
    });
    loop.add(b, 0, () => {});
    loop.setInterval(() => k.send(b, Buffer.from('x')), 1);
    loop.run();
    expect(reads).toBe(2);
    expect(controller.signal.aborted).toBe(true);
  });

  it('dispatches I/O to the handler with the key, and close() releases every fd it owns', () => {
    const before = openFds().size;
    const loop = make();
    const [a, b] = k.socketpair(k.AF_UNIX, k.SOCK_STREAM | k.SOCK_NONBLOCK);
    const [c, d] = k.socketpair(k.AF_UNIX, k.SOCK_STREAM | k.SOCK_NONBLOCK);
    const seen: number[] = [];
    loop.add(a, k.Interest.READABLE, (key) => {
      seen.push(key.fd);
      k.recv(a, Buffer.alloc(16));
    });
    loop.add(b, 0, () => {});
    let hookRan = false;
    loop.add(c, 0, () => {}, { close: () => ((hookRan = true), loop.remove(c), k.close(c)) });
    loop.add(d, 0, () => {}, { owned: false });
    k.send(b, Buffer.from('ping'));
    expect(loop.runOnce(1000)).toBe(1);
    expect(seen).toEqual([a]);
    loop.close();
    expect(hookRan).toBe(true);
    expect(() => loop.runOnce(0)).toThrow(expect.objectContaining({ code: 'ERR_EPOLLKIT_LOOP_CLOSED' }));
    expect(openFds().size).toBe(before + 1); // only d, which the loop did not own
    k.close(d);
  });

  it('time: one reading per round while its handlers run, the live clock between rounds', () => {
    const loop = make();
    const [a, b] = k.socketpair(k.AF_UNIX, k.SOCK_STREAM | k.SOCK_NONBLOCK);
    loop.add(b, 0, () => {});
    const seen: number[][] = [];
    loop.add(a, k.Interest.READABLE, () => {
      k.recv(a, Buffer.alloc(16));
      const first = loop.time;
      const spinUntil = loop.now() + 5;
      while (loop.now() < spinUntil); // a handler that takes 5 ms
      seen.push([first, loop.time, loop.now()]);
    });
    const before = loop.now();
    k.send(b, Buffer.from('ping'));
    loop.runOnce(1000);
    const [[first, later, now]] = seen;
    expect(first).toBeGreaterThanOrEqual(before);
    expect(later).toBe(first); // the round's reading, not a fresh one
    expect(now - first).toBeGreaterThanOrEqual(5);
    const outside = loop.time;
    expect(outside).toBeGreaterThanOrEqual(now); // between rounds: the live clock
  });
});

describe('attached loop', () => {
  it('runs beside Node timers and a Node net client', async () => {
    const loop = new k.EventLoop().attach();
    loops.push(loop);
    const server = new k.ReactorServer({ loop, protocol: k.echo });
    // Both timers must fire; which of them (or the echo) finishes first is not the point.
    const loopTimer = new Promise<void>((resolve) => loop.setTimeout(resolve, 5));
    const nodeTimer = new Promise((resolve) => setTimeout(resolve, 5));
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(server.port, '127.0.0.1', () => socket.end('hello attached loop'));
      let text = '';
      socket.on('data', (chunk) => (text += chunk));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });
    await Promise.all([nodeTimer, loopTimer]);
    expect(reply).toBe('hello attached loop');
    server.close();
  });

  it('refuses a backend without an fd to attach', () => {
    const loop = new k.EventLoop({ selector: new k.PollSelector() });
    loops.push(loop);
    expect(() => loop.attach()).toThrow(expect.objectContaining({ code: 'ERR_EPOLLKIT_ATTACH_NEEDS_EPOLL' }));
  });

  it('refuses run() while attached', () => {
    const loop = new k.EventLoop().attach();
    loops.push(loop);
    expect(() => loop.run()).toThrow(expect.objectContaining({ code: 'ERR_EPOLLKIT_LOOP_RUNNING' }));
  });
});

describe('attached loop teardown', () => {
  it('a closed loop leaves no Node timer behind, even after I/O arrived while a loop timer was pending', () => {
    // Regression: an I/O round used to forget (not clear) the Node timer standing for a 60 s loop timer,
    // which kept the process alive for the full minute after close().
    const script = `
      const k = require(${JSON.stringify(require('node:path').resolve(__dirname, '../../dist/index.js'))});
      const loop = new k.EventLoop().attach();
      const [a, b] = k.socketpair(k.AF_UNIX, k.SOCK_STREAM | k.SOCK_NONBLOCK);
      loop.setTimeout(() => {}, 60000);
      loop.add(a, k.Interest.READABLE, () => { k.recv(a, Buffer.alloc(8)); loop.close(); k.close(b); });
      k.send(b, Buffer.from('x'));
    `;
    const run = require('node:child_process').spawnSync(process.execPath, ['-e', script], { timeout: 20_000 });
    expect(run.signal).toBeNull();
    expect(run.status).toBe(0);
  });
});
