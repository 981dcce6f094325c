/**
 * A blocking Transport: runs a sans-IO protocol synchronously over one socket, for code that owns its
 * thread and may not use Node's loop (a forked child). send(2), sendfile(2), poll(2), shutdown(2).
 * Every call has a deadline and nothing changes O_NONBLOCK: a forked child shares that flag with its parent.
 * @module
 */
import { errno, errnoError } from '../errors';
import type { CloseReason } from '../loop/connection';
import type { Protocol, Session, Transport } from '../protocols/protocol';
import { poll, POLLOUT } from '../sys/poll';
import { readSome, writeAll } from '../sys/process';
import * as sys from '../sys/socket';

/** Options of {@link BlockingTransport} and {@link serveBlocking}. */
export interface BlockingTransportOptions {
  /** The longest any one read or write may wait for the peer, in ms (default 30 s; -1: no limit). */
  ioTimeoutMs?: number;
  /** A point on the `performance.now()` clock no operation may pass (default: none). */
  deadline?: number;
  /** The session is a rehearsal, with no client (see `Transport.rehearsal`). */
  rehearsal?: boolean;
}

/** Options of {@link serveBlocking}. */
export interface ServeBlockingOptions extends BlockingTransportOptions {
  /** Size of one read (default 64 KiB). */
  readBufferSize?: number;
  /**
   * The buffer to read into (instead of allocating `readBufferSize` bytes): a forked child reads into one
   * its parent allocated, which costs it a page fault or two where a fresh 64 KiB malloc cost 15% of a
   * short session's time (issue 6).
   */
  buffer?: Buffer;
  /**
   * When the session closes while the peer is still sending, half-close and read (and drop) what it sends
   * for up to this long, or until it closes, before closing (default 2000 ms; 0: close at once). Closing
   * with unread input makes the kernel send a reset, which can destroy the last reply still in flight.
   */
  lingerMs?: number;
}

/** How a session served by {@link serveBlocking} ended. */
export interface BlockingOutcome {
  /** 'end' or 'local' when it ended normally; 'reset', 'read-timeout', 'idle-timeout' or 'error' otherwise. */
  reason: CloseReason;
  /** The I/O error that ended it, if any. */
  error?: Error;
  bytesRead: number;
  bytesWritten: number;
}

/**
 * Executes a session's actions at once, with blocking I/O: `write` returns when the kernel has taken every
 * byte, `sendFile` when the file range is sent (sendfile(2) in a loop, poll(2) for POLLOUT on EAGAIN),
 * `end` half-closes, `close` marks the session finished (the owner closes the fd), `setTimer` arms a timer
 * that {@link serveBlocking} runs between reads. Like the reactor's transport it never throws for the peer's
 * trouble: the first I/O error is kept in `error`, the transport closes, and later actions are ignored (a
 * `sendFile` still gets its `onDone(error)`).
 * @example
 * const t = new BlockingTransport(fd, { ioTimeoutMs: 5000 });
 * t.write(Buffer.from('hello\n'));
 * if (t.error) throw t.error; // ETIMEDOUT, EPIPE...
 */
export class BlockingTransport implements Transport {
  readonly fd: number;
  readonly rehearsal: boolean;
  bytesWritten = 0;
  readonly #ioTimeoutMs: number;
  readonly #deadline: number;
  #ended = false;
  #closed = false;
  #error: Error | undefined;
  #reason: CloseReason = 'local';
  #timerAt = Infinity;
  #onTimeout: (() => void) | undefined;
  #peer: string | undefined | null = null; // null: not looked up yet

  constructor(fd: number, options: BlockingTransportOptions = {}) {
    this.fd = fd;
    this.#ioTimeoutMs = options.ioTimeoutMs ?? 30_000;
    this.#deadline = options.deadline ?? Infinity;
    this.rehearsal = options.rehearsal ?? false;
  }

  /** True once the session called `close()` or an I/O error ended the connection. */
  get closed(): boolean {
    return this.#closed;
  }

  /** True once our side is half-closed. */
  get ended(): boolean {
    return this.#ended;
  }

  /** The I/O error that closed the transport. */
  get error(): Error | undefined {
    return this.#error;
  }

  /** Why it closed ('local' when the session closed it). */
  get reason(): CloseReason {
    return this.#reason;
  }

  /** The time the next blocking call may take: the I/O timeout, capped by the deadline (ETIMEDOUT once it passed). */
  timeout(syscall: string): number {
    if (this.#deadline === Infinity) return this.#ioTimeoutMs;
    const left = Math.floor(this.#deadline - performance.now());
    if (left <= 0) throw errnoError(-errno.ETIMEDOUT, syscall, { fd: this.fd });
    return this.#ioTimeoutMs < 0 ? left : Math.min(this.#ioTimeoutMs, left);
  }

  write(data: Uint8Array): void {
    if (this.#closed || this.#ended || data.length === 0) return;
    try {
      this.bytesWritten += writeAll(this.fd, data, 0, data.length, this.timeout('writeAll'));
    } catch (error) {
      this.fail(error as Error, 'write');
    }
  }

  sendFile(fd: number, offset: number, length: number, onDone?: (error?: Error) => void): void {
    if (this.#closed || this.#ended) return onDone?.(this.#error ?? new Error('connection closed'));
    const pollFds = new Int32Array([this.fd, POLLOUT, 0]);
    let error: Error | undefined;
    try {
      for (let end = offset + length; offset < end; ) {
        const n = sys.sendfile(this.fd, fd, offset, end - offset);
        if (n > 0) {
          offset += n;
          this.bytesWritten += n;
        } else if (n === 0) {
          // The file is shorter than promised: the peer would wait forever for the rest.
          throw new Error(`sendfile: file ended ${end - offset} bytes early`);
        } else if (n === -errno.EAGAIN) {
          const timeout = this.timeout('sendfile');
          pollFds[2] = 0;
          const ready = poll(pollFds, 1, timeout);
          if (ready === 0) throw errnoError(-errno.ETIMEDOUT, 'sendfile', { fd: this.fd });
          if (ready < 0 && ready !== -errno.EINTR) throw errnoError(ready, 'poll', { fd: this.fd });
        } else if (n !== -errno.EINTR) {
          throw errnoError(n, 'sendfile', { fd: this.fd });
        }
      }
    } catch (caught) {
      error = caught as Error;
      this.fail(error, 'write');
    }
    onDone?.(error);
  }

  end(): void {
    if (this.#closed || this.#ended) return;
    this.#ended = true;
    try {
      sys.shutdown(this.fd, sys.SHUT_WR);
    } catch (error) {
      this.fail(error as Error, 'write');
    }
  }

  close(): void {
    this.#closed = true;
  }

  /** The session's timer: {@link serveBlocking} caps each wait for input by it and runs it between reads. */
  setTimer(delayMs: number, onTimeout: () => void): void {
    this.#timerAt = performance.now() + Math.max(0, delayMs);
    this.#onTimeout = onTimeout;
  }

  clearTimer(): void {
    this.#timerAt = Infinity;
    this.#onTimeout = undefined;
  }

  /** Milliseconds until the session's timer is due (0 when due, Infinity when none is armed). */
  timerLeft(): number {
    return this.#onTimeout ? Math.max(0, this.#timerAt - performance.now()) : Infinity;
  }

  /** Runs the session's timer when it is due (or `force`d); returns whether it ran. */
  runTimer(force = false): boolean {
    const onTimeout = this.#onTimeout;
    if (!onTimeout || this.#closed || (!force && performance.now() < this.#timerAt)) return false;
    this.clearTimer();
    onTimeout();
    return true;
  }

  peerAddress(): string | undefined {
    if (this.#peer === null) {
      try {
        this.#peer = sys.getpeername(this.fd).address;
      } catch {
        this.#peer = undefined;
      }
    }
    return this.#peer;
  }

  /** Ends the transport with an I/O error (the first one wins). `during` says which kind of wait timed out. */
  fail(error: Error, during: 'read' | 'write'): void {
    if (this.#error) return;
    this.#error = error;
    this.#closed = true;
    const code = (error as { code?: string }).code;
    this.#reason =
      code === 'ECONNRESET' || code === 'EPIPE' ? 'reset'
      : code === 'ETIMEDOUT' ? (during === 'read' ? 'read-timeout' : 'idle-timeout')
      : 'error';
  }
}

/**
 * Serves one connection to its end on the calling thread: opens a session of `protocol`, feeds it what
 * readSome returns (each read waits at most `ioTimeoutMs`), executes its actions with a
 * {@link BlockingTransport}, and closes `fd` when the session closes (after a lingering close, see
 * `lingerMs`), the peer ends, or I/O fails. An exception thrown by the protocol propagates (after the fd is
 * closed); I/O errors are returned.
 * @example
 * // in a forked child:
 * const outcome = serveBlocking(fd, echo, { ioTimeoutMs: 30_000 });
 * _exit(outcome.error ? 1 : 0);
 */
export function serveBlocking(fd: number, protocol: Protocol, options: ServeBlockingOptions = {}): BlockingOutcome {
  const transport = new BlockingTransport(fd, options);
  const buffer = options.buffer ?? Buffer.allocUnsafe(options.readBufferSize ?? 64 * 1024);
  let bytesRead = 0;
  let peerEnded = false;
  let session: Session | undefined;
  try {
    session = protocol.open(transport);
    session.onOpen?.();
    while (!transport.closed && !peerEnded) {
      if (transport.runTimer()) continue;
      let n: number;
      let forTimer = false;
      try {
        // The session's timer caps the wait, so it runs on time even while the peer is silent.
        const io = transport.timeout('readSome');
        const left = Math.ceil(transport.timerLeft());
        forTimer = left !== Infinity && (io < 0 || left < io);
        n = readSome(fd, buffer, 0, buffer.length, forTimer ? left : io);
      } catch (error) {
        // Waited until the session's timer: the loop runs it (its clock and poll's may differ by a hair).
        if (forTimer && (error as { code?: string }).code === 'ETIMEDOUT') {
          if (transport.timerLeft() < 1) transport.runTimer(true);
          continue;
        }
        transport.fail(error as Error, 'read');
        break;
      }
      if (n === 0) {
        peerEnded = true;
        if (session.onEnd) session.onEnd();
        else transport.end();
      } else {
        bytesRead += n;
        session.onData(buffer.subarray(0, n));
      }
    }
    if (!peerEnded && !transport.error) linger(fd, buffer, transport, options.lingerMs ?? 2000);
  } finally {
    try {
      session?.onClose?.();
    } finally {
      sys.close(fd);
    }
  }
  const error = transport.error;
  const reason = error ? transport.reason : peerEnded ? 'end' : 'local';
  return { reason, error, bytesRead, bytesWritten: transport.bytesWritten };
}

// Lingering close (Apache's): our FIN first, then drain the peer's input until it closes or time is up.
function linger(fd: number, buffer: Buffer, transport: BlockingTransport, lingerMs: number): void {
  if (lingerMs <= 0) return;
  try {
    if (!transport.ended) sys.shutdown(fd, sys.SHUT_WR);
    const until = performance.now() + lingerMs;
    for (let drained = 0; drained < 1 << 20; ) {
      const io = transport.timeout('readSome');
      const left = Math.floor(until - performance.now());
      if (left <= 0) return;
      const n = readSome(fd, buffer, 0, buffer.length, io < 0 ? left : Math.min(left, io));
      if (n === 0) return;
      drained += n;
    }
  } catch {
    // timed out, or the peer reset: close now
  }
}
