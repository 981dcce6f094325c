/**
 * Errors, shaped like Node's own. A failed syscall is a {@link SystemError} with `code` (`'EADDRINUSE'`),
 * a negative `errno`, `syscall`, and `fd`/`address`/`port` where known; its message reads like Node's
 * (`listen EADDRINUSE: address already in use 127.0.0.1:7070`). Misuse of the API is an
 * {@link EpollkitError} with an `ERR_EPOLLKIT_*` code; a wrong argument is a TypeError with
 * `ERR_INVALID_ARG_TYPE`, an out-of-range one a RangeError with `ERR_OUT_OF_RANGE`.
 * Hot-path calls return `-errno` instead of throwing; {@link errnoError} turns one into an error.
 * @module
 */
import { constants } from 'node:os';
import { getSystemErrorMap, getSystemErrorName } from 'node:util';
import { native } from './binding';

/** A syscall failed. Test `code`, never the message. */
export class SystemError extends Error {
  /** The errno name, e.g. `'ECONNRESET'`. */
  declare readonly code: string;
  /** Negative, as in Node (`-104` for ECONNRESET). */
  declare readonly errno: number;
  declare readonly syscall: string;
  declare readonly fd?: number;
  declare readonly address?: string;
  declare readonly port?: number;

  constructor(message: string, code: string, errno: number, syscall: string) {
    super(message);
    Object.defineProperties(this, {
      code: { value: code, enumerable: true, writable: true, configurable: true },
      errno: { value: errno, enumerable: true, writable: true, configurable: true },
      syscall: { value: syscall, enumerable: true, writable: true, configurable: true },
    });
  }
}

/** The codes of API misuse. */
export type EpollkitErrorCode =
  | 'ERR_EPOLLKIT_FD_SETSIZE'
  | 'ERR_EPOLLKIT_WAITPID_PID'
  | 'ERR_EPOLLKIT_KILL_PID'
  | 'ERR_EPOLLKIT_WATCH_CLOSED'
  | 'ERR_EPOLLKIT_NO_LOOP'
  | 'ERR_EPOLLKIT_FORK_NOT_SINGLE_THREADED'
  | 'ERR_EPOLLKIT_FORK_WORKERS'
  | 'ERR_EPOLLKIT_SELECTOR_CLOSED'
  | 'ERR_EPOLLKIT_NOT_REGISTERED'
  | 'ERR_EPOLLKIT_ALREADY_REGISTERED'
  | 'ERR_EPOLLKIT_LOOP_CLOSED'
  | 'ERR_EPOLLKIT_LOOP_RUNNING'
  | 'ERR_EPOLLKIT_ATTACH_NEEDS_EPOLL'
  | 'ERR_EPOLLKIT_LOOP_NOT_ATTACHED'
  | 'ERR_EPOLLKIT_CONNECTION_CLOSED'
  | 'ERR_EPOLLKIT_NO_LISTENER'
  | 'ERR_INVALID_ADDRESS';

/** The API was misused (a closed handle, an fd select cannot hold, fork without --single-threaded...). */
export class EpollkitError extends Error {
  declare readonly code: EpollkitErrorCode | string;
  constructor(message: string, code: EpollkitErrorCode | string) {
    super(message);
    Object.defineProperty(this, 'code', { value: code, enumerable: true, writable: true, configurable: true });
  }
}

/** Attaches a `code` to a built-in error class (TypeError, RangeError), as Node's own ERR_* errors do. */
function withCode<E extends Error>(error: E, code: string): E & { code: string } {
  Object.defineProperty(error, 'code', { value: code, enumerable: true, writable: true, configurable: true });
  return error as E & { code: string };
}

/**
 * Builds the error a syscall would have thrown from the `-errno` a hot-path call returned.
 * @example
 * const n = recv(fd, buf);
 * if (n < 0 && n !== -errno.EAGAIN) throw errnoError(n, 'recv', { fd });
 */
export function errnoError(
  negativeErrno: number,
  syscall: string,
  extra: { fd?: number; address?: string; port?: number } = {},
): SystemError {
  const errno = negativeErrno < 0 ? negativeErrno : -negativeErrno;
  const known = getSystemErrorMap().get(errno);
  // libuv's table (which Node's names come from) lacks a few errnos, ECHILD among them: use the kernel's name.
  const code = known?.[0] ?? errnoNames.get(-errno) ?? getSystemErrorName(errno);
  const description = known?.[1] ?? 'system error';
  let where = '';
  if (extra.address !== undefined) where = ` ${extra.address}${extra.port !== undefined ? `:${extra.port}` : ''}`;
  const error = new SystemError(`${syscall} ${code}: ${description}${where}`, code, errno, syscall);
  Object.assign(error, extra);
  return error;
}

const errnoNames = new Map(Object.entries(constants.errno).map(([name, value]) => [value, name]));

/** Throws an {@link EpollkitError}; for misuse detected in TypeScript. */
export function misuse(code: EpollkitErrorCode, message: string): never {
  throw new EpollkitError(message, code);
}

native.setErrorFactories(
  (message, code, errno, syscall) => new SystemError(message, code, errno, syscall),
  (message, code, kind) =>
    kind === 'TypeError'
      ? withCode(new TypeError(message), code)
      : kind === 'RangeError'
        ? withCode(new RangeError(message), code)
        : new EpollkitError(message, code),
);

/** The errno values that hot-path calls return negated: `n === -errno.EAGAIN`. */
export const errno: Readonly<Record<string, number>> = native.errno;
