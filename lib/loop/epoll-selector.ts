/**
 * The epoll(7) backend: level- or edge-triggered, optionally one-shot. The fd is the token, so a ready
 * event maps back to its key with one array lookup; one epollWait fills a whole batch.
 * @module
 */
import { errnoError, errno } from '../errors';
import * as sys from '../sys/epoll';
import { close } from '../sys/socket';
import { ownFd } from '../sys/watch';
import { BaseSelector, Interest, markReady, type InterestMask, type MutableKey, type RegisterOptions, type Trigger } from './selector';

/** Options of {@link EpollSelector}. */
export interface EpollSelectorOptions {
  /** `'level'` (the default) or `'edge'` (EPOLLET: drain to EAGAIN after every event). */
  trigger?: Trigger;
  /** EPOLLONESHOT: each event disarms its key until `modify` re-arms it. */
  oneshot?: boolean;
  /** How many events one wait can return (default 256: the batch the addon gathers on its stack). */
  maxEvents?: number;
}

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
  readonly #exclusive = new Set<number>();

  constructor(options: EpollSelectorOptions = {}) {
    super();
    this.trigger = options.trigger ?? 'level';
    this.oneshot = options.oneshot ?? false;
    this.#flags = (this.trigger === 'edge' ? sys.EPOLLET : 0) | (this.oneshot ? sys.EPOLLONESHOT : 0);
    this.#readBits = this.trigger === 'edge' ? EDGE_READ_BITS : READ_BITS;
    this.#events = new Int32Array(2 * (options.maxEvents ?? 256));
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

  protected remove(key: MutableKey<T>): void {
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
    const n = sys.epollWait(this.fd, events, timeoutMs);
    if (n < 0) {
      if (n === -errno.EINTR) return;
      throw errnoError(n, 'epoll_wait', { fd: this.fd });
    }
    for (let i = 0; i < n; i++) {
      const key = this.keyOf(events[2 * i]);
      if (!key) continue; // unregistered by a handler earlier in this same batch
      const mask = events[2 * i + 1];
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

  protected release(): void {
    ownFd(this.fd, false);
    close(this.fd);
  }
}
