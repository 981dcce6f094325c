/**
 * The select(2) backend: the read and write fd lists are rebuilt into caller-owned Int32Arrays for each
 * wait (select overwrites its sets). fds must be below FD_SETSIZE (1024): a larger one is refused at
 * `register` with `ERR_EPOLLKIT_FD_SETSIZE`. select(2) has no hangup or error bits: such sockets come back
 * readable (and writable), and the next recv tells which.
 * @module
 */
import { errnoError, errno, misuse } from '../errors';
import { FD_SETSIZE, select } from '../sys/select';
import { BaseSelector, Interest, markReady, type MutableKey } from './selector';

/** Selector over select(2). */
export class SelectSelector<T = unknown> extends BaseSelector<T> {
  readonly backend = 'select';
  readonly #read = new Int32Array(FD_SETSIZE);
  readonly #write = new Int32Array(FD_SETSIZE);
  readonly #counts = new Int32Array(3);

  protected add(key: MutableKey<T>): void {
    if (key.fd >= FD_SETSIZE) {
      misuse('ERR_EPOLLKIT_FD_SETSIZE', `select() cannot watch fd ${key.fd}: fds must be below FD_SETSIZE (${FD_SETSIZE}); use poll or epoll`);
    }
  }

  protected change(): void {}

  protected remove(): void {}

  protected wait(timeoutMs: number): void {
    let nr = 0;
    let nw = 0;
    for (const key of this.keys()) {
      key.readable = false; // so that step 2 below can tell this round's readable keys
      if (key.interest & Interest.READABLE) this.#read[nr++] = key.fd;
      if (key.interest & Interest.WRITABLE) this.#write[nw++] = key.fd;
    }
    const counts = this.#counts;
    const n = select(this.#read.subarray(0, nr), this.#write.subarray(0, nw), null, timeoutMs, counts);
    if (n < 0) {
      if (n === -errno.EINTR) return;
      throw errnoError(n, 'select');
    }
    for (let i = 0; i < counts[0]; i++) {
      markReady(this.ready, this.keyOf(this.#read[i])!, true, false, false, false);
    }
    for (let i = 0; i < counts[1]; i++) {
      const key = this.keyOf(this.#write[i])!;
      if (key.readable) key.writable = true;
      else markReady(this.ready, key, false, true, false, false);
    }
  }

  protected release(): void {}
}
