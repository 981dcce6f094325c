// epoll(7) on a socketpair: level- against edge-triggered, ONESHOT re-arm, EXCLUSIVE, and the errors.
import { afterEach, describe, expect, it } from 'vitest';
import * as k from '../lib/index';

const opened: number[] = [];
function track<T extends number | number[]>(fds: T): T {
  opened.push(...([] as number[]).concat(fds));
  return fds;
}
afterEach(() => {
  for (const fd of opened.splice(0)) k.close(fd);
});

function pair(): [number, number] {
  return track(k.socketpair(k.AF_UNIX, k.SOCK_STREAM | k.SOCK_NONBLOCK));
}

describe('epoll', () => {
  const events = new Int32Array(2 * 16);

  it('level-triggered reports readiness on every wait until drained', () => {
    const [a, b] = pair();
    const epfd = track(k.epollCreate1());
    k.epollCtl(epfd, k.EPOLL_CTL_ADD, a, k.EPOLLIN);
    k.send(b, Buffer.from('one'));
    k.send(b, Buffer.from('two'));
    expect(k.epollWait(epfd, events, 0)).toBe(1);
    expect(events[0]).toBe(a);
    expect(events[1] & k.EPOLLIN).toBe(k.EPOLLIN);
    expect(k.epollWait(epfd, events, 0)).toBe(1);
    const buf = Buffer.alloc(64);
    expect(k.recv(a, buf)).toBe(6);
    expect(k.epollWait(epfd, events, 0)).toBe(0);
  });

  it('edge-triggered reports once per new arrival', () => {
    const [a, b] = pair();
    const epfd = track(k.epollCreate1());
    k.epollCtl(epfd, k.EPOLL_CTL_ADD, a, k.EPOLLIN | k.EPOLLET);
    k.send(b, Buffer.from('one'));
    k.send(b, Buffer.from('two'));
    expect(k.epollWait(epfd, events, 0)).toBe(1);
    expect(k.epollWait(epfd, events, 0)).toBe(0); // bytes wait, but no new edge
    k.send(b, Buffer.from('three'));
    expect(k.epollWait(epfd, events, 0)).toBe(1);
    expect(k.recv(a, Buffer.alloc(64))).toBe(11);
    expect(k.recv(a, Buffer.alloc(64))).toBe(-k.errno.EAGAIN);
  });

  it('errors are Node-shaped', () => {
    const epfd = track(k.epollCreate1());
    const [a] = pair();
    k.epollCtl(epfd, k.EPOLL_CTL_ADD, a, k.EPOLLIN);
    expect(() => k.epollCtl(epfd, k.EPOLL_CTL_ADD, a, k.EPOLLIN)).toThrow(
      expect.objectContaining({ code: 'EEXIST', errno: -k.errno.EEXIST, syscall: 'epoll_ctl', fd: a }),
    );
    expect(() => k.epollCtl(epfd, k.EPOLL_CTL_MOD, 9999, k.EPOLLIN)).toThrow(expect.objectContaining({ code: 'EBADF' }));
    expect(() => k.epollWait(epfd, new Int32Array(1), 0)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => k.epollWait(epfd, [] as unknown as Int32Array, 0)).toThrow(TypeError);
  });
});
