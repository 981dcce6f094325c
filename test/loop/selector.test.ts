// The Selector contract, the same suite over epoll LT, epoll ET, poll and select.
import { afterEach, describe, expect, it } from 'vitest';
import * as k from '../../lib/index';
import { backends } from './backends';

const fds: number[] = [];
const selectors: k.Selector[] = [];
afterEach(() => {
  for (const s of selectors.splice(0)) s.close();
  for (const fd of fds.splice(0)) k.close(fd);
});

function pair(): [number, number] {
  const p = k.socketpair(k.AF_UNIX, k.SOCK_STREAM | k.SOCK_NONBLOCK);
  fds.push(...p);
  return p;
}

describe.each(backends)('$name selector', (backend) => {
  function make<T>(): k.Selector<T> {
    const s = backend.make<T>();
    selectors.push(s as k.Selector);
    return s;
  }

  it('register, modify, unregister and the misuse codes', () => {
    const s = make<string>();
    const [a] = pair();
    const key = s.register(a, k.Interest.READABLE, 'first');
    expect(key).toMatchObject({ fd: a, interest: k.Interest.READABLE, data: 'first' });
    expect(s.size).toBe(1);
    expect(() => s.register(a, k.Interest.READABLE, 'again')).toThrow(expect.objectContaining({ code: 'ERR_EPOLLKIT_ALREADY_REGISTERED' }));
    expect(s.modify(a, k.Interest.WRITABLE, 'second')).toMatchObject({ interest: k.Interest.WRITABLE, data: 'second' });
    expect(s.unregister(a).fd).toBe(a);
    expect(s.size).toBe(0);
    expect(() => s.unregister(a)).toThrow(expect.objectContaining({ code: 'ERR_EPOLLKIT_NOT_REGISTERED' }));
    expect(() => s.modify(a, k.Interest.READABLE)).toThrow(expect.objectContaining({ code: 'ERR_EPOLLKIT_NOT_REGISTERED' }));
    s.close();
    expect(s.closed).toBe(true);
    expect(() => s.register(a, k.Interest.READABLE, 'x')).toThrow(expect.objectContaining({ code: 'ERR_EPOLLKIT_SELECTOR_CLOSED' }));
    expect(() => s.select(0)).toThrow(expect.objectContaining({ code: 'ERR_EPOLLKIT_SELECTOR_CLOSED' }));
  });

  it('reports readable and writable, and nothing for idle interest', () => {
    const s = make<string>();
    const [a, b] = pair();
    s.register(a, k.Interest.READABLE, 'a');
    expect(s.select(0)).toHaveLength(0);
    k.send(b, Buffer.from('x'));
    const ready = s.select(1000);
    expect(ready).toHaveLength(1);
    expect(ready[0]).toMatchObject({ fd: a, data: 'a', readable: true, writable: false });
    s.modify(a, k.Interest.WRITABLE);
    const w = s.select(1000);
    expect(w).toHaveLength(1);
    expect(w[0]).toMatchObject({ fd: a, writable: true });
    s.modify(a, k.Interest.READABLE | k.Interest.WRITABLE);
    const both = s.select(1000);
    expect(both[0]).toMatchObject({ readable: true, writable: true });
  });

  it('reports a peer that closed as hangup (or readable EOF on select)', () => {
    const s = make();
    const [a, b] = pair();
    s.register(a, k.Interest.READABLE, null);
    k.close(b);
    fds.splice(fds.indexOf(b), 1);
    const ready = s.select(1000);
    expect(ready).toHaveLength(1);
    if (backend.name === 'select') expect(ready[0].readable).toBe(true);
    else expect(ready[0].hangup).toBe(true);
    expect(k.recv(a, Buffer.alloc(8))).toBe(0);
  });

  it('reports a refused connection as error (or readable/writable on select)', () => {
    const s = make();
    // A listener that is closed before the connection completes yields ECONNREFUSED on the socket.
    const l = k.socket(k.AF_INET, k.SOCK_STREAM);
    k.bind(l, '127.0.0.1', 0);
    const port = k.getsockname(l).port!;
    k.close(l);
    const c = k.socket(k.AF_INET, k.SOCK_STREAM | k.SOCK_NONBLOCK);
    fds.push(c);
    const rc = k.connect(c, '127.0.0.1', port);
    expect(rc === -k.errno.EINPROGRESS || rc === 0).toBe(true);
    s.register(c, k.Interest.WRITABLE, null);
    const ready = s.select(1000);
    expect(ready).toHaveLength(1);
    if (backend.name === 'select') expect(ready[0].writable).toBe(true);
    else expect(ready[0].error).toBe(true);
    expect(k.getsockopt(c, k.SOL_SOCKET, k.SO_ERROR)).toBe(k.errno.ECONNREFUSED);
  });

  it('keeps per-round flags and drops keys unregistered between rounds', () => {
    const s = make<number>();
    const pairs = Array.from({ length: 8 }, () => pair());
    pairs.forEach(([a], i) => s.register(a, k.Interest.READABLE, i));
    for (const [, b] of pairs.slice(0, 4)) k.send(b, Buffer.from('x'));
    const ready = s.select(1000).map((key) => key.data).sort();
    expect(ready).toEqual([0, 1, 2, 3]);
    s.unregister(pairs[0][0]);
    for (const [a] of pairs.slice(1, 4)) k.recv(a, Buffer.alloc(8));
    expect(s.select(0)).toHaveLength(0);
  });
});

describe('level against edge', () => {
  it('level reports again while data waits; edge only on new arrivals', () => {
    for (const trigger of ['level', 'edge'] as const) {
      const s = new k.EpollSelector({ trigger });
      selectors.push(s);
      const [a, b] = pair();
      s.register(a, k.Interest.READABLE, null);
      k.send(b, Buffer.from('1'));
      k.send(b, Buffer.from('2'));
      expect(s.select(0)).toHaveLength(1);
      expect(s.select(0)).toHaveLength(trigger === 'level' ? 1 : 0);
    }
  });

  it('oneshot disarms until modify re-arms', () => {
    const s = new k.EpollSelector({ oneshot: true });
    selectors.push(s);
    const [a, b] = pair();
    s.register(a, k.Interest.READABLE, null);
    k.send(b, Buffer.from('1'));
    expect(s.select(0)).toHaveLength(1);
    expect(s.select(0)).toHaveLength(0);
    s.modify(a, k.Interest.READABLE);
    expect(s.select(0)).toHaveLength(1);
  });
});

describe('select limits', () => {
  it('serves fds up to 1023 and refuses the first beyond', () => {
    const s = new k.SelectSelector<number>();
    selectors.push(s);
    const registered: [number, number][] = [];
    let refused = 0;
    while (refused === 0) {
      const [a, b] = pair();
      try {
        s.register(a, k.Interest.READABLE, a);
        registered.push([a, b]);
      } catch (error) {
        expect(a).toBeGreaterThanOrEqual(k.FD_SETSIZE);
        expect((error as { code: string }).code).toBe('ERR_EPOLLKIT_FD_SETSIZE');
        refused++;
      }
    }
    const [highest, peer] = registered[registered.length - 1];
    expect(highest).toBeLessThan(k.FD_SETSIZE);
    expect(highest).toBeGreaterThan(1000);
    k.send(peer, Buffer.from('x'));
    const ready = s.select(1000);
    expect(ready.map((key) => key.fd)).toEqual([highest]);
  });
});
