/**
 * A listening TCP (or AF_UNIX) socket on an {@link EventLoop}: socket(2), bind(2), listen(2), and
 * accept4(2) in batches — until EAGAIN under edge-triggering (an edge is not repeated for connections
 * left in the queue), at most `acceptBatch` per readiness under level-triggering (the rest are reported
 * again, and other fds get their turn).
 *
 * Running out of fds (EMFILE/ENFILE) must not spin the loop: the pending connection stays in the queue
 * and keeps the listener readable. The listener closes a reserve fd to accept and close that one
 * connection cleanly (the client sees a close rather than a hang), reopens the reserve, and stops
 * accepting for `emfileBackoffMs` before trying again — the libev/nginx recipe. A listener shared with
 * other processes (`exclusive`: prefork workers) only stops accepting: another worker, with fds to spare,
 * takes the connection (refusing it cost a 100,000-connection prefork run 25 clients while 7 of its 8
 * workers had room).
 * @module
 */
import { openSync, closeSync } from 'node:fs';
import { errnoError, errno } from '../errors';
import * as sys from '../sys/socket';
import { ownFd } from '../sys/watch';
import type { EpollSelector } from './epoll-selector';
import type { EventLoop } from './event-loop';
import { Interest } from './selector';

/** Options of {@link Listener}. */
export interface ListenerOptions {
  /** Address to bind: an IPv4 or IPv6 literal, or an AF_UNIX path (default 127.0.0.1). */
  host?: string;
  /** Port (default 0: the kernel picks one; read it from `listener.port`). */
  port?: number;
  backlog?: number;
  /** SO_REUSEPORT: several listeners (processes) on one port, the kernel spreading connections. */
  reusePort?: boolean;
  /** Level mode: connections accepted per readiness (default 64; 1 for an `exclusive` listener). */
  acceptBatch?: number;
  /** Pause after EMFILE/ENFILE (default 100 ms). */
  emfileBackoffMs?: number;
  /** Reuse an already listening fd (for example one inherited from a prefork parent). */
  fd?: number;
  /**
   * Register the listener with EPOLLEXCLUSIVE (epoll only): for processes that share one listening
   * socket, each with its own epoll, so that a connection wakes one of them, not all. Out of fds, such a
   * listener only pauses, leaving its connections to the others, and after each accept batch it moves its
   * epoll instance to the back of the kernel's line of waiters, so that connections go round the workers.
   */
  exclusive?: boolean;
  /**
   * `exclusive` only: move to the back of the kernel's line of waiters after each accept batch (default
   * true). Off, the first idle worker in the line takes every connection that arrives alone — what the
   * herd lab shows.
   */
  requeue?: boolean;
  /** Do not close the listening fd on `close()` (it belongs to someone else, e.g. a prefork parent). */
  borrowed?: boolean;
  /** TCP_NODELAY on accepted TCP connections (default true): replies leave at once, not after Nagle's wait. */
  noDelay?: boolean;
}

/** Listens and hands each accepted fd (nonblocking, CLOEXEC) to `onConnection`. */
export class Listener {
  readonly fd: number;
  readonly loop: EventLoop;
  /** Connections refused for lack of fds. */
  rejected = 0;
  /** Connections accepted. */
  accepted = 0;
  /**
   * Set by a server that accepts a batch by other means than accept4 here and `onConnection` per fd (the
   * forking server accepts and forks in one native call): called with the most connections to take now,
   * it adds what it took to `accepted` and returns what ended its batch in accept4's terms — the -errno of
   * the accept4 that stopped it (-EAGAIN: the queue is empty), handled as this listener's own, or 0 when it
   * took `max` or stopped by its own choice (pausing the listener) — or undefined to have this listener
   * accept the next connection the ordinary way.
   */
  acceptMany: ((max: number) => number | undefined) | undefined;
  readonly #onConnection: (fd: number) => void;
  readonly #edge: boolean;
  readonly #acceptBatch: number;
  readonly #backoffMs: number;
  #reserveFd = -1;
  readonly #shared: boolean;
  readonly #requeue: boolean;
  readonly #noDelay: boolean;
  readonly #borrowed: boolean;
  #paused = false;
  #closed = false;

  constructor(loop: EventLoop, onConnection: (fd: number) => void, options: ListenerOptions = {}) {
    this.loop = loop;
    this.#onConnection = onConnection;
    this.#edge = loop.selector.trigger === 'edge';
    this.#shared = options.exclusive ?? false;
    this.#requeue = this.#shared && (options.requeue ?? true);
    // Shared: one per wake, as nginx (multi_accept off), or the first worker woken empties a burst alone.
    this.#acceptBatch = Math.max(1, options.acceptBatch ?? (this.#shared ? 1 : 64));
    this.#backoffMs = options.emfileBackoffMs ?? 100;
    this.fd = options.fd ?? Listener.open(options);
    this.#noDelay = (options.noDelay ?? true) && sys.getsockopt(this.fd, sys.SOL_SOCKET, sys.SO_DOMAIN) !== sys.AF_UNIX;
    if (!this.#shared) this.#openReserve();
    this.#borrowed = options.borrowed ?? false;
    loop.add(this.fd, Interest.READABLE, () => this.#accept(), { close: () => this.close(), exclusive: options.exclusive, owned: !this.#borrowed });
  }

  /** Creates, binds and listens a nonblocking socket for `options`; returns its fd. */
  static open(options: ListenerOptions = {}): number {
    const host = options.host ?? '127.0.0.1';
    const domain = host.includes(':') ? sys.AF_INET6 : /^[\d.]+$/.test(host) ? sys.AF_INET : sys.AF_UNIX;
    const fd = sys.socket(domain, sys.SOCK_STREAM | sys.SOCK_NONBLOCK);
    try {
      if (domain !== sys.AF_UNIX) {
        sys.setsockopt(fd, sys.SOL_SOCKET, sys.SO_REUSEADDR, 1);
        if (options.reusePort) sys.setsockopt(fd, sys.SOL_SOCKET, sys.SO_REUSEPORT, 1);
      }
      sys.bind(fd, host, options.port ?? 0);
      sys.listen(fd, options.backlog ?? 511);
    } catch (error) {
      sys.close(fd);
      throw error;
    }
    return fd;
  }

  /** The bound address. */
  address(): sys.SocketAddress {
    return sys.getsockname(this.fd);
  }

  /** The bound port (TCP). */
  get port(): number {
    return this.address().port ?? 0;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Whether accepted connections get TCP_NODELAY (the `noDelay` option, false on AF_UNIX). */
  get noDelay(): boolean {
    return this.#noDelay;
  }

  /** Stops watching for connections (they wait in the kernel's backlog). */
  pause(): void {
    if (this.#paused || this.#closed) return;
    this.#paused = true;
    this.loop.modify(this.fd, 0);
  }

  resume(): void {
    if (!this.#paused || this.#closed) return;
    this.#paused = false;
    this.loop.modify(this.fd, Interest.READABLE);
  }

  /** Stops listening and closes the socket; accepted connections are not affected. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.loop.closed && this.loop.selector.get(this.fd)) this.loop.remove(this.fd);
    if (!this.#borrowed) sys.close(this.fd);
    this.#closeReserve();
  }

  // The reserve fd is declared owned so that a worker ending without close() does not leak it either.
  #openReserve(): boolean {
    try {
      this.#reserveFd = openSync('/dev/null', 'r');
    } catch {
      return false; // still out of fds
    }
    ownFd(this.#reserveFd);
    return true;
  }

  #closeReserve(): void {
    if (this.#reserveFd < 0) return;
    ownFd(this.#reserveFd, false);
    closeSync(this.#reserveFd);
    this.#reserveFd = -1;
  }

  #accept(): void {
    const accepted = this.accepted;
    this.#acceptBatchNow();
    if (this.#paused || this.#closed) return;
    // EPOLLONESHOT disarmed the listener with this event.
    if (this.loop.selector.oneshot) this.loop.modify(this.fd, Interest.READABLE);
    // A shared listener goes to the back of the line, so that the next connection wakes another worker.
    else if (this.#requeue && this.accepted > accepted) (this.loop.selector as Partial<EpollSelector>).requeue?.(this.fd);
  }

  #acceptBatchNow(): void {
    let left = this.#edge ? Infinity : this.#acceptBatch;
    while (left > 0 && !this.#closed && !this.#paused) {
      const before = this.accepted;
      const ended = this.acceptMany?.(Math.min(left, 64));
      let fd: number;
      if (ended === undefined) {
        left--;
        fd = sys.accept4(this.fd, sys.SOCK_NONBLOCK);
        if (fd >= 0) {
          this.accepted++;
          if (this.#noDelay) sys.setsockopt(fd, sys.IPPROTO_TCP, sys.TCP_NODELAY, 1);
          this.#onConnection(fd);
          continue;
        }
      } else {
        left -= this.accepted - before;
        // It took what it was offered, or stopped by its own choice (then the rest waits for the next readiness).
        if (ended === 0) {
          if (this.accepted === before) return;
          continue;
        }
        left--;
        fd = ended; // the -errno of its accept4
      }
      if (fd === -errno.EAGAIN) return;
      if (fd === -errno.EMFILE || fd === -errno.ENFILE) return this.#outOfFds();
      // ECONNABORTED and friends concern one connection that is already gone (accept(2), "Error handling").
      if (fd === -errno.ECONNABORTED || fd === -errno.EPROTO || fd === -errno.EPERM || fd === -errno.EINTR) continue;
      if (fd === -errno.ENOBUFS || fd === -errno.ENOMEM) return this.#backOff();
      throw errnoError(fd, 'accept4', { fd: this.fd });
    }
  }

  #outOfFds(): void {
    if (this.#reserveFd >= 0) {
      this.#closeReserve();
      const fd = sys.accept4(this.fd, sys.SOCK_NONBLOCK);
      if (fd >= 0) {
        sys.close(fd);
        this.rejected++;
      }
      this.#openReserve();
    }
    this.#backOff();
  }

  #backOff(): void {
    this.pause();
    this.loop.setTimeout(() => {
      if (this.#closed) return;
      if (!this.#shared && this.#reserveFd < 0 && !this.#openReserve()) return this.#backOff();
      this.resume();
    }, this.#backoffMs);
  }
}
