/**
 * The reactor server: one EventLoop, one Listener, one Connection per client, each driving a protocol
 * session — the shape of seed 002's epoll servers and of nginx's worker. SelectServer, PollServer,
 * EpollLtServer and EpollEtServer are this class with another Selector.
 *
 * Life cycle (socketserver's): bind → listen → serve → accept → `verifyRequest` → process → close.
 * Serve it either attached to Node's loop (`start()`, epoll only; promises, timers and other servers keep
 * working) or blocking (`serveForever()`, any selector; the thread is the server's until it stops).
 * With `listen: false` it has no listener and serves only the connected fds given to `adopt(fd)` — what
 * a thread pool's worker does with the fds its acceptor thread hands over.
 * @module
 */
import { Connection, type CloseReason, type ConnectionHandlers, type ConnectionOptions } from '../loop/connection';
import { EventLoop, type Registration, type Timer } from '../loop/event-loop';
import { Listener, type ListenerOptions } from '../loop/listener';
import type { Selector } from '../loop/selector';
import type { Protocol, Session, Transport } from '../protocols/protocol';
import * as sys from '../sys/socket';

/** What every server model accepts. */
export interface ServerOptions extends ListenerOptions {
  protocol: Protocol;
  /** Per-connection options (read mode, timeouts, high-water mark). */
  connection?: ConnectionOptions;
  /** Connections beyond this are closed right after accept (default: no limit). */
  maxConnections?: number;
  /** Return false to refuse a client (its connection is closed unanswered); gets the peer address. */
  verifyRequest?: (peer: sys.SocketAddress) => boolean;
  /** Called when a connection closes with an error (default: ignore; one client's trouble is its own). */
  handleError?: (error: Error, reason: CloseReason) => void;
  /** Aborting it is `close()`. */
  signal?: AbortSignal;
  /** Graceful shutdown gives in-flight replies this long before closing what is left (default 5 s). */
  shutdownTimeoutMs?: number;
}

/**
 * Whether a freshly accepted client may be served: the server is not closing, has fewer than
 * `maxConnections`, and `verifyRequest` agrees. A client already gone (getpeername: ENOTCONN) is refused
 * quietly; a throwing `verifyRequest` refuses too and its error goes to `handleError`. Every model admits
 * through here, so none lets one client's reset escape into its accept loop.
 */
export function admits(
  options: Pick<ServerOptions, 'maxConnections' | 'verifyRequest' | 'handleError'>,
  fd: number,
  live: number,
  closing: boolean,
): boolean {
  if (closing || live >= (options.maxConnections ?? Infinity)) return false;
  if (!options.verifyRequest) return true;
  try {
    return options.verifyRequest(sys.getpeername(fd));
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'ENOTCONN') options.handleError?.(error as Error, 'error');
    return false;
  }
}

/** Options of {@link ReactorServer}. */
export interface ReactorServerOptions extends ServerOptions {
  /** Run on this loop (the caller owns it), or else on a new loop over `selector` (default epoll LT). */
  loop?: EventLoop;
  selector?: Selector<Registration>;
  /**
   * Whether to open a listener (default true). With false the server binds nothing: it serves the fds
   * given to {@link ReactorServer.adopt}, `port` is 0 and `listener` throws.
   */
  listen?: boolean;
}

/** Serves `protocol` on a loop. */
export class ReactorServer {
  readonly loop: EventLoop;
  readonly connections = new Set<Connection>();
  readonly #listener: Listener | undefined;
  readonly #options: ReactorServerOptions;
  readonly #ownsLoop: boolean;
  #adopted = 0;
  #adoptRejected = 0;
  #closing: Promise<void> | undefined;
  #idle: (() => void) | undefined;
  #peakQueued = 0;

  constructor(options: ReactorServerOptions) {
    this.#options = options;
    this.#ownsLoop = !options.loop;
    this.loop = options.loop ?? new EventLoop({ selector: options.selector });
    try {
      this.#listener = options.listen === false ? undefined : new Listener(this.loop, (fd) => this.#accept(fd), options);
    } catch (error) {
      if (this.#ownsLoop) this.loop.close();
      throw error;
    }
    options.signal?.addEventListener('abort', () => void this.close(), { once: true });
  }

  /** The listener; a server made with `listen: false` has none, and this throws. */
  get listener(): Listener {
    if (!this.#listener) {
      throw Object.assign(new Error('this server was made with listen: false: it has no listener, it serves adopted fds'), {
        code: 'ERR_EPOLLKIT_NO_LISTENER',
      });
    }
    return this.#listener;
  }

  /** The bound port (0 without a listener). */
  get port(): number {
    return this.#listener?.port ?? 0;
  }

  /** Whether `start()` can attach the loop to Node's (an epoll selector has an fd to watch; others do not). */
  get attachable(): boolean {
    return this.loop.selector.fd >= 0;
  }

  /** Serves attached to Node's loop (needs an epoll selector). */
  start(): this {
    this.loop.attach();
    return this;
  }

  /** Serves on this thread until `close()` completes (blocking; any selector). */
  serveForever(): void {
    this.loop.run();
  }

  /** Counters for tests and labs; `peakQueuedBytes` is the most output any one connection held queued. */
  stats(): { connections: number; accepted: number; rejected: number; peakQueuedBytes: number } {
    let peak = this.#peakQueued;
    for (const c of this.connections) peak = Math.max(peak, c.peakWritableLength);
    return {
      connections: this.connections.size,
      accepted: (this.#listener?.accepted ?? 0) + this.#adopted,
      rejected: (this.#listener?.rejected ?? 0) + this.#adoptRejected,
      peakQueuedBytes: peak,
    };
  }

  /**
   * Graceful shutdown: stops accepting, lets every connection write out the replies it has queued (and
   * stop reading new requests), then closes what is left after `shutdownTimeoutMs`. Resolves when the last
   * connection is gone (and the loop, if the server made it, is closed).
   */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#listener?.close();
      const finish = (): void => {
        this.loop.clearTimer(deadline);
        if (this.#ownsLoop) {
          // Closing the loop from inside its own dispatch would pull the selector from under it.
          this.loop.callSoon(() => this.loop.close());
          if (!this.loop.attached) this.loop.stop();
        }
        resolve();
      };
      const deadline = this.loop.setTimeout(() => {
        for (const c of [...this.connections]) c.close('local');
      }, this.#options.shutdownTimeoutMs ?? 5000);
      this.#idle = finish;
      for (const c of [...this.connections]) c.gracefulClose();
      if (this.connections.size === 0) finish();
    });
    return this.#closing;
  }

  /**
   * Serves `fd`, a connected stream socket accepted elsewhere (another thread's listener), as if this
   * server had accepted it: the same `maxConnections`, `verifyRequest` and refusal while closing. The
   * server owns the fd from this call on: it closes it, also when it refuses it. Make the fd nonblocking
   * first (accept4 with SOCK_NONBLOCK does).
   */
  adopt(fd: number): void {
    this.#adopted++;
    this.#accept(fd);
  }

  #refuse(fd: number): void {
    if (this.#listener) this.#listener.rejected++;
    else this.#adoptRejected++;
    sys.close(fd);
  }

  #accept(fd: number): void {
    const o = this.#options;
    if (!admits(o, fd, this.connections.size, this.#closing !== undefined)) {
      this.#refuse(fd);
      return;
    }
    let connection: Connection;
    try {
      connection = new Connection(this.loop, fd, this.#handlers, o.connection);
    } catch (error) {
      // The selector cannot hold this fd (select beyond FD_SETSIZE): refuse this client, serve the rest.
      this.#refuse(fd);
      o.handleError?.(error as Error, 'error');
      return;
    }
    this.connections.add(connection);
    // The session lives in the connection's context: no closures per connection (see #handlers).
    const session = o.protocol.open(transportOf(connection));
    connection.context = session;
    session.onOpen?.();
  }

  /**
   * The handlers of every connection of this server, made once: each finds its session in
   * `connection.context`. Per-connection closures cost ~56 bytes each plus their context, which adds up
   * over 100,000 idle keep-alive connections.
   */
  readonly #handlers: ConnectionHandlers = {
    onData: (chunk, connection) => (connection.context as Session).onData(chunk),
    onDrain: (connection) => (connection.context as Session | undefined)?.onDrain?.(),
    onEnd: (connection) => {
      const session = connection.context as Session;
      if (session.onEnd) session.onEnd();
      else connection.end();
    },
    onClose: (reason, error, connection) => {
      this.connections.delete(connection);
      this.#peakQueued = Math.max(this.#peakQueued, connection.peakWritableLength);
      (connection.context as Session | undefined)?.onClose?.();
      if (error) this.#options.handleError?.(error, reason);
      if (this.connections.size === 0) this.#idle?.();
    },
  };
}

/**
 * The protocol's actions, executed on a nonblocking connection. A class rather than an object of
 * closures: its methods live once on the prototype, and an idle connection pays for three fields.
 */
class ConnectionTransport implements Transport {
  #timer: Timer | undefined;
  #peer: string | undefined | null = null; // null: not looked up yet

  constructor(readonly connection: Connection) {}

  write(data: Uint8Array): void {
    if (!this.connection.closed) this.connection.write(data);
  }

  get writableNeedDrain(): boolean {
    return this.connection.writableNeedDrain;
  }

  sendFile(fd: number, offset: number, length: number, onDone?: (error?: Error) => void): void {
    // The caller releases the file in onDone: it must run even when the connection is already gone.
    if (this.connection.closed) onDone?.(new Error('connection closed'));
    else this.connection.sendFile(fd, offset, length, onDone);
  }

  end(): void {
    this.connection.end();
  }

  close(): void {
    this.connection.gracefulClose();
  }

  setTimer(delayMs: number, onTimeout: () => void): void {
    const connection = this.connection;
    this.clearTimer();
    if (connection.closed) return;
    this.#timer = connection.loop.setTimeout(() => {
      this.#timer = undefined;
      if (connection.closed) return;
      try {
        onTimeout();
      } catch (error) {
        // A server shutting down gracefully has ended the connection under the session, which cannot
        // know: its last words are refused (write after end). Anything else is the protocol's failure.
        if ((error as { code?: string }).code !== 'ERR_EPOLLKIT_CONNECTION_CLOSED') throw error;
        connection.close('local');
      }
    }, delayMs);
  }

  clearTimer(): void {
    this.connection.loop.clearTimer(this.#timer);
    this.#timer = undefined;
  }

  now(): number {
    return this.connection.loop.date;
  }

  peerAddress(): string | undefined {
    // After close the fd number may already belong to another connection: never look it up then.
    if (this.#peer === null && !this.connection.closed) {
      try {
        this.#peer = sys.getpeername(this.connection.fd).address;
      } catch {
        this.#peer = undefined; // ENOTCONN: the peer is already gone
      }
    }
    return this.#peer ?? undefined;
  }
}

/** The protocol's actions, executed on a nonblocking connection. */
export function transportOf(connection: Connection): Transport {
  return new ConnectionTransport(connection);
}
