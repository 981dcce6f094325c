/**
 * Seed 002's single-process nonblocking server: a list of nonblocking sockets scanned in a loop, no
 * multiplexer — the reactor over a {@link BusyPollSelector}, which reports every fd ready at every scan.
 * It burns a core while idle unless `idleSleepUs` lets it nap after an idle scan; `epollkit bench` shows
 * the price either way. Blocking only: serve it with `serveForever()`.
 * @module
 */
import { BusyPollSelector, type BusyPollOptions } from '../loop/busy-poll-selector';
import { ReactorServer, type ServerOptions } from './reactor';

/** The busy-polling server. */
export class BusyPollServer extends ReactorServer {
  constructor(options: ServerOptions & BusyPollOptions) {
    super({ ...options, selector: new BusyPollSelector({ idleSleepUs: options.idleSleepUs }) });
  }
}
