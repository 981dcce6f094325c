// epollWaitRecv and sendBatch, the addon's batch calls, on real sockets: which fds are read and where the
// bytes land, end of stream and resets, the slot and buffer limits; sends to several fds in one call, the
// chain that stops a stream after a short send, cancelled entries; argument errors.
import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import * as k from '../lib/index';
import { runNode, unixPair, useFds } from './helpers/net';

const fds = useFds();
const track = fds.track;
const pair = (): [number, number] => unixPair(fds);

/** (token, mask, result, offset) of each event, by token. */
function byToken(events: Int32Array, n: number): Map<number, { mask: number; result: number; offset: number }> {
  const out = new Map<number, { mask: number; result: number; offset: number }>();
  for (let i = 0; i < n; i++) out.set(events[4 * i], { mask: events[4 * i + 1], result: events[4 * i + 2], offset: events[4 * i + 3] });
  return out;
}

describe('epollWaitRecv', () => {
  const events = new Int32Array(4 * 16);
  const buffer = Buffer.alloc(1024);

  it('reads the ready fds that asked, each into its own part of the buffer; the others are left alone', () => {
    const epfd = track(k.epollCreate1());
    const [a, a2] = pair();
    const [b, b2] = pair();
    const [c, c2] = pair();
    for (const fd of [a, b, c]) k.epollCtl(epfd, k.EPOLL_CTL_ADD, fd, k.EPOLLIN);
    const prefetch = new Uint8Array(Math.max(a, b, c) + 1);
    prefetch[a] = prefetch[b] = 1; // c did not ask
    k.send(a2, Buffer.from('alpha'));
    k.send(b2, Buffer.from('bravo!'));
    k.send(c2, Buffer.from('charlie'));
    const n = k.epollWaitRecv(epfd, events, 0, prefetch, buffer, 256);
    expect(n).toBe(3);
    const got = byToken(events, n);
    expect(buffer.toString('latin1', got.get(a)!.offset, got.get(a)!.offset + got.get(a)!.result)).toBe('alpha');
    expect(buffer.toString('latin1', got.get(b)!.offset, got.get(b)!.offset + got.get(b)!.result)).toBe('bravo!');
    expect(got.get(c)!.result).toBe(k.EPOLL_NOT_READ);
    expect(got.get(a)!.offset).not.toBe(got.get(b)!.offset);
    // c's bytes are still in its socket; a's and b's are not.
    expect(k.recv(c, Buffer.alloc(64))).toBe(7);
    expect(k.recv(a, Buffer.alloc(64))).toBe(-k.errno.EAGAIN);
    expect(k.recv(b, Buffer.alloc(64))).toBe(-k.errno.EAGAIN);
  });

  it('reads at most `slot` bytes per fd, and none once less than a slot is left', () => {
    const epfd = track(k.epollCreate1());
    const pairs = [pair(), pair(), pair(), pair()];
    const prefetch = new Uint8Array(1024).fill(1);
    for (const [s, peer] of pairs) {
      k.epollCtl(epfd, k.EPOLL_CTL_ADD, s, k.EPOLLIN);
      k.send(peer, Buffer.alloc(300, 7));
    }
    // 1,024 bytes of buffer, slots of 400, 300 bytes waiting in each of 4 sockets: a read needs a slot free
    // and takes what it got, so 3 fds are read (300, 600, 900 used) and the fourth (124 left) is not.
    const n = k.epollWaitRecv(epfd, events, 0, prefetch, buffer, 400);
    expect(n).toBe(4);
    const results = [...byToken(events, n).values()].map((e) => e.result);
    expect(results.filter((r) => r === 300)).toHaveLength(3);
    expect(results.filter((r) => r === k.EPOLL_NOT_READ)).toHaveLength(1);
    // A slot smaller than what waits: a full slot, the rest stays in the socket.
    const [s, peer] = pair();
    const ep2 = track(k.epollCreate1());
    k.epollCtl(ep2, k.EPOLL_CTL_ADD, s, k.EPOLLIN);
    k.send(peer, Buffer.alloc(100));
    expect(k.epollWaitRecv(ep2, events, 0, prefetch, buffer, 64)).toBe(1);
    expect(events[2]).toBe(64);
    expect(k.recv(s, Buffer.alloc(200))).toBe(36);
  });

  it('reports end of stream as 0 and a reset as -ECONNRESET; an fd ready only for output is not read', async () => {
    const epfd = track(k.epollCreate1());
    const prefetch = new Uint8Array(4096).fill(1);
    const [a, peer] = pair();
    fds.close(peer);
    k.epollCtl(epfd, k.EPOLL_CTL_ADD, a, k.EPOLLIN | k.EPOLLRDHUP);
    expect(k.epollWaitRecv(epfd, events, 0, prefetch, buffer, 256)).toBe(1);
    expect(events[2]).toBe(0);

    // A TCP peer that resets (SO_LINGER 0).
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
    const fd = track(k.socket(k.AF_INET, k.SOCK_STREAM));
    k.connect(fd, '127.0.0.1', (server.address() as net.AddressInfo).port);
    const socket = await accepted;
    socket.resetAndDestroy();
    await new Promise((r) => setTimeout(r, 50));
    const ep2 = track(k.epollCreate1());
    k.epollCtl(ep2, k.EPOLL_CTL_ADD, fd, k.EPOLLIN);
    expect(k.epollWaitRecv(ep2, events, 0, prefetch, buffer, 256)).toBe(1);
    expect(events[2]).toBe(-k.errno.ECONNRESET);
    server.close();

    const [w] = pair();
    const ep3 = track(k.epollCreate1());
    k.epollCtl(ep3, k.EPOLL_CTL_ADD, w, k.EPOLLOUT);
    expect(k.epollWaitRecv(ep3, events, 0, prefetch, buffer, 256)).toBe(1);
    expect(events[2]).toBe(k.EPOLL_NOT_READ);
  });

  it('rejects bad arguments with Node-shaped errors', () => {
    const epfd = track(k.epollCreate1());
    const prefetch = new Uint8Array(16);
    expect(() => k.epollWaitRecv(epfd, new Int32Array(3), 0, prefetch, buffer, 64)).toThrow(RangeError);
    expect(() => k.epollWaitRecv(epfd, events, 0, prefetch, buffer, 0)).toThrow(RangeError);
    expect(() => k.epollWaitRecv(epfd, new Float64Array(8) as never, 0, prefetch, buffer, 64)).toThrow(TypeError);
    expect(() => k.epollWaitRecv(epfd, events, 0, [] as never, buffer, 64)).toThrow(TypeError);
    expect(k.epollWaitRecv(999_999, events, 0, prefetch, buffer, 64)).toBe(-k.errno.EBADF);
  });

  it('NOT_READ of the selector contract is the addon\'s constant', () => {
    expect(k.NOT_READ).toBe(k.EPOLL_NOT_READ);
  });
});

describe('sendBatch', () => {
  it('sends each entry to its fd in one call and reports the byte counts', () => {
    const [a, a2] = pair();
    const [b, b2] = pair();
    const buffer = Buffer.from('hello, world');
    const list = new Int32Array(4 * 4);
    list.set([a, 0, 5, -1, b, 7, 5, -1]);
    expect(k.sendBatch(list, 2, buffer)).toBe(2);
    expect([list[3], list[7]]).toEqual([5, 5]);
    const got = Buffer.alloc(16);
    expect(got.toString('latin1', 0, k.recv(a2, got))).toBe('hello');
    expect(got.toString('latin1', 0, k.recv(b2, got))).toBe('world');
  });

  it('stops a stream after a short send: the chained entry is skipped with -EAGAIN', () => {
    const [a, peer] = pair();
    k.setsockopt(a, k.SOL_SOCKET, k.SO_SNDBUF, 4096);
    const big = Buffer.alloc(1 << 20, 1);
    const list = new Int32Array(4 * 3);
    // Entry 0 cannot go whole into a 4 KiB send buffer; entry 1 follows it on the same fd; entry 2 is
    // cancelled (fd -1); entry 3 is outside the buffer.
    list.set([a, 0, 512 * 1024, -1, a, 512 * 1024, 1024, 0, -1, 0, 10, -1]);
    expect(k.sendBatch(list, 3, big)).toBe(3);
    expect(list[3]).toBeGreaterThan(0);
    expect(list[3]).toBeLessThan(512 * 1024);
    expect(list[7]).toBe(-k.errno.EAGAIN);
    expect(list[11]).toBe(-k.errno.EBADF);
    const out = new Int32Array([a, 1 << 20, 1, -1]);
    k.sendBatch(out, 1, big);
    expect(out[3]).toBe(-k.errno.EINVAL);
    // The peer holds exactly what entry 0 reported.
    let received = 0;
    for (let n; (n = k.recv(peer, big)) > 0; ) received += n;
    expect(received).toBe(list[3]);
  });

  it('rejects bad arguments with Node-shaped errors', () => {
    const list = new Int32Array(4);
    expect(() => k.sendBatch(list, 2, Buffer.alloc(1))).toThrow(RangeError);
    expect(() => k.sendBatch(list, -1, Buffer.alloc(1))).toThrow(RangeError);
    expect(() => k.sendBatch([] as never, 0, Buffer.alloc(1))).toThrow(TypeError);
    expect(() => k.sendBatch(list, 0, 'x' as never)).toThrow(TypeError);
    expect(k.sendBatch(list, 0, Buffer.alloc(1))).toBe(0);
  });
});

describe('the bound forms (epollWaitRecvBind, sendBatchBind): the same calls with their arrays fixed', () => {
  it('epollWaitRecvBind reads what epollWaitRecv reads, into the arrays it was bound to', () => {
    const epfd = track(k.epollCreate1());
    const [a, a2] = pair();
    const [b, b2] = pair();
    for (const fd of [a, b]) k.epollCtl(epfd, k.EPOLL_CTL_ADD, fd, k.EPOLLIN);
    const events = new Int32Array(4 * 8);
    const prefetch = new Uint8Array(Math.max(a, b) + 1);
    const buffer = Buffer.alloc(512);
    prefetch[a] = 1;
    const wait = k.epollWaitRecvBind(events, prefetch, buffer);
    expect([wait.name, Object.keys(wait)]).toEqual(['epollWaitRecv', ['events', 'prefetch', 'buffer']]);
    k.send(a2, Buffer.from('alpha'));
    k.send(b2, Buffer.from('bravo'));
    expect(wait(epfd, 0, 128)).toBe(2);
    const got = byToken(events, 2);
    expect(buffer.toString('latin1', got.get(a)!.offset, got.get(a)!.offset + got.get(a)!.result)).toBe('alpha');
    expect(got.get(b)!.result).toBe(k.EPOLL_NOT_READ);
    // The prefetch bytes are read at each call: b asks now and is read; nothing else is ready.
    prefetch[b] = 1;
    expect(wait(epfd, 0, 128)).toBe(1);
    expect(buffer.toString('latin1', events[3], events[3] + events[2])).toBe('bravo');
    expect(wait(epfd, 0, 128)).toBe(0);
    expect(wait(999_999, 0, 128)).toBe(-k.errno.EBADF);
  });

  it('sendBatchBind sends the first `count` entries of its list from its buffer', () => {
    const [a, a2] = pair();
    const [b, b2] = pair();
    const list = new Int32Array(4 * 4);
    const buffer = Buffer.from('hello, world');
    const send = k.sendBatchBind(list, buffer);
    list.set([a, 0, 5, -1, b, 7, 5, -1, -1, 0, 1, -1]);
    expect(send(3)).toBe(3);
    expect([list[3], list[7], list[11]]).toEqual([5, 5, -k.errno.EBADF]);
    const got = Buffer.alloc(16);
    expect(got.toString('latin1', 0, k.recv(a2, got))).toBe('hello');
    expect(got.toString('latin1', 0, k.recv(b2, got))).toBe('world');
    buffer.write('HELLO', 0, 'latin1'); // the bound buffer is read at each call, not copied at binding
    list.set([a, 0, 5, -1]);
    expect(send(1)).toBe(1);
    expect(got.toString('latin1', 0, k.recv(a2, got))).toBe('HELLO');
  });

  it('rejects bad arguments, at binding and at each call, with Node-shaped errors', () => {
    const prefetch = new Uint8Array(16);
    const buffer = Buffer.alloc(64);
    expect(() => k.epollWaitRecvBind(new Int32Array(3), prefetch, buffer)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => k.epollWaitRecvBind(new Float64Array(8) as never, prefetch, buffer)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => k.sendBatchBind(new Int32Array(4), 'x' as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    const wait = k.epollWaitRecvBind(new Int32Array(8), prefetch, buffer);
    const epfd = track(k.epollCreate1());
    expect(() => wait(epfd, 0, 0)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => wait('3' as never, 0, 64)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(wait(epfd, 0, 64)).toBe(0);
  });

  it('keeps its arrays alive: the caller may drop them and collect garbage (child process with --expose-gc)', () => {
    const script = `
      const k = require(process.env.EPOLLKIT);
      const [a, b] = k.socketpair(k.AF_UNIX, k.SOCK_STREAM | k.SOCK_NONBLOCK);
      const epfd = k.epollCreate1();
      k.epollCtl(epfd, k.EPOLL_CTL_ADD, a, k.EPOLLIN);
      let wait = k.epollWaitRecvBind(new Int32Array(8), new Uint8Array(64).fill(1), Buffer.alloc(4096));
      let send = k.sendBatchBind(new Int32Array([b, 0, 3, -1]), Buffer.from('abc'));
      for (let i = 0; i < 5; i++) { globalThis.gc(); new Array(1e5).fill({}); }
      for (let i = 0; i < 100; i++) {
        send.list[3] = -1; // the result of the last send is written over 'after'
        if (send(1) !== 1 || send.list[3] !== 3 || wait(epfd, 1000, 64) !== 1) throw new Error('round ' + i);
        if (wait.buffer.toString('latin1', wait.events[3], wait.events[3] + wait.events[2]) !== 'abc') throw new Error('bytes ' + i);
        globalThis.gc();
      }
      console.log('ok');
    `;
    const child = runNode(script, ['--expose-gc']);
    expect(child.stderr).toBe('');
    expect(child.stdout.trim()).toBe('ok');
  });
});
