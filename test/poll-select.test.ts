// poll(2) over (fd, events, revents) triples, select(2) with its compaction contract, selectFds, the
// FD_SETSIZE guard, and one table of readiness taken three ways (poll, select, epoll) over the same sockets.
import { describe, expect, it } from 'vitest';
import * as k from '../lib/index';
import { fillUntilEagain, listenTcp, sendAll, tcpPair, unixPair, useFds, waitFor } from './helpers/net';

const fds = useFds();

/** MSG_OOB is 1 on Linux (asm-generic); the package does not export it. */
const MSG_OOB = 1;

/** A unix pair whose first end has `text` waiting to be read. */
function readablePair(text = 'data'): [number, number] {
  const [a, b] = unixPair(fds);
  sendAll(b, Buffer.from(text));
  return [a, b];
}

/**
 * An fd number that is not open but lies inside this process's fd table (select(2) silently ignores
 * numbers beyond the table): one end of a pair is closed while the other keeps the table that large.
 */
function closedFd(): number {
  const [gone] = fds.track(k.socketpair());
  fds.close(gone);
  return gone;
}

describe('poll', () => {
  it('fills revents in place for each (fd, events, revents) triple', () => {
    const [r] = readablePair();
    const [idle] = unixPair(fds);
    const [eof, gone] = unixPair(fds);
    fds.close(gone);
    const set = new Int32Array([
      r, k.POLLIN, -1,
      idle, k.POLLIN, -1,
      eof, k.POLLIN | k.POLLRDHUP, -1,
      idle, k.POLLOUT, -1,
      -1, k.POLLIN, -1, // a negative fd is skipped by the kernel: revents 0
    ]);
    expect(k.poll(set, 5, 0)).toBe(3);
    expect(set[2]).toBe(k.POLLIN);
    expect(set[5]).toBe(0);
    expect(set[8] & (k.POLLIN | k.POLLRDHUP | k.POLLHUP)).toBe(k.POLLIN | k.POLLRDHUP | k.POLLHUP);
    expect(set[11]).toBe(k.POLLOUT);
    expect(set[14]).toBe(0);
    // fd and events are left as they were
    expect([set[0], set[1], set[3], set[4]]).toEqual([r, k.POLLIN, idle, k.POLLIN]);
  });

  it('nfds limits the entries looked at and written; the default is every triple', () => {
    const [r] = readablePair();
    const set = new Int32Array([r, k.POLLIN, 0, r, k.POLLIN, 777]);
    expect(k.poll(set, 1, 0)).toBe(1);
    expect(set[2]).toBe(k.POLLIN);
    expect(set[5]).toBe(777); // beyond nfds: untouched
    expect(k.poll(set, undefined, 0)).toBe(2);
    expect(set[5]).toBe(k.POLLIN);
    expect(k.poll(new Int32Array(0), 0, 0)).toBe(0);
  });

  it('times out with 0 when nothing is ready, and POLLNVAL for an fd that is not open', () => {
    const [idle] = unixPair(fds);
    const set = new Int32Array([idle, k.POLLIN, 0]);
    expect(k.poll(set, 1, 20)).toBe(0);
    expect(set[2]).toBe(0);
    const bad = new Int32Array([closedFd(), k.POLLIN, 0]);
    expect(k.poll(bad, 1, 0)).toBe(1);
    expect(bad[2]).toBe(k.POLLNVAL);
  });

  it('counts one syscall per call', () => {
    const [r] = readablePair();
    k.resetCounters();
    k.poll(new Int32Array([r, k.POLLIN, 0]), 1, 0);
    k.poll(new Int32Array([r, k.POLLIN, 0]), 1, 0);
    expect(k.readCounters().poll).toBe(2);
  });

  it('argument errors: TypeError for a non-Int32Array, RangeError for nfds beyond the triples', () => {
    const [r] = readablePair();
    expect(() => k.poll([r, k.POLLIN, 0] as unknown as Int32Array, 1, 0)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
    expect(() => k.poll(new Uint32Array([r, k.POLLIN, 0]) as unknown as Int32Array, 1, 0)).toThrow(TypeError);
    expect(() => k.poll(new Int32Array([r, k.POLLIN, 0]), 2, 0)).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
    );
    expect(() => k.poll(new Int32Array([r, k.POLLIN, 0]), -1, 0)).toThrow(RangeError);
    expect(() => k.poll(new Int32Array([r, k.POLLIN, 0]), 1, '0' as unknown as number)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
  });
});

describe('select', () => {
  it('moves the ready fds of each array to its front, in order, and writes readyCounts', () => {
    const [r1] = readablePair('one');
    const [r2] = readablePair('two');
    const [idle1] = unixPair(fds);
    const [idle2] = unixPair(fds);
    const [full] = unixPair(fds);
    fillUntilEagain(full);
    const read = new Int32Array([idle1, r1, idle2, r2]);
    const write = new Int32Array([full, idle1]);
    const except = new Int32Array([idle2]);
    const counts = new Int32Array([-1, -1, -1]);
    expect(k.select(read, write, except, 0, counts)).toBe(3);
    expect([...counts]).toEqual([2, 1, 0]);
    expect([...read.subarray(0, 2)]).toEqual([r1, r2]);
    expect([...read.subarray(2)].sort()).toEqual([idle1, idle2].sort()); // the rest are still there
    expect([...write]).toEqual([idle1, full]);
    expect([...except]).toEqual([idle2]);
  });

  it('null sets count 0; nothing ready times out with 0', () => {
    const [idle] = unixPair(fds);
    const counts = new Int32Array([9, 9, 9]);
    expect(k.select(new Int32Array([idle]), null, null, 20, counts)).toBe(0);
    expect([...counts]).toEqual([0, 0, 0]);
    counts.fill(9);
    expect(k.select(null, new Int32Array([idle]), null, 0, counts)).toBe(1);
    expect([...counts]).toEqual([0, 1, 0]);
    k.resetCounters();
    expect(k.select(null, null, null, 0, counts)).toBe(0);
    expect(k.readCounters().select).toBe(1);
  });

  it('exceptFds reports TCP urgent data', () => {
    const { client, server } = tcpPair(fds);
    const counts = new Int32Array(3);
    expect(k.select(null, null, new Int32Array([server]), 0, counts)).toBe(0);
    expect(k.send(client, Buffer.from('!'), 0, 1, MSG_OOB)).toBe(1);
    expect(waitFor(server, k.POLLPRI) & k.POLLPRI).toBe(k.POLLPRI);
    expect(k.select(null, null, new Int32Array([server]), 0, counts)).toBe(1);
    expect(counts[2]).toBe(1);
  });

  it('selectFds returns the ready lists', () => {
    const [r] = readablePair();
    const [idle] = unixPair(fds);
    const [full] = unixPair(fds);
    fillUntilEagain(full);
    expect(k.selectFds([idle, r, full], [full, r, idle], [r], 0)).toEqual({
      read: [r],
      write: [r, idle],
      except: [],
    });
    expect(k.selectFds([], [], [], 0)).toEqual({ read: [], write: [], except: [] });
  });

  it('refuses fd 1024 and negative fds with ERR_EPOLLKIT_FD_SETSIZE, touching nothing', () => {
    expect(k.FD_SETSIZE).toBe(1024);
    const [r] = readablePair();
    const setsize = expect.objectContaining({ code: 'ERR_EPOLLKIT_FD_SETSIZE' });
    expect(() => k.selectFds([1024], [], [], 0)).toThrow(setsize);
    expect(() => k.selectFds([-1], [], [], 0)).toThrow(setsize);
    expect(() => k.selectFds([], [r, 5000], [], 0)).toThrow(setsize);
    expect(() => k.selectFds([], [], [2 ** 31 - 1], 0)).toThrow(setsize);
    expect(() => k.selectFds([1023 + 1], [], [], 0)).toThrow(RangeError);
    // A bad fd in the last set: the ready fd in the first is not moved, no count is written.
    const read = new Int32Array([0, r]);
    const counts = new Int32Array([7, 7, 7]);
    k.resetCounters();
    expect(() => k.select(read, null, new Int32Array([1024]), 0, counts)).toThrow(setsize);
    expect([...read]).toEqual([0, r]);
    expect([...counts]).toEqual([7, 7, 7]);
    expect(k.readCounters().select).toBe(0); // refused before the syscall
  });

  it('other errors: -EBADF from the kernel, TypeError and RangeError for the arguments', () => {
    const counts = new Int32Array(3);
    expect(k.select(new Int32Array([closedFd()]), null, null, 0, counts)).toBe(-k.errno.EBADF);
    expect(() => k.select([0] as unknown as Int32Array, null, null, 0, counts)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
    expect(() => k.select(null, null, null, 0, new Int32Array(2))).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
    );
    expect(() => k.select(null, null, null, 0, null as unknown as Int32Array)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
  });
});

describe('poll, select and epoll agree', () => {
  interface Row {
    readable: boolean;
    writable: boolean;
    except: boolean;
    hangup: boolean;
    rdhup: boolean;
  }

  it('on a table of sockets in different states', () => {
    // The sockets, each in one state.
    const sockets: Record<string, number> = {};
    sockets.readable = readablePair()[0];
    sockets.idle = unixPair(fds)[0];
    const [eof, gone] = unixPair(fds);
    fds.close(gone);
    sockets.peerClosed = eof;
    const [full] = unixPair(fds);
    fillUntilEagain(full);
    sockets.sendBufferFull = full;
    const listener = listenTcp(fds);
    const pending = fds.track(k.socket(k.AF_INET, k.SOCK_STREAM | k.SOCK_NONBLOCK));
    k.connect(pending, '127.0.0.1', listener.port);
    sockets.listenerWithPending = listener.fd;
    const urgent = tcpPair(fds);
    k.send(urgent.client, Buffer.from('!'), 0, 1, MSG_OOB);
    sockets.urgentData = urgent.server;
    const half = tcpPair(fds);
    k.shutdown(half.client, k.SHUT_WR);
    sockets.peerHalfClosed = half.server;
    // Loopback TCP delivers in softirq context: wait until every state has settled.
    waitFor(listener.fd, k.POLLIN);
    waitFor(urgent.server, k.POLLPRI);
    waitFor(half.server, k.POLLRDHUP);

    const names = Object.keys(sockets);
    const list = names.map((n) => sockets[n]);
    const wanted = k.POLLIN | k.POLLOUT | k.POLLPRI | k.POLLRDHUP;

    // poll
    const triples = new Int32Array(list.flatMap((fd) => [fd, wanted, 0]));
    expect(k.poll(triples, list.length, 0)).toBeGreaterThan(0);
    const pollMasks = list.map((_, i) => triples[3 * i + 2]);
    const fromMask = (m: number): Row => ({
      readable: (m & (k.POLLIN | k.POLLHUP | k.POLLERR)) !== 0, // select's read set, as fs/select.c defines it
      writable: (m & (k.POLLOUT | k.POLLERR)) !== 0,
      except: (m & k.POLLPRI) !== 0,
      hangup: (m & k.POLLHUP) !== 0,
      rdhup: (m & k.POLLRDHUP) !== 0,
    });
    const pollTable = Object.fromEntries(names.map((n, i) => [n, fromMask(pollMasks[i])]));

    // epoll (level-triggered, the same interest)
    const epfd = fds.track(k.epollCreate1());
    list.forEach((fd, i) => k.epollCtl(epfd, k.EPOLL_CTL_ADD, fd, k.EPOLLIN | k.EPOLLOUT | k.EPOLLPRI | k.EPOLLRDHUP, i));
    const events = new Int32Array(2 * list.length);
    const n = k.epollWait(epfd, events, 0);
    const epollMasks = list.map(() => 0);
    for (let j = 0; j < n; j++) epollMasks[events[2 * j]] = events[2 * j + 1] >>> 0;
    const epollTable = Object.fromEntries(names.map((name, i) => [name, fromMask(epollMasks[i])]));

    // select: no hangup or rdhup of its own
    const sel = k.selectFds(list, list, list, 0) as k.SelectResult;
    const selectTable = Object.fromEntries(
      names.map((name, i) => [
        name,
        {
          readable: sel.read.includes(list[i]),
          writable: sel.write.includes(list[i]),
          except: sel.except.includes(list[i]),
        },
      ]),
    );

    // The three agree...
    expect(epollMasks).toEqual(pollMasks); // same f_op->poll, same bits (POLLx === EPOLLx on Linux)
    expect(epollTable).toEqual(pollTable);
    const strip = (t: Record<string, Row>) =>
      Object.fromEntries(Object.entries(t).map(([name, r]) => [name, { readable: r.readable, writable: r.writable, except: r.except }]));
    expect(selectTable).toEqual(strip(pollTable));

    // ...and say what each state should be.
    expect(pollTable.readable).toEqual({ readable: true, writable: true, except: false, hangup: false, rdhup: false });
    expect(pollTable.idle).toEqual({ readable: false, writable: true, except: false, hangup: false, rdhup: false });
    expect(pollTable.peerClosed).toMatchObject({ readable: true, except: false, hangup: true, rdhup: true });
    expect(pollTable.sendBufferFull).toEqual({ readable: false, writable: false, except: false, hangup: false, rdhup: false });
    expect(pollTable.listenerWithPending).toEqual({ readable: true, writable: false, except: false, hangup: false, rdhup: false });
    expect(pollTable.urgentData).toMatchObject({ writable: true, except: true, hangup: false });
    expect(pollTable.peerHalfClosed).toEqual({ readable: true, writable: true, except: false, hangup: false, rdhup: true });
  });
});
