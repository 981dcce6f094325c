/**
 * The reactor: a Selector, a timer heap and a queue of callbacks, dispatched by one `runOnce` — the
 * shape of Redis ae's aeProcessEvents and libuv's uv_run. It runs in one of two flavours that share that
 * dispatch:
 * - **blocking**: `run()` gives the thread to the loop until `stop()` or until nothing is left to wait
 *   for (as socketserver's serve_forever does). Promises and Node callbacks wait until it returns.
 * - **attached**: `attach()` hands the selector's epoll fd to Node's own loop (a uv_poll_t), so the loop
 *   lives beside Node's timers, http and streams, in the main thread or a worker, and `await` works in
 *   handlers. Only an epoll selector has an fd to attach.
 * @module
 */
import { performance } from 'node:perf_hooks';
import { misuse } from '../errors';
import { close as closeFd, sendBatchBind } from '../sys/socket';
import { ownFd, Watch } from '../sys/watch';
import { EpollSelector } from './epoll-selector';
import type { InterestMask, Selector, SelectorKey } from './selector';
import { SendBatch } from './send-batch';
import { TimerHeap, type Timer } from './timers';

export type { Timer };

/** What the loop keeps for each fd it watches. */
export interface Registration {
  /** Called with the fd's key when it is ready. */
  handler: (key: SelectorKey<Registration>) => void;
  /** Called by `loop.close()` for a registration still open then; the default closes the fd. */
  close?: () => void;
  /** Whether `loop.close()` closes the fd (default true). */
  owned: boolean;
}

/** Options of {@link EventLoop}. */
export interface EventLoopOptions {
  /** The multiplexer; default an epoll selector, level-triggered ({@link defaultSelector}). */
  selector?: Selector<Registration>;
  /** Aborting it stops the loop: `run()` returns, an attached loop detaches. */
  signal?: AbortSignal;
}

/** epoll, level-triggered: the right default for most servers (see selector.ts for when to pick edge). */
export function defaultSelector<T = Registration>(): Selector<T> {
  return new EpollSelector<T>({ trigger: 'level' });
}

/** A reactor over one Selector. */
export class EventLoop {
  readonly selector: Selector<Registration>;
  readonly #timers = new TimerHeap();
  #soon: (() => void)[] = [];
  #stopped = false;
  #running = false;
  #closed = false;
  #watch: Watch | undefined;
  #nodeTimer: NodeJS.Timeout | undefined;
  #nodeTimerDue = -1;
  #signal: AbortSignal | undefined;
  /** When the round's wait returned, while its handlers run; -1 between rounds. */
  #roundTime = -1;
  /** Date.now() − performance.now(), read again when a second has passed: the wall clock without a reading. */
  #dateOffset = 0;
  #dateOffsetAt = -Infinity;
  /** Writes gathered while a round runs, sent in one crossing at its end. */
  readonly sends = new SendBatch(sendBatchBind);
  readonly #onAbort = (): void => {
    this.stop();
    this.detach();
  };

  constructor(options: EventLoopOptions = {}) {
    this.selector = options.selector ?? defaultSelector();
    this.#signal = options.signal;
    if (this.#signal?.aborted) this.#stopped = true;
    this.#signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** The loop's clock, in milliseconds (monotonic). */
  now(): number {
    return performance.now();
  }

  /**
   * The clock as of this round: while a round's handlers run, when its wait returned (libuv's loop time:
   * a busy round serves thousands of requests, and a clock read each is a cost without a use); otherwise
   * {@link EventLoop.now}. For bookkeeping that tolerates the length of a round, such as idle deadlines.
   */
  get time(): number {
    return this.#roundTime >= 0 ? this.#roundTime : performance.now();
  }

  /**
   * Like {@link EventLoop.time}, but the wall clock (ms since the epoch, as Date.now()): the round's time
   * plus an offset to the wall clock that is read again once a second (so a clock step shows within a
   * second). For an HTTP Date header, which has whole seconds.
   */
  get date(): number {
    const time = this.#roundTime;
    if (time < 0) return Date.now();
    if (time - this.#dateOffsetAt >= 1000) {
      this.#dateOffset = Date.now() - time;
      this.#dateOffsetAt = time;
    }
    return time + this.#dateOffset;
  }

  /** True while it has fds, timers or callbacks to wait for. */
  get alive(): boolean {
    return this.selector.size > 0 || this.#timers.size > 0 || this.#soon.length > 0;
  }

  get attached(): boolean {
    return this.#watch !== undefined;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Watches `fd` for `interest` and calls `handler(key)` when it is ready. The loop owns the fd (closes it
   * at `close()`) unless `owned` is false.
   */
  add(
    fd: number,
    interest: InterestMask,
    handler: Registration['handler'],
    options: { owned?: boolean; close?: () => void; exclusive?: boolean } = {},
  ): SelectorKey<Registration> {
    this.#checkOpen();
    const owned = options.owned ?? true;
    const key = this.selector.register(fd, interest, { handler, close: options.close, owned }, { exclusive: options.exclusive });
    // Owned fds are closed by the addon if this thread's environment ends before the loop is closed.
    if (owned) ownFd(fd);
    if (this.#watch && this.selector.size === 1) this.#watch.ref();
    return key;
  }

  /** Changes what `fd` waits for (and re-arms it under EPOLLONESHOT). */
  modify(fd: number, interest: InterestMask): void {
    this.selector.modify(fd, interest);
  }

  /** Stops watching `fd`; the caller now owns (and closes) it. */
  remove(fd: number): void {
    if (this.selector.unregister(fd).data.owned) ownFd(fd, false);
    if (this.#watch && this.selector.size === 0) this.#watch.unref();
  }

  /** Runs `callback` once, `delayMs` from now. */
  setTimeout(callback: () => void, delayMs: number): Timer {
    return this.#addTimer(callback, delayMs, 0);
  }

  /** Runs `callback` every `intervalMs` until cleared. */
  setInterval(callback: () => void, intervalMs: number): Timer {
    return this.#addTimer(callback, intervalMs, Math.max(1, intervalMs));
  }

  clearTimer(timer: Timer | undefined): void {
    if (timer) this.#timers.clear(timer);
  }

  /** Runs `callback` at the end of the current round, before the loop waits again. */
  callSoon(callback: () => void): void {
    this.#checkOpen();
    this.#soon.push(callback);
    if (this.#watch) this.#scheduleNode();
  }

  /**
   * One round: wait for I/O up to `timeoutMs` (-1: until something happens; shortened to the next
   * timer, or 0 when callbacks are queued), dispatch the ready fds, then due timers, then queued callbacks.
   * Returns the number of fds dispatched.
   */
  runOnce(timeoutMs = -1): number {
    this.#checkOpen();
    let timeout = this.#soon.length > 0 ? 0 : this.#timers.timeout(this.now());
    if (timeout < 0 || (timeoutMs >= 0 && timeoutMs < timeout)) timeout = timeoutMs;
    const keys = this.selector.select(timeout);
    const n = keys.length;
    this.#roundTime = performance.now();
    this.sends.open = true;
    try {
      for (let i = 0; i < n; i++) {
        const key = keys[i];
        // A handler earlier in this batch may have unregistered (and even reused) this fd.
        if (this.selector.get(key.fd) === key) key.data.handler(key);
      }
      // The round's time, not a new reading: a timer that fell due while the handlers ran makes the next
      // wait's timeout 0, and runs then (a clock reading is ~40 ns, and a busy round serves ~3 requests).
      if (this.#timers.size > 0) this.#timers.run(this.#roundTime);
      if (this.#soon.length > 0) {
        const soon = this.#soon;
        this.#soon = [];
        for (const callback of soon) callback();
      }
      this.sends.flush();
    } finally {
      this.#roundTime = -1;
      this.sends.open = false;
      // A handler threw: what the others wrote still goes out (and their writers learn how much).
      if (this.sends.size > 0) this.sends.flush();
    }
    return n;
  }

  /**
   * The blocking flavour: runs rounds until `stop()`, an abort, or nothing is left to wait for.
   * The thread is the loop's meanwhile; promises settle only after `run()` returns.
   */
  run(): void {
    this.#checkOpen();
    if (this.#watch) misuse('ERR_EPOLLKIT_LOOP_RUNNING', 'this loop is attached to Node\'s loop; detach() it before run()');
    if (this.#running) misuse('ERR_EPOLLKIT_LOOP_RUNNING', 'run() is already running');
    this.#running = true;
    if (!this.#signal?.aborted) this.#stopped = false;
    try {
      while (!this.#stopped && !this.#closed && this.alive) this.runOnce(-1);
    } finally {
      this.#running = false;
    }
  }

  /** Makes `run()` return after the current round. */
  stop(): void {
    this.#stopped = true;
  }

  /**
   * The attached flavour: Node's loop calls `runOnce(0)` whenever the epoll fd is readable, and a Node
   * timer covers the loop's own timers. The process stays alive while fds are registered.
   */
  attach(): this {
    this.#checkOpen();
    if (this.#watch) return this;
    if (this.#running) misuse('ERR_EPOLLKIT_LOOP_RUNNING', 'a blocking run() is in progress');
    if (this.selector.fd < 0) {
      misuse('ERR_EPOLLKIT_ATTACH_NEEDS_EPOLL', `a ${this.selector.backend} selector has no fd to attach to Node's loop; use an EpollSelector`);
    }
    this.#watch = new Watch(this.selector.fd, () => this.#onReadable());
    if (this.selector.size === 0) this.#watch.unref();
    this.#scheduleNode();
    return this;
  }

  /** Detaches from Node's loop; fds and timers stay registered. */
  detach(): void {
    this.#watch?.close();
    this.#watch = undefined;
    if (this.#nodeTimer) clearTimeout(this.#nodeTimer);
    this.#nodeTimer = undefined;
    this.#nodeTimerDue = -1;
  }

  /**
   * Closes the loop: every registration still open is closed (its `close` hook, or the fd itself if the
   * loop owns it), timers and callbacks are dropped, and the selector is closed. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.detach();
    this.#signal?.removeEventListener('abort', this.#onAbort);
    const keys: SelectorKey<Registration>[] = [];
    for (let fd = 0, seen = 0; seen < this.selector.size; fd++) {
      const key = this.selector.get(fd);
      if (key) {
        keys.push(key);
        seen++;
      }
    }
    for (const key of keys) {
      if (this.selector.get(key.fd) !== key) continue; // closed by an earlier hook
      if (key.data.close) {
        key.data.close();
        if (this.selector.get(key.fd) === key) this.remove(key.fd);
      } else {
        this.remove(key.fd);
        if (key.data.owned) closeFd(key.fd);
      }
    }
    this.#closed = true;
    this.#timers.clearAll();
    this.#soon = [];
    this.selector.close();
  }

  #addTimer(callback: () => void, delayMs: number, intervalMs: number): Timer {
    this.#checkOpen();
    const timer = this.#timers.add(this.now(), delayMs, callback, intervalMs);
    if (this.#watch) this.#scheduleNode();
    return timer;
  }

  // The epoll fd is readable: a round, then the Node timer re-armed (the pending one stays valid).
  #onReadable(): void {
    if (this.#closed) return;
    this.runOnce(0);
    if (this.#watch) this.#scheduleNode();
  }

  // The Node timer fired: it is spent, so forget it before the round re-arms one.
  #tick(): void {
    this.#nodeTimer = undefined;
    this.#nodeTimerDue = -1;
    if (this.#closed) return;
    this.runOnce(0);
    if (this.#watch) this.#scheduleNode();
  }

  // Keeps one Node timer armed for the earliest of: queued callbacks (now) and the next loop timer.
  #scheduleNode(): void {
    const now = this.now();
    const timeout = this.#soon.length > 0 ? 0 : this.#timers.timeout(now);
    if (timeout < 0) {
      if (this.#nodeTimer) clearTimeout(this.#nodeTimer);
      this.#nodeTimer = undefined;
      this.#nodeTimerDue = -1;
      return;
    }
    const due = now + timeout;
    if (this.#nodeTimer && this.#nodeTimerDue <= due) return;
    if (this.#nodeTimer) clearTimeout(this.#nodeTimer);
    this.#nodeTimerDue = due;
    this.#nodeTimer = setTimeout(() => this.#tick(), timeout);
  }

  #checkOpen(): void {
    if (this.#closed) misuse('ERR_EPOLLKIT_LOOP_CLOSED', 'this event loop is closed');
  }
}
