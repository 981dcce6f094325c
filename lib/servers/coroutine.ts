/**
 * Seed 002's coroutine (gevent) server without gevent: one async function per connection, written as if
 * it blocked — `for await (const chunk of conn)`, `await conn.write(reply)` — and scheduled by the event
 * loop at every await. By default the function runs the server's protocol; pass `handler` to write your
 * own. Needs the loop attached to Node's (it is: `start()`), since promises settle between Node's callbacks.
 * @module
 */
import { AsyncConnection } from '../loop/async-connection';
import { EventLoop } from '../loop/event-loop';
import { Listener } from '../loop/listener';
import type { Protocol } from '../protocols/protocol';
import * as sys from '../sys/socket';
import { admits, transportOf, type ServerOptions } from './reactor';

/** One connection's coroutine. */
export type ConnectionHandler = (connection: AsyncConnection) => Promise<void>;

/** Options of {@link CoroutineServer}: a protocol, or a handler of your own. */
export interface CoroutineServerOptions extends Omit<ServerOptions, 'protocol'> {
  protocol?: Protocol;
  handler?: ConnectionHandler;
}

/** The coroutine that runs a sans-IO protocol, awaiting the drain whenever its replies pile up. */
export function protocolHandler(protocol: Protocol): ConnectionHandler {
  return async (conn) => {
    const session = protocol.open(transportOf(conn.connection));
    try {
      session.onOpen?.();
      for await (const chunk of conn) {
        session.onData(chunk);
        await conn.drained();
      }
      if (!conn.closed) {
        if (session.onEnd) session.onEnd();
        else conn.connection.end();
      }
      await conn.closedPromise();
    } finally {
      session.onClose?.();
    }
  };
}

/** Serves each connection with its own coroutine. */
export class CoroutineServer {
  readonly loop = new EventLoop();
  readonly listener: Listener;
  readonly connections = new Set<AsyncConnection>();
  readonly #options: CoroutineServerOptions;
  readonly #handler: ConnectionHandler;
  #closing: Promise<void> | undefined;
  #idle: (() => void) | undefined;

  constructor(options: CoroutineServerOptions) {
    if (!options.handler && !options.protocol) throw new TypeError('CoroutineServer needs a protocol or a handler');
    this.#options = options;
    this.#handler = options.handler ?? protocolHandler(options.protocol!);
    this.listener = new Listener(this.loop, (fd) => this.#accept(fd), options);
    options.signal?.addEventListener('abort', () => void this.close(), { once: true });
  }

  get port(): number {
    return this.listener.port;
  }

  /** Always: a coroutine server lives on Node's loop. */
  readonly attachable = true;

  start(): this {
    this.loop.attach();
    return this;
  }

  stats(): { connections: number; accepted: number; rejected: number } {
    return { connections: this.connections.size, accepted: this.listener.accepted, rejected: this.listener.rejected };
  }

  /** Stops accepting; each connection writes out what it has queued and closes. Resolves when all are gone. */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.listener.close();
      const deadline = this.loop.setTimeout(() => {
        for (const c of [...this.connections]) c.connection.close('local');
      }, this.#options.shutdownTimeoutMs ?? 5000);
      this.#idle = () => {
        this.loop.clearTimer(deadline);
        this.loop.callSoon(() => this.loop.close());
        resolve();
      };
      for (const c of [...this.connections]) c.connection.gracefulClose();
      if (this.connections.size === 0) this.#idle();
    });
    return this.#closing;
  }

  #accept(fd: number): void {
    const o = this.#options;
    if (!admits(o, fd, this.connections.size, this.#closing !== undefined)) {
      this.listener.rejected++;
      sys.close(fd);
      return;
    }
    const conn = new AsyncConnection(this.loop, fd, o.connection);
    this.connections.add(conn);
    this.#handler(conn)
      .catch((error: Error) => {
        // The coroutine's failure is its connection's: close it, report, serve the others.
        conn.connection.close('error', error);
        o.handleError?.(error, 'error');
      })
      .finally(() => {
        if (!conn.closed) conn.connection.close('local');
        this.connections.delete(conn);
        if (this.connections.size === 0) this.#idle?.();
      });
  }
}
