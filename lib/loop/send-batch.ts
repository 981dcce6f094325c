/**
 * The replies of one round of an {@link EventLoop}, sent in one crossing at its end (sendBatch) — the
 * counterpart of the selector's read-ahead. A busy reactor answers ~50 requests per round; a crossing per
 * send was a tenth of its user time.
 *
 * A writer adds bytes while the round runs; they are copied (the caller's buffer is never kept, as with a
 * direct send). At the end of the round the loop flushes: each writer learns, in the order it wrote, how
 * much of each entry the kernel took, and queues the rest itself. Entries of one writer that are not
 * adjacent are chained (`after`), so nothing is sent after a short send of the same stream.
 * @module
 */

// Node's global Buffer is an accessor (a call per use in hot code); the module's binding is a plain load.
import { Buffer } from 'node:buffer';

/** What a {@link SendBatch} reports to: a connection. */
export interface BatchWriter {
  readonly fd: number;
  /**
   * The outcome of one entry: `result` bytes of `buffer[offset, offset + length)` were sent, or `-errno`
   * (`-EAGAIN` when the kernel took nothing, or an earlier entry of the same fd was sent short). The
   * bytes are valid only during the call.
   */
  batchSent(result: number, buffer: Buffer, offset: number, length: number): void;
}

/** Writes larger than this go straight to the kernel: the copy would cost more than the crossing. */
export const MAX_BATCHED_WRITE = 16 * 1024;
/** The batch's buffer starts at one large write's room and doubles up to this (a loop that serves one connection, as a thread-per-connection worker's, stays small). */
const BUFFER_SIZE = 256 * 1024;
const MAX_ENTRIES = 256;

/** One loop's send batch. */
export class SendBatch {
  /** Set by the loop while a round runs: only then are writes gathered. */
  open = false;
  /** Writes that joined their writer's entry just before (one send for both), since the start: a statistic. */
  coalesced = 0;
  readonly #bind: (list: Int32Array, buffer: Buffer) => (count: number) => number;
  /** The send bound to #list and #buffer (sendBatchBind), made again when the buffer grows. */
  #send: ((count: number) => number) | undefined;
  #buffer: Buffer | undefined;
  readonly #list = new Int32Array(4 * MAX_ENTRIES);
  readonly #writers: (BatchWriter | undefined)[] = [];
  #count = 0;
  #used = 0;

  /** `bind(list, buffer)` gives the function that sends the first `count` entries (sys.sendBatchBind). */
  constructor(bind: (list: Int32Array, buffer: Buffer) => (count: number) => number) {
    this.#bind = bind;
  }

  /** Entries waiting to be sent. */
  get size(): number {
    return this.#count;
  }

  /**
   * Gathers `data` for `writer`; false when it cannot (no round is running, the batch is full, or the
   * write is large): the writer then sends it itself — after {@link SendBatch.flush} if it has bytes here.
   * `pending`: whether the writer has bytes here already (only then are its entries looked for).
   */
  add(writer: BatchWriter, data: Uint8Array, pending: boolean): boolean {
    const length = data.length;
    if (!this.open || length > MAX_BATCHED_WRITE || this.#used + length > BUFFER_SIZE) return false;
    const list = this.#list;
    const last = this.#count - 1;
    if (last >= 0 && this.#writers[last] === writer) {
      list[4 * last + 2] += length; // the same writer again: its entry grows
      this.coalesced++;
    } else {
      if (this.#count === MAX_ENTRIES) return false;
      const i = this.#count++;
      list[4 * i] = writer.fd;
      list[4 * i + 1] = this.#used;
      list[4 * i + 2] = length;
      list[4 * i + 3] = pending ? this.#previous(writer, i) : -1;
      this.#writers[i] = writer;
    }
    this.#room(this.#used + length).set(data, this.#used);
    this.#used += length;
    return true;
  }

  /** Drops `writer`'s entries (it closed: its fd may be reused within the round). */
  cancel(writer: BatchWriter): void {
    for (let i = 0; i < this.#count; i++) {
      if (this.#writers[i] === writer) {
        this.#list[4 * i] = -1;
        this.#writers[i] = undefined;
      }
    }
  }

  /**
   * Sends what was gathered and reports each entry to its writer. Writes made by those reports are not
   * gathered (they go straight out), so the batch's buffer is not overwritten while it is being reported.
   * Every entry is reported even if a report throws; the first error is rethrown after.
   */
  flush(): void {
    const count = this.#count;
    if (count === 0) return;
    const list = this.#list;
    const buffer = this.#buffer!;
    const open = this.open;
    this.#send!(count);
    this.#count = 0;
    this.#used = 0;
    this.open = false;
    let failure: { error: unknown } | undefined;
    try {
      for (let i = 0; i < count; i++) {
        const writer = this.#writers[i];
        this.#writers[i] = undefined;
        if (writer === undefined) continue;
        try {
          writer.batchSent(list[4 * i + 3], buffer, list[4 * i + 1], list[4 * i + 2]);
        } catch (error) {
          failure ??= { error };
        }
      }
    } finally {
      this.open = open;
    }
    if (failure) throw failure.error;
  }

  // The buffer, grown (doubling, what it holds copied) to hold `bytes`.
  #room(bytes: number): Buffer {
    const buffer = this.#buffer;
    if (buffer !== undefined && buffer.length >= bytes) return buffer;
    let size = buffer?.length ?? MAX_BATCHED_WRITE;
    while (size < bytes) size *= 2;
    const grown = Buffer.allocUnsafe(Math.min(size, BUFFER_SIZE));
    if (buffer !== undefined) buffer.copy(grown, 0, 0, this.#used);
    this.#send = this.#bind(this.#list, grown);
    return (this.#buffer = grown);
  }

  // The writer's latest entry before `i`, or -1: the chain that keeps its stream in order.
  #previous(writer: BatchWriter, i: number): number {
    for (let k = i - 1; k >= 0; k--) if (this.#writers[k] === writer) return k;
    return -1;
  }
}
