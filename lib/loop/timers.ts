/**
 * Timers in a binary min-heap ordered by (due time, creation order), as libuv keeps them: the next
 * deadline is the top, insertion and removal are O(log n), and timers due at the same time run in the
 * order they were set.
 * @module
 */

/** A scheduled callback; pass it to {@link TimerHeap.clear} (or `loop.clearTimer`) to cancel it. */
export class Timer {
  /** Position in the heap, or -1 when not scheduled. */
  index = -1;
  constructor(
    public due: number,
    readonly seq: number,
    readonly callback: () => void,
    /** Repeat period, or 0 for a one-shot timer. */
    readonly intervalMs: number,
  ) {}

  /** True while the timer is scheduled. */
  get active(): boolean {
    return this.index >= 0;
  }
}

function before(a: Timer, b: Timer): boolean {
  return a.due < b.due || (a.due === b.due && a.seq < b.seq);
}

/** The heap. `now` is whatever monotonic clock the owner uses (milliseconds). */
export class TimerHeap {
  readonly #heap: Timer[] = [];
  #seq = 0;

  get size(): number {
    return this.#heap.length;
  }

  /** Schedules `callback` at `now + delayMs`, repeating every `intervalMs` if it is > 0. */
  add(now: number, delayMs: number, callback: () => void, intervalMs = 0): Timer {
    const timer = new Timer(now + Math.max(0, delayMs), this.#seq++, callback, intervalMs);
    this.#push(timer);
    return timer;
  }

  /** Cancels a timer; a timer already run or cleared is ignored. */
  clear(timer: Timer): void {
    const i = timer.index;
    if (i < 0 || this.#heap[i] !== timer) return;
    const last = this.#heap.pop()!;
    timer.index = -1;
    if (last !== timer) {
      this.#heap[i] = last;
      last.index = i;
      this.#down(i);
      this.#up(last.index);
    }
  }

  /** Milliseconds until the next timer is due (0 if one is overdue), or -1 when there is none. */
  timeout(now: number): number {
    const top = this.#heap[0];
    return top ? Math.max(0, Math.ceil(top.due - now)) : -1;
  }

  /**
   * Runs every timer due at `now`. A repeating timer is rescheduled before its callback runs, so the
   * callback may clear it; timers added by callbacks wait for the next round even when already due.
   */
  run(now: number): void {
    const limit = this.#seq;
    for (let top = this.#heap[0]; top && top.due <= now && top.seq < limit; top = this.#heap[0]) {
      this.clear(top);
      if (top.intervalMs > 0) {
        top.due = now + top.intervalMs;
        this.#push(top);
      }
      top.callback();
    }
  }

  clearAll(): void {
    for (const timer of this.#heap) timer.index = -1;
    this.#heap.length = 0;
  }

  #push(timer: Timer): void {
    timer.index = this.#heap.length;
    this.#heap.push(timer);
    this.#up(timer.index);
  }

  #up(i: number): void {
    const heap = this.#heap;
    const timer = heap[i];
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(timer, heap[parent])) break;
      heap[i] = heap[parent];
      heap[i].index = i;
      i = parent;
    }
    heap[i] = timer;
    timer.index = i;
  }

  #down(i: number): void {
    const heap = this.#heap;
    const n = heap.length;
    const timer = heap[i];
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && before(heap[child + 1], heap[child])) child++;
      if (!before(heap[child], timer)) break;
      heap[i] = heap[child];
      heap[i].index = i;
      i = child;
    }
    heap[i] = timer;
    timer.index = i;
  }
}
