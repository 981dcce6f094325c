/**
 * The reactor server: one EventLoop, one Listener, one Connection per client, each driving a protocol
 * session — the shape of seed 002's epoll servers and of nginx's worker. SelectServer, PollServer,
 * EpollLtServer and EpollEtServer are this class with another Selector.
 *
 * Life cycle (socketserver's): bind → listen → serve → accept → `verifyRequest` → process → close.
 * Serve it either attached to Node's loop (`start()`, epoll only; promises, timers and other servers keep
 * working) or blocking (`serveForever()`, any selector; the thread is the server's until it stops).
 * @module
 */
import { Connection, type CloseReason, type ConnectionOptions } from '../loop/connection';
import { EventLoop, type Registration } from '../loop/event-loop';
import { Listener, type ListenerOptions } from '../loop/listener';
import type { Selector } from '../loop/selector';
import type { Protocol, Transport } from '../protocols/protocol';
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

/** Options of {@link ReactorServer}. */
export interface ReactorServerOptions extends ServerOptions {
  /** Run on this loop (the caller owns it), or else on a new loop over `selector` (default epoll LT). */
  loop?: EventLoop;
  selector?: Selector<Registration>;
}

/** Serves `protocol` on a loop. */
export class ReactorServer {
  readonly loop: EventLoop;
  readonly listener: Listener;
  readonly connections = new Set<Connection>();
  readonly #options: ReactorServerOptions;
  readonly #ownsLoop: boolean;
  #closing: Promise<void> | undefined;
  #idle: (() => void) | undefined;
  #peakQueued = 0;

  constructor(options: ReactorServerOptions) {
    this.#options = options;
    this.#ownsLoop = !options.loop;
    this.loop = options.loop ?? new EventLoop({ selector: options.selector });
    try {
      this.listener = new Listener(this.loop, (fd) => this.#accept(fd), options);
    } catch (error) {
      if (this.#ownsLoop) this.loop.close();
      throw error;
    }
    options.signal?.addEventListener('abort', () => void this.close(), { once: true });
  }

  get port(): number {
    return this.listener.port;
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
    return { connections: this.connections.size, accepted: this.listener.accepted, rejected: this.listener.rejected, peakQueuedBytes: peak };
  }

  /**
   * Graceful shutdown: stops accepting, lets every connection write out the replies it has queued (and
   * stop reading new requests), then closes what is left after `shutdownTimeoutMs`. Resolves when the last
   * connection is gone (and the loop, if the server made it, is closed).
   */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.listener.close();
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

  #accept(fd: number): void {
    const o = this.#options;
    if (this.#closing || this.connections.size >= (o.maxConnections ?? Infinity) || (o.verifyRequest && !o.verifyRequest(sys.getpeername(fd)))) {
      this.listener.rejected++;
      sys.close(fd);
      return;
    }
    let session: ReturnType<Protocol['open']> | undefined;
    let connection: Connection;
    try {
      connection = this.#connection(fd, () => session);
    } catch (error) {
      // The selector cannot hold this fd (select beyond FD_SETSIZE): refuse this client, serve the rest.
      this.listener.rejected++;
      sys.close(fd);
      o.handleError?.(error as Error, 'error');
      return;
    }
    this.connections.add(connection);
    session = o.protocol.open(transportOf(connection));
    session.onOpen?.();
  }

  #connection(fd: number, session: () => ReturnType<Protocol['open']> | undefined): Connection {
    const o = this.#options;
    const connection: Connection = new Connection(
      this.loop,
      fd,
      {
        onData: (chunk) => session()!.onData(chunk),
        onEnd: () => (session()!.onEnd ? session()!.onEnd!() : connection.end()),
        onClose: (reason, error) => {
          this.connections.delete(connection);
          this.#peakQueued = Math.max(this.#peakQueued, connection.peakWritableLength);
          session()?.onClose?.();
          if (error) o.handleError?.(error, reason);
          if (this.connections.size === 0) this.#idle?.();
        },
      },
      o.connection,
    );
    return connection;
  }
}

/** The protocol's actions, executed on a nonblocking connection. */
export function transportOf(connection: Connection): Transport {
  return {
    write: (data) => {
      if (!connection.closed) connection.write(data);
    },
    sendFile: (fd, offset, length, onDone) => {
      // The caller releases the file in onDone: it must run even when the connection is already gone.
      if (connection.closed) onDone?.(new Error('connection closed'));
      else connection.sendFile(fd, offset, length, onDone);
    },
    end: () => connection.end(),
    close: () => connection.gracefulClose(),
  };
}
