/**
 * Echo (RFC 862 over TCP): every byte comes back; the peer's half-close is answered with ours.
 * @module
 */
import type { Protocol, Session, Transport } from './protocol';

/** The echo protocol. */
export const echo: Protocol = {
  name: 'echo',
  sample: Buffer.alloc(64, 'epollkit echo '),
  open(transport: Transport): Session {
    return {
      onData: (chunk) => transport.write(chunk),
      onEnd: () => transport.end(),
    };
  },
};
