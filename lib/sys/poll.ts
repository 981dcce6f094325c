/**
 * poll(2) over a caller-owned Int32Array of `(fd, events, revents)` triples; the kernel's revents are
 * written back in place. Hot-path: returns the number of ready entries or `-errno`.
 * @module
 */
import { constant, native } from '../binding';
import '../errors';

/**
 * Waits up to `timeoutMs` for any of the first `nfds` triples (default: all of them).
 * @example
 * const fds = new Int32Array([fd, POLLIN, 0]);
 * if (poll(fds, 1, 100) > 0 && fds[2] & POLLIN) read();
 */
export const poll: (fds: Int32Array, nfds?: number, timeoutMs?: number) => number = native.poll;

export const POLLIN = constant('POLLIN');
export const POLLPRI = constant('POLLPRI');
export const POLLOUT = constant('POLLOUT');
export const POLLERR = constant('POLLERR');
export const POLLHUP = constant('POLLHUP');
export const POLLNVAL = constant('POLLNVAL');
export const POLLRDHUP = constant('POLLRDHUP');
