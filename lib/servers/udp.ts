/**
 * The iterative UDP server of seeds 000 and 004: connectionless, one datagram answered at a time, no
 * per-client state in the server itself (a protocol may keep some, keyed by endpoint or handle).
 * recvfrom(2) until EAGAIN at each readiness, at most `batch` datagrams, each answered with sendto(2).
 * @module
 */
import { errnoError, errno } from '../errors';
import type { EventLoop } from '../loop/event-loop';
import { Interest } from '../loop/selector';
import * as sys from '../sys/socket';

/** Answers one datagram: the reply, or null for none. `request` is only valid during the call. */
export type DatagramHandler = (request: Uint8Array, peer: sys.SocketAddress) => Uint8Array | null;

/** Options of {@link IterativeUdpServer}. */
export interface UdpServerOptions {
  host?: string;
  port?: number;
  handler: DatagramHandler;
  /** Datagrams handled per readiness before other fds get a turn (default 64). */
  batch?: number;
  /** Largest datagram accepted (default 65,507, the IPv4 UDP maximum); longer ones are truncated. */
  maxDatagram?: number;
}

/** A UDP server on `loop`. */
export class IterativeUdpServer {
  readonly fd: number;
  readonly loop: EventLoop;
  /** Datagrams received and replies sent; replies the kernel refused (a full socket buffer) are dropped. */
  received = 0;
  sent = 0;
  dropped = 0;
  readonly #options: UdpServerOptions;
  readonly #buffer: Buffer;
  readonly #peer: Partial<sys.SocketAddress> = {};
  #closed = false;

  constructor(loop: EventLoop, options: UdpServerOptions) {
    this.loop = loop;
    this.#options = options;
    this.#buffer = Buffer.allocUnsafe(options.maxDatagram ?? 65507);
    const host = options.host ?? '127.0.0.1';
    this.fd = sys.socket(host.includes(':') ? sys.AF_INET6 : sys.AF_INET, sys.SOCK_DGRAM | sys.SOCK_NONBLOCK);
    try {
      sys.bind(this.fd, host, options.port ?? 0);
    } catch (error) {
      sys.close(this.fd);
      throw error;
    }
    loop.add(this.fd, Interest.READABLE, () => this.#serve(), { close: () => this.close() });
  }

  get port(): number {
    return sys.getsockname(this.fd).port ?? 0;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.loop.closed && this.loop.selector.get(this.fd)) this.loop.remove(this.fd);
    sys.close(this.fd);
  }

  #serve(): void {
    const batch = this.#options.batch ?? 64;
    const peer = this.#peer;
    for (let i = 0; i < batch && !this.#closed; i++) {
      const n = sys.recvfrom(this.fd, this.#buffer, 0, this.#buffer.length, peer);
      if (n === -errno.EAGAIN) return;
      // ICMP errors of earlier sendto calls surface here (ECONNREFUSED): they concern one old peer only.
      if (n < 0) {
        if (n === -errno.ECONNREFUSED || n === -errno.EINTR) continue;
        throw errnoError(n, 'recvfrom', { fd: this.fd });
      }
      this.received++;
      const reply = this.#options.handler(this.#buffer.subarray(0, n), peer as sys.SocketAddress);
      if (!reply) continue;
      const sent = sys.sendto(this.fd, reply, 0, reply.length, peer.address!, peer.port);
      if (sent >= 0) this.sent++;
      else this.dropped++;
    }
  }
}
