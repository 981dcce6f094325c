/**
 * The epoll(7) backend: level- or edge-triggered, optionally one-shot. The fd is the token, so a ready
 * event maps back to its key with one array lookup; one epollWait fills a whole batch.
 * @module
 */
// Node's global Buffer is an accessor (a call per use in hot code); the module's binding is a plain load.
import { Buffer } from 'node:buffer';
import { errnoError, errno } from '../errors';
import * as sys from '../sys/epoll';
import { close } from '../sys/socket';
import { ownFd } from '../sys/watch';
import {
  BaseSelector,
  Interest,
  markReady,
  NOT_READ,
  READ_AHEAD_SIZE,
  type InterestMask,
  type MutableKey,
  type RegisterOptions,
  type Trigger,
} from './selector';

/** Options of {@link EpollSelector}. */
export interface EpollSelectorOptions {
  /** `'level'` (the default) or `'edge'` (EPOLLET: drain to EAGAIN after every event). */
  trigger?: Trigger;
  /** EPOLLONESHOT: each event disarms its key until `modify` re-arms it. */
  oneshot?: boolean;
  /** How many events one wait can return (default 256: the batch the addon gathers on its stack). */
  maxEvents?: number;
  /**
   * Whether {@link EpollSelector.readAhead} is honoured (default true): the wait reads the fds that ask in
   * the same crossing (epollWaitRecv). False keeps every recv with the fd's owner (one crossing each).
   */
  readAhead?: boolean;
}

/**
 * Room for one batch's read-ahead: 4 full reads at least, thousands of requests of a typical size (a batch
 * holds ~3 at 50 busy connections). A bulk transfer's further reads fall back to the owner's own recv. Per
 * selector, so per thread-per-connection worker too: kept small.
 */
const READ_AHEAD_BUFFER = 256 * 1024;

const READ_BITS = sys.EPOLLIN | sys.EPOLLRDHUP;
// Edge-triggered readers also learn of TCP urgent data, which makes a recv stop short of the end (see
// SelectorKey.urgent). Level-triggered keys must not ask: unread urgent data would be reported forever.
const EDGE_READ_BITS = READ_BITS | sys.EPOLLPRI;
const HANGUP_BITS = sys.EPOLLHUP | sys.EPOLLRDHUP;
// With EPOLLEXCLUSIVE the kernel accepts only EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP, EPOLLWAKEUP and EPOLLET
// (epoll_ctl(2): EINVAL otherwise), so an exclusive key is registered without EPOLLRDHUP.
const NOT_EXCLUSIVE_BITS = sys.EPOLLRDHUP | sys.EPOLLPRI;

/** Selector over one epoll instance. */
export class EpollSelector<T = unknown> extends BaseSelector<T> {
  readonly backend = 'epoll';
  override readonly trigger: Trigger;
  override readonly oneshot: boolean;
  override readonly fd: number;
  readonly #flags: number;
  readonly #readBits: number;
  readonly #events: Int32Array;
  /** The first half of #events, for epollWait's pairs (its fast path takes at most 256). */
  readonly #pairs: Int32Array;
  readonly #exclusive = new Set<number>();
  readonly #readAheadAllowed: boolean;
  /** Byte per fd: 1 when the wait should read it. Grown on demand; undefined until an fd asks. */
  #readAhead: Uint8Array | undefined;
  #readAheadCount = 0;
  #received: Buffer | undefined;
  /** epollWaitRecv bound to #events, #readAhead and #received; made again when #readAhead grows. */
  #waitRecv: ((epfd: number, timeoutMs: number, slot: number) => number) | undefined;
  /** The chunk views of the last wait, by event index, reused when offset and length match again. */
  readonly #views: (Buffer | undefined)[] = [];

  constructor(options: EpollSelectorOptions = {}) {
    super();
    this.trigger = options.trigger ?? 'level';
    this.oneshot = options.oneshot ?? false;
    this.#flags = (this.trigger === 'edge' ? sys.EPOLLET : 0) | (this.oneshot ? sys.EPOLLONESHOT : 0);
    this.#readBits = this.trigger === 'edge' ? EDGE_READ_BITS : READ_BITS;
    this.#readAheadAllowed = options.readAhead ?? true;
    // Four int32 per event: room for epollWaitRecv's (token, mask, result, offset).
    const maxEvents = options.maxEvents ?? 256;
    this.#events = new Int32Array(4 * maxEvents);
    this.#pairs = this.#events.subarray(0, 2 * maxEvents);
    this.fd = sys.epollCreate1();
    ownFd(this.fd);
  }

  #mask(interest: InterestMask): number {
    return (
      ((interest & Interest.READABLE ? this.#readBits : 0) | (interest & Interest.WRITABLE ? sys.EPOLLOUT : 0) | this.#flags) >>> 0
    );
  }

  #exclusiveMask(interest: InterestMask): number {
    return ((this.#mask(interest) & ~NOT_EXCLUSIVE_BITS) | sys.EPOLLEXCLUSIVE) >>> 0;
  }

  protected add(key: MutableKey<T>, options?: RegisterOptions): void {
    const exclusive = options?.exclusive === true;
    sys.epollCtl(this.fd, sys.EPOLL_CTL_ADD, key.fd, exclusive ? this.#exclusiveMask(key.interest) : this.#mask(key.interest));
    if (exclusive) this.#exclusive.add(key.fd);
  }

  protected change(key: MutableKey<T>): void {
    // EPOLLEXCLUSIVE cannot be modified (EINVAL): such a key changes interest by DEL and ADD.
    if (this.#exclusive.has(key.fd)) {
      sys.epollCtl(this.fd, sys.EPOLL_CTL_DEL, key.fd);
      sys.epollCtl(this.fd, sys.EPOLL_CTL_ADD, key.fd, this.#exclusiveMask(key.interest));
      return;
    }
    sys.epollCtl(this.fd, sys.EPOLL_CTL_MOD, key.fd, this.#mask(key.interest));
  }

  /**
   * Moves this instance to the back of the line for an EPOLLEXCLUSIVE fd (DEL and ADD). The kernel wakes
   * the exclusive waiters that are idle in the order they were added, so the first one takes every
   * connection while it is idle when they arrive one at a time; a worker that moves itself back after
   * each accept batch makes the wakeups go round (20 kept connections arriving one at a time: 0/20 → 10/10
   * over two prefork workers). False when `fd` is not an exclusive key.
   */
  requeue(fd: number): boolean {
    const key = this.get(fd);
    if (!key || !this.#exclusive.has(fd)) return false;
    this.change(key as MutableKey<T>);
    return true;
  }

  /**
   * Asks the wait to recv `fd` itself whenever it reports input or a hangup (see {@link Selector.readAhead});
   * a no-op when the selector was made with `readAhead: false`.
   */
  readAhead(fd: number, on: boolean): void {
    if (!this.#readAheadAllowed) return;
    let mask = this.#readAhead;
    if (mask === undefined || fd >= mask.length) {
      if (!on) return;
      const grown = new Uint8Array(Math.max(1024, fd + 1, 2 * (mask?.length ?? 0)));
      if (mask) grown.set(mask);
      mask = this.#readAhead = grown;
      this.#received ??= Buffer.allocUnsafe(READ_AHEAD_BUFFER);
      this.#waitRecv = sys.epollWaitRecvBind(this.#events, mask, this.#received);
    }
    const was = mask[fd];
    mask[fd] = on ? 1 : 0;
    this.#readAheadCount += mask[fd] - was;
  }

  protected remove(key: MutableKey<T>): void {
    this.readAhead(key.fd, false);
    this.#exclusive.delete(key.fd);
    try {
      sys.epollCtl(this.fd, sys.EPOLL_CTL_DEL, key.fd);
    } catch (error) {
      // The caller closed the fd before unregistering: the kernel has already forgotten it.
      if ((error as { code?: string }).code !== 'EBADF' && (error as { code?: string }).code !== 'ENOENT') throw error;
    }
  }

  protected wait(timeoutMs: number): void {
    const events = this.#events;
    const readAhead = this.#readAheadCount > 0;
    const n = readAhead
      ? this.#waitRecv!(this.fd, timeoutMs, READ_AHEAD_SIZE)
      : sys.epollWait(this.fd, this.#pairs, timeoutMs);
    if (n < 0) {
      if (n === -errno.EINTR) return;
      throw errnoError(n, 'epoll_wait', { fd: this.fd });
    }
    // epollWait fills (token, mask) pairs, epollWaitRecv (token, mask, result, offset) quads.
    const stride = readAhead ? 4 : 2;
    for (let i = 0; i < n; i++) {
      const key = this.keyOf(events[stride * i]);
      if (!key) continue; // unregistered by a handler earlier in this same batch
      const mask = events[stride * i + 1];
      const received = readAhead ? events[4 * i + 2] : NOT_READ;
      key.received = received;
      key.chunk = received > 0 ? this.#view(i, events[4 * i + 3], received) : undefined;
      markReady(
        this.ready,
        key,
        (mask & sys.EPOLLIN) !== 0,
        (mask & sys.EPOLLOUT) !== 0,
        (mask & HANGUP_BITS) !== 0,
        (mask & sys.EPOLLERR) !== 0,
        (mask & sys.EPOLLPRI) !== 0,
      );
    }
  }

  // A view per chunk would be an allocation per request; the i-th event of a busy batch usually lands
  // where the i-th did last time, with the same length (a client repeating its request).
  #view(i: number, offset: number, length: number): Buffer {
    const view = this.#views[i];
    if (view !== undefined && view.byteOffset === offset && view.length === length) return view;
    return (this.#views[i] = this.#received!.subarray(offset, offset + length));
  }

  protected release(): void {
    ownFd(this.fd, false);
    close(this.fd);
  }
}
