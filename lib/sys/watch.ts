/**
 * Attach an fd (an epoll instance, an eventfd...) to Node's own event loop: a `uv_poll_t` on the loop of
 * the calling thread, so it runs beside Node's timers, sockets and streams, in the main thread or a
 * worker. The callback runs once per readiness: it must consume the readiness (epollWait with timeout 0,
 * eventfdRead...) or it is called again at once, since the fd stays readable.
 * @module
 */
import { native } from '../binding';
import '../errors';

/** A live watch; {@link Watch.close} stops it. A thread that ends with watches open closes them itself. */
export class Watch {
  readonly #id: number;
  #closed = false;

  /**
   * @param fd the fd to watch for readability.
   * @param onReadable called on Node's loop with the libuv event mask (or a negative libuv status).
   */
  constructor(
    readonly fd: number,
    onReadable: (events: number) => void,
  ) {
    this.#id = native.watchStart(fd, onReadable);
  }

  /** True once {@link Watch.close} ran. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Stops watching; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    native.watchClose(this.#id);
  }

  /** Keeps the process alive while the watch is open (the default). Throws ERR_EPOLLKIT_WATCH_CLOSED after close. */
  ref(): this {
    native.watchRef(this.#id, true);
    return this;
  }

  /** Lets the process exit even though the watch is open, like `timer.unref()`. */
  unref(): this {
    native.watchRef(this.#id, false);
    return this;
  }
}

/**
 * Starts a {@link Watch}.
 * @example
 * const w = watch(epfd, () => { const n = epollWait(epfd, events, 0); dispatch(n); });
 * // later
 * w.close();
 */
export function watch(fd: number, onReadable: (events: number) => void): Watch {
  return new Watch(fd, onReadable);
}

/**
 * Declares that this thread owns `fd` (or no longer does, with `owned` false): an owned fd is closed
 * when the thread's environment is torn down — a worker that ends without closing its loop leaks nothing.
 * The loop does this for every fd it owns; call it for raw fds you open in a worker.
 * @example
 * ownFd(fd); // ... later, before closing it yourself or handing it over:
 * ownFd(fd, false);
 */
export const ownFd: (fd: number, owned?: boolean) => void = native.ownFd;
