/**
 * The poll(2) backend: one Int32Array of (fd, events, revents) triples kept dense (removal moves the
 * last entry into the hole), handed whole to the kernel on every wait — which is why its cost grows
 * with the number of registered fds, ready or not.
 * @module
 */
import { errnoError, errno } from '../errors';
import * as sys from '../sys/poll';
import { BaseSelector, Interest, markReady, type InterestMask, type MutableKey } from './selector';

const READ_BITS = sys.POLLIN | sys.POLLRDHUP;
const HANGUP_BITS = sys.POLLHUP | sys.POLLRDHUP;
const ERROR_BITS = sys.POLLERR | sys.POLLNVAL;

/** Selector over poll(2). */
export class PollSelector<T = unknown> extends BaseSelector<T> {
  readonly backend = 'poll';
  #triples = new Int32Array(3 * 64);
  #count = 0;
  readonly #slot = new Map<number, number>();

  #mask(interest: InterestMask): number {
    return (interest & Interest.READABLE ? READ_BITS : 0) | (interest & Interest.WRITABLE ? sys.POLLOUT : 0);
  }

  protected add(key: MutableKey<T>): void {
    if (3 * (this.#count + 1) > this.#triples.length) {
      const grown = new Int32Array(this.#triples.length * 2);
      grown.set(this.#triples);
      this.#triples = grown;
    }
    const slot = this.#count++;
    this.#triples[3 * slot] = key.fd;
    this.#triples[3 * slot + 1] = this.#mask(key.interest);
    this.#slot.set(key.fd, slot);
  }

  protected change(key: MutableKey<T>): void {
    this.#triples[3 * this.#slot.get(key.fd)! + 1] = this.#mask(key.interest);
  }

  protected remove(key: MutableKey<T>): void {
    const slot = this.#slot.get(key.fd)!;
    const last = --this.#count;
    this.#slot.delete(key.fd);
    if (slot !== last) {
      this.#triples.copyWithin(3 * slot, 3 * last, 3 * last + 3);
      this.#slot.set(this.#triples[3 * slot], slot);
    }
  }

  protected wait(timeoutMs: number): void {
    const t = this.#triples;
    const n = sys.poll(t, this.#count, timeoutMs);
    if (n < 0) {
      if (n === -errno.EINTR) return;
      throw errnoError(n, 'poll');
    }
    // poll reports how many entries are ready but not which: scanning them all is the price of poll.
    for (let i = 0, found = 0; found < n && i < this.#count; i++) {
      const revents = t[3 * i + 2];
      if (revents === 0) continue;
      found++;
      markReady(
        this.ready,
        this.keyOf(t[3 * i])!,
        (revents & sys.POLLIN) !== 0,
        (revents & sys.POLLOUT) !== 0,
        (revents & HANGUP_BITS) !== 0,
        (revents & ERROR_BITS) !== 0,
      );
    }
  }

  protected release(): void {
    this.#count = 0;
    this.#slot.clear();
  }
}
