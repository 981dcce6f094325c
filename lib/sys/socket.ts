/**
 * Sockets: socket(7), tcp(7), udp(7), unix(7), sendfile(2), eventfd(2). IPv4, IPv6 and AF_UNIX
 * (a path, or `'\0name'` in the abstract namespace).
 *
 * Hot path — returns a count or fd, or `-errno`, and never throws for EAGAIN: {@link accept4},
 * {@link recv}, {@link send}, {@link recvfrom}, {@link sendto}, {@link writev}, {@link sendfile},
 * {@link eventfdRead}, {@link eventfdWrite}, and {@link connect} for EINPROGRESS.
 * Everything else throws a {@link SystemError}. Every fd is created CLOEXEC; `send`/`sendto` always add
 * MSG_NOSIGNAL, so a vanished peer gives `-EPIPE` rather than a signal.
 * @module
 */
import { constant, native, type SocketAddress } from '../binding';
import '../errors';

export type { SocketAddress };

/**
 * Creates a socket (always CLOEXEC; add `SOCK_NONBLOCK` to `type` for a nonblocking one).
 * @example
 * const fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
 */
export const socket: (domain: number, type: number, protocol?: number) => number = native.socket;

/**
 * Binds to an address of the socket's own family: `('127.0.0.1', 7070)`, `('::1', 0)`, `('/tmp/s')`.
 * An IPv4 text on an AF_INET6 socket is used in its v4-mapped form. Throws EADDRINUSE and friends.
 * @example
 * bind(fd, '127.0.0.1', 0);
 */
export const bind: (fd: number, address: string, port?: number) => number = native.bind;

/**
 * Connects. On a nonblocking socket returns `-EINPROGRESS` (TCP) or `-EAGAIN` (AF_UNIX with a full
 * backlog): wait for writability, then read `SO_ERROR`. Returns 0 when connected at once; throws otherwise.
 * @example
 * if (connect(fd, '127.0.0.1', port) === -errno.EINPROGRESS) waitWritable(fd);
 */
export const connect: (fd: number, address: string, port?: number) => number = native.connect;

/**
 * Marks a socket as listening (backlog default 511, as Node's). Throws with the bound address in the message.
 * @example
 * listen(fd, 1024);
 */
export const listen: (fd: number, backlog?: number) => void = native.listen;

/**
 * Accepts one connection: the new fd (`flags` default SOCK_NONBLOCK; CLOEXEC is always added), or
 * `-errno` (`-EAGAIN` when the queue is empty, `-EMFILE` when out of fds). Pass `peer` to have the
 * client's address written into it.
 * @example
 * const peer: Partial<SocketAddress> = {};
 * const cfd = accept4(lfd, SOCK_NONBLOCK, peer);
 */
export const accept4: (fd: number, flags?: number, peer?: Partial<SocketAddress>) => number = native.accept4;

/**
 * Reads up to `length` bytes (default: the rest of the buffer after `offset`) into `buffer` at `offset`.
 * Returns the count (0 at end of stream) or `-errno`.
 * @example
 * const n = recv(fd, buf, 0, buf.length);
 */
export const recv: (fd: number, buffer: Uint8Array, offset?: number, length?: number, flags?: number) => number =
  native.recv;

/**
 * Writes from `buffer` (with MSG_NOSIGNAL). Returns the count — possibly short — or `-errno`.
 * @example
 * const n = send(fd, data, written, data.length - written);
 */
export const send: (fd: number, buffer: Uint8Array, offset?: number, length?: number, flags?: number) => number =
  native.send;

/**
 * Receives one datagram; `peer`, when given, receives the sender's address. Count or `-errno`.
 * @example
 * const from: Partial<SocketAddress> = {};
 * const n = recvfrom(fd, buf, 0, buf.length, from);
 */
export const recvfrom: (
  fd: number,
  buffer: Uint8Array,
  offset?: number,
  length?: number,
  peer?: Partial<SocketAddress>,
) => number = native.recvfrom;

/**
 * Sends one datagram to `address`/`port` (the family is read from the text). Count or `-errno`.
 * @example
 * sendto(fd, reply, 0, reply.length, from.address!, from.port);
 */
export const sendto: (
  fd: number,
  buffer: Uint8Array,
  offset: number | undefined,
  length: number | undefined,
  address: string,
  port?: number,
) => number = native.sendto;

/**
 * Writes several buffers in one syscall (at most IOV_MAX, 1024). Count (maybe short) or `-errno`.
 * @example
 * writev(fd, [header, body]);
 */
export const writev: (fd: number, buffers: readonly Uint8Array[]) => number = native.writev;

/**
 * send(2) for a batch, in one crossing: `list` holds four int32 per entry — (fd, offset, length, after) —
 * and each of the first `count` entries sends `buffer[offset, offset + length)` to its fd (MSG_NOSIGNAL),
 * its byte count or `-errno` written over `after`. `after` is -1, or the index of an earlier entry for the
 * same fd: unless that one was sent whole, this one is skipped with `-EAGAIN` (a short send is never
 * followed by a later part of the same stream). A negative fd (a cancelled entry) gives `-EBADF`, an entry
 * outside `buffer` `-EINVAL`.
 * @example
 * list.set([fd, 0, reply.length, -1], 0);
 * sendBatch(list, 1, reply); // list[3]: bytes sent or -errno
 */
export const sendBatch: (list: Int32Array, count: number, buffer: Uint8Array) => number = native.sendBatch;

/**
 * {@link sendBatch} with `list` and `buffer` fixed: the returned function takes `count`. For a loop that
 * flushes every round (see {@link epollWaitRecvBind}). Never transfer (detach) a bound array's buffer.
 * @example
 * const send = sendBatchBind(list, buffer);
 * send(count);
 */
export const sendBatchBind: (list: Int32Array, buffer: Uint8Array) => (count: number) => number = native.sendBatchBind;

/**
 * Copies `count` bytes of file `inFd` from `offset` to socket `outFd` in the kernel. The file position is
 * not moved. Count (maybe short; advance `offset` yourself) or `-errno`.
 * @example
 * offset += Math.max(0, sendfile(sock, file, offset, size - offset));
 */
export const sendfile: (outFd: number, inFd: number, offset: number, count: number) => number = native.sendfile;

/**
 * Shuts down reading (SHUT_RD), writing (SHUT_WR, the default: a half-close) or both.
 * @example
 * shutdown(fd, SHUT_WR);
 */
export const shutdown: (fd: number, how?: number) => void = native.shutdown;

/**
 * Closes an fd. Throws EBADF for an fd that is not open; EINTR counts as closed (close(2)).
 * @example
 * close(fd);
 */
export const close: (fd: number) => void = native.close;

/**
 * Sets an integer option (booleans become 0/1). For SO_LINGER the value is the linger time in seconds,
 * or -1 to turn it off.
 * @example
 * setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, 1);
 */
export const setsockopt: (fd: number, level: number, name: number, value: number | boolean) => void =
  native.setsockopt;

/**
 * Reads an integer option (SO_ERROR after a nonblocking connect, SO_RCVBUF...). SO_LINGER reads -1 when off.
 * @example
 * const err = getsockopt(fd, SOL_SOCKET, SO_ERROR);
 */
export const getsockopt: (fd: number, level: number, name: number) => number = native.getsockopt;

/**
 * The socket's local address.
 * @example
 * const { port } = getsockname(fd);
 */
export const getsockname: (fd: number) => SocketAddress = native.getsockname;

/**
 * The connected peer's address. Throws ENOTCONN when there is none.
 * @example
 * const { address, port } = getpeername(fd);
 */
export const getpeername: (fd: number) => SocketAddress = native.getpeername;

/**
 * A connected pair (default AF_UNIX, SOCK_STREAM; add SOCK_NONBLOCK to `type` for nonblocking ends).
 * @example
 * const [a, b] = socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK);
 */
export const socketpair: (domain?: number, type?: number) => [number, number] = native.socketpair;

/**
 * Whether O_NONBLOCK is set on the fd's open file description.
 * @example
 * getNonBlocking(fd); // true
 */
export const getNonBlocking: (fd: number) => boolean = native.getNonBlocking;

/**
 * Sets or clears O_NONBLOCK. The flag lives in the open file description, which a forked child shares
 * with its parent: never change it on an inherited fd.
 * @example
 * setNonBlocking(fd, true);
 */
export const setNonBlocking: (fd: number, on?: boolean) => void = native.setNonBlocking;

/**
 * Creates an eventfd (default EFD_NONBLOCK; always CLOEXEC): register it with a selector to let another
 * thread wake a loop blocked in a wait.
 * @example
 * const wake = eventfd();
 */
export const eventfd: (initval?: number, flags?: number) => number = native.eventfd;

/**
 * Reads and resets the eventfd counter (or takes 1 with EFD_SEMAPHORE): the value, or `-errno`.
 * @example
 * eventfdRead(wake);
 */
export const eventfdRead: (fd: number) => number = native.eventfdRead;

/**
 * Adds `value` (default 1) to the eventfd counter, from any thread: 0, or `-errno`.
 * @example
 * eventfdWrite(wake);
 */
export const eventfdWrite: (fd: number, value?: number) => number = native.eventfdWrite;

export const AF_INET = constant('AF_INET');
export const AF_INET6 = constant('AF_INET6');
export const AF_UNIX = constant('AF_UNIX');
export const SOCK_STREAM = constant('SOCK_STREAM');
export const SOCK_DGRAM = constant('SOCK_DGRAM');
export const SOCK_SEQPACKET = constant('SOCK_SEQPACKET');
export const SOCK_NONBLOCK = constant('SOCK_NONBLOCK');
export const SOCK_CLOEXEC = constant('SOCK_CLOEXEC');
export const SOL_SOCKET = constant('SOL_SOCKET');
export const IPPROTO_TCP = constant('IPPROTO_TCP');
export const IPPROTO_IPV6 = constant('IPPROTO_IPV6');
export const IPV6_V6ONLY = constant('IPV6_V6ONLY');
export const SO_REUSEADDR = constant('SO_REUSEADDR');
export const SO_REUSEPORT = constant('SO_REUSEPORT');
export const SO_RCVBUF = constant('SO_RCVBUF');
export const SO_SNDBUF = constant('SO_SNDBUF');
export const SO_KEEPALIVE = constant('SO_KEEPALIVE');
export const SO_LINGER = constant('SO_LINGER');
export const SO_ERROR = constant('SO_ERROR');
export const SO_TYPE = constant('SO_TYPE');
export const SO_DOMAIN = constant('SO_DOMAIN');
export const SO_RCVLOWAT = constant('SO_RCVLOWAT');
export const TCP_NODELAY = constant('TCP_NODELAY');
export const TCP_CORK = constant('TCP_CORK');
export const TCP_DEFER_ACCEPT = constant('TCP_DEFER_ACCEPT');
export const SHUT_RD = constant('SHUT_RD');
export const SHUT_WR = constant('SHUT_WR');
export const SHUT_RDWR = constant('SHUT_RDWR');
export const MSG_PEEK = constant('MSG_PEEK');
export const MSG_DONTWAIT = constant('MSG_DONTWAIT');
export const MSG_NOSIGNAL = constant('MSG_NOSIGNAL');
export const MSG_MORE = constant('MSG_MORE');
export const MSG_WAITALL = constant('MSG_WAITALL');
export const SOMAXCONN = constant('SOMAXCONN');
export const EFD_NONBLOCK = constant('EFD_NONBLOCK');
export const EFD_CLOEXEC = constant('EFD_CLOEXEC');
export const EFD_SEMAPHORE = constant('EFD_SEMAPHORE');
