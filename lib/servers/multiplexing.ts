/**
 * The four I/O-multiplexing servers of seeds 000 and 002: the one reactor with another Selector and
 * trigger. select and poll scan every fd at every wait; epoll keeps a ready list in the kernel. Level-
 * triggered reads once per readiness; edge-triggered reads until EAGAIN.
 * select and poll have no fd to attach to Node's loop: serve them with `serveForever()`.
 * @module
 */
import { EpollSelector } from '../loop/epoll-selector';
import { PollSelector } from '../loop/poll-selector';
import { SelectSelector } from '../loop/select-selector';
import { ReactorServer, type ServerOptions } from './reactor';

/** select(2): fds below 1024 only; an accepted connection beyond is refused, the server goes on. */
export class SelectServer extends ReactorServer {
  constructor(options: ServerOptions) {
    super({ ...options, selector: new SelectSelector() });
  }
}

/** poll(2). */
export class PollServer extends ReactorServer {
  constructor(options: ServerOptions) {
    super({ ...options, selector: new PollSelector() });
  }
}

/** epoll, level-triggered. */
export class EpollLtServer extends ReactorServer {
  constructor(options: ServerOptions) {
    super({ ...options, selector: new EpollSelector({ trigger: 'level' }) });
  }
}

/** epoll, edge-triggered: every read drains to EAGAIN, no epoll_ctl per write. */
export class EpollEtServer extends ReactorServer {
  constructor(options: ServerOptions) {
    super({ ...options, selector: new EpollSelector({ trigger: 'edge' }) });
  }
}
