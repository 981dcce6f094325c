/**
 * The async/await face of a {@link Connection}: `for await (const chunk of conn)` and `await conn.write()`
 * — seed 002's coroutine (gevent) model, with the event loop as the scheduler and no dependency. Each
 * connection is one async function; it reads as if blocking, and yields to the loop at every `await`.
 *
 * It needs the loop **attached** to Node's loop (`loop.attach()`): promises settle between Node's
 * callbacks, which a blocking `run()` never returns to.
 * @module
 */
import { misuse } from '../errors';
import { Connection, type CloseReason, type ConnectionOptions } from './connection';
import type { EventLoop } from './event-loop';

/** A connection read by iteration and written by awaiting. */
export class AsyncConnection implements AsyncIterable<Buffer> {
  readonly connection: Connection;
  readonly #chunks: Buffer[] = [];
  #buffered = 0;
  readonly #highWaterMark: number;
  #ended = false;
  #closeReason: CloseReason | undefined;
  #error: Error | undefined;
  #readWaiter: (() => void) | undefined;
  #drainWaiters: (() => void)[] = [];
  #closeWaiters: (() => void)[] = [];

  constructor(loop: EventLoop, fd: number, options: ConnectionOptions = {}) {
    if (!loop.attached) {
      misuse('ERR_EPOLLKIT_LOOP_NOT_ATTACHED', 'AsyncConnection needs a loop attached to Node\'s loop: call loop.attach() first');
    }
    this.#highWaterMark = options.highWaterMark ?? 1024 * 1024;
    this.connection = new Connection(
      loop,
      fd,
      {
        onData: (chunk) => {
          // The chunk lives in a shared buffer: the reader gets its own copy.
          this.#chunks.push(Buffer.from(chunk));
          this.#buffered += chunk.length;
          if (this.#buffered > this.#highWaterMark) this.connection.pause();
          this.#wakeReader();
        },
        onEnd: () => {
          this.#ended = true;
          this.#wakeReader();
        },
        onDrain: () => this.#wake('drain'),
        onClose: (reason, error) => {
          this.#closeReason = reason;
          this.#error = error;
          this.#ended = true;
          this.#wakeReader();
          this.#wake('drain');
          this.#wake('close');
        },
      },
      options,
    );
  }

  get closed(): boolean {
    return this.connection.closed;
  }

  /** Why it closed, once it has. */
  get closeReason(): CloseReason | undefined {
    return this.#closeReason;
  }

  /**
   * The next chunk, or null at end of stream. Rejects with the connection's error (a reset, a timeout
   * is reported as end of stream with `closeReason` set).
   */
  async read(): Promise<Buffer | null> {
    for (;;) {
      const chunk = this.#chunks.shift();
      if (chunk) {
        this.#buffered -= chunk.length;
        if (this.connection.paused && this.#buffered <= this.#highWaterMark / 2 && !this.connection.closed) {
          this.connection.resume();
        }
        return chunk;
      }
      if (this.#error) throw this.#error;
      if (this.#ended) return null;
      await new Promise<void>((resolve) => (this.#readWaiter = resolve));
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    for (let chunk = await this.read(); chunk; chunk = await this.read()) yield chunk;
  }

  /** Queues `data`; resolves once the output queue is below the high-water mark. */
  async write(data: Uint8Array): Promise<void> {
    if (this.#error) throw this.#error;
    if (this.connection.write(data)) return;
    await new Promise<void>((resolve) => this.#drainWaiters.push(resolve));
    if (this.#error) throw this.#error;
  }

  /** Resolves once the output queue is at or below half the high-water mark (at once if it already is). */
  async drained(): Promise<void> {
    if (this.connection.closed || this.connection.writableLength <= this.#highWaterMark / 2) return;
    await new Promise<void>((resolve) => this.#drainWaiters.push(resolve));
  }

  /** Resolves when the connection has closed, for whatever reason. */
  closedPromise(): Promise<void> {
    return this.#closedPromise();
  }

  /** Half-closes after the queued output; resolves when the connection has closed. */
  async end(): Promise<void> {
    if (!this.connection.closed) this.connection.end();
    await this.#closedPromise();
  }

  /** Writes out what is queued, closes, and resolves when closed. */
  async close(): Promise<void> {
    this.connection.gracefulClose();
    await this.#closedPromise();
  }

  #closedPromise(): Promise<void> {
    if (this.connection.closed) return Promise.resolve();
    return new Promise((resolve) => this.#closeWaiters.push(resolve));
  }

  #wakeReader(): void {
    const waiter = this.#readWaiter;
    this.#readWaiter = undefined;
    waiter?.();
  }

  #wake(what: 'drain' | 'close'): void {
    const waiters = what === 'drain' ? this.#drainWaiters : this.#closeWaiters;
    if (what === 'drain') this.#drainWaiters = [];
    else this.#closeWaiters = [];
    for (const waiter of waiters) waiter();
  }
}
