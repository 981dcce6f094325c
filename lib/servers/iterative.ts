/**
 * The iterative server of seed 000: one client at a time. While a client is being served the listener is
 * paused, so the next ones wait in the kernel's backlog (listen(2)) until it leaves. Simple, and fair only
 * to the patient: one slow client stalls everyone — which is what the other models exist to fix.
 * @module
 */
import type { Protocol, Session } from '../protocols/protocol';
import { ReactorServer, type ReactorServerOptions } from './reactor';

/** Serves one connection at a time. */
export class IterativeServer extends ReactorServer {
  constructor(options: ReactorServerOptions) {
    const inner = options.protocol;
    let self: IterativeServer | undefined;
    // Around the protocol: a session's start pauses accepting, its end resumes it.
    const oneAtATime: Protocol = {
      name: inner.name,
      open(transport): Session {
        self!.listener.pause();
        const session = inner.open(transport);
        return {
          onOpen: () => session.onOpen?.(),
          onData: (chunk) => session.onData(chunk),
          onEnd: session.onEnd && (() => session.onEnd!()),
          onClose: () => {
            session.onClose?.();
            self!.listener.resume();
          },
        };
      },
    };
    super({ ...options, protocol: oneAtATime, acceptBatch: 1 });
    self = this;
  }
}
