/**
 * The Selector contract: one API over epoll (level- or edge-triggered, optionally one-shot), poll(2) and
 * select(2), written after Python's `selectors` and mio's `Poll`. A backend is four operations — add,
 * modify, remove, wait — behind one base class that keeps the fd -> {@link SelectorKey} table and checks
 * misuse (Redis ae's shape); the reactor never asks which backend it runs on.
 *
 * ## The contract
 * - `register(fd, interest, data)` returns the fd's {@link SelectorKey}; `modify` changes its interest or
 *   data; `unregister` forgets it (it does not close the fd: the caller owns it). Registering an fd twice
 *   is `ERR_EPOLLKIT_ALREADY_REGISTERED`; modifying or unregistering an unknown fd is
 *   `ERR_EPOLLKIT_NOT_REGISTERED`; any call after `close()` is `ERR_EPOLLKIT_SELECTOR_CLOSED`.
 * - `select(timeoutMs)` waits (-1: forever, 0: not at all) and returns the keys that are ready, with
 *   `readable`, `writable`, `hangup` and `error` set for this round. The array and the flags are reused by
 *   the next call: nothing is allocated per event. A signal that interrupts the wait returns no keys.
 * - Close an fd only after unregistering it: epoll forgets a closed fd by itself only when no other
 *   descriptor (a dup, a forked child's copy) still refers to the same open file.
 *
 * ## Traps
 * - **Spurious wakeups.** Readiness is a hint. A readable key may still give EAGAIN (another reader got
 *   there first, a checksum failed, a peer in the same EPOLLEXCLUSIVE group took the connection). Treat
 *   `-EAGAIN` as "wait again", never as an error.
 * - **Draining under edge-triggering.** With `trigger: 'edge'` a key is reported when its state changes,
 *   not while it stays ready. After a readable event you must read until EAGAIN (or remember that data
 *   may remain and come back to it yourself); otherwise the bytes left in the socket never produce another
 *   event and the connection stalls. The same holds for writes and EAGAIN. Level-triggered keys keep
 *   being reported while ready, so one read per event is enough but a busy fd is reported every round.
 * - **One-shot.** With `oneshot: true` a key is disarmed after each event and reports nothing until it
 *   is re-armed with `modify` — the way to hand an fd to exactly one worker at a time.
 * - **Hangup and error** are reported whatever the interest (the kernel always reports them). Read the
 *   socket to learn which: `recv` gives 0 at end of stream, or `-errno`. The select backend never sets
 *   `hangup` or `error`: select(2) reports such sockets as readable and writable instead.
 * - **select(2) holds fds 0..1023 only**: `SelectSelector` refuses larger fds with `ERR_EPOLLKIT_FD_SETSIZE`.
 * @module
 */
import { misuse } from '../errors';

/** What a registration waits for; combine with `|`. */
export const Interest = {
  READABLE: 1,
  WRITABLE: 2,
} as const;

/** `Interest.READABLE`, `Interest.WRITABLE`, both, or 0 (registered but waiting for nothing but hangups). */
export type InterestMask = number;

/** epoll's two ways to report readiness; see "Draining under edge-triggering" above. */
export type Trigger = 'level' | 'edge';

/** One registered fd: its interest, the caller's data, and the readiness of the last `select`. */
export interface SelectorKey<T = unknown> {
  readonly fd: number;
  readonly interest: InterestMask;
  data: T;
  /** Data can be read (or end of stream / an error is pending). */
  readonly readable: boolean;
  /** Data can be written without blocking. */
  readonly writable: boolean;
  /** The peer hung up (EPOLLHUP/EPOLLRDHUP, POLLHUP/POLLRDHUP). */
  readonly hangup: boolean;
  /** An error is pending on the fd (EPOLLERR/POLLERR/POLLNVAL); read it with recv or SO_ERROR. */
  readonly error: boolean;
  /**
   * Edge-triggered epoll only (EPOLLPRI): TCP urgent data is pending. A recv stops short at the urgent
   * mark, so a reader that takes a short read for "drained" must read on to EAGAIN when this is set.
   */
  readonly urgent: boolean;
  /**
   * epoll with read-ahead only (see {@link Selector.readAhead}): what the wait's own recv of this fd gave
   * this round — a byte count (the bytes are in `chunk`), `-errno`, or {@link NOT_READ} when the wait did
   * not read it. Always NOT_READ for a key that did not ask.
   */
  readonly received: number;
  /** The bytes of `received` when it is > 0: a view valid until the next `select`. */
  readonly chunk: Buffer | undefined;
}

/** `SelectorKey.received` when the wait did not read the fd. */
export const NOT_READ = -0x80000000;

/** Backend-specific registration options; a backend ignores what it cannot do. */
export interface RegisterOptions {
  /**
   * epoll only (EPOLLEXCLUSIVE, Linux 4.5): when several epoll instances wait on this one fd (prefork
   * workers sharing a listener), wake one of them per event rather than all — the thundering-herd cure.
   * Cannot be changed by `modify`.
   */
  exclusive?: boolean;
}

/** The contract every backend meets. */
export interface Selector<T = unknown> {
  /** `'epoll'`, `'poll'` or `'select'`. */
  readonly backend: string;
  /** For epoll, `'level'` or `'edge'`; poll and select are level-triggered by nature. */
  readonly trigger: Trigger;
  /** True when events disarm their key until the next `modify` (EPOLLONESHOT). */
  readonly oneshot: boolean;
  /** The epoll fd that becomes readable when any key is ready (used to attach to Node's loop); -1 otherwise. */
  readonly fd: number;
  /** How many fds are registered. */
  readonly size: number;
  register(fd: number, interest: InterestMask, data: T, options?: RegisterOptions): SelectorKey<T>;
  modify(fd: number, interest: InterestMask, data?: T): SelectorKey<T>;
  unregister(fd: number): SelectorKey<T>;
  /** The key of a registered fd, or undefined. */
  get(fd: number): SelectorKey<T> | undefined;
  select(timeoutMs: number): readonly SelectorKey<T>[];
  /**
   * Optional (epoll): asks the wait to read `fd` itself, in the same crossing, whenever it reports input
   * or a hangup — at most {@link READ_AHEAD_SIZE} bytes, handed over in the key's `received` and `chunk`.
   * For the owner of a stream socket that would recv at once anyway; off again with `on` false (and
   * always at unregister). A paused reader must turn it off: what the wait read is the owner's to keep.
   */
  readAhead?(fd: number, on: boolean): void;
  close(): void;
  readonly closed: boolean;
}

/** The most one read-ahead recv takes (a full one may have left bytes in the socket). */
export const READ_AHEAD_SIZE = 64 * 1024;

/** The mutable form of a key, seen only by selectors. */
export interface MutableKey<T> {
  fd: number;
  interest: InterestMask;
  data: T;
  readable: boolean;
  writable: boolean;
  hangup: boolean;
  error: boolean;
  urgent: boolean;
  received: number;
  chunk: Buffer | undefined;
}

/**
 * What a backend implements: the four operations of Redis ae, plus close. `wait` pushes the ready keys
 * into `ready` (already emptied) and sets their flags.
 */
export abstract class BaseSelector<T = unknown> implements Selector<T> {
  abstract readonly backend: string;
  readonly trigger: Trigger = 'level';
  readonly oneshot: boolean = false;
  readonly fd: number = -1;
  #keys: (MutableKey<T> | undefined)[] = [];
  #size = 0;
  #closed = false;
  protected readonly ready: MutableKey<T>[] = [];

  protected abstract add(key: MutableKey<T>, options?: RegisterOptions): void;
  protected abstract change(key: MutableKey<T>, previous: InterestMask): void;
  protected abstract remove(key: MutableKey<T>): void;
  protected abstract wait(timeoutMs: number): void;
  protected abstract release(): void;

  get size(): number {
    return this.#size;
  }

  get closed(): boolean {
    return this.#closed;
  }

  register(fd: number, interest: InterestMask, data: T, options?: RegisterOptions): SelectorKey<T> {
    this.#checkOpen();
    if (!Number.isInteger(fd) || fd < 0) throw new TypeError(`fd must be an integer >= 0, got ${fd}`);
    if (this.#keys[fd]) misuse('ERR_EPOLLKIT_ALREADY_REGISTERED', `fd ${fd} is already registered`);
    const key: MutableKey<T> = {
      fd,
      interest,
      data,
      readable: false,
      writable: false,
      hangup: false,
      error: false,
      urgent: false,
      received: NOT_READ,
      chunk: undefined,
    };
    this.add(key, options);
    this.#keys[fd] = key;
    this.#size++;
    return key;
  }

  modify(fd: number, interest: InterestMask, data?: T): SelectorKey<T> {
    const key = this.#lookup(fd);
    const previous = key.interest;
    key.interest = interest;
    if (data !== undefined) key.data = data;
    // A one-shot key must be re-armed by the kernel call even when the interest is unchanged.
    if (previous !== interest || this.oneshot) {
      try {
        this.change(key, previous);
      } catch (error) {
        key.interest = previous;
        throw error;
      }
    }
    return key;
  }

  unregister(fd: number): SelectorKey<T> {
    const key = this.#lookup(fd);
    this.#keys[fd] = undefined;
    this.#size--;
    this.remove(key);
    return key;
  }

  get(fd: number): SelectorKey<T> | undefined {
    return this.#keys[fd];
  }

  select(timeoutMs: number): readonly SelectorKey<T>[] {
    this.#checkOpen();
    // Emptied by pops: a length store goes through the runtime, a cost per round (~3 events at 50 busy
    // connections) that pops of the few keys do not have. The last round's read-ahead chunks are let go: a
    // view kept by each idle connection's key was ~300 B of RSS per idle connection.
    const ready = this.ready;
    while (ready.length > 0) ready.pop()!.chunk = undefined;
    this.wait(timeoutMs);
    return this.ready;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#keys = [];
    this.#size = 0;
    this.release();
  }

  /** The key registered for `fd`, for backends mapping kernel results back to keys. */
  protected keyOf(fd: number): MutableKey<T> | undefined {
    return this.#keys[fd];
  }

  /** Every registered key, for backends that rebuild their kernel arguments. */
  protected *keys(): Iterable<MutableKey<T>> {
    for (const key of this.#keys) if (key) yield key;
  }

  #lookup(fd: number): MutableKey<T> {
    this.#checkOpen();
    const key = this.#keys[fd];
    if (!key) misuse('ERR_EPOLLKIT_NOT_REGISTERED', `fd ${fd} is not registered with this selector`);
    return key;
  }

  #checkOpen(): void {
    if (this.#closed) misuse('ERR_EPOLLKIT_SELECTOR_CLOSED', `this ${this.backend} selector is closed`);
  }
}

/** Sets a key's readiness flags for this round and adds it to the ready list. */
export function markReady<T>(
  ready: MutableKey<T>[],
  key: MutableKey<T>,
  readable: boolean,
  writable: boolean,
  hangup: boolean,
  error: boolean,
  urgent = false,
): void {
  key.readable = readable;
  key.writable = writable;
  key.hangup = hangup;
  key.error = error;
  key.urgent = urgent;
  ready.push(key);
}
