/**
 * The protocol contract, sans-IO: a protocol never touches a socket. It receives bytes and answers with
 * actions on a {@link Transport} — write these bytes, send this part of a file, half-close, close — so one
 * implementation runs on every server model: the reactor executes the actions on a nonblocking
 * Connection, a forked child with blocking writes, a test with a recorder.
 * @module
 */

/** The actions a session may take. */
export interface Transport {
  /** Queue bytes for the peer. The transport never keeps `data` past the call (it copies what it queues). */
  write(data: Uint8Array): void;
  /** Queue `length` bytes of file `fd` from `offset` (sendfile where the transport can). */
  sendFile(fd: number, offset: number, length: number, onDone?: (error?: Error) => void): void;
  /** Half-close once queued output is written. */
  end(): void;
  /** Close once queued output is written. */
  close(): void;
  /**
   * Arms the session's one timer (a later call replaces it): `onTimeout` runs once, `delayMs` from now,
   * on the session's own thread and never inside another of its callbacks, and never after the connection
   * closed. What a protocol needs for a deadline of its own, such as HTTP's header-read timeout, which
   * the server's idle timeout cannot express (a slowloris is never idle). Optional: a transport without
   * a clock leaves it out, and the session then lives by the server's timeouts alone. The reactor runs it
   * on its loop's timer heap; the forked child's blocking transport caps each wait for input by it.
   */
  setTimer?(delayMs: number, onTimeout: () => void): void;
  /** Disarms the timer, if armed. */
  clearTimer?(): void;
  /**
   * The wall clock (ms since the epoch, as Date.now()) as the transport's loop read it this round: one
   * reading per round serves every request in it. Optional; a session falls back to Date.now().
   */
  now?(): number;
  /** The peer's address (for logs), looked up on the first call; undefined when unknown. */
  peerAddress?(): string | undefined;
  /**
   * True while more output is queued than the connection's high-water mark: a session that could go on
   * producing (answering pipelined requests) should stop and go on in `Session.onDrain`, so that a client that
   * sends without reading costs the server no more than the mark. Absent (or false) on a transport that
   * writes through, such as a forked child's blocking one.
   */
  readonly writableNeedDrain?: boolean;
  /**
   * True when no real client is on the other end: a server is running the protocol's `sample` to compile
   * its code before forking (see {@link Protocol.sample}). A session leaves no trace of a rehearsal —
   * no log line, no lasting state.
   */
  readonly rehearsal?: boolean;
}

/** One connection's (or one peer's) state in a protocol. */
export interface Session {
  /** The connection is open (a greeting may be written here). */
  onOpen?(): void;
  /** Bytes arrived; `chunk` is only valid during the call. */
  onData(chunk: Uint8Array): void;
  /** The peer half-closed. */
  onEnd?(): void;
  /** Queued output fell below the low-water mark after `Transport.writableNeedDrain` was seen true. */
  onDrain?(): void;
  /** The connection is gone, for whatever reason; release what the session holds. */
  onClose?(): void;
}

/** A protocol: a factory of sessions. */
export interface Protocol {
  readonly name: string;
  open(transport: Transport): Session;
  /**
   * A typical first request from a client. A server that forks per connection runs a few sessions with it
   * in the parent at start (over a socketpair, transport marked `rehearsal`), so that every child inherits
   * its code compiled: otherwise each child parses and compiles the whole request path again, which cost
   * more than the fork itself (issue 6: ~0.5 ms of a child's ~2 ms). Without it the rehearsal sends only
   * end of stream.
   */
  readonly sample?: Uint8Array;
}
