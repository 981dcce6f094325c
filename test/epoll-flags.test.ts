// epoll flags and batching: ONESHOT re-arm, EXCLUSIVE (ADD only), RDHUP on a half-close, OUT, the token,
// EPOLLET as bit 31, a batch larger than the array, and 64 events in one call with exact counters.
import { describe, expect, it } from 'vitest';
import * as k from '../lib/index';
import { drain, fillUntilEagain, sendAll, tcpPair, unixPair, useFds } from './helpers/net';

const fds = useFds();
const events = new Int32Array(2 * 128);

function epoll(): number {
  return fds.track(k.epollCreate1());
}

/** The (token, mask) pairs of one wait with timeout `ms`, masks unsigned. */
function wait(epfd: number, ms = 0, out = events): [number, number][] {
  const n = k.epollWait(epfd, out, ms);
  if (n < 0) throw k.errnoError(n, 'epoll_wait');
  return Array.from({ length: n }, (_, i) => [out[2 * i], out[2 * i + 1] >>> 0]);
}

describe('EPOLLONESHOT', () => {
  it('reports once, then needs EPOLL_CTL_MOD to report again', () => {
    const [a, b] = unixPair(fds);
    const epfd = epoll();
    k.epollCtl(epfd, k.EPOLL_CTL_ADD, a, k.EPOLLIN | k.EPOLLONESHOT);
    expect(wait(epfd)).toEqual([]);
    sendAll(b, Buffer.from('one'));
    expect(wait(epfd)).toEqual([[a, k.EPOLLIN]]);
    expect(wait(epfd)).toEqual([]); // disabled, though level-triggered and still readable
    sendAll(b, Buffer.from('two'));
    expect(wait(epfd)).toEqual([]); // new data does not re-enable it either
    k.epollCtl(epfd, k.EPOLL_CTL_MOD, a, k.EPOLLIN | k.EPOLLONESHOT);
    expect(wait(epfd)).toEqual([[a, k.EPOLLIN]]); // re-armed: the pending bytes are reported at once
    expect(wait(epfd)).toEqual([]);
    expect(drain(a)).toBe(6);
    // A disabled fd is still registered: ADD again is EEXIST, MOD of an unknown fd is ENOENT.
    expect(() => k.epollCtl(epfd, k.EPOLL_CTL_ADD, a, k.EPOLLIN)).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(() => k.epollCtl(epfd, k.EPOLL_CTL_MOD, b, k.EPOLLIN)).toThrow(
      expect.objectContaining({ code: 'ENOENT', syscall: 'epoll_ctl', fd: b }),
    );
  });
});

describe('EPOLLEXCLUSIVE', () => {
  it('is accepted on ADD and reports readiness', () => {
    const [a, b] = unixPair(fds);
    const epfd = epoll();
    k.epollCtl(epfd, k.EPOLL_CTL_ADD, a, k.EPOLLIN | k.EPOLLEXCLUSIVE);
    sendAll(b, Buffer.from('x'));
    expect(wait(epfd)).toEqual([[a, k.EPOLLIN]]);
    k.epollCtl(epfd, k.EPOLL_CTL_DEL, a);
    expect(wait(epfd)).toEqual([]);
  });

  it('is rejected with EINVAL on MOD, with ONESHOT, and MOD of an exclusive fd is EINVAL', () => {
    const [a] = unixPair(fds);
    const [c] = unixPair(fds);
    const epfd = epoll();
    const einval = expect.objectContaining({ code: 'EINVAL', errno: -k.errno.EINVAL, syscall: 'epoll_ctl' });
    k.epollCtl(epfd, k.EPOLL_CTL_ADD, a, k.EPOLLIN);
    expect(() => k.epollCtl(epfd, k.EPOLL_CTL_MOD, a, k.EPOLLIN | k.EPOLLEXCLUSIVE)).toThrow(einval);
    expect(() => k.epollCtl(epfd, k.EPOLL_CTL_ADD, c, k.EPOLLIN | k.EPOLLEXCLUSIVE | k.EPOLLONESHOT)).toThrow(einval);
    k.epollCtl(epfd, k.EPOLL_CTL_ADD, c, k.EPOLLIN | k.EPOLLEXCLUSIVE);
    expect(() => k.epollCtl(epfd, k.EPOLL_CTL_MOD, c, k.EPOLLIN)).toThrow(einval);
  });
});

describe('EPOLLRDHUP', () => {
  it('is reported when the TCP peer half-closes, without EPOLLHUP', () => {
    const { client, server } = tcpPair(fds);
    const epfd = epoll();
    k.epollCtl(epfd, k.EPOLL_CTL_ADD, server, k.EPOLLIN | k.EPOLLRDHUP, 1);
    const plain = epoll(); // the same socket without RDHUP interest
    k.epollCtl(plain, k.EPOLL_CTL_ADD, server, k.EPOLLIN, 2);
    expect(wait(epfd)).toEqual([]);
    k.shutdown(client, k.SHUT_WR);
    expect(wait(epfd, 2000)).toEqual([[1, k.EPOLLIN | k.EPOLLRDHUP]]);
    expect(wait(plain)).toEqual([[2, k.EPOLLIN]]); // readable EOF, no RDHUP bit unless asked for
    expect(k.recv(server, Buffer.alloc(8))).toBe(0);
    // Closing our side too makes it a full hangup.
    k.shutdown(server, k.SHUT_WR);
    expect(wait(epfd)).toEqual([[1, k.EPOLLIN | k.EPOLLRDHUP | k.EPOLLHUP]]);
  });
});

describe('EPOLLOUT', () => {
  it('reports writability, stops when the send buffer is full, and comes back once the peer reads', () => {
    const [a, b] = unixPair(fds);
    const epfd = epoll();
    k.epollCtl(epfd, k.EPOLL_CTL_ADD, a, k.EPOLLOUT);
    expect(wait(epfd)).toEqual([[a, k.EPOLLOUT]]);
    expect(wait(epfd)).toEqual([[a, k.EPOLLOUT]]); // level-triggered: every time
    const queued = fillUntilEagain(a);
    expect(wait(epfd)).toEqual([]);
    expect(drain(b)).toBe(queued);
    expect(wait(epfd, 1000)).toEqual([[a, k.EPOLLOUT]]);
  });

  it('edge-triggered EPOLLOUT reports once until the buffer fills and drains again', () => {
    const [a, b] = unixPair(fds);
    const epfd = epoll();
    k.epollCtl(epfd, k.EPOLL_CTL_ADD, a, k.EPOLLOUT | k.EPOLLET);
    expect(wait(epfd)).toEqual([[a, k.EPOLLOUT]]);
    expect(wait(epfd)).toEqual([]);
    fillUntilEagain(a);
    drain(b);
    expect(wait(epfd, 1000)).toEqual([[a, k.EPOLLOUT]]);
  });
});

describe('token', () => {
  it('comes back from epollWait instead of the fd, and MOD can change it', () => {
    const [a, b] = unixPair(fds);
    const [c, d] = unixPair(fds);
    const epfd = epoll();
    k.epollCtl(epfd, k.EPOLL_CTL_ADD, a, k.EPOLLIN, 1000);
    k.epollCtl(epfd, k.EPOLL_CTL_ADD, c, k.EPOLLIN, -7); // any int32, negative too
    sendAll(b, Buffer.from('x'));
    sendAll(d, Buffer.from('y'));
    expect(wait(epfd).sort((x, y) => x[0] - y[0])).toEqual([
      [-7, k.EPOLLIN],
      [1000, k.EPOLLIN],
    ]);
    k.epollCtl(epfd, k.EPOLL_CTL_MOD, a, k.EPOLLIN, 0);
    k.epollCtl(epfd, k.EPOLL_CTL_DEL, c);
    expect(wait(epfd)).toEqual([[0, k.EPOLLIN]]);
    k.epollCtl(epfd, k.EPOLL_CTL_MOD, a, k.EPOLLIN); // no token: the fd again
    expect(wait(epfd)).toEqual([[a, k.EPOLLIN]]);
    expect(() => k.epollCtl(epfd, k.EPOLL_CTL_MOD, a, k.EPOLLIN, 2 ** 31)).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
    );
  });
});

describe('EPOLLET', () => {
  it('is bit 31: masks are compared after >>> 0, and both signed and unsigned forms are accepted', () => {
    expect(k.EPOLLET).toBe(2 ** 31);
    const signed = k.EPOLLIN | k.EPOLLET; // JS bitwise operators give int32: negative
    expect(signed).toBeLessThan(0);
    expect(signed >>> 0).toBe(k.EPOLLIN + k.EPOLLET);
    expect(signed & k.EPOLLET).toBe(-(2 ** 31)); // & gives an int32 again: the ET bit reads negative...
    expect((signed & k.EPOLLET) >>> 0).toBe(k.EPOLLET); // ...so normalise with >>> 0 before comparing
    for (const mask of [signed, signed >>> 0]) {
      const [a, b] = unixPair(fds);
      const epfd = epoll();
      k.epollCtl(epfd, k.EPOLL_CTL_ADD, a, mask);
      sendAll(b, Buffer.from('1'));
      expect(wait(epfd)).toEqual([[a, k.EPOLLIN]]); // the reported mask carries no ET bit
      expect(wait(epfd)).toEqual([]); // edge-triggered in both forms
      sendAll(b, Buffer.from('2'));
      expect(wait(epfd)).toEqual([[a, k.EPOLLIN]]);
    }
  });

  it('a mask beyond 32 bits is a RangeError, a non-number a TypeError', () => {
    const [a] = unixPair(fds);
    const epfd = epoll();
    expect(() => k.epollCtl(epfd, k.EPOLL_CTL_ADD, a, 2 ** 32)).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
    );
    expect(() => k.epollCtl(epfd, k.EPOLL_CTL_ADD, a, 'EPOLLIN' as unknown as number)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
  });
});

describe('batches', () => {
  function readyPairs(count: number, epfd: number, flags: number): number[] {
    const ready: number[] = [];
    for (let i = 0; i < count; i++) {
      const [a, b] = unixPair(fds);
      k.epollCtl(epfd, k.EPOLL_CTL_ADD, a, k.EPOLLIN | flags);
      sendAll(b, Buffer.from([i]));
      ready.push(a);
    }
    return ready;
  }

  it('more ready fds than the array holds: array/2 now, the rest on the next call (ET)', () => {
    const epfd = epoll();
    const ready = readyPairs(5, epfd, k.EPOLLET);
    const small = new Int32Array(5); // room for 2 pairs: an odd tail is not used
    small.fill(-99);
    const first = wait(epfd, 0, small);
    expect(first).toHaveLength(2);
    expect(small[4]).toBe(-99);
    const second = wait(epfd, 0, small);
    expect(second).toHaveLength(2);
    const third = wait(epfd, 0, small);
    expect(third).toHaveLength(1);
    expect(wait(epfd, 0, small)).toEqual([]);
    expect([...first, ...second, ...third].map(([fd]) => fd).sort()).toEqual([...ready].sort());
  });

  it('level-triggered: a full array rotates through every ready fd (no starvation)', () => {
    const epfd = epoll();
    const ready = readyPairs(5, epfd, 0);
    const small = new Int32Array(4);
    const seen = new Set<number>();
    for (let call = 0; call < 3; call++) {
      const got = wait(epfd, 0, small);
      expect(got).toHaveLength(2);
      for (const [fd] of got) seen.add(fd);
    }
    expect([...seen].sort()).toEqual([...ready].sort());
  });

  it('64 ready fds come back from one epollWait call, counted exactly', () => {
    const was = k.setCountersEnabled(true);
    try {
      const epfd = epoll();
      k.resetCounters();
      const ready = readyPairs(64, epfd, 0);
      expect(k.readCounters()).toMatchObject({ epollCtl: 64, send: 64, sendBytes: 64 });
      k.resetCounters();
      const got = wait(epfd, 0);
      const c = k.readCounters();
      expect(got).toHaveLength(64);
      expect(c.epollWait).toBe(1);
      expect(c.epollEvents).toBe(64);
      expect(new Set(got.map(([fd]) => fd))).toEqual(new Set(ready));
      expect(got.every(([, mask]) => mask === k.EPOLLIN)).toBe(true);
    } finally {
      k.setCountersEnabled(was);
    }
  });

  it('an array without room for one pair is a RangeError', () => {
    const epfd = epoll();
    expect(() => k.epollWait(epfd, new Int32Array(1), 0)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(k.epollWait(fds.track(k.eventfd()), events, 0)).toBe(-k.errno.EINVAL); // not an epoll fd
  });
});
