/**
 * Seed 002's single-process nonblocking server, as a Selector: no readiness at all. Every wait reports
 * every registered fd as ready for what it is interested in, and the reactor simply tries — recv, accept4,
 * send — getting EAGAIN from the idle ones. That is the "nonblocking list scanned in a loop" of the seed,
 * and what it costs is the point: one syscall per idle fd per scan, and a core at 100% even when nothing
 * happens. `idleSleepUs` makes it sleep after a scan that moved no byte, trading latency for CPU.
 * It has no fd to attach to Node's loop: run it with a blocking `run()`.
 * @module
 */
import { COUNTER_NAMES, readCountersInto } from '../sys/counters';
import { BaseSelector, Interest, markReady } from './selector';

/** Options of {@link BusyPollSelector}. */
export interface BusyPollOptions {
  /** Sleep this long after a scan that moved no byte and accepted nothing (default 0: spin). */
  idleSleepUs?: number;
}

const PROGRESS = ['recvBytes', 'sendBytes', 'sendfileBytes', 'recvfrom'].map((name) => COUNTER_NAMES.indexOf(name as never));

/** A "selector" that reports everything ready, always. */
export class BusyPollSelector<T = unknown> extends BaseSelector<T> {
  readonly backend = 'busy-poll';
  readonly #idleSleepUs: number;
  readonly #counters = new Float64Array(COUNTER_NAMES.length);
  readonly #sleeper = new Int32Array(new SharedArrayBuffer(4));
  #lastProgress = -1;
  #lastSize = -1;
  /** Scans made, and scans followed by an idle sleep. */
  scans = 0;
  sleeps = 0;

  constructor(options: BusyPollOptions = {}) {
    super();
    this.#idleSleepUs = options.idleSleepUs ?? 0;
  }

  protected add(): void {}
  protected change(): void {}
  protected remove(): void {}
  protected release(): void {}

  protected wait(timeoutMs: number): void {
    this.scans++;
    if (this.#idleSleepUs > 0 && timeoutMs !== 0 && this.#idle()) {
      this.sleeps++;
      const sleepMs = this.#idleSleepUs / 1000;
      Atomics.wait(this.#sleeper, 0, 0, timeoutMs < 0 ? sleepMs : Math.min(sleepMs, timeoutMs));
    }
    for (const key of this.keys()) {
      const readable = (key.interest & Interest.READABLE) !== 0;
      const writable = (key.interest & Interest.WRITABLE) !== 0;
      if (readable || writable) markReady(this.ready, key, readable, writable, false, false);
    }
  }

  // Idle when the previous scan moved no byte (the addon's own counters say) and no fd came or went.
  #idle(): boolean {
    readCountersInto(this.#counters);
    let progress = 0;
    for (const i of PROGRESS) progress += this.#counters[i];
    const idle = progress === this.#lastProgress && this.size === this.#lastSize;
    this.#lastProgress = progress;
    this.#lastSize = this.size;
    return idle;
  }
}

