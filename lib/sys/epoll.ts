/**
 * epoll(7): the raw calls, 1:1 with the kernel. No state and no policy; {@link EpollSelector} in
 * lib/loop builds on these.
 *
 * `epollWait` is hot-path: it returns a count, or `-errno` (`-EINTR` when a signal interrupted the wait;
 * wait again). `epollCreate1` and `epollCtl` are rare and throw a {@link SystemError}.
 * `EPOLLET` is bit 31: compare masks after `>>> 0`.
 * @module
 */
import { constant, native } from '../binding';
import '../errors';

/**
 * Creates an epoll instance (always `EPOLL_CLOEXEC`) and returns its fd.
 * @example
 * const epfd = epollCreate1();
 */
export const epollCreate1: (flags?: number) => number = native.epollCreate1;

/**
 * Adds, modifies or deletes interest in `fd`. `token` (default: `fd`) is what {@link epollWait} reports
 * for it; use it to index your own table. Throws: EEXIST on a second ADD, ENOENT on MOD/DEL of an fd not
 * registered, EINVAL for EPOLLEXCLUSIVE with MOD.
 * @example
 * epollCtl(epfd, EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLET);
 */
export const epollCtl: (epfd: number, op: number, fd: number, events?: number, token?: number) => void =
  native.epollCtl;

/**
 * Waits up to `timeoutMs` (-1: forever, 0: poll) and fills `events` with `(token, mask)` pairs, at most
 * `events.length / 2` of them. Returns the number of pairs, or `-errno`. One call crosses into native once
 * for the whole batch and allocates nothing.
 * @example
 * const events = new Int32Array(2 * 64);
 * const n = epollWait(epfd, events, 1000);
 * for (let i = 0; i < n; i++) handle(events[2 * i], events[2 * i + 1] >>> 0);
 */
export const epollWait: (epfd: number, events: Int32Array, timeoutMs?: number) => number = native.epollWait;

/**
 * {@link epollWait} and recv(2) in one crossing: after the wait, every ready fd whose byte in `prefetch`
 * (indexed by token, which must be the fd) is non-zero and whose event reports input or a hangup (EPOLLIN,
 * EPOLLHUP, EPOLLRDHUP) is read, at most `slot` bytes, into the next free part of `buffer`. `events` gets
 * four int32 per event: (token, mask, result, offset) — result is the recv's byte count or `-errno`, or
 * {@link EPOLL_NOT_READ} when the fd was not read (not asked, no input, or less than `slot` left in
 * `buffer`); the bytes are at `buffer[offset, offset + result)`. A result equal to `slot` may have left
 * bytes behind. Returns the number of events or `-errno`. With many busy connections one crossing replaces
 * one per request (a reactor's hot path; {@link EpollSelector} uses it).
 * @example
 * const n = epollWaitRecv(epfd, events, -1, prefetch, buffer, 65536);
 * for (let i = 0; i < n; i++) if (events[4 * i + 2] > 0) use(buffer.subarray(events[4 * i + 3], events[4 * i + 3] + events[4 * i + 2]));
 */
export const epollWaitRecv: (
  epfd: number,
  events: Int32Array,
  timeoutMs: number,
  prefetch: Uint8Array,
  buffer: Uint8Array,
  slot: number,
) => number = native.epollWaitRecv;

/**
 * {@link epollWaitRecv} with its three arrays fixed: the returned function takes `(epfd, timeoutMs, slot)`.
 * For a loop that waits every round: it skips reading three array arguments per call (most of the call's
 * own cost) and keeps the arrays alive itself. Never transfer (detach) a bound array's buffer.
 * @example
 * const wait = epollWaitRecvBind(events, prefetch, buffer);
 * const n = wait(epfd, -1, 65536);
 */
export const epollWaitRecvBind: (
  events: Int32Array,
  prefetch: Uint8Array,
  buffer: Uint8Array,
) => (epfd: number, timeoutMs: number, slot: number) => number = native.epollWaitRecvBind;

/** The result of an event {@link epollWaitRecv} did not read (INT32_MIN: no errno or count is that). */
export const EPOLL_NOT_READ = constant('EPOLL_NOT_READ');
export const EPOLL_CLOEXEC = constant('EPOLL_CLOEXEC');
export const EPOLL_CTL_ADD = constant('EPOLL_CTL_ADD');
export const EPOLL_CTL_MOD = constant('EPOLL_CTL_MOD');
export const EPOLL_CTL_DEL = constant('EPOLL_CTL_DEL');
export const EPOLLIN = constant('EPOLLIN');
export const EPOLLOUT = constant('EPOLLOUT');
export const EPOLLPRI = constant('EPOLLPRI');
export const EPOLLERR = constant('EPOLLERR');
export const EPOLLHUP = constant('EPOLLHUP');
export const EPOLLRDHUP = constant('EPOLLRDHUP');
/** Edge-triggered: report a change of state once; the reader must drain to EAGAIN. Bit 31 (unsigned). */
export const EPOLLET = constant('EPOLLET');
/** Disable the fd after one event; re-arm with EPOLL_CTL_MOD. */
export const EPOLLONESHOT = constant('EPOLLONESHOT');
/** Wake only one of the epoll instances waiting on a shared fd (ADD only; Linux 4.5). */
export const EPOLLEXCLUSIVE = constant('EPOLLEXCLUSIVE');
export const EPOLLWAKEUP = constant('EPOLLWAKEUP');
