/**
 * A connected stream socket on an {@link EventLoop}: reads in level- or edge-triggered style, a write
 * queue that survives partial writes, backpressure, half-close, idle and read timeouts, and a close that
 * happens exactly once with a reason. recv(2), send(2), writev(2), sendfile(2), shutdown(2).
 *
 * - **Reading.** `readMode: 'level'` does `readsPerEvent` (default 1) recv per readiness and relies on
 *   the selector to report the fd again; `'edge'` reads until the socket is drained, as an
 *   edge-triggered selector requires (or until `readBudget` bytes, then continues after the other ready
 *   fds: the cure for one fast sender starving the rest). "Drained" is EAGAIN, or by default (`edgeDrain:
 *   'short-read'`, nginx's rule in ngx_unix_recv) a recv that returned less than the buffer: a stream
 *   socket's recv stops short only when its queue is empty, and bytes arriving after it raise a new edge,
 *   so the EAGAIN recv — one syscall per event, what made ET slower than LT — is skipped. It stops short
 *   with data left in two cases, and then the reader goes on to EAGAIN: end of stream already queued
 *   (EPOLLRDHUP/EPOLLHUP in the event) and TCP urgent data (EPOLLPRI). The default follows the selector's
 *   trigger. A chunk handed to `onData` lives in a buffer shared by every connection of the thread: it is
 *   valid only during the call — copy what you keep. On an epoll selector the first recv of each readiness
 *   is made by the wait itself, for every ready connection in one crossing (`Selector.readAhead`); its bytes
 *   arrive through `onData` the same way.
 * - **Writing.** `write()` never retains the caller's buffer. While the loop runs a round, a small write is
 *   copied into the loop's send batch and leaves with every other connection's at the end of the round, in
 *   one crossing (`EventLoop.sends`); otherwise it is sent at once. Either way only what the kernel did not
 *   take is queued (a copy). Under level-triggering the fd waits for EPOLLOUT only while output is queued;
 *   under edge-triggering it is registered for both directions once and never re-registered (an edge is
 *   reported only when space frees up after an EAGAIN).
 * - **Backpressure.** Above `highWaterMark` queued bytes the connection stops reading, so a peer that
 *   sends without reading cannot grow the server's memory; below half of it, reading resumes.
 * @module
 */
// Node's global Buffer is an accessor (a call per use in hot code); the module's binding is a plain load.
import { Buffer } from 'node:buffer';
import { errnoError, errno, misuse } from '../errors';
import * as sys from '../sys/socket';
import type { EventLoop, Registration, Timer } from './event-loop';
import type { BatchWriter } from './send-batch';
import { Interest, NOT_READ, READ_AHEAD_SIZE, type SelectorKey } from './selector';

/** Why a connection closed. */
export type CloseReason =
  | 'end' // both sides finished normally
  | 'local' // close() was called
  | 'reset' // the peer reset the connection (ECONNRESET, EPIPE)
  | 'error' // another socket error
  | 'idle-timeout' // no I/O for idleTimeoutMs
  | 'read-timeout' // no byte from the peer for readTimeoutMs
  | 'loop-closed'; // the loop was closed under it

/** What a connection reports to its owner; every hook is optional except `onData`. */
export interface ConnectionHandlers {
  /** Bytes arrived. `chunk` is only valid during the call. */
  onData(chunk: Buffer, connection: Connection): void;
  /** The peer half-closed (recv returned 0). Without this hook the connection ends its side too. */
  onEnd?(connection: Connection): void;
  /** The write queue drained below the low-water mark after backpressure, or emptied. */
  onDrain?(connection: Connection): void;
  /** Called exactly once. `error` is set for 'reset' and 'error'. */
  onClose?(reason: CloseReason, error: Error | undefined, connection: Connection): void;
}

/** Options of {@link Connection}. */
export interface ConnectionOptions {
  /** Default: the selector's trigger. */
  readMode?: 'level' | 'edge';
  /** Level mode: recv calls per readiness (default 1). */
  readsPerEvent?: number;
  /** Edge mode: bytes read per readiness before yielding to other fds (default: no limit). */
  readBudget?: number;
  /**
   * Edge mode: what ends a readiness's reading — `'short-read'` (default: a recv shorter than the buffer,
   * unless the event also reported a hangup or urgent data) or `'eagain'` (the textbook rule, one more
   * recv per event; the ET lab compares them).
   */
  edgeDrain?: 'short-read' | 'eagain';
  /** Size of one recv (default 64 KiB). */
  readBufferSize?: number;
  /** Queued output above which reading pauses (default 1 MiB). */
  highWaterMark?: number;
  /** Close after this long without any I/O progress (default: never). */
  idleTimeoutMs?: number;
  /** Close after this long without a byte from the peer (default: never). */
  readTimeoutMs?: number;
}

interface FileChunk {
  fd: number;
  offset: number;
  end: number;
  onDone?: (error?: Error) => void;
}

type QueueEntry = { buf: Buffer; off: number } | FileChunk;

// The read-ahead's size too: a read the selector made is judged "short" by the same length as our own.
const SHARED_READ_SIZE = READ_AHEAD_SIZE;
let sharedReadBuffer: Buffer | undefined;
/**
 * The last chunk view made on the shared buffer, handed out again for a read of the same length: a
 * request/response peer sends the same sizes again and again (a calculator frame is always 12 bytes), and
 * a new view per read was a tenth of the loop's own time. A chunk is valid only during onData anyway.
 */
let sharedView: Buffer | undefined;

function chunkOf(buf: Buffer, n: number): Buffer {
  if (buf !== sharedReadBuffer) return buf.subarray(0, n);
  if (sharedView === undefined || sharedView.length !== n) sharedView = buf.subarray(0, n);
  return sharedView;
}

/** One connected socket; create it with the fd from `accept4` or a completed `connect`. */
export class Connection implements BatchWriter {
  readonly fd: number;
  readonly loop: EventLoop;
  /** Anything the owner wants to attach (a protocol session, a request id...). */
  context: unknown;
  readonly #handlers: ConnectionHandlers;
  readonly #edgeRead: boolean;
  readonly #edgeSelector: boolean;
  readonly #oneshot: boolean;
  readonly #readsPerEvent: number;
  readonly #readBudget: number;
  readonly #shortReadDrains: boolean;
  readonly #readBuffer: Buffer;
  readonly #highWaterMark: number;
  readonly #idleTimeoutMs: number;
  readonly #readTimeoutMs: number;
  #queue: QueueEntry[] = [];
  #queued = 0;
  /** Bytes of ours in the loop's send batch (only while #queue is empty: the batch goes out first). */
  #batched = 0;
  #interest = 0;
  #paused = false; // by backpressure or pause()
  #userPaused = false;
  #readEnded = false;
  #ending = false;
  #writeEnded = false;
  #closeWhenFlushed = false;
  #closed = false;
  #continueScheduled = false;
  /** Whether the selector reads this fd in its wait while we are reading (Selector.readAhead). */
  readonly #readAhead: boolean;
  /** What the selector read for us while reading was paused, kept for the resume. */
  #stash: { received: number; chunk: Buffer | undefined } | undefined;
  #lastIo: number;
  #lastRead: number;
  #deadline: Timer | undefined;
  bytesRead = 0;
  bytesWritten = 0;
  /** The most output this connection ever held queued: what backpressure bounds. */
  peakWritableLength = 0;

  constructor(loop: EventLoop, fd: number, handlers: ConnectionHandlers, options: ConnectionOptions = {}) {
    this.loop = loop;
    this.fd = fd;
    this.#handlers = handlers;
    this.#edgeSelector = loop.selector.trigger === 'edge';
    this.#oneshot = loop.selector.oneshot;
    this.#edgeRead = (options.readMode ?? loop.selector.trigger) === 'edge';
    this.#readsPerEvent = Math.max(1, options.readsPerEvent ?? 1);
    this.#readBudget = options.readBudget ?? Infinity;
    this.#shortReadDrains = this.#edgeRead && (options.edgeDrain ?? 'short-read') === 'short-read';
    const size = options.readBufferSize ?? SHARED_READ_SIZE;
    this.#readBuffer =
      size === SHARED_READ_SIZE ? (sharedReadBuffer ??= Buffer.allocUnsafe(SHARED_READ_SIZE)) : Buffer.allocUnsafe(size);
    this.#highWaterMark = options.highWaterMark ?? 1024 * 1024;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 0;
    this.#readTimeoutMs = options.readTimeoutMs ?? 0;
    this.#lastIo = this.#lastRead = loop.now();
    this.#interest = this.#edgeSelector ? Interest.READABLE | Interest.WRITABLE : Interest.READABLE;
    loop.add(fd, this.#interest, (key) => this.#onReady(key), { close: () => this.close('loop-closed') });
    this.#readAhead = loop.selector.readAhead !== undefined && this.#readBuffer === sharedReadBuffer;
    if (this.#readAhead) loop.selector.readAhead!(fd, true);
    this.#armDeadline();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes queued for output (not yet taken by the kernel). */
  get writableLength(): number {
    return this.#queued + this.#batched;
  }

  /** True while more output is queued than the high-water mark (`write` returned false; wait for `onDrain`). */
  get writableNeedDrain(): boolean {
    return this.#queued + this.#batched > this.#highWaterMark;
  }

  /** True while reading is paused by backpressure or {@link Connection.pause}. */
  get paused(): boolean {
    return this.#paused;
  }

  /**
   * Sends `data`, queueing whatever the kernel does not take now. Returns false when the queue is above
   * the high-water mark (the caller should wait for `onDrain`), like a Node stream's write().
   */
  write(data: Uint8Array): boolean {
    this.#checkWritable();
    if (data.length === 0) return true;
    // While the loop runs a round, into its send batch (sent at the end of the round, one crossing for all).
    if (this.#queue.length === 0 && this.loop.sends.add(this, data, this.#batched > 0)) {
      this.#batched += data.length;
      return this.#batched <= this.#highWaterMark;
    }
    if (!this.#sendBatchFirst()) return false;
    let off = 0;
    if (this.#queue.length === 0) {
      const n = sys.send(this.fd, data, 0, data.length);
      if (n < 0 && n !== -errno.EAGAIN) {
        this.#fail(n, 'send');
        return false;
      }
      if (n > 0) this.#progress(n);
      off = Math.max(0, n);
      if (off === data.length) return true;
    }
    this.#queue.push({ buf: Buffer.from(data.subarray(off)), off: 0 });
    this.#queued += data.length - off;
    this.#afterQueue();
    return this.#queued <= this.#highWaterMark;
  }

  /**
   * Sends `length` bytes of file `fd` from `offset` with sendfile(2), after anything already queued.
   * The caller keeps ownership of the file fd; `onDone` runs when it has been sent (or with the error).
   */
  sendFile(fd: number, offset: number, length: number, onDone?: (error?: Error) => void): void {
    this.#checkWritable();
    if (!this.#sendBatchFirst()) return onDone?.(new Error('connection closed before the file was sent'));
    this.#queue.push({ fd, offset, end: offset + length, onDone });
    this.#queued += length;
    this.#flush();
    if (!this.#closed) this.#afterQueue();
  }

  /** Half-closes: once the queue has drained, shutdown(SHUT_WR). Closes when the peer has ended too. */
  end(): void {
    if (this.#closed || this.#ending) return;
    this.#ending = true;
    this.#maybeShutdown();
  }

  /** Writes out what is queued, then closes (reason 'end'); stops reading meanwhile. */
  gracefulClose(): void {
    if (this.#closed) return;
    this.#closeWhenFlushed = true;
    this.#ending = true;
    this.#setPaused(true);
    if (this.#queue.length === 0 && this.#batched === 0) this.close('end');
  }

  /** Stops reading until {@link Connection.resume}. */
  pause(): void {
    this.#userPaused = true;
    this.#setPaused(true);
  }

  resume(): void {
    this.#userPaused = false;
    if (this.#queued <= this.#highWaterMark / 2) this.#setPaused(false);
  }

  /** Closes now, dropping queued output. Idempotent: `onClose` runs exactly once. */
  close(reason: CloseReason = 'local', error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#batched > 0) this.loop.sends.cancel(this);
    this.#batched = 0;
    this.loop.clearTimer(this.#deadline);
    if (!this.loop.closed && this.loop.selector.get(this.fd)) this.loop.remove(this.fd);
    sys.close(this.fd);
    const files = this.#queue.filter((e): e is FileChunk => 'fd' in e);
    this.#queue = [];
    this.#stash = undefined;
    this.#queued = 0;
    for (const file of files) file.onDone?.(new Error(`connection closed (${reason}) before the file was sent`));
    this.#handlers.onClose?.(reason, error, this);
  }

  /** @internal The loop's send batch reports an entry of ours (see {@link BatchWriter}). */
  batchSent(result: number, buffer: Buffer, offset: number, length: number): void {
    this.#batched -= length;
    if (this.#closed) return;
    if (result < 0 && result !== -errno.EAGAIN) return this.#fail(result, 'send');
    const sent = Math.max(result, 0);
    this.#progress(sent);
    if (sent < length) {
      // The kernel's buffer is full: the rest waits in our queue, as after a short direct send.
      this.#queue.push({ buf: Buffer.from(buffer.subarray(offset + sent, offset + length)), off: 0 });
      this.#queued += length - sent;
      this.#afterQueue();
    } else if (this.#batched === 0 && this.#queue.length === 0) {
      if (this.#closeWhenFlushed) this.close('end');
      else this.#maybeShutdown();
    }
  }

  // Output must leave in order: bytes of ours still in the loop's batch go before anything sent directly.
  // False when that closed the connection.
  #sendBatchFirst(): boolean {
    if (this.#batched > 0) this.loop.sends.flush();
    return !this.#closed;
  }

  #onReady(key: SelectorKey<Registration>): void {
    this.#dispatch(key);
    // EPOLLONESHOT disarmed the fd with this event: hand it back to the kernel, with what it waits for now
    // (one epoll_ctl per event: the price of ONESHOT that the ET lab shows).
    if (this.#oneshot && !this.#closed) this.loop.modify(this.fd, this.#interest);
  }

  #dispatch(key: SelectorKey<Registration>): void {
    if (key.error) {
      const code = sys.getsockopt(this.fd, sys.SOL_SOCKET, sys.SO_ERROR);
      if (code !== 0) return this.#fail(-code, 'recv');
    }
    if (key.writable && this.#queue.length > 0) {
      this.#flush();
      if (this.#closed) return;
    }
    if ((key.readable || key.hangup) && !this.#paused && !this.#readEnded && this.#stash === undefined) {
      this.#read(this.#shortReadDrains && !key.hangup && !key.urgent, key.received, key.chunk);
      return;
    }
    // Read-ahead for a reader paused earlier in this batch (by another connection's handler): keep it.
    if (key.received !== NOT_READ) this.#keep(key.received, key.chunk);
    if (key.hangup && (this.#paused || this.#readEnded) && !this.#edgeSelector) {
      // Level-triggered EPOLLHUP is reported whatever the interest: without this the loop would spin.
      if (this.#queue.length === 0 || !key.writable) this.close('end');
    }
  }

  // `shortReadDrains`: in edge mode, a recv shorter than the buffer ends this readiness (see the header).
  // `received` (with `chunk`): the result of a recv the selector already made (read-ahead), taken as the
  // first read's.
  #read(shortReadDrains: boolean, received: number, chunk: Buffer | undefined): void {
    const buf = this.#readBuffer;
    let budget = this.#edgeRead ? this.#readBudget : Infinity;
    for (let reads = 0; ; reads++) {
      if (!this.#edgeRead && reads >= this.#readsPerEvent) return;
      if (this.#edgeRead && budget <= 0) {
        this.#scheduleContinue();
        return;
      }
      let n: number;
      if (received !== NOT_READ) {
        n = received;
        received = NOT_READ;
      } else {
        n = sys.recv(this.fd, buf, 0, buf.length);
        chunk = undefined;
      }
      if (n > 0) {
        this.bytesRead += n;
        budget -= n;
        this.#lastIo = this.#lastRead = this.loop.time;
        this.#handlers.onData(chunk ?? chunkOf(buf, n), this);
        if (this.#closed || this.#paused || (shortReadDrains && n < buf.length)) return;
      } else if (n === 0) {
        return this.#onPeerEnd();
      } else if (n === -errno.EAGAIN) {
        return;
      } else {
        return this.#fail(n, 'recv');
      }
    }
  }

  // Edge mode with a read budget: finish this fd's reading after the others had their turn.
  #scheduleContinue(): void {
    if (this.#continueScheduled) return;
    this.#continueScheduled = true;
    this.loop.callSoon(() => {
      this.#continueScheduled = false;
      // Whatever the last event said is stale by now: read on to EAGAIN.
      if (this.#closed || this.#paused || this.#readEnded) return;
      const stash = this.#stash;
      this.#stash = undefined;
      this.#read(false, stash?.received ?? NOT_READ, stash?.chunk);
    });
  }

  // The chunk lives in the selector's buffer until its next wait: copied. Pausing turns the read-ahead
  // off, so at most one comes while paused; a second is appended rather than trusted not to happen. An end
  // or error after kept bytes is left for the socket to report again (a recv at end of stream keeps
  // returning 0).
  #keep(received: number, chunk: Buffer | undefined): void {
    const kept = this.#stash;
    if (kept !== undefined && kept.received > 0) {
      if (received > 0) kept.chunk = Buffer.concat([kept.chunk!, chunk!]);
      kept.received = kept.chunk!.length;
      return;
    }
    this.#stash = { received, chunk: chunk && Buffer.from(chunk) };
  }

  #setReadAhead(on: boolean): void {
    if (this.#readAhead && !this.#closed && !this.loop.closed) this.loop.selector.readAhead!(this.fd, on);
  }

  #onPeerEnd(): void {
    this.#readEnded = true;
    this.#setReadAhead(false);
    if (!this.#edgeSelector) this.#updateInterest();
    if (this.#writeEnded) return this.close('end');
    if (this.#handlers.onEnd) this.#handlers.onEnd(this);
    else this.end();
  }

  #flush(): void {
    while (this.#queue.length > 0) {
      const head = this.#queue[0];
      let n: number;
      if ('buf' in head) {
        n = this.#queue.length > 1 && 'buf' in this.#queue[1] ? this.#writev() : sys.send(this.fd, head.buf, head.off, head.buf.length - head.off);
        if (n > 0) this.#consume(n);
      } else {
        n = sys.sendfile(this.fd, head.fd, head.offset, head.end - head.offset);
        if (n > 0) {
          head.offset += n;
          this.#queued -= n;
          if (head.offset >= head.end) {
            this.#queue.shift();
            head.onDone?.();
          }
        } else if (n === 0) {
          // The file is shorter than promised: the peer would wait forever for the rest.
          this.#queue.shift();
          const error = new Error(`sendfile: file ended ${head.end - head.offset} bytes early`);
          head.onDone?.(error);
          return this.close('error', error);
        }
      }
      if (n === -errno.EAGAIN) break;
      if (n < 0) return this.#fail(n, 'buf' in head ? 'send' : 'sendfile');
      this.#progress(Math.max(n, 0));
    }
    this.#afterFlush();
  }

  #writev(): number {
    const buffers: Buffer[] = [];
    for (const entry of this.#queue) {
      if (!('buf' in entry) || buffers.length === 64) break;
      buffers.push(entry.off === 0 ? entry.buf : entry.buf.subarray(entry.off));
    }
    return sys.writev(this.fd, buffers);
  }

  #consume(n: number): void {
    this.#queued -= n;
    while (n > 0) {
      const head = this.#queue[0] as { buf: Buffer; off: number };
      const left = head.buf.length - head.off;
      if (n >= left) {
        n -= left;
        this.#queue.shift();
      } else {
        head.off += n;
        n = 0;
      }
    }
  }

  #progress(n: number): void {
    this.bytesWritten += n;
    if (n > 0) this.#lastIo = this.loop.time;
  }

  #afterQueue(): void {
    if (this.#queued > this.peakWritableLength) this.peakWritableLength = this.#queued;
    if (this.#queued > this.#highWaterMark) this.#setPaused(true);
    this.#updateInterest();
  }

  #afterFlush(): void {
    if (this.#closed) return;
    if (this.#queue.length === 0) {
      if (this.#closeWhenFlushed) return this.close('end');
      this.#maybeShutdown();
      if (this.#closed) return;
    }
    if (this.#paused && !this.#userPaused && !this.#closeWhenFlushed && this.#queued <= this.#highWaterMark / 2) {
      this.#setPaused(false);
      this.#handlers.onDrain?.(this);
    } else if (this.#queue.length === 0) {
      this.#handlers.onDrain?.(this);
    }
    if (!this.#closed) this.#updateInterest();
  }

  #maybeShutdown(): void {
    if (!this.#ending || this.#writeEnded || this.#queue.length > 0 || this.#batched > 0 || this.#closed) return;
    this.#writeEnded = true;
    try {
      sys.shutdown(this.fd, sys.SHUT_WR);
    } catch (error) {
      return this.close('reset', error as Error);
    }
    if (this.#readEnded) this.close('end');
  }

  #setPaused(paused: boolean): void {
    if (this.#paused === paused || this.#closed) return;
    this.#paused = paused;
    if (!this.#readEnded) this.#setReadAhead(!paused);
    if (!this.#edgeSelector) this.#updateInterest();
    // Under edge-triggering no new edge may come for bytes that arrived while paused: look now. Bytes the
    // selector read meanwhile will not be reported again under either trigger.
    if (!paused && !this.#readEnded && (this.#edgeSelector || this.#stash !== undefined)) this.#scheduleContinue();
  }

  // Level-triggered only: readable while reading, writable while output is queued.
  #updateInterest(): void {
    if (this.#edgeSelector || this.#closed) return;
    const interest =
      (this.#paused || this.#readEnded ? 0 : Interest.READABLE) | (this.#queue.length > 0 ? Interest.WRITABLE : 0);
    if (interest !== this.#interest) {
      this.#interest = interest;
      this.loop.modify(this.fd, interest);
    }
  }

  #armDeadline(): void {
    if (this.#idleTimeoutMs <= 0 && this.#readTimeoutMs <= 0) return;
    const idleAt = this.#idleTimeoutMs > 0 ? this.#lastIo + this.#idleTimeoutMs : Infinity;
    const readAt = this.#readTimeoutMs > 0 ? this.#lastRead + this.#readTimeoutMs : Infinity;
    const now = this.loop.now();
    // One timer per connection, checked lazily: activity only moves the timestamps, not the heap.
    this.#deadline = this.loop.setTimeout(() => {
      const at = this.loop.now();
      if (this.#idleTimeoutMs > 0 && at >= this.#lastIo + this.#idleTimeoutMs) return this.close('idle-timeout');
      if (this.#readTimeoutMs > 0 && !this.#readEnded && at >= this.#lastRead + this.#readTimeoutMs) {
        return this.close('read-timeout');
      }
      this.#armDeadline();
    }, Math.min(idleAt, readAt) - now);
  }

  #fail(negativeErrno: number, syscall: string): void {
    const error = errnoError(negativeErrno, syscall, { fd: this.fd });
    const reset = negativeErrno === -errno.ECONNRESET || negativeErrno === -errno.EPIPE;
    this.close(reset ? 'reset' : 'error', error);
  }

  #checkWritable(): void {
    if (this.#closed) misuse('ERR_EPOLLKIT_CONNECTION_CLOSED', 'write after close');
    if (this.#ending) misuse('ERR_EPOLLKIT_CONNECTION_CLOSED', 'write after end');
  }
}
