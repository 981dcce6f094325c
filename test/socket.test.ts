// The socket layer against the kernel on loopback: creation and addresses, nonblocking connect and
// accept, data calls with offset/length, UDP over IPv4 and IPv6, AF_UNIX paths and the abstract
// namespace, writev, shutdown, options, sendfile, socketpair, O_NONBLOCK, eventfd, and the shape of
// every error (code, negative errno, syscall, address/port/fd).
import { randomBytes } from 'node:crypto';
import { openSync, readSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { constants } from 'node:os';
import * as path from 'node:path';
import { once } from 'node:events';
import { getSystemErrorMap } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import * as k from '../lib/index';
import {
  abstractName,
  acceptOne,
  drain,
  fillUntilEagain,
  lastJson,
  listenTcp,
  recvExactly,
  runNode,
  sendAll,
  sha256,
  tcpPair,
  tempDir,
  unixPair,
  useFds,
  waitFor,
  waitReadable,
} from './helpers/net';

const fds = useFds();
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanups.splice(0)) fn();
});
function temp(): string {
  const t = tempDir();
  cleanups.push(t.remove);
  return t.dir;
}

/** An fd number no process can have open (above RLIMIT_NOFILE). */
const NEVER_OPEN = 1_000_000;

describe('socket, bind, listen, accept4', () => {
  it('accepts without asking for the peer address, nonblocking by default', () => {
    const l = listenTcp(fds);
    expect(l.port).toBeGreaterThan(0);
    expect(k.getsockname(l.fd)).toEqual({ family: 'IPv4', address: '127.0.0.1', port: l.port });
    expect(k.accept4(l.fd)).toBe(-k.errno.EAGAIN); // nothing queued yet: a number, not a throw
    const c = fds.track(k.socket(k.AF_INET, k.SOCK_STREAM)); // blocking: connect completes in the call
    expect(k.connect(c, '127.0.0.1', l.port)).toBe(0);
    const s = fds.track(acceptOne(l.fd));
    expect(s).toBeGreaterThanOrEqual(0);
    expect(k.getNonBlocking(s)).toBe(true);
    expect(k.getsockopt(s, k.SOL_SOCKET, k.SO_TYPE)).toBe(k.SOCK_STREAM);
    expect(k.getsockopt(s, k.SOL_SOCKET, k.SO_DOMAIN)).toBe(k.AF_INET);
  });

  it('fills a peer object with family, address and port (IPv4, blocking accepted fd with flags 0)', () => {
    const l = listenTcp(fds);
    const c = fds.track(k.socket(k.AF_INET, k.SOCK_STREAM));
    k.connect(c, '127.0.0.1', l.port);
    const peer: Partial<k.SocketAddress> = {};
    const s = fds.track(acceptOne(l.fd, 0, peer));
    expect(peer).toEqual({ family: 'IPv4', address: '127.0.0.1', port: k.getsockname(c).port });
    expect(k.getNonBlocking(s)).toBe(false);
    expect(k.getpeername(s)).toEqual(peer);
  });

  it('fills a peer object for IPv6 (::1)', () => {
    const l = listenTcp(fds, '::1');
    expect(k.getsockname(l.fd)).toEqual({ family: 'IPv6', address: '::1', port: l.port });
    const c = fds.track(k.socket(k.AF_INET6, k.SOCK_STREAM));
    k.connect(c, '::1', l.port);
    const peer: Partial<k.SocketAddress> = {};
    fds.track(acceptOne(l.fd, k.SOCK_NONBLOCK, peer));
    expect(peer).toEqual({ family: 'IPv6', address: '::1', port: k.getsockname(c).port });
  });

  it('accept4 on a socket that is not listening returns -EINVAL', () => {
    const fd = fds.track(k.socket(k.AF_INET, k.SOCK_STREAM | k.SOCK_NONBLOCK));
    expect(k.accept4(fd)).toBe(-k.errno.EINVAL);
    expect(k.accept4(NEVER_OPEN)).toBe(-k.errno.EBADF);
  });

  it('socket() with a bad family throws EAFNOSUPPORT', () => {
    expect(() => k.socket(12345, k.SOCK_STREAM)).toThrow(
      expect.objectContaining({ code: 'EAFNOSUPPORT', syscall: 'socket' }),
    );
  });

  it('bind EADDRINUSE has Node-shaped fields and message', () => {
    const l = listenTcp(fds);
    const other = fds.track(k.socket(k.AF_INET, k.SOCK_STREAM));
    let err: k.SystemError | undefined;
    try {
      k.bind(other, '127.0.0.1', l.port);
    } catch (e) {
      err = e as k.SystemError;
    }
    expect(err).toBeInstanceOf(k.SystemError);
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({
      code: 'EADDRINUSE',
      errno: -k.errno.EADDRINUSE,
      syscall: 'bind',
      address: '127.0.0.1',
      port: l.port,
      fd: other,
    });
    expect(err!.errno).toBeLessThan(0);
    // The message is built the way Node builds its own (`listen EADDRINUSE: address already in use
    // 127.0.0.1:7070`), from Node's own errno table: checked once here, nowhere else.
    const [name, description] = getSystemErrorMap().get(err!.errno)!;
    expect(err!.message).toBe(`bind ${name}: ${description} 127.0.0.1:${l.port}`);
  });

  it('SO_REUSEPORT on both sockets lets two listeners share a port; SO_REUSEADDR alone does not', () => {
    const a = fds.track(k.socket(k.AF_INET, k.SOCK_STREAM | k.SOCK_NONBLOCK));
    k.setsockopt(a, k.SOL_SOCKET, k.SO_REUSEPORT, 1);
    k.setsockopt(a, k.SOL_SOCKET, k.SO_REUSEADDR, 1);
    k.bind(a, '127.0.0.1', 0);
    k.listen(a);
    const port = k.getsockname(a).port!;
    const onlyAddr = fds.track(k.socket(k.AF_INET, k.SOCK_STREAM));
    k.setsockopt(onlyAddr, k.SOL_SOCKET, k.SO_REUSEADDR, 1);
    expect(() => k.bind(onlyAddr, '127.0.0.1', port)).toThrow(expect.objectContaining({ code: 'EADDRINUSE' }));
    const b = fds.track(k.socket(k.AF_INET, k.SOCK_STREAM | k.SOCK_NONBLOCK));
    k.setsockopt(b, k.SOL_SOCKET, k.SO_REUSEPORT, 1);
    expect(k.bind(b, '127.0.0.1', port)).toBe(0);
    k.listen(b);
    expect(k.getsockname(b).port).toBe(port);
  });

  it('listen errors carry the bound address', () => {
    // Two sockets with SO_REUSEADDR may bind one port while neither listens; the second listen fails.
    const a = fds.track(k.socket(k.AF_INET, k.SOCK_STREAM));
    const b = fds.track(k.socket(k.AF_INET, k.SOCK_STREAM));
    k.setsockopt(a, k.SOL_SOCKET, k.SO_REUSEADDR, 1);
    k.setsockopt(b, k.SOL_SOCKET, k.SO_REUSEADDR, 1);
    k.bind(a, '127.0.0.1', 0);
    const port = k.getsockname(a).port;
    k.bind(b, '127.0.0.1', port);
    k.listen(a);
    expect(() => k.listen(b)).toThrow(
      expect.objectContaining({
        code: 'EADDRINUSE',
        errno: -k.errno.EADDRINUSE,
        syscall: 'listen',
        address: '127.0.0.1',
        port,
        fd: b,
      }),
    );
    // errno 95 (EOPNOTSUPP) is named ENOTSUP by libuv, as in Node's own errors.
    const udp = fds.track(k.socket(k.AF_INET, k.SOCK_DGRAM));
    k.bind(udp, '127.0.0.1', 0);
    expect(() => k.listen(udp)).toThrow(
      expect.objectContaining({
        code: 'ENOTSUP',
        errno: -k.errno.EOPNOTSUPP,
        syscall: 'listen',
        address: '127.0.0.1',
        port: k.getsockname(udp).port,
      }),
    );
    expect(() => k.listen(NEVER_OPEN)).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'listen' }));
  });

  it('ERR_INVALID_ADDRESS for address text that is not an address of the family', () => {
    const v4 = fds.track(k.socket(k.AF_INET, k.SOCK_STREAM));
    const v6 = fds.track(k.socket(k.AF_INET6, k.SOCK_STREAM));
    const un = fds.track(k.socket(k.AF_UNIX, k.SOCK_STREAM));
    const invalid = expect.objectContaining({ code: 'ERR_INVALID_ADDRESS' });
    expect(() => k.bind(v4, 'localhost', 0)).toThrow(invalid);
    expect(() => k.bind(v4, '256.1.1.1', 0)).toThrow(invalid);
    expect(() => k.bind(v4, '::1', 0)).toThrow(invalid);
    expect(() => k.bind(v4, '127.0.0.1', 70000)).toThrow(invalid);
    expect(() => k.bind(v4, '127.0.0.1', -1)).toThrow(invalid);
    expect(() => k.connect(v6, 'fe80::zz', 80)).toThrow(invalid);
    expect(() => k.bind(un, '/' + 'x'.repeat(200))).toThrow(invalid);
    expect(() => k.bind(un, '')).toThrow(invalid);
    const udp = fds.track(k.socket(k.AF_INET, k.SOCK_DGRAM | k.SOCK_NONBLOCK));
    expect(() => k.sendto(udp, Buffer.from('x'), 0, 1, '1.2.3', 9)).toThrow(invalid);
    // A wrong type is a TypeError, not an address problem.
    expect(() => k.bind(v4, 127 as unknown as string, 0)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
    expect(() => k.bind(v4, '127.0.0.1', '80' as unknown as number)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
  });
});

describe('connect', () => {
  it('nonblocking: -EINPROGRESS, then writable with SO_ERROR 0', () => {
    const l = listenTcp(fds);
    const c = fds.track(k.socket(k.AF_INET, k.SOCK_STREAM | k.SOCK_NONBLOCK));
    expect(k.connect(c, '127.0.0.1', l.port)).toBe(-k.errno.EINPROGRESS);
    expect(waitFor(c, k.POLLOUT) & k.POLLOUT).toBe(k.POLLOUT);
    expect(k.getsockopt(c, k.SOL_SOCKET, k.SO_ERROR)).toBe(0);
    expect(k.getpeername(c)).toEqual({ family: 'IPv4', address: '127.0.0.1', port: l.port });
    fds.track(acceptOne(l.fd));
  });

  it('blocking connect to a port nobody listens on throws ECONNREFUSED with address and port', () => {
    // A bound but not listening socket holds the port, so nothing else can be listening there.
    const holder = fds.track(k.socket(k.AF_INET, k.SOCK_STREAM));
    k.bind(holder, '127.0.0.1', 0);
    const port = k.getsockname(holder).port;
    const c = fds.track(k.socket(k.AF_INET, k.SOCK_STREAM));
    expect(() => k.connect(c, '127.0.0.1', port)).toThrow(
      expect.objectContaining({
        code: 'ECONNREFUSED',
        errno: -k.errno.ECONNREFUSED,
        syscall: 'connect',
        address: '127.0.0.1',
        port,
        fd: c,
      }),
    );
  });

  it('nonblocking connect to a refused port reports ECONNREFUSED through SO_ERROR', () => {
    const holder = fds.track(k.socket(k.AF_INET, k.SOCK_STREAM));
    k.bind(holder, '127.0.0.1', 0);
    const port = k.getsockname(holder).port!;
    const c = fds.track(k.socket(k.AF_INET, k.SOCK_STREAM | k.SOCK_NONBLOCK));
    let refused: number;
    try {
      expect(k.connect(c, '127.0.0.1', port)).toBe(-k.errno.EINPROGRESS);
      waitFor(c, k.POLLOUT);
      refused = k.getsockopt(c, k.SOL_SOCKET, k.SO_ERROR);
    } catch (e) {
      refused = -(e as k.SystemError).errno; // the kernel may already know by the time connect returns
    }
    expect(refused).toBe(k.errno.ECONNREFUSED);
  });
});

describe('recv and send', () => {
  it('honour offset and length on both sides', () => {
    const [a, b] = unixPair(fds);
    const out = Buffer.from('0123456789abcdef');
    expect(k.send(a, out, 3, 5)).toBe(5); // "34567"
    expect(k.send(a, out, 14)).toBe(2); // length defaults to the rest: "ef"
    expect(k.send(a, out, 16)).toBe(0); // an empty tail is a zero-length send
    const into = Buffer.alloc(12, '.');
    expect(k.recv(b, into, 4, 3)).toBe(3);
    expect(into.toString()).toBe('....345.....');
    expect(k.recv(b, into, 10)).toBe(2); // "67", limited by the buffer's end
    expect(into.toString()).toBe('....345...67');
    expect(k.recv(b, into)).toBe(2);
    expect(into.subarray(0, 2).toString()).toBe('ef');
    expect(k.recv(b, into)).toBe(-k.errno.EAGAIN);
    k.close(fds.release(a));
    expect(k.recv(b, into)).toBe(0); // end of stream
  });

  it('accept any ArrayBufferView and MSG_PEEK leaves the bytes queued', () => {
    const [a, b] = unixPair(fds);
    expect(k.send(a, new Uint8Array([1, 2, 3, 4]))).toBe(4);
    const view = new Uint8Array(8);
    expect(k.recv(b, view, 0, 8, k.MSG_PEEK)).toBe(4);
    expect(k.recv(b, view, 4, 4)).toBe(4);
    expect([...view]).toEqual([1, 2, 3, 4, 1, 2, 3, 4]);
  });

  it('RangeError ERR_OUT_OF_RANGE for a bad offset or length', () => {
    const [a] = unixPair(fds);
    const buf = Buffer.alloc(8);
    const range = expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' });
    for (const [offset, length] of [
      [9, undefined],
      [-1, undefined],
      [0, 9],
      [4, 5],
      [0, -1],
      [1.5, 1],
      [0, 2.5],
      [NaN, 1],
      [0, Infinity],
    ] as const) {
      expect(() => k.send(a, buf, offset, length)).toThrow(RangeError);
      expect(() => k.send(a, buf, offset, length)).toThrow(range);
      expect(() => k.recv(a, buf, offset, length)).toThrow(range);
    }
    expect(() => k.recv(-1, buf)).toThrow(range);
    expect(() => k.recv(1.5, buf)).toThrow(range);
  });

  it('TypeError ERR_INVALID_ARG_TYPE for wrong types', () => {
    const [a] = unixPair(fds);
    const type = expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' });
    const anyRecv = k.recv as (...args: unknown[]) => number;
    const anySend = k.send as (...args: unknown[]) => number;
    expect(() => anyRecv(String(a), Buffer.alloc(4))).toThrow(TypeError);
    expect(() => anyRecv(String(a), Buffer.alloc(4))).toThrow(type);
    expect(() => anySend(a, 'text')).toThrow(type);
    expect(() => anySend(a, [1, 2, 3])).toThrow(type);
    expect(() => anySend(a, new ArrayBuffer(4))).toThrow(type);
    expect(() => anySend(a, Buffer.alloc(4), '1')).toThrow(type);
    expect(() => anySend(a, Buffer.alloc(4), 0, '1')).toThrow(type);
    expect(() => anySend(a, Buffer.alloc(4), 0, 4, 'flags')).toThrow(type);
    expect(() => anySend(undefined, Buffer.alloc(4))).toThrow(type);
  });

  it('a closed fd gives -EBADF, a non-socket -ENOTSOCK', () => {
    const buf = Buffer.alloc(4);
    expect(k.recv(NEVER_OPEN, buf)).toBe(-k.errno.EBADF);
    expect(k.send(NEVER_OPEN, buf)).toBe(-k.errno.EBADF);
    const efd = fds.track(k.eventfd());
    expect(k.send(efd, buf)).toBe(-k.errno.ENOTSOCK);
  });

  it('send to a closed peer gives -EPIPE (AF_UNIX) and after SHUT_WR (TCP)', () => {
    const [a, b] = unixPair(fds);
    k.close(fds.release(b));
    expect(k.send(a, Buffer.from('x'))).toBe(-k.errno.EPIPE);
    const { client } = tcpPair(fds);
    k.shutdown(client, k.SHUT_WR);
    expect(k.send(client, Buffer.from('x'))).toBe(-k.errno.EPIPE);
  });

  it('no SIGPIPE is raised by send or writev to a vanished peer (child process)', () => {
    // Node ignores SIGPIPE, which would hide a signal; a 'SIGPIPE' listener makes it observable.
    const result = runNode(`
      const k = require(process.env.EPOLLKIT);
      let signals = 0;
      process.on('SIGPIPE', () => signals++);
      const r = {};
      let [a, b] = k.socketpair(k.AF_UNIX, k.SOCK_STREAM | k.SOCK_NONBLOCK);
      k.close(b);
      r.send = k.send(a, Buffer.from('x'));
      setTimeout(() => {
        r.afterSend = signals;
        r.writev = k.writev(a, [Buffer.from('x'), Buffer.from('y')]);
        k.close(a);
        setTimeout(() => {
          r.afterWritev = signals - r.afterSend;
          console.log(JSON.stringify(r));
        }, 50);
      }, 50);
    `);
    expect(result.status, result.stderr).toBe(0);
    const r = lastJson<Record<string, number>>(result.stdout);
    expect(r.send).toBe(-k.errno.EPIPE);
    expect(r.afterSend).toBe(0);
    expect(r.writev).toBe(-k.errno.EPIPE);
    // writev(2) on a socket does not take MSG_NOSIGNAL: it must go through sendmsg(MSG_NOSIGNAL).
    expect(r.afterWritev, 'writev raised SIGPIPE').toBe(0);
  });
});

describe('UDP: recvfrom and sendto', () => {
  for (const [family, host, domain] of [
    ['IPv4', '127.0.0.1', k.AF_INET],
    ['IPv6', '::1', k.AF_INET6],
  ] as const) {
    it(`exchange datagrams over ${family} with the sender's address`, () => {
      const a = fds.track(k.socket(domain, k.SOCK_DGRAM | k.SOCK_NONBLOCK));
      const b = fds.track(k.socket(domain, k.SOCK_DGRAM | k.SOCK_NONBLOCK));
      k.bind(a, host, 0);
      k.bind(b, host, 0);
      const portA = k.getsockname(a).port!;
      const portB = k.getsockname(b).port!;
      const buf = Buffer.alloc(64);
      expect(k.recvfrom(b, buf)).toBe(-k.errno.EAGAIN);
      const payload = randomBytes(32);
      expect(k.sendto(a, payload, 8, 16, host, portB)).toBe(16);
      expect(k.sendto(a, payload, undefined, undefined, host, portB)).toBe(32);
      waitReadable(b);
      const from: Partial<k.SocketAddress> = {};
      expect(k.recvfrom(b, buf, 4, 60, from)).toBe(16); // one datagram per call: boundaries kept
      expect(sha256(buf.subarray(4, 20))).toBe(sha256(payload.subarray(8, 24)));
      expect(from).toEqual({ family, address: host, port: portA });
      expect(k.recvfrom(b, buf)).toBe(32); // without a peer object
      expect(sha256(buf.subarray(0, 32))).toBe(sha256(payload));
      // The reply goes back to the address recvfrom reported.
      expect(k.sendto(b, payload, 0, 3, from.address!, from.port)).toBe(3);
      waitReadable(a);
      const back: Partial<k.SocketAddress> = {};
      expect(k.recvfrom(a, buf, 0, 64, back)).toBe(3);
      expect(back).toEqual({ family, address: host, port: portB });
    });
  }

  it('recvfrom on a connected stream socket reports the connected peer or nothing, never garbage', () => {
    // Connection-mode sockets return no source address (addrlen 0): the storage must not be read then.
    const u = fds.track(k.socket(k.AF_INET, k.SOCK_DGRAM | k.SOCK_NONBLOCK));
    k.bind(u, '127.0.0.1', 0);
    const uport = k.getsockname(u).port!;
    const { client, server } = tcpPair(fds);
    const [a, b] = unixPair(fds);
    for (const [reader, writer] of [
      [server, client],
      [a, b],
    ]) {
      // A datagram first, so that a stale address would be on the native stack if it were reused.
      k.sendto(u, Buffer.from('d'), 0, 1, '127.0.0.1', uport);
      waitReadable(u);
      expect(k.recvfrom(u, Buffer.alloc(4), 0, 4, {})).toBe(1);
      sendAll(writer, Buffer.from('s'));
      waitReadable(reader);
      const from: Partial<k.SocketAddress> = {};
      expect(k.recvfrom(reader, Buffer.alloc(4), 0, 4, from)).toBe(1);
      if (Object.keys(from).length > 0) expect(from).toEqual(k.getpeername(reader));
    }
  });

  it('a datagram larger than the buffer is truncated to it', () => {
    const a = fds.track(k.socket(k.AF_INET, k.SOCK_DGRAM | k.SOCK_NONBLOCK));
    k.bind(a, '127.0.0.1', 0);
    const port = k.getsockname(a).port!;
    expect(k.sendto(a, Buffer.alloc(100, 7), 0, 100, '127.0.0.1', port)).toBe(100);
    waitReadable(a);
    expect(k.recvfrom(a, Buffer.alloc(10))).toBe(10);
    expect(k.recvfrom(a, Buffer.alloc(10))).toBe(-k.errno.EAGAIN); // the rest was discarded
  });

  it('sendto of a datagram larger than 64 KiB gives -EMSGSIZE', () => {
    const a = fds.track(k.socket(k.AF_INET, k.SOCK_DGRAM | k.SOCK_NONBLOCK));
    expect(k.sendto(a, Buffer.alloc(70_000), 0, 70_000, '127.0.0.1', 9)).toBe(-k.errno.EMSGSIZE);
  });
});

describe('AF_UNIX', () => {
  it('stream socket on a path in a temp dir', () => {
    const file = path.join(temp(), 's.sock');
    const l = fds.track(k.socket(k.AF_UNIX, k.SOCK_STREAM | k.SOCK_NONBLOCK));
    k.bind(l, file);
    k.listen(l);
    expect(k.getsockname(l)).toEqual({ family: 'unix', address: file });
    const c = fds.track(k.socket(k.AF_UNIX, k.SOCK_STREAM | k.SOCK_NONBLOCK));
    expect(k.connect(c, file)).toBe(0);
    const peer: Partial<k.SocketAddress> = {};
    const s = fds.track(acceptOne(l, k.SOCK_NONBLOCK, peer));
    expect(peer).toEqual({ family: 'unix', address: '' }); // an unbound client has no name
    expect(k.getpeername(c)).toEqual({ family: 'unix', address: file });
    const data = randomBytes(100_000);
    sendAll(c, data.subarray(0, 50_000));
    expect(sha256(recvExactly(s, 50_000))).toBe(sha256(data.subarray(0, 50_000)));
    sendAll(s, data.subarray(50_000));
    expect(sha256(recvExactly(c, 50_000))).toBe(sha256(data.subarray(50_000)));
  });

  it('path errors: EADDRINUSE on a taken path, ENOENT for a missing one', () => {
    const file = path.join(temp(), 'taken.sock');
    const l = fds.track(k.socket(k.AF_UNIX, k.SOCK_STREAM));
    k.bind(l, file);
    const again = fds.track(k.socket(k.AF_UNIX, k.SOCK_STREAM));
    expect(() => k.bind(again, file)).toThrow(
      expect.objectContaining({ code: 'EADDRINUSE', syscall: 'bind', address: file, fd: again }),
    );
    const missing = path.join(path.dirname(file), 'missing.sock');
    const c = fds.track(k.socket(k.AF_UNIX, k.SOCK_STREAM | k.SOCK_NONBLOCK));
    expect(() => k.connect(c, missing)).toThrow(
      expect.objectContaining({ code: 'ENOENT', syscall: 'connect', address: missing }),
    );
  });

  it('abstract namespace (\\0name)', () => {
    const name = abstractName();
    const l = fds.track(k.socket(k.AF_UNIX, k.SOCK_STREAM | k.SOCK_NONBLOCK));
    k.bind(l, name);
    k.listen(l);
    expect(k.getsockname(l)).toEqual({ family: 'unix', address: name });
    const c = fds.track(k.socket(k.AF_UNIX, k.SOCK_STREAM | k.SOCK_NONBLOCK));
    expect(k.connect(c, name)).toBe(0);
    const s = fds.track(acceptOne(l));
    expect(k.getpeername(c).address).toBe(name);
    sendAll(c, Buffer.from('abstract'));
    expect(recvExactly(s, 8).toString()).toBe('abstract');
    // Names are exact byte strings: a prefix is another name.
    const other = fds.track(k.socket(k.AF_UNIX, k.SOCK_STREAM | k.SOCK_NONBLOCK));
    expect(() => k.connect(other, name.slice(0, -1))).toThrow(expect.objectContaining({ code: 'ECONNREFUSED' }));
    const dup = fds.track(k.socket(k.AF_UNIX, k.SOCK_STREAM));
    expect(() => k.bind(dup, name)).toThrow(expect.objectContaining({ code: 'EADDRINUSE' }));
  });

  it('a nonblocking connect to a full AF_UNIX backlog returns -EAGAIN, and succeeds once one is accepted', () => {
    const name = abstractName();
    const l = fds.track(k.socket(k.AF_UNIX, k.SOCK_STREAM | k.SOCK_NONBLOCK));
    k.bind(l, name);
    k.listen(l, 0);
    const results: number[] = [];
    for (let i = 0; i < 8 && !results.includes(-k.errno.EAGAIN); i++) {
      results.push(k.connect(fds.track(k.socket(k.AF_UNIX, k.SOCK_STREAM | k.SOCK_NONBLOCK)), name));
    }
    expect(results[0]).toBe(0);
    expect(results[results.length - 1]).toBe(-k.errno.EAGAIN); // a number, not a throw
    fds.track(acceptOne(l));
    expect(k.connect(fds.track(k.socket(k.AF_UNIX, k.SOCK_STREAM | k.SOCK_NONBLOCK)), name)).toBe(0);
  });

  it('AF_UNIX datagrams by path with recvfrom/sendto', () => {
    const dir = temp();
    const pa = path.join(dir, 'a.sock');
    const pb = path.join(dir, 'b.sock');
    const a = fds.track(k.socket(k.AF_UNIX, k.SOCK_DGRAM | k.SOCK_NONBLOCK));
    const b = fds.track(k.socket(k.AF_UNIX, k.SOCK_DGRAM | k.SOCK_NONBLOCK));
    k.bind(a, pa);
    k.bind(b, pb);
    expect(k.sendto(a, Buffer.from('hello'), 0, 5, pb)).toBe(5);
    const from: Partial<k.SocketAddress> = {};
    const buf = Buffer.alloc(16);
    expect(k.recvfrom(b, buf, 0, 16, from)).toBe(5);
    expect(from).toEqual({ family: 'unix', address: pa });
    expect(k.sendto(a, Buffer.from('x'), 0, 1, path.join(dir, 'nobody.sock'))).toBe(-k.errno.ENOENT);
  });
});

describe('writev', () => {
  it('writes several buffers in one call', () => {
    const [a, b] = unixPair(fds);
    const parts = [randomBytes(10), Buffer.alloc(0), randomBytes(1000), new Uint8Array([1, 2, 3]), randomBytes(7)];
    const total = parts.reduce((n, p) => n + p.length, 0);
    k.resetCounters();
    expect(k.writev(a, parts)).toBe(total);
    expect(k.readCounters().writev).toBe(1);
    expect(sha256(recvExactly(b, total))).toBe(sha256(Buffer.concat(parts)));
    expect(k.writev(a, [])).toBe(0);
  });

  it('errors: types, more than IOV_MAX buffers, a closed fd', () => {
    const [a] = unixPair(fds);
    const anyWritev = k.writev as (...args: unknown[]) => number;
    expect(() => anyWritev(a, Buffer.from('x'))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => anyWritev(a, [Buffer.from('x'), 'y'])).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
    const many = Array.from({ length: 1025 }, () => Buffer.from('x'));
    expect(() => k.writev(a, many)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(k.writev(NEVER_OPEN, [Buffer.from('x')])).toBe(-k.errno.EBADF);
  });
});

describe('shutdown', () => {
  it('SHUT_WR half-closes: the peer reads 0 and can still answer', () => {
    const { client, server } = tcpPair(fds);
    sendAll(client, Buffer.from('last words'));
    k.shutdown(client); // SHUT_WR by default
    expect(recvExactly(server, 100).toString()).toBe('last words'); // stops at end of stream
    expect(k.recv(server, Buffer.alloc(4))).toBe(0);
    sendAll(server, Buffer.from('reply'));
    expect(recvExactly(client, 5).toString()).toBe('reply');
  });

  it('shutdown of an unconnected socket throws ENOTCONN', () => {
    const fd = fds.track(k.socket(k.AF_INET, k.SOCK_STREAM));
    expect(() => k.shutdown(fd)).toThrow(
      expect.objectContaining({ code: 'ENOTCONN', errno: -k.errno.ENOTCONN, syscall: 'shutdown', fd }),
    );
  });
});

describe('close', () => {
  it('closes, and throws EBADF for an fd that is not open', () => {
    const fd = k.socket(k.AF_INET, k.SOCK_STREAM);
    k.close(fd);
    expect(() => k.close(NEVER_OPEN)).toThrow(
      expect.objectContaining({ code: 'EBADF', errno: -k.errno.EBADF, syscall: 'close', fd: NEVER_OPEN }),
    );
    expect(() => k.close(-1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
  });
});

describe('socket options', () => {
  it('SO_REUSEADDR, SO_REUSEPORT, TCP_NODELAY, SO_KEEPALIVE: set, read back, clear', () => {
    const fd = fds.track(k.socket(k.AF_INET, k.SOCK_STREAM));
    for (const [level, name] of [
      [k.SOL_SOCKET, k.SO_REUSEADDR],
      [k.SOL_SOCKET, k.SO_REUSEPORT],
      [k.IPPROTO_TCP, k.TCP_NODELAY],
      [k.SOL_SOCKET, k.SO_KEEPALIVE],
    ]) {
      expect(k.getsockopt(fd, level, name)).toBe(0);
      k.setsockopt(fd, level, name, 1);
      expect(k.getsockopt(fd, level, name)).toBe(1);
      k.setsockopt(fd, level, name, false);
      expect(k.getsockopt(fd, level, name)).toBe(0);
      k.setsockopt(fd, level, name, true);
      expect(k.getsockopt(fd, level, name)).toBe(1);
    }
  });

  it('SO_RCVBUF and SO_SNDBUF read back doubled, as socket(7) says', () => {
    const fd = fds.track(k.socket(k.AF_INET, k.SOCK_STREAM));
    k.setsockopt(fd, k.SOL_SOCKET, k.SO_RCVBUF, 32768);
    k.setsockopt(fd, k.SOL_SOCKET, k.SO_SNDBUF, 32768);
    expect(k.getsockopt(fd, k.SOL_SOCKET, k.SO_RCVBUF)).toBe(65536);
    expect(k.getsockopt(fd, k.SOL_SOCKET, k.SO_SNDBUF)).toBe(65536);
  });

  it('SO_LINGER: -1 is off, seconds on; linger 0 makes close reset the connection', () => {
    const { client, server } = tcpPair(fds);
    expect(k.getsockopt(client, k.SOL_SOCKET, k.SO_LINGER)).toBe(-1);
    k.setsockopt(client, k.SOL_SOCKET, k.SO_LINGER, 5);
    expect(k.getsockopt(client, k.SOL_SOCKET, k.SO_LINGER)).toBe(5);
    k.setsockopt(client, k.SOL_SOCKET, k.SO_LINGER, -1);
    expect(k.getsockopt(client, k.SOL_SOCKET, k.SO_LINGER)).toBe(-1);
    k.setsockopt(client, k.SOL_SOCKET, k.SO_LINGER, 0);
    expect(k.getsockopt(client, k.SOL_SOCKET, k.SO_LINGER)).toBe(0);
    k.close(fds.release(client));
    waitReadable(server);
    expect(k.recv(server, Buffer.alloc(4))).toBe(-k.errno.ECONNRESET);
  });

  it('errors: ENOTSOCK, ENOPROTOOPT, ENOTSUP and argument types', () => {
    const efd = fds.track(k.eventfd());
    expect(() => k.setsockopt(efd, k.SOL_SOCKET, k.SO_REUSEADDR, 1)).toThrow(
      expect.objectContaining({ code: 'ENOTSOCK', syscall: 'setsockopt', fd: efd }),
    );
    expect(() => k.getsockopt(efd, k.SOL_SOCKET, k.SO_RCVBUF)).toThrow(
      expect.objectContaining({ code: 'ENOTSOCK', syscall: 'getsockopt', fd: efd }),
    );
    const fd = fds.track(k.socket(k.AF_INET, k.SOCK_STREAM));
    expect(() => k.getsockopt(fd, k.SOL_SOCKET, 9999)).toThrow(expect.objectContaining({ code: 'ENOPROTOOPT' }));
    const [u] = unixPair(fds);
    expect(() => k.setsockopt(u, k.IPPROTO_TCP, k.TCP_NODELAY, 1)).toThrow(
      expect.objectContaining({ code: 'ENOTSUP', errno: -k.errno.EOPNOTSUPP }),
    );
    expect(() => k.setsockopt(fd, k.SOL_SOCKET, k.SO_REUSEADDR, 'yes' as unknown as number)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
  });
});

describe('getsockname and getpeername', () => {
  it('agree across a connection', () => {
    const { client, server, port } = tcpPair(fds);
    expect(k.getpeername(client)).toEqual({ family: 'IPv4', address: '127.0.0.1', port });
    expect(k.getsockname(server)).toEqual({ family: 'IPv4', address: '127.0.0.1', port });
    expect(k.getpeername(server)).toEqual(k.getsockname(client));
  });

  it('unbound and unconnected sockets', () => {
    const fd = fds.track(k.socket(k.AF_INET6, k.SOCK_STREAM));
    expect(k.getsockname(fd)).toEqual({ family: 'IPv6', address: '::', port: 0 });
    expect(() => k.getpeername(fd)).toThrow(
      expect.objectContaining({ code: 'ENOTCONN', errno: -k.errno.ENOTCONN, syscall: 'getpeername', fd }),
    );
    const l = listenTcp(fds);
    expect(() => k.getpeername(l.fd)).toThrow(expect.objectContaining({ code: 'ENOTCONN' }));
    expect(() => k.getsockname(NEVER_OPEN)).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'getsockname' }));
  });

  it('an IPv4 address on an AF_INET6 socket is v4-mapped', () => {
    const fd = fds.track(k.socket(k.AF_INET6, k.SOCK_STREAM));
    k.bind(fd, '127.0.0.1', 0);
    expect(k.getsockname(fd)).toMatchObject({ family: 'IPv6', address: '::ffff:127.0.0.1' });
  });
});

describe('sendfile', () => {
  const size = 300_000;
  const offset = 12_345;

  function pump(out: number, sink: number, file: number, start: number, count: number): Buffer {
    const received: Buffer[] = [];
    let sent = 0;
    let got = 0;
    const buf = Buffer.alloc(64 * 1024);
    while (got < count) {
      if (sent < count) {
        const n = k.sendfile(out, file, start + sent, count - sent);
        if (n > 0) sent += n;
        else if (n !== -k.errno.EAGAIN) throw k.errnoError(n, 'sendfile');
      }
      const r = k.recv(sink, buf);
      if (r > 0) {
        received.push(Buffer.from(buf.subarray(0, r)));
        got += r;
      } else if (r === 0) {
        break;
      } else if (r === -k.errno.EAGAIN) {
        waitFor(sink, k.POLLIN, 50);
      } else {
        throw k.errnoError(r, 'recv');
      }
    }
    return Buffer.concat(received);
  }

  for (const kind of ['tcp', 'unix'] as const) {
    it(`sends a file from an offset through a ${kind} socket without moving its position`, () => {
      const data = randomBytes(size);
      const file = path.join(temp(), 'data.bin');
      writeFileSync(file, data);
      const ffd = fds.track(openSync(file, 'r'));
      const [out, sink] = kind === 'tcp' ? (({ client, server }) => [client, server])(tcpPair(fds)) : unixPair(fds);
      k.resetCounters();
      const got = pump(out, sink, ffd, offset, size - offset);
      expect(got.length).toBe(size - offset);
      expect(sha256(got)).toBe(sha256(data.subarray(offset)));
      const c = k.readCounters();
      expect(c.sendfileBytes).toBe(size - offset);
      expect(c.sendfile).toBeGreaterThanOrEqual(1);
      const head = Buffer.alloc(16);
      expect(readSync(ffd, head, 0, 16, null)).toBe(16); // reads at the file position, still 0
      expect(head.equals(data.subarray(0, 16))).toBe(true);
    });
  }

  it('past the end of file sends 0; errors are -errno or RangeError', () => {
    const file = path.join(temp(), 'small.bin');
    writeFileSync(file, 'abc');
    const ffd = fds.track(openSync(file, 'r'));
    const [a, b] = unixPair(fds);
    expect(k.sendfile(a, ffd, 3, 10)).toBe(0);
    expect(k.sendfile(a, ffd, 1, 10)).toBe(2);
    expect(recvExactly(b, 2).toString()).toBe('bc');
    expect(k.sendfile(a, b, 0, 10)).toBe(-constants.errno.ESPIPE); // a socket has no offset to read from
    expect(k.sendfile(a, NEVER_OPEN, 0, 10)).toBe(-k.errno.EBADF);
    expect(() => k.sendfile(a, ffd, -1, 10)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => k.sendfile(a, ffd, 0, -1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => k.sendfile(a, ffd, '0' as unknown as number, 1)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
  });
});

describe('socketpair, O_NONBLOCK, eventfd', () => {
  it('socketpair: AF_UNIX stream by default, blocking unless SOCK_NONBLOCK', () => {
    const [a, b] = fds.track(k.socketpair());
    expect(k.getsockopt(a, k.SOL_SOCKET, k.SO_DOMAIN)).toBe(k.AF_UNIX);
    expect(k.getsockopt(a, k.SOL_SOCKET, k.SO_TYPE)).toBe(k.SOCK_STREAM);
    expect(k.getNonBlocking(a)).toBe(false);
    expect(k.send(a, Buffer.from('ping'))).toBe(4);
    expect(recvExactly(b, 4).toString()).toBe('ping');
    const [c, d] = fds.track(k.socketpair(k.AF_UNIX, k.SOCK_DGRAM | k.SOCK_NONBLOCK));
    expect(k.getNonBlocking(c)).toBe(true);
    k.send(c, Buffer.from('one'));
    k.send(c, Buffer.from('three'));
    const buf = Buffer.alloc(16);
    expect(k.recv(d, buf)).toBe(3); // datagram boundaries kept
    expect(k.recv(d, buf)).toBe(5);
    expect(() => k.socketpair(k.AF_INET, k.SOCK_STREAM)).toThrow(
      expect.objectContaining({ code: 'ENOTSUP', syscall: 'socketpair' }),
    );
  });

  it('getNonBlocking/setNonBlocking toggle O_NONBLOCK; EBADF on a closed fd', () => {
    const fd = fds.track(k.socket(k.AF_INET, k.SOCK_STREAM));
    expect(k.getNonBlocking(fd)).toBe(false);
    k.setNonBlocking(fd);
    expect(k.getNonBlocking(fd)).toBe(true);
    k.setNonBlocking(fd, false);
    expect(k.getNonBlocking(fd)).toBe(false);
    k.setNonBlocking(fd, true);
    expect(k.getNonBlocking(fd)).toBe(true);
    expect(() => k.getNonBlocking(NEVER_OPEN)).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'fcntl' }));
    expect(() => k.setNonBlocking(NEVER_OPEN, true)).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });

  it('eventfd: writes add up, a read takes all, -EAGAIN when zero', () => {
    const fd = fds.track(k.eventfd());
    expect(k.getNonBlocking(fd)).toBe(true);
    expect(k.eventfdRead(fd)).toBe(-k.errno.EAGAIN);
    expect(k.eventfdWrite(fd)).toBe(0);
    expect(k.eventfdWrite(fd, 41)).toBe(0);
    expect(k.eventfdRead(fd)).toBe(42);
    expect(k.eventfdRead(fd)).toBe(-k.errno.EAGAIN);
    const sem = fds.track(k.eventfd(2, k.EFD_NONBLOCK | k.EFD_SEMAPHORE));
    expect(k.eventfdRead(sem)).toBe(1);
    expect(k.eventfdRead(sem)).toBe(1);
    expect(k.eventfdRead(sem)).toBe(-k.errno.EAGAIN);
    expect(() => k.eventfdWrite(fd, 0)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(k.eventfdRead(NEVER_OPEN)).toBe(-k.errno.EBADF);
    expect(() => k.eventfd(0, 0x7fff)).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'eventfd' }));
    expect(k.eventfdWrite(NEVER_OPEN)).toBe(-k.errno.EBADF);
  });

  it('an eventfd wakes poll', () => {
    const fd = fds.track(k.eventfd());
    expect(waitFor(fd, k.POLLIN, 0)).toBe(0);
    k.eventfdWrite(fd, 3);
    expect(waitFor(fd, k.POLLIN, 0) & k.POLLIN).toBe(k.POLLIN);
    expect(k.eventfdRead(fd)).toBe(3);
  });
});

describe('interop with Node streams', () => {
  it('an fd from accept4 works as a net.Socket', async () => {
    const l = listenTcp(fds);
    const client = net.connect(l.port, '127.0.0.1');
    try {
      await once(client, 'connect');
      const fd = fds.release(acceptOne(l.fd)); // the net.Socket owns it from here
      const server = new net.Socket({ fd, readable: true, writable: true });
      try {
        server.write('hello:'); // the accepted side speaks first...
        server.on('data', (chunk: Buffer) => server.write(chunk)); // ...then echoes
        const payload = randomBytes(6000);
        const reply = new Promise<Buffer>((resolve) => {
          const chunks: Buffer[] = [];
          let length = 0;
          client.on('data', (chunk: Buffer) => {
            chunks.push(chunk);
            length += chunk.length;
            if (length >= payload.length + 6) resolve(Buffer.concat(chunks));
          });
        });
        client.write(payload);
        expect(sha256(await reply)).toBe(sha256(Buffer.concat([Buffer.from('hello:'), payload])));
        expect(server.remotePort).toBe(client.localPort);
      } finally {
        const closed = once(server, 'close');
        server.destroy();
        await closed;
      }
    } finally {
      const closed = once(client, 'close');
      client.destroy();
      await closed;
    }
  });
});

// Keep the helpers' fill/drain honest too: they are used by other files.
describe('helpers', () => {
  it('fillUntilEagain fills the send buffer and drain empties it', () => {
    const [a, b] = unixPair(fds);
    const queued = fillUntilEagain(a);
    expect(queued).toBeGreaterThan(0);
    expect(k.send(a, Buffer.from('x'))).toBe(-k.errno.EAGAIN);
    expect(drain(b)).toBe(queued);
  });
});
