/**
 * The reactor server: one EventLoop, one Listener, one Connection per client, each driving a protocol
 * session. The select, poll, epoll-LT and epoll-ET servers are this class with another Selector.
 * @module
 */
import { Connection, type CloseReason, type ConnectionOptions } from '../loop/connection';
import { EventLoop } from '../loop/event-loop';
import { Listener, type ListenerOptions } from '../loop/listener';
import type { Protocol, Session, Transport } from '../protocols/protocol';

/** Options of {@link ReactorServer}. */
export interface ReactorServerOptions extends ListenerOptions {
  protocol: Protocol;
  /** Per-connection options (read mode, timeouts, high-water mark). */
  connection?: ConnectionOptions;
  /** Connections above this are closed at once after accept (default: no limit). */
  maxConnections?: number;
  /** Called when a connection closes with an error. */
  onError?: (error: Error, reason: CloseReason) => void;
}

/** Serves `protocol` on `loop`. */
export class ReactorServer {
  readonly loop: EventLoop;
  readonly listener: Listener;
  readonly connections = new Set<Connection>();
  readonly #options: ReactorServerOptions;
  #closing = false;
  #peakQueued = 0;

  constructor(loop: EventLoop, options: ReactorServerOptions) {
    this.loop = loop;
    this.#options = options;
    this.listener = new Listener(loop, (fd) => this.#accept(fd), options);
  }

  get port(): number {
    return this.listener.port;
  }

  /** Stops accepting; open connections finish what they are doing. `onIdle` runs when the last one closes. */
  close(onIdle?: () => void): void {
    this.#closing = true;
    this.listener.close();
    this.#idle = onIdle;
    if (this.connections.size === 0) this.#idle?.();
  }

  #idle: (() => void) | undefined;

  /** Counters for tests and labs; `peakQueuedBytes` is the most output any one connection held queued. */
  stats(): { connections: number; accepted: number; rejected: number; peakQueuedBytes: number } {
    let peak = this.#peakQueued;
    for (const c of this.connections) peak = Math.max(peak, c.peakWritableLength);
    return {
      connections: this.connections.size,
      accepted: this.listener.accepted,
      rejected: this.listener.rejected,
      peakQueuedBytes: peak,
    };
  }

  #accept(fd: number): void {
    const max = this.#options.maxConnections ?? Infinity;
    let session: Session | undefined;
    const connection = new Connection(
      this.loop,
      fd,
      {
        onData: (chunk) => session!.onData(chunk),
        onEnd: () => (session!.onEnd ? session!.onEnd() : connection.end()),
        onClose: (reason, error) => {
          this.connections.delete(connection);
          this.#peakQueued = Math.max(this.#peakQueued, connection.peakWritableLength);
          session?.onClose?.();
          if (error) this.#options.onError?.(error, reason);
          if (this.#closing && this.connections.size === 0) this.#idle?.();
        },
      },
      this.#options.connection,
    );
    if (this.connections.size >= max) return connection.close('local');
    this.connections.add(connection);
    session = this.#options.protocol.open(transportOf(connection));
    session.onOpen?.();
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
