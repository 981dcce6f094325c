// The addon's syscall counters: read, reset, enable/disable, exact counts and bytes for each data call
// (failures included), EAGAIN counted once, and one set of counters per thread.
import { closeSync, openSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as k from '../lib/index';
import { listenTcp, recvExactly, startWorker, tempDir, unixPair, useFds } from './helpers/net';

const fds = useFds();

const NAMES: k.CounterName[] = [
  'epollWait',
  'epollEvents',
  'epollCtl',
  'accept4',
  'recv',
  'recvBytes',
  'send',
  'sendBytes',
  'recvfrom',
  'sendto',
  'writev',
  'sendfile',
  'sendfileBytes',
  'poll',
  'select',
  'eagain',
];
const zero = Object.fromEntries(NAMES.map((n) => [n, 0])) as k.Counters;

let wasEnabled: boolean;
beforeEach(() => {
  wasEnabled = k.setCountersEnabled(true);
  k.resetCounters();
});
afterEach(() => {
  k.setCountersEnabled(wasEnabled);
});

/** The counters that changed since the last reset (zeros left out). */
function changed(): Partial<k.Counters> {
  return Object.fromEntries(Object.entries(k.readCounters()).filter(([, v]) => v !== 0));
}

describe('counters', () => {
  it('names every counter; reset sets all to 0', () => {
    expect(k.COUNTER_NAMES).toEqual(NAMES);
    const [a] = unixPair(fds);
    k.send(a, Buffer.from('x'));
    expect(k.readCounters().send).toBe(1);
    k.resetCounters();
    expect(k.readCounters()).toEqual(zero);
  });

  it('recv and send: calls and bytes exact, EAGAIN counted as a call and an eagain', () => {
    const [a, b] = unixPair(fds);
    expect(k.send(a, Buffer.alloc(10))).toBe(10);
    expect(k.send(a, Buffer.alloc(100), 20, 30)).toBe(30);
    expect(k.send(a, Buffer.alloc(0))).toBe(0);
    const buf = Buffer.alloc(1000);
    expect(k.recv(b, buf, 0, 15)).toBe(15);
    expect(k.recv(b, buf)).toBe(25);
    expect(k.recv(b, buf)).toBe(-k.errno.EAGAIN);
    expect(changed()).toEqual({ send: 3, sendBytes: 40, recv: 3, recvBytes: 40, eagain: 1 });
  });

  it('failed calls count as calls, with no bytes; only EAGAIN counts as eagain', () => {
    const [a, b] = unixPair(fds);
    fds.close(b);
    expect(k.send(a, Buffer.alloc(5))).toBe(-k.errno.EPIPE);
    expect(k.recv(a, Buffer.alloc(5))).toBe(0);
    expect(changed()).toEqual({ send: 1, recv: 1 });
    // Argument errors are thrown before the syscall: nothing counted.
    expect(() => k.send(a, Buffer.alloc(5), 6)).toThrow(RangeError);
    expect(changed()).toEqual({ send: 1, recv: 1 });
  });

  it('accept4, eventfd and epoll EAGAINs and events', () => {
    const l = listenTcp(fds);
    expect(k.accept4(l.fd)).toBe(-k.errno.EAGAIN);
    const efd = fds.track(k.eventfd());
    expect(k.eventfdRead(efd)).toBe(-k.errno.EAGAIN);
    const epfd = fds.track(k.epollCreate1());
    k.epollCtl(epfd, k.EPOLL_CTL_ADD, efd, k.EPOLLIN);
    const events = new Int32Array(8);
    expect(k.epollWait(epfd, events, 0)).toBe(0);
    k.eventfdWrite(efd);
    expect(k.epollWait(epfd, events, 0)).toBe(1);
    expect(changed()).toEqual({ accept4: 1, eagain: 2, epollCtl: 1, epollWait: 2, epollEvents: 1 });
  });

  it('recvfrom, sendto, writev and sendfile count calls and bytes', () => {
    const u = fds.track(k.socket(k.AF_INET, k.SOCK_DGRAM | k.SOCK_NONBLOCK));
    k.bind(u, '127.0.0.1', 0);
    const port = k.getsockname(u).port;
    expect(k.sendto(u, Buffer.alloc(7), 0, 7, '127.0.0.1', port)).toBe(7);
    expect(k.recvfrom(u, Buffer.alloc(64), 0, 64, {})).toBe(7);
    expect(k.recvfrom(u, Buffer.alloc(64))).toBe(-k.errno.EAGAIN);
    const [a, b] = unixPair(fds);
    expect(k.writev(a, [Buffer.alloc(3), Buffer.alloc(4)])).toBe(7);
    const t = tempDir();
    try {
      const file = path.join(t.dir, 'f');
      writeFileSync(file, Buffer.alloc(1000, 1));
      const ffd = openSync(file, 'r');
      try {
        expect(k.sendfile(a, ffd, 100, 900)).toBe(900);
      } finally {
        closeSync(ffd);
      }
    } finally {
      t.remove();
    }
    expect(recvExactly(b, 907)).toHaveLength(907);
    const c = k.readCounters();
    // UDP bytes share the recv/send byte counters; writev's bytes count as sent bytes.
    expect(c).toMatchObject({ sendto: 1, recvfrom: 2, writev: 1, sendfile: 1, sendfileBytes: 900, eagain: 1 });
    expect(c.sendBytes).toBe(7 + 7);
    expect(c.recvBytes).toBe(7 + 907);
  });

  it('setCountersEnabled(false) stops counting and returns the previous setting', () => {
    const [a] = unixPair(fds);
    expect(k.setCountersEnabled(false)).toBe(true);
    k.send(a, Buffer.alloc(3));
    k.poll(new Int32Array([a, k.POLLOUT, 0]), 1, 0);
    expect(k.readCounters()).toEqual(zero);
    expect(k.setCountersEnabled(false)).toBe(false);
    expect(k.setCountersEnabled(true)).toBe(false);
    k.send(a, Buffer.alloc(3));
    expect(changed()).toEqual({ send: 1, sendBytes: 3 });
  });

  it('readCountersInto fills a Float64Array without allocating; other arrays are a TypeError', () => {
    const [a] = unixPair(fds);
    k.send(a, Buffer.alloc(9));
    const out = new Float64Array(k.COUNTER_NAMES.length);
    k.readCountersInto(out);
    expect(out[k.COUNTER_NAMES.indexOf('send')]).toBe(1);
    expect(out[k.COUNTER_NAMES.indexOf('sendBytes')]).toBe(9);
    const short = new Float64Array(2).fill(-1); // a shorter array gets the first counters only
    k.readCountersInto(short);
    expect([...short]).toEqual([0, 0]);
    expect(() => k.readCountersInto(new Float32Array(16) as unknown as Float64Array)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
  });

  it('are per thread: a worker starts from zero and its calls do not reach the main thread', async () => {
    const [a] = unixPair(fds);
    k.send(a, Buffer.alloc(11));
    k.send(a, Buffer.alloc(11));
    const before = k.readCounters();
    expect(before.send).toBe(2);
    const w = startWorker(`
      const atStart = k.readCounters();
      const [a, b] = k.socketpair(k.AF_UNIX, k.SOCK_STREAM | k.SOCK_NONBLOCK);
      k.send(a, Buffer.alloc(5));
      k.recv(b, Buffer.alloc(16));
      k.recv(b, Buffer.alloc(16));
      k.close(a);
      k.close(b);
      parentPort.postMessage({ atStart, after: k.readCounters() });
    `);
    const message = await w.firstMessage<{ atStart: k.Counters; after: k.Counters }>();
    const code = await w.exited();
    expect(w.errors).toEqual([]);
    expect(code).toBe(0);
    expect(message.atStart).toEqual(zero);
    expect(message.after).toEqual({ ...zero, send: 1, sendBytes: 5, recv: 2, recvBytes: 5, eagain: 1 });
    expect(k.readCounters()).toEqual(before); // the worker's calls were its own
  });
});
